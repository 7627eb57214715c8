//! Differential test for IPv4 fragmentation and path MTU: real Linux is the oracle.
//!
//! Three namespaces on one machine, built through KernelOps only: `fa` (10.9.1.2, MTU
//! 1500) routes through `fr` to `fb` (10.9.2.2), whose link has MTU 1450. The same ops
//! build real namespaces (`swarmsim::kernel::export`). Then, in order, both sides run:
//! 1. `ping -s 1500` from `fa`: fragmented at 1500 by the sender, the first fragment again
//!    at 1450 by the router (no conntrack there, so no reassembly), reassembled by `fb`,
//!    whose reply leaves in two fragments;
//! 2. `ping -M do -s 1460` from `fa`: the router answers "fragmentation needed" (mtu 1450)
//!    to the first request, the sender learns the path MTU and refuses the second locally;
//! 3. `ping -s 1460` from `fa`: now fragmented by the sender at the learnt 1450;
//! 4. `ping -M do -s 1500` from `fb`: refused locally, mtu=1450.
//!
//! ping's output and `tcpdump -n icmp` on `fa`'s and `fb`'s interfaces must agree, with
//! round-trip times and ping's random ICMP id masked. The model's capture at `fb`, written
//! as pcap, must be one tshark reassembles: every echo whole again at its last fragment.
//! Needs root, iproute2, tcpdump, tshark and iputils-ping; it fails saying so without them.

#[path = "differential/real.rs"]
mod real;

use std::process::{Child, Command};

use swarmsim::engine::SimTime;
use swarmsim::engine::{Capture, Filter, SimDuration, World};
use swarmsim::kernel::export::{Export, NsNames};
use swarmsim::kernel::process::ResolvConf;
use swarmsim::kernel::tools::{Ping, PingFlavor, Resolving};
use swarmsim::kernel::{KernelOp, NsRef};
use swarmsim::runner;
use swarmsim::wire::{EtherPayload, EthernetFrame, IpPayload, PcapWriter, TcpdumpPrinter};

const TOPOLOGY: &str = "name: differential-frag
underlay:
  networks:
    - {name: lan, subnet: 172.16.25.0/24, latency: 0.5ms}
externals:
  - {name: h1, ip: 172.16.25.4}
steps: []
";

/// (namespace, arguments) of each ping, in order.
type Pings = [(&'static str, &'static [&'static str])];

const PINGS: [(&str, &[&str]); 4] = [
    ("fa", &["-c", "2", "-s", "1500", "10.9.2.2"]),
    ("fa", &["-c", "2", "-M", "do", "-s", "1460", "10.9.2.2"]),
    ("fa", &["-c", "1", "-s", "1460", "10.9.2.2"]),
    ("fb", &["-c", "1", "-M", "do", "-s", "1500", "10.9.1.2"]),
];

/// The two sides' capture points: (namespace, interface).
const CAPTURES: [(&str, &str); 2] = [("fa", "a0"), ("fb", "b0")];

fn ops() -> Vec<KernelOp> {
    let ns = NsRef::named;
    let s = |x: &str| x.to_string();
    let mut ops = Vec::new();
    for n in ["fa", "fr", "fb"] {
        ops.push(KernelOp::NetnsAdd { name: s(n) });
    }
    for (end, dev, peer) in [("fa", "a0", "ra"), ("fb", "b0", "rb")] {
        ops.push(KernelOp::VethAdd { ns: ns(end), name: s(dev), peer: s(peer) });
        ops.push(KernelOp::LinkSetNetns { ns: ns(end), name: s(peer), target: ns("fr") });
    }
    ops.push(KernelOp::LinkSetMtu { ns: ns("fr"), name: s("rb"), mtu: 1450 });
    ops.push(KernelOp::LinkSetMtu { ns: ns("fb"), name: s("b0"), mtu: 1450 });
    let addrs =
        [("fa", "a0", "10.9.1.2/24"), ("fr", "ra", "10.9.1.1/24"), ("fr", "rb", "10.9.2.1/24")];
    for (n, dev, addr) in addrs.into_iter().chain([("fb", "b0", "10.9.2.2/24")]) {
        ops.push(KernelOp::AddrAdd { ns: ns(n), dev: s(dev), addr: addr.parse().unwrap() });
    }
    let ups = [("fa", "a0"), ("fa", "lo"), ("fr", "ra"), ("fr", "rb"), ("fr", "lo")];
    for (n, dev) in ups.into_iter().chain([("fb", "b0"), ("fb", "lo")]) {
        ops.push(KernelOp::LinkUp { ns: ns(n), name: s(dev) });
    }
    for (n, dev, gw) in [("fa", "a0", "10.9.1.1"), ("fb", "b0", "10.9.2.1")] {
        ops.push(KernelOp::RouteAdd {
            ns: ns(n),
            dst: "0.0.0.0/0".parse().unwrap(),
            via: Some(gw.parse().unwrap()),
            dev: s(dev),
        });
    }
    ops.push(KernelOp::Sysctl { ns: ns("fr"), key: s("net.ipv4.ip_forward"), value: s("1") });
    ops
}

fn model_world(ops: &[KernelOp]) -> World {
    let scenario = swarmsim::scenario::parse(TOPOLOGY, "frag.yaml", &runner::command::check)
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, mut world) = runner::run_keeping_world(&scenario, 1).expect("runs");
    for op in ops {
        world.machines[0].kernel.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    world
}

/// With conntrack in the router (any rule matching on it turns it on), nf_defrag_ipv4
/// reassembles there and the router refragments to at most the largest fragment it got:
/// 1528 bytes reach `fb` in 2 fragments, not 3.
const CONNTRACK_PINGS: [(&str, &[&str]); 2] = [
    ("fa", &["-c", "1", "-s", "1500", "10.9.2.2"]),
    ("fa", &["-c", "1", "-s", "3000", "10.9.2.2"]),
];

/// Runs every ping in the model; their outputs and the captures' tcpdump lines.
fn model_run(world: &mut World, pings: &Pings) -> (Vec<String>, Vec<Vec<String>>) {
    let (outputs, _) = model_run_frames(world, pings);
    let lines = world
        .captures
        .iter()
        .map(|c| {
            let mut printer = TcpdumpPrinter::new(0);
            c.frames.iter().map(|(at, f)| mask_line(&printer.line(*at, f))).collect()
        })
        .collect();
    (outputs, lines)
}

/// Runs every ping in the model; their outputs and the frames captured at `fb`.
fn model_run_frames(
    world: &mut World,
    pings: &Pings,
) -> (Vec<String>, Vec<(SimTime, EthernetFrame)>) {
    for (ns, iface) in CAPTURES {
        world.captures.push(Capture {
            name: format!("{ns}-{iface}"),
            machine: 0,
            ns: NsRef::named(ns),
            iface: iface.into(),
            filter: Filter::parse("icmp").unwrap(),
            active: true,
            frames: Vec::new(),
        });
    }
    let mut outputs = Vec::new();
    for &(ns, args) in pings {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let ping = Ping::parse(PingFlavor::Iputils, &args).unwrap();
        let proc = Box::new(Resolving::new(ping));
        let pid = world.spawn(0, NsRef::named(ns), proc, ResolvConf::default(), None);
        world.run_until_exit(0, pid, SimDuration::from_secs(30)).expect("within the limits");
        outputs.push(mask_ping(&world.machines[0].procs[&pid].stdout));
    }
    (outputs, world.captures[1].frames.clone())
}

/// What tshark says about each frame: (frame number, reassembled length, ICMP type), the
/// last two empty unless the frame completes a datagram.
fn tshark_rows(frames: &[(SimTime, EthernetFrame)]) -> Vec<String> {
    let mut writer = PcapWriter::new(0);
    for (at, f) in frames {
        writer.push(*at, f);
    }
    let path = std::env::temp_dir().join(format!("swarmsim-frag-{}.pcap", std::process::id()));
    std::fs::write(&path, writer.into_bytes()).expect("write pcap");
    let fields = ["frame.number", "ip.reassembled.length", "icmp.type", "_ws.malformed"];
    let args: Vec<&str> = fields.iter().flat_map(|f| ["-e", *f]).collect();
    let out = Command::new("tshark")
        .args(["-n", "-r", path.to_str().expect("UTF-8 path"), "-T", "fields"])
        .args(args)
        .output()
        .expect("tshark runs");
    std::fs::remove_file(&path).expect("clean up");
    assert!(out.status.success(), "tshark: {}", text(&out.stderr));
    text(&out.stdout).lines().map(String::from).collect()
}

/// The rows tshark must print: a datagram's last fragment carries its whole length.
fn expected_rows(frames: &[(SimTime, EthernetFrame)]) -> Vec<String> {
    frames
        .iter()
        .enumerate()
        .map(|(i, (_, f))| {
            let EtherPayload::Ipv4(ip) = &f.payload else { panic!("icmp filter") };
            match &ip.payload {
                IpPayload::Fragment(frag) if !frag.more_fragments => {
                    let len = usize::from(frag.offset) + frag.bytes.len();
                    let ty = if ip.src.octets()[2] == 1 { 8 } else { 0 };
                    format!("{}\t{len}\t{ty}\t", i + 1)
                }
                IpPayload::Fragment(_) => format!("{}\t\t\t", i + 1),
                _ => format!("{}\t\t{}\t", i + 1, if ip.src.octets()[2] == 1 { 8 } else { 0 }),
            }
        })
        .collect()
}

#[test]
fn tshark_reassembles_the_models_fragments() {
    let ok = Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success());
    assert!(ok, "this test needs `tshark`: apt-get install -y tshark");
    let mut world = model_world(&ops());
    let (_, frames) = model_run_frames(&mut world, &PINGS);
    assert_eq!(frames.len(), 14, "ping 1: 2 × (3 + 2) fragments, ping 3: 2 + 2");
    assert_eq!(tshark_rows(&frames), expected_rows(&frames));
}

fn real_run(names: &NsNames, pings: &Pings) -> (Vec<String>, Vec<Vec<String>>) {
    let real_ns = |n: &str| names.of("h1", &NsRef::named(n));
    let dumps: Vec<Child> = CAPTURES.iter().map(|(n, i)| start_tcpdump(&real_ns(n), i)).collect();
    let mut outputs = Vec::new();
    for &(ns, args) in pings {
        let out = real::run_in(&real_ns(ns), &[&["ping"][..], args].concat());
        // ping writes its local errors to stderr; the model has one stream, in time order,
        // and they come right after the header line for a refused first request.
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        outputs.push(mask_ping(&merge_streams(&stdout, &stderr)));
    }
    let lines =
        dumps.into_iter().zip(CAPTURES).map(|(d, (n, _))| stop_tcpdump(d, &real_ns(n))).collect();
    (outputs, lines)
}

/// Runs `pings` on the model and on real namespaces built from `ops`, and asserts that
/// outputs and captures agree; returns the model's capture lines.
fn differential(tag: &str, ops: &[KernelOp], pings: &Pings) -> Vec<Vec<String>> {
    real::preflight();
    for (tool, flag, package) in
        [("tcpdump", "--version", "tcpdump"), ("ping", "-V", "iputils-ping")]
    {
        let ok = Command::new(tool).arg(flag).output().is_ok_and(|o| o.status.success());
        assert!(ok, "this test needs `{tool}`: apt-get install -y {package}");
    }
    let mut world = model_world(ops);
    let (model_out, model_lines) = model_run(&mut world, pings);
    println!("{}\n{}", model_out.join("\n"), model_lines.concat().join("\n"));

    let names = NsNames::new(&format!("sw{tag}{}", std::process::id()));
    let mut export = Export::new(names.clone());
    export.machine("h1");
    export.ops("h1", ops);
    let lab = real::RealLab::build(&export.script(), export.namespaces());
    let (real_out, real_lines) = real_run(&names, pings);
    drop(lab);

    for (i, (m, r)) in model_out.iter().zip(&real_out).enumerate() {
        assert_eq!(m, r, "ping #{} output, model vs real", i + 1);
    }
    for ((m, r), (ns, iface)) in model_lines.iter().zip(&real_lines).zip(CAPTURES) {
        assert_eq!(m, r, "tcpdump -n icmp on {ns}'s {iface}, model vs real");
    }
    model_lines
}

#[test]
fn real_linux_agrees_with_the_model_when_the_router_tracks_connections() {
    let mut ops = ops();
    let rule = "-A FORWARD -m conntrack --ctstate INVALID -j DROP";
    let args = rule.split(' ').map(String::from).collect();
    ops.push(KernelOp::Iptables { ns: NsRef::named("fr"), args });
    let lines = differential("fc", &ops, &CONNTRACK_PINGS);
    assert_eq!(
        lines[1][..2],
        [
            "IP 10.9.1.2 > 10.9.2.2: ICMP echo request, id ID, seq 1, length 1424",
            "IP 10.9.1.2 > 10.9.2.2: ip-proto-1",
        ]
    );
    assert_eq!(lines[1].len(), 4 + 6, "1528 bytes in 2 fragments, 3028 in 3; replies alike");
}

#[test]
fn real_linux_agrees_with_the_model_on_fragments_and_path_mtu() {
    let model_lines = differential("f", &ops(), &PINGS);
    // Ping 1 at fb: the router cut the sender's first fragment in two; the reply leaves fb
    // in two fragments.
    assert_eq!(
        model_lines[1][..5],
        [
            "IP 10.9.1.2 > 10.9.2.2: ICMP echo request, id ID, seq 1, length 1424",
            "IP 10.9.1.2 > 10.9.2.2: ip-proto-1",
            "IP 10.9.1.2 > 10.9.2.2: ip-proto-1",
            "IP 10.9.2.2 > 10.9.1.2: ICMP echo reply, id ID, seq 1, length 1424",
            "IP 10.9.2.2 > 10.9.1.2: ip-proto-1",
        ]
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// Puts stderr's `local error` lines where a terminal shows them in these runs: after
/// every reply or `From` line (a refused request only follows answered ones once the path
/// MTU is known), before the statistics.
fn merge_streams(stdout: &str, stderr: &str) -> String {
    let errors: String = stderr
        .lines()
        .filter(|l| l.starts_with("ping: local error"))
        .map(|l| format!("{l}\n"))
        .collect();
    match stdout.split_once("\n\n--- ") {
        Some((head, stats)) => format!("{head}\n{errors}\n--- {stats}"),
        None => format!("{stdout}{errors}"),
    }
}

/// Round-trip times and the total run time vary; the rest must match.
fn mask_ping(out: &str) -> String {
    out.lines()
        .map(|l| {
            let l = match l.split_once(" time=") {
                Some((a, _)) => format!("{a} time=T"),
                None => l.to_string(),
            };
            match l.split_once(", time ") {
                Some((a, _)) => format!("{a}, time T"),
                None if l.starts_with("rtt ") => "rtt T".to_string(),
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn start_tcpdump(ns: &str, iface: &str) -> Child {
    real::start_text_tcpdump(ns, &["-i", iface, "icmp"])
}

/// Stops our own tcpdump and returns its lines, masked.
fn stop_tcpdump(child: Child, ns: &str) -> Vec<String> {
    let text = real::stop_text_tcpdump(child, ns);
    text.lines().filter(|l| !l.is_empty()).map(mask_line).collect()
}

/// Drops the timestamp and masks the ICMP id (ping draws it at random).
fn mask_line(line: &str) -> String {
    let body = line.split_once(' ').map_or(line, |(_, rest)| rest);
    match body.split_once(", id ") {
        Some((a, b)) => format!("{a}, id ID{}", &b[b.find(',').unwrap_or(b.len())..]),
        None => body.to_string(),
    }
}
