//! Peer probes, for comparing the model with real Linux (the differential tests): a TCP
//! server that records the address of every client it accepts, and a client that reports
//! how its connection attempt ended.
//!
//! Contract: [`PeerServer`] prints each accepted client's IPv4 address on a line of its
//! stdout, sends the same line back and closes. [`PeerClient`] connects, waits up to
//! [`CONNECT_TIMEOUT`] for the handshake, then up to [`LINGER`] for the server's line (so a
//! relaying docker-proxy has finished its own connection to the backend), and exits with an
//! [`Attempt`] code. The real-Linux probes behave the same way and print the same words.

use std::fmt;
use std::net::Ipv4Addr;

use crate::engine::SimDuration;
use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};

/// How long a client waits for the handshake: one SYN retransmission (1 s) and slack, like
/// `nc -w 2`.
pub const CONNECT_TIMEOUT: SimDuration = SimDuration::from_secs(2);
/// How long a connected client waits for the server's line.
pub const LINGER: SimDuration = SimDuration::from_secs(1);

const CONNECT_TIMER: u64 = 1;
const LINGER_TIMER: u64 = 2;

/// How a connection attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attempt {
    /// The handshake completed (with the server, or with a proxy in front of it).
    Connected,
    /// A RST came back.
    Refused,
    /// The stack had no route (`connect` failed at once).
    Unreachable,
    /// Nothing came back before the timeout.
    Silent,
}

impl Attempt {
    /// The client's exit code for this ending.
    pub fn code(self) -> i32 {
        match self {
            Attempt::Connected => 0,
            Attempt::Refused => 1,
            Attempt::Unreachable => 2,
            Attempt::Silent => 3,
        }
    }

    /// The ending a client's exit reports; a client that never exited was silent.
    pub fn from_exit(code: Option<i32>) -> Attempt {
        match code {
            Some(0) => Attempt::Connected,
            Some(1) => Attempt::Refused,
            Some(2) => Attempt::Unreachable,
            _ => Attempt::Silent,
        }
    }

    /// The word the real probe prints for this ending.
    pub fn parse(word: &str) -> Option<Attempt> {
        [Attempt::Connected, Attempt::Refused, Attempt::Unreachable, Attempt::Silent]
            .into_iter()
            .find(|a| a.to_string() == word)
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Attempt::Connected => "connected",
            Attempt::Refused => "refused",
            Attempt::Unreachable => "unreachable",
            Attempt::Silent => "silent",
        })
    }
}

/// Listens on `addr:port` and records every client's address.
pub struct PeerServer {
    addr: Ipv4Addr,
    port: u16,
}

impl PeerServer {
    pub fn new(addr: Ipv4Addr, port: u16) -> Self {
        PeerServer { addr, port }
    }

    /// The client addresses a server printed, in accept order.
    pub fn peers(stdout: &str) -> Vec<Ipv4Addr> {
        stdout.lines().filter_map(|l| l.parse().ok()).collect()
    }
}

impl Process for PeerServer {
    fn name(&self) -> &str {
        "peer-server"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        if cx.tcp_listen(self.addr, self.port).is_err() {
            cx.exit(1);
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Accepted { peer, .. } => {
                let line = format!("{}\n", peer.0);
                cx.print(&line);
                cx.tcp_send(event.sock, line.as_bytes());
                cx.tcp_close(event.sock);
            }
            SocketEventKind::PeerClosed => cx.tcp_close(event.sock),
            _ => {}
        }
    }
}

/// Connects to `dst` and exits with an [`Attempt`] code.
pub struct PeerClient {
    dst: (Ipv4Addr, u16),
    sock: Option<SockId>,
    connected: bool,
}

impl PeerClient {
    pub fn new(dst: (Ipv4Addr, u16)) -> Self {
        PeerClient { dst, sock: None, connected: false }
    }

    fn finish(&mut self, cx: &mut ProcCtx, how: Attempt) {
        if let (Some(s), true) = (self.sock.take(), self.connected) {
            cx.tcp_close(s);
        }
        cx.exit(how.code());
    }
}

impl Process for PeerClient {
    fn name(&self) -> &str {
        "peer-client"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        match cx.tcp_connect(self.dst) {
            Ok(s) => {
                self.sock = Some(s);
                cx.set_timer(CONNECT_TIMEOUT, CONNECT_TIMER);
            }
            Err(_) => cx.exit(Attempt::Unreachable.code()),
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Connected => {
                self.connected = true;
                cx.set_timer(LINGER, LINGER_TIMER);
            }
            SocketEventKind::PeerClosed => self.finish(cx, Attempt::Connected),
            SocketEventKind::Refused => self.finish(cx, Attempt::Refused),
            SocketEventKind::TimedOut => self.finish(cx, Attempt::Silent),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        match (token, self.connected) {
            (CONNECT_TIMER, false) => self.finish(cx, Attempt::Silent),
            (LINGER_TIMER, true) => self.finish(cx, Attempt::Connected),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_round_trip_through_exit_codes_and_words() {
        for a in [Attempt::Connected, Attempt::Refused, Attempt::Unreachable, Attempt::Silent] {
            assert_eq!(Attempt::from_exit(Some(a.code())), a);
            assert_eq!(Attempt::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Attempt::from_exit(None), Attempt::Silent);
        assert_eq!(Attempt::parse("timeout"), None);
    }

    #[test]
    fn a_server_log_lists_its_peers() {
        assert_eq!(
            PeerServer::peers("172.18.0.3\n10.0.2.15\n"),
            [Ipv4Addr::new(172, 18, 0, 3), Ipv4Addr::new(10, 0, 2, 15)]
        );
    }
}
