//! VXLAN devices: Linux's `vxlan` driver, as Docker's overlay driver uses it.
//!
//! Contract, following drivers/net/vxlan (`vxlan_xmit`, `arp_reduce`, `vxlan_rcv`):
//! - A device belongs to the namespace it was created in for its UDP socket
//!   ([`Vxlan::socket_ns`]), wherever the device itself is moved: Docker creates it in the
//!   host's namespace and moves it into the overlay namespace, and the tunnel traffic
//!   still leaves and arrives in the host's namespace, through its routes and iptables.
//! - Transmit (a frame the bridge hands to the device): with `proxy`, ARP never leaves —
//!   a request for an address with a neighbour entry on the device is answered locally
//!   (the reply enters the device as if received), anything else is dropped (an `l3miss`
//!   would be reported to user space; the simulator records it in the walk). Other frames
//!   look up their destination MAC in the device's own FDB (then the all-zeros default
//!   entry); a hit is encapsulated towards that tunnel endpoint from the socket
//!   namespace's source address, a miss is dropped (`l2miss`).
//! - Receive: a UDP datagram to the port of an up device whose socket lives in this
//!   namespace is taken by the tunnel instead of a socket; the VNI picks the device, the
//!   source MAC is learned (`learning`) and the inner frame enters the device.
//! - The outer packet: TTL from `ip_default_ttl` (`ttl auto`), DF clear (`df unset`),
//!   UDP checksum computed (`udpcsum`), source port from [`flow_src_port`].
//!
//! The miss notifications themselves (netlink `RTM_GETNEIGH`) are not modelled: Docker in
//! swarm mode does not consume them.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::engine::{SimDuration, SimTime};
use crate::wire::{
    flow_src_port, ArpOp, ArpRepr, EtherPayload, EthernetFrame, IpPayload, Ipv4Packet, MacAddr,
    UdpDatagram, UdpPayload, VxlanPacket,
};

use super::link::LinkKind;
use super::walk::{Stage, Walk};
use super::{no_device, Kernel, NsRef, OpError, VxlanConfig};

/// The VXLAN FDB's default ageing time for learned entries (`ageing 300`).
pub const VXLAN_AGEING_TIME: SimDuration = SimDuration::from_secs(300);

/// A VXLAN device's configuration and forwarding database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vxlan {
    pub vni: u32,
    pub dstport: u16,
    pub learning: bool,
    pub proxy: bool,
    pub l2miss: bool,
    pub l3miss: bool,
    /// Where the device was created: its UDP socket's namespace.
    pub socket_ns: NsRef,
    pub fdb: IndexMap<MacAddr, VxlanFdbEntry>,
}

/// Where frames for one MAC are tunnelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanFdbEntry {
    pub dst: Ipv4Addr,
    /// Added with `permanent`; otherwise learned, and aged out.
    pub permanent: bool,
    pub updated: SimTime,
}

impl Vxlan {
    fn new(config: &VxlanConfig, socket_ns: NsRef) -> Vxlan {
        Vxlan {
            vni: config.vni,
            dstport: config.dstport,
            learning: config.learning,
            proxy: config.proxy,
            l2miss: config.l2miss,
            l3miss: config.l3miss,
            socket_ns,
            fdb: IndexMap::new(),
        }
    }

    /// The tunnel endpoint for `dst`: its own entry, else the all-zeros default entry.
    pub fn lookup(&self, now: SimTime, dst: MacAddr) -> Option<Ipv4Addr> {
        let live = |e: &&VxlanFdbEntry| e.permanent || now.since(e.updated) < VXLAN_AGEING_TIME;
        let entry = self.fdb.get(&dst).filter(live);
        entry.or_else(|| self.fdb.get(&MacAddr::ZERO).filter(live)).map(|e| e.dst)
    }

    /// `vxlan_snoop`: learns or moves `mac` to the endpoint `from`; permanent entries stay.
    pub fn learn(&mut self, now: SimTime, mac: MacAddr, from: Ipv4Addr) {
        if mac.is_multicast() || self.fdb.get(&mac).is_some_and(|e| e.permanent) {
            return;
        }
        self.fdb.insert(mac, VxlanFdbEntry { dst: from, permanent: false, updated: now });
    }
}

impl Kernel {
    /// `ip link add NAME … type vxlan …` in `ns`, which becomes the socket namespace.
    pub(super) fn vxlan_add(
        &mut self,
        ns: &NsRef,
        name: &str,
        config: &VxlanConfig,
    ) -> Result<String, OpError> {
        if config.vni > VxlanPacket::MAX_VNI {
            return Err(OpError(format!(
                "Error: argument \"{}\" is wrong: invalid id",
                config.vni
            )));
        }
        let taken = self.namespaces.values().flat_map(|n| n.links.values()).any(|l| {
            l.vxlan().is_some_and(|v| {
                v.socket_ns == *ns && v.vni == config.vni && v.dstport == config.dstport
            })
        });
        if taken {
            return Err(OpError(
                "Error: A VXLAN device with the specified VNI already exists.".to_string(),
            ));
        }
        let mac = self.random_mac();
        let n = self.existing_ns(ns)?;
        n.ensure_free_name(name)?;
        let idx = n.add_link(name, LinkKind::Vxlan(Vxlan::new(config, ns.clone())), mac);
        if let Some(mtu) = config.mtu {
            n.link_mut(idx).mtu = mtu;
        }
        Ok(String::new())
    }

    /// True when an up VXLAN device has its socket on UDP `port` in `ns`.
    pub(super) fn vxlan_listens(&self, ns: &NsRef, port: u16) -> bool {
        self.vxlan_devices(ns, port).next().is_some()
    }

    /// Up VXLAN devices whose socket is UDP `port` in `ns`: (device namespace, ifindex, VNI).
    fn vxlan_devices<'a>(
        &'a self,
        ns: &'a NsRef,
        port: u16,
    ) -> impl Iterator<Item = (NsRef, u32, u32)> + 'a {
        self.namespaces.iter().flat_map(move |(dev_ns, n)| {
            n.links.values().filter_map(move |l| {
                let v = l.vxlan()?;
                (l.up && v.socket_ns == *ns && v.dstport == port)
                    .then(|| (dev_ns.clone(), l.ifindex, v.vni))
            })
        })
    }

    /// `vxlan_xmit`: the bridge (or the stack) hands `frame` to VXLAN device `dev`.
    pub(super) fn vxlan_xmit(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, frame: EthernetFrame) {
        let link = self.ns(ns).expect("live").link(dev);
        let (name, vx) = (link.name.clone(), link.vxlan().expect("a VXLAN device").clone());
        if vx.proxy {
            if let EtherPayload::Arp(arp) = &frame.payload {
                return self.arp_reduce(w, ns, dev, &vx, arp.clone());
            }
        }
        let Some(vtep) = vx.lookup(w.now, frame.dst) else {
            let miss = if vx.l2miss { " (l2miss)" } else { "" };
            return w.hop(
                ns,
                &name,
                Stage::Drop,
                format!("VXLAN FDB miss for {}{miss}", frame.dst),
            );
        };
        self.vxlan_encap(w, &name, &vx, vtep, frame);
    }

    /// `arp_reduce`: answers a request from the device's neighbour table; every ARP packet
    /// ends here, answered or not.
    fn arp_reduce(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, vx: &Vxlan, arp: ArpRepr) {
        let n = self.ns(ns).expect("live");
        let name = n.link(dev).name.clone();
        if arp.op != ArpOp::Request {
            return w.hop(ns, &name, Stage::Drop, "proxy: ARP reply not forwarded");
        }
        let Some(mac) = n.neigh.mac(dev, arp.target_ip) else {
            let miss = if vx.l3miss { " (l3miss)" } else { "" };
            let detail = format!("proxy: no neighbour for {}{miss}", arp.target_ip);
            return w.hop(ns, &name, Stage::Drop, detail);
        };
        w.hop(ns, &name, Stage::Arp, format!("proxy: {} is-at {mac}", arp.target_ip));
        self.device_input(w, ns, dev, arp.reply_frame(mac));
    }

    /// Wraps `frame` for `vtep` and sends it from the socket namespace, as a new packet
    /// there (no mark, no conntrack entry: `skb_scrub_packet` across namespaces).
    fn vxlan_encap(
        &mut self,
        w: &mut Walk,
        dev_name: &str,
        vx: &Vxlan,
        vtep: Ipv4Addr,
        frame: EthernetFrame,
    ) {
        let sock_ns = vx.socket_ns.clone();
        let Some(src) = self.ns(&sock_ns).and_then(|n| n.source_for(vtep)) else {
            return w.hop(&sock_ns, dev_name, Stage::Drop, format!("no route to VTEP {vtep}"));
        };
        let sport = flow_src_port(&frame, self.flow_hash_seed);
        let detail = format!("encap VNI {} {src}:{sport} -> {vtep}:{}", vx.vni, vx.dstport);
        w.hop(&sock_ns, dev_name, Stage::Encap, detail);
        let udp = UdpDatagram {
            src_port: sport,
            dst_port: vx.dstport,
            payload: UdpPayload::Vxlan(VxlanPacket::new(vx.vni, frame)),
        };
        let pkt = Ipv4Packet {
            src,
            dst: vtep,
            ttl: self.default_ttl(&sock_ns),
            ident: self.rng().range_u64(0, 65536) as u16,
            dont_fragment: false,
            payload: IpPayload::Udp(udp),
        };
        w.scrub();
        self.ip_output(w, &sock_ns, pkt);
    }

    /// `vxlan_rcv`: a datagram for a VXLAN socket of `ns`.
    pub(super) fn vxlan_rcv(&mut self, w: &mut Walk, ns: &NsRef, pkt: Ipv4Packet) {
        let IpPayload::Udp(udp) = pkt.payload else { unreachable!("only UDP reaches VXLAN") };
        let UdpPayload::Vxlan(vxlan) = udp.payload else {
            return w.hop(ns, "-", Stage::Drop, "VXLAN socket: not a VXLAN packet");
        };
        let found = self.vxlan_devices(ns, udp.dst_port).find(|(_, _, vni)| *vni == vxlan.vni);
        let Some((dev_ns, dev, _)) = found else {
            let detail = format!("VXLAN socket: no device for VNI {}", vxlan.vni);
            return w.hop(ns, "-", Stage::Drop, detail);
        };
        let inner = *vxlan.inner;
        let link = self.ns_mut(&dev_ns).link_mut(dev);
        let name = link.name.clone();
        let vx = link.vxlan_mut().expect("found as a VXLAN device");
        if vx.learning {
            vx.learn(w.now, inner.src, pkt.src);
        }
        let detail = format!(
            "decap VNI {} {}:{} -> {}:{}",
            vxlan.vni, pkt.src, udp.src_port, pkt.dst, udp.dst_port
        );
        w.hop(&dev_ns, &name, Stage::Decap, detail);
        w.scrub();
        self.device_input(w, &dev_ns, dev, inner);
    }
}

impl super::Netns {
    /// `bridge fdb add|del … self` on a VXLAN device.
    pub(super) fn vxlan_fdb(
        &mut self,
        dev: &str,
        mac: MacAddr,
        dst: Ipv4Addr,
        add: bool,
    ) -> Result<(), OpError> {
        let idx = self.ifindex(dev).ok_or_else(|| OpError(no_device(dev)))?;
        let not_supported = || OpError("RTNETLINK answers: Operation not supported".to_string());
        let vx = self.link_mut(idx).vxlan_mut().ok_or_else(not_supported)?;
        let existing = vx.fdb.get(&mac).copied();
        match (add, existing) {
            (true, Some(e)) if e.permanent => {
                Err(OpError("RTNETLINK answers: File exists".to_string()))
            }
            (true, _) => {
                vx.fdb.insert(mac, VxlanFdbEntry { dst, permanent: true, updated: SimTime::ZERO });
                Ok(())
            }
            (false, Some(e)) if e.dst == dst => {
                vx.fdb.shift_remove(&mac);
                Ok(())
            }
            (false, _) => Err(OpError("RTNETLINK answers: No such file or directory".to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;
    use crate::kernel::views::{self, FdbFilter};
    use crate::kernel::{Action, Hop, KernelOp};
    use crate::wire::IcmpRepr;

    const C1: MacAddr = MacAddr([2, 0x42, 10, 0, 1, 3]);
    const C2: MacAddr = MacAddr([2, 0x42, 10, 0, 1, 4]);
    const IP1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 3);
    const IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 4);
    const VTEP2: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 5);

    fn ov() -> NsRef {
        NsRef::named("1-3d6ddd35f0")
    }

    /// One host of an overlay: vxlan0 made in the root namespace and moved into the overlay
    /// namespace's br0, a port veth0 for the local container, and the remote peer C2.
    fn host() -> Kernel {
        let mut k = Kernel::new("h1", Streams::new(1).stream("h1"));
        let nic = MacAddr([0xce, 8, 0x0c, 0x63, 0x15, 0xd0]);
        k.add_ethernet("eth0", nic, "172.16.24.4/24".parse().unwrap(), None);
        let s = |x: &str| x.to_string();
        let ops = [
            KernelOp::NetnsAdd { name: s("1-3d6ddd35f0") },
            KernelOp::BridgeAdd { ns: ov(), name: s("br0") },
            KernelOp::VxlanAdd {
                ns: NsRef::Root,
                name: s("vx"),
                config: VxlanConfig::docker(4097, 1450),
            },
            KernelOp::LinkSetNetns { ns: NsRef::Root, name: s("vx"), target: ov() },
            KernelOp::LinkRename { ns: ov(), name: s("vx"), new_name: s("vxlan0") },
            KernelOp::VethAdd { ns: ov(), name: s("veth0"), peer: s("tmp0") },
            KernelOp::LinkSetMtu { ns: ov(), name: s("veth0"), mtu: 1450 },
            KernelOp::NeighAdd { ns: ov(), dev: s("vxlan0"), ip: IP2, mac: C2 },
            KernelOp::FdbAdd { ns: ov(), dev: s("vxlan0"), mac: C2, dst: VTEP2 },
            KernelOp::NeighAdd {
                ns: NsRef::Root,
                dev: s("eth0"),
                ip: VTEP2,
                mac: MacAddr([0xaa, 0xa4, 0xc1, 0x5a, 0x11, 0x9f]),
            },
        ];
        for op in ops.iter().chain(&["vxlan0", "veth0"].map(|d| KernelOp::LinkSetMaster {
            ns: ov(),
            name: s(d),
            master: s("br0"),
        })) {
            k.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
        for d in ["br0", "vxlan0", "veth0", "tmp0"] {
            k.apply(&KernelOp::LinkUp { ns: ov(), name: s(d) }).unwrap();
        }
        k
    }

    fn ifindex(k: &Kernel, ns: &NsRef, name: &str) -> u32 {
        k.ns(ns).unwrap().ifindex(name).unwrap()
    }

    /// The frames the kernel transmits, by device name, and its hops' details.
    fn run(
        k: &mut Kernel,
        ns: &NsRef,
        dev: &str,
        frame: EthernetFrame,
    ) -> (Vec<(String, EthernetFrame)>, Vec<String>) {
        let mut out = Vec::new();
        let idx = ifindex(k, ns, dev);
        k.handle_frame(SimTime::ZERO, ns, idx, 1, frame, &mut out);
        let mut tx = Vec::new();
        let mut hops = Vec::new();
        for a in out {
            match a {
                Action::Transmit { ns, ifindex, frame, .. } => {
                    tx.push((k.ns(&ns).unwrap().link(ifindex).name.clone(), frame))
                }
                Action::Hop(Hop { stage, detail, .. }) => hops.push(format!("{stage}: {detail}")),
                _ => {}
            }
        }
        (tx, hops)
    }

    fn echo(dst: MacAddr, size: usize) -> EthernetFrame {
        let icmp = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; size] };
        let ip = Ipv4Packet {
            src: IP1,
            dst: IP2,
            ttl: 64,
            ident: 9,
            dont_fragment: true,
            payload: IpPayload::Icmp(icmp),
        };
        EthernetFrame { dst, src: C1, payload: EtherPayload::Ipv4(ip) }
    }

    #[test]
    fn proxy_answers_arp_from_the_neighbour_table() {
        let mut k = host();
        let request = ArpRepr {
            op: ArpOp::Request,
            sender_mac: C1,
            sender_ip: IP1,
            target_mac: MacAddr::ZERO,
            target_ip: IP2,
        };
        let frame =
            EthernetFrame { dst: MacAddr::BROADCAST, src: C1, payload: EtherPayload::Arp(request) };
        let (tx, hops) = run(&mut k, &ov(), "veth0", frame);
        assert!(
            hops.contains(&"arp: proxy: 10.0.1.4 is-at 02:42:0a:00:01:04".to_string()),
            "{hops:#?}"
        );
        assert_eq!(tx.len(), 1, "{tx:?}");
        assert_eq!(tx[0].0, "veth0");
        assert_eq!(tx[0].1.to_string(), "ARP, Reply 10.0.1.4 is-at 02:42:0a:00:01:04, length 28");
        // No neighbour: nothing leaves, the miss is recorded.
        let other = ArpRepr {
            op: ArpOp::Request,
            sender_mac: C1,
            sender_ip: IP1,
            target_mac: MacAddr::ZERO,
            target_ip: Ipv4Addr::new(10, 0, 1, 9),
        };
        let frame =
            EthernetFrame { dst: MacAddr::BROADCAST, src: C1, payload: EtherPayload::Arp(other) };
        let (tx, hops) = run(&mut k, &ov(), "veth0", frame);
        assert!(tx.is_empty(), "{tx:?}");
        assert!(
            hops.contains(&"DROP: proxy: no neighbour for 10.0.1.9 (l3miss)".to_string()),
            "{hops:#?}"
        );
    }

    #[test]
    fn known_macs_are_encapsulated_from_the_root_namespace() {
        let mut k = host();
        let (tx, hops) = run(&mut k, &ov(), "veth0", echo(C2, 56));
        let port = flow_src_port(&echo(C2, 56), k.flow_hash_seed);
        let encap = format!("encap: encap VNI 4097 172.16.24.4:{port} -> 172.16.24.5:4789");
        assert!(hops.contains(&encap), "{hops:#?}");
        assert_eq!(tx.len(), 1);
        assert_eq!(tx[0].0, "eth0");
        assert_eq!(
            tx[0].1.to_string(),
            format!("IP 172.16.24.4.{port} > 172.16.24.5.4789: VXLAN, flags [I] (0x08), vni 4097\nIP 10.0.1.3 > 10.0.1.4: ICMP echo request, id 1, seq 1, length 64")
        );
        // 98-byte inner frame + 50 bytes of VXLAN overhead.
        assert_eq!(tx[0].1.buffer_len(), 148);
    }

    #[test]
    fn misses_and_oversized_frames_are_dropped() {
        let mut k = host();
        let unknown = MacAddr([2, 0x42, 10, 0, 1, 9]);
        let (tx, hops) = run(&mut k, &ov(), "veth0", echo(unknown, 56));
        assert!(tx.iter().all(|(dev, _)| dev != "eth0"), "{tx:?}");
        assert!(
            hops.contains(&"DROP: VXLAN FDB miss for 02:42:0a:00:01:09 (l2miss)".to_string()),
            "{hops:#?}"
        );
        // A 1451-byte IP packet does not fit vxlan0's 1450: the bridge drops it.
        let (tx, hops) = run(&mut k, &ov(), "veth0", echo(C2, 1451 - 28));
        assert!(tx.is_empty(), "{tx:?}");
        assert!(hops.contains(&"DROP: 1451-byte packet exceeds MTU 1450".to_string()), "{hops:#?}");
    }

    fn from_vtep2(vni: u32, inner: EthernetFrame) -> EthernetFrame {
        let udp = UdpDatagram {
            src_port: 46145,
            dst_port: 4789,
            payload: UdpPayload::Vxlan(VxlanPacket::new(vni, inner)),
        };
        let ip = Ipv4Packet {
            src: VTEP2,
            dst: Ipv4Addr::new(172, 16, 24, 4),
            ttl: 64,
            ident: 1,
            dont_fragment: false,
            payload: IpPayload::Udp(udp),
        };
        let nic = k_nic();
        EthernetFrame {
            dst: nic,
            src: MacAddr([0xaa, 0xa4, 0xc1, 0x5a, 0x11, 0x9f]),
            payload: EtherPayload::Ipv4(ip),
        }
    }

    fn k_nic() -> MacAddr {
        MacAddr([0xce, 8, 0x0c, 0x63, 0x15, 0xd0])
    }

    #[test]
    fn received_packets_are_decapsulated_and_their_sources_learned() {
        let mut k = host();
        let stranger = MacAddr([2, 0x42, 10, 0, 1, 7]);
        let inner = EthernetFrame { src: stranger, ..echo(C1, 8) };
        let (tx, hops) = run(&mut k, &NsRef::Root, "eth0", from_vtep2(4097, inner.clone()));
        assert!(
            hops.contains(
                &"decap: decap VNI 4097 172.16.24.5:46145 -> 172.16.24.4:4789".to_string()
            ),
            "{hops:#?}"
        );
        assert_eq!(tx, [("veth0".to_string(), inner)]);
        let dev = FdbFilter { bridge: None, dev: Some("vxlan0".into()) };
        let fdb = views::bridge_fdb(&k, &ov(), SimTime::ZERO, &dev).unwrap();
        let own = k.ns(&ov()).unwrap().link_by_name("vxlan0").unwrap().mac;
        assert_eq!(
            fdb,
            format!(
                "02:42:0a:00:01:07 master br0 \n{own} master br0 permanent\n\
                 02:42:0a:00:01:04 dst 172.16.24.5 link-netnsid 0 self permanent\n\
                 02:42:0a:00:01:07 dst 172.16.24.5 link-netnsid 0 self \n"
            )
        );
        // Another VNI has no device here.
        let (tx, hops) = run(&mut k, &NsRef::Root, "eth0", from_vtep2(4098, echo(C1, 8)));
        assert!(tx.is_empty());
        assert!(
            hops.contains(&"DROP: VXLAN socket: no device for VNI 4098".to_string()),
            "{hops:#?}"
        );
    }

    #[test]
    fn views_and_duplicate_vnis() {
        let mut k = host();
        let link = views::ip_addr(&k, &ov(), false, Some("vxlan0")).unwrap();
        let first = link.lines().next().unwrap();
        assert!(first.ends_with(": vxlan0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue master br0 state UNKNOWN mode DEFAULT group default qlen 1000"), "{link}");
        assert!(
            link.lines().nth(1).unwrap().ends_with(" brd ff:ff:ff:ff:ff:ff link-netnsid 0"),
            "{link}"
        );
        assert_eq!(
            views::vxlan_details(&k, &ov(), "vxlan0").unwrap(),
            "    vxlan id 4097 srcport 0 0 dstport 4789 proxy l2miss l3miss ttl auto ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx \n"
        );
        assert_eq!(
            views::ip_neigh(&k, &ov(), Some("vxlan0")).unwrap(),
            "10.0.1.4 lladdr 02:42:0a:00:01:04 PERMANENT \n"
        );
        assert_eq!(
            views::ip_neigh(&k, &ov(), None).unwrap(),
            "10.0.1.4 dev vxlan0 lladdr 02:42:0a:00:01:04 PERMANENT \n"
        );
        let again = KernelOp::VxlanAdd {
            ns: NsRef::Root,
            name: "vx2".into(),
            config: VxlanConfig::docker(4097, 1450),
        };
        assert_eq!(
            k.apply(&again).unwrap_err().0,
            "Error: A VXLAN device with the specified VNI already exists."
        );
        let dup = KernelOp::FdbAdd { ns: ov(), dev: "vxlan0".into(), mac: C2, dst: VTEP2 };
        assert_eq!(k.apply(&dup).unwrap_err().0, "RTNETLINK answers: File exists");
    }
}
