//! The transitions of a [`RaftNode`]: ticks, messages, proposals, and the role changes they
//! cause, one handler per concern (after etcd's `raft.go`).

use super::progress::Progress;
use super::{
    Body, ConfChange, Entry, EntryKind, Message, NodeId, Output, ProposeError, RaftNode, Role,
};

impl<T: Clone + std::fmt::Debug> RaftNode<T> {
    /// One logical clock tick: election timeout for followers and candidates; heartbeats and
    /// the CheckQuorum test for leaders.
    pub fn tick(&mut self, out: &mut Vec<Output<T>>) {
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        if self.role == Role::Leader {
            self.tick_leader(out);
        } else {
            self.ticks_without_leader = self.ticks_without_leader.saturating_add(1);
            if self.promotable() && self.election_elapsed >= self.randomized_timeout {
                self.campaign(out);
            }
        }
        self.apply(out);
    }

    fn tick_leader(&mut self, out: &mut Vec<Output<T>>) {
        for pr in self.progress.values_mut() {
            pr.silent_ticks = pr.silent_ticks.saturating_add(1);
        }
        if self.election_elapsed >= self.config.election_tick_min {
            self.election_elapsed = 0;
            if self.config.check_quorum && !self.quorum_active() {
                let term = self.term;
                self.become_follower(term, None);
                return;
            }
        }
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.config.heartbeat_tick {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat(out);
        }
    }

    /// Start an election now (swarm init campaigns at once). A leader, or a node that is not
    /// a voter, does nothing.
    pub fn campaign(&mut self, out: &mut Vec<Output<T>>) {
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        self.term += 1;
        self.vote = Some(self.id());
        self.role = Role::Candidate;
        self.leader = None;
        self.reset_timers();
        self.votes.clear();
        self.votes.insert(self.id(), true);
        if self.tally() == Some(true) {
            self.become_leader(out);
        } else {
            let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
            for peer in self.peers() {
                self.send(peer, Body::Vote { last_index, last_term }, out);
            }
        }
        self.apply(out);
    }

    /// Leader: append and replicate, returning the entry's index. A follower with a known
    /// leader forwards the proposal (`Body::Propose`) and returns `Ok(0)`: the index is the
    /// leader's to choose, and the proposal may still be lost. Otherwise `Err(NoLeader)`.
    pub fn propose(&mut self, data: T, out: &mut Vec<Output<T>>) -> Result<u64, ProposeError> {
        self.propose_kind(EntryKind::Normal(data), out)
    }

    /// As [`RaftNode::propose`], for a membership change. The leader refuses one while
    /// another is appended but not yet applied; a forwarded one that meets a pending change
    /// at the leader is replaced by an `Empty` entry (etcd does the same).
    pub fn propose_conf_change(
        &mut self,
        cc: ConfChange,
        out: &mut Vec<Output<T>>,
    ) -> Result<u64, ProposeError> {
        if self.role == Role::Leader && self.pending_conf_index > self.applied {
            return Err(ProposeError::ConfChangePending);
        }
        self.propose_kind(EntryKind::Conf(cc), out)
    }

    fn propose_kind(
        &mut self,
        kind: EntryKind<T>,
        out: &mut Vec<Output<T>>,
    ) -> Result<u64, ProposeError> {
        match (self.role, self.leader) {
            (Role::Leader, _) => {
                let index = self.append_as_leader(vec![kind], out);
                self.apply(out);
                Ok(index)
            }
            (Role::Follower, Some(leader)) => {
                self.forward(leader, vec![kind], out);
                Ok(0)
            }
            _ => Err(ProposeError::NoLeader),
        }
    }

    fn forward(&mut self, leader: NodeId, entries: Vec<EntryKind<T>>, out: &mut Vec<Output<T>>) {
        let msg = Message { from: self.id(), to: leader, term: 0, body: Body::Propose { entries } };
        out.push(Output::Send(msg));
    }

    /// A message from a peer. Terms first (Raft §5.1, with etcd's lease under CheckQuorum),
    /// then the handler of the current role.
    ///
    /// # Panics
    /// If the message is not addressed to this node.
    pub fn step(&mut self, msg: Message<T>, out: &mut Vec<Output<T>>) {
        assert_eq!(msg.to, self.id(), "message delivered to the wrong node");
        if let Body::Propose { entries } = msg.body {
            self.on_propose(entries, out);
        } else if self.check_term(&msg, out) {
            match self.role {
                Role::Leader => self.step_leader(msg, out),
                Role::Candidate => self.step_candidate(msg, out),
                Role::Follower => self.step_follower(msg, out),
            }
        }
        self.apply(out);
    }

    /// Adopts a higher term; true if the message is of the current term and is to be handled.
    fn check_term(&mut self, msg: &Message<T>, out: &mut Vec<Output<T>>) -> bool {
        let from_leader = matches!(msg.body, Body::Append { .. } | Body::Heartbeat { .. });
        if msg.term > self.term {
            if matches!(msg.body, Body::Vote { .. }) && self.in_lease() {
                return false;
            }
            self.become_follower(msg.term, from_leader.then_some(msg.from));
        } else if msg.term < self.term {
            // A stale leader cut off by a partition learns the new term from this answer, or
            // it would keep its followers in lease forever (etcd does the same).
            if self.config.check_quorum && from_leader {
                let body = Body::AppendResp { reject: false, index: 0, hint: 0 };
                self.send(msg.from, body, out);
            }
            return false;
        }
        if let Body::Vote { last_index, last_term } = msg.body {
            self.on_vote(msg.from, last_index, last_term, out);
            return false;
        }
        true
    }

    fn on_vote(&mut self, from: NodeId, last_index: u64, last_term: u64, out: &mut Vec<Output<T>>) {
        let free = self.vote == Some(from) || (self.vote.is_none() && self.leader.is_none());
        let grant = free && self.log.is_up_to_date(last_index, last_term);
        if grant {
            self.election_elapsed = 0;
            self.vote = Some(from);
        }
        self.send(from, Body::VoteResp { reject: !grant }, out);
    }

    fn step_follower(&mut self, msg: Message<T>, out: &mut Vec<Output<T>>) {
        match msg.body {
            Body::Append { prev_index, prev_term, entries, commit } => {
                self.heard_from_leader(msg.from);
                self.on_append(msg.from, prev_index, prev_term, entries, commit, out);
            }
            Body::Heartbeat { commit } => {
                self.heard_from_leader(msg.from);
                self.commit_to(commit);
                self.send(msg.from, Body::HeartbeatResp, out);
            }
            _ => {}
        }
    }

    fn step_candidate(&mut self, msg: Message<T>, out: &mut Vec<Output<T>>) {
        match msg.body {
            Body::Append { .. } | Body::Heartbeat { .. } => {
                let term = self.term;
                self.become_follower(term, Some(msg.from));
                self.step_follower(msg, out);
            }
            Body::VoteResp { reject } => {
                if self.voters.contains(&msg.from) {
                    self.votes.insert(msg.from, !reject);
                }
                match self.tally() {
                    Some(true) => self.become_leader(out),
                    Some(false) => {
                        let term = self.term;
                        self.become_follower(term, None);
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    fn step_leader(&mut self, msg: Message<T>, out: &mut Vec<Output<T>>) {
        let Some(pr) = self.progress.get_mut(&msg.from) else { return };
        pr.silent_ticks = 0;
        match msg.body {
            Body::AppendResp { reject: true, index, hint } if pr.reject(index, hint) => {
                self.send_append(msg.from, true, out);
            }
            Body::AppendResp { reject: false, index, .. } => {
                if pr.acknowledge(index) && self.maybe_commit() {
                    self.broadcast_append(out);
                }
                while self.send_append(msg.from, false, out) {}
            }
            Body::HeartbeatResp => {
                pr.heartbeat_answered();
                if pr.matched < self.log.last_index() {
                    self.send_append(msg.from, true, out);
                }
            }
            _ => {}
        }
    }

    fn on_propose(&mut self, entries: Vec<EntryKind<T>>, out: &mut Vec<Output<T>>) {
        match (self.role, self.leader) {
            (Role::Leader, _) => {
                self.append_as_leader(entries, out);
            }
            (Role::Follower, Some(leader)) => self.forward(leader, entries, out),
            _ => {}
        }
    }

    fn on_append(
        &mut self,
        leader: NodeId,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry<T>>,
        commit: u64,
        out: &mut Vec<Output<T>>,
    ) {
        let body = if prev_index < self.commit {
            Body::AppendResp { reject: false, index: self.commit, hint: 0 }
        } else if self.log.term_at(prev_index) == Some(prev_term) {
            let last_new = prev_index + entries.len() as u64;
            self.log.merge(entries, self.commit);
            self.commit_to(commit.min(last_new));
            Body::AppendResp { reject: false, index: last_new, hint: 0 }
        } else {
            let hint = self.log.find_conflict_by_term(prev_index, prev_term);
            Body::AppendResp { reject: true, index: prev_index, hint }
        };
        self.send(leader, body, out);
    }

    fn heard_from_leader(&mut self, leader: NodeId) {
        self.election_elapsed = 0;
        self.ticks_without_leader = 0;
        self.leader = Some(leader);
    }

    fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        if term != self.term {
            self.term = term;
            self.vote = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.progress.clear();
        self.reset_timers();
    }

    fn become_leader(&mut self, out: &mut Vec<Output<T>>) {
        self.role = Role::Leader;
        self.leader = Some(self.id());
        self.votes.clear();
        self.reset_timers();
        self.ticks_without_leader = 0;
        let next = self.log.last_index() + 1;
        self.progress = self.peers().into_iter().map(|p| (p, Progress::new(next))).collect();
        self.append_as_leader(vec![EntryKind::Empty], out);
        self.pending_conf_index = self.log.last_index();
    }

    /// Appends at the end of the leader's log and replicates; returns the last new index.
    fn append_as_leader(&mut self, kinds: Vec<EntryKind<T>>, out: &mut Vec<Output<T>>) -> u64 {
        for kind in kinds {
            let index = self.log.last_index() + 1;
            let kind = match kind {
                EntryKind::Conf(_) if self.pending_conf_index > self.applied => EntryKind::Empty,
                EntryKind::Conf(cc) => {
                    self.pending_conf_index = index;
                    EntryKind::Conf(cc)
                }
                other => other,
            };
            self.log.push(Entry { term: self.term, index, kind });
        }
        self.maybe_commit();
        self.broadcast_append(out);
        self.log.last_index()
    }

    /// Sends `to` the entries from its `next` index, unless its progress is paused. With
    /// `if_empty`, sends even with nothing new (to carry the commit index or probe).
    fn send_append(&mut self, to: NodeId, if_empty: bool, out: &mut Vec<Output<T>>) -> bool {
        let max_inflight = self.config.max_inflight;
        let Some(pr) = self.progress.get_mut(&to) else { return false };
        if pr.is_paused(max_inflight) {
            return false;
        }
        let prev_index = pr.next - 1;
        let prev_term = self.log.term_at(prev_index).expect("the log is never compacted");
        let entries = self.log.slice(pr.next, self.config.max_entries_per_append);
        if entries.is_empty() && !if_empty {
            return false;
        }
        pr.sent(entries.last().map(|e| e.index));
        let body = Body::Append { prev_index, prev_term, entries, commit: self.commit };
        self.send(to, body, out);
        true
    }

    fn broadcast_append(&mut self, out: &mut Vec<Output<T>>) {
        for peer in self.peers() {
            self.send_append(peer, true, out);
        }
    }

    fn broadcast_heartbeat(&mut self, out: &mut Vec<Output<T>>) {
        let targets: Vec<(NodeId, u64)> =
            self.progress.iter().map(|(&id, pr)| (id, pr.matched.min(self.commit))).collect();
        for (to, commit) in targets {
            self.send(to, Body::Heartbeat { commit }, out);
        }
    }

    /// Raft §5.4.2: commit the highest index a majority holds, only if it is of this term.
    fn maybe_commit(&mut self) -> bool {
        let mut matched: Vec<u64> = self
            .voters
            .iter()
            .map(|v| match self.progress.get(v) {
                Some(pr) => pr.matched,
                None if *v == self.id() => self.log.last_index(),
                None => 0,
            })
            .collect();
        if matched.is_empty() {
            return false;
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let index = matched[self.quorum() - 1];
        if index > self.commit && self.log.term_at(index) == Some(self.term) {
            self.commit = index;
            return true;
        }
        false
    }

    fn commit_to(&mut self, index: u64) {
        self.commit = self.commit.max(index.min(self.log.last_index()));
    }

    /// Emits every committed, unapplied entry, applying conf changes as it goes.
    fn apply(&mut self, out: &mut Vec<Output<T>>) {
        while self.applied < self.commit {
            self.applied += 1;
            let entry = self.log.entry(self.applied).clone();
            if let EntryKind::Conf(cc) = &entry.kind {
                self.apply_conf(cc.clone(), out);
            }
            out.push(Output::Commit(entry));
        }
    }

    fn apply_conf(&mut self, cc: ConfChange, out: &mut Vec<Output<T>>) {
        match cc {
            ConfChange::AddVoter(id) => {
                if let Err(at) = self.voters.binary_search(&id) {
                    self.voters.insert(at, id);
                }
                if self.role == Role::Leader && id != self.id() {
                    let next = self.log.last_index() + 1;
                    self.progress.entry(id).or_insert_with(|| Progress::new(next));
                }
            }
            ConfChange::RemoveVoter(id) => {
                self.voters.retain(|&v| v != id);
                self.progress.remove(&id);
                if id == self.id() && self.role == Role::Leader {
                    let term = self.term;
                    self.become_follower(term, None);
                }
            }
        }
        // A smaller quorum may already hold more (etcd re-checks after a conf change).
        if self.role == Role::Leader && self.maybe_commit() {
            self.broadcast_append(out);
        }
    }

    /// The candidate's outcome: won, lost, or still open.
    fn tally(&self) -> Option<bool> {
        let granted = self.voters.iter().filter(|v| self.votes.get(v) == Some(&true)).count();
        let rejected = self.voters.iter().filter(|v| self.votes.get(v) == Some(&false)).count();
        if granted >= self.quorum() {
            Some(true)
        } else if rejected >= self.quorum() {
            Some(false)
        } else {
            None
        }
    }

    fn quorum_active(&self) -> bool {
        let active = self.voters.iter().filter(|&&v| self.recently_active(v)).count();
        active >= self.quorum()
    }

    fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Under CheckQuorum, a node that heard from a leader within the minimum election
    /// timeout ignores vote requests (etcd `inLease`), so a partitioned node cannot depose it.
    fn in_lease(&self) -> bool {
        self.config.check_quorum
            && self.leader.is_some()
            && self.election_elapsed < self.config.election_tick_min
    }

    fn promotable(&self) -> bool {
        self.voters.contains(&self.id())
    }

    fn peers(&self) -> Vec<NodeId> {
        self.voters.iter().copied().filter(|&v| v != self.id()).collect()
    }

    /// Zeroes the timers and draws a new election timeout (etcd `reset`).
    pub(super) fn reset_timers(&mut self) {
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        let (low, high) = (self.config.election_tick_min, self.config.election_tick_max);
        self.randomized_timeout = self.rng.range_u64(u64::from(low), u64::from(high) + 1) as u32;
    }

    fn send(&self, to: NodeId, body: Body<T>, out: &mut Vec<Output<T>>) {
        out.push(Output::Send(Message { from: self.id(), to, term: self.term, body }));
    }
}
