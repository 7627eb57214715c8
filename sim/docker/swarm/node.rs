//! One daemon's part in the swarm: its identity, its agent, its manager if it is one, and
//! the CLI calls it is waiting on.
//!
//! Contract: [`SwarmNode`] turns CLI requests, messages and timer wakeups into [`NodeIo`]:
//! messages to send, executor actions for the daemon, and finished CLI calls. A CLI call
//! on a manager runs on the leader: locally when this node leads, else proxied there, and
//! answered with swarmkit's quorum-loss error when there has been no leader for more than
//! ten ticks (docker-facts 47). A call the leader never answers times out after 20 s, as
//! the daemon's `swarmRequestTimeout`.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::agent::{Agent, AgentIo, ExecAction};
use super::manager::{Manager, ManagerIo, TICK};
use super::msg::{ApiBody, ApiCall, ApiResult, Envelope, SwarmMsg};
use super::request::SwarmRequest;
use crate::docker::DockerOutcome;
use crate::engine::{RngStream, SimDuration, SimTime};
use crate::proto::raft::{Config, RaftNode};

/// The daemon's `swarmRequestTimeout`.
pub const REQUEST_TIMEOUT: SimDuration = SimDuration::from_secs(20);
/// `docker service create` watches for this long after all tasks run ("verify").
pub const VERIFY_TIME: SimDuration = SimDuration::from_secs(5);

/// The text swarmkit returns when the managers have no leader (docker-facts 47).
pub const LOST_QUORUM: &str = super::render::QUORUM_LOST;

/// A CLI call this node is waiting on.
#[derive(Debug, Clone)]
pub struct PendingCall {
    pub call: ApiCall,
    pub deadline: SimTime,
    /// Sent to a leader and not yet answered.
    pub sent: bool,
    /// Answered; following a service until it converges (`docker service create`).
    pub watch: Option<Watch>,
}

#[derive(Debug, Clone)]
pub struct Watch {
    pub service_id: String,
    pub outcome: DockerOutcome,
    /// When every task first ran.
    pub converged_at: Option<SimTime>,
}

pub struct SwarmNode {
    pub node_id: String,
    pub addr: Ipv4Addr,
    pub agent: Agent,
    pub manager: Option<Manager>,
    pub calls: IndexMap<u64, PendingCall>,
    next_call: u64,
    next_tick: SimTime,
}

/// What a step of the node produced.
#[derive(Debug, Default)]
pub struct NodeIo {
    pub sends: Vec<(Ipv4Addr, SwarmMsg)>,
    pub actions: Vec<ExecAction>,
    pub done: Vec<(u64, DockerOutcome)>,
}

impl NodeIo {
    fn absorb_agent(&mut self, io: AgentIo) {
        self.sends.extend(io.sends);
        self.actions.extend(io.actions);
    }
}

impl SwarmNode {
    pub fn new(
        node_id: String,
        addr: Ipv4Addr,
        agent: Agent,
        manager: Option<Manager>,
        now: SimTime,
    ) -> SwarmNode {
        SwarmNode {
            node_id,
            addr,
            agent,
            manager,
            calls: IndexMap::new(),
            next_call: 1,
            next_tick: now + TICK,
        }
    }

    pub fn is_manager(&self) -> bool {
        self.manager.is_some()
    }

    /// A CLI request on a manager: a call number to wait on.
    pub fn start_call(
        &mut self,
        now: SimTime,
        request: SwarmRequest,
        rng: &mut RngStream,
        io: &mut NodeIo,
    ) -> u64 {
        let call = ApiCall { call: self.next_call, origin: self.addr, body: ApiBody::Cli(request) };
        self.next_call += 1;
        let pending = PendingCall {
            call: call.clone(),
            deadline: now + REQUEST_TIMEOUT,
            sent: false,
            watch: None,
        };
        self.calls.insert(call.call, pending);
        self.route_calls(now, rng, io);
        call.call
    }

    /// Sends unsent calls to the leader (or serves them here), fails them on quorum loss,
    /// and times out the ones never answered.
    fn route_calls(&mut self, now: SimTime, rng: &mut RngStream, io: &mut NodeIo) {
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(p) = self.calls.get(&id) else { continue };
            if p.watch.is_some() {
                continue;
            }
            if p.deadline <= now {
                let e = "rpc error: code = DeadlineExceeded desc = context deadline exceeded";
                self.finish(id, error_outcome(e), io);
                continue;
            }
            if p.sent {
                continue;
            }
            let call = p.call.clone();
            let Some(m) = self.manager.as_mut() else {
                // A worker's calls (network attachments) go over its agent's session.
                self.calls[&id].sent = true;
                io.sends.push((self.agent.manager_addr(), SwarmMsg::Call(call)));
                continue;
            };
            if m.is_leader() {
                self.calls[&id].sent = true;
                let mut mio = ManagerIo::default();
                super::api::serve(m, now, call, rng, &mut mio);
                self.absorb_manager(now, mio, io);
            } else if let Some(leader) = m.leader_addr() {
                self.calls[&id].sent = true;
                io.sends.push((leader, SwarmMsg::Call(call)));
            } else if m.lost_quorum() {
                self.finish(id, error_outcome(LOST_QUORUM), io);
            }
        }
    }

    /// A message from another node.
    pub fn on_message(
        &mut self,
        now: SimTime,
        env: Envelope,
        rng: &mut RngStream,
        has_image: &dyn Fn(&str) -> bool,
        io: &mut NodeIo,
    ) {
        let mut mio = ManagerIo::default();
        match env.msg {
            SwarmMsg::Raft(m) => {
                if let Some(mgr) = self.manager.as_mut() {
                    mgr.step(now, env.from, m, rng, &mut mio);
                }
            }
            SwarmMsg::Call(call) => self.on_call(now, call, rng, &mut mio),
            SwarmMsg::Reply { call, result } => self.on_reply(now, call, result, io),
            SwarmMsg::Heartbeat { node_id, tasks } => {
                self.on_heartbeat(now, env.from, node_id, tasks, rng, &mut mio)
            }
            other => {
                if let SwarmMsg::HeartbeatAck { raft_id, managers, .. } = &other {
                    self.follow_desired_role(now, *raft_id, managers, rng);
                }
                let mut aio = AgentIo::default();
                self.agent.on_message(now, other, has_image, &mut aio);
                io.absorb_agent(aio);
            }
        }
        self.absorb_manager(now, mio, io);
    }

    /// A promotion or demotion reaches the node through its dispatcher session, as
    /// swarmkit's role change does through the node's certificate: it starts a Raft member
    /// under the ID the leader added (which catches up from the leader's log), or stops the
    /// one whose removal the leader committed.
    fn follow_desired_role(
        &mut self,
        now: SimTime,
        raft_id: Option<u64>,
        managers: &[(u64, Ipv4Addr)],
        rng: &mut RngStream,
    ) {
        let current = self.manager.as_ref().map(|m| m.raft.id());
        if current == raft_id {
            return;
        }
        self.manager = raft_id.map(|id| {
            let raft = RaftNode::joining(Config::swarmkit(id), rng.fork());
            Manager::new(raft, managers.iter().copied().collect())
        });
        self.next_tick = now + TICK;
    }

    fn on_call(&mut self, now: SimTime, call: ApiCall, rng: &mut RngStream, mio: &mut ManagerIo) {
        let Some(m) = self.manager.as_mut() else { return };
        if m.is_leader() {
            super::api::serve(m, now, call, rng, mio);
        } else if let Some(leader) = m.leader_addr() {
            mio.sends.push((leader, SwarmMsg::Call(call)));
        } else if m.lost_quorum() {
            mio.replies.push((call, ApiResult::error(LOST_QUORUM)));
        }
    }

    fn on_heartbeat(
        &mut self,
        now: SimTime,
        from: Ipv4Addr,
        node_id: String,
        tasks: Vec<super::msg::TaskReport>,
        rng: &mut RngStream,
        mio: &mut ManagerIo,
    ) {
        let Some(m) = self.manager.as_mut() else { return };
        let Some(lead) = m.lead.as_mut() else {
            mio.sends.push((from, SwarmMsg::NotLeader { leader: m.leader_addr() }));
            return;
        };
        let period = lead.dispatcher.heartbeat(now, &node_id, from, tasks, rng);
        let raft_id =
            m.store.nodes.get(&node_id).and_then(|n| n.manager.as_ref()).map(|s| s.raft_id);
        let managers = m.peers.iter().map(|(id, a)| (*id, *a)).collect();
        let attachments = m.store.attachments_of(&node_id);
        let network_keys =
            m.store.cluster.as_ref().map(|c| c.network_bootstrap_keys.clone()).unwrap_or_default();
        let ack = SwarmMsg::HeartbeatAck { period, managers, raft_id, attachments, network_keys };
        mio.sends.push((from, ack));
        m.poke(now, rng, mio);
    }

    fn on_reply(&mut self, now: SimTime, call: u64, result: ApiResult, io: &mut NodeIo) {
        let Some(p) = self.calls.get_mut(&call) else { return };
        match result {
            ApiResult::Done { outcome, watch: Some(service_id) } => {
                p.watch = Some(Watch { service_id, outcome, converged_at: None });
                self.check_watches(now, io);
            }
            ApiResult::Done { outcome, watch: None } => self.finish(call, outcome, io),
            ApiResult::Joined(_) => {}
        }
    }

    /// Wakes up: Raft ticks, the agent's timers, the leader's deadlines, calls waiting.
    pub fn on_timer(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        has_image: &dyn Fn(&str) -> bool,
        io: &mut NodeIo,
    ) {
        let mut mio = ManagerIo::default();
        if let Some(m) = self.manager.as_mut() {
            while self.next_tick <= now {
                m.tick(now, rng, &mut mio);
                self.next_tick += TICK;
            }
            m.poke(now, rng, &mut mio);
        }
        self.absorb_manager(now, mio, io);
        let mut aio = AgentIo::default();
        self.agent.on_timer(now, has_image, &mut aio);
        io.absorb_agent(aio);
        self.route_calls(now, rng, io);
        self.check_watches(now, io);
    }

    /// The next time anything here is due.
    pub fn next_wakeup(&self, now: SimTime) -> SimTime {
        let mut t = self.agent.next_wakeup();
        if let Some(m) = &self.manager {
            t = t.min(self.next_tick);
            if let Some(w) = m.next_wakeup(now) {
                t = t.min(w);
            }
        }
        for p in self.calls.values() {
            t = t.min(p.deadline);
            if let Some(at) = p.watch.as_ref().and_then(|w| w.converged_at) {
                t = t.min(at + VERIFY_TIME);
            }
        }
        t.max(now)
    }

    /// Manager output: messages out, replies to callers (here or elsewhere), and the
    /// dispatcher's assignment pushes after the store changed.
    pub fn absorb_manager(&mut self, now: SimTime, mio: ManagerIo, io: &mut NodeIo) {
        io.sends.extend(mio.sends);
        for (call, result) in mio.replies {
            if call.origin == self.addr && self.calls.contains_key(&call.call) {
                self.on_reply(now, call.call, result, io);
            } else {
                io.sends.push((call.origin, SwarmMsg::Reply { call: call.call, result }));
            }
        }
        if let Some(m) = self.manager.as_mut() {
            if let Some(lead) = m.lead.as_mut() {
                io.sends.extend(lead.dispatcher.push(&m.store));
            }
        }
        if mio.applied {
            self.check_watches(now, io);
        }
    }

    /// `docker service create` returns once the service's tasks all run and stayed so
    /// for the verify period; it prints the converged progress display.
    fn check_watches(&mut self, now: SimTime, io: &mut NodeIo) {
        let Some(m) = self.manager.as_ref() else { return };
        let mut finished = Vec::new();
        for (id, p) in self.calls.iter_mut() {
            let Some(w) = p.watch.as_mut() else { continue };
            let progress = converged_progress(&m.store, &w.service_id);
            match (progress, w.converged_at) {
                (Some(_), None) => w.converged_at = Some(now),
                (Some(text), Some(at)) if at + VERIFY_TIME <= now => {
                    let mut out = w.outcome.clone();
                    out.stdout += &text;
                    finished.push((*id, out));
                }
                (None, _) => w.converged_at = None,
                _ => {}
            }
        }
        for (id, out) in finished {
            self.finish(id, out, io);
        }
    }

    fn finish(&mut self, call: u64, outcome: DockerOutcome, io: &mut NodeIo) {
        self.calls.shift_remove(&call);
        io.done.push((call, outcome));
    }
}

fn error_outcome(text: &str) -> DockerOutcome {
    match ApiResult::error(text) {
        ApiResult::Done { outcome, .. } => outcome,
        ApiResult::Joined(_) => unreachable!("ApiResult::error builds Done"),
    }
}

/// The final progress display of a converged service, or `None` while it converges: every
/// task meant to run does, and there are as many as the mode asks.
fn converged_progress(store: &super::store::Store, service_id: &str) -> Option<String> {
    use super::store::{ServiceMode, TaskState};
    let service = store.services.get(service_id)?;
    let live: Vec<_> =
        store.tasks_of(service_id).filter(|t| t.desired_state == TaskState::Running).collect();
    if live.iter().any(|t| t.status.state != TaskState::Running) {
        return None;
    }
    match service.spec.mode {
        ServiceMode::Replicated { replicas } if live.len() as u64 == replicas => {
            Some(super::render::converged_progress_replicated(replicas))
        }
        ServiceMode::Global if !live.is_empty() => {
            let nodes: Vec<&str> = live.iter().map(|t| t.node_id.as_str()).collect();
            Some(super::render::converged_progress_global(&nodes))
        }
        _ => None,
    }
}
