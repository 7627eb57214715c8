//! The world: every machine (Docker hosts, external clients, the underlay router), the
//! fabric between them, and the one event loop that advances them all.
//!
//! Contract: the world is the only caller of the machines' `handle_*` methods. It turns
//! their actions into scheduled events (a frame crossing a veth or a LAN, a timer), records
//! every hop and every captured frame, and hands socket events to the owning processes.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::docker::Daemon;
use crate::fabric::{Fabric, Port};
use crate::kernel::process::{NameService, ProcCtx, Process, ResolvConf};
use crate::kernel::{
    Action, Hop, Kernel, KernelOp, KernelTimer, LinkKind, NsRef, Pid, SocketEvent, VETH_DELAY,
    VETH_JITTER,
};
use crate::wire::EthernetFrame;

use super::capture::Capture;
use super::{EventQueue, LimitExceeded, RunLimits, SimDuration, SimTime};

/// A running process and what it has printed.
pub struct ProcSlot {
    pub process: Box<dyn Process>,
    pub ns: NsRef,
    pub resolv: ResolvConf,
    pub stdout: String,
    pub exit: Option<i32>,
    /// The container whose process this is, if any.
    pub container_id: Option<String>,
}

/// One machine: a kernel, maybe a Docker daemon, and processes.
pub struct Machine {
    pub name: String,
    pub kernel: Kernel,
    pub daemon: Option<Daemon>,
    pub procs: IndexMap<Pid, ProcSlot>,
    /// The machine's `/etc/resolv.conf` nameservers.
    pub nameservers: Vec<Ipv4Addr>,
    /// Stopped for good by a crash fault: the event loop drops every event meant for it.
    pub crashed: bool,
    next_pid: Pid,
}

impl Machine {
    pub fn new(name: &str, kernel: Kernel, nameservers: Vec<Ipv4Addr>) -> Self {
        Machine {
            name: name.to_string(),
            kernel,
            daemon: None,
            procs: IndexMap::new(),
            nameservers,
            crashed: false,
            next_pid: 1,
        }
    }
}

/// A scheduled event.
pub enum Event {
    Frame {
        machine: usize,
        ns: NsRef,
        ifindex: u32,
        packet: u64,
        frame: EthernetFrame,
    },
    Kernel {
        machine: usize,
        timer: KernelTimer,
    },
    Proc {
        machine: usize,
        pid: Pid,
        token: u64,
    },
    /// A swarm message arriving at a node's 2377.
    Swarm {
        machine: usize,
        env: Box<crate::docker::swarm::msg::Envelope>,
    },
    /// A memberlist packet or stream arriving at a node's 7946.
    Gossip {
        machine: usize,
        from: std::net::SocketAddrV4,
        transport: crate::proto::swim::Transport,
        msg: Box<crate::proto::swim::Message<crate::proto::networkdb::Message>>,
    },
    /// A node's swarm timers are due; `at` tells stale wakeups apart.
    SwarmWake {
        machine: usize,
        at: SimTime,
    },
}

impl Event {
    /// The machine the event happens on.
    fn machine(&self) -> usize {
        match self {
            Event::Frame { machine, .. }
            | Event::Kernel { machine, .. }
            | Event::Proc { machine, .. }
            | Event::Swarm { machine, .. }
            | Event::Gossip { machine, .. }
            | Event::SwarmWake { machine, .. } => *machine,
        }
    }
}

/// A hop, with the machine it happened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedHop {
    pub machine: String,
    pub hop: Hop,
}

/// A frame as a packet carried it out of a device (a veth, a NIC, loopback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedFrame {
    pub at: SimTime,
    pub machine: String,
    pub ns: NsRef,
    pub dev: String,
    pub packet: u64,
    /// How many hops the world had recorded when the frame left: it comes after
    /// `hops[..after]` in the run's order.
    pub after: usize,
    pub frame: EthernetFrame,
}

/// Packet ids a kernel hands out count from 1 per machine; the world makes them unique
/// across machines by putting the originating machine's index (plus one) above this bit.
/// A frame keeps its id across machines, so an id at or above it is already the world's.
const PACKET_MACHINE_SHIFT: u32 = 32;

/// The world's id for packet `id` seen in the actions of `machine`.
pub fn world_packet_id(machine: usize, id: u64) -> u64 {
    if id >> PACKET_MACHINE_SHIFT != 0 {
        return id;
    }
    ((machine as u64 + 1) << PACKET_MACHINE_SHIFT) | id
}

/// Watches the event loop without changing it: what leaves the machines for the underlay,
/// and the world as it stands at the moments the probe asks for (the report's timeline).
pub trait Probe: std::any::Any {
    /// A frame left `machine`'s NIC `ifindex` for the underlay at `now`.
    fn on_wire(&mut self, now: SimTime, machine: usize, ifindex: u32, frame: &EthernetFrame);
    /// A control-plane message (2377/tcp, gossip on 7946) left `machine`'s address `from`.
    fn on_message(&mut self, now: SimTime, machine: usize, from: Ipv4Addr);
    /// Looks at the world as it stands at `at`: every event that has run came before `at`,
    /// and the next one runs at `world.now()` or later. Returns when to look next.
    fn look(&mut self, at: SimTime, world: &World) -> SimTime;
}

pub struct World {
    pub machines: Vec<Machine>,
    pub fabric: Fabric,
    pub queue: EventQueue<Event>,
    pub hops: Vec<TracedHop>,
    /// Every frame a packet carried out of a device, in the order sent.
    pub frames: Vec<TracedFrame>,
    pub captures: Vec<Capture>,
    /// Every KernelOp applied to a machine's kernel after the build, by machine index, in the
    /// order applied: the swarm's (tasks, overlay peers from gossip, also during the event
    /// loop) as `flush_swarm` applies them, and the commands' as the runner applies them.
    pub applied_ops: Vec<(usize, KernelOp)>,
    /// Each machine's scheduled swarm wakeup.
    pub(super) swarm_wakes: IndexMap<usize, Option<SimTime>>,
    /// When the last frame sent into each veth (machine, namespace, ifindex) comes out:
    /// a veth is a FIFO, so jitter never lets a later frame (a short fragment) overtake.
    veth_last: std::collections::BTreeMap<(usize, NsRef, u32), SimTime>,
    /// The run's observer, if any, and when it wants to look next.
    probe: Option<Box<dyn Probe>>,
    next_look: SimTime,
}

impl World {
    pub fn new(limits: RunLimits) -> Self {
        World {
            machines: Vec::new(),
            fabric: Fabric::default(),
            queue: EventQueue::new(limits),
            hops: Vec::new(),
            frames: Vec::new(),
            captures: Vec::new(),
            applied_ops: Vec::new(),
            swarm_wakes: IndexMap::new(),
            veth_last: std::collections::BTreeMap::new(),
            probe: None,
            next_look: SimTime(u64::MAX),
        }
    }

    /// Installs the run's observer; it first looks at the world as it stands now.
    pub fn set_probe(&mut self, probe: Box<dyn Probe>) {
        self.probe = Some(probe);
        self.look(self.now());
    }

    /// Removes the observer, after a last look at the world as it stands now.
    pub fn take_probe(&mut self) -> Option<Box<dyn Probe>> {
        self.look(self.now());
        self.next_look = SimTime(u64::MAX);
        self.probe.take()
    }

    /// Shows the world to the probe (taken out meanwhile, as it reads the whole world).
    fn look(&mut self, at: SimTime) {
        let Some(mut probe) = self.probe.take() else { return };
        self.next_look = probe.look(at, self);
        self.probe = Some(probe);
    }

    /// Tells the probe a control-plane message left `machine` from its address `from`.
    pub(super) fn note_message(&mut self, machine: usize, from: Ipv4Addr) {
        let now = self.now();
        if let Some(probe) = self.probe.as_mut() {
            probe.on_message(now, machine, from);
        }
    }

    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    pub fn machine_index(&self, name: &str) -> Option<usize> {
        self.machines.iter().position(|m| m.name == name)
    }

    /// Starts a process and runs its `on_start`.
    pub fn spawn(
        &mut self,
        machine: usize,
        ns: NsRef,
        process: Box<dyn Process>,
        resolv: ResolvConf,
        container_id: Option<String>,
    ) -> Pid {
        let m = &mut self.machines[machine];
        let pid = m.next_pid;
        m.next_pid += 1;
        m.procs.insert(
            pid,
            ProcSlot { process, ns, resolv, stdout: String::new(), exit: None, container_id },
        );
        self.with_process(machine, pid, |p, cx| p.on_start(cx));
        pid
    }

    /// Stops a process: its sockets close, its pending timers are ignored.
    pub fn kill(&mut self, machine: usize, pid: Pid) -> Option<ProcSlot> {
        let m = &mut self.machines[machine];
        let slot = m.procs.shift_remove(&pid)?;
        if let Some(n) = m.kernel.namespaces.get_mut(&slot.ns) {
            n.sockets.close_owner(pid);
        }
        Some(slot)
    }

    /// Runs every event up to and including `until`, then sets the clock there.
    pub fn run_until(&mut self, until: SimTime) -> Result<(), LimitExceeded> {
        while self.queue.peek_time().is_some_and(|t| t <= until) {
            self.step()?;
        }
        self.queue.advance_to(until.max(self.now()));
        Ok(())
    }

    /// Runs until the process exits or `budget` passes; the exit code, if it exited.
    pub fn run_until_exit(
        &mut self,
        machine: usize,
        pid: Pid,
        budget: SimDuration,
    ) -> Result<Option<i32>, LimitExceeded> {
        let deadline = self.now() + budget;
        loop {
            if let Some(code) = self.machines[machine].procs.get(&pid).and_then(|p| p.exit) {
                return Ok(Some(code));
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

    pub(super) fn step(&mut self) -> Result<(), LimitExceeded> {
        let Some(event) = self.queue.pop()? else { return Ok(()) };
        // A crashed machine neither receives nor wakes, so it never sends again either.
        if self.machines[event.machine()].crashed {
            return Ok(());
        }
        let now = self.now();
        if now >= self.next_look {
            // Every event run so far came before `next_look`: the world is as it stood then.
            self.look(self.next_look);
        }
        match event {
            Event::Frame { machine, ns, ifindex, packet, frame } => {
                if !self.is_loopback(machine, &ns, ifindex) {
                    self.capture(machine, &ns, ifindex, &frame);
                }
                let mut out = Vec::new();
                self.machines[machine]
                    .kernel
                    .handle_frame(now, &ns, ifindex, packet, frame, &mut out);
                self.dispatch(machine, out);
            }
            Event::Kernel { machine, timer } => {
                let mut out = Vec::new();
                self.machines[machine].kernel.handle_timer(now, timer, &mut out);
                self.dispatch(machine, out);
            }
            Event::Proc { machine, pid, token } => {
                self.with_process(machine, pid, |p, cx| p.on_timer(cx, token));
            }
            swarm @ (Event::Swarm { .. } | Event::SwarmWake { .. } | Event::Gossip { .. }) => {
                self.swarm_event(swarm)
            }
        }
        Ok(())
    }

    /// Calls into one process with a context, then dispatches what it caused.
    pub fn with_process(
        &mut self,
        machine: usize,
        pid: Pid,
        f: impl FnOnce(&mut dyn Process, &mut ProcCtx),
    ) {
        let now = self.now();
        let m = &mut self.machines[machine];
        let Some(slot) = m.procs.get_mut(&pid) else { return };
        if slot.exit.is_some() {
            return;
        }
        let (mut actions, mut timers) = (Vec::new(), Vec::new());
        let names = m.daemon.as_ref().map(|d| d as &dyn NameService);
        let mut cx = ProcCtx {
            now,
            pid,
            ns: slot.ns.clone(),
            kernel: &mut m.kernel,
            actions: &mut actions,
            stdout: &mut slot.stdout,
            resolv: &slot.resolv,
            names,
            timers: &mut timers,
            exit: &mut slot.exit,
        };
        f(slot.process.as_mut(), &mut cx);
        if slot.exit.is_some() {
            let ns = slot.ns.clone();
            if let Some(n) = m.kernel.namespaces.get_mut(&ns) {
                n.sockets.close_owner(pid);
            }
        }
        for (at, token) in timers {
            self.queue.schedule_at(at, Event::Proc { machine, pid, token });
        }
        self.dispatch(machine, actions);
    }

    /// Turns a machine's actions into events, hops and process callbacks.
    fn dispatch(&mut self, machine: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Hop(mut hop) => {
                    hop.packet = world_packet_id(machine, hop.packet);
                    self.hops.push(TracedHop { machine: self.machines[machine].name.clone(), hop })
                }
                Action::Timer { at, timer } => {
                    self.queue.schedule_at(at, Event::Kernel { machine, timer })
                }
                Action::Transmit { ns, ifindex, packet, frame } => {
                    self.transmit(machine, ns, ifindex, world_packet_id(machine, packet), frame)
                }
                Action::Socket(ev) => self.socket_event(machine, ev),
                Action::Seen { ns, ifindex, frame } => self.capture(machine, &ns, ifindex, &frame),
            }
        }
    }

    fn socket_event(&mut self, machine: usize, ev: SocketEvent) {
        let pid = ev.owner;
        self.with_process(machine, pid, |p, cx| p.on_socket(cx, ev));
    }

    /// A frame left a device: across the veth, onto the LAN, or back in through loopback.
    fn transmit(
        &mut self,
        machine: usize,
        ns: NsRef,
        ifindex: u32,
        packet: u64,
        frame: EthernetFrame,
    ) {
        self.capture(machine, &ns, ifindex, &frame);
        self.trace_frame(machine, &ns, ifindex, packet, &frame);
        let kernel = &mut self.machines[machine].kernel;
        let Some(link) = kernel.ns(&ns).and_then(|n| n.links.get(&ifindex)) else { return };
        match &link.kind {
            LinkKind::Veth { peer: Some((peer_ns, peer_idx)) } => {
                let (peer_ns, peer_idx) = (peer_ns.clone(), *peer_idx);
                let jitter = kernel.rng().range_u64(0, VETH_JITTER.as_nanos());
                let at = self.now() + VETH_DELAY + SimDuration::from_nanos(jitter);
                let last = self.veth_last.entry((machine, ns, ifindex)).or_insert(at);
                *last = at.max(*last);
                self.queue.schedule_at(
                    *last,
                    Event::Frame { machine, ns: peer_ns, ifindex: peer_idx, packet, frame },
                );
            }
            LinkKind::Loopback => {
                self.queue.schedule(
                    SimDuration::ZERO,
                    Event::Frame { machine, ns, ifindex, packet, frame },
                );
            }
            LinkKind::Ethernet => {
                let now = self.now();
                if let Some(probe) = self.probe.as_mut() {
                    probe.on_wire(now, machine, ifindex, &frame);
                }
                for (port, delay) in self.fabric.deliveries(now, Port { machine, ifindex }, &frame)
                {
                    let ev = Event::Frame {
                        machine: port.machine,
                        ns: NsRef::Root,
                        ifindex: port.ifindex,
                        packet,
                        frame: frame.clone(),
                    };
                    self.queue.schedule(delay, ev);
                }
            }
            LinkKind::Veth { peer: None }
            | LinkKind::Bridge(_)
            | LinkKind::Vxlan(_)
            | LinkKind::Macvlan(_)
            | LinkKind::Vlan(_) => {}
        }
    }

    fn trace_frame(
        &mut self,
        machine: usize,
        ns: &NsRef,
        ifindex: u32,
        packet: u64,
        frame: &EthernetFrame,
    ) {
        let m = &self.machines[machine];
        let Some(link) = m.kernel.ns(ns).and_then(|n| n.links.get(&ifindex)) else { return };
        self.frames.push(TracedFrame {
            at: self.queue.now(),
            machine: m.name.clone(),
            ns: ns.clone(),
            dev: link.name.clone(),
            packet,
            after: self.hops.len(),
            frame: frame.clone(),
        });
    }

    fn is_loopback(&self, machine: usize, ns: &NsRef, ifindex: u32) -> bool {
        let link = self.machines[machine].kernel.ns(ns).and_then(|n| n.links.get(&ifindex));
        link.is_some_and(|l| l.kind == LinkKind::Loopback)
    }

    fn capture(&mut self, machine: usize, ns: &NsRef, ifindex: u32, frame: &EthernetFrame) {
        if self.captures.is_empty() {
            return;
        }
        let now = self.now();
        let Some(name) = self.machines[machine]
            .kernel
            .ns(ns)
            .and_then(|n| n.links.get(&ifindex))
            .map(|l| l.name.clone())
        else {
            return;
        };
        for c in self.captures.iter_mut() {
            c.offer(now, machine, ns, &name, frame);
        }
    }
}
