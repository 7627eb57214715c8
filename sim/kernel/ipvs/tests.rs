//! The IPVS table through `ipvsadm` and the packet API: Docker's service set-up, listings
//! byte for byte, the kernel's refusals, stickiness, quiescence and expiry.
//!
//! Expected listings follow ipvsadm 1.31's printf formats (`print_title`,
//! `print_service_entry`); the trailing blanks are its `%-10u` columns.

use std::net::Ipv4Addr;

use super::*;
use crate::engine::SimDuration;

fn at(secs: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(secs)
}

fn run(ipvs: &mut Ipvs, now: SimTime, line: &str) -> Result<String, IpvsadmError> {
    ipvs.run_command(now, &line.split_whitespace().map(String::from).collect::<Vec<_>>())
}

#[track_caller]
fn ok(ipvs: &mut Ipvs, line: &str) -> String {
    run(ipvs, at(0), line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Docker's LB namespace: `FWM 256 rr` with two masqueraded tasks.
fn docker_lb() -> Ipvs {
    let mut ipvs = Ipvs::default();
    ok(&mut ipvs, "-A -f 256 -s rr");
    ok(&mut ipvs, "-a -f 256 -r 10.0.1.3:0 -m -w 1");
    ok(&mut ipvs, "-a -f 256 -r 10.0.1.4:0 -m -w 1");
    ipvs
}

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 9);

fn syn(sport: u16) -> Flow {
    Flow {
        proto: IpProtocol::Tcp,
        src: CLIENT,
        sport,
        dst: VIP,
        dport: 80,
        tcp_flags: Some(TcpFlags::SYN),
        mark: 256,
        len: 60,
    }
}

fn with(flow: Flow, flags: TcpFlags, len: u32) -> Flow {
    Flow { tcp_flags: Some(flags), len, ..flow }
}

/// The reply to `flow` from real server `rs`.
fn reply(flow: &Flow, rs: Ipv4Addr, flags: TcpFlags, len: u32) -> Flow {
    Flow {
        src: rs,
        sport: flow.dport,
        dst: flow.src,
        dport: flow.sport,
        tcp_flags: Some(flags),
        mark: 0,
        len,
        ..*flow
    }
}

fn docker_sysctls() -> IpvsSysctls {
    IpvsSysctls { conntrack: true, conn_reuse_mode: 0, expire_nodest_conn: true }
}

/// Where a packet went, by the real server's last octet (0: not forwarded).
fn sent_to(ipvs: &mut Ipvs, now: SimTime, flow: &Flow) -> u8 {
    match ipvs.handle_in(now, flow, &docker_sysctls()) {
        InVerdict::Forward { to, .. } => to.0.octets()[3],
        _ => 0,
    }
}

#[test]
fn docker_lb_lists_like_ipvsadm_1_31() {
    let mut ipvs = docker_lb();
    assert_eq!(
        ok(&mut ipvs, "-Ln"),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         FWM  256 rr\n  \
         -> 10.0.1.3:0                   Masq    1      0          0         \n  \
         -> 10.0.1.4:0                   Masq    1      0          0         \n"
    );
    assert_eq!(ok(&mut ipvs, "-L -n"), ok(&mut ipvs, "-ln"));
    assert_eq!(
        ok(&mut ipvs, "-S -n"),
        "-A -f 256 -s rr\n-a -f 256 -r 10.0.1.3:0 -m -w 1\n-a -f 256 -r 10.0.1.4:0 -m -w 1\n"
    );
}

#[test]
fn services_sort_and_names_follow_ipvsadm() {
    let mut ipvs = Ipvs::default();
    ok(&mut ipvs, "-A -f 300 -s wrr");
    ok(&mut ipvs, "-A -u 10.0.0.1:53 -s lc");
    ok(&mut ipvs, "-A -t 10.0.0.1:80");
    ok(&mut ipvs, "-a -t 10.0.0.1:80 -r 10.0.0.7:8080 -m -w 3");
    ok(&mut ipvs, "-a -t 10.0.0.1:80 -r 10.0.0.5");
    assert_eq!(
        ok(&mut ipvs, "-L"),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  10.0.0.1:http wlc\n  \
         -> 10.0.0.5:http                Route   1      0          0         \n  \
         -> 10.0.0.7:http-alt            Masq    3      0          0         \n\
         UDP  10.0.0.1:domain lc\n\
         FWM  300 wrr\n"
    );
    assert_eq!(
        ok(&mut ipvs, "-L -n -t 10.0.0.1:80"),
        "Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  10.0.0.1:80 wlc\n  \
         -> 10.0.0.5:80                  Route   1      0          0         \n  \
         -> 10.0.0.7:8080                Masq    3      0          0         \n"
    );
}

/// `ipvs_strerror`'s texts for what the kernel refuses; ipvsadm exits with −1 (255).
#[test]
fn the_kernels_refusals_use_libipvs_texts() {
    let mut ipvs = docker_lb();
    let cases = [
        ("-A -f 256 -s rr", "Service already exists"),
        ("-A -f 257 -s bogus", "Scheduler not found"),
        ("-E -f 999 -s rr", "No such service"),
        ("-D -f 999", "No such service"),
        ("-a -f 999 -r 10.0.1.5 -m", "Service not defined"),
        ("-a -f 256 -r 10.0.1.3:0 -m", "Destination already exists"),
        ("-e -f 256 -r 10.0.1.5:0 -m -w 0", "No such destination"),
        ("-d -f 256 -r 10.0.1.5:0", "No such destination"),
        ("-d -f 999 -r 10.0.1.3:0", "Service not defined"),
        (
            "-a -f 256 -r 0.0.0.0 -m",
            "Invalid operation.  Possibly wrong module version, address not unicast, ...",
        ),
    ];
    for (line, message) in cases {
        let e = run(&mut ipvs, at(0), line).expect_err(line);
        assert_eq!((e.message.as_str(), e.exit_code), (message, 255), "{line}");
    }
    let e = run(&mut ipvs, at(0), "-L -n -f 999").unwrap_err();
    assert_eq!((e.message.as_str(), e.exit_code), ("No such service", 1));
    let e = run(&mut ipvs, at(0), "-A -f 7 -s sh").unwrap_err();
    assert_eq!(e.message, "scheduler sh is not simulated (rr, wrr, lc and wlc are)");
}

/// Connections alternate between the servers (the one added last first), every packet of
/// a connection goes where its SYN went, and replies come back from the VIP.
#[test]
fn connections_stick_to_the_server_rr_gave_them() {
    let mut ipvs = docker_lb();
    let flows: Vec<Flow> = (40001..=40004).map(syn).collect();
    let picks: Vec<u8> = flows.iter().map(|f| sent_to(&mut ipvs, at(1), f)).collect();
    assert_eq!(picks, [4, 3, 4, 3]);
    for (f, rs) in flows.iter().zip(&picks) {
        let ack = with(*f, TcpFlags::ACK, 52);
        assert_eq!(sent_to(&mut ipvs, at(2), &ack), *rs);
        let rs_ip = Ipv4Addr::new(10, 0, 1, *rs);
        let back = ipvs.handle_out(at(2), &reply(f, rs_ip, TcpFlags::SYN | TcpFlags::ACK, 60));
        assert_eq!(back, Some((VIP, 80)));
    }
    // A packet from no known connection and without SYN is not IPVS's.
    let stray = with(syn(40009), TcpFlags::ACK, 52);
    assert_eq!(ipvs.handle_in(at(2), &stray, &docker_sysctls()), InVerdict::Accept);
    // Nor is a service nobody defined (no mark, other port).
    let other = Flow { mark: 0, dport: 22, ..syn(40010) };
    assert_eq!(ipvs.handle_in(at(2), &other, &docker_sysctls()), InVerdict::Accept);
}

/// Docker's graceful removal: weight 0 takes no new connections while the existing one
/// goes on; deleting the server then drops its connection's packets and expires it.
#[test]
fn weight_zero_is_quiescent_and_delete_drops_the_connections() {
    let mut ipvs = docker_lb();
    let first = syn(40001);
    assert_eq!(sent_to(&mut ipvs, at(1), &first), 4);
    ok(&mut ipvs, "-e -f 256 -r 10.0.1.4:0 -m -w 0");
    let picks: Vec<u8> = (40002..=40004).map(|p| sent_to(&mut ipvs, at(1), &syn(p))).collect();
    assert_eq!(picks, [3, 3, 3]);
    assert_eq!(sent_to(&mut ipvs, at(2), &with(first, TcpFlags::ACK, 52)), 4);
    assert!(ok(&mut ipvs, "-Ln")
        .contains("  -> 10.0.1.4:0                   Masq    0      1          0         \n"));
    ok(&mut ipvs, "-d -f 256 -r 10.0.1.4:0");
    let verdict = ipvs.handle_in(at(3), &with(first, TcpFlags::ACK, 52), &docker_sysctls());
    assert!(matches!(verdict, InVerdict::Drop { port_unreachable: false, .. }), "{verdict:?}");
    assert_eq!(ipvs.connections().filter(|c| c.dest.0 == Ipv4Addr::new(10, 0, 1, 4)).count(), 0);
    ok(&mut ipvs, "-d -f 256 -r 10.0.1.3:0");
    let verdict = ipvs.handle_in(at(3), &syn(40005), &docker_sysctls());
    let InVerdict::Drop { detail, port_unreachable: true } = verdict else { panic!("{verdict:?}") };
    assert_eq!(detail, "IPVS FWM  256: no destination available");
}

/// ActiveConn counts ESTABLISHED connections, InActConn the rest; an idle established
/// connection expires after 900 s, a closed one 10 s after its last packet.
#[test]
fn connection_counters_and_expiry() {
    let mut ipvs = docker_lb();
    let f = syn(40001);
    sent_to(&mut ipvs, at(0), &f);
    let rs = Ipv4Addr::new(10, 0, 1, 4);
    ipvs.handle_out(at(0), &reply(&f, rs, TcpFlags::SYN | TcpFlags::ACK, 60));
    let listing = |ipvs: &mut Ipvs, t| {
        let out = run(ipvs, at(t), "-Ln").unwrap();
        out.lines().find(|l| l.contains("10.0.1.4")).unwrap().to_string()
    };
    assert_eq!(
        listing(&mut ipvs, 0),
        "  -> 10.0.1.4:0                   Masq    1      0          1         "
    );
    sent_to(&mut ipvs, at(1), &with(f, TcpFlags::ACK, 52));
    assert_eq!(
        listing(&mut ipvs, 1),
        "  -> 10.0.1.4:0                   Masq    1      1          0         "
    );
    assert_eq!(
        run(&mut ipvs, at(1), "-Lnc").unwrap(),
        "IPVS connection entries\n\
         pro expire state       source             virtual            destination\n\
         TCP 15:00  ESTABLISHED 10.0.1.9:40001     10.0.1.2:80        10.0.1.4:80\n"
    );
    assert_eq!(
        listing(&mut ipvs, 900),
        "  -> 10.0.1.4:0                   Masq    1      1          0         "
    );
    assert_eq!(
        listing(&mut ipvs, 901),
        "  -> 10.0.1.4:0                   Masq    1      0          0         "
    );
    let g = syn(40002);
    sent_to(&mut ipvs, at(1000), &g);
    let rs3 = Ipv4Addr::new(10, 0, 1, 3);
    ipvs.handle_out(at(1000), &reply(&g, rs3, TcpFlags::RST, 40));
    assert_eq!(ipvs.connections().next().unwrap().state, Some(TcpState::Close));
    assert_eq!(ipvs.connections().count(), 1);
    run(&mut ipvs, at(1010), "-Ln").unwrap();
    assert_eq!(ipvs.connections().count(), 0);
}

/// `conn_reuse_mode=1` (the default) with conntrack: a SYN reusing a TIME_WAIT connection's
/// ports is dropped and the connection expired, so the client's retransmission is scheduled
/// afresh; Docker's `conn_reuse_mode=0` keeps the old connection and its server.
#[test]
fn conn_reuse_mode_decides_what_a_reused_port_gets() {
    for (mode, first, retry) in [(1, 0, 3), (0, 4, 4)] {
        let mut ipvs = docker_lb();
        let f = syn(40001);
        sent_to(&mut ipvs, at(0), &f);
        ipvs.connections().next().unwrap();
        ipvs.conns
            .get_in(&ConnKey {
                proto: IpProtocol::Tcp,
                caddr: CLIENT,
                cport: 40001,
                vaddr: VIP,
                vport: 80,
            })
            .unwrap()
            .state = Some(TcpState::TimeWait);
        let cfg = IpvsSysctls { conn_reuse_mode: mode, ..docker_sysctls() };
        let to = |v: InVerdict| match v {
            InVerdict::Forward { to, .. } => to.0.octets()[3],
            _ => 0,
        };
        assert_eq!(to(ipvs.handle_in(at(1), &f, &cfg)), first, "mode {mode}");
        assert_eq!(to(ipvs.handle_in(at(2), &f, &cfg)), retry, "mode {mode}");
    }
}

/// `--stats` counts connections, packets and bytes both ways; `--rate` shows the 2-second
/// estimator's averages after its first tick: inpps (6 << 9) >> 2 = 768 → (768 + 0x1FF) >>
/// 10 = 1; inbps (336 << 4) >> 2 = 1344 → (1344 + 0xF) >> 5 = 42.
#[test]
fn stats_and_rates_list_like_ipvsadm() {
    let mut ipvs = docker_lb();
    for port in [40001, 40002, 40003] {
        let f = syn(port);
        let rs = Ipv4Addr::new(10, 0, 1, sent_to(&mut ipvs, at(1), &f));
        ipvs.handle_out(at(1), &reply(&f, rs, TcpFlags::SYN | TcpFlags::ACK, 60));
        sent_to(&mut ipvs, at(1), &with(f, TcpFlags::ACK, 52));
    }
    assert_eq!(
        run(&mut ipvs, at(1), "-Ln --stats").unwrap(),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
         -> RemoteAddress:Port\n\
         FWM  256                                 3        6        3      336      180\n  \
         -> 10.0.1.3:0                          1        2        1      112       60\n  \
         -> 10.0.1.4:0                          2        4        2      224      120\n"
    );
    assert_eq!(
        run(&mut ipvs, at(2), "-Ln --rate").unwrap(),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  \
         -> RemoteAddress:Port\n\
         FWM  256                                 0        1        0       42       22\n  \
         -> 10.0.1.3:0                          0        0        0       14        7\n  \
         -> 10.0.1.4:0                          0        0        0       28       15\n"
    );
    ok(&mut ipvs, "-Z");
    assert!(run(&mut ipvs, at(2), "-Ln --stats").unwrap().contains(
        "FWM  256                                 0        0        0        0        0\n"
    ));
}
