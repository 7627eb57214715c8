//! ARP for IPv4 over Ethernet (RFC 826).

use std::net::Ipv4Addr;

use super::MacAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
}

/// An ARP packet for IPv4 over Ethernet (hardware type 1, protocol 0x0800).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpRepr {
    pub op: ArpOp,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}
