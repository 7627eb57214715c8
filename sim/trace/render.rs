//! The trace as text: each leg (request, reply) under a header naming the packet, its hops
//! grouped by machine and namespace, each hop with its time since the probe started, the
//! device, the stage and what happened; a line where a frame goes onto an underlay LAN.

use std::fmt::Write;

use crate::engine::{SimTime, TracedHop, World};
use crate::fabric::Port;
use crate::kernel::{LinkKind, NsRef, Stage};

use super::follow::Leg;

/// Where the probe started, for naming legs "request" or "reply".
pub(super) struct Start<'a> {
    pub machine: &'a str,
    pub ns: &'a NsRef,
    pub at: SimTime,
}

pub(super) fn legs(world: &World, legs: &[Leg], start: &Start) -> String {
    let mut s = String::new();
    for (i, leg) in legs.iter().enumerate() {
        let first = leg.hops[0];
        let role = if first.machine == start.machine && &first.hop.ns == start.ns {
            "request"
        } else {
            "reply"
        };
        let _ = writeln!(s, "Packet {} ({role}): {}", i + 1, packet_line(leg));
        s += &hops(world, &leg.hops, start.at);
        s.push('\n');
    }
    s
}

/// The packet as tcpdump shows it on its first wire, else as its socket sent it.
fn packet_line(leg: &Leg) -> String {
    let on_wire = leg
        .hops
        .iter()
        .find(|h| matches!(h.hop.stage, Stage::Tx | Stage::Rx) && h.hop.detail.starts_with("IP "));
    let h = on_wire.unwrap_or(&leg.hops[0]);
    h.hop.detail.lines().next().unwrap_or_default().to_string()
}

fn hops(world: &World, hops: &[&TracedHop], t0: SimTime) -> String {
    let mut s = String::new();
    let mut place: Option<(&str, &NsRef)> = None;
    for h in hops {
        let here = (h.machine.as_str(), &h.hop.ns);
        if place != Some(here) {
            let _ = writeln!(s, "  {} · {}", h.machine, ns_label(world, &h.machine, &h.hop.ns));
            place = Some(here);
        }
        let at = h.hop.at.since(t0).as_nanos();
        let time = format!("{}.{:03}ms", at / 1_000_000, at % 1_000_000 / 1_000);
        let mut lines = h.hop.detail.lines();
        let first = lines.next().unwrap_or_default();
        let stage = h.hop.stage.to_string();
        let _ = writeln!(s, "    {time:>9}  {:<15} {stage:<9} {first}", h.hop.dev);
        for more in lines {
            let _ = writeln!(s, "    {:>9}  {:<15} {:<9} {more}", "", "", "");
        }
        if let Some(lan) = underlay(world, h) {
            let _ = writeln!(s, "    {:>9}  {:<15} {:<9} onto the underlay LAN {lan}", "", "", "");
        }
    }
    s
}

/// The underlay segment a frame sent on a machine's NIC goes onto.
fn underlay<'w>(world: &'w World, h: &TracedHop) -> Option<&'w str> {
    if h.hop.stage != Stage::Tx || h.hop.ns != NsRef::Root {
        return None;
    }
    let machine = world.machine_index(&h.machine)?;
    let root = world.machines[machine].kernel.root();
    let ifindex = root.ifindex(&h.hop.dev)?;
    if root.links.get(&ifindex)?.kind != LinkKind::Ethernet {
        return None;
    }
    world.fabric.segment_of(Port { machine, ifindex })
}

/// A namespace as a reader knows it: `(host)`, `ingress_sbox`, a container's name, or an
/// overlay network's name.
pub(super) fn ns_label(world: &World, machine: &str, ns: &NsRef) -> String {
    let NsRef::Named(name) = ns else { return ns.to_string() };
    let daemon = world.machine_index(machine).and_then(|m| world.machines[m].daemon.as_ref());
    let Some(d) = daemon else { return name.clone() };
    if let Some(c) = d.containers().find(|c| c.ns().as_ref() == Some(ns)) {
        return format!("container {} ({name})", c.name);
    }
    let overlay = name.strip_prefix("1-").and_then(|id| {
        d.swarm_networks().into_iter().find(|n| n.id.starts_with(id)).map(|n| n.name.clone())
    });
    match overlay {
        Some(net) => format!("overlay {net} ({name})"),
        None => name.clone(),
    }
}
