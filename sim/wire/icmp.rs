//! ICMP for IPv4 (RFC 792): echo and the errors the simulator's kernel sends.
//!
//! Contract: `emit` writes a correct ICMP checksum. A destination-unreachable error quotes
//! the offending packet the way Linux's `icmp_send` does: as much of it as fits in a
//! 576-byte reply (RFC 1812 §4.3.2.3), i.e. up to 548 bytes, so `parse(emit(x)) == x`
//! holds whenever the quoted packet is at most 548 bytes long. Of the four bytes after the
//! checksum the first two are zero and the last two the next-hop MTU (RFC 1191; Linux
//! fills it for code 4 and leaves it zero otherwise).

use super::{be16, checksum, Depth, Ipv4Packet, WireError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcmpRepr {
    /// Type 8. `data` is the echo payload (ping's default is 56 bytes).
    EchoRequest { ident: u16, seq: u16, data: Vec<u8> },
    /// Type 0.
    EchoReply { ident: u16, seq: u16, data: Vec<u8> },
    /// Type 3 with its code (1 host, 3 port, 4 fragmentation needed, 13 prohibited), quoting
    /// the offending packet (its IP header and as much payload as Linux quotes, see above).
    /// `next_hop_mtu` is the MTU a code 4 error reports (zero for the other codes).
    DestUnreachable { code: u8, next_hop_mtu: u16, original: Box<Ipv4Packet> },
}

const TYPE_ECHO_REPLY: u8 = 0;
const TYPE_DEST_UNREACHABLE: u8 = 3;
const TYPE_ECHO_REQUEST: u8 = 8;

impl IcmpRepr {
    /// Type, code, checksum and the 4-byte rest-of-header.
    pub const HEADER_LEN: usize = 8;
    /// The most of the offending packet an error quotes: 576 − 20 (IP) − 8 (ICMP).
    pub const MAX_QUOTE_LEN: usize = 548;

    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN
            + match self {
                IcmpRepr::EchoRequest { data, .. } | IcmpRepr::EchoReply { data, .. } => data.len(),
                IcmpRepr::DestUnreachable { original, .. } => {
                    original.buffer_len().min(Self::MAX_QUOTE_LEN)
                }
            }
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            IcmpRepr::EchoRequest { ident, seq, data } => {
                emit_echo(out, TYPE_ECHO_REQUEST, *ident, *seq, data)
            }
            IcmpRepr::EchoReply { ident, seq, data } => {
                emit_echo(out, TYPE_ECHO_REPLY, *ident, *seq, data)
            }
            IcmpRepr::DestUnreachable { code, next_hop_mtu, original } => {
                out.extend_from_slice(&[TYPE_DEST_UNREACHABLE, *code, 0, 0, 0, 0]);
                out.extend_from_slice(&next_hop_mtu.to_be_bytes());
                original.emit(out);
                out.truncate(start + Self::HEADER_LEN + Self::MAX_QUOTE_LEN);
            }
        }
        let sum = checksum::of(&out[start..]);
        checksum::put(out, start + 2, sum);
    }

    pub fn parse(bytes: &[u8]) -> Result<IcmpRepr, WireError> {
        Self::parse_at(bytes, Depth::Wire)
    }

    /// Inside an ICMP error the quoted ICMP message may be cut short, so its checksum is
    /// not checked there.
    pub(super) fn parse_at(bytes: &[u8], depth: Depth) -> Result<IcmpRepr, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("ICMP header"));
        }
        if depth == Depth::Wire && checksum::of(bytes) != 0 {
            return Err(WireError::Malformed("ICMP checksum"));
        }
        let (ident, seq, data) = (be16(bytes, 4), be16(bytes, 6), bytes[8..].to_vec());
        match bytes[0] {
            TYPE_ECHO_REQUEST => Ok(IcmpRepr::EchoRequest { ident, seq, data }),
            TYPE_ECHO_REPLY => Ok(IcmpRepr::EchoReply { ident, seq, data }),
            TYPE_DEST_UNREACHABLE if depth == Depth::Wire => Ok(IcmpRepr::DestUnreachable {
                code: bytes[1],
                next_hop_mtu: seq,
                original: Box::new(Ipv4Packet::parse_at(&bytes[8..], Depth::Quoted)?),
            }),
            _ => Err(WireError::Malformed("ICMP type")),
        }
    }
}

fn emit_echo(out: &mut Vec<u8>, kind: u8, ident: u16, seq: u16, data: &[u8]) {
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::{IpPayload, UdpDatagram, UdpPayload};

    #[test]
    fn echo_request_bytes() {
        let echo = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0xab; 4] };
        let mut out = Vec::new();
        echo.emit(&mut out);
        // Sum 0800+0001+0001+abab+abab = 0x15f58, folded 0x5f59, complemented 0xa0a6.
        assert_eq!(out, [8, 0, 0xa0, 0xa6, 0, 1, 0, 1, 0xab, 0xab, 0xab, 0xab]);
        assert_eq!(IcmpRepr::parse(&out), Ok(echo));
        out[8] = 0;
        assert_eq!(IcmpRepr::parse(&out), Err(WireError::Malformed("ICMP checksum")));
    }

    fn udp_to(port: u16, payload_len: usize) -> Ipv4Packet {
        Ipv4Packet {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            ttl: 64,
            ident: 7,
            dont_fragment: false,
            payload: IpPayload::Udp(UdpDatagram {
                src_port: 40000,
                dst_port: port,
                payload: UdpPayload::Raw(vec![0x5a; payload_len]),
            }),
        }
    }

    #[test]
    fn port_unreachable_quotes_the_whole_small_packet() {
        let err = IcmpRepr::DestUnreachable {
            code: 3,
            next_hop_mtu: 0,
            original: Box::new(udp_to(9999, 4)),
        };
        assert_eq!(err.buffer_len(), 8 + 32);
        let mut out = Vec::new();
        err.emit(&mut out);
        assert_eq!(out.len(), 40);
        assert_eq!(IcmpRepr::parse(&out), Ok(err));
    }

    #[test]
    fn a_large_packet_is_quoted_up_to_548_bytes() {
        let err = IcmpRepr::DestUnreachable {
            code: 4,
            next_hop_mtu: 1450,
            original: Box::new(udp_to(4789, 1400)),
        };
        assert_eq!(err.buffer_len(), 556);
        let mut out = Vec::new();
        err.emit(&mut out);
        assert_eq!(out.len(), 556);
        let IcmpRepr::DestUnreachable { original, .. } = IcmpRepr::parse(&out).unwrap() else {
            panic!("not an error")
        };
        // The quote keeps the headers; the payload is what fitted.
        assert_eq!(original.payload, udp_to(4789, 548 - 28).payload);
    }
}
