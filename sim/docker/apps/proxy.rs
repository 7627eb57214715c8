//! docker-proxy, the userland proxy: listens on the published host port and relays each
//! connection to the container, so the container sees the proxy's address as the client
//! (the case iptables' DNAT does not cover: connections from the host itself to 127.0.0.1).

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

/// One relayed connection: the client side and the container side.
struct Relay {
    client: SockId,
    backend: SockId,
    backend_up: bool,
    queued: Vec<u8>,
}

pub struct DockerProxy {
    host: (Ipv4Addr, u16),
    container: (Ipv4Addr, u16),
    relays: Vec<Relay>,
    by_sock: IndexMap<SockId, usize>,
}

impl DockerProxy {
    pub fn new(host: (Ipv4Addr, u16), container: (Ipv4Addr, u16)) -> Self {
        DockerProxy { host, container, relays: Vec::new(), by_sock: IndexMap::new() }
    }

    fn accept(&mut self, cx: &mut ProcCtx, client: SockId) {
        let Ok(backend) = cx.tcp_connect(self.container) else {
            return cx.tcp_close(client);
        };
        let idx = self.relays.len();
        self.relays.push(Relay { client, backend, backend_up: false, queued: Vec::new() });
        self.by_sock.insert(client, idx);
        self.by_sock.insert(backend, idx);
    }

    fn relay(&mut self, cx: &mut ProcCtx, sock: SockId, kind: SocketEventKind) {
        let Some(&idx) = self.by_sock.get(&sock) else { return };
        let r = &mut self.relays[idx];
        let (from_client, other) =
            if sock == r.client { (true, r.backend) } else { (false, r.client) };
        match kind {
            SocketEventKind::Connected => {
                r.backend_up = true;
                let q = std::mem::take(&mut r.queued);
                if !q.is_empty() {
                    cx.tcp_send(r.backend, &q);
                }
            }
            SocketEventKind::Data(bytes) if from_client && !r.backend_up => r.queued.extend(bytes),
            SocketEventKind::Data(bytes) => cx.tcp_send(other, &bytes),
            SocketEventKind::PeerClosed | SocketEventKind::Refused | SocketEventKind::TimedOut => {
                cx.tcp_close(other);
                cx.tcp_close(sock);
            }
            _ => {}
        }
    }
}

impl Process for DockerProxy {
    fn name(&self) -> &str {
        "docker-proxy"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        if cx.tcp_listen(self.host.0, self.host.1).is_err() {
            cx.exit(1);
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Accepted { .. } => self.accept(cx, event.sock),
            kind => self.relay(cx, event.sock, kind),
        }
    }
}
