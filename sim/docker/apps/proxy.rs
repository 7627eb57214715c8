//! docker-proxy, the userland proxy: listens on the published host port and relays each
//! connection to the container, so the container sees the proxy's address as the client
//! (the case iptables' DNAT does not cover: connections from the host itself to 127.0.0.1).
//!
//! Also the relaying itself ([`Relays`]), which the HTTP routing mesh shares: each client
//! connection joined to one the proxy opened to a backend, bytes copied both ways, a close on
//! either side closing both.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

/// One relayed connection: the client side and the backend side.
struct Relay {
    client: SockId,
    backend: SockId,
    backend_up: bool,
    queued: Vec<u8>,
}

/// The connections a proxy relays.
#[derive(Default)]
pub(super) struct Relays {
    relays: Vec<Relay>,
    by_sock: IndexMap<SockId, usize>,
}

impl Relays {
    /// Connects to `backend` for `client`; `first` (what the client already sent) goes out
    /// once the backend connection is up. A backend that cannot be dialled closes the client.
    pub(super) fn open(
        &mut self,
        cx: &mut ProcCtx,
        client: SockId,
        backend: (Ipv4Addr, u16),
        first: Vec<u8>,
    ) {
        let Ok(backend) = cx.tcp_connect(backend) else {
            return cx.tcp_close(client);
        };
        let idx = self.relays.len();
        self.relays.push(Relay { client, backend, backend_up: false, queued: first });
        self.by_sock.insert(client, idx);
        self.by_sock.insert(backend, idx);
    }

    /// Whether `sock` is either end of a relayed connection.
    pub(super) fn owns(&self, sock: SockId) -> bool {
        self.by_sock.contains_key(&sock)
    }

    /// Copies what arrived on one end to the other; a close or failure ends both.
    pub(super) fn handle(&mut self, cx: &mut ProcCtx, sock: SockId, kind: SocketEventKind) {
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

pub struct DockerProxy {
    host: (Ipv4Addr, u16),
    container: (Ipv4Addr, u16),
    relays: Relays,
}

impl DockerProxy {
    pub fn new(host: (Ipv4Addr, u16), container: (Ipv4Addr, u16)) -> Self {
        DockerProxy { host, container, relays: Relays::default() }
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
            SocketEventKind::Accepted { .. } => {
                self.relays.open(cx, event.sock, self.container, Vec::new())
            }
            kind => self.relays.handle(cx, event.sock, kind),
        }
    }
}
