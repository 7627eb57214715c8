//! Network devices: loopback, veth pairs, Linux bridges, VXLAN tunnels, macvlan and 802.1Q
//! VLAN devices stacked on a lower device, and the host's Ethernet NIC.
//!
//! A bridge keeps a forwarding database (FDB) that learns source MACs per port and ages
//! them out after `BRIDGE_AGEING_TIME` (Linux's default 300 s); unknown and broadcast
//! destinations flood to every port but the one the frame came in on.

use indexmap::IndexMap;

use crate::engine::{SimDuration, SimTime};
use crate::wire::MacAddr;

use super::NsRef;

/// Linux's default bridge ageing time (`ageing_time` 30000 centiseconds).
pub const BRIDGE_AGEING_TIME: SimDuration = SimDuration::from_secs(300);

/// What kind of device a link is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    Loopback,
    /// One end of a veth pair; `peer` is the other end's namespace and interface index.
    Veth {
        peer: Option<(NsRef, u32)>,
    },
    Bridge(Bridge),
    /// A NIC attached to an underlay segment of the fabric.
    Ethernet,
    /// A VXLAN tunnel endpoint (see `super::vxlan`).
    Vxlan(super::vxlan::Vxlan),
    /// A device with its own MAC on a lower device (see `super::macvlan`).
    Macvlan(super::macvlan::Macvlan),
    /// An 802.1Q sub-interface of a lower device (see `super::vlan`).
    Vlan(super::vlan::Vlan),
}

impl LinkKind {
    /// The name `ip -d link` uses for the kind.
    pub fn name(&self) -> &'static str {
        match self {
            LinkKind::Loopback => "loopback",
            LinkKind::Veth { .. } => "veth",
            LinkKind::Bridge(_) => "bridge",
            LinkKind::Ethernet => "ether",
            LinkKind::Vxlan(_) => "vxlan",
            LinkKind::Macvlan(_) => "macvlan",
            LinkKind::Vlan(_) => "vlan",
        }
    }
}

/// Interface counters, as `ip -s link` and ifconfig show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

/// One network device in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub ifindex: u32,
    pub name: String,
    pub kind: LinkKind,
    pub mac: MacAddr,
    pub mtu: u32,
    pub up: bool,
    /// The bridge this device is enslaved to (`master`), by ifindex.
    pub master: Option<u32>,
    pub stats: LinkStats,
}

impl Link {
    pub fn new(ifindex: u32, name: &str, kind: LinkKind, mac: MacAddr) -> Self {
        let mtu = if kind == LinkKind::Loopback { 65536 } else { 1500 };
        Link {
            ifindex,
            name: name.to_string(),
            kind,
            mac,
            mtu,
            up: false,
            master: None,
            stats: LinkStats::default(),
        }
    }

    pub fn bridge(&self) -> Option<&Bridge> {
        match &self.kind {
            LinkKind::Bridge(b) => Some(b),
            _ => None,
        }
    }

    pub fn bridge_mut(&mut self) -> Option<&mut Bridge> {
        match &mut self.kind {
            LinkKind::Bridge(b) => Some(b),
            _ => None,
        }
    }

    pub fn peer(&self) -> Option<&(NsRef, u32)> {
        match &self.kind {
            LinkKind::Veth { peer } => peer.as_ref(),
            _ => None,
        }
    }

    pub fn vxlan(&self) -> Option<&super::vxlan::Vxlan> {
        match &self.kind {
            LinkKind::Vxlan(v) => Some(v),
            _ => None,
        }
    }

    pub fn vxlan_mut(&mut self) -> Option<&mut super::vxlan::Vxlan> {
        match &mut self.kind {
            LinkKind::Vxlan(v) => Some(v),
            _ => None,
        }
    }

    /// The other namespace this device is tied to: a veth's peer's, the namespace a
    /// VXLAN device was created in (where its UDP socket lives), or a stacked device's
    /// lower device's.
    pub fn link_netns(&self) -> Option<&NsRef> {
        match &self.kind {
            LinkKind::Veth { peer } => peer.as_ref().map(|(ns, _)| ns),
            LinkKind::Vxlan(v) => Some(&v.socket_ns),
            _ => self.lower().map(|(ns, _)| ns),
        }
    }

    /// The device a macvlan or VLAN device sits on: its namespace and interface index.
    pub fn lower(&self) -> Option<&(NsRef, u32)> {
        match &self.kind {
            LinkKind::Macvlan(m) => Some(&m.lower),
            LinkKind::Vlan(v) => Some(&v.lower),
            _ => None,
        }
    }
}

/// A learned FDB entry: where a MAC was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdbEntry {
    pub port: u32,
    pub updated: SimTime,
}

/// A Linux bridge's forwarding state. Ports are the links whose `master` is the bridge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bridge {
    pub fdb: IndexMap<MacAddr, FdbEntry>,
    /// The MAC was set by hand; otherwise the bridge takes its lowest port MAC
    /// (`br_stp_recalculate_bridge_id`).
    pub mac_set: bool,
    /// The MTU was set by hand; otherwise it follows the smallest port MTU
    /// (`br_mtu_auto_adjust`).
    pub mtu_set: bool,
}

/// Where the bridge sends a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdbDecision {
    /// A learned port.
    Port(u32),
    /// The destination is the bridge's own address: up the host stack.
    Local,
    /// Unknown or multicast: every port but the ingress one (and the host stack for
    /// multicast).
    Flood,
}

impl Bridge {
    /// Learns `src` on `port` (multicast sources are never learned).
    pub fn learn(&mut self, now: SimTime, src: MacAddr, port: u32) {
        if !src.is_multicast() {
            self.fdb.insert(src, FdbEntry { port, updated: now });
        }
    }

    /// Decides where a frame for `dst` goes; expired entries count as unknown.
    pub fn lookup(&self, now: SimTime, dst: MacAddr, own_mac: MacAddr) -> FdbDecision {
        if dst == own_mac {
            return FdbDecision::Local;
        }
        if dst.is_multicast() {
            return FdbDecision::Flood;
        }
        match self.fdb.get(&dst) {
            Some(e) if now.since(e.updated) < BRIDGE_AGEING_TIME => FdbDecision::Port(e.port),
            _ => FdbDecision::Flood,
        }
    }

    /// Forgets every entry learned on `port` (the port left the bridge).
    pub fn forget_port(&mut self, port: u32) {
        self.fdb.retain(|_, e| e.port != port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: MacAddr = MacAddr([2, 0x42, 0xac, 0x11, 0, 2]);
    const OWN: MacAddr = MacAddr([2, 0x42, 0xf1, 0x7f, 0x89, 0xa6]);

    #[test]
    fn learns_forwards_and_ages_out() {
        let mut br = Bridge::default();
        assert_eq!(br.lookup(SimTime::ZERO, A, OWN), FdbDecision::Flood);
        br.learn(SimTime::ZERO, A, 5);
        assert_eq!(br.lookup(SimTime(1), A, OWN), FdbDecision::Port(5));
        let later = SimTime::ZERO + BRIDGE_AGEING_TIME;
        assert_eq!(br.lookup(later, A, OWN), FdbDecision::Flood);
        assert_eq!(br.lookup(SimTime(1), OWN, OWN), FdbDecision::Local);
        assert_eq!(br.lookup(SimTime(1), MacAddr::BROADCAST, OWN), FdbDecision::Flood);
    }
}
