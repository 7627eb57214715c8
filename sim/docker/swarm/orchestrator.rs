//! The orchestrators (swarmkit `manager/orchestrator`): replicated and global services, the
//! restart supervisor, rolling updates and the task reaper, as one pure function of the
//! committed store.
//!
//! Contract: [`orchestrate`] returns the ops that move the store toward its services' specs;
//! over a store that already holds its result it returns none (a restart waiting for its
//! delay is reported by [`next_wakeup`], not re-proposed). [`reconcile`] runs allocator,
//! orchestrators and scheduler as the leader's one pass, each seeing the ops of the ones
//! before it, so no op in the batch overwrites another with stale data.
//!
//! What each part does, with its source:
//! - **Replicated** (`replicated/services.go` `reconcile`): slots `1..=replicas`; a slot is
//!   runnable while one of its tasks is desired at most RUNNING. Missing slots get a new task
//!   in the lowest free slot number. On scale-down, slots are ordered running-first, then by
//!   how many copies of the service their node already holds (the nth copy on a node gets
//!   index n; slots without a single assigned task go last), ties by slot number; the slots
//!   beyond `replicas` get desired REMOVE (20.10 `setTasksDesiredState`) and the reaper
//!   deletes their tasks once they stopped. Dead slots are not deleted outright as swarmkit's
//!   event-driven `deleteTasksMap` does on a later service event: here every pass would do
//!   it, before the tasks stop.
//! - **Restart supervisor** (`restart/restart.go` `Restart`, `replicated/tasks.go`): a task
//!   desired at most RUNNING restarts when it ended (state past RUNNING; condition `any`), or
//!   when its node is gone, DOWN or drained. The old task gets desired SHUTDOWN; a new task
//!   in the same slot (global: on the same node) is created desired READY with `not_before =
//!   now + restart_delay` (no delay when the node is drained). It becomes desired RUNNING
//!   once `not_before` passed and the old task stopped — without waiting when the old node
//!   is DOWN or gone, and at most a minute (`defaultOldTaskTimeout`) otherwise (`DelayStart`).
//! - **Global** (`global/global.go`): one task per node that is READY, ACTIVE and satisfies
//!   the constraints; tasks on drained or DOWN nodes, or on nodes that no longer satisfy the
//!   constraints, get desired SHUTDOWN; tasks of deleted nodes are deleted; paused nodes keep
//!   theirs and get none.
//! - **Rolling update** (`update/updater.go`; defaults parallelism 1, stop-first, delay 0):
//!   a task is outdated when its spec differs from the service's in what a task runs (all
//!   but name, labels and mode). One outdated slot at a time: its task gets desired SHUTDOWN
//!   and a new one is created desired READY, started when the old one stopped (as a restart
//!   with no delay). The next slot is taken only when every current-spec task of the service
//!   is RUNNING. No monitor period, failure action or rollback.
//! - **Service removal** (`SetServiceTasksRemove`): tasks of a service no longer in the store
//!   get desired REMOVE.
//! - **Task reaper** (`taskreaper/task_reaper.go`): a task desired REMOVE is deleted once it
//!   never got a node (state below ASSIGNED) or stopped (COMPLETE or later). Per slot (global:
//!   per node) of an existing service, at most `task_history_limit` tasks are kept: the
//!   oldest by status time that are not live (desired and observed at most RUNNING) go.
//!
//! Not modelled: restart conditions other than `any`, max attempts and window; the
//! constraint enforcer (running tasks on nodes whose labels changed); jobs; orphaning tasks
//! of nodes DOWN for 24 h (the dispatcher's part); `--force` redeploys.

use super::allocator::Allocator;
use super::ids::new_id;
use super::scheduler::{node_matches, schedule};
use super::store::{
    Availability, Meta, Node, NodeState, Service, ServiceMode, ServiceSpec, Store, StoreOp, Task,
    TaskState, TaskStatus,
};
use crate::engine::{RngStream, SimDuration, SimTime};

/// How long a restarted task waits for the task it replaces to stop (`defaultOldTaskTimeout`).
const OLD_TASK_TIMEOUT: SimDuration = SimDuration::from_secs(60);
/// The history limit when the cluster object is missing (`TaskHistoryRetentionLimit`).
const DEFAULT_HISTORY: u32 = 5;

/// One leader pass: allocate, orchestrate, schedule; each stage sees the previous stages'
/// ops applied to a scratch copy of the store. Returns all ops in order.
pub fn reconcile(
    allocator: &mut Allocator,
    store: &Store,
    now: SimTime,
    rng: &mut RngStream,
) -> Vec<StoreOp> {
    let mut scratch = store.clone();
    let mut ops = allocator.allocate(&scratch, now);
    scratch.apply(0, &ops);
    let orchestrated = orchestrate(&scratch, now, rng);
    scratch.apply(0, &orchestrated);
    ops.extend(orchestrated);
    ops.extend(schedule(&scratch, now));
    ops
}

/// The ops that move the store toward its services' specs; see the module doc.
pub fn orchestrate(store: &Store, now: SimTime, rng: &mut RngStream) -> Vec<StoreOp> {
    let mut work = Work { store: store.clone(), ops: Vec::new(), now };
    work.remove_tasks_of_deleted_services();
    let services: Vec<Service> = store.services.values().cloned().collect();
    for s in &services {
        work.restart_failed(s, rng);
        match s.spec.mode {
            ServiceMode::Replicated { replicas } => work.reconcile_replicated(s, replicas, rng),
            ServiceMode::Global => work.reconcile_global(s, rng),
        }
        work.rolling_update(s, rng);
    }
    work.start_delayed();
    work.reap();
    work.ops
}

/// The earliest time a pass must run again without any new commit (a restart delay or an
/// old-task timeout ending), if any.
pub fn next_wakeup(store: &Store, now: SimTime) -> Option<SimTime> {
    store
        .tasks
        .values()
        .filter(|t| t.desired_state == TaskState::Ready)
        .filter_map(|t| match t.not_before.filter(|nb| *nb > now) {
            Some(nb) => Some(nb),
            None => waits_for_old_task(store, t, now).then(|| t.meta.created_at + OLD_TASK_TIMEOUT),
        })
        .filter(|at| *at > now)
        .min()
}

/// The store as changed so far in this pass, and the ops that changed it.
struct Work {
    store: Store,
    ops: Vec<StoreOp>,
    now: SimTime,
}

/// A replicated slot number with its live tasks.
type Slot = (u64, Vec<Task>);

/// Which tasks share a history: replicated by slot, global by node.
fn same_slot(a: &Task, b: &Task) -> bool {
    a.service_id == b.service_id
        && if a.slot == 0 { a.node_id == b.node_id } else { a.slot == b.slot }
}

fn live(t: &Task) -> bool {
    t.desired_state <= TaskState::Running
}

/// A node that can no longer keep its tasks (`orchestrator.InvalidNode`).
fn invalid_node(node: Option<&Node>) -> bool {
    node.is_none_or(|n| n.state == NodeState::Down || n.availability == Availability::Drain)
}

/// Whether a task's spec differs from the service's in what a task runs.
fn outdated(service: &ServiceSpec, task: &ServiceSpec) -> bool {
    let mut normalized = task.clone();
    normalized.name.clone_from(&service.name);
    normalized.labels.clone_from(&service.labels);
    normalized.mode = service.mode;
    normalized != *service
}

/// Whether a desired-READY task still waits for an older task of its slot to stop.
fn waits_for_old_task(store: &Store, t: &Task, now: SimTime) -> bool {
    if now >= t.meta.created_at + OLD_TASK_TIMEOUT {
        return false;
    }
    store.tasks.values().any(|o| {
        o.id != t.id
            && same_slot(o, t)
            && o.desired_state > TaskState::Running
            && (TaskState::Assigned..=TaskState::Running).contains(&o.status.state)
            && store.nodes.get(&o.node_id).is_some_and(|n| n.state != NodeState::Down)
    })
}

impl Work {
    fn put(&mut self, t: Task) {
        let op = StoreOp::PutTask(Box::new(t));
        self.store.apply(0, std::slice::from_ref(&op));
        self.ops.push(op);
    }

    fn delete(&mut self, id: &str) {
        let op = StoreOp::DeleteTask(id.to_string());
        self.store.apply(0, std::slice::from_ref(&op));
        self.ops.push(op);
    }

    /// Raises a task's desired state, never lowers it.
    fn set_desired(&mut self, id: &str, state: TaskState) {
        let t = self.store.tasks.get(id).expect("task in store");
        if t.desired_state < state {
            let mut t = t.clone();
            t.desired_state = state;
            self.put(t);
        }
    }

    fn tasks_of(&self, service_id: &str) -> Vec<Task> {
        self.store.tasks_of(service_id).cloned().collect()
    }

    /// Network-attachment tasks have no service; their daemon detaches them.
    fn remove_tasks_of_deleted_services(&mut self) {
        let orphans: Vec<String> = (self.store.tasks.values())
            .filter(|t| t.attachment.is_none() && !self.store.services.contains_key(&t.service_id))
            .map(|t| t.id.clone())
            .collect();
        for id in orphans {
            self.set_desired(&id, TaskState::Remove);
        }
    }

    /// A new task of the service (`orchestrator.NewTask`).
    fn new_task(&self, s: &Service, slot: u64, node_id: &str, rng: &mut RngStream) -> Task {
        Task {
            id: new_id(rng),
            meta: Meta::new(self.now),
            service_id: s.id.clone(),
            slot,
            node_id: node_id.to_string(),
            spec: s.spec.clone(),
            status: TaskStatus {
                timestamp: self.now,
                state: TaskState::New,
                message: "created".to_string(),
                err: String::new(),
            },
            desired_state: TaskState::Running,
            networks: Vec::new(),
            endpoint: None,
            not_before: None,
            attachment: None,
        }
    }

    /// Shuts `old` down and creates its successor desired READY, to start at `not_before`.
    fn replace(&mut self, s: &Service, old: &Task, delay: SimDuration, rng: &mut RngStream) {
        self.set_desired(&old.id, TaskState::Shutdown);
        let node = if old.slot == 0 { old.node_id.as_str() } else { "" };
        let mut t = self.new_task(s, old.slot, node, rng);
        t.desired_state = TaskState::Ready;
        t.not_before = Some(self.now + delay);
        self.put(t);
    }

    /// The restart supervisor; see the module doc. Global tasks whose node is gone, DOWN or
    /// drained are left to [`Work::reconcile_global`], which shuts them down instead.
    fn restart_failed(&mut self, s: &Service, rng: &mut RngStream) {
        let global = s.spec.mode == ServiceMode::Global;
        for t in self.tasks_of(&s.id).iter().filter(|t| live(t)) {
            let node = self.store.nodes.get(&t.node_id).cloned();
            let node_lost = !t.node_id.is_empty() && invalid_node(node.as_ref());
            let ended = t.status.state.is_terminal();
            let restart = if global { ended && !node_lost } else { ended || node_lost };
            if !restart {
                continue;
            }
            let drained = node.is_some_and(|n| n.availability == Availability::Drain);
            let delay = if drained { SimDuration::ZERO } else { s.spec.restart_delay };
            self.replace(s, t, delay, rng);
        }
    }

    /// Moves desired-READY tasks to RUNNING once their delay passed and the task they replace
    /// stopped (`DelayStart`, `StartNow`).
    fn start_delayed(&mut self) {
        let ready: Vec<Task> = (self.store.tasks.values())
            .filter(|t| t.desired_state == TaskState::Ready)
            .filter(|t| t.not_before.is_none_or(|nb| nb <= self.now))
            .filter(|t| !waits_for_old_task(&self.store, t, self.now))
            .cloned()
            .collect();
        for mut t in ready {
            t.desired_state = TaskState::Running;
            self.put(t);
        }
    }
}

/// Replicated and global reconciliation.
impl Work {
    /// Runnable slots of a replicated service, by slot number, each with its live tasks.
    fn runnable_slots(&self, service_id: &str) -> Vec<Slot> {
        let mut slots: Vec<Slot> = Vec::new();
        for t in self.tasks_of(service_id).into_iter().filter(live) {
            match slots.iter_mut().find(|(n, _)| *n == t.slot) {
                Some((_, ts)) => ts.push(t),
                None => slots.push((t.slot, vec![t])),
            }
        }
        slots.sort_by_key(|(n, _)| *n);
        slots
    }

    fn reconcile_replicated(&mut self, s: &Service, replicas: u64, rng: &mut RngStream) {
        let slots = self.runnable_slots(&s.id);
        let have = slots.len() as u64;
        if have < replicas {
            let taken: Vec<u64> = slots.iter().map(|(n, _)| *n).collect();
            let free = (1..).filter(|n| !taken.contains(n));
            for slot in free.take((replicas - have) as usize) {
                let t = self.new_task(s, slot, "", rng);
                self.put(t);
            }
        } else if have > replicas {
            for (_, tasks) in scale_down_order(slots).into_iter().skip(replicas as usize) {
                for t in tasks {
                    self.set_desired(&t.id, TaskState::Remove);
                }
            }
        }
    }

    fn reconcile_global(&mut self, s: &Service, rng: &mut RngStream) {
        for t in self.tasks_of(&s.id).iter().filter(|t| live(t)) {
            match self.store.nodes.get(&t.node_id) {
                None => self.delete(&t.id),
                Some(n) if invalid_node(Some(n)) || !node_matches(&s.spec.constraints, n) => {
                    self.set_desired(&t.id, TaskState::Shutdown);
                }
                Some(_) => {}
            }
        }
        let eligible: Vec<String> = (self.store.nodes.values())
            .filter(|n| n.state == NodeState::Ready && n.availability == Availability::Active)
            .filter(|n| node_matches(&s.spec.constraints, n))
            .map(|n| n.id.clone())
            .collect();
        for node_id in eligible {
            let has = self.store.tasks_of(&s.id).any(|t| t.node_id == node_id && live(t));
            if !has {
                let t = self.new_task(s, 0, &node_id, rng);
                self.put(t);
            }
        }
    }

    /// Replaces one outdated task at a time; see the module doc.
    fn rolling_update(&mut self, s: &Service, rng: &mut RngStream) {
        let tasks = self.tasks_of(&s.id);
        let current = tasks.iter().filter(|t| live(t) && !outdated(&s.spec, &t.spec));
        if current.clone().any(|t| t.status.state != TaskState::Running) {
            return;
        }
        let stale = tasks.iter().filter(|t| live(t) && outdated(&s.spec, &t.spec));
        let next = stale.min_by_key(|t| (t.slot, self.store.tasks.get_index_of(&t.id)));
        if let Some(old) = next.cloned() {
            self.replace(s, &old, SimDuration::ZERO, rng);
        }
    }
}

/// Scale-down order (`replicated/services.go`): running slots first, then by the copy index
/// of their task on its node, unassigned slots last; stable, so ties keep slot order. The
/// slots kept come first.
fn scale_down_order(mut slots: Vec<Slot>) -> Vec<Slot> {
    slots.sort_by_key(|(_, ts)| !ts.iter().any(|t| t.status.state == TaskState::Running));
    let mut per_node: Vec<(String, u64)> = Vec::new();
    let mut indexed: Vec<(Option<u64>, Slot)> = Vec::new();
    for slot in slots {
        let index = match slot.1.as_slice() {
            [t] if !t.node_id.is_empty() => {
                let pos = per_node.iter().position(|(n, _)| *n == t.node_id);
                let i = pos.unwrap_or_else(|| {
                    per_node.push((t.node_id.clone(), 0));
                    per_node.len() - 1
                });
                per_node[i].1 += 1;
                Some(per_node[i].1)
            }
            _ => None,
        };
        indexed.push((index, slot));
    }
    indexed.sort_by_key(|(i, _)| i.map_or((1, 0), |i| (0, i)));
    indexed.into_iter().map(|(_, s)| s).collect()
}

/// The task reaper.
impl Work {
    fn reap(&mut self) {
        let done: Vec<String> = (self.store.tasks.values())
            .filter(|t| t.desired_state == TaskState::Remove)
            .filter(|t| {
                t.status.state < TaskState::Assigned || t.status.state >= TaskState::Complete
            })
            .map(|t| t.id.clone())
            .collect();
        for id in done {
            self.delete(&id);
        }
        let limit = self.store.cluster.as_ref().map_or(DEFAULT_HISTORY, |c| c.task_history_limit);
        let firsts: Vec<Task> = (self.store.tasks.values())
            .filter(|t| self.store.services.contains_key(&t.service_id))
            .cloned()
            .collect();
        for t in firsts {
            if self.store.tasks.contains_key(&t.id) {
                self.trim_history(&t, limit as usize);
            }
        }
    }

    /// Deletes the oldest non-live tasks of `t`'s slot beyond `limit`.
    fn trim_history(&mut self, t: &Task, limit: usize) {
        let mut history: Vec<Task> =
            self.store.tasks.values().filter(|o| same_slot(o, t)).cloned().collect();
        if history.len() <= limit {
            return;
        }
        history.sort_by_key(|o| o.status.timestamp);
        let mut excess = history.len() - limit;
        for o in history {
            if excess == 0 {
                break;
            }
            if live(&o) && o.status.state <= TaskState::Running {
                continue;
            }
            self.delete(&o.id);
            excess -= 1;
        }
    }
}

/// Test fixtures: a small cluster, services, a stand-in agent and a pass loop.
#[cfg(test)]
pub(crate) mod testkit {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::docker::swarm::store::{
        Cluster, EndpointMode, Network, NodeDescription, Os, Role, ServiceMode,
    };
    use crate::engine::Streams;

    pub const INGRESS: &str = "ingressnetid";

    pub fn rng() -> RngStream {
        Streams::new(7).stream("orchestrator-test")
    }

    pub fn node(id: &str, os: Os) -> Node {
        Node {
            id: id.to_string(),
            meta: Meta::new(SimTime::ZERO),
            role: Role::Worker,
            availability: Availability::Active,
            labels: Vec::new(),
            description: NodeDescription {
                hostname: format!("host-{id}"),
                os,
                architecture: "x86_64".to_string(),
                nano_cpus: 1_000_000_000,
                memory_bytes: 1 << 30,
                engine_version: "20.10.7".to_string(),
                engine_labels: Vec::new(),
            },
            state: NodeState::Ready,
            message: String::new(),
            addr: Ipv4Addr::new(192, 168, 0, 1),
            manager: None,
        }
    }

    pub fn network(id: &str, name: &str, ingress: bool) -> Network {
        Network {
            id: id.to_string(),
            meta: Meta::new(SimTime::ZERO),
            name: name.to_string(),
            driver: "overlay".to_string(),
            options: Vec::new(),
            labels: Vec::new(),
            attachable: false,
            ingress,
            internal: false,
            requested_subnet: None,
            allocation: None,
        }
    }

    /// A swarm with an (unallocated) ingress network and nodes `node1..=nodeN`.
    pub fn cluster(nodes: usize) -> Store {
        let cluster =
            Cluster::new("clusterid".to_string(), SimTime::ZERO, String::new(), String::new());
        let mut store = Store { cluster: Some(cluster), ..Store::default() };
        store.networks.insert(INGRESS.to_string(), network(INGRESS, "ingress", true));
        for i in 1..=nodes {
            let id = format!("node{i}");
            store.nodes.insert(id.clone(), node(&id, Os::Linux));
        }
        store
    }

    pub fn spec(name: &str, mode: ServiceMode, networks: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: name.to_string(),
            labels: Vec::new(),
            image: "nginx:latest".to_string(),
            args: Vec::new(),
            env: Vec::new(),
            mode,
            constraints: Vec::new(),
            networks: networks.iter().map(|n| n.to_string()).collect(),
            endpoint_mode: EndpointMode::Vip,
            ports: Vec::new(),
            restart_delay: SimDuration::from_secs(5),
        }
    }

    pub fn service(id: &str, spec: ServiceSpec) -> Service {
        Service {
            id: id.to_string(),
            meta: Meta::new(SimTime::ZERO),
            spec,
            previous_spec: None,
            endpoint: None,
        }
    }

    /// What the agents would report: assigned tasks desired RUNNING start on READY nodes;
    /// tasks desired past RUNNING stop, except on DOWN nodes.
    pub fn agent(store: &Store, now: SimTime) -> Vec<StoreOp> {
        let mut ops = Vec::new();
        for t in store.tasks.values() {
            let Some(node) = store.nodes.get(&t.node_id) else { continue };
            let active = (TaskState::Assigned..=TaskState::Running).contains(&t.status.state);
            let next = match t.desired_state {
                _ if !active || node.state == NodeState::Down => continue,
                TaskState::Running if t.status.state < TaskState::Running => TaskState::Running,
                d if d > TaskState::Running => TaskState::Shutdown,
                _ => continue,
            };
            let mut t = t.clone();
            t.status =
                TaskStatus { timestamp: now, state: next, message: String::new(), err: "".into() };
            ops.push(StoreOp::PutTask(Box::new(t)));
        }
        ops
    }

    /// A leader and its agents at time `now`: passes until neither has anything to do.
    pub struct Harness {
        pub store: Store,
        pub alloc: Allocator,
        pub rng: RngStream,
        pub index: u64,
    }

    impl Harness {
        pub fn new(store: Store) -> Harness {
            let alloc = Allocator::from_store(&store);
            Harness { store, alloc, rng: rng(), index: 0 }
        }

        pub fn apply(&mut self, ops: &[StoreOp]) {
            self.index += 1;
            self.store.apply(self.index, ops);
        }

        /// Manager passes until quiet; with `agents`, the agents' reports too.
        pub fn settle(&mut self, now: SimTime, agents: bool) {
            for _ in 0..200 {
                let ops = reconcile(&mut self.alloc, &self.store, now, &mut self.rng);
                if !ops.is_empty() {
                    self.apply(&ops);
                    continue;
                }
                let reports = if agents { agent(&self.store, now) } else { Vec::new() };
                if reports.is_empty() {
                    return;
                }
                self.apply(&reports);
            }
            panic!("no convergence after 200 passes");
        }

        pub fn live_tasks<'a>(&'a self, service_id: &'a str) -> Vec<&'a Task> {
            self.store
                .tasks_of(service_id)
                .filter(|t| t.desired_state <= TaskState::Running)
                .collect()
        }

        /// Live tasks per node, in node order.
        pub fn spread(&self, service_id: &str) -> Vec<usize> {
            let live = self.live_tasks(service_id);
            self.store
                .nodes
                .keys()
                .map(|n| live.iter().filter(|t| &t.node_id == n).count())
                .collect()
        }

        pub fn put_node(&mut self, node: Node) {
            self.apply(&[StoreOp::PutNode(Box::new(node))]);
        }

        pub fn put_service(&mut self, s: Service) {
            self.apply(&[StoreOp::PutService(Box::new(s))]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;
    use crate::docker::swarm::store::Constraint;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn replicated(n: u64) -> Service {
        service("webid", spec("web", ServiceMode::Replicated { replicas: n }, &[]))
    }

    fn fail(h: &mut Harness, id: &str, at: SimTime) {
        let mut t = h.store.tasks[id].clone();
        t.status = TaskStatus {
            timestamp: at,
            state: TaskState::Failed,
            message: String::new(),
            err: "exit 1".into(),
        };
        h.apply(&[StoreOp::PutTask(Box::new(t))]);
    }

    #[test]
    fn drain_moves_tasks_to_other_nodes_in_the_same_slots() {
        let mut h = Harness::new(cluster(3));
        h.put_service(replicated(3));
        h.settle(SimTime::ZERO, true);
        let old =
            h.live_tasks("webid").into_iter().find(|t| t.node_id == "node1").expect("one").clone();
        let mut n = h.store.nodes["node1"].clone();
        n.availability = Availability::Drain;
        h.put_node(n);
        h.settle(secs(1), true);
        assert_eq!(h.store.tasks[&old.id].desired_state, TaskState::Shutdown);
        assert_eq!(h.store.tasks[&old.id].status.state, TaskState::Shutdown);
        let new: Vec<_> =
            h.live_tasks("webid").into_iter().filter(|t| t.slot == old.slot).collect();
        assert_eq!(new.len(), 1);
        assert_eq!(
            (new[0].desired_state, new[0].status.state),
            (TaskState::Running, TaskState::Running)
        );
        assert_eq!(new[0].not_before, Some(secs(1)));
        assert_eq!(h.spread("webid"), vec![0, 2, 1]);
    }

    #[test]
    fn scale_down_removes_from_the_fullest_nodes_and_reaps_after_shutdown() {
        let mut h = Harness::new(cluster(6));
        h.put_service(replicated(15));
        h.settle(SimTime::ZERO, true);
        assert_eq!(h.spread("webid"), vec![3, 3, 3, 2, 2, 2]);
        h.put_service(replicated(10));
        h.settle(secs(1), false);
        let removing: Vec<u64> = (h.store.tasks.values())
            .filter(|t| t.desired_state == TaskState::Remove)
            .map(|t| t.slot)
            .collect();
        assert_eq!(removing, vec![11, 12, 13, 14, 15]);
        h.settle(secs(1), true);
        assert_eq!(h.store.tasks.len(), 10);
        assert_eq!(h.spread("webid"), vec![2, 2, 2, 2, 1, 1]);
    }

    #[test]
    fn global_service_follows_nodes_and_constraints() {
        let mut store = cluster(3);
        for id in ["node1", "node2"] {
            store.nodes[id].labels = vec![("zone".into(), "a".into())];
        }
        let mut h = Harness::new(store);
        let mut s = spec("agent", ServiceMode::Global, &[]);
        s.constraints =
            vec![Constraint { key: "node.labels.zone".into(), equals: true, value: "a".into() }];
        h.put_service(service("agentid", s));
        h.settle(SimTime::ZERO, true);
        assert_eq!(h.spread("agentid"), vec![1, 1, 0]);
        assert!(h
            .live_tasks("agentid")
            .iter()
            .all(|t| t.slot == 0 && t.status.state == TaskState::Running));

        let mut n3 = h.store.nodes["node3"].clone();
        n3.labels = vec![("zone".into(), "a".into())];
        h.put_node(n3);
        let mut n1 = h.store.nodes["node1"].clone();
        n1.availability = Availability::Drain;
        h.put_node(n1);
        let mut n2 = h.store.nodes["node2"].clone();
        n2.availability = Availability::Pause;
        h.put_node(n2);
        h.settle(secs(1), true);
        assert_eq!(h.spread("agentid"), vec![0, 1, 1]);
        let on_node1: Vec<_> = (h.store.tasks.values())
            .filter(|t| t.node_id == "node1")
            .map(|t| (t.desired_state, t.status.state))
            .collect();
        assert_eq!(on_node1, vec![(TaskState::Shutdown, TaskState::Shutdown)]);
    }

    #[test]
    fn restart_waits_for_the_delay() {
        let mut h = Harness::new(cluster(2));
        h.put_service(replicated(1));
        h.settle(SimTime::ZERO, true);
        let old = h.live_tasks("webid")[0].id.clone();
        fail(&mut h, &old, secs(10));
        h.settle(secs(10), true);
        let new = h.live_tasks("webid")[0].clone();
        assert_eq!(h.store.tasks[&old].desired_state, TaskState::Shutdown);
        assert_eq!(
            (new.slot, new.desired_state, new.status.state),
            (1, TaskState::Ready, TaskState::Assigned)
        );
        assert_eq!(new.not_before, Some(secs(15)));
        assert_eq!(next_wakeup(&h.store, secs(10)), Some(secs(15)));
        h.settle(secs(14), true);
        assert_eq!(h.store.tasks[&new.id].desired_state, TaskState::Ready);
        h.settle(secs(15), true);
        assert_eq!(h.store.tasks[&new.id].status.state, TaskState::Running);
        assert_eq!(next_wakeup(&h.store, secs(15)), None);
    }

    #[test]
    fn tasks_of_a_down_node_restart_elsewhere_without_waiting_for_them() {
        let mut h = Harness::new(cluster(2));
        h.put_service(replicated(2));
        h.settle(SimTime::ZERO, true);
        let mut n = h.store.nodes["node1"].clone();
        n.state = NodeState::Down;
        h.put_node(n);
        h.settle(secs(20), true);
        let stuck: Vec<_> = (h.store.tasks.values())
            .filter(|t| t.node_id == "node1")
            .map(|t| (t.desired_state, t.status.state))
            .collect();
        assert_eq!(stuck, vec![(TaskState::Shutdown, TaskState::Running)]);
        assert_eq!(next_wakeup(&h.store, secs(20)), Some(secs(25)));
        h.settle(secs(25), true);
        assert_eq!(h.spread("webid"), vec![0, 2]);
        assert!(h.live_tasks("webid").iter().all(|t| t.status.state == TaskState::Running));
    }

    #[test]
    fn history_keeps_five_tasks_per_slot() {
        let mut h = Harness::new(cluster(1));
        h.put_service(replicated(1));
        h.settle(SimTime::ZERO, true);
        for i in 0..7 {
            let id = h.live_tasks("webid")[0].id.clone();
            fail(&mut h, &id, secs(10 * i + 1));
            h.settle(secs(10 * i + 1), true);
            h.settle(secs(10 * i + 6), true);
        }
        assert_eq!(h.store.tasks.len(), 5);
        assert_eq!(h.live_tasks("webid").len(), 1);
    }

    #[test]
    fn removed_service_tasks_are_deleted_once_stopped() {
        let mut h = Harness::new(cluster(2));
        h.put_service(replicated(2));
        h.settle(SimTime::ZERO, true);
        h.apply(&[StoreOp::DeleteService("webid".into())]);
        let ops = orchestrate(&h.store, secs(1), &mut rng());
        assert_eq!(ops.len(), 2);
        assert!(ops
            .iter()
            .all(|op| matches!(op, StoreOp::PutTask(t) if t.desired_state == TaskState::Remove)));
        h.settle(secs(1), true);
        assert!(h.store.tasks.is_empty());
    }

    #[test]
    fn update_replaces_one_task_at_a_time() {
        let mut h = Harness::new(cluster(3));
        h.put_service(replicated(3));
        h.settle(SimTime::ZERO, true);
        let mut s = replicated(3);
        s.spec.image = "nginx:alpine".into();
        h.put_service(s);
        h.settle(secs(1), false);
        let images = |h: &Harness| -> Vec<(u64, String)> {
            let mut v: Vec<_> =
                h.live_tasks("webid").iter().map(|t| (t.slot, t.spec.image.clone())).collect();
            v.sort();
            v
        };
        assert_eq!(images(&h)[0], (1, "nginx:alpine".to_string()));
        assert_eq!(
            images(&h)[1..],
            [(2, "nginx:latest".to_string()), (3, "nginx:latest".to_string())]
        );
        h.settle(secs(1), true);
        assert!(images(&h).iter().all(|(_, i)| i == "nginx:alpine"));
        assert_eq!(h.store.tasks.len(), 6);
        assert_eq!(h.spread("webid"), vec![1, 1, 1]);
    }
}
