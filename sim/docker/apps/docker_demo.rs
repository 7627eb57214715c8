//! `ehazlett/docker-demo`, the Go web app of UCP's HTTP routing mesh lab: on port 8080 it
//! serves a page with a whale, the service's `TITLE` and counters that the page's script
//! fills by polling `/ping`, which answers with the container's hostname.
//!
//! Behaviour and texts come from ehazlett/docker-demo at commit 2bcd78b7, the version with
//! the lab's `-close-conn` flag (`main.go`, `templates/index.html.tmpl`, `Dockerfile`):
//! - `/` (and every path but the two below) renders the template with `TITLE`,
//!   `REFRESH_INTERVAL` (default `1000`), `EXTRA_INFO`, `SKIP_ERRORS` and `SHOW_VERSION`, and
//!   logs `request from ADDR` (the `X-Forwarded-For` the page may be sent is not read here:
//!   request headers other than the request line are not modelled).
//! - `/ping` answers `{"instance":HOSTNAME,"version":VERSION}` (`VERSION` defaults to 0.1),
//!   with `Connection: close` when started with `-close-conn`.
//! - `/static/…` is the image's CSS, scripts and pictures, which the simulator does not
//!   carry: it answers Go's 404 page.
//!
//! Responses are Go net/http's: HTTP/1.1, keep-alive, the handler's headers then `Date`,
//! `Content-Length` and the sniffed `Content-Type`; a body over Go's 2048-byte buffer goes
//! out chunked, 2048 bytes a chunk (checked against go1.19's net/http, byte for byte; the
//! image's Go of 2016 may lack the 404's `X-Content-Type-Options`). html/template escapes the values it substitutes: HTML
//! text is escaped, and `REFRESH_INTERVAL`, in the script, becomes a quoted JS string.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

use super::http::{go_log_time, http_date, Connections, Request};

/// `templates/index.html.tmpl` (7290 bytes).
const TEMPLATE: &str = include_str!("docker-demo.html.tmpl");

/// The Dockerfile's `EXPOSE 8080` and the flag's default `-listen=:8080`.
pub const DEMO_PORT: u16 = 8080;

/// What `http.Error` sets (the 404 of `http.NotFound`).
const NOT_FOUND_HEADERS: &[(&str, &str)] =
    &[("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")];

/// net/http's `bufferBeforeChunkingSize`.
const GO_BUFFER: usize = 2048;

/// What the template is rendered with: the app's `Content` struct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemoContent {
    pub title: String,
    pub refresh_interval: String,
    pub extra_info: String,
    pub skip_errors: bool,
    pub show_version: bool,
}

impl DemoContent {
    /// As `index()` reads the environment.
    pub fn from_env(env: &[(String, String)]) -> DemoContent {
        let var = |k: &str| env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        DemoContent {
            title: var("TITLE").unwrap_or_default(),
            refresh_interval: var("REFRESH_INTERVAL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "1000".into()),
            extra_info: var("EXTRA_INFO").unwrap_or_default(),
            skip_errors: var("SKIP_ERRORS").is_some_and(|v| !v.is_empty()),
            show_version: var("SHOW_VERSION").is_some_and(|v| !v.is_empty()),
        }
    }

    fn text(&self, field: &str) -> &str {
        match field {
            ".Title" => &self.title,
            ".ExtraInfo" => &self.extra_info,
            ".RefreshInterval" => &self.refresh_interval,
            other => panic!("the template has no field {other}"),
        }
    }

    /// An `{{if …}}` condition of the template.
    fn test(&self, words: &[&str]) -> bool {
        match words {
            ["not", field] => !self.test(&[field]),
            ["ne", field, "\"\""] => !self.text(field).is_empty(),
            [".SkipErrors"] => self.skip_errors,
            [".ShowVersion"] => self.show_version,
            other => panic!("the template has no condition {other:?}"),
        }
    }

    /// A substituted value, escaped for where it stands.
    fn value(&self, field: &str) -> String {
        match field {
            ".RefreshInterval" => js_string(&self.refresh_interval),
            field => html_escape(self.text(field)),
        }
    }
}

/// The page: the template's actions (`{{ .Field }}`, `{{if …}}`, `{{end}}`) evaluated.
pub fn render(c: &DemoContent) -> String {
    let (mut out, mut live) = (String::new(), Vec::<bool>::new());
    let mut rest = TEMPLATE;
    while let Some(open) = rest.find("{{") {
        let shown = live.iter().all(|b| *b);
        if shown {
            out.push_str(&rest[..open]);
        }
        let close = open + rest[open..].find("}}").expect("every action closes");
        let words: Vec<&str> = rest[open + 2..close].split_whitespace().collect();
        match words.as_slice() {
            ["if", cond @ ..] => live.push(c.test(cond)),
            ["end"] => assert!(live.pop().is_some(), "{{end}} without {{if}}"),
            [field] if shown => out.push_str(&c.value(field)),
            _ => {}
        }
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    out
}

/// html/template's `htmlEscaper`.
fn html_escape(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '+' => out.push_str("&#43;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// html/template's `jsValEscaper` on a string: JSON, with `<`, `>` and `&` as `\u00XX`.
fn js_string(s: &str) -> String {
    let mut out = String::from('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' | '>' | '&' => out.push_str(&format!("\\u{:04x}", ch as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A whole net/http response. `headers` are the handler's, sorted by name; `sniffed` is the
/// Content-Type net/http adds when the handler set none.
pub fn go_response(
    status: &str,
    headers: &[(&str, &str)],
    sniffed: Option<&str>,
    body: &str,
    date: &str,
) -> String {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += &format!("Date: {date}\r\n");
    let kind = sniffed.map(|k| format!("Content-Type: {k}\r\n")).unwrap_or_default();
    if body.len() <= GO_BUFFER {
        return format!("{head}Content-Length: {}\r\n{kind}\r\n{body}", body.len());
    }
    head += &format!("{kind}Transfer-Encoding: chunked\r\n\r\n");
    for chunk in body.as_bytes().chunks(GO_BUFFER) {
        head += &format!("{:x}\r\n{}\r\n", chunk.len(), String::from_utf8_lossy(chunk));
    }
    head + "0\r\n\r\n"
}

pub struct DockerDemo {
    hostname: String,
    content: DemoContent,
    version: String,
    close_conn: bool,
    conns: Connections,
    peers: IndexMap<SockId, (Ipv4Addr, u16)>,
}

impl DockerDemo {
    /// The app as its arguments (`-close-conn`) and environment configure it.
    pub fn new(args: &[String], env: &[(String, String)], hostname: &str) -> DockerDemo {
        let version = env.iter().rev().find(|(k, _)| k == "VERSION").map(|(_, v)| v.clone());
        DockerDemo {
            hostname: hostname.to_string(),
            content: DemoContent::from_env(env),
            version: version.filter(|v| !v.is_empty()).unwrap_or_else(|| "0.1".into()),
            close_conn: args.iter().any(|a| a == "-close-conn" || a == "--close-conn"),
            conns: Connections::default(),
            peers: IndexMap::new(),
        }
    }

    /// Serves one request; whether the connection closes after it.
    fn serve(&self, cx: &mut ProcCtx, sock: SockId, peer: (Ipv4Addr, u16), req: &Request) -> bool {
        let date = http_date(cx.now);
        let path = req.target.split('?').next().unwrap_or("/");
        let (resp, close) = if path == "/ping" {
            let body = format!(
                "{{\"instance\":\"{}\",\"version\":\"{}\"}}\n",
                self.hostname, self.version
            );
            let close: &[(&str, &str)] =
                if self.close_conn { &[("Connection", "close")] } else { &[] };
            let kind = Some("text/plain; charset=utf-8");
            (go_response("200 OK", close, kind, &body, &date), self.close_conn)
        } else if path.starts_with("/static/") {
            let body = "404 page not found\n";
            (go_response("404 Not Found", NOT_FOUND_HEADERS, None, body, &date), false)
        } else {
            cx.println(&format!("{} request from {}:{}", go_log_time(cx.now), peer.0, peer.1));
            let page = render(&self.content);
            (go_response("200 OK", &[], Some("text/html; charset=utf-8"), &page, &date), false)
        };
        cx.tcp_send(sock, resp.as_bytes());
        close
    }
}

impl Process for DockerDemo {
    fn name(&self) -> &str {
        "docker-demo"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        let t = go_log_time(cx.now);
        cx.println(&format!("{t} instance: {}", self.hostname));
        cx.println(&format!("{t} close connections: {}", self.close_conn));
        cx.println(&format!("{t} listening on :{DEMO_PORT}"));
        if cx.tcp_listen(Ipv4Addr::UNSPECIFIED, DEMO_PORT).is_err() {
            let msg = format!("listen tcp :{DEMO_PORT}: bind: address already in use");
            cx.println(&format!("{t} error serving: {msg}"));
            cx.exit(1);
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        if let SocketEventKind::Accepted { peer, .. } = event.kind {
            self.peers.insert(event.sock, peer);
        }
        let Some(&peer) = self.peers.get(&event.sock) else { return };
        if event.kind == SocketEventKind::PeerClosed {
            self.peers.shift_remove(&event.sock);
        }
        for req in self.conns.on_event(cx, &event) {
            if self.serve(cx, event.sock, peer, &req) {
                return self.conns.close(cx, event.sock);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// `testdata/docker-demo-red.html` is what Go's html/template (go1.19) renders from the
    /// template with the app's `Content` for `TITLE=RED`.
    #[test]
    fn the_page_is_what_go_renders() {
        let page = render(&DemoContent::from_env(&env(&[("TITLE", "RED")])));
        assert_eq!(page, include_str!("testdata/docker-demo-red.html"));
        assert!(page.contains("            setInterval(reload, \"1000\");\n"));
    }

    #[test]
    fn no_title_no_heading_and_values_are_escaped() {
        let page = render(&DemoContent::from_env(&env(&[])));
        assert!(page.contains("<title></title>") && !page.contains("<h1"));
        assert_eq!(page.len(), 6358);
        let env = env(&[("TITLE", "R&D <x>'+"), ("EXTRA_INFO", "hi<b>")]);
        let page = render(&DemoContent::from_env(&env));
        assert!(page.contains("<h1 class=\"ui header\">R&amp;D &lt;x&gt;&#39;&#43;</h1>"));
        assert!(page.contains("extra-info\">\n                        hi&lt;b&gt;\n"));
        assert_eq!(page.len(), 6707);
        assert_eq!(js_string("5<0"), "\"5\\u003c0\"");
    }

    #[test]
    fn go_frames_small_bodies_by_length_and_large_ones_in_chunks() {
        let date = "Thu, 08 Jul 2021 10:00:00 GMT";
        let ping = go_response(
            "200 OK",
            &[("Connection", "close")],
            Some("text/plain; charset=utf-8"),
            "{\"instance\":\"c0ffee\",\"version\":\"0.1\"}\n",
            date,
        );
        assert_eq!(
            ping,
            "HTTP/1.1 200 OK\r\nConnection: close\r\nDate: Thu, 08 Jul 2021 10:00:00 GMT\r\n\
             Content-Length: 38\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             {\"instance\":\"c0ffee\",\"version\":\"0.1\"}\n"
        );
        let body = "x".repeat(5000);
        let page = go_response("200 OK", &[], Some("text/html; charset=utf-8"), &body, date);
        let (head, chunks) = page.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nDate: Thu, 08 Jul 2021 10:00:00 GMT\r\n\
             Content-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked"
        );
        let sizes: Vec<&str> = chunks.split("\r\n").step_by(2).collect();
        assert_eq!(sizes, ["800", "800", "388", "0", ""]);
        let not_found =
            go_response("404 Not Found", NOT_FOUND_HEADERS, None, "404 page not found\n", date);
        assert_eq!(
            not_found,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
             X-Content-Type-Options: nosniff\r\nDate: Thu, 08 Jul 2021 10:00:00 GMT\r\n\
             Content-Length: 19\r\n\r\n404 page not found\n"
        );
    }
}
