//! Captures as the steps start and stop them.
//!
//! Contract: every capture records the frames its filter matches on its interface of the
//! machine's root namespace, for the run's `.pcap`. A capture started as the lab types it
//! (`run: "tcpdump -ni eth0 port 4789"`) is also a terminal in the transcript: at `capture:`
//! the prompt, the command and tcpdump's two stderr lines (or its error when the interface
//! does not exist, exit 1, and nothing is captured nor shown later); at `stop_capture:` a `# NAME
//! (continued)` line, then each packet as tcpdump prints it (the simulated time of day,
//! the VXLAN two-line form, `-e` headers), then — unless `-c COUNT` ended it first — the
//! `^C` the terminal echoes and tcpdump's newline, then its statistics. The stop step's
//! `expect:` checks all tcpdump printed, start lines included. With `-c COUNT` only the
//! first COUNT packets count, in the transcript and in the `.pcap`.
//!
//! tcpdump's wording follows the scenario's engine version: before Docker 23 the hosts of
//! the labs ran Ubuntu 18.04/20.04 and tcpdump 4.9 (seeds/000 prints `capture size`);
//! from 23 on, tcpdump 4.99 (`snapshot length`). Both counts of the statistics are equal:
//! the simulated kernel hands tcpdump each packet at once and drops none.

use crate::check;
use crate::engine::{banner, statistics, Capture, Filter, TcpdumpVersion, EPOCH_UNIX_SECS};
use crate::scenario::{CommandExpect, Endpoint, EngineVersion, TcpdumpRun};
use crate::wire::TcpdumpPrinter;

use super::{Entry, Runner};

/// What a `run:` capture's tcpdump printed when it started, and whether it is running.
pub(super) struct Started {
    output: String,
    exit_code: i32,
}

impl Runner<'_> {
    pub(super) fn start_capture(&mut self, id: usize, line: usize) {
        let c = &self.scenario.captures[id];
        let machine = self.machine_of(&Endpoint::Machine(c.on));
        if let Some(run) = &c.tcpdump {
            let started = self.start_tcpdump(id, run, line);
            let running = started.exit_code == 0;
            self.tcpdumps.insert(id, started);
            if !running {
                return;
            }
        }
        let filter = Filter::parse(c.filter.as_deref().unwrap_or("")).expect("validated at load");
        self.world.captures.push(Capture {
            name: c.name.clone(),
            machine,
            ns: crate::kernel::NsRef::Root,
            iface: c.iface.clone(),
            filter,
            active: true,
            frames: Vec::new(),
        });
    }

    /// The transcript entry of `tcpdump …` starting.
    fn start_tcpdump(&mut self, id: usize, run: &TcpdumpRun, line: usize) -> Started {
        let c = &self.scenario.captures[id];
        let at = Endpoint::Machine(c.on);
        let machine = self.machine_of(&at);
        let version = tcpdump_version(self.scenario.engine);
        let m = &self.world.machines[machine];
        let (output, exit_code) = match m.kernel.root().ifindex(&c.iface) {
            Some(_) => (banner(version, &c.iface), 0),
            None => (no_such_device(version, &c.iface), 1),
        };
        let prompt = self.site(&at).expect("a machine is always a site").prompt;
        self.entries.push(Entry {
            line,
            at: self.world.now(),
            prompt: format!("{prompt}{}", run.command),
            output: output.clone(),
            exit_code,
            machine: m.name.clone(),
            ops: Vec::new(),
            checks: Vec::new(),
        });
        Started { output, exit_code }
    }

    /// Ends a capture; a `run:` capture shows what tcpdump printed since it started.
    pub(super) fn stop_capture(&mut self, id: usize, line: usize, expect: Option<&CommandExpect>) {
        self.end_capture(id);
        let c = &self.scenario.captures[id];
        let (Some(run), Some(expect)) = (&c.tcpdump, expect) else { return };
        let started = &self.tcpdumps[&id];
        if started.exit_code != 0 {
            // tcpdump had exited at once: the terminal shows nothing more.
            let checks =
                check::command_expectations(&started.output, started.exit_code, expect, line);
            self.checks.extend(checks);
            return;
        }
        let tail = self.tcpdump_tail(id, run);
        let printed = started.output.clone() + &tail;
        let at = Endpoint::Machine(c.on);
        let prompt = self.site(&at).expect("a machine is always a site").prompt;
        self.entries.push(Entry {
            line,
            at: self.world.now(),
            prompt: format!("# {} (continued): {prompt}{}", c.name, run.command),
            output: tail,
            exit_code: 0,
            machine: self.world.machines[self.machine_of(&at)].name.clone(),
            ops: Vec::new(),
            checks: check::command_expectations(&printed, 0, expect, line),
        });
    }

    /// At the end of the run every capture stops, as if by `stop_capture` without output.
    pub(super) fn finish_captures(&mut self) {
        (0..self.scenario.captures.len()).for_each(|id| self.end_capture(id));
    }

    /// Stops recording; `-c COUNT` keeps only the packets tcpdump waited for.
    fn end_capture(&mut self, id: usize) {
        let c = &self.scenario.captures[id];
        let Some(capture) = self.world.captures.iter_mut().find(|w| w.name == c.name) else {
            return;
        };
        capture.active = false;
        if let Some(count) = c.tcpdump.as_ref().and_then(|r| r.count) {
            capture.frames.truncate(count);
        }
    }

    /// The packet lines, then Ctrl-C's echo and newline unless `-c` ended tcpdump, then
    /// the statistics.
    fn tcpdump_tail(&self, id: usize, run: &TcpdumpRun) -> String {
        let name = &self.scenario.captures[id].name;
        let capture =
            self.world.captures.iter().find(|w| &w.name == name).expect("started: it runs");
        let mut printer = TcpdumpPrinter::new(u64::from(EPOCH_UNIX_SECS) % 86_400)
            .with_link_level(run.link_level);
        let mut out = String::new();
        for (at, frame) in &capture.frames {
            out += &printer.line(*at, frame);
            out.push('\n');
        }
        let n = capture.frames.len();
        if run.count != Some(n) {
            out += "^C\n";
        }
        out + &statistics(n, n)
    }
}

fn tcpdump_version(engine: EngineVersion) -> TcpdumpVersion {
    if engine.major < 23 {
        TcpdumpVersion::V4_9
    } else {
        TcpdumpVersion::V4_99
    }
}

/// tcpdump's error for a missing interface; the parenthesis is libpcap's (1.8 asks the
/// hardware address first, 1.10 checks the device's existence itself).
fn no_such_device(version: TcpdumpVersion, iface: &str) -> String {
    let detail = match version {
        TcpdumpVersion::V4_9 => "SIOCGIFHWADDR: No such device",
        TcpdumpVersion::V4_99 => "No such device exists",
    };
    format!("tcpdump: {iface}: No such device exists\n({detail})\n")
}
