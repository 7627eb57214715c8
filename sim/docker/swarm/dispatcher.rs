//! The leader's dispatcher: agents' sessions and heartbeats, node liveness, task status
//! reports, and pushing each node its assignments.
//!
//! Contract: the dispatcher holds only what lives in the leader's memory (sessions,
//! deadlines, what each agent last reported and was last sent). Store changes come out of
//! [`Dispatcher::ops`] as the difference between that knowledge and the committed store, so
//! a pass proposes each change once. swarmkit: `manager/dispatcher/dispatcher.go`,
//! `nodes.go`, `period.go` (docker-facts 48).

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::msg::{SwarmMsg, TaskReport};
use super::store::{NodeState, Store, StoreOp, Task, TaskState, TaskStatus};
use crate::engine::{RngStream, SimDuration, SimTime};

/// `DefaultHeartBeatPeriod`.
pub const HEARTBEAT_PERIOD: SimDuration = SimDuration::from_secs(5);
/// `DefaultHeartBeatEpsilon`: each period is drawn from 5 s ± 0.5 s.
pub const HEARTBEAT_EPSILON: SimDuration = SimDuration::from_millis(500);
/// A node is Down after this many periods without a heartbeat.
pub const GRACE_MULTIPLIER: u64 = 3;
/// After a leader change, nodes get this many periods to reconnect.
pub const UNKNOWN_GRACE_MULTIPLIER: u64 = 6;

const UNKNOWN_MESSAGE: &str = "Node moved to \"unknown\" state due to leadership change in cluster";

#[derive(Debug, Clone)]
struct Session {
    addr: Ipv4Addr,
    deadline: SimTime,
    reports: Vec<TaskReport>,
    /// The assignment set last pushed: (task ID, desired state, state).
    sent: Option<Vec<(String, TaskState)>>,
}

#[derive(Debug, Clone)]
pub struct Dispatcher {
    sessions: IndexMap<String, Session>,
    /// Nodes found at leadership start, and when their grace ends.
    unknown: IndexMap<String, SimTime>,
}

impl Dispatcher {
    /// A new leader's dispatcher: every node that is not Down must reconnect within the
    /// longer grace (`markNodesUnknown`).
    pub fn new(now: SimTime, store: &Store, rng: &mut RngStream) -> Dispatcher {
        let unknown = store
            .nodes
            .values()
            .filter(|n| n.state != NodeState::Down)
            .map(|n| (n.id.clone(), now + period(rng) * UNKNOWN_GRACE_MULTIPLIER))
            .collect();
        Dispatcher { sessions: IndexMap::new(), unknown }
    }

    /// A heartbeat (which opens a session if there is none): the next period.
    pub fn heartbeat(
        &mut self,
        now: SimTime,
        node_id: &str,
        addr: Ipv4Addr,
        reports: Vec<TaskReport>,
        rng: &mut RngStream,
    ) -> SimDuration {
        let p = period(rng);
        self.unknown.shift_remove(node_id);
        let s = self.sessions.entry(node_id.to_string()).or_insert_with(|| Session {
            addr,
            deadline: now,
            reports: Vec::new(),
            sent: None,
        });
        s.addr = addr;
        s.deadline = now + p * GRACE_MULTIPLIER;
        s.reports = reports;
        p
    }

    /// The store changes the leader's knowledge implies: node states and task progress.
    pub fn ops(&mut self, store: &Store, now: SimTime) -> Vec<StoreOp> {
        self.sessions.retain(|id, s| s.deadline > now && store.nodes.contains_key(id));
        self.give_newcomers_grace(store, now);
        let mut ops = Vec::new();
        for node in store.nodes.values() {
            let (state, message, addr) =
                match (self.sessions.get(&node.id), self.unknown.get(&node.id)) {
                    (Some(s), _) => (NodeState::Ready, String::new(), s.addr),
                    (None, Some(deadline)) if *deadline > now => {
                        (NodeState::Unknown, UNKNOWN_MESSAGE.to_string(), node.addr)
                    }
                    (None, Some(_)) => (
                        NodeState::Down,
                        "heartbeat failure for node in \"unknown\" state".to_string(),
                        node.addr,
                    ),
                    (None, None) if node.state == NodeState::Ready => {
                        (NodeState::Down, "heartbeat failure".to_string(), node.addr)
                    }
                    (None, None) => continue,
                };
            if node.state != state || node.addr != addr {
                let mut n = node.clone();
                (n.state, n.message, n.addr) = (state, message, addr);
                n.meta.updated_at = now;
                ops.push(StoreOp::PutNode(Box::new(n)));
            }
        }
        for (node_id, s) in &self.sessions {
            ops.extend(s.reports.iter().filter_map(|r| task_progress(store, node_id, r, now)));
        }
        self.unknown.retain(|_, deadline| *deadline > now);
        ops
    }

    /// A node that registered but has not opened a session yet (it just joined) gets the
    /// longer grace before it can be declared Down.
    fn give_newcomers_grace(&mut self, store: &Store, now: SimTime) {
        for n in store.nodes.values() {
            let waiting = matches!(n.state, NodeState::Unknown | NodeState::Disconnected);
            if waiting && !self.sessions.contains_key(&n.id) && !self.unknown.contains_key(&n.id) {
                self.unknown
                    .insert(n.id.clone(), now + HEARTBEAT_PERIOD * UNKNOWN_GRACE_MULTIPLIER);
            }
        }
    }

    /// Assignment sets that changed since they were last pushed, as messages to agents.
    pub fn push(&mut self, store: &Store) -> Vec<(Ipv4Addr, SwarmMsg)> {
        let mut msgs = Vec::new();
        for (node_id, s) in self.sessions.iter_mut() {
            let tasks = assigned(store, node_id);
            let shape: Vec<_> = tasks.iter().map(|t| (t.id.clone(), t.desired_state)).collect();
            if s.sent.as_ref() != Some(&shape) {
                s.sent = Some(shape);
                msgs.push((s.addr, SwarmMsg::Assignments(tasks)));
            }
        }
        msgs
    }

    /// The earliest session or grace deadline.
    pub fn next_deadline(&self) -> Option<SimTime> {
        let sessions = self.sessions.values().map(|s| s.deadline);
        sessions.chain(self.unknown.values().copied()).min()
    }
}

/// `5 s ± 0.5 s` (`period.go`).
fn period(rng: &mut RngStream) -> SimDuration {
    let eps = HEARTBEAT_EPSILON.as_nanos();
    let jitter = rng.range_u64(0, 2 * eps + 1);
    SimDuration::from_nanos(HEARTBEAT_PERIOD.as_nanos() - eps + jitter)
}

/// The tasks a node must know about: assigned to it and not yet both over and meant to be.
fn assigned(store: &Store, node_id: &str) -> Vec<Task> {
    store
        .tasks
        .values()
        .filter(|t| t.node_id == node_id && t.status.state >= TaskState::Assigned)
        .filter(|t| !(t.status.state.is_terminal() && t.desired_state.is_terminal()))
        .cloned()
        .collect()
}

/// A report that moves a task forward (states never go back).
fn task_progress(store: &Store, node_id: &str, r: &TaskReport, now: SimTime) -> Option<StoreOp> {
    let t = store.tasks.get(&r.task_id)?;
    if t.node_id != node_id || r.state <= t.status.state {
        return None;
    }
    let mut t = t.clone();
    t.status = TaskStatus {
        timestamp: now,
        state: r.state,
        message: status_message(r.state).to_string(),
        err: r.err.clone(),
    };
    t.meta.updated_at = now;
    Some(StoreOp::PutTask(Box::new(t)))
}

/// The status messages swarmkit's container executor writes.
fn status_message(state: TaskState) -> &'static str {
    match state {
        TaskState::Accepted => "accepted",
        TaskState::Preparing => "preparing",
        TaskState::Ready => "prepared",
        TaskState::Starting => "starting",
        TaskState::Running => "started",
        TaskState::Complete => "finished",
        TaskState::Shutdown => "shutdown",
        TaskState::Failed | TaskState::Rejected => "task: non-zero exit",
        _ => "",
    }
}
