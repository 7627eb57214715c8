//! `swarmsim trace`: follow one probe from a source to a destination through the simulated
//! cluster and print every hop, like Batfish's traceroute or Packet Tracer's simulation
//! mode.
//!
//! Contract: [`trace`] runs the scenario's steps (all, or those before `stop_at`), then
//! injects one probe (a TCP connection by default: SYN, SYN-ACK, ACK; or one UDP datagram,
//! or one ICMP echo) from the source and renders the probe's packets from the hops the
//! kernels recorded: each packet's way, grouped by machine and namespace, with every bridge
//! decision, route, iptables rule hit, NAT, conntrack entry, IPVS choice, VXLAN or ESP
//! wrapping and underlay LAN, or the place and reason it was dropped. It is a pure
//! function of the scenario, the seed and the request: the same inputs give the same bytes.
//! Names the user gets wrong are [`TraceError`]s, never panics.

mod follow;
mod probe;
mod render;
mod resolve;

use std::borrow::Cow;
use std::fmt::Write;

use crate::engine::{TracedHop, World};
use crate::kernel::Stage;
use crate::runner::{self, RunError};
use crate::scenario::{Scenario, StepKind};

use follow::Leg;
use probe::{Heard, Injected};
use resolve::{Origin, Target};

/// What the probe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "icmp" => Ok(Proto::Icmp),
            _ => Err(format!("unknown protocol `{s}` (expected tcp, udp or icmp)")),
        }
    }
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        })
    }
}

/// `swarmsim trace`'s arguments, after the scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// A machine, a container (name, ID or `<service>.<slot>`), a machine's NIC address, or
    /// a free address on an underlay subnet (a temporary client there).
    pub from: String,
    /// A name or address, with `:PORT` or without (the lowest listening port).
    pub to: String,
    pub proto: Proto,
    /// Stop the scenario before this step: a line number, or words of a `note:` step.
    pub stop_at: Option<String>,
}

/// How the probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The handshake completed, the echo or the datagram came back.
    Answered,
    /// A UDP datagram reached a listening socket (UDP owes no answer).
    Delivered,
    /// It got through and was refused (RST, ICMP unreachable).
    Refused,
    /// Dropped: where, and why.
    Dropped { machine: String, ns: String, dev: String, why: String },
    /// The source has no route to the destination.
    Unsendable,
    /// Neither answered nor dropped anywhere the model records (lost on a link).
    Lost,
}

impl Verdict {
    /// Exit code 0: delivered and answered (or, for UDP, delivered).
    pub fn delivered(&self) -> bool {
        matches!(self, Verdict::Answered | Verdict::Delivered)
    }
}

/// The rendered trace and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub text: String,
    pub verdict: Verdict,
}

/// Input a user can get wrong, and a run that hit its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("--from {name}: no such machine, container or task\nhint: {hint}")]
    UnknownSource { name: String, hint: String },
    #[error("--to {name}: no such machine, container or task\nhint: {hint}")]
    UnknownTarget { name: String, hint: String },
    #[error("{flag} {name}: more than one container matches\nhint: give the full container name or its ID")]
    Ambiguous { flag: &'static str, name: String },
    #[error("{name} is not running (no network namespace)\nhint: pick a running container, or use --stop-at to trace before it stopped")]
    NotRunning { name: String },
    #[error("--to {text}: the port must be a number from 1 to 65535")]
    BadPort { text: String },
    #[error(
        "--to {target}: no port given and nothing listens there\nhint: give one, as {target}:PORT"
    )]
    NoPort { target: String },
    #[error("--proto icmp takes no port\nhint: drop the `:PORT` from --to")]
    IcmpPort,
    #[error("--stop-at {what}: no step starts at that line and no `note:` step says that\nhint: give a line number of the scenario file or words of one of its notes")]
    BadStop { what: String },
    #[error("{0}")]
    Run(RunError),
}

/// Runs the scenario, sends the probe, and renders what happened to it.
pub fn trace(scenario: &Scenario, seed: u64, req: &Request) -> Result<Trace, TraceError> {
    let scenario = cut(scenario, req.stop_at.as_deref())?;
    let (_, mut world) = runner::run_keeping_world(&scenario, seed).map_err(TraceError::Run)?;
    let origin = resolve::origin(&world, &scenario, &req.from)?;
    let (from, resolv) = match &origin {
        Origin::At { machine, container, .. } => (
            container.as_deref().map(|c| (*machine, c)),
            resolve::resolv_conf(&world, *machine, container.as_deref()),
        ),
        Origin::Client { .. } => (None, Default::default()),
    };
    let target = resolve::target(&world, &req.to, from, req.proto)?;
    let injected = probe::inject(&mut world, &scenario, seed, &origin, &target, req.proto, resolv)
        .map_err(|e| TraceError::Run(RunError::Limit(e, seed)))?;
    let hops = &world.hops[injected.hops_from..];
    let legs = follow::legs(hops, injected.first_packet);
    let verdict = verdict(&world, &injected, &legs, req.proto);
    let machine = world.machines[injected.machine].name.clone();
    let start = render::Start { machine: &machine, ns: &injected.ns, at: injected.start };
    let mut text = header(&scenario, seed, req, &origin, &target, &machine);
    text += &render::legs(&world, &legs, &start);
    text += &conclusion(&world, &verdict, &legs);
    Ok(Trace { text, verdict })
}

/// The scenario with only the steps before `stop_at`.
fn cut<'s>(scenario: &'s Scenario, stop_at: Option<&str>) -> Result<Cow<'s, Scenario>, TraceError> {
    let Some(what) = stop_at else { return Ok(Cow::Borrowed(scenario)) };
    let stop = match what.parse::<usize>() {
        Ok(line) => scenario.steps.iter().position(|s| s.line == line),
        Err(_) => scenario
            .steps
            .iter()
            .position(|s| matches!(&s.kind, StepKind::Note(text) if text.contains(what))),
    };
    let stop = stop.ok_or_else(|| TraceError::BadStop { what: what.to_string() })?;
    let mut cut = scenario.clone();
    cut.steps.truncate(stop);
    Ok(Cow::Owned(cut))
}

fn header(
    scenario: &Scenario,
    seed: u64,
    req: &Request,
    origin: &Origin,
    target: &Target,
    machine: &str,
) -> String {
    let mut s = format!(
        "Trace {} -> {} ({}), scenario {}, seed {seed}",
        req.from, req.to, req.proto, scenario.name
    );
    match req.stop_at.as_deref().map(|at| (at, at.parse::<usize>().is_ok())) {
        Some((line, true)) => s += &format!(", stopped before line {line}"),
        Some((note, false)) => s += &format!(", stopped before the note `{note}`"),
        None => {}
    }
    s.push('\n');
    if let Origin::Client { net, ip } = origin {
        let lan = &scenario.networks[*net].name;
        let _ = writeln!(s, "Source: {ip}, a temporary client on the underlay LAN {lan}");
    } else {
        let _ = writeln!(s, "Source: {} on {machine}", req.from);
    }
    let dst = match target.port {
        Some(port) => format!("{}:{port}", target.ip),
        None => target.ip.to_string(),
    };
    let _ = writeln!(s, "Destination: {dst}\n");
    s
}

fn verdict(world: &World, injected: &Injected, legs: &[Leg], proto: Proto) -> Verdict {
    match injected.heard {
        Heard::Answer => return Verdict::Answered,
        Heard::Refused => return Verdict::Refused,
        Heard::Unsendable => return Verdict::Unsendable,
        Heard::Nothing => {}
    }
    // The latest hop in time (legs are in the order they began); ties go to the later leg.
    let all = || legs.iter().flat_map(|l| &l.hops);
    let last = all().max_by_key(|h| h.hop.at);
    if proto == Proto::Udp && last.is_some_and(|h| delivered_here(h)) {
        return Verdict::Delivered;
    }
    match all().filter(|h| is_real_drop(h)).max_by_key(|h| h.hop.at) {
        Some(h) => Verdict::Dropped {
            machine: h.machine.clone(),
            ns: render::ns_label(world, &h.machine, &h.hop.ns),
            dev: h.hop.dev.clone(),
            why: h.hop.detail.clone(),
        },
        None => Verdict::Lost,
    }
}

fn delivered_here(h: &TracedHop) -> bool {
    h.hop.stage == Stage::Deliver && h.hop.detail.starts_with("local ")
}

/// A drop that ends the packet's way, not a flooded copy some other port ignores.
fn is_real_drop(h: &TracedHop) -> bool {
    h.hop.stage == Stage::Drop
        && !h.hop.detail.starts_with("not for us")
        && !h.hop.detail.starts_with("FDB: destination is on the ingress port")
}

fn conclusion(world: &World, verdict: &Verdict, legs: &[Leg]) -> String {
    let delivery = legs.first().and_then(|l| l.hops.iter().rev().find(|h| delivered_here(h)));
    let mut s = match verdict {
        Verdict::Answered => "Result: answered.\n".to_string(),
        Verdict::Delivered => "Result: delivered (UDP: no answer is owed).\n".to_string(),
        Verdict::Refused => "Result: refused: the packet got through, nothing listens.\n".into(),
        Verdict::Dropped { machine, ns, dev, why } => {
            let at = if dev == "-" { String::new() } else { format!(" at {dev}") };
            format!("Result: DROPPED on {machine} · {ns}{at}: {why}\n")
        }
        Verdict::Unsendable => "Result: not sent: the source has no route.\n".to_string(),
        Verdict::Lost => "Result: no answer, and no hop dropped it (lost on a link?).\n".into(),
    };
    if let (Some(h), true) = (delivery, verdict.delivered()) {
        let ns = render::ns_label(world, &h.machine, &h.hop.ns);
        let at = h.hop.detail.trim_start_matches("local ");
        let _ = writeln!(s, "Delivered to {at} on {} · {ns}", h.machine);
    }
    s
}
