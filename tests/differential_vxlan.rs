//! Differential test for VXLAN: real Linux is the oracle.
//!
//! Two machines on one LAN get, through KernelOps only, what Docker's overlay driver builds
//! on each: an overlay namespace with a bridge and a VXLAN device (created in the host's
//! namespace, then moved in, so its UDP socket stays in the host's), a container behind a
//! veth, and the remote container's neighbour and FDB entries. The same ops then build
//! the same data plane in real namespaces (`swarmsim::kernel::export`). A container on one
//! machine pings the other's; both sides must answer alike, and `tcpdump -n` on the first
//! machine's underlay NIC must show the same VXLAN lines — with the outer UDP source port
//! and the ping's ICMP id masked: Linux hashes the inner flow under a per-boot random key
//! and ping draws its id, so neither can be reproduced. The views of the model are
//! compared with the real `ip` and `bridge` output too.
//!
//! Needs root, iproute2, tcpdump and iputils-ping; it fails saying so without them.

#[path = "differential/real.rs"]
mod real;

use std::net::Ipv4Addr;
use std::process::{Child, Output};

use swarmsim::engine::{Capture, Filter, SimDuration, World};
use swarmsim::kernel::export::{Export, Nic, NsNames};
use swarmsim::kernel::process::ResolvConf;
use swarmsim::kernel::tools::{Ping, PingFlavor, Resolving};
use swarmsim::kernel::views::{self, FdbFilter};
use swarmsim::kernel::{KernelOp, LinkKind, NsRef, VxlanConfig};
use swarmsim::runner;
use swarmsim::wire::{MacAddr, TcpdumpPrinter};

const TOPOLOGY: &str = "name: differential-vxlan
underlay:
  networks:
    - {name: vnet, subnet: 172.16.24.0/24, latency: 0.5ms}
externals:
  - {name: h1, ip: 172.16.24.4}
  - {name: h2, ip: 172.16.24.5}
steps: []
";

const VNI: u32 = 4097;
const OV: &str = "1-3d6ddd35f0";
const CTR: &str = "c0ffee000001";

/// One side: its underlay address, its container's address and MAC.
struct Side {
    vtep: Ipv4Addr,
    ip: Ipv4Addr,
    mac: MacAddr,
}

const SIDES: [Side; 2] = [
    Side {
        vtep: Ipv4Addr::new(172, 16, 24, 4),
        ip: Ipv4Addr::new(10, 0, 1, 3),
        mac: MacAddr([2, 0x42, 10, 0, 1, 3]),
    },
    Side {
        vtep: Ipv4Addr::new(172, 16, 24, 5),
        ip: Ipv4Addr::new(10, 0, 1, 4),
        mac: MacAddr([2, 0x42, 10, 0, 1, 4]),
    },
];

/// What libnetwork's overlay driver programs on the machine of `me` for a network with one
/// container on each machine.
fn overlay_ops(me: &Side, peer: &Side) -> Vec<KernelOp> {
    let (root, ov, c) = (NsRef::Root, NsRef::named(OV), NsRef::named(CTR));
    let s = |x: &str| x.to_string();
    let vx = "vx-001001-3d6dd";
    vec![
        KernelOp::NetnsAdd { name: s(OV) },
        KernelOp::BridgeAdd { ns: ov.clone(), name: s("br0") },
        KernelOp::AddrAdd { ns: ov.clone(), dev: s("br0"), addr: "10.0.1.1/24".parse().unwrap() },
        KernelOp::VxlanAdd {
            ns: root.clone(),
            name: s(vx),
            config: VxlanConfig::docker(VNI, 1450),
        },
        KernelOp::LinkSetNetns { ns: root, name: s(vx), target: ov.clone() },
        KernelOp::LinkRename { ns: ov.clone(), name: s(vx), new_name: s("vxlan0") },
        KernelOp::LinkSetMaster { ns: ov.clone(), name: s("vxlan0"), master: s("br0") },
        KernelOp::LinkUp { ns: ov.clone(), name: s("vxlan0") },
        KernelOp::LinkUp { ns: ov.clone(), name: s("br0") },
        KernelOp::NetnsAdd { name: s(CTR) },
        KernelOp::VethAdd { ns: ov.clone(), name: s("veth0"), peer: s("tmp0") },
        KernelOp::LinkSetMtu { ns: ov.clone(), name: s("veth0"), mtu: 1450 },
        KernelOp::LinkSetMtu { ns: ov.clone(), name: s("tmp0"), mtu: 1450 },
        KernelOp::LinkSetNetns { ns: ov.clone(), name: s("tmp0"), target: c.clone() },
        KernelOp::LinkRename { ns: c.clone(), name: s("tmp0"), new_name: s("eth0") },
        KernelOp::LinkSetMac { ns: c.clone(), name: s("eth0"), mac: me.mac },
        KernelOp::AddrAdd {
            ns: c.clone(),
            dev: s("eth0"),
            addr: format!("{}/24", me.ip).parse().unwrap(),
        },
        KernelOp::LinkUp { ns: c.clone(), name: s("eth0") },
        KernelOp::LinkUp { ns: c, name: s("lo") },
        KernelOp::LinkSetMaster { ns: ov.clone(), name: s("veth0"), master: s("br0") },
        KernelOp::LinkUp { ns: ov.clone(), name: s("veth0") },
        KernelOp::NeighAdd { ns: ov.clone(), dev: s("vxlan0"), ip: peer.ip, mac: peer.mac },
        KernelOp::FdbAdd { ns: ov, dev: s("vxlan0"), mac: peer.mac, dst: peer.vtep },
    ]
}

fn model_world() -> (World, [Vec<KernelOp>; 2]) {
    let scenario = swarmsim::scenario::parse(TOPOLOGY, "vxlan.yaml", &runner::command::check)
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, mut world) = runner::run_keeping_world(&scenario, 1).expect("runs");
    let ops = [overlay_ops(&SIDES[0], &SIDES[1]), overlay_ops(&SIDES[1], &SIDES[0])];
    for (m, ops) in ops.iter().enumerate() {
        for op in ops {
            world.machines[m].kernel.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
    }
    (world, ops)
}

/// Pings the second container from the first in the model, capturing VXLAN on h1's eth0.
fn model_ping(world: &mut World) -> (String, Vec<String>) {
    world.captures.push(Capture {
        name: "vxlan".into(),
        machine: 0,
        ns: NsRef::Root,
        iface: "eth0".into(),
        filter: Filter::parse("udp port 4789").unwrap(),
        active: true,
        frames: Vec::new(),
    });
    let args = ["-c", "2", "10.0.1.4"].map(String::from);
    let ping = Ping::parse(PingFlavor::Iputils, &args).unwrap();
    let pid = world.spawn(
        0,
        NsRef::named(CTR),
        Box::new(Resolving::new(ping)),
        ResolvConf::default(),
        None,
    );
    world.run_until_exit(0, pid, SimDuration::from_secs(30)).expect("within the limits");
    let out = world.machines[0].procs[&pid].stdout.clone();
    let mut printer = TcpdumpPrinter::new(0);
    let lines = world.captures[0].frames.iter().map(|(at, f)| printer.line(*at, f)).collect();
    (out, lines)
}

#[test]
fn real_linux_agrees_with_the_model_across_a_vxlan_overlay() {
    real::preflight();
    real::need("tcpdump", "--version", "tcpdump");
    real::need("ping", "-V", "iputils-ping");
    let (mut world, ops) = model_world();
    let names = NsNames::new(&format!("swv{}", std::process::id()));
    let export = export(&world, &ops, &names);
    let views_model = model_views(&world);
    let (model_out, model_lines) = model_ping(&mut world);

    let lab = real::RealLab::build(&export.script(), export.namespaces());
    let views_real = real_views(&names);
    let h1 = names.of("h1", &NsRef::Root);
    let tcpdump = start_tcpdump(&h1);
    let real_out =
        real::run_in(&names.of("h1", &NsRef::named(CTR)), &["ping", "-c", "2", "10.0.1.4"]);
    let real_lines = stop_tcpdump(tcpdump, &h1);
    drop(lab);

    let summary = |out: &str| {
        out.lines()
            .find(|l| l.contains("packets transmitted"))
            .map(|l| l.split(", time").next().unwrap_or(l).to_string())
    };
    let real_text = String::from_utf8_lossy(&real_out.stdout).to_string();
    assert_eq!(summary(&model_out), summary(&real_text), "model:\n{model_out}\nreal:\n{real_text}");
    assert_eq!(
        summary(&model_out).as_deref(),
        Some("2 packets transmitted, 2 received, 0% packet loss")
    );
    let model_lines: Vec<String> = model_lines.iter().map(|l| mask(l)).collect();
    println!("{}\n\n{}", model_lines.join("\n"), views_model.join("\n"));
    // Two requests and two replies, all through the tunnel.
    assert_eq!(model_lines.len(), 4, "{model_lines:?}");
    assert_eq!(model_lines, real_lines, "tcpdump -n on h1's eth0, model vs real");
    assert_eq!(views_model, views_real, "ip/bridge views, model vs real");
}

/// The script: the LAN, both machines with their NICs, then each machine's ops.
fn export(world: &World, ops: &[Vec<KernelOp>; 2], names: &NsNames) -> Export {
    let mut e = Export::new(names.clone());
    e.lan("vnet");
    for (m, machine) in world.machines.iter().enumerate() {
        e.machine(&machine.name);
        let root = machine.kernel.root();
        let nic = root.links.values().find(|l| l.kind == LinkKind::Ethernet).expect("a NIC");
        let addr = root.addrs.iter().find(|a| a.dev == nic.ifindex).expect("an address");
        e.nic(&Nic {
            machine: machine.name.clone(),
            lan: "vnet".into(),
            name: nic.name.clone(),
            mac: nic.mac,
            addr: addr.net,
            gateway: None,
        });
        e.ops(&machine.name, &ops[m]);
    }
    e
}

/// The views both sides must print alike, for h1.
fn model_views(world: &World) -> Vec<String> {
    let k = &world.machines[0].kernel;
    let ov = NsRef::named(OV);
    let dev = FdbFilter { bridge: None, dev: Some("vxlan0".into()) };
    let fdb = views::bridge_fdb(k, &ov, world.now(), &dev).unwrap();
    // The bridge learns nothing before traffic; drop the device's local address line, whose
    // MAC is random on both sides.
    let fdb: Vec<&str> = fdb.lines().filter(|l| !l.ends_with("master br0 permanent")).collect();
    vec![
        fdb.join("\n"),
        views::ip_neigh(k, &ov, Some("vxlan0")).unwrap(),
        views::vxlan_details(k, &ov, "vxlan0").unwrap(),
    ]
}

fn real_views(names: &NsNames) -> Vec<String> {
    let ov = names.of("h1", &NsRef::named(OV));
    let text = |o: Output| String::from_utf8_lossy(&o.stdout).to_string();
    let fdb = text(real::run_in(&ov, &["bridge", "fdb", "show", "dev", "vxlan0"]));
    let fdb: Vec<&str> = fdb.lines().filter(|l| !l.ends_with("master br0 permanent")).collect();
    let details = text(real::run_in(&ov, &["ip", "-d", "link", "show", "vxlan0"]));
    let vxlan_line = details.lines().find(|l| l.trim_start().starts_with("vxlan id")).unwrap_or("");
    vec![
        fdb.join("\n"),
        text(real::run_in(&ov, &["ip", "neigh", "show", "dev", "vxlan0"])),
        format!("{vxlan_line}\n"),
    ]
}

fn start_tcpdump(ns: &str) -> Child {
    real::start_text_tcpdump(ns, &["-i", "eth0", "udp", "port", "4789"])
}

/// Stops our own tcpdump and returns its lines, masked.
fn stop_tcpdump(child: Child, ns: &str) -> Vec<String> {
    let text = real::stop_text_tcpdump(child, ns);
    // A VXLAN packet's inner line follows its outer one; join them as the model prints.
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines() {
        match lines.last_mut() {
            Some(last) if !l.starts_with(|c: char| c.is_ascii_digit()) => {
                last.push('\n');
                last.push_str(l);
            }
            _ => lines.push(l.to_string()),
        }
    }
    lines.iter().map(|l| mask(l)).collect()
}

/// Drops the timestamp and masks the outer source port and the ICMP id.
fn mask(line: &str) -> String {
    let body = line.split_once(' ').map_or(line, |(_, rest)| rest);
    let mut out = Vec::new();
    for l in body.lines() {
        let words: Vec<String> = l
            .split(' ')
            .enumerate()
            .map(|(i, w)| {
                if i == 1 && w.matches('.').count() == 4 && l.contains(".4789:") {
                    let (addr, _) = w.rsplit_once('.').expect("ADDR.PORT");
                    format!("{addr}.PORT")
                } else {
                    w.to_string()
                }
            })
            .collect();
        out.push(words.join(" "));
    }
    let joined = out.join("\n");
    match joined.split_once(", id ") {
        Some((a, b)) => format!("{a}, id ID{}", &b[b.find(',').unwrap_or(b.len())..]),
        None => joined,
    }
}
