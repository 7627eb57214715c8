//! Reachability and isolation: for each `SRC -> DST` pair a probe (one ICMP echo, or a TCP
//! or UDP connection attempt) runs in the source's namespace through the whole model, and
//! the verdict comes from what came back.

use std::net::Ipv4Addr;

use crate::engine::{LimitExceeded, SimDuration};
use crate::kernel::process::{ProcCtx, Process, ResolvConf};
use crate::kernel::{NsRef, SockId, SocketEvent, SocketEventKind};
use crate::runner::Runner;
use crate::scenario::{Endpoint, Machine, Probe, Reach, ReachExpect};
use crate::wire::UdpPayload;

use super::CheckResult;

/// How long a probe waits: one SYN retransmission (1 s) plus slack, like `nc -w 2`.
const PROBE_BUDGET: SimDuration = SimDuration::from_secs(2);

/// What a probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Answered,
    Refused,
    Silent,
}

pub(crate) fn reachability(
    r: &mut Runner,
    expect: &ReachExpect,
    line: usize,
) -> Result<Vec<CheckResult>, LimitExceeded> {
    let mut results = Vec::new();
    for (pairs, want_reach) in [(&expect.reachable, true), (&expect.isolated, false)] {
        for reach in pairs {
            let verdict = probe(r, reach)?;
            let reached = verdict != Verdict::Silent;
            let what = format!(
                "{} {} {}",
                describe(r, &reach.src),
                if want_reach { "reaches" } else { "is isolated from" },
                target_text(r, reach)
            );
            let detail = match verdict {
                Verdict::Answered => "answered",
                Verdict::Refused => "refused (the packet got through; nothing listens)",
                Verdict::Silent => "no answer",
            };
            results.push(CheckResult {
                line,
                what,
                held: reached == want_reach,
                detail: detail.to_string(),
            });
        }
    }
    Ok(results)
}

fn probe(r: &mut Runner, reach: &Reach) -> Result<Verdict, LimitExceeded> {
    let (machine, ns, resolv) = source(r, &reach.src);
    let dst = address_of(r, &reach.dst, &reach.src);
    let prober = Prober { dst, probe: reach.probe, verdict: None, sock: None };
    let pid = r.world.spawn(machine, ns, Box::new(prober), resolv, None);
    r.world.run_until_exit(machine, pid, PROBE_BUDGET)?;
    let slot = r.world.kill(machine, pid).expect("spawned above");
    Ok(match slot.exit {
        Some(0) => Verdict::Answered,
        Some(1) => Verdict::Refused,
        _ => Verdict::Silent,
    })
}

fn source(r: &Runner, src: &Endpoint) -> (usize, NsRef, ResolvConf) {
    let machine = r.machine_of(src);
    let m = &r.world.machines[machine];
    match src {
        Endpoint::Container { name, .. } => {
            let d = m.daemon.as_ref().expect("containers live on Docker hosts");
            let c = d.container(name).expect("validated container");
            (machine, c.ns().unwrap_or(NsRef::Root), d.resolv_conf(c))
        }
        Endpoint::Machine(_) => {
            (machine, NsRef::Root, ResolvConf { nameservers: m.nameservers.clone(), hosts: vec![] })
        }
    }
}

/// The address a probe aims at: a machine's underlay address, or a container's address on
/// a network it shares with the source (else its first address).
fn address_of(r: &Runner, dst: &Endpoint, src: &Endpoint) -> Ipv4Addr {
    match dst {
        Endpoint::Machine(Machine::Host(h)) => r.scenario.hosts[h.0].ip,
        Endpoint::Machine(Machine::External(e)) => r.scenario.externals[e.0].ip,
        Endpoint::Container { name, .. } => {
            let m = &r.world.machines[r.machine_of(dst)];
            let d = m.daemon.as_ref().expect("containers live on Docker hosts");
            let target = d.container(name).expect("validated container");
            let from = match src {
                Endpoint::Container { name: s, .. } if r.machine_of(src) == r.machine_of(dst) => {
                    d.container(s)
                }
                _ => None,
            };
            d.address_seen_from(target, from).unwrap_or(Ipv4Addr::UNSPECIFIED)
        }
    }
}

fn describe(r: &Runner, e: &Endpoint) -> String {
    match e {
        Endpoint::Machine(Machine::Host(h)) => r.scenario.hosts[h.0].name.clone(),
        Endpoint::Machine(Machine::External(x)) => r.scenario.externals[x.0].name.clone(),
        Endpoint::Container { name, .. } => name.clone(),
    }
}

fn target_text(r: &Runner, reach: &Reach) -> String {
    let dst = describe(r, &reach.dst);
    match reach.probe {
        Probe::Icmp => format!("{dst} (icmp)"),
        Probe::Tcp(p) => format!("{dst}:{p}/tcp"),
        Probe::Udp(p) => format!("{dst}:{p}/udp"),
    }
}

/// The probing process: exits 0 when answered, 1 when refused; silence runs out the budget.
struct Prober {
    dst: Ipv4Addr,
    probe: Probe,
    verdict: Option<i32>,
    sock: Option<SockId>,
}

impl Process for Prober {
    fn name(&self) -> &str {
        "probe"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        let sent = match self.probe {
            Probe::Icmp => {
                let ident = cx.random(65536) as u16;
                let s = cx.ping_open(ident);
                cx.ping_send(s, self.dst, 1, 56).map(|_| s)
            }
            Probe::Tcp(port) => cx.tcp_connect((self.dst, port)),
            Probe::Udp(port) => cx.udp_bind(Ipv4Addr::UNSPECIFIED, 0).and_then(|s| {
                cx.udp_send(s, (self.dst, port), UdpPayload::Raw(b"probe".to_vec())).map(|_| s)
            }),
        };
        match sent {
            Ok(s) => self.sock = Some(s),
            Err(_) => cx.exit(2),
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        let code = match event.kind {
            SocketEventKind::EchoReply { .. }
            | SocketEventKind::Connected
            | SocketEventKind::Datagram { .. } => 0,
            SocketEventKind::Refused => 1,
            _ => return,
        };
        if self.verdict.is_none() {
            self.verdict = Some(code);
            if let (Some(s), Probe::Tcp(_)) = (self.sock, self.probe) {
                cx.tcp_close(s);
            }
            cx.exit(code);
        }
    }
}

/// One source's view of one destination: ICMP, and TCP to the destination's lowest
/// listening port, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cell {
    pub icmp: bool,
    pub tcp: Option<(u16, bool)>,
}

/// Reachability between every pair of endpoints: machines and running containers.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Matrix {
    pub names: Vec<String>,
    /// `cells[src][dst]`; `None` on the diagonal.
    pub cells: Vec<Vec<Option<Cell>>>,
}

/// Probes every ordered pair of endpoints.
pub(crate) fn matrix(r: &mut Runner) -> Result<Matrix, LimitExceeded> {
    let endpoints = all_endpoints(r);
    let names = endpoints.iter().map(|e| describe(r, e)).collect();
    let mut cells = Vec::new();
    for src in &endpoints {
        let mut row = Vec::new();
        for dst in &endpoints {
            row.push(if src == dst { None } else { Some(cell(r, src, dst)?) });
        }
        cells.push(row);
    }
    Ok(Matrix { names, cells })
}

fn cell(r: &mut Runner, src: &Endpoint, dst: &Endpoint) -> Result<Cell, LimitExceeded> {
    let reach = |probe| Reach { src: src.clone(), dst: dst.clone(), probe };
    let icmp = probe(r, &reach(Probe::Icmp))? != Verdict::Silent;
    let tcp = match lowest_tcp_port(r, dst) {
        Some(port) => Some((port, probe(r, &reach(Probe::Tcp(port)))? == Verdict::Answered)),
        None => None,
    };
    Ok(Cell { icmp, tcp })
}

/// Every machine of the scenario, then every running container, host by host; crashed
/// machines and their containers are out of the matrix.
fn all_endpoints(r: &Runner) -> Vec<Endpoint> {
    let hosts = (0..r.scenario.hosts.len())
        .map(|i| Endpoint::Machine(Machine::Host(crate::scenario::HostId(i))));
    let externals = (0..r.scenario.externals.len())
        .map(|i| Endpoint::Machine(Machine::External(crate::scenario::ExternalId(i))));
    let up = |e: &Endpoint| !r.world.machines[r.machine_of(e)].crashed;
    let mut all: Vec<Endpoint> = hosts.chain(externals).filter(up).collect();
    for (h, &m) in r.layout.hosts.iter().enumerate() {
        let Some(d) = r.world.machines[m].daemon.as_ref().filter(|_| !r.world.machines[m].crashed)
        else {
            continue;
        };
        for c in d.containers().filter(|c| c.ns().is_some() && !d.addresses(c).is_empty()) {
            all.push(Endpoint::Container {
                host: crate::scenario::HostId(h),
                name: c.name.clone(),
            });
        }
    }
    all
}

fn lowest_tcp_port(r: &Runner, dst: &Endpoint) -> Option<u16> {
    let m = &r.world.machines[r.machine_of(dst)];
    let ns = match dst {
        Endpoint::Container { name, .. } => m.daemon.as_ref()?.container(name)?.ns()?,
        Endpoint::Machine(_) => NsRef::Root,
    };
    let listeners = m.kernel.ns(&ns)?.sockets.listeners();
    listeners.iter().filter(|l| l.0 == "tcp").map(|l| l.2).min()
}
