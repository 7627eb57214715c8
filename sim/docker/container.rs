//! Containers and the commands that create, list, stop and remove them.

use std::net::Ipv4Addr;

use super::cli::{bad_flag_value, Parsed};
use super::daemon::Daemon;
use super::endpoint::{proto_of, Plumbing};
use super::format::{human_duration, table};
use super::image::{self, ImageRef};
use super::names::random_name;
use super::network::Driver;
use super::{DockerOutcome, Effect, Proto};
use crate::engine::SimTime;
use crate::kernel::{KernelOp, NsRef};

/// A container's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running { started: SimTime },
    Exited { code: i32, started: SimTime, finished: SimTime },
}

/// One `-p` request (`nat.ParsePortSpec`): host IP and port are optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortSpec {
    /// `8080:80`, `80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `8080:80/udp`.
    pub fn parse(s: &str) -> Result<PortSpec, String> {
        let (body, proto) = match s.rsplit_once('/') {
            Some((b, p)) => (b, proto_of(p).ok_or_else(|| format!("Invalid proto: {p}"))?),
            None => (s, Proto::Tcp),
        };
        let parts: Vec<&str> = body.split(':').collect();
        let (ip, host, cont) = match parts.as_slice() {
            [c] => ("", "", *c),
            [h, c] => ("", *h, *c),
            [i, h, c] => (*i, *h, *c),
            _ => return Err(format!("Invalid hostPort: {s}")),
        };
        let port = |p: &str, what: &str| -> Result<u16, String> {
            if p.contains('-') {
                return Err(format!("swarmsim: port ranges ({p}) are not simulated"));
            }
            p.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| format!("Invalid {what}: {p}"))
        };
        Ok(PortSpec {
            host_ip: match ip {
                "" => None,
                i => Some(i.parse().map_err(|_| format!("Invalid ip address: {i}"))?),
            },
            host_port: if host.is_empty() { None } else { Some(port(host, "hostPort")?) },
            container_port: port(cont, "containerPort")?,
            proto,
        })
    }
}

/// A container's request to join one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub network_id: String,
    pub network_name: String,
    pub ip: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
    /// The fake heap address of its `*EndpointSettings` (what `{{.NetworkSettings.Networks}}`
    /// prints).
    pub ptr: u64,
}

/// A started container's network sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInfo {
    pub id: String,
    /// The namespace name: the sandbox ID's first 12 hex digits, or `default` for the host's.
    pub key: String,
    /// The embedded DNS server's UDP and TCP ports, once started.
    pub dns_ports: Option<(u16, u16)>,
}

impl SandboxInfo {
    pub(crate) fn new(id: String) -> Self {
        SandboxInfo { key: id[..12].to_string(), id, dns_ports: None }
    }
    pub(crate) fn host() -> Self {
        SandboxInfo { id: String::new(), key: "default".into(), dns_ports: None }
    }
    pub fn is_host(&self) -> bool {
        self.key == "default"
    }
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: ImageRef,
    pub image_id: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `Config.Env`: `-e` values first, then the image's.
    pub env: Vec<String>,
    pub hostname: String,
    pub created: SimTime,
    pub state: ContainerState,
    pub tty: bool,
    pub open_stdin: bool,
    pub auto_remove: bool,
    /// `--network` as given (`default` when absent).
    pub network_mode: String,
    pub networks: Vec<Attachment>,
    pub publish: Vec<PortSpec>,
    pub exposed: Vec<String>,
    pub sandbox: Option<SandboxInfo>,
    /// resolv.conf nameservers (127.0.0.11 on user-defined networks).
    pub nameservers: Vec<Ipv4Addr>,
    /// `Config.Labels`: the swarm's `com.docker.swarm.*` labels on a task's container.
    pub labels: Vec<(String, String)>,
}

impl Container {
    pub fn short_id(&self) -> String {
        self.id[..12].to_string()
    }
    /// The namespace the container's processes run in, while it runs.
    pub fn ns(&self) -> Option<NsRef> {
        let sb = self.sandbox.as_ref()?;
        Some(if sb.is_host() { NsRef::Root } else { NsRef::named(&sb.key) })
    }
    /// Entrypoint then command: what the main process runs.
    pub fn command_line(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
    /// The main process's environment (`CreateDaemonEnvironment`): PATH, HOSTNAME, TERM
    /// with a TTY, then `Config.Env` replacing or appending.
    pub fn process_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ),
            ("HOSTNAME".to_string(), self.hostname.clone()),
        ];
        if self.tty {
            env.push(("TERM".into(), "xterm".into()));
        }
        for kv in &self.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match env.iter_mut().find(|(ek, _)| ek == k) {
                Some(slot) => slot.1 = v.to_string(),
                None => env.push((k.to_string(), v.to_string())),
            }
        }
        env
    }
    fn status(&self, now: SimTime) -> String {
        let ago = |t: SimTime| human_duration(now.since(t).as_nanos() / 1_000_000_000);
        match self.state {
            ContainerState::Created => "Created".into(),
            ContainerState::Running { started } => format!("Up {}", ago(started)),
            ContainerState::Exited { code, finished, .. } => {
                format!("Exited ({code}) {} ago", ago(finished))
            }
        }
    }
}

/// `docker run` errors: printed as `docker: MSG.` plus the help hint for create-time ones,
/// exit 125 (cli/command/container/run.go `reportError`).
pub(crate) fn run_error(msg: &str, with_help: bool) -> DockerOutcome {
    let mut s = format!("docker: {}.", msg.trim_end_matches('.'));
    if with_help {
        s += "\nSee 'docker run --help'.";
    }
    DockerOutcome::err(s + "\n", 125)
}

/// The exit code a container's main process gets from `docker stop`: servers handle
/// SIGTERM (0); `sleep`, `top` and shells as PID 1 ignore it and are killed (137).
fn stop_exit_code(c: &Container) -> i32 {
    let first = c.command_line().first().cloned().unwrap_or_default();
    if first.contains("entrypoint") || first == "redis-server" {
        0
    } else {
        137
    }
}

struct RunOpts {
    publish: Vec<PortSpec>,
    env: Vec<String>,
    network: String,
}

fn run_opts(p: &Parsed) -> Result<RunOpts, DockerOutcome> {
    let publish: Result<Vec<_>, _> = p.values("publish").into_iter().map(PortSpec::parse).collect();
    let publish = publish.map_err(|e| run_error(&e, true))?;
    let env = p.values("env").into_iter().filter(|e| e.contains('=')).map(String::from).collect();
    let network = p.value("network").or(p.value("net")).unwrap_or("default").to_string();
    if network.starts_with("container:") {
        return Err(run_error("swarmsim: --network container:… is not simulated", false));
    }
    Ok(RunOpts { publish, env, network })
}

impl Daemon {
    pub(crate) fn cmd_pull(&mut self, p: &Parsed) -> DockerOutcome {
        let r = ImageRef::parse(&p.args[0]);
        let mut out = DockerOutcome::default();
        if !p.args[0].contains(':') {
            out.stdout += "Using default tag: latest\n";
        }
        match image::lookup(&r) {
            Err(e) => {
                out.stderr = format!("Error response from daemon: {e}\n");
                out.exit_code = 1;
            }
            Ok(spec) => {
                out.stdout += &image::pull_lines(&r, spec, &mut self.rng);
                self.store_image(&r);
                out.stdout += &format!("docker.io/{}:{}\n", r.repo, r.tag);
            }
        }
        out
    }

    /// Pulls on first use, as `docker run` does, writing the progress to stderr.
    fn ensure_image(
        &mut self,
        r: &ImageRef,
        out: &mut DockerOutcome,
    ) -> Result<String, DockerOutcome> {
        if let Some(id) = self.images.get(&r.familiar()) {
            return Ok(id.clone());
        }
        out.stderr += &format!("Unable to find image '{}' locally\n", r.familiar());
        let spec = image::lookup(r).map_err(|e| {
            let mut o = run_error(&format!("Error response from daemon: {e}"), true);
            o.stderr = out.stderr.clone() + &o.stderr;
            o
        })?;
        out.stderr += &image::pull_lines(r, spec, &mut self.rng);
        Ok(self.store_image(r))
    }

    pub(crate) fn cmd_run(&mut self, now: SimTime, p: &Parsed) -> DockerOutcome {
        let mut out = DockerOutcome::default();
        match self.create_container(now, p, &mut out) {
            Err(e) => e,
            Ok(cid) if self.containers[&cid].networks.is_empty() => {
                self.run_on_swarm_network(now, &cid, p, out)
            }
            Ok(cid) => self.start_after_create(now, &cid, p.flag("detach"), out),
        }
    }

    fn create_container(
        &mut self,
        now: SimTime,
        p: &Parsed,
        out: &mut DockerOutcome,
    ) -> Result<String, DockerOutcome> {
        let opts = run_opts(p)?;
        let r = ImageRef::parse(&p.args[0]);
        let image_id = self.ensure_image(&r, out)?;
        let spec = image::lookup(&r).expect("pulled images exist in the registry");
        let prefix = |mut e: DockerOutcome| {
            e.stderr = out.stderr.clone() + &e.stderr;
            e
        };
        let id = self.new_id();
        let name = match p.value("name") {
            Some(n) => {
                if let Some(other) = self.containers.values().find(|c| c.name == n) {
                    let msg = format!("Error response from daemon: Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.", other.id);
                    return Err(prefix(run_error(&msg, true)));
                }
                n.to_string()
            }
            None => self.generate_name(),
        };
        let networks =
            self.attachments(&opts.network, p).map_err(|m| prefix(run_error(&m, true)))?;
        let host_mode =
            networks.first().is_some_and(|a| self.networks[&a.network_id].driver == Driver::Host);
        if host_mode && !opts.publish.is_empty() {
            out.stderr += "WARNING: Published ports are discarded when using host network mode\n";
        }
        let mut publish = if host_mode { Vec::new() } else { opts.publish };
        if p.flag("publish-all") && !host_mode {
            publish.extend(publish_all(spec));
        }
        let user_cmd: Vec<String> = p.args[1..].to_vec();
        let env = merged_env(opts.env, spec, &p.values("env"));
        let hostname = match (p.value("hostname"), host_mode) {
            (Some(h), _) => h.to_string(),
            (None, true) => self.host.hostname.clone(),
            (None, false) => id[..12].to_string(),
        };
        let c = Container {
            id: id.clone(),
            name,
            image: r,
            image_id,
            entrypoint: spec.entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: if user_cmd.is_empty() {
                spec.cmd.iter().map(|s| s.to_string()).collect()
            } else {
                user_cmd
            },
            env,
            hostname,
            created: now,
            state: ContainerState::Created,
            tty: p.flag("tty"),
            open_stdin: p.flag("interactive"),
            auto_remove: p.flag("rm"),
            network_mode: opts.network,
            networks,
            publish,
            exposed: spec.exposed.iter().map(|s| s.to_string()).collect(),
            sandbox: None,
            nameservers: Vec::new(),
            labels: Vec::new(),
        };
        self.containers.insert(id.clone(), c);
        Ok(id)
    }

    /// The container's networks; none yet for a network that is not local on a swarm node,
    /// which the manager attaches it to when it starts.
    fn attachments(
        &mut self,
        network: &str,
        p: &Parsed,
    ) -> Result<Vec<super::container::Attachment>, String> {
        let key = if network == "default" { "bridge" } else { network };
        let Some(net_id) = self.network_id(key) else {
            if self.in_swarm() {
                return Ok(Vec::new());
            }
            return Err(format!("Error response from daemon: network {key} not found"));
        };
        let mut aliases: Vec<String> =
            p.values("network-alias").into_iter().map(String::from).collect();
        aliases.extend(p.values("net-alias").into_iter().map(String::from));
        let ip = match p.value("ip") {
            None => None,
            Some(s) => Some(s.parse().map_err(|_| format!("invalid IPv4 address: {s}"))?),
        };
        let ptr = self.fake_pointer();
        let network_name = self.networks[&net_id].name.clone();
        Ok(vec![Attachment { network_id: net_id, network_name, ip, aliases, ptr }])
    }

    /// A Go heap address as 20.10's runtime prints them (0xc000…), for `{{…Networks}}`.
    pub(crate) fn fake_pointer(&mut self) -> u64 {
        0xc0_0000_0000
            + (self.rng.range_u64(0x100, 0x2000) << 12)
            + (self.rng.range_u64(0, 64) << 6)
    }

    fn generate_name(&mut self) -> String {
        for retry in 0..6 {
            let n = random_name(&mut self.rng, retry);
            if !self.containers.values().any(|c| c.name == n) {
                return n;
            }
        }
        self.rng.hex(6)
    }

    pub(crate) fn start_after_create(
        &mut self,
        now: SimTime,
        cid: &str,
        detach: bool,
        mut out: DockerOutcome,
    ) -> DockerOutcome {
        match self.start_container(now, cid) {
            Err(msg) => {
                let e = run_error(&format!("Error response from daemon: {msg}"), false);
                out.stderr += &e.stderr;
                out.exit_code = 125;
            }
            Ok(mut pl) => {
                if detach {
                    out.stdout = format!("{cid}\n");
                } else {
                    attach(&mut pl.effects);
                }
                out.ops = pl.ops;
                out.effects = pl.effects;
            }
        }
        out
    }

    /// Checks, plumbs and starts: on error nothing has changed and the container stays
    /// `Created`.
    pub(crate) fn start_container(&mut self, now: SimTime, cid: &str) -> Result<Plumbing, String> {
        let atts = self.containers[cid].networks.clone();
        for att in &atts {
            self.validate_attachment(att)?;
        }
        let ports = self.allocate_ports(cid).map_err(|e| {
            let name = self.containers[cid].name.clone();
            let ep = self.rng.hex(32);
            format!(
                "driver failed programming external connectivity on endpoint {name} ({ep}): {e}"
            )
        })?;
        let mut pl = self.plumb_container(cid, ports);
        let c = &mut self.containers[cid];
        c.state = ContainerState::Running { started: now };
        pl.effects.push(Effect::StartProcess {
            container_id: cid.to_string(),
            ns: c.ns().expect("a started container has a sandbox"),
            image: c.image.given.clone(),
            cmd: c.command_line(),
            env: c.process_env(),
            interactive: c.open_stdin,
            attached: false,
        });
        Ok(pl)
    }

    /// The world reports that a container's main process ended: its network goes away, and
    /// with `--rm` the container too.
    pub fn process_exited(
        &mut self,
        now: SimTime,
        container_id: &str,
        code: i32,
    ) -> (Vec<KernelOp>, Vec<Effect>) {
        let Some(cid) = self.container_id(container_id) else { return (Vec::new(), Vec::new()) };
        if !self.is_running(&cid) {
            return (Vec::new(), Vec::new());
        }
        let pl = self.stop_now(now, &cid, code);
        if self.containers[&cid].auto_remove {
            self.containers.shift_remove(&cid);
        }
        (pl.ops, pl.effects)
    }

    pub(crate) fn stop_now(&mut self, now: SimTime, cid: &str, code: i32) -> Plumbing {
        let mut pl = self.unplumb_container(cid);
        self.detach_container(now, cid);
        pl.effects.insert(0, Effect::StopProcesses { container_id: cid.to_string() });
        let c = &mut self.containers[cid];
        if let ContainerState::Running { started } = c.state {
            c.state = ContainerState::Exited { code, started, finished: now };
        }
        pl
    }

    pub(crate) fn cmd_stop(&mut self, now: SimTime, p: &Parsed) -> DockerOutcome {
        let mut out = DockerOutcome::default();
        for key in &p.args {
            let Some(cid) = self.container_id(key) else {
                out.stderr += &format!("Error response from daemon: No such container: {key}\n");
                out.exit_code = 1;
                continue;
            };
            if self.is_running(&cid) {
                let code = stop_exit_code(&self.containers[&cid]);
                let pl = self.stop_now(now, &cid, code);
                out.ops.extend(pl.ops);
                out.effects.extend(pl.effects);
                if self.containers[&cid].auto_remove {
                    self.containers.shift_remove(&cid);
                }
            }
            out.stdout += &format!("{key}\n");
        }
        out
    }

    pub(crate) fn cmd_rm(&mut self, now: SimTime, p: &Parsed) -> DockerOutcome {
        let mut out = DockerOutcome::default();
        for key in &p.args {
            let Some(cid) = self.container_id(key) else {
                out.stderr += &format!("Error: No such container: {key}\n");
                out.exit_code = 1;
                continue;
            };
            if self.is_running(&cid) && !p.flag("force") {
                out.stderr += &format!("Error response from daemon: You cannot remove a running container {cid}. Stop the container before attempting removal or force remove\n");
                out.exit_code = 1;
                continue;
            }
            if self.is_running(&cid) {
                let pl = self.stop_now(now, &cid, 137);
                out.ops.extend(pl.ops);
                out.effects.extend(pl.effects);
            }
            self.containers.shift_remove(&cid);
            out.stdout += &format!("{key}\n");
        }
        out
    }

    pub(crate) fn cmd_exec(&mut self, p: &Parsed) -> DockerOutcome {
        let key = &p.args[0];
        let Some(cid) = self.container_id(key) else {
            return DockerOutcome::err(format!("Error: No such container: {key}\n"), 1);
        };
        if !self.is_running(&cid) {
            return DockerOutcome::err(
                format!("Error response from daemon: Container {cid} is not running\n"),
                1,
            );
        }
        let c = &self.containers[&cid];
        let mut out = DockerOutcome::default();
        out.effects.push(Effect::Exec {
            container_id: cid.clone(),
            ns: c.ns().expect("running containers have a sandbox"),
            image: c.image.given.clone(),
            cmd: p.args[1..].to_vec(),
            interactive: p.flag("interactive"),
        });
        out
    }

    pub(crate) fn cmd_ps(&self, now: SimTime, p: &Parsed) -> DockerOutcome {
        let filters = match PsFilters::parse(p) {
            Ok(f) => f,
            Err(refusal) => return refusal,
        };
        let shown: Vec<&Container> = self
            .containers
            .values()
            .rev()
            .filter(|c| p.flag("all") || matches!(c.state, ContainerState::Running { .. }))
            .filter(|c| filters.matches(c))
            .collect();
        let id = |c: &Container| if p.flag("no-trunc") { c.id.clone() } else { c.short_id() };
        if p.flag("quiet") {
            return DockerOutcome::out(shown.iter().map(|c| id(c) + "\n").collect::<String>());
        }
        let head = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];
        let mut rows = vec![head.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
        for c in shown {
            let cmd = c.command_line().join(" ");
            let cmd = if p.flag("no-trunc") { cmd } else { ellipsis(&cmd, 20) };
            let created = human_duration(now.since(c.created).as_nanos() / 1_000_000_000);
            rows.push(vec![
                id(c),
                c.image.given.clone(),
                format!("\"{cmd}\""),
                format!("{created} ago"),
                c.status(now),
                self.displayable_ports(c),
                c.name.clone(),
            ]);
        }
        DockerOutcome::out(table(&rows))
    }

    /// `formatter.DisplayablePorts` for a container (20.10 binds IPv6 `::` alongside
    /// 0.0.0.0, which is why `:::8080->80/tcp` appears; only the IPv4 side is simulated).
    pub(crate) fn displayable_ports(&self, c: &Container) -> String {
        self.port_list(c).join(", ")
    }
}

/// `docker ps --filter KEY=VALUE…` (`daemon/list.go`): values of one key are alternatives,
/// different keys must all match. `name` is a regular expression searched in `/NAME`;
/// `label` is `KEY` (present) or `KEY=VALUE`; `id` a prefix of the ID. A value without `=`
/// is the CLI's flag error (exit 125); an unknown key the daemon's (exit 1).
struct PsFilters {
    names: Vec<regex_lite::Regex>,
    labels: Vec<(String, Option<String>)>,
    ids: Vec<String>,
}

impl PsFilters {
    fn parse(p: &Parsed) -> Result<PsFilters, DockerOutcome> {
        let mut f = PsFilters { names: Vec::new(), labels: Vec::new(), ids: Vec::new() };
        let daemon = |message: String| {
            DockerOutcome::err(format!("Error response from daemon: {message}\n"), 1)
        };
        for arg in p.values("filter") {
            let Some((key, value)) = arg.split_once('=') else {
                let err = "bad format of filter (expected name=value)";
                let e = bad_flag_value(p, "filter", arg, err);
                return Err(DockerOutcome::err(format!("{}\n", e.message), e.exit_code));
            };
            match key.to_ascii_lowercase().as_str() {
                "name" => {
                    let re = regex_lite::Regex::new(value).map_err(|e| daemon(e.to_string()))?;
                    f.names.push(re);
                }
                "label" => f.labels.push(match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value.to_string(), None),
                }),
                "id" => f.ids.push(value.to_string()),
                _ => return Err(daemon(format!("Invalid filter '{key}'"))),
            }
        }
        Ok(f)
    }

    fn matches(&self, c: &Container) -> bool {
        let slashed = format!("/{}", c.name);
        let label = |(k, v): &(String, Option<String>)| {
            c.labels.iter().any(|(ck, cv)| ck == k && v.as_ref().is_none_or(|v| v == cv))
        };
        (self.names.is_empty() || self.names.iter().any(|r| r.is_match(&slashed)))
            && self.labels.iter().all(label)
            && (self.ids.is_empty() || self.ids.iter().any(|i| c.id.starts_with(i.as_str())))
    }
}

/// `-P`: every exposed port to an ephemeral host port.
fn publish_all(spec: &image::ImageSpec) -> Vec<PortSpec> {
    spec.exposed
        .iter()
        .map(|e| {
            let (port, proto) = e.split_once('/').expect("exposed ports are PORT/PROTO");
            PortSpec {
                host_ip: None,
                host_port: None,
                container_port: port.parse().expect("registry ports are numbers"),
                proto: proto_of(proto).expect("registry protocols are tcp/udp"),
            }
        })
        .collect()
}

/// `Config.Env`: the user's variables, then the image's that the user did not set.
fn merged_env(mut env: Vec<String>, spec: &image::ImageSpec, user: &[&str]) -> Vec<String> {
    let image_env = spec.env.iter().map(|e| e.to_string());
    env.extend(image_env.filter(|e| !env_has(user, e.split('=').next().unwrap_or(""))));
    env
}

fn env_has(user: &[&str], key: &str) -> bool {
    user.iter().any(|e| e.split('=').next() == Some(key))
}

/// `formatter.Ellipsis`: at most `max` characters, the last one `…` when cut.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max - 1).collect::<String>() + "…"
}

/// What the simulator's processes need to know of a container.
impl Container {
    /// The image's short name (`nginx`, `chrch/web`), which picks the simulated program.
    pub fn image_name(&self) -> &str {
        self.image.repo.strip_prefix("library/").unwrap_or(&self.image.repo)
    }

    /// Where the embedded DNS server listens inside the namespace (UDP), if it runs.
    pub fn embedded_dns(&self) -> Option<(Ipv4Addr, u16)> {
        let (udp, _tcp) = self.sandbox.as_ref()?.dns_ports?;
        Some((crate::docker::RESOLVER_IP, udp))
    }
}

/// Marks the main process that `docker run` starts as attached to the terminal.
fn attach(effects: &mut [Effect]) {
    for e in effects {
        if let Effect::StartProcess { attached, .. } = e {
            *attached = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs_in_all_their_forms() {
        let p = PortSpec::parse("127.0.0.1::80").unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.container_port),
            (Some(Ipv4Addr::LOCALHOST), None, 80)
        );
        let p = PortSpec::parse("8080:80/udp").unwrap();
        assert_eq!((p.host_port, p.proto), (Some(8080), Proto::Udp));
        assert_eq!(PortSpec::parse("80").unwrap().host_port, None);
        assert_eq!(PortSpec::parse("abc").unwrap_err(), "Invalid containerPort: abc");
        assert_eq!(
            ellipsis("/docker-entrypoint.sh nginx -g 'daemon off;'", 20),
            "/docker-entrypoint.…"
        );
    }
}
