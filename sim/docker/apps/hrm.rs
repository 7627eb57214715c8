//! `docker/ucp-hrm`, UCP 2.0's HTTP routing mesh: an HTTP proxy on port 80 that picks the
//! service for each request by its `Host` header.
//!
//! What UCP 2.0's documentation says, and this process does: a service is routed to when it
//! is on the `ucp-hrm` network and carries the label
//! `com.docker.ucp.mesh.http=INTERNAL_PORT=http://HOST[,…]`; the mesh looks for new services
//! every 60 seconds; a request for a host no service claims gets a 503. A routed request goes
//! to the service's virtual IP on `ucp-hrm` at the internal port, so swarm's IPVS picks the
//! task.
//!
//! What it abstracts: UCP's proxy read the services through the Docker API (UCP mounts the
//! socket into it); here it reads them from its node's daemon ([`NameService::services`]),
//! which lists them on a manager only, so the service must run on one. The label's form
//! without a port (allowed when the service publishes one port) is not understood: such
//! entries are skipped. The request goes to the backend as the client sent it (no
//! `X-Forwarded-For`), and the connection stays with that backend for any further requests
//! on it. The 503's body is not known here; this one is a bare status line and headers.
//!
//! [`NameService::services`]: crate::kernel::process::NameService::services

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::engine::SimDuration;
use crate::kernel::process::{ProcCtx, Process, ServiceListing};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

use super::http::take_request;
use super::proxy::Relays;

/// The label that routes a service.
pub const MESH_LABEL: &str = "com.docker.ucp.mesh.http";
/// The network routed services share with the mesh.
pub const MESH_NETWORK: &str = "ucp-hrm";
/// The port UCP publishes the mesh on by default.
pub const HRM_PORT: u16 = 80;
/// "The HTTP Routing Mesh checks for new services every 60 seconds."
pub const HRM_POLL: SimDuration = SimDuration::from_secs(60);

const TOKEN_POLL: u64 = 1;

const UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// One host name routed to one service's VIP and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub host: String,
    pub service: String,
    pub backend: (Ipv4Addr, u16),
}

/// The routes the services' labels ask for, in the services' order.
pub fn routes(services: &[ServiceListing]) -> Vec<Route> {
    let mut out = Vec::new();
    for s in services {
        let vip = s.vips.iter().find(|(net, _)| net == MESH_NETWORK).map(|(_, ip)| *ip);
        let label = s.labels.iter().find(|(k, _)| k == MESH_LABEL).map(|(_, v)| v.as_str());
        let (Some(vip), Some(label)) = (vip, label) else { continue };
        for entry in label.split(',') {
            let Some((port, url)) = entry.trim().split_once('=') else { continue };
            let (Ok(port), Some(host)) = (port.parse(), url.strip_prefix("http://")) else {
                continue;
            };
            let host = host.trim_end_matches('/').to_ascii_lowercase();
            out.push(Route { host, service: s.name.clone(), backend: (vip, port) });
        }
    }
    out
}

/// The `Host` header of a request head, lower-cased and without its port.
pub fn host_of(head: &[u8]) -> Option<String> {
    String::from_utf8_lossy(head).lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let host = v.trim().split(':').next().unwrap_or("");
        k.eq_ignore_ascii_case("host").then(|| host.to_ascii_lowercase())
    })
}

#[derive(Default)]
pub struct Hrm {
    routes: Vec<Route>,
    /// Clients whose request head has not all arrived.
    reading: IndexMap<SockId, Vec<u8>>,
    relays: Relays,
}

impl Hrm {
    fn refresh(&mut self, cx: &mut ProcCtx) {
        self.routes = routes(&cx.names.map(|n| n.services()).unwrap_or_default());
        cx.set_timer(HRM_POLL, TOKEN_POLL);
    }

    fn on_request_bytes(&mut self, cx: &mut ProcCtx, sock: SockId, bytes: &[u8]) {
        let Some(buf) = self.reading.get_mut(&sock) else { return };
        buf.extend_from_slice(bytes);
        let mut probe = buf.clone();
        if take_request(&mut probe).is_none() {
            return;
        }
        let head = self.reading.shift_remove(&sock).expect("just read");
        let host = host_of(&head).unwrap_or_default();
        match self.routes.iter().find(|r| r.host == host) {
            Some(route) => self.relays.open(cx, sock, route.backend, head),
            None => {
                cx.tcp_send(sock, UNAVAILABLE);
                cx.tcp_close(sock);
            }
        }
    }
}

impl Process for Hrm {
    fn name(&self) -> &str {
        "ucp-hrm"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        if cx.tcp_listen(Ipv4Addr::UNSPECIFIED, HRM_PORT).is_err() {
            return cx.exit(1);
        }
        self.refresh(cx);
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        if self.relays.owns(event.sock) {
            return self.relays.handle(cx, event.sock, event.kind);
        }
        match event.kind {
            SocketEventKind::Accepted { .. } => {
                self.reading.insert(event.sock, Vec::new());
            }
            SocketEventKind::Data(bytes) => self.on_request_bytes(cx, event.sock, &bytes),
            SocketEventKind::PeerClosed => {
                self.reading.shift_remove(&event.sock);
                cx.tcp_close(event.sock);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        assert_eq!(token, TOKEN_POLL, "the routing mesh set no timer {token}");
        self.refresh(cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, label: Option<&str>, vips: &[(&str, [u8; 4])]) -> ServiceListing {
        ServiceListing {
            name: name.into(),
            labels: label.map(|v| (MESH_LABEL.to_string(), v.to_string())).into_iter().collect(),
            vips: vips.iter().map(|(n, ip)| (n.to_string(), Ipv4Addr::from(*ip))).collect(),
        }
    }

    #[test]
    fn labels_on_the_mesh_network_become_routes() {
        let services = [
            service("ucp-hrm", None, &[("ingress", [10, 255, 0, 2]), ("ucp-hrm", [10, 0, 1, 2])]),
            service(
                "RED",
                Some("8080=http://Red.example.com"),
                &[("ingress", [10, 255, 0, 5]), ("ucp-hrm", [10, 0, 1, 5])],
            ),
            service("off-mesh", Some("80=http://x.example.com"), &[("other", [10, 0, 2, 2])]),
            service(
                "WHITE",
                Some("8080=http://white.example.com, http://bare.example.com,9000=https://s.example.com"),
                &[("ucp-hrm", [10, 0, 1, 9])],
            ),
        ];
        let got: Vec<(String, String, (Ipv4Addr, u16))> =
            routes(&services).into_iter().map(|r| (r.host, r.service, r.backend)).collect();
        assert_eq!(
            got,
            [
                ("red.example.com".into(), "RED".into(), (Ipv4Addr::new(10, 0, 1, 5), 8080)),
                ("white.example.com".into(), "WHITE".into(), (Ipv4Addr::new(10, 0, 1, 9), 8080)),
            ]
        );
    }

    #[test]
    fn the_host_header_names_the_site() {
        let head = b"GET / HTTP/1.1\r\nhost: WHITE.example.com:80\r\nAccept: */*\r\n\r\n";
        assert_eq!(host_of(head).as_deref(), Some("white.example.com"));
        assert_eq!(host_of(b"GET / HTTP/1.0\r\n\r\n"), None);
    }
}
