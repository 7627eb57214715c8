//! The Linux networking model of one machine, as sans-IO state.
//!
//! Contract: a `Kernel` holds the machine's network namespaces, each with its links,
//! addresses, routes, neighbours, netfilter tables and sockets. It changes only through
//! `apply(KernelOp)` (configuration), `handle_frame` (a frame arrived on a device),
//! `handle_timer` and the socket calls; every reaction is pushed into a caller-owned
//! `Vec<Action>` — frames to transmit, hops for the packet walk, socket events, timers.
//! The kernel never reads a clock or a global RNG; the world hands both in.

pub mod export;
mod frag;
pub mod ipvs;
mod link;
mod macvlan;
mod meta;
mod neigh;
pub mod netfilter;
mod netns;
mod ops;
pub mod process;
mod route;
mod socket;
pub mod tools;
pub mod views;
mod vlan;
mod vxlan;
mod walk;
pub mod xfrm;

pub use frag::{Defrag, FragState, PmtuDisc};
pub use link::{Bridge, FdbDecision, Link, LinkKind, LinkStats, BRIDGE_AGEING_TIME};
pub use macvlan::{Macvlan, MacvlanMode};
pub use neigh::{NeighState, Neighbours};
pub use netns::{IfAddr, Netns};
pub use ops::{KernelOp, NsRef, VxlanConfig};
pub use route::{Route, RouteProto, RoutingTable};
pub use socket::{Pid, SockId, SocketError, SocketEvent, SocketEventKind, Sockets, TcpState};
pub use vlan::Vlan;
pub use vxlan::{Vxlan, VxlanFdbEntry, VXLAN_AGEING_TIME};
pub use walk::{Action, Hop, KernelTimer, Stage};

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use crate::engine::{RngStream, SimDuration, SimTime};
use crate::wire::MacAddr;

/// One-way delay of a veth crossing. Calibrated so a ping between a host and a container
/// shows the lab's `time=0.05 ms`-ish round trips; jitter up to `VETH_JITTER` is drawn from
/// the host's stream.
pub const VETH_DELAY: SimDuration = SimDuration::from_micros(20);
pub const VETH_JITTER: SimDuration = SimDuration::from_micros(8);

/// An op the kernel refused, with the message the real command prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OpError(pub String);

/// The network stack of one machine.
pub struct Kernel {
    pub hostname: String,
    pub namespaces: IndexMap<NsRef, Netns>,
    /// The ids each namespace has given its peers (`ip netns list`'s `(id: N)`), by
    /// (namespace, peer); see [`Kernel::netnsid`].
    netns_ids: std::collections::BTreeMap<(NsRef, NsRef), u32>,
    rng: RngStream,
    next_packet_id: u64,
    /// The flow-hash secret (Linux's boot-random `hashrnd`), here derived from the
    /// hostname so that it differs between hosts without drawing from the random stream.
    pub flow_hash_seed: u32,
    /// The latest time handed in (frames, timers, `apply_at`): what `apply` runs `ipvsadm`
    /// ops at, since they expire connections and start rate estimators.
    clock: SimTime,
}

impl Kernel {
    /// A machine with only its root namespace and loopback.
    pub fn new(hostname: &str, rng: RngStream) -> Self {
        let mut namespaces = IndexMap::new();
        namespaces.insert(NsRef::Root, Netns::new(NsRef::Root));
        let flow_hash_seed = hostname
            .bytes()
            .fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        Kernel {
            hostname: hostname.to_string(),
            namespaces,
            netns_ids: std::collections::BTreeMap::new(),
            rng,
            next_packet_id: 0,
            flow_hash_seed,
            clock: SimTime::ZERO,
        }
    }

    pub fn ns(&self, ns: &NsRef) -> Option<&Netns> {
        self.namespaces.get(ns)
    }

    /// # Panics
    /// If the namespace does not exist: callers hold refs that ops created.
    pub fn ns_mut(&mut self, ns: &NsRef) -> &mut Netns {
        self.namespaces.get_mut(ns).unwrap_or_else(|| panic!("no namespace {ns}"))
    }

    pub fn root(&self) -> &Netns {
        &self.namespaces[&NsRef::Root]
    }

    /// A fresh id for a packet the machine originates, so walks can follow it.
    pub fn new_packet_id(&mut self) -> u64 {
        self.next_packet_id += 1;
        self.next_packet_id
    }

    /// The id the next packet this machine originates will get.
    pub fn next_packet_id(&self) -> u64 {
        self.next_packet_id + 1
    }

    pub fn rng(&mut self) -> &mut RngStream {
        &mut self.rng
    }

    /// The host's NIC on an underlay segment, with its address and default route.
    pub fn add_ethernet(&mut self, name: &str, mac: MacAddr, addr: Ipv4Net, gw: Option<Ipv4Addr>) {
        let root = self.ns_mut(&NsRef::Root);
        let ifindex = root.add_link(name, LinkKind::Ethernet, mac);
        root.link_mut(ifindex).up = true;
        root.add_addr(ifindex, addr);
        if let Some(gw) = gw {
            let default = Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("0 is a valid prefix");
            root.routes.add(Route {
                dst: default,
                via: Some(gw),
                dev: ifindex,
                proto: RouteProto::Boot,
                src: None,
            });
        }
    }

    /// Remembers `now` as the kernel's latest time (it never goes back).
    pub(crate) fn saw(&mut self, now: SimTime) {
        self.clock = self.clock.max(now);
    }

    /// [`Kernel::apply`] at time `now`.
    pub fn apply_at(&mut self, now: SimTime, op: &KernelOp) -> Result<String, OpError> {
        self.saw(now);
        self.apply(op)
    }

    /// Applies one configuration op, as the real command would.
    pub fn apply(&mut self, op: &KernelOp) -> Result<String, OpError> {
        match op {
            KernelOp::NetnsAdd { name } => self.netns_add(name),
            KernelOp::NetnsDel { name } => self.netns_del(name),
            KernelOp::LinkSetNetns { ns, name, target } => self.move_link(ns, name, target),
            KernelOp::VethAdd { ns, name, peer } => self.veth_add(ns, name, peer),
            KernelOp::VxlanAdd { ns, name, config } => self.vxlan_add(ns, name, config),
            KernelOp::MacvlanAdd { ns, name, parent, mode } => {
                self.macvlan_add(ns, name, parent, *mode)
            }
            KernelOp::VlanAdd { ns, name, parent, id } => self.vlan_add(ns, name, parent, *id),
            KernelOp::LinkDel { ns, name } => self.link_del(ns, name),
            KernelOp::XfrmStateAdd { ns, sa } => {
                self.existing_ns(ns)?.xfrm.state_add(sa).map(|()| String::new())
            }
            KernelOp::XfrmStateDel { ns, src, dst, spi } => {
                self.existing_ns(ns)?.xfrm.state_del(*src, *dst, *spi).map(|()| String::new())
            }
            KernelOp::XfrmPolicyAdd { ns, policy } => {
                self.existing_ns(ns)?.xfrm.policy_add(policy).map(|()| String::new())
            }
            KernelOp::XfrmPolicyDel { ns, policy } => {
                self.existing_ns(ns)?.xfrm.policy_del(policy).map(|()| String::new())
            }
            KernelOp::XfrmPolicyUpdate { ns, policy } => {
                self.existing_ns(ns)?.xfrm.policy_update(policy);
                Ok(String::new())
            }
            KernelOp::Iptables { ns, args } => {
                self.existing_ns(ns)?.netfilter.run_command(args).map_err(|e| OpError(e.message))
            }
            KernelOp::Ipvsadm { ns, args } => {
                let now = self.clock;
                self.existing_ns(ns)?.ipvs.run_command(now, args).map_err(|e| OpError(e.message))
            }
            _ => self.existing_ns(op.ns())?.apply_link_op(op).map(|()| String::new()),
        }
    }

    fn existing_ns(&mut self, ns: &NsRef) -> Result<&mut Netns, OpError> {
        self.namespaces.get_mut(ns).ok_or_else(|| {
            OpError(format!("Cannot open network namespace \"{ns}\": No such file or directory"))
        })
    }

    fn netns_add(&mut self, name: &str) -> Result<String, OpError> {
        let ns = NsRef::named(name);
        if self.namespaces.contains_key(&ns) {
            return Err(OpError(format!(
                "Cannot create namespace file \"/var/run/netns/{name}\": File exists"
            )));
        }
        self.namespaces.insert(ns.clone(), Netns::new(ns));
        Ok(String::new())
    }

    /// Deleting a namespace destroys its devices; a veth's peer dies with it.
    fn netns_del(&mut self, name: &str) -> Result<String, OpError> {
        let ns = NsRef::named(name);
        let Some(gone) = self.namespaces.shift_remove(&ns) else {
            return Err(OpError(format!(
                "Cannot remove namespace file \"/var/run/netns/{name}\": No such file or directory"
            )));
        };
        self.netns_ids.retain(|(a, b), _| *a != ns && *b != ns);
        for link in gone.links.values() {
            if let Some((peer_ns, peer_idx)) = link.peer() {
                if let Some(p) = self.namespaces.get_mut(peer_ns) {
                    p.remove_link(*peer_idx);
                }
            }
        }
        Ok(String::new())
    }

    /// `ip link add NAME type veth peer name PEER`: like Linux's veth_newlink, the peer is
    /// registered first, so it gets the lower ifindex (container `eth0@if5` is index 4).
    fn veth_add(&mut self, ns: &NsRef, name: &str, peer: &str) -> Result<String, OpError> {
        let a_mac = self.random_mac();
        let b_mac = self.random_mac();
        let n = self.existing_ns(ns)?;
        n.ensure_free_name(name)?;
        n.ensure_free_name(peer)?;
        let peer_idx = n.add_link(peer, LinkKind::Veth { peer: None }, b_mac);
        let idx = n.add_link(name, LinkKind::Veth { peer: Some((ns.clone(), peer_idx)) }, a_mac);
        n.link_mut(peer_idx).kind = LinkKind::Veth { peer: Some((ns.clone(), idx)) };
        Ok(String::new())
    }

    /// `ip link set NAME netns TARGET`: the device keeps its ifindex when free there
    /// (as Linux does), and its peer's back-reference follows it.
    fn move_link(&mut self, ns: &NsRef, name: &str, target: &NsRef) -> Result<String, OpError> {
        if !self.namespaces.contains_key(target) {
            return Err(OpError(format!("Invalid \"netns\" value \"{target}\"")));
        }
        let src = self.existing_ns(ns)?;
        let idx = src.ifindex(name).ok_or_else(|| OpError(no_device(name)))?;
        let mut link = src.remove_link(idx).expect("looked up above");
        let dst = self.ns_mut(target);
        link.up = false;
        link.master = None;
        let new_idx = dst.insert_moved_link(link);
        let refers_to = dst.link(new_idx).link_netns().cloned();
        self.alloc_netnsid(ns, target);
        if let Some(other) = refers_to.filter(|o| o != target) {
            self.alloc_netnsid(target, &other);
        }
        let peer = self.ns_mut(target).link(new_idx).peer().cloned();
        if let Some((peer_ns, peer_idx)) = peer {
            let back = LinkKind::Veth { peer: Some((target.clone(), new_idx)) };
            self.ns_mut(&peer_ns).link_mut(peer_idx).kind = back;
        }
        Ok(String::new())
    }

    /// The id `ns` has given `peer`, if any. Like Linux's peernet2id_alloc, a namespace
    /// gives a peer an id when a device moves from it to the peer (the move's notification
    /// names the new namespace) and when a device arrives that refers to the peer (a veth's
    /// peer, a VXLAN device's socket: its `link-netnsid`). Ids are the lowest free number
    /// from 0 and die with the peer. A namespace nothing has referred to has none.
    pub fn netnsid(&self, ns: &NsRef, peer: &NsRef) -> Option<u32> {
        self.netns_ids.get(&(ns.clone(), peer.clone())).copied()
    }

    fn alloc_netnsid(&mut self, ns: &NsRef, peer: &NsRef) {
        let key = (ns.clone(), peer.clone());
        if ns == peer || self.netns_ids.contains_key(&key) {
            return;
        }
        let used: Vec<u32> =
            self.netns_ids.iter().filter(|((a, _), _)| a == ns).map(|(_, id)| *id).collect();
        let id = (0..).find(|i| !used.contains(i)).expect("u32 ids outnumber namespaces");
        self.netns_ids.insert(key, id);
    }

    /// `ip link delete NAME`: a veth takes its peer with it, wherever the peer lives, and
    /// a device takes the macvlan and VLAN devices stacked on it.
    fn link_del(&mut self, ns: &NsRef, name: &str) -> Result<String, OpError> {
        let n = self.existing_ns(ns)?;
        let idx = n.ifindex(name).ok_or_else(|| OpError(no_device(name)))?;
        let link = n.remove_link(idx).expect("looked up above");
        if let Some((peer_ns, peer_idx)) = link.peer() {
            if let Some(p) = self.namespaces.get_mut(peer_ns) {
                p.remove_link(*peer_idx);
            }
        }
        self.remove_uppers(ns, idx);
        Ok(String::new())
    }

    /// A random locally administered unicast MAC, as the kernel gives new veths and bridges.
    fn random_mac(&mut self) -> MacAddr {
        let mut b = [0u8; 6];
        for byte in b.iter_mut() {
            *byte = self.rng.range_u64(0, 256) as u8;
        }
        b[0] = (b[0] & 0xfe) | 0x02;
        MacAddr(b)
    }
}

/// iproute2's text for a missing device.
pub(crate) fn no_device(name: &str) -> String {
    format!("Cannot find device \"{name}\"")
}
