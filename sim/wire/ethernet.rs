//! Ethernet II frames (IEEE 802.3) and MAC addresses.
//!
//! Contract: `emit` writes the 14-byte header and the payload, without the FCS and without
//! padding to the 60-byte minimum (a capture on the sending veth shows frames unpadded);
//! `parse` accepts trailing padding and drops it. An 802.1Q-tagged frame carries its tag as
//! its payload ([`EtherPayload::Vlan`], see `vlan.rs`).

use std::fmt;

use super::{be16, ArpRepr, Dot1q, Ipv4Packet, WireError};

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
    /// The address in the first six bytes of `bytes`, which must be at least that long.
    pub(super) fn from_slice(bytes: &[u8]) -> MacAddr {
        MacAddr(bytes[..6].try_into().expect("caller checked the length"))
    }
}

impl fmt::Display for MacAddr {
    /// Lowercase, colon-separated, as `ip link` prints: `02:42:ac:11:00:02`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl std::str::FromStr for MacAddr {
    type Err = WireError;

    /// Six colon-separated hex bytes, as [`fmt::Display`] writes them.
    fn from_str(s: &str) -> Result<Self, WireError> {
        let bytes: Vec<u8> = s
            .split(':')
            .map(|b| u8::from_str_radix(b, 16))
            .collect::<Result<_, _>>()
            .map_err(|_| WireError::Malformed("MAC address"))?;
        bytes.try_into().map(MacAddr).map_err(|_| WireError::Malformed("MAC address"))
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
    /// EtherType 0x8100: an 802.1Q tag and the payload behind it.
    Vlan(Dot1q),
}

impl EtherPayload {
    pub const ETHERTYPE_IPV4: u16 = 0x0800;
    pub const ETHERTYPE_ARP: u16 = 0x0806;
    pub const ETHERTYPE_VLAN: u16 = 0x8100;

    /// The EtherType field value for this payload.
    pub fn ethertype(&self) -> u16 {
        match self {
            EtherPayload::Arp(_) => Self::ETHERTYPE_ARP,
            EtherPayload::Ipv4(_) => Self::ETHERTYPE_IPV4,
            EtherPayload::Vlan(_) => Self::ETHERTYPE_VLAN,
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            EtherPayload::Arp(arp) => arp.buffer_len(),
            EtherPayload::Ipv4(ip) => ip.buffer_len(),
            EtherPayload::Vlan(tag) => tag.buffer_len(),
        }
    }

    /// The payload under any 802.1Q tags: what Linux's packet sockets and filters see,
    /// since the tag travels beside the packet (`skb->vlan_tci`), not in it.
    pub fn untagged(&self) -> &EtherPayload {
        match self {
            EtherPayload::Vlan(tag) => tag.payload.untagged(),
            other => other,
        }
    }

    /// Appends the payload's bytes (after the EtherType) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            EtherPayload::Arp(arp) => arp.emit(out),
            EtherPayload::Ipv4(ip) => ip.emit(out),
            EtherPayload::Vlan(tag) => tag.emit(out),
        }
    }

    /// Parses what follows EtherType `ethertype`; other EtherTypes are `Malformed`.
    pub fn parse(ethertype: u16, body: &[u8]) -> Result<EtherPayload, WireError> {
        Ok(match ethertype {
            Self::ETHERTYPE_ARP => EtherPayload::Arp(ArpRepr::parse(body)?),
            Self::ETHERTYPE_IPV4 => EtherPayload::Ipv4(Ipv4Packet::parse(body)?),
            Self::ETHERTYPE_VLAN => EtherPayload::Vlan(Dot1q::parse(body)?),
            _ => return Err(WireError::Malformed("EtherType")),
        })
    }
}

impl EthernetFrame {
    /// Destination, source and EtherType.
    pub const HEADER_LEN: usize = 14;

    /// The frame's length on the wire, without FCS: what tcpdump `-e` prints as `length`.
    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.payload.buffer_len()
    }

    /// Appends the frame's bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.reserve(self.buffer_len());
        out.extend_from_slice(&self.dst.0);
        out.extend_from_slice(&self.src.0);
        out.extend_from_slice(&self.payload.ethertype().to_be_bytes());
        self.payload.emit(out);
    }

    /// The frame's bytes in a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit(&mut out);
        out
    }

    /// Parses a frame carrying ARP or IPv4, tagged or not; other EtherTypes are `Malformed`.
    pub fn parse(bytes: &[u8]) -> Result<EthernetFrame, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("Ethernet header"));
        }
        let payload = EtherPayload::parse(be16(bytes, 12), &bytes[Self::HEADER_LEN..])?;
        Ok(EthernetFrame {
            dst: MacAddr::from_slice(&bytes[0..6]),
            src: MacAddr::from_slice(&bytes[6..12]),
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::ArpOp;

    fn arp_request() -> EthernetFrame {
        EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: MacAddr([0x02, 0x42, 0xac, 0x11, 0x00, 0x01]),
            payload: EtherPayload::Arp(ArpRepr {
                op: ArpOp::Request,
                sender_mac: MacAddr([0x02, 0x42, 0xac, 0x11, 0x00, 0x01]),
                sender_ip: Ipv4Addr::new(172, 17, 0, 1),
                target_mac: MacAddr::ZERO,
                target_ip: Ipv4Addr::new(172, 17, 0, 2),
            }),
        }
    }

    #[test]
    fn arp_frame_bytes() {
        let bytes = arp_request().to_bytes();
        assert_eq!(bytes.len(), 42);
        assert_eq!(
            &bytes[..14],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0x42, 0xac, 0x11, 0, 1, 8, 6]
        );
        assert_eq!(EthernetFrame::parse(&bytes), Ok(arp_request()));
    }

    #[test]
    fn padding_is_dropped() {
        let mut bytes = arp_request().to_bytes();
        bytes.resize(60, 0);
        assert_eq!(EthernetFrame::parse(&bytes), Ok(arp_request()));
    }

    #[test]
    fn rejects_short_and_unknown_ethertype() {
        assert_eq!(EthernetFrame::parse(&[0; 13]), Err(WireError::Truncated("Ethernet header")));
        let mut bytes = arp_request().to_bytes();
        bytes[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(EthernetFrame::parse(&bytes), Err(WireError::Malformed("EtherType")));
    }
}
