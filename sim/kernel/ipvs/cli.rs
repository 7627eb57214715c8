//! `ipvsadm ARGS` → a typed command, as ipvsadm 1.31's popt-based `parse_options` and
//! `process_options` read it, failing with their texts and exit codes.
//!
//! popt reads short options in clusters (`-Ln`, `-f256`: an option that takes an argument
//! takes the rest of the cluster) and long options by their full name. The first option must
//! be a command (`-A -E -D -C -L -l -Z -a -e -d -S`), else ipvsadm prints its "Try" line;
//! the options allowed with each command are ipvsadm's `commands_v_options` table
//! (`generic_opt_check`), checked in its column order.
//!
//! Not simulated (refused with a message that says so): persistence (`-p`, `-M`),
//! thresholds (`-x`, `-y`), one-packet scheduling, persistence engines, scheduler flags,
//! IPv6, the sync daemon, `--set`, `-R`, `-h`, `-v`; host and service names (only numeric
//! addresses and ports are read).

use std::net::Ipv4Addr;

use super::{Fwd, IpvsadmError, VsKey};
use crate::wire::IpProtocol;

/// `ipvsadm`'s `DEF_SCHED`: the scheduler of a service added without `-s`.
pub(super) const DEFAULT_SCHEDULER: &str = "wlc";

/// What to list and how (ipvsadm's `FMT_*` flags that the simulator honours).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ListFormat {
    pub numeric: bool,
    pub stats: bool,
    pub rate: bool,
    pub exact: bool,
    pub nosort: bool,
    /// `-S`: the rules as commands.
    pub rule: bool,
}

/// A real server as `-r ADDR[:PORT] [-g|-i|-m] [-w W]` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DestSpec {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub fwd: Fwd,
    pub weight: u32,
}

/// One ipvsadm command, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IpvsCommand {
    AddService { key: VsKey, sched: String },
    EditService { key: VsKey, sched: String },
    DelService(VsKey),
    Clear,
    Zero(Option<VsKey>),
    AddDest(VsKey, DestSpec),
    EditDest(VsKey, DestSpec),
    DelDest(VsKey, Ipv4Addr, u16),
    List { service: Option<VsKey>, connections: bool, format: ListFormat },
}

/// ipvsadm's command numbering (`CMD_*`), for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Save,
    Zero,
}

impl Cmd {
    /// `cmdnames[]`.
    fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::List => "list",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::Save => "save",
            Cmd::Zero => "zero",
        }
    }

    /// The row of `commands_v_options` for the options in [`OPTS`] ('+' compulsory,
    /// 'x' illegal, '1' exclusive, ' ' optional).
    fn row(self) -> &'static [u8; 11] {
        match self {
            Cmd::Add | Cmd::Edit => b"xx+ xxxxxxx",
            Cmd::Del => b"xx+xxxxxxxx",
            Cmd::Flush => b"xxxxxxxxxxx",
            Cmd::List => b" 11xxxx    ",
            Cmd::AddDest | Cmd::EditDest => b"xx+x+  xxxx",
            Cmd::DelDest => b"xx+x+xxxxxx",
            Cmd::Save => b" xxxxxxxxxx",
            Cmd::Zero => b"xx xxxxxxxx",
        }
    }
}

/// The options the simulator reads, in `optnames[]` order (a subset of its columns).
const OPTS: [&str; 11] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "real-server",
    "forwarding-method",
    "weight",
    "stats",
    "rate",
    "nosort",
    "exact",
];

/// Options ipvsadm has that the simulator does not model.
const NOT_SIMULATED: &[&str] = &[
    "-p",
    "--persistent",
    "-M",
    "--netmask",
    "-x",
    "--u-threshold",
    "-y",
    "--l-threshold",
    "-o",
    "--ops",
    "--pe",
    "-b",
    "--sched-flags",
    "-6",
    "--ipv6",
    "--set",
    "-R",
    "--restore",
    "-h",
    "--help",
    "-v",
    "--version",
    "--start-daemon",
    "--stop-daemon",
    "--mcast-interface",
    "--syncid",
    "--timeout",
    "--daemon",
    "--thresholds",
    "--persistent-conn",
    "--sctp-service",
    "--tun-type",
    "--tun-port",
    "--tun-nocsum",
    "--tun-csum",
    "--tun-remcsum",
    "--tun-info",
];

fn fail(msg: impl Into<String>) -> IpvsadmError {
    IpvsadmError { message: msg.into(), exit_code: 2 }
}

/// `tryhelp_exit(argv[0], -1)`.
fn try_help() -> IpvsadmError {
    IpvsadmError {
        message: "Try `ipvsadm -h' or 'ipvsadm --help' for more information.".into(),
        exit_code: 255,
    }
}

/// What the options said, before the per-command checks.
#[derive(Default)]
struct Parsed {
    cmd: Option<Cmd>,
    options: u16,
    service: Option<VsKey>,
    /// The service port as parsed so far (`-r` without a port copies it).
    svc_port: u16,
    sched: Option<String>,
    dest: Option<(Ipv4Addr, u16)>,
    fwd: Option<Fwd>,
    weight: Option<u32>,
    format: ListFormat,
}

/// Parses `args` (everything after `ipvsadm`).
pub(super) fn parse(args: &[String]) -> Result<IpvsCommand, IpvsadmError> {
    let tokens = split_clusters(args);
    let mut p = Parsed::default();
    let mut it = tokens.iter();
    let Some(first) = it.next() else {
        // No arguments: `list_all(FMT_NONE)`.
        let format = ListFormat::default();
        return Ok(IpvsCommand::List { service: None, connections: false, format });
    };
    p.cmd = Some(command_of(first).ok_or_else(|| refusal(first).unwrap_or_else(try_help))?);
    while let Some(tok) = it.next() {
        if !tok.starts_with('-') || tok == "-" {
            return Err(fail(format!("unexpected argument {tok}")));
        }
        if command_of(tok).is_some() {
            return Err(fail("multiple commands specified"));
        }
        if let Some(e) = refusal(tok) {
            return Err(e);
        }
        let mut arg = || it.next().cloned().ok_or_else(|| missing_arg(tok));
        p.option(tok, &mut arg)?;
    }
    p.finish()
}

fn missing_arg(tok: &str) -> IpvsadmError {
    IpvsadmError { message: format!("{tok}: missing argument"), exit_code: 255 }
}

fn refusal(tok: &str) -> Option<IpvsadmError> {
    NOT_SIMULATED.contains(&tok).then(|| fail(format!("ipvsadm {tok}: not simulated")))
}

/// `-Ln` → `-L -n`; `-f256` → `-f 256` (popt).
fn split_clusters(args: &[String]) -> Vec<String> {
    const WITH_ARG: &str = "tufsrwpMxy";
    let mut out = Vec::new();
    for arg in args {
        if arg.len() <= 2 || !arg.starts_with('-') || arg.starts_with("--") {
            out.push(arg.clone());
            continue;
        }
        for (i, c) in arg[1..].char_indices() {
            out.push(format!("-{c}"));
            let rest = &arg[2 + i..];
            if WITH_ARG.contains(c) && !rest.is_empty() {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

fn command_of(tok: &str) -> Option<Cmd> {
    Some(match tok {
        "-A" | "--add-service" => Cmd::Add,
        "-E" | "--edit-service" => Cmd::Edit,
        "-D" | "--delete-service" => Cmd::Del,
        "-C" | "--clear" => Cmd::Flush,
        "-L" | "-l" | "--list" => Cmd::List,
        "-Z" | "--zero" => Cmd::Zero,
        "-a" | "--add-server" => Cmd::AddDest,
        "-e" | "--edit-server" => Cmd::EditDest,
        "-d" | "--delete-server" => Cmd::DelDest,
        "-S" | "--save" => Cmd::Save,
        _ => return None,
    })
}

impl Parsed {
    /// `set_option`: each option at most once.
    fn set(&mut self, name: &str) -> Result<(), IpvsadmError> {
        let bit = 1 << OPTS.iter().position(|o| *o == name).expect("a known option");
        if self.options & bit != 0 {
            return Err(fail(format!("multiple '{name}' options specified")));
        }
        self.options |= bit;
        Ok(())
    }

    fn option(
        &mut self,
        tok: &str,
        arg: &mut dyn FnMut() -> Result<String, IpvsadmError>,
    ) -> Result<(), IpvsadmError> {
        match tok {
            "-t" | "--tcp-service" | "-u" | "--udp-service" => {
                self.set("service-address")?;
                let proto = if tok.contains('t') { IpProtocol::Tcp } else { IpProtocol::Udp };
                let a = arg()?;
                let (addr, port) = parse_service(&a)
                    .ok_or_else(|| fail("illegal virtual server address[:port] specified"))?;
                self.svc_port = port.unwrap_or(0);
                self.service = Some(VsKey::Addr { proto, addr, port: self.svc_port });
            }
            "-f" | "--fwmark-service" => {
                self.set("service-address")?;
                let a = arg()?;
                let mark = a.parse::<u32>().ok().filter(|m| *m > 0 && !a.starts_with('+'));
                let mark =
                    mark.ok_or_else(|| fail(format!("invalid fwmark value `{a}' specified")))?;
                self.service = Some(VsKey::Fwmark(mark));
            }
            "-s" | "--scheduler" => {
                self.set("scheduler")?;
                self.sched = Some(arg()?);
            }
            "-r" | "--real-server" => {
                self.set("real-server")?;
                let a = arg()?;
                let (addr, port) = parse_service(&a)
                    .ok_or_else(|| fail("illegal real server address[:port] specified"))?;
                self.dest = Some((addr, port.unwrap_or(self.svc_port)));
            }
            "-g" | "--gatewaying" | "-i" | "--ipip" | "-m" | "--masquerading" => {
                self.set("forwarding-method")?;
                self.fwd = Some(match tok {
                    "-g" | "--gatewaying" => Fwd::Route,
                    "-i" | "--ipip" => Fwd::Tunnel,
                    _ => Fwd::Masq,
                });
            }
            "-w" | "--weight" => {
                self.set("weight")?;
                let a = arg()?;
                let w = number(&a, 65535).ok_or_else(|| fail("illegal weight specified"))?;
                self.weight = Some(w);
            }
            _ => self.flag(tok)?,
        }
        Ok(())
    }

    fn flag(&mut self, tok: &str) -> Result<(), IpvsadmError> {
        let name = match tok {
            "-n" | "--numeric" => "numeric",
            "-c" | "--connection" => "connection",
            "--stats" => "stats",
            "--rate" => "rate",
            "--nosort" => "nosort",
            "-X" | "--exact" => "exact",
            // "Sort is the default, this is a no-op for compatibility".
            "--sort" => return Ok(()),
            _ => {
                let message = format!("{tok}: unknown option");
                return Err(IpvsadmError { message, exit_code: 255 });
            }
        };
        self.set(name)?;
        let f = &mut self.format;
        match name {
            "numeric" => f.numeric = true,
            "stats" => f.stats = true,
            "rate" => f.rate = true,
            "nosort" => f.nosort = true,
            "exact" => f.exact = true,
            _ => {}
        }
        Ok(())
    }

    /// `generic_opt_check`, then `process_options`' per-command checks.
    fn finish(mut self) -> Result<IpvsCommand, IpvsadmError> {
        let cmd = self.cmd.expect("the first option was a command");
        let row = cmd.row();
        let mut exclusive: Option<usize> = None;
        for (j, name) in OPTS.iter().enumerate() {
            let given = self.options & (1 << j) != 0;
            match (given, row[j]) {
                (false, b'+') => {
                    return Err(fail(format!(
                        "You need to supply the '{name}' option for the '{}' command",
                        cmd.name()
                    )))
                }
                (true, b'x') => {
                    return Err(fail(format!(
                        "Illegal '{name}' option with the '{}' command",
                        cmd.name()
                    )))
                }
                (true, b'1') => match exclusive {
                    None => exclusive = Some(j),
                    Some(last) => {
                        return Err(fail(format!(
                            "The option '{name}' conflicts with the '{}' option in the '{}' \
                             command",
                            OPTS[last],
                            cmd.name()
                        )))
                    }
                },
                _ => {}
            }
        }
        if cmd == Cmd::Save {
            self.format.rule = true;
        }
        self.command(cmd)
    }

    fn command(self, cmd: Cmd) -> Result<IpvsCommand, IpvsadmError> {
        let key = self.service;
        let svc = || key.expect("generic_opt_check required a service");
        let sched = || self.sched.clone().unwrap_or_else(|| DEFAULT_SCHEDULER.to_string());
        if matches!(cmd, Cmd::Add | Cmd::Edit) && matches!(key, Some(VsKey::Addr { port: 0, .. })) {
            return Err(fail("Zero port specified for non-persistent service"));
        }
        Ok(match cmd {
            Cmd::Add => IpvsCommand::AddService { key: svc(), sched: sched() },
            Cmd::Edit => IpvsCommand::EditService { key: svc(), sched: sched() },
            Cmd::Del => IpvsCommand::DelService(svc()),
            Cmd::Flush => IpvsCommand::Clear,
            Cmd::Zero => IpvsCommand::Zero(key),
            Cmd::List | Cmd::Save => IpvsCommand::List {
                service: key,
                connections: self.options & 2 != 0,
                format: self.format,
            },
            Cmd::AddDest | Cmd::EditDest => {
                let spec = self.dest_spec(svc());
                if cmd == Cmd::AddDest {
                    IpvsCommand::AddDest(svc(), spec)
                } else {
                    IpvsCommand::EditDest(svc(), spec)
                }
            }
            Cmd::DelDest => {
                let (addr, port) = self.dest.expect("generic_opt_check required -r");
                IpvsCommand::DelDest(svc(), addr, port)
            }
        })
    }

    /// Weight 1 and direct routing unless given; for a non-fwmark service, direct routing
    /// and tunnelling use the service's port (`process_options`).
    fn dest_spec(&self, key: VsKey) -> DestSpec {
        let (addr, mut port) = self.dest.expect("generic_opt_check required -r");
        let fwd = self.fwd.unwrap_or(Fwd::Route);
        if let VsKey::Addr { port: vport, .. } = key {
            if fwd != Fwd::Masq {
                port = vport;
            }
        }
        DestSpec { addr, port, fwd, weight: self.weight.unwrap_or(1) }
    }
}

/// `string_to_number(s, 0, max)`: decimal digits only.
fn number(s: &str, max: u32) -> Option<u32> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|n| *n <= max)
}

/// `parse_service`: `ADDR` or `ADDR:PORT`, numeric only. None is ipvsadm's SERVICE_NONE.
fn parse_service(s: &str) -> Option<(Ipv4Addr, Option<u16>)> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match s.rsplit_once(':') {
        Some((addr, port)) => {
            let port = number(port, 65535)? as u16;
            Some((addr.parse().ok()?, Some(port)))
        }
        None => Some((s.parse().ok()?, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<IpvsCommand, IpvsadmError> {
        parse(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[track_caller]
    fn fails(line: &str, message: &str, exit_code: i32) {
        let e = p(line).expect_err(line);
        assert_eq!((e.message.as_str(), e.exit_code), (message, exit_code), "{line}");
    }

    #[test]
    fn dockers_commands_parse() {
        assert_eq!(
            p("-A -f 256 -s rr").unwrap(),
            IpvsCommand::AddService { key: VsKey::Fwmark(256), sched: "rr".into() }
        );
        let spec =
            DestSpec { addr: Ipv4Addr::new(10, 0, 1, 3), port: 0, fwd: Fwd::Masq, weight: 1 };
        assert_eq!(
            p("-a -f 256 -r 10.0.1.3:0 -m -w 1").unwrap(),
            IpvsCommand::AddDest(VsKey::Fwmark(256), spec)
        );
        assert_eq!(p("-a -f256 -r 10.0.1.3 -m").unwrap(), p("-a -f 256 -r 10.0.1.3:0 -m").unwrap());
        let quiesce = p("-e -f 256 -r 10.0.1.3:0 -m -w 0").unwrap();
        assert_eq!(
            quiesce,
            IpvsCommand::EditDest(VsKey::Fwmark(256), DestSpec { weight: 0, ..spec })
        );
        let IpvsCommand::List { format, service: None, connections: false } =
            p("-Ln --stats").unwrap()
        else {
            panic!("a listing")
        };
        assert!(format.numeric && format.stats && !format.rate);
    }

    #[test]
    fn defaults_follow_process_options() {
        let tcp =
            VsKey::Addr { proto: IpProtocol::Tcp, addr: Ipv4Addr::new(10, 0, 0, 1), port: 80 };
        assert_eq!(
            p("-A -t 10.0.0.1:80").unwrap(),
            IpvsCommand::AddService { key: tcp, sched: "wlc".into() }
        );
        // Direct routing by default, and it keeps the virtual port.
        let IpvsCommand::AddDest(_, spec) = p("-a -t 10.0.0.1:80 -r 10.0.0.9:8080").unwrap() else {
            panic!()
        };
        assert_eq!((spec.fwd, spec.port, spec.weight), (Fwd::Route, 80, 1));
        let IpvsCommand::AddDest(_, spec) = p("-a -t 10.0.0.1:80 -r 10.0.0.9:8080 -m").unwrap()
        else {
            panic!()
        };
        assert_eq!((spec.fwd, spec.port), (Fwd::Masq, 8080));
    }

    /// The texts are ipvsadm.c's `fail()` and popt's; exit 2 for `fail`, 255 (−1) otherwise.
    #[test]
    fn bad_input_fails_with_ipvsadms_texts() {
        fails("-n -L", "Try `ipvsadm -h' or 'ipvsadm --help' for more information.", 255);
        fails("-L -A", "multiple commands specified", 2);
        fails(
            "-A -s rr",
            "You need to supply the 'service-address' option for the 'add-service' command",
            2,
        );
        fails("-A -f 1 -w 3", "Illegal 'weight' option with the 'add-service' command", 2);
        fails(
            "-a -f 1 -m",
            "You need to supply the 'real-server' option for the 'add-server' command",
            2,
        );
        fails("-L -c -f 1", "The option 'service-address' conflicts with the 'connection' option in the 'list' command", 2);
        fails("-A -f 0", "invalid fwmark value `0' specified", 2);
        fails("-A -f x1", "invalid fwmark value `x1' specified", 2);
        fails("-A -t 10.0.0.1:http", "illegal virtual server address[:port] specified", 2);
        fails("-A -t 10.0.0.1", "Zero port specified for non-persistent service", 2);
        fails("-a -f 1 -r 10.0.0.2 -w 65536", "illegal weight specified", 2);
        fails("-a -f 1 -r 10.0.0.2 -m -g", "multiple 'forwarding-method' options specified", 2);
        fails("-L -n extra", "unexpected argument extra", 2);
        fails("-L --bogus", "--bogus: unknown option", 255);
        fails("-A -f 1 -p 60", "ipvsadm -p: not simulated", 2);
    }
}
