//! The commands a scenario step may run, parsed before anything runs: `docker …`, the
//! tools (`ping`, `curl`) and the views (`ip`, `brctl`, `iptables`, `iptables-save`). A
//! command the simulator does not know is an error with a hint, never silently skipped.

use crate::kernel::tools::{Curl, Nc, Ping, PingFlavor};
use crate::kernel::views::FdbFilter;
use crate::scenario::suggest::did_you_mean;
use crate::scenario::{CommandError, CommandSite, RunsOn};

use super::shell;

/// A parsed command line.
pub enum Command {
    Docker(Vec<String>),
    Ping(Ping),
    Curl(Curl),
    Nc(Nc),
    IpAddr { with_addrs: bool, dev: Option<String> },
    IpRoute,
    BrctlShow,
    BridgeFdb(FdbFilter),
    Iptables(Vec<String>),
    IptablesSave,
}

/// The programs a step may start, for the "did you mean" hint.
const PROGRAMS: &[&str] =
    &["docker", "ping", "curl", "nc", "ip", "brctl", "bridge", "iptables", "iptables-save"];

/// Parses `line` as it would run at `runs_on`; `flavor` picks BusyBox or iputils `ping`.
pub fn parse(line: &str, runs_on: RunsOn, flavor: PingFlavor) -> Result<Command, CommandError> {
    let words = shell::split(line).map_err(|e| err(e.to_string(), None))?;
    let Some((program, args)) = words.split_first() else {
        return Err(err("empty command".into(), None));
    };
    let args = args.to_vec();
    match program.as_str() {
        "docker" if runs_on == RunsOn::Host => {
            crate::docker::check_command(&args).map_err(|e| err(e.to_string(), None))?;
            Ok(Command::Docker(args))
        }
        "docker" => Err(err(
            "docker: command not found".into(),
            Some("docker runs on Docker hosts: use `on:` with a host".into()),
        )),
        "ping" => Ping::parse(flavor, &args).map(Command::Ping).map_err(|e| err(e.0, None)),
        "curl" => Curl::parse(&args).map(Command::Curl).map_err(|e| err(e.0, None)),
        "nc" => Nc::parse(flavor, &args).map(Command::Nc).map_err(|e| err(e.0, None)),
        "ip" => parse_ip(&args),
        "brctl" if args.first().map(String::as_str) == Some("show") => Ok(Command::BrctlShow),
        "bridge" => parse_bridge(&args),
        "iptables" => Ok(Command::Iptables(args)),
        "iptables-save" => Ok(Command::IptablesSave),
        other => Err(err(
            format!("{other}: command not found"),
            did_you_mean(other, PROGRAMS.iter().copied()),
        )),
    }
}

/// Validation hook for the scenario loader.
pub fn check(site: &CommandSite) -> Result<(), CommandError> {
    parse(site.command, site.runs_on, PingFlavor::Iputils).map(|_| ())
}

fn parse_ip(args: &[String]) -> Result<Command, CommandError> {
    let obj = args.first().map(String::as_str).unwrap_or("");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let dev = match rest.as_slice() {
        [] | ["show"] => None,
        ["show", "dev", d] | ["show", d] | ["dev", d] => Some(d.to_string()),
        _ => {
            return Err(err(
                format!("Command \"{}\" is unknown, try \"ip {obj} help\".", rest.join(" ")),
                None,
            ))
        }
    };
    // iproute2 takes any prefix of an object's name (`matches`), trying its objects in
    // table order: `a`, `add` and `addr` are `address`, `r` is `route`, `l` is `link`.
    let is = |name: &str| !obj.is_empty() && name.starts_with(obj);
    match obj {
        _ if is("address") => Ok(Command::IpAddr { with_addrs: true, dev }),
        _ if is("route") && dev.is_none() => Ok(Command::IpRoute),
        _ if is("link") => Ok(Command::IpAddr { with_addrs: false, dev }),
        other => Err(err(
            format!("Object \"{other}\" is unknown, try \"ip help\"."),
            Some("the simulator's `ip` shows `addr`, `link` and `route`".into()),
        )),
    }
}

/// `bridge fdb [show] [br BRIDGE] [brport|dev DEVICE]`.
fn parse_bridge(args: &[String]) -> Result<Command, CommandError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let rest = match words.as_slice() {
        ["fdb", "show" | "list", rest @ ..] | ["fdb", rest @ ..] => rest,
        [obj, ..] => {
            return Err(err(format!("Object \"{obj}\" is unknown, try \"bridge help\"."), None))
        }
        [] => return Err(err("Usage: bridge [ OPTIONS ] OBJECT { COMMAND | help }".into(), None)),
    };
    let mut filter = FdbFilter::default();
    for pair in rest.chunks(2) {
        match pair {
            ["br", b] => filter.bridge = Some(b.to_string()),
            ["brport" | "dev", d] => filter.dev = Some(d.to_string()),
            _ => {
                return Err(err(
                    format!("Command \"{}\" is unknown, try \"bridge fdb help\".", pair.join(" ")),
                    None,
                ))
            }
        }
    }
    Ok(Command::BridgeFdb(filter))
}

fn err(message: String, hint: Option<String>) -> CommandError {
    CommandError { message, hint, at: None }
}
