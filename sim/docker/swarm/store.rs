//! The cluster store: swarmkit's replicated state (nodes, networks, services, tasks and the
//! cluster object), as every manager holds it.
//!
//! Contract: the store changes only through [`Store::apply`], called with the operations of a
//! committed Raft entry, in log order, on every manager alike; so all managers that applied
//! the same prefix of the log hold equal stores. Operations carry everything they need
//! (timestamps included, chosen by the proposer), so applying is deterministic. An object's
//! `version` is the Raft index of the entry that last wrote it, as swarmkit's `Meta.Version`.
//!
//! Objects mirror the fields of swarmkit's `api` types that `docker … ls|ps|inspect` show;
//! the rest is left out.

use std::fmt;
use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use crate::engine::{SimDuration, SimTime};

/// swarmkit's `api.Meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The Raft index of the last write.
    pub version: u64,
    pub created_at: SimTime,
    pub updated_at: SimTime,
}

impl Meta {
    pub fn new(at: SimTime) -> Meta {
        Meta { version: 0, created_at: at, updated_at: at }
    }
}

/// The swarm itself: its tokens and the settings `docker swarm update` changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub id: String,
    pub meta: Meta,
    pub worker_token: String,
    pub manager_token: String,
    /// `TaskHistoryRetentionLimit`, default 5.
    pub task_history_limit: u32,
    /// The dispatcher's heartbeat period, default 5 s.
    pub heartbeat_period: SimDuration,
    /// The leader's keyring for gossip and IPsec (`NetworkBootstrapKeys`), 3 per subsystem.
    pub network_bootstrap_keys: Vec<EncryptionKey>,
    /// The keymanager's Lamport clock, the tag of the newest key.
    pub encryption_key_lamport_clock: u64,
}

impl Cluster {
    /// A new swarm's cluster object, with swarmkit's defaults and no keys yet (the leader's
    /// keymanager adds them).
    pub fn new(id: String, at: SimTime, worker_token: String, manager_token: String) -> Cluster {
        Cluster {
            id,
            meta: Meta::new(at),
            worker_token,
            manager_token,
            task_history_limit: 5,
            heartbeat_period: SimDuration::from_secs(5),
            network_bootstrap_keys: Vec::new(),
            encryption_key_lamport_clock: 0,
        }
    }
}

/// The subsystems the keymanager keeps keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySubsystem {
    /// `networking:gossip`: memberlist's encryption.
    Gossip,
    /// `networking:ipsec`: the encrypted overlays' ESP.
    Ipsec,
}

/// `api.EncryptionKey`: an `AES_128_GCM` key, tagged with the keymanager's Lamport time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptionKey {
    pub subsystem: KeySubsystem,
    pub key: [u8; 16],
    pub lamport_time: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Worker,
    Manager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Active,
    Pause,
    Drain,
}

/// `api.NodeStatus_State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Unknown,
    Down,
    Ready,
    Disconnected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Os {
    Linux,
    Windows,
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Os::Linux => "linux",
            Os::Windows => "windows",
        })
    }
}

/// What a node reports about itself when it registers (`api.NodeDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDescription {
    pub hostname: String,
    pub os: Os,
    /// `x86_64`.
    pub architecture: String,
    pub nano_cpus: u64,
    pub memory_bytes: u64,
    pub engine_version: String,
    pub engine_labels: Vec<(String, String)>,
}

/// A member of the swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub meta: Meta,
    /// The desired role (`Spec.DesiredRole`).
    pub role: Role,
    pub availability: Availability,
    /// `Spec.Annotations.Labels`, set by `docker node update --label-add`.
    pub labels: Vec<(String, String)>,
    pub description: NodeDescription,
    pub state: NodeState,
    /// `Status.Message` (`heartbeat failure`, …).
    pub message: String,
    /// `Status.Addr`: the address the node's session came from.
    pub addr: Ipv4Addr,
    /// Set while the node is a Raft member.
    pub manager: Option<ManagerStatus>,
}

/// A manager's Raft membership (`api.ManagerStatus` without what is computed at read time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerStatus {
    pub raft_id: u64,
    /// `advertise-addr:2377`.
    pub addr: (Ipv4Addr, u16),
}

/// A swarm-scoped network: its spec and what the allocator gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub meta: Meta,
    pub name: String,
    /// `overlay`.
    pub driver: String,
    /// Driver options as given (`--opt`), in order; unknown keys are kept, as Docker does.
    pub options: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub attachable: bool,
    pub ingress: bool,
    pub internal: bool,
    /// The subnet the user asked for, if any.
    pub requested_subnet: Option<Ipv4Net>,
    /// Filled in by the allocator.
    pub allocation: Option<NetworkAllocation>,
}

/// The allocator's choices for a network (`DriverState` and `IPAM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAllocation {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub vni: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointMode {
    Vip,
    Dnsrr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishMode {
    Ingress,
    Host,
}

/// `api.PortConfig`. `published` is 0 until the allocator picks one (ingress mode only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    pub protocol: Protocol,
    pub target: u16,
    pub published: u16,
    pub mode: PublishMode,
}

/// One placement constraint, `node.hostname==worker1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// `node.hostname`, `node.id`, `node.role`, `node.platform.os`, `node.labels.KEY`,
    /// `engine.labels.KEY`.
    pub key: String,
    pub equals: bool,
    pub value: String,
}

/// As the store keeps it and `service inspect` shows it: `node.role==worker`.
impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.equals { "==" } else { "!=" };
        write!(f, "{}{op}{}", self.key, self.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceMode {
    Replicated { replicas: u64 },
    Global,
}

/// `api.ServiceSpec`, the part the simulator models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub name: String,
    pub labels: Vec<(String, String)>,
    /// The image as given (`nginx:latest`); its OS decides where it can run.
    pub image: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub mode: ServiceMode,
    pub constraints: Vec<Constraint>,
    /// Network IDs, in the order given.
    pub networks: Vec<String>,
    pub endpoint_mode: EndpointMode,
    pub ports: Vec<PortConfig>,
    /// Restart condition `any`, delay 5 s, unless the spec says otherwise.
    pub restart_delay: SimDuration,
}

/// A service's VIP on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualIp {
    pub network_id: String,
    pub addr: Ipv4Net,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub meta: Meta,
    pub spec: ServiceSpec,
    pub previous_spec: Option<ServiceSpec>,
    /// `Endpoint.Ports` (published ports filled in) and `Endpoint.VirtualIPs`, set by the
    /// allocator; `None` until then.
    pub endpoint: Option<ServiceEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    pub ports: Vec<PortConfig>,
    pub virtual_ips: Vec<VirtualIp>,
}

/// `api.TaskState`, in swarmkit's order: states only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskState {
    New,
    Pending,
    Assigned,
    Accepted,
    Preparing,
    Ready,
    Starting,
    Running,
    Complete,
    Shutdown,
    Failed,
    Rejected,
    Remove,
    Orphaned,
}

impl TaskState {
    /// Every state, in swarmkit's order (`TaskState_value`).
    pub const ALL: [TaskState; 14] = [
        TaskState::New,
        TaskState::Pending,
        TaskState::Assigned,
        TaskState::Accepted,
        TaskState::Preparing,
        TaskState::Ready,
        TaskState::Starting,
        TaskState::Running,
        TaskState::Complete,
        TaskState::Shutdown,
        TaskState::Failed,
        TaskState::Rejected,
        TaskState::Remove,
        TaskState::Orphaned,
    ];

    /// Past RUNNING: the task is over (its addresses are freed).
    pub fn is_terminal(self) -> bool {
        self > TaskState::Running
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    pub timestamp: SimTime,
    pub state: TaskState,
    /// `scheduler assigned task to node`, `started`, …
    pub message: String,
    /// The ERROR column of `docker service ps`.
    pub err: String,
}

/// A task's address on one network. As in swarmkit, the attachment carries the whole
/// network object (allocation included): it is how a worker, which has no store, learns the
/// networks its tasks use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub network: Network,
    pub addr: Ipv4Net,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub meta: Meta,
    pub service_id: String,
    /// Replicated: the slot (1-based). Global: 0, the node identifies the task.
    pub slot: u64,
    /// Empty until the scheduler assigns it.
    pub node_id: String,
    /// The spec the task was created from (a service update makes new tasks).
    pub spec: ServiceSpec,
    pub status: TaskStatus,
    pub desired_state: TaskState,
    pub networks: Vec<NetworkAttachment>,
    /// The service's endpoint (VIPs, ports) as the allocator copied it into the task
    /// (`Task.Endpoint`), so that the node knows the VIPs without asking.
    pub endpoint: Option<ServiceEndpoint>,
    /// Not before this time may the task start (the restart delay).
    pub not_before: Option<SimTime>,
    /// A network-attachment task (swarmkit `NetworkAttachmentSpec`): the container, not a
    /// task, that it attaches to its network; `None` for a service's task.
    pub attachment: Option<String>,
}

/// A node's load-balancer address on a network (`Node.Attachments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAttachment {
    pub node_id: String,
    pub network_id: String,
    pub addr: Ipv4Net,
}

/// One change to the store. A Raft entry carries a list of them, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    PutCluster(Cluster),
    PutNode(Box<Node>),
    DeleteNode(String),
    PutNetwork(Box<Network>),
    DeleteNetwork(String),
    PutService(Box<Service>),
    DeleteService(String),
    PutTask(Box<Task>),
    DeleteTask(String),
    PutNodeAttachment(NodeAttachment),
    DeleteNodeAttachment { node_id: String, network_id: String },
}

/// The replicated state. Maps keep insertion order, so listings are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    pub cluster: Option<Cluster>,
    pub nodes: IndexMap<String, Node>,
    pub networks: IndexMap<String, Network>,
    pub services: IndexMap<String, Service>,
    pub tasks: IndexMap<String, Task>,
    pub node_attachments: Vec<NodeAttachment>,
}

impl Store {
    /// Applies the operations of the entry at Raft index `index`.
    pub fn apply(&mut self, index: u64, ops: &[StoreOp]) {
        for op in ops {
            self.apply_one(index, op.clone());
        }
    }

    fn apply_one(&mut self, index: u64, op: StoreOp) {
        match op {
            StoreOp::PutCluster(mut c) => {
                c.meta.version = index;
                self.cluster = Some(c);
            }
            StoreOp::PutNode(mut n) => {
                n.meta.version = index;
                self.nodes.insert(n.id.clone(), *n);
            }
            StoreOp::DeleteNode(id) => {
                self.nodes.shift_remove(&id);
                self.node_attachments.retain(|a| a.node_id != id);
            }
            StoreOp::PutNetwork(mut n) => {
                n.meta.version = index;
                self.networks.insert(n.id.clone(), *n);
            }
            StoreOp::DeleteNetwork(id) => {
                self.networks.shift_remove(&id);
                self.node_attachments.retain(|a| a.network_id != id);
            }
            StoreOp::PutService(mut s) => {
                s.meta.version = index;
                self.services.insert(s.id.clone(), *s);
            }
            StoreOp::DeleteService(id) => {
                self.services.shift_remove(&id);
            }
            StoreOp::PutTask(mut t) => {
                t.meta.version = index;
                self.tasks.insert(t.id.clone(), *t);
            }
            StoreOp::DeleteTask(id) => {
                self.tasks.shift_remove(&id);
            }
            StoreOp::PutNodeAttachment(a) => {
                self.node_attachments
                    .retain(|x| !(x.node_id == a.node_id && x.network_id == a.network_id));
                self.node_attachments.push(a);
            }
            StoreOp::DeleteNodeAttachment { node_id, network_id } => {
                self.node_attachments
                    .retain(|x| !(x.node_id == node_id && x.network_id == network_id));
            }
        }
    }

    /// A node by full ID, hostname, or unique ID prefix (the CLI's lookup order).
    pub fn node(&self, key: &str) -> Option<&Node> {
        lookup(&self.nodes, key, |n| n.description.hostname == key)
    }

    /// A service by full ID, name, or unique ID prefix.
    pub fn service(&self, key: &str) -> Option<&Service> {
        lookup(&self.services, key, |s| s.spec.name == key)
    }

    /// A network by full ID, name, or unique ID prefix.
    pub fn network(&self, key: &str) -> Option<&Network> {
        lookup(&self.networks, key, |n| n.name == key)
    }

    /// The ingress network, if the swarm has one.
    pub fn ingress(&self) -> Option<&Network> {
        self.networks.values().find(|n| n.ingress)
    }

    /// The tasks of a service, in creation order.
    pub fn tasks_of<'a>(&'a self, service_id: &'a str) -> impl Iterator<Item = &'a Task> + 'a {
        self.tasks.values().filter(move |t| t.service_id == service_id)
    }

    /// Managers (Raft members), in the order they joined.
    pub fn managers(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().filter(|n| n.manager.is_some())
    }

    /// A node's load-balancer attachments, with their networks.
    pub fn attachments_of(&self, node_id: &str) -> Vec<NetworkAttachment> {
        self.node_attachments
            .iter()
            .filter(|a| a.node_id == node_id)
            .filter_map(|a| {
                let network = self.networks.get(&a.network_id)?.clone();
                Some(NetworkAttachment { network, addr: a.addr })
            })
            .collect()
    }
}

fn lookup<'a, T>(
    map: &'a IndexMap<String, T>,
    key: &str,
    by_name: impl Fn(&T) -> bool,
) -> Option<&'a T> {
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    if let Some(v) = map.values().find(|v| by_name(v)) {
        return Some(v);
    }
    let mut hits = map.iter().filter(|(id, _)| !key.is_empty() && id.starts_with(key));
    match (hits.next(), hits.next()) {
        (Some((_, v)), None) => Some(v),
        _ => None,
    }
}

/// Store objects for tests elsewhere in the swarm modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A Ready, Active node joined at time zero on a 2-CPU host; a manager when `raft` is set.
    pub fn node(id: &str, host: &str, addr: [u8; 4], raft: Option<u64>) -> Node {
        Node {
            id: id.into(),
            meta: Meta::new(SimTime::ZERO),
            role: if raft.is_some() { Role::Manager } else { Role::Worker },
            availability: Availability::Active,
            labels: vec![],
            description: NodeDescription {
                hostname: host.into(),
                os: Os::Linux,
                architecture: "x86_64".into(),
                nano_cpus: 2_000_000_000,
                memory_bytes: 8_348_520_448,
                engine_version: "20.10.7".into(),
                engine_labels: vec![],
            },
            state: NodeState::Ready,
            message: String::new(),
            addr: addr.into(),
            manager: raft.map(|r| ManagerStatus { raft_id: r, addr: (addr.into(), 2377) }),
        }
    }
}
