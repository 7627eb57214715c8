//! Ethernet II frames (IEEE 802.3) and MAC addresses.

use std::fmt;

use super::{ArpRepr, Ipv4Packet};

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }
    /// Multicast (the I/G bit), which includes broadcast.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    /// Lowercase, colon-separated, as `ip link` prints: `02:42:ac:11:00:02`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// An Ethernet II frame with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub payload: EtherPayload,
}

/// What an Ethernet frame carries, by EtherType.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtherPayload {
    /// EtherType 0x0806.
    Arp(ArpRepr),
    /// EtherType 0x0800.
    Ipv4(Ipv4Packet),
}
