//! `iptables` command lines → a typed `Invocation`.
//!
//! Parsing follows iptables 1.8.7 (legacy) closely enough that Docker's command lines and the
//! ones people type are understood and bad ones fail with iptables' own texts:
//! - short options may be clustered (`-nvL`, `-tnat`), long ones abbreviated to a unique
//!   prefix as getopt_long allows (`--to` for `--to-destination`, `--dst`);
//! - `!` inverts the option that follows it;
//! - options of a match belong to the match loaded last (`-m conntrack --ctstate …`); an
//!   unknown option after `-p tcp|udp|icmp` loads that protocol's match implicitly, at that
//!   point of the match list, which is where `-S` later prints `-m tcp`;
//! - checks that real iptables leaves to the kernel (target allowed in this table/hook,
//!   `-m tcp` without `-p tcp`) are not done here but when the rule is committed
//!   (`tables.rs`), with the kernel's "Invalid argument" text.
//!
//! Not understood (rejected as unknown): `-f`, `-g`, `-c`, IPv6, and extensions other than
//! tcp, udp, icmp, addrtype, conntrack, state, mark, comment, u32, ipvs (only `--ipvs`; its
//! `--vaddr`, `--vport`, … are unknown options here) and the targets in `rule.rs`.

use std::net::Ipv4Addr;

use super::rule::*;
use super::{IptablesError, Table};

/// The iptables version whose texts we reproduce.
pub(crate) const VERSION: &str = "1.8.7";

/// `-L` formatting flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ListOpts {
    pub numeric: bool,
    pub verbose: bool,
    pub exact: bool,
    pub line_numbers: bool,
}

/// A rule given by spec or by 1-based number (`-D CHAIN 3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleRef {
    Spec(Rule),
    Num(usize),
}

/// One iptables command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Append(String, Rule),
    Insert(String, usize, Rule),
    Delete(String, RuleRef),
    Replace(String, usize, Rule),
    Check(String, Rule),
    NewChain(String),
    DeleteChain(Option<String>),
    Flush(Option<String>),
    Zero(Option<String>),
    Policy(String, String),
    Rename(String, String),
    ListRules(Option<String>, Option<usize>),
    List(Option<String>, Option<usize>, ListOpts),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    pub table: Table,
    pub command: Command,
}

/// A parameter problem: iptables prints it with the version prefix and exits 2.
pub(crate) fn param_error(msg: &str) -> IptablesError {
    IptablesError {
        message: format!(
            "iptables v{VERSION} (legacy): {msg}\nTry `iptables -h' or 'iptables --help' for more information."
        ),
        exit_code: 2,
    }
}

/// An error the kernel (through libiptc) reported: `iptables: MSG.`, exit 1.
pub(crate) fn kernel_error(msg: &str) -> IptablesError {
    IptablesError { message: format!("iptables: {msg}."), exit_code: 1 }
}

/// The "Invalid argument" the kernel gives for a rule it refuses.
pub(crate) fn invalid_argument() -> IptablesError {
    kernel_error("Invalid argument. Run `dmesg' for more information")
}

/// Parses `args` (everything after the program name).
pub(crate) fn parse(args: &[String]) -> Result<Invocation, IptablesError> {
    let tokens = split_clusters(args);
    let mut p = Parser { tokens: &tokens, pos: 0, ..Parser::default() };
    p.run()?;
    p.finish()
}

/// Short options that take an argument: the rest of a cluster is that argument.
const SHORT_WITH_ARG: &str = "ADIRNPECsdpijmotWg";

/// Splits `-nvL` into `-n -v -L` and `-tnat` into `-t nat`, as getopt does.
fn split_clusters(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        let is_cluster = arg.len() > 2 && arg.starts_with('-') && !arg.starts_with("--");
        if !is_cluster {
            out.push(arg.clone());
            continue;
        }
        for (i, c) in arg[1..].char_indices() {
            out.push(format!("-{c}"));
            let rest = &arg[1 + i + c.len_utf8()..];
            if SHORT_WITH_ARG.contains(c) && !rest.is_empty() {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// Long options of the base program, with the short option they stand for.
const BASE_LONG: &[(&str, &str)] = &[
    ("--append", "-A"),
    ("--delete", "-D"),
    ("--insert", "-I"),
    ("--replace", "-R"),
    ("--list", "-L"),
    ("--list-rules", "-S"),
    ("--flush", "-F"),
    ("--zero", "-Z"),
    ("--new-chain", "-N"),
    ("--delete-chain", "-X"),
    ("--policy", "-P"),
    ("--rename-chain", "-E"),
    ("--check", "-C"),
    ("--source", "-s"),
    ("--src", "-s"),
    ("--destination", "-d"),
    ("--dst", "-d"),
    ("--protocol", "-p"),
    ("--in-interface", "-i"),
    ("--out-interface", "-o"),
    ("--jump", "-j"),
    ("--match", "-m"),
    ("--table", "-t"),
    ("--numeric", "-n"),
    ("--verbose", "-v"),
    ("--exact", "-x"),
    ("--line-numbers", "--line-numbers"),
    ("--wait", "-w"),
    ("--wait-interval", "-W"),
];

#[derive(Default)]
struct Parser<'a> {
    tokens: &'a [String],
    pos: usize,
    invert: bool,
    table: Option<Table>,
    command: Option<(char, Vec<String>)>,
    list: ListOpts,
    rule: RuleBuilder,
}

/// A rule under construction; `seen` remembers which base options were given, for the
/// "multiple -s flags" check.
#[derive(Default)]
struct RuleBuilder {
    src: Option<Neg<Cidr>>,
    dst: Option<Neg<Cidr>>,
    in_iface: Option<Neg<String>>,
    out_iface: Option<Neg<String>>,
    proto: Option<Neg<Proto>>,
    proto_given: bool,
    matches: Vec<Match>,
    target: Option<Target>,
    /// The protocol match was loaded implicitly already (iptables' `proto_used`).
    proto_used: bool,
}

impl<'a> Parser<'a> {
    fn run(&mut self) -> Result<(), IptablesError> {
        while self.pos < self.tokens.len() {
            let tok = self.tokens[self.pos].clone();
            self.pos += 1;
            if tok == "!" {
                self.invert = true;
                continue;
            }
            if !tok.starts_with('-') || tok == "-" {
                return Err(param_error(&format!("Bad argument `{tok}'")));
            }
            let opt = self.canonical(&tok)?;
            self.option(&opt, &tok)?;
        }
        Ok(())
    }

    /// Resolves long options (and their unique prefixes) to the short name for base options.
    fn canonical(&self, tok: &str) -> Result<String, IptablesError> {
        if !tok.starts_with("--") {
            return Ok(tok.to_string());
        }
        if let Some((_, short)) = BASE_LONG.iter().find(|(l, _)| *l == tok) {
            return Ok(short.to_string());
        }
        let mut names: Vec<&str> = BASE_LONG.iter().map(|(l, _)| *l).collect();
        names.extend(self.extension_options());
        let hits: Vec<&str> = names.iter().copied().filter(|n| n.starts_with(tok)).collect();
        match hits.as_slice() {
            [one] => Ok(BASE_LONG
                .iter()
                .find(|(l, _)| l == one)
                .map_or(one.to_string(), |(_, s)| s.to_string())),
            _ => Ok(tok.to_string()),
        }
    }

    /// Long options of the loaded matches, the target, and the protocol match that would be
    /// loaded implicitly.
    fn extension_options(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for m in &self.rule.matches {
            out.extend(match_options(m.name()));
        }
        if let Some(p) = self.rule.proto.as_ref().filter(|_| !self.rule.proto_used) {
            out.extend(match_options(&p.value.name()));
        }
        if let Some(t) = &self.rule.target {
            out.extend(target_options(t));
        }
        out
    }

    fn take_invert(&mut self) -> bool {
        std::mem::take(&mut self.invert)
    }

    /// The next token as an option's argument.
    fn arg(&mut self, opt: &str) -> Result<String, IptablesError> {
        match self.tokens.get(self.pos) {
            Some(a) => {
                self.pos += 1;
                Ok(a.clone())
            }
            None => Err(param_error(&format!("option \"{opt}\" requires an argument"))),
        }
    }

    /// The next token if it is not an option (iptables' `xs_has_arg`).
    fn optional_arg(&mut self) -> Option<String> {
        let next = self.tokens.get(self.pos)?;
        if next.starts_with('-') || next.starts_with('!') {
            return None;
        }
        self.pos += 1;
        Some(next.clone())
    }

    fn option(&mut self, opt: &str, raw: &str) -> Result<(), IptablesError> {
        match opt {
            "-A" | "-D" | "-I" | "-R" | "-L" | "-S" | "-F" | "-Z" | "-N" | "-X" | "-P" | "-E"
            | "-C" => self.command_option(opt),
            "-t" => {
                let name = self.arg(raw)?;
                self.table = Some(table_by_name(&name)?);
                Ok(())
            }
            "-n" => set_flag(&mut self.list.numeric),
            "-v" => set_flag(&mut self.list.verbose),
            "-x" => set_flag(&mut self.list.exact),
            "--line-numbers" => set_flag(&mut self.list.line_numbers),
            "-w" => {
                self.optional_arg();
                Ok(())
            }
            "-W" => self.arg(raw).map(|_| ()),
            "-s" | "-d" | "-i" | "-o" | "-p" | "-j" | "-m" => self.rule_option(opt, raw),
            _ => self.extension_option(opt, raw),
        }
    }

    fn command_option(&mut self, opt: &str) -> Result<(), IptablesError> {
        let c = opt.chars().nth(1).expect("command options are -X");
        if let Some((prev, _)) = &self.command {
            return Err(param_error(&format!("Can't use -{c} with -{prev}\n")));
        }
        let mut args = Vec::new();
        match c {
            'A' | 'N' | 'C' => args.push(self.arg(opt)?),
            'R' | 'P' | 'E' => {
                args.push(self.arg(opt)?);
                args.push(self.arg(opt)?);
            }
            'I' | 'D' => {
                args.push(self.arg(opt)?);
                args.extend(self.optional_arg());
            }
            _ => {
                // -L, -S, -Z take an optional chain and rule number; -F and -X a chain.
                if let Some(chain) = self.optional_arg() {
                    args.push(chain);
                    if matches!(c, 'L' | 'S' | 'Z') {
                        args.extend(self.optional_arg());
                    }
                }
            }
        }
        self.command = Some((c, args));
        Ok(())
    }

    fn rule_option(&mut self, opt: &str, raw: &str) -> Result<(), IptablesError> {
        let inverted = self.take_invert();
        let value = self.arg(raw)?;
        let r = &mut self.rule;
        let letter = &opt[1..];
        let dup = match opt {
            "-s" => r.src.replace(Neg { inverted, value: parse_cidr(&value)? }).is_some(),
            "-d" => r.dst.replace(Neg { inverted, value: parse_cidr(&value)? }).is_some(),
            "-i" => r.in_iface.replace(Neg { inverted, value }).is_some(),
            "-o" => r.out_iface.replace(Neg { inverted, value }).is_some(),
            "-p" => {
                let was = std::mem::replace(&mut r.proto_given, true);
                r.proto = parse_proto(&value)?.map(|p| Neg { inverted, value: p });
                was
            }
            "-j" => {
                let was = r.target.is_some();
                r.target = Some(target_by_name(&value));
                was
            }
            _ => {
                if inverted {
                    return Err(param_error("unexpected ! flag before --match"));
                }
                r.matches.push(new_match(&value)?);
                false
            }
        };
        if dup {
            return Err(param_error(&format!("multiple -{letter} flags not allowed")));
        }
        Ok(())
    }

    /// An option owned by the target or a match, or one that loads the protocol match.
    fn extension_option(&mut self, opt: &str, raw: &str) -> Result<(), IptablesError> {
        let inverted = self.take_invert();
        if target_options_of(&self.rule.target).contains(&opt) {
            let value = self.arg(raw)?;
            let proto = self.rule.proto;
            let target = self.rule.target.as_mut().expect("target options need a target");
            return set_target_option(target, opt, &value, proto.as_ref());
        }
        if let Some(m) =
            self.rule.matches.iter().rposition(|m| match_options(m.name()).contains(&opt))
        {
            // `--ipvs` is a flag (XTTYPE_NONE); every other match option takes a value.
            let value = if opt == "--ipvs" { String::new() } else { self.arg(raw)? };
            return set_match_option(&mut self.rule.matches[m], opt, inverted, &value);
        }
        if let Some(p) = self.rule.proto.as_ref().filter(|_| !self.rule.proto_used) {
            if let Ok(m) = new_match(&p.value.name()) {
                self.rule.proto_used = true;
                self.rule.matches.push(m);
                self.invert = inverted;
                return self.extension_option(opt, raw);
            }
        }
        Err(param_error(&format!("unknown option \"{raw}\"")))
    }

    fn finish(self) -> Result<Invocation, IptablesError> {
        let table = self.table.unwrap_or(Table::Filter);
        let Some((c, args)) = self.command.clone() else {
            return Err(param_error("no command specified"));
        };
        let rule = self.rule.build()?;
        let chain = args.first().cloned();
        let num = |s: Option<&String>| parse_rule_num(s);
        let command = match c {
            'A' => Command::Append(args[0].clone(), rule),
            'I' => Command::Insert(args[0].clone(), num(args.get(1))?.unwrap_or(1), rule),
            'D' => match num(args.get(1))? {
                Some(n) => Command::Delete(args[0].clone(), RuleRef::Num(n)),
                None => Command::Delete(args[0].clone(), RuleRef::Spec(rule)),
            },
            'R' => Command::Replace(args[0].clone(), num(args.get(1))?.unwrap_or(0), rule),
            'C' => Command::Check(args[0].clone(), rule),
            'N' => Command::NewChain(args[0].clone()),
            'X' => Command::DeleteChain(chain),
            'F' => Command::Flush(chain),
            'Z' => Command::Zero(chain),
            'P' => Command::Policy(args[0].clone(), args[1].clone()),
            'E' => Command::Rename(args[0].clone(), args[1].clone()),
            'S' => Command::ListRules(chain, num(args.get(1))?),
            _ => Command::List(chain, num(args.get(1))?, self.list),
        };
        check_iface_direction(&command)?;
        Ok(Invocation { table, command })
    }
}

fn set_flag(flag: &mut bool) -> Result<(), IptablesError> {
    *flag = true;
    Ok(())
}

impl RuleBuilder {
    fn build(self) -> Result<Rule, IptablesError> {
        let target = self.target.unwrap_or(Target::None);
        self.matches.iter().try_for_each(check_match_complete)?;
        check_target_complete(&target)?;
        Ok(Rule {
            src: self.src.filter(|s| s.inverted || s.value.prefix != 0),
            dst: self.dst.filter(|d| d.inverted || d.value.prefix != 0),
            in_iface: self.in_iface,
            out_iface: self.out_iface,
            proto: self.proto,
            matches: self.matches,
            target,
        })
    }
}

/// iptables refuses `-o` on chains packets enter by and `-i` on chains they leave by.
fn check_iface_direction(command: &Command) -> Result<(), IptablesError> {
    let (chain, rule) = match command {
        Command::Append(c, r) | Command::Insert(c, _, r) | Command::Replace(c, _, r) => (c, r),
        Command::Check(c, r) | Command::Delete(c, RuleRef::Spec(r)) => (c, r),
        _ => return Ok(()),
    };
    let (bad, letter) = match chain.as_str() {
        "PREROUTING" | "INPUT" => (rule.out_iface.is_some(), 'o'),
        "POSTROUTING" | "OUTPUT" => (rule.in_iface.is_some(), 'i'),
        _ => (false, ' '),
    };
    if bad {
        return Err(param_error(&format!("Can't use -{letter} with {chain}\n")));
    }
    Ok(())
}

fn parse_rule_num(s: Option<&String>) -> Result<Option<usize>, IptablesError> {
    let Some(s) = s else { return Ok(None) };
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(param_error(&format!("Invalid rule number `{s}'"))),
    }
}

fn table_by_name(name: &str) -> Result<Table, IptablesError> {
    match name {
        "filter" => Ok(Table::Filter),
        "nat" => Ok(Table::Nat),
        "mangle" => Ok(Table::Mangle),
        _ => Err(IptablesError {
            message: format!(
                "iptables v{VERSION} (legacy): can't initialize iptables table `{name}': Table does not exist (do you need to insmod?)\nPerhaps iptables or your kernel needs to be upgraded."
            ),
            exit_code: 3,
        }),
    }
}

/// `ADDR[/MASK]` where MASK is a prefix length or a dotted mask.
fn parse_cidr(s: &str) -> Result<Cidr, IptablesError> {
    let (addr, mask) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let ip =
        parse_host(addr).ok_or_else(|| param_error(&format!("host/network `{addr}' not found")))?;
    let prefix = match mask {
        None => 32,
        Some(m) => {
            parse_mask(m).ok_or_else(|| param_error(&format!("invalid mask `{m}' specified")))?
        }
    };
    Ok(Cidr::new(ip, prefix))
}

/// A dotted quad, or the short forms inet_aton accepts that people use (`0/0`, `0`).
fn parse_host(s: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Some(ip);
    }
    s.parse::<u32>().ok().map(Ipv4Addr::from)
}

fn parse_mask(m: &str) -> Option<u8> {
    if let Ok(n) = m.parse::<u8>() {
        return (n <= 32).then_some(n);
    }
    let bits = u32::from(m.parse::<Ipv4Addr>().ok()?);
    let prefix = bits.leading_ones();
    (bits.checked_shl(prefix).unwrap_or(0) == 0).then_some(prefix as u8)
}

/// `-p NAME|NUMBER`; `all` and 0 mean no protocol constraint.
fn parse_proto(s: &str) -> Result<Option<Proto>, IptablesError> {
    let n = match s.to_ascii_lowercase().as_str() {
        "all" => 0,
        "icmp" => 1,
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        other => other
            .parse::<u8>()
            .map_err(|_| param_error(&format!("unknown protocol \"{s}\" specified")))?,
    };
    Ok((n != 0).then_some(Proto(n)))
}

fn new_match(name: &str) -> Result<Match, IptablesError> {
    Ok(match name {
        "tcp" => Match::Tcp(PortMatch::default()),
        "udp" => Match::Udp(PortMatch::default()),
        "icmp" => Match::Icmp(None),
        "addrtype" => Match::AddrType { src: None, dst: None },
        "conntrack" => Match::Conntrack(None),
        "state" => Match::State(None),
        "mark" => Match::Mark(None),
        "comment" => Match::Comment(None),
        "u32" => Match::U32(None),
        "ipvs" => Match::Ipvs(None),
        _ => {
            return Err(param_error(&format!(
                "Couldn't load match `{name}':No such file or directory\n"
            )))
        }
    })
}

fn match_options(name: &str) -> &'static [&'static str] {
    match name {
        "tcp" | "udp" => &["--sport", "--source-port", "--dport", "--destination-port"],
        "icmp" => &["--icmp-type"],
        "addrtype" => &["--src-type", "--dst-type"],
        "conntrack" => &["--ctstate"],
        "state" => &["--state"],
        "mark" => &["--mark"],
        "comment" => &["--comment"],
        "u32" => &["--u32"],
        "ipvs" => &["--ipvs"],
        _ => &[],
    }
}

fn set_match_option(m: &mut Match, opt: &str, inv: bool, v: &str) -> Result<(), IptablesError> {
    match m {
        Match::Tcp(pm) | Match::Udp(pm) => set_port_option(pm, opt, inv, v)?,
        Match::Icmp(t) => *t = Some(Neg { inverted: inv, value: parse_icmp_type(v)? }),
        Match::AddrType { src, dst } => {
            let set = Some(Neg { inverted: inv, value: parse_names(v, &ADDR_TYPES, "type")? });
            if opt == "--src-type" {
                *src = set;
            } else {
                *dst = set;
            }
        }
        Match::Conntrack(s) => {
            *s = Some(Neg { inverted: inv, value: parse_names(v, &CT_STATES, "ctstate")? })
        }
        Match::State(s) => {
            *s = Some(Neg { inverted: inv, value: parse_names(v, &CT_STATES[..5], "state")? })
        }
        Match::Mark(mk) => *mk = Some(Neg { inverted: inv, value: parse_mark(v)? }),
        Match::Comment(c) => *c = Some(v.to_string()),
        Match::U32(Some(_)) => {
            return Err(param_error("u32: option \"--u32\" can only be used once.\n"))
        }
        Match::U32(e) => *e = Some(Neg { inverted: inv, value: super::u32_match::parse(v)? }),
        Match::Ipvs(Some(_)) => {
            return Err(param_error("ipvs: option \"--ipvs\" can only be used once.\n"))
        }
        Match::Ipvs(e) => *e = Some(Neg { inverted: inv, value: () }),
    }
    Ok(())
}

fn set_port_option(pm: &mut PortMatch, opt: &str, inv: bool, v: &str) -> Result<(), IptablesError> {
    let (slot, long) = if opt.contains("sport") || opt.contains("source") {
        (&mut pm.sport, "--source-port")
    } else {
        (&mut pm.dport, "--destination-port")
    };
    if slot.is_some() {
        return Err(param_error(&format!("Only one `{long}' allowed")));
    }
    *slot = Some(Neg { inverted: inv, value: parse_port_range(v, ':')? });
    Ok(())
}

fn parse_port(s: &str) -> Result<u16, IptablesError> {
    s.parse::<u16>().map_err(|_| param_error(&format!("invalid port/service `{s}' specified")))
}

/// `P` or `LO<sep>HI` (`:` for matches, `-` for NAT targets).
fn parse_port_range(s: &str, sep: char) -> Result<PortRange, IptablesError> {
    match s.split_once(sep) {
        Some((lo, hi)) => {
            let lo = if lo.is_empty() { 0 } else { parse_port(lo)? };
            let hi = if hi.is_empty() { u16::MAX } else { parse_port(hi)? };
            Ok(PortRange { lo, hi })
        }
        None => parse_port(s).map(|p| PortRange { lo: p, hi: p }),
    }
}

/// ICMP type names libxt_icmp knows (the common ones), as (name, type, code min, code max).
const ICMP_NAMES: &[(&str, u8, u8, u8)] = &[
    ("any", 255, 0, 255),
    ("echo-reply", 0, 0, 255),
    ("pong", 0, 0, 255),
    ("destination-unreachable", 3, 0, 255),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-quench", 4, 0, 255),
    ("redirect", 5, 0, 255),
    ("echo-request", 8, 0, 255),
    ("ping", 8, 0, 255),
    ("time-exceeded", 11, 0, 255),
    ("ttl-exceeded", 11, 0, 255),
    ("parameter-problem", 12, 0, 255),
    ("timestamp-request", 13, 0, 255),
    ("timestamp-reply", 14, 0, 255),
];

fn parse_icmp_type(s: &str) -> Result<IcmpType, IptablesError> {
    if let Some(&(_, t, lo, hi)) = ICMP_NAMES.iter().find(|(n, ..)| *n == s) {
        return Ok(IcmpType { icmp_type: t, code_min: lo, code_max: hi });
    }
    let bad = || param_error(&format!("Invalid ICMP type `{s}'\n"));
    let (t, code) = match s.split_once('/') {
        Some((t, c)) => (t, Some(c)),
        None => (s, None),
    };
    let icmp_type = t.parse::<u8>().map_err(|_| bad())?;
    let (code_min, code_max) = match code {
        Some(c) => {
            let c = c.parse::<u8>().map_err(|_| bad())?;
            (c, c)
        }
        None => (0, 255),
    };
    Ok(IcmpType { icmp_type, code_min, code_max })
}

/// A comma-separated list of names from `names` (`RELATED,ESTABLISHED`, `LOCAL`).
fn parse_names(s: &str, names: &[&str], what: &str) -> Result<NameSet, IptablesError> {
    let mut set = 0u16;
    for word in s.split(',') {
        let i = names.iter().position(|n| n.eq_ignore_ascii_case(word)).ok_or_else(|| {
            let msg = match what {
                "type" => format!("addrtype: invalid type \"{word}\""),
                "state" => format!("Bad state \"{word}\""),
                _ => format!("Bad ctstate \"{word}\""),
            };
            param_error(&msg)
        })?;
        set |= 1 << i;
    }
    Ok(NameSet(set))
}

/// `V[/M]` in decimal or hex; the mask defaults to all ones.
fn parse_mark(s: &str) -> Result<(u32, u32), IptablesError> {
    let bad = || param_error(&format!("Bad MARK value \"{s}\""));
    let num = |t: &str| -> Result<u32, IptablesError> {
        match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16).map_err(|_| bad()),
            None => t.parse::<u32>().map_err(|_| bad()),
        }
    };
    match s.split_once('/') {
        Some((v, m)) => Ok((num(v)?, num(m)?)),
        None => Ok((num(s)?, u32::MAX)),
    }
}

/// `-j NAME`: a standard verdict, a target extension, or (checked on commit) a user chain.
fn target_by_name(name: &str) -> Target {
    let no_range = NatRange { addrs: None, ports: None };
    match name {
        "ACCEPT" => Target::Accept,
        "DROP" => Target::Drop,
        "RETURN" => Target::Return,
        "DNAT" => Target::Dnat(no_range),
        "SNAT" => Target::Snat(no_range),
        "MASQUERADE" => Target::Masquerade(None),
        "REDIRECT" => Target::Redirect(None),
        "MARK" => Target::Mark { value: 0, mask: 0 },
        _ => Target::Jump(name.to_string()),
    }
}

fn target_options(t: &Target) -> &'static [&'static str] {
    match t {
        Target::Dnat(_) => &["--to-destination"],
        Target::Snat(_) => &["--to-source"],
        Target::Masquerade(_) | Target::Redirect(_) => &["--to-ports"],
        Target::Mark { .. } => {
            &["--set-mark", "--set-xmark", "--and-mark", "--or-mark", "--xor-mark"]
        }
        _ => &[],
    }
}

fn target_options_of(t: &Option<Target>) -> &'static [&'static str] {
    t.as_ref().map_or(&[], target_options)
}

fn set_target_option(
    t: &mut Target,
    opt: &str,
    v: &str,
    proto: Option<&Neg<Proto>>,
) -> Result<(), IptablesError> {
    let ports_ok = proto.is_some_and(|p| !p.inverted && matches!(p.value.0, 6 | 17 | 33 | 132));
    let need_proto = || param_error("Need TCP, UDP, SCTP or DCCP with port specification");
    match t {
        Target::Dnat(r) | Target::Snat(r) => {
            *r = parse_nat_range(v)?;
            if r.ports.is_some() && !ports_ok {
                return Err(need_proto());
            }
        }
        Target::Masquerade(p) | Target::Redirect(p) => {
            if !ports_ok {
                return Err(need_proto());
            }
            *p = Some(parse_port_range(v, '-')?);
        }
        Target::Mark { value, mask } => {
            let (v, m) = parse_mark(v)?;
            (*value, *mask) = match opt {
                "--set-mark" => (v, v | m),
                "--and-mark" => (0, !v),
                "--or-mark" => (v, v),
                "--xor-mark" => (v, 0),
                _ => (v, m),
            };
        }
        _ => unreachable!("only targets with options get here"),
    }
    Ok(())
}

/// `[IP[-IP]][:PORT[-PORT]]`.
fn parse_nat_range(s: &str) -> Result<NatRange, IptablesError> {
    let bad = || param_error(&format!("Bad IP address \"{s}\""));
    let (addr, port) = match s.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addrs = if addr.is_empty() {
        None
    } else {
        let (lo, hi) = addr.split_once('-').unwrap_or((addr, addr));
        Some((lo.parse().map_err(|_| bad())?, hi.parse().map_err(|_| bad())?))
    };
    let ports = port.map(|p| parse_port_range(p, '-')).transpose()?;
    Ok(NatRange { addrs, ports })
}

/// Matches whose mandatory option is missing fail like xtables' final option check, which
/// runs for the matches before the target's.
fn check_match_complete(m: &Match) -> Result<(), IptablesError> {
    match m {
        Match::U32(None) => Err(param_error("u32: option \"--u32\" must be specified\n")),
        // libxt_ipvs's ipvs_mt_check.
        Match::Ipvs(None) => Err(param_error("IPVS: At least one option is required")),
        _ => Ok(()),
    }
}

/// Targets whose required option is missing fail like their libxt parser's final check.
fn check_target_complete(t: &Target) -> Result<(), IptablesError> {
    let missing = match t {
        Target::Dnat(r) if r.addrs.is_none() && r.ports.is_none() => {
            "DNAT: option \"--to-destination\""
        }
        Target::Snat(r) if r.addrs.is_none() && r.ports.is_none() => "SNAT: option \"--to-source\"",
        _ => return Ok(()),
    };
    Err(param_error(&format!("{missing} must be specified\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn err(s: &str) -> String {
        parse(&args(s)).expect_err("should fail").message
    }

    #[test]
    fn clusters_and_abbreviations_are_expanded() {
        assert_eq!(split_clusters(&args("-tnat -nvL")), args("-t nat -n -v -L"));
        let inv = parse(&args(
            "-t nat -A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER ! --dst 127.0.0.0/8",
        ))
        .unwrap();
        let Command::Append(chain, rule) = inv.command else { panic!("not an append") };
        assert_eq!(chain, "OUTPUT");
        assert_eq!(
            rule.dst,
            Some(Neg { inverted: true, value: Cidr::new([127, 0, 0, 0].into(), 8) })
        );
        assert_eq!(rule.target, Target::Jump("DOCKER".into()));
    }

    #[test]
    fn dport_loads_the_protocol_match_where_it_appears() {
        let inv = parse(&args("-A INPUT -m conntrack --ctstate NEW -p tcp --dport 80 -j ACCEPT"))
            .unwrap();
        let Command::Append(_, rule) = inv.command else { panic!("not an append") };
        let names: Vec<_> = rule.matches.iter().map(|m| m.name()).collect();
        assert_eq!(names, ["conntrack", "tcp"]);
    }

    #[test]
    fn errors_use_iptables_texts() {
        assert_eq!(
            err("-A INPUT --foo"),
            "iptables v1.8.7 (legacy): unknown option \"--foo\"\nTry `iptables -h' or 'iptables --help' for more information."
        );
        assert_eq!(
            err("-A INPUT --dport 80 -j ACCEPT"),
            "iptables v1.8.7 (legacy): unknown option \"--dport\"\nTry `iptables -h' or 'iptables --help' for more information."
        );
        assert_eq!(
            err("-A INPUT -o lo -j ACCEPT"),
            "iptables v1.8.7 (legacy): Can't use -o with INPUT\n\nTry `iptables -h' or 'iptables --help' for more information."
        );
        assert_eq!(
            err("-t nat -A POSTROUTING -o eth0 -j MASQUERADE --to-ports 1024-2000"),
            "iptables v1.8.7 (legacy): Need TCP, UDP, SCTP or DCCP with port specification\nTry `iptables -h' or 'iptables --help' for more information."
        );
        assert_eq!(
            err("-t nat -A DOCKER -j DNAT"),
            "iptables v1.8.7 (legacy): DNAT: option \"--to-destination\" must be specified\n\nTry `iptables -h' or 'iptables --help' for more information."
        );
        assert!(err("-A INPUT -s 1.2.3.4 -s 5.6.7.8").contains("multiple -s flags not allowed"));
        assert!(err("-A INPUT -s 1.2.3.0/33").contains("invalid mask `33' specified"));
        assert!(
            err("-A INPUT -p tcp --dport 99999").contains("invalid port/service `99999' specified")
        );
        assert!(err("-A INPUT -p tcp --dport 80 --dport 81")
            .contains("Only one `--destination-port' allowed"));
        assert!(err("-A INPUT -m conntrack --ctstate FOO").contains("Bad ctstate \"FOO\""));
        assert!(err("-A").contains("option \"-A\" requires an argument"));
        assert!(err("").contains("no command specified"));
        let table = parse(&args("-t foo -L")).unwrap_err();
        assert_eq!(table.exit_code, 3);
        assert_eq!(
            table.message,
            "iptables v1.8.7 (legacy): can't initialize iptables table `foo': Table does not exist (do you need to insmod?)\nPerhaps iptables or your kernel needs to be upgraded."
        );
    }

    #[test]
    fn set_mark_becomes_xmark_with_mask() {
        let inv = parse(&args("-t mangle -A OUTPUT -j MARK --set-mark 0x5/0xf")).unwrap();
        let Command::Append(_, rule) = inv.command else { panic!("not an append") };
        assert_eq!(rule.target, Target::Mark { value: 5, mask: 0xf });
    }
}
