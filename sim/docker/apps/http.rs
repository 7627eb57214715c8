//! A static HTTP/1.1 server: nginx serving its welcome page, or any fixed page. Answers every
//! complete request on a connection with the same document (keep-alive, as nginx does).
//!
//! Also what the other web apps share: reading a request head off a connection, and the
//! wall-clock formats servers print (simulated time 0 is 2021-07-08T10:00:00Z; containers
//! run in UTC).

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::docker::format::{civil_from_days, EPOCH_UNIX_SECS};
use crate::engine::SimTime;
use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

/// nginx 1.21's `/usr/share/nginx/html/index.html` (612 bytes).
pub const NGINX_WELCOME: &str = "<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
    body {
        width: 35em;
        margin: 0 auto;
        font-family: Tahoma, Verdana, Arial, sans-serif;
    }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href=\"http://nginx.org/\">nginx.org</a>.<br/>
Commercial support is available at
<a href=\"http://nginx.com/\">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
";

pub struct HttpServer {
    name: String,
    port: u16,
    server_header: String,
    body: String,
    pending: IndexMap<SockId, Vec<u8>>,
}

impl HttpServer {
    /// nginx on port 80 with its welcome page.
    pub fn nginx() -> Self {
        HttpServer::new("nginx", 80, "nginx/1.21.1", NGINX_WELCOME)
    }

    pub fn new(name: &str, port: u16, server_header: &str, body: &str) -> Self {
        HttpServer {
            name: name.to_string(),
            port,
            server_header: server_header.to_string(),
            body: body.to_string(),
            pending: IndexMap::new(),
        }
    }

    fn response(&self) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nServer: {}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: keep-alive\r\nAccept-Ranges: bytes\r\n\r\n{}",
            self.server_header,
            self.body.len(),
            self.body
        )
    }
}

impl Process for HttpServer {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        if cx.tcp_listen(Ipv4Addr::UNSPECIFIED, self.port).is_err() {
            cx.println(&format!(
                "bind() to 0.0.0.0:{} failed (98: Address already in use)",
                self.port
            ));
            cx.exit(1);
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Accepted { .. } => {
                self.pending.insert(event.sock, Vec::new());
            }
            SocketEventKind::Data(bytes) => {
                let buf = self.pending.entry(event.sock).or_default();
                buf.extend_from_slice(&bytes);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    buf.clear();
                    let resp = self.response();
                    cx.tcp_send(event.sock, resp.as_bytes());
                }
            }
            SocketEventKind::PeerClosed => {
                self.pending.shift_remove(&event.sock);
                cx.tcp_close(event.sock);
            }
            _ => {}
        }
    }
}

/// A request line, as a server reads it (headers are read past, not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent (`/`, `/x?y=1`): nginx's `$request_uri`.
    pub target: String,
}

/// Takes one complete request head (up to its blank line) off the front of `buf`; `None`
/// until one has arrived. Request bodies are not modelled: the labs only GET.
pub fn take_request(buf: &mut Vec<u8>) -> Option<Request> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head: Vec<u8> = buf.drain(..end).collect();
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or("").split(' ');
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("/").to_string();
    Some(Request { method, target })
}

/// The connections of a keep-alive HTTP server: what each client has sent that is not yet a
/// whole request.
#[derive(Default)]
pub struct Connections {
    bufs: IndexMap<SockId, Vec<u8>>,
}

impl Connections {
    /// What every such server does with a socket event: keeps a new connection, closes one
    /// the client closed, and returns the requests that bytes completed, in order.
    pub fn on_event(&mut self, cx: &mut ProcCtx, event: &SocketEvent) -> Vec<Request> {
        let mut done = Vec::new();
        match &event.kind {
            SocketEventKind::Accepted { .. } => {
                self.bufs.insert(event.sock, Vec::new());
            }
            SocketEventKind::Data(bytes) => {
                let Some(buf) = self.bufs.get_mut(&event.sock) else { return done };
                buf.extend_from_slice(bytes);
                while let Some(req) = take_request(buf) {
                    done.push(req);
                }
            }
            SocketEventKind::PeerClosed => self.close(cx, event.sock),
            _ => {}
        }
        done
    }

    /// The server closes the connection itself.
    pub fn close(&mut self, cx: &mut ProcCtx, sock: SockId) {
        self.bufs.shift_remove(&sock);
        cx.tcp_close(sock);
    }
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A wall-clock second in UTC.
struct Civil {
    year: i64,
    month: &'static str,
    day: u32,
    weekday: &'static str,
    hms: String,
}

fn civil(now: SimTime) -> Civil {
    let secs = EPOCH_UNIX_SECS + now.as_nanos() / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    Civil {
        year,
        month: MONTHS[month as usize - 1],
        day,
        // 1970-01-01 was a Thursday.
        weekday: DAYS[(days % 7) as usize],
        hms: format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    }
}

/// RFC 7231's IMF-fixdate, as the `Date:` header: `Thu, 08 Jul 2021 10:00:00 GMT`.
pub fn http_date(now: SimTime) -> String {
    let c = civil(now);
    format!("{}, {:02} {} {} {} GMT", c.weekday, c.day, c.month, c.year, c.hms)
}

/// nginx's `$time_local` in a UTC container: `08/Jul/2021:10:00:00 +0000`.
pub fn nginx_time_local(now: SimTime) -> String {
    let c = civil(now);
    format!("{:02}/{}/{}:{} +0000", c.day, c.month, c.year, c.hms)
}

/// Go's `log` package prefix (`log.LstdFlags`), without its trailing space:
/// `2021/07/08 10:00:00`.
pub fn go_log_time(now: SimTime) -> String {
    let c = civil(now);
    let month = MONTHS.iter().position(|m| *m == c.month).expect("a month name") + 1;
    format!("{}/{month:02}/{:02} {}", c.year, c.day, c.hms)
}

/// C's `asctime()` (Python's `time.asctime()`): `Thu Jul  8 10:00:00 2021`.
pub fn asctime(now: SimTime) -> String {
    let c = civil(now);
    format!("{} {} {:2} {} {}", c.weekday, c.month, c.day, c.hms, c.year)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    #[test]
    fn clocks_format_like_the_servers() {
        let t = SimTime::ZERO + SimDuration::from_secs(3 * 86_400 + 3_723);
        assert_eq!(http_date(SimTime::ZERO), "Thu, 08 Jul 2021 10:00:00 GMT");
        assert_eq!(http_date(t), "Sun, 11 Jul 2021 11:02:03 GMT");
        assert_eq!(nginx_time_local(t), "11/Jul/2021:11:02:03 +0000");
        assert_eq!(asctime(SimTime::ZERO), "Thu Jul  8 10:00:00 2021");
        assert_eq!(go_log_time(t), "2021/07/11 11:02:03");
    }

    #[test]
    fn requests_come_off_the_buffer_one_at_a_time() {
        let mut buf = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n".to_vec();
        let r = take_request(&mut buf).unwrap();
        assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/a?b=1"));
        assert_eq!(take_request(&mut buf), None);
        assert_eq!(buf, b"GET / HTTP/1.1\r\n");
    }
}
