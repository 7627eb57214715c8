//! Sockets: TCP (connect, listen/accept, send, close), UDP and ICMP echo ("ping sockets").
//!
//! TCP here is segments with flags and sequence numbers and the RFC 9293 state machine,
//! without congestion control or data retransmission: every data segment is acknowledged at
//! once, and only SYNs are retransmitted (Linux: 1 s, doubling, `tcp_syn_retries` 6), which
//! is what makes a filtered port time out like the real one.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::engine::{SimDuration, SimTime};
use crate::wire::{IcmpRepr, IpPayload, Ipv4Packet, TcpFlags, TcpSegment, UdpDatagram, UdpPayload};

use super::walk::{Action, KernelTimer, Stage, Walk};
use super::{Kernel, NsRef, PmtuDisc};

/// `net.ipv4.tcp_syn_retries`.
pub const TCP_SYN_RETRIES: u32 = 6;
/// The initial retransmission timeout for a SYN (RFC 6298 §2: 1 s).
pub const TCP_SYN_RTO: SimDuration = SimDuration::from_secs(1);
/// `net.ipv4.ip_local_port_range`.
pub const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);
/// The MSS Linux assumes when a SYN carries none (RFC 1122's 536, `TCP_MSS_DEFAULT`).
const TCP_DEFAULT_MSS: u16 = 536;
/// Linux's initial receive window on such a link.
pub const TCP_WINDOW: u16 = 64240;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SockId(pub u32);

/// A process, by pid, owns sockets and receives their events.
pub type Pid = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    LastAck,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConn {
    pub local: (Ipv4Addr, u16),
    pub remote: (Ipv4Addr, u16),
    pub state: TcpState,
    snd_nxt: u32,
    rcv_nxt: u32,
    syn_tries: u32,
    /// The listening socket a passive connection came from.
    listener: Option<SockId>,
    /// The MSS this side announces: its route's MTU less 40 (`tcp_advertise_mss`).
    adv_mss: u16,
    /// The largest segment it sends: `adv_mss`, lowered to the peer's announced MSS.
    mss: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SocketKind {
    TcpListen { addr: Ipv4Addr, port: u16 },
    Tcp(TcpConn),
    Udp { addr: Ipv4Addr, port: u16 },
    Ping { ident: u16, pmtudisc: PmtuDisc },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Socket {
    owner: Pid,
    kind: SocketKind,
}

/// What a socket tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEventKind {
    Connected,
    /// A listener accepted a connection, now socket `SocketEvent::sock`.
    Accepted {
        listener: SockId,
        peer: (Ipv4Addr, u16),
    },
    Data(Vec<u8>),
    PeerClosed,
    Refused,
    TimedOut,
    Datagram {
        from: (Ipv4Addr, u16),
        payload: UdpPayload,
    },
    EchoReply {
        from: Ipv4Addr,
        seq: u16,
        ttl: u8,
        bytes: usize,
    },
    /// An ICMP "fragmentation needed" from `from` about echo request `seq`.
    FragNeeded {
        from: Ipv4Addr,
        seq: u16,
        mtu: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEvent {
    pub ns: NsRef,
    pub owner: Pid,
    pub sock: SockId,
    pub kind: SocketEventKind,
}

/// The sockets of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sockets {
    socks: IndexMap<SockId, Socket>,
    next_id: u32,
}

impl Sockets {
    fn insert(&mut self, owner: Pid, kind: SocketKind) -> SockId {
        self.next_id += 1;
        let id = SockId(self.next_id);
        self.socks.insert(id, Socket { owner, kind });
        id
    }

    fn port_in_use(&self, tcp: bool, port: u16) -> bool {
        self.socks.values().any(|s| match &s.kind {
            SocketKind::TcpListen { port: p, .. } => tcp && *p == port,
            SocketKind::Tcp(c) => tcp && c.local.1 == port,
            SocketKind::Udp { port: p, .. } => !tcp && *p == port,
            SocketKind::Ping { .. } => false,
        })
    }

    fn tcp_conn(&self, local: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> Option<SockId> {
        self.socks.iter().find_map(|(id, s)| match &s.kind {
            SocketKind::Tcp(c) if c.local == local && c.remote == remote => Some(*id),
            _ => None,
        })
    }

    fn listener(&self, dst: Ipv4Addr, port: u16) -> Option<SockId> {
        self.socks.iter().find_map(|(id, s)| match s.kind {
            SocketKind::TcpListen { addr, port: p } if takes(addr, p, dst, port) => Some(*id),
            _ => None,
        })
    }

    fn udp(&self, dst: Ipv4Addr, port: u16) -> Option<SockId> {
        self.socks.iter().find_map(|(id, s)| match s.kind {
            SocketKind::Udp { addr, port: p } if takes(addr, p, dst, port) => Some(*id),
            _ => None,
        })
    }

    fn ping(&self, ident: u16) -> Option<SockId> {
        self.socks.iter().find_map(|(id, s)| match s.kind {
            SocketKind::Ping { ident: i, .. } if i == ident => Some(*id),
            _ => None,
        })
    }

    /// Listening TCP and bound UDP sockets as `(proto, addr, port, owner)`, for `ss`/`netstat`.
    pub fn listeners(&self) -> Vec<(&'static str, Ipv4Addr, u16, Pid)> {
        self.socks
            .values()
            .filter_map(|s| match s.kind {
                SocketKind::TcpListen { addr, port } => Some(("tcp", addr, port, s.owner)),
                SocketKind::Udp { addr, port } => Some(("udp", addr, port, s.owner)),
                _ => None,
            })
            .collect()
    }

    /// A TCP connection's local and remote address (`getsockname`, `getpeername`).
    pub fn tcp_addrs(&self, sock: SockId) -> Option<((Ipv4Addr, u16), (Ipv4Addr, u16))> {
        match &self.socks.get(&sock)?.kind {
            SocketKind::Tcp(c) => Some((c.local, c.remote)),
            _ => None,
        }
    }

    /// Closes every socket of a process that exited.
    pub fn close_owner(&mut self, owner: Pid) {
        self.socks.retain(|_, s| s.owner != owner);
    }
}

/// Whether a socket bound to `addr:port` takes a packet for `dst:dport`; 0.0.0.0 takes
/// every local address.
fn takes(addr: Ipv4Addr, port: u16, dst: Ipv4Addr, dport: u16) -> bool {
    port == dport && (addr.is_unspecified() || addr == dst)
}

/// Errors from socket calls, worded like `strerror`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    #[error("Address already in use")]
    AddrInUse,
    #[error("Network is unreachable")]
    NetUnreachable,
    /// EMSGSIZE: a DF datagram larger than the path MTU.
    #[error("Message too long")]
    MessageTooLong { mtu: u32 },
}

impl Kernel {
    /// `listen()` on `addr:port` (0.0.0.0 for any).
    pub fn tcp_listen(
        &mut self,
        ns: &NsRef,
        owner: Pid,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<SockId, SocketError> {
        let socks = &mut self.ns_mut(ns).sockets;
        if socks.port_in_use(true, port) {
            return Err(SocketError::AddrInUse);
        }
        Ok(socks.insert(owner, SocketKind::TcpListen { addr, port }))
    }

    /// `bind()` a UDP socket; port 0 picks an ephemeral one.
    pub fn udp_bind(
        &mut self,
        ns: &NsRef,
        owner: Pid,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<SockId, SocketError> {
        let port = if port == 0 { self.ephemeral_port(ns, false) } else { port };
        let socks = &mut self.ns_mut(ns).sockets;
        if socks.port_in_use(false, port) {
            return Err(SocketError::AddrInUse);
        }
        Ok(socks.insert(owner, SocketKind::Udp { addr, port }))
    }

    /// An ICMP echo socket; replies with `ident` come back to it.
    pub fn ping_open(&mut self, ns: &NsRef, owner: Pid, ident: u16) -> SockId {
        let kind = SocketKind::Ping { ident, pmtudisc: PmtuDisc::default() };
        self.ns_mut(ns).sockets.insert(owner, kind)
    }

    /// `setsockopt(IP_MTU_DISCOVER)` on a ping socket.
    ///
    /// # Panics
    /// If `sock` is not a ping socket.
    pub fn set_pmtudisc(&mut self, ns: &NsRef, sock: SockId, mode: PmtuDisc) {
        let socks = &mut self.ns_mut(ns).sockets.socks;
        match socks.get_mut(&sock).map(|s| &mut s.kind) {
            Some(SocketKind::Ping { pmtudisc, .. }) => *pmtudisc = mode,
            _ => panic!("set_pmtudisc on a socket that is not a ping socket"),
        }
    }

    pub fn close_socket(&mut self, ns: &NsRef, sock: SockId) {
        if let Some(n) = self.namespaces.get_mut(ns) {
            n.sockets.socks.shift_remove(&sock);
        }
    }

    fn ephemeral_port(&mut self, ns: &NsRef, tcp: bool) -> u16 {
        let (lo, hi) = EPHEMERAL_PORTS;
        loop {
            let port = self.rng().range_u64(lo as u64, hi as u64 + 1) as u16;
            if !self.ns(ns).expect("live").sockets.port_in_use(tcp, port) {
                return port;
            }
        }
    }

    fn new_ip_ident(&mut self) -> u16 {
        self.rng().range_u64(0, 65536) as u16
    }

    /// Sends one ICMP echo request of `size` data bytes. DF follows the socket's
    /// [`PmtuDisc`] against the path MTU, as `__ip_make_skb` decides it; with
    /// [`PmtuDisc::Do`] a request larger than the path MTU fails with EMSGSIZE.
    #[allow(clippy::too_many_arguments)]
    pub fn ping_send(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        sock: SockId,
        dst: Ipv4Addr,
        seq: u16,
        size: usize,
        out: &mut Vec<Action>,
    ) -> Result<u64, SocketError> {
        let n = self.ns(ns).expect("live");
        let src = n.source_for(dst).ok_or(SocketError::NetUnreachable)?;
        let Some(SocketKind::Ping { ident, pmtudisc }) =
            n.sockets.socks.get(&sock).map(|s| s.kind.clone())
        else {
            panic!("ping_send on a socket that is not a ping socket");
        };
        let data = (0..size).map(|i| (i % 256) as u8).collect();
        let echo = IcmpRepr::EchoRequest { ident, seq, data };
        let mtu = self.route_mtu(now, ns, dst).ok_or(SocketError::NetUnreachable)?;
        let fits = Ipv4Packet::HEADER_LEN + echo.buffer_len() <= mtu as usize;
        let dont_fragment = match pmtudisc {
            PmtuDisc::Do if !fits => return Err(SocketError::MessageTooLong { mtu }),
            PmtuDisc::Do => true,
            PmtuDisc::Want => fits,
            PmtuDisc::Dont => false,
        };
        Ok(self.originate(now, ns, src, dst, dont_fragment, IpPayload::Icmp(echo), out))
    }

    /// Sends a UDP datagram from a bound socket.
    #[allow(clippy::too_many_arguments)]
    pub fn udp_send(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        sock: SockId,
        dst: (Ipv4Addr, u16),
        payload: UdpPayload,
        out: &mut Vec<Action>,
    ) -> Result<u64, SocketError> {
        let n = self.ns(ns).expect("live");
        let Some(SocketKind::Udp { addr, port }) =
            n.sockets.socks.get(&sock).map(|s| s.kind.clone())
        else {
            panic!("udp_send on a socket that is not a UDP socket");
        };
        let src = if addr.is_unspecified() {
            n.source_for(dst.0).ok_or(SocketError::NetUnreachable)?
        } else {
            addr
        };
        let udp = UdpDatagram { src_port: port, dst_port: dst.1, payload };
        Ok(self.originate(now, ns, src, dst.0, false, IpPayload::Udp(udp), out))
    }

    /// Builds and sends a locally originated packet; returns its packet id.
    #[allow(clippy::too_many_arguments)]
    fn originate(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dont_fragment: bool,
        payload: IpPayload,
        out: &mut Vec<Action>,
    ) -> u64 {
        let id = self.new_packet_id();
        let ttl = self.default_ttl(ns);
        let ident = self.new_ip_ident();
        let pkt = Ipv4Packet { src, dst, ttl, ident, dont_fragment, payload };
        let mut w = Walk::new(now, id, out);
        w.hop(ns, "-", Stage::Tx, format!("socket sends {src} > {dst}"));
        self.ip_output(&mut w, ns, pkt);
        id
    }

    /// `connect()`: sends a SYN from an ephemeral port.
    pub fn tcp_connect(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        owner: Pid,
        dst: (Ipv4Addr, u16),
        out: &mut Vec<Action>,
    ) -> Result<SockId, SocketError> {
        let src =
            self.ns(ns).expect("live").source_for(dst.0).ok_or(SocketError::NetUnreachable)?;
        let port = self.ephemeral_port(ns, true);
        let iss = self.rng().next_u64() as u32;
        let adv_mss = self.adv_mss(now, ns, dst.0);
        let conn = TcpConn {
            local: (src, port),
            remote: dst,
            state: TcpState::SynSent,
            snd_nxt: iss,
            rcv_nxt: 0,
            syn_tries: 0,
            listener: None,
            adv_mss,
            mss: adv_mss,
        };
        let sock = self.ns_mut(ns).sockets.insert(owner, SocketKind::Tcp(conn));
        self.send_syn(now, ns, sock, out);
        Ok(sock)
    }

    fn send_syn(&mut self, now: SimTime, ns: &NsRef, sock: SockId, out: &mut Vec<Action>) {
        let conn = self.conn_mut(ns, sock).expect("a connecting socket");
        conn.syn_tries += 1;
        let backoff = TCP_SYN_RTO.as_nanos() << (conn.syn_tries - 1);
        out.push(Action::Timer {
            at: now + SimDuration::from_nanos(backoff),
            timer: KernelTimer::SynRetry { ns: ns.clone(), sock },
        });
        self.send_segment(now, ns, sock, TcpFlags::SYN, Vec::new(), out);
    }

    pub(super) fn syn_retry(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        sock: SockId,
        out: &mut Vec<Action>,
    ) {
        let Some(conn) = self.conn_mut(ns, sock) else { return };
        if conn.state != TcpState::SynSent {
            return;
        }
        if conn.syn_tries > TCP_SYN_RETRIES {
            self.drop_conn(ns, sock, SocketEventKind::TimedOut, out);
            return;
        }
        self.send_syn(now, ns, sock, out);
    }

    /// The MSS a socket announces towards `dst`: the route's MTU less the IP and TCP
    /// headers (1460 on Ethernet, 1410 on an overlay).
    fn adv_mss(&self, now: SimTime, ns: &NsRef, dst: Ipv4Addr) -> u16 {
        let mtu = self.route_mtu(now, ns, dst).unwrap_or(1500);
        u16::try_from(mtu.saturating_sub(40)).unwrap_or(u16::MAX)
    }

    /// `send()` on a connected socket: one segment per MSS.
    pub fn tcp_send(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        sock: SockId,
        data: &[u8],
        out: &mut Vec<Action>,
    ) {
        let Some(mss) = self.conn_mut(ns, sock).map(|c| usize::from(c.mss)) else { return };
        for chunk in data.chunks(mss) {
            self.send_segment(now, ns, sock, TcpFlags::PSH | TcpFlags::ACK, chunk.to_vec(), out);
        }
    }

    /// `close()`: sends FIN; the socket goes when the peer has acknowledged it.
    pub fn tcp_close(&mut self, now: SimTime, ns: &NsRef, sock: SockId, out: &mut Vec<Action>) {
        let Some(conn) = self.conn_mut(ns, sock) else { return };
        conn.state = match conn.state {
            TcpState::CloseWait => TcpState::LastAck,
            TcpState::Established | TcpState::SynReceived => TcpState::FinWait1,
            _ => return,
        };
        self.send_segment(now, ns, sock, TcpFlags::FIN | TcpFlags::ACK, Vec::new(), out);
    }

    fn conn_mut(&mut self, ns: &NsRef, sock: SockId) -> Option<&mut TcpConn> {
        match self.namespaces.get_mut(ns)?.sockets.socks.get_mut(&sock) {
            Some(Socket { kind: SocketKind::Tcp(c), .. }) => Some(c),
            _ => None,
        }
    }

    fn send_segment(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        sock: SockId,
        flags: TcpFlags,
        payload: Vec<u8>,
        out: &mut Vec<Action>,
    ) {
        let conn = self.conn_mut(ns, sock).expect("a live connection");
        let is_syn = flags.contains(TcpFlags::SYN);
        let seg = TcpSegment {
            src_port: conn.local.1,
            dst_port: conn.remote.1,
            seq: conn.snd_nxt,
            ack: if flags.contains(TcpFlags::ACK) { conn.rcv_nxt } else { 0 },
            flags,
            window: TCP_WINDOW,
            mss: is_syn.then_some(conn.adv_mss),
            payload,
        };
        let consumed =
            seg.payload.len() as u32 + u32::from(is_syn) + u32::from(flags.contains(TcpFlags::FIN));
        if !is_syn || conn.state != TcpState::SynSent || conn.syn_tries <= 1 {
            conn.snd_nxt = conn.snd_nxt.wrapping_add(consumed);
        }
        let (src, dst) = (conn.local.0, conn.remote.0);
        self.originate(now, ns, src, dst, true, IpPayload::Tcp(seg), out);
    }

    fn drop_conn(&mut self, ns: &NsRef, sock: SockId, why: SocketEventKind, out: &mut Vec<Action>) {
        let n = self.ns_mut(ns);
        if let Some(s) = n.sockets.socks.shift_remove(&sock) {
            out.push(Action::Socket(SocketEvent {
                ns: ns.clone(),
                owner: s.owner,
                sock,
                kind: why,
            }));
        }
    }

    fn notify(&self, ns: &NsRef, sock: SockId, kind: SocketEventKind, out: &mut Vec<Action>) {
        if let Some(s) = self.ns(ns).and_then(|n| n.sockets.socks.get(&sock)) {
            out.push(Action::Socket(SocketEvent { ns: ns.clone(), owner: s.owner, sock, kind }));
        }
    }

    /// A TCP, UDP or ICMP-reply packet addressed to this namespace.
    pub(super) fn socket_input(&mut self, w: &mut Walk, ns: &NsRef, pkt: Ipv4Packet) {
        match pkt.payload {
            IpPayload::Tcp(seg) => self.tcp_input(w, ns, pkt.src, pkt.dst, seg),
            IpPayload::Udp(udp) => self.udp_input(w, ns, pkt.src, pkt.dst, udp),
            IpPayload::Icmp(IcmpRepr::EchoReply { ident, seq, data }) => {
                let Some(sock) = self.ns(ns).expect("live").sockets.ping(ident) else {
                    return w.hop(ns, "-", Stage::Drop, "no ping socket for the reply");
                };
                let bytes = data.len() + 8;
                let kind = SocketEventKind::EchoReply { from: pkt.src, seq, ttl: pkt.ttl, bytes };
                self.notify(ns, sock, kind, w.out);
            }
            IpPayload::Icmp(IcmpRepr::DestUnreachable { code: 4, next_hop_mtu, original }) => {
                self.frag_needed_input(w, ns, pkt.src, next_hop_mtu, &original)
            }
            IpPayload::Icmp(_) => w.hop(ns, "-", Stage::Deliver, "ICMP consumed by the stack"),
            IpPayload::Esp(_) => w.hop(ns, "-", Stage::Drop, "ESP: no socket takes it"),
            IpPayload::Fragment(_) => unreachable!("local delivery reassembles fragments"),
        }
    }

    /// `icmp_unreach` for "fragmentation needed": the path MTU towards the quoted
    /// destination drops, and a ping socket whose request it quotes hears of it.
    fn frag_needed_input(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        from: Ipv4Addr,
        mtu: u16,
        original: &Ipv4Packet,
    ) {
        self.learn_pmtu(w.now, ns, original.dst, mtu);
        w.hop(ns, "-", Stage::Deliver, format!("path MTU to {} is {mtu}", original.dst));
        if let IpPayload::Icmp(IcmpRepr::EchoRequest { ident, seq, .. }) = original.payload {
            if let Some(sock) = self.ns(ns).expect("live").sockets.ping(ident) {
                self.notify(ns, sock, SocketEventKind::FragNeeded { from, seq, mtu }, w.out);
            }
        }
    }

    fn udp_input(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        udp: UdpDatagram,
    ) {
        let Some(sock) = self.ns(ns).expect("live").sockets.udp(dst, udp.dst_port) else {
            return w.hop(ns, "-", Stage::Drop, format!("no UDP socket on port {}", udp.dst_port));
        };
        let kind = SocketEventKind::Datagram { from: (src, udp.src_port), payload: udp.payload };
        self.notify(ns, sock, kind, w.out);
    }

    fn tcp_input(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        seg: TcpSegment,
    ) {
        let local = (dst, seg.dst_port);
        let remote = (src, seg.src_port);
        let socks = &self.ns(ns).expect("live").sockets;
        if let Some(sock) = socks.tcp_conn(local, remote) {
            return self.tcp_segment_for(w, ns, sock, seg);
        }
        match socks.listener(dst, seg.dst_port) {
            Some(l) if seg.flags == TcpFlags::SYN => {
                self.tcp_accept_syn(w, ns, l, local, remote, &seg)
            }
            _ if seg.flags.contains(TcpFlags::RST) => {}
            _ => self.tcp_reset(w, ns, local, remote, &seg),
        }
    }

    fn tcp_accept_syn(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        listener: SockId,
        local: (Ipv4Addr, u16),
        remote: (Ipv4Addr, u16),
        seg: &TcpSegment,
    ) {
        let owner = self.ns(ns).expect("live").sockets.socks[&listener].owner;
        let iss = self.rng().next_u64() as u32;
        let adv_mss = self.adv_mss(w.now, ns, remote.0);
        let conn = TcpConn {
            local,
            remote,
            state: TcpState::SynReceived,
            snd_nxt: iss,
            rcv_nxt: seg.seq.wrapping_add(1),
            syn_tries: 0,
            listener: Some(listener),
            adv_mss,
            mss: adv_mss.min(seg.mss.unwrap_or(TCP_DEFAULT_MSS)),
        };
        let sock = self.ns_mut(ns).sockets.insert(owner, SocketKind::Tcp(conn));
        self.send_segment(w.now, ns, sock, TcpFlags::SYN | TcpFlags::ACK, Vec::new(), w.out);
    }

    /// No socket wants the segment: answer with RST, as Linux does for a closed port.
    fn tcp_reset(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        local: (Ipv4Addr, u16),
        remote: (Ipv4Addr, u16),
        seg: &TcpSegment,
    ) {
        w.hop(ns, "-", Stage::Deliver, format!("no socket on port {}: RST", local.1));
        let seg_len = seg.payload.len() as u32
            + u32::from(seg.flags.contains(TcpFlags::SYN))
            + u32::from(seg.flags.contains(TcpFlags::FIN));
        let (seq, ack, flags) = if seg.flags.contains(TcpFlags::ACK) {
            (seg.ack, 0, TcpFlags::RST)
        } else {
            (0, seg.seq.wrapping_add(seg_len), TcpFlags::RST | TcpFlags::ACK)
        };
        let rst = TcpSegment {
            src_port: local.1,
            dst_port: remote.1,
            seq,
            ack,
            flags,
            window: 0,
            mss: None,
            payload: Vec::new(),
        };
        self.originate(w.now, ns, local.0, remote.0, true, IpPayload::Tcp(rst), w.out);
    }

    fn tcp_segment_for(&mut self, w: &mut Walk, ns: &NsRef, sock: SockId, seg: TcpSegment) {
        let conn = self.conn_mut(ns, sock).expect("found above");
        if seg.flags.contains(TcpFlags::RST) {
            let why = if conn.state == TcpState::SynSent {
                SocketEventKind::Refused
            } else {
                SocketEventKind::PeerClosed
            };
            return self.drop_conn(ns, sock, why, w.out);
        }
        match conn.state {
            TcpState::SynSent if seg.flags.contains(TcpFlags::SYN | TcpFlags::ACK) => {
                conn.rcv_nxt = seg.seq.wrapping_add(1);
                conn.state = TcpState::Established;
                conn.mss = conn.mss.min(seg.mss.unwrap_or(TCP_DEFAULT_MSS));
                self.send_segment(w.now, ns, sock, TcpFlags::ACK, Vec::new(), w.out);
                self.notify(ns, sock, SocketEventKind::Connected, w.out);
            }
            TcpState::SynReceived if seg.flags.contains(TcpFlags::ACK) => {
                conn.state = TcpState::Established;
                let listener = conn.listener.expect("passive connections have a listener");
                let peer = conn.remote;
                self.notify(ns, sock, SocketEventKind::Accepted { listener, peer }, w.out);
                self.tcp_data(w, ns, sock, seg);
            }
            _ => self.tcp_data(w, ns, sock, seg),
        }
    }

    /// Data and FIN on a synchronized connection; everything is acknowledged at once.
    fn tcp_data(&mut self, w: &mut Walk, ns: &NsRef, sock: SockId, seg: TcpSegment) {
        let conn = self.conn_mut(ns, sock).expect("live");
        let fin = seg.flags.contains(TcpFlags::FIN);
        let len = seg.payload.len() as u32 + u32::from(fin);
        if len == 0 {
            if matches!(conn.state, TcpState::LastAck) {
                return self.drop_conn(ns, sock, SocketEventKind::PeerClosed, w.out);
            }
            if conn.state == TcpState::FinWait1 {
                conn.state = TcpState::FinWait2;
            }
            return;
        }
        conn.rcv_nxt = seg.seq.wrapping_add(len);
        let state = conn.state;
        if fin {
            conn.state = match state {
                TcpState::FinWait1 | TcpState::FinWait2 => TcpState::LastAck,
                _ => TcpState::CloseWait,
            };
        }
        self.send_segment(w.now, ns, sock, TcpFlags::ACK, Vec::new(), w.out);
        if !seg.payload.is_empty() {
            self.notify(ns, sock, SocketEventKind::Data(seg.payload), w.out);
        }
        if fin {
            self.notify(ns, sock, SocketEventKind::PeerClosed, w.out);
            if matches!(state, TcpState::FinWait1 | TcpState::FinWait2) {
                self.ns_mut(ns).sockets.socks.shift_remove(&sock);
            }
        }
    }
}
