//! Property tests of `proto::raft`: a 3- or 5-node cluster under message loss, delay,
//! duplication, reordering, partitions that come and go, crashes and restarts, and random
//! proposals, with checkers outside the nodes (TigerBeetle VOPR style).
//!
//! Checked continuously: election safety (one leader per term), log matching, leader
//! completeness, state-machine safety (the apply streams agree index by index and each
//! node's stream continues across restarts with no gap, repeat or change). Checked at the
//! end: liveness — once every fault heals (all nodes up, no partition, no loss), a leader
//! known to every node is in place within `LEADER_BOUND_TICKS`, and an entry it is then
//! handed is applied everywhere within `COMMIT_BOUND_TICKS`.
//!
//! One tick is 10 ms; nodes use swarmkit's config (election 10–19 ticks, heartbeat 1 tick,
//! CheckQuorum). A failing case prints its seed and fault schedule, and proptest shrinks the
//! schedule. `PROPTEST_CASES` sets the number of cases (default 48).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use swarmsim::engine::{RngStream, Streams};
use swarmsim::proto::raft::{Config, Entry, Message, NodeId, Output, Persistent, RaftNode, Role};

const TICK_US: u64 = 10_000;
/// Faults happen during the first `FAULT_TICKS` ticks; then everything heals.
const FAULT_TICKS: u64 = 300;
/// After healing, a leader must be agreed on within 200 ticks (about 13 mean election
/// timeouts). Raft's liveness is probabilistic, and without PreVote (swarmkit has it off) a
/// node with a stale log that keeps timing out disrupts the others: every Vote of a higher
/// term resets their election timers (etcd `becomeFollower` → `reset`), so an election may
/// take several rounds. The long run's distribution is in book/src/raft.md.
const LEADER_BOUND_TICKS: u64 = 200;
const COMMIT_BOUND_TICKS: u64 = 20;
/// One-way message delay, uniform (µs): up to two ticks, so messages reorder.
const DELAY_US: (u64, u64) = (500, 20_000);

#[derive(Debug, Clone)]
enum Fault {
    Crash(usize),
    Restart(usize),
    /// Nodes whose bit is set are cut off from the others.
    Partition(u8),
    Heal,
    Propose(usize, u8),
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    nodes: usize,
    loss_pct: u64,
    dup_pct: u64,
    faults: Vec<(u64, Fault)>,
}

#[derive(Debug)]
enum Ev {
    Tick(NodeId),
    Deliver(Message<u64>),
}

/// The cluster and the world around it.
struct Sim {
    case: Case,
    rng: RngStream,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    up: BTreeMap<NodeId, RaftNode<u64>>,
    down: BTreeMap<NodeId, Persistent<u64>>,
    incarnations: BTreeMap<NodeId, u32>,
    cut: u8,
    healed: bool,
    next_data: u64,
    check: Checker,
}

/// What the checkers remember across the run.
#[derive(Default)]
struct Checker {
    leader_of_term: BTreeMap<u64, NodeId>,
    /// The one committed sequence, index 1 at position 0.
    committed: Vec<Entry<u64>>,
    /// For each committed index, the smallest term a node had when it applied it: every
    /// leader of a higher term must hold that entry.
    committed_term: Vec<u64>,
    next_apply: BTreeMap<NodeId, u64>,
}

fn ids(n: usize) -> Vec<NodeId> {
    (1..=n as u64).collect()
}

impl Sim {
    fn new(case: Case) -> Sim {
        let streams = Streams::new(case.seed);
        let mut sim = Sim {
            rng: streams.stream("world"),
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            up: BTreeMap::new(),
            down: BTreeMap::new(),
            incarnations: BTreeMap::new(),
            cut: 0,
            healed: false,
            next_data: 1,
            check: Checker::default(),
            case,
        };
        let all = ids(sim.case.nodes);
        for &id in &all {
            let node = RaftNode::new(Config::swarmkit(id), &all, sim.node_rng(id));
            sim.up.insert(id, node);
            sim.check.next_apply.insert(id, 1);
            let phase = sim.rng.range_u64(0, TICK_US);
            sim.schedule(phase, Ev::Tick(id));
        }
        sim
    }

    fn node_rng(&mut self, id: NodeId) -> RngStream {
        let n = self.incarnations.entry(id).or_insert(0);
        *n += 1;
        Streams::new(self.case.seed).stream(&format!("raft/{id}/{n}"))
    }

    fn schedule(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn separated(&self, a: NodeId, b: NodeId) -> bool {
        let side = |id: NodeId| self.cut & (1 << (id - 1)) != 0;
        side(a) != side(b)
    }

    fn percent(&mut self, pct: u64) -> bool {
        !self.healed && self.rng.range_u64(0, 100) < pct
    }

    fn send(&mut self, msg: Message<u64>) {
        if self.separated(msg.from, msg.to) || self.percent(self.case.loss_pct) {
            return;
        }
        let copies = if self.percent(self.case.dup_pct) { 2 } else { 1 };
        for _ in 0..copies {
            let at = self.now + self.rng.range_u64(DELAY_US.0, DELAY_US.1 + 1);
            self.schedule(at, Ev::Deliver(msg.clone()));
        }
    }

    fn run_node(&mut self, id: NodeId, f: impl FnOnce(&mut RaftNode<u64>, &mut Vec<Output<u64>>)) {
        let Some(node) = self.up.get_mut(&id) else { return };
        let mut out = Vec::new();
        f(node, &mut out);
        let term = node.term();
        for o in out {
            match o {
                Output::Send(m) => self.send(m),
                Output::Commit(e) => self.check.on_commit(id, term, e),
            }
        }
        let node = &self.up[&id];
        self.check.on_state(node);
    }

    /// Runs events up to `until` (µs), applying faults at tick boundaries.
    fn run_until(&mut self, until: u64) {
        while let Some((&(at, seq), _)) = self.queue.first_key_value() {
            if at > until {
                break;
            }
            let ev = self.queue.remove(&(at, seq)).expect("present");
            self.faults_between(self.now, at);
            self.now = at;
            match ev {
                Ev::Tick(id) => {
                    self.schedule(at + TICK_US, Ev::Tick(id));
                    self.run_node(id, |n, out| n.tick(out));
                }
                Ev::Deliver(m) => {
                    if !self.separated(m.from, m.to) {
                        let to = m.to;
                        self.run_node(to, |n, out| n.step(m, out));
                    }
                }
            }
        }
        self.faults_between(self.now, until);
        self.now = until;
    }

    fn faults_between(&mut self, from: u64, to: u64) {
        let (first, last) = (from / TICK_US, to / TICK_US);
        if first == last {
            return;
        }
        self.check.logs(&self.up);
        let due: Vec<Fault> = self
            .case
            .faults
            .iter()
            .filter(|(tick, _)| first < *tick && *tick <= last)
            .map(|(_, f)| f.clone())
            .collect();
        for f in due {
            self.apply_fault(f);
        }
        if self.rng.range_u64(0, 100) < 20 && !self.healed {
            let target = self.rng.range_u64(1, self.case.nodes as u64 + 1);
            self.propose(target);
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        let nodes = self.case.nodes;
        let pick = |i: usize| (i % nodes) as u64 + 1;
        match fault {
            Fault::Crash(i) => self.crash(pick(i)),
            Fault::Restart(i) => self.restart(pick(i)),
            Fault::Partition(mask) => self.cut = mask & ((1 << self.case.nodes) - 1),
            Fault::Heal => self.cut = 0,
            Fault::Propose(i, k) => {
                for _ in 0..k {
                    self.propose(pick(i));
                }
            }
        }
    }

    fn crash(&mut self, id: NodeId) {
        if let Some(node) = self.up.remove(&id) {
            self.down.insert(id, node.persistent());
        }
    }

    fn restart(&mut self, id: NodeId) {
        if let Some(saved) = self.down.remove(&id) {
            self.check.next_apply.insert(id, saved.commit + 1);
            let node = RaftNode::restart(Config::swarmkit(id), saved, self.node_rng(id));
            self.up.insert(id, node);
        }
    }

    fn propose(&mut self, id: NodeId) -> Option<u64> {
        let data = self.next_data;
        self.next_data += 1;
        let mut index = None;
        self.run_node(id, |n, out| index = n.propose(data, out).ok());
        index
    }

    fn heal(&mut self) {
        self.healed = true;
        self.cut = 0;
        let down: Vec<NodeId> = self.down.keys().copied().collect();
        for id in down {
            self.restart(id);
        }
    }

    /// The leader every node follows in the leader's own term and heard within the last two
    /// ticks (the longest message delay), if any. A node cut off from a leader still names
    /// it until it times out; when it does, its higher term deposes the leader through the
    /// CheckQuorum answer to a stale heartbeat, as in etcd.
    fn agreed_leader(&self) -> Option<NodeId> {
        let leader = self.up.values().find(|n| n.role() == Role::Leader)?;
        let (id, term) = (leader.id(), leader.term());
        let follows = |n: &RaftNode<u64>| {
            n.leader() == Some(id) && n.term() == term && n.ticks_without_leader() <= 2
        };
        self.up.values().all(follows).then_some(id)
    }

    /// Heals everything, then checks that a leader emerges and commits a new entry.
    fn liveness(&mut self) {
        self.heal();
        let healed_at = self.now;
        let leader = loop {
            if let Some(l) = self.agreed_leader() {
                if std::env::var_os("RAFT_PROPS_STATS").is_some() {
                    eprintln!("ticks-to-leader {}", (self.now - healed_at) / TICK_US);
                }
                break l;
            }
            let elapsed = (self.now - healed_at) / TICK_US;
            assert!(elapsed < LEADER_BOUND_TICKS, "no agreed leader {elapsed} ticks after healing");
            self.run_until(self.now + TICK_US);
        };
        let data = self.next_data;
        self.propose(leader);
        let proposed_at = self.now;
        let n = self.case.nodes as u64;
        while !(1..=n).all(|id| self.check.applied(id, data)) {
            let elapsed = (self.now - proposed_at) / TICK_US;
            assert!(
                elapsed < COMMIT_BOUND_TICKS,
                "entry {data} not applied everywhere in {elapsed} ticks"
            );
            self.run_until(self.now + TICK_US);
        }
    }
}

impl Checker {
    /// State-machine safety: each node's stream continues where it stopped (even across a
    /// restart), and every node applies the same entry at each index.
    fn on_commit(&mut self, id: NodeId, term: u64, e: Entry<u64>) {
        let next = self.next_apply.get_mut(&id).expect("known node");
        assert_eq!(e.index, *next, "node {id} applied out of order");
        *next += 1;
        let i = e.index as usize - 1;
        if i < self.committed.len() {
            assert_eq!(self.committed[i], e, "node {id} applied a different entry");
            self.committed_term[i] = self.committed_term[i].min(term);
        } else {
            assert_eq!(i, self.committed.len(), "a gap in the committed sequence");
            self.committed.push(e);
            self.committed_term.push(term);
        }
    }

    fn applied(&self, id: NodeId, data: u64) -> bool {
        let applied = self.next_apply[&id] - 1;
        self.committed[..applied as usize]
            .iter()
            .any(|e| e.kind == swarmsim::proto::raft::EntryKind::Normal(data))
    }

    /// Election safety, and leader completeness for a leader.
    fn on_state(&mut self, node: &RaftNode<u64>) {
        if node.role() != Role::Leader {
            return;
        }
        let first = *self.leader_of_term.entry(node.term()).or_insert(node.id());
        assert_eq!(first, node.id(), "two leaders in term {}", node.term());
        for (i, e) in self.committed.iter().enumerate() {
            if self.committed_term[i] < node.term() {
                assert_eq!(
                    node.log().get(i),
                    Some(e),
                    "leader {} lacks a committed entry",
                    node.id()
                );
            }
        }
    }

    /// Log matching: two logs with an entry of the same index and term agree up to it.
    fn logs(&self, nodes: &BTreeMap<NodeId, RaftNode<u64>>) {
        let logs: Vec<&[Entry<u64>]> = nodes.values().map(|n| n.log()).collect();
        for (a, la) in logs.iter().enumerate() {
            for lb in &logs[a + 1..] {
                let common = la.len().min(lb.len());
                if let Some(i) = (0..common).rev().find(|&i| la[i].term == lb[i].term) {
                    assert_eq!(la[..=i], lb[..=i], "log matching broken at index {}", i + 1);
                }
            }
        }
    }
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (0..5usize).prop_map(Fault::Crash),
        (0..5usize).prop_map(Fault::Restart),
        (1..31u8).prop_map(Fault::Partition),
        Just(Fault::Heal),
        (0..5usize, 1..6u8).prop_map(|(i, k)| Fault::Propose(i, k)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        prop_oneof![Just(3usize), Just(5usize)],
        0..30u64,
        0..10u64,
        prop::collection::vec((1..FAULT_TICKS, fault()), 0..16),
    )
        .prop_map(|(seed, nodes, loss_pct, dup_pct, faults)| Case {
            seed,
            nodes,
            loss_pct,
            dup_pct,
            faults,
        })
}

/// 48 cases from a fixed proptest seed unless `PROPTEST_CASES` / `PROPTEST_RNG_SEED` say
/// otherwise, so the default run is the same every time.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig { failure_persistence: None, ..ProptestConfig::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 48;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x5eed);
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn raft_is_safe_under_faults_and_live_after_healing(case in case()) {
        let mut sim = Sim::new(case);
        sim.run_until(FAULT_TICKS * TICK_US);
        sim.liveness();
        sim.check.logs(&sim.up);
    }
}

/// A fixed, fault-free case: one leader, everything applied everywhere.
#[test]
fn quiet_cluster_elects_and_applies() {
    let case = Case { seed: 7, nodes: 5, loss_pct: 0, dup_pct: 0, faults: Vec::new() };
    let mut sim = Sim::new(case);
    sim.run_until(FAULT_TICKS * TICK_US);
    assert!(sim.agreed_leader().is_some());
    assert!(sim.check.committed.len() > 40, "random proposals were committed");
    let terms: BTreeSet<u64> = sim.check.leader_of_term.keys().copied().collect();
    assert_eq!(terms.len(), 1, "no fault, no second election: {terms:?}");
    sim.liveness();
}
