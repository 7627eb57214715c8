//! Unit tests per rule, and a perfect-bus harness running several nodes.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use super::db::Reconnect;
use super::queue::retransmit_limit;
use super::*;
use crate::engine::{SimTime, Streams};

const T: &str = "endpoint_table";

fn db(name: &str) -> NetworkDb {
    let addr = Ipv4Addr::new(10, 0, 0, name.as_bytes()[0]);
    NetworkDb::new(name, addr, SimTime::ZERO, Streams::new(1).stream(name))
}

fn addr(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i)
}

/// `a` in network "n" with `peers` known to memberlist and attached to "n".
fn member_of_n(peers: &[&str]) -> NetworkDb {
    let mut a = db("a");
    let mut out = Vec::new();
    for (i, p) in peers.iter().enumerate() {
        a.node_joined(p, addr(i as u8 + 2), &mut out);
        let ev = Message::NetworkEvent {
            kind: NetworkEventType::Join,
            ltime: 1,
            node: p.to_string(),
            network: "n".into(),
        };
        a.handle_message(SimTime::ZERO, ev, &mut out);
    }
    a.join_network(SimTime::ZERO, "n", &mut out);
    a
}

fn table_event(kind: TableEventType, ltime: u64, owner: &str, value: &str) -> TableEvent {
    TableEvent {
        kind,
        ltime,
        node: owner.into(),
        network: "n".into(),
        table: T.into(),
        key: "k".into(),
        value: value.as_bytes().to_vec(),
        residual_reap_secs: if kind == TableEventType::Delete { 1800 } else { 0 },
    }
}

fn deliver(a: &mut NetworkDb, ev: TableEvent) -> Vec<Output> {
    let mut out = Vec::new();
    a.handle_message(SimTime::ZERO, Message::TableEvent(ev), &mut out);
    out
}

fn watch(op: WatchOp, value: &str, owner: &str) -> Output {
    Output::Watch(WatchEvent {
        op,
        table: T.into(),
        network: "n".into(),
        key: "k".into(),
        value: value.as_bytes().to_vec(),
        owner: owner.into(),
    })
}

#[test]
fn newer_event_wins_and_stale_one_is_dropped() {
    let mut a = member_of_n(&["b"]);
    let out = deliver(&mut a, table_event(TableEventType::Create, 5, "b", "v5"));
    assert_eq!(out, vec![watch(WatchOp::Create, "v5", "b")]);
    assert_eq!(deliver(&mut a, table_event(TableEventType::Update, 5, "b", "same")), vec![]);
    assert_eq!(deliver(&mut a, table_event(TableEventType::Update, 3, "b", "old")), vec![]);
    assert_eq!(a.get_entry(T, "n", "k"), Some(&b"v5"[..]));
    // serf's Witness: the table clock moves past the newest time seen.
    assert_eq!(a.table_clock(), 6);
}

#[test]
fn delete_of_unknown_entry_counts_only_from_bulk_sync() {
    let mut a = member_of_n(&["b"]);
    assert_eq!(deliver(&mut a, table_event(TableEventType::Delete, 4, "b", "v")), vec![]);
    assert!(a.entry(T, "n", "k").is_none());
    let sync = Message::BulkSync {
        ltime: 9,
        unsolicited: false,
        node: "b".into(),
        networks: vec!["n".into()],
        payload: vec![table_event(TableEventType::Delete, 4, "b", "v")],
    };
    let mut out = Vec::new();
    a.handle_message(SimTime::ZERO, sync, &mut out);
    // Stored as a tombstone, silently: watchers never saw the entry.
    assert_eq!(out, vec![]);
    let tomb = a.entry(T, "n", "k").expect("tombstone kept");
    assert!(tomb.deleting);
    assert_eq!(tomb.reap, SimDuration::from_secs(1800));
}

#[test]
fn newer_create_resurrects_a_tombstone() {
    let mut a = member_of_n(&["b"]);
    deliver(&mut a, table_event(TableEventType::Create, 2, "b", "v"));
    let out = deliver(&mut a, table_event(TableEventType::Delete, 3, "b", "v"));
    assert_eq!(out, vec![watch(WatchOp::Delete, "v", "b")]);
    assert_eq!(a.get_entry(T, "n", "k"), None);
    let out = deliver(&mut a, table_event(TableEventType::Create, 4, "b", "again"));
    assert_eq!(out, vec![watch(WatchOp::Create, "again", "b")]);
    assert_eq!(a.get_entry(T, "n", "k"), Some(&b"again"[..]));
}

#[test]
fn events_from_nodes_outside_the_network_are_dropped() {
    let mut a = member_of_n(&["b"]);
    let mut out = Vec::new();
    a.node_joined("c", addr(9), &mut out);
    assert_eq!(deliver(&mut a, table_event(TableEventType::Create, 2, "c", "v")), vec![]);
    assert!(a.entry(T, "n", "k").is_none());
}

#[test]
fn own_tombstone_is_reaped_after_thirty_minutes() {
    let mut a = member_of_n(&[]);
    a.create_entry(T, "n", "k", b"v".to_vec()).unwrap();
    a.delete_entry(T, "n", "k").unwrap();
    assert_eq!(
        a.create_entry(T, "n", "k", b"w".to_vec()),
        Err(DbError::EntryExists { table: T.into(), network: "n".into(), key: "k".into() })
    );
    let mut out = Vec::new();
    let mut now = SimTime::ZERO;
    // 1800 s counted down by 5 s while above 6 s (359 times, to 5 s): the 360th reap
    // (t = 1800 s) drops it.
    while now < SimTime::ZERO + SimDuration::from_secs(1799) {
        now = a.next_timeout();
        a.handle_timeout(now, &mut out);
    }
    assert!(a.entry(T, "n", "k").is_some_and(|e| e.deleting));
    while now < SimTime::ZERO + SimDuration::from_secs(1800) {
        now = a.next_timeout();
        a.handle_timeout(now, &mut out);
    }
    assert!(a.entry(T, "n", "k").is_none());
}

#[test]
fn failed_node_loses_its_entries_and_memberships() {
    let mut a = member_of_n(&["b", "c"]);
    deliver(&mut a, table_event(TableEventType::Create, 2, "b", "vb"));
    a.create_entry(T, "n", "mine", b"va".to_vec()).unwrap();
    let mut out = Vec::new();
    a.node_failed("b", &mut out);
    let node_gone = Output::Watch(WatchEvent {
        op: WatchOp::Delete,
        table: NODE_TABLE.into(),
        network: String::new(),
        key: String::new(),
        value: br#"{"Addr":"10.0.0.2"}"#.to_vec(),
        owner: String::new(),
    });
    assert_eq!(out, vec![node_gone, watch(WatchOp::Delete, "vb", "b")]);
    assert!(a.entry(T, "n", "k").is_none());
    assert_eq!(a.network_nodes("n"), ["c".to_string(), "a".to_string()]);
    assert_eq!(a.node("b").map(|n| n.state), Some(NodeState::Failed));
    assert_eq!(a.get_entry(T, "n", "mine"), Some(&b"va"[..]));
}

/// Why the queue must drop the leave: a network leave that arrives after the entries of the
/// rejoin (`handleNetworkEvent` → `deleteNodeNetworkEntries`) turns them into tombstones of
/// the same Lamport time, so the live entry bulk-synced again is not newer and is dropped.
#[test]
fn a_late_leave_buries_the_entries_written_after_the_rejoin() {
    let mut a = member_of_n(&["b"]);
    deliver(&mut a, table_event(TableEventType::Create, 7, "b", "v"));
    let mut out = Vec::new();
    for (kind, ltime) in [(NetworkEventType::Leave, 2), (NetworkEventType::Join, 3)] {
        let ev = Message::NetworkEvent { kind, ltime, node: "b".into(), network: "n".into() };
        a.handle_message(SimTime::ZERO, ev, &mut out);
    }
    assert_eq!(a.entry(T, "n", "k").map(|e| (e.ltime, e.deleting)), Some((7, true)));
    assert!(a.network_nodes("n").contains(&"b".to_string()));
    let sync = Message::BulkSync {
        ltime: 7,
        unsolicited: false,
        node: "b".into(),
        networks: vec!["n".into()],
        payload: vec![table_event(TableEventType::Create, 7, "b", "v")],
    };
    a.handle_message(SimTime::ZERO, sync, &mut out);
    assert_eq!(a.get_entry(T, "n", "k"), None);
}

/// `b` rejoining "n" in the same instant it left: `networkBroadcasts` keeps only the join
/// (`networkEventMessage.Invalidates`). Had the leave gone out after the entries `b` writes
/// on rejoining, which its faster table gossip carries, `a` would have turned them into
/// tombstones of the same Lamport time, and no gossip or bulk sync of them would have been
/// newer for 30 minutes.
#[test]
fn a_rejoin_replaces_the_queued_leave_so_new_entries_stay_live() {
    let mut a = member_of_n(&["b"]);
    let mut b = db("b");
    let mut out = Vec::new();
    b.node_joined("a", addr(1), &mut out);
    let a_in_n = Message::NetworkEvent {
        kind: NetworkEventType::Join,
        ltime: 1,
        node: "a".into(),
        network: "n".into(),
    };
    b.handle_message(SimTime::ZERO, a_in_n, &mut out);
    b.join_network(SimTime::ZERO, "n", &mut out);
    b.leave_network("n", &mut out).unwrap();
    b.join_network(SimTime::ZERO, "n", &mut out);
    b.create_entry(T, "n", "k", b"v".to_vec()).unwrap();
    let mut queue = Broadcasts::default();
    for o in out.drain(..) {
        if let Output::Broadcast(msg) = o {
            queue.queue(msg);
        }
    }
    let now = SimTime::ZERO + GOSSIP_INTERVAL;
    b.handle_timeout(now, &mut out);
    let mut seen = Vec::new();
    for o in out.drain(..) {
        if let Output::Send { to, transport: Transport::Udp, msg } = o {
            assert_eq!(to, "a");
            a.handle_message(now, msg, &mut seen);
        }
    }
    let events = queue.get_broadcasts(2, PACKET_BUFFER_SIZE, 2);
    let kinds: Vec<_> = events
        .iter()
        .filter_map(|m| match m {
            Message::NetworkEvent { kind, ltime, node, .. } if node == "b" => Some((*kind, *ltime)),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [(NetworkEventType::Join, 5)], "b's clock: 1 seen, join 3, leave 4");
    for msg in events {
        a.handle_message(now, msg, &mut seen);
    }
    assert_eq!(a.get_entry(T, "n", "k"), Some(&b"v"[..]));
    assert!(a.network_nodes("n").contains(&"b".to_string()));
}

#[test]
fn join_bulk_syncs_every_member_one_after_the_other() {
    let mut out = Vec::new();
    let mut a = db("a");
    for (i, p) in ["b", "c"].iter().enumerate() {
        a.node_joined(p, addr(i as u8 + 2), &mut out);
        let ev = Message::NetworkEvent {
            kind: NetworkEventType::Join,
            ltime: 1,
            node: p.to_string(),
            network: "n".into(),
        };
        a.handle_message(SimTime::ZERO, ev, &mut out);
    }
    out.clear();
    a.join_network(SimTime::ZERO, "n", &mut out);
    let sync_to = |to: &str| Output::Send {
        to: to.into(),
        transport: Transport::Tcp,
        msg: Message::BulkSync {
            ltime: 0,
            unsolicited: true,
            node: "a".into(),
            networks: vec!["n".into()],
            payload: vec![],
        },
    };
    let join = Output::Broadcast(Message::NetworkEvent {
        kind: NetworkEventType::Join,
        ltime: 3,
        node: "a".into(),
        network: "n".into(),
    });
    assert_eq!(out, vec![join, sync_to("b")]);
    assert!(!a.in_sync("n"));
    let answer = |from: &str| Message::BulkSync {
        ltime: 0,
        unsolicited: false,
        node: from.into(),
        networks: vec!["n".into()],
        payload: vec![],
    };
    out.clear();
    a.handle_message(SimTime::ZERO, answer("b"), &mut out);
    assert_eq!(out, vec![sync_to("c")]);
    // c never answers: after 30 s the join gives up waiting and the network is in sync.
    out.clear();
    a.handle_timeout(SimTime::ZERO + BULK_SYNC_ACK_TIMEOUT, &mut out);
    assert!(a.in_sync("n"));
}

#[test]
fn gossip_goes_to_three_peers_until_the_retransmit_limit() {
    let mut a = member_of_n(&["b", "c", "d", "e"]);
    a.create_entry(T, "n", "k", b"v".to_vec()).unwrap();
    // 5 nodes: 4 × ceil(log10(6)) = 4 sends of the event.
    assert_eq!(retransmit_limit(4, 5), 4);
    assert_eq!(retransmit_limit(4, 9), 4);
    assert_eq!(retransmit_limit(4, 10), 8);
    let mut rounds = 0;
    let mut now = SimTime::ZERO;
    while now < SimTime::ZERO + SimDuration::from_secs(2) {
        now = a.next_timeout();
        let mut out = Vec::new();
        a.handle_timeout(now, &mut out);
        let sends: Vec<&Output> = out
            .iter()
            .filter(|o| matches!(o, Output::Send { transport: Transport::Udp, .. }))
            .collect();
        if sends.is_empty() {
            continue;
        }
        rounds += 1;
        assert_eq!(sends.len(), 3);
        let mut to: Vec<&str> = sends
            .iter()
            .map(|o| match o {
                Output::Send { to, .. } => to.as_str(),
                _ => unreachable!("filtered to sends"),
            })
            .collect();
        to.sort_unstable();
        to.dedup();
        assert_eq!(to.len(), 3, "three distinct peers");
        assert!(!to.contains(&"a"));
    }
    assert_eq!(rounds, 4);
    assert_eq!(a.queued("n"), 0);
}

#[test]
fn message_sizes_follow_the_protobuf_encoding() {
    let ev = table_event(TableEventType::Create, 5, "b", "v");
    // type(2) ltime(2) node(3) network(3) table(16) key(3) value(3) = 32, envelope +4.
    assert_eq!(ev.size_bytes(), 36);
    let compound = Message::Compound(vec![Message::TableEvent(ev)]);
    assert_eq!(compound.size_bytes(), 2 + 2 + 2 + 2 + 36);
}

/// N nodes on a perfect bus: sends and broadcasts are delivered at once, in order.
struct Bus {
    dbs: Vec<NetworkDb>,
    now: SimTime,
}

impl Bus {
    fn new(n: usize) -> Bus {
        let names: Vec<String> = (0..n).map(|i| format!("node{i}")).collect();
        let streams = Streams::new(42);
        let mut dbs: Vec<NetworkDb> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                NetworkDb::new(name, addr(i as u8 + 1), SimTime::ZERO, streams.stream(name))
            })
            .collect();
        let mut out = Vec::new();
        for (i, db) in dbs.iter_mut().enumerate() {
            for (j, name) in names.iter().enumerate() {
                if i != j {
                    db.node_joined(name, addr(j as u8 + 1), &mut out);
                }
            }
        }
        Bus { dbs, now: SimTime::ZERO }
    }

    fn index(&self, name: &str) -> usize {
        self.dbs.iter().position(|d| d.name() == name).expect("known node")
    }

    fn route(&mut self, from: usize, out: Vec<Output>) {
        let mut queue: VecDeque<(usize, Output)> = out.into_iter().map(|o| (from, o)).collect();
        while let Some((src, o)) = queue.pop_front() {
            let targets: Vec<(usize, Message)> = match o {
                Output::Send { to, msg, .. } => vec![(self.index(&to), msg)],
                Output::Broadcast(msg) => {
                    (0..self.dbs.len()).filter(|&i| i != src).map(|i| (i, msg.clone())).collect()
                }
                Output::Watch(_) | Output::Join(_) => vec![],
            };
            for (i, msg) in targets {
                let mut more = Vec::new();
                self.dbs[i].handle_message(self.now, msg, &mut more);
                queue.extend(more.into_iter().map(|o| (i, o)));
            }
        }
    }

    fn join(&mut self, i: usize, network: &str) {
        let mut out = Vec::new();
        self.dbs[i].join_network(self.now, network, &mut out);
        self.route(i, out);
    }

    /// Advance to the next timer of any node and run it.
    fn step(&mut self) {
        self.now = self.dbs.iter().map(NetworkDb::next_timeout).min().expect("nodes");
        for i in 0..self.dbs.len() {
            if self.dbs[i].next_timeout() <= self.now {
                let mut out = Vec::new();
                self.dbs[i].handle_timeout(self.now, &mut out);
                self.route(i, out);
            }
        }
    }
}

#[test]
fn an_entry_reaches_every_member_and_no_one_else() {
    let mut bus = Bus::new(6);
    for i in 0..4 {
        bus.join(i, "n");
    }
    assert_eq!(bus.dbs[5].network_nodes("n").len(), 4);
    bus.dbs[0].create_entry(T, "n", "ep1", b"10.0.1.2".to_vec()).unwrap();
    // One gossip round (200 ms) to 3 random peers out of 3 reaches all of them.
    while bus.now < SimTime::ZERO + GOSSIP_INTERVAL {
        bus.step();
    }
    for i in 1..4 {
        assert_eq!(bus.dbs[i].get_entry(T, "n", "ep1"), Some(&b"10.0.1.2"[..]), "node{i}");
    }
    for i in 4..6 {
        assert!(bus.dbs[i].entry(T, "n", "ep1").is_none(), "node{i} is outside n");
    }
    bus.dbs[0].delete_entry(T, "n", "ep1").unwrap();
    while bus.now < SimTime::ZERO + GOSSIP_INTERVAL * 2 {
        bus.step();
    }
    for i in 1..4 {
        assert!(bus.dbs[i].entry(T, "n", "ep1").is_some_and(|e| e.deleting), "node{i}");
    }
}

#[test]
fn a_member_joining_late_learns_the_table_by_bulk_sync() {
    let mut bus = Bus::new(3);
    bus.join(0, "n");
    bus.dbs[0].create_entry(T, "n", "ep1", b"x".to_vec()).unwrap();
    bus.join(1, "n");
    // No gossip ran yet: the join's bulk sync alone carried the entry, and answered it.
    assert_eq!(bus.now, SimTime::ZERO);
    assert_eq!(bus.dbs[1].get_entry(T, "n", "ep1"), Some(&b"x"[..]));
    assert!(bus.dbs[1].in_sync("n"));
    assert!(bus.dbs[2].entry(T, "n", "ep1").is_none());
}

/// Run `a`'s timers up to `until`, returning each output with the instant it came out.
fn run_timers(a: &mut NetworkDb, from: SimTime, until: SimTime) -> Vec<(SimTime, Output)> {
    let mut seen = Vec::new();
    let mut now = from;
    loop {
        let next = a.next_timeout();
        if next > until {
            return seen;
        }
        now = now.max(next);
        let mut out = Vec::new();
        a.handle_timeout(now, &mut out);
        seen.extend(out.into_iter().map(|o| (now, o)));
    }
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

/// The instants of the `Join` outputs asking for exactly `addrs`.
fn joins_of(seen: &[(SimTime, Output)], addrs: &[Ipv4Addr]) -> Vec<SimTime> {
    seen.iter().filter(|(_, o)| *o == Output::Join(addrs.to_vec())).map(|(t, _)| *t).collect()
}

/// b's push/pull state as its answer to a Join: b is in network "n".
fn state_of_b(ltime: u64) -> Message {
    Message::PushPull {
        ltime,
        networks: vec![NetworkEntry {
            network: "n".into(),
            ltime,
            node: "b".into(),
            leaving: false,
        }],
        node: "b".into(),
    }
}

#[test]
fn reconnect_joins_a_failed_node_then_bulk_syncs_every_common_network() {
    let mut a = member_of_n(&["b", "c"]);
    a.create_entry(T, "n", "mine", b"va".to_vec()).unwrap();
    let mut out = Vec::new();
    a.node_failed("b", &mut out);
    let seen = run_timers(&mut a, SimTime::ZERO, secs(5));
    // One Join at the first tick; the run then blocks the ticker for the next four.
    assert_eq!(joins_of(&seen, &[addr(2)]), vec![secs(1)]);
    assert_eq!(seen.iter().filter(|(_, o)| matches!(o, Output::Join(_))).count(), 1);
    let clock = a.network_clock();
    // memberlist reports b alive, then merges its state: the Join returned.
    let mut out = Vec::new();
    a.node_joined("b", addr(2), &mut out);
    out.clear();
    a.merge_remote_state(state_of_b(clock + 5), &mut out);
    // Witnessing b's time (clock + 5) moved the clock to clock + 6; the event takes the next.
    let node_join = Output::Broadcast(Message::NodeEvent {
        kind: NodeEventType::Join,
        ltime: clock + 7,
        node: "a".into(),
    });
    let sync = Output::Send {
        to: "b".into(),
        transport: Transport::Tcp,
        msg: Message::BulkSync {
            ltime: a.table_clock(),
            unsolicited: true,
            node: "a".into(),
            networks: vec!["n".into()],
            payload: vec![TableEvent {
                kind: TableEventType::Create,
                ltime: 1,
                node: "a".into(),
                network: "n".into(),
                table: T.into(),
                key: "mine".into(),
                value: b"va".to_vec(),
                residual_reap_secs: 0,
            }],
        },
    };
    assert_eq!(out, vec![node_join, sync.clone()]);
    assert_eq!(a.network_nodes("n"), ["c".to_string(), "a".to_string(), "b".to_string()]);
    // b's answer ends the run; the tick kept meanwhile finds no failed node left. The same
    // answer releases the join's wait on b (from `member_of_n`), which moves on to c.
    let answer = Message::BulkSync {
        ltime: 0,
        unsolicited: false,
        node: "b".into(),
        networks: vec!["n".into()],
        payload: vec![],
    };
    out.clear();
    a.handle_message(secs(5), answer, &mut out);
    let Output::Send { msg: Message::BulkSync { payload, .. }, .. } = &sync else {
        unreachable!("built above")
    };
    let join_sync_to_c = Output::Send {
        to: "c".into(),
        transport: Transport::Tcp,
        msg: Message::BulkSync {
            ltime: 1,
            unsolicited: true,
            node: "a".into(),
            networks: vec!["n".into()],
            payload: payload.clone(),
        },
    };
    assert_eq!(out, vec![join_sync_to_c]);
    assert_eq!(a.reconnect, None);
}

#[test]
fn an_unanswered_reconnect_gives_up_after_the_tcp_timeout_and_retries_at_once() {
    let mut a = member_of_n(&["b"]);
    let mut out = Vec::new();
    a.node_failed("b", &mut out);
    let seen = run_timers(&mut a, SimTime::ZERO, secs(25));
    assert_eq!(joins_of(&seen, &[addr(2)]), vec![secs(1), secs(11), secs(21)]);
}

#[test]
fn a_reconnect_sync_nobody_answers_ends_thirty_seconds_after_the_join() {
    let mut a = member_of_n(&["b"]);
    let mut out = Vec::new();
    a.node_failed("b", &mut out);
    run_timers(&mut a, SimTime::ZERO, secs(1));
    a.node_joined("b", addr(2), &mut out);
    a.merge_remote_state(state_of_b(9), &mut out);
    // The answer carried no time: the next timer (the gossip tick at 1.2 s) stamps it.
    run_timers(&mut a, secs(1), secs(31));
    assert!(matches!(a.reconnect, Some(Reconnect::Syncing { until: Some(t), .. })
        if t == secs(1) + SimDuration::from_millis(200) + BULK_SYNC_ACK_TIMEOUT));
    run_timers(&mut a, secs(31), secs(32));
    assert_eq!(a.reconnect, None);
}

#[test]
fn a_failed_node_is_forgotten_after_twenty_four_hours_a_returning_one_is_kept() {
    let mut a = member_of_n(&["b", "c"]);
    let mut out = Vec::new();
    a.node_failed("b", &mut out);
    a.node_failed("c", &mut out);
    a.node_joined("c", addr(3), &mut out);
    assert_eq!(a.node_reap.get("b"), Some(&NODE_REAP_INTERVAL));
    assert_eq!(a.node_reap.get("c"), None);
    // Runs at 2 h, 4 h, …: 24 h counted down to 2 h at 22 h, forgotten at 24 h.
    run_timers(&mut a, SimTime::ZERO, secs(22 * 3600));
    assert_eq!(a.node_reap.get("b"), Some(&NODE_REAP_PERIOD));
    assert_eq!(a.node("b").map(|n| n.state), Some(NodeState::Failed));
    run_timers(&mut a, secs(22 * 3600), secs(24 * 3600));
    assert_eq!(a.node("b"), None);
    assert_eq!(a.node("c").map(|n| n.state), Some(NodeState::Active));
}

#[test]
fn rejoin_joins_the_bootstrap_addresses_while_none_is_a_member() {
    let managers = [addr(2), addr(3)];
    let mut a = db("a");
    a.set_bootstrap(managers.to_vec());
    // Alone: at 60 s the retry starts, its first Join goes at 61 s and, unanswered, blocks
    // for 2 × 10 s, past the 10 s of the retry; the next run starts at 120 s.
    let seen = run_timers(&mut a, SimTime::ZERO, secs(125));
    assert_eq!(joins_of(&seen, &managers), vec![secs(61), secs(121)]);
    // b (a manager) answers the Join: a node-join event, and no more tries. Witnessing b's
    // time 1 moved the network clock to 2.
    let mut out = Vec::new();
    a.node_joined("b", addr(2), &mut out);
    out.clear();
    a.merge_remote_state(state_of_b(1), &mut out);
    let node_join = Output::Broadcast(Message::NodeEvent {
        kind: NodeEventType::Join,
        ltime: 3,
        node: "a".into(),
    });
    assert_eq!(out, vec![node_join]);
    let seen = run_timers(&mut a, secs(125), secs(200));
    assert_eq!(joins_of(&seen, &managers), vec![]);
}

#[test]
fn only_another_node_at_a_bootstrap_address_counts_as_present() {
    let mut a = db("a");
    let me = Ipv4Addr::new(10, 0, 0, b'a');
    a.set_bootstrap(vec![me]);
    let seen = run_timers(&mut a, SimTime::ZERO, secs(62));
    assert_eq!(joins_of(&seen, &[me]), vec![secs(61)]);
    let mut b = db("b");
    b.set_bootstrap(vec![addr(3)]);
    let mut out = Vec::new();
    b.node_joined("c", addr(3), &mut out);
    let seen = run_timers(&mut b, SimTime::ZERO, secs(62));
    assert_eq!(seen.iter().filter(|(_, o)| matches!(o, Output::Join(_))).count(), 0);
}

#[test]
fn an_orderly_leave_sends_a_node_leave_and_peers_drop_the_nodes_entries() {
    let mut bus = Bus::new(3);
    for i in 0..3 {
        bus.join(i, "n");
    }
    bus.dbs[0].create_entry(T, "n", "ep0", b"x".to_vec()).unwrap();
    while bus.now < SimTime::ZERO + GOSSIP_INTERVAL {
        bus.step();
    }
    assert_eq!(bus.dbs[2].get_entry(T, "n", "ep0"), Some(&b"x"[..]));
    let clock = bus.dbs[0].network_clock();
    let mut out = Vec::new();
    bus.dbs[0].leave_cluster(&mut out);
    let leave =
        Message::NodeEvent { kind: NodeEventType::Leave, ltime: clock + 1, node: "node0".into() };
    assert_eq!(out, vec![Output::Broadcast(leave)]);
    bus.route(0, out);
    for i in 1..3 {
        assert_eq!(bus.dbs[i].entry(T, "n", "ep0"), None, "node{i}");
        assert_eq!(bus.dbs[i].node("node0").map(|n| n.state), Some(NodeState::Left));
        assert_eq!(bus.dbs[i].network_nodes("n").len(), 2);
    }
}
