//! What the world does for Docker: the processes behind a daemon's effects (containers'
//! main processes and embedded DNS, `docker-proxy`), and carrying the swarm's messages,
//! kernel ops and wakeups.
//!
//! Contract: a daemon never touches the world; it leaves effects and an outbox. The world
//! applies them here, in order, at the simulated time they happen.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::docker::apps::{
    Crashed, DnsServer, DockerDemo, DockerProxy, HelloFlavor, Hrm, HttpServer, Idle, NginxHello,
    PetsApp, Redis, Upstream,
};
use crate::docker::swarm::msg::Envelope;
use crate::docker::Effect;
use crate::kernel::process::{Process, ResolvConf};
use crate::kernel::NsRef;
use crate::proto::networkdb;
use crate::proto::swim::{self, Transmit};

use super::world::{Event, World};
use super::SimDuration;

/// A message a node sends itself (its agent to its own dispatcher) crosses loopback.
const LOOPBACK_DELAY: SimDuration = SimDuration::from_micros(20);

impl World {
    /// Starts or stops the processes an effect names (`docker exec` is the runner's).
    pub fn apply_effect(&mut self, machine: usize, effect: Effect) {
        match effect {
            Effect::StartProcess { container_id, ns, cmd, .. } => {
                self.start_container_process(machine, &container_id, ns, &cmd);
            }
            Effect::StopProcesses { container_id } => self.stop_container(machine, &container_id),
            Effect::StartProxy { host_ip, host_port, container_ip, container_port, .. } => {
                let proxy = DockerProxy::new((host_ip, host_port), (container_ip, container_port));
                self.spawn(machine, NsRef::Root, Box::new(proxy), ResolvConf::default(), None);
            }
            Effect::StopProxy { host_port, .. } => self.stop_proxy(machine, host_port),
            Effect::Exec { .. } => {
                unreachable!("docker exec runs in the foreground, by the runner")
            }
        }
    }

    /// Carries out what a machine's swarm asked for: kernel ops, effects, messages to other
    /// nodes over the fabric, and its next wakeup.
    pub fn flush_swarm(&mut self, machine: usize) {
        let now = self.now();
        let Some(daemon) = self.machines[machine].daemon.as_mut() else { return };
        let io = daemon.take_swarm_io();
        let next = daemon.swarm_next_wakeup(now);
        for op in &io.ops {
            let kernel = &mut self.machines[machine].kernel;
            kernel.apply(op).unwrap_or_else(|e| panic!("swarm op `{op}` failed: {e}"));
            self.applied_ops.push((machine, op.clone()));
        }
        for effect in io.effects {
            self.apply_effect(machine, effect);
        }
        for (from, to, msg) in io.sends {
            let bytes = msg.wire_len();
            let path = if from == to {
                Some((machine, LOOPBACK_DELAY))
            } else {
                self.note_message(machine, from);
                self.fabric.stream_path(now, machine, to, bytes)
            };
            if let Some((dest, delay)) = path {
                let env = Envelope { from, msg };
                self.queue.schedule(delay, Event::Swarm { machine: dest, env: Box::new(env) });
            }
        }
        for (from, t) in io.gossip {
            self.send_gossip(machine, from, t);
        }
        if let Some(at) = next {
            self.schedule_swarm_wake(machine, at);
        }
    }

    /// A memberlist transmit over the fabric: the payload (memberlist encrypts it, as
    /// Docker sets a keyring) plus IPv4 and UDP or TCP headers.
    fn send_gossip(&mut self, machine: usize, from: Ipv4Addr, t: Transmit<networkdb::Message>) {
        let headers = match t.transport {
            swim::Transport::Udp => 20 + 8,
            swim::Transport::Tcp => 20 + 32,
        };
        let bytes = t.wire_bytes(true) + headers;
        self.note_message(machine, from);
        let now = self.now();
        if let Some((dest, delay)) = self.fabric.message_path(now, machine, *t.to.ip(), bytes) {
            let from = SocketAddrV4::new(from, swim::PORT);
            let ev =
                Event::Gossip { machine: dest, from, transport: t.transport, msg: Box::new(t.msg) };
            self.queue.schedule(delay, ev);
        }
    }

    /// Runs the world until the swarm call `call` on `machine` finishes, or `budget` passes.
    pub fn run_until_done(
        &mut self,
        machine: usize,
        call: u64,
        budget: SimDuration,
    ) -> Result<Option<crate::docker::DockerOutcome>, super::LimitExceeded> {
        let deadline = self.now() + budget;
        loop {
            let daemon =
                self.machines[machine].daemon.as_mut().expect("swarm calls run on Docker hosts");
            if let Some(done) = daemon.take_done(call) {
                return Ok(Some(done));
            }
            match self.queue.peek_time() {
                Some(t) if t <= deadline => self.step()?,
                _ => {
                    self.queue.advance_to(deadline);
                    return Ok(None);
                }
            }
        }
    }

    /// One pending wakeup per machine: an earlier one replaces a later one.
    fn schedule_swarm_wake(&mut self, machine: usize, at: super::SimTime) {
        let slot = self.swarm_wakes.entry(machine).or_insert(None);
        if slot.is_some_and(|t| t <= at && t >= self.queue.now()) {
            return;
        }
        *slot = Some(at);
        self.queue.schedule_at(at, Event::SwarmWake { machine, at });
    }

    /// A swarm event: a message arrived, or a wakeup is due (stale wakeups are skipped).
    pub(super) fn swarm_event(&mut self, event: Event) {
        let now = self.now();
        let machine = match event {
            Event::Swarm { machine, env } => {
                let Some(d) = self.machines[machine].daemon.as_mut() else { return };
                d.swarm_deliver(now, *env);
                machine
            }
            Event::Gossip { machine, from, transport, msg } => {
                let Some(d) = self.machines[machine].daemon.as_mut() else { return };
                d.gossip_deliver(now, from, transport, *msg);
                machine
            }
            Event::SwarmWake { machine, at } => {
                if self.swarm_wakes.get(&machine).copied().flatten() != Some(at) {
                    return;
                }
                self.swarm_wakes.insert(machine, None);
                let Some(d) = self.machines[machine].daemon.as_mut() else { return };
                d.swarm_wake(now);
                machine
            }
            _ => unreachable!("only swarm events come here"),
        };
        self.flush_swarm(machine);
    }

    /// The container's main process, by image, plus its embedded DNS server.
    fn start_container_process(&mut self, machine: usize, id: &str, ns: NsRef, cmd: &[String]) {
        let daemon = self.machines[machine].daemon.as_ref().expect("docker host");
        let c = daemon.container(id).expect("just created");
        let image = c.image_name();
        let process: Box<dyn Process> = match image {
            "nginx" => Box::new(HttpServer::nginx()),
            "redis" => Box::new(Redis::default()),
            "nginxdemos/hello" if c.image.tag == "plain-text" => {
                Box::new(NginxHello::new(HelloFlavor::PlainText, &c.hostname))
            }
            "nginxdemos/hello" => Box::new(NginxHello::new(HelloFlavor::Html, &c.hostname)),
            "chrch/web" | "chrch/admin" => {
                match PetsApp::from_env(image == "chrch/admin", &c.process_env(), &c.hostname) {
                    Ok(app) => Box::new(app),
                    Err(e) => Box::new(Crashed::new("python", &e.to_string(), 1)),
                }
            }
            "ehazlett/docker-demo" => Box::new(DockerDemo::new(cmd, &c.process_env(), &c.hostname)),
            "docker/ucp-hrm" => Box::new(Hrm::default()),
            _ => Box::new(Idle::new(cmd.first().map_or(image, |c| c.as_str()))),
        };
        let (resolv, dns) = (daemon.resolv_conf(c), c.embedded_dns());
        let forwarders = self.machines[machine].nameservers.clone();
        self.spawn(machine, ns.clone(), process, resolv.clone(), Some(id.to_string()));
        if let Some(bind) = dns {
            let server = DnsServer::new(
                bind,
                Upstream::Embedded { container_id: id.to_string(), forwarders },
            );
            self.spawn(machine, ns, Box::new(server), resolv, Some(id.to_string()));
        }
    }

    fn stop_container(&mut self, machine: usize, id: &str) {
        let pids: Vec<_> = self.machines[machine]
            .procs
            .iter()
            .filter(|(_, p)| p.container_id.as_deref() == Some(id))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in pids {
            self.kill(machine, pid);
        }
    }

    fn stop_proxy(&mut self, machine: usize, host_port: u16) {
        let m = &self.machines[machine];
        let listeners = m.kernel.root().sockets.listeners();
        let owner =
            listeners.iter().find(|(p, _, port, _)| *p == "tcp" && *port == host_port).map(|l| l.3);
        if let Some(pid) = owner {
            self.kill(machine, pid);
        }
    }
}
