//! Running one command: on a machine's shell, or inside a container as `docker exec` does.

use crate::docker::{DockerOutcome, Effect};
use crate::engine::LimitExceeded;
use crate::kernel::process::{Process, ResolvConf};
use crate::kernel::tools::{DnsClient, PingFlavor, Resolving};
use crate::kernel::{views, KernelOp, NsRef};
use crate::scenario::{Endpoint, RunsOn};

use super::command::{self, Command, NsCommand};
use super::{Entry, Runner, FOREGROUND_BUDGET};

/// Where a command runs, resolved: machine, namespace, resolver config, prompt.
pub(super) struct Site {
    machine: usize,
    ns: NsRef,
    resolv: ResolvConf,
    pub prompt: String,
    flavor: PingFlavor,
    runs_on: RunsOn,
}

impl Runner<'_> {
    pub(super) fn run_command(
        &mut self,
        line: usize,
        at: &Endpoint,
        text: &str,
    ) -> Result<Entry, LimitExceeded> {
        let site = match self.site(at) {
            Ok(site) => site,
            Err(message) => {
                let prompt = format!("$ docker exec {text}");
                let output = format!("Error response from daemon: {message}\n");
                let machine = self.world.machines[self.machine_of(at)].name.clone();
                let at = self.world.now();
                return Ok(Entry {
                    line,
                    at,
                    machine,
                    prompt,
                    output,
                    exit_code: 1,
                    ops: Vec::new(),
                    checks: Vec::new(),
                });
            }
        };
        let at_time = self.world.now();
        let mut entry = Entry {
            line,
            at: at_time,
            machine: self.world.machines[site.machine].name.clone(),
            prompt: format!("{}{text}", site.prompt),
            output: String::new(),
            exit_code: 0,
            ops: Vec::new(),
            checks: Vec::new(),
        };
        let (text, grep) = match super::shell::split_pipe(text) {
            Ok(split) => split,
            Err(e) => {
                entry.output = format!("{e}\n");
                entry.exit_code = 2;
                return Ok(entry);
            }
        };
        let cmd = match command::parse(&text, site.runs_on, site.flavor) {
            Ok(c) => c,
            Err(e) => {
                entry.output = format!("{}\n", e.message);
                entry.exit_code = 127;
                return Ok(entry);
            }
        };
        let (out, code) = self.execute(&site, cmd, &mut entry.ops)?;
        (entry.output, entry.exit_code) = match grep {
            Some(grep) => grep.filter(&out),
            None => (out, code),
        };
        Ok(entry)
    }

    /// Where a step's command runs; an error when its container is not running.
    pub(super) fn site(&self, at: &Endpoint) -> Result<Site, String> {
        let machine = self.machine_of(at);
        let m = &self.world.machines[machine];
        match at {
            Endpoint::Container { name, .. } => {
                let daemon = m.daemon.as_ref().expect("containers live on Docker hosts");
                let c =
                    daemon.container(name).ok_or_else(|| format!("No such container: {name}"))?;
                let ns = c.ns().ok_or_else(|| format!("Container {} is not running", c.id))?;
                let flavor = ping_flavor(c.image_name());
                let prompt = match flavor {
                    PingFlavor::Busybox => "/ # ".to_string(),
                    PingFlavor::Iputils => format!("root@{}:/# ", c.short_id()),
                };
                Ok(Site {
                    machine,
                    ns,
                    resolv: daemon.resolv_conf(c),
                    prompt,
                    flavor,
                    runs_on: RunsOn::Container,
                })
            }
            Endpoint::Machine(_) => {
                let prompt = if m.daemon.is_some() && self.scenario.hosts.len() == 1 {
                    "$ ".to_string()
                } else {
                    format!("{}$ ", m.name)
                };
                let runs_on = if m.daemon.is_some() { RunsOn::Host } else { RunsOn::External };
                let resolv = ResolvConf { nameservers: m.nameservers.clone(), hosts: Vec::new() };
                Ok(Site {
                    machine,
                    ns: NsRef::Root,
                    resolv,
                    prompt,
                    flavor: PingFlavor::Iputils,
                    runs_on,
                })
            }
        }
    }

    fn execute(
        &mut self,
        site: &Site,
        cmd: Command,
        ops: &mut Vec<KernelOp>,
    ) -> Result<(String, i32), LimitExceeded> {
        let now = self.world.now();
        let kernel = &mut self.world.machines[site.machine].kernel;
        let view = |r: Result<String, String>| match r {
            Ok(s) => (s, 0),
            Err(e) => (format!("{e}\n"), 1),
        };
        Ok(match cmd {
            Command::Docker(argv) => self.docker(site.machine, &argv, ops)?,
            Command::Ping(p) => self.foreground(site, Box::new(Resolving::new(p)))?,
            Command::Curl(c) => self.foreground(site, Box::new(Resolving::new(c)))?,
            Command::Nc(n) => self.foreground(site, Box::new(Resolving::new(n)))?,
            Command::Dns(t) => self.foreground(site, Box::new(DnsClient::new(t)))?,
            Command::IpAddr { with_addrs, dev } => {
                view(views::ip_addr(kernel, &site.ns, with_addrs, dev.as_deref()))
            }
            Command::IpRoute => view(views::ip_route(kernel, &site.ns)),
            Command::RouteN => view(views::route_n(kernel, &site.ns)),
            Command::IpXfrm { policies } => {
                let xfrm = &kernel.ns(&site.ns).expect("a site's namespace exists").xfrm;
                (if policies { xfrm.render_policies() } else { xfrm.render_states() }, 0)
            }
            Command::BrctlShow => (views::brctl_show(kernel, &site.ns), 0),
            Command::BridgeFdb(filter) => view(views::bridge_fdb(kernel, &site.ns, now, &filter)),
            Command::Iptables(args) => match kernel.ns_mut(&site.ns).netfilter.run_command(&args) {
                Ok(out) => (out, 0),
                Err(e) => (format!("{}\n", e.message), e.exit_code),
            },
            Command::IptablesSave => (kernel.ns_mut(&site.ns).netfilter.save(), 0),
            Command::Ipvsadm(args) => match kernel.ns_mut(&site.ns).ipvs.run_command(now, &args) {
                Ok(out) => (out, 0),
                Err(e) => (format!("{}\n", e.message), e.exit_code),
            },
            Command::Ns(ns_cmd) => self.namespace_command(site, ns_cmd, ops)?,
        })
    }

    /// The commands that read or change a machine's `/var/run/netns` and working directory,
    /// and those that run another command in a namespace.
    fn namespace_command(
        &mut self,
        site: &Site,
        cmd: NsCommand,
        ops: &mut Vec<KernelOp>,
    ) -> Result<(String, i32), LimitExceeded> {
        let kernel = &mut self.world.machines[site.machine].kernel;
        let shell = &mut self.shells[site.machine];
        Ok(match cmd {
            NsCommand::IpNetnsList => (shell.list(kernel, &site.ns), 0),
            NsCommand::IpNetnsAdd(name) => {
                let op = KernelOp::NetnsAdd { name: name.clone() };
                match kernel.apply(&op) {
                    Ok(_) => {
                        shell.added(&name);
                        self.world.applied_ops.push((site.machine, op.clone()));
                        ops.push(op);
                        (String::new(), 0)
                    }
                    Err(e) => (format!("{e}\n"), 1),
                }
            }
            NsCommand::Ln { target, link } => shell.ln(&target, &link),
            NsCommand::Cd(dir) => shell.cd(dir.as_deref(), kernel),
            NsCommand::InNetns { open, cmd } => match shell.open(kernel, &open) {
                Ok(ns) => {
                    let inner =
                        Site { ns, prompt: String::new(), resolv: site.resolv.clone(), ..*site };
                    self.execute(&inner, *cmd, ops)?
                }
                Err(missing) => missing,
            },
        })
    }

    /// Runs a tool until it exits (or interrupts it like Ctrl-C), returning what it printed.
    fn foreground(
        &mut self,
        site: &Site,
        process: Box<dyn Process>,
    ) -> Result<(String, i32), LimitExceeded> {
        let pid =
            self.world.spawn(site.machine, site.ns.clone(), process, site.resolv.clone(), None);
        let code = self.world.run_until_exit(site.machine, pid, FOREGROUND_BUDGET)?;
        if code.is_none() {
            self.world.with_process(site.machine, pid, |p, cx| p.interrupt(cx));
        }
        let slot = self.world.kill(site.machine, pid).expect("spawned above");
        Ok((slot.stdout, slot.exit.unwrap_or(130)))
    }

    /// A `docker …` command: the daemon answers, its ops change the kernel, its effects
    /// start and stop processes.
    fn docker(
        &mut self,
        machine: usize,
        argv: &[String],
        ops: &mut Vec<KernelOp>,
    ) -> Result<(String, i32), LimitExceeded> {
        let now = self.world.now();
        let m = &mut self.world.machines[machine];
        let daemon = m.daemon.as_mut().expect("validated: docker runs on Docker hosts");
        let mut outcome = daemon.handle(now, argv);
        if let Some(call) = outcome.pending {
            self.world.flush_swarm(machine);
            outcome = match self.world.run_until_done(machine, call, FOREGROUND_BUDGET)? {
                Some(done) => done,
                None => DockerOutcome { exit_code: 130, ..Default::default() },
            };
        }
        let DockerOutcome { stdout, stderr, exit_code, ops: kops, effects, .. } = outcome;
        self.apply_docker_ops(machine, kops, ops);
        // What a terminal shows: `docker run`'s pull progress (stderr) before the ID.
        let mut out = stderr + &stdout;
        let mut code = exit_code;
        for effect in effects {
            let (text, exec_code) = self.apply_effect(machine, effect, ops)?;
            out += &text;
            code = exec_code.unwrap_or(code);
        }
        Ok((out, code))
    }

    /// Runs one effect; `docker exec` also returns what the command printed and its status.
    fn apply_effect(
        &mut self,
        machine: usize,
        effect: Effect,
        ops: &mut Vec<KernelOp>,
    ) -> Result<(String, Option<i32>), LimitExceeded> {
        if let Effect::Exec { container_id, ns, cmd, .. } = effect {
            let (out, code) = self.exec_in_container(machine, &container_id, ns, &cmd)?;
            return Ok((out, Some(code)));
        }
        // An attached main process the simulator does not run as a tool (a server, a shell)
        // starts as a detached one does.
        if let Effect::StartProcess { attached: true, container_id, ns, cmd, .. } = &effect {
            if command::parse(&cmd.join(" "), RunsOn::Container, PingFlavor::Iputils).is_ok() {
                let (id, ns, cmd) = (container_id.clone(), ns.clone(), cmd.clone());
                self.world.apply_effect(machine, effect);
                let (out, code) = self.run_attached(machine, &id, ns, &cmd, ops)?;
                return Ok((out, Some(code)));
            }
        }
        self.world.apply_effect(machine, effect);
        Ok((String::new(), None))
    }

    /// `docker run` without `-d` of a command the simulator runs: the terminal shows what
    /// it prints, and the container stops when it exits (and goes, with `--rm`).
    fn run_attached(
        &mut self,
        machine: usize,
        id: &str,
        ns: NsRef,
        cmd: &[String],
        ops: &mut Vec<KernelOp>,
    ) -> Result<(String, i32), LimitExceeded> {
        let (out, code) = self.exec_in_container(machine, id, ns, cmd)?;
        let now = self.world.now();
        let daemon = self.world.machines[machine].daemon.as_mut().expect("docker host");
        let (kops, effects) = daemon.process_exited(now, id, code);
        self.apply_docker_ops(machine, kops, ops);
        for effect in effects {
            self.world.apply_effect(machine, effect);
        }
        Ok((out, code))
    }

    /// Applies what the daemon asked of the kernel, records it for `--explain` and the
    /// report, and lets the swarm send what the change made it say.
    fn apply_docker_ops(&mut self, machine: usize, kops: Vec<KernelOp>, ops: &mut Vec<KernelOp>) {
        let kernel = &mut self.world.machines[machine].kernel;
        for op in &kops {
            kernel.apply(op).unwrap_or_else(|e| panic!("docker op `{op}` failed: {e}"));
            ops.push(op.clone());
        }
        self.world.applied_ops.extend(kops.into_iter().map(|op| (machine, op)));
        self.world.flush_swarm(machine);
    }

    fn exec_in_container(
        &mut self,
        machine: usize,
        id: &str,
        ns: NsRef,
        cmd: &[String],
    ) -> Result<(String, i32), LimitExceeded> {
        let daemon = self.world.machines[machine].daemon.as_ref().expect("docker host");
        let c = daemon.container(id).expect("docker exec names a live container");
        let (resolv, flavor) = (daemon.resolv_conf(c), ping_flavor(c.image_name()));
        let site =
            Site { machine, ns, resolv, prompt: String::new(), flavor, runs_on: RunsOn::Container };
        let line = cmd.join(" ");
        match command::parse(&line, RunsOn::Container, flavor) {
            Ok(c) => self.execute(&site, c, &mut Vec::new()),
            Err(e) => Ok((format!("OCI runtime exec failed: exec failed: {}\n", e.message), 126)),
        }
    }
}

/// Which `ping` an image ships: BusyBox's in alpine and busybox, iputils' elsewhere.
fn ping_flavor(image: &str) -> PingFlavor {
    match image {
        "alpine" | "busybox" | "nginxdemos/hello" => PingFlavor::Busybox,
        _ => PingFlavor::Iputils,
    }
}

#[cfg(test)]
mod tests {
    use crate::report::transcript;
    use crate::runner::{command::check, run};
    use crate::scenario;

    fn transcript_of(steps: &str) -> String {
        let source = format!(
            "name: t
underlay:
  networks: [{{name: lan, subnet: 10.0.2.0/24, gateway: 10.0.2.1, latency: 0.2ms}}]
hosts: [{{name: h, ip: 10.0.2.15}}]
steps:
{steps}"
        );
        let s = scenario::parse(&source, "t.yaml", &check).unwrap_or_else(|e| panic!("{e}"));
        transcript(&run(&s, 1).expect("runs"), false)
    }

    #[test]
    fn docker_run_without_detach_shows_the_command_and_removes_with_rm() {
        let t = transcript_of(
            "  - {on: h, run: docker pull alpine}
  - {on: h, run: docker run --rm alpine ping -c 1 10.0.2.15}
  - on: h
    run: docker run --name kept alpine ping -c 1 10.0.2.99
    expect: {exit_code: 1}
  - {on: h, run: docker ps -a}
",
        );
        let run = "$ docker run --rm alpine ping -c 1 10.0.2.15\nPING 10.0.2.15 (10.0.2.15): 56 data bytes\n64 bytes from 10.0.2.15: seq=0 ttl=64 time=";
        assert!(t.contains(run), "{t}");
        assert!(t.contains("1 packets transmitted, 0 packets received, 100% packet loss\n"), "{t}");
        let ps = t.split("$ docker ps -a\n").nth(1).expect("docker ps ran");
        let rows: Vec<&str> = ps.lines().skip(1).filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), 1, "only `kept` stays: {ps}");
        assert!(rows[0].contains("   Exited (1) ") && rows[0].ends_with("   kept"), "{ps}");
    }

    #[test]
    fn a_lookup_nobody_answers_is_a_temporary_failure() {
        let t = transcript_of(
            "  - {on: h, run: docker network create net}
  - {on: h, run: docker run --name c --network net -dit alpine}
  - fault: {link: {network: lan, loss: 100%}}
  - on: h
    run: docker run --rm --network net nicolaka/netshoot ping -c 1 nowhere.example
    expect: {exit_code: 2}
  - {on: h, run: docker exec c ping -c 1 nowhere.example, expect: {exit_code: 1}}
",
        );
        let iputils = "\nping: nowhere.example: Temporary failure in name resolution\n";
        assert!(t.contains(iputils), "{t}");
        assert!(t.contains("\nping: bad address 'nowhere.example'\n"), "{t}");
    }
}
