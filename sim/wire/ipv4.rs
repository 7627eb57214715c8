//! IPv4 packets (RFC 791). The simulator never fragments inside a host; sizes come from
//! `buffer_len()` for MTU checks and counters.

use std::net::Ipv4Addr;

use super::{IcmpRepr, TcpSegment, UdpDatagram};

/// IP protocol numbers the simulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpProtocol {
    Icmp,
    Tcp,
    Udp,
}

impl IpProtocol {
    pub fn number(self) -> u8 {
        match self {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
        }
    }
    /// The name iptables and tcpdump use: `icmp`, `tcp`, `udp`.
    pub fn name(self) -> &'static str {
        match self {
            IpProtocol::Icmp => "icmp",
            IpProtocol::Tcp => "tcp",
            IpProtocol::Udp => "udp",
        }
    }
}

/// An IPv4 packet with its transport payload. Header fields that Linux sets to fixed values
/// (version, IHL 5 without options, DF on TCP/ICMP echo) are derived in `emit`.
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
}

impl IpPayload {
    pub fn protocol(&self) -> IpProtocol {
        match self {
            IpPayload::Icmp(_) => IpProtocol::Icmp,
            IpPayload::Udp(_) => IpProtocol::Udp,
            IpPayload::Tcp(_) => IpProtocol::Tcp,
        }
    }
}
