//! Reachability and isolation: for each `SRC -> DST` pair a probe (one ICMP echo, or a TCP
//! or UDP connection attempt) runs in the source's namespace through the whole model, and
//! the verdict comes from what came back (an answer, or a refusal: the packet got through).
//!
//! An end is a machine, a container, or a swarm name resolved when the check runs: `SERVICE`
//! names every running task of the service (on every host that is up), `SERVICE.SLOT` the
//! running task of that slot. Every source must satisfy the expectation:
//! - `reachable`: every source reaches every destination (a swarm destination: every task),
//!   at one of its addresses on a network the two share, or at any of its addresses when they
//!   share none (a machine: its underlay address). A source is not probed against itself.
//! - `isolated`: no source reaches any address of any destination, nor, for `SERVICE`, any of
//!   the service's virtual IPs.
//!
//! A swarm name with no running task fails the check, and its detail says what was missing.

use std::net::Ipv4Addr;

use crate::docker::Daemon;
use crate::engine::{LimitExceeded, SimDuration};
use crate::kernel::process::{ProcCtx, Process, ResolvConf};
use crate::kernel::{NsRef, SockId, SocketEvent, SocketEventKind};
use crate::runner::Runner;
use crate::scenario::{swarm_parts, Endpoint, HostId, Machine, Probe, ReachEnd, ReachExpect};
use crate::wire::UdpPayload;

use super::CheckResult;

/// How long a probe waits: one SYN retransmission (1 s) plus slack, like `nc -w 2`.
const PROBE_BUDGET: SimDuration = SimDuration::from_secs(2);
/// The labels the swarm executor puts on a task's container.
const SERVICE_LABEL: &str = "com.docker.swarm.service.name";
const TASK_LABEL: &str = "com.docker.swarm.task.name";

/// What a probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Answered,
    Refused,
    Silent,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Answered => "answered",
            Verdict::Refused => "refused (the packet got through; nothing listens)",
            Verdict::Silent => "no answer",
        }
    }
}

/// One concrete end, and how details name it (a task by `SERVICE.SLOT`).
#[derive(Debug, Clone)]
struct End {
    at: Endpoint,
    label: String,
}

/// A destination: its ends, and the virtual IPs an isolation check also probes.
struct Dest {
    ends: Vec<End>,
    vips: Vec<Ipv4Addr>,
}

pub(crate) fn reachability(
    r: &mut Runner,
    expect: &ReachExpect,
    line: usize,
) -> Result<Vec<CheckResult>, LimitExceeded> {
    let mut results = Vec::new();
    for (pairs, want_reach) in [(&expect.reachable, true), (&expect.isolated, false)] {
        for reach in pairs {
            let what = format!(
                "{} {} {}",
                written(r, &reach.src),
                if want_reach { "reaches" } else { "is isolated from" },
                target_text(&written(r, &reach.dst), reach.probe)
            );
            let ends = sources(r, &reach.src).and_then(|s| Ok((s, destination(r, &reach.dst)?)));
            let (held, detail) = match ends {
                Err(missing) => (false, missing),
                Ok((srcs, dest)) if want_reach => all_reach(r, &srcs, &dest, reach.probe)?,
                Ok((srcs, dest)) => none_reach(r, &srcs, &dest, reach.probe)?,
            };
            results.push(CheckResult { line, what, held, detail });
        }
    }
    Ok(results)
}

/// Every source reaches every destination end; the detail names the pairs that did not.
fn all_reach(
    r: &mut Runner,
    srcs: &[End],
    dest: &Dest,
    probe: Probe,
) -> Result<(bool, String), LimitExceeded> {
    let (mut failed, mut last) = (Vec::new(), Verdict::Silent);
    for src in srcs {
        for dst in dest.ends.iter().filter(|d| d.at != src.at) {
            let addrs = addresses_from(r, &dst.at, &src.at);
            last = Verdict::Silent;
            for &addr in &addrs {
                last = probe_at(r, &src.at, addr, probe)?;
                if last != Verdict::Silent {
                    break;
                }
            }
            if last == Verdict::Silent {
                failed.push(format!(
                    "{} -> {} at {}: no answer",
                    src.label,
                    dst.label,
                    list(&addrs)
                ));
            }
        }
    }
    Ok(match failed.is_empty() {
        true => (true, last.text().to_string()),
        false => (false, failed.join("; ")),
    })
}

/// No source reaches any address of any destination end, nor a VIP.
fn none_reach(
    r: &mut Runner,
    srcs: &[End],
    dest: &Dest,
    probe: Probe,
) -> Result<(bool, String), LimitExceeded> {
    for src in srcs {
        let ends = dest.ends.iter().filter(|d| d.at != src.at);
        let mut targets: Vec<(Ipv4Addr, &str)> = Vec::new();
        for d in ends {
            targets.extend(addresses(r, &d.at).into_iter().map(|(_, a)| (a, d.label.as_str())));
        }
        targets.extend(dest.vips.iter().map(|&v| (v, "the service's virtual IP")));
        for (addr, whose) in targets {
            let verdict = probe_at(r, &src.at, addr, probe)?;
            if verdict != Verdict::Silent {
                let detail = format!("{} reached {addr} ({whose}): {}", src.label, verdict.text());
                return Ok((false, detail));
            }
        }
    }
    Ok((true, Verdict::Silent.text().to_string()))
}

fn list(addrs: &[Ipv4Addr]) -> String {
    addrs.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>().join(", ")
}

/// The ends a source names, or what was missing.
fn sources(r: &Runner, src: &ReachEnd) -> Result<Vec<End>, String> {
    match src {
        ReachEnd::Endpoint(e) => Ok(vec![End { at: e.clone(), label: describe(r, e) }]),
        ReachEnd::Swarm(name) => tasks(r, name),
    }
}

fn destination(r: &Runner, dst: &ReachEnd) -> Result<Dest, String> {
    let name = match dst {
        ReachEnd::Endpoint(e) => {
            let ends = vec![End { at: e.clone(), label: describe(r, e) }];
            return Ok(Dest { ends, vips: Vec::new() });
        }
        ReachEnd::Swarm(name) => name,
    };
    let ends = tasks(r, name)?;
    let vips = match swarm_parts(name) {
        (service, None) => service_vips(r, service),
        _ => Vec::new(),
    };
    Ok(Dest { ends, vips })
}

/// The running task containers a swarm name names, host by host; crashed hosts have none.
fn tasks(r: &Runner, name: &str) -> Result<Vec<End>, String> {
    let (service, slot) = swarm_parts(name);
    let label = |c: &crate::docker::Container, key: &str| {
        c.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let mut found = Vec::new();
    for (h, d) in daemons(r) {
        for c in d.containers().filter(|c| c.ns().is_some() && !d.addresses(c).is_empty()) {
            // The task label is the container's name, `SERVICE.SLOT.TASKID`.
            let task = label(c, TASK_LABEL).unwrap_or_default();
            let short = task.rsplit_once('.').map_or(task.as_str(), |(s, _)| s);
            let named = match slot {
                None => label(c, SERVICE_LABEL).as_deref() == Some(service),
                Some(_) => short == name,
            };
            if named {
                let at = Endpoint::Container { host: h, name: c.name.clone() };
                found.push(End { at, label: short.to_string() });
            }
        }
    }
    if !found.is_empty() {
        return Ok(found);
    }
    let exists =
        daemons(r).any(|(_, d)| d.swarm_store().is_some_and(|s| s.service(service).is_some()));
    Err(match (exists, slot) {
        (false, _) => format!("no swarm service `{service}` (no manager knows it, no task runs)"),
        (true, None) => format!("service `{service}` has no running task"),
        (true, Some(n)) => format!("service `{service}` has no running task in slot {n}"),
    })
}

/// The Docker hosts that are up, with their scenario ids.
fn daemons<'r>(r: &'r Runner) -> impl Iterator<Item = (HostId, &'r Daemon)> + 'r {
    r.layout.hosts.iter().enumerate().filter_map(|(h, &m)| {
        let machine = &r.world.machines[m];
        machine.daemon.as_ref().filter(|_| !machine.crashed).map(|d| (HostId(h), d))
    })
}

/// A service's virtual IPs, as a manager's store holds them.
fn service_vips(r: &Runner, service: &str) -> Vec<Ipv4Addr> {
    let store =
        daemons(r).find_map(|(_, d)| d.swarm_store().filter(|s| s.service(service).is_some()));
    let endpoint = store.and_then(|s| s.service(service)?.endpoint.as_ref());
    endpoint.map_or(Vec::new(), |e| e.virtual_ips.iter().map(|v| v.addr.addr()).collect())
}

/// An end's addresses with the network each is on (`None` for a machine's underlay one).
fn addresses(r: &Runner, at: &Endpoint) -> Vec<(Option<String>, Ipv4Addr)> {
    match at {
        Endpoint::Machine(Machine::Host(h)) => vec![(None, r.scenario.hosts[h.0].ip)],
        Endpoint::Machine(Machine::External(e)) => vec![(None, r.scenario.externals[e.0].ip)],
        Endpoint::Container { name, .. } => {
            let d = r.world.machines[r.machine_of(at)].daemon.as_ref();
            let d = d.expect("containers live on Docker hosts");
            let Some(c) = d.container(name) else { return Vec::new() };
            d.addresses(c).into_iter().map(|(net, a)| (Some(net.to_string()), a)).collect()
        }
    }
}

/// Where `src` aims at `dst`: its addresses on networks the two share, else all of them.
/// Networks are compared by ID, which a swarm network keeps on every host.
fn addresses_from(r: &Runner, dst: &Endpoint, src: &Endpoint) -> Vec<Ipv4Addr> {
    let mine: Vec<Option<String>> = addresses(r, src).into_iter().map(|(n, _)| n).collect();
    let theirs = addresses(r, dst);
    let shared: Vec<Ipv4Addr> =
        theirs.iter().filter(|(n, _)| n.is_some() && mine.contains(n)).map(|(_, a)| *a).collect();
    if shared.is_empty() {
        theirs.into_iter().map(|(_, a)| a).collect()
    } else {
        shared
    }
}

fn probe_at(
    r: &mut Runner,
    src: &Endpoint,
    dst: Ipv4Addr,
    probe: Probe,
) -> Result<Verdict, LimitExceeded> {
    let (machine, ns, resolv) = source(r, src);
    let prober = Prober { dst, probe, verdict: None, sock: None };
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

fn describe(r: &Runner, e: &Endpoint) -> String {
    match e {
        Endpoint::Machine(Machine::Host(h)) => r.scenario.hosts[h.0].name.clone(),
        Endpoint::Machine(Machine::External(x)) => r.scenario.externals[x.0].name.clone(),
        Endpoint::Container { name, .. } => name.clone(),
    }
}

/// An end as the spec wrote it.
fn written(r: &Runner, end: &ReachEnd) -> String {
    match end {
        ReachEnd::Endpoint(e) => describe(r, e),
        ReachEnd::Swarm(name) => name.clone(),
    }
}

fn target_text(dst: &str, probe: Probe) -> String {
    match probe {
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

/// The matrix probes one address: the destination's first on a network the two share.
fn cell(r: &mut Runner, src: &Endpoint, dst: &Endpoint) -> Result<Cell, LimitExceeded> {
    let addr = addresses_from(r, dst, src).first().copied().unwrap_or(Ipv4Addr::UNSPECIFIED);
    let icmp = probe_at(r, src, addr, Probe::Icmp)? != Verdict::Silent;
    let tcp = match lowest_tcp_port(r, dst) {
        Some(port) => Some((port, probe_at(r, src, addr, Probe::Tcp(port))? == Verdict::Answered)),
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
