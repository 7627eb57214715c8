//! IEEE 802.1Q VLAN tags.
//!
//! Contract: a tagged frame is an Ethernet frame whose EtherType is 0x8100 and whose
//! payload starts with the 4-byte tag: the TCI (3 bits of priority, the drop-eligible bit,
//! 12 bits of VLAN ID) and the EtherType of what follows. [`Dot1q`] is that tag with the
//! payload it carries, so a tag nests like any other layer (`emit`, `parse`,
//! `buffer_len`). Tags exist only on the wire: the kernel adds one when a VLAN device
//! sends and strips it before the VLAN device receives.

use super::{be16, EtherPayload, EthernetFrame, WireError};

/// An 802.1Q tag and the payload it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dot1q {
    /// Priority code point (0–7); Linux sends 0 unless an egress QoS map says otherwise.
    pub pcp: u8,
    /// Drop eligible indicator (the former CFI bit).
    pub dei: bool,
    /// The VLAN ID (1–4094 for a VLAN; 0 is a priority-only tag).
    pub vid: u16,
    pub payload: Box<EtherPayload>,
}

impl Dot1q {
    /// The TCI and the inner EtherType.
    pub const HEADER_LEN: usize = 4;

    /// A tag for VLAN `vid` with priority 0, as a Linux VLAN device writes it.
    pub fn new(vid: u16, payload: EtherPayload) -> Dot1q {
        assert!(vid < 4096, "a VLAN ID has 12 bits");
        Dot1q { pcp: 0, dei: false, vid, payload: Box::new(payload) }
    }

    /// The tag control information: PCP, DEI and VID in 16 bits.
    pub fn tci(&self) -> u16 {
        (u16::from(self.pcp & 7) << 13) | (u16::from(self.dei) << 12) | (self.vid & 0x0fff)
    }

    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.payload.buffer_len()
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tci().to_be_bytes());
        out.extend_from_slice(&self.payload.ethertype().to_be_bytes());
        self.payload.emit(out);
    }

    /// Parses the tag and what follows it (the bytes after the outer EtherType).
    pub fn parse(bytes: &[u8]) -> Result<Dot1q, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("802.1Q tag"));
        }
        let tci = be16(bytes, 0);
        let payload = EtherPayload::parse(be16(bytes, 2), &bytes[Self::HEADER_LEN..])?;
        Ok(Dot1q {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
            payload: Box::new(payload),
        })
    }
}

impl EthernetFrame {
    /// The frame with an 802.1Q tag for VLAN `vid` inserted after the source MAC.
    pub fn tagged(self, vid: u16) -> EthernetFrame {
        let payload = EtherPayload::Vlan(Dot1q::new(vid, self.payload));
        EthernetFrame { payload, ..self }
    }

    /// The VLAN of a tagged frame and the frame without its (outer) tag; an untagged frame
    /// comes back unchanged as the error.
    pub fn untagged(self) -> Result<(u16, EthernetFrame), EthernetFrame> {
        match self.payload {
            EtherPayload::Vlan(tag) => {
                Ok((tag.vid, EthernetFrame { payload: *tag.payload, ..self }))
            }
            _ => Err(self),
        }
    }

    /// The VLAN ID of the outer tag, if the frame has one.
    pub fn vlan(&self) -> Option<u16> {
        match &self.payload {
            EtherPayload::Vlan(tag) => Some(tag.vid),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::{IcmpRepr, IpPayload, Ipv4Packet, MacAddr};

    fn echo() -> EthernetFrame {
        let icmp = IcmpRepr::EchoRequest { ident: 7, seq: 1, data: vec![0; 56] };
        let ip = Ipv4Packet {
            src: Ipv4Addr::new(192, 168, 10, 2),
            dst: Ipv4Addr::new(192, 168, 10, 3),
            ttl: 64,
            ident: 1,
            dont_fragment: true,
            payload: IpPayload::Icmp(icmp),
        };
        EthernetFrame {
            dst: MacAddr([2, 0x42, 0xc0, 0xa8, 10, 3]),
            src: MacAddr([2, 0x42, 0xc0, 0xa8, 10, 2]),
            payload: EtherPayload::Ipv4(ip),
        }
    }

    #[test]
    fn a_tag_sits_between_the_source_mac_and_the_inner_ethertype() {
        let plain = echo();
        let tagged = plain.clone().tagged(10);
        let bytes = tagged.to_bytes();
        assert_eq!(bytes.len(), plain.buffer_len() + 4);
        assert_eq!(tagged.buffer_len(), bytes.len());
        assert_eq!(&bytes[12..18], &[0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        assert_eq!(EthernetFrame::parse(&bytes), Ok(tagged.clone()));
        assert_eq!(tagged.vlan(), Some(10));
        assert_eq!(tagged.untagged(), Ok((10, plain.clone())));
        assert_eq!(plain.clone().untagged(), Err(plain));
    }

    #[test]
    fn the_tci_packs_priority_dei_and_vid() {
        let mut tag = Dot1q::new(20, echo().payload);
        (tag.pcp, tag.dei) = (5, true);
        assert_eq!(tag.tci(), 0xb014);
        let mut bytes = Vec::new();
        tag.emit(&mut bytes);
        assert_eq!(Dot1q::parse(&bytes), Ok(tag));
        assert_eq!(Dot1q::parse(&bytes[..3]), Err(WireError::Truncated("802.1Q tag")));
    }

    /// tcpdump 4.99.3 printed these for the same bytes (`tcpdump -r F -n [-e]`).
    #[test]
    fn tcpdump_shows_the_tag_only_with_e() {
        let tagged = echo().tagged(10);
        assert_eq!(
            tagged.tcpdump_line(true),
            "02:42:c0:a8:0a:02 > 02:42:c0:a8:0a:03, ethertype 802.1Q (0x8100), length 102: \
             vlan 10, p 0, ethertype IPv4 (0x0800), 192.168.10.2 > 192.168.10.3: \
             ICMP echo request, id 7, seq 1, length 64"
        );
        assert_eq!(
            tagged.tcpdump_line(false),
            "IP 192.168.10.2 > 192.168.10.3: ICMP echo request, id 7, seq 1, length 64"
        );
        let arp = crate::wire::ArpRepr {
            op: crate::wire::ArpOp::Request,
            sender_mac: echo().src,
            sender_ip: Ipv4Addr::new(192, 168, 10, 2),
            target_mac: MacAddr::ZERO,
            target_ip: Ipv4Addr::new(192, 168, 10, 3),
        };
        let mut tag = Dot1q::new(20, EtherPayload::Arp(arp));
        (tag.pcp, tag.dei) = (5, true);
        let frame = EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: echo().src,
            payload: EtherPayload::Vlan(tag),
        };
        assert_eq!(
            frame.tcpdump_line(true),
            "02:42:c0:a8:0a:02 > ff:ff:ff:ff:ff:ff, ethertype 802.1Q (0x8100), length 46: \
             vlan 20, p 5, DEI, ethertype ARP (0x0806), Request who-has 192.168.10.3 \
             tell 192.168.10.2, length 28"
        );
    }
}
