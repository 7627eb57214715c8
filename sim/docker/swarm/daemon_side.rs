//! The daemon's side of swarm mode: `swarm init|join|leave`, routing the other swarm
//! commands to the node, delivering messages and wakeups, and running the agent's task
//! containers.
//!
//! Contract: everything the swarm wants of the outside world leaves through the daemon's
//! outbox ([`SwarmIo`]: messages to `addr:2377`, kernel ops, process effects), which the
//! world drains after every call into the daemon. A CLI call that must wait (for a commit,
//! a leader, a join) returns a pending call number; its outcome shows up in
//! [`Daemon::take_done`].
//!
//! A node that enters a swarm (init, or a join that succeeds) makes `docker_gwbridge`; it
//! stays after `swarm leave`, as Docker keeps it. [`Daemon::swarm_networks`] is what the
//! node knows of the swarm's networks.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::agent::{Agent, ExecAction};
use super::api;
use super::ids::new_id;
use super::manager::{Manager, ManagerIo};
use super::msg::{ApiBody, ApiCall, ApiResult, Envelope, Joined, SwarmMsg, SWARM_PORT};
use super::node::{NodeIo, SwarmNode, REQUEST_TIMEOUT};
use super::render;
use super::request::{AddrSpec, SwarmRequest};
use super::store::{
    Availability, Cluster, ManagerStatus, Meta, Network, Node, NodeDescription, NodeState,
    PublishMode, Role, StoreOp,
};
use super::token;
use crate::docker::container::{Attachment, Container, ContainerState, PortSpec};
use crate::docker::daemon::Daemon;
use crate::docker::gossip::GossipAgent;
use crate::docker::image::{self, ImageRef};
use crate::docker::overlay_keys::OverlayEncryption;
use crate::docker::service_bind::{ServiceBindings, TaskService};
use crate::docker::{DockerOutcome, Effect, Proto};
use crate::engine::SimTime;
use crate::kernel::KernelOp;
use crate::proto::raft::{Config, RaftNode};
use crate::proto::swim::Transmit;

/// Where this daemon stands in swarm mode.
pub enum SwarmState {
    Inactive,
    /// `docker swarm join` sent; waiting for the leader's answer.
    Joining(JoinAttempt),
    Active(Box<SwarmNode>),
}

#[derive(Debug, Clone)]
pub struct JoinAttempt {
    pub call: u64,
    /// The CLI already had its answer (the timeout); a later result is not printed.
    pub answered: bool,
    pub remote: Ipv4Addr,
    pub token: String,
    pub addr: Ipv4Addr,
    pub deadline: SimTime,
}

/// What `docker swarm join` prints when the leader has not answered within 20 s; the
/// node keeps trying.
const JOIN_TIMEOUT: &str = "Error response from daemon: Timeout was reached before node joined. The attempt to join the swarm will continue in the background. Use the \"docker info\" command to see the current swarm status of your node.\n";

/// What the world must carry out for the swarm.
#[derive(Debug, Default)]
pub struct SwarmIo {
    pub sends: Vec<(Ipv4Addr, Ipv4Addr, SwarmMsg)>,
    /// memberlist transmits, with the sender's address.
    pub gossip: Vec<(Ipv4Addr, Transmit<crate::proto::networkdb::Message>)>,
    pub ops: Vec<KernelOp>,
    pub effects: Vec<Effect>,
}

/// Swarm-side state the daemon keeps beside its own.
pub struct SwarmSide {
    pub state: SwarmState,
    pub outbox: SwarmIo,
    pub done: IndexMap<u64, DockerOutcome>,
    next_call: u64,
    /// Task ID → the container running it.
    task_containers: IndexMap<String, TaskContainer>,
    /// memberlist and NetworkDB, while the node is in a swarm.
    pub(crate) gossip: Option<GossipAgent>,
    /// The overlay driver's IPsec keys and programmed remote VTEPs.
    pub(crate) encryption: OverlayEncryption,
    /// Containers attached to swarm overlays by hand (`docker run --network`, `network
    /// connect`), and the calls that attach them.
    pub(crate) attach: super::attach::Attachments,
    /// The services bound on this node's overlays, and their DNS names.
    pub(crate) services: ServiceBindings,
    /// The published port configs the host's ingress rules serve, with their users.
    pub(crate) ingress_refs: crate::docker::ingress::PortRefs,
}

/// A task's container, and the swarm networks the task is attached to (a worker knows a
/// swarm network only through the tasks that use it).
#[derive(Debug, Clone)]
struct TaskContainer {
    container_id: String,
    networks: Vec<Network>,
    /// The service the task belongs to; `None` for a network-attachment task.
    service: Option<TaskService>,
}

impl std::fmt::Debug for SwarmSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            SwarmState::Inactive => "inactive".to_string(),
            SwarmState::Joining(a) => format!("joining via {}", a.remote),
            SwarmState::Active(n) => format!("node {} at {}", n.node_id, n.addr),
        };
        f.debug_struct("SwarmSide").field("state", &state).finish_non_exhaustive()
    }
}

impl Default for SwarmSide {
    fn default() -> Self {
        SwarmSide {
            state: SwarmState::Inactive,
            outbox: SwarmIo::default(),
            done: IndexMap::new(),
            next_call: 1_000_000,
            task_containers: IndexMap::new(),
            gossip: None,
            encryption: OverlayEncryption::default(),
            attach: Default::default(),
            services: ServiceBindings::default(),
            ingress_refs: Default::default(),
        }
    }
}

impl Daemon {
    /// The host's address on the underlay (its first interface).
    fn underlay_addr(&self) -> Ipv4Addr {
        self.host.interfaces.first().map(|(_, n)| n.addr()).expect("a Docker host has an interface")
    }

    /// A swarm command: its outcome now, or a pending call to wait on.
    pub(crate) fn swarm_request(&mut self, now: SimTime, req: SwarmRequest) -> DockerOutcome {
        let manager_only = !matches!(
            req,
            SwarmRequest::Init { .. } | SwarmRequest::Join { .. } | SwarmRequest::Leave { .. }
        );
        let mut out = match (&mut self.swarm.state, req) {
            (SwarmState::Inactive, SwarmRequest::Init { advertise_addr, listen_addr }) => {
                if listen_addr.is_some_and(|l| self.resolve_addr(&l).is_none()) {
                    return DockerOutcome::err(format!("{}\n", render::daemon(render::BAD_LISTEN_ADDR)), 1);
                }
                match self.advertise_addr(advertise_addr) {
                    Ok(addr) => self.swarm_init(now, addr),
                    Err(refusal) => refusal,
                }
            }
            (SwarmState::Inactive, SwarmRequest::Join { token, remote, advertise_addr }) => {
                match self.advertise_addr(advertise_addr) {
                    Ok(addr) => self.swarm_join(now, token, remote, addr),
                    Err(refusal) => refusal,
                }
            }
            (SwarmState::Inactive, SwarmRequest::Leave { .. }) => {
                DockerOutcome::err(format!("Error response from daemon: {}\n", render::NOT_IN_SWARM), 1)
            }
            (SwarmState::Inactive, _) => {
                DockerOutcome::err(format!("Error response from daemon: {}\n", render::NOT_MANAGER_NO_SWARM), 1)
            }
            (SwarmState::Joining(_), _) => DockerOutcome::err(
                "Error response from daemon: This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.\n",
                1,
            ),
            (SwarmState::Active(_), SwarmRequest::Init { .. } | SwarmRequest::Join { .. }) => {
                DockerOutcome::err(format!("Error response from daemon: {}\n", render::ALREADY_IN_SWARM), 1)
            }
            (SwarmState::Active(_), SwarmRequest::Leave { force }) => self.swarm_leave(now, force),
            (SwarmState::Active(node), SwarmRequest::NetworkCreate { .. }) if !node.is_manager() => {
                DockerOutcome::err("Error response from daemon: Cannot create a multi-host network from a worker node. Please create the network from a manager node.\n", 1)
            }
            (SwarmState::Active(node), _) if !node.is_manager() && manager_only => {
                DockerOutcome::err(format!("Error response from daemon: {}\n", render::NOT_MANAGER_WORKER), 1)
            }
            (SwarmState::Active(node), req) => {
                let mut io = NodeIo::default();
                let call = node.start_call(now, req, &mut self.rng, &mut io);
                self.absorb_node_io(now, io);
                DockerOutcome { pending: Some(call), ..Default::default() }
            }
        };
        if let Some(call) = out.pending {
            if let Some(done) = self.swarm.done.shift_remove(&call) {
                out = done;
            }
        }
        out
    }

    /// `docker swarm init`: a one-member Raft cluster that elects itself at once, the
    /// cluster object with its tokens, this node, and the ingress network.
    /// The address to advertise: the one given, the address of the interface named, or
    /// the host's own (`resolveAdvertiseAddr`).
    fn advertise_addr(&self, spec: Option<AddrSpec>) -> Result<Ipv4Addr, DockerOutcome> {
        match spec {
            None => Ok(self.underlay_addr()),
            Some(spec) => {
                self.resolve_addr(&spec).filter(|ip| !ip.is_unspecified()).ok_or_else(|| {
                    DockerOutcome::err(
                        format!("{}\n", render::daemon(render::BAD_ADVERTISE_ADDR)),
                        1,
                    )
                })
            }
        }
    }

    /// An address as given, or an interface's; `None` for an interface this host lacks.
    fn resolve_addr(&self, spec: &AddrSpec) -> Option<Ipv4Addr> {
        match spec {
            AddrSpec::Ip(ip) => Some(*ip),
            AddrSpec::Interface(name) => {
                self.host.interfaces.iter().find(|(n, _)| n == name).map(|(_, net)| net.addr())
            }
        }
    }

    fn swarm_init(&mut self, now: SimTime, addr: Ipv4Addr) -> DockerOutcome {
        let node_id = new_id(&mut self.rng);
        let raft_id = api::raft_id(&mut self.rng);
        let digest = token::new_ca_digest(&mut self.rng);
        let worker_token = token::join_token(&digest, &token::new_secret(&mut self.rng));
        let manager_token = token::join_token(&digest, &token::new_secret(&mut self.rng));
        let cluster = Cluster::new(new_id(&mut self.rng), now, worker_token.clone(), manager_token);
        let node = self.own_node(now, node_id.clone(), Role::Manager, addr, Some(raft_id));
        let ingress = ingress_network(now, new_id(&mut self.rng), &self.host.engine_version);
        let raft = RaftNode::new(Config::swarmkit(raft_id), &[raft_id], self.rng.fork());
        let mut m = Manager::new(raft, [(raft_id, addr)].into_iter().collect());
        let mut mio = ManagerIo::default();
        m.campaign(now, &mut self.rng, &mut mio);
        let ops = vec![
            StoreOp::PutCluster(cluster),
            StoreOp::PutNode(Box::new(node)),
            StoreOp::PutNetwork(Box::new(ingress)),
        ];
        m.submit(super::manager::Write::Ops { call: None, ops, reply: None });
        m.poke(now, &mut self.rng, &mut mio);
        let agent = Agent::new(node_id.clone(), vec![(raft_id, addr)], addr, now);
        let mut node = SwarmNode::new(node_id.clone(), addr, agent, Some(m), now);
        let mut io = NodeIo::default();
        node.absorb_manager(now, mio, &mut io);
        self.swarm.state = SwarmState::Active(Box::new(node));
        self.absorb_node_io(now, io);
        self.enter_swarm_networking(now, addr, &[]);
        DockerOutcome::out(render::init_text(&node_id, &worker_token, addr))
    }

    fn own_node(
        &self,
        now: SimTime,
        id: String,
        role: Role,
        addr: Ipv4Addr,
        raft_id: Option<u64>,
    ) -> Node {
        Node {
            id,
            meta: Meta::new(now),
            role,
            availability: Availability::Active,
            labels: Vec::new(),
            description: self.node_description(),
            state: NodeState::Unknown,
            message: String::new(),
            addr,
            manager: raft_id.map(|id| ManagerStatus { raft_id: id, addr: (addr, SWARM_PORT) }),
        }
    }

    /// What this node tells the swarm about itself.
    pub(crate) fn node_description(&self) -> NodeDescription {
        NodeDescription {
            hostname: self.host.hostname.clone(),
            os: self.host.os,
            architecture: "x86_64".into(),
            nano_cpus: crate::docker::info::HOST_CPUS * 1_000_000_000,
            memory_bytes: crate::docker::info::HOST_MEMORY_BYTES,
            engine_version: self.host.engine_version.clone(),
            engine_labels: Vec::new(),
        }
    }

    /// `docker swarm join`: a call to the given manager; the answer makes this node a
    /// member (see [`Daemon::swarm_deliver`]).
    fn swarm_join(
        &mut self,
        now: SimTime,
        token: String,
        remote: (Ipv4Addr, u16),
        addr: Ipv4Addr,
    ) -> DockerOutcome {
        if token::parse(&token).is_err() {
            return DockerOutcome::err("Error response from daemon: invalid join token\n", 1);
        }
        let call = self.swarm.next_call;
        self.swarm.next_call += 1;
        let attempt = JoinAttempt {
            call,
            answered: false,
            remote: remote.0,
            token,
            addr,
            deadline: now + REQUEST_TIMEOUT,
        };
        self.send_join(&attempt);
        self.swarm.state = SwarmState::Joining(attempt);
        DockerOutcome { pending: Some(call), ..Default::default() }
    }

    fn send_join(&mut self, a: &JoinAttempt) {
        let body = ApiBody::Join {
            token: a.token.clone(),
            description: self.node_description(),
            addr: a.addr,
        };
        let msg = SwarmMsg::Call(ApiCall { call: a.call, origin: a.addr, body });
        self.swarm.outbox.sends.push((a.addr, a.remote, msg));
    }

    /// The leader's answer to a join.
    fn joined(&mut self, now: SimTime, result: ApiResult) {
        let SwarmState::Joining(a) = std::mem::replace(&mut self.swarm.state, SwarmState::Inactive)
        else {
            return;
        };
        match result {
            ApiResult::Joined(j) => {
                let text = match j.role {
                    Role::Worker => render::JOINED_WORKER,
                    Role::Manager => render::JOINED_MANAGER,
                };
                self.become_member(now, a.addr, a.remote, j);
                if !a.answered {
                    self.swarm.done.insert(a.call, DockerOutcome::out(text));
                }
            }
            ApiResult::Done { outcome, .. } if !a.answered => {
                self.swarm.done.insert(a.call, outcome);
            }
            ApiResult::Done { .. } => {}
        }
    }

    fn become_member(&mut self, now: SimTime, addr: Ipv4Addr, remote: Ipv4Addr, j: Joined) {
        let manager = j.raft_id.map(|id| {
            let raft = RaftNode::joining(Config::swarmkit(id), self.rng.fork());
            Manager::new(raft, j.managers.iter().copied().collect())
        });
        let seeds: Vec<Ipv4Addr> = j.managers.iter().map(|(_, a)| *a).collect();
        let agent = Agent::new(j.node_id.clone(), j.managers, remote, now);
        let node = SwarmNode::new(j.node_id, addr, agent, manager, now);
        self.swarm.state = SwarmState::Active(Box::new(node));
        self.enter_swarm_networking(now, addr, &seeds);
    }

    /// What a node sets up for swarm networking once it is a member: `docker_gwbridge`,
    /// and its gossip agent, joined through the managers (`seeds`).
    fn enter_swarm_networking(&mut self, now: SimTime, addr: Ipv4Addr, seeds: &[Ipv4Addr]) {
        let mut ops = Vec::new();
        self.ensure_gateway_bridge(now, &mut ops);
        self.swarm.outbox.ops.extend(ops);
        self.start_gossip(now, addr, seeds);
    }

    /// The swarm networks this node sees, as `docker network ls|inspect` list them: on a
    /// manager every network in its store (the cluster's `GetNetworks`); on a worker those
    /// it has a load-balancer attachment on (ingress from the join on) and those its task
    /// containers are attached to, for a worker instantiates a swarm network only for a
    /// task that uses it and drops it when the task's container goes.
    pub fn swarm_networks(&self) -> Vec<&Network> {
        let SwarmState::Active(node) = &self.swarm.state else { return Vec::new() };
        if let Some(m) = &node.manager {
            return m.store.networks.values().collect();
        }
        let mut nets: Vec<&Network> = Vec::new();
        let attached = node.agent.attachments.iter().map(|a| &a.network);
        let tasks = self.swarm.task_containers.values().flat_map(|t| &t.networks);
        let by_hand = self.swarm.attach.networks();
        for n in attached.chain(tasks).chain(by_hand) {
            if !nets.iter().any(|x| x.id == n.id) {
                nets.push(n);
            }
        }
        nets
    }

    /// A swarm network this node sees, by full ID, name, or unique ID prefix.
    pub(crate) fn swarm_network(&self, key: &str) -> Option<&Network> {
        let nets = self.swarm_networks();
        let exact =
            nets.iter().find(|n| n.id == key).or_else(|| nets.iter().find(|n| n.name == key));
        if let Some(n) = exact {
            return Some(n);
        }
        let mut hits = nets.into_iter().filter(|n| !key.is_empty() && n.id.starts_with(key));
        match (hits.next(), hits.next()) {
            (Some(n), None) => Some(n),
            _ => None,
        }
    }

    /// `docker swarm leave [--force]`: a manager needs `--force` (with the reason that
    /// applies); then the node stops, its task containers go, and the rest of the swarm
    /// finds out by its silence.
    fn swarm_leave(&mut self, now: SimTime, force: bool) -> DockerOutcome {
        let SwarmState::Active(node) = &self.swarm.state else {
            unreachable!("checked by the caller")
        };
        if let (Some(m), false) = (&node.manager, force) {
            let view = api::membership(m);
            let voters = m.raft.voters().len();
            let reachable = if m.is_leader() { view.reachable.len() } else { voters };
            let text = render::leave_refusal(reachable, voters - reachable);
            return DockerOutcome::err(format!("{text}\n"), 1);
        }
        let tasks: Vec<String> = self.swarm.task_containers.keys().cloned().collect();
        for task_id in tasks {
            self.exec(now, ExecAction::Remove { task_id });
        }
        let ops = self.clear_encryption();
        self.swarm.outbox.ops.extend(ops);
        self.stop_gossip(now);
        self.swarm.state = SwarmState::Inactive;
        let ops = self.drop_unused_overlays();
        self.swarm.outbox.ops.extend(ops);
        DockerOutcome::out(render::LEFT)
    }

    /// A message for this node arrived on 2377.
    pub fn swarm_deliver(&mut self, now: SimTime, env: Envelope) {
        if let SwarmState::Joining(a) = &self.swarm.state {
            if let SwarmMsg::Reply { call, result } = env.msg {
                if call == a.call {
                    self.joined(now, result);
                }
            }
            return;
        }
        let SwarmState::Active(node) = &mut self.swarm.state else { return };
        let images = self.images.clone();
        let has_image = |r: &str| images.contains_key(&ImageRef::parse(r).familiar());
        let mut io = NodeIo::default();
        node.on_message(now, env, &mut self.rng, &has_image, &mut io);
        self.absorb_node_io(now, io);
    }

    /// The swarm's timers.
    pub fn swarm_wake(&mut self, now: SimTime) {
        match &mut self.swarm.state {
            SwarmState::Inactive => {}
            SwarmState::Joining(a) => {
                if a.deadline > now {
                    return;
                }
                a.deadline = now + REQUEST_TIMEOUT;
                let attempt = a.clone();
                a.answered = true;
                if !attempt.answered {
                    self.swarm.done.insert(attempt.call, DockerOutcome::err(JOIN_TIMEOUT, 1));
                }
                self.send_join(&attempt);
            }
            SwarmState::Active(node) => {
                let images = self.images.clone();
                let has_image = |r: &str| images.contains_key(&ImageRef::parse(r).familiar());
                let mut io = NodeIo::default();
                node.on_timer(now, &mut self.rng, &has_image, &mut io);
                self.absorb_node_io(now, io);
                self.attach_wake(now);
                self.gossip_wake(now);
            }
        }
    }

    /// When the swarm next needs waking.
    pub fn swarm_next_wakeup(&self, now: SimTime) -> Option<SimTime> {
        match &self.swarm.state {
            SwarmState::Inactive => None,
            SwarmState::Joining(a) => Some(a.deadline),
            SwarmState::Active(node) => {
                let node_wake = node.next_wakeup(now);
                let wake =
                    self.swarm.attach.next_deadline().map_or(node_wake, |a| a.min(node_wake));
                Some(self.gossip_next_timeout().map_or(wake, |g| g.min(wake)))
            }
        }
    }

    /// What the swarm wants of the world since the last call.
    pub fn take_swarm_io(&mut self) -> SwarmIo {
        std::mem::take(&mut self.swarm.outbox)
    }

    /// A finished CLI call's outcome.
    pub fn take_done(&mut self, call: u64) -> Option<DockerOutcome> {
        self.swarm.done.shift_remove(&call)
    }

    pub(super) fn absorb_node_io(&mut self, now: SimTime, io: NodeIo) {
        let from = match &self.swarm.state {
            SwarmState::Active(n) => n.addr,
            _ => self.underlay_addr(),
        };
        self.swarm.outbox.sends.extend(io.sends.into_iter().map(|(to, m)| (from, to, m)));
        for (call, outcome) in io.done {
            if let Some(outcome) = self.attach_answered(call, outcome) {
                self.swarm.done.insert(call, outcome);
            }
        }
        for action in io.actions {
            self.exec(now, action);
        }
    }

    /// The executor: task containers started, stopped and removed.
    fn exec(&mut self, now: SimTime, action: ExecAction) {
        match action {
            ExecAction::Start(task) if task.attachment.is_some() => {
                self.start_attachment(now, &task)
            }
            ExecAction::Start(task) => match self.start_task(now, &task) {
                Ok(()) => {}
                Err(e) => {
                    if let SwarmState::Active(n) = &mut self.swarm.state {
                        n.agent.start_failed(&task.id, e);
                    }
                }
            },
            ExecAction::Stop { task_id } => {
                if let Some(t) = self.swarm.task_containers.get(&task_id) {
                    let cid = t.container_id.clone();
                    if self.is_running(&cid) {
                        self.disable_endpoints(&cid);
                    }
                    self.stop_task_container(now, &cid);
                }
            }
            ExecAction::SetNetworkKeys(keys) => {
                let ops = self.set_network_keys(&keys);
                self.swarm.outbox.ops.extend(ops);
            }
            ExecAction::AttachmentsChanged => {
                let mut ops = Vec::new();
                self.ensure_ingress(now, &mut ops);
                ops.extend(self.ensure_lb_sandboxes());
                self.swarm.outbox.ops.extend(ops);
            }
            ExecAction::Remove { task_id } => {
                if let Some(t) = self.swarm.task_containers.shift_remove(&task_id) {
                    self.stop_task_container(now, &t.container_id);
                    self.containers.shift_remove(&t.container_id);
                } else if !self.swarm.attach.remove_task(&task_id) {
                    return;
                }
                let ops = self.drop_unused_overlays();
                self.swarm.outbox.ops.extend(ops);
            }
        }
    }

    fn stop_task_container(&mut self, now: SimTime, cid: &str) {
        if self.is_running(cid) {
            let pl = self.stop_now(now, cid, 0);
            self.swarm.outbox.ops.extend(pl.ops);
            self.swarm.outbox.effects.extend(pl.effects);
        }
    }

    /// A task's container: `<service>.<slot>.<task ID>`, its image pulled if need be, on
    /// the task's overlays (instantiated here first if need be).
    fn start_task(&mut self, now: SimTime, task: &super::store::Task) -> Result<(), String> {
        let r = ImageRef::parse(&task.spec.image);
        let spec = image::lookup(&r).map_err(|e| e.to_string())?;
        let image_id = match self.images.get(&r.familiar()) {
            Some(id) => id.clone(),
            None => self.store_image(&r),
        };
        let id = self.new_id();
        for att in &task.networks {
            self.check_encryption_keys(&att.network)?;
        }
        let mut ops = Vec::new();
        for att in &task.networks {
            self.ensure_overlay(now, &att.network, &mut ops);
        }
        self.swarm.outbox.ops.extend(ops);
        let networks = self.task_attachments(task);
        let slot = if task.slot > 0 { task.slot.to_string() } else { task.node_id.clone() };
        let name = format!("{}.{}.{}", task.spec.name, slot, task.id);
        let c = Container {
            id: id.clone(),
            name: name.clone(),
            // The executor pins the image by digest (`nginx:latest@sha256:…`); `docker ps`
            // shows it as name and tag.
            image: ImageRef { given: r.familiar(), ..r },
            image_id,
            entrypoint: spec.entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: if task.spec.args.is_empty() {
                spec.cmd.iter().map(|s| s.to_string()).collect()
            } else {
                task.spec.args.clone()
            },
            env: task.spec.env.clone(),
            hostname: id[..12].to_string(),
            created: now,
            state: ContainerState::Created,
            tty: false,
            open_stdin: false,
            auto_remove: false,
            network_mode: networks[0].network_name.clone(),
            networks,
            publish: host_mode_ports(task),
            exposed: spec.exposed.iter().map(|s| s.to_string()).collect(),
            sandbox: None,
            nameservers: Vec::new(),
            labels: task_labels(task, &name),
        };
        self.containers.insert(id.clone(), c);
        let networks = task.networks.iter().map(|a| a.network.clone()).collect();
        let tc = TaskContainer { container_id: id.clone(), networks, service: task_service(task) };
        self.swarm.task_containers.insert(task.id.clone(), tc);
        let pl = self.start_container(now, &id)?;
        self.swarm.outbox.ops.extend(pl.ops);
        self.swarm.outbox.effects.extend(pl.effects);
        Ok(())
    }

    /// The container's attachments: the task's overlays at their allocated addresses, or
    /// `none` for a task on no network.
    fn task_attachments(&mut self, task: &super::store::Task) -> Vec<Attachment> {
        let mut nets: Vec<(String, String, Option<Ipv4Addr>)> = task
            .networks
            .iter()
            .map(|a| (a.network.id.clone(), a.network.name.clone(), Some(a.addr.addr())))
            .collect();
        if nets.is_empty() {
            let none = self.network_id("none").expect("the none network always exists");
            nets.push((none, "none".into(), None));
        }
        nets.into_iter()
            .map(|(network_id, network_name, ip)| Attachment {
                network_id,
                network_name,
                ip,
                aliases: Vec::new(),
                ptr: self.fake_pointer(),
            })
            .collect()
    }

    /// The service of the task whose container `cid` is, if any.
    pub(crate) fn task_service(&self, cid: &str) -> Option<&TaskService> {
        let tasks = self.swarm.task_containers.values();
        tasks.filter(|t| t.container_id == cid).find_map(|t| t.service.as_ref())
    }

    /// The swarm's worker and manager join tokens, if this node is a manager that has them.
    pub fn join_tokens(&self) -> Option<(String, String)> {
        let SwarmState::Active(n) = &self.swarm.state else { return None };
        let c = n.manager.as_ref()?.store.cluster.as_ref()?;
        Some((c.worker_token.clone(), c.manager_token.clone()))
    }

    /// This manager's copy of the swarm's store; `None` on a worker.
    pub fn swarm_store(&self) -> Option<&super::store::Store> {
        let SwarmState::Active(n) = &self.swarm.state else { return None };
        n.manager.as_ref().map(|m| &m.store)
    }
}

/// The labels the swarm executor puts on a task's container (`container.go` `labels`),
/// sorted by key as the API returns them.
fn task_labels(task: &super::store::Task, name: &str) -> Vec<(String, String)> {
    let label = |k: &str, v: &str| (format!("com.docker.swarm.{k}"), v.to_string());
    vec![
        label("node.id", &task.node_id),
        label("service.id", &task.service_id),
        label("service.name", &task.spec.name),
        label("task", ""),
        label("task.id", &task.id),
        label("task.name", name),
    ]
}

/// What a service's task tells its node of the service: name, ID, VIPs.
fn task_service(task: &super::store::Task) -> Option<TaskService> {
    if task.attachment.is_some() {
        return None;
    }
    let vips = task.endpoint.iter().flat_map(|e| &e.virtual_ips);
    let ports = task.endpoint.iter().flat_map(|e| &e.ports);
    Some(TaskService {
        id: task.service_id.clone(),
        name: task.spec.name.clone(),
        vips: vips.map(|v| (v.network_id.clone(), v.addr.addr())).collect(),
        ingress_ports: ports.filter(|p| p.mode == PublishMode::Ingress).copied().collect(),
    })
}

/// `--publish mode=host` ports: bound on the host through the task's gateway leg (a
/// published port of 0 takes an ephemeral one).
fn host_mode_ports(task: &super::store::Task) -> Vec<PortSpec> {
    let ports = task.endpoint.iter().flat_map(|e| &e.ports);
    ports
        .filter(|p| p.mode == PublishMode::Host)
        .map(|p| PortSpec {
            host_ip: None,
            host_port: (p.published != 0).then_some(p.published),
            container_port: p.target,
            // The bridge port mapper models TCP and UDP; an SCTP port maps as TCP.
            proto: match p.protocol {
                super::store::Protocol::Udp => Proto::Udp,
                super::store::Protocol::Tcp | super::store::Protocol::Sctp => Proto::Tcp,
            },
        })
        .collect()
}

/// The ingress network `swarm init` creates (docker-facts 16): swarmkit up to Engine 19.03.4
/// hard-codes 10.255.0.0/16 (`newIngressNetwork`); later ones leave its IPAM empty, so the
/// allocator gives it the pool's first free subnet, like any other network.
fn ingress_network(now: SimTime, id: String, engine: &str) -> Network {
    let first_dynamic = crate::scenario::EngineVersion { major: 19, minor: 3, patch: 5 };
    let legacy = crate::scenario::EngineVersion::parse(engine).is_some_and(|v| v < first_dynamic);
    let legacy_subnet = "10.255.0.0/16".parse().expect("a valid subnet");
    Network {
        id,
        meta: Meta::new(now),
        name: "ingress".into(),
        driver: "overlay".into(),
        options: Vec::new(),
        labels: Vec::new(),
        attachable: false,
        ingress: true,
        internal: false,
        requested_subnet: legacy.then_some(legacy_subnet),
        allocation: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_subnet_is_hard_coded_up_to_19_03_4() {
        let subnet = |engine| ingress_network(SimTime::ZERO, "i".into(), engine).requested_subnet;
        assert_eq!(subnet("18.09.7"), Some("10.255.0.0/16".parse().unwrap()));
        assert_eq!(subnet("19.03.4"), Some("10.255.0.0/16".parse().unwrap()));
        assert_eq!(subnet("19.03.5"), None);
        assert_eq!(subnet("20.10.7"), None);
    }
}
