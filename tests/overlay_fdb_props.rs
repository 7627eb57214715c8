//! The overlay's forwarding state follows NetworkDB, through the whole stack, in the random
//! swarms of `common` (two overlays, services of idle tasks on one of them):
//!
//! - (a) After every step, on every running node, each overlay namespace's `vxlan0` holds
//!   exactly the remote endpoints of that network's `overlay_peer_table` in the node's own
//!   NetworkDB: one permanent FDB entry (MAC → VTEP) and one permanent neighbour (IP → MAC)
//!   each, and nothing else. The driver programs the kernel from NetworkDB events alone,
//!   so this holds at every instant, not only once things settle.
//! - (b) Once the faults heal and the underlay is loss-free for `SETTLE_S`, each of those
//!   tables names exactly the endpoints that exist on the other running nodes (tasks and
//!   load-balancer endpoints): NetworkDB converged, dropped the crashed nodes' entries, and
//!   so did the kernel, whatever loss the plan had. (The case with seed
//!   10890164927927010155 once broke this: a worker left an overlay and rejoined it at once,
//!   its leave went out after the rejoin, and the manager turned the worker's new entries
//!   into tombstones; memberlist's queue drops the leave once the rejoin is queued, see
//!   `networkdb::Broadcasts`.)
//!
//! `PROPTEST_CASES` sets the number of cases (default 24).

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use common::{fail, netns, plan, run_checked, running, scenario_yaml, service_name, ServiceKind};
use proptest::prelude::*;
use swarmsim::docker::{Daemon, Driver, Network, PeerRecord, PEER_TABLE};
use swarmsim::engine::{Machine, World};
use swarmsim::kernel::{LinkKind, NeighState, Netns};
use swarmsim::wire::MacAddr;

const NETWORKS: [&str; 2] = ["blue", "red"];

/// A service of idle tasks on one of the overlays.
#[derive(Debug, Clone)]
struct OnNetwork {
    network: usize,
    replicas: u8,
}

impl ServiceKind for OnNetwork {
    fn create_steps(&self, index: usize) -> (String, bool) {
        let (name, net, replicas) = (service_name(index), NETWORKS[self.network], self.replicas);
        let cmd = format!(
            "docker service create --detach --name {name} --network {net} --replicas {replicas} ubuntu sleep infinity"
        );
        (format!("  - {{on: manager, run: {cmd}}}\n"), true)
    }
}

fn on_network(replicas: std::ops::RangeInclusive<u8>) -> impl Strategy<Value = OnNetwork> + Clone {
    (0..NETWORKS.len(), replicas).prop_map(|(network, replicas)| OnNetwork { network, replicas })
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

/// Each running node's overlays that have a namespace here, with the namespace.
fn overlays<'w>(m: &'w Machine, d: &'w Daemon) -> impl Iterator<Item = (&'w Network, &'w Netns)> {
    d.networks()
        .filter(|n| n.driver == Driver::Overlay)
        .filter_map(|n| netns(m, &format!("1-{}", &n.id[..10])).map(|ns| (n, ns)))
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

proptest! {
    #![proptest_config(common::config(24, 0xFDB))]

    #[test]
    fn vxlan_fdb_follows_networkdb_under_faults(
        plan in plan(on_network(1..=4), 1..=2, on_network(0..=4), 30)
    ) {
        let yaml = scenario_yaml("fdb-props", &NETWORKS, &plan);
        let (_, world) = run_checked(&yaml, kernel_follows_networkdb)?;
        kernel_matches_the_cluster(&world).map_err(|e| fail(&e, &yaml))?;
    }
}
