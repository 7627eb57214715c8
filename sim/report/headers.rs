//! A frame's headers, layer by layer, as the HTML report lists them for a selected packet:
//! Ethernet, then ARP or IPv4, then ICMP, UDP or TCP, then what UDP carries (DNS; VXLAN
//! followed by the inner frame's layers, named `inner …`), ESP, or an IP fragment.
//!
//! Contract: pure functions of the frame; field values are printed as the tools print
//! them (MACs `02:42:ac:11:00:02`, TCP flags as tcpdump's `[S.]` letters, hex for the
//! EtherType and the VXLAN flags), so the report reads like a packet dissector.

use crate::wire::{
    ArpOp, ArpRepr, DnsMessage, EtherPayload, EthernetFrame, IcmpRepr, IpPayload, Ipv4Packet,
    TcpFlags, TcpSegment, UdpDatagram, UdpPayload,
};

/// One header: its name and its fields, in wire order.
pub type Layer = (String, Vec<(&'static str, String)>);

/// Every layer of `frame`, outermost first.
pub fn layers(frame: &EthernetFrame) -> Vec<Layer> {
    let mut out = Vec::new();
    push_frame(&mut out, "", frame);
    out
}

/// The protocols a frame carries, outermost first: `ARP`, `ICMP`, `UDP`, `VXLAN`, `DNS`…
pub fn protocols(frame: &EthernetFrame) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut next = Some(&frame.payload);
    while let Some(payload) = next.take() {
        next = payload_protocols(payload, &mut out);
    }
    out
}

/// Pushes what `payload` carries; the Ethernet payload inside it (a tag's, a tunnel's), if any.
fn payload_protocols<'f>(
    payload: &'f EtherPayload,
    out: &mut Vec<&'static str>,
) -> Option<&'f EtherPayload> {
    let ip = match payload {
        EtherPayload::Arp(_) => {
            out.push("ARP");
            return None;
        }
        EtherPayload::Vlan(tag) => {
            out.push("802.1Q");
            return Some(&tag.payload);
        }
        EtherPayload::Ipv4(ip) => ip,
    };
    match &ip.payload {
        IpPayload::Icmp(_) => out.push("ICMP"),
        IpPayload::Tcp(_) => out.push("TCP"),
        IpPayload::Esp(_) => out.push("ESP"),
        IpPayload::Fragment(_) => out.push("IP fragment"),
        IpPayload::Udp(udp) => {
            out.push("UDP");
            match &udp.payload {
                UdpPayload::Dns(_) => out.push("DNS"),
                UdpPayload::Vxlan(v) => {
                    out.push("VXLAN");
                    return Some(&v.inner.payload);
                }
                UdpPayload::Raw(_) => {}
            }
        }
    }
    None
}

fn push_frame(out: &mut Vec<Layer>, prefix: &str, frame: &EthernetFrame) {
    out.push((
        format!("{prefix}Ethernet"),
        vec![
            ("dst", frame.dst.to_string()),
            ("src", frame.src.to_string()),
            ("type", ethertype_text(&frame.payload)),
        ],
    ));
    push_payload(out, prefix, &frame.payload);
}

fn push_payload(out: &mut Vec<Layer>, prefix: &str, payload: &EtherPayload) {
    match payload {
        EtherPayload::Arp(arp) => out.push((format!("{prefix}ARP"), arp_fields(arp))),
        EtherPayload::Ipv4(ip) => push_ip(out, prefix, ip),
        EtherPayload::Vlan(tag) => {
            let fields = vec![
                ("VLAN ID", tag.vid.to_string()),
                ("priority", tag.pcp.to_string()),
                ("DEI", u8::from(tag.dei).to_string()),
                ("type", ethertype_text(&tag.payload)),
            ];
            out.push((format!("{prefix}802.1Q"), fields));
            push_payload(out, prefix, &tag.payload);
        }
    }
}

/// The EtherType field as a dissector shows it: `0x0800 (IPv4)`.
fn ethertype_text(payload: &EtherPayload) -> String {
    let ethertype = payload.ethertype();
    let name = match payload {
        EtherPayload::Arp(_) => "ARP",
        EtherPayload::Ipv4(_) => "IPv4",
        EtherPayload::Vlan(_) => "802.1Q",
    };
    format!("0x{ethertype:04x} ({name})")
}

fn arp_fields(arp: &ArpRepr) -> Vec<(&'static str, String)> {
    let op = match arp.op {
        ArpOp::Request => "1 (request)",
        ArpOp::Reply => "2 (reply)",
    };
    vec![
        ("op", op.to_string()),
        ("sender MAC", arp.sender_mac.to_string()),
        ("sender IP", arp.sender_ip.to_string()),
        ("target MAC", arp.target_mac.to_string()),
        ("target IP", arp.target_ip.to_string()),
    ]
}

fn push_ip(out: &mut Vec<Layer>, prefix: &str, ip: &Ipv4Packet) {
    out.push((format!("{prefix}IPv4"), ip_fields(ip)));
    match &ip.payload {
        IpPayload::Icmp(icmp) => push_icmp(out, prefix, icmp),
        IpPayload::Udp(udp) => push_udp(out, prefix, udp),
        IpPayload::Tcp(tcp) => out.push((format!("{prefix}TCP"), tcp_fields(tcp))),
        IpPayload::Esp(esp) => out.push((
            format!("{prefix}ESP"),
            vec![("SPI", format!("0x{:08x}", esp.spi)), ("seq", esp.seq.to_string())],
        )),
        IpPayload::Fragment(frag) => out.push((
            format!("{prefix}IP fragment"),
            vec![
                ("protocol", frag.protocol.name().to_string()),
                ("offset", frag.offset.to_string()),
                ("more fragments", frag.more_fragments.to_string()),
                ("bytes", frag.bytes.len().to_string()),
            ],
        )),
    }
}

fn ip_fields(ip: &Ipv4Packet) -> Vec<(&'static str, String)> {
    let proto = ip.payload.protocol();
    vec![
        ("src", ip.src.to_string()),
        ("dst", ip.dst.to_string()),
        ("ttl", ip.ttl.to_string()),
        ("id", format!("0x{:04x}", ip.ident)),
        ("flags", if ip.dont_fragment { "DF" } else { "none" }.to_string()),
        ("protocol", format!("{} ({})", proto.number(), proto.name())),
        ("total length", ip.buffer_len().to_string()),
    ]
}

fn push_icmp(out: &mut Vec<Layer>, prefix: &str, icmp: &IcmpRepr) {
    let fields = match icmp {
        IcmpRepr::EchoRequest { ident, seq, data } | IcmpRepr::EchoReply { ident, seq, data } => {
            let kind = match icmp {
                IcmpRepr::EchoRequest { .. } => "8 (echo request)",
                _ => "0 (echo reply)",
            };
            vec![
                ("type", kind.to_string()),
                ("id", ident.to_string()),
                ("seq", seq.to_string()),
                ("data", format!("{} bytes", data.len())),
            ]
        }
        IcmpRepr::DestUnreachable { code, next_hop_mtu, .. } => vec![
            ("type", "3 (destination unreachable)".to_string()),
            ("code", code.to_string()),
            ("next-hop MTU", next_hop_mtu.to_string()),
        ],
    };
    out.push((format!("{prefix}ICMP"), fields));
    if let IcmpRepr::DestUnreachable { original, .. } = icmp {
        out.push((format!("{prefix}quoted IPv4"), ip_fields(original)));
    }
}

fn push_udp(out: &mut Vec<Layer>, prefix: &str, udp: &UdpDatagram) {
    out.push((
        format!("{prefix}UDP"),
        vec![
            ("src port", udp.src_port.to_string()),
            ("dst port", udp.dst_port.to_string()),
            ("length", udp.buffer_len().to_string()),
        ],
    ));
    match &udp.payload {
        UdpPayload::Dns(dns) => out.push((format!("{prefix}DNS"), dns_fields(dns))),
        UdpPayload::Vxlan(v) => {
            out.push((
                format!("{prefix}VXLAN"),
                vec![("flags", format!("0x{:02x}", v.flags())), ("VNI", v.vni.to_string())],
            ));
            push_frame(out, "inner ", &v.inner);
        }
        UdpPayload::Raw(bytes) => {
            out.push((format!("{prefix}data"), vec![("bytes", bytes.len().to_string())]))
        }
    }
}

fn tcp_fields(tcp: &TcpSegment) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("src port", tcp.src_port.to_string()),
        ("dst port", tcp.dst_port.to_string()),
        ("seq", tcp.seq.to_string()),
        ("ack", tcp.ack.to_string()),
        ("flags", tcp_flags(tcp.flags)),
        ("window", tcp.window.to_string()),
    ];
    if let Some(mss) = tcp.mss {
        fields.push(("mss", mss.to_string()));
    }
    fields.push(("data", format!("{} bytes", tcp.payload.len())));
    fields
}

/// tcpdump's letters: `S` SYN, `F` FIN, `P` PUSH, `R` RST, `U` URG, `.` ACK.
fn tcp_flags(flags: TcpFlags) -> String {
    let letters = [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ACK, '.'),
    ];
    let s: String = letters.iter().filter(|(f, _)| flags.contains(*f)).map(|(_, c)| *c).collect();
    format!("[{}]", if s.is_empty() { "none" } else { &s })
}

fn dns_fields(dns: &DnsMessage) -> Vec<(&'static str, String)> {
    let question = dns
        .questions
        .iter()
        .map(|q| format!("{} {:?}", q.name, q.qtype))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        ("id", dns.id.to_string()),
        ("kind", if dns.response { "response" } else { "query" }.to_string()),
        ("question", question),
        ("answers", dns.answers.len().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::{MacAddr, VxlanPacket};

    fn ping(src: [u8; 4], dst: [u8; 4]) -> EthernetFrame {
        EthernetFrame {
            dst: MacAddr([2, 0x42, 10, 0, 1, 4]),
            src: MacAddr([2, 0x42, 10, 0, 1, 3]),
            payload: EtherPayload::Ipv4(Ipv4Packet {
                src: Ipv4Addr::from(src),
                dst: Ipv4Addr::from(dst),
                ttl: 64,
                ident: 0x1234,
                dont_fragment: true,
                payload: IpPayload::Icmp(IcmpRepr::EchoRequest {
                    ident: 7,
                    seq: 1,
                    data: vec![0; 56],
                }),
            }),
        }
    }

    #[test]
    fn a_vxlan_frame_lists_outer_then_inner_layers() {
        let inner = ping([10, 0, 1, 3], [10, 0, 1, 4]);
        let udp = UdpDatagram {
            src_port: 40000,
            dst_port: 4789,
            payload: UdpPayload::Vxlan(VxlanPacket::new(4097, inner)),
        };
        let outer = EthernetFrame {
            dst: MacAddr([0, 0x0d, 0x3a, 0, 0, 5]),
            src: MacAddr([0, 0x0d, 0x3a, 0, 0, 4]),
            payload: EtherPayload::Ipv4(Ipv4Packet {
                src: Ipv4Addr::new(172, 16, 24, 4),
                dst: Ipv4Addr::new(172, 16, 24, 5),
                ttl: 64,
                ident: 1,
                dont_fragment: false,
                payload: IpPayload::Udp(udp),
            }),
        };
        let names: Vec<String> = layers(&outer).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["Ethernet", "IPv4", "UDP", "VXLAN", "inner Ethernet", "inner IPv4", "inner ICMP"]
        );
        assert_eq!(protocols(&outer), ["UDP", "VXLAN", "ICMP"]);
        let all = layers(&outer);
        assert_eq!(all[3].1, [("flags", "0x08".to_string()), ("VNI", "4097".to_string())]);
        assert_eq!(all[5].1[0], ("src", "10.0.1.3".to_string()));
        assert_eq!(all[1].1[6], ("total length", "134".to_string()));
    }

    #[test]
    fn ip_and_icmp_fields_read_like_a_dissector() {
        let l = layers(&ping([10, 0, 0, 2], [10, 0, 0, 3]));
        assert_eq!(l[0].1[2], ("type", "0x0800 (IPv4)".to_string()));
        assert_eq!(
            l[1].1[3..6].to_vec(),
            [
                ("id", "0x1234".to_string()),
                ("flags", "DF".to_string()),
                ("protocol", "1 (icmp)".to_string()),
            ]
        );
        assert_eq!(l[2].1[0], ("type", "8 (echo request)".to_string()));
    }

    #[test]
    fn a_tagged_frame_lists_its_802_1q_header_between_ethernet_and_ip() {
        let frame = ping([192, 168, 10, 2], [192, 168, 10, 3]).tagged(10);
        let l = layers(&frame);
        let names: Vec<&str> = l.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Ethernet", "802.1Q", "IPv4", "ICMP"]);
        assert_eq!(l[0].1[2], ("type", "0x8100 (802.1Q)".to_string()));
        assert_eq!(l[1].1[0], ("VLAN ID", "10".to_string()));
        assert_eq!(l[1].1[3], ("type", "0x0800 (IPv4)".to_string()));
        assert_eq!(protocols(&frame), ["802.1Q", "ICMP"]);
    }

    #[test]
    fn tcp_flags_use_tcpdump_letters() {
        assert_eq!(tcp_flags(TcpFlags::SYN | TcpFlags::ACK), "[S.]");
        assert_eq!(tcp_flags(TcpFlags::PSH | TcpFlags::ACK), "[P.]");
        assert_eq!(tcp_flags(TcpFlags(0)), "[none]");
    }
}
