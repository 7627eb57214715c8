//! What the swarm property tests share: a random swarm (one manager, 2–4 workers, a few
//! overlays) while random faults hit the underlay — packet loss up to 30 %, partitions,
//! workers crashing for good — and the manager creates, scales and removes services. The
//! scenario is YAML, run by the same runner as `cargo run` with the test's invariant
//! checked after every step, so a failing case prints a file that replays it. The run ends
//! healed and loss-free for `SETTLE_S`, for the checks of a settled swarm.

use std::fmt::{Debug, Write as _};
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};
use swarmsim::docker::Daemon;
use swarmsim::engine::{Machine, World};
use swarmsim::kernel::Netns;
use swarmsim::runner::{self, command::check as check_command, Outcome};
use swarmsim::scenario;

/// How long the swarm runs healed and loss-free at the end.
pub const SETTLE_S: u64 = 180;

/// How one test creates its services.
pub trait ServiceKind: Debug + Clone + 'static {
    /// The YAML step list items creating service number `index` (named by
    /// [`service_name`]), and whether the service exists afterwards.
    fn create_steps(&self, index: usize) -> (String, bool);
}

pub fn service_name(index: usize) -> String {
    format!("s{index}")
}

/// One change to the swarm or the underlay, each followed by a wait.
#[derive(Debug, Clone)]
pub enum Action<S> {
    /// Hosts (by index; 0 is the manager) cut off from the rest.
    Partition(Vec<usize>),
    Heal,
    LossPct(u8),
    /// A worker, by host index.
    Crash(usize),
    Create(S),
    Scale {
        service: usize,
        replicas: u8,
    },
    Remove(usize),
}

#[derive(Debug, Clone)]
pub struct Plan<S> {
    pub hosts: usize,
    pub initial: Vec<S>,
    pub actions: Vec<(Action<S>, u8)>,
    pub seed: u64,
}

fn action<S: ServiceKind>(
    hosts: usize,
    max_loss: u8,
    create: impl Strategy<Value = S> + 'static,
) -> impl Strategy<Value = Action<S>> {
    prop_oneof![
        prop::collection::vec(0..hosts, 1..hosts).prop_map(|mut v| {
            v.sort_unstable();
            v.dedup();
            Action::Partition(v)
        }),
        Just(Action::Heal),
        (0..=max_loss).prop_map(Action::LossPct),
        (1..hosts).prop_map(Action::Crash),
        create.prop_map(Action::Create),
        (0..6usize, 0..=5u8).prop_map(|(service, replicas)| Action::Scale { service, replicas }),
        (0..6usize).prop_map(Action::Remove),
    ]
}

/// 3–5 hosts; `initial_count` services made by `initial` before 4–13 random actions, whose
/// creations come from `create`; underlay loss up to `max_loss` percent.
pub fn plan<S: ServiceKind>(
    initial: impl Strategy<Value = S> + Clone + 'static,
    initial_count: RangeInclusive<usize>,
    create: impl Strategy<Value = S> + Clone + 'static,
    max_loss: u8,
) -> impl Strategy<Value = Plan<S>> {
    (3..=5usize).prop_flat_map(move |hosts| {
        let first = prop::collection::vec(initial.clone(), initial_count.clone());
        let actions =
            prop::collection::vec((action(hosts, max_loss, create.clone()), 2..=20u8), 4..14);
        (first, actions, any::<u64>()).prop_map(move |(initial, actions, seed)| Plan {
            hosts,
            initial,
            actions,
            seed,
        })
    })
}

pub fn host_name(i: usize) -> String {
    if i == 0 {
        "manager".into()
    } else {
        format!("worker{i}")
    }
}

pub fn host_ip(m: &Machine) -> Ipv4Addr {
    let i: usize = m.name.strip_prefix("worker").map_or(0, |n| n.parse().expect("worker N"));
    Ipv4Addr::new(10, 10, 0, 11 + i as u8)
}

/// The scenario a plan describes, as a user would write it, with `networks` as its
/// overlays. Service numbers that were never created, or are gone, are skipped; at least
/// the manager and one worker keep running.
pub fn scenario_yaml<S: ServiceKind>(name: &str, networks: &[&str], plan: &Plan<S>) -> String {
    let mut y = format!(
        "name: {name}\nseed: {}\nunderlay:\n  networks:\n    - {{name: lan, subnet: 10.10.0.0/24, latency: 0.5ms}}\nhosts:\n",
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
    for net in networks {
        writeln!(y, "  - {{on: manager, run: docker network create -d overlay {net}}}").unwrap();
    }
    let mut swarm = Swarm { y, services: Vec::new(), crashed: Vec::new(), hosts: plan.hosts };
    for s in &plan.initial {
        swarm.create(s);
    }
    swarm.y.push_str("  - wait: 10s\n");
    for (action, wait) in &plan.actions {
        swarm.act(action);
        writeln!(swarm.y, "  - wait: {wait}s").unwrap();
    }
    let mut y = swarm.y;
    writeln!(y, "  - fault: heal\n  - fault: {{link: {{network: lan, loss: 0%}}}}").unwrap();
    writeln!(y, "  - wait: {SETTLE_S}s").unwrap();
    y
}

/// The scenario being written, and what it has done so far.
struct Swarm {
    y: String,
    /// Whether each service number exists.
    services: Vec<bool>,
    crashed: Vec<usize>,
    hosts: usize,
}

impl Swarm {
    fn create<S: ServiceKind>(&mut self, s: &S) {
        let (steps, exists) = s.create_steps(self.services.len());
        self.y.push_str(&steps);
        self.services.push(exists);
    }

    fn act<S: ServiceKind>(&mut self, a: &Action<S>) {
        let live = |s: usize| self.services.get(s).copied().unwrap_or(false);
        match a {
            Action::Partition(cut) => {
                let names: Vec<String> = cut.iter().map(|&i| host_name(i)).collect();
                writeln!(self.y, "  - fault: {{partition: [[{}]]}}", names.join(", ")).unwrap();
            }
            Action::Heal => self.y.push_str("  - fault: heal\n"),
            Action::LossPct(p) => {
                writeln!(self.y, "  - fault: {{link: {{network: lan, loss: {p}%}}}}").unwrap();
            }
            Action::Crash(w)
                if !self.crashed.contains(w) && self.crashed.len() + 2 < self.hosts =>
            {
                self.crashed.push(*w);
                writeln!(self.y, "  - fault: {{crash: {}}}", host_name(*w)).unwrap();
            }
            Action::Crash(_) => {}
            Action::Create(s) => self.create(s),
            Action::Scale { service, replicas } if live(*service) => {
                let name = service_name(*service);
                let cmd = format!("docker service scale --detach {name}={replicas}");
                writeln!(self.y, "  - {{on: manager, run: {cmd}}}").unwrap();
            }
            Action::Remove(service) if live(*service) => {
                self.services[*service] = false;
                let name = service_name(*service);
                writeln!(self.y, "  - {{on: manager, run: docker service rm {name}}}").unwrap();
            }
            Action::Scale { .. } | Action::Remove(_) => {}
        }
    }
}

/// A failed case: what broke, then the scenario that replays it.
pub fn fail(what: &str, yaml: &str) -> TestCaseError {
    TestCaseError::fail(format!("{what}\n{yaml}"))
}

/// Runs `yaml`, calling `check` after every step; the first violation fails the case.
/// Otherwise the outcome and the world as the last step left it.
pub fn run_checked(
    yaml: &str,
    mut check: impl FnMut(&World) -> Result<(), String>,
) -> Result<(Outcome, World), TestCaseError> {
    let sc = scenario::parse(yaml, "props.yaml", &check_command)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let mut first_violation = None;
    let (outcome, world) = runner::run_observing(&sc, sc.seed, |world| {
        if first_violation.is_none() {
            first_violation = check(world).err();
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    match first_violation {
        Some(v) => Err(fail(&v, yaml)),
        None => Ok((outcome, world)),
    }
}

/// Running swarm nodes with their address (their VTEP).
pub fn running(world: &World) -> impl Iterator<Item = (&Machine, &Daemon, Ipv4Addr)> {
    world.machines.iter().filter(|m| !m.crashed).filter_map(|m| {
        let daemon = m.daemon.as_ref()?;
        daemon.network_db()?;
        Some((m, daemon, host_ip(m)))
    })
}

/// A named namespace of a machine (`1-<netid>`, `lb_<netid>`, `ingress_sbox`).
pub fn netns<'m>(m: &'m Machine, name: &str) -> Option<&'m Netns> {
    m.kernel.namespaces.iter().find(|(r, _)| r.to_string() == name).map(|(_, ns)| ns)
}

/// `PROPTEST_CASES` cases (else `default_cases`), from a fixed seed.
pub fn config(default_cases: u32, seed: u64) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok());
    let cases = cases.unwrap_or(default_cases);
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(seed), ..ProptestConfig::default() }
}
