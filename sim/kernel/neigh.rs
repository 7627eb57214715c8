//! The neighbour (ARP) table of one namespace, and the packets waiting for an answer.
//!
//! Linux sends up to `ARP_PROBES` requests (`mcast_solicit` 3) one `retrans_time` (1 s)
//! apart; when none is answered the entry fails and the queued packets are dropped.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::engine::{SimDuration, SimTime};
use crate::wire::{Ipv4Packet, MacAddr};

/// `net.ipv4.neigh.default.mcast_solicit`.
pub const ARP_PROBES: u32 = 3;
/// `net.ipv4.neigh.default.retrans_time_ms`.
pub const ARP_RETRANS: SimDuration = SimDuration::from_secs(1);

/// The states `ip neigh` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighState {
    Incomplete { probes: u32, queue: Vec<(u64, Ipv4Packet)> },
    Reachable { mac: MacAddr, confirmed: SimTime },
    Failed,
    Permanent { mac: MacAddr },
}

impl NeighState {
    pub fn mac(&self) -> Option<MacAddr> {
        match self {
            NeighState::Reachable { mac, .. } | NeighState::Permanent { mac } => Some(*mac),
            _ => None,
        }
    }
}

/// Entries keyed by (device, neighbour address).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Neighbours {
    pub entries: IndexMap<(u32, Ipv4Addr), NeighState>,
}

impl Neighbours {
    pub fn mac(&self, dev: u32, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries.get(&(dev, ip)).and_then(NeighState::mac)
    }

    /// Records an answer (or a request's sender) and returns the packets that waited for it.
    pub fn confirm(
        &mut self,
        now: SimTime,
        dev: u32,
        ip: Ipv4Addr,
        mac: MacAddr,
    ) -> Vec<(u64, Ipv4Packet)> {
        let fresh = NeighState::Reachable { mac, confirmed: now };
        match self.entries.insert((dev, ip), fresh) {
            Some(NeighState::Incomplete { queue, .. }) => queue,
            Some(NeighState::Permanent { mac }) => {
                self.entries.insert((dev, ip), NeighState::Permanent { mac });
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Queues a packet for an unresolved neighbour. True when a request must be sent now
    /// (the entry is new or had failed).
    pub fn enqueue(&mut self, dev: u32, ip: Ipv4Addr, packet: (u64, Ipv4Packet)) -> bool {
        match self.entries.get_mut(&(dev, ip)) {
            Some(NeighState::Incomplete { queue, .. }) => {
                queue.push(packet);
                false
            }
            _ => {
                let state = NeighState::Incomplete { probes: 1, queue: vec![packet] };
                self.entries.insert((dev, ip), state);
                true
            }
        }
    }

    /// A retransmit timer fired: true if another request should go out; otherwise the entry
    /// failed and its queued packets are returned to be dropped.
    pub fn retry(&mut self, dev: u32, ip: Ipv4Addr) -> Result<bool, Vec<(u64, Ipv4Packet)>> {
        let Some(NeighState::Incomplete { probes, queue }) = self.entries.get_mut(&(dev, ip))
        else {
            return Ok(false);
        };
        if *probes < ARP_PROBES {
            *probes += 1;
            return Ok(true);
        }
        let dropped = std::mem::take(queue);
        self.entries.insert((dev, ip), NeighState::Failed);
        Err(dropped)
    }

    pub fn remove_dev(&mut self, dev: u32) {
        self.entries.retain(|(d, _), _| *d != dev);
    }
}
