//! The underlay between machines: L2 segments (an ideal learning switch per LAN) with a
//! one-way latency, and per-port extra latency for machines far away (the "internet" behind
//! a router). Partitions, loss and bandwidth come with the swarm issues.
//!
//! Contract: `deliveries(from, frame)` says which NICs receive a frame sent by NIC `from`
//! and after how long; it never reorders (equal delays keep send order in the queue).

use crate::engine::SimDuration;
use crate::wire::{EthernetFrame, MacAddr};

/// A machine's NIC, by machine index and interface index in its root namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub machine: usize,
    pub ifindex: u32,
}

#[derive(Debug, Clone)]
struct Attachment {
    port: Port,
    mac: MacAddr,
    /// Extra one-way latency of this port's access link.
    latency: SimDuration,
}

/// One L2 segment.
#[derive(Debug, Clone)]
pub struct Segment {
    pub name: String,
    pub latency: SimDuration,
    ports: Vec<Attachment>,
}

#[derive(Debug, Clone, Default)]
pub struct Fabric {
    pub segments: Vec<Segment>,
}

impl Fabric {
    pub fn add_segment(&mut self, name: &str, latency: SimDuration) -> usize {
        self.segments.push(Segment { name: name.to_string(), latency, ports: Vec::new() });
        self.segments.len() - 1
    }

    pub fn attach(&mut self, segment: usize, port: Port, mac: MacAddr, latency: SimDuration) {
        self.segments[segment].ports.push(Attachment { port, mac, latency });
    }

    /// Who receives `frame` sent from `from`, and when: the NIC owning the destination MAC,
    /// or every other NIC for broadcast and unknown destinations.
    pub fn deliveries(&self, from: Port, frame: &EthernetFrame) -> Vec<(Port, SimDuration)> {
        let Some(seg) = self.segments.iter().find(|s| s.ports.iter().any(|a| a.port == from))
        else {
            return Vec::new();
        };
        let src_latency =
            seg.ports.iter().find(|a| a.port == from).map_or(SimDuration::ZERO, |a| a.latency);
        let known = seg.ports.iter().any(|a| a.mac == frame.dst);
        seg.ports
            .iter()
            .filter(|a| a.port != from && (!known || a.mac == frame.dst))
            .map(|a| (a.port, seg.latency + src_latency + a.latency))
            .collect()
    }

    /// The segment a port is on, by name.
    pub fn segment_of(&self, port: Port) -> Option<&str> {
        self.segments
            .iter()
            .find(|s| s.ports.iter().any(|a| a.port == port))
            .map(|s| s.name.as_str())
    }
}
