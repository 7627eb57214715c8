//! `curl URL`: one HTTP/1.1 GET, the body to stdout, curl's own error lines and exit codes
//! (6 could not resolve, 7 failed to connect, 28 timeout). The body ends by Content-Length,
//! by the last chunk of a chunked body (nginx's `sub_filter` pages), or when the server
//! closes (HTTP/1.0 servers such as Werkzeug's).

use std::net::Ipv4Addr;

use crate::engine::SimDuration;
use crate::kernel::process::ProcCtx;
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

use super::resolver::{LookupTool, Resolution};
use super::ToolUsageError;

const TOKEN_TIMEOUT: u64 = 2;
/// The curl that Ubuntu 20.04 ships, as it names itself in requests.
const USER_AGENT: &str = "curl/7.68.0";

pub struct Curl {
    host: String,
    port: u16,
    path: String,
    headers: Vec<(String, String)>,
    max_time: Option<SimDuration>,
    silent: bool,
    ip: Option<Ipv4Addr>,
    sock: Option<SockId>,
    response: Vec<u8>,
    started: crate::engine::SimTime,
}

impl Curl {
    /// Parses `curl [-s] [-m SECS|--max-time SECS] [--connect-timeout SECS] [-H 'NAME: VALUE']…
    /// URL`.
    pub fn parse(args: &[String]) -> Result<Curl, ToolUsageError> {
        let mut url = None;
        let (mut max_time, mut headers, mut silent) = (None, Vec::new(), false);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-s" | "--silent" => silent = true,
                "-m" | "--max-time" | "--connect-timeout" => max_time = Some(parse_secs(it.next())?),
                "-H" | "--header" => headers.push(parse_header(it.next())?),
                s if s.starts_with('-') => {
                    return Err(ToolUsageError(format!("curl: option {s}: is unknown\ncurl: try 'curl --help' or 'curl --manual' for more information")))
                }
                s => url = Some(s.to_string()),
            }
        }
        let url = url.ok_or_else(|| ToolUsageError("curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information".into()))?;
        let (host, port, path) = split_url(&url)?;
        Ok(Curl {
            host,
            port,
            path,
            headers,
            max_time,
            silent,
            ip: None,
            sock: None,
            response: Vec::new(),
            started: crate::engine::SimTime::ZERO,
        })
    }

    fn fail(&self, cx: &mut ProcCtx, code: i32, msg: String) {
        if !self.silent {
            cx.println(&format!("curl: ({code}) {msg}"));
        }
        cx.exit(code);
    }

    /// The request head as curl 7.88 writes it (checked against the real one): a `-H` Host
    /// takes Host's place as `Host: VALUE`; a `-H` User-Agent or Accept drops curl's own; the
    /// `-H` headers but Host follow, as typed, in the order given.
    fn request(&self) -> String {
        let given = |name: &str| self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        let host = match (given("Host"), self.port) {
            (Some((_, v)), _) => v.trim_start().to_string(),
            (None, 80) => self.host.clone(),
            (None, p) => format!("{}:{p}", self.host),
        };
        let mut head = format!("GET {} HTTP/1.1\r\nHost: {host}\r\n", self.path);
        for (name, value) in [("User-Agent", USER_AGENT), ("Accept", "*/*")] {
            if given(name).is_none() {
                head += &format!("{name}: {value}\r\n");
            }
        }
        for (name, value) in self.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("Host")) {
            head += &format!("{name}:{value}\r\n");
        }
        head + "\r\n"
    }

    /// Prints the body once the whole response (by Content-Length) is in.
    fn try_finish(&mut self, cx: &mut ProcCtx, closed: bool) {
        let Some((head, body)) = split_response(&self.response) else {
            if closed {
                self.fail(cx, 52, "Empty reply from server".into());
            }
            return;
        };
        let body = match (header(head, "transfer-encoding").as_deref(), content_length(head)) {
            (Some("chunked"), _) => dechunk(body),
            (_, Some(n)) => (body.len() >= n).then(|| body[..n].to_vec()),
            (_, None) => closed.then(|| body.to_vec()),
        };
        if let Some(body) = body {
            cx.print(&String::from_utf8_lossy(&body));
            if let Some(sock) = self.sock.take() {
                cx.tcp_close(sock);
            }
            cx.exit(0);
        }
    }
}

impl LookupTool for Curl {
    fn name(&self) -> &str {
        "curl"
    }

    fn host(&self) -> &str {
        &self.host
    }

    fn on_begin(&mut self, cx: &mut ProcCtx) {
        self.started = cx.now;
        if let Some(t) = self.max_time {
            cx.set_timer(t, TOKEN_TIMEOUT);
        }
    }

    fn on_resolved(&mut self, cx: &mut ProcCtx, r: Resolution) {
        let Resolution::Found(ip) = r else {
            return self.fail(cx, 6, format!("Could not resolve host: {}", self.host));
        };
        self.ip = Some(ip);
        match cx.tcp_connect((ip, self.port)) {
            Ok(sock) => self.sock = Some(sock),
            Err(e) => self.fail(
                cx,
                7,
                format!("Failed to connect to {} port {}: {e}", self.host, self.port),
            ),
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        let target = format!("{} port {}", self.host, self.port);
        match event.kind {
            SocketEventKind::Connected => {
                let req = self.request();
                cx.tcp_send(event.sock, req.as_bytes());
            }
            SocketEventKind::Data(bytes) => {
                self.response.extend_from_slice(&bytes);
                self.try_finish(cx, false);
            }
            SocketEventKind::PeerClosed => self.try_finish(cx, true),
            SocketEventKind::Refused => {
                self.fail(cx, 7, format!("Failed to connect to {target}: Connection refused"))
            }
            SocketEventKind::TimedOut => {
                self.fail(cx, 7, format!("Failed to connect to {target}: Connection timed out"))
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        match token {
            TOKEN_TIMEOUT => {
                let ms = cx.now.since(self.started).as_nanos() / 1_000_000;
                let what = if self.response.is_empty() {
                    "Connection timed out"
                } else {
                    "Operation timed out"
                };
                self.fail(cx, 28, format!("{what} after {ms} milliseconds"));
            }
            _ => unreachable!("curl set no timer {token}"),
        }
    }
}

fn parse_secs(v: Option<&String>) -> Result<SimDuration, ToolUsageError> {
    let secs: f64 = v.and_then(|s| s.parse().ok()).filter(|s: &f64| *s > 0.0).ok_or_else(|| {
        ToolUsageError("curl: option --max-time: expected a proper numerical parameter".into())
    })?;
    Ok(SimDuration::from_nanos((secs * 1e9) as u64))
}

/// One `-H 'Name: value'`: the name, and what follows its colon as typed.
fn parse_header(v: Option<&String>) -> Result<(String, String), ToolUsageError> {
    let h = v.ok_or_else(|| ToolUsageError("curl: option -H: requires parameter".into()))?;
    let (name, value) = h.split_once(':').ok_or_else(|| {
        ToolUsageError(format!("curl: option -H: header {h:?} has no colon: not simulated"))
    })?;
    Ok((name.to_string(), value.to_string()))
}

/// `[http://]host[:port][/path]`
fn split_url(url: &str) -> Result<(String, u16, String), ToolUsageError> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if rest.contains("://") {
        let scheme = url.split("://").next().unwrap_or("");
        return Err(ToolUsageError(format!(
            "curl: (1) Protocol \"{scheme}\" not supported or disabled in libcurl"
        )));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse().map_err(|_| {
                ToolUsageError("curl: (3) URL using bad/illegal format or missing URL".into())
            })?,
        ),
        None => (authority, 80),
    };
    Ok((host.to_string(), port, path))
}

fn split_response(resp: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&resp[..end], &resp[end + 4..]))
}

fn header(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head).lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
    })
}

fn content_length(head: &[u8]) -> Option<usize> {
    header(head, "content-length")?.parse().ok()
}

/// A chunked body decoded, once its last (zero-size) chunk is in.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_like_curl() {
        assert_eq!(split_url("127.0.0.1:8080").unwrap(), ("127.0.0.1".into(), 8080, "/".into()));
        assert_eq!(split_url("http://web/x").unwrap(), ("web".into(), 80, "/x".into()));
    }

    /// What curl 7.88 sent for the same command lines (captured by a listening socket).
    #[test]
    fn headers_go_where_curl_puts_them() {
        let parse =
            |args: &[&str]| Curl::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        let args = ["-H", "host: red.example.com", "-H", "X-Trace:  1", "-H", "accept: text/html"];
        let curl = parse(&[&args[..], &["http://127.0.0.1:18099/ping"]].concat()).unwrap();
        assert_eq!(
            curl.request(),
            "GET /ping HTTP/1.1\r\nHost: red.example.com\r\nUser-Agent: curl/7.68.0\r\n\
             X-Trace:  1\r\naccept: text/html\r\n\r\n"
        );
        let curl = parse(&["-H", "User-Agent: me", "http://127.0.0.1:18099/"]).unwrap();
        assert_eq!(
            curl.request(),
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:18099\r\nAccept: */*\r\nUser-Agent: me\r\n\r\n"
        );
        let err = parse(&["-H", "nocolon", "x"]).err().unwrap();
        assert!(err.0.contains("has no colon"));
    }

    #[test]
    fn chunked_bodies_decode_once_the_last_chunk_is_in() {
        assert_eq!(dechunk(b"5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n").unwrap(), b"hello!");
        assert_eq!(dechunk(b"5\r\nhello\r\n"), None);
        assert_eq!(dechunk(b"5\r\nhel"), None);
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked";
        assert_eq!(header(head, "transfer-encoding").as_deref(), Some("chunked"));
        assert_eq!(content_length(head), None);
    }
}
