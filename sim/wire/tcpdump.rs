//! The text `tcpdump -n` prints for a frame, and a stateful printer for whole captures.
//!
//! Contract: `Display` for [`EthernetFrame`], [`Ipv4Packet`] and [`ArpRepr`] gives the line
//! tcpdump 4.99 prints after the timestamp, with absolute TCP sequence numbers (what it
//! prints for the first segment of a flow it has not seen). [`TcpdumpPrinter`] keeps
//! tcpdump's per-connection initial sequence numbers so later segments print relative
//! (`seq 1:78, ack 1`), and prefixes tcpdump's default `HH:MM:SS.uuuuuu` timestamp. The
//! formats follow tcpdump's print-ether.c, print-arp.c, print-ip.c, print-icmp.c,
//! print-udp.c, print-tcp.c, print-domain.c, print-vxlan.c and print-http.c
//! (txtproto_print); payload decoders other than DNS on UDP 53, VXLAN on UDP 4789 and HTTP
//! on TCP 80/8080 are not reproduced. A VXLAN packet prints as tcpdump prints it: the
//! outer line ends with the VNI, and the inner frame follows on a line of its own, with
//! its Ethernet header under `-e`.
//!
//! A fragment prints as print-ip.c prints it: the first (offset 0) as its transport
//! header says, with the fragment's own length for ICMP and TCP and the UDP header's
//! length for UDP (a UDP first fragment is not decoded further, not even for DNS or
//! VXLAN); later fragments as `ip-proto-N`. [`Ipv4Packet::tcpdump_verbose`] gives what
//! `tcpdump -v` prints for a packet: the IP header in parentheses, then the line above
//! (and, for an ICMP error, the quoted packet the same way); TCP's `-v` checksum text
//! is not reproduced.

use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

use super::{
    be16, be32, ArpOp, ArpRepr, Depth, DnsClass, DnsMessage, DnsRecordData, DnsType, EtherPayload,
    EthernetFrame, FragmentRepr, IcmpRepr, IpPayload, IpProtocol, Ipv4Packet, TcpFlags, TcpSegment,
    UdpDatagram, UdpPayload, VxlanPacket,
};
use crate::engine::SimTime;

/// What tcpdump subtracts from a TCP segment's seq and ack (zero: absolute numbers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SeqBase {
    seq: u32,
    ack: u32,
}

impl fmt::Display for EthernetFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_frame(f, self, false, SeqBase::default())
    }
}

impl fmt::Display for Ipv4Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IP ")?;
        write_ip(f, self, false, SeqBase::default())
    }
}

impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ARP, ")?;
        write_arp(f, self)
    }
}

impl EthernetFrame {
    /// The line `tcpdump -n` (or, with `link_level`, `tcpdump -n -e`) prints for this frame
    /// after the timestamp.
    pub fn tcpdump_line(&self, link_level: bool) -> String {
        let mut line = String::new();
        write_frame(&mut line, self, link_level, SeqBase::default()).expect("String never fails");
        line
    }
}

/// With `-e` tcpdump prints the Ethernet header and leaves out the `ARP, `/`IP ` that names
/// the protocol, since the EtherType already says it. An 802.1Q tag prints only under `-e`
/// (`vlan 10, p 0, ethertype IPv4 (0x0800), `, 4.99's `ether_common_print`); without it
/// the line is the untagged frame's.
fn write_frame(
    f: &mut dyn Write,
    frame: &EthernetFrame,
    link_level: bool,
    base: SeqBase,
) -> fmt::Result {
    if link_level {
        write!(
            f,
            "{} > {}, ethertype {} (0x{:04x}), length {}: ",
            frame.src,
            frame.dst,
            ethertype_name(&frame.payload),
            frame.payload.ethertype(),
            frame.buffer_len()
        )?;
        let mut payload = &frame.payload;
        while let EtherPayload::Vlan(tag) = payload {
            let dei = if tag.dei { ", DEI" } else { "" };
            payload = &tag.payload;
            let (name, ethertype) = (ethertype_name(payload), payload.ethertype());
            write!(
                f,
                "vlan {}, p {}{dei}, ethertype {name} (0x{ethertype:04x}), ",
                tag.vid, tag.pcp
            )?;
        }
    }
    match frame.payload.untagged() {
        EtherPayload::Arp(arp) => {
            if !link_level {
                f.write_str("ARP, ")?;
            }
            write_arp(f, arp)
        }
        EtherPayload::Ipv4(ip) => {
            if !link_level {
                f.write_str("IP ")?;
            }
            write_ip(f, ip, link_level, base)
        }
        EtherPayload::Vlan(_) => unreachable!("untagged() removes every tag"),
    }
}

/// tcpdump's name for an EtherType (`ethertype_values`).
fn ethertype_name(payload: &EtherPayload) -> &'static str {
    match payload {
        EtherPayload::Arp(_) => "ARP",
        EtherPayload::Ipv4(_) => "IPv4",
        EtherPayload::Vlan(_) => "802.1Q",
    }
}

fn write_arp(f: &mut dyn Write, arp: &ArpRepr) -> fmt::Result {
    match arp.op {
        ArpOp::Request => {
            write!(f, "Request who-has {}", arp.target_ip)?;
            if arp.target_mac != super::MacAddr::ZERO {
                write!(f, " ({})", arp.target_mac)?;
            }
            write!(f, " tell {}", arp.sender_ip)?;
        }
        ArpOp::Reply => write!(f, "Reply {} is-at {}", arp.sender_ip, arp.sender_mac)?,
    }
    write!(f, ", length {}", arp.buffer_len())
}

fn write_ip(f: &mut dyn Write, ip: &Ipv4Packet, link_level: bool, base: SeqBase) -> fmt::Result {
    match &ip.payload {
        IpPayload::Icmp(icmp) => {
            write!(f, "{} > {}: ", ip.src, ip.dst)?;
            write_icmp(f, icmp)
        }
        IpPayload::Udp(udp) => {
            write!(f, "{}.{} > {}.{}: ", ip.src, udp.src_port, ip.dst, udp.dst_port)?;
            write_udp(f, udp, link_level, base)
        }
        IpPayload::Tcp(tcp) => {
            write!(f, "{}.{} > {}.{}: ", ip.src, tcp.src_port, ip.dst, tcp.dst_port)?;
            write_tcp(f, tcp, base)
        }
        // print-esp.c: the header only; the length is the IP payload's.
        IpPayload::Esp(esp) => write!(
            f,
            "{} > {}: ESP(spi=0x{:08x},seq=0x{:x}), length {}",
            ip.src,
            ip.dst,
            esp.spi,
            esp.seq,
            esp.buffer_len()
        ),
        IpPayload::Fragment(frag) => write_fragment(f, ip, frag, base),
    }
}

/// print-ip.c: only the first fragment holds the transport header.
fn write_fragment(
    f: &mut dyn Write,
    ip: &Ipv4Packet,
    frag: &FragmentRepr,
    base: SeqBase,
) -> fmt::Result {
    let (src, dst, b) = (ip.src, ip.dst, frag.bytes.as_slice());
    let number = frag.protocol.number();
    if frag.offset != 0 {
        return write!(f, "{src} > {dst}: ip-proto-{number}");
    }
    match frag.protocol {
        IpProtocol::Icmp if b.len() >= 8 => {
            let kind = match b[0] {
                8 => "echo request".to_string(),
                0 => "echo reply".to_string(),
                t => format!("type-#{t}"),
            };
            let (id, seq) = (be16(b, 4), be16(b, 6));
            let ids =
                if b[0] == 8 || b[0] == 0 { format!(", id {id}, seq {seq}") } else { "".into() };
            write!(f, "{src} > {dst}: ICMP {kind}{ids}, length {}", b.len())
        }
        IpProtocol::Udp if b.len() >= 8 => {
            let (sport, dport, len) = (be16(b, 0), be16(b, 2), be16(b, 4));
            write!(f, "{src}.{sport} > {dst}.{dport}: UDP, length {}", len.saturating_sub(8))
        }
        IpProtocol::Esp if b.len() >= 8 => write!(
            f,
            "{src} > {dst}: ESP(spi=0x{:08x},seq=0x{:x}), length {}",
            be32(b, 0),
            be32(b, 4),
            b.len()
        ),
        IpProtocol::Tcp => match TcpSegment::parse_at(b, src, dst, Depth::Quoted) {
            Ok(tcp) => {
                write!(f, "{src}.{} > {dst}.{}: ", tcp.src_port, tcp.dst_port)?;
                write_tcp(f, &tcp, base)
            }
            Err(_) => write!(f, "{src} > {dst}: ip-proto-{number}"),
        },
        _ => write!(f, "{src} > {dst}: ip-proto-{number}"),
    }
}

impl Ipv4Packet {
    /// What `tcpdump -n -v` prints for this packet after the timestamp (see the module
    /// doc for what it leaves out).
    pub fn tcpdump_verbose(&self) -> String {
        let mut out = String::from("IP ");
        write_verbose(&mut out, self).expect("String never fails");
        out
    }
}

/// print-ip.c under `-v`: `(tos …, length N)`, a newline and four spaces, the packet; an
/// ICMP error's quote follows on a tab-indented line of its own.
fn write_verbose(f: &mut dyn Write, ip: &Ipv4Packet) -> fmt::Result {
    let (offset, more) = match &ip.payload {
        IpPayload::Fragment(frag) => (frag.offset, frag.more_fragments),
        _ => (0, false),
    };
    let flags = match (ip.dont_fragment, more) {
        (false, false) => "none",
        (true, false) => "DF",
        (false, true) => "+",
        // bittok2str joins in ip_frag_values' order with ", ".
        (true, true) => "+, DF",
    };
    let proto = ip.payload.protocol();
    write!(
        f,
        "(tos 0x{:x}, ttl {}, id {}, offset {offset}, flags [{flags}], proto {} ({}), length {})\n    ",
        ip.tos(),
        ip.ttl,
        ip.ident,
        proto.name().to_uppercase(),
        proto.number(),
        ip.buffer_len()
    )?;
    write_ip(f, ip, false, SeqBase::default())?;
    if let IpPayload::Icmp(IcmpRepr::DestUnreachable { original, .. }) = &ip.payload {
        f.write_str("\n\tIP ")?;
        write_verbose(f, original)?;
    }
    Ok(())
}

fn write_icmp(f: &mut dyn Write, icmp: &IcmpRepr) -> fmt::Result {
    match icmp {
        IcmpRepr::EchoRequest { ident, seq, .. } => {
            write!(f, "ICMP echo request, id {ident}, seq {seq}")?
        }
        IcmpRepr::EchoReply { ident, seq, .. } => {
            write!(f, "ICMP echo reply, id {ident}, seq {seq}")?
        }
        IcmpRepr::DestUnreachable { code, next_hop_mtu, original } => {
            f.write_str("ICMP ")?;
            write_unreachable(f, *code, *next_hop_mtu, original)?;
        }
    }
    write!(f, ", length {}", icmp.buffer_len())
}

/// print-icmp.c's `unreach2str` and its special cases for protocol, port and need-frag.
fn write_unreachable(
    f: &mut dyn Write,
    code: u8,
    next_hop_mtu: u16,
    original: &Ipv4Packet,
) -> fmt::Result {
    let dst = original.dst;
    match code {
        2 => write!(f, "{dst} protocol {} unreachable", original.payload.protocol().number()),
        3 => match &original.payload {
            IpPayload::Udp(udp) => write!(f, "{dst} udp port {} unreachable", udp.dst_port),
            IpPayload::Tcp(tcp) => write!(f, "{dst} tcp port {} unreachable", tcp.dst_port),
            // tcpdump reads the "port" from the bytes where a UDP header would be: for
            // ICMP that is the type and code.
            IpPayload::Icmp(inner) => {
                let mut bytes = Vec::new();
                inner.emit(&mut bytes);
                let port = u16::from_be_bytes([bytes[2], bytes[3]]);
                write!(f, "{dst} protocol 1 port {port} unreachable")
            }
            // The same bytes of ESP are the low half of the SPI.
            IpPayload::Esp(esp) => {
                write!(f, "{dst} protocol 50 port {} unreachable", esp.spi & 0xffff)
            }
            // A fragment's first bytes are the transport's ports.
            IpPayload::Fragment(frag) => match frag.bytes.get(..4) {
                Some(b) if frag.protocol != IpProtocol::Icmp => {
                    write!(f, "{dst} {} port {} unreachable", frag.protocol.name(), be16(b, 2))
                }
                _ => write!(f, "{dst} protocol {} port unreachable", frag.protocol.number()),
            },
        },
        4 if next_hop_mtu != 0 => {
            write!(f, "{dst} unreachable - need to frag (mtu {next_hop_mtu})")
        }
        4 => write!(f, "{dst} unreachable - need to frag"),
        _ => match unreach_text(code) {
            Some((prefix, suffix)) => write!(f, "{prefix}{dst} unreachable{suffix}"),
            None => write!(f, "#{code} {dst} unreachable"),
        },
    }
}

fn unreach_text(code: u8) -> Option<(&'static str, &'static str)> {
    Some(match code {
        0 => ("net ", ""),
        1 => ("host ", ""),
        5 => ("", " - source route failed"),
        6 => ("net ", " - unknown"),
        7 => ("host ", " - unknown"),
        8 => ("", " - source host isolated"),
        9 => ("net ", " - admin prohibited"),
        10 => ("host ", " - admin prohibited"),
        11 => ("net ", " - tos prohibited"),
        12 => ("host ", " - tos prohibited"),
        13 => ("host ", " - admin prohibited filter"),
        14 => ("host ", " - host precedence violation"),
        15 => ("host ", " - precedence cutoff"),
        _ => return None,
    })
}

fn write_udp(f: &mut dyn Write, udp: &UdpDatagram, link_level: bool, base: SeqBase) -> fmt::Result {
    match &udp.payload {
        UdpPayload::Dns(dns) => write_dns(f, dns),
        UdpPayload::Vxlan(vxlan) => write_vxlan(f, vxlan, link_level, base),
        UdpPayload::Raw(bytes) => write!(f, "UDP, length {}", bytes.len()),
    }
}

/// print-vxlan.c: the header, a newline, then the inner frame as tcpdump prints any frame.
fn write_vxlan(
    f: &mut dyn Write,
    vxlan: &VxlanPacket,
    link_level: bool,
    base: SeqBase,
) -> fmt::Result {
    let flags = vxlan.flags();
    let i = if flags & 0x08 != 0 { "I" } else { "." };
    writeln!(f, "VXLAN, flags [{i}] (0x{flags:02x}), vni {}", vxlan.vni)?;
    write_frame(f, &vxlan.inner, link_level, base)
}

fn write_dns(f: &mut dyn Write, dns: &DnsMessage) -> fmt::Result {
    let qd = dns.questions.len();
    if dns.response {
        const RCODES: [&str; 6] = ["", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused"];
        let rcode = RCODES[usize::from(dns.rcode.number())];
        let aa = if dns.authoritative { "*" } else { "" };
        let ra = if dns.recursion_available { "" } else { "-" };
        write!(f, "{}{rcode}{aa}{ra}", dns.id)?;
        if qd != 1 {
            write!(f, " [{qd}q]")?;
        }
        // Without -vv the questions are skipped, but a comma still separates them.
        f.write_str(&",".repeat(qd.saturating_sub(1)))?;
        write!(f, " {}/0/0", dns.answers.len())?;
        for (i, rr) in dns.answers.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            match &rr.data {
                DnsRecordData::A(addr) => write!(f, "A {addr}")?,
                DnsRecordData::Cname(name) => write!(f, "CNAME {}", fqdn(name))?,
                DnsRecordData::Ptr(name) => write!(f, "PTR {}", fqdn(name))?,
            }
        }
    } else {
        write!(f, "{}{}", dns.id, if dns.recursion_desired { "+" } else { "" })?;
        // AA, TC, RA, Z or an rcode in a query is "weird" and shown in hex (0x6cf mask).
        let flags = dns_flags(dns);
        if flags & 0x6cf != 0 {
            write!(f, " [b2&3=0x{flags:x}]")?;
        }
        if !dns.answers.is_empty() {
            write!(f, " [{}a]", dns.answers.len())?;
        }
        if qd != 1 {
            write!(f, " [{qd}q]")?;
        }
        for q in &dns.questions {
            write!(f, " {}", type_name(q.qtype))?;
            if q.qclass != DnsClass::In {
                write!(f, " {}", class_name(q.qclass))?;
            }
            write!(f, "? {}", fqdn(&q.name))?;
        }
    }
    write!(f, " ({})", dns.buffer_len())
}

fn dns_flags(dns: &DnsMessage) -> u16 {
    let mut bytes = Vec::with_capacity(4);
    dns.emit(&mut bytes);
    u16::from_be_bytes([bytes[2], bytes[3]])
}

/// A name as tcpdump's `fqdn_print` shows it: with the trailing dot; the root is `.`.
fn fqdn(name: &str) -> String {
    format!("{name}.")
}

/// tcpdump's `ns_type2str` for the types a simulated resolver may see.
fn type_name(t: DnsType) -> String {
    let name = match t.number() {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        41 => "OPT",
        252 => "AXFR",
        255 => "ANY",
        n => return format!("Type{n}"),
    };
    name.to_string()
}

fn class_name(c: DnsClass) -> String {
    match c.number() {
        3 => "CHAOS".into(),
        4 => "HS".into(),
        255 => "ANY".into(),
        n => format!("(Class {n})"),
    }
}

fn write_tcp(f: &mut dyn Write, tcp: &TcpSegment, base: SeqBase) -> fmt::Result {
    write!(f, "Flags [{}]", flag_chars(tcp.flags))?;
    let len = tcp.payload.len() as u32;
    let seq = tcp.seq.wrapping_sub(base.seq);
    let ends_or_starts = tcp.flags.0 & (TcpFlags::SYN.0 | TcpFlags::FIN.0 | TcpFlags::RST.0) != 0;
    if len > 0 || ends_or_starts {
        write!(f, ", seq {seq}")?;
        if len > 0 {
            write!(f, ":{}", seq.wrapping_add(len))?;
        }
    }
    if tcp.flags.contains(TcpFlags::ACK) {
        write!(f, ", ack {}", tcp.ack.wrapping_sub(base.ack))?;
    }
    write!(f, ", win {}", tcp.window)?;
    if tcp.flags.contains(TcpFlags::URG) {
        f.write_str(", urg 0")?;
    }
    if let Some(mss) = tcp.mss {
        write!(f, ", options [mss {mss}]")?;
    }
    write!(f, ", length {len}")?;
    if len > 0 && [80, 8080].iter().any(|p| *p == tcp.src_port || *p == tcp.dst_port) {
        f.write_str(": ")?;
        write_http(f, &tcp.payload)?;
    }
    Ok(())
}

/// tcpdump's `tcp_flag_values` in bit order, `.` standing for ACK.
fn flag_chars(flags: TcpFlags) -> String {
    const CHARS: [(u8, char); 8] = [
        (0x01, 'F'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x10, '.'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ];
    let s: String = CHARS.iter().filter(|(bit, _)| flags.0 & bit != 0).map(|(_, c)| *c).collect();
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

/// The request methods print-http.c recognises (a subset: the WebDAV ones are left out).
const HTTP_METHODS: [&str; 9] =
    ["GET", "PUT", "HEAD", "POST", "TRACE", "DELETE", "CONNECT", "OPTIONS", "PATCH"];

/// txtproto_print: `HTTP`, then `: ` and the first line if the segment starts a request
/// (a known method) or a response (a 3-digit second token).
fn write_http(f: &mut dyn Write, data: &[u8]) -> fmt::Result {
    f.write_str("HTTP")?;
    let mut tokens =
        data.split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).filter(|t| !t.is_empty());
    let first = tokens.next().unwrap_or_default();
    let second = tokens.next().unwrap_or_default();
    let is_request = HTTP_METHODS.iter().any(|m| m.as_bytes().eq_ignore_ascii_case(first));
    let is_response = second.len() == 3 && second.iter().all(u8::is_ascii_digit);
    if !(is_request || is_response) {
        return Ok(());
    }
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let line = data[..end].strip_suffix(b"\r").unwrap_or(&data[..end]);
    // A line with a stray CR or a non-printable byte is binary to tcpdump: not printed.
    if line.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        write!(f, ": {}", String::from_utf8_lossy(line))?;
    }
    Ok(())
}

/// One TCP connection's initial sequence numbers, per direction, as tcpdump records them.
#[derive(Debug, Clone, Copy)]
struct Isns {
    /// The ISN of the endpoint that sorts first in the flow key.
    low: u32,
    high: u32,
}

/// Prints a capture the way `tcpdump -n` (optionally `-e`) prints it: timestamps in
/// `HH:MM:SS.uuuuuu` and TCP sequence numbers relative to each connection's first segment
/// with ACK set, exactly as print-tcp.c's `tcp_seq_hash` does.
///
/// ```
/// # use swarmsim::engine::{SimDuration, SimTime};
/// # use swarmsim::wire::TcpdumpPrinter;
/// // A capture whose simulated time zero is 19:04:42 (time of day, as tcpdump prints it).
/// let printer = TcpdumpPrinter::new(19 * 3600 + 4 * 60 + 42);
/// let at = SimTime::ZERO + SimDuration::from_nanos(806_601_999);
/// assert_eq!(printer.timestamp(at), "19:04:42.806601");
/// ```
#[derive(Debug, Clone)]
pub struct TcpdumpPrinter {
    /// Seconds since midnight at simulated time zero.
    epoch_secs_of_day: u64,
    link_level: bool,
    flows: BTreeMap<(SocketAddrV4, SocketAddrV4), Isns>,
}

impl TcpdumpPrinter {
    /// A printer whose simulated time zero is `epoch_secs_of_day` seconds after midnight
    /// (wall-clock time of day; it wraps past 24 hours as tcpdump's clock would).
    pub fn new(epoch_secs_of_day: u64) -> TcpdumpPrinter {
        TcpdumpPrinter { epoch_secs_of_day, link_level: false, flows: BTreeMap::new() }
    }

    /// Also print the link-level header, like `tcpdump -e`.
    pub fn with_link_level(mut self, link_level: bool) -> TcpdumpPrinter {
        self.link_level = link_level;
        self
    }

    /// The full line for `frame` captured at `at`, timestamp included, no newline.
    pub fn line(&mut self, at: SimTime, frame: &EthernetFrame) -> String {
        let mut line = self.timestamp(at);
        line.push(' ');
        let base = self.frame_seq_base(frame);
        write_frame(&mut line, frame, self.link_level, base).expect("String never fails");
        line
    }

    /// `HH:MM:SS.uuuuuu`, microseconds truncated as in a pcap record.
    pub fn timestamp(&self, at: SimTime) -> String {
        let micros = at.as_nanos() / 1_000;
        let secs = (self.epoch_secs_of_day + micros / 1_000_000) % 86_400;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        format!("{h:02}:{m:02}:{s:02}.{:06}", micros % 1_000_000)
    }

    /// The base for the frame's TCP segment, which may sit inside a VXLAN packet: tcpdump
    /// tracks inner connections just like outer ones.
    fn frame_seq_base(&mut self, frame: &EthernetFrame) -> SeqBase {
        let EtherPayload::Ipv4(ip) = frame.payload.untagged() else { return SeqBase::default() };
        match &ip.payload {
            IpPayload::Tcp(tcp) => self.seq_base(ip.src, ip.dst, tcp),
            IpPayload::Udp(UdpDatagram { payload: UdpPayload::Vxlan(v), .. }) => {
                self.frame_seq_base(&v.inner)
            }
            _ => SeqBase::default(),
        }
    }

    /// print-tcp.c: only segments with ACK take part; the first one seen for a connection,
    /// and any SYN-ACK, records the ISNs (this direction's seq, the other's ack − 1) and
    /// prints absolute numbers; later ones print relative to them.
    fn seq_base(&mut self, src: Ipv4Addr, dst: Ipv4Addr, tcp: &TcpSegment) -> SeqBase {
        if !tcp.flags.contains(TcpFlags::ACK) {
            return SeqBase::default();
        }
        let me = SocketAddrV4::new(src, tcp.src_port);
        let peer = SocketAddrV4::new(dst, tcp.dst_port);
        let i_am_low = me <= peer;
        let key = if i_am_low { (me, peer) } else { (peer, me) };
        let (mine, theirs) = (tcp.seq, tcp.ack.wrapping_sub(1));
        match self.flows.get(&key) {
            Some(isns) if !tcp.flags.contains(TcpFlags::SYN) => {
                let (my_isn, their_isn) =
                    if i_am_low { (isns.low, isns.high) } else { (isns.high, isns.low) };
                SeqBase { seq: my_isn, ack: their_isn }
            }
            _ => {
                let isns = if i_am_low {
                    Isns { low: mine, high: theirs }
                } else {
                    Isns { low: theirs, high: mine }
                };
                self.flows.insert(key, isns);
                SeqBase::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Expected lines are what tcpdump 4.99.3 printed for the same frames (see
    //! tests/pcap_tshark.rs, which re-checks them against the installed tcpdump).

    use super::*;
    use crate::engine::SimDuration;
    use crate::wire::{DnsRecord, MacAddr, Rcode};

    const A: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 2);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);
    const MAC_A: MacAddr = MacAddr([2, 0x42, 0xac, 0x11, 0, 2]);
    const MAC_B: MacAddr = MacAddr([2, 0x42, 0x5e, 0x1a, 0x3c, 1]);

    fn ip_frame(src: Ipv4Addr, dst: Ipv4Addr, payload: IpPayload) -> EthernetFrame {
        let ip = Ipv4Packet { src, dst, ttl: 64, ident: 1, dont_fragment: true, payload };
        EthernetFrame { dst: MAC_B, src: MAC_A, payload: EtherPayload::Ipv4(ip) }
    }

    fn seg(from_client: bool, seq: u32, ack: u32, flags: TcpFlags, data: &[u8]) -> EthernetFrame {
        let (src, dst, sp, dp) = if from_client { (A, B, 45678, 80) } else { (B, A, 80, 45678) };
        let syn = flags.contains(TcpFlags::SYN);
        let tcp = TcpSegment {
            src_port: sp,
            dst_port: dp,
            seq,
            ack,
            flags,
            window: if syn { 64240 } else { 502 },
            mss: syn.then_some(1460),
            payload: data.to_vec(),
        };
        ip_frame(src, dst, IpPayload::Tcp(tcp))
    }

    #[test]
    fn arp_lines() {
        let request = ArpRepr {
            op: ArpOp::Request,
            sender_mac: MAC_B,
            sender_ip: Ipv4Addr::new(172, 17, 0, 1),
            target_mac: MacAddr::ZERO,
            target_ip: A,
        };
        let frame = EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: MAC_B,
            payload: EtherPayload::Arp(request.clone()),
        };
        assert_eq!(frame.to_string(), "ARP, Request who-has 172.17.0.2 tell 172.17.0.1, length 28");
        assert_eq!(
            frame.tcpdump_line(true),
            "02:42:5e:1a:3c:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: \
             Request who-has 172.17.0.2 tell 172.17.0.1, length 28"
        );
        let reply = ArpRepr {
            op: ArpOp::Reply,
            sender_mac: MAC_A,
            sender_ip: A,
            target_mac: MAC_B,
            target_ip: request.sender_ip,
        };
        assert_eq!(reply.to_string(), "ARP, Reply 172.17.0.2 is-at 02:42:ac:11:00:02, length 28");
    }

    #[test]
    fn icmp_lines() {
        let echo = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; 56] };
        let frame = ip_frame(B, A, IpPayload::Icmp(echo));
        assert_eq!(
            frame.to_string(),
            "IP 10.0.2.100 > 172.17.0.2: ICMP echo request, id 1, seq 1, length 64"
        );
        assert_eq!(
            frame.tcpdump_line(true),
            "02:42:ac:11:00:02 > 02:42:5e:1a:3c:01, ethertype IPv4 (0x0800), length 98: \
             10.0.2.100 > 172.17.0.2: ICMP echo request, id 1, seq 1, length 64"
        );
        let EtherPayload::Ipv4(probe) = udp_frame(9999, UdpPayload::Raw(b"ping?".to_vec())).payload
        else {
            panic!("udp_frame builds IPv4")
        };
        let err = IcmpRepr::DestUnreachable {
            code: 3,
            next_hop_mtu: 0,
            original: Box::new(probe.clone()),
        };
        assert_eq!(
            ip_frame(B, A, IpPayload::Icmp(err)).to_string(),
            "IP 10.0.2.100 > 172.17.0.2: ICMP 10.0.2.3 udp port 9999 unreachable, length 41"
        );
        let filtered =
            IcmpRepr::DestUnreachable { code: 13, next_hop_mtu: 0, original: Box::new(probe) };
        assert_eq!(
            ip_frame(B, A, IpPayload::Icmp(filtered)).to_string(),
            "IP 10.0.2.100 > 172.17.0.2: ICMP host 10.0.2.3 unreachable - admin prohibited filter, length 41"
        );
    }

    fn udp_frame(dst_port: u16, payload: UdpPayload) -> EthernetFrame {
        let udp = UdpDatagram { src_port: 43211, dst_port, payload };
        ip_frame(A, Ipv4Addr::new(10, 0, 2, 3), IpPayload::Udp(udp))
    }

    fn query(name: &str, qtype: DnsType) -> DnsMessage {
        DnsMessage::query(1234, name, qtype)
    }

    #[test]
    fn dns_lines() {
        let q = query("www.dockercon.com", DnsType::A);
        assert_eq!(
            udp_frame(53, UdpPayload::Dns(q.clone())).to_string(),
            "IP 172.17.0.2.43211 > 10.0.2.3.53: 1234+ A? www.dockercon.com. (35)"
        );
        let a = DnsRecordData::A(Ipv4Addr::new(104, 239, 220, 248));
        let r = DnsMessage {
            response: true,
            recursion_available: true,
            answers: vec![DnsRecord { name: q.questions[0].name.clone(), ttl: 600, data: a }],
            ..q.clone()
        };
        assert_eq!(
            udp_frame(53, UdpPayload::Dns(r)).to_string(),
            "IP 172.17.0.2.43211 > 10.0.2.3.53: 1234 1/0/0 A 104.239.220.248 (51)"
        );
        let nx = DnsMessage { response: true, authoritative: true, rcode: Rcode::NxDomain, ..q };
        assert_eq!(
            udp_frame(53, UdpPayload::Dns(nx)).to_string(),
            "IP 172.17.0.2.43211 > 10.0.2.3.53: 1234 NXDomain*- 0/0/0 (35)"
        );
        let mut weird = query("", DnsType::Other(255));
        (weird.recursion_desired, weird.recursion_available) = (false, true);
        assert_eq!(
            udp_frame(53, UdpPayload::Dns(weird)).to_string(),
            "IP 172.17.0.2.43211 > 10.0.2.3.53: 1234 [b2&3=0x80] ANY? . (17)"
        );
        assert_eq!(
            udp_frame(9999, UdpPayload::Raw(vec![0; 5])).to_string(),
            "IP 172.17.0.2.43211 > 10.0.2.3.9999: UDP, length 5"
        );
    }

    /// A frame from a real capture on the underlay of two hosts (tcpdump 4.99.3, kernel
    /// 6.18): a container's UDP datagram, encapsulated by the host's vxlan0.
    fn vxlan_frame(inner: EthernetFrame) -> EthernetFrame {
        let udp = UdpDatagram {
            src_port: 51365,
            dst_port: 4789,
            payload: UdpPayload::Vxlan(VxlanPacket::new(4097, inner)),
        };
        let ip = Ipv4Packet {
            src: Ipv4Addr::new(172, 16, 24, 4),
            dst: Ipv4Addr::new(172, 16, 24, 5),
            ttl: 64,
            ident: 35495,
            dont_fragment: false,
            payload: IpPayload::Udp(udp),
        };
        let (src, dst) = (
            MacAddr([0xce, 8, 0x0c, 0x63, 0x15, 0xd0]),
            MacAddr([0xaa, 0xa4, 0xc1, 0x5a, 0x11, 0x9f]),
        );
        EthernetFrame { dst, src, payload: EtherPayload::Ipv4(ip) }
    }

    #[test]
    fn vxlan_prints_the_inner_frame_on_its_own_line() {
        let inner_udp =
            UdpDatagram { src_port: 1000, dst_port: 9999, payload: UdpPayload::Raw(b"x".to_vec()) };
        let inner = Ipv4Packet {
            src: Ipv4Addr::new(10, 0, 1, 3),
            dst: Ipv4Addr::new(10, 0, 1, 4),
            ttl: 64,
            ident: 12119,
            dont_fragment: true,
            payload: IpPayload::Udp(inner_udp),
        };
        let inner = EthernetFrame {
            dst: MacAddr([2, 0x42, 10, 0, 1, 4]),
            src: MacAddr([2, 0x42, 10, 0, 1, 3]),
            payload: EtherPayload::Ipv4(inner),
        };
        let frame = vxlan_frame(inner);
        assert_eq!(
            frame.to_string(),
            "IP 172.16.24.4.51365 > 172.16.24.5.4789: VXLAN, flags [I] (0x08), vni 4097\n\
             IP 10.0.1.3.1000 > 10.0.1.4.9999: UDP, length 1"
        );
        assert_eq!(
            frame.tcpdump_line(true),
            "ce:08:0c:63:15:d0 > aa:a4:c1:5a:11:9f, ethertype IPv4 (0x0800), length 93: \
             172.16.24.4.51365 > 172.16.24.5.4789: VXLAN, flags [I] (0x08), vni 4097\n\
             02:42:0a:00:01:03 > 02:42:0a:00:01:04, ethertype IPv4 (0x0800), length 43: \
             10.0.1.3.1000 > 10.0.1.4.9999: UDP, length 1"
        );
    }

    #[test]
    fn printer_tracks_tcp_inside_vxlan() {
        let mut printer = TcpdumpPrinter::new(0);
        let lines: Vec<String> = [
            seg(false, 500, 101, TcpFlags::SYN | TcpFlags::ACK, b""),
            seg(true, 101, 501, TcpFlags::PSH | TcpFlags::ACK, b"hi"),
        ]
        .into_iter()
        .map(|f| printer.line(SimTime::ZERO, &vxlan_frame(f)))
        .collect();
        assert!(lines[0]
            .ends_with("Flags [S.], seq 500, ack 101, win 64240, options [mss 1460], length 0"));
        assert!(
            lines[1].ends_with("Flags [P.], seq 1:3, ack 1, win 502, length 2: HTTP"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn printer_makes_tcp_numbers_relative_after_the_syn_ack() {
        let (c, s) = (1000, 3_000_000_000u32);
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let n = get.len() as u32;
        let frames = [
            seg(true, c, 0, TcpFlags::SYN, b""),
            seg(false, s, c + 1, TcpFlags::SYN | TcpFlags::ACK, b""),
            seg(true, c + 1, s + 1, TcpFlags::ACK, b""),
            seg(true, c + 1, s + 1, TcpFlags::PSH | TcpFlags::ACK, get),
            seg(false, s + 1, c + 1 + n, TcpFlags::ACK, b"more body"),
        ];
        let mut printer = TcpdumpPrinter::new(86_399);
        let step = SimDuration::from_micros(250_000);
        let lines: Vec<String> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                printer.line(SimTime::ZERO + SimDuration::from_nanos(step.as_nanos() * i as u64), f)
            })
            .collect();
        assert_eq!(
            lines,
            [
                "23:59:59.000000 IP 172.17.0.2.45678 > 10.0.2.100.80: Flags [S], seq 1000, win 64240, options [mss 1460], length 0",
                "23:59:59.250000 IP 10.0.2.100.80 > 172.17.0.2.45678: Flags [S.], seq 3000000000, ack 1001, win 64240, options [mss 1460], length 0",
                "23:59:59.500000 IP 172.17.0.2.45678 > 10.0.2.100.80: Flags [.], ack 1, win 502, length 0",
                "23:59:59.750000 IP 172.17.0.2.45678 > 10.0.2.100.80: Flags [P.], seq 1:28, ack 1, win 502, length 27: HTTP: GET / HTTP/1.1",
                "00:00:00.000000 IP 10.0.2.100.80 > 172.17.0.2.45678: Flags [.], seq 1:10, ack 28, win 502, length 9: HTTP",
            ]
        );
        // A one-off Display knows no connection: absolute numbers, as for a first sighting.
        assert_eq!(
            frames[2].to_string(),
            "IP 172.17.0.2.45678 > 10.0.2.100.80: Flags [.], ack 3000000001, win 502, length 0"
        );
    }

    /// A packet as captured between two real namespaces (tcpdump 4.99.3, kernel 6.18).
    fn captured(ident: u16, ttl: u8, df: bool, payload: IpPayload) -> Ipv4Packet {
        let (src, dst) = (Ipv4Addr::new(10, 9, 1, 2), Ipv4Addr::new(10, 9, 2, 2));
        Ipv4Packet { src, dst, ttl, ident, dont_fragment: df, payload }
    }

    fn echo(ident: u16, data_len: usize) -> IpPayload {
        let data = (0..data_len).map(|i| (i % 256) as u8).collect();
        IpPayload::Icmp(IcmpRepr::EchoRequest { ident, seq: 1, data })
    }

    #[test]
    fn fragments_print_as_tcpdump_prints_them() {
        let fragments = captured(61003, 64, false, echo(5505, 1500)).fragment(1500);
        let lines: Vec<String> = fragments.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            lines,
            [
                "IP 10.9.1.2 > 10.9.2.2: ICMP echo request, id 5505, seq 1, length 1480",
                "IP 10.9.1.2 > 10.9.2.2: ip-proto-1",
            ]
        );
        let verbose: Vec<String> = fragments.iter().map(|p| p.tcpdump_verbose()).collect();
        assert_eq!(
            verbose,
            [
                "IP (tos 0x0, ttl 64, id 61003, offset 0, flags [+], proto ICMP (1), length 1500)\n    \
                 10.9.1.2 > 10.9.2.2: ICMP echo request, id 5505, seq 1, length 1480",
                "IP (tos 0x0, ttl 64, id 61003, offset 1480, flags [none], proto ICMP (1), length 48)\n    \
                 10.9.1.2 > 10.9.2.2: ip-proto-1",
            ]
        );
        let udp = UdpDatagram {
            src_port: 49511,
            dst_port: 9999,
            payload: UdpPayload::Raw(vec![b'x'; 2000]),
        };
        let udp = captured(12611, 63, false, IpPayload::Udp(udp)).fragment(1450);
        assert_eq!(
            [udp[0].tcpdump_verbose(), udp[1].tcpdump_verbose()],
            [
                "IP (tos 0x0, ttl 63, id 12611, offset 0, flags [+], proto UDP (17), length 1444)\n    \
                 10.9.1.2.49511 > 10.9.2.2.9999: UDP, length 2000",
                "IP (tos 0x0, ttl 63, id 12611, offset 1424, flags [none], proto UDP (17), length 604)\n    \
                 10.9.1.2 > 10.9.2.2: ip-proto-17",
            ]
        );
    }

    #[test]
    fn need_to_frag_shows_the_mtu_and_its_quote_under_v() {
        let request = captured(0, 64, true, echo(5674, 1460));
        assert_eq!(
            request.tcpdump_verbose(),
            "IP (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto ICMP (1), length 1488)\n    \
             10.9.1.2 > 10.9.2.2: ICMP echo request, id 5674, seq 1, length 1468"
        );
        let err =
            IcmpRepr::DestUnreachable { code: 4, next_hop_mtu: 1450, original: Box::new(request) };
        let (router, host) = (Ipv4Addr::new(10, 9, 1, 1), Ipv4Addr::new(10, 9, 1, 2));
        let err = Ipv4Packet {
            src: router,
            dst: host,
            ..captured(35973, 64, false, IpPayload::Icmp(err))
        };
        assert_eq!(
            err.to_string(),
            "IP 10.9.1.1 > 10.9.1.2: ICMP 10.9.2.2 unreachable - need to frag (mtu 1450), length 556"
        );
        assert_eq!(
            err.tcpdump_verbose(),
            "IP (tos 0xc0, ttl 64, id 35973, offset 0, flags [none], proto ICMP (1), length 576)\n    \
             10.9.1.1 > 10.9.1.2: ICMP 10.9.2.2 unreachable - need to frag (mtu 1450), length 556\n\
             \tIP (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto ICMP (1), length 1488)\n    \
             10.9.1.2 > 10.9.2.2: ICMP echo request, id 5674, seq 1, length 1468"
        );
    }

    #[test]
    fn flag_letters_follow_bit_order() {
        assert_eq!(flag_chars(TcpFlags(0)), "none");
        assert_eq!(flag_chars(TcpFlags::FIN | TcpFlags::ACK), "F.");
        assert_eq!(flag_chars(TcpFlags::RST | TcpFlags::ACK), "R.");
        assert_eq!(flag_chars(TcpFlags(0xff)), "FSRP.UEW");
    }
}
