//! The overlay's FDB follows NetworkDB through a partition (scenarios/overlay-partition.yaml):
//! while worker2 is cut off, the manager's vxlan0 loses worker2's endpoint; after the heal
//! it holds worker2's new endpoint again. The scenario runs twice: cut short after the 60 s
//! of partition, and whole; the same seed makes the first run a prefix of the second.

use std::net::Ipv4Addr;

use swarmsim::engine::World;
use swarmsim::kernel::LinkKind;
use swarmsim::runner;
use swarmsim::runner::command::check as check_command;
use swarmsim::scenario::{self, StepKind};

const WORKER2: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 13);

/// The VTEPs the manager's overlay namespace tunnels to, from its vxlan0 FDB.
fn manager_vteps(world: &World) -> Vec<Ipv4Addr> {
    let m = world.machines.iter().find(|m| m.name == "manager").expect("manager");
    let ns = m.kernel.namespaces.iter().find(|(r, _)| r.to_string().starts_with("1-"));
    let (_, ns) = ns.expect("the overlay's namespace");
    let vx = ns.links.values().find(|l| matches!(l.kind, LinkKind::Vxlan(_))).expect("vxlan0");
    let LinkKind::Vxlan(v) = &vx.kind else { unreachable!() };
    v.fdb.values().filter(|e| e.permanent).map(|e| e.dst).collect()
}

#[test]
fn worker2_leaves_the_fdb_during_the_cut_and_returns_after_the_heal() {
    let sc =
        scenario::load(std::path::Path::new("scenarios/overlay-partition.yaml"), &check_command)
            .expect("valid scenario");
    let heal = sc.steps.iter().position(|s| s.kind == StepKind::Fault(scenario::Fault::Heal));
    let mut cut = sc.clone();
    cut.steps.truncate(heal.expect("the scenario heals"));
    let (_, during) = runner::run_keeping_world(&cut, sc.seed).expect("runs");
    let (outcome, after) = runner::run_keeping_world(&sc, sc.seed).expect("runs");
    assert!(outcome.checks.iter().all(|c| c.held), "the scenario's own checks hold");
    assert!(!manager_vteps(&during).contains(&WORKER2), "{:?}", manager_vteps(&during));
    assert!(manager_vteps(&after).contains(&WORKER2), "{:?}", manager_vteps(&after));
}
