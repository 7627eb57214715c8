//! Docker 20.10's rule set end to end: the listings compared with what real iptables printed
//! for the same commands (`testdata/README.md`), then packets walked through the hooks.

use std::net::Ipv4Addr;

use super::*;
use crate::wire::{Ipv4Packet, TcpFlags};

/// A host after Docker 20.10 programmed docker0, one user bridge and `-p 8080:80`.
fn docker_host() -> Netfilter {
    let mut nf = Netfilter::new();
    for line in include_str!("testdata/docker_20_10.txt").lines() {
        if line.starts_with('#') {
            continue;
        }
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        nf.run_command(&args).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    nf
}

fn run(nf: &mut Netfilter, line: &str) -> String {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    nf.run_command(&args).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn listings_match_real_iptables() {
    let mut nf = docker_host();
    assert_eq!(run(&mut nf, "-S"), include_str!("testdata/docker_20_10.S.txt"));
    assert_eq!(run(&mut nf, "-t nat -S"), include_str!("testdata/docker_20_10.nat.S.txt"));
    assert_eq!(run(&mut nf, "-nvL"), include_str!("testdata/docker_20_10.nvL.txt"));
    assert_eq!(
        run(&mut nf, "-t nat -nvL --line-numbers"),
        include_str!("testdata/docker_20_10.nat.nvL.txt")
    );
    assert_eq!(nf.save(), include_str!("testdata/docker_20_10.save.txt"));
}

/// Rules whose canonical form differs from how they were typed, with what iptables-legacy
/// printed for each (`-S`, `-nL`) in a scratch namespace.
#[test]
fn canonical_forms_match_real_iptables() {
    let cases = [
        (
            "-A INPUT -i eth+ ! -s 10.0.0.0/255.255.0.0 -p icmp --icmp-type echo-request -j DROP",
            "-A INPUT ! -s 10.0.0.0/16 -i eth+ -p icmp -m icmp --icmp-type 8 -j DROP",
            "DROP       icmp -- !10.0.0.0/16          0.0.0.0/0            icmptype 8",
        ),
        (
            "-A INPUT -m conntrack --ctstate NEW -p tcp --dport 80 -j ACCEPT",
            "-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 80 -j ACCEPT",
            "ACCEPT     tcp  --  0.0.0.0/0            0.0.0.0/0            ctstate NEW tcp dpt:80",
        ),
        (
            "-A INPUT -m mark --mark 0x100/0xff00 -m state --state ESTABLISHED,RELATED -j ACCEPT",
            "-A INPUT -m mark --mark 0x100/0xff00 -m state --state RELATED,ESTABLISHED -j ACCEPT",
            "ACCEPT     all  --  0.0.0.0/0            0.0.0.0/0            mark match 0x100/0xff00 state RELATED,ESTABLISHED",
        ),
        (
            "-A INPUT -m addrtype ! --src-type LOCAL --dst-type UNICAST",
            "-A INPUT -m addrtype ! --src-type LOCAL --dst-type UNICAST",
            "           all  --  0.0.0.0/0            0.0.0.0/0            ADDRTYPE match src-type !LOCAL dst-type UNICAST",
        ),
        (
            "-A INPUT -p udp --sport 53:60 -m comment --comment hello -j ACCEPT",
            "-A INPUT -p udp -m udp --sport 53:60 -m comment --comment hello -j ACCEPT",
            "ACCEPT     udp  --  0.0.0.0/0            0.0.0.0/0            udp spts:53:60 /* hello */",
        ),
        (
            "-A INPUT -s 0.0.0.0/0 -d 10.0.0.0/255.0.0.0 -p udp --dport 53 ! --sport 1:2 -j ACCEPT",
            "-A INPUT -d 10.0.0.0/8 -p udp -m udp ! --sport 1:2 --dport 53 -j ACCEPT",
            "ACCEPT     udp  --  0.0.0.0/0            10.0.0.0/8           udp spts:!1:2 dpt:53",
        ),
        (
            "-A INPUT -p tcp ! --dport 22 -m conntrack ! --ctstate NEW,INVALID -j ACCEPT",
            "-A INPUT -p tcp -m tcp ! --dport 22 -m conntrack ! --ctstate INVALID,NEW -j ACCEPT",
            "ACCEPT     tcp  --  0.0.0.0/0            0.0.0.0/0            tcp dpt:!22 ! ctstate INVALID,NEW",
        ),
        (
            "-A INPUT ! -p tcp -j ACCEPT",
            "-A INPUT ! -p tcp -j ACCEPT",
            "ACCEPT    !tcp  --  0.0.0.0/0            0.0.0.0/0           ",
        ),
        (
            "-t mangle -A OUTPUT -j MARK --set-mark 0x5/0xf",
            "-A OUTPUT -j MARK --set-xmark 0x5/0xf",
            "MARK       all  --  0.0.0.0/0            0.0.0.0/0            MARK xset 0x5/0xf",
        ),
        (
            "-t mangle -A PREROUTING -p tcp --dport 80 -j MARK --set-mark 256",
            "-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x100/0xffffffff",
            "MARK       tcp  --  0.0.0.0/0            0.0.0.0/0            tcp dpt:80 MARK set 0x100",
        ),
        (
            "-t nat -A PREROUTING -d 10.0.0.4 -p tcp --dport 80 -j REDIRECT --to-port 8080",
            "-A PREROUTING -d 10.0.0.4/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080",
            "REDIRECT   tcp  --  0.0.0.0/0            10.0.0.4             tcp dpt:80 redir ports 8080",
        ),
        (
            "-t nat -A POSTROUTING -s 127.0.0.11 -p udp --sport 43563 -j SNAT --to-source :53",
            "-A POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 43563 -j SNAT --to-source :53",
            "SNAT       udp  --  127.0.0.11           0.0.0.0/0            udp spt:43563 to::53",
        ),
        (
            "-t nat -A POSTROUTING -o eth0 -p tcp -j MASQUERADE --to-ports 1024-2000",
            "-A POSTROUTING -o eth0 -p tcp -j MASQUERADE --to-ports 1024-2000",
            "MASQUERADE  tcp  --  0.0.0.0/0            0.0.0.0/0            masq ports: 1024-2000",
        ),
        (
            "-t nat -A OUTPUT -p icmp --icmp-type echo-request -d 10.0.0.9 -j DNAT --to 127.0.0.1",
            "-A OUTPUT -d 10.0.0.9/32 -p icmp -m icmp --icmp-type 8 -j DNAT --to-destination 127.0.0.1",
            "DNAT       icmp --  0.0.0.0/0            10.0.0.9             icmptype 8 to:127.0.0.1",
        ),
    ];
    for (typed, spec, row) in cases {
        let mut nf = Netfilter::new();
        run(&mut nf, typed);
        // "-t nat -A …" → "-t nat"; filter rules have no -t.
        let table: String = match typed.strip_prefix("-t ") {
            Some(rest) => format!("-t {}", rest.split_whitespace().next().unwrap()),
            None => String::new(),
        };
        let chain = spec.split_whitespace().nth(1).unwrap();
        let listed = run(&mut nf, &format!("{table} -S {chain} 1"));
        assert_eq!(listed, format!("{spec}\n"), "{typed}");
        let rows = run(&mut nf, &format!("{table} -nL {chain} 1"));
        assert_eq!(rows, format!("{row}\n"), "{typed}");
    }
}

/// The host's addresses: eth0 10.0.2.15, docker0 172.17.0.1, the user bridge 172.18.0.1.
fn host_ctx(out_addr: Option<[u8; 4]>) -> HookCtx<'static> {
    HookCtx {
        local_addrs: vec![[10, 0, 2, 15].into(), [172, 17, 0, 1].into(), [172, 18, 0, 1].into()],
        out_iface_addr: out_addr.map(Ipv4Addr::from),
        in_iface_addr: None,
        packet: None,
    }
}

fn tcp(src: ([u8; 4], u16), dst: ([u8; 4], u16), flags: TcpFlags, in_if: &str) -> PacketMeta {
    PacketMeta {
        src: src.0.into(),
        dst: dst.0.into(),
        proto: crate::wire::IpProtocol::Tcp,
        sport: src.1,
        dport: dst.1,
        icmp_type: None,
        tcp_flags: Some(flags),
        len: 60,
        in_iface: Some(in_if.to_string()),
        out_iface: None,
        mark: 0,
        conntrack_id: None,
        ipvs_property: false,
    }
}

/// Runs a forwarded packet through PREROUTING, FORWARD (to `out_if`) and POSTROUTING, and
/// returns every hook's hits and NAT text, one line each, as a trace would show them.
fn forward(
    nf: &mut Netfilter,
    pkt: &mut PacketMeta,
    out_if: &str,
    masq: Option<[u8; 4]>,
) -> String {
    let now = SimTime::ZERO;
    let mut trace = String::new();
    let ctx = host_ctx(masq);
    for hook in [Hook::Prerouting, Hook::Forward, Hook::Postrouting] {
        if hook != Hook::Prerouting {
            pkt.out_iface = Some(out_if.to_string());
        }
        if hook == Hook::Postrouting {
            pkt.in_iface = None;
        }
        let out = nf.hook(now, hook, pkt, &ctx);
        let hits: Vec<String> = out.hits.iter().map(|h| h.to_string()).collect();
        let mut parts = vec![hits.join(" | ")];
        parts.extend(out.nat.map(|nat| format!("[{nat}]")));
        parts.retain(|p| !p.is_empty());
        trace.push_str(&format!("{hook:?} {:?}: {}\n", out.ct_state, parts.join(" ")));
        if !out.accepted {
            trace.push_str("dropped\n");
            break;
        }
    }
    trace
}

#[test]
fn published_port_is_dnated_and_accepted_by_the_docker_chain() {
    let mut nf = docker_host();
    let mut syn = tcp(([192, 168, 1, 50], 51000), ([10, 0, 2, 15], 8080), TcpFlags::SYN, "eth0");
    assert_eq!(
        forward(&mut nf, &mut syn, "docker0", None),
        "Prerouting New: nat PREROUTING rule 1: DOCKER | nat DOCKER rule 3: DNAT to:172.17.0.2:80 \
         [DNAT 10.0.2.15:8080 -> 172.17.0.2:80]\n\
         Forward New: filter FORWARD rule 1: DOCKER-USER | filter DOCKER-USER rule 1: RETURN | \
         filter FORWARD rule 2: DOCKER-ISOLATION-STAGE-1 | filter DOCKER-ISOLATION-STAGE-1 rule 3: RETURN | \
         filter FORWARD rule 8: DOCKER | filter DOCKER rule 1: ACCEPT\n\
         Postrouting New: nat POSTROUTING: policy ACCEPT\n"
    );
    let synack = TcpFlags::SYN | TcpFlags::ACK;
    let mut reply = tcp(([172, 17, 0, 2], 80), ([192, 168, 1, 50], 51000), synack, "docker0");
    assert_eq!(
        forward(&mut nf, &mut reply, "eth0", Some([10, 0, 2, 15])),
        "Prerouting Established: \n\
         Forward Established: filter FORWARD rule 1: DOCKER-USER | filter DOCKER-USER rule 1: RETURN | \
         filter FORWARD rule 2: DOCKER-ISOLATION-STAGE-1 | \
         filter DOCKER-ISOLATION-STAGE-1 rule 2: DOCKER-ISOLATION-STAGE-2 | \
         filter DOCKER-ISOLATION-STAGE-2 rule 3: RETURN | filter DOCKER-ISOLATION-STAGE-1 rule 3: RETURN | \
         filter FORWARD rule 9: ACCEPT\n\
         Postrouting Established: [un-DNAT 172.17.0.2:80 -> 10.0.2.15:8080]\n"
    );
    assert_eq!((reply.src, reply.sport), (Ipv4Addr::new(10, 0, 2, 15), 8080));
    // The third packet of the handshake skips the nat table: its counters stay at one packet.
    let mut ack = tcp(([192, 168, 1, 50], 51000), ([10, 0, 2, 15], 8080), TcpFlags::ACK, "eth0");
    forward(&mut nf, &mut ack, "docker0", None);
    assert_eq!(ack.dst, Ipv4Addr::new(172, 17, 0, 2));
    assert_eq!(
        run(&mut nf, "-t nat -nvL DOCKER"),
        "Chain DOCKER (2 references)\n \
         pkts bytes target     prot opt in     out     source               destination         \n    \
         0     0 RETURN     all  --  br-5ae4c8e0b3a1 *       0.0.0.0/0            0.0.0.0/0           \n    \
         0     0 RETURN     all  --  docker0 *       0.0.0.0/0            0.0.0.0/0           \n    \
         1    60 DNAT       tcp  --  !docker0 *       0.0.0.0/0            0.0.0.0/0            tcp dpt:8080 to:172.17.0.2:80\n"
    );
    assert_eq!(
        nf.conntrack_list(SimTime::ZERO),
        "tcp      6 432000 ESTABLISHED src=192.168.1.50 dst=10.0.2.15 sport=51000 dport=8080 \
         src=172.17.0.2 dst=192.168.1.50 sport=80 dport=51000 [ASSURED] mark=0 use=1\n"
    );
}

#[test]
fn container_traffic_is_masqueraded_and_the_reply_de_natted() {
    let mut nf = docker_host();
    let mut syn = tcp(([172, 17, 0, 2], 40000), ([1, 1, 1, 1], 443), TcpFlags::SYN, "docker0");
    assert_eq!(
        forward(&mut nf, &mut syn, "eth0", Some([10, 0, 2, 15])),
        "Prerouting New: nat PREROUTING: policy ACCEPT\n\
         Forward New: filter FORWARD rule 1: DOCKER-USER | filter DOCKER-USER rule 1: RETURN | \
         filter FORWARD rule 2: DOCKER-ISOLATION-STAGE-1 | \
         filter DOCKER-ISOLATION-STAGE-1 rule 2: DOCKER-ISOLATION-STAGE-2 | \
         filter DOCKER-ISOLATION-STAGE-2 rule 3: RETURN | filter DOCKER-ISOLATION-STAGE-1 rule 3: RETURN | \
         filter FORWARD rule 9: ACCEPT\n\
         Postrouting New: nat POSTROUTING rule 2: MASQUERADE [MASQUERADE 172.17.0.2:40000 -> 10.0.2.15:40000]\n"
    );
    let synack = TcpFlags::SYN | TcpFlags::ACK;
    let mut reply = tcp(([1, 1, 1, 1], 443), ([10, 0, 2, 15], 40000), synack, "eth0");
    assert_eq!(
        forward(&mut nf, &mut reply, "docker0", None),
        "Prerouting Established: [un-SNAT 10.0.2.15:40000 -> 172.17.0.2:40000]\n\
         Forward Established: filter FORWARD rule 1: DOCKER-USER | filter DOCKER-USER rule 1: RETURN | \
         filter FORWARD rule 2: DOCKER-ISOLATION-STAGE-1 | filter DOCKER-ISOLATION-STAGE-1 rule 3: RETURN | \
         filter FORWARD rule 7: ACCEPT\n\
         Postrouting Established: \n"
    );
}

#[test]
fn bridges_are_isolated_by_stage_2() {
    let mut nf = docker_host();
    let mut syn = tcp(([172, 17, 0, 2], 40000), ([172, 18, 0, 2], 80), TcpFlags::SYN, "docker0");
    assert_eq!(
        forward(&mut nf, &mut syn, "br-5ae4c8e0b3a1", None),
        "Prerouting New: nat PREROUTING: policy ACCEPT\n\
         Forward New: filter FORWARD rule 1: DOCKER-USER | filter DOCKER-USER rule 1: RETURN | \
         filter FORWARD rule 2: DOCKER-ISOLATION-STAGE-1 | \
         filter DOCKER-ISOLATION-STAGE-1 rule 2: DOCKER-ISOLATION-STAGE-2 | \
         filter DOCKER-ISOLATION-STAGE-2 rule 1: DROP\n\
         dropped\n"
    );
    // The dropped packet's entry was never confirmed, so nothing is left behind.
    assert_eq!(nf.conntrack_entries(), vec![]);
    assert_eq!(syn.conntrack_id, None);
    let listing = run(&mut nf, "-nvxL DOCKER-ISOLATION-STAGE-2");
    assert!(
        listing.contains("       1       60 DROP       all  --  *      br-5ae4c8e0b3a1"),
        "{listing}"
    );
}

#[test]
fn policy_counters_move_when_the_policy_decides() {
    let mut nf = docker_host();
    let mut pkt = tcp(([192, 168, 1, 50], 1), ([172, 17, 0, 9], 22), TcpFlags::SYN, "eth0");
    let out = forward(&mut nf, &mut pkt, "eth1", None);
    assert!(out.ends_with("filter FORWARD: policy DROP\ndropped\n"), "{out}");
    assert!(run(&mut nf, "-nvL FORWARD")
        .starts_with("Chain FORWARD (policy DROP 1 packets, 60 bytes)\n"));
}

/// Docker's encrypted overlay marks the VXLAN datagrams of VNI 4097 (libnetwork
/// `programMangle`); listings as iptables-legacy printed them for the same command, and
/// counters as the kernel's xt_u32 counted datagrams sent to 127.0.0.1:4789 there.
const OVERLAY_MARK: &str = "-t mangle -A OUTPUT -p udp --dport 4789 -m u32 \
     --u32 0>>22&0x3C@12&0xFFFFFF00=1048832 -j MARK --set-mark 13681891";

/// A VXLAN datagram from 172.16.24.4 to 172.16.24.5 carrying a 98-byte ping frame: 134
/// bytes from the outer IP header on.
fn vxlan_datagram(vni: u32) -> Ipv4Packet {
    use crate::wire::{EtherPayload, EthernetFrame, IcmpRepr, MacAddr, UdpDatagram};
    use crate::wire::{IpPayload, UdpPayload, VxlanPacket};
    let ping = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; 56] };
    let inner = Ipv4Packet {
        src: [10, 0, 1, 2].into(),
        dst: [10, 0, 1, 3].into(),
        ttl: 64,
        ident: 1,
        dont_fragment: true,
        payload: IpPayload::Icmp(ping),
    };
    let frame = EthernetFrame {
        dst: MacAddr([2, 66, 10, 0, 1, 3]),
        src: MacAddr([2, 66, 10, 0, 1, 2]),
        payload: EtherPayload::Ipv4(inner),
    };
    let udp = UdpDatagram {
        src_port: 40000,
        dst_port: 4789,
        payload: UdpPayload::Vxlan(VxlanPacket::new(vni, frame)),
    };
    Ipv4Packet {
        src: [172, 16, 24, 4].into(),
        dst: [172, 16, 24, 5].into(),
        ttl: 64,
        ident: 7,
        dont_fragment: false,
        payload: IpPayload::Udp(udp),
    }
}

/// The mark a locally sent packet leaves mangle OUTPUT with.
fn output_mark(nf: &mut Netfilter, pkt: &Ipv4Packet) -> u32 {
    let mut meta = PacketMeta::of(pkt, None, Some("eth0".into()));
    let ctx = HookCtx { packet: Some(pkt), ..host_ctx(None) };
    assert!(nf.hook(SimTime::ZERO, Hook::Output, &mut meta, &ctx).accepted);
    meta.mark
}

#[test]
fn overlay_mark_rule_lists_like_real_iptables() {
    let mut nf = Netfilter::new();
    run(&mut nf, OVERLAY_MARK);
    assert_eq!(
        run(&mut nf, "-t mangle -S OUTPUT"),
        "-P OUTPUT ACCEPT\n\
         -A OUTPUT -p udp -m udp --dport 4789 -m u32 --u32 \"0x0>>0x16&0x3c@0xc&0xffffff00=0x100100\" \
         -j MARK --set-xmark 0xd0c4e3/0xffffffff\n"
    );
    assert_eq!(
        run(&mut nf, "-t mangle -nvL OUTPUT"),
        "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)\n \
         pkts bytes target     prot opt in     out     source               destination         \n    \
         0     0 MARK       udp  --  *      *       0.0.0.0/0            0.0.0.0/0            \
         udp dpt:4789 u32 \"0x0>>0x16&0x3c@0xc&0xffffff00=0x100100\" MARK set 0xd0c4e3\n"
    );
    // The same rule typed with spaces and other number bases is the same rule.
    let line =
        "-t mangle -D OUTPUT -p udp --dport 4789 -m u32 --u32 EXPR -j MARK --set-mark 13681891";
    let mut args: Vec<String> = line.split_whitespace().map(String::from).collect();
    args[11] = "0 >> 22 & 0x3c @ 12 & 0xffffff00 = 0x100100".into();
    assert_eq!(nf.run_command(&args), Ok(String::new()));
    assert_eq!(run(&mut nf, "-t mangle -S OUTPUT"), "-P OUTPUT ACCEPT\n");
}

#[test]
fn overlay_mark_rule_marks_only_its_own_vni() {
    let mut nf = Netfilter::new();
    run(&mut nf, OVERLAY_MARK);
    // Counts the datagrams too short to hold a VNI word.
    run(&mut nf, "-t mangle -A OUTPUT -m u32 ! --u32 0>>22&0x3C@12=0:0xffffffff");
    assert_eq!(output_mark(&mut nf, &vxlan_datagram(4097)), 13681891);
    assert_eq!(output_mark(&mut nf, &vxlan_datagram(4098)), 0);
    // Four bytes of UDP payload: the VNI word would be read past the end.
    let mut short = vxlan_datagram(4097);
    if let crate::wire::IpPayload::Udp(udp) = &mut short.payload {
        udp.payload = crate::wire::UdpPayload::Raw(vec![8, 0, 0, 0]);
    }
    assert_eq!(output_mark(&mut nf, &short), 0);
    let rows: Vec<String> = run(&mut nf, "-t mangle -nvxL OUTPUT")
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    // What xt_u32 counted for a VNI 4097 datagram and a short one sent in a scratch namespace.
    assert_eq!(rows, ["1 134", "1 32"]);
}

#[test]
fn u32_option_errors_are_iptables_texts() {
    let mut nf = Netfilter::new();
    let err = |nf: &mut Netfilter, line: &str| {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        nf.run_command(&args).expect_err(line).message
    };
    let try_help = "Try `iptables -h' or 'iptables --help' for more information.";
    assert_eq!(
        err(&mut nf, "-t mangle -A OUTPUT -m u32 -j ACCEPT"),
        format!("iptables v1.8.7 (legacy): u32: option \"--u32\" must be specified\n\n{try_help}")
    );
    assert_eq!(
        err(&mut nf, "-t mangle -A OUTPUT -m u32 --u32 0=1 ! --u32 0=2"),
        format!(
            "iptables v1.8.7 (legacy): u32: option \"--u32\" can only be used once.\n\n{try_help}"
        )
    );
    // Kernels with the 2026 shift-count fix (this machine's 6.18) refuse the rule on commit.
    let e = nf.run_command(&["-A", "OUTPUT", "-m", "u32", "--u32", "0<<32=0"].map(String::from));
    let invalid = "iptables: Invalid argument. Run `dmesg' for more information.";
    assert_eq!(e.map_err(|e| (e.message, e.exit_code)), Err((invalid.to_string(), 1)));
    assert_eq!(
        err(&mut nf, "-t mangle -A OUTPUT -m u32 --u32 bogus"),
        format!(
            "iptables v1.8.7 (legacy): u32: at char 0: not a number or out of range\n{try_help}"
        )
    );
}
