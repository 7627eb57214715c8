//! Unit tests: each drives a few nodes through a hand-delivered message queue and checks the
//! exact state or output Raft requires (paper sections cited).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::*;
use crate::engine::Streams;

fn config(id: NodeId) -> Config {
    Config::swarmkit(id)
}

fn rng(id: NodeId) -> RngStream {
    Streams::new(1).stream(&format!("raft/{id}"))
}

/// Nodes and the messages between them; `cut` nodes neither send nor receive.
struct Net {
    nodes: BTreeMap<NodeId, RaftNode<&'static str>>,
    queue: VecDeque<Message<&'static str>>,
    applied: BTreeMap<NodeId, Vec<Entry<&'static str>>>,
    cut: BTreeSet<NodeId>,
}

impl Net {
    fn new(ids: &[NodeId]) -> Net {
        let nodes = ids.iter().map(|&id| (id, RaftNode::new(config(id), ids, rng(id)))).collect();
        Net { nodes, queue: VecDeque::new(), applied: BTreeMap::new(), cut: BTreeSet::new() }
    }

    fn absorb(&mut self, id: NodeId, out: Vec<Output<&'static str>>) {
        for o in out {
            match o {
                Output::Send(m) => self.queue.push_back(m),
                Output::Commit(e) => self.applied.entry(id).or_default().push(e),
            }
        }
    }

    fn with(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut RaftNode<&'static str>, &mut Vec<Output<&'static str>>),
    ) {
        let mut out = Vec::new();
        f(self.nodes.get_mut(&id).expect("node"), &mut out);
        self.absorb(id, out);
    }

    /// Delivers one queued message; false when the queue is empty.
    fn deliver_one(&mut self) -> bool {
        let Some(m) = self.queue.pop_front() else { return false };
        if !self.cut.contains(&m.from) && !self.cut.contains(&m.to) {
            let to = m.to;
            self.with(to, |n, out| n.step(m, out));
        }
        true
    }

    fn deliver_all(&mut self) {
        let mut budget = 10_000;
        while self.deliver_one() {
            budget -= 1;
            assert!(budget > 0, "messages never quiesced");
        }
    }

    fn tick_all(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.with(id, |n, out| n.tick(out));
        }
        self.deliver_all();
    }

    fn node(&self, id: NodeId) -> &RaftNode<&'static str> {
        &self.nodes[&id]
    }

    fn elect(&mut self, id: NodeId) {
        self.with(id, |n, out| n.campaign(out));
        self.deliver_all();
        assert_eq!(self.node(id).role(), Role::Leader);
    }

    fn normal_applied(&self, id: NodeId) -> Vec<(u64, &'static str)> {
        let entries = self.applied.get(&id).map(Vec::as_slice).unwrap_or_default();
        entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::Normal(d) => Some((e.index, d)),
                _ => None,
            })
            .collect()
    }
}

fn vote(from: NodeId, to: NodeId, term: u64, last_index: u64) -> Output<&'static str> {
    Output::Send(Message { from, to, term, body: Body::Vote { last_index, last_term: 1 } })
}

#[test]
fn campaign_asks_every_other_voter_with_the_log_tail() {
    let mut n = RaftNode::<&str>::new(config(1), &[1, 2, 3], rng(1));
    let mut out = Vec::new();
    n.campaign(&mut out);
    let bootstrap: Vec<Output<&str>> = (1..=3)
        .map(|i| {
            let kind = EntryKind::Conf(ConfChange::AddVoter(i));
            Output::Commit(Entry { term: 1, index: i, kind })
        })
        .collect();
    let mut expected = vec![vote(1, 2, 2, 3), vote(1, 3, 2, 3)];
    expected.extend(bootstrap);
    assert_eq!(out, expected);
    assert_eq!((n.role(), n.term(), n.leader()), (Role::Candidate, 2, None));
}

#[test]
fn election_by_majority_then_empty_entry_commits() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    for id in [2, 3] {
        assert_eq!((net.node(id).role(), net.node(id).leader()), (Role::Follower, Some(1)));
        assert_eq!(net.node(id).term(), 2);
    }
    // Three bootstrap entries and the new leader's Empty entry at index 4 (term 2).
    assert_eq!(net.node(1).log()[3], Entry { term: 2, index: 4, kind: EntryKind::Empty });
    net.tick_all();
    for id in [1, 2, 3] {
        assert_eq!(net.node(id).commit_index(), 4, "node {id}");
    }
}

#[test]
fn one_vote_per_term_and_up_to_date_check() {
    // Raft §5.2 and §5.4.1: a node votes once per term, only for a log at least as new.
    let mut n = RaftNode::<&str>::new(config(1), &[1, 2, 3], rng(1));
    let mut out = Vec::new();
    let ask = |from, last_index, last_term| Message {
        from,
        to: 1,
        term: 5,
        body: Body::Vote { last_index, last_term },
    };
    n.step(ask(2, 2, 1), &mut out);
    n.step(ask(3, 9, 1), &mut out);
    n.step(ask(2, 3, 1), &mut out);
    let answers: Vec<(NodeId, bool)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send(Message { to, body: Body::VoteResp { reject }, .. }) => {
                Some((*to, *reject))
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers, vec![(2, true), (3, false), (2, true)], "reject: stale, grant, voted");
}

#[test]
fn replication_commits_on_every_node_in_order() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    let mut indexes = Vec::new();
    for data in ["a", "b", "c"] {
        net.with(1, |n, out| indexes.push(n.propose(data, out).expect("leader")));
    }
    assert_eq!(indexes, vec![5, 6, 7]);
    net.deliver_all();
    net.tick_all();
    for id in [1, 2, 3] {
        assert_eq!(net.normal_applied(id), vec![(5, "a"), (6, "b"), (7, "c")], "node {id}");
    }
}

#[test]
fn follower_forwards_proposals_to_its_leader() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    net.with(2, |n, out| {
        assert_eq!(n.propose("x", out), Ok(0));
        let forwarded = Message {
            from: 2,
            to: 1,
            term: 0,
            body: Body::Propose { entries: vec![EntryKind::Normal("x")] },
        };
        assert_eq!(out.as_slice(), [Output::Send(forwarded)]);
    });
    net.deliver_all();
    net.tick_all();
    assert_eq!(net.normal_applied(3), vec![(5, "x")]);
    let mut lone = RaftNode::<&str>::new(config(9), &[9, 8], rng(9));
    assert_eq!(lone.propose("y", &mut Vec::new()), Err(ProposeError::NoLeader));
}

#[test]
fn divergent_log_is_repaired_by_the_new_leader() {
    // Raft §5.3: the old leader's uncommitted entries are overwritten by the new leader's.
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    net.tick_all();
    net.cut.insert(1);
    for data in ["lost1", "lost2", "lost3"] {
        net.with(1, |n, out| {
            n.propose(data, out).expect("still leader");
        });
    }
    net.deliver_all();
    // Nodes 2 and 3 wait out the lease of leader 1, then one of them takes over.
    let new_leader = loop {
        net.tick_all();
        if let Some(id) = [2, 3].into_iter().find(|&id| net.node(id).role() == Role::Leader) {
            break id;
        }
    };
    net.with(new_leader, |n, out| {
        n.propose("kept", out).expect("new leader");
    });
    net.deliver_all();
    net.cut.clear();
    for _ in 0..3 {
        net.tick_all();
    }
    assert_eq!(net.node(1).role(), Role::Follower);
    assert_eq!(net.node(1).log(), net.node(new_leader).log());
    assert_eq!(net.normal_applied(1), vec![(6, "kept")]);
}

#[test]
fn old_term_entries_commit_only_with_a_current_term_entry() {
    // Raft §5.4.2 (Figure 8): a majority holding an old-term entry does not commit it.
    let boot = RaftNode::<&str>::new(config(1), &[1, 2, 3], rng(1)).persistent();
    let mut old = boot.clone();
    old.term = 2;
    old.commit = 3;
    old.entries.push(Entry { term: 2, index: 4, kind: EntryKind::Normal("old") });
    let cfg = Config { max_entries_per_append: 1, ..config(1) };
    let mut net = Net::new(&[1, 2, 3]);
    net.nodes.insert(1, RaftNode::restart(cfg, old, rng(1)));
    net.with(1, |n, out| n.campaign(out));
    // Votes, then the probe of index 5 rejected, then index 4 alone accepted by node 2.
    while net.node(1).role() != Role::Leader || net.node(2).last_index() < 4 {
        assert!(net.deliver_one());
    }
    assert_eq!(net.node(2).last_index(), 4);
    while !net.queue.iter().all(|m| m.to != 1) {
        assert!(net.deliver_one());
    }
    assert_eq!(net.node(1).commit_index(), 3, "index 4 is of term 2, the leader's term is 3");
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 5);
}

#[test]
fn check_quorum_leader_steps_down_without_a_majority() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    net.cut.extend([2, 3]);
    let mut ticks = 0;
    while net.node(1).role() == Role::Leader {
        net.tick_all();
        ticks += 1;
        assert!(ticks <= 100);
    }
    // Heard at tick 0; the check at tick 10 still counts that, the one at tick 20 does not.
    assert_eq!(ticks, 20);
    assert_eq!((net.node(1).leader(), net.node(1).term()), (None, 2));
}

#[test]
fn lease_keeps_a_partitioned_node_from_deposing_the_leader() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    net.tick_all();
    net.with(3, |n, out| {
        for _ in 0..2 {
            n.campaign(out);
        }
    });
    net.deliver_all();
    assert_eq!((net.node(1).role(), net.node(1).term()), (Role::Leader, 2));
    assert_eq!(net.node(2).leader(), Some(1));
}

#[test]
fn add_voter_applies_at_commit_one_at_a_time() {
    let mut net = Net::new(&[1]);
    net.elect(1);
    net.nodes.insert(2, RaftNode::joining(config(2), rng(2)));
    net.with(1, |n, out| {
        assert_eq!(n.propose_conf_change(ConfChange::AddVoter(2), out), Ok(3));
        assert_eq!(n.voters(), [1, 2], "a single voter commits at once");
        assert_eq!(n.propose_conf_change(ConfChange::AddVoter(3), out), Ok(4));
        assert_eq!(n.voters(), [1, 2], "needs node 2's ack now");
        let again = n.propose_conf_change(ConfChange::AddVoter(4), out);
        assert_eq!(again, Err(ProposeError::ConfChangePending));
    });
    net.nodes.insert(3, RaftNode::joining(config(3), rng(3)));
    for _ in 0..3 {
        net.tick_all();
    }
    for id in [1, 2, 3] {
        assert_eq!(net.node(id).voters(), [1, 2, 3], "node {id}");
        assert_eq!(net.node(id).log(), net.node(1).log());
    }
}

#[test]
fn removed_leader_steps_down_and_the_rest_elect() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    net.with(1, |n, out| {
        n.propose_conf_change(ConfChange::RemoveVoter(1), out).expect("leader");
    });
    net.deliver_all();
    assert_eq!(net.node(1).role(), Role::Follower);
    assert_eq!(net.node(1).voters(), [2, 3]);
    for _ in 0..40 {
        net.tick_all();
    }
    let leaders: Vec<NodeId> =
        [2, 3].into_iter().filter(|&id| net.node(id).role() == Role::Leader).collect();
    assert_eq!(leaders.len(), 1);
    assert_eq!(net.node(1).role(), Role::Follower, "a non-voter never campaigns");
}

#[test]
fn restart_resumes_the_apply_stream_after_the_persisted_commit() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    net.with(1, |n, out| {
        n.propose("a", out).expect("leader");
    });
    net.deliver_all();
    net.tick_all();
    let saved = net.node(2).persistent();
    assert_eq!((saved.term, saved.vote, saved.commit), (2, Some(1), 5));
    net.nodes.insert(2, RaftNode::restart(config(2), saved, rng(22)));
    net.applied.remove(&2);
    net.with(1, |n, out| {
        n.propose("b", out).expect("leader");
    });
    net.deliver_all();
    net.tick_all();
    assert_eq!(net.normal_applied(2), vec![(6, "b")]);
}

#[test]
fn recently_active_and_ticks_without_leader() {
    let mut net = Net::new(&[1, 2, 3]);
    net.elect(1);
    net.cut.insert(3);
    for _ in 0..11 {
        net.tick_all();
    }
    assert!(net.node(1).recently_active(2));
    assert!(!net.node(1).recently_active(3));
    assert_eq!(net.node(2).ticks_without_leader(), 0);
    assert_eq!(net.node(3).ticks_without_leader(), 11);
}
