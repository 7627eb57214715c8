//! A manager: its Raft node, its replica of the store, and — while it leads — the one
//! pipeline through which every change reaches Raft.
//!
//! Contract: every write is a [`Proposal`] applied on commit, on every manager alike. The
//! leader keeps at most one proposal of its own in flight: CLI writes wait in a queue, and the
//! reconcile pass (dispatcher, allocator, orchestrator, scheduler, in that order, each seeing
//! the previous ones' changes) runs only when nothing is in flight, against the committed
//! store. So no change is proposed twice and no two writes to one object race. A new
//! leader starts its pipeline once the empty entry of its own term commits (etcd's rule
//! that earlier terms' entries are committed through it), as swarmkit waits for its store
//! to catch up.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

use super::allocator::Allocator;
use super::dispatcher::Dispatcher;
use super::keymanager::KeyManager;
use super::msg::{ApiCall, Proposal, SwarmMsg};
use super::orchestrator;
use super::store::{Store, StoreOp};
use crate::engine::{RngStream, SimDuration, SimTime};
use crate::proto::raft::{self, ConfChange, EntryKind, Output, RaftNode, Role};

/// Raft's tick (swarmkit `TickInterval`).
pub const TICK: SimDuration = SimDuration::from_secs(1);
/// swarmkit reports quorum loss after more than ElectionTick ticks without a leader.
pub const QUORUM_LOSS_TICKS: u32 = 10;

/// A write waiting for its turn in the leader's pipeline.
#[derive(Debug, Clone)]
pub enum Write {
    /// Store changes for a CLI call; the reply is sent when they commit.
    Ops { call: Option<ApiCall>, ops: Vec<StoreOp>, reply: Option<super::msg::ApiResult> },
    /// A membership change (a manager joining, promoted or demoted), then the reply.
    Conf { call: Option<ApiCall>, change: ConfChange, reply: Option<super::msg::ApiResult> },
}

/// What the leader is waiting for: the commit at `index`, then `reply` to `call`.
#[derive(Debug, Clone)]
struct InFlight {
    index: u64,
    call: Option<ApiCall>,
    reply: Option<super::msg::ApiResult>,
}

/// What exists only while this manager leads.
pub struct Leadership {
    pub term: u64,
    pub allocator: Option<Allocator>,
    pub dispatcher: Dispatcher,
    pub keymanager: KeyManager,
    pub queue: VecDeque<Write>,
    in_flight: Option<InFlight>,
}

pub struct Manager {
    pub raft: RaftNode<Proposal>,
    pub store: Store,
    /// Raft ID → address, from the store's managers and from who spoke to us.
    pub peers: BTreeMap<u64, Ipv4Addr>,
    pub lead: Option<Leadership>,
    next_proposal: u64,
}

/// What the manager wants done after a step.
#[derive(Debug, Default)]
pub struct ManagerIo {
    pub sends: Vec<(Ipv4Addr, SwarmMsg)>,
    /// Replies to CLI calls that committed (or failed).
    pub replies: Vec<(ApiCall, super::msg::ApiResult)>,
    /// Store entries applied, for watchers.
    pub applied: bool,
}

impl Manager {
    pub fn new(raft: RaftNode<Proposal>, peers: BTreeMap<u64, Ipv4Addr>) -> Manager {
        Manager { raft, store: Store::default(), peers, lead: None, next_proposal: 1 }
    }

    pub fn is_leader(&self) -> bool {
        self.raft.role() == Role::Leader
    }

    /// The leader's address, if one is known.
    pub fn leader_addr(&self) -> Option<Ipv4Addr> {
        self.raft.leader().and_then(|id| self.peers.get(&id).copied())
    }

    /// No leader for longer than swarmkit tolerates before it reports quorum loss.
    pub fn lost_quorum(&self) -> bool {
        self.raft.leader().is_none() && self.raft.ticks_without_leader() > QUORUM_LOSS_TICKS
    }

    pub fn tick(&mut self, now: SimTime, rng: &mut RngStream, io: &mut ManagerIo) {
        let mut out = Vec::new();
        self.raft.tick(&mut out);
        self.handle_outputs(now, out, rng, io);
    }

    pub fn step(
        &mut self,
        now: SimTime,
        from: Ipv4Addr,
        msg: raft::Message<Proposal>,
        rng: &mut RngStream,
        io: &mut ManagerIo,
    ) {
        self.peers.entry(msg.from).or_insert(from);
        let mut out = Vec::new();
        self.raft.step(msg, &mut out);
        self.handle_outputs(now, out, rng, io);
    }

    /// Starts an election at once (`swarm init` on a one-member cluster).
    pub fn campaign(&mut self, now: SimTime, rng: &mut RngStream, io: &mut ManagerIo) {
        let mut out = Vec::new();
        self.raft.campaign(&mut out);
        self.handle_outputs(now, out, rng, io);
    }

    /// Queues a write on the leader; `false` when this manager does not lead.
    pub fn submit(&mut self, write: Write) -> bool {
        match self.lead.as_mut() {
            Some(l) => {
                l.queue.push_back(write);
                true
            }
            None => false,
        }
    }

    /// Raft outputs: messages leave, committed entries are applied, and the leader's
    /// pipeline moves on.
    pub fn handle_outputs(
        &mut self,
        now: SimTime,
        out: Vec<Output<Proposal>>,
        rng: &mut RngStream,
        io: &mut ManagerIo,
    ) {
        let mut pending = out;
        loop {
            for o in std::mem::take(&mut pending) {
                match o {
                    Output::Send(m) => {
                        if let Some(addr) = self.peers.get(&m.to) {
                            io.sends.push((*addr, SwarmMsg::Raft(m)));
                        }
                    }
                    Output::Commit(entry) => self.commit(entry, io),
                }
            }
            self.follow_role(now, rng, io);
            self.pump(now, rng, io, &mut pending);
            if pending.is_empty() {
                return;
            }
        }
    }

    fn commit(&mut self, entry: raft::Entry<Proposal>, io: &mut ManagerIo) {
        let index = entry.index;
        match &entry.kind {
            EntryKind::Normal(p) => {
                self.store.apply(index, &p.ops);
                io.applied = true;
            }
            EntryKind::Empty | EntryKind::Conf(_) => {}
        }
        self.refresh_peers();
        let Some(l) = self.lead.as_mut() else { return };
        if l.in_flight.as_ref().is_some_and(|f| f.index == index) {
            let f = l.in_flight.take().expect("checked above");
            if let (Some(call), Some(reply)) = (f.call, f.reply) {
                io.replies.push((call, reply));
            }
        }
    }

    /// Managers' addresses as the store knows them.
    fn refresh_peers(&mut self) {
        for n in self.store.managers() {
            let m = n.manager.as_ref().expect("managers() yields managers");
            self.peers.insert(m.raft_id, m.addr.0);
        }
    }

    /// Takes up or lays down leadership as Raft's role changes.
    fn follow_role(&mut self, now: SimTime, rng: &mut RngStream, io: &mut ManagerIo) {
        let leading = self.raft.role() == Role::Leader;
        let term = self.raft.term();
        match (&self.lead, leading) {
            (Some(l), true) if l.term == term => {}
            (None, false) => {}
            _ => {
                self.abdicate(io);
                if leading {
                    self.lead = Some(Leadership {
                        term,
                        allocator: None,
                        dispatcher: Dispatcher::new(now, &self.store, rng),
                        keymanager: KeyManager::new(now, rng),
                        queue: VecDeque::new(),
                        in_flight: None,
                    });
                }
            }
        }
    }

    /// Leadership lost: every waiting call fails as swarmkit's do.
    fn abdicate(&mut self, io: &mut ManagerIo) {
        let Some(l) = self.lead.take() else { return };
        let failed = l.in_flight.into_iter().filter_map(|f| f.call).chain(
            l.queue.into_iter().filter_map(|w| match w {
                Write::Ops { call, .. } | Write::Conf { call, .. } => call,
            }),
        );
        for call in failed {
            io.replies.push((call, super::msg::ApiResult::lost_leadership()));
        }
    }

    /// The leader's pipeline: when nothing is in flight, the next queued write, else a
    /// reconcile pass.
    fn pump(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        io: &mut ManagerIo,
        out: &mut Vec<Output<Proposal>>,
    ) {
        if !self.term_committed() {
            return;
        }
        let Some(l) = self.lead.as_mut() else { return };
        if l.in_flight.is_some() {
            return;
        }
        if let Some(write) = l.queue.pop_front() {
            self.propose_write(write, out, io);
            return;
        }
        let ops = self.reconcile(now, rng);
        if !ops.is_empty() {
            self.propose_ops(ops, None, None, out);
        }
    }

    /// The first entry of the current term (the leader's empty entry) has committed.
    fn term_committed(&self) -> bool {
        let term = self.raft.term();
        let first = self.raft.log().iter().rev().take_while(|e| e.term == term).last();
        first.is_some_and(|e| e.index <= self.raft.commit_index())
    }

    fn propose_write(&mut self, write: Write, out: &mut Vec<Output<Proposal>>, io: &mut ManagerIo) {
        match write {
            Write::Ops { call, ops, reply } => self.propose_ops(ops, call, reply, out),
            Write::Conf { call, change, reply } => {
                match self.raft.propose_conf_change(change, out) {
                    Ok(index) => self.set_in_flight(index, call, reply),
                    Err(_) => {
                        if let Some(call) = call {
                            io.replies.push((call, super::msg::ApiResult::lost_leadership()));
                        }
                    }
                }
            }
        }
    }

    fn propose_ops(
        &mut self,
        ops: Vec<StoreOp>,
        call: Option<ApiCall>,
        reply: Option<super::msg::ApiResult>,
        out: &mut Vec<Output<Proposal>>,
    ) {
        let id = (self.raft.id() << 24) ^ self.next_proposal;
        self.next_proposal += 1;
        let index =
            self.raft.propose(Proposal { id, ops }, out).expect("a ready leader accepts proposals");
        self.set_in_flight(index, call, reply);
    }

    fn set_in_flight(
        &mut self,
        index: u64,
        call: Option<ApiCall>,
        reply: Option<super::msg::ApiResult>,
    ) {
        let l = self.lead.as_mut().expect("only the leader proposes");
        l.in_flight = Some(InFlight { index, call, reply });
    }

    /// One pass of the leader's control loops over the committed store, each component
    /// seeing what the ones before it changed.
    fn reconcile(&mut self, now: SimTime, rng: &mut RngStream) -> Vec<StoreOp> {
        let l = self.lead.as_mut().expect("only the leader reconciles");
        let mut ops = l.keymanager.ops(&self.store, now, rng);
        ops.extend(l.dispatcher.ops(&self.store, now));
        ops.extend(demoted_members(&self.store, self.raft.voters(), now));
        let mut scratch = self.store.clone();
        scratch.apply(0, &ops);
        let allocator = l.allocator.get_or_insert_with(|| Allocator::from_store(&self.store));
        ops.extend(orchestrator::reconcile(allocator, &scratch, now, rng));
        ops
    }

    /// When the leader's loops must run again without news: a dispatcher deadline, a
    /// restart delay ending or a key rotation. Deadlines already due wait for the next tick: the pipeline
    /// is blocked on a proposal in flight, and a commit or a tick runs it again.
    pub fn next_wakeup(&self, now: SimTime) -> Option<SimTime> {
        let l = self.lead.as_ref()?;
        let restart = orchestrator::next_wakeup(&self.store, now);
        let rotation = Some(l.keymanager.next_rotation());
        [l.dispatcher.next_deadline(), restart, rotation]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min()
    }

    /// Runs the pipeline after something other than Raft changed (a heartbeat, a timer).
    pub fn poke(&mut self, now: SimTime, rng: &mut RngStream, io: &mut ManagerIo) {
        self.handle_outputs(now, Vec::new(), rng, io);
    }
}

/// swarmkit's role manager, the demotion half: a node the store records as a manager whose
/// Raft member has been removed becomes a worker. Reconcile passes run only when no write is
/// queued, so a manager joining or being promoted (record, then member) is never caught
/// between its two writes.
fn demoted_members(store: &Store, voters: &[u64], now: SimTime) -> Vec<StoreOp> {
    store
        .managers()
        .filter(|n| n.manager.as_ref().is_some_and(|s| !voters.contains(&s.raft_id)))
        .map(|n| {
            let mut n = n.clone();
            n.role = super::store::Role::Worker;
            n.manager = None;
            n.meta.updated_at = now;
            StoreOp::PutNode(Box::new(n))
        })
        .collect()
}
