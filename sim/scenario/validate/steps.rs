//! The steps, validated in order. Each step is exactly one kind: a command (`run:` with
//! `on:` or `in:`, optionally `expect:`), `wait`, `capture`, `stop_capture`, a
//! reachability `expect`, a `note`, or a `fault` (see `faults`).
//!
//! As the steps go, the walk tracks which containers exist (see `containers`) and which
//! captures are open, so `in:`, reachability endpoints and `stop_capture` can only name
//! things an earlier step created.

use std::ops::Range;

use indexmap::IndexMap;

use super::containers::{self, Effect};
use super::faults;
use super::reach::{self, SPEC_EXPECTED};
use super::topology::Topology;
use super::{duration, CommandCheck, Ctx};
use crate::scenario::error::{CommandSite, ErrorKind, RunsOn, ScenarioError};
use crate::scenario::model::*;
use crate::scenario::positions::Path;
use crate::scenario::raw::{RawCapture, RawExpect, RawFault, RawStep};
use crate::scenario::suggest::did_you_mean;
use crate::scenario::values::is_slug;

const ON_EXPECTED: &str =
    "expected the name of a host or external declared under `hosts:`/`externals:`";
const IN_EXPECTED: &str =
    "expected a container named with `--name` by an earlier `docker run` step";
const STEP_KINDS: &str = "expected one of `run` (with `on:` or `in:`), `wait`, `capture`, `stop_capture`, `expect`, `note`, `fault`";

pub(crate) fn build(
    raw: &[RawStep],
    topo: &Topology,
    ctx: &Ctx,
    check: CommandCheck,
) -> Result<(Vec<Capture>, Vec<Step>), ScenarioError> {
    let mut walk = Walk {
        topo,
        ctx,
        check,
        containers: IndexMap::new(),
        removed: IndexMap::new(),
        services: IndexMap::new(),
        captures: Vec::new(),
        open: IndexMap::new(),
        crashed: Vec::new(),
    };
    let steps_path = Path::root().key("steps");
    let mut steps = Vec::with_capacity(raw.len());
    for (i, step) in raw.iter().enumerate() {
        let path = steps_path.index(i);
        let line = ctx.index.value(&path).line;
        steps.push(Step { line, kind: walk.step(step, &path, line)? });
    }
    Ok((walk.captures, steps))
}

struct Walk<'a> {
    topo: &'a Topology,
    ctx: &'a Ctx<'a>,
    check: CommandCheck<'a>,
    /// Containers that exist now: name → (host, line of the step that created it).
    containers: IndexMap<String, (HostId, usize)>,
    /// Containers removed so far: name → line of the `docker rm`, for hints.
    removed: IndexMap<String, usize>,
    /// Services named by `docker service create --name` so far → line of that step.
    services: IndexMap<String, usize>,
    captures: Vec<Capture>,
    open: IndexMap<String, CaptureId>,
    /// Machines a `crash` fault stopped, with the line of that step.
    crashed: Vec<(Machine, usize)>,
}

/// The kind of a step, borrowing the field that makes it that kind.
enum Kind<'r> {
    Command,
    Wait(&'r str),
    Capture(&'r RawCapture),
    StopCapture(&'r str, Option<&'r RawExpect>),
    Note(&'r str),
    Expect(&'r RawExpect),
    Fault(&'r RawFault),
}

/// Every kind the step's fields ask for, with the key that asks.
fn kinds(raw: &RawStep) -> Vec<(&'static str, Kind<'_>)> {
    let mut kinds = Vec::new();
    if raw.on.is_some() || raw.in_container.is_some() || raw.run.is_some() {
        kinds.push(("run", Kind::Command));
    } else if let (Some(expect), None) = (&raw.expect, &raw.stop_capture) {
        kinds.push(("expect", Kind::Expect(expect)));
    }
    if let Some(text) = &raw.wait {
        kinds.push(("wait", Kind::Wait(text)));
    }
    if let Some(capture) = &raw.capture {
        kinds.push(("capture", Kind::Capture(capture)));
    }
    if let Some(name) = &raw.stop_capture {
        kinds.push(("stop_capture", Kind::StopCapture(name, raw.expect.as_ref())));
    }
    if let Some(text) = &raw.note {
        kinds.push(("note", Kind::Note(text)));
    }
    if let Some(fault) = &raw.fault {
        kinds.push(("fault", Kind::Fault(fault)));
    }
    kinds
}

impl Walk<'_> {
    fn step(&mut self, raw: &RawStep, path: &Path, line: usize) -> Result<StepKind, ScenarioError> {
        match kinds(raw).as_slice() {
            [] => {
                let kind = ErrorKind::Step("step does nothing".into());
                Err(self.ctx.at_value(path, kind).expected(STEP_KINDS))
            }
            [(_, Kind::Command)] => self.command(raw, path, line),
            [(_, Kind::Wait(text))] => {
                Ok(StepKind::Wait(duration(text, &path.key("wait"), self.ctx)?))
            }
            [(_, Kind::Capture(capture))] => self.capture(capture, &path.key("capture")),
            [(_, Kind::StopCapture(name, expect))] => self.stop_capture(name, *expect, path),
            [(_, Kind::Note(text))] => Ok(StepKind::Note(text.to_string())),
            [(_, Kind::Expect(expect))] => self.reach_expect(expect, &path.key("expect")),
            [(_, Kind::Fault(fault))] => self.fault(fault, path, line),
            [(first, _), (second, _), ..] => {
                let kind = ErrorKind::Step(format!("step mixes `{first}` and `{second}`"));
                let hint = Some("a step does one thing: split it into one step per kind".into());
                Err(self.ctx.at_key(&path.key(second), kind).hint(hint))
            }
        }
    }

    fn command(
        &mut self,
        raw: &RawStep,
        path: &Path,
        line: usize,
    ) -> Result<StepKind, ScenarioError> {
        let (at, runs_on, target) = self.command_target(raw, path)?;
        let key = if raw.on.is_some() { "on" } else { "in" };
        self.running(&at, &path.key(key), None)?;
        let Some(command) = &raw.run else {
            let hint = Some("add `run: COMMAND`, the command to run there".to_string());
            return Err(self.ctx.at_value(path, ErrorKind::MissingKey("run".into())).hint(hint));
        };
        let run_path = path.key("run");
        if command.trim().is_empty() {
            let kind = ErrorKind::Step("`run` is empty".into());
            return Err(self
                .ctx
                .at_value(&run_path, kind)
                .expected("expected a command, like `docker network ls`"));
        }
        let expect = match &raw.expect {
            Some(expect) => self.command_expect(expect, &path.key("expect"))?,
            None => CommandExpect::default(),
        };
        let site = CommandSite { command, runs_on, target };
        self.check_command(&site, &run_path)?;
        // A step expected to fail (say, a deliberate name conflict) creates and removes nothing.
        if let (Endpoint::Machine(Machine::Host(host)), 0) = (&at, expect.exit_code) {
            self.apply(containers::effect(command), *host, command, &run_path, line)?;
        }
        Ok(StepKind::Run { at, command: command.clone(), expect })
    }

    fn command_target<'r>(
        &self,
        raw: &'r RawStep,
        path: &Path,
    ) -> Result<(Endpoint, RunsOn, &'r str), ScenarioError> {
        match (&raw.on, &raw.in_container) {
            (Some(_), Some(_)) => {
                let kind = ErrorKind::Step("step has both `on:` and `in:`".into());
                let hint =
                    Some("`on:` names a host or external, `in:` a container: keep one".to_string());
                Err(self.ctx.at_key(&path.key("in"), kind).hint(hint))
            }
            (None, None) => {
                let kind = ErrorKind::Step("`run` needs `on:` or `in:`".into());
                let expected = "expected `on: HOST` or `in: CONTAINER` next to `run:`";
                Err(self.ctx.at_key(&path.key("run"), kind).expected(expected))
            }
            (Some(name), None) => {
                let machine = self.machine(name, &path.key("on"))?;
                let runs_on = match machine {
                    Machine::Host(_) => RunsOn::Host,
                    Machine::External(_) => RunsOn::External,
                };
                Ok((Endpoint::Machine(machine), runs_on, name))
            }
            (None, Some(name)) => {
                Ok((self.container(name, &path.key("in"))?, RunsOn::Container, name))
            }
        }
    }

    /// The caller's verdict on a command, reported at the `run:` value.
    fn check_command(&self, site: &CommandSite, path: &Path) -> Result<(), ScenarioError> {
        (self.check)(site).map_err(|err| {
            let range = err.at.clone().unwrap_or(0..site.command.len());
            self.ctx
                .at_part(path, site.command, range, ErrorKind::Command(err.message))
                .hint(err.hint)
        })
    }

    fn apply(
        &mut self,
        effect: Effect,
        host: HostId,
        command: &str,
        path: &Path,
        line: usize,
    ) -> Result<(), ScenarioError> {
        match effect {
            Effect::Create { name, at } => {
                if self.topo.machine(name).is_some() {
                    let kind =
                        ErrorKind::Invalid { what: "container name", text: name.to_string() };
                    let hint = Some(format!("`{name}` already names a host or external; reachability specs could not tell them apart"));
                    return Err(self
                        .ctx
                        .at_part(path, command, at, kind)
                        .expected("expected a name no machine has")
                        .hint(hint));
                }
                if let Some((_, created)) = self.containers.get(name) {
                    let kind = ErrorKind::ContainerNameInUse(name.to_string());
                    let hint = Some(format!("the container made at line {created} still exists: remove it first with `docker rm -f {name}`, or choose another name"));
                    return Err(self.ctx.at_part(path, command, at, kind).hint(hint));
                }
                self.removed.shift_remove(name);
                self.containers.insert(name.to_string(), (host, line));
            }
            Effect::Remove(names) => {
                for name in names {
                    if self.containers.shift_remove(name).is_some() {
                        self.removed.insert(name.to_string(), line);
                    }
                }
            }
            Effect::Service(name) => {
                self.services.entry(name.to_string()).or_insert(line);
            }
            Effect::Nothing => {}
        }
        Ok(())
    }

    fn command_expect(&self, raw: &RawExpect, path: &Path) -> Result<CommandExpect, ScenarioError> {
        for (key, given) in
            [("reachable", raw.reachable.is_some()), ("isolated", raw.isolated.is_some())]
        {
            if given {
                let kind =
                    ErrorKind::Step(format!("`{key}` belongs in an `expect:` step of its own"));
                let hint =
                    Some(format!("move it to a separate step: `- expect: {{{key}: [...]}}`"));
                return Err(self.ctx.at_key(&path.key(key), kind).hint(hint));
            }
        }
        Ok(CommandExpect {
            output_contains: raw.output_contains.as_ref().map(|o| o.0.clone()).unwrap_or_default(),
            output_lacks: raw.output_lacks.as_ref().map(|o| o.0.clone()).unwrap_or_default(),
            output_equals: raw.output_equals.clone(),
            exit_code: raw.exit_code.unwrap_or(0),
        })
    }

    fn reach_expect(&self, raw: &RawExpect, path: &Path) -> Result<StepKind, ScenarioError> {
        let command_only = [
            ("output_contains", raw.output_contains.is_some()),
            ("output_lacks", raw.output_lacks.is_some()),
            ("output_equals", raw.output_equals.is_some()),
            ("exit_code", raw.exit_code.is_some()),
        ];
        if let Some((key, _)) = command_only.iter().find(|(_, given)| *given) {
            let kind = ErrorKind::Step(format!("`{key}` needs a command to check"));
            let hint = Some("put it under the `expect:` of a step with `run:`".to_string());
            return Err(self.ctx.at_key(&path.key(key), kind).hint(hint));
        }
        let reachable =
            self.reach_list(raw.reachable.as_deref().unwrap_or_default(), &path.key("reachable"))?;
        let isolated =
            self.reach_list(raw.isolated.as_deref().unwrap_or_default(), &path.key("isolated"))?;
        if reachable.is_empty() && isolated.is_empty() {
            let kind = ErrorKind::Step("`expect:` step checks nothing".into());
            return Err(self
                .ctx
                .at_value(path, kind)
                .expected("expected `reachable:` or `isolated:` with at least one spec"));
        }
        Ok(StepKind::Expect(ReachExpect { reachable, isolated }))
    }

    fn reach_list(&self, specs: &[String], path: &Path) -> Result<Vec<Reach>, ScenarioError> {
        specs.iter().enumerate().map(|(i, spec)| self.reach(spec, &path.index(i))).collect()
    }

    fn reach(&self, spec: &str, path: &Path) -> Result<Reach, ScenarioError> {
        let parts = reach::parse(spec).map_err(|err| {
            let kind = ErrorKind::Invalid { what: "reachability spec", text: spec.to_string() };
            self.ctx.at_part(path, spec, err.at, kind).expected(SPEC_EXPECTED).hint(Some(err.hint))
        })?;
        let src = self.reach_end(parts.src.0, spec, parts.src.1.clone(), path)?;
        if let ReachEnd::Endpoint(e) = &src {
            self.running(e, path, Some((spec, parts.src.1)))?;
        }
        let dst = self.reach_end(parts.dst.0, spec, parts.dst.1, path)?;
        Ok(Reach { src, dst, probe: parts.probe })
    }

    /// A machine, a container, or a swarm service or task. A name none of the first two
    /// has is taken as a service (looked up when the check runs) unless it is a removed
    /// container or a near miss of a machine's name, with no service of that name created.
    fn reach_end(
        &self,
        name: &str,
        spec: &str,
        at: std::ops::Range<usize>,
        path: &Path,
    ) -> Result<ReachEnd, ScenarioError> {
        if let Some(machine) = self.topo.machine(name) {
            return Ok(ReachEnd::Endpoint(Endpoint::Machine(machine)));
        }
        if let Some((host, _)) = self.containers.get(name) {
            let container = Endpoint::Container { host: *host, name: name.to_string() };
            return Ok(ReachEnd::Endpoint(container));
        }
        let (service, _) = swarm_parts(name);
        let hint = if self.services.contains_key(service) {
            None
        } else {
            self.removed_hint(name).or_else(|| did_you_mean(name, self.topo.machine_names()))
        };
        let Some(hint) = hint else { return Ok(ReachEnd::Swarm(name.to_string())) };
        let kind = ErrorKind::Unknown { what: "endpoint", name: name.to_string() };
        let expected = "expected a host, an external, a container created by an earlier step, or a swarm service (`SERVICE` or `SERVICE.SLOT`)";
        Err(self.ctx.at_part(path, spec, at, kind).expected(expected).hint(Some(hint)))
    }

    fn machine(&self, name: &str, path: &Path) -> Result<Machine, ScenarioError> {
        self.topo.machine(name).ok_or_else(|| {
            let kind = ErrorKind::Unknown { what: "host", name: name.to_string() };
            let hint = if self.containers.contains_key(name) {
                Some(format!("`{name}` is a container: run commands in it with `in: {name}`"))
            } else {
                did_you_mean(name, self.topo.machine_names())
            };
            self.ctx.at_value(path, kind).expected(ON_EXPECTED).hint(hint)
        })
    }

    fn container(&self, name: &str, path: &Path) -> Result<Endpoint, ScenarioError> {
        if let Some((host, _)) = self.containers.get(name) {
            return Ok(Endpoint::Container { host: *host, name: name.to_string() });
        }
        let kind = ErrorKind::Unknown { what: "container", name: name.to_string() };
        let hint = if self.topo.machine(name).is_some() {
            Some(format!("`{name}` is a host or external: use `on: {name}`"))
        } else if self.containers.is_empty() && self.removed.is_empty() {
            Some(format!(
                "no step so far creates a container: start one with `docker run --name {name} …`"
            ))
        } else {
            self.removed_hint(name)
                .or_else(|| did_you_mean(name, self.containers.keys().map(String::as_str)))
        };
        Err(self.ctx.at_value(path, kind).expected(IN_EXPECTED).hint(hint))
    }

    /// A `fault:` step; a crash is remembered, and a machine crashes only once.
    fn fault(
        &mut self,
        raw: &RawFault,
        path: &Path,
        line: usize,
    ) -> Result<StepKind, ScenarioError> {
        let path = path.key("fault");
        let kind = faults::fault(raw, &path, self.topo, self.ctx)?;
        if let StepKind::Fault(Fault::Crash(machine)) = &kind {
            self.running(&Endpoint::Machine(*machine), &path.key("crash"), None)?;
            self.crashed.push((*machine, line));
        }
        Ok(kind)
    }

    /// Refuses an endpoint on a machine that crashed earlier: it runs nothing more. The
    /// error points at the value under `path`, or at `part` of it.
    fn running(
        &self,
        at: &Endpoint,
        path: &Path,
        part: Option<(&str, Range<usize>)>,
    ) -> Result<(), ScenarioError> {
        let machine = match at {
            Endpoint::Machine(m) => *m,
            Endpoint::Container { host, .. } => Machine::Host(*host),
        };
        let Some((_, line)) = self.crashed.iter().find(|(m, _)| *m == machine) else {
            return Ok(());
        };
        let kind = ErrorKind::Step(format!("{} crashed at line {line}", self.describe(at)));
        let hint = Some(
            "a crashed machine runs nothing more: move this step before the crash".to_string(),
        );
        let err = match part {
            Some((text, range)) => self.ctx.at_part(path, text, range, kind),
            None => self.ctx.at_value(path, kind),
        };
        Err(err.hint(hint))
    }

    /// `host `h``, or `container `c` (on host `h`)`, for messages.
    fn describe(&self, at: &Endpoint) -> String {
        let name = |m: Machine| self.topo.machine_name(m).to_string();
        match at {
            Endpoint::Machine(m) => format!("`{}`", name(*m)),
            Endpoint::Container { host, name: c } => {
                format!("`{c}`'s host `{}`", name(Machine::Host(*host)))
            }
        }
    }

    fn removed_hint(&self, name: &str) -> Option<String> {
        self.removed
            .get(name)
            .map(|line| format!("container `{name}` was removed by the step at line {line}"))
    }

    fn capture(&mut self, raw: &RawCapture, path: &Path) -> Result<StepKind, ScenarioError> {
        let on = self.machine(&raw.on, &path.key("on"))?;
        self.running(&Endpoint::Machine(on), &path.key("on"), None)?;
        if !is_slug(&raw.name) {
            let kind = ErrorKind::Invalid { what: "capture name", text: raw.name.clone() };
            let expected = "expected lowercase letters, digits and dashes only ([a-z0-9-]+): it names the pcap file";
            return Err(self.ctx.at_value(&path.key("name"), kind).expected(expected));
        }
        if self.captures.iter().any(|c| c.name == raw.name) {
            let kind = ErrorKind::DuplicateName { what: "capture", name: raw.name.clone() };
            let expected = "expected a name no earlier capture has: each capture is one pcap file";
            return Err(self.ctx.at_value(&path.key("name"), kind).expected(expected));
        }
        let (iface, filter, run) = match (&raw.run, &raw.iface) {
            (Some(command), None) => {
                let (iface, filter, run) = self.capture_command(command, raw, path)?;
                (iface, filter, Some(run))
            }
            (None, Some(iface)) => (iface.clone(), self.capture_filter(raw, path)?, None),
            (Some(_), Some(_)) => {
                let kind = ErrorKind::Step("capture has both `run:` and `iface:`".into());
                let hint = Some(
                    "`run: \"tcpdump -ni IFACE FILTER\"` names the interface itself: drop `iface:`"
                        .to_string(),
                );
                return Err(self.ctx.at_key(&path.key("iface"), kind).hint(hint));
            }
            (None, None) => {
                let kind = ErrorKind::Step("capture needs `run:` or `iface:`".into());
                let expected = "expected `run: \"tcpdump -ni eth0 FILTER\"`, or `iface: IFACE` with an optional `filter:`";
                return Err(self.ctx.at_value(path, kind).expected(expected));
            }
        };
        let (tcpdump, ngrep) = match run {
            Some(CaptureRun::Tcpdump(t)) => (Some(t), None),
            Some(CaptureRun::Ngrep(n)) => (None, Some(n)),
            None => (None, None),
        };
        let id = CaptureId(self.captures.len());
        self.captures.push(Capture { name: raw.name.clone(), on, iface, filter, tcpdump, ngrep });
        self.open.insert(raw.name.clone(), id);
        Ok(StepKind::StartCapture(id))
    }

    /// The `iface:` form's interface check and filter.
    fn capture_filter(
        &self,
        raw: &RawCapture,
        path: &Path,
    ) -> Result<Option<String>, ScenarioError> {
        let iface = raw.iface.as_deref().unwrap_or_default();
        if iface.trim().is_empty() {
            let kind = ErrorKind::Invalid { what: "interface", text: iface.to_string() };
            return Err(self
                .ctx
                .at_value(&path.key("iface"), kind)
                .expected("expected an interface name, like `eth0` or `docker0`"));
        }
        let filter = raw.filter.clone().filter(|f| !f.trim().is_empty());
        if let Err(e) = crate::engine::Filter::parse(filter.as_deref().unwrap_or("")) {
            let kind = ErrorKind::Invalid { what: "capture filter", text: e.0 };
            let expected =
                "expected a tcpdump filter: `icmp or arp`, `tcp port 80`, `host 172.17.0.2`, …";
            return Err(self.ctx.at_value(&path.key("filter"), kind).expected(expected));
        }
        Ok(filter)
    }

    /// The `run:` form: `[sudo] tcpdump OPTIONS FILTER`, or ngrep (`[sudo] ngrep …` or
    /// `docker run --net host IMAGE ngrep …`), errors pointing at the word.
    fn capture_command(
        &self,
        command: &str,
        raw: &RawCapture,
        path: &Path,
    ) -> Result<(String, Option<String>, CaptureRun), ScenarioError> {
        let run_path = path.key("run");
        if raw.filter.is_some() {
            let kind = ErrorKind::Step("capture has both `run:` and `filter:`".into());
            let hint = Some("put the filter at the end of the tcpdump command line".to_string());
            return Err(self.ctx.at_key(&path.key("filter"), kind).hint(hint));
        }
        let fail = |message: String, at: Range<usize>, hint: Option<String>| {
            self.ctx.at_part(&run_path, command, at, ErrorKind::Command(message)).hint(hint)
        };
        let words = crate::runner::shell::split_spans(command)
            .map_err(|e| fail(e.to_string(), 0..command.len(), None))?;
        let words = match words.first() {
            Some((w, _)) if w == "sudo" => &words[1..],
            _ => &words[..],
        };
        let (program, in_docker) = match strip_docker_run(words) {
            Ok(rest) => (rest, rest.len() < words.len()),
            Err(e) => return Err(fail(e.message, e.at, e.hint)),
        };
        match program.first() {
            Some((w, _)) if w == "tcpdump" && !in_docker => {}
            Some((w, _)) if w == "ngrep" => {
                let args = crate::wire::NgrepArgs::parse(program)
                    .map_err(|e| fail(e.message, e.at, e.hint))?;
                let filter = self.ngrep_filter(&args, &fail)?;
                let run = NgrepRun { command: command.to_string(), args };
                return Ok((run.args.iface.clone(), Some(filter), CaptureRun::Ngrep(run)));
            }
            first => {
                let at = first.map_or(0..command.len(), |(_, at)| at.clone());
                // The tcpdump wording stays as it was; ngrep is the only program in a
                // `docker run` capture.
                let (message, hint) = if in_docker {
                    (
                        "expected an ngrep command",
                        "a capture runs `docker run --net host jpetazzo/netshoot ngrep …`",
                    )
                } else {
                    (
                        "expected a tcpdump command",
                        "a capture runs tcpdump: `run: \"tcpdump -ni eth0 port 4789\"`",
                    )
                };
                return Err(fail(message.into(), at, Some(hint.into())));
            }
        }
        let args = crate::engine::TcpdumpArgs::parse(program)
            .map_err(|e| fail(e.message, e.at, e.hint))?;
        let filter = Some(args.filter).filter(|f| !f.is_empty());
        let run = TcpdumpRun {
            command: command.to_string(),
            count: args.count,
            link_level: args.link_level,
        };
        Ok((args.iface, filter, CaptureRun::Tcpdump(run)))
    }

    /// What ngrep's capture records: IP packets, and its BPF words if any, which must be
    /// the filter language the simulator knows.
    fn ngrep_filter(
        &self,
        args: &crate::wire::NgrepArgs,
        fail: &dyn Fn(String, Range<usize>, Option<String>) -> ScenarioError,
    ) -> Result<String, ScenarioError> {
        if args.filter.is_empty() {
            return Ok("ip".to_string());
        }
        if let Err(e) = crate::engine::Filter::parse(&args.filter) {
            let at = args.filter_at.clone();
            let hint = Some("a BPF filter: `udp port 4789`, `host 172.16.24.5`, …".to_string());
            return Err(fail(format!("ngrep: {}", e.0), at, hint));
        }
        Ok(format!("ip and ( {} )", args.filter))
    }

    fn stop_capture(
        &mut self,
        name: &str,
        expect: Option<&RawExpect>,
        step: &Path,
    ) -> Result<StepKind, ScenarioError> {
        let path = &step.key("stop_capture");
        if let Some(&id) = self.open.get(name) {
            let expect = match (self.captures[id.0].prints(), expect) {
                (true, Some(raw)) => Some(self.command_expect(raw, &step.key("expect"))?),
                (true, None) => Some(CommandExpect::default()),
                (false, None) => None,
                (false, Some(_)) => {
                    let kind = ErrorKind::Step(format!("capture `{name}` prints nothing to check"));
                    let hint = Some("start it with `run: \"tcpdump -ni IFACE FILTER\"` to check what tcpdump prints".to_string());
                    return Err(self.ctx.at_key(&step.key("expect"), kind).hint(hint));
                }
            };
            self.open.shift_remove(name);
            return Ok(StepKind::StopCapture { id, expect });
        }
        if self.captures.iter().any(|c| c.name == name) {
            let kind = ErrorKind::Step(format!("capture `{name}` is already stopped"));
            return Err(self
                .ctx
                .at_value(path, kind)
                .expected("expected a capture that is still running"));
        }
        let kind = ErrorKind::Unknown { what: "capture", name: name.to_string() };
        let hint = did_you_mean(name, self.open.keys().map(String::as_str));
        let expected = "expected the name of a capture started by an earlier `capture:` step";
        Err(self.ctx.at_value(path, kind).expected(expected).hint(hint))
    }
}

/// What a `run:` capture runs.
enum CaptureRun {
    Tcpdump(TcpdumpRun),
    Ngrep(NgrepRun),
}

/// Images the labs run ngrep from.
const NGREP_IMAGES: [&str; 2] = ["jpetazzo/netshoot", "nicolaka/netshoot"];

/// A `docker run` prefix a capture cannot take.
struct DockerRunError {
    message: String,
    at: Range<usize>,
    hint: Option<String>,
}

/// The words from the program on: past `docker run [--rm] --net host IMAGE` when the
/// command starts so (ngrep in a container on the host's network sees the host's
/// interfaces), else all of them.
fn strip_docker_run(
    words: &[(String, Range<usize>)],
) -> Result<&[(String, Range<usize>)], DockerRunError> {
    let [(docker, _), (run, run_at), rest @ ..] = words else { return Ok(words) };
    if docker != "docker" || run != "run" {
        return Ok(words);
    }
    let hint = || Some("a capture runs `docker run --net host jpetazzo/netshoot ngrep …`".into());
    let (mut host, mut k) = (false, 0);
    while let Some((word, at)) = rest.get(k).filter(|(w, _)| w.starts_with('-')) {
        k += 1;
        match word.as_str() {
            "--rm" => continue,
            "--net=host" | "--network=host" => host = true,
            "--net" | "--network" if rest.get(k).is_some_and(|(v, _)| v == "host") => {
                (host, k) = (true, k + 1);
            }
            _ => {
                let message = format!("docker run option {word} is not simulated in a capture");
                return Err(DockerRunError { message, at: at.clone(), hint: hint() });
            }
        }
    }
    let Some((image, image_at)) = rest.get(k) else {
        let message = "docker run needs an image".to_string();
        return Err(DockerRunError { message, at: run_at.clone(), hint: hint() });
    };
    if !host {
        let message = "a capture sniffs the host's interfaces: add `--net host`".to_string();
        return Err(DockerRunError { message, at: image_at.clone(), hint: hint() });
    }
    let name = image.strip_suffix(":latest").unwrap_or(image);
    if !NGREP_IMAGES.contains(&name) {
        let message = format!("image {image} is not one the simulator runs ngrep from");
        let hint = Some(format!("one of {}", NGREP_IMAGES.join(", ")));
        return Err(DockerRunError { message, at: image_at.clone(), hint });
    }
    Ok(&rest[k + 1..])
}

#[cfg(test)]
mod tests {
    use crate::scenario::{parse, CommandError, CommandSite, Scenario, ScenarioError};

    fn accept(_: &CommandSite) -> Result<(), CommandError> {
        Ok(())
    }

    /// A scenario whose only step is a capture running `command` on `docker-host`.
    fn with_capture(command: &str) -> Result<Scenario, ScenarioError> {
        let src = format!(
            "name: t\nunderlay:\n  networks:\n    - {{name: lan, subnet: 172.16.24.0/24}}\n\
             hosts:\n  - {{name: docker-host, ip: 172.16.24.5}}\nsteps:\n\
             \x20 - capture: {{on: docker-host, run: \"{command}\", name: sniff}}\n"
        );
        parse(&src, "t.yaml", &accept)
    }

    #[test]
    fn ngrep_captures_as_lab_001_runs_them() {
        let line = "docker run --net host jpetazzo/netshoot ngrep -tpd eth0 HTTP";
        let s = with_capture(line).expect("valid");
        let c = &s.captures[0];
        assert_eq!((c.iface.as_str(), c.filter.as_deref()), ("eth0", Some("ip")));
        let run = c.ngrep.as_ref().expect("an ngrep capture");
        assert_eq!((run.command.as_str(), run.args.expression.as_deref()), (line, Some("HTTP")));
        assert!(c.tcpdump.is_none() && c.prints());
        let s = with_capture("sudo ngrep -d eth0 HTTP udp port 4789").expect("valid");
        assert_eq!(s.captures[0].filter.as_deref(), Some("ip and ( udp port 4789 )"));
        let s =
            with_capture("docker run --rm --network=host nicolaka/netshoot:latest ngrep -d eth0");
        assert_eq!(
            s.expect("valid").captures[0].ngrep.as_ref().map(|r| r.args.timestamps),
            Some(false)
        );
    }

    #[test]
    fn ngrep_command_lines_the_simulator_cannot_run() {
        let message = |line: &str| {
            let e = with_capture(line).expect_err("rejected");
            (e.message(), e.line_col().expect("located").1)
        };
        let at = |col: usize| col + "  - capture: {on: docker-host, run: \"".len();
        let m = message("docker run jpetazzo/netshoot ngrep -d eth0 HTTP");
        assert_eq!(m, ("a capture sniffs the host's interfaces: add `--net host`".into(), at(12)));
        let m = message("docker run --net host alpine ngrep -d eth0 HTTP");
        assert_eq!(m, ("image alpine is not one the simulator runs ngrep from".into(), at(23)));
        let m = message("docker run -it --net host jpetazzo/netshoot ngrep -d eth0");
        assert_eq!(m, ("docker run option -it is not simulated in a capture".into(), at(12)));
        let m = message("docker run --net host jpetazzo/netshoot tcpdump -ni eth0");
        assert_eq!(m, ("expected an ngrep command".into(), at(41)));
        let m = message("ngrep -d eth0 HTTP port 80 andd");
        assert_eq!(m.1, at(20));
        assert!(m.0.starts_with("ngrep: syntax error"), "{}", m.0);
        let m = message("ngrep -x -d eth0 HTTP");
        assert_eq!(m, ("ngrep option -x is not simulated".into(), at(7)));
    }
}
