//! The bridge between a packet and netfilter's view of it (`PacketMeta`): built before a
//! hook, written back after, so NAT decisions change the real packet.

use crate::wire::{IcmpRepr, IpPayload, Ipv4Packet};

use super::netfilter::PacketMeta;

impl PacketMeta {
    /// Netfilter's view of `pkt` on its way from `in_iface` to `out_iface`.
    pub fn of(pkt: &Ipv4Packet, in_iface: Option<String>, out_iface: Option<String>) -> Self {
        let (sport, dport, icmp_type, tcp_flags) = match &pkt.payload {
            IpPayload::Tcp(t) => (t.src_port, t.dst_port, None, Some(t.flags)),
            IpPayload::Udp(u) => (u.src_port, u.dst_port, None, None),
            // Netfilter sees no ports in ESP (xt_esp matches the SPI, which is not modelled).
            IpPayload::Esp(_) => (0, 0, None, None),
            // Only where conntrack is off do fragments reach the hooks (nf_defrag_ipv4
            // reassembles first otherwise); ports are not modelled for them.
            IpPayload::Fragment(_) => (0, 0, None, None),
            IpPayload::Icmp(i) => {
                let (ty, id) = icmp_type_and_id(i);
                (id, id, Some(ty), None)
            }
        };
        PacketMeta {
            src: pkt.src,
            dst: pkt.dst,
            proto: pkt.payload.protocol(),
            sport,
            dport,
            icmp_type,
            tcp_flags,
            len: pkt.buffer_len() as u32,
            in_iface,
            out_iface,
            mark: 0,
            conntrack_id: None,
            ipvs_property: false,
        }
    }

    /// Copies addresses and ports (NAT's work) back into the packet.
    pub fn write_back(&self, pkt: &mut Ipv4Packet) {
        pkt.src = self.src;
        pkt.dst = self.dst;
        match &mut pkt.payload {
            IpPayload::Tcp(t) => (t.src_port, t.dst_port) = (self.sport, self.dport),
            IpPayload::Udp(u) => (u.src_port, u.dst_port) = (self.sport, self.dport),
            IpPayload::Icmp(
                IcmpRepr::EchoRequest { ident, .. } | IcmpRepr::EchoReply { ident, .. },
            ) => *ident = self.sport,
            IpPayload::Icmp(IcmpRepr::DestUnreachable { .. })
            | IpPayload::Esp(_)
            | IpPayload::Fragment(_) => {}
        }
    }
}

/// The ICMP type number, and the echo identifier conntrack keys echo flows by.
fn icmp_type_and_id(icmp: &IcmpRepr) -> (u8, u16) {
    match icmp {
        IcmpRepr::EchoRequest { ident, .. } => (8, *ident),
        IcmpRepr::EchoReply { ident, .. } => (0, *ident),
        IcmpRepr::DestUnreachable { .. } => (3, 0),
    }
}
