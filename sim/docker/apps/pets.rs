//! The Pets app of Docker's networking reference architecture: `chrch/web` (a Flask app on
//! port 5000 serving a pet picture and counting hits in redis) and `chrch/admin` (the same
//! port, showing both tenants' counts).
//!
//! Behaviour and texts come from mark-church/pets at commit 27e5811e, the redis-era sources
//! that match the lab's `-e DB=… -e ROLE=…` and `-e DB1=… -e DB2=…`:
//! - `web/app.py`: `DB` is `host[:port]` (port 6379 by default) and also the key of the
//!   hits list; before serving, it loops `Redis(...).get(None)`, printing `Attempting to
//!   connect to DB. Trying again in 3 seconds ...` after each failure; `GET /` LPUSHes
//!   `(REMOTE_ADDR, time.asctime())` then LLENs, and renders `templates/index.html` with a
//!   random picture of `ROLE` (`cat` or `dog`) and the container's hostname.
//! - `admin/app.py`: connects to `DB1` then `DB2` the same way; `GET /` renders
//!   `admin.html` with LLEN of each (its template puts DB2's count in the Cats row).
//!
//! Both sources also define a second view named `index` (`/health`), which Flask 0.10
//! refuses at import; the images on Docker Hub must have been built without it, so only `/`
//! is served and every other path gets Werkzeug's 404 page. Responses are what Werkzeug 0.11's
//! development server (Python 2.7.6 on ubuntu:14.04, per the Dockerfiles) sends: HTTP/1.0,
//! then the connection closes. Requests are served one at a time, as that server does.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::engine::SimDuration;
use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::tools::{Resolution, StubResolver};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

use super::http::{asctime, http_date, take_request};
use super::redis::REDIS_PORT;

/// `templates/index.html` of `chrch/web`.
const WEB_TEMPLATE: &str = include_str!("pets-web.html");
/// `templates/admin.html` of `chrch/admin`.
const ADMIN_TEMPLATE: &str = include_str!("pets-admin.html");

/// Flask's `app.run()` port.
pub const PETS_PORT: u16 = 5000;

/// Werkzeug's `version_string()` on the images' Python.
const SERVER: &str = "Werkzeug/0.11.10 Python/2.7.6";

/// The app's `time.sleep(3)` between connection attempts.
const RETRY: SimDuration = SimDuration::from_secs(3);
const TOKEN_RETRY: u64 = 1;
const TOKEN_LOOKUP: u64 = 2;

const CATS: &[&str] = &[
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr05/15/9/anigif_enhanced-buzz-26388-1381844103-11.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr01/15/9/anigif_enhanced-buzz-31540-1381844535-8.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr05/15/9/anigif_enhanced-buzz-26390-1381844163-18.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr06/15/10/anigif_enhanced-buzz-1376-1381846217-0.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr03/15/9/anigif_enhanced-buzz-3391-1381844336-26.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr06/15/10/anigif_enhanced-buzz-29111-1381845968-0.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr03/15/9/anigif_enhanced-buzz-3409-1381844582-13.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr02/15/9/anigif_enhanced-buzz-19667-1381844937-10.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr05/15/9/anigif_enhanced-buzz-26358-1381845043-13.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr06/15/9/anigif_enhanced-buzz-18774-1381844645-6.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr06/15/9/anigif_enhanced-buzz-25158-1381844793-0.gif",
    "http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr03/15/10/anigif_enhanced-buzz-11980-1381846269-1.gif",
];

const DOGS: &[&str] = &[
    "https://img.buzzfeed.com/buzzfeed-static/static/2013-12/enhanced/webdr06/3/12/anigif_enhanced-buzz-12996-1386090648-41.gif",
    "https://img.buzzfeed.com/buzzfeed-static/static/2013-12/enhanced/webdr06/3/12/anigif_enhanced-buzz-14140-1386090436-22.gif",
    "https://img.buzzfeed.com/buzzfeed-static/static/2013-12/enhanced/webdr07/3/12/anigif_enhanced-buzz-14182-1386090558-25.gif",
    "https://img.buzzfeed.com/buzzfeed-static/static/enhanced/webdr01/2012/12/15/16/anigif_enhanced-buzz-19342-1355608696-6.gif",
];

/// Werkzeug 0.11's `NotFound` page.
const NOT_FOUND: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n\
<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the \
server.  If you entered the URL manually please check your spelling and try again.</p>\n";

/// Which of the two images runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PetsRole {
    /// `chrch/web` with `ROLE=cat` or `ROLE=dog`.
    Web { title: &'static str, images: &'static [&'static str] },
    /// `chrch/admin`.
    Admin,
}

/// Why the app exits at start, with what Python prints on stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PetsError {
    #[error("Error: no valid role")]
    NoValidRole,
    /// A `DB` variable unset: `':' in None` raises.
    #[error("Traceback (most recent call last):\n  File \"{file}\", line {line}, in <module>\n    if ':' in {var}:\nTypeError: argument of type 'NoneType' is not iterable")]
    NoDb { file: &'static str, line: u32, var: &'static str },
}

/// One redis connection as redis-py makes it: `host:port` from the app's `DB` variable,
/// which is also the name of the hits list.
struct Link {
    key: String,
    host: String,
    port: u16,
    lookup: Option<StubResolver>,
    sock: Option<SockId>,
}

impl Link {
    fn parse(db: &str) -> Link {
        let (host, port) = match db.split_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().unwrap_or(REDIS_PORT)),
            None => (db.to_string(), REDIS_PORT),
        };
        Link { key: format!("{host}:{port}"), host, port, lookup: None, sock: None }
    }
}

/// A request waiting for the single-threaded server.
struct Pending {
    sock: SockId,
    client: Ipv4Addr,
}

pub struct PetsApp {
    role: PetsRole,
    hostname: String,
    links: Vec<Link>,
    /// The link being connected at start; `links.len()` once serving.
    starting: usize,
    clients: IndexMap<SockId, (Ipv4Addr, Vec<u8>)>,
    queue: VecDeque<Pending>,
    /// Commands left for the request at the head of the queue, and the replies so far.
    script: VecDeque<(usize, Vec<String>)>,
    replies: Vec<i64>,
}

impl PetsApp {
    /// The app as its environment configures it (`DB`, `ROLE` or `DB1`, `DB2`).
    pub fn from_env(
        admin: bool,
        env: &[(String, String)],
        hostname: &str,
    ) -> Result<PetsApp, PetsError> {
        let var = |k: &str| env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (role, dbs) = if admin {
            let missing = |line, var| PetsError::NoDb { file: "/code/app.py", line, var };
            let db1 = var("DB1").ok_or(missing(15, "db1"))?;
            (PetsRole::Admin, vec![db1, var("DB2").ok_or(missing(22, "db2"))?])
        } else {
            let role = match var("ROLE") {
                Some("cat") => PetsRole::Web { title: "Cats", images: CATS },
                Some("dog") => PetsRole::Web { title: "Dogs", images: DOGS },
                _ => return Err(PetsError::NoValidRole),
            };
            let missing = PetsError::NoDb { file: "app.py", line: 13, var: "db" };
            (role, vec![var("DB").ok_or(missing)?])
        };
        Ok(PetsApp {
            role,
            hostname: hostname.to_string(),
            links: dbs.into_iter().map(Link::parse).collect(),
            starting: 0,
            clients: IndexMap::new(),
            queue: VecDeque::new(),
            script: VecDeque::new(),
            replies: Vec::new(),
        })
    }

    fn connect_next(&mut self, cx: &mut ProcCtx) {
        let Some(link) = self.links.get_mut(self.starting) else {
            if cx.tcp_listen(Ipv4Addr::UNSPECIFIED, PETS_PORT).is_err() {
                cx.exit(1);
            }
            return;
        };
        match StubResolver::start(cx, &link.host.clone(), TOKEN_LOOKUP) {
            Ok(found) => self.on_lookup(cx, found),
            Err(pending) => link.lookup = Some(pending),
        }
    }

    fn on_lookup(&mut self, cx: &mut ProcCtx, r: Resolution) {
        let link = &mut self.links[self.starting];
        link.lookup = None;
        let Resolution::Found(ip) = r else { return self.retry(cx) };
        match cx.tcp_connect((ip, link.port)) {
            Ok(sock) => link.sock = Some(sock),
            Err(_) => self.retry(cx),
        }
    }

    /// redis-py raised ConnectionError: the app says so and sleeps.
    fn retry(&mut self, cx: &mut ProcCtx) {
        if let Some(sock) = self.links[self.starting].sock.take() {
            cx.tcp_close(sock);
        }
        match self.role {
            PetsRole::Web { .. } => cx.println(&format!(
                "Attempting to connect to {}. Trying again in 3 seconds ...",
                self.links[0].key
            )),
            PetsRole::Admin => cx.print(&format!(
                "Attempting to connect to DB{}. Trying again in 3 seconds ...",
                self.starting + 1
            )),
        }
        cx.set_timer(RETRY, TOKEN_RETRY);
    }

    fn on_link(&mut self, cx: &mut ProcCtx, i: usize, kind: SocketEventKind) {
        let starting = i == self.starting;
        match kind {
            SocketEventKind::Connected if starting => {
                let sock = self.links[i].sock.expect("connected");
                cx.tcp_send(sock, &resp(&["GET", "None"]));
            }
            SocketEventKind::Data(_) if starting => {
                self.starting += 1;
                self.connect_next(cx);
            }
            SocketEventKind::Data(bytes) => self.on_reply(cx, &bytes),
            SocketEventKind::Refused | SocketEventKind::TimedOut if starting => self.retry(cx),
            _ => {}
        }
    }

    fn on_reply(&mut self, cx: &mut ProcCtx, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let n = text.trim_end().strip_prefix(':').and_then(|n| n.parse().ok());
        self.replies.push(n.expect("redis answers LPUSH and LLEN with an integer"));
        self.step(cx);
    }

    /// Sends the head request's next redis command, or its response when none is left.
    fn step(&mut self, cx: &mut ProcCtx) {
        if let Some((link, cmd)) = self.script.pop_front() {
            let words: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let sock = self.links[link].sock.expect("connected at start");
            return cx.tcp_send(sock, &resp(&words));
        }
        let Some(done) = self.queue.pop_front() else { return };
        let page = self.render(cx);
        self.replies.clear();
        self.reply(cx, done.sock, "200 OK", &page);
        self.next_request(cx);
    }

    /// Starts the next queued request's redis commands, if the server is idle.
    fn next_request(&mut self, cx: &mut ProcCtx) {
        if !self.script.is_empty() || !self.replies.is_empty() {
            return;
        }
        let Some(head) = self.queue.front() else { return };
        self.script = match self.role {
            PetsRole::Web { .. } => {
                let key = self.links[0].key.clone();
                let hit = format!("('{}', '{}')", head.client, asctime(cx.now));
                [vec!["LPUSH".into(), key.clone(), hit], vec!["LLEN".into(), key]]
                    .into_iter()
                    .map(|c| (0, c))
                    .collect()
            }
            PetsRole::Admin => {
                (0..2).map(|i| (i, vec!["LLEN".into(), self.links[i].key.clone()])).collect()
            }
        };
        self.step(cx);
    }

    fn render(&self, cx: &mut ProcCtx) -> String {
        match self.role {
            PetsRole::Web { title, images } => {
                let url = images[cx.random(images.len() as u64) as usize];
                web_page(title, url, &self.hostname)
            }
            PetsRole::Admin => admin_page(self.replies[0], self.replies[1], &self.hostname),
        }
    }

    fn reply(&mut self, cx: &mut ProcCtx, sock: SockId, status: &str, body: &str) {
        let resp = werkzeug_response(status, body, &http_date(cx.now));
        cx.tcp_send(sock, resp.as_bytes());
        cx.tcp_close(sock);
        self.clients.shift_remove(&sock);
    }

    fn on_client(&mut self, cx: &mut ProcCtx, sock: SockId, kind: SocketEventKind) {
        match kind {
            SocketEventKind::Accepted { peer, .. } => {
                self.clients.insert(sock, (peer.0, Vec::new()));
            }
            SocketEventKind::Data(bytes) => {
                let Some((client, buf)) = self.clients.get_mut(&sock) else { return };
                buf.extend_from_slice(&bytes);
                let client = *client;
                let Some(req) = take_request(buf) else { return };
                if req.target.split('?').next() == Some("/") {
                    self.queue.push_back(Pending { sock, client });
                    self.next_request(cx);
                } else {
                    self.reply(cx, sock, "404 NOT FOUND", NOT_FOUND);
                }
            }
            SocketEventKind::PeerClosed => {
                self.clients.shift_remove(&sock);
                cx.tcp_close(sock);
            }
            _ => {}
        }
    }
}

/// A RESP array of bulk strings, as redis-py sends a command.
fn resp(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len());
    for w in words {
        out += &format!("${}\r\n{w}\r\n", w.len());
    }
    out.into_bytes()
}

/// Jinja's rendering: the template's last newline is dropped (`keep_trailing_newline`).
fn jinja(template: &str, vars: &[(&str, String)]) -> String {
    let mut page = template.strip_suffix('\n').unwrap_or(template).to_string();
    for (name, value) in vars {
        page = page.replace(&format!("{{{{{name}}}}}"), value);
    }
    page
}

/// `chrch/web`'s page.
pub fn web_page(title: &str, url: &str, hostname: &str) -> String {
    let vars = [("title", title.to_string()), ("url", url.into()), ("hostname", hostname.into())];
    jinja(WEB_TEMPLATE, &vars)
}

/// `chrch/admin`'s page: `cathits` is DB1's count, `doghits` DB2's.
pub fn admin_page(cathits: i64, doghits: i64, hostname: &str) -> String {
    let vars = [
        ("cathits", cathits.to_string()),
        ("doghits", doghits.to_string()),
        ("hostname", hostname.to_string()),
    ];
    jinja(ADMIN_TEMPLATE, &vars)
}

/// Werkzeug's `run_wsgi` writes Flask's headers, then Server and Date.
pub fn werkzeug_response(status: &str, body: &str, date: &str) -> String {
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Server: {SERVER}\r\nDate: {date}\r\n\r\n{body}",
        body.len()
    )
}

impl Process for PetsApp {
    fn name(&self) -> &str {
        "python"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        cx.print(match self.role {
            PetsRole::Web { .. } => "Starting web container",
            PetsRole::Admin => "Starting admin container",
        });
        self.connect_next(cx);
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        if let Some(link) =
            self.links.iter_mut().find(|l| l.lookup.as_ref().is_some_and(|r| r.owns(&event)))
        {
            let done = link.lookup.as_mut().and_then(|r| r.on_socket(cx, event));
            if let Some(r) = done {
                self.on_lookup(cx, r);
            }
            return;
        }
        match self.links.iter().position(|l| l.sock == Some(event.sock)) {
            Some(i) => self.on_link(cx, i, event.kind),
            None => self.on_client(cx, event.sock, event.kind),
        }
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        match token {
            TOKEN_RETRY => self.connect_next(cx),
            TOKEN_LOOKUP => {
                // A lookup that already ended leaves its timer behind: nothing to do then.
                let lookup = self.links.get_mut(self.starting).and_then(|l| l.lookup.as_mut());
                let done = lookup.and_then(|r| r.on_timer(cx));
                if let Some(r) = done {
                    self.on_lookup(cx, r);
                }
            }
            _ => unreachable!("the Pets app set no timer {token}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_page_is_the_template_filled_in() {
        let page = web_page("Cats", CATS[1], "3a0ee9ba1b3c");
        assert_eq!(
            page,
            "<html>\n  <head>  \n    <link rel='stylesheet' type='text/css' href=\"../static/style.css\">\n  </head>\n  <body>\n    <div class=\"title\">\n      <p1><img src=\"../static/dckr.png\" width=\"100px\">   <br>for Cats</p1>\n    </div>\n    <div class=\"wrapper\">\n\n      <div class=\"container\">\n        <img src=\"http://ak-hdl.buzzfed.com/static/2013-10/enhanced/webdr01/15/9/anigif_enhanced-buzz-31540-1381844535-8.gif\" class=\"centerfold\"/>\n      </div>\n      <div class=\"stats\">\n        <p>Delivered to you by container </p>\n        <p><b>3a0ee9ba1b3c</b></p>\n      </div>\n\n    </div>\n\n  </body>\n</html>"
        );
    }

    #[test]
    fn admin_page_shows_db2_in_the_cats_row() {
        let page = admin_page(5, 2, "77c1d2e3f4a5");
        assert!(page.contains("<td>Cats</td>\n                <td>2</td>"));
        assert!(page.contains("<td>Dogs</td>\n                <td>5</td>"));
        assert!(page.ends_with(
            "<p><b>77c1d2e3f4a5</b></p>\n      </div>\n\n    </div>\n\n  </body>\n</html>"
        ));
    }

    #[test]
    fn werkzeug_headers() {
        assert_eq!(
            werkzeug_response("200 OK", "OK", "Thu, 08 Jul 2021 10:00:00 GMT"),
            "HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 2\r\nServer: Werkzeug/0.11.10 Python/2.7.6\r\nDate: Thu, 08 Jul 2021 10:00:00 GMT\r\n\r\nOK"
        );
    }

    #[test]
    fn environment_picks_role_and_db() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let app =
            PetsApp::from_env(false, &env(&[("DB", "cat-db"), ("ROLE", "cat")]), "h").unwrap();
        assert_eq!(app.links[0].key, "cat-db:6379");
        let app =
            PetsApp::from_env(false, &env(&[("DB", "host-B:8001"), ("ROLE", "dog")]), "h").unwrap();
        assert_eq!((app.links[0].host.as_str(), app.links[0].port), ("host-B", 8001));
        let err = PetsApp::from_env(false, &env(&[("DB", "x")]), "h").err().unwrap();
        assert_eq!(err.to_string(), "Error: no valid role");
        let err = PetsApp::from_env(false, &env(&[("ROLE", "cat")]), "h").err().unwrap();
        assert_eq!(
            err.to_string(),
            "Traceback (most recent call last):\n  File \"app.py\", line 13, in <module>\n    if ':' in db:\nTypeError: argument of type 'NoneType' is not iterable"
        );
        let admin =
            PetsApp::from_env(true, &env(&[("DB1", "dog-db"), ("DB2", "cat-db")]), "h").unwrap();
        let keys: Vec<&str> = admin.links.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys, ["dog-db:6379", "cat-db:6379"]);
    }
}
