//! The commands a scenario step may run, parsed before anything runs: `docker …`, the
//! tools (`ping`, `curl`) and the views (`ip`, `brctl`, `iptables`, `iptables-save`,
//! `ipvsadm`). A
//! command the simulator does not know is an error with a hint, never silently skipped.
//!
//! On hosts and externals also: `sudo CMD`, `cd DIR`, `ln -s TARGET LINK` and the namespace
//! commands `ip netns [list]`, `ip netns add NAME`, `ip netns exec NAME CMD…` and
//! `nsenter --net=FILE CMD…` (see `netns`). iproute2 abbreviates as `matches()` does:
//! `ip netns l` is `list`, `ip netns e` is `exec`.

use crate::kernel::tools::{Curl, DnsTool, Nc, Ping, PingFlavor};
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
    /// `drill`, `dig`, `nslookup`, `getent hosts`.
    Dns(DnsTool),
    IpAddr {
        with_addrs: bool,
        dev: Option<String>,
    },
    IpRoute,
    /// `ip xfrm state` (`false`) or `ip xfrm policy` (`true`).
    IpXfrm {
        policies: bool,
    },
    /// `route -n`.
    RouteN,
    BrctlShow,
    BridgeFdb(FdbFilter),
    Iptables(Vec<String>),
    IptablesSave,
    /// `ipvsadm ARGS…`, run on the namespace's IPVS table.
    Ipvsadm(Vec<String>),
    /// A command on the machine's `/var/run/netns` or working directory, or one that runs
    /// another command in a namespace.
    Ns(NsCommand),
}

pub enum NsCommand {
    IpNetnsList,
    IpNetnsAdd(String),
    /// `ip netns exec` or `nsenter --net=`: `cmd` runs in the namespace `open` names.
    InNetns {
        open: NsOpen,
        cmd: Box<Command>,
    },
    Ln {
        target: String,
        link: String,
    },
    Cd(Option<String>),
}

/// How a command names the namespace it enters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsOpen {
    /// `ip netns exec NAME`: `/var/run/netns/NAME`.
    IpNetns(String),
    /// `nsenter --net=FILE`, FILE under one of [`NSENTER_DIRS`].
    Nsenter(String),
}

/// The directories `nsenter --net=` may open a namespace file in: Docker's and iproute2's,
/// each by its `/var/run` and `/run` spelling.
pub const NSENTER_DIRS: &[&str] =
    &["/var/run/docker/netns/", "/run/docker/netns/", "/var/run/netns/", "/run/netns/"];

/// The programs a step may start, for the "did you mean" hint.
const PROGRAMS: &[&str] = &[
    "docker",
    "ping",
    "curl",
    "nc",
    "drill",
    "dig",
    "nslookup",
    "getent",
    "ip",
    "route",
    "brctl",
    "bridge",
    "iptables",
    "iptables-save",
    "ipvsadm",
    "nsenter",
    "ln",
    "cd",
    "sudo",
];

/// Parses `line` as it would run at `runs_on`; `flavor` picks BusyBox or iputils `ping`.
pub fn parse(line: &str, runs_on: RunsOn, flavor: PingFlavor) -> Result<Command, CommandError> {
    let words = shell::split(line).map_err(|e| err(e.to_string(), None))?;
    parse_words(&words, runs_on, flavor)
}

fn parse_words(
    words: &[String],
    runs_on: RunsOn,
    flavor: PingFlavor,
) -> Result<Command, CommandError> {
    let Some((program, args)) = words.split_first() else {
        return Err(err("empty command".into(), None));
    };
    let args = args.to_vec();
    let on_machine = runs_on != RunsOn::Container;
    match program.as_str() {
        "sudo" if on_machine => parse_words(&args, runs_on, flavor),
        "ip" if on_machine && args.first().is_some_and(|o| o == "netns") => {
            parse_netns(&args[1..], runs_on, flavor)
        }
        "nsenter" if on_machine => parse_nsenter(&args, runs_on, flavor),
        "ln" if on_machine => parse_ln(&args),
        "cd" if on_machine => match args.as_slice() {
            [] => Ok(Command::Ns(NsCommand::Cd(None))),
            [dir] => Ok(Command::Ns(NsCommand::Cd(Some(dir.clone())))),
            _ => Err(err("-bash: cd: too many arguments".into(), None)),
        },
        "tcpdump" => Err(err(
            "tcpdump runs until Ctrl-C: it is a capture, not a `run:` step".into(),
            Some("use `capture: {on: HOST, run: \"tcpdump -ni eth0 …\", name: NAME}` and a later `stop_capture: NAME`".into()),
        )),
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
        "drill" => DnsTool::parse_drill(&args).map(Command::Dns).map_err(|e| err(e.0, None)),
        "dig" => DnsTool::parse_dig(&args).map(Command::Dns).map_err(|e| err(e.0, None)),
        "nslookup" => DnsTool::parse_nslookup(flavor, &args)
            .map(Command::Dns)
            .map_err(|e| err(e.0, None)),
        "getent" => DnsTool::parse_getent(&args).map(Command::Dns).map_err(|e| err(e.0, None)),
        "ip" => parse_ip(&args),
        "route" if args == ["-n"] => Ok(Command::RouteN),
        "route" => Err(err(
            format!("route {}: not simulated", args.join(" ")),
            Some("the simulator's `route` prints the table numerically: `route -n`".into()),
        )),
        "brctl" if args.first().map(String::as_str) == Some("show") => Ok(Command::BrctlShow),
        "bridge" => parse_bridge(&args),
        "iptables" => Ok(Command::Iptables(args)),
        "iptables-save" => Ok(Command::IptablesSave),
        "ipvsadm" => Ok(Command::Ipvsadm(args)),
        other => Err(err(
            format!("{other}: command not found"),
            did_you_mean(other, PROGRAMS.iter().copied()),
        )),
    }
}

/// Validation hook for the scenario loader.
pub fn check(site: &CommandSite) -> Result<(), CommandError> {
    let (command, _grep) = shell::split_pipe(site.command).map_err(|e| err(e.0, None))?;
    parse(&command, site.runs_on, PingFlavor::Iputils).map(|_| ())
}

fn parse_ip(args: &[String]) -> Result<Command, CommandError> {
    let obj = args.first().map(String::as_str).unwrap_or("");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    if matches(obj, "xfrm") {
        return parse_xfrm(&rest);
    }
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

/// `ip xfrm state|policy [list|show|lst]`.
fn parse_xfrm(rest: &[&str]) -> Result<Command, CommandError> {
    let listing = |words: &[&str]| match words {
        [] => true,
        [w] => ["list", "show", "lst"].iter().any(|full| matches(w, full)),
        _ => false,
    };
    let object = match rest.first() {
        Some(w) if matches(w, "state") => "state",
        Some(w) if matches(w, "policy") => "policy",
        _ => {
            let usage = "Usage: ip xfrm XFRM-OBJECT { COMMAND | help }\n\
                         where  XFRM-OBJECT := state | policy | monitor";
            return Err(err(usage.into(), None));
        }
    };
    if !listing(&rest[1..]) {
        return Err(err(
            format!("Command \"{}\" is unknown, try \"ip xfrm {object} help\".", rest[1]),
            Some("the simulator's `ip xfrm` lists states and policies".into()),
        ));
    }
    Ok(Command::IpXfrm { policies: object == "policy" })
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

/// iproute2's `matches(word, full)`: `word` is a non-empty prefix of `full`.
fn matches(word: &str, full: &str) -> bool {
    !word.is_empty() && full.starts_with(word)
}

/// `ip netns [list|show|lst]`, `ip netns add NAME`, `ip netns exec NAME CMD…`.
fn parse_netns(
    args: &[String],
    runs_on: RunsOn,
    flavor: PingFlavor,
) -> Result<Command, CommandError> {
    let Some((sub, rest)) = args.split_first() else {
        return Ok(Command::Ns(NsCommand::IpNetnsList));
    };
    let sub = sub.as_str();
    if ["list", "show", "lst"].iter().any(|full| matches(sub, full)) {
        return Ok(Command::Ns(NsCommand::IpNetnsList));
    }
    if matches(sub, "add") {
        return match rest {
            [name] => Ok(Command::Ns(NsCommand::IpNetnsAdd(name.clone()))),
            _ => Err(err("No netns name specified".into(), Some("`ip netns add NAME`".into()))),
        };
    }
    if matches(sub, "exec") {
        let Some((name, cmd)) = rest.split_first() else {
            return Err(err("No netns name specified".into(), None));
        };
        if cmd.is_empty() {
            return Err(err("No command specified".into(), None));
        }
        let cmd = Box::new(parse_words(cmd, runs_on, flavor)?);
        return Ok(Command::Ns(NsCommand::InNetns { open: NsOpen::IpNetns(name.clone()), cmd }));
    }
    Err(err(
        format!("`ip netns {sub}` is not simulated"),
        Some("the simulator's `ip netns` lists, adds and execs: `ip netns`, `ip netns add NAME`, `ip netns exec NAME CMD`".into()),
    ))
}

/// `nsenter --net=FILE CMD…`: the only form that names a namespace by file.
fn parse_nsenter(
    args: &[String],
    runs_on: RunsOn,
    flavor: PingFlavor,
) -> Result<Command, CommandError> {
    let hint = || {
        Some("the simulator enters a namespace by file: `nsenter --net=/var/run/docker/netns/NAME CMD`".to_string())
    };
    let Some((opt, cmd)) = args.split_first() else {
        return Err(err("nsenter without --net=FILE is not simulated".into(), hint()));
    };
    let Some(file) = opt.strip_prefix("--net=") else {
        return Err(err(format!("nsenter option `{opt}` is not simulated"), hint()));
    };
    if !NSENTER_DIRS
        .iter()
        .any(|d| file.strip_prefix(d).is_some_and(|n| !n.is_empty() && !n.contains('/')))
    {
        return Err(err(
            format!(
                "nsenter --net={file}: only namespace files of Docker and `ip netns` are simulated"
            ),
            hint(),
        ));
    }
    if cmd.is_empty() {
        return Err(err(
            "nsenter without a command starts an interactive shell, which a step cannot type into"
                .into(),
            Some("give the command to run: `nsenter --net=FILE ip addr`".into()),
        ));
    }
    let cmd = Box::new(parse_words(cmd, runs_on, flavor)?);
    Ok(Command::Ns(NsCommand::InNetns { open: NsOpen::Nsenter(file.to_string()), cmd }))
}

/// `ln -s TARGET LINK`; which links mean anything is decided when it runs (it depends on
/// the working directory).
fn parse_ln(args: &[String]) -> Result<Command, CommandError> {
    match args {
        [s, target, link] if s == "-s" => {
            Ok(Command::Ns(NsCommand::Ln { target: target.clone(), link: link.clone() }))
        }
        _ => Err(err(
            "only `ln -s TARGET LINK` is simulated".into(),
            Some(
                "the labs link Docker's namespaces: `ln -s /var/run/docker/netns /var/run/netns`"
                    .into(),
            ),
        )),
    }
}

fn err(message: String, hint: Option<String>) -> CommandError {
    CommandError { message, hint, at: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(line: &str) -> Result<Command, CommandError> {
        parse(line, RunsOn::Host, PingFlavor::Iputils)
    }

    #[test]
    fn ip_xfrm_lists_states_and_policies_with_iproute2s_errors() {
        assert!(matches!(host("ip xfrm state"), Ok(Command::IpXfrm { policies: false })));
        assert!(matches!(host("ip x s list"), Ok(Command::IpXfrm { policies: false })));
        assert!(matches!(host("ip xfrm policy show"), Ok(Command::IpXfrm { policies: true })));
        let Err(e) = host("ip xfrm state foo") else { panic!("accepted") };
        assert_eq!(e.message, "Command \"foo\" is unknown, try \"ip xfrm state help\".");
        let Err(e) = host("ip xfrm") else { panic!("accepted") };
        assert!(e.message.starts_with("Usage: ip xfrm XFRM-OBJECT { COMMAND | help }\n"));
    }

    fn message(line: &str, runs_on: RunsOn) -> String {
        match parse(line, runs_on, PingFlavor::Iputils) {
            Err(e) => e.message,
            Ok(_) => panic!("`{line}` parsed"),
        }
    }

    #[test]
    fn ip_netns_abbreviates_as_iproute2_does() {
        for line in ["ip netns", "sudo ip netns", "ip netns list", "ip netns l", "ip netns show"] {
            assert!(matches!(host(line), Ok(Command::Ns(NsCommand::IpNetnsList))), "{line}");
        }
        assert!(
            matches!(host("ip netns a blue"), Ok(Command::Ns(NsCommand::IpNetnsAdd(n))) if n == "blue")
        );
        assert_eq!(message("ip netns add", RunsOn::Host), "No netns name specified");
        assert_eq!(message("ip netns exec blue", RunsOn::Host), "No command specified");
        assert_eq!(
            message("ip netns", RunsOn::Container),
            "Object \"netns\" is unknown, try \"ip help\"."
        );
    }

    #[test]
    fn commands_run_inside_a_namespace_nest() {
        let Ok(Command::Ns(NsCommand::InNetns { open, cmd })) =
            host("sudo ip netns exec 1-y5rtwtq7bj ip addr show")
        else {
            panic!("not an exec")
        };
        assert_eq!(open, NsOpen::IpNetns("1-y5rtwtq7bj".into()));
        assert!(matches!(*cmd, Command::IpAddr { with_addrs: true, dev: None }));
        let Ok(Command::Ns(NsCommand::InNetns { open, cmd })) =
            host("nsenter --net=/run/docker/netns/acd51a308dfe iptables -t nat -S")
        else {
            panic!("not an nsenter")
        };
        assert_eq!(open, NsOpen::Nsenter("/run/docker/netns/acd51a308dfe".into()));
        assert!(matches!(*cmd, Command::Iptables(ref a) if a == &["-t", "nat", "-S"]));
        let Ok(Command::Ns(NsCommand::InNetns { cmd, .. })) =
            host("sudo ip netns exec lb_y5rtwtq7b ipvsadm -Ln --stats")
        else {
            panic!("ipvsadm runs in a namespace");
        };
        assert!(matches!(*cmd, Command::Ipvsadm(ref a) if a == &["-Ln", "--stats"]));
        assert_eq!(message("ip netns exec x bogus", RunsOn::Host), "bogus: command not found");
    }

    #[test]
    fn nsenter_ln_and_tcpdump_refuse_what_is_not_simulated() {
        assert_eq!(
            message("nsenter -t 4242 -n ip addr", RunsOn::Host),
            "nsenter option `-t` is not simulated"
        );
        assert_eq!(
            message("nsenter --net=/proc/4242/ns/net ip addr", RunsOn::Host),
            "nsenter --net=/proc/4242/ns/net: only namespace files of Docker and `ip netns` are simulated"
        );
        assert!(message("nsenter --net=/var/run/docker/netns/abc", RunsOn::Host)
            .starts_with("nsenter without a command"));
        assert_eq!(message("ln /a /b", RunsOn::Host), "only `ln -s TARGET LINK` is simulated");
        assert!(matches!(
            host("ln -s /var/run/docker/netns netns"),
            Ok(Command::Ns(NsCommand::Ln { .. }))
        ));
        assert!(matches!(host("cd"), Ok(Command::Ns(NsCommand::Cd(None)))));
        assert!(message("tcpdump -ni eth0", RunsOn::Host).contains("it is a capture"));
        assert_eq!(message("sudo ip addr", RunsOn::Container), "sudo: command not found");
    }
}
