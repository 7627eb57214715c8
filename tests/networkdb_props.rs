//! NetworkDB converges: after random creates, updates and deletes on several nodes, with
//! gossip messages lost at random, and a partition that later heals, every member of the
//! network ends with the same view of it once the network runs loss-free for a while
//! (periodic bulk sync repairs what gossip lost).

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use proptest::prelude::*;
use swarmsim::engine::{SimDuration, SimTime, Streams};
use swarmsim::proto::networkdb::{Message, NetworkDb, Output, Transport};

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
}

impl Net {
    fn new(seed: u64) -> Net {
        let streams = Streams::new(seed);
        let addr = |i: usize| Ipv4Addr::new(10, 0, 0, i as u8 + 1);
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
        let mut net = Net { dbs, now: SimTime::ZERO, rng, loss_pct: 0, cut: Vec::new() };
        for i in 0..NODES {
            let mut out = Vec::new();
            net.dbs[i].join_network(SimTime::ZERO, "n", &mut out);
            net.route(i, out);
        }
        net
    }

    fn blocked(&mut self, a: usize, b: usize, transport: Option<Transport>) -> bool {
        if self.cut.contains(&a) != self.cut.contains(&b) {
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

    fn run_until(&mut self, until: SimTime) {
        loop {
            let next = self.dbs.iter().map(NetworkDb::next_timeout).min().expect("nodes");
            if next > until {
                break;
            }
            self.now = next;
            for i in 0..NODES {
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
