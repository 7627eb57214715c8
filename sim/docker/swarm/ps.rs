//! `docker service ps`: which tasks it lists and how it prints them, as docker/cli 20.10 and
//! the daemon do it together.
//!
//! Contract: [`args`] makes the CLI's checks on the command line (`--filter` values must be
//! `KEY=VALUE`; templates the simulator cannot run are refused up front); [`service_ps`]
//! answers on the leader from its store, with the texts of each stage in the real order:
//! the CLI resolves the SERVICE arguments (`createFilter`: full ID, full name, ID prefix) and
//! `node=self`, the daemon validates the filter keys and resolves `service=`/`node=` values
//! (`newListTasksFilters`, `getService`, `getNode`), swarmkit's `ListTasks` keeps the tasks
//! that pass every key (values of one key are alternatives), and `task.Print` sorts and
//! formats them. Nothing here reads a clock: `now` comes in for the CURRENT STATE column.
//!
//! Filters: `name` is a prefix of the task's full name `SERVICE.SLOT.TASKID` (swarmkit
//! `naming.Task`), `id` a prefix of the task ID, `label` a service label (`KEY` or
//! `KEY=VALUE`), `service` and `node` a reference resolved as the daemon does, `desired-state`
//! any task state name (any case), `runtime` `container` (every service task is one).
//! `_up-to-date` is not simulated.

use sha2::{Digest, Sha256};

use super::render::{display_image, pretty, protocol_name, task_state_name};
use super::store::{PublishMode, Store, Task, TaskState};
use crate::docker::cli::{bad_flag_value, not_simulated, CliError, Parsed};
use crate::docker::format::{human_duration, table};
use crate::docker::network::natural_cmp;
use crate::docker::render::{check, execute_typed, TemplateError, Value};
use crate::docker::DockerOutcome;
use crate::engine::SimTime;

/// `defaultTaskTableFormat` (cli/command/task/formatter.go).
const DEFAULT_TABLE: &str = "table {{.ID}}\\t{{.Name}}\\t{{.Image}}\\t{{.Node}}\\t{{.DesiredState}}\\t{{.CurrentState}}\\t{{.Error}}\\t{{.Ports}}";
/// The `raw` format (`newTaskFormat`).
const RAW: &str = "id: {{.ID}}\\nname: {{.Name}}\\nimage: {{.Image}}\\nnode: {{.Node}}\\ndesired_state: {{.DesiredState}}\\ncurrent_state: {{.CurrentState}}\\nerror: {{.Error}}\\nports: {{.Ports}}\\n";
/// The filter keys the daemon accepts for tasks (`newListTasksFilters`).
const ACCEPTED: &[&str] =
    &["name", "id", "label", "service", "node", "desired-state", "_up-to-date", "runtime"];
/// `maxErrLength`: the ERROR column's width when truncating.
const MAX_ERR_LEN: usize = 30;

/// A `docker service ps` command line, as the CLI sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsArgs {
    pub services: Vec<String>,
    /// `--filter KEY=VALUE`, key lowercased and both sides trimmed (`opts.FilterOpt`).
    pub filters: Vec<(String, String)>,
    pub format: Option<String>,
    pub no_trunc: bool,
    pub quiet: bool,
}

/// The CLI's own checks on `docker service ps …`.
pub fn args(p: &Parsed) -> Result<PsArgs, CliError> {
    let mut filters = Vec::new();
    for f in p.values("filter").into_iter().filter(|f| !f.is_empty()) {
        let Some((k, v)) = f.split_once('=') else {
            let err = "bad format of filter (expected name=value)";
            return Err(bad_flag_value(p, "filter", f, err));
        };
        filters.push((k.trim().to_lowercase(), v.trim().to_string()));
    }
    if filters.iter().any(|(k, _)| k == "_up-to-date") {
        return Err(not_simulated(p.path, "the _up-to-date filter"));
    }
    let format = p.value("format").filter(|f| !f.is_empty()).map(String::from);
    let (template, _) = template(format.as_deref(), p.flag("quiet"));
    if let Err(TemplateError::NotSimulated(what)) = check(&template) {
        return Err(not_simulated(p.path, &format!("the Go template feature {what}")));
    }
    Ok(PsArgs {
        services: p.args.clone(),
        filters,
        format,
        no_trunc: p.flag("no-trunc"),
        quiet: p.flag("quiet"),
    })
}

/// What `docker service ps` prints, run on the leader; `self_id` is the calling node's ID
/// (`node=self`).
pub fn service_ps(store: &Store, self_id: &str, a: &PsArgs, now: SimTime) -> DockerOutcome {
    let (service_ids, not_found) = match cli_services(store, &a.services) {
        Ok(found) => found,
        Err(e) => return failure(e),
    };
    let selection = match Selection::new(store, self_id, &a.filters, service_ids) {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let tasks: Vec<&Task> = store
        .tasks
        .values()
        .filter(|t| t.attachment.is_none() && selection.keeps(store, t))
        .collect();
    let (template, is_table) = template(a.format.as_deref(), a.quiet);
    let mut out = match print(store, &tasks, &template, is_table, !(a.no_trunc || a.quiet), now) {
        Ok(text) => DockerOutcome::out(text),
        Err(e) => return failure(format!("{e}\n")),
    };
    if !not_found.is_empty() {
        out.stderr = not_found.join("\n") + "\n";
        out.exit_code = 1;
    }
    out
}

fn failure(message: String) -> DockerOutcome {
    DockerOutcome::err(format!("{message}\n"), 1)
}

/// `createFilter`: each SERVICE by full ID, full name, then unique ID prefix. Found IDs and
/// the `no such service` lines; an error when nothing was found or a prefix is ambiguous.
fn cli_services(store: &Store, keys: &[String]) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut ids, mut not_found) = (Vec::new(), Vec::new());
    for key in keys {
        let by_full = store.services.values().find(|s| s.id == *key || s.spec.name == *key);
        if let Some(s) = by_full {
            ids.push(s.id.clone());
            continue;
        }
        let prefixed: Vec<&String> =
            store.services.keys().filter(|id| id.starts_with(key.as_str())).collect();
        match prefixed.as_slice() {
            [] => not_found.push(format!("no such service: {key}")),
            [id] => ids.push((*id).clone()),
            _ => return Err(format!("multiple services found with provided prefix: {key}")),
        }
    }
    if ids.is_empty() {
        return Err(not_found.join("\n"));
    }
    Ok((ids, not_found))
}

/// The filters swarmkit applies, resolved.
struct Selection {
    names: Vec<String>,
    ids: Vec<String>,
    labels: Vec<(String, String)>,
    services: Vec<String>,
    nodes: Vec<String>,
    desired: Vec<TaskState>,
    runtimes: Vec<String>,
}

impl Selection {
    /// The daemon's checks in its order: keys, then `service`/`node` references, then
    /// desired states. The CLI's service IDs join the user's `service=` values.
    fn new(
        store: &Store,
        self_id: &str,
        filters: &[(String, String)],
        service_ids: Vec<String>,
    ) -> Result<Selection, String> {
        let daemon = |m: String| super::render::daemon(&m);
        if let Some((k, _)) = filters.iter().find(|(k, _)| !ACCEPTED.contains(&k.as_str())) {
            return Err(daemon(format!("Invalid filter '{k}'")));
        }
        let get = |key: &str| values(filters, key);
        let mut services = service_ids;
        for s in get("service") {
            let named = store.services.iter().map(|(id, s)| (id, &s.spec.name));
            services.push(reference(named, &s, "service").map_err(daemon)?);
        }
        let mut nodes = Vec::new();
        for n in get("node") {
            let n = if n == "self" { self_id.to_string() } else { n };
            let named = store.nodes.iter().map(|(id, n)| (id, &n.description.hostname));
            nodes.push(reference(named, &n, "node").map_err(daemon)?);
        }
        let mut desired = Vec::new();
        for s in get("desired-state").into_iter().filter(|s| !s.is_empty()) {
            let state =
                TaskState::ALL.into_iter().find(|t| task_state_name(*t) == s.to_lowercase());
            let invalid = || daemon(format!("Invalid desired-state filter: '{s}'"));
            desired.push(state.ok_or_else(invalid)?);
        }
        let label = |l: String| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l, String::new()),
        };
        Ok(Selection {
            names: get("name"),
            ids: get("id"),
            labels: get("label").into_iter().map(label).collect(),
            services,
            nodes,
            desired,
            runtimes: get("runtime"),
        })
    }

    /// swarmkit `ListTasks`: every key that has values must match one of them.
    fn keeps(&self, store: &Store, t: &Task) -> bool {
        let any = |vals: &[String], ok: &dyn Fn(&str) -> bool| {
            vals.is_empty() || vals.iter().any(|v| ok(v))
        };
        let full_name = format!("{}.{}", task_name(store, t), t.id);
        let label = |(k, v): &(String, String)| {
            t.spec.labels.iter().any(|(lk, lv)| lk == k && (v.is_empty() || lv == v))
        };
        any(&self.names, &|n| full_name.starts_with(n))
            && any(&self.ids, &|i| t.id.starts_with(i))
            && self.labels.iter().all(label)
            && any(&self.services, &|s| t.service_id == s)
            && any(&self.nodes, &|n| t.node_id == n)
            && any(&self.runtimes, &|r| r == "container")
            && (self.desired.is_empty() || self.desired.contains(&t.desired_state))
    }
}

/// The values of one filter key, in the order given.
fn values(filters: &[(String, String)], key: &str) -> Vec<String> {
    filters.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
}

/// The daemon's `getService`/`getNode`: full ID, then exact name, then ID prefix.
fn reference<'a>(
    objects: impl Iterator<Item = (&'a String, &'a String)> + Clone,
    key: &str,
    kind: &str,
) -> Result<String, String> {
    if let Some((id, _)) = objects.clone().find(|(id, _)| *id == key) {
        return Ok(id.clone());
    }
    let named: Vec<&String> =
        objects.clone().filter(|(_, n)| *n == key).map(|(id, _)| id).collect();
    let hits = if named.is_empty() {
        objects.filter(|(id, _)| id.starts_with(key)).map(|(id, _)| id).collect()
    } else {
        named
    };
    match hits.as_slice() {
        [] => Err(format!("{kind} {key} not found")),
        [id] => Ok((*id).clone()),
        _ => Err(format!("{kind} {key} is ambiguous ({} matches found)", hits.len())),
    }
}

/// `SERVICE.SLOT`, or `SERVICE.NODEID` for a global service's task (`generateTaskNames`).
fn task_name(store: &Store, t: &Task) -> String {
    let service = store.services.get(&t.service_id).map_or(&t.spec.name, |s| &s.spec.name);
    let suffix = if t.slot != 0 { t.slot.to_string() } else { t.node_id.clone() };
    format!("{service}.{suffix}")
}

/// The template `newTaskFormat` picks and whether it is a table, after `preFormat`: the
/// `table` key stripped, spaces trimmed, `\t` and `\n` made real.
fn template(format: Option<&str>, quiet: bool) -> (String, bool) {
    let source = format.unwrap_or("table");
    let source = match (source, quiet) {
        ("table", true) => "{{.ID}}",
        ("table", false) => DEFAULT_TABLE,
        ("raw", true) => "id: {{.ID}}",
        ("raw", false) => RAW,
        (s, _) => s,
    };
    let is_table = source.starts_with("table");
    let body = if is_table { &source["table".len()..] } else { source };
    (body.trim_matches(' ').replace("\\t", "\t").replace("\\n", "\n"), is_table)
}

/// `task.Print`: tasks sorted by name (natural order), newest first within a slot, older
/// ones indented ` \_ ` in tables; each task through the template, a table aligned by
/// `tabwriter` under its header.
fn print(
    store: &Store,
    tasks: &[&Task],
    template: &str,
    is_table: bool,
    trunc: bool,
    now: SimTime,
) -> Result<String, TemplateError> {
    let mut named: Vec<(String, &Task)> = tasks.iter().map(|t| (task_name(store, t), *t)).collect();
    named.sort_by(|(a, ta), (b, tb)| {
        natural_cmp(a, b).then(tb.meta.created_at.cmp(&ta.meta.created_at))
    });
    let mut body = String::new();
    let mut prev = "";
    for (name, t) in &named {
        let shown = if name == prev && is_table { format!(" \\_ {name}") } else { name.clone() };
        prev = name;
        body += &execute_typed(template, &task_value(store, t, shown, trunc, now))?;
        body.push('\n');
    }
    if !is_table {
        return Ok(body);
    }
    let text = execute_typed(template, &header_value())? + "\n" + &body;
    let rows: Vec<Vec<String>> = text
        .strip_suffix('\n')
        .unwrap_or(&text)
        .split('\n')
        .map(|line| line.split('\t').map(String::from).collect())
        .collect();
    Ok(table(&rows))
}

/// `taskContext`'s methods, as the template sees them.
fn task_value(store: &Store, t: &Task, name: String, trunc: bool, now: SimTime) -> Value {
    let node =
        store.nodes.get(&t.node_id).map_or(t.node_id.clone(), |n| n.description.hostname.clone());
    let ago = now.since(t.status.timestamp).as_nanos() / 1_000_000_000;
    let err = if trunc { ellipsis(&t.status.err, MAX_ERR_LEN) } else { t.status.err.clone() };
    let ports: Vec<String> = t
        .spec
        .ports
        .iter()
        .filter(|p| p.mode == PublishMode::Host)
        .map(|p| format!("*:{}->{}/{}", p.published, p.target, protocol_name(p.protocol)))
        .collect();
    let current = format!(
        "{} {} ago",
        pretty(task_state_name(t.status.state)),
        human_duration(ago).to_lowercase()
    );
    Value::obj(vec![
        ("ID", Value::s(if trunc { t.id[..12].to_string() } else { t.id.clone() })),
        ("Name", Value::s(name)),
        (
            "Image",
            Value::s(if trunc {
                display_image(&t.spec.image)
            } else {
                pinned_image(&t.spec.image)
            }),
        ),
        ("Node", Value::s(node)),
        ("DesiredState", Value::s(pretty(task_state_name(t.desired_state)))),
        ("CurrentState", Value::s(current)),
        ("Error", Value::s(if err.is_empty() { err } else { format!("\"{err}\"") })),
        ("Ports", Value::s(ports.join(","))),
    ])
}

/// The header row's context (`SubHeaderContext`).
fn header_value() -> Value {
    Value::obj(vec![
        ("ID", Value::s("ID")),
        ("Name", Value::s("NAME")),
        ("Image", Value::s("IMAGE")),
        ("Node", Value::s("NODE")),
        ("DesiredState", Value::s("DESIRED STATE")),
        ("CurrentState", Value::s("CURRENT STATE")),
        ("Error", Value::s("ERROR")),
        ("Ports", Value::s("PORTS")),
    ])
}

/// `formatter.Ellipsis`.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

/// The image as the daemon pins it at `service create` (`imageWithDigestString`:
/// `NAME:TAG@sha256:DIGEST`, familiar form), which `--no-trunc` shows whole.
pub fn pinned_image(image: &str) -> String {
    if image.contains('@') {
        return image.to_string();
    }
    let familiar = display_image(image);
    format!("{familiar}@sha256:{}", registry_digest(&familiar))
}

/// An image's manifest digest: the one a lab recorded where one did, else a stable stand-in
/// hashed from the reference (the simulated registry has no manifests).
fn registry_digest(familiar: &str) -> String {
    match familiar {
        // Lab 000's `docker service inspect`.
        "nginxdemos/hello:latest" => {
            "ae2b5e1ce20fc95668ee991f72e2c8ecb46c8542e5a5eae0b846541c92565643".into()
        }
        // The pulls of labs 002 and 003.
        "nginx:latest" => "9038d5645fa5fcca445d12e1b8979c87f46ca42cfb17beb1e5e093785991a639".into(),
        "alpine:latest" => {
            "f006ecbb824d87947d0b51ab8488634bf69fe4094959d935c0c103f4820a417d".into()
        }
        other => Sha256::digest(other.as_bytes()).iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::render::tests::{lab, t, task};
    use super::*;
    use crate::docker::cli::{parse, Invocation};

    const HOST1: &str = "im1clp7aw6n6qqv8lcs3u3hxe";

    /// `docker service ps …` parsed, or the CLI's error.
    fn cli(line: &str) -> Result<PsArgs, CliError> {
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        match parse(&argv)? {
            Invocation::Command(p) => args(&p),
            Invocation::Help(_) => panic!("{line} is not a command"),
        }
    }

    /// Runs `docker service ps …` on lab 000's store at 10 minutes.
    #[track_caller]
    fn run_on(store: &Store, line: &str) -> (String, String, i32) {
        let out = service_ps(store, HOST1, &cli(line).expect("parses"), t(600));
        (out.stdout, out.stderr, out.exit_code)
    }

    #[track_caller]
    fn stdout(line: &str) -> String {
        let (out, err, code) = run_on(&lab(), line);
        assert_eq!((err.as_str(), code), ("", 0), "{line}");
        out
    }

    #[track_caller]
    fn stderr(line: &str) -> String {
        let (out, err, code) = run_on(&lab(), line);
        assert_eq!((out.as_str(), code), ("", 1), "{line}");
        err
    }

    #[test]
    fn the_default_table_is_lab_000s() {
        assert_eq!(
            stdout("service ps web-service"),
            "ID             NAME            IMAGE                     NODE            DESIRED STATE   CURRENT STATE            ERROR     PORTS\n\
rbhms3k74l35   web-service.1   nginxdemos/hello:latest   docker-host-2   Running         Running 10 minutes ago             \n\
xy2qpwzu7nqc   web-service.2   nginxdemos/hello:latest   docker-host-1   Running         Running 10 minutes ago             \n"
        );
    }

    #[test]
    fn no_trunc_shows_full_ids_and_the_pinned_image() {
        let out = stdout("service ps --no-trunc web-service");
        assert_eq!(
            out.lines().nth(1).unwrap(),
            "rbhms3k74l35jrfc6eq2wh28u   web-service.1   nginxdemos/hello:latest@sha256:ae2b   docker-host-2   Running         Running 10 minutes ago             "
        );
        assert_eq!(
            pinned_image("nginxdemos/hello"),
            "nginxdemos/hello:latest@sha256:ae2b5e1ce20fc95668ee991f72e2c8ecb46c8542e5a5eae0b846541c92565643"
        );
        assert_eq!(
            pinned_image("nginx"),
            "nginx:latest@sha256:9038d5645fa5fcca445d12e1b8979c87f46ca42cfb17beb1e5e093785991a639"
        );
        assert!(pinned_image("chrch/web").starts_with("chrch/web:latest@sha256:"));
        assert_eq!(pinned_image("chrch/web").len(), "chrch/web:latest@sha256:".len() + 64);
    }

    #[test]
    fn quiet_prints_full_ids_and_a_format_wins_over_it() {
        assert_eq!(
            stdout("service ps -q web-service"),
            "rbhms3k74l35jrfc6eq2wh28u\nxy2qpwzu7nqcmut9o5mwc7m26\n"
        );
        assert_eq!(
            stdout("service ps -q --format {{.Name}} web-service"),
            "web-service.1\nweb-service.2\n"
        );
        assert_eq!(
            stdout("service ps -q --format raw web-service").lines().next(),
            Some("id: rbhms3k74l35jrfc6eq2wh28u")
        );
    }

    #[test]
    fn formats_the_lab_uses_to_name_a_task_container() {
        assert_eq!(
            stdout("service ps web-service --no-trunc --format {{.Name}}.{{.ID}}"),
            "web-service.1.rbhms3k74l35jrfc6eq2wh28u\nweb-service.2.xy2qpwzu7nqcmut9o5mwc7m26\n"
        );
        assert_eq!(
            stdout("service ps web-service --format {{.ID}}\\t{{.Node}}"),
            "rbhms3k74l35\tdocker-host-2\nxy2qpwzu7nqc\tdocker-host-1\n"
        );
        assert_eq!(
            stdout("service ps web-service --format table{{.Name}}\\t{{.DesiredState}}"),
            "NAME            DESIRED STATE\nweb-service.1   Running\nweb-service.2   Running\n"
        );
        assert_eq!(stdout("service ps web-service --format table").lines().count(), 3);
    }

    #[test]
    fn raw_format_prints_one_block_per_task() {
        let out = stdout("service ps web-service --format raw");
        assert!(out.starts_with("id: rbhms3k74l35\nname: web-service.1\nimage: nginxdemos/hello:latest\nnode: docker-host-2\ndesired_state: Running\ncurrent_state: Running 10 minutes ago\nerror: \nports: \n\nid: xy2qpwzu7nqc\n"), "{out}");
    }

    #[test]
    fn filters_combine_like_swarmkit() {
        let names = |f: &str| stdout(&format!("service ps web-service --format {{{{.Name}}}} {f}"));
        assert_eq!(names("--filter node=docker-host-2"), "web-service.1\n");
        assert_eq!(names("-f node=self"), "web-service.2\n");
        assert_eq!(names("-f node=66lur"), "web-service.1\n");
        assert_eq!(
            names("-f node=docker-host-1 -f node=docker-host-2"),
            "web-service.1\nweb-service.2\n"
        );
        assert_eq!(names("-f name=web-service.2"), "web-service.2\n");
        assert_eq!(names("-f name=web-service.1.rbh"), "web-service.1\n");
        assert_eq!(names("-f id=xy2q"), "web-service.2\n");
        assert_eq!(names("-f node=docker-host-2 -f id=xy2q"), "");
        assert_eq!(names("-f desired-state=Running"), "web-service.1\nweb-service.2\n");
        assert_eq!(names("-f desired-state=shutdown"), "");
        assert_eq!(
            names("-f desired-state=shutdown -f desired-state=running -f node=docker-host-1"),
            "web-service.2\n"
        );
        assert_eq!(names("-f label=tier"), "");
        assert_eq!(names("-f runtime=container"), "web-service.1\nweb-service.2\n");
        assert_eq!(names("-f service=web-service -f node=docker-host-2"), "web-service.1\n");
    }

    #[test]
    fn desired_state_shutdown_finds_the_history() {
        let mut store = lab();
        let mut old = task("14555mvu3zee6aek4dwonxz3f", 1, HOST1, TaskState::Shutdown, 0);
        old.status.err = "task: non-zero exit (1): the container died".into();
        store.tasks.insert(old.id.clone(), old);
        let (out, _, _) = run_on(&store, "service ps web-service");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], "14555mvu3zee    \\_ web-service.1   nginxdemos/hello:latest   docker-host-1   Shutdown        Shutdown 10 minutes ago   \"task: non-zero exit (1): the …\"   ");
        let (out, _, _) = run_on(
            &store,
            "service ps web-service -f desired-state=shutdown --format {{.Name}}:{{.Error}}",
        );
        assert_eq!(out, "web-service.1:\"task: non-zero exit (1): the …\"\n");
        let (out, _, _) =
            run_on(&store, "service ps web-service -f desired-state=running --format {{.Name}}");
        assert_eq!(out, "web-service.1\nweb-service.2\n");
    }

    #[test]
    fn errors_come_from_the_cli_or_the_daemon_with_their_texts() {
        let e = cli("service ps -f node web-service").unwrap_err();
        assert_eq!((e.message.as_str(), e.exit_code), ("invalid argument \"node\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\nSee 'docker service ps --help'.", 125));
        assert_eq!(stderr("service ps nope"), "no such service: nope\n");
        assert_eq!(stderr("service ps nope -f foo=bar"), "no such service: nope\n");
        assert_eq!(
            stderr("service ps web-service -f foo=bar"),
            "Error response from daemon: Invalid filter 'foo'\n"
        );
        assert_eq!(
            stderr("service ps web-service -f node=docker-host-9"),
            "Error response from daemon: node docker-host-9 not found\n"
        );
        assert_eq!(
            stderr("service ps web-service -f service=x"),
            "Error response from daemon: service x not found\n"
        );
        assert_eq!(
            stderr("service ps web-service -f desired-state=up"),
            "Error response from daemon: Invalid desired-state filter: 'up'\n"
        );
        assert_eq!(
            stderr("service ps web-service --format {{nope}}"),
            "Template parsing error: template: :1: function \"nope\" not defined\n\n"
        );
        let (out, err, code) = run_on(&lab(), "service ps web-service nope -q");
        assert_eq!((out.lines().count(), err.as_str(), code), (2, "no such service: nope\n", 1));
        assert_eq!(cli("service ps -f _up-to-date=1 x").unwrap_err().exit_code, 125);
    }
}
