//! Property tests: for every repr, `parse(emit(x)) == x` and `emit` writes exactly
//! `buffer_len()` bytes.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn arp() -> impl Strategy<Value = ArpRepr> {
    (prop_oneof![Just(ArpOp::Request), Just(ArpOp::Reply)], mac(), addr(), mac(), addr()).prop_map(
        |(op, sender_mac, sender_ip, target_mac, target_ip)| ArpRepr {
            op,
            sender_mac,
            sender_ip,
            target_mac,
            target_ip,
        },
    )
}

/// Names from a small alphabet and few labels, so that suffixes repeat and compression is
/// exercised.
fn name() -> impl Strategy<Value = String> {
    vec(prop_oneof!["a", "b-1", "docker", "[a-z0-9]{1,12}"], 0..4).prop_map(|l| l.join("."))
}

fn dns_type() -> impl Strategy<Value = DnsType> {
    prop_oneof![
        Just(DnsType::A),
        Just(DnsType::Aaaa),
        Just(DnsType::Ptr),
        Just(DnsType::Cname),
        any::<u16>().prop_map(DnsType::from_number),
    ]
}

fn record() -> impl Strategy<Value = DnsRecord> {
    let data = prop_oneof![
        addr().prop_map(DnsRecordData::A),
        name().prop_map(DnsRecordData::Ptr),
        name().prop_map(DnsRecordData::Cname),
    ];
    (name(), any::<u32>(), data).prop_map(|(name, ttl, data)| DnsRecord { name, ttl, data })
}

fn dns() -> impl Strategy<Value = DnsMessage> {
    let question = (name(), dns_type(), any::<u16>()).prop_map(|(name, qtype, class)| {
        DnsQuestion { name, qtype, qclass: DnsClass::from_number(class) }
    });
    let rcode = (0u8..6).prop_map(|n| Rcode::from_number(n).expect("0..6 are rcodes"));
    (any::<u16>(), any::<[bool; 4]>(), rcode, vec(question, 0..3), vec(record(), 0..4)).prop_map(
        |(id, [response, rd, ra, aa], rcode, questions, answers)| DnsMessage {
            id,
            response,
            recursion_desired: rd,
            recursion_available: ra,
            authoritative: aa,
            rcode,
            questions,
            answers,
            edns: None,
            compress: true,
        },
    )
}

/// Port 53 on either side carries DNS, any other pair raw bytes (VXLAN's 4789 aside: its
/// datagrams have their own strategy, [`vxlan_udp`]).
fn udp() -> impl Strategy<Value = UdpDatagram> {
    let port = (54u16..).prop_filter("not VXLAN", |p| *p != VXLAN_PORT);
    let raw = (port.clone(), port, vec(any::<u8>(), 0..64)).prop_map(|(src_port, dst_port, b)| {
        UdpDatagram { src_port, dst_port, payload: UdpPayload::Raw(b) }
    });
    let dns = (any::<u16>(), any::<bool>(), dns()).prop_map(|(port, to_server, m)| {
        let (src_port, dst_port) = if to_server { (port, 53) } else { (53, port) };
        UdpDatagram { src_port, dst_port, payload: UdpPayload::Dns(m) }
    });
    prop_oneof![raw, dns]
}

fn tcp() -> impl Strategy<Value = TcpSegment> {
    let ports = (any::<u16>(), any::<u16>());
    let numbers = (any::<u32>(), any::<u32>(), any::<u8>(), any::<u16>());
    (ports, numbers, any::<Option<u16>>(), vec(any::<u8>(), 0..64)).prop_map(
        |((src_port, dst_port), (seq, ack, flags, window), mss, payload)| TcpSegment {
            src_port,
            dst_port,
            seq,
            ack,
            flags: TcpFlags(flags),
            window,
            mss,
            payload,
        },
    )
}

fn echo() -> impl Strategy<Value = IcmpRepr> {
    (any::<bool>(), any::<u16>(), any::<u16>(), vec(any::<u8>(), 0..64)).prop_map(
        |(request, ident, seq, data)| match request {
            true => IcmpRepr::EchoRequest { ident, seq, data },
            false => IcmpRepr::EchoReply { ident, seq, data },
        },
    )
}

fn packet_with(payload: impl Strategy<Value = IpPayload>) -> impl Strategy<Value = Ipv4Packet> {
    (addr(), addr(), any::<u8>(), any::<u16>(), any::<bool>(), payload).prop_map(
        |(src, dst, ttl, ident, dont_fragment, payload)| Ipv4Packet {
            src,
            dst,
            ttl,
            ident,
            dont_fragment,
            payload,
        },
    )
}

/// Packets an ICMP error may quote: never another error (Linux does not send errors about
/// errors), and short enough to be quoted whole.
fn quotable() -> impl Strategy<Value = Ipv4Packet> {
    let payload = prop_oneof![
        echo().prop_map(IpPayload::Icmp),
        udp().prop_map(IpPayload::Udp),
        tcp().prop_map(IpPayload::Tcp),
    ];
    packet_with(payload)
        .prop_filter("fits in the quote", |p| p.buffer_len() <= IcmpRepr::MAX_QUOTE_LEN)
}

fn icmp() -> impl Strategy<Value = IcmpRepr> {
    let error = (any::<u8>(), any::<u16>(), quotable()).prop_map(|(code, next_hop_mtu, p)| {
        IcmpRepr::DestUnreachable { code, next_hop_mtu, original: Box::new(p) }
    });
    prop_oneof![echo(), error]
}

fn packet() -> impl Strategy<Value = Ipv4Packet> {
    let payload = prop_oneof![
        icmp().prop_map(IpPayload::Icmp),
        udp().prop_map(IpPayload::Udp),
        tcp().prop_map(IpPayload::Tcp),
    ];
    packet_with(payload)
}

fn frame() -> impl Strategy<Value = EthernetFrame> {
    let payload =
        prop_oneof![arp().prop_map(EtherPayload::Arp), packet().prop_map(EtherPayload::Ipv4)];
    (mac(), mac(), payload).prop_map(|(dst, src, payload)| EthernetFrame { dst, src, payload })
}

/// A VXLAN datagram to port 4789 carrying any frame the other strategies make.
fn vxlan_udp() -> impl Strategy<Value = UdpDatagram> {
    (any::<u16>(), 0..=VxlanPacket::MAX_VNI, frame()).prop_map(|(src_port, vni, inner)| {
        let payload = UdpPayload::Vxlan(VxlanPacket::new(vni, inner));
        UdpDatagram { src_port, dst_port: VXLAN_PORT, payload }
    })
}

proptest! {
    #[test]
    fn vxlan_round_trips(u in vxlan_udp(), src in addr(), dst in addr()) {
        let mut bytes = Vec::new();
        u.emit(src, dst, &mut bytes);
        prop_assert_eq!(bytes.len(), u.buffer_len());
        prop_assert_eq!(UdpDatagram::parse(&bytes, src, dst), Ok(u));
    }

    #[test]
    fn dns_round_trips(m in dns()) {
        let mut bytes = Vec::new();
        m.emit(&mut bytes);
        prop_assert_eq!(bytes.len(), m.buffer_len());
        prop_assert_eq!(DnsMessage::parse(&bytes), Ok(m));
    }

    #[test]
    fn udp_round_trips(u in udp(), src in addr(), dst in addr()) {
        let mut bytes = Vec::new();
        u.emit(src, dst, &mut bytes);
        prop_assert_eq!(bytes.len(), u.buffer_len());
        prop_assert_eq!(UdpDatagram::parse(&bytes, src, dst), Ok(u));
    }

    #[test]
    fn tcp_round_trips(t in tcp(), src in addr(), dst in addr()) {
        let mut bytes = Vec::new();
        t.emit(src, dst, &mut bytes);
        prop_assert_eq!(bytes.len(), t.buffer_len());
        prop_assert_eq!(TcpSegment::parse(&bytes, src, dst), Ok(t));
    }

    #[test]
    fn icmp_round_trips(i in icmp()) {
        let mut bytes = Vec::new();
        i.emit(&mut bytes);
        prop_assert_eq!(bytes.len(), i.buffer_len());
        prop_assert_eq!(IcmpRepr::parse(&bytes), Ok(i));
    }

    #[test]
    fn arp_round_trips(a in arp()) {
        let mut bytes = Vec::new();
        a.emit(&mut bytes);
        prop_assert_eq!(bytes.len(), a.buffer_len());
        prop_assert_eq!(ArpRepr::parse(&bytes), Ok(a));
    }

    #[test]
    fn frames_round_trip_and_print(f in frame()) {
        let bytes = f.to_bytes();
        prop_assert_eq!(bytes.len(), f.buffer_len());
        prop_assert_eq!(EthernetFrame::parse(&bytes), Ok(f.clone()));
        // `-e` replaces the protocol name with the link-level header.
        let plain = f.tcpdump_line(false);
        let body = plain.strip_prefix("IP ").or(plain.strip_prefix("ARP, ")).expect("a prefix");
        let tail = format!("length {}: {}", f.buffer_len(), body);
        prop_assert!(f.tcpdump_line(true).ends_with(&tail));
    }

    #[test]
    fn a_flipped_byte_never_parses_as_the_same_frame(f in frame(), at in any::<usize>()) {
        let mut bytes = f.to_bytes();
        let at = at % bytes.len();
        bytes[at] ^= 0x01;
        prop_assert_ne!(EthernetFrame::parse(&bytes), Ok(f));
    }
}
