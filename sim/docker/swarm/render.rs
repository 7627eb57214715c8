//! Everything the swarm commands print, as pure functions of the cluster store: the texts of
//! `docker swarm|node|service …` and of `docker network inspect|ls` for swarm networks, and
//! the error texts the CLI shows, exactly as Docker 20.10.7 prints them.
//!
//! Contract: no function here reads a clock or changes state; time comes in as `now`.
//! Sources: docker/cli v20.10 `cli/command/{swarm,node,service,task}` (templates, column
//! orders, sorting), moby `daemon/cluster` (error texts), swarmkit `manager/controlapi`, and
//! the lab transcripts in `seeds/` (000: init, join, node ls, service create/ls/ps/inspect,
//! overlay inspect, leave).

use std::net::Ipv4Addr;

use super::store::{
    Availability, EndpointMode, Network, Node, NodeState, Os, PortConfig, Protocol, PublishMode,
    Role, Service, ServiceMode, Store, TaskState,
};
use super::MembershipView;
use crate::docker::format::{rfc3339_nano, table};
use crate::docker::network::natural_cmp;
use crate::docker::render::{to_json_indent, Value};
use crate::engine::SimTime;

pub const JOINED_WORKER: &str = "This node joined a swarm as a worker.\n";
pub const JOINED_MANAGER: &str = "This node joined a swarm as a manager.\n";
pub const LEFT: &str = "Node left the swarm.\n";
pub const SWARM_UPDATED: &str = "Swarm updated.\n";

/// `moby daemon/cluster/errors.go` and `cluster.go` (`errNoManager`); the CLI prefixes
/// `Error response from daemon: `.
pub const NOT_MANAGER_WORKER: &str = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
pub const NOT_MANAGER_NO_SWARM: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
pub const NOT_IN_SWARM: &str = "This node is not part of a swarm";
pub const ALREADY_IN_SWARM: &str = "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.";
/// swarmkit `raft.go` `lostQuorumMessage`, as the CLI shows it (fact 47).
pub const QUORUM_LOST: &str = "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
pub const INVALID_JOIN_TOKEN: &str = "invalid join token";
/// The CA server's answer to a token whose secret is wrong.
pub const WRONG_JOIN_SECRET: &str =
    "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster";
/// swarmkit `controlapi/node.go` `UpdateNode`.
pub const DEMOTE_LAST_MANAGER: &str =
    "rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm";
pub const DEMOTE_LOSES_QUORUM: &str = "rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum";

/// `resolveAdvertiseAddr` / `resolveListenAddr` (moby `daemon/cluster/listen_addr.go`).
pub const BAD_ADVERTISE_ADDR: &str =
    "advertise address must be a non-zero IP address or network interface (with optional port number)";
pub const BAD_LISTEN_ADDR: &str =
    "listen address must be an IP address or network interface (with optional port number)";

/// `Error response from daemon: …`.
pub fn daemon(msg: &str) -> String {
    format!("Error response from daemon: {msg}")
}

/// swarmkit `RemoveNode` refusals; `id` is the full node ID.
pub fn rm_manager(id: &str) -> String {
    daemon(&format!("rpc error: code = FailedPrecondition desc = node {id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal"))
}
pub fn rm_not_down(id: &str) -> String {
    daemon(&format!(
        "rpc error: code = FailedPrecondition desc = node {id} is not down and can't be removed"
    ))
}

/// The client's 404 text (`objectNotFoundError`): `node inspect|update|rm`, `service rm`.
pub fn no_such(kind: &str, key: &str) -> String {
    format!("Error: No such {kind}: {key}")
}
/// `service inspect` words it itself, in lowercase.
pub fn no_such_service_inspect(key: &str) -> String {
    format!("Error: no such service: {key}")
}
/// The daemon's `getNetwork` for `service create --network`.
pub fn network_not_found(key: &str) -> String {
    daemon(&format!("network {key} not found"))
}

/// moby `cluster/swarm.go` `Leave` without `--force` on an active manager, given the
/// managers the leader reaches (this one included) and those it does not.
pub fn leave_refusal(reachable: usize, unreachable: usize) -> String {
    let mut msg = String::from(
        "You are attempting to leave the swarm on a node that is participating as a manager. ",
    );
    if reachable.saturating_sub(2) <= unreachable {
        if reachable == 1 && unreachable == 0 {
            msg += "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ";
            return daemon(&msg);
        }
        msg += &format!("Removing this node leaves {} managers out of {}. Without a Raft quorum your swarm will be inaccessible. ", reachable - 1, reachable + unreachable);
    }
    msg += "The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.";
    daemon(&msg)
}

/// `docker swarm init` (init.go + `printJoinCommand`).
pub fn init_text(node_id: &str, worker_token: &str, advertise: Ipv4Addr) -> String {
    format!(
        "Swarm initialized: current node ({node_id}) is now a manager.\n\n{}To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n\n",
        join_command(Role::Worker, worker_token, advertise)
    )
}

fn join_command(role: Role, token: &str, addr: Ipv4Addr) -> String {
    let who = if role == Role::Worker { "worker" } else { "manager" };
    format!("To add a {who} to this swarm, run the following command:\n\n    docker swarm join --token {token} {addr}:2377\n\n")
}

/// `docker swarm join-token [-q] [--rotate] ROLE`.
pub fn join_token_text(
    role: Role,
    token: &str,
    addr: Ipv4Addr,
    quiet: bool,
    rotated: bool,
) -> String {
    let who = if role == Role::Worker { "worker" } else { "manager" };
    match (quiet, rotated) {
        (true, _) => format!("{token}\n"),
        (false, true) => {
            format!("Successfully rotated {who} join token.\n\n{}", join_command(role, token, addr))
        }
        (false, false) => join_command(role, token, addr),
    }
}

/// `node promote|demote` lines (`promote.go`, `demote.go`).
pub fn promoted(arg: &str) -> String {
    format!("Node {arg} promoted to a manager in the swarm.\n")
}
pub fn demoted(arg: &str) -> String {
    format!("Manager {arg} demoted in the swarm.\n")
}
pub fn already(node_id: &str, role: Role) -> String {
    let r = if role == Role::Manager { "manager" } else { "worker" };
    format!("Node {node_id} is already a {r}.\n")
}
/// `service scale` (`scale.go`).
pub fn scaled(arg: &str, n: u64) -> String {
    format!("{arg} scaled to {n}\n")
}

pub(super) fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Unknown => "unknown",
        NodeState::Down => "down",
        NodeState::Ready => "ready",
        NodeState::Disconnected => "disconnected",
    }
}

pub(super) fn availability_name(a: Availability) -> &'static str {
    match a {
        Availability::Active => "active",
        Availability::Pause => "pause",
        Availability::Drain => "drain",
    }
}

fn role_name(r: Role) -> &'static str {
    if r == Role::Manager {
        "manager"
    } else {
        "worker"
    }
}

/// `formatter.PrettyPrint`: first letter up, the rest down.
pub(super) fn pretty(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if s.len() > 1 => f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect(),
        _ => s.to_lowercase(),
    }
}

/// `Leader`, `reachable`, `unreachable`, or `None` for workers.
pub(super) fn reachability(n: &Node, view: &MembershipView) -> Option<(bool, &'static str)> {
    let ms = n.manager.as_ref()?;
    let leader = view.leader == Some(ms.raft_id);
    let reach = leader || view.reachable.contains(&ms.raft_id);
    Some((leader, if reach { "reachable" } else { "unreachable" }))
}

fn sorted_nodes(store: &Store) -> Vec<&Node> {
    let mut nodes: Vec<&Node> = store.nodes.values().collect();
    nodes.sort_by(|a, b| natural_cmp(&a.description.hostname, &b.description.hostname));
    nodes
}

/// `docker node ls [-q]`, sorted by hostname (`node/list.go`).
pub fn node_ls(store: &Store, self_id: &str, view: &MembershipView, quiet: bool) -> String {
    let nodes = sorted_nodes(store);
    if quiet {
        return nodes.iter().map(|n| format!("{}\n", n.id)).collect();
    }
    let mut rows =
        vec![["ID  ", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"]
            .map(String::from)
            .to_vec()];
    for n in nodes {
        let manager = match reachability(n, view) {
            Some((true, _)) => "Leader".to_string(),
            Some((false, r)) => pretty(r),
            None => String::new(),
        };
        rows.push(vec![
            format!("{} {}", n.id, if n.id == self_id { "*" } else { " " }),
            n.description.hostname.clone(),
            pretty(state_name(n.state)),
            pretty(availability_name(n.availability)),
            manager,
            n.description.engine_version.clone(),
        ]);
    }
    table(&rows)
}

fn port_value(p: &PortConfig) -> Value {
    let mut f = vec![
        ("Protocol", Value::s(protocol_name(p.protocol))),
        ("TargetPort", Value::Int(i64::from(p.target))),
    ];
    if p.published != 0 {
        f.push(("PublishedPort", Value::Int(i64::from(p.published))));
    }
    f.push(("PublishMode", Value::s(if p.mode == PublishMode::Host { "host" } else { "ingress" })));
    Value::obj(f)
}

pub(super) fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// The image as `service ls`/`ps` show it: digest dropped, `:latest` made explicit (the CLI
/// pins the tag it resolved), `docker.io/library/` dropped.
pub fn display_image(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let name = name.strip_prefix("library/").unwrap_or(name);
    let tagged = name.rsplit('/').next().is_some_and(|last| last.contains(':'));
    if tagged {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// `service ls` PORTS: ingress ports by protocol then published port, consecutive runs
/// merged into ranges (`serviceContext.Ports`).
fn ls_ports(ports: &[PortConfig]) -> String {
    let mut ps: Vec<&PortConfig> =
        ports.iter().filter(|p| p.mode == PublishMode::Ingress).collect();
    ps.sort_by(|a, b| {
        protocol_name(a.protocol).cmp(protocol_name(b.protocol)).then(a.published.cmp(&b.published))
    });
    let mut out: Vec<String> = Vec::new();
    let mut cur: Option<(u16, u16, u16, u16, Protocol)> = None;
    for p in ps {
        if let Some((_, pe, ts, te, proto)) = cur.as_mut() {
            let is_range = *te != *ts;
            let contiguous = p.protocol == *proto
                && p.published.wrapping_sub(*pe) <= 1
                && p.target.wrapping_sub(*te) <= 1
                && !(is_range && p.target <= *te);
            if contiguous {
                (*pe, *te) = (p.published, p.target);
                continue;
            }
        }
        if let Some(r) = cur.take() {
            out.push(range_text(r));
        }
        cur = Some((p.published, p.published, p.target, p.target, p.protocol));
    }
    out.extend(cur.map(range_text));
    out.join(", ")
}

fn range_text((ps, pe, ts, te, proto): (u16, u16, u16, u16, Protocol)) -> String {
    let span = |a: u16, b: u16| if b > a { format!("{a}-{b}") } else { a.to_string() };
    format!("*:{}->{}/{}", span(ps, pe), span(ts, te), protocol_name(proto))
}

/// REPLICAS: running tasks over desired ones (swarmkit `ListServiceStatuses`).
fn replicas(store: &Store, s: &Service) -> String {
    let tasks: Vec<_> = store.tasks_of(&s.id).collect();
    let running = tasks.iter().filter(|t| t.status.state == TaskState::Running).count();
    let desired = match s.spec.mode {
        ServiceMode::Replicated { replicas } => replicas as usize,
        ServiceMode::Global => {
            tasks.iter().filter(|t| t.desired_state == TaskState::Running).count()
        }
    };
    format!("{running}/{desired}")
}

/// `docker service ls [-q]`, sorted by name; IDs are truncated even with `-q`.
pub fn service_ls(store: &Store, quiet: bool) -> String {
    let mut svcs: Vec<&Service> = store.services.values().collect();
    svcs.sort_by(|a, b| natural_cmp(&a.spec.name, &b.spec.name));
    if quiet {
        return svcs.iter().map(|s| format!("{}\n", &s.id[..12])).collect();
    }
    let mut rows =
        vec![["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"].map(String::from).to_vec()];
    for s in svcs {
        let mode = if s.spec.mode == ServiceMode::Global { "global" } else { "replicated" };
        let ports = s.endpoint.as_ref().map_or(String::new(), |e| ls_ports(&e.ports));
        rows.push(vec![
            s.id[..12].to_string(),
            s.spec.name.clone(),
            mode.into(),
            replicas(store, s),
            display_image(&s.spec.image),
            ports,
        ]);
    }
    table(&rows)
}

pub(super) fn task_state_name(s: TaskState) -> &'static str {
    match s {
        TaskState::New => "new",
        TaskState::Pending => "pending",
        TaskState::Assigned => "assigned",
        TaskState::Accepted => "accepted",
        TaskState::Preparing => "preparing",
        TaskState::Ready => "ready",
        TaskState::Starting => "starting",
        TaskState::Running => "running",
        TaskState::Complete => "complete",
        TaskState::Shutdown => "shutdown",
        TaskState::Failed => "failed",
        TaskState::Rejected => "rejected",
        TaskState::Remove => "remove",
        TaskState::Orphaned => "orphaned",
    }
}

/// One converged progress bar (`progress.go` with `jsonmessage` on a wide terminal).
const RUNNING_BAR: &str = "running   [==================================================>]";

/// The settled `service create|update|scale` progress of a replicated service.
pub fn converged_progress_replicated(replicas: u64) -> String {
    let mut s = format!("overall progress: {replicas} out of {replicas} tasks\n");
    if replicas <= 20 {
        for i in 1..=replicas {
            s += &format!("{i}/{replicas}: {RUNNING_BAR}\n");
        }
    }
    s + "verify: Service converged\n"
}

/// The same for a global service: one bar per node, by truncated node ID.
pub fn converged_progress_global(node_ids: &[&str]) -> String {
    let n = node_ids.len();
    let mut s = format!("overall progress: {n} out of {n} tasks\n");
    if n <= 20 {
        for id in node_ids {
            s += &format!("{}: {RUNNING_BAR}\n", &id[..12.min(id.len())]);
        }
    }
    s + "verify: Service converged\n"
}

/// One row of `docker network ls` for a swarm network (ID, NAME, DRIVER, SCOPE).
pub fn swarm_network_ls_row(net: &Network, no_trunc: bool) -> Vec<String> {
    let id = if no_trunc { net.id.clone() } else { net.id[..12].to_string() };
    vec![id, net.name.clone(), net.driver.clone(), "swarm".into()]
}

/// What a node's own instance of a swarm network adds to `docker network inspect`: the API
/// router prefers the daemon's libnetwork view (`buildNetworkResource`,
/// `buildDetailedNetworkResources`) to the cluster's whenever the network is instantiated
/// on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInstance {
    /// When this node instantiated the network (libnetwork `NewNetwork`).
    pub created: SimTime,
    /// `Containers`: the local endpoints by sandbox container ID (tasks, the load balancer).
    pub containers: Value,
    /// `Peers`: NetworkDB's nodes of the network (`Peers(nid)`), name and address.
    pub peers: Vec<(String, Ipv4Addr)>,
}

/// A swarm network as `docker network inspect` shows it, in `types.NetworkResource` order.
/// From the cluster (`local` is `None`: the network is not instantiated here, as
/// `BasicNetworkFromGRPC` converts it): `Containers` is null, `Labels` null when empty, no
/// `Peers`. From this node's instance: its creation time, its endpoints, labels as a map
/// (`{}` when empty), and `Peers` unless NetworkDB knows none (`omitempty`).
pub fn swarm_network_value(net: &Network, local: Option<&LocalInstance>) -> Value {
    let config = match &net.allocation {
        Some(a) => vec![Value::obj(vec![
            ("Subnet", Value::s(a.subnet.to_string())),
            ("Gateway", Value::s(a.gateway.to_string())),
        ])],
        None => vec![],
    };
    let mut options = net.options.clone();
    if let Some(a) = &net.allocation {
        options.push(("com.docker.network.driver.overlay.vxlanid_list".into(), a.vni.to_string()));
    }
    let labels = match local {
        None if net.labels.is_empty() => Value::Null,
        _ => Value::str_map(&net.labels),
    };
    let created = local.map_or(net.meta.created_at, |l| l.created);
    let mut fields = vec![
        ("Name", Value::s(net.name.clone())),
        ("Id", Value::s(net.id.clone())),
        ("Created", Value::s(rfc3339_nano(created))),
        ("Scope", Value::s("swarm")),
        ("Driver", Value::s(net.driver.clone())),
        ("EnableIPv6", Value::Bool(false)),
        (
            "IPAM",
            Value::obj(vec![
                ("Driver", Value::s("default")),
                ("Options", Value::Null),
                ("Config", Value::List(config)),
            ]),
        ),
        ("Internal", Value::Bool(net.internal)),
        ("Attachable", Value::Bool(net.attachable)),
        ("Ingress", Value::Bool(net.ingress)),
        ("ConfigFrom", Value::obj(vec![("Network", Value::s(""))])),
        ("ConfigOnly", Value::Bool(false)),
        ("Containers", local.map_or(Value::Null, |l| l.containers.clone())),
        ("Options", Value::str_map(&options)),
        ("Labels", labels),
    ];
    if let Some(l) = local.filter(|l| !l.peers.is_empty()) {
        let peers = l.peers.iter().map(|(name, ip)| {
            Value::obj(vec![("Name", Value::s(name.clone())), ("IP", Value::s(ip.to_string()))])
        });
        fields.push(("Peers", Value::List(peers.collect())));
    }
    Value::obj(fields)
}

/// An image's manifest platforms, `(architecture, os)`, for `Placement.Platforms`.
pub type Platforms<'a> = &'a dyn Fn(&str) -> Vec<(Option<String>, String)>;

/// `docker service inspect` (with the daemon's defaults inserted, as 20.10 does). Network
/// targets are IDs; `platforms` gives an image's manifest platforms `(architecture, os)`.
pub fn service_inspect_json(services: &[&Service], platforms: Platforms) -> String {
    let list = services.iter().map(|s| service_value(s, platforms)).collect();
    to_json_indent(&Value::List(list)) + "\n"
}

/// One service as `docker service inspect` sees it (`swarm.Service` with the defaults
/// inserted): the tree its JSON prints and its `--format` templates run on.
pub fn service_value(s: &Service, platforms: Platforms) -> Value {
    let mut f = vec![
        ("ID", Value::s(s.id.clone())),
        ("Version", Value::obj(vec![("Index", Value::Int(s.meta.version as i64))])),
        ("CreatedAt", Value::s(rfc3339_nano(s.meta.created_at))),
        ("UpdatedAt", Value::s(rfc3339_nano(s.meta.updated_at))),
        ("Spec", spec_value(&s.spec, platforms)),
    ];
    if let Some(prev) = &s.previous_spec {
        f.push(("PreviousSpec", spec_value(prev, platforms)));
    }
    let mut ep = vec![("Spec", endpoint_spec(&s.spec))];
    if let Some(e) = &s.endpoint {
        if !e.ports.is_empty() {
            ep.push(("Ports", Value::List(e.ports.iter().map(port_value).collect())));
        }
        if !e.virtual_ips.is_empty() {
            let vips = e.virtual_ips.iter().map(|v| {
                Value::obj(vec![
                    ("NetworkID", Value::s(v.network_id.clone())),
                    ("Addr", Value::s(v.addr.to_string())),
                ])
            });
            ep.push(("VirtualIPs", Value::List(vips.collect())));
        }
    }
    f.push(("Endpoint", Value::obj(ep)));
    Value::obj(f)
}

fn endpoint_spec(spec: &super::store::ServiceSpec) -> Value {
    let mode = if spec.endpoint_mode == EndpointMode::Dnsrr { "dnsrr" } else { "vip" };
    let mut f = vec![("Mode", Value::s(mode))];
    if !spec.ports.is_empty() {
        f.push(("Ports", Value::List(spec.ports.iter().map(port_value).collect())));
    }
    Value::obj(f)
}

/// `UpdateConfig` and `RollbackConfig` defaults (`api/defaults/service.go`).
fn update_config() -> Value {
    Value::obj(vec![
        ("Parallelism", Value::Int(1)),
        ("FailureAction", Value::s("pause")),
        ("Monitor", Value::Int(5_000_000_000)),
        ("MaxFailureRatio", Value::Int(0)),
        ("Order", Value::s("stop-first")),
    ])
}

fn spec_value(spec: &super::store::ServiceSpec, platforms: Platforms) -> Value {
    let mut cs = vec![("Image", Value::s(spec.image.clone()))];
    if !spec.args.is_empty() {
        cs.push(("Args", Value::strs(&spec.args)));
    }
    if !spec.env.is_empty() {
        cs.push(("Env", Value::strs(&spec.env)));
    }
    cs.extend([
        ("Init", Value::Bool(false)),
        ("StopGracePeriod", Value::Int(10_000_000_000)),
        ("DNSConfig", Value::obj(vec![])),
        ("Isolation", Value::s("default")),
    ]);
    let mut placement = Vec::new();
    if !spec.constraints.is_empty() {
        let cs: Vec<String> = spec.constraints.iter().map(ToString::to_string).collect();
        placement.push(("Constraints", Value::strs(&cs)));
    }
    let plats = platforms(&spec.image);
    if !plats.is_empty() {
        let list = plats.into_iter().map(|(arch, os)| {
            let mut f = Vec::new();
            if let Some(a) = arch {
                f.push(("Architecture", Value::s(a)));
            }
            f.push(("OS", Value::s(os)));
            Value::obj(f)
        });
        placement.push(("Platforms", Value::List(list.collect())));
    }
    let mut tt = vec![
        ("ContainerSpec", Value::obj(cs)),
        (
            "Resources",
            Value::obj(vec![("Limits", Value::obj(vec![])), ("Reservations", Value::obj(vec![]))]),
        ),
        (
            "RestartPolicy",
            Value::obj(vec![
                ("Condition", Value::s("any")),
                ("Delay", Value::Int(spec.restart_delay.as_nanos() as i64)),
                ("MaxAttempts", Value::Int(0)),
            ]),
        ),
        ("Placement", Value::obj(placement)),
    ];
    if !spec.networks.is_empty() {
        let nets = spec.networks.iter().map(|n| Value::obj(vec![("Target", Value::s(n.clone()))]));
        tt.push(("Networks", Value::List(nets.collect())));
    }
    tt.extend([("ForceUpdate", Value::Int(0)), ("Runtime", Value::s("container"))]);
    let mode = match spec.mode {
        ServiceMode::Replicated { replicas } => Value::obj(vec![(
            "Replicated",
            Value::obj(vec![("Replicas", Value::Int(replicas as i64))]),
        )]),
        ServiceMode::Global => Value::obj(vec![("Global", Value::obj(vec![]))]),
    };
    Value::obj(vec![
        ("Name", Value::s(spec.name.clone())),
        ("Labels", Value::str_map(&spec.labels)),
        ("TaskTemplate", Value::obj(tt)),
        ("Mode", mode),
        ("UpdateConfig", update_config()),
        ("RollbackConfig", update_config()),
        ("EndpointSpec", endpoint_spec(spec)),
    ])
}

/// `docker node inspect` (JSON). TLSInfo is left out: the simulated swarm has no real CA
/// certificate to show.
pub fn node_inspect_json(nodes: &[&Node], view: &MembershipView) -> String {
    let list = nodes.iter().map(|n| node_value(n, view)).collect();
    to_json_indent(&Value::List(list)) + "\n"
}

/// The engine's plugins as 20.10 reports them (`executor.Describe`), sorted by type, name:
/// a Linux engine's, or a Windows engine's (its log drivers add etwlogs and lack journald;
/// its network drivers are the HNS ones).
pub(super) fn plugins(os: Os) -> &'static [(&'static str, &'static str)] {
    match os {
        Os::Linux => LINUX_PLUGINS,
        Os::Windows => WINDOWS_PLUGINS,
    }
}

const WINDOWS_PLUGINS: &[(&str, &str)] = &[
    ("Log", "awslogs"),
    ("Log", "etwlogs"),
    ("Log", "fluentd"),
    ("Log", "gcplogs"),
    ("Log", "gelf"),
    ("Log", "json-file"),
    ("Log", "local"),
    ("Log", "logentries"),
    ("Log", "splunk"),
    ("Log", "syslog"),
    ("Network", "ics"),
    ("Network", "internal"),
    ("Network", "l2bridge"),
    ("Network", "l2tunnel"),
    ("Network", "nat"),
    ("Network", "null"),
    ("Network", "overlay"),
    ("Network", "private"),
    ("Network", "transparent"),
    ("Volume", "local"),
];

const LINUX_PLUGINS: &[(&str, &str)] = &[
    ("Log", "awslogs"),
    ("Log", "fluentd"),
    ("Log", "gcplogs"),
    ("Log", "gelf"),
    ("Log", "journald"),
    ("Log", "json-file"),
    ("Log", "local"),
    ("Log", "logentries"),
    ("Log", "splunk"),
    ("Log", "syslog"),
    ("Network", "bridge"),
    ("Network", "host"),
    ("Network", "ipvlan"),
    ("Network", "macvlan"),
    ("Network", "null"),
    ("Network", "overlay"),
    ("Volume", "local"),
];

fn node_value(n: &Node, view: &MembershipView) -> Value {
    let d = &n.description;
    let plugins = plugins(d.os)
        .iter()
        .map(|(t, name)| Value::obj(vec![("Type", Value::s(*t)), ("Name", Value::s(*name))]));
    let mut f = vec![
        ("ID", Value::s(n.id.clone())),
        ("Version", Value::obj(vec![("Index", Value::Int(n.meta.version as i64))])),
        ("CreatedAt", Value::s(rfc3339_nano(n.meta.created_at))),
        ("UpdatedAt", Value::s(rfc3339_nano(n.meta.updated_at))),
        (
            "Spec",
            Value::obj(vec![
                ("Labels", Value::str_map(&n.labels)),
                ("Role", Value::s(role_name(n.role))),
                ("Availability", Value::s(availability_name(n.availability))),
            ]),
        ),
        (
            "Description",
            Value::obj(vec![
                ("Hostname", Value::s(d.hostname.clone())),
                (
                    "Platform",
                    Value::obj(vec![
                        ("Architecture", Value::s(d.architecture.clone())),
                        ("OS", Value::s(d.os.to_string())),
                    ]),
                ),
                (
                    "Resources",
                    Value::obj(vec![
                        ("NanoCPUs", Value::Int(d.nano_cpus as i64)),
                        ("MemoryBytes", Value::Int(d.memory_bytes as i64)),
                    ]),
                ),
                (
                    "Engine",
                    Value::obj(vec![
                        ("EngineVersion", Value::s(d.engine_version.clone())),
                        ("Plugins", Value::List(plugins.collect())),
                    ]),
                ),
            ]),
        ),
    ];
    let mut status = vec![("State", Value::s(state_name(n.state)))];
    if !n.message.is_empty() {
        status.push(("Message", Value::s(n.message.clone())));
    }
    status.push(("Addr", Value::s(n.addr.to_string())));
    f.push(("Status", Value::obj(status)));
    if let (Some(ms), Some((leader, reach))) = (&n.manager, reachability(n, view)) {
        let mut m = Vec::new();
        if leader {
            m.push(("Leader", Value::Bool(true)));
        }
        m.push(("Reachability", Value::s(reach)));
        m.push(("Addr", Value::s(format!("{}:{}", ms.addr.0, ms.addr.1))));
        f.push(("ManagerStatus", Value::obj(m)));
    }
    Value::obj(f)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::docker::swarm::store::{
        fixtures, Cluster, Meta, NetworkAllocation, ServiceEndpoint, ServiceSpec, Task, TaskStatus,
        VirtualIp,
    };
    use crate::engine::SimDuration;

    pub(in crate::docker::swarm) fn t(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    fn node(id: &str, host: &str, raft: Option<u64>) -> Node {
        fixtures::node(id, host, [172, 16, 24, 4], raft)
    }

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "web-service".into(),
            labels: vec![],
            image: "nginxdemos/hello:latest@sha256:ae2b".into(),
            args: vec![],
            env: vec![],
            mode: ServiceMode::Replicated { replicas: 2 },
            constraints: vec![],
            networks: vec!["54g3qcpkcpx2o5o9hyj4nroe3".into()],
            endpoint_mode: EndpointMode::Vip,
            ports: vec![PortConfig {
                protocol: Protocol::Tcp,
                target: 80,
                published: 8080,
                mode: PublishMode::Ingress,
            }],
            restart_delay: SimDuration::from_secs(5),
        }
    }

    pub(in crate::docker::swarm) fn task(
        id: &str,
        slot: u64,
        node: &str,
        state: TaskState,
        at: u64,
    ) -> Task {
        Task {
            id: id.into(),
            meta: Meta::new(t(at)),
            service_id: "o6mpmdcdrm6f6kvccy0f74eln".into(),
            slot,
            node_id: node.into(),
            spec: spec(),
            status: TaskStatus {
                timestamp: t(at),
                state,
                message: String::new(),
                err: String::new(),
            },
            desired_state: state,
            networks: vec![],
            endpoint: None,
            not_before: None,
            attachment: None,
        }
    }

    /// Lab 000's two-host swarm after `service create`.
    pub(in crate::docker::swarm) fn lab() -> Store {
        let cluster = Cluster::new("c".into(), t(0), String::new(), String::new());
        let mut s = Store { cluster: Some(cluster), ..Store::default() };
        for n in [
            node("66lur8tr9pz53r1bdrd1ee6bj", "docker-host-2", None),
            node("im1clp7aw6n6qqv8lcs3u3hxe", "docker-host-1", Some(1)),
        ] {
            s.nodes.insert(n.id.clone(), n);
        }
        let svc = Service {
            id: "o6mpmdcdrm6f6kvccy0f74eln".into(),
            meta: Meta::new(t(0)),
            spec: spec(),
            previous_spec: None,
            endpoint: Some(ServiceEndpoint {
                ports: spec().ports,
                virtual_ips: vec![VirtualIp {
                    network_id: "oo861ktagy0blgs9myp7izku0".into(),
                    addr: "10.0.0.7/24".parse().unwrap(),
                }],
            }),
        };
        s.services.insert(svc.id.clone(), svc);
        for tk in [
            task(
                "xy2qpwzu7nqcmut9o5mwc7m26",
                2,
                "im1clp7aw6n6qqv8lcs3u3hxe",
                TaskState::Running,
                0,
            ),
            task(
                "rbhms3k74l35jrfc6eq2wh28u",
                1,
                "66lur8tr9pz53r1bdrd1ee6bj",
                TaskState::Running,
                0,
            ),
        ] {
            s.tasks.insert(tk.id.clone(), tk);
        }
        s
    }

    #[test]
    fn init_text_is_lab_000s() {
        let token =
            "SWMTKN-1-5y4llc1jq1eowsq42pkxrmjl01z50299uszrqaajvh79r33bkq-27wum03xpatfo65av02ufiexd";
        assert_eq!(
            init_text("im1clp7aw6n6qqv8lcs3u3hxe", token, [172, 16, 24, 4].into()),
            format!("Swarm initialized: current node (im1clp7aw6n6qqv8lcs3u3hxe) is now a manager.\n\nTo add a worker to this swarm, run the following command:\n\n    docker swarm join --token {token} 172.16.24.4:2377\n\nTo add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n\n")
        );
        assert_eq!(join_token_text(Role::Manager, "T", [10, 0, 0, 1].into(), true, false), "T\n");
    }

    #[test]
    fn node_ls_is_lab_000s() {
        let view = MembershipView { leader: Some(1), reachable: vec![1] };
        assert_eq!(
            node_ls(&lab(), "im1clp7aw6n6qqv8lcs3u3hxe", &view, false),
            "ID                            HOSTNAME        STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n\
im1clp7aw6n6qqv8lcs3u3hxe *   docker-host-1   Ready     Active         Leader           20.10.7\n\
66lur8tr9pz53r1bdrd1ee6bj     docker-host-2   Ready     Active                          20.10.7\n"
        );
        let mut store = lab();
        store.nodes[1].manager = None;
        assert_eq!(
            node_ls(&store, "x", &view, true),
            "im1clp7aw6n6qqv8lcs3u3hxe\n66lur8tr9pz53r1bdrd1ee6bj\n"
        );
    }

    #[test]
    fn service_ls_is_lab_000s() {
        assert_eq!(
            service_ls(&lab(), false),
            "ID             NAME          MODE         REPLICAS   IMAGE                     PORTS\n\
o6mpmdcdrm6f   web-service   replicated   2/2        nginxdemos/hello:latest   *:8080->80/tcp\n"
        );
    }

    #[test]
    fn ls_ports_group_ranges() {
        let p = |published, target| PortConfig {
            protocol: Protocol::Tcp,
            target,
            published,
            mode: PublishMode::Ingress,
        };
        assert_eq!(ls_ports(&[p(81, 80), p(80, 80), p(82, 82)]), "*:80-81->80/tcp, *:82->82/tcp");
        assert_eq!(ls_ports(&[p(80, 80), p(81, 81)]), "*:80-81->80-81/tcp");
    }

    #[test]
    fn progress_is_lab_000s() {
        assert_eq!(
            converged_progress_replicated(2),
            "overall progress: 2 out of 2 tasks\n1/2: running   [==================================================>]\n2/2: running   [==================================================>]\nverify: Service converged\n"
        );
        assert!(converged_progress_global(&["im1clp7aw6n6qqv8lcs3u3hxe"])
            .contains("\nim1clp7aw6n6: running   [="));
    }

    #[test]
    fn overlay_inspect_is_lab_000s_green_overlay() {
        let net = Network {
            id: "yq9448zt082zrr6wmva6zygld".into(),
            meta: Meta::new(SimTime::ZERO + SimDuration::from_nanos(825_047_112)),
            name: "green-overlay".into(),
            driver: "overlay".into(),
            options: vec![("encyrpted".into(), String::new())],
            labels: vec![],
            attachable: false,
            ingress: false,
            internal: false,
            requested_subnet: None,
            allocation: Some(NetworkAllocation {
                subnet: "10.0.2.0/24".parse().unwrap(),
                gateway: [10, 0, 2, 1].into(),
                vni: 4098,
            }),
        };
        let json = to_json_indent(&Value::List(vec![swarm_network_value(&net, None)]));
        assert_eq!(
            json,
            r#"[
    {
        "Name": "green-overlay",
        "Id": "yq9448zt082zrr6wmva6zygld",
        "Created": "2021-07-08T10:00:00.825047112Z",
        "Scope": "swarm",
        "Driver": "overlay",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [
                {
                    "Subnet": "10.0.2.0/24",
                    "Gateway": "10.0.2.1"
                }
            ]
        },
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {
            "Network": ""
        },
        "ConfigOnly": false,
        "Containers": null,
        "Options": {
            "com.docker.network.driver.overlay.vxlanid_list": "4098",
            "encyrpted": ""
        },
        "Labels": null
    }
]"#
        );
        assert_eq!(
            swarm_network_ls_row(&net, false),
            ["yq9448zt082z", "green-overlay", "overlay", "swarm"]
        );
    }

    #[test]
    fn an_overlay_instantiated_here_is_lab_004s_ingress() {
        let mut net = Network {
            allocation: Some(NetworkAllocation {
                subnet: "10.255.0.0/16".parse().unwrap(),
                gateway: [10, 255, 0, 1].into(),
                vni: 4096,
            }),
            ..crate::docker::swarm::orchestrator::testkit::network(
                "das46zk71z4gzja9lalsn9vs5",
                "ingress",
                true,
            )
        };
        let endpoint = Value::obj(vec![
            ("Name", Value::s("ingress-endpoint")),
            (
                "EndpointID",
                Value::s("a87d66a7a0afb3fa7a53c22fee91cb7a62538bf66b4d69f661eb1181aaefbeb9"),
            ),
            ("MacAddress", Value::s("02:42:0a:ff:00:02")),
            ("IPv4Address", Value::s("10.255.0.2/16")),
            ("IPv6Address", Value::s("")),
        ]);
        let local = LocalInstance {
            created: SimTime::ZERO + SimDuration::from_nanos(9_873_453_838),
            containers: Value::Map([("ingress-sbox".to_string(), endpoint)].into()),
            peers: vec![
                ("d8bafa53602e".into(), [192, 168, 122, 124].into()),
                ("2228e30afa2a".into(), [192, 168, 122, 127].into()),
            ],
        };
        let json = to_json_indent(&Value::List(vec![swarm_network_value(&net, Some(&local))]));
        assert_eq!(
            json,
            r#"[
    {
        "Name": "ingress",
        "Id": "das46zk71z4gzja9lalsn9vs5",
        "Created": "2021-07-08T10:00:09.873453838Z",
        "Scope": "swarm",
        "Driver": "overlay",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [
                {
                    "Subnet": "10.255.0.0/16",
                    "Gateway": "10.255.0.1"
                }
            ]
        },
        "Internal": false,
        "Attachable": false,
        "Ingress": true,
        "ConfigFrom": {
            "Network": ""
        },
        "ConfigOnly": false,
        "Containers": {
            "ingress-sbox": {
                "Name": "ingress-endpoint",
                "EndpointID": "a87d66a7a0afb3fa7a53c22fee91cb7a62538bf66b4d69f661eb1181aaefbeb9",
                "MacAddress": "02:42:0a:ff:00:02",
                "IPv4Address": "10.255.0.2/16",
                "IPv6Address": ""
            }
        },
        "Options": {
            "com.docker.network.driver.overlay.vxlanid_list": "4096"
        },
        "Labels": {},
        "Peers": [
            {
                "Name": "d8bafa53602e",
                "IP": "192.168.122.124"
            },
            {
                "Name": "2228e30afa2a",
                "IP": "192.168.122.127"
            }
        ]
    }
]"#
        );
        net.labels = vec![("team".into(), "red".into())];
        let lonely = LocalInstance { peers: vec![], ..local };
        let json = to_json_indent(&swarm_network_value(&net, Some(&lonely)));
        assert!(json.ends_with("\"Labels\": {\n        \"team\": \"red\"\n    }\n}"), "{json}");
    }

    #[test]
    fn service_templates_run_on_the_inspect_tree() {
        let store = lab();
        let v = service_value(&store.services[0], &|_| vec![]);
        let run = |t: &str| crate::docker::render::execute_typed(t, &v).unwrap();
        assert_eq!(
            run("{{json .Endpoint.VirtualIPs}}"),
            r#"[{"NetworkID":"oo861ktagy0blgs9myp7izku0","Addr":"10.0.0.7/24"}]"#
        );
        assert_eq!(run("{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}"), "10.0.0.7/24");
        assert_eq!(run("{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}}"), "web-service 2");
        assert!(crate::docker::render::execute_typed("{{.Nope}}", &v).is_err());
    }

    #[test]
    fn service_inspect_matches_lab_000s_fields() {
        let store = lab();
        let svc = &store.services[0];
        let json = service_inspect_json(&[svc], &|_| {
            vec![(None, "linux".into()), (Some("amd64".into()), "linux".into())]
        });
        for want in [
            "\"Image\": \"nginxdemos/hello:latest@sha256:ae2b\",\n                    \"Init\": false,\n                    \"StopGracePeriod\": 10000000000,\n                    \"DNSConfig\": {},\n                    \"Isolation\": \"default\"",
            "\"RestartPolicy\": {\n                    \"Condition\": \"any\",\n                    \"Delay\": 5000000000,\n                    \"MaxAttempts\": 0\n                }",
            "\"Networks\": [\n                    {\n                        \"Target\": \"54g3qcpkcpx2o5o9hyj4nroe3\"\n                    }\n                ],\n                \"ForceUpdate\": 0,\n                \"Runtime\": \"container\"",
            "\"Mode\": {\n                \"Replicated\": {\n                    \"Replicas\": 2\n                }\n            }",
            "\"Protocol\": \"tcp\",\n                        \"TargetPort\": 80,\n                        \"PublishedPort\": 8080,\n                        \"PublishMode\": \"ingress\"",
            "\"VirtualIPs\": [\n                {\n                    \"NetworkID\": \"oo861ktagy0blgs9myp7izku0\",\n                    \"Addr\": \"10.0.0.7/24\"\n                }\n            ]",
            "\"Platforms\": [\n                        {\n                            \"OS\": \"linux\"\n                        },\n                        {\n                            \"Architecture\": \"amd64\",",
        ] {
            assert!(json.contains(want), "missing {want}\nin {json}");
        }
    }

    #[test]
    fn error_texts() {
        assert_eq!(leave_refusal(1, 0), "Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ");
        assert_eq!(leave_refusal(2, 1), "Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. Removing this node leaves 1 managers out of 3. Without a Raft quorum your swarm will be inaccessible. The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.");
        assert_eq!(leave_refusal(5, 0), "Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.");
        assert_eq!(rm_not_down("abc"), "Error response from daemon: rpc error: code = FailedPrecondition desc = node abc is not down and can't be removed");
    }
}
