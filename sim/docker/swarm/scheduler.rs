//! The scheduler (swarmkit `manager/scheduler`): assigns PENDING tasks to nodes, as a pure
//! function of the committed store.
//!
//! Contract: [`schedule`] returns a `PutTask` for each PENDING task (desired state at most
//! RUNNING) it can place — state ASSIGNED, message `scheduler assigned task to node` — and,
//! for one it cannot place, a `PutTask` carrying `no suitable node (…)` in `err` only when
//! that text changed, so a second pass over the same store returns nothing.
//!
//! Filters, in swarmkit's pipeline order (`pipeline.go` `defaultFilters`, `filter.go`); a node
//! is counted against the first filter it fails, and the explanation lists the failing
//! filters by count, most first, joined by `; ` (`Pipeline.Explain`, `noSuitableNode`):
//! - ready: node READY and availability ACTIVE — `N nodes not available for new tasks`;
//! - constraints ([`node_matches`]) — `scheduling constraints not satisfied on N nodes`;
//! - platform: the image's OS ([`image_os`]) equals the node's —
//!   `unsupported platform on N nodes`. Real swarmkit gets the platforms from the image
//!   manifest, which the daemon looks up at `service create`; the simulator has no registry,
//!   so the OS comes from the image name.
//!
//! Spread: each task goes to the node with the fewest active tasks of its service, then the
//! fewest active tasks overall (`nodeLess` in `scheduler.go`); remaining ties go to the node
//! that comes first in the store (swarmkit's order there is its node map's). Active means
//! assigned, desired at most RUNNING and observed at most RUNNING (`nodeinfo.go`). Tasks are
//! placed one at a time in store order, each seeing the ones placed before it; on equal nodes
//! this gives swarmkit's fill-then-round-robin result (15 tasks on 6 nodes: 3/3/3/2/2/2).
//! Not modelled: resource reservations, plugins, host-mode port conflicts, max replicas per
//! node, placement preferences and the recent-failure penalty.

use indexmap::IndexMap;

use super::store::{Availability, Constraint, Node, NodeState, Os, Role, Store, StoreOp, Task};
use super::store::{TaskState, TaskStatus};
use crate::engine::SimTime;

/// The status message of an assigned task.
pub const ASSIGNED_MESSAGE: &str = "scheduler assigned task to node";

/// The OS an image runs on. Windows: the name (any case) contains `windows`, `nanoserver` or
/// `servercore` (mcr.microsoft.com/windows/…, microsoft/nanoserver, …/servercore/iis,
/// microsoft/mssql-server-windows-…), or is `microsoft/iis`, a .NET Framework image
/// (`dotnet/framework`) or lab 003's `dockersamples/atsea-db:mssql` (built on
/// mssql-server-windows); everything else is Linux.
pub fn image_os(image: &str) -> Os {
    let name = image.to_ascii_lowercase();
    let markers = [
        "windows",
        "nanoserver",
        "servercore",
        "microsoft/iis",
        "dotnet/framework",
        "atsea-db:mssql",
    ];
    if markers.iter().any(|m| name.contains(m)) {
        Os::Windows
    } else {
        Os::Linux
    }
}

/// Whether a node satisfies every constraint (swarmkit `constraint.NodeMatches`): values
/// compare case-insensitively; a missing label compares as the empty string; an unknown key
/// never matches.
pub fn node_matches(constraints: &[Constraint], node: &Node) -> bool {
    constraints.iter().all(|c| constraint_matches(c, node))
}

const NODE_LABELS: &str = "node.labels.";
const ENGINE_LABELS: &str = "engine.labels.";

fn constraint_matches(c: &Constraint, node: &Node) -> bool {
    let key = c.key.to_ascii_lowercase();
    let label = |labels: &[(String, String)], name: &str| {
        labels.iter().find(|(k, _)| k == name).map_or(String::new(), |(_, v)| v.clone())
    };
    let actual = match key.as_str() {
        "node.id" => node.id.clone(),
        "node.hostname" => node.description.hostname.clone(),
        "node.role" => role_name(node.role).to_string(),
        "node.platform.os" => node.description.os.to_string(),
        "node.platform.arch" => node.description.architecture.clone(),
        k if k.starts_with(NODE_LABELS) => label(&node.labels, &c.key[NODE_LABELS.len()..]),
        k if k.starts_with(ENGINE_LABELS) => {
            label(&node.description.engine_labels, &c.key[ENGINE_LABELS.len()..])
        }
        _ => return false,
    };
    c.value.eq_ignore_ascii_case(&actual) == c.equals
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Manager => "manager",
        Role::Worker => "worker",
    }
}

/// The filters, in pipeline order, with their explanation when `n` nodes fail them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Ready,
    Constraints,
    Platform,
}

const FILTERS: [Filter; 3] = [Filter::Ready, Filter::Constraints, Filter::Platform];

impl Filter {
    fn passes(self, task: &Task, node: &Node) -> bool {
        match self {
            Filter::Ready => {
                node.state == NodeState::Ready && node.availability == Availability::Active
            }
            Filter::Constraints => node_matches(&task.spec.constraints, node),
            Filter::Platform => image_os(&task.spec.image) == node.description.os,
        }
    }

    fn explain(self, n: usize) -> String {
        let nodes = if n == 1 { "1 node".to_string() } else { format!("{n} nodes") };
        match self {
            Filter::Ready => format!("{nodes} not available for new tasks"),
            Filter::Constraints => format!("scheduling constraints not satisfied on {nodes}"),
            Filter::Platform => format!("unsupported platform on {nodes}"),
        }
    }
}

/// The first filter a node fails for a task, if any.
fn first_failure(task: &Task, node: &Node) -> Option<Filter> {
    FILTERS.into_iter().find(|f| !f.passes(task, node))
}

/// Active tasks per node: in total and per service.
#[derive(Default)]
struct Load {
    total: IndexMap<String, u64>,
    by_service: IndexMap<(String, String), u64>,
}

impl Load {
    fn of(store: &Store) -> Load {
        let mut load = Load::default();
        let active = |t: &&Task| {
            !t.node_id.is_empty()
                && t.desired_state <= TaskState::Running
                && t.status.state >= TaskState::Assigned
                && t.status.state <= TaskState::Running
        };
        for t in store.tasks.values().filter(active) {
            load.add(&t.node_id, &t.service_id);
        }
        load
    }

    fn add(&mut self, node: &str, service: &str) {
        *self.total.entry(node.to_string()).or_default() += 1;
        *self.by_service.entry((node.to_string(), service.to_string())).or_default() += 1;
    }

    fn key(&self, node: &str, service: &str) -> (u64, u64) {
        let by = self.by_service.get(&(node.to_string(), service.to_string()));
        (by.copied().unwrap_or(0), self.total.get(node).copied().unwrap_or(0))
    }
}

/// Assigns each PENDING task it can place; see the module doc.
pub fn schedule(store: &Store, now: SimTime) -> Vec<StoreOp> {
    let mut load = Load::of(store);
    let mut ops = Vec::new();
    let pending = store
        .tasks
        .values()
        .filter(|t| t.status.state == TaskState::Pending && t.desired_state <= TaskState::Running);
    for task in pending {
        match place(store, &load, task) {
            Ok(node_id) => {
                load.add(&node_id, &task.service_id);
                ops.push(StoreOp::PutTask(Box::new(assigned(task, node_id, now))));
            }
            Err(Some(err)) if err != task.status.err => {
                let mut t = task.clone();
                t.status.err = err;
                t.status.timestamp = now;
                ops.push(StoreOp::PutTask(Box::new(t)));
            }
            Err(_) => {}
        }
    }
    ops
}

/// The node for a task, or why there is none (`None`: a preassigned task whose node does
/// not pass yet; swarmkit keeps it pending without a message).
fn place(store: &Store, load: &Load, task: &Task) -> Result<String, Option<String>> {
    if !task.node_id.is_empty() {
        let node = store.nodes.get(&task.node_id).ok_or(None)?;
        return match first_failure(task, node) {
            None => Ok(node.id.clone()),
            Some(_) => Err(None),
        };
    }
    let mut failures: IndexMap<usize, usize> = IndexMap::new();
    let mut best: Option<(&Node, (u64, u64))> = None;
    for node in store.nodes.values() {
        if let Some(f) = first_failure(task, node) {
            let idx = FILTERS.iter().position(|x| *x == f).expect("filter in pipeline");
            *failures.entry(idx).or_default() += 1;
            continue;
        }
        let key = load.key(&node.id, &task.service_id);
        if best.is_none_or(|(_, k)| key < k) {
            best = Some((node, key));
        }
    }
    match best {
        Some((node, _)) => Ok(node.id.clone()),
        None => Err(Some(no_suitable_node(failures))),
    }
}

/// `no suitable node (…)`: failing filters by count, most first, ties in pipeline order.
fn no_suitable_node(failures: IndexMap<usize, usize>) -> String {
    let mut counts: Vec<(usize, usize)> = failures.into_iter().collect();
    counts.sort_by_key(|(idx, n)| (std::cmp::Reverse(*n), *idx));
    if counts.is_empty() {
        return "no suitable node".to_string();
    }
    let parts: Vec<String> = counts.iter().map(|(idx, n)| FILTERS[*idx].explain(*n)).collect();
    format!("no suitable node ({})", parts.join("; "))
}

fn assigned(task: &Task, node_id: String, now: SimTime) -> Task {
    let mut t = task.clone();
    t.node_id = node_id;
    t.status = TaskStatus {
        timestamp: now,
        state: TaskState::Assigned,
        message: ASSIGNED_MESSAGE.to_string(),
        err: String::new(),
    };
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::swarm::orchestrator::testkit::*;
    use crate::docker::swarm::store::ServiceMode;

    fn constraint(key: &str, equals: bool, value: &str) -> Constraint {
        Constraint { key: key.into(), equals, value: value.into() }
    }

    #[test]
    fn fifteen_replicas_spread_over_six_nodes() {
        let mut h = Harness::new(cluster(6));
        h.put_service(service("webid", spec("web", ServiceMode::Replicated { replicas: 15 }, &[])));
        h.settle(SimTime::ZERO, false);
        assert_eq!(h.spread("webid"), vec![3, 3, 3, 2, 2, 2]);
        let t = h.store.tasks.values().next().expect("a task");
        assert_eq!(
            (t.status.state, t.status.message.as_str()),
            (TaskState::Assigned, ASSIGNED_MESSAGE)
        );
    }

    #[test]
    fn spread_counts_the_service_first_then_all_tasks() {
        let mut h = Harness::new(cluster(3));
        h.put_service(service("aid", spec("a", ServiceMode::Replicated { replicas: 2 }, &[])));
        h.settle(SimTime::ZERO, true);
        assert_eq!(h.spread("aid"), vec![1, 1, 0]);
        h.put_service(service("bid", spec("b", ServiceMode::Replicated { replicas: 2 }, &[])));
        h.settle(SimTime::ZERO, true);
        assert_eq!(h.spread("bid"), vec![1, 0, 1]);
    }

    #[test]
    fn a_windows_image_lands_only_on_the_windows_node() {
        let mut store = cluster(2);
        store.nodes.insert("win1".into(), node("win1", Os::Windows));
        let mut h = Harness::new(store);
        let mut s = spec("iis", ServiceMode::Replicated { replicas: 3 }, &[]);
        s.image = "mcr.microsoft.com/windows/servercore/iis".into();
        h.put_service(service("iisid", s));
        h.put_service(service("webid", spec("web", ServiceMode::Replicated { replicas: 3 }, &[])));
        h.settle(SimTime::ZERO, true);
        assert_eq!(h.spread("iisid"), vec![0, 0, 3]);
        assert_eq!(h.spread("webid"), vec![2, 1, 0]);
    }

    #[test]
    fn no_suitable_node_explains_and_is_not_repeated() {
        let mut h = Harness::new(cluster(3));
        let mut s = spec("web", ServiceMode::Replicated { replicas: 1 }, &[]);
        s.constraints = vec![constraint("node.hostname", true, "nowhere")];
        h.put_service(service("webid", s.clone()));
        h.settle(SimTime::ZERO, true);
        let t = h.store.tasks.values().next().expect("a task").clone();
        assert_eq!(t.status.state, TaskState::Pending);
        assert_eq!(t.status.message, "pending task scheduling");
        assert_eq!(
            t.status.err,
            "no suitable node (scheduling constraints not satisfied on 3 nodes)"
        );
        assert_eq!(schedule(&h.store, SimTime(1)), vec![]);

        let mut drained = h.store.nodes["node1"].clone();
        drained.availability = Availability::Drain;
        h.put_node(drained);
        s.image = "microsoft/nanoserver".into();
        s.constraints = vec![constraint("node.role", true, "worker")];
        let mut t = t;
        t.spec = s;
        h.apply(&[StoreOp::PutTask(Box::new(t))]);
        let ops = schedule(&h.store, SimTime(2));
        let [StoreOp::PutTask(t)] = ops.as_slice() else { panic!("one update: {ops:?}") };
        assert_eq!(t.status.err, "no suitable node (unsupported platform on 2 nodes; 1 node not available for new tasks)");
    }

    #[test]
    fn constraints_match_as_swarmkit() {
        let mut n = node("abc", Os::Linux);
        n.labels = vec![("zone".into(), "East".into())];
        n.description.engine_labels = vec![("disk".into(), "ssd".into())];
        let m = |key: &str, eq: bool, v: &str| node_matches(&[constraint(key, eq, v)], &n);
        assert!(m("node.labels.zone", true, "east"));
        assert!(m("node.labels.rack", false, "r1"));
        assert!(!m("node.labels.rack", true, "r1"));
        assert!(m("engine.labels.disk", true, "ssd"));
        assert!(m("node.id", true, "abc"));
        assert!(m("node.hostname", false, "other"));
        assert!(m("node.role", true, "worker"));
        assert!(m("node.platform.os", true, "linux"));
        assert!(m("node.platform.arch", true, "x86_64"));
        assert!(!m("node.unknown", false, "x"));
    }

    #[test]
    fn image_os_by_name() {
        assert_eq!(image_os("mcr.microsoft.com/windows/nanoserver:1809"), Os::Windows);
        assert_eq!(image_os("microsoft/iis"), Os::Windows);
        assert_eq!(image_os("dockersamples/atsea-db:mssql"), Os::Windows);
        assert_eq!(image_os("microsoft/mssql-server-windows-express"), Os::Windows);
        assert_eq!(image_os("mcr.microsoft.com/dotnet/framework/aspnet:4.8"), Os::Windows);
        assert_eq!(image_os("microsoft/mssql-server-linux"), Os::Linux);
        assert_eq!(image_os("nginx:alpine"), Os::Linux);
    }
}
