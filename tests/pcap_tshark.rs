//! Checks the wire codec against the real tools: frames built here are written to a pcap,
//! then `tcpdump -n -r` must print exactly our lines (with and without `-e`), and `tshark`
//! must decode the same addresses, ports and flags and find every checksum good.
//!
//! tcpdump and tshark must be installed (`apt-get install tcpdump tshark`); without them
//! this test fails rather than passing vacuously.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use swarmsim::engine::{SimDuration, SimTime};
use swarmsim::wire::{
    ArpOp, ArpRepr, DnsClass, DnsMessage, DnsQuestion, DnsRecord, DnsRecordData, DnsType, EspKey,
    EspPacket, EtherPayload, EthernetFrame, IcmpRepr, IpPayload, Ipv4Packet, MacAddr, PcapWriter,
    Rcode, TcpFlags, TcpSegment, TcpdumpPrinter, UdpDatagram, UdpPayload, VxlanPacket,
};

/// 2021-06-01 19:04:42 UTC: the capture's time zero.
const EPOCH: u32 = 1_622_574_282;

const HOST: MacAddr = MacAddr([0x02, 0x42, 0x5e, 0x1a, 0x3c, 0x01]);
const CTR: MacAddr = MacAddr([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
const GW_IP: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 1);
const CTR_IP: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 2);
const WEB_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);
const DNS_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);

fn frame(src: MacAddr, dst: MacAddr, payload: EtherPayload) -> EthernetFrame {
    EthernetFrame { dst, src, payload }
}

fn ip(src: Ipv4Addr, dst: Ipv4Addr, df: bool, payload: IpPayload) -> EtherPayload {
    // Any ident will do; one derived from the source keeps the frames distinct.
    let ident = u16::from(src.octets()[3]) * 100;
    EtherPayload::Ipv4(Ipv4Packet { src, dst, ttl: 64, ident, dont_fragment: df, payload })
}

fn arp_frames() -> Vec<EthernetFrame> {
    let request = ArpRepr {
        op: ArpOp::Request,
        sender_mac: HOST,
        sender_ip: GW_IP,
        target_mac: MacAddr::ZERO,
        target_ip: CTR_IP,
    };
    let reply = ArpRepr {
        op: ArpOp::Reply,
        sender_mac: CTR,
        sender_ip: CTR_IP,
        target_mac: HOST,
        target_ip: GW_IP,
    };
    // A unicast re-check (Linux's NUD probe) names the target MAC.
    let probe = ArpRepr { target_mac: CTR, ..request.clone() };
    vec![
        frame(HOST, MacAddr::BROADCAST, EtherPayload::Arp(request)),
        frame(CTR, HOST, EtherPayload::Arp(reply)),
        frame(HOST, CTR, EtherPayload::Arp(probe)),
    ]
}

fn icmp_frames() -> Vec<EthernetFrame> {
    let data: Vec<u8> = (0..56).collect();
    let request = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: data.clone() };
    let reply = IcmpRepr::EchoReply { ident: 1, seq: 1, data };
    let dns_probe = Ipv4Packet {
        src: CTR_IP,
        dst: GW_IP,
        ttl: 64,
        ident: 77,
        dont_fragment: false,
        payload: IpPayload::Udp(UdpDatagram {
            src_port: 40000,
            dst_port: 9999,
            payload: UdpPayload::Raw(b"ping?".to_vec()),
        }),
    };
    let big = Ipv4Packet {
        payload: IpPayload::Udp(UdpDatagram {
            src_port: 40000,
            dst_port: 4789,
            payload: UdpPayload::Raw(vec![0x42; 1400]),
        }),
        ..dns_probe.clone()
    };
    let unreachable = |code, original: &Ipv4Packet| IcmpRepr::DestUnreachable {
        code,
        next_hop_mtu: if code == 4 { 1450 } else { 0 },
        original: Box::new(original.clone()),
    };
    vec![
        frame(HOST, CTR, ip(GW_IP, CTR_IP, true, IpPayload::Icmp(request))),
        frame(CTR, HOST, ip(CTR_IP, GW_IP, false, IpPayload::Icmp(reply))),
        frame(HOST, CTR, ip(GW_IP, CTR_IP, false, IpPayload::Icmp(unreachable(3, &dns_probe)))),
        frame(HOST, CTR, ip(GW_IP, CTR_IP, false, IpPayload::Icmp(unreachable(1, &dns_probe)))),
        frame(HOST, CTR, ip(GW_IP, CTR_IP, false, IpPayload::Icmp(unreachable(13, &dns_probe)))),
        frame(HOST, CTR, ip(GW_IP, CTR_IP, false, IpPayload::Icmp(unreachable(4, &big)))),
    ]
}

fn tcp(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    data: &[u8],
) -> EthernetFrame {
    let (src_mac, dst_mac) = if src.0 == CTR_IP { (CTR, HOST) } else { (HOST, CTR) };
    let syn = flags.contains(TcpFlags::SYN);
    let segment = TcpSegment {
        src_port: src.1,
        dst_port: dst.1,
        seq,
        ack,
        flags,
        window: if syn { 64240 } else { 502 },
        mss: syn.then_some(1460),
        payload: data.to_vec(),
    };
    frame(src_mac, dst_mac, ip(src.0, dst.0, true, IpPayload::Tcp(segment)))
}

fn tcp_frames() -> Vec<EthernetFrame> {
    let (c, s) = ((CTR_IP, 45678), (WEB_IP, 80));
    let (ack, psh, fin) =
        (TcpFlags::ACK, TcpFlags::PSH | TcpFlags::ACK, TcpFlags::FIN | TcpFlags::ACK);
    let get =
        b"GET / HTTP/1.1\r\nHost: 10.0.2.100\r\nUser-Agent: curl/7.74.0\r\nAccept: */*\r\n\r\n";
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";
    let (ci, si) = (1000u32, 3_000_000_000u32);
    let g = get.len() as u32;
    let o = ok.len() as u32;
    vec![
        tcp(c, s, ci, 0, TcpFlags::SYN, b""),
        tcp(s, c, si, ci + 1, TcpFlags::SYN | ack, b""),
        tcp(c, s, ci + 1, si + 1, ack, b""),
        tcp(c, s, ci + 1, si + 1, psh, get),
        tcp(s, c, si + 1, ci + 1 + g, ack, b""),
        tcp(s, c, si + 1, ci + 1 + g, psh, ok),
        tcp(c, s, ci + 1 + g, si + 1 + o, fin, b""),
        tcp(s, c, si + 1 + o, ci + 2 + g, fin, b""),
        tcp(c, s, ci + 2 + g, si + 2 + o, ack, b""),
        // A refused connection on another port: RST-ACK to a SYN.
        tcp((CTR_IP, 45680), (WEB_IP, 81), 5000, 0, TcpFlags::SYN, b""),
        tcp((WEB_IP, 81), (CTR_IP, 45680), 0, 5001, TcpFlags::RST | ack, b""),
    ]
}

fn dns(
    id: u16,
    response: bool,
    rcode: Rcode,
    name: &str,
    qtype: DnsType,
    answers: Vec<DnsRecord>,
) -> DnsMessage {
    DnsMessage {
        id,
        response,
        recursion_desired: true,
        recursion_available: response,
        authoritative: false,
        rcode,
        questions: vec![DnsQuestion { name: name.into(), qtype, qclass: DnsClass::In }],
        answers,
        edns: None,
        compress: true,
    }
}

fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: UdpPayload) -> EthernetFrame {
    let (src_mac, dst_mac) = if src.0 == CTR_IP { (CTR, HOST) } else { (HOST, CTR) };
    let datagram = UdpDatagram { src_port: src.1, dst_port: dst.1, payload };
    frame(src_mac, dst_mac, ip(src.0, dst.0, false, IpPayload::Udp(datagram)))
}

fn dns_frames() -> Vec<EthernetFrame> {
    let (c, s) = ((CTR_IP, 43211), (DNS_IP, 53));
    let rr = |name: &str, data| DnsRecord { name: name.into(), ttl: 600, data };
    let a = DnsRecordData::A(Ipv4Addr::new(104, 239, 220, 248));
    let query = dns(1234, false, Rcode::NoError, "www.dockercon.com", DnsType::A, vec![]);
    let answer = dns(
        1234,
        true,
        Rcode::NoError,
        "www.dockercon.com",
        DnsType::A,
        vec![rr("www.dockercon.com", a.clone())],
    );
    let chained = vec![
        rr("docs.dockercon.com", DnsRecordData::Cname("www.dockercon.com".into())),
        rr("www.dockercon.com", a),
    ];
    let ptr = vec![rr("2.0.17.172.in-addr.arpa", DnsRecordData::Ptr("web.1.abc.red-net".into()))];
    let msgs = [
        (c, s, query),
        (s, c, answer),
        (c, s, dns(7, false, Rcode::NoError, "docs.dockercon.com", DnsType::A, vec![])),
        (s, c, dns(7, true, Rcode::NoError, "docs.dockercon.com", DnsType::A, chained)),
        (c, s, dns(8, false, Rcode::NoError, "nope", DnsType::Aaaa, vec![])),
        (s, c, dns(8, true, Rcode::NxDomain, "nope", DnsType::Aaaa, vec![])),
        (c, s, dns(9, false, Rcode::NoError, "2.0.17.172.in-addr.arpa", DnsType::Ptr, vec![])),
        (s, c, dns(9, true, Rcode::NoError, "2.0.17.172.in-addr.arpa", DnsType::Ptr, ptr)),
    ];
    let mut frames: Vec<_> =
        msgs.into_iter().map(|(a, b, m)| udp(a, b, UdpPayload::Dns(m))).collect();
    frames.push(udp((CTR_IP, 40000), (GW_IP, 9999), UdpPayload::Raw(b"ping?".to_vec())));
    frames
}

/// Rarer shapes whose text is easy to get wrong: DNS flag oddities and several questions,
/// HTTP continuation segments, flagless and URG segments, ICMP quoting ICMP.
fn edge_frames() -> Vec<EthernetFrame> {
    let (c, s) = ((CTR_IP, 43211), (DNS_IP, 53));
    let mut two = dns(21, false, Rcode::NoError, "a.example", DnsType::A, vec![]);
    two.questions.push(DnsQuestion {
        name: "b.example".into(),
        qtype: DnsType::Other(16),
        qclass: DnsClass::Other(3),
    });
    let mut two_answered = DnsMessage {
        response: true,
        authoritative: true,
        recursion_available: false,
        ..two.clone()
    };
    two_answered.rcode = Rcode::ServFail;
    let mut weird_query = dns(22, false, Rcode::NoError, "", DnsType::Other(255), vec![]);
    weird_query.recursion_available = true;
    weird_query.recursion_desired = false;
    let (web, client) = ((WEB_IP, 8080), (CTR_IP, 50000));
    let echo = Ipv4Packet {
        src: CTR_IP,
        dst: GW_IP,
        ttl: 64,
        ident: 5,
        dont_fragment: true,
        payload: IpPayload::Icmp(IcmpRepr::EchoRequest { ident: 9, seq: 3, data: vec![1; 8] }),
    };
    let unreachable = |code| IcmpRepr::DestUnreachable {
        code,
        next_hop_mtu: 0,
        original: Box::new(echo.clone()),
    };
    vec![
        udp(c, s, UdpPayload::Dns(two)),
        udp(s, c, UdpPayload::Dns(two_answered)),
        udp(c, s, UdpPayload::Dns(weird_query)),
        tcp(client, web, 7, 9, TcpFlags::PSH | TcpFlags::ACK, b"GET /x HTTP/1.0\r\n\r\n"),
        tcp(web, client, 9, 28, TcpFlags::ACK, b"rest of the body\r\n"),
        tcp(web, client, 26, 28, TcpFlags::ACK, b"binary\x01\r\n"),
        tcp(client, web, 28, 9, TcpFlags(0), b""),
        tcp(client, web, 28, 9, TcpFlags::URG | TcpFlags::ACK, b"!"),
        frame(HOST, CTR, ip(GW_IP, CTR_IP, false, IpPayload::Icmp(unreachable(3)))),
        frame(HOST, CTR, ip(GW_IP, CTR_IP, false, IpPayload::Icmp(unreachable(2)))),
        frame(HOST, CTR, ip(GW_IP, CTR_IP, false, IpPayload::Icmp(unreachable(10)))),
    ]
}

const VTEP1: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 4);
const VTEP2: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 5);
const NIC1: MacAddr = MacAddr([0xce, 0x08, 0x0c, 0x63, 0x15, 0xd0]);
const NIC2: MacAddr = MacAddr([0xaa, 0xa4, 0xc1, 0x5a, 0x11, 0x9f]);

/// Overlay traffic on the underlay: each inner frame in VXLAN (VNI 4097) between two hosts,
/// as Linux sends it (DF clear, UDP checksum computed).
fn vxlan_frames() -> Vec<EthernetFrame> {
    let wrap = |inner: EthernetFrame, to_second: bool| {
        let (src, dst, smac, dmac) =
            if to_second { (VTEP1, VTEP2, NIC1, NIC2) } else { (VTEP2, VTEP1, NIC2, NIC1) };
        let datagram = UdpDatagram {
            src_port: swarmsim::wire::flow_src_port(&inner, 0),
            dst_port: swarmsim::wire::VXLAN_PORT,
            payload: UdpPayload::Vxlan(VxlanPacket::new(4097, inner)),
        };
        frame(smac, dmac, ip(src, dst, false, IpPayload::Udp(datagram)))
    };
    let (echo, reply) = (icmp_frames()[0].clone(), icmp_frames()[1].clone());
    let get = tcp_frames()[3].clone();
    let query = dns_frames()[0].clone();
    vec![wrap(echo, true), wrap(reply, false), wrap(get, true), wrap(query, true)]
}

/// The key Docker's `buildAeadAlgo` would install for SPI 0x9d600d3f: 16 key bytes, then
/// the SPI as salt.
const ESP_KEY: EspKey = EspKey { key: [7; 16], salt: [0x9d, 0x60, 0x0d, 0x3f] };

/// The VXLAN frames of the first direction, sealed in ESP as an encrypted overlay sends
/// them (one SA, sequence numbers from 1).
fn esp_frames() -> Vec<EthernetFrame> {
    let to_second = vxlan_frames().into_iter().enumerate().filter(|(i, _)| *i != 1);
    to_second
        .zip(1..)
        .map(|((_, f), seq)| {
            let EtherPayload::Ipv4(ip) = f.payload else { unreachable!("VXLAN is IP") };
            let esp = EspPacket::seal(0x9d60_0d3f, seq, ESP_KEY, ip.payload);
            let sealed = Ipv4Packet { payload: IpPayload::Esp(esp), ..ip };
            frame(f.src, f.dst, EtherPayload::Ipv4(sealed))
        })
        .collect()
}

fn capture() -> Vec<(SimTime, EthernetFrame)> {
    timed([arp_frames(), icmp_frames(), tcp_frames(), dns_frames(), edge_frames()].concat())
}

fn timed(frames: Vec<EthernetFrame>) -> Vec<(SimTime, EthernetFrame)> {
    // 1.000123 s apart, with a sub-microsecond part that must be truncated.
    let step = SimDuration::from_nanos(1_000_123_456);
    let mut at = SimTime::ZERO;
    frames
        .into_iter()
        .map(|f| {
            at += step;
            (at, f)
        })
        .collect()
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).env("TZ", "UTC").output().unwrap_or_else(|e| {
        panic!("{tool} is required for this test (apt-get install {tool}): {e}")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn write_pcap(dir: &Path, frames: &[(SimTime, EthernetFrame)]) -> String {
    let mut writer = PcapWriter::new(EPOCH);
    for (at, f) in frames {
        writer.push(*at, f);
    }
    let path = dir.join("capture.pcap");
    std::fs::write(&path, writer.into_bytes()).expect("write pcap");
    path.to_str().expect("UTF-8 path").to_string()
}

/// A directory of its own for each test, since they run in parallel.
fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("swarmsim-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Compares line by line; a VXLAN frame's text spans two lines, as tcpdump prints it.
fn assert_lines_equal(ours: &[String], theirs: &str) {
    let ours: Vec<&str> = ours.iter().flat_map(|l| l.lines()).collect();
    let theirs: Vec<&str> = theirs.lines().collect();
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "line {} differs", i + 1);
    }
    assert_eq!(ours.len(), theirs.len(), "line counts differ");
}

#[test]
fn tcpdump_prints_our_lines() {
    tcpdump_agrees("tcpdump", &capture());
}

#[test]
fn tcpdump_prints_our_vxlan_lines() {
    tcpdump_agrees("tcpdump-vxlan", &timed(vxlan_frames()));
}

#[test]
fn tcpdump_prints_our_esp_lines() {
    tcpdump_agrees("tcpdump-esp", &timed(esp_frames()));
}

/// Given the SA, Wireshark decrypts our ESP (rfc4106 AES-GCM, 8-byte ICV), finds the ICV
/// good, the padding and next header (UDP) where `esp_output` puts them, and the VXLAN
/// frame inside; without the SA it sees none of the inner frame.
#[test]
fn tshark_decrypts_our_esp() {
    let dir = temp_dir("tshark-esp");
    let frames = timed(esp_frames());
    let file = write_pcap(&dir, &frames);
    let key: String = ESP_KEY.material().iter().map(|b| format!("{b:02x}")).collect();
    let sa = format!(
        "uat:esp_sa:\"IPv4\",\"172.16.24.4\",\"172.16.24.5\",\"0x9d600d3f\",\
         \"AES-GCM with 8 octet ICV [RFC4106]\",\"0x{key}\",\"NULL\",\"\""
    );
    let fields = ["esp.sequence", "esp.icv_good", "esp.pad_len", "esp.protocol", "vxlan.vni"];
    let mut args = vec!["-r", &file, "-T", "fields"];
    args.extend(fields.iter().flat_map(|f| ["-e", f]));
    let sealed = run("tshark", &args);
    assert_eq!(sealed, "1\t\t\t\t\n2\t\t\t\t\n3\t\t\t\t\n");
    let opts = ["-o", "esp.enable_encryption_decode:TRUE", "-o"];
    let opts = opts.into_iter().chain([sa.as_str(), "-o", "esp.enable_authentication_check:TRUE"]);
    let opened = run("tshark", &opts.chain(args).collect::<Vec<_>>());
    // UDP datagrams of 114, 144 and 93 bytes (+2 trailer bytes) need 0, 2 and 1 pad bytes.
    assert_eq!(opened, "1\t1\t0\t0x11\t4097\n2\t1\t2\t0x11\t4097\n3\t1\t1\t0x11\t4097\n");
    if std::env::var_os("SWARMSIM_KEEP_PCAP").is_none() {
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}

fn tcpdump_agrees(test: &str, frames: &[(SimTime, EthernetFrame)]) {
    let dir = temp_dir(test);
    let file = write_pcap(&dir, frames);
    for link_level in [false, true] {
        let mut printer =
            TcpdumpPrinter::new(u64::from(EPOCH) % 86_400).with_link_level(link_level);
        let ours: Vec<String> = frames.iter().map(|(at, f)| printer.line(*at, f)).collect();
        let args: &[&str] =
            if link_level { &["-n", "-e", "-r", &file] } else { &["-n", "-r", &file] };
        assert_lines_equal(&ours, &run("tcpdump", args));
    }
    if std::env::var_os("SWARMSIM_KEEP_PCAP").is_none() {
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}

/// tshark finds the VNI and the I flag (its 16-bit `vxlan.flags` 0x0800), the outer UDP
/// checksum good, and the inner frame decoded in full:
/// its addresses, and for the echo request `icmp.type` 8 with a good checksum.
#[test]
fn tshark_decodes_vxlan_and_the_inner_frame() {
    let frames = timed(vxlan_frames());
    let dir = temp_dir("tshark-vxlan");
    let file = write_pcap(&dir, &frames);
    let fields = ["vxlan.vni", "vxlan.flags", "udp.dstport", "udp.checksum.status", "ip.src"];
    let fields =
        [&fields[..], &["ip.dst", "icmp.type", "icmp.checksum.status", "_ws.malformed"]].concat();
    let mut args = vec!["-r", &file, "-o", "udp.check_checksum:TRUE", "-T", "fields"];
    for field in &fields {
        args.extend(["-e", field]);
    }
    let out = run("tshark", &args);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), frames.len());
    for (i, ((_, f), row)) in frames.iter().zip(&rows).enumerate() {
        let EtherPayload::Ipv4(outer) = &f.payload else { panic!("VXLAN frames are IPv4") };
        let IpPayload::Udp(UdpDatagram { payload: UdpPayload::Vxlan(v), .. }) = &outer.payload
        else {
            panic!("VXLAN frames carry VXLAN")
        };
        let EtherPayload::Ipv4(inner) = &v.inner.payload else { panic!("inner IPv4") };
        let (src, dst) =
            (format!("{},{}", outer.src, inner.src), format!("{},{}", outer.dst, inner.dst));
        let first = |cell: &str| cell.split(',').next().unwrap_or_default().to_string();
        assert_eq!(row[0], "4097", "frame {}", i + 1);
        assert_eq!(row[1], "0x0800", "frame {}", i + 1);
        assert_eq!(first(row[2]), "4789", "frame {}", i + 1);
        assert_eq!(first(row[3]), GOOD, "frame {}: outer UDP checksum", i + 1);
        assert_eq!((row[4], row[5]), (src.as_str(), dst.as_str()), "frame {}", i + 1);
        assert_eq!(row[8], "", "frame {} is malformed to tshark", i + 1);
    }
    assert_eq!((rows[0][6], rows[0][7]), ("8", GOOD));
    assert_eq!((rows[1][6], rows[1][7]), ("0", GOOD));
    if std::env::var_os("SWARMSIM_KEEP_PCAP").is_none() {
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}

/// One row per frame: the fields tshark decodes, tab-separated. For an ICMP error the
/// fields of the quoted packet follow the outer ones, comma-separated; the test keeps the
/// first value of each, so the transport columns come from the quote.
const FIELDS: [&str; 18] = [
    "eth.src",
    "eth.dst",
    "ip.src",
    "ip.dst",
    "ip.checksum.status",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.checksum.status",
    "udp.srcport",
    "udp.dstport",
    "udp.checksum.status",
    "icmp.checksum.status",
    "dns.id",
    "dns.flags.response",
    "dns.qry.name",
    "dns.a",
    "_ws.malformed",
];

/// Wireshark's `PROTO_CHECKSUM_E_GOOD` (0 is bad, 2 unverified).
const GOOD: &str = "1";
const UNVERIFIED: &str = "2";
/// Wireshark's `PI_ERROR` expert severity: malformed or inconsistent packets.
const EXPERT_ERROR: u32 = 0x0080_0000;

/// What tshark should report for `f`, built from our repr.
fn expected_row(f: &EthernetFrame) -> Vec<String> {
    let mut row = vec![f.src.to_string(), f.dst.to_string()];
    let EtherPayload::Ipv4(ip) = &f.payload else {
        row.resize(FIELDS.len(), String::new());
        return row;
    };
    row.extend([ip.src.to_string(), ip.dst.to_string(), GOOD.into()]);
    match &ip.payload {
        IpPayload::Icmp(IcmpRepr::DestUnreachable { original, .. }) => {
            // A quote cut short cannot have its transport checksum verified.
            let whole = original.buffer_len() <= IcmpRepr::MAX_QUOTE_LEN;
            row.extend(transport_columns(&original.payload, if whole { GOOD } else { UNVERIFIED }));
            row.push(GOOD.into());
        }
        IpPayload::Icmp(_) => {
            row.resize(12, String::new());
            row.push(GOOD.into());
        }
        payload => {
            row.extend(transport_columns(payload, GOOD));
            row.push(String::new());
        }
    }
    row.extend(dns_columns(&ip.payload));
    row.push(String::new());
    row
}

/// tcp.srcport … udp.checksum.status.
fn transport_columns(payload: &IpPayload, checksum: &str) -> Vec<String> {
    let blank = || String::new();
    match payload {
        IpPayload::Tcp(t) => vec![
            t.src_port.to_string(),
            t.dst_port.to_string(),
            format!("0x{:04x}", t.flags.0),
            checksum.into(),
            blank(),
            blank(),
            blank(),
        ],
        IpPayload::Udp(u) => vec![
            blank(),
            blank(),
            blank(),
            blank(),
            u.src_port.to_string(),
            u.dst_port.to_string(),
            checksum.into(),
        ],
        IpPayload::Icmp(_) | IpPayload::Esp(_) | IpPayload::Fragment(_) => vec![blank(); 7],
    }
}

/// dns.id, dns.flags.response, dns.qry.name and the first dns.a.
fn dns_columns(payload: &IpPayload) -> Vec<String> {
    let IpPayload::Udp(UdpDatagram { payload: UdpPayload::Dns(m), .. }) = payload else {
        return vec![String::new(); 4];
    };
    let first_a = m.answers.iter().find_map(|r| match r.data {
        DnsRecordData::A(a) => Some(a.to_string()),
        _ => None,
    });
    vec![
        format!("0x{:04x}", m.id),
        u8::from(m.response).to_string(),
        match m.questions[0].name.as_str() {
            "" => "<Root>".to_string(),
            name => name.to_string(),
        },
        first_a.unwrap_or_default(),
    ]
}

#[test]
fn tshark_decodes_the_same_fields_with_good_checksums() {
    let frames = capture();
    let dir = temp_dir("tshark");
    let file = write_pcap(&dir, &frames);
    let mut args =
        vec!["-r", &file, "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"];
    args.extend(["-o", "ip.check_checksum:TRUE", "-T", "fields"]);
    for field in FIELDS.iter().chain(&["_ws.expert.severity"]) {
        args.extend(["-e", field]);
    }
    let out = run("tshark", &args);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), frames.len());
    for (i, ((_, f), row)) in frames.iter().zip(&rows).enumerate() {
        let first = |cell: &&str| cell.split(',').next().unwrap_or_default().to_string();
        let decoded: Vec<String> = row[..FIELDS.len()].iter().map(first).collect();
        assert_eq!(decoded, expected_row(f), "frame {} ({f})", i + 1);
        // SYNs, RSTs and HTTP lines get chat/warning notes; nothing may be an error.
        let worst = row[FIELDS.len()].split(',').filter_map(|s| s.parse::<u32>().ok()).max();
        assert!(worst.unwrap_or(0) < EXPERT_ERROR, "frame {} ({f}): expert {worst:?}", i + 1);
    }
    if std::env::var_os("SWARMSIM_KEEP_PCAP").is_none() {
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}
