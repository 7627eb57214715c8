//! The overlay's forwarding state follows NetworkDB, through the whole stack: a random swarm
//! (one manager, 2–4 workers, two overlays) runs random services while random faults hit
//! the underlay — packet loss up to 30 %, partitions, workers crashing for good — and the
//! manager creates, scales and removes services meanwhile. The scenario is YAML, run by the
//! same runner as `cargo run`, so a failing case prints a file that replays it.
//!
//! - (a) After every step, on every running node, each overlay namespace's `vxlan0` holds
//!   exactly the remote endpoints of that network's `overlay_peer_table` in the node's own
//!   NetworkDB: one permanent FDB entry (MAC → VTEP) and one permanent neighbour (IP → MAC)
//!   each, and nothing else. The driver programs the kernel from NetworkDB events alone,
//!   so this holds at every instant, not only once things settle.
//! - (b) Once the faults heal and the underlay is loss-free for `SETTLE_S`, each of those
//!   tables names exactly the endpoints that exist on the other running nodes (tasks and
//!   load-balancer endpoints): NetworkDB converged, dropped the crashed nodes' entries, and
//!   so did the kernel.
//!
//! `PROPTEST_CASES` sets the number of cases (default 24).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use swarmsim::docker::{Daemon, Driver, Network, PeerRecord, PEER_TABLE};
use swarmsim::engine::{Machine, World};
use swarmsim::kernel::{LinkKind, NeighState, Netns};
use swarmsim::runner::{self, command::check as check_command};
use swarmsim::scenario;
use swarmsim::wire::MacAddr;

const NETWORKS: [&str; 2] = ["blue", "red"];
const SETTLE_S: u64 = 180;

/// One change to the swarm or the underlay, each followed by a wait.
#[derive(Debug, Clone)]
enum Action {
    /// Workers (by index, 1-based among the hosts) cut off from the rest.
    Partition(Vec<usize>),
    Heal,
    LossPct(u8),
    Crash(usize),
    Create {
        network: usize,
        replicas: u8,
    },
    Scale {
        service: usize,
        replicas: u8,
    },
    Remove(usize),
}

#[derive(Debug, Clone)]
struct Plan {
    hosts: usize,
    initial: Vec<(usize, u8)>,
    actions: Vec<(Action, u8)>,
    seed: u64,
}

fn action(hosts: usize) -> impl Strategy<Value = Action> {
    prop_oneof![
        prop::collection::vec(0..hosts, 1..hosts).prop_map(|mut v| {
            v.sort_unstable();
            v.dedup();
            Action::Partition(v)
        }),
        Just(Action::Heal),
        (0..=30u8).prop_map(Action::LossPct),
        (1..hosts).prop_map(Action::Crash),
        (0..NETWORKS.len(), 0..=4u8)
            .prop_map(|(network, replicas)| Action::Create { network, replicas }),
        (0..6usize, 0..=5u8).prop_map(|(service, replicas)| Action::Scale { service, replicas }),
        (0..6usize).prop_map(Action::Remove),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    (3..=5usize).prop_flat_map(|hosts| {
        let initial = prop::collection::vec((0..NETWORKS.len(), 1..=4u8), 1..=2);
        let actions = prop::collection::vec((action(hosts), 2..=20u8), 4..14);
        (initial, actions, any::<u64>()).prop_map(move |(initial, actions, seed)| Plan {
            hosts,
            initial,
            actions,
            seed,
        })
    })
}

fn host_name(i: usize) -> String {
    if i == 0 {
        "manager".into()
    } else {
        format!("worker{i}")
    }
}

/// The scenario a plan describes, as a user would write it. Service numbers that were never
/// created, or are gone, are skipped; at least the manager and one worker keep running.
fn scenario_yaml(plan: &Plan) -> String {
    let mut y = format!(
        "name: fdb-props\nseed: {}\nunderlay:\n  networks:\n    - {{name: lan, subnet: 10.10.0.0/24, latency: 0.5ms}}\nhosts:\n",
        plan.seed
    );
    for i in 0..plan.hosts {
        writeln!(y, "  - {{name: {}, ip: 10.10.0.{}}}", host_name(i), 11 + i).unwrap();
    }
    y.push_str("steps:\n  - {on: manager, run: docker swarm init --advertise-addr 10.10.0.11}\n");
    for i in 1..plan.hosts {
        let join = "docker swarm join --token ${WORKER_TOKEN} 10.10.0.11:2377";
        writeln!(y, "  - {{on: {}, run: '{join}'}}", host_name(i)).unwrap();
    }
    for net in NETWORKS {
        writeln!(y, "  - {{on: manager, run: docker network create -d overlay {net}}}").unwrap();
    }
    let mut services: Vec<bool> = Vec::new();
    for &(network, replicas) in &plan.initial {
        create(&mut y, &mut services, network, replicas);
    }
    y.push_str("  - wait: 10s\n");
    let mut crashed: Vec<usize> = Vec::new();
    for (action, wait) in &plan.actions {
        act(&mut y, &mut services, &mut crashed, plan.hosts, action);
        writeln!(y, "  - wait: {wait}s").unwrap();
    }
    writeln!(y, "  - fault: heal\n  - fault: {{link: {{network: lan, loss: 0%}}}}").unwrap();
    writeln!(y, "  - wait: {SETTLE_S}s").unwrap();
    y
}

fn act(
    y: &mut String,
    services: &mut Vec<bool>,
    crashed: &mut Vec<usize>,
    hosts: usize,
    a: &Action,
) {
    let live = |s: usize| services.get(s).copied().unwrap_or(false);
    match a {
        Action::Partition(cut) => {
            let names: Vec<String> = cut.iter().map(|&i| host_name(i)).collect();
            writeln!(y, "  - fault: {{partition: [[{}]]}}", names.join(", ")).unwrap();
        }
        Action::Heal => y.push_str("  - fault: heal\n"),
        Action::LossPct(p) => {
            writeln!(y, "  - fault: {{link: {{network: lan, loss: {p}%}}}}").unwrap();
        }
        Action::Crash(w) if !crashed.contains(w) && crashed.len() + 2 < hosts => {
            crashed.push(*w);
            writeln!(y, "  - fault: {{crash: {}}}", host_name(*w)).unwrap();
        }
        Action::Crash(_) => {}
        Action::Create { network, replicas } => create(y, services, *network, *replicas),
        Action::Scale { service, replicas } if live(*service) => {
            let cmd = format!("docker service scale --detach s{service}={replicas}");
            writeln!(y, "  - {{on: manager, run: {cmd}}}").unwrap();
        }
        Action::Remove(service) if live(*service) => {
            services[*service] = false;
            writeln!(y, "  - {{on: manager, run: docker service rm s{service}}}").unwrap();
        }
        Action::Scale { .. } | Action::Remove(_) => {}
    }
}

fn create(y: &mut String, services: &mut Vec<bool>, network: usize, replicas: u8) {
    let (name, net) = (services.len(), NETWORKS[network]);
    services.push(true);
    let cmd = format!(
        "docker service create --detach --name s{name} --network {net} --replicas {replicas} ubuntu sleep infinity"
    );
    writeln!(y, "  - {{on: manager, run: {cmd}}}").unwrap();
}

/// A node's view of one overlay: remote endpoints as (IP, MAC, VTEP).
type Peers = BTreeMap<Ipv4Addr, (MacAddr, Ipv4Addr)>;

/// What the overlay's namespace programs on `vxlan0`: its permanent neighbours joined to
/// its FDB. Entries of either table without a partner in the other come out under
/// `0.0.0.0` or with VTEP `0.0.0.0`, so they show up as differences.
fn kernel_peers(ns: &Netns) -> Peers {
    let vx = ns.links.values().find(|l| matches!(l.kind, LinkKind::Vxlan(_))).expect("vxlan0");
    let LinkKind::Vxlan(v) = &vx.kind else { unreachable!() };
    let fdb: BTreeMap<MacAddr, Ipv4Addr> =
        v.fdb.iter().filter(|(_, e)| e.permanent).map(|(m, e)| (*m, e.dst)).collect();
    let mut peers = Peers::new();
    for ((dev, ip), state) in &ns.neigh.entries {
        if let (true, NeighState::Permanent { mac }) = (*dev == vx.ifindex, state) {
            peers.insert(*ip, (*mac, fdb.get(mac).copied().unwrap_or(Ipv4Addr::UNSPECIFIED)));
        }
    }
    for (mac, dst) in fdb {
        if !peers.values().any(|(m, _)| *m == mac) {
            peers.insert(Ipv4Addr::UNSPECIFIED, (mac, dst));
        }
    }
    peers
}

/// The remote endpoints of `network` that the node's NetworkDB holds.
fn networkdb_peers(daemon: &Daemon, network: &Network, own_vtep: Ipv4Addr) -> Peers {
    let db = daemon.network_db().expect("a swarm node");
    db.network_view(&network.id)
        .iter()
        .filter(|((table, _), _)| table == PEER_TABLE)
        .filter_map(|(_, (value, _))| PeerRecord::decode(value))
        .filter(|p| p.tunnel_endpoint_ip != own_vtep)
        .map(|p| (p.endpoint_ip.addr(), (p.endpoint_mac, p.tunnel_endpoint_ip)))
        .collect()
}

/// Running swarm nodes with their VTEP (the host's address).
fn running(world: &World) -> impl Iterator<Item = (&Machine, &Daemon, Ipv4Addr)> {
    world.machines.iter().filter(|m| !m.crashed).filter_map(|m| {
        let daemon = m.daemon.as_ref()?;
        daemon.network_db()?;
        Some((m, daemon, host_ip(m)))
    })
}

fn host_ip(m: &Machine) -> Ipv4Addr {
    let i: usize = m.name.strip_prefix("worker").map_or(0, |n| n.parse().expect("worker N"));
    Ipv4Addr::new(10, 10, 0, 11 + i as u8)
}

/// Each running node's overlays that have a namespace here, with the namespace.
fn overlays<'w>(m: &'w Machine, d: &'w Daemon) -> impl Iterator<Item = (&'w Network, &'w Netns)> {
    d.networks().filter(|n| n.driver == Driver::Overlay).filter_map(|n| {
        let key = format!("1-{}", &n.id[..10]);
        m.kernel.namespaces.iter().find(|(r, _)| r.to_string() == key).map(|(_, ns)| (n, ns))
    })
}

/// (a): the kernel matches the node's NetworkDB.
fn kernel_follows_networkdb(world: &World) -> Result<(), String> {
    for (m, d, vtep) in running(world) {
        for (net, ns) in overlays(m, d) {
            let (kernel, db) = (kernel_peers(ns), networkdb_peers(d, net, vtep));
            if kernel != db {
                return Err(format!(
                    "{} {} at {}: kernel {kernel:?} != networkdb {db:?}",
                    m.name,
                    net.name,
                    world.now()
                ));
            }
        }
    }
    Ok(())
}

/// (b): the kernel names exactly the endpoints on the other running nodes.
fn kernel_matches_the_cluster(world: &World) -> Result<(), String> {
    let all: Vec<_> = running(world).collect();
    for (m, d, vtep) in &all {
        for (net, ns) in overlays(m, d) {
            let mut truth = Peers::new();
            for (_, other, other_vtep) in all.iter().filter(|(_, _, v)| v != vtep) {
                let Some(remote) = other.networks().find(|n| n.id == net.id) else { continue };
                for ep in remote.endpoints.values().chain(remote.lb_endpoint()) {
                    truth.insert(ep.addr.addr(), (ep.mac, *other_vtep));
                }
            }
            let kernel = kernel_peers(ns);
            if kernel != truth {
                return Err(format!(
                    "{} {}: kernel {kernel:?} != cluster {truth:?}",
                    m.name, net.name
                ));
            }
        }
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24);
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(0xFDB), ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn vxlan_fdb_follows_networkdb_under_faults(plan in plan()) {
        let yaml = scenario_yaml(&plan);
        let sc = scenario::parse(&yaml, "fdb-props.yaml", &check_command)
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let mut first_violation = None;
        let (_, world) = runner::run_observing(&sc, sc.seed, |world| {
            if first_violation.is_none() {
                first_violation = kernel_follows_networkdb(world).err();
            }
        })
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        prop_assert!(first_violation.is_none(), "{}\n{yaml}", first_violation.unwrap_or_default());
        let settled = kernel_matches_the_cluster(&world);
        prop_assert!(settled.is_ok(), "{}\n{yaml}", settled.err().unwrap_or_default());
    }
}
