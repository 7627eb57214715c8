//! Where IPVS meets the packet walk (`ip_vs_core.c`'s hooks and `ip_vs_xmit.c`).
//!
//! - LOCAL_IN, after the filter table: a reply addressed here is de-masqueraded
//!   (`ip_vs_reply4`, priority 98), then a client packet may be taken by a service
//!   (`ip_vs_remote_request4`, priority 99). A taken packet is DNATed to its real server
//!   and sent like locally generated traffic: routed, TTL decremented, through OUTPUT and
//!   POSTROUTING (`ip_vs_nat_xmit` → `ip_vs_nat_send_or_cont` → `NF_HOOK(LOCAL_OUT)`), with
//!   `skb->ipvs_property` set for `-m ipvs`. With `net.ipv4.vs.conntrack=1` its conntrack
//!   entry follows (the reply tuple now names the real server, so nat POSTROUTING's SNAT is
//!   undone on the replies); otherwise it leaves untracked (`ip_vs_notrack`).
//! - FORWARD, after the filter table: a real server's reply gets its source back to the
//!   virtual address and port (`ip_vs_reply4` at priority 100).
//! - A service with no server to take a new connection answers ICMP port unreachable and
//!   drops the packet (`ip_vs_leave`). A real server on this namespace's own addresses gets
//!   the packet by local delivery.

use super::{Flow, InVerdict, IpvsSysctls};
use crate::kernel::netfilter::{Hook, PacketMeta};
use crate::kernel::walk::{Stage, Walk};
use crate::kernel::{Kernel, NsRef};
use crate::wire::Ipv4Packet;

fn flow_of(pkt: &Ipv4Packet, mark: u32) -> Flow {
    let m = PacketMeta::of(pkt, None, None);
    Flow {
        proto: m.proto,
        src: m.src,
        sport: m.sport,
        dst: m.dst,
        dport: m.dport,
        tcp_flags: m.tcp_flags,
        mark,
        len: m.len,
    }
}

/// Rewrites a packet's source or destination address and port.
fn rewrite(
    pkt: &mut Ipv4Packet,
    src: Option<(std::net::Ipv4Addr, u16)>,
    dst: Option<(std::net::Ipv4Addr, u16)>,
) {
    let mut m = PacketMeta::of(pkt, None, None);
    if let Some((a, p)) = src {
        (m.src, m.sport) = (a, p);
    }
    if let Some((a, p)) = dst {
        (m.dst, m.dport) = (a, p);
    }
    m.write_back(pkt);
}

impl Kernel {
    /// IPVS at LOCAL_IN; true when it took the packet (forwarded or dropped it).
    pub(in crate::kernel) fn ipvs_local_in(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        pkt: &mut Ipv4Packet,
        dev_name: &str,
    ) -> bool {
        let n = self.ns_mut(ns);
        if !n.ipvs.has_services() || w.ipvs_property {
            return false;
        }
        let flow = flow_of(pkt, w.mark);
        if let Some(vip) = n.ipvs.handle_out(w.now, &flow) {
            self.demasquerade(w, ns, pkt, vip, dev_name);
            return false;
        }
        let cfg = IpvsSysctls::read(|k| n.sysctl(k).map(String::from));
        match n.ipvs.handle_in(w.now, &flow, &cfg) {
            InVerdict::Accept => false,
            InVerdict::Drop { detail, port_unreachable } => {
                w.hop(ns, dev_name, Stage::Drop, detail);
                if port_unreachable {
                    self.ipvs_port_unreachable(w, ns, pkt);
                }
                true
            }
            InVerdict::Forward { to, detail, .. } => {
                w.hop(ns, dev_name, Stage::Netfilter, detail);
                self.ipvs_nat_xmit(w, ns, pkt.clone(), to, cfg.conntrack);
                true
            }
        }
    }

    /// IPVS at FORWARD: a real server's reply leaves from the virtual service.
    pub(in crate::kernel) fn ipvs_reply(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        pkt: &mut Ipv4Packet,
        dev_name: &str,
    ) {
        let n = self.ns_mut(ns);
        if !n.ipvs.has_services() || w.ipvs_property {
            return;
        }
        let flow = flow_of(pkt, w.mark);
        if let Some(vip) = n.ipvs.handle_out(w.now, &flow) {
            self.demasquerade(w, ns, pkt, vip, dev_name);
        }
    }

    fn demasquerade(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        pkt: &mut Ipv4Packet,
        vip: (std::net::Ipv4Addr, u16),
        dev_name: &str,
    ) {
        let m = PacketMeta::of(pkt, None, None);
        let detail = format!("IPVS: reply {}:{} -> source {}:{}", m.src, m.sport, vip.0, vip.1);
        w.hop(ns, dev_name, Stage::Netfilter, detail);
        rewrite(pkt, Some(vip), None);
        w.ipvs_property = true;
    }

    /// `ip_vs_nat_xmit`: DNAT to the real server, then out through OUTPUT and POSTROUTING.
    fn ipvs_nat_xmit(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        mut pkt: Ipv4Packet,
        to: (std::net::Ipv4Addr, u16),
        conntrack: bool,
    ) {
        rewrite(&mut pkt, None, Some(to));
        w.ipvs_property = true;
        let n = self.ns_mut(ns);
        match w.conntrack_id {
            Some(id) if conntrack => n.netfilter.ipvs_forwarded(id, to),
            _ => w.conntrack_id = None,
        }
        if n.is_local(to.0) {
            return self.local_deliver(w, ns, pkt);
        }
        let Some((dev, via)) = self.route_out(ns, to.0) else {
            return w.hop(ns, "-", Stage::Drop, format!("IPVS: no route to {}", to.0));
        };
        let name = self.ns(ns).expect("live").link(dev).name.clone();
        if pkt.ttl <= 1 {
            return w.hop(ns, &name, Stage::Drop, "TTL exceeded");
        }
        pkt.ttl -= 1;
        if !self.run_hook(w, ns, Hook::Output, &mut pkt, None, Some(dev), &name) {
            return;
        }
        self.finish_output(w, ns, pkt, dev, via, false);
    }

    /// `icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH)` from the address the client asked.
    fn ipvs_port_unreachable(&mut self, w: &mut Walk, ns: &NsRef, pkt: &Ipv4Packet) {
        self.dest_unreachable(w, ns, pkt.dst, pkt, 3, 0);
    }
}
