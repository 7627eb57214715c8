//! A static HTTP/1.1 server: nginx serving its welcome page, or any fixed page. Answers every
//! complete request on a connection with the same document (keep-alive, as nginx does).

use std::net::Ipv4Addr;

use indexmap::IndexMap;

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
