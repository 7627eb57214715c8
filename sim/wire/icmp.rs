//! ICMP for IPv4 (RFC 792): echo and the errors the simulator's kernel sends.

use super::Ipv4Packet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcmpRepr {
    /// Type 8. `data` is the echo payload (ping's default is 56 bytes).
    EchoRequest { ident: u16, seq: u16, data: Vec<u8> },
    /// Type 0.
    EchoReply { ident: u16, seq: u16, data: Vec<u8> },
    /// Type 3 with its code (1 host, 3 port, 4 fragmentation needed, 13 prohibited), quoting
    /// the offending packet's IP header and first 8 payload bytes.
    DestUnreachable { code: u8, original: Box<Ipv4Packet> },
}
