//! Property tests of `proto::swim`: 3–16 members that start apart and join member 0, under
//! UDP loss, random one-way delays (0.1–20 ms, so messages reorder), partitions that come
//! and go, and crashes, for `FAULT_S` seconds; then every fault heals except the crashes.
//! Checkers run outside the members, on their views and their membership events.
//!
//! After healing, each member runs networkdb's `reconnectNode` (`networkdb/cluster.go`):
//! every second it joins one random node it saw fail (a Leave event with no Join since).
//! memberlist alone never merges the halves of a healed split — each side thinks the other
//! dead and stops talking to it — so without this the first property could not hold; the
//! unit test `a_healed_split_stays_split_until_someone_rejoins` shows it.
//!
//! - (a) `SETTLE_S` seconds after healing, every live member sees every live member alive;
//! - (b) by then every live member has declared each crashed member dead (it is dead or,
//!   30 s after that, forgotten);
//! - (c) in cases without partitions (the case picks its fault mix, half have none), no
//!   live member is ever declared dead by anyone. With partitions this cannot be checked
//!   from the outside: a member cut off from m declares m dead legitimately, and after the
//!   heal that news reaches members that could always reach m, which record it before m
//!   refutes (a `dead` message is believed whoever sends it). UDP loss is kept at 0–5 %: a probe fails only if the ping or its ack is lost, all three indirect
//!   paths fail too, and the TCP fallback fails (it cannot here), and even then the suspect
//!   has at least 4 s to refute; so at these rates SWIM's false-positive rate is zero.
//!
//! A failing case prints its seed and fault schedule; `PROPTEST_CASES` sets the number of
//! cases (default 48).

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use swarmsim::engine::{RngStream, SimDuration, SimTime, Streams};
use swarmsim::proto::swim::cluster::{name, Cluster};
use swarmsim::proto::swim::{Event, State};

const FAULT_S: u64 = 60;
const SETTLE_S: u64 = 120;
const S: u64 = 1_000_000_000;

#[derive(Debug, Clone)]
enum Fault {
    /// Members whose bit is set are cut off from the others.
    Partition(u16),
    Heal,
    Crash(usize),
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    nodes: usize,
    loss_pct: u64,
    partitions: bool,
    faults: Vec<(u64, Fault)>,
}

fn case() -> impl Strategy<Value = Case> {
    (any::<u64>(), 3usize..=16, 0u64..=5, any::<bool>()).prop_flat_map(
        |(seed, nodes, loss_pct, partitions)| {
            let cut = if partitions { 3 } else { 0 };
            let fault = prop_oneof![
                cut => any::<u16>().prop_map(Fault::Partition),
                2 => Just(Fault::Heal),
                1 => (1..nodes).prop_map(Fault::Crash),
            ];
            prop::collection::vec((5..FAULT_S, fault), 0..6).prop_map(move |mut faults| {
                faults.sort_by_key(|f| f.0);
                Case { seed, nodes, loss_pct, partitions, faults }
            })
        },
    )
}

struct Run {
    case: Case,
    c: Cluster,
    rng: RngStream,
    crashed: BTreeSet<usize>,
}

impl Run {
    fn new(case: Case) -> Self {
        let streams = Streams::new(case.seed);
        let delay = (SimDuration::from_micros(100), SimDuration::from_millis(20));
        let mut c = Cluster::joining(case.nodes, streams.stream("swim-props/cluster"), delay);
        c.set_udp_loss_pct(case.loss_pct);
        Run { rng: streams.stream("swim-props/reconnect"), c, case, crashed: BTreeSet::new() }
    }

    fn apply(&mut self, fault: &Fault) {
        let n = self.case.nodes;
        match *fault {
            Fault::Partition(mask) => {
                self.c.set_groups((0..n).map(|i| u8::from(mask & (1 << i) != 0)).collect());
            }
            Fault::Heal => self.c.set_groups(vec![0; n]),
            Fault::Crash(i) => {
                // Keep at least two members alive.
                if self.crashed.len() + 2 < n && self.crashed.insert(i) {
                    self.c.crash(i);
                }
            }
        }
    }

    /// Nodes member `i` saw fail and not come back, as networkdb's failedNodes.
    fn failed_nodes(&self, i: usize) -> Vec<String> {
        let mut failed = BTreeSet::new();
        for (_, m, e) in self.c.events() {
            match e {
                Event::Leave(node) if *m == i => failed.insert(node.name.clone()),
                Event::Join(node) if *m == i => failed.remove(&node.name),
                _ => false,
            };
        }
        failed.into_iter().collect()
    }

    fn reconnect(&mut self) {
        for i in 0..self.case.nodes {
            if !self.c.is_up(i) {
                continue;
            }
            let failed = self.failed_nodes(i);
            if failed.is_empty() {
                continue;
            }
            let pick = &failed[self.rng.index(failed.len())];
            let j: usize = pick[1..].parse().expect("member name");
            self.c.join(i, j);
        }
    }

    fn run(mut self) -> Result<(), TestCaseError> {
        for (at, fault) in self.case.faults.clone() {
            self.c.run_until(SimTime(at * S), |_, _| false);
            self.apply(&fault);
        }
        self.c.run_until(SimTime(FAULT_S * S), |_, _| false);
        self.c.set_groups(vec![0; self.case.nodes]);
        self.c.set_udp_loss_pct(0);
        for s in FAULT_S + 1..=FAULT_S + SETTLE_S {
            self.c.run_until(SimTime(s * S), |_, _| false);
            self.reconnect();
        }
        self.check()
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let seed = self.case.seed;
        let live: Vec<usize> = (0..self.case.nodes).filter(|i| self.c.is_up(*i)).collect();
        for &i in &live {
            let view = self.c.member(i);
            for &j in &live {
                prop_assert_eq!(
                    view.state_of(&name(j)),
                    Some(State::Alive),
                    "(a) m{} sees m{}, seed {}",
                    i,
                    j,
                    seed
                );
            }
            for &j in &self.crashed {
                let st = view.state_of(&name(j));
                prop_assert!(
                    matches!(st, None | Some(State::Dead)),
                    "(b) m{} sees crashed m{} {:?}, seed {}",
                    i,
                    j,
                    st,
                    seed
                );
            }
        }
        if self.case.partitions {
            return Ok(());
        }
        for (t, i, e) in self.c.events() {
            let Event::Leave(node) = e else { continue };
            let j: usize = node.name[1..].parse().expect("member name");
            prop_assert!(
                self.crashed.contains(&j),
                "(c) m{} declared live m{} dead at {}, seed {}",
                i,
                j,
                t,
                seed
            );
        }
        Ok(())
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48);
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(0x5713), ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn swim_converges_detects_crashes_and_spares_the_reachable(case in case()) {
        Run::new(case).run()?;
    }
}
