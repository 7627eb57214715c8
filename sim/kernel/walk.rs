//! The packet walk: what one machine's kernel does with a frame or a locally generated
//! packet, hop by hop, as Linux does it.
//!
//! ```text
//! rx on dev ─► bridge port? ─► learn, FDB ─► forward to port (br_netfilter: PREROUTING,
//!     │                                      FORWARD, POSTROUTING on the bridge) ─► tx
//!     ▼ (for us)
//!   ARP ─► answer for any local address; learn the sender
//!   IPv4 ─► PREROUTING ─► route ─► local? INPUT ─► socket / ICMP echo
//!                               │      (mangle, filter ─► IPVS? DNAT to a real server ─►
//!                               │       OUTPUT ─► POSTROUTING; else nat, confirm, deliver)
//!                               └► ip_forward? FORWARD ─► IPVS reply? source := VIP ─►
//!                                  POSTROUTING ─► neighbour ─► tx
//! socket ─► route ─► OUTPUT ─► (re-route after DNAT) ─► POSTROUTING ─► neighbour ─► tx
//! tx on a vxlan device ─► proxy ARP / VXLAN FDB ─► encap ─► socket namespace's output
//! tx on a macvlan/VLAN device ─► sibling (macvlan bridge mode) or the lower device (tagged)
//! rx of a tagged frame ─► its VLAN device; rx on a macvlan lower ─► the macvlan by dst MAC
//! UDP to a VXLAN socket ─► decap ─► rx on the vxlan device
//! after POSTROUTING ─► xfrm out policy? ESP-seal ─► neighbour ─► tx
//! ESP to a local address ─► xfrm state (dst, SPI) ─► decrypt ─► PREROUTING again
//! ```
//! MTUs, as Linux: a bridge drops a frame whose IP packet is larger than the egress port's
//! MTU (`br_dev_queue_push_xmit`). A routed packet larger than the egress device's MTU (for
//! local output, the path MTU learnt from ICMP) is fragmented if DF is clear
//! (`ip_do_fragment`); with DF set, `ip_forward` answers ICMP "fragmentation needed" with
//! the MTU before FORWARD and the TTL decrement, and local output does the same towards
//! itself. Fragments are reassembled before PREROUTING where conntrack runs
//! (`nf_defrag_ipv4`), otherwise only for local delivery, before INPUT
//! (`ip_local_deliver`); a reassembled packet that is forwarded leaves refragmented to at
//! most its largest fragment's size. An ICMP "fragmentation needed" addressed here lowers
//! the path MTU towards the destination it quotes. VXLAN sends its outer packets with DF
//! clear (the driver's default `df unset`), so they too are fragmented if need be.
//! Every step pushes a `Hop` so reports can replay the packet's trip.

use std::fmt;
use std::net::Ipv4Addr;

use crate::engine::SimTime;
use crate::wire::{
    ArpOp, ArpRepr, EtherPayload, EthernetFrame, IcmpRepr, IpPayload, Ipv4Packet, MacAddr,
};

use super::link::{FdbDecision, LinkKind};
use super::neigh::ARP_RETRANS;
use super::netfilter::{Hook, HookCtx, HookOutcome, HookPart, PacketMeta};
use super::socket::SocketEvent;
use super::{Kernel, NsRef};

/// The stage of the walk a hop records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Rx,
    Tx,
    Bridge,
    Arp,
    Netfilter,
    Route,
    Deliver,
    /// A VXLAN device wraps a frame for a remote tunnel endpoint.
    Encap,
    /// A VXLAN socket unwraps a frame for its device.
    Decap,
    /// Fragmentation on the way out, reassembly on the way in.
    Frag,
    Drop,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Rx => "rx",
            Stage::Tx => "tx",
            Stage::Bridge => "bridge",
            Stage::Arp => "arp",
            Stage::Netfilter => "netfilter",
            Stage::Route => "route",
            Stage::Deliver => "deliver",
            Stage::Encap => "encap",
            Stage::Decap => "decap",
            Stage::Frag => "frag",
            Stage::Drop => "DROP",
        })
    }
}

/// One step of one packet's trip through a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub at: SimTime,
    pub packet: u64,
    pub ns: NsRef,
    pub dev: String,
    pub stage: Stage,
    pub detail: String,
}

/// Timers the kernel asks the world to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelTimer {
    /// Resend an ARP request or give up on the neighbour.
    ArpRetry { ns: NsRef, dev: u32, ip: Ipv4Addr },
    /// Resend a SYN that got no answer.
    SynRetry { ns: NsRef, sock: super::SockId },
}

/// What the kernel asks of the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A frame leaves device `ifindex` (a veth, the NIC, or loopback).
    Transmit {
        ns: NsRef,
        ifindex: u32,
        packet: u64,
        frame: EthernetFrame,
    },
    Hop(Hop),
    Socket(SocketEvent),
    Timer {
        at: SimTime,
        timer: KernelTimer,
    },
    /// A frame passed a bridge device's own port (what `tcpdump -i docker0` sees), or a
    /// macvlan or VLAN device sent or received it (they hand frames on without a wire).
    Seen {
        ns: NsRef,
        ifindex: u32,
        frame: EthernetFrame,
    },
}

/// Context threaded through one walk.
///
/// A walk covers one packet inside one namespace, so it also carries the skb state that
/// lives exactly that long: the mark and the conntrack entry (a veth crossing into another
/// namespace scrubs both, as Linux's `skb_scrub_packet` does).
pub(super) struct Walk<'a> {
    pub now: SimTime,
    pub packet: u64,
    pub out: &'a mut Vec<Action>,
    pub mark: u32,
    pub conntrack_id: Option<u64>,
    /// For a reassembled packet, its largest fragment (`IPCB(skb)->frag_max_size`).
    pub frag_max_size: Option<usize>,
    /// IPVS handled the packet (`skb->ipvs_property`, for `-m ipvs`).
    pub ipvs_property: bool,
}

impl<'a> Walk<'a> {
    pub fn new(now: SimTime, packet: u64, out: &'a mut Vec<Action>) -> Self {
        Walk {
            now,
            packet,
            out,
            mark: 0,
            conntrack_id: None,
            frag_max_size: None,
            ipvs_property: false,
        }
    }
}

impl Walk<'_> {
    /// The walk goes on with a new skb (a reply, an error, an encapsulation, a
    /// decapsulation): no mark, no conntrack entry, no fragment history.
    pub fn scrub(&mut self) {
        (self.mark, self.conntrack_id, self.frag_max_size) = (0, None, None);
        self.ipvs_property = false;
    }

    pub fn hop(&mut self, ns: &NsRef, dev: &str, stage: Stage, detail: impl Into<String>) {
        self.out.push(Action::Hop(Hop {
            at: self.now,
            packet: self.packet,
            ns: ns.clone(),
            dev: dev.to_string(),
            stage,
            detail: detail.into(),
        }));
    }
}

impl Kernel {
    /// A frame arrived on device `ifindex` of namespace `ns`.
    pub fn handle_frame(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        ifindex: u32,
        packet: u64,
        frame: EthernetFrame,
        out: &mut Vec<Action>,
    ) {
        self.saw(now);
        let mut w = Walk::new(now, packet, out);
        self.device_input(&mut w, ns, ifindex, frame);
    }

    /// A frame enters the stack on a device: from the wire, or from a VXLAN device
    /// (decapsulated, or a proxy ARP reply).
    pub(super) fn device_input(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        ifindex: u32,
        frame: EthernetFrame,
    ) {
        let Some(n) = self.namespaces.get_mut(ns) else { return };
        let Some(link) = n.links.get_mut(&ifindex) else { return };
        link.stats.rx_packets += 1;
        link.stats.rx_bytes += frame.buffer_len() as u64;
        let (name, up, master) = (link.name.clone(), link.up, link.master);
        if !up {
            w.hop(ns, &name, Stage::Drop, "device is down");
            return;
        }
        w.hop(ns, &name, Stage::Rx, frame.to_string());
        let Some(frame) = self.vlan_rcv(w, ns, ifindex, frame) else { return };
        let Some(frame) = self.macvlan_rcv(w, ns, ifindex, frame) else { return };
        match master {
            Some(br) => self.bridge_input(w, ns, br, ifindex, frame),
            None => self.l2_input(w, ns, ifindex, frame),
        }
    }

    /// A kernel timer fired.
    pub fn handle_timer(&mut self, now: SimTime, timer: KernelTimer, out: &mut Vec<Action>) {
        self.saw(now);
        match timer {
            KernelTimer::ArpRetry { ns, dev, ip } => self.arp_retry(now, &ns, dev, ip, out),
            KernelTimer::SynRetry { ns, sock } => self.syn_retry(now, &ns, sock, out),
        }
    }

    fn bridge_input(&mut self, w: &mut Walk, ns: &NsRef, br: u32, port: u32, frame: EthernetFrame) {
        let n = self.ns_mut(ns);
        let br_link = n.link_mut(br);
        let (br_name, br_mac) = (br_link.name.clone(), br_link.mac);
        let bridge = br_link.bridge_mut().expect("master is a bridge");
        bridge.learn(w.now, frame.src, port);
        let decision = bridge.lookup(w.now, frame.dst, br_mac);
        match decision {
            FdbDecision::Local => {
                w.hop(
                    ns,
                    &br_name,
                    Stage::Bridge,
                    format!("FDB: {} is the bridge itself", frame.dst),
                );
                self.l2_input(w, ns, br, frame);
            }
            FdbDecision::Port(p) if p == port => {
                w.hop(ns, &br_name, Stage::Drop, "FDB: destination is on the ingress port");
            }
            FdbDecision::Port(p) => {
                let to = self.ns(ns).expect("live").link(p).name.clone();
                w.hop(ns, &br_name, Stage::Bridge, format!("FDB hit {} -> {to}", frame.dst));
                self.bridge_forward(w, ns, br, port, p, frame);
            }
            FdbDecision::Flood => self.bridge_flood(w, ns, br, Some(port), frame),
        }
    }

    /// Floods to every port but `ingress`; multicast also goes up the bridge's own stack.
    fn bridge_flood(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        br: u32,
        ingress: Option<u32>,
        frame: EthernetFrame,
    ) {
        let n = self.ns(ns).expect("live");
        let br_name = n.link(br).name.clone();
        let ports: Vec<u32> =
            n.bridge_ports(br).into_iter().filter(|p| Some(*p) != ingress).collect();
        let names: Vec<String> = ports.iter().map(|p| n.link(*p).name.clone()).collect();
        w.hop(
            ns,
            &br_name,
            Stage::Bridge,
            format!("flood {} to [{}]", frame.dst, names.join(", ")),
        );
        for p in ports {
            self.bridge_forward(w, ns, br, ingress.unwrap_or(br), p, frame.clone());
        }
        if frame.dst.is_multicast() && ingress.is_some() {
            self.l2_input(w, ns, br, frame);
        }
    }

    /// Bridged IPv4 traverses iptables (br_netfilter, which Docker loads) with the bridge as
    /// both `-i` and `-o`.
    fn bridge_forward(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        br: u32,
        from: u32,
        to: u32,
        mut frame: EthernetFrame,
    ) {
        if let EtherPayload::Ipv4(pkt) = &mut frame.payload {
            if from != br && !self.bridged_hooks(w, ns, br, pkt) {
                return;
            }
        }
        let port = self.ns(ns).expect("live").link(to);
        if frame.payload.buffer_len() > port.mtu as usize {
            let (name, mtu) = (port.name.clone(), port.mtu);
            let len = frame.payload.buffer_len();
            return w.hop(ns, &name, Stage::Drop, format!("{len}-byte packet exceeds MTU {mtu}"));
        }
        self.transmit(w, ns, to, frame);
    }

    fn bridged_hooks(&mut self, w: &mut Walk, ns: &NsRef, br: u32, pkt: &mut Ipv4Packet) -> bool {
        let n = self.ns(ns).expect("live");
        if n.sysctl("net.bridge.bridge-nf-call-iptables") != Some("1") {
            return true;
        }
        let br_name = n.link(br).name.clone();
        let hooks = [Hook::Prerouting, Hook::Forward, Hook::Postrouting];
        hooks.into_iter().all(|hook| {
            let (inn, outt) = match hook {
                Hook::Prerouting => (Some(br), None),
                Hook::Postrouting => (None, Some(br)),
                _ => (Some(br), Some(br)),
            };
            self.run_hook(w, ns, hook, pkt, inn, outt, &br_name)
        })
    }

    /// A frame for this namespace's own stack on device `dev`.
    fn l2_input(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, frame: EthernetFrame) {
        let link = self.ns(ns).expect("live").link(dev);
        let name = link.name.clone();
        if let Some(vid) = frame.vlan() {
            // No VLAN device took it (see vlan.rs): this host is not in that VLAN.
            return w.hop(ns, &name, Stage::Drop, format!("802.1Q: no vlan {vid} on {name}"));
        }
        let for_us =
            frame.dst == link.mac || frame.dst.is_multicast() || link.kind == LinkKind::Loopback;
        if !for_us {
            w.hop(ns, &name, Stage::Drop, format!("not for us ({})", frame.dst));
            return;
        }
        if link.bridge().is_some() {
            w.out.push(Action::Seen { ns: ns.clone(), ifindex: dev, frame: frame.clone() });
        }
        match frame.payload {
            EtherPayload::Arp(arp) => self.arp_input(w, ns, dev, arp),
            EtherPayload::Ipv4(pkt) => self.ip_input(w, ns, dev, pkt),
            EtherPayload::Vlan(_) => unreachable!("tagged frames are dropped above"),
        }
    }

    fn arp_input(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, arp: ArpRepr) {
        let n = self.ns_mut(ns);
        let name = n.link(dev).name.clone();
        let for_us = n.is_local(arp.target_ip) && !arp.target_ip.is_loopback();
        let known = n.neigh.entries.contains_key(&(dev, arp.sender_ip));
        let waiting = if for_us || known {
            n.neigh.confirm(w.now, dev, arp.sender_ip, arp.sender_mac)
        } else {
            Vec::new()
        };
        w.hop(ns, &name, Stage::Arp, format!("{} is-at {}", arp.sender_ip, arp.sender_mac));
        for (id, pkt) in waiting {
            let mut w2 = Walk::new(w.now, id, &mut *w.out);
            self.send_to_neighbour(&mut w2, ns, dev, arp.sender_ip, pkt);
        }
        if arp.op == ArpOp::Request && for_us {
            let mac = self.ns(ns).expect("live").link(dev).mac;
            self.transmit(w, ns, dev, arp.reply_frame(mac));
        }
    }

    fn ip_input(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, mut pkt: Ipv4Packet) {
        let name = self.ns(ns).expect("live").link(dev).name.clone();
        if matches!(pkt.payload, IpPayload::Esp(_)) && self.ns(ns).expect("live").is_local(pkt.dst)
        {
            // xfrm4_rcv, then the plaintext re-enters at PREROUTING (see xfrm.rs).
            let Some(plain) = self.xfrm_input(w, ns, &name, pkt) else { return };
            return self.ip_input(w, ns, dev, plain);
        }
        if pkt.is_fragment() && self.ns(ns).expect("live").netfilter.tracking {
            let Some(whole) = self.defrag(w, ns, &name, pkt) else { return };
            pkt = whole;
        }
        if !self.run_hook(w, ns, Hook::Prerouting, &mut pkt, Some(dev), None, &name) {
            return;
        }
        let n = self.ns(ns).expect("live");
        if n.is_local(pkt.dst) {
            if pkt.is_fragment() {
                let Some(whole) = self.defrag(w, ns, &name, pkt) else { return };
                pkt = whole;
            }
            return self.local_in(w, ns, dev, pkt, &name);
        }
        if !n.ip_forward() {
            w.hop(ns, &name, Stage::Drop, format!("not local and ip_forward=0: {}", pkt.dst));
            return;
        }
        self.ip_forward(w, ns, dev, pkt);
    }

    fn ip_forward(&mut self, w: &mut Walk, ns: &NsRef, in_dev: u32, mut pkt: Ipv4Packet) {
        let n = self.ns(ns).expect("live");
        let in_name = n.link(in_dev).name.clone();
        let Some(route) = n.routes.lookup(pkt.dst).cloned() else {
            w.hop(ns, &in_name, Stage::Drop, format!("no route to {}", pkt.dst));
            return;
        };
        if pkt.ttl <= 1 {
            w.hop(ns, &in_name, Stage::Drop, "TTL exceeded");
            return;
        }
        let out = n.link(route.dev);
        let (out_name, mtu) = (out.name.clone(), out.mtu);
        w.hop(ns, &in_name, Stage::Route, route_text("forward", pkt.dst, &out_name, route.via));
        if pkt.dont_fragment && pkt.buffer_len() > mtu as usize {
            return self.frag_needed(w, ns, &out_name, &pkt, mtu);
        }
        pkt.ttl -= 1;
        if !self.run_hook(w, ns, Hook::Forward, &mut pkt, Some(in_dev), Some(route.dev), &in_name) {
            return;
        }
        // ip_vs_reply4 runs after the filter table at FORWARD.
        self.ipvs_reply(w, ns, &mut pkt, &in_name);
        self.finish_output(w, ns, pkt, route.dev, route.via, false);
    }

    /// LOCAL_IN: mangle and filter, then IPVS (which may take the packet to a real server),
    /// then source NAT and the conntrack confirmation, then the socket or ICMP.
    fn local_in(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, mut pkt: Ipv4Packet, name: &str) {
        let before = HookPart::BeforeIpvs;
        if !self.run_hook_part(w, ns, Hook::Input, before, &mut pkt, Some(dev), None, name) {
            return;
        }
        if self.ipvs_local_in(w, ns, &mut pkt, name) {
            return;
        }
        let after = HookPart::AfterIpvs;
        if self.run_hook_part(w, ns, Hook::Input, after, &mut pkt, Some(dev), None, name) {
            self.local_deliver(w, ns, pkt);
        }
    }

    /// Sends a packet this namespace originates (sockets, ICMP replies).
    pub(super) fn ip_output(&mut self, w: &mut Walk, ns: &NsRef, mut pkt: Ipv4Packet) {
        let Some((dev, via)) = self.route_out(ns, pkt.dst) else {
            w.hop(ns, "-", Stage::Drop, format!("no route to {}", pkt.dst));
            return;
        };
        let name = self.ns(ns).expect("live").link(dev).name.clone();
        w.hop(ns, &name, Stage::Route, route_text("output", pkt.dst, &name, via));
        let before = pkt.dst;
        if !self.run_hook(w, ns, Hook::Output, &mut pkt, None, Some(dev), &name) {
            return;
        }
        let (dev, via) = if pkt.dst == before {
            (dev, via)
        } else {
            match self.route_out(ns, pkt.dst) {
                Some(r) => r,
                None => return w.hop(ns, &name, Stage::Drop, format!("no route to {}", pkt.dst)),
            }
        };
        self.finish_output(w, ns, pkt, dev, via, true);
    }

    /// The device and gateway for an outgoing packet; local destinations go out `lo`.
    pub(super) fn route_out(&self, ns: &NsRef, dst: Ipv4Addr) -> Option<(u32, Option<Ipv4Addr>)> {
        let n = self.ns(ns)?;
        if n.is_local(dst) {
            return n.ifindex("lo").map(|lo| (lo, None));
        }
        n.routes.lookup(dst).map(|r| (r.dev, r.via))
    }

    /// POSTROUTING, IPsec, then `ip_finish_output`: fragment what exceeds the MTU (the
    /// path MTU for `local` output, the device's for forwarded packets), or refuse it.
    pub(super) fn finish_output(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        mut pkt: Ipv4Packet,
        dev: u32,
        via: Option<Ipv4Addr>,
        local: bool,
    ) {
        let name = self.ns(ns).expect("live").link(dev).name.clone();
        if !self.run_hook(w, ns, Hook::Postrouting, &mut pkt, None, Some(dev), &name) {
            return;
        }
        let Some(pkt) = self.xfrm_output(w, ns, &name, pkt) else { return };
        let next_hop = via.unwrap_or(pkt.dst);
        let mtu =
            if local { self.path_mtu(w.now, ns, dev, pkt.dst) } else { self.dev_mtu(ns, dev) };
        if pkt.buffer_len() <= mtu as usize && w.frag_max_size.is_none() {
            return self.send_to_neighbour(w, ns, dev, next_hop, pkt);
        }
        if pkt.dont_fragment {
            return self.frag_needed(w, ns, &name, &pkt, mtu);
        }
        let size = w.frag_max_size.map_or(mtu as usize, |max| max.min(mtu as usize));
        let fragments = pkt.fragment(size);
        let detail = format!(
            "{} bytes in {} fragments of at most {size}",
            pkt.buffer_len(),
            fragments.len()
        );
        w.hop(ns, &name, Stage::Frag, detail);
        for fragment in fragments {
            self.send_to_neighbour(w, ns, dev, next_hop, fragment);
        }
    }

    /// Resolves the next hop's MAC (ARP) and transmits, or queues while ARP is pending.
    fn send_to_neighbour(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev: u32,
        nh: Ipv4Addr,
        pkt: Ipv4Packet,
    ) {
        let n = self.ns_mut(ns);
        let link = n.link(dev);
        let (src_mac, is_lo) = (link.mac, link.kind == LinkKind::Loopback);
        let dst_mac = if is_lo || nh.is_broadcast() {
            Some(if is_lo { MacAddr::ZERO } else { MacAddr::BROADCAST })
        } else {
            n.neigh.mac(dev, nh)
        };
        if let Some(dst) = dst_mac {
            let frame = EthernetFrame { dst, src: src_mac, payload: EtherPayload::Ipv4(pkt) };
            return self.transmit(w, ns, dev, frame);
        }
        if n.neigh.enqueue(dev, nh, (w.packet, pkt)) {
            self.send_arp_request(w, ns, dev, nh);
        }
    }

    fn send_arp_request(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, ip: Ipv4Addr) {
        let n = self.ns(ns).expect("live");
        let link = n.link(dev);
        let request = ArpRepr {
            op: ArpOp::Request,
            sender_mac: link.mac,
            sender_ip: n.primary_addr(dev).unwrap_or(Ipv4Addr::UNSPECIFIED),
            target_mac: MacAddr::ZERO,
            target_ip: ip,
        };
        let frame = EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: link.mac,
            payload: EtherPayload::Arp(request),
        };
        let timer = KernelTimer::ArpRetry { ns: ns.clone(), dev, ip };
        w.out.push(Action::Timer { at: w.now + ARP_RETRANS, timer });
        self.transmit(w, ns, dev, frame);
    }

    fn arp_retry(
        &mut self,
        now: SimTime,
        ns: &NsRef,
        dev: u32,
        ip: Ipv4Addr,
        out: &mut Vec<Action>,
    ) {
        let Some(n) = self.namespaces.get_mut(ns) else { return };
        if !n.links.contains_key(&dev) {
            return;
        }
        let name = n.link(dev).name.clone();
        let mut w = Walk::new(now, 0, out);
        match n.neigh.retry(dev, ip) {
            Ok(true) => self.send_arp_request(&mut w, ns, dev, ip),
            Ok(false) => {}
            Err(dropped) => {
                for (id, _) in dropped {
                    w.packet = id;
                    w.hop(
                        ns,
                        &name,
                        Stage::Drop,
                        format!("neighbour {ip} unreachable (no ARP reply)"),
                    );
                }
            }
        }
    }

    /// Puts a frame on a device: into the bridge for a bridge device, otherwise out to the
    /// world (veth peer, fabric, loopback).
    pub(super) fn transmit(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, frame: EthernetFrame) {
        let link = self.ns_mut(ns).link_mut(dev);
        if !link.up {
            let name = link.name.clone();
            return w.hop(ns, &name, Stage::Drop, "device is down");
        }
        link.stats.tx_packets += 1;
        link.stats.tx_bytes += frame.buffer_len() as u64;
        let name = link.name.clone();
        if let LinkKind::Bridge(bridge) = &link.kind {
            w.out.push(Action::Seen { ns: ns.clone(), ifindex: dev, frame: frame.clone() });
            match bridge.lookup(w.now, frame.dst, link.mac) {
                FdbDecision::Port(p) => {
                    let to = self.ns(ns).expect("live").link(p).name.clone();
                    w.hop(ns, &name, Stage::Bridge, format!("FDB hit {} -> {to}", frame.dst));
                    self.transmit(w, ns, p, frame);
                }
                _ => self.bridge_flood(w, ns, dev, None, frame),
            }
            return;
        }
        if let LinkKind::Vxlan(_) = &link.kind {
            return self.vxlan_xmit(w, ns, dev, frame);
        }
        if let LinkKind::Macvlan(_) = &link.kind {
            return self.macvlan_xmit(w, ns, dev, frame);
        }
        if let LinkKind::Vlan(_) = &link.kind {
            return self.vlan_xmit(w, ns, dev, frame);
        }
        w.hop(ns, &name, Stage::Tx, frame.to_string());
        w.out.push(Action::Transmit { ns: ns.clone(), ifindex: dev, packet: w.packet, frame });
    }

    /// Runs one netfilter hook; false when the packet was dropped. Records rule hits.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_hook(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        hook: Hook,
        pkt: &mut Ipv4Packet,
        in_dev: Option<u32>,
        out_dev: Option<u32>,
        dev_name: &str,
    ) -> bool {
        self.run_hook_part(w, ns, hook, HookPart::Whole, pkt, in_dev, out_dev, dev_name)
    }

    /// [`Kernel::run_hook`] for the steps on one side of IPVS.
    #[allow(clippy::too_many_arguments)]
    fn run_hook_part(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        hook: Hook,
        part: HookPart,
        pkt: &mut Ipv4Packet,
        in_dev: Option<u32>,
        out_dev: Option<u32>,
        dev_name: &str,
    ) -> bool {
        let n = self.ns_mut(ns);
        let name_of = |d: Option<u32>| d.map(|d| n.link(d).name.clone());
        let mut meta = PacketMeta::of(pkt, name_of(in_dev), name_of(out_dev));
        meta.mark = w.mark;
        meta.conntrack_id = w.conntrack_id;
        meta.ipvs_property = w.ipvs_property;
        let ctx = HookCtx {
            local_addrs: n.local_addrs(),
            out_iface_addr: out_dev.and_then(|d| n.primary_addr(d)),
            in_iface_addr: in_dev.and_then(|d| n.primary_addr(d)),
            packet: Some(pkt),
        };
        let outcome: HookOutcome = n.netfilter.hook_part(w.now, hook, part, &mut meta, &ctx);
        meta.write_back(pkt);
        (w.mark, w.conntrack_id) = (meta.mark, meta.conntrack_id);
        for hit in &outcome.hits {
            w.hop(ns, dev_name, Stage::Netfilter, hit.to_string());
        }
        if let Some(nat) = &outcome.nat {
            w.hop(ns, dev_name, Stage::Netfilter, nat.clone());
        }
        if !outcome.accepted {
            w.hop(ns, dev_name, Stage::Drop, format!("netfilter {}", hook_name(hook)));
        } else if matches!(hook, Hook::Input | Hook::Postrouting) && part != HookPart::BeforeIpvs {
            self.conntrack_hop(w, ns, dev_name);
        }
        outcome.accepted
    }

    /// The packet's conntrack entry as it stands when it leaves the namespace's hooks.
    fn conntrack_hop(&self, w: &mut Walk, ns: &NsRef, dev_name: &str) {
        let n = self.ns(ns).expect("live");
        let line = w.conntrack_id.and_then(|id| n.netfilter.conntrack_line(id, w.now));
        if let Some(line) = line {
            w.hop(ns, dev_name, Stage::Netfilter, format!("conntrack: {line}"));
        }
    }

    /// Hands a packet addressed to this namespace to ICMP or a socket.
    pub(super) fn local_deliver(&mut self, w: &mut Walk, ns: &NsRef, pkt: Ipv4Packet) {
        w.hop(ns, "-", Stage::Deliver, format!("local {}", pkt.dst));
        if let IpPayload::Udp(udp) = &pkt.payload {
            if self.vxlan_listens(ns, udp.dst_port) {
                return self.vxlan_rcv(w, ns, pkt);
            }
        }
        match &pkt.payload {
            IpPayload::Icmp(IcmpRepr::EchoRequest { ident, seq, data }) => {
                let reply = IcmpRepr::EchoReply { ident: *ident, seq: *seq, data: data.clone() };
                // The reply is a new skb: no mark, conntrack finds it by its own tuple, and
                // it is fragmented afresh if it is too big.
                w.scrub();
                let ttl = self.default_ttl(ns);
                let out_pkt = Ipv4Packet {
                    src: pkt.dst,
                    dst: pkt.src,
                    ttl,
                    ident: pkt.ident,
                    dont_fragment: false,
                    payload: IpPayload::Icmp(reply),
                };
                self.ip_output(w, ns, out_pkt);
            }
            _ => self.socket_input(w, ns, pkt),
        }
    }

    /// `net.ipv4.ip_default_ttl` (64 unless set).
    /// `icmp_send(ICMP_DEST_UNREACH, code)` from `src` about `pkt`, which is dropped:
    /// a fresh packet through local output, the walk's per-packet state cleared first.
    pub(super) fn dest_unreachable(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        src: Ipv4Addr,
        pkt: &Ipv4Packet,
        code: u8,
        next_hop_mtu: u16,
    ) {
        let error =
            IcmpRepr::DestUnreachable { code, next_hop_mtu, original: Box::new(pkt.clone()) };
        let reply = Ipv4Packet {
            src,
            dst: pkt.src,
            ttl: self.default_ttl(ns),
            ident: self.rng().range_u64(0, 65536) as u16,
            dont_fragment: false,
            payload: IpPayload::Icmp(error),
        };
        w.scrub();
        self.ip_output(w, ns, reply);
    }

    pub(super) fn default_ttl(&self, ns: &NsRef) -> u8 {
        self.ns(ns)
            .and_then(|n| n.sysctl("net.ipv4.ip_default_ttl"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(64)
    }
}

/// The hook's name as iptables spells its built-in chain.
fn hook_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Prerouting => "PREROUTING",
        Hook::Input => "INPUT",
        Hook::Forward => "FORWARD",
        Hook::Output => "OUTPUT",
        Hook::Postrouting => "POSTROUTING",
    }
}

/// A route decision as a hop shows it: `forward 10.0.1.4 via eth1`, with the gateway when
/// there is one (`output 10.2.0.3 via eth2 gw 172.18.0.1`).
fn route_text(what: &str, dst: Ipv4Addr, dev: &str, gw: Option<Ipv4Addr>) -> String {
    match gw {
        Some(gw) => format!("{what} {dst} via {dev} gw {gw}"),
        None => format!("{what} {dst} via {dev}"),
    }
}
