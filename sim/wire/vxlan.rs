//! VXLAN (RFC 7348): an Ethernet frame carried in UDP, tagged with a 24-bit network
//! identifier (VNI).
//!
//! Contract: the 8-byte header is flags (0x08, the I bit: "VNI valid"), 24 reserved bits,
//! the VNI and 8 reserved bits; `emit` writes reserved fields as zero and `parse` rejects a
//! header without the I bit (RFC 7348 §5: such packets are dropped). A UDP datagram to or
//! from [`VXLAN_PORT`] carries VXLAN, as tcpdump and Wireshark decode it. Together with the
//! outer headers a VXLAN frame costs [`VXLAN_OVERHEAD`] bytes more than its inner frame,
//! which is why Docker gives overlay devices an MTU of 1500 − 50 = 1450.
//!
//! [`flow_src_port`] picks the outer UDP source port from the inner flow the way Linux's
//! `udp_flow_src_port` does: a hash of the flow scaled into `ip_local_port_range`
//! (32768–60999). Linux hashes with the flow dissector's `jhash` under a per-boot random
//! key, so its port numbers cannot be reproduced; the simulator keeps the properties that
//! matter: the port is deterministic, the same in both directions of a flow (the flow
//! dissector orders the endpoints before hashing), covers ports for TCP and UDP but only
//! addresses for ICMP (so every ping between two containers shares one port, as a real
//! capture shows), and falls back to the Ethernet addresses for non-IP frames (ARP).

use super::{be32, EtherPayload, EthernetFrame, IpPayload, WireError};

/// IANA's VXLAN port, Docker's default data-path port (`defaultVXLANUDPPort`).
pub const VXLAN_PORT: u16 = 4789;

/// Outer Ethernet (14) + IPv4 (20) + UDP (8) + VXLAN (8): what encapsulation adds to a frame.
pub const VXLAN_OVERHEAD: usize = 50;

/// Linux's default `net.ipv4.ip_local_port_range`, which bounds the outer source port.
pub const LOCAL_PORT_RANGE: (u16, u16) = (32768, 60999);

/// The I flag: the VNI field is valid.
const FLAG_I: u8 = 0x08;

/// A VXLAN header and the frame it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanPacket {
    /// The 24-bit VXLAN network identifier.
    pub vni: u32,
    pub inner: Box<EthernetFrame>,
}

impl VxlanPacket {
    pub const HEADER_LEN: usize = 8;
    /// The largest VNI (2^24 − 1).
    pub const MAX_VNI: u32 = 0x00ff_ffff;

    /// # Panics
    /// If `vni` does not fit in 24 bits.
    pub fn new(vni: u32, inner: EthernetFrame) -> VxlanPacket {
        assert!(vni <= Self::MAX_VNI, "VNI {vni} does not fit in 24 bits");
        VxlanPacket { vni, inner: Box::new(inner) }
    }

    /// Header plus the inner frame.
    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.inner.buffer_len()
    }

    /// The flags byte as sent: only I.
    pub fn flags(&self) -> u8 {
        FLAG_I
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[FLAG_I, 0, 0, 0]);
        out.extend_from_slice(&(self.vni << 8).to_be_bytes());
        self.inner.emit(out);
    }

    pub fn parse(bytes: &[u8]) -> Result<VxlanPacket, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("VXLAN header"));
        }
        if bytes[0] & FLAG_I == 0 {
            return Err(WireError::Malformed("VXLAN flags (I bit clear)"));
        }
        let vni = be32(bytes, 4) >> 8;
        let inner = EthernetFrame::parse(&bytes[Self::HEADER_LEN..])?;
        Ok(VxlanPacket { vni, inner: Box::new(inner) })
    }
}

/// The outer UDP source port for `inner`, in [`LOCAL_PORT_RANGE`] (see the module doc),
/// on a host whose flow-hash secret is `seed` (the kernel's random `hashrnd`, which is why
/// a flow's two directions leave their two hosts from different ports).
///
/// The key is FNV-1a (32-bit), started from the seed, over the protocol number and the two endpoints in ascending
/// order — (address, port) for TCP and UDP, the address alone for ICMP — or over the two
/// MAC addresses and the EtherType for a non-IP frame. Like `udp_flow_src_port`, the hash
/// is folded (`h ^= h << 16`) and scaled into the range by a 32-bit multiply.
pub fn flow_src_port(inner: &EthernetFrame, seed: u32) -> u16 {
    let key = match &inner.payload {
        EtherPayload::Ipv4(ip) => {
            let (sport, dport) = match &ip.payload {
                IpPayload::Tcp(t) => (t.src_port, t.dst_port),
                IpPayload::Udp(u) => (u.src_port, u.dst_port),
                // The flow dissector does not look into fragments.
                IpPayload::Icmp(_) | IpPayload::Esp(_) | IpPayload::Fragment(_) => (0, 0),
            };
            let a = (ip.src.octets(), sport.to_be_bytes());
            let b = (ip.dst.octets(), dport.to_be_bytes());
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let mut key = vec![ip.payload.protocol().number()];
            for (addr, port) in [lo, hi] {
                key.extend_from_slice(&addr);
                key.extend_from_slice(&port);
            }
            key
        }
        EtherPayload::Arp(_) | EtherPayload::Vlan(_) => {
            let mut key = inner.dst.0.to_vec();
            key.extend_from_slice(&inner.src.0);
            key.extend_from_slice(&inner.payload.ethertype().to_be_bytes());
            key
        }
    };
    scale_to_range(fnv1a(0x811c_9dc5 ^ seed, &key))
}

fn fnv1a(basis: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(basis, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// `udp_flow_src_port`'s last steps: fold the high bits down, then scale.
fn scale_to_range(hash: u32) -> u16 {
    let hash = hash ^ (hash << 16);
    let (min, max) = LOCAL_PORT_RANGE;
    let span = u64::from(max - min);
    let port = ((u64::from(hash) * span) >> 32) + u64::from(min);
    u16::try_from(port).expect("scaled into the port range")
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::{ArpOp, ArpRepr, IcmpRepr, Ipv4Packet, MacAddr, UdpDatagram, UdpPayload};

    const C1: MacAddr = MacAddr([2, 0x42, 10, 0, 1, 3]);
    const C2: MacAddr = MacAddr([2, 0x42, 10, 0, 1, 4]);
    const IP1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 3);
    const IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 4);

    fn ip_frame(src: Ipv4Addr, dst: Ipv4Addr, payload: IpPayload) -> EthernetFrame {
        let ip = Ipv4Packet { src, dst, ttl: 64, ident: 7, dont_fragment: true, payload };
        EthernetFrame { dst: C2, src: C1, payload: EtherPayload::Ipv4(ip) }
    }

    fn echo(ident: u16) -> EthernetFrame {
        let icmp = IcmpRepr::EchoRequest { ident, seq: 1, data: vec![0; 56] };
        ip_frame(IP1, IP2, IpPayload::Icmp(icmp))
    }

    fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> EthernetFrame {
        let u = UdpDatagram { src_port: src.1, dst_port: dst.1, payload: UdpPayload::Raw(vec![1]) };
        ip_frame(src.0, dst.0, IpPayload::Udp(u))
    }

    #[test]
    fn header_bytes_and_sizes() {
        let v = VxlanPacket::new(4097, echo(1));
        let mut out = Vec::new();
        v.emit(&mut out);
        assert_eq!(&out[..8], &[0x08, 0, 0, 0, 0x00, 0x10, 0x01, 0]);
        // An echo request of 56 data bytes is a 98-byte frame; VXLAN adds 8 here and 50 in all.
        assert_eq!(out.len(), 8 + 98);
        assert_eq!(v.buffer_len(), out.len());
        assert_eq!(VxlanPacket::parse(&out), Ok(v));
    }

    #[test]
    fn rejects_a_header_without_the_i_flag() {
        let mut out = Vec::new();
        VxlanPacket::new(5, echo(1)).emit(&mut out);
        out[0] = 0;
        assert_eq!(
            VxlanPacket::parse(&out),
            Err(WireError::Malformed("VXLAN flags (I bit clear)"))
        );
        assert_eq!(VxlanPacket::parse(&out[..7]), Err(WireError::Truncated("VXLAN header")));
    }

    #[test]
    fn source_ports_follow_the_flow_and_stay_in_range() {
        // ICMP hashes addresses only: every ping between two hosts shares a port, both ways.
        let there = flow_src_port(&echo(1), 0);
        assert_eq!(flow_src_port(&echo(2), 0), there);
        let back = ip_frame(
            IP2,
            IP1,
            IpPayload::Icmp(IcmpRepr::EchoReply { ident: 1, seq: 1, data: vec![0; 56] }),
        );
        assert_eq!(flow_src_port(&back, 0), there);
        // UDP flows differ by port, and a reply shares its request's port.
        let ports: Vec<u16> =
            (1000..1003).map(|p| flow_src_port(&udp((IP1, p), (IP2, 9999)), 0)).collect();
        assert_eq!(ports, [50449, 35607, 50027]);
        assert_eq!(flow_src_port(&udp((IP2, 9999), (IP1, 1000)), 0), ports[0]);
        assert_eq!(there, 57193);
        // Another host hashes the same flow with its own secret.
        assert_ne!(flow_src_port(&back, 1), there);
        let arp = EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: C1,
            payload: EtherPayload::Arp(ArpRepr {
                op: ArpOp::Request,
                sender_mac: C1,
                sender_ip: IP1,
                target_mac: MacAddr::ZERO,
                target_ip: IP2,
            }),
        };
        let all = [there, ports[0], ports[1], ports[2], flow_src_port(&arp, 0)];
        assert!(all.iter().all(|p| (LOCAL_PORT_RANGE.0..=LOCAL_PORT_RANGE.1).contains(p)));
    }

    #[test]
    fn scaling_spans_the_whole_range() {
        assert_eq!(scale_to_range(0), 32768);
        // The fold leaves 0xffff0000 as it is: the top of the range, minus the rounding.
        assert_eq!(scale_to_range(0xffff_0000), 60998);
    }
}
