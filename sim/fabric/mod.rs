//! The underlay between machines: L2 segments (an ideal learning switch per LAN) joined by
//! router machines, each segment with its link model ([`LinkParams`]: latency, jitter,
//! loss, bandwidth), per-port extra latency for machines far away (the "internet" behind a
//! router), and partitions between machines.
//!
//! Contract:
//! - `deliveries(now, from, frame)` says which NICs receive a frame sent by NIC `from` and
//!   after how long. A segment's switch knows its NICs' own MACs and learns the others
//!   (macvlan containers' MACs) from the frames' sources, per VLAN, for
//!   [`SWITCH_AGEING_TIME`]; a frame for a MAC it does not know floods. Every port is a
//!   trunk: tagged frames cross the LAN like any other, and the hosts decide which VLANs
//!   they take. A frame first waits for the sending port to be free: each port is a
//!   FIFO that serializes `frame.buffer_len()` bytes (Ethernet header and payload, no FCS)
//!   at the segment's bandwidth, back to back. Then each receiver independently loses it
//!   with the segment's loss probability, or gets it after the segment latency, both ports'
//!   extra latency and a uniform `0..jitter`. Jitter never reorders: between two ports a
//!   frame arrives no earlier than one that left before it (like netem with a rate).
//! - Partitions are between machines ([`Partition`]); routers are never partitioned. A frame
//!   is dropped, silently like a cut cable, when its sender and receiver are in different
//!   groups; when a router sends it, the machine owning its IPv4 source counts as the
//!   sender, so traffic routed across groups dies at the last router's egress.
//! - `message_path` gives where and when a control-plane message arrives, through the same
//!   per-hop model (ports, loss, jitter, queues, partitions) along the routers' path;
//!   `stream_path` does the same for a message on a TCP stream, which loss delays (TCP
//!   sends it again) but does not lose.
//! - Randomness comes from each segment's own stream, drawn only for jitter and loss that
//!   are non-zero.

mod link;
mod partition;
mod path;

use std::net::Ipv4Addr;

use indexmap::{IndexMap, IndexSet};

use crate::engine::{RngStream, SimDuration, SimTime};
use crate::wire::{EtherPayload, EthernetFrame, MacAddr};

pub use link::{Bandwidth, LinkChange, LinkParams, Loss};
pub use partition::Partition;

/// A machine's NIC, by machine index and interface index in its root namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub machine: usize,
    pub ifindex: u32,
}

/// A NIC as the fabric sees it: where it is and what it has sent.
#[derive(Debug, Clone)]
struct Attachment {
    port: Port,
    mac: MacAddr,
    /// The NIC's underlay address, for routing control-plane messages and partitions.
    ip: Ipv4Addr,
    /// Extra one-way latency of this port's access link.
    latency: SimDuration,
    /// When the port finishes sending what it has queued.
    busy_until: SimTime,
    /// Per receiving attachment, the (departure, arrival) of the latest frame sent so far.
    last: Vec<(SimTime, SimTime)>,
}

/// How long a switch remembers where a MAC was seen: IEEE 802.1D's default ageing time.
pub const SWITCH_AGEING_TIME: SimDuration = SimDuration::from_secs(300);

/// One L2 segment.
#[derive(Debug, Clone)]
pub struct Segment {
    pub name: String,
    pub link: LinkParams,
    ports: Vec<Attachment>,
    /// Learned source MACs by (VLAN, MAC): the attachment and when it was last seen.
    learned: IndexMap<(Option<u16>, MacAddr), (usize, SimTime)>,
    rng: RngStream,
}

impl Segment {
    /// The attachment a frame for `dst` in `vlan` goes to: the NIC owning the MAC, or
    /// where it was last seen; `None` floods.
    fn port_for(&self, now: SimTime, vlan: Option<u16>, dst: MacAddr) -> Option<usize> {
        if dst.is_multicast() {
            return None;
        }
        if let Some(i) = self.ports.iter().position(|a| a.mac == dst) {
            return Some(i);
        }
        let (port, seen) = self.learned.get(&(vlan, dst))?;
        (now.since(*seen) < SWITCH_AGEING_TIME).then_some(*port)
    }

    /// When a frame of `bytes` handed to port `from` at `now` has left it: after the frames
    /// queued before it, at the segment's bandwidth.
    fn serialize(&mut self, from: usize, now: SimTime, bytes: usize) -> SimTime {
        let port = &mut self.ports[from];
        let Some(rate) = self.link.bandwidth else { return now };
        port.busy_until = port.busy_until.max(now) + rate.serialization(bytes);
        port.busy_until
    }

    /// When a frame that left port `from` at `departs` reaches port `to`; `None` if lost.
    fn propagate(&mut self, from: usize, to: usize, departs: SimTime) -> Option<SimTime> {
        let link = self.link;
        if link.loss > Loss::NONE && self.rng.range_u64(0, Loss::ALL.0.into()) < link.loss.0.into()
        {
            return None;
        }
        let jitter = match link.jitter.as_nanos() {
            0 => SimDuration::ZERO,
            j => SimDuration::from_nanos(self.rng.range_u64(0, j)),
        };
        let delay = link.latency + self.ports[from].latency + self.ports[to].latency + jitter;
        let sender = &mut self.ports[from];
        if sender.last.len() <= to {
            sender.last.resize(to + 1, (SimTime::ZERO, SimTime::ZERO));
        }
        // Only a frame that left after the latest one waits for it: a multi-hop message
        // computes its later hops ahead of time, and must not hold back earlier frames.
        let (last_departs, last_arrives) = sender.last[to];
        let mut arrival = departs + delay;
        if departs >= last_departs {
            arrival = arrival.max(last_arrives);
            sender.last[to] = (departs, arrival);
        }
        Some(arrival)
    }

    fn index_of(&self, port: Port) -> Option<usize> {
        self.ports.iter().position(|a| a.port == port)
    }

    fn index_of_machine(&self, machine: usize) -> Option<usize> {
        self.ports.iter().position(|a| a.port.machine == machine)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Fabric {
    segments: Vec<Segment>,
    /// Machines that forward between segments (never partitioned).
    routers: IndexSet<usize>,
    partition: Partition,
    /// When the latest message on each (sender, receiver) TCP stream arrives: a stream
    /// delivers in order, so a message waits for any retransmitted one before it.
    stream_arrivals: IndexMap<(usize, usize), SimTime>,
}

impl Fabric {
    /// A new segment with its link model and its own random stream.
    pub fn add_segment(&mut self, name: &str, link: LinkParams, rng: RngStream) -> usize {
        let (ports, learned) = (Vec::new(), IndexMap::new());
        self.segments.push(Segment { name: name.to_string(), link, ports, learned, rng });
        self.segments.len() - 1
    }

    /// Plugs NIC `port` (with its MAC and underlay address) into `segment`, `latency` away.
    pub fn attach(
        &mut self,
        segment: usize,
        port: Port,
        (mac, ip): (MacAddr, Ipv4Addr),
        latency: SimDuration,
    ) {
        self.segments[segment].ports.push(Attachment {
            port,
            mac,
            ip,
            latency,
            busy_until: SimTime::ZERO,
            last: Vec::new(),
        });
    }

    /// Marks `machine` as a router: it forwards between its segments and is in every group.
    pub fn add_router(&mut self, machine: usize) {
        self.routers.insert(machine);
    }

    /// The segment with this name.
    pub fn segment_index(&self, name: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.name == name)
    }

    pub fn segment(&self, index: usize) -> &Segment {
        &self.segments[index]
    }

    /// Changes a segment's link model from now on (frames already sent keep their times).
    pub fn change_link(&mut self, segment: usize, change: &LinkChange) {
        self.segments[segment].link.apply(change);
    }

    /// Replaces the partition in force (an empty one heals everything).
    pub fn set_partition(&mut self, partition: Partition) {
        self.partition = partition;
    }

    /// Who receives `frame` sent from `from` at `now`, and after how long: the NIC owning
    /// the destination MAC, or every other NIC for broadcast and unknown destinations.
    pub fn deliveries(
        &mut self,
        now: SimTime,
        from: Port,
        frame: &EthernetFrame,
    ) -> Vec<(Port, SimDuration)> {
        let Some((s, src)) = self.locate(from) else { return Vec::new() };
        let origin = self.origin(from.machine, frame);
        let vlan = frame.vlan();
        if !frame.src.is_multicast() {
            self.segments[s].learned.insert((vlan, frame.src), (src, now));
        }
        let seg = &self.segments[s];
        let target = seg.port_for(now, vlan, frame.dst);
        let receivers: Vec<usize> = (0..seg.ports.len())
            .filter(|&i| i != src && target.is_none_or(|t| t == i))
            .filter(|&i| origin.is_none_or(|o| self.reachable(o, seg.ports[i].port.machine)))
            .collect();
        let seg = &mut self.segments[s];
        let departs = seg.serialize(src, now, frame.buffer_len());
        receivers
            .into_iter()
            .filter_map(|to| {
                Some((seg.ports[to].port, seg.propagate(src, to, departs)?.since(now)))
            })
            .collect()
    }

    /// The segment a port is on, by name.
    pub fn segment_of(&self, port: Port) -> Option<&str> {
        self.locate(port).map(|(s, _)| self.segments[s].name.as_str())
    }

    /// The machine a frame sent by `sender` comes from, for partitions: the sender, or for a
    /// router the owner of the IPv4 source (`None` when nobody on the underlay owns it).
    fn origin(&self, sender: usize, frame: &EthernetFrame) -> Option<usize> {
        if !self.routers.contains(&sender) {
            return Some(sender);
        }
        match frame.payload.untagged() {
            EtherPayload::Ipv4(ip) => self.owner(ip.src).map(|(s, i)| self.machine_at(s, i)),
            EtherPayload::Arp(_) | EtherPayload::Vlan(_) => None,
        }
    }

    /// Whether the partition lets `a` and `b` talk: routers talk to every group.
    fn reachable(&self, a: usize, b: usize) -> bool {
        self.routers.contains(&a) || self.routers.contains(&b) || self.partition.together(a, b)
    }

    /// (segment, attachment) of a NIC.
    fn locate(&self, port: Port) -> Option<(usize, usize)> {
        self.segments.iter().enumerate().find_map(|(s, seg)| Some((s, seg.index_of(port)?)))
    }

    /// (segment, attachment) of the NIC holding underlay address `ip`.
    fn owner(&self, ip: Ipv4Addr) -> Option<(usize, usize)> {
        self.segments
            .iter()
            .enumerate()
            .find_map(|(s, seg)| Some((s, seg.ports.iter().position(|a| a.ip == ip)?)))
    }

    fn machine_at(&self, segment: usize, attachment: usize) -> usize {
        self.segments[segment].ports[attachment].port.machine
    }
}

#[cfg(test)]
mod tests;
