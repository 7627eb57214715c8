//! Running a scenario: builds the world, runs each step's command on its machine or in its
//! container, advances time, checks expectations, and keeps the transcript.
//!
//! Contract: `run(scenario, seed)` is a pure function of the scenario and the seed; it
//! returns the whole `Outcome` (transcript, check results, captures, hops) and writes
//! nothing. Between steps one simulated second passes ("the person reads the output").

mod build;
mod capture;
pub mod command;
mod exec;
mod netns;
pub mod shell;
pub mod timeline;

use crate::check::{self, CheckResult};
use crate::engine::{
    Capture, LimitExceeded, SimDuration, SimTime, Streams, TracedFrame, TracedHop, World,
};
use crate::fabric::Partition;
use crate::kernel::KernelOp;
use crate::report::topology::Topology;
use crate::scenario::{Endpoint, Fault, Scenario, StepKind};
use indexmap::IndexMap;

pub(crate) use build::add_machine;
pub use build::Layout;

/// Simulated time between two steps.
pub const THINK_TIME: SimDuration = SimDuration::from_secs(1);
/// How long a foreground command may run before it is interrupted (Ctrl-C).
pub const FOREGROUND_BUDGET: SimDuration = SimDuration::from_secs(300);

/// One command as the transcript shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub at: SimTime,
    /// The prompt and command as a person would see it: `$ docker network ls`.
    pub prompt: String,
    pub output: String,
    pub exit_code: i32,
    /// The machine the command ran on, by name; empty for a `fault:` step.
    pub machine: String,
    /// The KernelOps the command caused (`--explain`, the differential export).
    pub ops: Vec<KernelOp>,
    pub checks: Vec<CheckResult>,
}

/// Everything a run produced.
pub struct Outcome {
    pub seed: u64,
    pub entries: Vec<Entry>,
    pub checks: Vec<CheckResult>,
    pub captures: Vec<Capture>,
    pub hops: Vec<TracedHop>,
    /// Every frame a packet was sent with, in the order sent (`after` indexes `hops`).
    pub frames: Vec<TracedFrame>,
    /// The scenario's machines after the step that left the most devices.
    pub topology: Topology,
    /// The ops each Docker host's daemon ran at start, by machine name.
    pub startup_ops: Vec<(String, Vec<KernelOp>)>,
    /// Every op applied after the start-up, by machine name, in the order applied: the
    /// commands' (also in their entries) and the swarm's, which no entry holds — task
    /// containers and the overlay's peer neighbour and FDB entries arrive from the event
    /// loop, between steps as well as during them.
    pub applied_ops: Vec<(String, KernelOp)>,
    /// What the run noticed that real Docker accepts silently (an overlay option no driver
    /// reads), one line each.
    pub warnings: Vec<String>,
    pub end: SimTime,
    pub events: u64,
    /// Reachability between every pair of endpoints at the end of the run.
    pub matrix: check::Matrix,
    /// Traffic, membership, raft, NetworkDB and load over the steps, for the plots.
    pub timeline: timeline::Timeline,
}

impl Outcome {
    pub fn all_held(&self) -> bool {
        self.checks.iter().chain(self.entries.iter().flat_map(|e| &e.checks)).all(|c| c.held)
    }
}

/// The timeline the world's probe recorded, up to now; the probe is gone after.
fn recorded_timeline(world: &mut World) -> timeline::Timeline {
    let probe: Box<dyn std::any::Any> = world.take_probe().expect("the run installed its probe");
    let recorder = probe.downcast::<timeline::Recorder>().expect("the probe is the recorder");
    recorder.finish(world)
}

/// Why a run could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("{0} (seed {1})")]
    Limit(LimitExceeded, u64),
}

pub fn run(scenario: &Scenario, seed: u64) -> Result<Outcome, RunError> {
    let mut r = run_steps(scenario, seed, &mut |_| {})?;
    let matrix = check::matrix(&mut r).map_err(|e| RunError::Limit(e, seed))?;
    Ok(r.into_outcome(seed, matrix).0)
}

/// `run` without the final reachability matrix, also handing back the world as the last
/// step left it, for probes made after the scenario (the differential tests). Its captures
/// and hops have moved into the outcome.
pub fn run_keeping_world(scenario: &Scenario, seed: u64) -> Result<(Outcome, World), RunError> {
    run_observing(scenario, seed, |_| {})
}

/// `run_keeping_world`, showing the world to `observe` after every step (and the think
/// time after it): the property tests check their invariants there.
pub fn run_observing(
    scenario: &Scenario,
    seed: u64,
    mut observe: impl FnMut(&World),
) -> Result<(Outcome, World), RunError> {
    let r = run_steps(scenario, seed, &mut observe)?;
    Ok(r.into_outcome(seed, check::Matrix::default()))
}

/// Builds the world and runs every step; then the captures stop and the address
/// uniqueness invariants are checked.
fn run_steps<'s>(
    scenario: &'s Scenario,
    seed: u64,
    observe: &mut dyn FnMut(&World),
) -> Result<Runner<'s>, RunError> {
    let streams = Streams::new(seed);
    let (mut world, layout, startup) = build::build(scenario, &streams);
    world.set_probe(Box::new(timeline::Recorder::default()));
    let startup_ops =
        startup.iter().map(|(m, ops)| (world.machines[*m].name.clone(), ops.clone())).collect();
    let shells = vec![netns::ShellState::default(); world.machines.len()];
    let mut r = Runner {
        world,
        layout,
        scenario,
        startup_ops,
        entries: Vec::new(),
        checks: Vec::new(),
        shells,
        tcpdumps: IndexMap::new(),
        topology: Topology::default(),
        timeline: timeline::Timeline::default(),
    };
    r.offer_topology(0);
    for step in &scenario.steps {
        r.step(step.line, &step.kind).map_err(|e| RunError::Limit(e, seed))?;
        let next = r.world.now() + THINK_TIME;
        r.world.run_until(next).map_err(|e| RunError::Limit(e, seed))?;
        observe(&r.world);
        r.offer_topology(step.line);
    }
    r.finish_captures();
    r.timeline = recorded_timeline(&mut r.world);
    let invariants = check::uniqueness(&r.world);
    r.checks.extend(invariants);
    Ok(r)
}

pub(crate) struct Runner<'s> {
    pub world: World,
    pub layout: Layout,
    pub scenario: &'s Scenario,
    startup_ops: Vec<(String, Vec<KernelOp>)>,
    pub entries: Vec<Entry>,
    pub checks: Vec<CheckResult>,
    /// Each machine's shell and `/var/run/netns`, by world index.
    shells: Vec<netns::ShellState>,
    /// What each `run:` capture's tcpdump printed when it started, by capture id.
    tcpdumps: IndexMap<usize, capture::Started>,
    /// The busiest topology so far, for the report's picture.
    topology: Topology,
    /// What the probe recorded over the steps (the reachability matrix's probes after them
    /// are not part of it).
    timeline: timeline::Timeline,
}

impl Runner<'_> {
    fn into_outcome(self, seed: u64, matrix: check::Matrix) -> (Outcome, World) {
        let warnings = self.warnings();
        let Runner { mut world, entries, checks, startup_ops, topology, timeline, .. } = self;
        let applied_ops = std::mem::take(&mut world.applied_ops)
            .into_iter()
            .map(|(m, op)| (world.machines[m].name.clone(), op))
            .collect();
        let outcome = Outcome {
            seed,
            entries,
            checks,
            captures: std::mem::take(&mut world.captures),
            hops: std::mem::take(&mut world.hops),
            frames: std::mem::take(&mut world.frames),
            topology,
            startup_ops,
            applied_ops,
            warnings,
            end: world.queue.now(),
            events: world.queue.events_run(),
            matrix,
            timeline,
        };
        (outcome, world)
    }

    /// Keeps the world's topology after the step on `line` if it shows at least as many
    /// devices as the busiest so far (the labs end by cleaning up).
    fn offer_topology(&mut self, line: usize) {
        let machines: Vec<usize> =
            self.layout.hosts.iter().chain(&self.layout.externals).copied().collect();
        let underlay: Vec<(String, ipnet::Ipv4Net)> =
            self.scenario.networks.iter().map(|n| (n.name.clone(), n.subnet)).collect();
        let t = Topology::of(&self.world, &machines, &underlay, line);
        if t.size() >= self.topology.size() {
            self.topology = t;
        }
    }

    /// The swarm overlays' ignored options, once per network however many nodes know it.
    fn warnings(&self) -> Vec<String> {
        let daemons = self.world.machines.iter().filter_map(|m| m.daemon.as_ref());
        let mut seen: IndexMap<String, String> = IndexMap::new();
        for (net_id, warning) in daemons.flat_map(|d| d.unknown_overlay_options()) {
            seen.entry(format!("{net_id} {warning}")).or_insert(warning);
        }
        seen.into_values().collect()
    }

    /// `${WORKER_TOKEN}` and `${MANAGER_TOKEN}` become the swarm's join tokens, as the
    /// labs paste them from `docker swarm init` or `join-token -q` (the first manager that
    /// has them answers); without a swarm they stay as typed, and a join fails.
    fn expand_tokens(&self, command: &str) -> String {
        if !command.contains("${") {
            return command.to_string();
        }
        let tokens =
            self.world.machines.iter().filter_map(|m| m.daemon.as_ref()?.join_tokens()).next();
        match tokens {
            Some((worker, manager)) => {
                command.replace("${WORKER_TOKEN}", &worker).replace("${MANAGER_TOKEN}", &manager)
            }
            None => command.to_string(),
        }
    }

    /// Command substitution, `$(CMD)`: CMD runs first where the command runs, and its
    /// output, words joined by single spaces, takes its place (`docker exec -it $(docker
    /// ps -q) sh`, as the labs type it). The transcript shows the line as typed.
    fn substitute(
        &mut self,
        line: usize,
        at: &Endpoint,
        command: &str,
    ) -> Result<String, LimitExceeded> {
        let mut out = String::new();
        let mut rest = command;
        while let Some(start) = rest.find("$(") {
            let Some(len) = rest[start + 2..].find(')') else { break };
            let inner = &rest[start + 2..start + 2 + len];
            let entry = self.run_command(line, at, inner)?;
            out.push_str(&rest[..start]);
            out.push_str(&entry.output.split_whitespace().collect::<Vec<_>>().join(" "));
            rest = &rest[start + 3 + len..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn step(&mut self, line: usize, kind: &StepKind) -> Result<(), LimitExceeded> {
        match kind {
            StepKind::Run { at, command, expect } => {
                let typed = self.expand_tokens(command);
                let command = self.substitute(line, at, &typed)?;
                let mut entry = self.run_command(line, at, &command)?;
                if let Some(prompt) = entry.prompt.strip_suffix(command.as_str()) {
                    entry.prompt = format!("{prompt}{typed}");
                }
                entry.checks =
                    check::command_expectations(&entry.output, entry.exit_code, expect, line);
                self.entries.push(entry);
            }
            StepKind::Wait(d) => {
                let until = self.world.now() + *d;
                self.world.run_until(until)?;
            }
            StepKind::StartCapture(id) => self.start_capture(id.0, line),
            StepKind::StopCapture { id, expect } => self.stop_capture(id.0, line, expect.as_ref()),
            StepKind::Expect(reach) => {
                let results = check::reachability(self, reach, line)?;
                self.checks.extend(results);
            }
            StepKind::Note(_) => {}
            StepKind::Fault(fault) => self.fault(line, fault),
        }
        Ok(())
    }

    /// Applies a fault to the fabric and shows it in the transcript as a comment line.
    fn fault(&mut self, line: usize, fault: &Fault) {
        match fault {
            Fault::Partition(groups) => {
                let machines: Vec<Vec<usize>> = groups
                    .iter()
                    .map(|g| g.iter().map(|m| self.machine_of(&Endpoint::Machine(*m))).collect())
                    .collect();
                self.world.fabric.set_partition(Partition::new(&machines));
            }
            Fault::Heal => self.world.fabric.set_partition(Partition::default()),
            Fault::Link { net, change } => {
                self.world.fabric.change_link(self.layout.segments[net.0], change)
            }
            Fault::Crash(m) => {
                let machine = self.machine_of(&Endpoint::Machine(*m));
                self.world.machines[machine].crashed = true;
            }
        }
        self.entries.push(Entry {
            line,
            at: self.world.now(),
            prompt: fault.describe(self.scenario),
            output: String::new(),
            exit_code: 0,
            machine: String::new(),
            ops: Vec::new(),
            checks: Vec::new(),
        });
    }

    /// The world index of the machine an endpoint lives on.
    pub fn machine_of(&self, at: &Endpoint) -> usize {
        match at {
            Endpoint::Machine(crate::scenario::Machine::Host(h)) => self.layout.hosts[h.0],
            Endpoint::Machine(crate::scenario::Machine::External(e)) => self.layout.externals[e.0],
            Endpoint::Container { host, .. } => self.layout.hosts[host.0],
        }
    }
}
