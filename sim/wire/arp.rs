//! ARP for IPv4 over Ethernet (RFC 826).
//!
//! Contract: only hardware type 1 (Ethernet) with protocol 0x0800 (IPv4) exists here; `parse`
//! rejects anything else and ignores trailing bytes (Ethernet padding).

use std::net::Ipv4Addr;

use super::{be16, EtherPayload, EthernetFrame, MacAddr, WireError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
}

impl ArpOp {
    /// The opcode field: 1 request, 2 reply.
    pub fn number(self) -> u16 {
        match self {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
        }
    }
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

/// Hardware type, protocol type, their lengths and the opcode: the fixed prefix.
const FIXED_PREFIX: [u8; 6] = [0x00, 0x01, 0x08, 0x00, 6, 4];

impl ArpRepr {
    /// Always 28 for IPv4 over Ethernet.
    pub const LEN: usize = 28;

    /// The frame answering this request: `target_ip` is at `mac`, sent back to the asker.
    pub fn reply_frame(&self, mac: MacAddr) -> EthernetFrame {
        let reply = ArpRepr {
            op: ArpOp::Reply,
            sender_mac: mac,
            sender_ip: self.target_ip,
            target_mac: self.sender_mac,
            target_ip: self.sender_ip,
        };
        EthernetFrame { dst: self.sender_mac, src: mac, payload: EtherPayload::Arp(reply) }
    }

    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&FIXED_PREFIX);
        out.extend_from_slice(&self.op.number().to_be_bytes());
        out.extend_from_slice(&self.sender_mac.0);
        out.extend_from_slice(&self.sender_ip.octets());
        out.extend_from_slice(&self.target_mac.0);
        out.extend_from_slice(&self.target_ip.octets());
    }

    pub fn parse(bytes: &[u8]) -> Result<ArpRepr, WireError> {
        if bytes.len() < Self::LEN {
            return Err(WireError::Truncated("ARP packet"));
        }
        if bytes[..6] != FIXED_PREFIX {
            return Err(WireError::Malformed("ARP hardware or protocol type"));
        }
        let op = match be16(bytes, 6) {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            _ => return Err(WireError::Malformed("ARP opcode")),
        };
        Ok(ArpRepr {
            op,
            sender_mac: MacAddr::from_slice(&bytes[8..14]),
            sender_ip: ipv4_at(bytes, 14),
            target_mac: MacAddr::from_slice(&bytes[18..24]),
            target_ip: ipv4_at(bytes, 24),
        })
    }
}

fn ipv4_at(bytes: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_bytes() {
        let reply = ArpRepr {
            op: ArpOp::Reply,
            sender_mac: MacAddr([2, 0x42, 0xac, 0x11, 0, 2]),
            sender_ip: Ipv4Addr::new(172, 17, 0, 2),
            target_mac: MacAddr([2, 0x42, 0xac, 0x11, 0, 1]),
            target_ip: Ipv4Addr::new(172, 17, 0, 1),
        };
        let mut out = Vec::new();
        reply.emit(&mut out);
        assert_eq!(
            out,
            [
                0, 1, 8, 0, 6, 4, 0, 2, 2, 0x42, 0xac, 0x11, 0, 2, 172, 17, 0, 2, 2, 0x42, 0xac,
                0x11, 0, 1, 172, 17, 0, 1
            ]
        );
        assert_eq!(ArpRepr::parse(&out), Ok(reply));
    }

    #[test]
    fn rejects_other_hardware_and_opcodes() {
        let mut bytes = [0u8; 28];
        assert_eq!(ArpRepr::parse(&bytes[..27]), Err(WireError::Truncated("ARP packet")));
        assert_eq!(
            ArpRepr::parse(&bytes),
            Err(WireError::Malformed("ARP hardware or protocol type"))
        );
        bytes[..6].copy_from_slice(&FIXED_PREFIX);
        bytes[7] = 3;
        assert_eq!(ArpRepr::parse(&bytes), Err(WireError::Malformed("ARP opcode")));
    }
}
