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
//! A capture started as `run: "ngrep -tpd eth0 HTTP"` (or in `docker run --net host
//! jpetazzo/netshoot ngrep …`, as lab 001 runs it) records the IP packets ngrep's filter
//! passes; it shows ngrep's startup lines at `capture:`, and at `stop_capture:` what
//! [`Ngrep`] prints for each packet (`#`, and the matches), the `^C` the terminal echoes
//! and ngrep's exit lines, with its exit status (0 when something matched, else 1).
//!
//! tcpdump's wording follows the scenario's engine version: before Docker 23 the hosts of
//! the labs ran Ubuntu 18.04/20.04 and tcpdump 4.9 (seeds/000 prints `capture size`);
//! from 23 on, tcpdump 4.99 (`snapshot length`). Both counts of the statistics are equal:
//! the simulated kernel hands tcpdump each packet at once and drops none.

use crate::check;
use crate::engine::{banner, statistics, Capture, Filter, TcpdumpVersion, EPOCH_UNIX_SECS};
use crate::scenario::{CommandExpect, Endpoint, EngineVersion, NgrepRun, TcpdumpRun};
use crate::wire::{Ngrep, TcpdumpPrinter};

use super::{Entry, Runner};

/// What a `run:` capture's tcpdump or ngrep printed when it started, and whether it is
/// running.
pub(super) struct Started {
    output: String,
    exit_code: i32,
}

impl Runner<'_> {
    pub(super) fn start_capture(&mut self, id: usize, line: usize) {
        let c = &self.scenario.captures[id];
        let machine = self.machine_of(&Endpoint::Machine(c.on));
        let started = match (&c.tcpdump, &c.ngrep) {
            (Some(run), _) => Some(self.start_tcpdump(id, run, line)),
            (None, Some(run)) => Some(self.start_ngrep(id, run, line)),
            (None, None) => None,
        };
        if let Some(started) = started {
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
        let machine = self.machine_of(&Endpoint::Machine(c.on));
        let version = tcpdump_version(self.scenario.engine);
        let (output, exit_code) = match self.world.machines[machine].kernel.root().ifindex(&c.iface)
        {
            Some(_) => (banner(version, &c.iface), 0),
            None => (no_such_device(version, &c.iface), 1),
        };
        self.push_start(id, &run.command, line, Started { output, exit_code })
    }

    /// The transcript entry of ngrep starting: its interface with the network of the
    /// interface's first address (what `pcap_lookupnet` reads), filter and expression.
    fn start_ngrep(&mut self, id: usize, run: &NgrepRun, line: usize) -> Started {
        let c = &self.scenario.captures[id];
        let machine = self.machine_of(&Endpoint::Machine(c.on));
        let root = self.world.machines[machine].kernel.root();
        let started = match root.ifindex(&c.iface) {
            Some(dev) => {
                let net = root.addrs.iter().find(|a| a.dev == dev).map(|a| a.net);
                Started { output: run.args.startup(net), exit_code: 0 }
            }
            None => Started { output: run.args.no_such_device(), exit_code: 1 },
        };
        self.push_start(id, &run.command, line, started)
    }

    /// Shows a capture's command and what it printed at once in the transcript.
    fn push_start(&mut self, id: usize, command: &str, line: usize, started: Started) -> Started {
        let at = Endpoint::Machine(self.scenario.captures[id].on);
        let prompt = self.site(&at).expect("a machine is always a site").prompt;
        let machine = self.world.machines[self.machine_of(&at)].name.clone();
        self.entries.push(Entry {
            line,
            at: self.world.now(),
            prompt: format!("{prompt}{command}"),
            output: started.output.clone(),
            exit_code: started.exit_code,
            machine,
            ops: Vec::new(),
            checks: Vec::new(),
        });
        started
    }

    /// Ends a capture; a `run:` capture shows what tcpdump or ngrep printed since it
    /// started.
    pub(super) fn stop_capture(&mut self, id: usize, line: usize, expect: Option<&CommandExpect>) {
        self.end_capture(id);
        let c = &self.scenario.captures[id];
        let Some(expect) = expect else { return };
        let started = &self.tcpdumps[&id];
        if started.exit_code != 0 {
            // The program had exited at once: the terminal shows nothing more.
            let checks =
                check::command_expectations(&started.output, started.exit_code, expect, line);
            self.checks.extend(checks);
            return;
        }
        let (command, tail, exit_code) = match (&c.tcpdump, &c.ngrep) {
            (Some(run), _) => (&run.command, self.tcpdump_tail(id, run), 0),
            (None, Some(run)) => {
                let (tail, exit_code) = self.ngrep_tail(id, run);
                (&run.command, tail, exit_code)
            }
            (None, None) => unreachable!("validation gives `expect` to printing captures only"),
        };
        let printed = started.output.clone() + &tail;
        let at = Endpoint::Machine(c.on);
        let prompt = self.site(&at).expect("a machine is always a site").prompt;
        self.entries.push(Entry {
            line,
            at: self.world.now(),
            prompt: format!("# {} (continued): {prompt}{command}", c.name),
            output: tail,
            exit_code,
            machine: self.world.machines[self.machine_of(&at)].name.clone(),
            ops: Vec::new(),
            checks: check::command_expectations(&printed, exit_code, expect, line),
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

    /// What ngrep printed for the packets it saw, then the `^C` the terminal echoes (right
    /// after the last `#`: ngrep ends no line before it) and ngrep's exit lines; and its
    /// exit status, which `docker run` passes on.
    fn ngrep_tail(&self, id: usize, run: &NgrepRun) -> (String, i32) {
        let name = &self.scenario.captures[id].name;
        let capture =
            self.world.captures.iter().find(|w| &w.name == name).expect("started: it runs");
        let mut ngrep = Ngrep::new(run.args.clone(), EPOCH_UNIX_SECS);
        let mut out = String::new();
        for (at, frame) in &capture.frames {
            out += &ngrep.packet(*at, frame);
        }
        (out + "^C" + &ngrep.exit(), ngrep.exit_code())
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
