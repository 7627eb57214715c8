//! IPv4 packets (RFC 791). The simulator never fragments inside a host; sizes come from
//! `buffer_len()` for MTU checks and counters.
//!
//! Contract: `emit` writes a 20-byte header (version 4, IHL 5, TOS 0, no options) with the
//! `dont_fragment` bit as given, a correct header checksum, and the transport payload with
//! its own checksum computed over the pseudo-header of this packet's addresses. `parse`
//! verifies the header checksum and the transport checksum and rejects options and
//! fragments, which the simulator never produces.

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

/// An IPv4 packet with its transport payload. Version, IHL 5 (no options) and TOS 0 are
/// fixed; the caller decides DF (Linux sets it on TCP and on ping's echo requests, not on
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
}

impl IpPayload {
    pub fn protocol(&self) -> IpProtocol {
        match self {
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
        }
    }

    /// Appends the payload, its checksum over the pseudo-header of `src`, `dst`.
    pub fn emit(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut Vec<u8>) {
        match self {
            IpPayload::Icmp(icmp) => icmp.emit(out),
            IpPayload::Udp(udp) => udp.emit(src, dst, out),
            IpPayload::Tcp(tcp) => tcp.emit(src, dst, out),
            IpPayload::Esp(esp) => esp.emit(src, dst, out),
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
        let flags = if self.dont_fragment { FLAG_DF } else { 0 };
        out.extend_from_slice(&[0x45, 0x00]);
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
        if flags & !FLAG_DF != 0 {
            return Err(WireError::Malformed("IPv4 fragment"));
        }
        let src = Ipv4Addr::from(<[u8; 4]>::try_from(&bytes[12..16]).expect("4 bytes"));
        let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&bytes[16..20]).expect("4 bytes"));
        let body = &bytes[Self::HEADER_LEN..end];
        let payload = IpPayload::parse_at(bytes[9], body, src, dst, depth)?;
        Ok(Ipv4Packet {
            src,
            dst,
            ttl: bytes[8],
            ident: be16(bytes, 4),
            dont_fragment: flags != 0,
            payload,
        })
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

    #[test]
    fn rejects_fragments_and_unknown_protocols() {
        let mut good = Vec::new();
        ping().emit(&mut good);
        let refix = |bytes: &mut Vec<u8>| {
            checksum::put(bytes, 10, 0);
            let c = checksum::of(&bytes[..20]);
            checksum::put(bytes, 10, c);
        };
        let mut more_fragments = good.clone();
        more_fragments[6] = 0x20;
        refix(&mut more_fragments);
        assert_eq!(Ipv4Packet::parse(&more_fragments), Err(WireError::Malformed("IPv4 fragment")));
        let mut gre = good.clone();
        gre[9] = 47;
        refix(&mut gre);
        assert_eq!(Ipv4Packet::parse(&gre), Err(WireError::Malformed("IP protocol")));
    }
}
