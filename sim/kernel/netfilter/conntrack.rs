//! Connection tracking and the NAT bindings stored in it (nf_conntrack + nf_nat).
//!
//! Contract:
//! - an entry has an original tuple (as the first packet was seen) and a reply tuple (what
//!   the answer will look like, after NAT); a packet belongs to an entry in the original or
//!   the reply direction when its tuple equals one of the two;
//! - an entry is created unconfirmed at the first hook (PREROUTING or OUTPUT) and confirmed
//!   when the packet leaves the last hook (INPUT or POSTROUTING) accepted; lookups and
//!   `conntrack -L` see confirmed entries only, and a dropped packet discards its
//!   unconfirmed entry, as in Linux;
//! - the packet carries `(entry id << 3) | ctinfo` in `PacketMeta::conntrack_id`, which is
//!   how Linux keeps `ct | ctinfo` in `skb->_nfct`; ctinfo uses the kernel's values
//!   (ESTABLISHED 0, RELATED 1, NEW 2, ESTABLISHED_REPLY 3). The kernel model must clear it
//!   when a packet leaves the namespace (Linux's `skb_scrub_packet`);
//! - NAT rewrites the reply tuple once, on the connection's first packet; every later packet
//!   is rewritten from the entry (`translate`);
//! - time only comes in as `now`; entries whose timeout passed are removed lazily.
//!
//! Simplifications: TCP states follow nf_conntrack_proto_tcp's main transitions without
//! sequence-number windows; an ICMP error is RELATED without looking inside it (PacketMeta
//! does not carry the embedded header), so it is not de-NATed; ICMP echo ids are never
//! remapped by SNAT.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::rule::{NatRange, PortRange};
use super::{CtState, PacketMeta};
use crate::engine::{SimDuration, SimTime};
use crate::wire::{IpProtocol, TcpFlags};

/// A connection tuple. For ICMP echo both ports hold the echo identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tuple {
    pub proto: IpProtocol,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
}

impl Tuple {
    fn of(pkt: &PacketMeta) -> Tuple {
        Tuple { proto: pkt.proto, src: pkt.src, dst: pkt.dst, sport: pkt.sport, dport: pkt.dport }
    }
    fn inverted(self) -> Tuple {
        Tuple { src: self.dst, dst: self.src, sport: self.dport, dport: self.sport, ..self }
    }
}

/// TCP connection states as `conntrack -L` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpCtState {
    SynSent,
    SynRecv,
    Established,
    FinWait,
    CloseWait,
    LastAck,
    TimeWait,
    Close,
}

impl fmt::Display for TcpCtState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpCtState::SynSent => "SYN_SENT",
            TcpCtState::SynRecv => "SYN_RECV",
            TcpCtState::Established => "ESTABLISHED",
            TcpCtState::FinWait => "FIN_WAIT",
            TcpCtState::CloseWait => "CLOSE_WAIT",
            TcpCtState::LastAck => "LAST_ACK",
            TcpCtState::TimeWait => "TIME_WAIT",
            TcpCtState::Close => "CLOSE",
        })
    }
}

impl TcpCtState {
    /// Linux's default `nf_conntrack_tcp_timeout_*` values.
    fn timeout(self) -> SimDuration {
        SimDuration::from_secs(match self {
            TcpCtState::SynSent => 120,
            TcpCtState::SynRecv => 60,
            TcpCtState::Established => 432_000,
            TcpCtState::FinWait => 120,
            TcpCtState::CloseWait => 60,
            TcpCtState::LastAck => 30,
            TcpCtState::TimeWait => 120,
            TcpCtState::Close => 10,
        })
    }
}

/// `nf_conntrack_udp_timeout` (30 s) and `nf_conntrack_udp_timeout_stream` (120 s), and the
/// 2 s after which a replied UDP flow counts as a stream; `nf_conntrack_icmp_timeout` 30 s.
const UDP_TIMEOUT: SimDuration = SimDuration::from_secs(30);
const UDP_STREAM_TIMEOUT: SimDuration = SimDuration::from_secs(120);
const UDP_STREAM_AFTER: SimDuration = SimDuration::from_secs(2);
const ICMP_TIMEOUT: SimDuration = SimDuration::from_secs(30);

/// Which way a packet travels relative to its connection's first packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dir {
    Original,
    Reply,
}

/// `enum ip_conntrack_info` (values as in Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CtInfo {
    Established = 0,
    Related = 1,
    New = 2,
    EstablishedReply = 3,
}

impl CtInfo {
    pub fn state(self) -> CtState {
        match self {
            CtInfo::Established | CtInfo::EstablishedReply => CtState::Established,
            CtInfo::Related => CtState::Related,
            CtInfo::New => CtState::New,
        }
    }
    pub fn dir(self) -> Dir {
        if self == CtInfo::EstablishedReply {
            Dir::Reply
        } else {
            Dir::Original
        }
    }
    fn from_bits(bits: u64) -> CtInfo {
        match bits {
            0 => CtInfo::Established,
            1 => CtInfo::Related,
            2 => CtInfo::New,
            3 => CtInfo::EstablishedReply,
            _ => panic!("conntrack_id carries an unknown ctinfo {bits}"),
        }
    }
}

/// Packs an entry id and ctinfo into `PacketMeta::conntrack_id`.
pub(crate) fn encode(id: u64, info: CtInfo) -> u64 {
    id << 3 | info as u64
}

/// Unpacks `PacketMeta::conntrack_id`.
pub(crate) fn decode(v: u64) -> (u64, CtInfo) {
    (v >> 3, CtInfo::from_bits(v & 7))
}

/// Which address NAT changes: destination (PREROUTING/OUTPUT) or source (POSTROUTING/INPUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Manip {
    Dst,
    Src,
}

/// One tracked connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConntrackEntry {
    pub id: u64,
    pub original: Tuple,
    pub reply: Tuple,
    /// For TCP only.
    pub tcp_state: Option<TcpCtState>,
    /// A packet in the reply direction was seen (`[UNREPLIED]` until then).
    pub seen_reply: bool,
    pub assured: bool,
    pub confirmed: bool,
    pub created: SimTime,
    pub expires: SimTime,
    pub mark: u32,
    /// The nat table was consulted for this manip type (Linux's `nf_nat_initialized`).
    pub(crate) nat_done_dst: bool,
    pub(crate) nat_done_src: bool,
    /// A NAT binding was made (Linux's `IPS_DST_NAT`/`IPS_SRC_NAT`): only then are packets
    /// rewritten from the tuples. IPVS changes the reply tuple without setting them
    /// (`nf_conntrack_alter_reply`), so its connections are not DNATed by conntrack.
    pub(crate) dst_nat: bool,
    pub(crate) src_nat: bool,
    fin_dir: Option<Dir>,
}

impl ConntrackEntry {
    /// A DNAT binding was made (`--ctstate DNAT`); IPVS's rewrite of the reply is not one.
    pub fn is_dnat(&self) -> bool {
        self.dst_nat
    }
    /// A SNAT binding was made (`--ctstate SNAT`).
    pub fn is_snat(&self) -> bool {
        self.src_nat
    }
}

/// The conntrack table of one namespace.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conntrack {
    entries: IndexMap<u64, ConntrackEntry>,
    /// Confirmed entries by both of their tuples.
    index: BTreeMap<Tuple, (u64, Dir)>,
    last_id: u64,
}

impl Conntrack {
    pub fn get(&self, id: u64) -> Option<&ConntrackEntry> {
        self.entries.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> &mut ConntrackEntry {
        self.entries.get_mut(&id).expect("conntrack_id refers to a live entry")
    }

    pub fn confirmed(&self) -> impl Iterator<Item = &ConntrackEntry> {
        self.entries.values().filter(|e| e.confirmed)
    }

    /// Drops entries whose timeout has passed.
    pub fn expire(&mut self, now: SimTime) {
        let dead: Vec<u64> = self
            .entries
            .values()
            .filter(|e| e.confirmed && e.expires <= now)
            .map(|e| e.id)
            .collect();
        for id in dead {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u64) {
        if let Some(e) = self.entries.shift_remove(&id) {
            self.index.remove(&e.original);
            self.index.remove(&e.reply);
        }
    }

    /// The conntrack hook (PREROUTING/OUTPUT): finds or creates the packet's entry and
    /// updates its state. None means INVALID.
    pub fn track(&mut self, now: SimTime, pkt: &PacketMeta) -> Option<(u64, CtInfo)> {
        let tuple = Tuple::of(pkt);
        if let Some(&(id, dir)) = self.index.get(&tuple) {
            return self.update(now, id, dir, pkt);
        }
        self.create(now, pkt, tuple)
    }

    fn create(&mut self, now: SimTime, pkt: &PacketMeta, tuple: Tuple) -> Option<(u64, CtInfo)> {
        let flags = pkt.tcp_flags.unwrap_or_default();
        let tcp_state = match pkt.proto {
            IpProtocol::Tcp if flags.contains(TcpFlags::RST) => return None,
            // A SYN opens; anything else is picked up mid-stream (nf_conntrack_tcp_loose=1).
            IpProtocol::Tcp if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) => {
                Some(TcpCtState::SynSent)
            }
            IpProtocol::Tcp => Some(TcpCtState::Established),
            IpProtocol::Icmp => match pkt.icmp_type {
                Some(8) => None,
                Some(3 | 4 | 5 | 11 | 12) => return Some((0, CtInfo::Related)),
                _ => return None,
            },
            // The kernel tracks ESP generically; the walk hands ESP to xfrm before the
            // hooks, so only forwarded ESP gets here.
            IpProtocol::Udp | IpProtocol::Esp => None,
        };
        self.last_id += 1;
        let id = self.last_id;
        let timeout = tcp_state.map_or(
            if pkt.proto == IpProtocol::Udp { UDP_TIMEOUT } else { ICMP_TIMEOUT },
            TcpCtState::timeout,
        );
        let entry = ConntrackEntry {
            id,
            original: tuple,
            reply: tuple.inverted(),
            tcp_state,
            seen_reply: false,
            assured: false,
            confirmed: false,
            created: now,
            expires: now + timeout,
            mark: pkt.mark,
            nat_done_dst: false,
            nat_done_src: false,
            dst_nat: false,
            src_nat: false,
            fin_dir: None,
        };
        self.entries.insert(id, entry);
        Some((id, CtInfo::New))
    }

    fn update(
        &mut self,
        now: SimTime,
        id: u64,
        dir: Dir,
        pkt: &PacketMeta,
    ) -> Option<(u64, CtInfo)> {
        let e = self.get_mut(id);
        if dir == Dir::Reply {
            e.seen_reply = true;
        }
        let timeout = match pkt.proto {
            IpProtocol::Tcp => tcp_update(e, dir, pkt.tcp_flags.unwrap_or_default()),
            IpProtocol::Udp if e.seen_reply && now.since(e.created) > UDP_STREAM_AFTER => {
                e.assured = true;
                UDP_STREAM_TIMEOUT
            }
            IpProtocol::Udp => UDP_TIMEOUT,
            IpProtocol::Icmp | IpProtocol::Esp => ICMP_TIMEOUT,
        };
        e.expires = now + timeout;
        let info = match (dir, e.seen_reply) {
            (Dir::Reply, _) => CtInfo::EstablishedReply,
            (Dir::Original, true) => CtInfo::Established,
            (Dir::Original, false) => CtInfo::New,
        };
        Some((id, info))
    }

    /// Makes an entry visible to lookups: the packet that created it left the namespace.
    pub fn confirm(&mut self, id: u64) {
        let e = self.get_mut(id);
        if e.confirmed {
            return;
        }
        e.confirmed = true;
        let (original, reply) = (e.original, e.reply);
        self.index.insert(original, (id, Dir::Original));
        self.index.insert(reply, (id, Dir::Reply));
    }

    /// Forgets an entry whose first packet was dropped before confirmation.
    pub fn discard_unconfirmed(&mut self, id: u64) {
        if self.entries.get(&id).is_some_and(|e| !e.confirmed) {
            self.entries.shift_remove(&id);
        }
    }

    /// Binds destination NAT for a new connection: the reply will come from `to`.
    pub fn bind_dst(&mut self, id: u64, to: Ipv4Addr, ports: Option<PortRange>) {
        let e = self.get_mut(id);
        e.reply.src = to;
        e.dst_nat = true;
        if e.original.proto != IpProtocol::Icmp {
            e.reply.sport = pick_in_range(e.original.dport, ports);
        }
    }

    /// IPVS forwarded the connection's first packet to a real server
    /// (`ip_vs_update_conntrack` → `nf_conntrack_alter_reply`): the reply will come from it.
    /// Confirmed entries are never altered, as in Linux.
    pub fn alter_reply_src(&mut self, id: u64, to: Ipv4Addr, port: u16) {
        let e = self.get_mut(id);
        if !e.confirmed {
            (e.reply.src, e.reply.sport) = (to, port);
        }
    }

    /// Binds source NAT: the reply will go to `to`, on the original source port when that
    /// leaves the reply tuple unique, else on the next free port of the range. Linux starts
    /// that search at a hash of the tuple; starting at the next port keeps runs reproducible.
    pub fn bind_src(&mut self, id: u64, to: Ipv4Addr, ports: Option<PortRange>) {
        let e = self.entries.get(&id).expect("conntrack_id refers to a live entry");
        let mut reply = e.reply;
        reply.dst = to;
        if e.original.proto != IpProtocol::Icmp {
            let range = ports.unwrap_or_else(|| default_src_range(e.original.sport));
            let first = pick_in_range(e.original.sport, Some(range));
            reply.dport = self.free_port(reply, first, range, id);
        }
        let e = self.get_mut(id);
        e.reply = reply;
        e.src_nat = true;
    }

    fn free_port(&self, mut reply: Tuple, first: u16, range: PortRange, id: u64) -> u16 {
        let span = u32::from(range.hi - range.lo) + 1;
        for step in 0..span {
            let offset = (u32::from(first - range.lo) + step) % span;
            reply.dport = range.lo + offset as u16;
            if self.index.get(&reply).is_none_or(|(other, _)| *other == id) {
                return reply.dport;
            }
        }
        first
    }
}

/// Linux keeps a source port's class when it has to remap it: 1-511, 600-1023, 1024-65535.
fn default_src_range(port: u16) -> PortRange {
    match port {
        0..=511 => PortRange { lo: 1, hi: 511 },
        512..=1023 => PortRange { lo: 600, hi: 1023 },
        _ => PortRange { lo: 1024, hi: u16::MAX },
    }
}

fn pick_in_range(port: u16, range: Option<PortRange>) -> u16 {
    match range {
        Some(r) if !r.contains(port) => r.lo,
        _ => port,
    }
}

/// The first address of a NAT range, or `fallback` (MASQUERADE/REDIRECT, `:PORT` forms).
pub(crate) fn range_addr(r: &NatRange, fallback: Ipv4Addr) -> Ipv4Addr {
    r.addrs.map_or(fallback, |(lo, _)| lo)
}

/// TCP state tracking, the main transitions of nf_conntrack_proto_tcp's state table.
fn tcp_update(e: &mut ConntrackEntry, dir: Dir, f: TcpFlags) -> SimDuration {
    use TcpCtState::*;
    let state = e.tcp_state.expect("TCP entries have a TCP state");
    let other_side = e.fin_dir.is_some_and(|d| d != dir);
    let next = if f.contains(TcpFlags::RST) {
        Close
    } else {
        match state {
            SynSent if dir == Dir::Reply && f.contains(TcpFlags::SYN | TcpFlags::ACK) => SynRecv,
            SynRecv if dir == Dir::Original && f.contains(TcpFlags::ACK) => Established,
            Established if f.contains(TcpFlags::FIN) => {
                e.fin_dir = Some(dir);
                FinWait
            }
            FinWait | CloseWait if other_side && f.contains(TcpFlags::FIN) => LastAck,
            FinWait if other_side && f.contains(TcpFlags::ACK) => CloseWait,
            LastAck if !other_side && f.contains(TcpFlags::ACK) => TimeWait,
            TimeWait | Close if dir == Dir::Original && f.contains(TcpFlags::SYN) => SynSent,
            s => s,
        }
    };
    if next == Established && e.seen_reply {
        e.assured = true;
    }
    e.tcp_state = Some(next);
    next.timeout()
}

/// Rewrites `pkt` the way the entry says for this direction and manip; returns the trace
/// text when something changed. `label` names the translation (`DNAT`, `un-SNAT`, …).
pub(crate) fn translate(
    e: &ConntrackEntry,
    dir: Dir,
    manip: Manip,
    pkt: &mut PacketMeta,
    label: Option<&str>,
) -> Option<String> {
    let bound = match (dir, manip) {
        (Dir::Original, Manip::Dst) | (Dir::Reply, Manip::Src) => e.dst_nat,
        (Dir::Original, Manip::Src) | (Dir::Reply, Manip::Dst) => e.src_nat,
    };
    if !bound {
        return None;
    }
    // After NAT a packet looks like the other direction's tuple turned around.
    let want = match dir {
        Dir::Original => e.reply.inverted(),
        Dir::Reply => e.original.inverted(),
    };
    let (addr, port, new_addr, new_port) = match manip {
        Manip::Dst => (&mut pkt.dst, &mut pkt.dport, want.dst, want.dport),
        Manip::Src => (&mut pkt.src, &mut pkt.sport, want.src, want.sport),
    };
    if (*addr, *port) == (new_addr, new_port) {
        return None;
    }
    let default_label = match (dir, manip) {
        (Dir::Original, Manip::Dst) => "DNAT",
        (Dir::Original, Manip::Src) => "SNAT",
        (Dir::Reply, Manip::Dst) => "un-SNAT",
        (Dir::Reply, Manip::Src) => "un-DNAT",
    };
    let endpoint = |a: Ipv4Addr, p: u16| match pkt.proto {
        IpProtocol::Icmp => a.to_string(),
        _ => format!("{a}:{p}"),
    };
    let text = format!(
        "{} {} -> {}",
        label.unwrap_or(default_label),
        endpoint(*addr, *port),
        endpoint(new_addr, new_port)
    );
    *addr = new_addr;
    *port = new_port;
    Some(text)
}

/// `conntrack -L` (stdout): one line per confirmed entry, in creation order (Linux prints
/// hash-bucket order, which is not reproducible anyway).
pub(crate) fn list(ct: &Conntrack, now: SimTime) -> String {
    ct.confirmed().filter(|e| e.expires > now).map(|e| entry_line(e, now) + "\n").collect()
}

/// One entry as `conntrack -L` prints it, without the newline.
pub(crate) fn entry_line(e: &ConntrackEntry, now: SimTime) -> String {
    let mut out = String::new();
    let secs = e.expires.since(now).as_nanos() / 1_000_000_000;
    write!(out, "{:<8} {} {} ", e.original.proto.name(), e.original.proto.number(), secs).unwrap();
    if let Some(s) = e.tcp_state {
        write!(out, "{s} ").unwrap();
    }
    out.push_str(&tuple_text(&e.original, 8));
    if !e.seen_reply {
        out.push_str("[UNREPLIED] ");
    }
    out.push_str(&tuple_text(&e.reply, 0));
    if e.assured {
        out.push_str("[ASSURED] ");
    }
    write!(out, "mark={} use=1", e.mark).unwrap();
    out
}

/// The summary line conntrack prints on stderr after a listing.
pub(crate) fn summary(ct: &Conntrack, now: SimTime) -> String {
    let n = ct.confirmed().filter(|e| e.expires > now).count();
    format!("conntrack v1.4.6 (conntrack-tools): {n} flow entries have been shown.")
}

fn tuple_text(t: &Tuple, icmp_type: u8) -> String {
    match t.proto {
        IpProtocol::Icmp => {
            format!("src={} dst={} type={icmp_type} code=0 id={} ", t.src, t.dst, t.sport)
        }
        _ => format!("src={} dst={} sport={} dport={} ", t.src, t.dst, t.sport, t.dport),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, flags: TcpFlags) -> PacketMeta {
        PacketMeta {
            src: src.into(),
            dst: dst.into(),
            proto: IpProtocol::Tcp,
            sport,
            dport,
            icmp_type: None,
            tcp_flags: Some(flags),
            len: 60,
            in_iface: None,
            out_iface: None,
            mark: 0,
            conntrack_id: None,
            ipvs_property: false,
        }
    }

    #[test]
    fn tcp_handshake_and_close_walk_the_linux_states() {
        let mut ct = Conntrack::default();
        let t0 = SimTime::ZERO;
        let syn = tcp([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, TcpFlags::SYN);
        let (id, info) = ct.track(t0, &syn).unwrap();
        assert_eq!(info, CtInfo::New);
        ct.confirm(id);
        let synack = tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 40000, TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(ct.track(t0, &synack), Some((id, CtInfo::EstablishedReply)));
        let ack = tcp([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, TcpFlags::ACK);
        assert_eq!(ct.track(t0, &ack), Some((id, CtInfo::Established)));
        assert_eq!(
            list(&ct, t0),
            "tcp      6 432000 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 \
             src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 [ASSURED] mark=0 use=1\n"
        );
        ct.track(t0, &tcp([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, TcpFlags::FIN | TcpFlags::ACK));
        ct.track(t0, &tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 40000, TcpFlags::FIN | TcpFlags::ACK));
        ct.track(t0, &ack);
        assert_eq!(ct.get(id).unwrap().tcp_state, Some(TcpCtState::TimeWait));
        ct.expire(t0 + SimDuration::from_secs(120));
        assert_eq!(list(&ct, t0), "");
    }

    #[test]
    fn udp_unreplied_entry_lists_like_conntrack_tools() {
        let mut ct = Conntrack::default();
        let mut pkt = tcp([127, 0, 0, 1], 58043, [127, 0, 0, 1], 9999, TcpFlags::default());
        pkt.proto = IpProtocol::Udp;
        pkt.tcp_flags = None;
        let (id, _) = ct.track(SimTime::ZERO, &pkt).unwrap();
        ct.confirm(id);
        // conntrack -L printed this line (with 29 s left) for the same datagram.
        assert_eq!(
            list(&ct, SimTime::ZERO + SimDuration::from_millis(500)),
            "udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=58043 dport=9999 [UNREPLIED] \
             src=127.0.0.1 dst=127.0.0.1 sport=9999 dport=58043 mark=0 use=1\n"
        );
    }

    #[test]
    fn source_nat_keeps_the_port_unless_taken() {
        let mut ct = Conntrack::default();
        let to = Ipv4Addr::new(10, 0, 2, 15);
        let a = tcp([172, 17, 0, 2], 40000, [1, 1, 1, 1], 80, TcpFlags::SYN);
        let (ida, _) = ct.track(SimTime::ZERO, &a).unwrap();
        ct.bind_src(ida, to, None);
        ct.confirm(ida);
        let b = tcp([172, 17, 0, 3], 40000, [1, 1, 1, 1], 80, TcpFlags::SYN);
        let (idb, _) = ct.track(SimTime::ZERO, &b).unwrap();
        ct.bind_src(idb, to, None);
        assert_eq!(ct.get(ida).unwrap().reply.dport, 40000);
        assert_eq!(ct.get(idb).unwrap().reply.dport, 40001);
    }
}
