//! `nginxdemos/hello`: nginx 1.21 on port 80 answering every request with a page that says
//! where the request landed: the address and port it arrived on, the container's hostname,
//! the time, the URI and a request ID.
//!
//! Both flavours come from nginxinc/NGINX-Demos `nginx-hello/` (commit 76f732e1, the one that
//! added the plain-text image): `latest` serves `index.html` through `hello.conf`'s
//! `sub_filter`s, `plain-text` answers with `hello-plain-text.conf`'s `return 200 '…'`.
//! Both set `expires -1`. The headers follow nginx's header filter: `sub_filter` drops the
//! file's Content-Length (and Last-Modified, ETag), so the HTML page goes out chunked with no
//! Accept-Ranges, in one chunk and the terminating one; the plain text has a length.
//! Methods are not checked: every request gets the page.

use std::net::Ipv4Addr;

use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent};

use super::http::{http_date, nginx_time_local, Connections, Request};

/// nginx-hello's `index.html` (7194 bytes), with the placeholders its `sub_filter`s replace.
pub const HELLO_HTML: &str = include_str!("hello.html");

/// The nginx of `nginx:mainline-alpine` in mid-2021, which the image is built on.
const SERVER: &str = "nginx/1.21.1";

/// What `expires -1` adds.
const EXPIRES_NOW: &str = "Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache\r\n";

/// Which image tag runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloFlavor {
    /// `nginxdemos/hello` (`latest`): the HTML page.
    Html,
    /// `nginxdemos/hello:plain-text`.
    PlainText,
}

/// The values nginx substitutes into one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloVars {
    /// `$server_addr:$server_port`.
    pub server: (Ipv4Addr, u16),
    /// `$hostname`.
    pub hostname: String,
    /// `$time_local`.
    pub time_local: String,
    /// `$request_uri`.
    pub uri: String,
    /// `$request_id`: 32 hex digits.
    pub request_id: String,
}

pub struct NginxHello {
    flavor: HelloFlavor,
    hostname: String,
    conns: Connections,
}

impl NginxHello {
    /// The container's main process; `hostname` is the container's (its short ID unless
    /// `--hostname` was given).
    pub fn new(flavor: HelloFlavor, hostname: &str) -> Self {
        NginxHello { flavor, hostname: hostname.to_string(), conns: Connections::default() }
    }

    fn answer(&mut self, cx: &mut ProcCtx, sock: SockId, req: Request) {
        let server = cx.tcp_local(sock).expect("an accepted connection has a local address");
        let vars = HelloVars {
            server,
            hostname: self.hostname.clone(),
            time_local: nginx_time_local(cx.now),
            uri: req.target,
            request_id: cx.kernel.rng().hex(16),
        };
        let date = http_date(cx.now);
        let resp = response(self.flavor, &vars, &date, req.method == "HEAD");
        cx.tcp_send(sock, resp.as_bytes());
    }
}

/// The page with `vars` substituted, as `sub_filter` or `return` produce it.
pub fn body(flavor: HelloFlavor, v: &HelloVars) -> String {
    let address = format!("{}:{}", v.server.0, v.server.1);
    match flavor {
        HelloFlavor::Html => HELLO_HTML
            .replace("server_hostname", &v.hostname)
            .replace("server_address", &address)
            .replace("server_url", &v.uri)
            .replace("server_date", &v.time_local)
            .replace("request_id", &v.request_id),
        HelloFlavor::PlainText => format!(
            "Server address: {address}\nServer name: {}\nDate: {}\nURI: {}\nRequest ID: {}\n",
            v.hostname, v.time_local, v.uri, v.request_id
        ),
    }
}

/// The whole HTTP/1.1 response: headers in the order nginx's header filter writes them.
pub fn response(flavor: HelloFlavor, v: &HelloVars, date: &str, head_only: bool) -> String {
    let body = body(flavor, v);
    let head = |kind: &str, framing: String| {
        format!(
            "HTTP/1.1 200 OK\r\nServer: {SERVER}\r\nDate: {date}\r\nContent-Type: {kind}\r\n\
             {framing}Connection: keep-alive\r\n{EXPIRES_NOW}\r\n"
        )
    };
    match flavor {
        HelloFlavor::Html => {
            let head = head("text/html", "Transfer-Encoding: chunked\r\n".into());
            if head_only {
                return head;
            }
            format!("{head}{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
        }
        HelloFlavor::PlainText => {
            let head = head("text/plain", format!("Content-Length: {}\r\n", body.len()));
            if head_only {
                head
            } else {
                head + &body
            }
        }
    }
}

impl Process for NginxHello {
    fn name(&self) -> &str {
        "nginx"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        if cx.tcp_listen(Ipv4Addr::UNSPECIFIED, 80).is_err() {
            cx.println("nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address in use)");
            cx.exit(1);
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        for req in self.conns.on_event(cx, &event) {
            self.answer(cx, event.sock, req);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(ip: [u8; 4], hostname: &str) -> HelloVars {
        HelloVars {
            server: (Ipv4Addr::from(ip), 80),
            hostname: hostname.into(),
            time_local: "08/Jul/2021:10:00:00 +0000".into(),
            uri: "/".into(),
            request_id: "0123456789abcdef0123456789abcdef".into(),
        }
    }

    #[test]
    fn plain_text_page_and_headers() {
        let v = vars([10, 0, 0, 8], "29eab7a74545");
        let date = "Thu, 08 Jul 2021 10:00:00 GMT";
        assert_eq!(
            response(HelloFlavor::PlainText, &v, date, false),
            "HTTP/1.1 200 OK\r\nServer: nginx/1.21.1\r\nDate: Thu, 08 Jul 2021 10:00:00 GMT\r\n\
             Content-Type: text/plain\r\nContent-Length: 139\r\nConnection: keep-alive\r\n\
             Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache\r\n\r\n\
             Server address: 10.0.0.8:80\nServer name: 29eab7a74545\n\
             Date: 08/Jul/2021:10:00:00 +0000\nURI: /\n\
             Request ID: 0123456789abcdef0123456789abcdef\n"
        );
    }

    #[test]
    fn html_page_is_chunked_with_the_values_in_place() {
        let v = vars([10, 0, 0, 9], "b6c1b9e5a1d0");
        let date = "Thu, 08 Jul 2021 10:00:00 GMT";
        let resp = response(HelloFlavor::Html, &v, date, false);
        let (head, rest) = resp.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nServer: nginx/1.21.1\r\nDate: Thu, 08 Jul 2021 10:00:00 GMT\r\n\
             Content-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\
             Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache"
        );
        let page = body(HelloFlavor::Html, &v);
        assert_eq!(rest, format!("{:x}\r\n{page}\r\n0\r\n\r\n", page.len()));
        let info: Vec<&str> = page.lines().filter(|l| l.contains("<span>")).collect();
        assert_eq!(
            info,
            [
                "<p><span>Server&nbsp;address:</span> <span>10.0.0.9:80</span></p>",
                "<p><span>Server&nbsp;name:</span> <span>b6c1b9e5a1d0</span></p>",
                "<p class=\"smaller\"><span>Date:</span> <span>08/Jul/2021:10:00:00 +0000</span></p>",
                "<p class=\"smaller\"><span>URI:</span> <span>/</span></p>",
            ]
        );
        assert!(page.contains("            Request ID: 0123456789abcdef0123456789abcdef<br/>\n"));
        // The template's 7194 bytes, less the placeholders, plus the values.
        assert_eq!(page.len(), 7194 + 11 - 14 + 12 - 15 + 26 - 11 + 1 - 10 + 32 - 10);
    }
}
