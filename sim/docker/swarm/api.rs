//! The leader's controlapi and CA: serving the calls of `docker swarm|node|service …` and of
//! joining nodes against the committed store.
//!
//! Contract: reads are answered at once from the leader's store; writes become store
//! operations queued on the leader's pipeline, answered when they commit. Validation
//! errors carry swarmkit's texts.

use std::net::Ipv4Addr;

use super::ids::new_id;
use super::manager::{Manager, ManagerIo, Write};
use super::msg::{ApiBody, ApiCall, ApiResult, Joined, SWARM_PORT};
use super::pretty;
use super::render;
use super::request::{InspectFormat, ServiceChanges, ServiceRequest, SwarmRequest};
use super::store::{
    Availability, ManagerStatus, Meta, Network, Node, NodeDescription, NodeState, Role, Service,
    ServiceMode, ServiceSpec, Store, StoreOp,
};
use super::MembershipView;
use crate::docker::render::{execute_typed, TemplateError};
use crate::docker::DockerOutcome;
use crate::engine::{RngStream, SimDuration, SimTime};
use crate::proto::raft::ConfChange;

/// What swarmkit's CA answers a token that is well-formed but not this swarm's.
pub const BAD_TOKEN: &str =
    "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster";
/// Restart condition `any` waits this long (`api/defaults`).
pub const RESTART_DELAY: SimDuration = SimDuration::from_secs(5);

/// Serves one call on the leader.
pub fn serve(
    m: &mut Manager,
    now: SimTime,
    call: ApiCall,
    rng: &mut RngStream,
    io: &mut ManagerIo,
) {
    let result = match &call.body {
        ApiBody::Join { token, description, addr } => {
            join(m, now, &call, token, description, *addr, rng)
        }
        ApiBody::Cli(req) => cli(m, now, &call, req.clone(), rng),
    };
    match result {
        Served::Now(result) => io.replies.push((call, result)),
        Served::Later(writes) => {
            for w in writes {
                m.submit(w);
            }
            m.poke(now, rng, io);
        }
    }
}

/// An answer now, or writes whose commit answers.
enum Served {
    Now(ApiResult),
    Later(Vec<Write>),
}

fn text(stdout: String) -> Served {
    Served::Now(ApiResult::Done { outcome: DockerOutcome::out(stdout), watch: None })
}

fn error(text: String) -> Served {
    Served::Now(ApiResult::error(&text))
}

/// A failure printed as the CLI words it.
fn printed(line: String) -> Served {
    Served::Now(ApiResult::printed(&line))
}

/// One write answered with `stdout` (and a convergence watch) when it commits.
fn write(call: &ApiCall, ops: Vec<StoreOp>, stdout: String, watch: Option<String>) -> Served {
    let reply = ApiResult::Done { outcome: DockerOutcome::out(stdout), watch };
    Served::Later(vec![Write::Ops { call: Some(call.clone()), ops, reply: Some(reply) }])
}

fn join(
    m: &Manager,
    now: SimTime,
    call: &ApiCall,
    token: &str,
    description: &NodeDescription,
    addr: Ipv4Addr,
    rng: &mut RngStream,
) -> Served {
    let cluster = m.store.cluster.as_ref().expect("a leader's store has the cluster object");
    let role = if token == cluster.worker_token {
        Role::Worker
    } else if token == cluster.manager_token {
        Role::Manager
    } else {
        return error(BAD_TOKEN.to_string());
    };
    let raft_id = (role == Role::Manager).then(|| raft_id(rng));
    let node = Node {
        id: new_id(rng),
        meta: Meta::new(now),
        role,
        availability: Availability::Active,
        labels: Vec::new(),
        description: description.clone(),
        state: NodeState::Unknown,
        message: String::new(),
        addr,
        manager: raft_id.map(|id| ManagerStatus { raft_id: id, addr: (addr, SWARM_PORT) }),
    };
    let mut managers: Vec<(u64, Ipv4Addr)> = m.peers.iter().map(|(id, a)| (*id, *a)).collect();
    managers.extend(raft_id.map(|id| (id, addr)));
    let joined = ApiResult::Joined(Joined { node_id: node.id.clone(), role, raft_id, managers });
    let put = vec![StoreOp::PutNode(Box::new(node))];
    Served::Later(match raft_id {
        None => vec![Write::Ops { call: Some(call.clone()), ops: put, reply: Some(joined) }],
        Some(id) => vec![
            Write::Ops { call: None, ops: put, reply: None },
            Write::Conf {
                call: Some(call.clone()),
                change: ConfChange::AddVoter(id),
                reply: Some(joined),
            },
        ],
    })
}

/// A Raft member ID: random, never 0 (etcd's "no node").
pub fn raft_id(rng: &mut RngStream) -> u64 {
    rng.next_u64().max(1)
}

/// Who leads and who answers, as the leader sees it.
pub fn membership(m: &Manager) -> MembershipView {
    let me = m.raft.id();
    let reachable = m
        .raft
        .voters()
        .iter()
        .copied()
        .filter(|id| *id == me || m.raft.recently_active(*id))
        .collect();
    MembershipView { leader: m.raft.leader(), reachable }
}

fn cli(
    m: &Manager,
    now: SimTime,
    call: &ApiCall,
    req: SwarmRequest,
    rng: &mut RngStream,
) -> Served {
    let store = &m.store;
    let origin = store.nodes.values().find(|n| n.addr == call.origin).map(|n| n.id.clone());
    let self_id = origin.unwrap_or_default();
    match req {
        SwarmRequest::JoinToken { role, quiet, rotate } => {
            join_token(m, call, role, quiet, rotate, rng)
        }
        SwarmRequest::Update { task_history_limit } => {
            let mut c = store.cluster.clone().expect("cluster object");
            if let Some(limit) = task_history_limit {
                c.task_history_limit = limit;
            }
            c.meta.updated_at = now;
            write(call, vec![StoreOp::PutCluster(c)], "Swarm updated.\n".into(), None)
        }
        SwarmRequest::NodeLs { quiet } => {
            text(render::node_ls(store, &self_id, &membership(m), quiet))
        }
        SwarmRequest::NodeInspect { nodes, pretty } => node_inspect(m, &self_id, &nodes, pretty),
        SwarmRequest::NodeUpdate { node, availability, role, label_add, label_rm } => {
            let Some(n) = store.node(&node) else { return printed(render::no_such("node", &node)) };
            let mut n = n.clone();
            if let Some(a) = availability {
                n.availability = a;
            }
            n.labels.retain(|(k, _)| !label_rm.contains(k));
            for (k, v) in label_add {
                n.labels.retain(|(x, _)| *x != k);
                n.labels.push((k, v));
            }
            n.meta.updated_at = now;
            match role {
                Some(r) if r != n.role => change_role(m, call, n, r, format!("{node}\n"), rng),
                _ => write(call, vec![StoreOp::PutNode(Box::new(n))], format!("{node}\n"), None),
            }
        }
        SwarmRequest::NodePromote(nodes) => {
            promote_demote(m, now, call, &nodes, Role::Manager, rng)
        }
        SwarmRequest::NodeDemote(nodes) => promote_demote(m, now, call, &nodes, Role::Worker, rng),
        SwarmRequest::NodeRm { nodes, force } => node_rm(store, call, &nodes, force),
        SwarmRequest::ServiceCreate { service, detach, quiet } => {
            service_create(store, now, call, service, detach, quiet, rng)
        }
        SwarmRequest::ServiceLs { quiet } => text(render::service_ls(store, quiet)),
        SwarmRequest::ServicePs(args) => Served::Now(ApiResult::Done {
            outcome: super::ps::service_ps(store, &self_id, &args, now),
            watch: None,
        }),
        SwarmRequest::ServiceInspect { services, format } => {
            service_inspect(store, &services, &format)
        }
        SwarmRequest::ServiceScale { pairs, detach } => {
            service_scale(store, now, call, &pairs, detach)
        }
        SwarmRequest::ServiceUpdate { service, changes, detach } => {
            service_update(store, now, call, &service, changes, detach)
        }
        SwarmRequest::ServiceRm(names) => service_rm(store, call, &names),
        SwarmRequest::NetworkCreate { name, options, labels, attachable, internal, subnet } => {
            if store.networks.values().any(|n| n.name == name) {
                return error(format!("rpc error: code = AlreadyExists desc = network with name {name} already exists"));
            }
            let net = Network {
                id: new_id(rng),
                meta: Meta::new(now),
                name,
                driver: "overlay".into(),
                options,
                labels,
                attachable,
                ingress: false,
                internal,
                requested_subnet: subnet,
                allocation: None,
            };
            let id = net.id.clone();
            write(call, vec![StoreOp::PutNetwork(Box::new(net))], format!("{id}\n"), None)
        }
        SwarmRequest::NetworkRm(names) => network_rm(store, call, &names),
        SwarmRequest::AttachNetwork { target, container_id } => {
            match super::attach::attachment_task(store, now, &self_id, &target, &container_id, rng)
            {
                Ok(task) => {
                    let out = format!("{}\n", task.id);
                    write(call, vec![StoreOp::PutTask(Box::new(task))], out, None)
                }
                Err(e) => error(e),
            }
        }
        SwarmRequest::DetachNetwork { attachment_id } => {
            match super::attach::detach_ops(store, &self_id, &attachment_id) {
                Ok(ops) => write(call, ops, String::new(), None),
                Err(e) => error(e),
            }
        }
        SwarmRequest::Init { .. } | SwarmRequest::Join { .. } | SwarmRequest::Leave { .. } => {
            unreachable!("init, join and leave are served by the node itself")
        }
    }
}

fn join_token(
    m: &Manager,
    call: &ApiCall,
    role: Role,
    quiet: bool,
    rotate: bool,
    rng: &mut RngStream,
) -> Served {
    let mut c = m.store.cluster.clone().expect("cluster object");
    let addr = m.peers.get(&m.raft.id()).copied().unwrap_or(call.origin);
    if rotate {
        let digest = super::token::parse(&c.worker_token).expect("our own token parses").0;
        let fresh = super::token::join_token(&digest, &super::token::new_secret(rng));
        match role {
            Role::Worker => c.worker_token = fresh.clone(),
            Role::Manager => c.manager_token = fresh.clone(),
        }
        let out = render::join_token_text(role, &fresh, addr, quiet, true);
        return write(call, vec![StoreOp::PutCluster(c)], out, None);
    }
    let token = match role {
        Role::Worker => &c.worker_token,
        Role::Manager => &c.manager_token,
    };
    text(render::join_token_text(role, token, addr, quiet, false))
}

fn node_inspect(m: &Manager, self_id: &str, keys: &[String], pretty: bool) -> Served {
    let mut nodes = Vec::new();
    for key in keys {
        let key = if key == "self" { self_id } else { key.as_str() };
        match m.store.node(key) {
            Some(n) => nodes.push(n),
            None => return printed(render::no_such("node", key)),
        }
    }
    let view = membership(m);
    if pretty {
        return text(pretty::node_pretty(&nodes, &view));
    }
    text(render::node_inspect_json(&nodes, &view))
}

/// `docker service inspect`. `--pretty` prints nothing unless every service is found
/// (`InspectFormatWrite`). Otherwise (`inspect.Inspect`) every service found is printed, as
/// the JSON array (`[]` when none is) or one template result per line, and the refs not
/// found and the templates that fail are the errors after them, one per line, exit 1.
fn service_inspect(store: &Store, keys: &[String], format: &InspectFormat) -> Served {
    if *format == InspectFormat::Pretty {
        return match resolve_services(store, keys) {
            Ok(ids) => {
                let list: Vec<&Service> = ids.iter().map(|id| &store.services[id]).collect();
                text(pretty::service_pretty(&list, store))
            }
            Err(key) => printed(render::no_such_service_inspect(&key)),
        };
    }
    let mut found: Vec<&Service> = Vec::new();
    let mut errors = Vec::new();
    for key in keys {
        match store.service(key) {
            Some(s) => found.push(s),
            None => errors.push(render::no_such_service_inspect(key)),
        }
    }
    let mut outcome = DockerOutcome::default();
    match format {
        InspectFormat::Template(t) => {
            for s in found {
                match execute_typed(t, &render::service_value(s, &image_platforms)) {
                    Ok(line) => outcome.stdout += &(line + "\n"),
                    Err(e) => errors.push(typed_template_error(e)),
                }
            }
        }
        _ => outcome.stdout = render::service_inspect_json(&found, &image_platforms),
    }
    if !errors.is_empty() {
        outcome.stderr = errors.join("\n") + "\n";
        outcome.exit_code = 1;
    }
    Served::Now(ApiResult::Done { outcome, watch: None })
}

/// A template that fails on a service's typed object. The simulated object has only the
/// fields its JSON shows, while Go's `swarm.Service` also has the empty `omitempty` ones
/// (which print as empty), so a field it lacks is not necessarily an error for Docker.
fn typed_template_error(e: TemplateError) -> String {
    match e {
        TemplateError::Parse(why) => TemplateError::NotSimulated(format!(
            "{why} (a field of a service its JSON leaves out, or none at all)"
        ))
        .to_string(),
        e => e.to_string(),
    }
}

/// A role change. A promotion writes the node's record and then adds its Raft member; the
/// node starts that member when its next heartbeat's answer names it. A demotion removes the
/// Raft member only: the leader's reconcile pass then records the node as a worker
/// ([`super::manager`]), so the node keeps its member until the removal has committed, and
/// a leader demoting itself is recorded by its successor. swarmkit refuses a removal that
/// would leave fewer reachable managers than a quorum (`CanRemoveMember`).
fn change_role(
    m: &Manager,
    call: &ApiCall,
    mut n: Node,
    role: Role,
    out: String,
    rng: &mut RngStream,
) -> Served {
    let reply = Some(ApiResult::Done { outcome: DockerOutcome::out(out), watch: None });
    let Role::Manager = role else {
        let id = n.manager.as_ref().map(|s| s.raft_id).expect("a manager has a Raft ID");
        if m.store.managers().count() == 1 {
            return error(render::DEMOTE_LAST_MANAGER.to_string());
        }
        if !can_remove_member(m, id) {
            return error(render::DEMOTE_LOSES_QUORUM.to_string());
        }
        let change = ConfChange::RemoveVoter(id);
        return Served::Later(vec![Write::Conf { call: Some(call.clone()), change, reply }]);
    };
    let id = raft_id(rng);
    n.role = role;
    n.manager = Some(ManagerStatus { raft_id: id, addr: (n.addr, SWARM_PORT) });
    let put = Write::Ops { call: None, ops: vec![StoreOp::PutNode(Box::new(n))], reply: None };
    let change = ConfChange::AddVoter(id);
    Served::Later(vec![put, Write::Conf { call: Some(call.clone()), change, reply }])
}

/// swarmkit's `CanRemoveMember`: the members left, counting only those this leader hears
/// from, still make a quorum of the smaller cluster.
fn can_remove_member(m: &Manager, id: u64) -> bool {
    let voters = m.raft.voters();
    let view = membership(m);
    let reachable = view.reachable.iter().filter(|v| **v != id && voters.contains(v)).count();
    reachable > (voters.len() - 1) / 2
}

fn promote_demote(
    m: &Manager,
    now: SimTime,
    call: &ApiCall,
    keys: &[String],
    role: Role,
    rng: &mut RngStream,
) -> Served {
    let mut out = String::new();
    let mut writes = Vec::new();
    for key in keys {
        let Some(n) = m.store.node(key) else { return printed(render::no_such("node", key)) };
        let line = match role {
            _ if n.role == role => render::already(&n.id, role),
            Role::Manager => render::promoted(key),
            Role::Worker => render::demoted(key),
        };
        if n.role == role {
            out += &line;
            continue;
        }
        let mut n = n.clone();
        n.meta.updated_at = now;
        match change_role(m, call, n, role, String::new(), rng) {
            Served::Later(w) => writes.extend(w),
            now_error => return now_error,
        }
        out += &line;
    }
    finish_writes(call, writes, out)
}

/// Several writes answered together by the last one's commit.
fn finish_writes(call: &ApiCall, mut writes: Vec<Write>, out: String) -> Served {
    let reply = ApiResult::Done { outcome: DockerOutcome::out(out.clone()), watch: None };
    for w in writes.iter_mut() {
        match w {
            Write::Ops { call: c, reply: r, .. } | Write::Conf { call: c, reply: r, .. } => {
                (*c, *r) = (None, None)
            }
        }
    }
    match writes.last_mut() {
        Some(Write::Ops { call: c, reply: r, .. })
        | Some(Write::Conf { call: c, reply: r, .. }) => {
            (*c, *r) = (Some(call.clone()), Some(reply));
            Served::Later(writes)
        }
        None => text(out),
    }
}

fn node_rm(store: &Store, call: &ApiCall, keys: &[String], force: bool) -> Served {
    let mut ops = Vec::new();
    let mut out = String::new();
    for key in keys {
        let Some(n) = store.node(key) else { return printed(render::no_such("node", key)) };
        if n.manager.is_some() {
            return printed(render::rm_manager(&n.id));
        }
        if n.state != NodeState::Down && !force {
            return printed(render::rm_not_down(&n.id));
        }
        ops.push(StoreOp::DeleteNode(n.id.clone()));
        out += &format!("{key}\n");
    }
    write(call, ops, out, None)
}

/// Services by name or ID; the key not found, if any.
fn resolve_services(store: &Store, keys: &[String]) -> Result<Vec<String>, String> {
    keys.iter().map(|k| store.service(k).map(|s| s.id.clone()).ok_or_else(|| k.clone())).collect()
}

/// Networks by name or ID; else the printed error.
fn resolve_networks(store: &Store, keys: &[String]) -> Result<Vec<String>, String> {
    keys.iter()
        .map(|k| store.network(k).map(|n| n.id.clone()).ok_or_else(|| render::network_not_found(k)))
        .collect()
}

fn service_create(
    store: &Store,
    now: SimTime,
    call: &ApiCall,
    req: ServiceRequest,
    detach: bool,
    quiet: bool,
    rng: &mut RngStream,
) -> Served {
    let networks = match resolve_networks(store, &req.networks) {
        Ok(n) => n,
        Err(e) => return printed(e),
    };
    let name = req.name.clone().unwrap_or_else(|| crate::docker::names::random_name(rng, 0));
    if store.services.values().any(|s| s.spec.name == name) {
        return error(format!("rpc error: code = AlreadyExists desc = name conflicts with an existing object: service {name} already exists"));
    }
    let spec = ServiceSpec {
        name,
        labels: req.labels,
        image: req.image,
        args: req.args,
        env: req.env,
        mode: req.mode,
        constraints: req.constraints,
        networks,
        endpoint_mode: req.endpoint_mode,
        ports: req.ports,
        restart_delay: RESTART_DELAY,
    };
    if let Err(e) = super::allocator::validate_endpoint(&spec) {
        return error(e);
    }
    let service = Service {
        id: new_id(rng),
        meta: Meta::new(now),
        spec,
        previous_spec: None,
        endpoint: None,
    };
    let id = service.id.clone();
    // `-q` keeps the ID and drops the progress display, like `-d`.
    let watch = (!detach && !quiet).then(|| id.clone());
    write(call, vec![StoreOp::PutService(Box::new(service))], format!("{id}\n"), watch)
}

fn service_scale(
    store: &Store,
    now: SimTime,
    call: &ApiCall,
    pairs: &[(String, u64)],
    detach: bool,
) -> Served {
    let mut ops = Vec::new();
    let mut out = String::new();
    let mut watch = None;
    for (key, replicas) in pairs {
        let Some(s) = store.service(key) else { return printed(render::no_such("service", key)) };
        if s.spec.mode == ServiceMode::Global {
            return printed(format!(
                "{key}: scale can only be used with replicated or replicated-job mode"
            ));
        }
        let mut s = s.clone();
        s.previous_spec = Some(s.spec.clone());
        s.spec.mode = ServiceMode::Replicated { replicas: *replicas };
        s.meta.updated_at = now;
        out += &render::scaled(key, *replicas);
        watch = (!detach && pairs.len() == 1).then(|| s.id.clone());
        ops.push(StoreOp::PutService(Box::new(s)));
    }
    write(call, ops, out, watch)
}

fn service_update(
    store: &Store,
    now: SimTime,
    call: &ApiCall,
    key: &str,
    ch: ServiceChanges,
    detach: bool,
) -> Served {
    let Some(s) = store.service(key) else { return printed(render::no_such("service", key)) };
    let mut s = s.clone();
    s.previous_spec = Some(s.spec.clone());
    let spec = &mut s.spec;
    if let Some(r) = ch.replicas {
        spec.mode = ServiceMode::Replicated { replicas: r };
    }
    if let Some(image) = ch.image {
        spec.image = image;
    }
    spec.constraints.retain(|c| !ch.constraint_rm.iter().any(|r| *r == c.to_string()));
    spec.constraints.extend(ch.constraint_add);
    spec.ports.retain(|p| !ch.publish_rm.contains(&p.target));
    spec.ports.extend(ch.publish_add);
    match resolve_networks(store, &ch.network_add) {
        Ok(add) => spec.networks.extend(add),
        Err(e) => return printed(e),
    }
    let rm = resolve_networks(store, &ch.network_rm).unwrap_or_default();
    spec.networks.retain(|n| !rm.contains(n));
    spec.env.extend(ch.env_add);
    s.meta.updated_at = now;
    let watch = (!detach).then(|| s.id.clone());
    let out = format!("{key}\n");
    write(call, vec![StoreOp::PutService(Box::new(s))], out, watch)
}

fn service_rm(store: &Store, call: &ApiCall, keys: &[String]) -> Served {
    let mut ops = Vec::new();
    let mut out = String::new();
    for key in keys {
        let Some(s) = store.service(key) else { return printed(render::no_such("service", key)) };
        ops.push(StoreOp::DeleteService(s.id.clone()));
        out += &format!("{key}\n");
    }
    write(call, ops, out, None)
}

fn network_rm(store: &Store, call: &ApiCall, keys: &[String]) -> Served {
    let mut ops = Vec::new();
    let mut out = String::new();
    for key in keys {
        let Some(n) = store.network(key) else { return printed(render::no_such("network", key)) };
        let used = store.services.values().any(|s| s.spec.networks.contains(&n.id));
        if used || n.ingress {
            return error(format!(
                "rpc error: code = FailedPrecondition desc = network {} is in use by service",
                n.id
            ));
        }
        ops.push(StoreOp::DeleteNetwork(n.id.clone()));
        out += &format!("{key}\n");
    }
    write(call, ops, out, None)
}

/// A constraint as typed: `node.hostname==worker1`.
/// The platforms an image's manifest lists, for `service inspect` (`Placement.Platforms`).
fn image_platforms(image: &str) -> Vec<(Option<String>, String)> {
    let os = super::scheduler::image_os(image);
    vec![(Some("amd64".to_string()), os.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::swarm::orchestrator::testkit;
    use crate::docker::swarm::store::{ServiceEndpoint, VirtualIp};

    fn inspect(store: &Store, keys: &[&str], format: InspectFormat) -> DockerOutcome {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        match service_inspect(store, &keys, &format) {
            Served::Now(ApiResult::Done { outcome, .. }) => outcome,
            _ => panic!("service inspect answers at once"),
        }
    }

    fn store() -> Store {
        let mut store = testkit::cluster(1);
        let spec = testkit::spec("web", ServiceMode::Replicated { replicas: 3 }, &["backendid"]);
        let mut svc = testkit::service("websvcid", spec);
        svc.endpoint = Some(ServiceEndpoint {
            ports: vec![],
            virtual_ips: vec![VirtualIp {
                network_id: "backendid".into(),
                addr: "10.0.1.2/24".parse().unwrap(),
            }],
        });
        store.services.insert(svc.id.clone(), svc);
        store
    }

    #[test]
    fn templates_print_a_line_per_service_and_errors_follow() {
        let store = store();
        let vips = InspectFormat::Template("{{json .Endpoint.VirtualIPs}}".into());
        let out = inspect(&store, &["web", "nope", "websvcid"], vips);
        let line = r#"[{"NetworkID":"backendid","Addr":"10.0.1.2/24"}]"#;
        assert_eq!(out.stdout, format!("{line}\n{line}\n"));
        assert_eq!((out.stderr.as_str(), out.exit_code), ("Error: no such service: nope\n", 1));
        let addr = InspectFormat::Template("{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}".into());
        assert_eq!(inspect(&store, &["web"], addr).stdout, "10.0.1.2/24\n");
    }

    #[test]
    fn json_prints_what_was_found_even_nothing() {
        let store = store();
        let out = inspect(&store, &["nope"], InspectFormat::Json);
        assert_eq!((out.stdout.as_str(), out.exit_code), ("[]\n", 1));
        assert_eq!(out.stderr, "Error: no such service: nope\n");
        let out = inspect(&store, &["web"], InspectFormat::Json);
        assert!(out.stdout.starts_with("[\n    {\n        \"ID\": \"websvcid\",\n"));
        assert_eq!((out.stderr.as_str(), out.exit_code), ("", 0));
        let out = inspect(&store, &["web", "nope"], InspectFormat::Pretty);
        assert_eq!((out.stdout.as_str(), out.exit_code), ("", 1));
    }

    #[test]
    fn a_field_the_tree_lacks_is_not_guessed() {
        let out = inspect(&store(), &["web"], InspectFormat::Template("{{.Spec.Nope}}".into()));
        assert_eq!(out.exit_code, 1);
        assert!(out.stderr.starts_with("swarmsim: Go template feature not simulated: "));
    }
}
