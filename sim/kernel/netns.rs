//! One network namespace: its devices, addresses, routes, neighbours, netfilter and sockets.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::frag::FragState;
use super::ipvs::Ipvs;
use super::link::{Bridge, Link, LinkKind};
use super::neigh::{NeighState, Neighbours};
use super::netfilter::Netfilter;
use super::route::{Route, RouteProto, RoutingTable};
use super::socket::Sockets;
use super::xfrm::Xfrm;
use super::{no_device, KernelOp, NsRef, OpError};
use crate::wire::MacAddr;

/// An address on a device (`inet 172.17.0.1/16 … docker0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub dev: u32,
    pub net: Ipv4Net,
}

pub struct Netns {
    pub name: NsRef,
    pub links: IndexMap<u32, Link>,
    pub addrs: Vec<IfAddr>,
    pub routes: RoutingTable,
    pub neigh: Neighbours,
    pub netfilter: Netfilter,
    pub sysctls: BTreeMap<String, String>,
    pub sockets: Sockets,
    /// IPsec SAs and policies (`ip xfrm`).
    pub xfrm: Xfrm,
    /// Reassembly queues and learnt path MTUs.
    pub frag: FragState,
    /// IPVS services and connections (`ipvsadm`).
    pub ipvs: Ipvs,
    next_ifindex: u32,
}

impl Netns {
    /// A new namespace holds only `lo` (down, as in `ip netns add`; the root's is up).
    pub fn new(name: NsRef) -> Self {
        let mut ns = Netns {
            name: name.clone(),
            links: IndexMap::new(),
            addrs: Vec::new(),
            routes: RoutingTable::default(),
            neigh: Neighbours::default(),
            netfilter: Netfilter::new(),
            sysctls: BTreeMap::new(),
            sockets: Sockets::default(),
            xfrm: Xfrm::default(),
            frag: FragState::default(),
            ipvs: Ipvs::default(),
            next_ifindex: 1,
        };
        let lo = ns.add_link("lo", LinkKind::Loopback, MacAddr::ZERO);
        ns.addrs.push(IfAddr { dev: lo, net: "127.0.0.1/8".parse().expect("valid") });
        if name == NsRef::Root {
            ns.link_mut(lo).up = true;
        }
        ns
    }

    pub fn link(&self, ifindex: u32) -> &Link {
        &self.links[&ifindex]
    }

    pub fn link_mut(&mut self, ifindex: u32) -> &mut Link {
        self.links.get_mut(&ifindex).expect("ifindex of a live link")
    }

    pub fn ifindex(&self, name: &str) -> Option<u32> {
        self.links.values().find(|l| l.name == name).map(|l| l.ifindex)
    }

    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.values().find(|l| l.name == name)
    }

    pub(super) fn ensure_free_name(&self, name: &str) -> Result<(), OpError> {
        match self.ifindex(name) {
            Some(_) => Err(OpError("RTNETLINK answers: File exists".to_string())),
            None => Ok(()),
        }
    }

    pub(super) fn add_link(&mut self, name: &str, kind: LinkKind, mac: MacAddr) -> u32 {
        let ifindex = self.next_ifindex;
        self.next_ifindex += 1;
        self.links.insert(ifindex, Link::new(ifindex, name, kind, mac));
        ifindex
    }

    /// Keeps the moved device's ifindex unless taken here.
    pub(super) fn insert_moved_link(&mut self, mut link: Link) -> u32 {
        if self.links.contains_key(&link.ifindex) {
            link.ifindex = self.next_ifindex;
        }
        self.next_ifindex = self.next_ifindex.max(link.ifindex + 1);
        let idx = link.ifindex;
        self.links.insert(idx, link);
        self.links.sort_keys();
        idx
    }

    /// Removes a device with its addresses, routes, neighbours and bridge state.
    pub(super) fn remove_link(&mut self, ifindex: u32) -> Option<Link> {
        let link = self.links.shift_remove(&ifindex)?;
        self.addrs.retain(|a| a.dev != ifindex);
        self.routes.remove_dev(ifindex);
        self.neigh.remove_dev(ifindex);
        for other in self.links.values_mut() {
            if other.master == Some(ifindex) {
                other.master = None;
            }
            if let Some(br) = other.bridge_mut() {
                br.forget_port(ifindex);
            }
        }
        Some(link)
    }

    /// `ip addr add`: also installs the connected route, as the kernel does.
    pub(super) fn add_addr(&mut self, dev: u32, net: Ipv4Net) {
        self.addrs.push(IfAddr { dev, net });
        if net.prefix_len() < 32 {
            self.routes.add(Route {
                dst: net.trunc(),
                via: None,
                dev,
                proto: RouteProto::Kernel,
                src: Some(net.addr()),
            });
        }
    }

    /// Removes an address and the subnet route it brought.
    fn del_addr(&mut self, dev: u32, net: Ipv4Net) -> Result<(), OpError> {
        let at = self.addrs.iter().position(|a| a.dev == dev && a.net == net);
        let at =
            at.ok_or_else(|| OpError("RTNETLINK answers: Cannot assign requested address".into()))?;
        self.addrs.remove(at);
        let subnet = |r: &Route| r.proto == RouteProto::Kernel && r.src == Some(net.addr());
        self.routes.routes.retain(|r| !(subnet(r) && r.dst == net.trunc() && r.dev == dev));
        Ok(())
    }

    /// Every address of this namespace (what `-m addrtype --dst-type LOCAL` calls local).
    pub fn local_addrs(&self) -> Vec<Ipv4Addr> {
        self.addrs.iter().map(|a| a.net.addr()).collect()
    }

    /// True for this namespace's addresses, the loopback range and subnet broadcasts.
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        ip.is_loopback() || self.addrs.iter().any(|a| a.net.addr() == ip || is_bcast(a, ip))
    }

    /// The first address of a device: its source for ARP, MASQUERADE and new connections.
    pub fn primary_addr(&self, dev: u32) -> Option<Ipv4Addr> {
        self.addrs.iter().find(|a| a.dev == dev).map(|a| a.net.addr())
    }

    /// The source address Linux picks to reach `dst`: the route's `src`, else the output
    /// device's primary address.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.is_local(dst) {
            return Some(if dst.is_loopback() { Ipv4Addr::LOCALHOST } else { dst });
        }
        let route = self.routes.lookup(dst)?;
        route.src.or_else(|| self.primary_addr(route.dev))
    }

    pub fn sysctl(&self, key: &str) -> Option<&str> {
        self.sysctls.get(key).map(String::as_str)
    }

    pub fn ip_forward(&self) -> bool {
        self.sysctl("net.ipv4.ip_forward") == Some("1")
    }

    /// Links enslaved to `bridge`, in ifindex order.
    pub fn bridge_ports(&self, bridge: u32) -> Vec<u32> {
        self.links.values().filter(|l| l.master == Some(bridge)).map(|l| l.ifindex).collect()
    }

    /// The device-level ops (`ip link …`, `ip addr`, `ip route`, `sysctl`).
    pub(super) fn apply_link_op(&mut self, op: &KernelOp) -> Result<(), OpError> {
        match op {
            KernelOp::BridgeAdd { name, .. } => {
                self.ensure_free_name(name)?;
                self.add_link(name, LinkKind::Bridge(Bridge::default()), MacAddr::ZERO);
            }
            KernelOp::LinkRename { name, new_name, .. } => {
                self.ensure_free_name(new_name)?;
                self.named_mut(name)?.name = new_name.clone();
            }
            KernelOp::LinkSetMac { name, mac, .. } => {
                let link = self.named_mut(name)?;
                link.mac = *mac;
                if let LinkKind::Bridge(b) = &mut link.kind {
                    b.mac_set = true;
                }
            }
            KernelOp::LinkSetMtu { name, mtu, .. } => {
                let link = self.named_mut(name)?;
                link.mtu = *mtu;
                if let LinkKind::Bridge(b) = &mut link.kind {
                    b.mtu_set = true;
                }
            }
            KernelOp::LinkSetMaster { name, master, .. } => self.set_master(name, master)?,
            KernelOp::LinkUp { name, .. } => self.named_mut(name)?.up = true,
            KernelOp::AddrAdd { dev, addr, .. } => {
                let idx = self.ifindex(dev).ok_or_else(|| OpError(no_device(dev)))?;
                self.add_addr(idx, *addr);
            }
            KernelOp::AddrDel { dev, addr, .. } => {
                let idx = self.ifindex(dev).ok_or_else(|| OpError(no_device(dev)))?;
                self.del_addr(idx, *addr)?;
            }
            KernelOp::RouteAdd { dst, via, dev, .. } => {
                let idx = self.ifindex(dev).ok_or_else(|| OpError(no_device(dev)))?;
                let route =
                    Route { dst: *dst, via: *via, dev: idx, proto: RouteProto::Boot, src: None };
                self.routes.add(route);
            }
            KernelOp::NeighAdd { dev, ip, mac, .. } => {
                let idx = self.ifindex(dev).ok_or_else(|| OpError(no_device(dev)))?;
                self.neigh.entries.insert((idx, *ip), NeighState::Permanent { mac: *mac });
            }
            KernelOp::NeighDel { dev, ip, .. } => {
                let idx = self.ifindex(dev).ok_or_else(|| OpError(no_device(dev)))?;
                if self.neigh.entries.shift_remove(&(idx, *ip)).is_none() {
                    return Err(OpError("RTNETLINK answers: No such file or directory".into()));
                }
            }
            KernelOp::FdbAdd { dev, mac, dst, .. } => self.vxlan_fdb(dev, *mac, *dst, true)?,
            KernelOp::FdbDel { dev, mac, dst, .. } => self.vxlan_fdb(dev, *mac, *dst, false)?,
            KernelOp::Sysctl { key, value, .. } => {
                self.sysctls.insert(key.clone(), value.clone());
            }
            other => unreachable!("not a device-level op: {other:?}"),
        }
        Ok(())
    }

    fn named_mut(&mut self, name: &str) -> Result<&mut Link, OpError> {
        self.links.values_mut().find(|l| l.name == name).ok_or_else(|| OpError(no_device(name)))
    }

    fn set_master(&mut self, name: &str, master: &str) -> Result<(), OpError> {
        let br = self.ifindex(master).ok_or_else(|| OpError(no_device(master)))?;
        if self.link(br).bridge().is_none() {
            return Err(OpError("RTNETLINK answers: Operation not supported".to_string()));
        }
        self.named_mut(name)?.master = Some(br);
        self.adopt_port_settings(br);
        Ok(())
    }

    /// A bridge whose MAC or MTU nobody set takes the lowest port MAC and the smallest
    /// port MTU, as Linux recomputes them when a port is added.
    fn adopt_port_settings(&mut self, br: u32) {
        let ports: Vec<(MacAddr, u32)> =
            self.bridge_ports(br).iter().map(|p| (self.link(*p).mac, self.link(*p).mtu)).collect();
        let link = self.links.get_mut(&br).expect("the bridge exists");
        let LinkKind::Bridge(b) = &link.kind else { return };
        if !b.mac_set {
            link.mac = ports.iter().map(|p| p.0).min().unwrap_or(link.mac);
        }
        if !b.mtu_set {
            link.mtu = ports.iter().map(|p| p.1).min().unwrap_or(link.mtu);
        }
    }
}

fn is_bcast(a: &IfAddr, ip: Ipv4Addr) -> bool {
    a.net.prefix_len() < 31 && a.net.broadcast() == ip
}
