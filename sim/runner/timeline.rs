//! The run's timeline: what the report's plots show, recorded while the run goes on.
//!
//! Contract: a [`Recorder`] is the world's [`Probe`]. It counts, per simulated second, the
//! packets each machine's NIC sends onto the underlay (a control-plane message counts as
//! one packet) and the VXLAN packets (ESP when the overlay is encrypted) between each pair
//! of VTEPs. Every [`LOOK_PERIOD`] it reads the swarm — each node's memberlist view of the
//! others, each manager's raft role and term, the NetworkDB entries each node holds, the
//! connections IPVS has scheduled to each task — and keeps only the changes, each stamped
//! with the instant it looked (so a change shows at most one period late).
//! [`Recorder::finish`] names everything by machine and task and gives the [`Timeline`].
//! The recorder only reads: a run with it is the same run as without it.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::docker::swarm::daemon_side::SwarmState;
use crate::docker::Daemon;
use crate::engine::{Probe, SimDuration, SimTime, World};
use crate::kernel::ipvs::VsKey;
use crate::kernel::NsRef;
use crate::proto::raft::Role;
use crate::proto::swim;
use crate::wire::{EtherPayload, EthernetFrame, IpPayload, UdpPayload};

/// How often the recorder reads the swarm's state.
pub const LOOK_PERIOD: SimDuration = SimDuration::from_millis(250);

/// What the run looked like over time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// When the run ended: every track's last value holds until then.
    pub end: SimTime,
    /// Packets each NIC sent onto the underlay (`docker-host-1 eth0`).
    pub nic_packets: Vec<Rate>,
    /// Tunnel packets from one VTEP to another (`docker-host-1 → docker-host-2`).
    pub tunnel_packets: Vec<Rate>,
    /// How one node's memberlist sees another (`docker-host-1 → docker-host-2`).
    pub membership: Vec<Track<swim::State>>,
    /// Each manager's raft role and term.
    pub raft: Vec<Track<RaftState>>,
    /// The live NetworkDB table entries each node holds (tombstones left out).
    pub networkdb_entries: Vec<Track<usize>>,
    /// Connections IPVS scheduled to each task (`web.1`), counted over every host.
    pub task_connections: Vec<Track<u64>>,
}

/// A count per simulated second: `per_second[i]` happened in `[i s, i+1 s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub label: String,
    pub per_second: Vec<u32>,
}

/// A value over time, as its changes; `None` while there is none (the node is out of the
/// swarm or crashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track<T> {
    pub label: String,
    pub changes: Vec<(SimTime, Option<T>)>,
}

/// A raft node's role in a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftState {
    pub role: Role,
    pub term: u64,
}

/// Where a NIC's packets were counted: its index for frames, its address for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Nic {
    Index(u32),
    Addr(Ipv4Addr),
}

/// (machine, namespace, service, real server): one IPVS destination's counters.
type DestKey = (usize, NsRef, VsKey, Ipv4Addr, u16);

/// Records a run's [`Timeline`]; install it with `World::set_probe`.
#[derive(Default)]
pub struct Recorder {
    nics: IndexMap<(usize, Nic), Vec<u32>>,
    /// (source VTEP, destination VTEP, ESP).
    tunnels: IndexMap<(Ipv4Addr, Ipv4Addr, bool), Vec<u32>>,
    /// (observer machine, memberlist name of the member).
    membership: Tracks<(usize, String), swim::State>,
    raft: Tracks<usize, RaftState>,
    entries: Tracks<usize, usize>,
    connections: Tracks<String, u64>,
    /// Every memberlist name seen, and its machine (a node gets a new name when it rejoins).
    names: IndexMap<String, usize>,
    /// Each IPVS destination's connection count when last read.
    dest_conns: IndexMap<DestKey, u64>,
    /// Each task's connections so far.
    task_conns: IndexMap<String, u64>,
}

impl Probe for Recorder {
    fn on_wire(&mut self, now: SimTime, machine: usize, ifindex: u32, frame: &EthernetFrame) {
        bump(&mut self.nics, (machine, Nic::Index(ifindex)), now);
        if let Some(tunnel) = tunnel_of(frame) {
            bump(&mut self.tunnels, tunnel, now);
        }
    }

    fn on_message(&mut self, now: SimTime, machine: usize, from: Ipv4Addr) {
        bump(&mut self.nics, (machine, Nic::Addr(from)), now);
    }

    fn look(&mut self, at: SimTime, world: &World) -> SimTime {
        self.look_membership(at, world);
        self.look_raft(at, world);
        self.look_entries(at, world);
        self.look_connections(at, world);
        // Nothing ran between `at` and now (the event about to run): what the recorder saw
        // holds until then, so the next look is the first one after now.
        let now = world.now().max(at);
        SimTime((now.as_nanos() / LOOK_PERIOD.as_nanos() + 1) * LOOK_PERIOD.as_nanos())
    }
}

/// Counts one packet in the second `now` falls in.
fn bump<K: Hash + Eq>(counts: &mut IndexMap<K, Vec<u32>>, key: K, now: SimTime) {
    let second = usize::try_from(now.as_nanos() / 1_000_000_000).expect("seconds fit usize");
    let per_second = counts.entry(key).or_default();
    if per_second.len() <= second {
        per_second.resize(second + 1, 0);
    }
    per_second[second] += 1;
}

/// The (source, destination, ESP) of a frame between two VTEPs: VXLAN over UDP, or ESP.
fn tunnel_of(frame: &EthernetFrame) -> Option<(Ipv4Addr, Ipv4Addr, bool)> {
    let EtherPayload::Ipv4(ip) = &frame.payload else { return None };
    match &ip.payload {
        IpPayload::Udp(udp) if matches!(udp.payload, UdpPayload::Vxlan(_)) => {
            Some((ip.src, ip.dst, false))
        }
        IpPayload::Esp(_) => Some((ip.src, ip.dst, true)),
        _ => None,
    }
}

/// The running daemons, by machine index (a crashed machine has no view any more).
fn daemons(world: &World) -> impl Iterator<Item = (usize, &Daemon)> {
    let live = world.machines.iter().enumerate().filter(|(_, m)| !m.crashed);
    live.filter_map(|(i, m)| Some((i, m.daemon.as_ref()?)))
}

impl Recorder {
    fn look_membership(&mut self, at: SimTime, world: &World) {
        let mut views = IndexMap::new();
        for (machine, daemon) in daemons(world) {
            let Some(gossip) = daemon.swarm.gossip.as_ref() else { continue };
            let own = gossip.db().name();
            self.names.entry(own.to_string()).or_insert(machine);
            for node in gossip.members().filter(|n| n.name != own) {
                views.insert((machine, node.name.clone()), node.state);
            }
        }
        self.membership.observe(at, views);
    }

    fn look_raft(&mut self, at: SimTime, world: &World) {
        let mut states = IndexMap::new();
        for (machine, daemon) in daemons(world) {
            let SwarmState::Active(node) = &daemon.swarm.state else { continue };
            let Some(manager) = node.manager.as_ref() else { continue };
            let state = RaftState { role: manager.raft.role(), term: manager.raft.term() };
            states.insert(machine, state);
        }
        self.raft.observe(at, states);
    }

    fn look_entries(&mut self, at: SimTime, world: &World) {
        let mut counts = IndexMap::new();
        for (machine, daemon) in daemons(world) {
            let Some(db) = daemon.network_db() else { continue };
            counts.insert(machine, db.live_entries());
        }
        self.entries.observe(at, counts);
    }

    /// Adds what each IPVS destination scheduled since the last look to its task's count.
    /// A count that went down was zeroed (`ipvsadm -Z`, or the destination came back).
    fn look_connections(&mut self, at: SimTime, world: &World) {
        let mut scheduled = Vec::new();
        for (machine, m) in world.machines.iter().enumerate() {
            for (ns_ref, ns) in &m.kernel.namespaces {
                for service in ns.ipvs.services() {
                    for dest in &service.dests {
                        let key = (machine, ns_ref.clone(), service.key, dest.addr, dest.port);
                        let conns = dest.stats.total.conns;
                        let last = self.dest_conns.insert(key, conns).unwrap_or(0);
                        let new = if conns >= last { conns - last } else { conns };
                        if new > 0 {
                            scheduled.push((dest.addr, new));
                        }
                    }
                }
            }
        }
        // Most looks see no new connection: the tasks are looked up only when one came.
        if scheduled.is_empty() {
            return;
        }
        let tasks = task_addresses(world);
        for (addr, new) in scheduled {
            if let Some(task) = tasks.get(&addr) {
                *self.task_conns.entry(task.clone()).or_default() += new;
            }
        }
        let busy = self.task_conns.iter().filter(|(_, n)| **n > 0);
        self.connections.observe(at, busy.map(|(t, n)| (t.clone(), *n)).collect());
    }

    /// Names everything by machine and task: the timeline as the plots read it. Machines
    /// come in the scenario's order, tasks by name.
    pub fn finish(mut self, world: &World) -> Timeline {
        let machine = |i: usize| world.machines[i].name.clone();
        let names = std::mem::take(&mut self.names);
        // A member no daemon ever named (it never ran here) comes last, by its own name.
        let index = |n: &str| names.get(n).copied().unwrap_or(usize::MAX);
        let member = |n: &str| names.get(n).map_or(n.to_string(), |&i| machine(i));
        self.membership.by_key.sort_by_cached_key(|(o, n), _| (*o, index(n), n.clone()));
        self.raft.by_key.sort_keys();
        self.entries.by_key.sort_keys();
        self.connections.by_key.sort_keys();
        let view = |(observer, name): &(usize, String)| {
            format!("{} → {}", machine(*observer), member(name))
        };
        Timeline {
            end: world.now(),
            nic_packets: nic_rates(world, self.nics),
            tunnel_packets: tunnel_rates(world, self.tunnels),
            membership: self.membership.labelled(view),
            raft: self.raft.labelled(|m| machine(*m)),
            networkdb_entries: self.entries.labelled(|m| machine(*m)),
            task_connections: self.connections.labelled(String::clone),
        }
    }
}

/// Each swarm task's addresses (every network, ingress included; an IPVS on one host sends
/// to tasks on others), labelled by the task's name without its ID, `web.1`.
fn task_addresses(world: &World) -> IndexMap<Ipv4Addr, String> {
    let mut tasks = IndexMap::new();
    for (_, daemon) in daemons(world) {
        for c in daemon.containers() {
            let Some((_, name)) = c.labels.iter().find(|(k, _)| k == "com.docker.swarm.task.name")
            else {
                continue;
            };
            let label = name.rsplit_once('.').map_or(name.as_str(), |(task, _)| task);
            for (_, addr) in daemon.addresses(c) {
                tasks.insert(addr, label.to_string());
            }
        }
    }
    tasks
}

/// The NICs' rates, a message's address resolved to the NIC holding it, named
/// `machine device`, by machine and interface index.
fn nic_rates(world: &World, nics: IndexMap<(usize, Nic), Vec<u32>>) -> Vec<Rate> {
    let mut by_nic: BTreeMap<(usize, Option<u32>), Vec<u32>> = BTreeMap::new();
    for ((machine, nic), per_second) in nics {
        let root = world.machines[machine].kernel.root();
        let ifindex = match nic {
            Nic::Index(i) => Some(i),
            Nic::Addr(ip) => root.addrs.iter().find(|a| a.net.addr() == ip).map(|a| a.dev),
        };
        add_into(by_nic.entry((machine, ifindex)).or_default(), &per_second);
    }
    let label = |machine: usize, ifindex: Option<u32>| {
        let m = &world.machines[machine];
        let link = ifindex.and_then(|i| m.kernel.root().links.get(&i));
        format!("{} {}", m.name, link.map_or("?", |l| l.name.as_str()))
    };
    let rates = by_nic.into_iter();
    rates.map(|((m, i), per_second)| Rate { label: label(m, i), per_second }).collect()
}

/// The tunnels' rates, each end named by the machine holding its address, by machine.
fn tunnel_rates(
    world: &World,
    tunnels: IndexMap<(Ipv4Addr, Ipv4Addr, bool), Vec<u32>>,
) -> Vec<Rate> {
    let owner = |ip: Ipv4Addr| {
        let holds =
            |m: &&crate::engine::Machine| m.kernel.root().addrs.iter().any(|a| a.net.addr() == ip);
        let index = world.machines.iter().position(|m| holds(&m));
        (
            index.unwrap_or(usize::MAX),
            index.map_or(ip.to_string(), |i| world.machines[i].name.clone()),
        )
    };
    let mut rates: Vec<_> = tunnels
        .into_iter()
        .map(|((src, dst, esp), per_second)| {
            let (src, dst) = (owner(src), owner(dst));
            let kind = if esp { " (ESP)" } else { "" };
            let label = format!("{} → {}{kind}", src.1, dst.1);
            ((src.0, dst.0, esp), Rate { label, per_second })
        })
        .collect();
    rates.sort_by(|a, b| (a.0, &a.1.label).cmp(&(b.0, &b.1.label)));
    rates.into_iter().map(|(_, rate)| rate).collect()
}

/// Adds `counts` into `sum`, second by second.
fn add_into(sum: &mut Vec<u32>, counts: &[u32]) {
    if sum.len() < counts.len() {
        sum.resize(counts.len(), 0);
    }
    sum.iter_mut().zip(counts).for_each(|(s, n)| *s += n);
}

/// Tracks by key, each keeping only its changes.
struct Tracks<K, T> {
    by_key: IndexMap<K, Vec<(SimTime, Option<T>)>>,
}

impl<K, T> Default for Tracks<K, T> {
    fn default() -> Self {
        Tracks { by_key: IndexMap::new() }
    }
}

impl<K: Hash + Eq, T: PartialEq> Tracks<K, T> {
    /// The values at `at`: each key not in `now` has none.
    fn observe(&mut self, at: SimTime, mut now: IndexMap<K, T>) {
        for (key, changes) in self.by_key.iter_mut() {
            change(changes, at, now.shift_remove(key));
        }
        for (key, value) in now {
            self.by_key.insert(key, vec![(at, Some(value))]);
        }
    }

    fn labelled(self, label: impl Fn(&K) -> String) -> Vec<Track<T>> {
        let tracks = self.by_key.into_iter();
        tracks.map(|(k, changes)| Track { label: label(&k), changes }).collect()
    }
}

/// Appends `value` if it differs from the value before; a second look at the same instant
/// replaces the first.
fn change<T: PartialEq>(changes: &mut Vec<(SimTime, Option<T>)>, at: SimTime, value: Option<T>) {
    if changes.last().is_some_and(|(when, _)| *when == at) {
        changes.pop();
    }
    if changes.last().map(|(_, last)| last) != Some(&value) {
        changes.push((at, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IcmpRepr, Ipv4Packet, MacAddr, UdpDatagram, VxlanPacket};

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 4);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 5);

    fn s(secs: u64) -> SimTime {
        SimTime(secs * 1_000_000_000)
    }

    fn frame(src: Ipv4Addr, dst: Ipv4Addr, payload: IpPayload) -> EthernetFrame {
        let ip = Ipv4Packet { src, dst, ttl: 64, ident: 1, dont_fragment: true, payload };
        EthernetFrame {
            dst: MacAddr([2; 6]),
            src: MacAddr([4; 6]),
            payload: EtherPayload::Ipv4(ip),
        }
    }

    fn echo() -> IpPayload {
        IpPayload::Icmp(IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; 56] })
    }

    #[test]
    fn only_vxlan_and_esp_frames_are_tunnel_packets() {
        let inner = frame(Ipv4Addr::new(10, 0, 1, 3), Ipv4Addr::new(10, 0, 1, 4), echo());
        let vxlan = UdpPayload::Vxlan(VxlanPacket::new(4097, inner));
        let udp = IpPayload::Udp(UdpDatagram { src_port: 40000, dst_port: 4789, payload: vxlan });
        assert_eq!(tunnel_of(&frame(A, B, udp)), Some((A, B, false)));
        assert_eq!(tunnel_of(&frame(A, B, echo())), None);
    }

    #[test]
    fn packets_are_counted_in_the_second_they_leave() {
        let mut counts = IndexMap::new();
        for at in [SimTime(0), SimTime(999_999_999), s(2)] {
            bump(&mut counts, "eth0", at);
        }
        assert_eq!(counts["eth0"], [2, 0, 1]);
    }

    #[test]
    fn a_track_keeps_only_changes_and_has_no_value_while_its_key_is_gone() {
        let mut tracks: Tracks<&str, u32> = Tracks::default();
        let values = |pairs: &[(&'static str, u32)]| pairs.iter().copied().collect();
        tracks.observe(s(0), values(&[("a", 1)]));
        tracks.observe(s(1), values(&[("a", 1), ("b", 5)]));
        tracks.observe(s(2), values(&[("b", 6)]));
        tracks.observe(s(3), values(&[("a", 2), ("b", 6)]));
        let tracks = tracks.labelled(|k| k.to_string());
        assert_eq!(tracks[0].label, "a");
        assert_eq!(tracks[0].changes, [(s(0), Some(1)), (s(2), None), (s(3), Some(2))]);
        assert_eq!(tracks[1].changes, [(s(1), Some(5)), (s(2), Some(6))]);
    }

    #[test]
    fn a_second_look_at_the_same_instant_replaces_the_first() {
        let mut changes = vec![(s(0), Some(1)), (s(1), Some(2))];
        change(&mut changes, s(1), Some(3));
        assert_eq!(changes, [(s(0), Some(1)), (s(1), Some(3))]);
        change(&mut changes, s(1), Some(1));
        assert_eq!(changes, [(s(0), Some(1))]);
    }

    #[test]
    fn the_next_look_is_the_first_multiple_of_the_period_after_now() {
        let mut world = World::new(crate::engine::RunLimits::default());
        let mut recorder = Recorder::default();
        assert_eq!(recorder.look(SimTime(0), &world), SimTime(250_000_000));
        assert_eq!(recorder.look(SimTime(260_000_000), &world), SimTime(500_000_000));
        world.queue.advance_to(SimTime(1_100_000_000));
        assert_eq!(recorder.look(SimTime(500_000_000), &world), SimTime(1_250_000_000));
    }
}
