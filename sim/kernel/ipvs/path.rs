//! The packet side of IPVS: `ip_vs_in` for client packets, `ip_vs_out` for replies
//! (`net/netfilter/ipvs/ip_vs_core.c`). The walk calls these and does the rewriting and
//! sending itself.

use std::net::Ipv4Addr;

use super::conn::{ConnKey, Dir, NewDest, TcpState};
use super::{Flow, Fwd, InVerdict, Ipvs, IpvsSysctls, VsKey};
use crate::engine::SimTime;
use crate::wire::{IpProtocol, TcpFlags};

impl Ipvs {
    /// A client packet at LOCAL_IN.
    pub fn handle_in(&mut self, now: SimTime, flow: &Flow, cfg: &IpvsSysctls) -> InVerdict {
        if !matches!(flow.proto, IpProtocol::Tcp | IpProtocol::Udp) || !self.has_services() {
            return InVerdict::Accept;
        }
        self.expire(now);
        let key = ConnKey {
            proto: flow.proto,
            caddr: flow.src,
            cport: flow.sport,
            vaddr: flow.dst,
            vport: flow.dport,
        };
        if let Some(verdict) = self.reuse_check(&key, flow, cfg) {
            return verdict;
        }
        let new = self.conns.get_in(&key).is_none();
        if new {
            if let Some(verdict) = self.schedule(now, key, flow) {
                return verdict;
            }
        } else if let Some(verdict) = self.check_dest(&key, cfg) {
            return verdict;
        }
        let conn = self.conns.get_in(&key).expect("found or just scheduled");
        conn.update(now, Dir::In, flow.tcp_flags);
        let (service, dest, to, fwd) =
            (conn.service, conn.dest, (conn.daddr, conn.dport), conn.fwd);
        let state = conn.state_name();
        self.count(now, service, dest, |c| {
            c.inpkts += 1;
            c.inbytes += u64::from(flow.len);
        });
        if fwd != Fwd::Masq {
            let detail = format!("IPVS {service}: {fwd:?} forwarding is not simulated");
            return InVerdict::Drop { detail, port_unreachable: false };
        }
        let how = if new { "new connection" } else { "connection" };
        let detail = format!(
            "IPVS {service} ({}): {how} {}:{} -> {}:{} [{state}]",
            self.services.iter().find(|s| s.key == service).map_or("-", |s| s.scheduler()),
            flow.src,
            flow.sport,
            to.0,
            to.1
        );
        InVerdict::Forward { to, fwd, detail }
    }

    /// A real server's reply: the virtual address and port it must come from, if it belongs
    /// to a masqueraded connection (`handle_response`).
    pub fn handle_out(&mut self, now: SimTime, flow: &Flow) -> Option<(Ipv4Addr, u16)> {
        if !matches!(flow.proto, IpProtocol::Tcp | IpProtocol::Udp) {
            return None;
        }
        self.conns.expire(now);
        let conn =
            self.conns.get_out(flow.proto, (flow.src, flow.sport), (flow.dst, flow.dport))?;
        conn.update(now, Dir::Out, flow.tcp_flags);
        let (service, dest, vaddr) = (conn.service, conn.dest, (conn.key.vaddr, conn.key.vport));
        self.count(now, service, dest, |c| {
            c.outpkts += 1;
            c.outbytes += u64::from(flow.len);
        });
        Some(vaddr)
    }

    /// `conn_reuse_mode`: a SYN for a connection that is closing (or whose server is
    /// quiescent, with expire_nodest_conn) expires it; with conntrack following IPVS the SYN
    /// is dropped too, as Linux does to let conntrack forget the old flow.
    fn reuse_check(&mut self, key: &ConnKey, flow: &Flow, cfg: &IpvsSysctls) -> Option<InVerdict> {
        let syn = flow.tcp_flags.is_some_and(|f| f.contains(TcpFlags::SYN));
        if cfg.conn_reuse_mode == 0 || !syn {
            return None;
        }
        let conn = self.conns.get_in(key)?;
        let (service, dest, state) = (conn.service, conn.dest, conn.state);
        let weight = self.dest_weight(service, dest);
        let resched = (cfg.expire_nodest_conn && weight == Some(0))
            || matches!(state, Some(TcpState::TimeWait | TcpState::Close));
        if !resched {
            return None;
        }
        self.conns.remove(key);
        cfg.conntrack.then(|| InVerdict::Drop {
            detail: format!(
                "IPVS {service}: SYN reuses a closing connection (conn_reuse_mode={}, \
                 conntrack=1): expired, dropped",
                cfg.conn_reuse_mode
            ),
            port_unreachable: false,
        })
    }

    /// A known connection whose server was deleted: dropped, and expired with
    /// `expire_nodest_conn`.
    fn check_dest(&mut self, key: &ConnKey, cfg: &IpvsSysctls) -> Option<InVerdict> {
        let conn = self.conns.get_in(key).expect("checked by the caller");
        let (service, dest) = (conn.service, conn.dest);
        if self.dest_weight(service, dest).is_some() {
            return None;
        }
        if cfg.expire_nodest_conn {
            self.conns.remove(key);
        }
        let detail = format!(
            "IPVS {service}: real server {}:{} is gone, connection dropped",
            dest.0, dest.1
        );
        Some(InVerdict::Drop { detail, port_unreachable: false })
    }

    /// Binds a new connection (`tcp_conn_schedule`/`udp_conn_schedule`, `ip_vs_schedule`);
    /// Some verdict when the packet is not scheduled.
    fn schedule(&mut self, now: SimTime, key: ConnKey, flow: &Flow) -> Option<InVerdict> {
        if let Some(f) = flow.tcp_flags {
            if !f.contains(TcpFlags::SYN) || f.contains(TcpFlags::RST) {
                return Some(InVerdict::Accept);
            }
        }
        let Some(i) = self.find_service(flow) else { return Some(InVerdict::Accept) };
        let cands = self.candidates(&self.services[i]);
        let svc = &mut self.services[i];
        let Some(p) = svc.sched.schedule(&cands) else {
            let detail = format!("IPVS {}: no destination available", svc.key);
            return Some(InVerdict::Drop { detail, port_unreachable: true });
        };
        let d = &svc.dests[p];
        let to = (d.addr, if d.port == 0 { flow.dport } else { d.port });
        let dest = NewDest { id: (d.addr, d.port), to, fwd: d.fwd };
        let service = svc.key;
        self.conns.insert(now, key, service, dest);
        self.count(now, service, dest.id, |c| c.conns += 1);
        None
    }

    /// `ip_vs_service_find`: by fwmark first, then by protocol, address and port.
    fn find_service(&self, flow: &Flow) -> Option<usize> {
        let by_mark = (flow.mark != 0).then(|| self.service(VsKey::Fwmark(flow.mark))).flatten();
        by_mark.or_else(|| {
            self.service(VsKey::Addr { proto: flow.proto, addr: flow.dst, port: flow.dport })
        })
    }

    /// The weight of a server still in its service, None when it (or the service) is gone.
    fn dest_weight(&self, service: VsKey, dest: (Ipv4Addr, u16)) -> Option<u32> {
        let svc = &self.services[self.service(service)?];
        svc.dest_pos(dest.0, dest.1).map(|p| svc.dests[p].weight)
    }

    /// Adds to the counters of a server and its service (only while the server is there, as
    /// `ip_vs_in_stats` checks `IP_VS_DEST_F_AVAILABLE`).
    fn count(
        &mut self,
        now: SimTime,
        service: VsKey,
        dest: (Ipv4Addr, u16),
        add: impl Fn(&mut super::Counters),
    ) {
        let Some(i) = self.service(service) else { return };
        let svc = &mut self.services[i];
        let Some(p) = svc.dest_pos(dest.0, dest.1) else { return };
        for stats in [&mut svc.dests[p].stats, &mut svc.stats] {
            stats.catch_up(now);
            add(&mut stats.total);
        }
    }
}
