//! The agent every swarm node runs: its session with the leader's dispatcher (heartbeats,
//! failover to another manager with backoff) and the task executor's state machine.
//!
//! Contract: the agent decides, the daemon acts. It asks for containers to be started and
//! stopped through [`ExecAction`]s and reports every task's state to the dispatcher. Task
//! states only move forward: ASSIGNED → ACCEPTED → PREPARING → READY → STARTING → RUNNING,
//! then SHUTDOWN (or REJECTED when the container cannot start). swarmkit: `agent/agent.go`,
//! `agent/session.go`, `agent/exec/controller.go`.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::msg::{SwarmMsg, TaskReport};
use super::store::{EncryptionKey, NetworkAttachment, Task, TaskState};
use crate::engine::{SimDuration, SimTime};

/// How long an agent waits for a heartbeat's answer before it tries another manager.
pub const SESSION_TIMEOUT: SimDuration = SimDuration::from_secs(5);
/// Session backoff: from 100 ms, doubling, up to 8 s (docker-facts 48).
pub const BACKOFF_MIN: SimDuration = SimDuration::from_millis(100);
pub const BACKOFF_MAX: SimDuration = SimDuration::from_secs(8);
/// Preparing a task whose image must be pulled, and one whose image is there.
pub const PULL_TIME: SimDuration = SimDuration::from_millis(1500);
pub const PREPARE_TIME: SimDuration = SimDuration::from_millis(20);
/// From `docker start` to a running container, and from stop to exited.
pub const START_TIME: SimDuration = SimDuration::from_millis(200);
pub const STOP_TIME: SimDuration = SimDuration::from_millis(100);

/// What the daemon must do for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecAction {
    Start(Box<Task>),
    Stop {
        task_id: String,
    },
    Remove {
        task_id: String,
    },
    /// New network bootstrap keys for the daemon's network controller
    /// (`SetNetworkBootstrapKeys`).
    SetNetworkKeys(Vec<EncryptionKey>),
    /// The node's load-balancer attachments changed (the executor's `Configure`).
    AttachmentsChanged,
}

#[derive(Debug, Clone)]
struct LocalTask {
    task: Task,
    state: TaskState,
    err: String,
    /// When the executor's current step ends.
    step_at: Option<SimTime>,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub node_id: String,
    pub managers: Vec<(u64, Ipv4Addr)>,
    /// The manager this agent talks to.
    target: Ipv4Addr,
    /// This node's load-balancer attachments, as the dispatcher last sent them.
    pub attachments: Vec<NetworkAttachment>,
    /// The network bootstrap keys as the dispatcher last sent them.
    network_keys: Vec<EncryptionKey>,
    next_heartbeat: SimTime,
    ack_deadline: Option<SimTime>,
    backoff: SimDuration,
    tasks: IndexMap<String, LocalTask>,
}

/// What the agent sends and asks for after a step.
#[derive(Debug, Default)]
pub struct AgentIo {
    pub sends: Vec<(Ipv4Addr, SwarmMsg)>,
    pub actions: Vec<ExecAction>,
}

impl Agent {
    pub fn new(
        node_id: String,
        managers: Vec<(u64, Ipv4Addr)>,
        target: Ipv4Addr,
        now: SimTime,
    ) -> Agent {
        Agent {
            node_id,
            managers,
            target,
            attachments: Vec::new(),
            network_keys: Vec::new(),
            next_heartbeat: now,
            ack_deadline: None,
            backoff: BACKOFF_MIN,
            tasks: IndexMap::new(),
        }
    }

    /// Heartbeats, session failover and the executor's timed steps.
    pub fn on_timer(&mut self, now: SimTime, has_image: impl Fn(&str) -> bool, io: &mut AgentIo) {
        if self.ack_deadline.is_some_and(|d| d <= now) {
            self.fail_over(now);
        }
        let mut changed = false;
        for id in self.tasks.keys().cloned().collect::<Vec<_>>() {
            changed |= self.advance(&id, now, &has_image, io);
        }
        if changed || self.next_heartbeat <= now {
            self.send_heartbeat(now, io);
        }
    }

    pub fn on_message(
        &mut self,
        now: SimTime,
        msg: SwarmMsg,
        has_image: impl Fn(&str) -> bool,
        io: &mut AgentIo,
    ) {
        match msg {
            SwarmMsg::HeartbeatAck { period, managers, attachments, network_keys, .. } => {
                self.ack_deadline = None;
                self.backoff = BACKOFF_MIN;
                self.next_heartbeat = now + period;
                self.managers = managers;
                if attachments != self.attachments {
                    self.attachments = attachments;
                    io.actions.push(ExecAction::AttachmentsChanged);
                }
                if network_keys != self.network_keys {
                    self.network_keys = network_keys.clone();
                    io.actions.push(ExecAction::SetNetworkKeys(network_keys));
                }
            }
            SwarmMsg::NotLeader { leader } => {
                self.ack_deadline = None;
                match leader {
                    Some(addr) => {
                        self.target = addr;
                        self.next_heartbeat = now;
                    }
                    None => self.fail_over(now),
                }
            }
            SwarmMsg::Assignments(tasks) => {
                self.assign(tasks, io);
                self.on_timer(now, has_image, io);
            }
            _ => {}
        }
    }

    /// The manager this agent's session (and its calls) goes to.
    pub fn manager_addr(&self) -> Ipv4Addr {
        self.target
    }

    /// The next time the agent has something to do.
    pub fn next_wakeup(&self) -> SimTime {
        let steps = self.tasks.values().filter_map(|t| t.step_at);
        steps.chain(self.ack_deadline).chain([self.next_heartbeat]).min().expect("non-empty")
    }

    /// The daemon could not start the task's container.
    pub fn start_failed(&mut self, task_id: &str, err: String) {
        if let Some(t) = self.tasks.get_mut(task_id) {
            (t.state, t.err, t.step_at) = (TaskState::Rejected, err, None);
        }
    }

    fn fail_over(&mut self, now: SimTime) {
        self.ack_deadline = None;
        let pos = self.managers.iter().position(|(_, a)| *a == self.target);
        let next = pos.map_or(0, |p| (p + 1) % self.managers.len().max(1));
        if let Some((_, addr)) = self.managers.get(next) {
            self.target = *addr;
        }
        self.next_heartbeat = now + self.backoff;
        self.backoff =
            SimDuration::from_nanos((self.backoff.as_nanos() * 2).min(BACKOFF_MAX.as_nanos()));
    }

    fn send_heartbeat(&mut self, now: SimTime, io: &mut AgentIo) {
        let tasks = self
            .tasks
            .iter()
            .map(|(id, t)| TaskReport { task_id: id.clone(), state: t.state, err: t.err.clone() })
            .collect();
        io.sends.push((self.target, SwarmMsg::Heartbeat { node_id: self.node_id.clone(), tasks }));
        if self.ack_deadline.is_none() {
            self.ack_deadline = Some(now + SESSION_TIMEOUT);
        }
        self.next_heartbeat = self.next_heartbeat.max(now + SESSION_TIMEOUT);
    }

    /// A new assignment set: new tasks are accepted, changed ones updated, vanished ones
    /// removed.
    fn assign(&mut self, tasks: Vec<Task>, io: &mut AgentIo) {
        let gone: Vec<String> =
            self.tasks.keys().filter(|id| !tasks.iter().any(|t| &t.id == *id)).cloned().collect();
        for id in gone {
            self.tasks.shift_remove(&id);
            io.actions.push(ExecAction::Remove { task_id: id });
        }
        for task in tasks {
            match self.tasks.get_mut(&task.id) {
                Some(local) => local.task = task,
                None => {
                    let state = task.status.state.max(TaskState::Assigned);
                    let local = LocalTask { task, state, err: String::new(), step_at: None };
                    self.tasks.insert(local.task.id.clone(), local);
                }
            }
        }
    }

    /// Moves one task along; whether its state changed.
    fn advance(
        &mut self,
        id: &str,
        now: SimTime,
        has_image: &impl Fn(&str) -> bool,
        io: &mut AgentIo,
    ) -> bool {
        let t = self.tasks.get_mut(id).expect("iterating known tasks");
        if t.step_at.is_some_and(|at| at > now) {
            return false;
        }
        let desired = t.task.desired_state;
        let before = t.state;
        if desired.is_terminal() && !t.state.is_terminal() {
            stop(t, now, io);
        } else if !desired.is_terminal() {
            start_steps(t, now, has_image, io);
        }
        t.state != before
    }
}

/// ASSIGNED → ACCEPTED → PREPARING → READY, then on to RUNNING once desired.
fn start_steps(
    t: &mut LocalTask,
    now: SimTime,
    has_image: &impl Fn(&str) -> bool,
    io: &mut AgentIo,
) {
    t.step_at = None;
    match t.state {
        TaskState::Assigned => t.state = TaskState::Accepted,
        TaskState::Accepted => {
            t.state = TaskState::Preparing;
            // An attachment task has no image to pull.
            let local = t.task.attachment.is_some() || has_image(&t.task.spec.image);
            let prepare = if local { PREPARE_TIME } else { PULL_TIME };
            t.step_at = Some(now + prepare);
        }
        TaskState::Preparing => t.state = TaskState::Ready,
        TaskState::Ready if t.task.desired_state >= TaskState::Running => {
            t.state = TaskState::Starting;
            io.actions.push(ExecAction::Start(Box::new(t.task.clone())));
            t.step_at = Some(now + START_TIME);
        }
        TaskState::Starting => t.state = TaskState::Running,
        _ => {}
    }
    if t.step_at.is_none() && t.state < TaskState::Running && t.state != TaskState::Ready {
        t.step_at = Some(now);
    }
}

/// Stops a task's container; SHUTDOWN once it has exited.
fn stop(t: &mut LocalTask, now: SimTime, io: &mut AgentIo) {
    match t.step_at {
        None if t.state >= TaskState::Starting => {
            io.actions.push(ExecAction::Stop { task_id: t.task.id.clone() });
            t.step_at = Some(now + STOP_TIME);
        }
        _ => {
            t.state = TaskState::Shutdown;
            t.step_at = None;
        }
    }
}
