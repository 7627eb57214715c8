//! macvlan devices (`ip link add NAME link PARENT type macvlan mode bridge`).
//!
//! Contract: a macvlan device has its own MAC on a lower device (an Ethernet NIC or a VLAN
//! sub-interface) and keeps that lower device when it moves to another namespace, as
//! Docker moves it into a container. What it sends leaves through the lower device, except
//! in bridge mode, where a unicast frame for a sibling (another bridge-mode macvlan on the
//! same lower device) goes straight to it and a broadcast or multicast frame reaches every
//! sibling as well as the wire (`macvlan_queue_xmit`). A frame arriving on the lower device
//! goes to the macvlan device whose MAC it is for; broadcast and multicast go to every one
//! of them and to the lower device's own stack (`macvlan_handle_frame`). The lower device
//! never delivers what it sends to its own macvlan devices, so the host cannot reach its
//! containers through the parent, as on Linux. Private, VEPA and passthru modes send
//! everything out through the lower device; reflecting it back is the switch's business,
//! and the simulated LAN does not hairpin.

use std::fmt;

use crate::wire::{EthernetFrame, MacAddr};

use super::link::LinkKind;
use super::walk::{Action, Stage, Walk};
use super::{no_device, Kernel, NsRef, OpError};

/// The four macvlan modes (`ip link … type macvlan mode MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
}

impl fmt::Display for MacvlanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Passthru => "passthru",
        })
    }
}

impl std::str::FromStr for MacvlanMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "private" => Ok(MacvlanMode::Private),
            "vepa" => Ok(MacvlanMode::Vepa),
            "bridge" => Ok(MacvlanMode::Bridge),
            "passthru" => Ok(MacvlanMode::Passthru),
            other => Err(format!("unknown macvlan mode: {other}")),
        }
    }
}

/// A macvlan device's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macvlan {
    /// The lower device: its namespace and interface index.
    pub lower: (NsRef, u32),
    pub mode: MacvlanMode,
}

/// A macvlan device on some lower device, as the demultiplexer sees it.
struct Port {
    ns: NsRef,
    ifindex: u32,
    mac: MacAddr,
    mode: MacvlanMode,
}

impl Kernel {
    /// `ip link add NAME link PARENT type macvlan mode MODE`: a random MAC, the parent's
    /// MTU.
    pub(super) fn macvlan_add(
        &mut self,
        ns: &NsRef,
        name: &str,
        parent: &str,
        mode: MacvlanMode,
    ) -> Result<String, OpError> {
        let mac = self.random_mac();
        let n = self.existing_ns(ns)?;
        let lower = n.ifindex(parent).ok_or_else(|| OpError(no_device(parent)))?;
        n.ensure_free_name(name)?;
        let mtu = n.link(lower).mtu;
        let kind = LinkKind::Macvlan(Macvlan { lower: (ns.clone(), lower), mode });
        let idx = n.add_link(name, kind, mac);
        n.link_mut(idx).mtu = mtu;
        Ok(String::new())
    }

    /// The up macvlan devices on `lower` of `ns`, wherever they live now.
    fn macvlan_ports(&self, ns: &NsRef, lower: u32) -> Vec<Port> {
        let key = (ns.clone(), lower);
        let mut ports = Vec::new();
        for (n_ref, n) in &self.namespaces {
            for link in n.links.values().filter(|l| l.up) {
                if let LinkKind::Macvlan(m) = &link.kind {
                    if m.lower == key {
                        let (ifindex, mac, mode) = (link.ifindex, link.mac, m.mode);
                        ports.push(Port { ns: n_ref.clone(), ifindex, mac, mode });
                    }
                }
            }
        }
        ports
    }

    /// A macvlan device sends: to bridge-mode siblings inside the host, out through the
    /// lower device otherwise (and for broadcast and multicast, both).
    pub(super) fn macvlan_xmit(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev: u32,
        frame: EthernetFrame,
    ) {
        let link = self.ns(ns).expect("live").link(dev);
        let LinkKind::Macvlan(m) = &link.kind else { unreachable!("called for macvlan devices") };
        let ((lower_ns, lower), mode, name) = (m.lower.clone(), m.mode, link.name.clone());
        w.out.push(Action::Seen { ns: ns.clone(), ifindex: dev, frame: frame.clone() });
        if mode == MacvlanMode::Bridge {
            let siblings: Vec<Port> = self
                .macvlan_ports(&lower_ns, lower)
                .into_iter()
                .filter(|p| p.mode == MacvlanMode::Bridge && !(p.ns == *ns && p.ifindex == dev))
                .collect();
            if !frame.dst.is_multicast() {
                if let Some(p) = siblings.into_iter().find(|p| p.mac == frame.dst) {
                    w.hop(
                        ns,
                        &name,
                        Stage::Bridge,
                        format!("macvlan bridge: {} is a sibling", p.mac),
                    );
                    return self.macvlan_deliver(w, &p, frame);
                }
            } else {
                for p in &siblings {
                    self.macvlan_deliver(w, p, frame.clone());
                }
            }
        }
        w.hop(ns, &name, Stage::Tx, format!("macvlan {mode}: out through the lower device"));
        self.transmit(w, &lower_ns, lower, frame);
    }

    /// A frame arrived on `dev`, which may be a macvlan lower device: the frame goes to the
    /// macvlan device it is for, and is returned when the lower device's own stack should
    /// see it too (not for a macvlan device; broadcast and multicast always).
    pub(super) fn macvlan_rcv(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev: u32,
        frame: EthernetFrame,
    ) -> Option<EthernetFrame> {
        let ports = self.macvlan_ports(ns, dev);
        if ports.is_empty() {
            return Some(frame);
        }
        if frame.dst.is_multicast() {
            for p in &ports {
                self.macvlan_deliver(w, p, frame.clone());
            }
            return Some(frame);
        }
        match ports.iter().find(|p| p.mac == frame.dst) {
            Some(p) => {
                self.macvlan_deliver(w, p, frame);
                None
            }
            None => Some(frame),
        }
    }

    /// Hands a frame to macvlan device `p` as if it had arrived on it: a new namespace, so a
    /// fresh skb state (`dev_forward_skb` scrubs it).
    fn macvlan_deliver(&mut self, w: &mut Walk, p: &Port, frame: EthernetFrame) {
        let (mark, conntrack) = (w.mark, w.conntrack_id);
        w.scrub();
        w.out.push(Action::Seen { ns: p.ns.clone(), ifindex: p.ifindex, frame: frame.clone() });
        self.device_input(w, &p.ns, p.ifindex, frame);
        (w.mark, w.conntrack_id) = (mark, conntrack);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::engine::{SimTime, Streams};
    use crate::kernel::{views, Hop, KernelOp};
    use crate::wire::{EtherPayload, IcmpRepr, IpPayload, Ipv4Packet};

    const ETH0: MacAddr = MacAddr([0x08, 0, 0x27, 0x85, 0x8e, 0x95]);
    const ROUTER: MacAddr = MacAddr([0x52, 0x54, 0, 0x12, 0x35, 0x02]);
    const C1: MacAddr = MacAddr([2, 0x42, 0xc0, 0xa8, 10, 2]);
    const C2: MacAddr = MacAddr([2, 0x42, 0xc0, 0xa8, 10, 3]);
    const C3: MacAddr = MacAddr([2, 0x42, 0xc0, 0xa8, 0, 3]);

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// A container's macvlan as Docker plumbs it: made on `parent`, moved, renamed `eth0`.
    fn container(k: &mut Kernel, ns: &str, parent: &str, mac: MacAddr, addr: &str) {
        let (root, c) = (NsRef::Root, NsRef::named(ns));
        let tmp = format!("veth{ns}");
        let eth0 = || "eth0".to_string();
        for op in [
            KernelOp::NetnsAdd { name: ns.into() },
            KernelOp::MacvlanAdd {
                ns: root.clone(),
                name: tmp.clone(),
                parent: parent.into(),
                mode: MacvlanMode::Bridge,
            },
            KernelOp::LinkSetNetns { ns: root, name: tmp.clone(), target: c.clone() },
            KernelOp::LinkRename { ns: c.clone(), name: tmp, new_name: eth0() },
            KernelOp::LinkSetMac { ns: c.clone(), name: eth0(), mac },
            KernelOp::AddrAdd { ns: c.clone(), dev: eth0(), addr: addr.parse().unwrap() },
            KernelOp::LinkUp { ns: c, name: eth0() },
        ] {
            k.apply(&op).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
    }

    /// eth0 (192.168.0.2) with eth0.10; c1 and c2 on eth0.10, c3 on eth0.
    fn host() -> Kernel {
        let mut k = Kernel::new("host-a", Streams::new(1).stream("k"));
        k.add_ethernet("eth0", ETH0, "192.168.0.2/24".parse().unwrap(), None);
        let vlan = KernelOp::VlanAdd {
            ns: NsRef::Root,
            name: "eth0.10".into(),
            parent: "eth0".into(),
            id: 10,
        };
        k.apply(&vlan).unwrap();
        k.apply(&KernelOp::LinkUp { ns: NsRef::Root, name: "eth0.10".into() }).unwrap();
        container(&mut k, "c1", "eth0.10", C1, "192.168.10.2/24");
        container(&mut k, "c2", "eth0.10", C2, "192.168.10.3/24");
        container(&mut k, "c3", "eth0", C3, "192.168.0.3/24");
        k
    }

    fn neigh(k: &mut Kernel, ns: NsRef, at: &str, mac: MacAddr) {
        k.apply(&KernelOp::NeighAdd { ns, dev: "eth0".into(), ip: ip(at), mac }).unwrap();
    }

    fn echo(src: (MacAddr, &str), dst: (MacAddr, &str)) -> EthernetFrame {
        let icmp = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; 56] };
        let pkt = Ipv4Packet {
            src: ip(src.1),
            dst: ip(dst.1),
            ttl: 64,
            ident: 9,
            dont_fragment: true,
            payload: IpPayload::Icmp(icmp),
        };
        EthernetFrame { dst: dst.0, src: src.0, payload: EtherPayload::Ipv4(pkt) }
    }

    /// Frames put on the wire (device, VLAN, destination MAC) and the hops, for a frame
    /// arriving on `dev` of `ns`.
    fn run(k: &mut Kernel, ns: &NsRef, dev: &str, frame: EthernetFrame) -> (Vec<String>, String) {
        let idx = k.ns(ns).unwrap().ifindex(dev).unwrap();
        let mut out = Vec::new();
        k.handle_frame(SimTime::ZERO, ns, idx, 1, frame, &mut out);
        let (mut tx, mut hops) = (Vec::new(), String::new());
        for a in out {
            match a {
                Action::Transmit { ns, ifindex, frame, .. } => {
                    let name = &k.ns(&ns).unwrap().link(ifindex).name;
                    tx.push(format!("{name} vlan {:?} to {}", frame.vlan(), frame.dst));
                }
                Action::Hop(Hop { ns, stage, detail, .. }) => {
                    hops += &format!("{ns} {stage}: {detail}\n");
                }
                _ => {}
            }
        }
        (tx, hops)
    }

    #[test]
    fn tagged_frames_reach_their_vlans_macvlan_and_replies_leave_tagged() {
        let mut k = host();
        neigh(&mut k, NsRef::named("c1"), "192.168.10.1", ROUTER);
        let request = echo((ROUTER, "192.168.10.1"), (C1, "192.168.10.2")).tagged(10);
        let (tx, hops) = run(&mut k, &NsRef::Root, "eth0", request.clone());
        assert_eq!(tx, ["eth0 vlan Some(10) to 52:54:00:12:35:02"], "{hops}");
        assert!(hops.contains("(host) rx: 802.1Q: vlan 10 -> eth0.10\n"), "{hops}");
        assert!(hops.contains("c1 deliver: local 192.168.10.2\n"), "{hops}");
        // VLAN 20 is not on this host.
        let other = echo((ROUTER, "192.168.20.1"), (C1, "192.168.10.2")).tagged(20);
        let (tx, hops) = run(&mut k, &NsRef::Root, "eth0", other);
        assert!(tx.is_empty());
        assert!(hops.ends_with("(host) DROP: 802.1Q: no vlan 20 on eth0\n"), "{hops}");
    }

    #[test]
    fn bridge_mode_siblings_talk_inside_the_host() {
        let mut k = host();
        neigh(&mut k, NsRef::named("c1"), "192.168.10.3", C2);
        // c1 answers c2's echo request straight to c2, never through eth0.
        let request = echo((C2, "192.168.10.3"), (C1, "192.168.10.2"));
        let (tx, hops) = run(&mut k, &NsRef::named("c1"), "eth0", request);
        assert!(tx.is_empty(), "{tx:?}");
        assert!(hops.contains("c1 bridge: macvlan bridge: 02:42:c0:a8:0a:03 is a sibling\n"));
        assert!(hops.contains("c2 deliver: local 192.168.10.3\n"), "{hops}");
    }

    #[test]
    fn the_parent_cannot_reach_its_macvlans() {
        let mut k = host();
        neigh(&mut k, NsRef::Root, "192.168.0.3", C3);
        // The host answers c3 out through eth0, onto the LAN: c3 never sees the reply.
        let request = echo((C3, "192.168.0.3"), (ETH0, "192.168.0.2"));
        let (tx, hops) = run(&mut k, &NsRef::Root, "eth0", request);
        assert_eq!(tx, ["eth0 vlan None to 02:42:c0:a8:00:03"]);
        assert!(!hops.contains("c3 "), "{hops}");
    }

    #[test]
    fn a_container_lists_its_macvlan_by_the_lower_ifindex() {
        let k = host();
        let c1 = NsRef::named("c1");
        assert_eq!(
            views::ip_addr(&k, &c1, true, Some("eth0")).unwrap(),
            "4: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP \
             group default qlen 1000\n    \
             link/ether 02:42:c0:a8:0a:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n    \
             inet 192.168.10.2/24 brd 192.168.10.255 scope global eth0\n       \
             valid_lft forever preferred_lft forever\n"
        );
        let details = views::link_details(&k, &c1, "eth0").unwrap();
        assert_eq!(details, "    macvlan mode bridge bcqueuelen 1000 usedbcqueuelen 1000 \n");
        // Deleting eth0.10 takes c1's and c2's interfaces with it.
        let mut k = k;
        k.apply(&KernelOp::LinkDel { ns: NsRef::Root, name: "eth0.10".into() }).unwrap();
        assert!(k.ns(&c1).unwrap().ifindex("eth0").is_none());
        assert!(k.ns(&NsRef::named("c3")).unwrap().ifindex("eth0").is_some());
    }
}
