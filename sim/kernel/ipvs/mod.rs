//! IPVS, the kernel's layer-4 load balancer, for one network namespace — the part Docker's
//! service VIPs use (`lb_<net>` and `ingress_sbox` namespaces).
//!
//! Contract:
//! - `run_command(now, args)` is `ipvsadm ARGS`: services keyed by fwmark (`-f`) or by
//!   `-t`/`-u ADDR:PORT`, schedulers rr, wrr, lc and wlc (`sched.rs`), real servers with a
//!   weight and a forwarding method (`-m` masquerading is forwarded; `-g` and `-i` are stored
//!   and listed, and their connections' packets dropped with a hop saying so), listings
//!   byte for byte as ipvsadm 1.31 prints them (`render.rs`), errors with ipvsadm's texts
//!   (`cli.rs` for the command line, `ipvs_strerror`'s table for what the kernel refuses);
//! - `handle_in(now, flow, sysctls)` is `ip_vs_in` at LOCAL_IN (`ip_vs_remote_request4`): a
//!   client packet of a known connection, or a TCP SYN / any UDP packet that a service
//!   takes (fwmark first, then protocol/address/port: `ip_vs_service_find`), gets a real
//!   server — the walk then DNATs it and sends it out (`ip_vs_nat_xmit`); anything else is
//!   left to local delivery (ICMP echo to a VIP, ports no service has);
//! - `handle_out(now, flow)` is `ip_vs_out` (`ip_vs_reply4` at FORWARD and LOCAL_IN): a
//!   real server's reply of a masqueraded connection gets its source back to the VIP;
//! - weight 0 is quiescent: schedulers skip the server, its connections go on; deleting a
//!   server (or its service) makes its connections' packets drop, and
//!   `net.ipv4.vs.expire_nodest_conn=1` also expires them on the spot (Linux 5.4's
//!   `ip_vs_in`);
//! - `net.ipv4.vs.conn_reuse_mode` (default 1): a SYN that hits a connection in TIME_WAIT
//!   or CLOSE (or, with expire_nodest_conn, one whose server has weight 0) expires it and
//!   is scheduled afresh — but dropped when conntrack follows IPVS (`vs.conntrack=1`), the
//!   client's retransmission then being scheduled. Docker sets 0: the old connection is
//!   reused. `vs.conntrack` itself is read by the walk; `expire_quiescent_template` only
//!   concerns persistence templates, which are not modelled.
//!
//! Not modelled: persistence, thresholds, IPv6, SCTP, ICMP errors about IPVS connections,
//! the sync daemon, `--rate` phases other than 2-second ticks from time zero.

mod cli;
mod conn;
mod render;
mod sched;
mod stats;

pub use conn::{Conn, ConnKey, TcpState};
pub use stats::{Counters, Stats};

use std::fmt;
use std::net::Ipv4Addr;

use cli::{DestSpec, IpvsCommand};
use conn::Conns;
use sched::{Candidate, Scheduler};

use crate::engine::SimTime;
use crate::wire::{IpProtocol, TcpFlags};

/// What identifies a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VsKey {
    /// `-f MARK`: packets carrying this firewall mark.
    Fwmark(u32),
    /// `-t`/`-u ADDR:PORT`.
    Addr { proto: IpProtocol, addr: Ipv4Addr, port: u16 },
}

impl VsKey {
    /// `ipvs_cmp_services`' order: fwmark, protocol, address, port.
    fn sort_key(&self) -> (u32, u8, Ipv4Addr, u16) {
        match *self {
            VsKey::Fwmark(m) => (m, IpProtocol::Tcp.number(), Ipv4Addr::UNSPECIFIED, 0),
            VsKey::Addr { proto, addr, port } => (0, proto.number(), addr, port),
        }
    }
}

impl fmt::Display for VsKey {
    /// As `ipvsadm -Ln` names the service.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VsKey::Fwmark(m) => write!(f, "FWM  {m}"),
            VsKey::Addr { proto, addr, port } => {
                let p = if *proto == IpProtocol::Tcp { "TCP" } else { "UDP" };
                write!(f, "{p}  {addr}:{port}")
            }
        }
    }
}

/// A real server's forwarding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// `-m`: NAT (`Masq`).
    Masq,
    /// `-g`: direct routing (`Route`), ipvsadm's default.
    Route,
    /// `-i`: IP-in-IP (`Tunnel`).
    Tunnel,
}

/// One real server of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub fwd: Fwd,
    pub weight: u32,
    pub stats: Stats,
}

/// One virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: VsKey,
    sched: Scheduler,
    /// In the kernel's list order: the server added last comes first.
    pub dests: Vec<Dest>,
    pub stats: Stats,
}

impl Service {
    pub fn scheduler(&self) -> &'static str {
        self.sched.name()
    }

    fn dest_pos(&self, addr: Ipv4Addr, port: u16) -> Option<usize> {
        self.dests.iter().position(|d| (d.addr, d.port) == (addr, port))
    }
}

/// An `ipvsadm` command that failed: its stderr text and exit status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IpvsadmError {
    pub message: String,
    pub exit_code: i32,
}

/// What the kernel refused, as libipvs's `ipvs_strerror` words it; ipvsadm exits with −1.
fn kernel_error(message: &str) -> IpvsadmError {
    IpvsadmError { message: message.to_string(), exit_code: 255 }
}

/// The packet fields IPVS looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub proto: IpProtocol,
    pub src: Ipv4Addr,
    pub sport: u16,
    pub dst: Ipv4Addr,
    pub dport: u16,
    pub tcp_flags: Option<TcpFlags>,
    pub mark: u32,
    /// The IP packet's length, for the byte counters.
    pub len: u32,
}

/// The `net.ipv4.vs.*` settings IPVS reads, with the kernel's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpvsSysctls {
    pub conntrack: bool,
    pub conn_reuse_mode: u32,
    pub expire_nodest_conn: bool,
}

impl IpvsSysctls {
    /// From a namespace's sysctls (`net.ipv4.vs.conntrack` …); unset keys keep Linux's
    /// defaults (0, 1, 0).
    pub fn read(get: impl Fn(&str) -> Option<String>) -> IpvsSysctls {
        let num = |k: &str, d: u32| {
            get(&format!("net.ipv4.vs.{k}")).and_then(|v| v.trim().parse().ok()).unwrap_or(d)
        };
        IpvsSysctls {
            conntrack: num("conntrack", 0) != 0,
            conn_reuse_mode: num("conn_reuse_mode", 1),
            expire_nodest_conn: num("expire_nodest_conn", 0) != 0,
        }
    }
}

/// What `ip_vs_in` decided about a client packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InVerdict {
    /// Not IPVS's: local delivery goes on (`NF_ACCEPT`).
    Accept,
    /// Send it to the real server `to`, by `fwd`; `detail` is for the walk.
    Forward { to: (Ipv4Addr, u16), fwd: Fwd, detail: String },
    /// Dropped; `port_unreachable` when `ip_vs_leave` answers the client with ICMP.
    Drop { detail: String, port_unreachable: bool },
}

/// The IPVS table of one namespace: services and connections.
#[derive(Debug, Clone, Default)]
pub struct Ipvs {
    services: Vec<Service>,
    conns: Conns,
}

impl Ipvs {
    /// Executes `ipvsadm ARGS` (the arguments after the program name): Ok(stdout).
    pub fn run_command(&mut self, now: SimTime, args: &[String]) -> Result<String, IpvsadmError> {
        self.expire(now);
        match cli::parse(args)? {
            IpvsCommand::List { service, connections, format } => {
                render::list(self, now, service, connections, format)
            }
            cmd => self.configure(now, cmd).map(|()| String::new()),
        }
    }

    pub fn has_services(&self) -> bool {
        !self.services.is_empty()
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn connections(&self) -> impl Iterator<Item = &Conn> {
        self.conns.iter()
    }

    fn expire(&mut self, now: SimTime) {
        self.conns.expire(now);
        for s in &mut self.services {
            s.stats.catch_up(now);
            s.dests.iter_mut().for_each(|d| d.stats.catch_up(now));
        }
    }

    fn service(&self, key: VsKey) -> Option<usize> {
        self.services.iter().position(|s| s.key == key)
    }

    fn candidates(&self, svc: &Service) -> Vec<Candidate> {
        let load = |d: &Dest| self.conns.counts(svc.key, (d.addr, d.port));
        let cand = |d: &Dest| {
            let (active, inactive) = load(d);
            Candidate { id: (d.addr, d.port), weight: d.weight, active, inactive }
        };
        svc.dests.iter().map(cand).collect()
    }

    fn configure(&mut self, now: SimTime, cmd: IpvsCommand) -> Result<(), IpvsadmError> {
        match cmd {
            IpvsCommand::AddService { key, sched } => self.add_service(now, key, &sched),
            IpvsCommand::EditService { key, sched } => self.edit_service(key, &sched),
            IpvsCommand::DelService(key) => {
                let i = self.service(key).ok_or_else(|| kernel_error("No such service"))?;
                self.services.remove(i);
                Ok(())
            }
            IpvsCommand::Clear => {
                self.services.clear();
                Ok(())
            }
            IpvsCommand::Zero(key) => self.zero(now, key),
            IpvsCommand::AddDest(key, spec) => self.add_dest(now, key, spec),
            IpvsCommand::EditDest(key, spec) => self.edit_dest(key, spec),
            IpvsCommand::DelDest(key, addr, port) => self.del_dest(key, addr, port),
            IpvsCommand::List { .. } => unreachable!("listings are not configuration"),
        }
    }

    fn add_service(&mut self, now: SimTime, key: VsKey, sched: &str) -> Result<(), IpvsadmError> {
        if self.service(key).is_some() {
            return Err(kernel_error("Service already exists"));
        }
        let sched = new_scheduler(sched, &[])?;
        self.services.push(Service { key, sched, dests: Vec::new(), stats: Stats::new(now) });
        Ok(())
    }

    /// `ip_vs_edit_service`: a new scheduler starts afresh, the same one keeps its state.
    fn edit_service(&mut self, key: VsKey, sched: &str) -> Result<(), IpvsadmError> {
        let i = self.service(key).ok_or_else(|| kernel_error("No such service"))?;
        let cands = self.candidates(&self.services[i]);
        let new = new_scheduler(sched, &cands)?;
        let svc = &mut self.services[i];
        if svc.sched.name() != new.name() {
            svc.sched = new;
        }
        Ok(())
    }

    fn zero(&mut self, now: SimTime, key: Option<VsKey>) -> Result<(), IpvsadmError> {
        let which: Vec<usize> = match key {
            Some(k) => vec![self.service(k).ok_or_else(|| kernel_error("No such service"))?],
            None => (0..self.services.len()).collect(),
        };
        for i in which {
            let svc = &mut self.services[i];
            svc.stats.zero(now);
            svc.dests.iter_mut().for_each(|d| d.stats.zero(now));
        }
        Ok(())
    }

    fn add_dest(&mut self, now: SimTime, key: VsKey, spec: DestSpec) -> Result<(), IpvsadmError> {
        let i = self.service(key).ok_or_else(|| kernel_error("Service not defined"))?;
        if self.services[i].dest_pos(spec.addr, spec.port).is_some() {
            return Err(kernel_error("Destination already exists"));
        }
        // ip_vs_new_dest: the address must be unicast (or local).
        let a = spec.addr;
        if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
            return Err(kernel_error(
                "Invalid operation.  Possibly wrong module version, address not unicast, ...",
            ));
        }
        let dest = Dest {
            addr: a,
            port: spec.port,
            fwd: spec.fwd,
            weight: spec.weight,
            stats: Stats::new(now),
        };
        self.services[i].dests.insert(0, dest);
        let cands = self.candidates(&self.services[i]);
        self.services[i].sched.dests_changed(&cands);
        Ok(())
    }

    fn edit_dest(&mut self, key: VsKey, spec: DestSpec) -> Result<(), IpvsadmError> {
        let i = self.service(key).ok_or_else(|| kernel_error("Service not defined"))?;
        let svc = &mut self.services[i];
        let p = svc.dest_pos(spec.addr, spec.port);
        let p = p.ok_or_else(|| kernel_error("No such destination"))?;
        (svc.dests[p].weight, svc.dests[p].fwd) = (spec.weight, spec.fwd);
        let cands = self.candidates(&self.services[i]);
        self.services[i].sched.dests_changed(&cands);
        Ok(())
    }

    fn del_dest(&mut self, key: VsKey, addr: Ipv4Addr, port: u16) -> Result<(), IpvsadmError> {
        let i = self.service(key).ok_or_else(|| kernel_error("Service not defined"))?;
        let p = self.services[i].dest_pos(addr, port);
        let p = p.ok_or_else(|| kernel_error("No such destination"))?;
        self.services[i].dests.remove(p);
        let cands = self.candidates(&self.services[i]);
        self.services[i].sched.dest_removed(&cands, (addr, port), p);
        Ok(())
    }
}

/// The scheduler module `-s NAME` loads, or the kernel's refusal.
fn new_scheduler(name: &str, dests: &[Candidate]) -> Result<Scheduler, IpvsadmError> {
    if sched::NOT_SIMULATED.contains(&name) {
        return Err(IpvsadmError {
            message: format!("scheduler {name} is not simulated (rr, wrr, lc and wlc are)"),
            exit_code: 255,
        });
    }
    Scheduler::new(name, dests).ok_or_else(|| kernel_error("Scheduler not found"))
}

mod path;
mod xmit;

#[cfg(test)]
mod tests;
