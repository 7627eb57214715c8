//! The topology the HTML report draws: the scenario's machines (Docker hosts and
//! externals), their network namespaces (the host's, containers' and tasks', the swarm's
//! `lb_…` and `ingress_sbox`, the overlays' `1-…`), the devices in them with their addresses,
//! which veth ends pair up, which bridge each port is enslaved to, where each VXLAN device
//! tunnels to, and the underlay LANs the NICs are plugged into.
//!
//! Contract: a `Topology` is a plain snapshot of a `World`, taken by [`Topology::of`] without
//! changing it; the runner offers it one after every step and keeps the busiest (the most
//! devices, the latest of equals), because the labs end by cleaning up and the world at the
//! end of a run is often nearly empty. Loopback devices are left out. [`Topology::svg`]
//! draws it (see `topology_svg`); the same snapshot always gives the same bytes.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::docker::Daemon;
use crate::engine::World;
use crate::fabric::Port;
use crate::kernel::{Link, LinkKind, Netns, NsRef};

/// The ingress network's load-balancer namespace, as libnetwork names it.
const INGRESS_SBOX: &str = "ingress_sbox";

/// The machines and LANs as they stood after one step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// The scenario line of the step after which the snapshot was taken (0: before any).
    pub line: usize,
    pub machines: Vec<MachineView>,
    /// The underlay LANs: name and what the picture says about it (its subnet).
    pub underlay: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineView {
    pub name: String,
    pub namespaces: Vec<NsView>,
}

/// What a namespace is there for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NsKind {
    /// The machine's initial namespace.
    Host,
    /// An overlay network's `1-…` namespace: its bridge and VXLAN device.
    Overlay,
    /// A container's or a swarm task's sandbox.
    Container,
    /// A swarm load balancer: `lb_…` or `ingress_sbox`.
    LoadBalancer,
    /// Any other named namespace (`ip netns add`).
    Named,
}

impl NsKind {
    /// Endpoints (containers, load balancers, named namespaces) are drawn above the
    /// namespaces that hold the plumbing (the host's and the overlays').
    pub fn is_plumbing(self) -> bool {
        matches!(self, NsKind::Host | NsKind::Overlay)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsView {
    /// The namespace as hops name it: `(host)`, `1-3d6ddd35f0`, `lb_x5ctdzrhf`, a sandbox key.
    pub key: String,
    /// What a reader calls it: the container's name, `overlay red-overlay`, `host`.
    pub label: String,
    pub kind: NsKind,
    pub devices: Vec<DevView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevView {
    pub name: String,
    pub addrs: Vec<Ipv4Net>,
    pub kind: DevKind,
    /// The bridge the device is a port of, by name.
    pub master: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevKind {
    /// A veth end and its peer (namespace key, device name), if it still has one.
    Veth(Option<(String, String)>),
    Bridge,
    /// A NIC and the LAN it is plugged into.
    Ethernet(Option<String>),
    /// A VXLAN device: its VNI and the remote VTEPs its FDB sends to.
    Vxlan {
        vni: u32,
        remotes: Vec<Ipv4Addr>,
    },
    /// A device stacked on a lower one (a macvlan, an 802.1Q VLAN): what it is, e.g.
    /// `macvlan on eth0` or `vlan 10 on eth0`.
    Stacked(String),
}

impl Topology {
    /// The world's `machines` (by index, in this order) after the step on `line`, with the
    /// underlay LANs (name, subnet) they are plugged into.
    pub fn of(
        world: &World,
        machines: &[usize],
        underlay: &[(String, Ipv4Net)],
        line: usize,
    ) -> Self {
        let machines: Vec<MachineView> = machines.iter().map(|&m| machine_view(world, m)).collect();
        let used = |seg: &str| {
            machines
                .iter()
                .flat_map(|m| &m.namespaces)
                .flat_map(|n| &n.devices)
                .any(|d| matches!(&d.kind, DevKind::Ethernet(Some(s)) if s == seg))
        };
        let mut lans: Vec<(String, String)> =
            underlay.iter().map(|(name, net)| (name.clone(), net.to_string())).collect();
        if used("internet") {
            lans.push(("internet".to_string(), String::new()));
        }
        lans.retain(|(name, _)| used(name));
        Topology { line, machines, underlay: lans }
    }

    /// How many devices the picture shows: the runner keeps the busiest snapshot.
    pub fn size(&self) -> usize {
        self.machines.iter().flat_map(|m| &m.namespaces).map(|n| n.devices.len()).sum()
    }

    /// The machine owning underlay address `ip` (a NIC's), by index.
    pub fn owner_of(&self, ip: Ipv4Addr) -> Option<usize> {
        self.machines.iter().position(|m| {
            m.namespaces.iter().flat_map(|n| &n.devices).any(|d| {
                matches!(d.kind, DevKind::Ethernet(_)) && d.addrs.iter().any(|a| a.addr() == ip)
            })
        })
    }
}

fn machine_view(world: &World, index: usize) -> MachineView {
    let m = &world.machines[index];
    let namespaces = m
        .kernel
        .namespaces
        .values()
        .map(|ns| {
            let (label, kind) = ns_label(m.daemon.as_ref(), &ns.name);
            let devices = ns
                .links
                .values()
                .filter(|l| l.kind != LinkKind::Loopback)
                .map(|l| dev_view(world, index, ns, l))
                .collect();
            NsView { key: ns.name.to_string(), label, kind, devices }
        })
        .filter(|n: &NsView| n.kind == NsKind::Host || !n.devices.is_empty())
        .collect();
    MachineView { name: m.name.clone(), namespaces }
}

/// What a namespace is, from its name and the daemon's containers and networks.
fn ns_label(daemon: Option<&Daemon>, ns: &NsRef) -> (String, NsKind) {
    let NsRef::Named(key) = ns else { return ("host".to_string(), NsKind::Host) };
    let network = |prefix: &str| {
        daemon
            .and_then(|d| d.networks().find(|n| n.id.starts_with(prefix)))
            .map_or_else(|| prefix.to_string(), |n| n.name.clone())
    };
    if key == INGRESS_SBOX {
        return (key.clone(), NsKind::LoadBalancer);
    }
    if let Some(id) = key.strip_prefix("lb_") {
        return (format!("lb {}", network(id)), NsKind::LoadBalancer);
    }
    if let Some(id) = key.strip_prefix("1-") {
        return (format!("overlay {}", network(id)), NsKind::Overlay);
    }
    let container = daemon
        .and_then(|d| d.containers().find(|c| c.sandbox.as_ref().is_some_and(|s| &s.key == key)));
    match container {
        Some(c) => (c.name.clone(), NsKind::Container),
        None => (key.clone(), NsKind::Named),
    }
}

fn dev_view(world: &World, machine: usize, ns: &Netns, link: &Link) -> DevView {
    let kind = match &link.kind {
        LinkKind::Veth { peer } => DevKind::Veth(peer.as_ref().map(|(peer_ns, idx)| {
            let peer_dev =
                world.machines[machine].kernel.ns(peer_ns).and_then(|n| n.links.get(idx));
            (peer_ns.to_string(), peer_dev.map_or_else(String::new, |l| l.name.clone()))
        })),
        LinkKind::Bridge(_) => DevKind::Bridge,
        LinkKind::Ethernet => {
            let port = Port { machine, ifindex: link.ifindex };
            DevKind::Ethernet(world.fabric.segment_of(port).map(str::to_string))
        }
        LinkKind::Vxlan(vx) => {
            let mut remotes: Vec<Ipv4Addr> = vx.fdb.values().map(|e| e.dst).collect();
            remotes.sort();
            remotes.dedup();
            DevKind::Vxlan { vni: vx.vni, remotes }
        }
        LinkKind::Macvlan(m) => {
            DevKind::Stacked(format!("macvlan on {}", lower(world, machine, &m.lower)))
        }
        LinkKind::Vlan(v) => {
            DevKind::Stacked(format!("vlan {} on {}", v.id, lower(world, machine, &v.lower)))
        }
        LinkKind::Loopback => unreachable!("loopback devices are filtered out"),
    };
    DevView {
        name: link.name.clone(),
        addrs: ns.addrs.iter().filter(|a| a.dev == link.ifindex).map(|a| a.net).collect(),
        kind,
        master: link.master.and_then(|m| ns.links.get(&m)).map(|b| b.name.clone()),
    }
}

/// The name of a stacked device's lower device.
fn lower(world: &World, machine: usize, (ns, ifindex): &(NsRef, u32)) -> String {
    let kernel = &world.machines[machine].kernel;
    kernel.ns(ns).and_then(|n| n.links.get(ifindex)).map_or_else(String::new, |l| l.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Machine, RunLimits, Streams};
    use crate::kernel::{Kernel, KernelOp};

    /// One host: `docker0` with a veth port whose peer is `eth0` of namespace `c1`.
    fn world() -> World {
        let mut k = Kernel::new("h", Streams::new(1).stream("h"));
        let c1 = NsRef::named("c1");
        let ops = [
            KernelOp::BridgeAdd { ns: NsRef::Root, name: "docker0".into() },
            KernelOp::AddrAdd {
                ns: NsRef::Root,
                dev: "docker0".into(),
                addr: "172.17.0.1/16".parse().unwrap(),
            },
            KernelOp::NetnsAdd { name: "c1".into() },
            KernelOp::VethAdd { ns: NsRef::Root, name: "vethA".into(), peer: "eth0".into() },
            KernelOp::LinkSetNetns { ns: NsRef::Root, name: "eth0".into(), target: c1.clone() },
            KernelOp::LinkSetMaster {
                ns: NsRef::Root,
                name: "vethA".into(),
                master: "docker0".into(),
            },
            KernelOp::AddrAdd {
                ns: c1,
                dev: "eth0".into(),
                addr: "172.17.0.2/16".parse().unwrap(),
            },
        ];
        for op in &ops {
            k.apply(op).unwrap();
        }
        let mut w = World::new(RunLimits::default());
        w.machines.push(Machine::new("h", k, vec![]));
        w
    }

    #[test]
    fn a_snapshot_names_namespaces_devices_peers_and_masters() {
        let t = Topology::of(&world(), &[0], &[], 7);
        assert_eq!(t.line, 7);
        assert_eq!(t.size(), 3);
        let m = &t.machines[0];
        assert_eq!(m.name, "h");
        let host = &m.namespaces[0];
        assert_eq!(
            (host.key.as_str(), host.label.as_str(), host.kind),
            ("(host)", "host", NsKind::Host)
        );
        assert_eq!(
            host.devices[0],
            DevView {
                name: "docker0".into(),
                addrs: vec!["172.17.0.1/16".parse().unwrap()],
                kind: DevKind::Bridge,
                master: None,
            }
        );
        assert_eq!(
            host.devices[1],
            DevView {
                name: "vethA".into(),
                addrs: vec![],
                kind: DevKind::Veth(Some(("c1".into(), "eth0".into()))),
                master: Some("docker0".into()),
            }
        );
        let c1 = &m.namespaces[1];
        assert_eq!((c1.key.as_str(), c1.kind), ("c1", NsKind::Named));
        assert_eq!(c1.devices[0].kind, DevKind::Veth(Some(("(host)".into(), "vethA".into()))));
        assert!(t.underlay.is_empty(), "no NIC, so no LAN");
    }

    #[test]
    fn the_picture_marks_every_device_and_draws_the_veth_pair_once() {
        let t = Topology::of(&world(), &[0], &[], 1);
        let svg = t.svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"topology\""));
        for key in ["h|(host)|docker0", "h|(host)|vethA", "h|c1|eth0"] {
            assert!(svg.contains(&format!("data-dev=\"{key}\"")), "{key} not drawn");
        }
        assert!(svg.contains("data-ns=\"h|c1\""));
        assert!(svg.contains(">172.17.0.2/16</text>"));
        assert_eq!(svg.matches("class=\"tp-wire\"").count(), 1);
        assert_eq!(svg.matches("class=\"tp-tick\"").count(), 1, "vethA hangs on docker0");
        assert_eq!(svg, t.svg());
    }
}
