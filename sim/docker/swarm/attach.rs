//! Attachable overlays: a container that is not a task joins a swarm overlay (`docker run
//! --network OVL`, `docker network connect OVL CTR`), as Docker 20.10 does it.
//!
//! Contract: a network that is not local on a swarm node is the manager's to grant. The
//! daemon asks for an attachment (`AttachNetwork`, a swarm call on the node's path to the
//! leader, so partitions and leader changes apply to it). The leader refuses a network it
//! does not know (NotFound) or one created without `--attachable` (PermissionDenied), or
//! writes a task with a network-attachment runtime for the calling node and the container.
//! The allocator gives it an address on the overlay, the scheduler confirms it on its node,
//! and the dispatcher sends it with the node's assignments. When the agent starts it, the
//! daemon instantiates the overlay here (so it appears on this node only now) and joins the
//! container at that address; its endpoint is published in NetworkDB like a task's, so the
//! other nodes program their FDB and neighbour entries. The CLI waits until then. When the
//! container stops, the daemon asks for the attachment to go (`DetachNetwork` deletes the
//! task); once the task has left the node's assignments, the overlay goes too if nothing
//! else uses it.
//!
//! Sources: moby `daemon/container_operations.go` (`findAndAttachNetwork`,
//! `tryDetachContainerFromClusterNetwork`), `daemon/cluster/networks.go` (`AttachNetwork`,
//! `DetachNetwork`, `WaitForDetachment`), `daemon/cluster/executor/container/attachment.go`;
//! swarmkit `manager/resourceapi/allocator.go`, `manager/allocator/network.go`.

use indexmap::IndexMap;

use super::daemon_side::SwarmState;
use super::ids::new_id;
use super::node::{NodeIo, REQUEST_TIMEOUT};
use super::request::SwarmRequest;
use super::store::{
    EndpointMode, Meta, Network, NetworkAttachment, ServiceMode, ServiceSpec, Store, StoreOp, Task,
    TaskState, TaskStatus,
};
use crate::docker::cli::Parsed;
use crate::docker::container::{run_error, Attachment};
use crate::docker::daemon::Daemon;
use crate::docker::endpoint::Plumbing;
use crate::docker::network::{Driver, HOST_CONFLICT, NONE_CONFLICT};
use crate::docker::DockerOutcome;
use crate::engine::{RngStream, SimDuration, SimTime};

/// What `AttachNetwork` fails with once the manager created the task but the node never
/// started it (`attachWaitCh` not signalled before the request context ends).
const ATTACH_TIMEOUT: &str = "attaching to network failed, make sure your network options are correct and check manager logs: context deadline exceeded";

/// The leader's `AttachNetwork`: the attachment task for a container on `node_id`, or the
/// error (gRPC status text). The network is found by ID, else by exact name.
pub(super) fn attachment_task(
    store: &Store,
    now: SimTime,
    node_id: &str,
    target: &str,
    container_id: &str,
    rng: &mut RngStream,
) -> Result<Task, String> {
    let by_name = || {
        let mut named = store.networks.values().filter(|n| n.name == target);
        match (named.next(), named.next()) {
            (Some(n), None) => Some(n),
            _ => None,
        }
    };
    let Some(net) = store.networks.get(target).or_else(by_name) else {
        return Err(format!("rpc error: code = NotFound desc = network {target} not found"));
    };
    if !net.attachable {
        return Err(format!(
            "rpc error: code = PermissionDenied desc = network {target} not manually attachable"
        ));
    }
    if !store.nodes.contains_key(node_id) {
        return Err("swarmsim: the attaching node is not a member of the swarm".into());
    }
    Ok(Task {
        id: new_id(rng),
        meta: Meta::new(now),
        service_id: String::new(),
        slot: 0,
        node_id: node_id.to_string(),
        spec: attachment_spec(&net.id),
        status: TaskStatus {
            timestamp: now,
            state: TaskState::New,
            message: "created".into(),
            err: String::new(),
        },
        desired_state: TaskState::Running,
        networks: Vec::new(),
        endpoint: None,
        not_before: None,
        attachment: Some(container_id.to_string()),
    })
}

/// An attachment task's spec: no image, no service, one network.
fn attachment_spec(network_id: &str) -> ServiceSpec {
    ServiceSpec {
        name: String::new(),
        labels: Vec::new(),
        image: String::new(),
        args: Vec::new(),
        env: Vec::new(),
        mode: ServiceMode::Replicated { replicas: 1 },
        constraints: Vec::new(),
        networks: vec![network_id.to_string()],
        endpoint_mode: EndpointMode::Vip,
        ports: Vec::new(),
        restart_delay: SimDuration::ZERO,
    }
}

/// The leader's `DetachNetwork`: the task deleted, if it is this node's.
pub(super) fn detach_ops(store: &Store, node_id: &str, id: &str) -> Result<Vec<StoreOp>, String> {
    let Some(t) = store.tasks.get(id) else {
        return Err(format!("rpc error: code = NotFound desc = attachment {id} not found"));
    };
    if t.node_id != node_id {
        return Err(format!(
            "rpc error: code = PermissionDenied desc = attachment {id} doesn't belong to this node"
        ));
    }
    Ok(vec![StoreOp::DeleteTask(id.to_string())])
}

/// The daemon's attachments: calls in flight, and attachment tasks running here.
#[derive(Debug, Default)]
pub struct Attachments {
    /// `AttachNetwork` calls by call number, which is also the CLI's pending call.
    waiting: IndexMap<u64, Waiting>,
    /// `DetachNetwork` calls whose answers nobody prints.
    detaching: Vec<u64>,
    /// Attachment tasks started here, by task ID.
    running: IndexMap<String, Running>,
}

#[derive(Debug)]
struct Waiting {
    container_id: String,
    /// The network as the user named it (the errors quote it so).
    target: String,
    aliases: Vec<String>,
    how: How,
    /// The attachment task, once the manager created it.
    task_id: Option<String>,
    deadline: SimTime,
}

/// Which command waits.
#[derive(Debug)]
enum How {
    /// `docker run`: what it printed so far (pull progress).
    Run {
        detach: bool,
        out: DockerOutcome,
    },
    Connect,
}

#[derive(Debug)]
struct Running {
    container_id: String,
    network: Network,
    /// `DetachNetwork` sent.
    detached: bool,
}

impl Attachments {
    /// The networks of the attachments running here (a worker lists them).
    pub(crate) fn networks(&self) -> impl Iterator<Item = &Network> {
        self.running.values().map(|r| &r.network)
    }

    /// When an attach granted by the manager gives up waiting for its task.
    pub(crate) fn next_deadline(&self) -> Option<SimTime> {
        self.waiting.values().filter(|w| w.task_id.is_some()).map(|w| w.deadline).min()
    }

    /// Forgets an attachment task that left the node's assignments; whether it was one.
    pub(crate) fn remove_task(&mut self, task_id: &str) -> bool {
        self.running.shift_remove(task_id).is_some()
    }
}

impl Daemon {
    pub(crate) fn in_swarm(&self) -> bool {
        matches!(self.swarm.state, SwarmState::Active(_))
    }

    /// `docker run --network OVL` for a container just created without networks: the
    /// attach call; the run finishes when the attachment task starts here.
    pub(crate) fn run_on_swarm_network(
        &mut self,
        now: SimTime,
        cid: &str,
        p: &Parsed,
        out: DockerOutcome,
    ) -> DockerOutcome {
        let target = self.containers[cid].network_mode.clone();
        let mut aliases: Vec<String> =
            p.values("network-alias").into_iter().map(String::from).collect();
        aliases.extend(p.values("net-alias").into_iter().map(String::from));
        let how = How::Run { detach: p.flag("detach"), out };
        self.request_attach(now, cid, target, aliases, how)
    }

    /// `docker network connect` names a network that is not local on a swarm node.
    pub(crate) fn connects_to_swarm_network(&self, p: &Parsed) -> bool {
        self.in_swarm() && self.network_id(&p.args[0]).is_none()
    }

    /// `docker network connect OVL CTR` for a running container. The host and none
    /// conflicts are checked before the attach call (Docker checks them after it).
    pub(crate) fn connect_swarm_network(&mut self, now: SimTime, p: &Parsed) -> DockerOutcome {
        let (target, ckey) = (p.args[0].clone(), &p.args[1]);
        let Some(cid) = self.container_id(ckey) else {
            return daemon_err(&format!("No such container: {ckey}"));
        };
        let c = &self.containers[&cid];
        let on = |driver| {
            c.networks
                .iter()
                .any(|a| self.networks.get(&a.network_id).map(|n| n.driver) == Some(driver))
        };
        if on(Driver::Host) {
            return daemon_err(HOST_CONFLICT);
        }
        if on(Driver::Null) {
            return daemon_err(NONE_CONFLICT);
        }
        if let Some(a) =
            c.networks.iter().find(|a| a.network_name == target || a.network_id == target)
        {
            let name = c.name.clone();
            return daemon_err(&format!(
                "{name} is already attached to network {}",
                a.network_name
            ));
        }
        if !self.is_running(&cid) {
            return daemon_err(
                "swarmsim: connecting a stopped container to a swarm network is not simulated",
            );
        }
        let aliases = p.values("alias").into_iter().map(String::from).collect();
        self.request_attach(now, &cid, target, aliases, How::Connect)
    }

    /// Sends `AttachNetwork`; the outcome now if the leader answered at once, else pending.
    fn request_attach(
        &mut self,
        now: SimTime,
        cid: &str,
        target: String,
        aliases: Vec<String>,
        how: How,
    ) -> DockerOutcome {
        let SwarmState::Active(node) = &mut self.swarm.state else {
            unreachable!("only swarm nodes attach to swarm networks")
        };
        let req =
            SwarmRequest::AttachNetwork { target: target.clone(), container_id: cid.to_string() };
        let mut io = NodeIo::default();
        let call = node.start_call(now, req, &mut self.rng, &mut io);
        let w = Waiting {
            container_id: cid.to_string(),
            target,
            aliases,
            how,
            task_id: None,
            deadline: now + REQUEST_TIMEOUT,
        };
        self.swarm.attach.waiting.insert(call, w);
        self.absorb_node_io(now, io);
        match self.swarm.done.shift_remove(&call) {
            Some(done) => done,
            None => DockerOutcome { pending: Some(call), ..Default::default() },
        }
    }

    /// A finished swarm call: an attach refused (its command's error), an attach granted
    /// (wait for the task), a detach (silent), or another call's outcome (returned).
    pub(super) fn attach_answered(
        &mut self,
        call: u64,
        outcome: DockerOutcome,
    ) -> Option<DockerOutcome> {
        let a = &mut self.swarm.attach;
        if let Some(pos) = a.detaching.iter().position(|c| *c == call) {
            a.detaching.remove(pos);
            return None;
        }
        let Some(w) = a.waiting.get_mut(&call) else { return Some(outcome) };
        if outcome.exit_code == 0 {
            w.task_id = Some(outcome.stdout.trim_end().to_string());
            return None;
        }
        let w = a.waiting.shift_remove(&call).expect("found above");
        let text = outcome.stderr.trim_end();
        let text = text.strip_prefix("Error response from daemon: ").unwrap_or(text);
        let msg = format!("Could not attach to network {}: {text}", w.target);
        Some(self.attach_failed(w, &msg))
    }

    /// The waiting command's error: `docker run` prints the container's ID (detached, the
    /// CLI prints it as soon as the container is created), then `docker: …`, and exits 125;
    /// `network connect` prints the daemon's error and exits 1.
    fn attach_failed(&mut self, w: Waiting, msg: &str) -> DockerOutcome {
        let How::Run { detach, mut out } = w.how else {
            return daemon_err(msg);
        };
        // The transcript shows stderr before stdout, so the ID goes with the error to keep
        // the terminal's order.
        if detach {
            out.stderr += &format!("{}\n", w.container_id);
        }
        out.stderr += &run_error(&format!("Error response from daemon: {msg}"), false).stderr;
        out.exit_code = 125;
        if self.containers.get(&w.container_id).is_some_and(|c| c.auto_remove) {
            self.containers.shift_remove(&w.container_id);
        }
        out
    }

    /// Attaches granted whose task never started in time fail, and their task is released.
    pub(super) fn attach_wake(&mut self, now: SimTime) {
        let late: Vec<u64> = (self.swarm.attach.waiting.iter())
            .filter(|(_, w)| w.task_id.is_some() && w.deadline <= now)
            .map(|(c, _)| *c)
            .collect();
        for call in late {
            let w = self.swarm.attach.waiting.shift_remove(&call).expect("listed above");
            if let Some(task_id) = &w.task_id {
                self.detach_task(now, task_id);
            }
            let outcome = self.attach_failed(w, ATTACH_TIMEOUT);
            self.swarm.done.insert(call, outcome);
        }
    }

    /// The agent starts an attachment task: the overlay instantiated here, then the waiting
    /// command finishes (`UpdateAttachment`). A task nobody waits for is released.
    pub(super) fn start_attachment(&mut self, now: SimTime, task: &Task) {
        let att = task.networks.first().expect("an attachment task is allocated before it runs");
        let cid = task.attachment.clone().expect("called for attachment tasks");
        let mut ops = Vec::new();
        self.ensure_overlay(now, &att.network, &mut ops);
        self.swarm.outbox.ops.extend(ops);
        let running =
            Running { container_id: cid.clone(), network: att.network.clone(), detached: false };
        self.swarm.attach.running.insert(task.id.clone(), running);
        let waiting = self.swarm.attach.waiting.iter().find(|(_, w)| w.container_id == cid);
        let Some(call) = waiting.map(|(c, _)| *c) else {
            return self.detach_task(now, &task.id);
        };
        let w = self.swarm.attach.waiting.shift_remove(&call).expect("found above");
        let outcome = self.finish_attach(now, w, att);
        self.swarm.done.insert(call, outcome);
    }

    /// Joins the container at the attachment's address: `docker run` starts it, `network
    /// connect` adds the endpoint to the running container.
    fn finish_attach(
        &mut self,
        now: SimTime,
        w: Waiting,
        att: &NetworkAttachment,
    ) -> DockerOutcome {
        let a = Attachment {
            network_id: att.network.id.clone(),
            network_name: att.network.name.clone(),
            ip: Some(att.addr.addr()),
            aliases: w.aliases,
            ptr: self.fake_pointer(),
        };
        let cid = w.container_id;
        let out = match w.how {
            How::Run { detach, out } => {
                self.containers[&cid].networks.push(a);
                self.start_after_create(now, &cid, detach, out)
            }
            How::Connect if self.is_running(&cid) => {
                let mut pl = Plumbing::default();
                self.join(&cid, &a, Vec::new(), &mut pl);
                let ep = self.networks[&a.network_id].endpoints[&cid].clone();
                self.publish_endpoint(&a.network_id, &ep);
                self.containers[&cid].networks.push(a);
                DockerOutcome { ops: pl.ops, effects: pl.effects, ..Default::default() }
            }
            How::Connect => {
                self.containers[&cid].networks.push(a);
                DockerOutcome::default()
            }
        };
        if !self.is_running(&cid) {
            self.detach_container(now, &cid);
        }
        out
    }

    /// A container stopped: each of its attachment tasks is released
    /// (`tryDetachContainerFromClusterNetwork`).
    pub(crate) fn detach_container(&mut self, now: SimTime, cid: &str) {
        let tasks: Vec<String> = (self.swarm.attach.running.iter())
            .filter(|(_, r)| r.container_id == cid && !r.detached)
            .map(|(id, _)| id.clone())
            .collect();
        for id in tasks {
            self.detach_task(now, &id);
        }
    }

    fn detach_task(&mut self, now: SimTime, task_id: &str) {
        if let Some(r) = self.swarm.attach.running.get_mut(task_id) {
            r.detached = true;
        }
        let SwarmState::Active(node) = &mut self.swarm.state else { return };
        let req = SwarmRequest::DetachNetwork { attachment_id: task_id.to_string() };
        let mut io = NodeIo::default();
        let call = node.start_call(now, req, &mut self.rng, &mut io);
        self.swarm.attach.detaching.push(call);
        self.absorb_node_io(now, io);
    }
}

fn daemon_err(msg: &str) -> DockerOutcome {
    DockerOutcome::err(format!("Error response from daemon: {msg}\n"), 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::network::tests::without_ids;
    use crate::docker::swarm::store::fixtures;
    use crate::engine::Streams;
    use crate::runner::command::check as check_command;
    use crate::{report, runner, scenario};

    fn overlay(id: &str, name: &str, attachable: bool) -> Network {
        Network {
            id: id.into(),
            meta: Meta::new(SimTime::ZERO),
            name: name.into(),
            driver: "overlay".into(),
            options: Vec::new(),
            labels: Vec::new(),
            attachable,
            ingress: false,
            internal: false,
            requested_subnet: None,
            allocation: None,
        }
    }

    fn store() -> Store {
        let mut s = Store::default();
        for n in [overlay("ovlid", "myoverlay", true), overlay("testid", "test", false)] {
            s.networks.insert(n.id.clone(), n);
        }
        let node = fixtures::node("worker1", "node2", [192, 168, 0, 12], None);
        s.nodes.insert(node.id.clone(), node);
        s
    }

    #[test]
    fn the_leader_refuses_unknown_and_non_attachable_networks_as_swarmkit_does() {
        let (s, mut rng) = (store(), Streams::new(1).stream("test"));
        let mut attach = |target: &str| {
            attachment_task(&s, SimTime::ZERO, "worker1", target, "c0ffee", &mut rng)
        };
        assert_eq!(
            attach("test").unwrap_err(),
            "rpc error: code = PermissionDenied desc = network test not manually attachable"
        );
        assert_eq!(
            attach("nope").unwrap_err(),
            "rpc error: code = NotFound desc = network nope not found"
        );
        let t = attach("myoverlay").expect("attachable");
        assert_eq!(
            (t.node_id.as_str(), t.service_id.as_str(), t.attachment.as_deref()),
            ("worker1", "", Some("c0ffee"))
        );
        assert_eq!((t.status.state, t.desired_state), (TaskState::New, TaskState::Running));
        assert_eq!(t.spec.networks, ["ovlid"]);
        assert_eq!(attach("ovlid").expect("by ID").spec.networks, ["ovlid"]);
    }

    #[test]
    fn only_the_attaching_node_detaches_and_the_task_is_deleted() {
        let (mut s, mut rng) = (store(), Streams::new(1).stream("test"));
        let t = attachment_task(&s, SimTime::ZERO, "worker1", "myoverlay", "c", &mut rng).unwrap();
        let id = t.id.clone();
        s.tasks.insert(id.clone(), t);
        assert_eq!(
            detach_ops(&s, "other", &id).unwrap_err(),
            format!("rpc error: code = PermissionDenied desc = attachment {id} doesn't belong to this node")
        );
        assert_eq!(detach_ops(&s, "worker1", &id), Ok(vec![StoreOp::DeleteTask(id.clone())]));
        assert_eq!(
            detach_ops(&s, "worker1", "gone").unwrap_err(),
            "rpc error: code = NotFound desc = attachment gone not found"
        );
    }

    /// A manager and a worker: containers attached by hand, refused, and detached.
    const ATTACH: &str = "name: attach
underlay:
  networks:
    - {name: lan, subnet: 192.168.0.0/24, latency: 0.2ms}
hosts:
  - {name: node1, ip: 192.168.0.13}
  - {name: node2, ip: 192.168.0.12}
steps:
  - {on: node1, run: docker swarm init --advertise-addr 192.168.0.13}
  - {on: node2, run: 'docker swarm join --token ${WORKER_TOKEN} 192.168.0.13:2377'}
  - {on: node1, run: docker network create --attachable -d overlay myoverlay}
  - {on: node1, run: docker network create -d overlay test}
  - {on: node1, run: docker pull alpine}
  - {on: node2, run: docker pull alpine}
  - {on: node1, run: docker run -dit --name host1 --network myoverlay alpine}
  - {on: node2, run: docker network ls}
  - {on: node2, run: docker run -dit --name client --network myoverlay alpine}
  - {on: node2, run: docker network ls}
  - {on: node2, run: docker exec client ping -c 1 10.0.1.2}
  - {on: node2, run: docker run -it --name a2 --network test alpine}
  - {on: node2, run: docker run -d --rm --network nope alpine}
  - {on: node2, run: docker ps -a}
  - {on: node1, run: docker run -dit --name a1 alpine}
  - {on: node1, run: docker network connect test a1}
  - {on: node1, run: docker network connect myoverlay a1}
  - {on: node1, run: docker network connect myoverlay a1}
  - {on: node1, run: docker exec a1 ping -c 1 10.0.1.4}
  - {on: node2, run: docker stop client}
  - wait: 10s
  - {on: node2, run: docker network ls}
";

    #[test]
    fn containers_attach_by_hand_across_hosts_and_detach_when_they_stop() {
        let sc = scenario::parse(ATTACH, "attach.yaml", &check_command).expect("valid");
        let outcome = runner::run(&sc, 1).expect("runs");
        let t = report::transcript(&outcome, false);
        let e = |line: usize| outcome.entries.iter().find(|e| e.line == line).expect("ran");
        let base = "NAME              DRIVER    SCOPE
bridge            bridge    local
docker_gwbridge   bridge    local
host              host      local
ingress           overlay   swarm
none              null      local
";
        assert_eq!(without_ids(&e(16).output), base, "{t}");
        let attached = "NAME              DRIVER    SCOPE
bridge            bridge    local
docker_gwbridge   bridge    local
host              host      local
ingress           overlay   swarm
myoverlay         overlay   swarm
none              null      local
";
        assert_eq!(without_ids(&e(18).output), attached, "{t}");
        assert!(e(19).output.contains("1 packets transmitted, 1 packets received"), "{t}");
        assert_eq!(
            (e(20).exit_code, e(20).output.as_str()),
            (125, "docker: Error response from daemon: Could not attach to network test: rpc error: code = PermissionDenied desc = network test not manually attachable.\n"),
            "{t}"
        );
        let (code, out) = (e(21).exit_code, &e(21).output);
        let (id, err) = out.split_once('\n').expect("the ID, then the error");
        assert_eq!((code, id.len()), (125, 64), "{t}");
        assert_eq!(err, "docker: Error response from daemon: Could not attach to network nope: rpc error: code = NotFound desc = network nope not found.\n", "{t}");
        // The refused container stays Created; the one run with --rm is gone.
        let ps: Vec<&str> = e(22).output.lines().skip(1).collect();
        assert_eq!(ps.len(), 2, "{t}");
        assert!(ps[0].contains("   Created             ") && ps[0].ends_with("   a2"), "{t}");
        assert!(ps[1].ends_with("   client"), "{t}");
        assert_eq!(
            (e(24).exit_code, e(24).output.as_str()),
            (1, "Error response from daemon: Could not attach to network test: rpc error: code = PermissionDenied desc = network test not manually attachable\n"),
            "{t}"
        );
        assert_eq!((e(25).exit_code, e(25).output.as_str()), (0, ""), "{t}");
        assert_eq!(
            e(26).output,
            "Error response from daemon: a1 is already attached to network myoverlay\n",
            "{t}"
        );
        assert!(e(27).output.contains("1 packets transmitted, 1 packets received"), "{t}");
        assert_eq!(without_ids(&e(30).output), base, "{t}");
    }
}
