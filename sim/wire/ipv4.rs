//! IPv4 packets (RFC 791), their fragments and reassembly; sizes come from `buffer_len()`
//! for MTU checks and counters.
//!
//! Contract: `emit` writes a 20-byte header (version 4, IHL 5, no options; TOS 0, or 0xc0
//! for an ICMP error, as Linux's `icmp_send` marks them: see [`Ipv4Packet::tos`]) with the
//! `dont_fragment` bit as given, a correct header checksum, and the transport payload with
//! its own checksum computed over the pseudo-header of this packet's addresses. A fragment
//! ([`IpPayload::Fragment`]) carries raw bytes of the original payload and writes its MF bit
//! and offset into the header. `parse` verifies the header checksum and, for a whole
//! packet, the transport checksum; it rejects options. [`Ipv4Packet::fragment`] slices a
//! packet exactly as Linux's `ip_do_fragment` does (every fragment but the last carries
//! `(mtu − 20) & !7` payload bytes, the first one the transport header);
//! [`Ipv4Packet::reassemble`] is `ip_frag_reasm`.

use std::net::Ipv4Addr;

use super::{be16, checksum, Depth, EspPacket, IcmpRepr, TcpSegment, UdpDatagram, WireError};

/// IP protocol numbers the simulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpProtocol {
    Icmp,
    Tcp,
    Udp,
    Esp,
}

impl IpProtocol {
    pub fn number(self) -> u8 {
        match self {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Esp => 50,
        }
    }
    /// The name iptables and tcpdump use: `icmp`, `tcp`, `udp`, `esp`.
    pub fn name(self) -> &'static str {
        match self {
            IpProtocol::Icmp => "icmp",
            IpProtocol::Tcp => "tcp",
            IpProtocol::Udp => "udp",
            IpProtocol::Esp => "esp",
        }
    }
    /// The protocol with this number, if the simulator speaks it.
    pub fn from_number(number: u8) -> Option<IpProtocol> {
        match number {
            1 => Some(IpProtocol::Icmp),
            6 => Some(IpProtocol::Tcp),
            17 => Some(IpProtocol::Udp),
            50 => Some(IpProtocol::Esp),
            _ => None,
        }
    }
}

/// An IPv4 packet with its transport payload. Version, IHL 5 (no options) and the TOS
/// ([`Ipv4Packet::tos`]) are fixed; the caller decides DF (Linux sets it on TCP and on ping's echo requests, not on
/// the kernel's own ICMP replies and errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// The identification field; Linux draws it per destination, the simulator per flow.
    pub ident: u16,
    pub dont_fragment: bool,
    pub payload: IpPayload,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpPayload {
    Icmp(IcmpRepr),
    Udp(UdpDatagram),
    Tcp(TcpSegment),
    Esp(EspPacket),
    /// A slice of another packet's payload (RFC 791 fragmentation).
    Fragment(FragmentRepr),
}

/// One fragment's share of the original payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentRepr {
    /// The protocol of the whole packet's payload.
    pub protocol: IpProtocol,
    /// Where `bytes` start in the original payload, in bytes (a multiple of 8; the header
    /// field holds `offset / 8`).
    pub offset: u16,
    /// MF: more fragments follow.
    pub more_fragments: bool,
    pub bytes: Vec<u8>,
}

impl IpPayload {
    pub fn protocol(&self) -> IpProtocol {
        match self {
            IpPayload::Fragment(frag) => frag.protocol,
            IpPayload::Icmp(_) => IpProtocol::Icmp,
            IpPayload::Udp(_) => IpProtocol::Udp,
            IpPayload::Tcp(_) => IpProtocol::Tcp,
            IpPayload::Esp(_) => IpProtocol::Esp,
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            IpPayload::Icmp(icmp) => icmp.buffer_len(),
            IpPayload::Udp(udp) => udp.buffer_len(),
            IpPayload::Tcp(tcp) => tcp.buffer_len(),
            IpPayload::Esp(esp) => esp.buffer_len(),
            IpPayload::Fragment(frag) => frag.bytes.len(),
        }
    }

    /// Appends the payload, its checksum over the pseudo-header of `src`, `dst`.
    pub fn emit(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut Vec<u8>) {
        match self {
            IpPayload::Icmp(icmp) => icmp.emit(out),
            IpPayload::Udp(udp) => udp.emit(src, dst, out),
            IpPayload::Tcp(tcp) => tcp.emit(src, dst, out),
            IpPayload::Esp(esp) => esp.emit(src, dst, out),
            IpPayload::Fragment(frag) => out.extend_from_slice(&frag.bytes),
        }
    }

    /// Parses the payload of protocol `number` received from `src` to `dst`, as on the wire
    /// (ESP decrypts into this).
    pub(super) fn parse_transport(
        number: u8,
        body: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<IpPayload, WireError> {
        Self::parse_at(number, body, src, dst, Depth::Wire)
    }

    fn parse_at(
        number: u8,
        body: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        depth: Depth,
    ) -> Result<IpPayload, WireError> {
        Ok(match IpProtocol::from_number(number) {
            Some(IpProtocol::Icmp) => IpPayload::Icmp(IcmpRepr::parse_at(body, depth)?),
            Some(IpProtocol::Udp) => IpPayload::Udp(UdpDatagram::parse_at(body, src, dst, depth)?),
            Some(IpProtocol::Tcp) => IpPayload::Tcp(TcpSegment::parse_at(body, src, dst, depth)?),
            Some(IpProtocol::Esp) => IpPayload::Esp(EspPacket::parse(body)?),
            None => return Err(WireError::Malformed("IP protocol")),
        })
    }
}

/// The DF bit in the flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
/// The MF bit.
const FLAG_MF: u16 = 0x2000;
/// The fragment offset, in 8-byte units.
const OFFSET_MASK: u16 = 0x1fff;

impl Ipv4Packet {
    /// The header without options.
    pub const HEADER_LEN: usize = 20;

    /// Header plus payload: the total length field, and what MTU checks compare.
    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.payload.buffer_len()
    }

    /// Appends header and payload to `out`.
    ///
    /// # Panics
    /// If the packet is longer than the 65535 bytes the total length field can hold.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let total = u16::try_from(self.buffer_len()).expect("IPv4 packet longer than 65535");
        let start = out.len();
        let mut flags = if self.dont_fragment { FLAG_DF } else { 0 };
        if let IpPayload::Fragment(frag) = &self.payload {
            assert!(frag.offset % 8 == 0, "fragment offset {} not on 8 bytes", frag.offset);
            flags |= frag.offset / 8;
            if frag.more_fragments {
                flags |= FLAG_MF;
            }
        }
        out.extend_from_slice(&[0x45, self.tos()]);
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&self.ident.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&[self.ttl, self.payload.protocol().number(), 0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        let header_sum = checksum::of(&out[start..]);
        checksum::put(out, start + 10, header_sum);
        self.payload.emit(self.src, self.dst, out);
    }

    /// Parses a packet as it arrives on the wire; trailing bytes beyond the total length
    /// (Ethernet padding) are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Ipv4Packet, WireError> {
        Self::parse_at(bytes, Depth::Wire)
    }

    /// Parses a packet quoted in an ICMP error: the quote may stop before the total length
    /// (Linux quotes at most 548 bytes) and transport checksums are not checked.
    pub(super) fn parse_at(bytes: &[u8], depth: Depth) -> Result<Ipv4Packet, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("IPv4 header"));
        }
        if bytes[0] >> 4 != 4 {
            return Err(WireError::Malformed("IP version"));
        }
        if bytes[0] & 0x0f != 5 {
            return Err(WireError::Malformed("IPv4 header length (options are not modelled)"));
        }
        let total = usize::from(be16(bytes, 2));
        if total < Self::HEADER_LEN {
            return Err(WireError::Malformed("IPv4 total length"));
        }
        let end = match depth {
            Depth::Wire if total > bytes.len() => return Err(WireError::Truncated("IPv4 packet")),
            Depth::Wire => total,
            Depth::Quoted => total.min(bytes.len()),
        };
        if checksum::of(&bytes[..Self::HEADER_LEN]) != 0 {
            return Err(WireError::Malformed("IPv4 header checksum"));
        }
        let flags = be16(bytes, 6);
        if flags & 0x8000 != 0 {
            return Err(WireError::Malformed("IPv4 flags (reserved bit)"));
        }
        let src = Ipv4Addr::from(<[u8; 4]>::try_from(&bytes[12..16]).expect("4 bytes"));
        let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&bytes[16..20]).expect("4 bytes"));
        let body = &bytes[Self::HEADER_LEN..end];
        let payload = if flags & (FLAG_MF | OFFSET_MASK) != 0 {
            let protocol =
                IpProtocol::from_number(bytes[9]).ok_or(WireError::Malformed("IP protocol"))?;
            IpPayload::Fragment(FragmentRepr {
                protocol,
                offset: (flags & OFFSET_MASK) * 8,
                more_fragments: flags & FLAG_MF != 0,
                bytes: body.to_vec(),
            })
        } else {
            IpPayload::parse_at(bytes[9], body, src, dst, depth)?
        };
        Ok(Ipv4Packet {
            src,
            dst,
            ttl: bytes[8],
            ident: be16(bytes, 4),
            dont_fragment: flags & FLAG_DF != 0,
            payload,
        })
    }
}

impl Ipv4Packet {
    /// The TOS byte: 0, except precedence "internetwork control" (0xc0) on an ICMP error,
    /// which is what `icmp_send` gives every error it sends.
    pub fn tos(&self) -> u8 {
        match self.payload {
            IpPayload::Icmp(IcmpRepr::DestUnreachable { .. }) => 0xc0,
            _ => 0,
        }
    }

    pub fn is_fragment(&self) -> bool {
        matches!(self.payload, IpPayload::Fragment(_))
    }

    /// The fragments `ip_do_fragment` sends for a device of `mtu` bytes: the payload (or,
    /// for a fragment, its slice) cut every `(mtu − 20) & !7` bytes; all keep this header's
    /// addresses, TTL, ident and DF, MF is set on all but the last (which keeps a
    /// fragment's own MF).
    ///
    /// # Panics
    /// If `mtu` leaves fewer than 8 payload bytes (Linux's minimum IPv4 MTU is 68).
    pub fn fragment(&self, mtu: usize) -> Vec<Ipv4Packet> {
        let chunk = mtu.saturating_sub(Self::HEADER_LEN) & !7;
        assert!(chunk >= 8, "MTU {mtu} too small to fragment into");
        let (protocol, base, last_more, bytes) = match &self.payload {
            IpPayload::Fragment(f) => (f.protocol, f.offset, f.more_fragments, f.bytes.clone()),
            whole => {
                let mut bytes = Vec::with_capacity(whole.buffer_len());
                whole.emit(self.src, self.dst, &mut bytes);
                (whole.protocol(), 0, false, bytes)
            }
        };
        let count = bytes.len().div_ceil(chunk);
        let fragment = |(i, piece): (usize, &[u8])| Ipv4Packet {
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
            ident: self.ident,
            dont_fragment: self.dont_fragment,
            payload: IpPayload::Fragment(FragmentRepr {
                protocol,
                offset: base + u16::try_from(i * chunk).expect("offsets fit the header"),
                more_fragments: i + 1 < count || last_more,
                bytes: piece.to_vec(),
            }),
        };
        bytes.chunks(chunk).enumerate().map(fragment).collect()
    }

    /// `ip_frag_reasm`: the whole packet from all of its fragments, in any order; `None`
    /// while a piece is missing. The header is the first fragment's (TTL, ident), without
    /// DF. Overlapping fragments poison the packet, as in Linux since 4.19 (RFC 5722's
    /// rule, applied to IPv4 too).
    pub fn reassemble(fragments: &[Ipv4Packet]) -> Option<Result<Ipv4Packet, WireError>> {
        let mut parts: Vec<(&Ipv4Packet, &FragmentRepr)> = fragments
            .iter()
            .filter_map(|p| match &p.payload {
                IpPayload::Fragment(f) => Some((p, f)),
                _ => None,
            })
            .collect();
        parts.sort_by_key(|(_, f)| f.offset);
        let mut bytes = Vec::new();
        for (_, f) in &parts {
            match usize::from(f.offset).cmp(&bytes.len()) {
                std::cmp::Ordering::Greater => return None,
                std::cmp::Ordering::Less => {
                    return Some(Err(WireError::Malformed("overlapping IPv4 fragments")))
                }
                std::cmp::Ordering::Equal => bytes.extend_from_slice(&f.bytes),
            }
        }
        let (first, head) = parts.first()?;
        if parts.last()?.1.more_fragments {
            return None;
        }
        let payload =
            IpPayload::parse_transport(head.protocol.number(), &bytes, first.src, first.dst);
        Some(payload.map(|payload| Ipv4Packet {
            src: first.src,
            dst: first.dst,
            ttl: first.ttl,
            ident: first.ident,
            dont_fragment: false,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping() -> Ipv4Packet {
        Ipv4Packet {
            src: Ipv4Addr::new(172, 17, 0, 1),
            dst: Ipv4Addr::new(172, 17, 0, 2),
            ttl: 64,
            ident: 0x1234,
            dont_fragment: true,
            payload: IpPayload::Icmp(IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; 56] }),
        }
    }

    #[test]
    fn header_bytes_and_checksum() {
        let mut out = Vec::new();
        ping().emit(&mut out);
        assert_eq!(out.len(), 84);
        // Checksum worked by hand: 4500+0054+1234+4000+4001+ac11+0001+ac11+0002 = 0x22fae,
        // folded 0x2fb0, complemented 0xd04f.
        assert_eq!(
            &out[..20],
            &[0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0xd0, 0x4f, 172, 17, 0, 1, 172, 17, 0, 2]
        );
        assert_eq!(Ipv4Packet::parse(&out), Ok(ping()));
    }

    #[test]
    fn rejects_bad_headers() {
        let mut good = Vec::new();
        ping().emit(&mut good);
        let cases: [(usize, u8, WireError); 4] = [
            (0, 0x65, WireError::Malformed("IP version")),
            (0, 0x46, WireError::Malformed("IPv4 header length (options are not modelled)")),
            (10, 0, WireError::Malformed("IPv4 header checksum")),
            (9, 99, WireError::Malformed("IPv4 header checksum")),
        ];
        for (at, value, err) in cases {
            let mut bytes = good.clone();
            bytes[at] = value;
            assert_eq!(Ipv4Packet::parse(&bytes), Err(err), "byte {at} = {value:#x}");
        }
        assert_eq!(Ipv4Packet::parse(&good[..83]), Err(WireError::Truncated("IPv4 packet")));
        assert_eq!(Ipv4Packet::parse(&good[..19]), Err(WireError::Truncated("IPv4 header")));
    }

    fn refix(bytes: &mut [u8]) {
        checksum::put(bytes, 10, 0);
        let c = checksum::of(&bytes[..20]);
        checksum::put(bytes, 10, c);
    }

    #[test]
    fn rejects_the_reserved_flag_and_unknown_protocols() {
        let mut good = Vec::new();
        ping().emit(&mut good);
        let mut evil = good.clone();
        evil[6] |= 0x80;
        refix(&mut evil);
        assert_eq!(
            Ipv4Packet::parse(&evil),
            Err(WireError::Malformed("IPv4 flags (reserved bit)"))
        );
        let mut gre = good.clone();
        gre[9] = 47;
        refix(&mut gre);
        assert_eq!(Ipv4Packet::parse(&gre), Err(WireError::Malformed("IP protocol")));
    }

    /// ping -s 1500 from a host with MTU 1500, as captured on the real wire: 1500 + 48.
    fn big_ping() -> Ipv4Packet {
        let data = (0..1500).map(|i| (i % 256) as u8).collect();
        Ipv4Packet {
            dont_fragment: false,
            payload: IpPayload::Icmp(IcmpRepr::EchoRequest { ident: 5505, seq: 1, data }),
            ..ping()
        }
    }

    fn geometry(fragments: &[Ipv4Packet]) -> Vec<(usize, u16, bool)> {
        fragments
            .iter()
            .map(|p| match &p.payload {
                IpPayload::Fragment(f) => (p.buffer_len(), f.offset, f.more_fragments),
                _ => panic!("not a fragment"),
            })
            .collect()
    }

    #[test]
    fn fragments_as_linux_cuts_them() {
        let whole = big_ping();
        assert_eq!(whole.buffer_len(), 1528);
        let at_1500 = whole.fragment(1500);
        assert_eq!(geometry(&at_1500), [(1500, 0, true), (48, 1480, false)]);
        // A router with MTU 1450 cuts the first again: 1424 bytes, then the other 56, which
        // keeps MF (tcpdump on the real far side: lengths 1444 and 76, offsets 0 and 1424).
        let again = at_1500[0].fragment(1450);
        assert_eq!(geometry(&again), [(1444, 0, true), (76, 1424, true)]);
        // The reply fb sent back through its 1450 link: 1444 + 104.
        assert_eq!(geometry(&whole.fragment(1450)), [(1444, 0, true), (104, 1424, false)]);
    }

    #[test]
    fn fragment_headers_on_the_wire() {
        let fragments = big_ping().fragment(1500);
        let mut first = Vec::new();
        fragments[0].emit(&mut first);
        // Flags word: MF (0x2000), offset 0; the ICMP header follows.
        assert_eq!(&first[..10], &[0x45, 0, 0x05, 0xdc, 0x12, 0x34, 0x20, 0x00, 64, 1]);
        assert_eq!(&first[20..22], &[8, 0]);
        let mut last = Vec::new();
        fragments[1].emit(&mut last);
        // Offset 1480 / 8 = 185 = 0xb9, no flags.
        assert_eq!(&last[..10], &[0x45, 0, 0, 48, 0x12, 0x34, 0x00, 0xb9, 64, 1]);
        for (bytes, fragment) in [(first, &fragments[0]), (last, &fragments[1])] {
            assert_eq!(Ipv4Packet::parse(&bytes).as_ref(), Ok(fragment));
        }
    }

    #[test]
    fn reassembles_in_any_order_and_refuses_overlaps() {
        let whole = big_ping();
        let mut pieces = whole.fragment(1500)[0].fragment(1450);
        pieces.push(whole.fragment(1500)[1].clone());
        pieces.reverse();
        assert_eq!(Ipv4Packet::reassemble(&pieces), Some(Ok(whole.clone())));
        assert_eq!(Ipv4Packet::reassemble(&pieces[..2]), None, "the first piece is missing");
        assert_eq!(Ipv4Packet::reassemble(&pieces[1..]), None, "the last piece is missing");
        let mut overlapping = pieces.clone();
        overlapping.push(whole.fragment(1500)[0].clone());
        assert_eq!(
            Ipv4Packet::reassemble(&overlapping),
            Some(Err(WireError::Malformed("overlapping IPv4 fragments")))
        );
    }

    #[test]
    fn icmp_errors_carry_tos_0xc0() {
        let err =
            IcmpRepr::DestUnreachable { code: 4, next_hop_mtu: 1450, original: Box::new(ping()) };
        let pkt = Ipv4Packet { payload: IpPayload::Icmp(err), ..ping() };
        let mut out = Vec::new();
        pkt.emit(&mut out);
        assert_eq!(out[1], 0xc0);
        assert_eq!(Ipv4Packet::parse(&out), Ok(pkt));
    }
}
