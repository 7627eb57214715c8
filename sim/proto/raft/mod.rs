//! Raft as etcd-io/raft implements it and moby/swarmkit configures it, as a sans-IO state
//! machine.
//!
//! A [`RaftNode`] is driven by three inputs — [`RaftNode::tick`] (one logical clock tick),
//! [`RaftNode::step`] (a message from a peer) and the proposal calls — and pushes its
//! [`Output`]s into a caller-owned `Vec`: messages to send, and committed entries in index
//! order (the apply stream). It reads no clock and no global RNG: the randomised election
//! timeout comes from the [`RngStream`] handed in. What must survive a crash is
//! [`RaftNode::persistent`]; the caller saves it before sending the messages of a call
//! ("persist before send", as etcd's `Ready` contract asks).
//!
//! Behaviour follows etcd raft (`raft.go`, `log.go`, `tracker/progress.go`):
//! - terms and votes (one vote per term, the up-to-date check of Raft §5.4.1), a randomised
//!   election timeout redrawn at every change of term or role, no PreVote (swarmkit has it off);
//! - a leader appends an `Empty` entry when it takes office, heartbeats every
//!   `heartbeat_tick` ticks, replicates with per-follower probe/replicate progress and the
//!   follower's reject hint (`findConflictByTerm`), and commits by counting matches only for
//!   entries of its own term (Raft §5.4.2);
//! - CheckQuorum: every `election_tick_min` ticks a leader that has not heard from a majority
//!   in that window steps down, and a node that heard from a leader within the minimum
//!   election timeout ignores vote requests (etcd's lease);
//! - membership changes one at a time, taking effect when committed (swarmkit applies them
//!   from its apply loop); a leader whose own removal commits steps down.
//!
//! A new cluster starts as etcd's `StartNode` does: one `AddVoter` entry per founding member
//! at term 1, already committed, so a node joining later learns the full membership from the
//! log. Every incarnation's apply stream starts where the previous one stopped: a fresh node
//! at index 1, a restarted one after the persisted commit index.

mod log;
mod node;
mod progress;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::engine::RngStream;
use log::RaftLog;
use progress::Progress;

pub type NodeId = u64;

/// A node's timing and flow-control knobs, in logical ticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub id: NodeId,
    /// Randomised election timeout, in ticks, uniform over [min, max] inclusive.
    pub election_tick_min: u32,
    pub election_tick_max: u32,
    pub heartbeat_tick: u32,
    pub check_quorum: bool,
    /// Unacknowledged appends per follower in the replicate state (etcd `MaxInflightMsgs`).
    pub max_inflight: usize,
    pub max_entries_per_append: usize,
}

impl Config {
    /// swarmkit: ElectionTick 10 (etcd randomises over [10, 19]), HeartbeatTick 1, CheckQuorum.
    ///
    /// swarmkit's `DefaultRaftConfig` also sets MaxInflightMsgs 256 and a byte limit per
    /// message (MaxSizePerMsg 65535) that this model expresses as 64 entries per append.
    pub fn swarmkit(id: NodeId) -> Config {
        Config {
            id,
            election_tick_min: 10,
            election_tick_max: 19,
            heartbeat_tick: 1,
            check_quorum: true,
            max_inflight: 256,
            max_entries_per_append: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfChange {
    AddVoter(NodeId),
    RemoveVoter(NodeId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind<T> {
    /// The entry a new leader appends to commit its term.
    Empty,
    Normal(T),
    Conf(ConfChange),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<T> {
    pub term: u64,
    pub index: u64,
    pub kind: EntryKind<T>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<T> {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's term; 0 for `Propose`, which like etcd's `MsgProp` is not term-checked.
    pub term: u64,
    pub body: Body<T>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<T> {
    Vote {
        last_index: u64,
        last_term: u64,
    },
    VoteResp {
        reject: bool,
    },
    /// `entries` follow `prev_index`; `commit` is the leader's commit index.
    Append {
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry<T>>,
        commit: u64,
    },
    /// Accepted: `index` is the follower's last matching index. Rejected: `index` is the
    /// `prev_index` that did not match and `hint` where the follower's log may match again.
    AppendResp {
        reject: bool,
        index: u64,
        hint: u64,
    },
    /// `commit` is capped at what the follower is known to hold (etcd `sendHeartbeat`).
    Heartbeat {
        commit: u64,
    },
    HeartbeatResp,
    /// A follower forwarding a proposal to its leader (etcd MsgProp).
    Propose {
        entries: Vec<EntryKind<T>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<T> {
    Send(Message<T>),
    /// An entry became committed; emitted once per entry, in index order (the apply stream).
    Commit(Entry<T>),
}

/// Why a proposal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    #[error("no leader")]
    NoLeader,
    #[error("a configuration change is pending")]
    ConfChangePending,
}

/// What survives a crash (etcd HardState + the stable log): term, vote, commit, the entries,
/// the voters. `commit` is the applied index, so a restart resumes the apply stream exactly
/// where it stopped; entries committed but never applied are re-learned from the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persistent<T> {
    pub term: u64,
    pub vote: Option<NodeId>,
    pub commit: u64,
    pub entries: Vec<Entry<T>>,
    /// The voters as of `commit`, sorted.
    pub voters: Vec<NodeId>,
}

/// One Raft participant. See the module doc for the contract.
pub struct RaftNode<T> {
    config: Config,
    rng: RngStream,
    term: u64,
    vote: Option<NodeId>,
    log: RaftLog<T>,
    commit: u64,
    applied: u64,
    voters: Vec<NodeId>,
    role: Role,
    leader: Option<NodeId>,
    election_elapsed: u32,
    heartbeat_elapsed: u32,
    randomized_timeout: u32,
    ticks_without_leader: u32,
    /// Candidate: the answers so far, true for granted.
    votes: BTreeMap<NodeId, bool>,
    /// Leader: one entry per other voter.
    progress: BTreeMap<NodeId, Progress>,
    /// Leader: the index of the latest conf change appended (or the log end at election, as
    /// etcd does, since an uncommitted one may hide there).
    pending_conf_index: u64,
}

impl<T: Clone + std::fmt::Debug> RaftNode<T> {
    /// A member of a new cluster whose voters are `voters` (swarm init: just itself).
    ///
    /// # Panics
    /// If `voters` is empty or `config` is inconsistent.
    pub fn new(config: Config, voters: &[NodeId], rng: RngStream) -> Self {
        assert!(!voters.is_empty(), "a new cluster needs at least one voter");
        let mut sorted = voters.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let entries = sorted
            .iter()
            .enumerate()
            .map(|(i, &v)| Entry {
                term: 1,
                index: i as u64 + 1,
                kind: EntryKind::Conf(ConfChange::AddVoter(v)),
            })
            .collect();
        let mut node = Self::blank(config, rng, RaftLog::new(entries), sorted);
        node.term = 1;
        node.commit = node.log.last_index();
        node
    }

    /// A node joining an existing cluster: no voters known, it never campaigns until a
    /// leader's log makes it a voter.
    pub fn joining(config: Config, rng: RngStream) -> Self {
        Self::blank(config, rng, RaftLog::new(Vec::new()), Vec::new())
    }

    /// After a crash: back from what was persisted, as a follower with no known leader.
    pub fn restart(config: Config, saved: Persistent<T>, rng: RngStream) -> Self {
        let mut node = Self::blank(config, rng, RaftLog::new(saved.entries), saved.voters);
        assert!(saved.commit <= node.log.last_index(), "persisted commit beyond the log");
        node.term = saved.term;
        node.vote = saved.vote;
        node.commit = saved.commit;
        node.applied = saved.commit;
        node
    }

    fn blank(config: Config, rng: RngStream, log: RaftLog<T>, voters: Vec<NodeId>) -> Self {
        assert!(
            0 < config.election_tick_min && config.election_tick_min <= config.election_tick_max,
            "election timeout range must be non-empty and positive"
        );
        assert!(config.heartbeat_tick > 0 && config.max_inflight > 0);
        assert!(config.max_entries_per_append > 0);
        let mut node = RaftNode {
            config,
            rng,
            term: 0,
            vote: None,
            log,
            commit: 0,
            applied: 0,
            voters,
            role: Role::Follower,
            leader: None,
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: 0,
            ticks_without_leader: 0,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            pending_conf_index: 0,
        };
        node.reset_timers();
        node
    }

    pub fn persistent(&self) -> Persistent<T> {
        Persistent {
            term: self.term,
            vote: self.vote,
            commit: self.applied,
            entries: self.log.entries().to_vec(),
            voters: self.voters.clone(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    pub fn last_index(&self) -> u64 {
        self.log.last_index()
    }

    /// The voters as of the last applied conf change, sorted.
    pub fn voters(&self) -> &[NodeId] {
        &self.voters
    }

    /// Leader only: whether `peer` was heard from within the last election timeout
    /// (etcd's RecentActive; swarmkit shows Reachable/Unreachable from it). The leader
    /// counts itself as active; on any other node this is false.
    pub fn recently_active(&self, peer: NodeId) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        peer == self.id()
            || self
                .progress
                .get(&peer)
                .is_some_and(|p| p.silent_ticks <= self.config.election_tick_min)
    }

    /// Ticks since this node last heard from a leader (0 on the leader itself).
    pub fn ticks_without_leader(&self) -> u32 {
        self.ticks_without_leader
    }

    /// The whole log, for tests and the experiment.
    pub fn log(&self) -> &[Entry<T>] {
        self.log.entries()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
}
