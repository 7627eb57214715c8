//! The validated scenario. Names have become ids (indexes into the `Vec`s of [`Scenario`]),
//! addresses and durations are parsed, and every step is one variant of [`StepKind`] with
//! exactly the fields it needs. Nothing here can refer to a host, network, container or
//! capture that does not exist.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::docker::swarm::store::Os;
use crate::engine::{RunLimits, SimDuration};
use crate::fabric::{LinkChange, LinkParams};

pub use super::values::EngineVersion;

/// Index into [`Scenario::networks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetId(pub usize);

/// Index into [`Scenario::hosts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub usize);

/// Index into [`Scenario::externals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalId(pub usize);

/// Index into [`Scenario::captures`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaptureId(pub usize);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// `[a-z0-9-]+`; names the report directory.
    pub name: String,
    pub description: Option<String>,
    /// Default 1; the CLI's `--seed` overrides it.
    pub seed: u64,
    pub engine: EngineVersion,
    pub limits: RunLimits,
    pub networks: Vec<Network>,
    pub hosts: Vec<Host>,
    pub externals: Vec<External>,
    /// Every capture the steps start, in the order they start.
    pub captures: Vec<Capture>,
    pub steps: Vec<Step>,
}

/// An underlay L2 LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub subnet: Ipv4Net,
    /// The router to the "internet" (externals outside every subnet), if any.
    pub gateway: Option<Ipv4Addr>,
    /// The resolver hosts use (`/etc/resolv.conf`): `dns:`, else the gateway, else none.
    pub dns: Option<Ipv4Addr>,
    /// Latency (default [`DEFAULT_LAN_LATENCY`]), jitter, loss and bandwidth of the LAN.
    pub link: LinkParams,
}

/// The default one-way LAN latency.
pub const DEFAULT_LAN_LATENCY: SimDuration = SimDuration::from_micros(200);

/// A Docker host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub ip: Ipv4Addr,
    pub net: NetId,
    /// The platform dockerd reports; swarm places a task only where its image's OS runs.
    pub os: Os,
}

/// A plain machine without Docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    pub name: String,
    pub ip: Ipv4Addr,
    pub place: Placement,
    /// What it answers; `[ping]` unless `serves:` says otherwise.
    pub serves: Vec<Service>,
}

/// Where an external sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// On a LAN: its IP is inside that network's subnet.
    Lan(NetId),
    /// Behind the gateway of `via`, `hops` routers and `latency` (one way) away.
    Internet { via: NetId, latency: SimDuration, hops: u8 },
}

/// One-way latency to an internet external when `latency:` is not given.
pub const DEFAULT_INTERNET_LATENCY: SimDuration = SimDuration::from_millis(20);
/// Routers between the gateway and an internet external when `hops:` is not given.
pub const DEFAULT_INTERNET_HOPS: u8 = 10;

/// What an external answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// ICMP echo requests.
    Ping,
    /// HTTP on TCP port 80.
    Http,
    /// HTTPS on TCP port 443 (the TCP handshake; there is no TLS model).
    Https,
    /// DNS on UDP port 53.
    Dns,
}

/// A machine on the underlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Host(HostId),
    External(ExternalId),
}

/// Where a command runs, or one end of a reachability check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Machine(Machine),
    /// A container declared by `docker run --name NAME` on `host` in an earlier step.
    Container {
        host: HostId,
        name: String,
    },
}

/// A packet capture, started by one step and stopped by a later one or at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// `[a-z0-9-]+`; names the pcap file.
    pub name: String,
    pub on: Machine,
    pub iface: String,
    /// tcpdump filter syntax; `None` captures everything.
    pub filter: Option<String>,
    /// Given as `run: "tcpdump …"`: the capture shows in the transcript as that command.
    pub tcpdump: Option<TcpdumpRun>,
    /// Given as `run: "ngrep …"` or `run: "docker run --net host IMAGE ngrep …"`: the
    /// capture shows in the transcript as that command, printing what ngrep prints.
    pub ngrep: Option<NgrepRun>,
}

impl Capture {
    /// Whether the capture is a command in the transcript, whose output `expect:` checks.
    pub fn prints(&self) -> bool {
        self.tcpdump.is_some() || self.ngrep.is_some()
    }
}

/// A capture started as the lab types it; its `iface` and `filter` come from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpdumpRun {
    /// The command line as written.
    pub command: String,
    /// `-c COUNT`: tcpdump exits by itself after this many packets.
    pub count: Option<usize>,
    /// `-e`: print the Ethernet header of each frame.
    pub link_level: bool,
}

/// A capture that runs ngrep as the lab types it; its `iface` comes from `-d`, and its
/// `filter` is `ip`, and the BPF words after the expression: the packets ngrep sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NgrepRun {
    /// The command line as written.
    pub command: String,
    pub args: crate::wire::NgrepArgs,
}

/// One step, and the line it starts on (for the transcript and runtime errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    Run {
        at: Endpoint,
        command: String,
        expect: CommandExpect,
    },
    Wait(SimDuration),
    StartCapture(CaptureId),
    /// Stops a capture (Ctrl-C); a `run:` capture's output is checked against `expect`
    /// (`None` for the `iface:` form, which prints nothing).
    StopCapture {
        id: CaptureId,
        expect: Option<CommandExpect>,
    },
    Expect(ReachExpect),
    Note(String),
    Fault(Fault),
}

/// A change to the underlay in the middle of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Groups of machines that can no longer reach each other; the machines not listed form
    /// one more group. Replaces any earlier partition.
    Partition(Vec<Vec<Machine>>),
    /// Removes every partition.
    Heal,
    /// New link parameters for a network, from now on.
    Link { net: NetId, change: LinkChange },
    /// The machine stops for good, as if its power were cut: nothing reaches it, its timers
    /// never fire, it sends nothing more. Its peers find out only by timeouts.
    Crash(Machine),
}

impl Fault {
    /// The step as the transcript shows it: `# fault: partition [a] | [b, c]`.
    pub fn describe(&self, scenario: &Scenario) -> String {
        let name = |m: &Machine| match m {
            Machine::Host(h) => scenario.hosts[h.0].name.as_str(),
            Machine::External(e) => scenario.externals[e.0].name.as_str(),
        };
        match self {
            Fault::Partition(groups) => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|g| format!("[{}]", g.iter().map(name).collect::<Vec<_>>().join(", ")))
                    .collect();
                format!("# fault: partition {}", groups.join(" | "))
            }
            Fault::Heal => "# fault: heal".to_string(),
            Fault::Link { net, change } => {
                format!("# fault: link {}: {change}", scenario.networks[net.0].name)
            }
            Fault::Crash(m) => format!("# fault: crash {}", name(m)),
        }
    }
}

/// What a command must do. Without `expect:`, exit code 0 and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandExpect {
    pub output_contains: Vec<String>,
    /// Texts the output must not contain (a task never placed on a node, a name not shown).
    pub output_lacks: Vec<String>,
    pub output_equals: Option<String>,
    pub exit_code: u8,
}

/// Reachability and isolation checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachExpect {
    pub reachable: Vec<Reach>,
    pub isolated: Vec<Reach>,
}

/// `SRC -> DST[:PORT][/tcp|/udp|/icmp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub src: ReachEnd,
    pub dst: ReachEnd,
    pub probe: Probe,
}

/// One end of a reachability check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReachEnd {
    /// A machine, or a container an earlier `docker run --name` declared.
    Endpoint(Endpoint),
    /// A swarm service (`web`: every running task) or one task of a replicated service
    /// (`web.2`, by slot). Services are created by steps, so the name is looked up when the
    /// check runs.
    Swarm(String),
}

/// A swarm name split into its service and, for `SERVICE.SLOT`, the slot: `web.2` →
/// (`web`, Some(2)), `web` → (`web`, None).
pub fn swarm_parts(name: &str) -> (&str, Option<u64>) {
    match name.rsplit_once('.') {
        Some((service, slot))
            if !service.is_empty() && slot.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (service, slot.parse().ok())
        }
        _ => (name, None),
    }
}

/// How reachability is probed: ICMP echo, or a connection to a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Icmp,
    Tcp(u16),
    Udp(u16),
}
