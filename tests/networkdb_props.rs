//! NetworkDB converges: after random creates, updates and deletes on several nodes, with
//! gossip messages lost at random, and a partition that later heals, every member of the
//! network ends with the same view of it once the network runs loss-free for a while
//! (periodic bulk sync repairs what gossip lost).
//!
//! And the reconnect path: a node cut off by a partition, or frozen (a crash the node comes
//! back from with its state), is declared failed by the others — which drop its entries —
//! and after healing its peers' `reconnectNode` Join it again (the harness plays memberlist:
//! a Join answered by a reachable node reports each side to the other and exchanges their
//! push/pull states); its entries reappear everywhere and all views converge.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use proptest::prelude::*;
use swarmsim::engine::{SimDuration, SimTime, Streams};
use swarmsim::proto::networkdb::{Message, NetworkDb, NodeState, Output, Transport};

const NODES: usize = 4;
const T: &str = "endpoint_table";

#[derive(Debug, Clone)]
enum Op {
    Create(usize, u8),
    Update(usize, u8),
    Delete(usize, u8),
}

struct Net {
    dbs: Vec<NetworkDb>,
    now: SimTime,
    rng: swarmsim::engine::RngStream,
    /// Percent of gossip (UDP) sends lost.
    loss_pct: u64,
    /// Nodes cut off from the others (messages across the cut are dropped).
    cut: Vec<usize>,
    /// Frozen nodes: no timers, nothing in or out.
    frozen: Vec<usize>,
}

fn addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i as u8 + 1)
}

fn name(i: usize) -> String {
    format!("node{i}")
}

impl Net {
    fn new(seed: u64) -> Net {
        let streams = Streams::new(seed);
        let mut dbs: Vec<NetworkDb> = (0..NODES)
            .map(|i| {
                let name = format!("node{i}");
                NetworkDb::new(&name, addr(i), SimTime::ZERO, streams.stream(&name))
            })
            .collect();
        let mut out = Vec::new();
        for (i, db) in dbs.iter_mut().enumerate() {
            for j in (0..NODES).filter(|&j| j != i) {
                db.node_joined(&format!("node{j}"), addr(j), &mut out);
            }
        }
        let rng = streams.stream("bus");
        let mut net =
            Net { dbs, now: SimTime::ZERO, rng, loss_pct: 0, cut: Vec::new(), frozen: Vec::new() };
        for i in 0..NODES {
            let mut out = Vec::new();
            net.dbs[i].join_network(SimTime::ZERO, "n", &mut out);
            net.route(i, out);
        }
        net
    }

    fn blocked(&mut self, a: usize, b: usize, transport: Option<Transport>) -> bool {
        if self.cut.contains(&a) != self.cut.contains(&b)
            || self.frozen.contains(&a)
            || self.frozen.contains(&b)
        {
            return true;
        }
        transport == Some(Transport::Udp) && self.rng.range_u64(0, 100) < self.loss_pct
    }

    fn route(&mut self, from: usize, out: Vec<Output>) {
        let mut queue: VecDeque<(usize, Output)> = out.into_iter().map(|o| (from, o)).collect();
        while let Some((src, o)) = queue.pop_front() {
            let targets: Vec<(usize, Option<Transport>, Message)> = match o {
                Output::Send { to, transport, msg } => {
                    let i = to.trim_start_matches("node").parse().expect("node name");
                    vec![(i, Some(transport), msg)]
                }
                Output::Broadcast(msg) => {
                    (0..NODES).filter(|&i| i != src).map(|i| (i, None, msg.clone())).collect()
                }
                Output::Watch(_) => vec![],
                Output::Join(addrs) => {
                    for a in addrs {
                        let j = usize::from(a.octets()[3]) - 1;
                        if !self.blocked(src, j, Some(Transport::Tcp)) {
                            self.member_join(src, j, &mut queue);
                        }
                    }
                    vec![]
                }
            };
            for (i, transport, msg) in targets {
                if self.blocked(src, i, transport) {
                    continue;
                }
                let mut more = Vec::new();
                self.dbs[i].handle_message(self.now, msg, &mut more);
                queue.extend(more.into_iter().map(|o| (i, o)));
            }
        }
    }

    /// memberlist `Join` of `j` by `i`, answered: `j` merges `i`'s push/pull, `i` merges
    /// `j`'s answer; each first reports the other alive if it did not count it so.
    fn member_join(&mut self, i: usize, j: usize, queue: &mut VecDeque<(usize, Output)>) {
        for (me, peer, join) in [(j, i, true), (i, j, false)] {
            let mut out = Vec::new();
            let active = self.dbs[me].node(&name(peer)).map(|n| n.state);
            if active != Some(NodeState::Active) {
                self.dbs[me].node_joined(&name(peer), addr(peer), &mut out);
            }
            let state = self.dbs[peer].local_state(join);
            self.dbs[me].merge_remote_state(state, &mut out);
            queue.extend(out.into_iter().map(|o| (me, o)));
        }
    }

    /// Every node outside `gone` declares the nodes of `gone` failed, and, if `mutual`,
    /// the other way round (a partition; a frozen node notices nothing).
    fn declare_failed(&mut self, gone: &[usize], mutual: bool) {
        for i in 0..NODES {
            let mut out = Vec::new();
            for j in 0..NODES {
                let across = gone.contains(&i) != gone.contains(&j);
                if across && (!gone.contains(&i) || mutual) {
                    self.dbs[i].node_failed(&name(j), &mut out);
                }
            }
            self.route(i, out);
        }
    }

    fn run_until(&mut self, until: SimTime) {
        loop {
            let live = (0..NODES).filter(|i| !self.frozen.contains(i));
            let next = live.map(|i| self.dbs[i].next_timeout()).min().expect("a live node");
            if next > until {
                break;
            }
            self.now = next;
            for i in 0..NODES {
                if self.frozen.contains(&i) {
                    continue;
                }
                if self.dbs[i].next_timeout() <= self.now {
                    let mut out = Vec::new();
                    self.dbs[i].handle_timeout(self.now, &mut out);
                    self.route(i, out);
                }
            }
        }
        self.now = until;
    }

    fn apply(&mut self, op: &Op) {
        let (Op::Create(n, _) | Op::Update(n, _) | Op::Delete(n, _)) = *op;
        if self.frozen.contains(&n) {
            return;
        }
        // Keys are per writer, as Docker's are (endpoint IDs): two nodes writing one key at
        // the same Lamport time would keep their own versions forever, in the real code too.
        // Refused writes (a create over an existing key, …) are part of the workload.
        let _ = match *op {
            Op::Create(n, k) => self.dbs[n].create_entry(T, "n", &format!("{n}-{k}"), vec![k]),
            Op::Update(n, k) => self.dbs[n].update_entry(T, "n", &format!("{n}-{k}"), vec![k, 1]),
            Op::Delete(n, k) => self.dbs[n].delete_entry(T, "n", &format!("{n}-{k}")),
        };
    }
}

fn op() -> impl Strategy<Value = Op> {
    (0..3u8, 0..NODES, 0..6u8).prop_map(|(kind, n, k)| match kind {
        0 => Op::Create(n, k),
        1 => Op::Update(n, k),
        _ => Op::Delete(n, k),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn views_converge_after_loss_and_a_healed_partition(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..30),
        loss_pct in 0..60u64,
        cut in 0..NODES,
    ) {
        let mut net = Net::new(seed);
        net.loss_pct = loss_pct;
        let step = SimDuration::from_millis(150);
        for (i, op) in ops.iter().enumerate() {
            if i == ops.len() / 2 {
                net.cut = vec![cut];
            }
            net.apply(op);
            let until = net.now + step;
            net.run_until(until);
        }
        net.cut.clear();
        net.loss_pct = 0;
        // Several periodic bulk syncs (every 30 s, to one random peer each) after healing.
        let until = net.now + SimDuration::from_secs(300);
        net.run_until(until);
        let first = net.dbs[0].network_view("n");
        for db in &net.dbs[1..] {
            prop_assert_eq!(&db.network_view("n"), &first, "{} differs", db.name());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_node_declared_failed_comes_back_through_reconnect(
        seed in any::<u64>(),
        before in prop::collection::vec(op(), 1..12),
        during in prop::collection::vec(op(), 0..12),
        loss_pct in 0..40u64,
        victim in 0..NODES,
        frozen in any::<bool>(),
    ) {
        let mut net = Net::new(seed);
        net.loss_pct = loss_pct;
        let step = SimDuration::from_millis(150);
        for op in &before {
            net.apply(op);
            let until = net.now + step;
            net.run_until(until);
        }
        let until = net.now + SimDuration::from_secs(40);
        net.run_until(until);
        let own_before = net.dbs[victim].network_view("n");
        if frozen {
            net.frozen = vec![victim];
        } else {
            net.cut = vec![victim];
        }
        net.declare_failed(&[victim], !frozen);
        let v = name(victim);
        let others: Vec<usize> = (0..NODES).filter(|&i| i != victim).collect();
        for &i in &others {
            let view = net.dbs[i].network_view("n");
            prop_assert!(view.values().all(|(_, owner)| *owner != v), "node{} kept {}'s", i, v);
        }
        for op in &during {
            net.apply(op);
            let until = net.now + step;
            net.run_until(until);
        }
        net.cut.clear();
        net.frozen.clear();
        net.loss_pct = 0;
        let until = net.now + SimDuration::from_secs(300);
        net.run_until(until);
        let first = net.dbs[0].network_view("n");
        for db in &net.dbs[1..] {
            prop_assert_eq!(&db.network_view("n"), &first, "{} differs", db.name());
        }
        for &i in &others {
            let state = net.dbs[i].node(&v).map(|n| n.state);
            prop_assert_eq!(state, Some(NodeState::Active), "node{} about {}", i, v);
        }
        if frozen && during.is_empty() {
            // Nothing was written meanwhile: the victim's own entries are all back.
            let own: Vec<_> = own_before.iter().filter(|(_, (_, o))| *o == v).collect();
            for (k, val) in own {
                prop_assert_eq!(first.get(k), Some(val));
            }
        }
    }
}
