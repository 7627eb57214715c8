//! Differential test: real Linux is the oracle.
//!
//! `scenarios/differential-bridge.yaml` runs in the simulator. Its data plane — the underlay
//! and every KernelOp dockerd issued — is then rebuilt in real network namespaces on this
//! machine (`swarmsim::kernel::export`), with a relay wherever the simulator runs
//! docker-proxy. The same TCP probes run on both sides: a server records the source address
//! of every client it accepts, a client reports how its attempt ended. The two tables must
//! be identical, row for row.
//!
//! Needs root, iproute2, iptables, procps and python3 (`.ci/run` installs them). It never
//! skips: without them it fails saying what to install.

#[path = "differential/real.rs"]
mod real;

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use swarmsim::check::peer::{Attempt, PeerClient, PeerServer, CONNECT_TIMEOUT, LINGER};
use swarmsim::engine::{SimDuration, World};
use swarmsim::kernel::export::{Export, Nic, NsNames};
use swarmsim::kernel::process::ResolvConf;
use swarmsim::kernel::{KernelOp, NsRef};
use swarmsim::runner::{self, Outcome};

use real::{RealLab, RealProbe};

const SCENARIO: &str = "scenarios/differential-bridge.yaml";

/// One probe: a client in `from` connects to `to`; the server listens on 0.0.0.0:`port`
/// in `server`. Endpoints are machine or container names.
struct Probe {
    what: &'static str,
    from: &'static str,
    to: (&'static str, u16),
    server: &'static str,
    port: u16,
}

const fn probe(
    what: &'static str,
    from: &'static str,
    to: (&'static str, u16),
    server: &'static str,
    port: u16,
) -> Probe {
    Probe { what, from, to, server, port }
}

/// d1 is on the default bridge (published 8081→80), r1 and r2 on `red` (r1 published
/// 8080→80), b1 on `blue`, q1 and q2 on `quiet` (enable_icc=false); the host is 10.0.2.15,
/// the client 10.0.2.100 on the same LAN.
const PROBES: &[Probe] = &[
    probe("published port from the LAN", "client", ("10.0.2.15", 8080), "r1", 80),
    probe("default-bridge published port from the LAN", "client", ("10.0.2.15", 8081), "d1", 80),
    probe("container address from the LAN", "client", ("172.18.0.2", 80), "r1", 80),
    probe("container to the LAN (masqueraded)", "r1", ("10.0.2.100", 9000), "client", 9000),
    probe("same user bridge", "r2", ("172.18.0.2", 80), "r1", 80),
    probe("across two user bridges", "b1", ("172.18.0.2", 80), "r1", 80),
    probe("user bridge to default bridge", "r1", ("172.17.0.2", 80), "d1", 80),
    probe("default bridge to user bridge", "d1", ("172.18.0.2", 80), "r1", 80),
    probe("same bridge, inter-container traffic off", "q2", ("172.20.0.2", 80), "q1", 80),
    probe("icc off, to the LAN", "q1", ("10.0.2.100", 9000), "client", 9000),
    probe("host's address on another bridge", "r1", ("172.17.0.1", 9000), "docker-host", 9000),
    probe("host's LAN address", "r1", ("10.0.2.15", 9000), "docker-host", 9000),
    probe("another bridge's published port", "r1", ("10.0.2.15", 8081), "d1", 80),
    probe("own bridge's published port (hairpin)", "r2", ("10.0.2.15", 8080), "r1", 80),
    probe("own published port", "r1", ("10.0.2.15", 8080), "r1", 80),
    probe("host to own published port", "docker-host", ("10.0.2.15", 8080), "r1", 80),
    probe("host to published port on loopback", "docker-host", ("127.0.0.1", 8080), "r1", 80),
    probe("host to a container directly", "docker-host", ("172.18.0.2", 80), "r1", 80),
];

/// The container addresses the probe table is written for, checked against the model.
const ADDRESSES: [(&str, &str); 6] = [
    ("d1", "172.17.0.2"),
    ("r1", "172.18.0.2"),
    ("r2", "172.18.0.3"),
    ("b1", "172.19.0.2"),
    ("q1", "172.20.0.2"),
    ("q2", "172.20.0.3"),
];

/// What one probe showed: how the client's attempt ended, and who the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    attempt: Attempt,
    seen: Vec<Ipv4Addr>,
}

impl From<RealProbe> for Row {
    fn from(p: RealProbe) -> Row {
        Row { attempt: p.attempt, seen: p.seen }
    }
}

#[test]
fn real_linux_agrees_with_the_model_probe_by_probe() {
    real::preflight();
    let scenario = swarmsim::scenario::load(Path::new(SCENARIO), &runner::command::check)
        .unwrap_or_else(|e| panic!("{e}"));
    let (outcome, mut world) = runner::run_keeping_world(&scenario, scenario.seed).expect("runs");
    assert!(outcome.all_held(), "the scenario's own checks must hold");
    check_addresses(&world);
    let model: Vec<Row> = PROBES.iter().map(|p| model_probe(&mut world, p)).collect();

    let export = export(&world, &outcome, &NsNames::new(&format!("swd{}", std::process::id())));
    let mut lab = RealLab::build(&export.script(), export.namespaces());
    start_proxies(&mut lab, &world, &outcome, export.names());
    let real: Vec<Row> = PROBES
        .iter()
        .map(|p| {
            let (from, server) = (
                real_ns(&world, export.names(), p.from),
                real_ns(&world, export.names(), p.server),
            );
            lab.probe(&from, (ip(p.to.0), p.to.1), &server, p.port).into()
        })
        .collect();
    drop(lab);
    println!("{}", table(&model, &real));
    assert!(model == real, "the model and real Linux disagree:\n{}", table(&model, &real));
}

/// Both tables side by side, disagreeing rows marked `<>`.
fn table(model: &[Row], real: &[Row]) -> String {
    let cell = |r: &Row| {
        let seen: Vec<String> = r.seen.iter().map(Ipv4Addr::to_string).collect();
        let seen = if seen.is_empty() { "-".to_string() } else { seen.join(",") };
        format!("{:<11} {:<12}", r.attempt.to_string(), seen)
    };
    let whats: Vec<String> = PROBES
        .iter()
        .map(|p| format!("{} -> {}:{} ({})", p.from, p.to.0, p.to.1, p.what))
        .collect();
    let w = whats.iter().map(String::len).max().unwrap_or(0);
    let mut out = format!("{:<w$} {:<24}    {}\n", "probe", "model (saw)", "real Linux (saw)");
    for ((what, m), r) in whats.iter().zip(model).zip(real) {
        let mark = if m == r { "  " } else { "<>" };
        writeln!(out, "{what:<w$} {} {mark} {}", cell(m), cell(r)).expect("to a String");
    }
    out
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("the probe table holds addresses")
}

/// The machine and namespace of an endpoint: a machine's root, or a container's sandbox.
fn locate(world: &World, name: &str) -> (usize, NsRef) {
    if let Some(m) = world.machine_index(name) {
        return (m, NsRef::Root);
    }
    let found = world.machines.iter().enumerate().find_map(|(m, machine)| {
        let c = machine.daemon.as_ref()?.container(name)?;
        Some((m, c.ns().expect("containers on a bridge have a namespace")))
    });
    found.unwrap_or_else(|| panic!("no machine or container named {name}"))
}

fn real_ns(world: &World, names: &NsNames, endpoint: &str) -> String {
    let (m, ns) = locate(world, endpoint);
    names.of(&world.machines[m].name, &ns)
}

fn check_addresses(world: &World) {
    for (name, want) in ADDRESSES {
        let (m, _) = locate(world, name);
        let d = world.machines[m].daemon.as_ref().expect("a Docker host");
        let c = d.container(name).expect("located above");
        let got: Vec<Ipv4Addr> = d.addresses(c).into_iter().map(|(_, a)| a).collect();
        assert_eq!(got, [ip(want)], "{name}'s addresses: the probe table assumes {want}");
    }
}

/// The same probe through the model: a `PeerServer` and a `PeerClient` in the world.
fn model_probe(world: &mut World, p: &Probe) -> Row {
    let (sm, sns) = locate(world, p.server);
    let server = PeerServer::new(Ipv4Addr::UNSPECIFIED, p.port);
    let spid = world.spawn(sm, sns, Box::new(server), ResolvConf::default(), None);
    assert_eq!(
        world.machines[sm].procs[&spid].exit, None,
        "{}: port {} is taken",
        p.server, p.port
    );
    let (cm, cns) = locate(world, p.from);
    let client = PeerClient::new((ip(p.to.0), p.to.1));
    let cpid = world.spawn(cm, cns, Box::new(client), ResolvConf::default(), None);
    let budget = CONNECT_TIMEOUT + LINGER + SimDuration::from_secs(1);
    let code = world.run_until_exit(cm, cpid, budget).expect("within the run limits");
    world.kill(cm, cpid);
    let log = world.kill(sm, spid).expect("spawned above").stdout;
    Row { attempt: Attempt::from_exit(code), seen: PeerServer::peers(&log) }
}

/// The script for real Linux: every LAN and machine, then the ops in the order the model
/// applied them (dockerd's start-up, then each command's).
fn export(world: &World, outcome: &Outcome, names: &NsNames) -> Export {
    let mut e = Export::new(names.clone());
    let nics: Vec<Nic> = (0..world.machines.len()).flat_map(|m| real::nics(world, m)).collect();
    let mut lans: Vec<&str> = nics.iter().map(|n| n.lan.as_str()).collect();
    lans.dedup();
    lans.iter().for_each(|l| e.lan(l));
    world.machines.iter().for_each(|m| e.machine(&m.name));
    nics.iter().for_each(|n| e.nic(n));
    for (machine, ops) in &outcome.startup_ops {
        e.ops(machine, ops);
    }
    for entry in &outcome.entries {
        e.ops(&entry.machine, &entry.ops);
    }
    e
}

/// The published ports the ops leave in place: with the userland proxy on, Docker starts
/// one docker-proxy per DNAT rule it appends to `nat DOCKER` (libnetwork's portmapper
/// programs both together), listening on the rule's host address and port.
fn published(ops: &[KernelOp]) -> Vec<((Ipv4Addr, u16), (Ipv4Addr, u16))> {
    let mut live = Vec::new();
    for op in ops {
        let KernelOp::Iptables { args, .. } = op else { continue };
        let arg = |flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].as_str());
        let (Some("DNAT"), Some(dport), Some(to)) =
            (arg("-j"), arg("--dport"), arg("--to-destination"))
        else {
            continue;
        };
        let host_ip = match arg("-d").and_then(|d| d.split('/').next()) {
            None | Some("0") => Ipv4Addr::UNSPECIFIED,
            Some(addr) => ip(addr),
        };
        let (to_ip, to_port) = to.split_once(':').expect("DNAT to IP:PORT");
        let map =
            ((host_ip, dport.parse().expect("port")), (ip(to_ip), to_port.parse().expect("port")));
        if arg("-A") == Some("DOCKER") {
            live.push(map);
        } else if arg("-D") == Some("DOCKER") {
            live.retain(|m| *m != map);
        }
    }
    live
}

/// A relay wherever the model runs docker-proxy, checked against the model's listeners.
fn start_proxies(lab: &mut RealLab, world: &World, outcome: &Outcome, names: &NsNames) {
    for (m, machine) in world.machines.iter().enumerate() {
        let ops: Vec<KernelOp> = outcome
            .startup_ops
            .iter()
            .filter(|(name, _)| *name == machine.name)
            .flat_map(|(_, ops)| ops.clone())
            .chain(
                outcome
                    .entries
                    .iter()
                    .filter(|e| e.machine == machine.name)
                    .flat_map(|e| e.ops.clone()),
            )
            .collect();
        let maps = published(&ops);
        let mut listening: Vec<(Ipv4Addr, u16)> = root_listeners(world, m, "docker-proxy");
        let mut wanted: Vec<(Ipv4Addr, u16)> = maps.iter().map(|(host, _)| *host).collect();
        listening.sort();
        wanted.sort();
        assert_eq!(listening, wanted, "{}: docker-proxy listeners vs DNAT rules", machine.name);
        for (host, backend) in maps {
            lab.proxy(&names.of(&machine.name, &NsRef::Root), host, backend);
        }
    }
}

/// The TCP ports processes named `name` listen on in a machine's root namespace.
fn root_listeners(world: &World, m: usize, name: &str) -> Vec<(Ipv4Addr, u16)> {
    let machine = &world.machines[m];
    machine
        .kernel
        .root()
        .sockets
        .listeners()
        .into_iter()
        .filter(|(proto, _, _, pid)| {
            *proto == "tcp" && machine.procs.get(pid).is_some_and(|p| p.process.name() == name)
        })
        .map(|(_, addr, port, _)| (addr, port))
        .collect()
}
