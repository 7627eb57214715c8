//! Parsing a `docker …` command line the way docker/cli (cobra + pflag) does, before anything
//! reaches the daemon.
//!
//! [`parse`] turns argv (without the leading `docker`) into a [`Parsed`] command or a
//! [`CliError`] carrying the exact text and exit status the CLI prints: flag errors exit
//! 125 with `See 'docker run --help'.` (`cli/cobra.go` `FlagErrorFunc`), argument-count errors
//! exit 1 with the usage line (`cli/required.go`). [`check_command`] is the same parse, for
//! validating a scenario before a run. Flags real docker has but the simulator does not
//! model fail with [`CliErrorKind::NotSimulated`] instead of pretending to work.

use super::commands::{ArgRule, CommandSpec, FlagSpec, COMMANDS, GROUPS, NETWORK_USAGE};

/// Why a command line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliErrorKind {
    UnknownCommand,
    UnknownFlag,
    MissingValue,
    BadValue,
    ArgCount,
    /// Valid for real docker, not modelled here.
    NotSimulated,
}

/// A rejected command line: what docker prints on stderr, its exit status, and a hint for
/// the scenario author.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub kind: CliErrorKind,
    /// Exactly what the docker CLI prints (without the final newline).
    pub message: String,
    pub exit_code: i32,
    pub hint: String,
}

/// What a valid command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// A management command without subcommand: print this help on stderr, exit 0.
    Help(&'static str),
    Command(Parsed),
}

/// A command with its flags and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub spec: &'static CommandSpec,
    /// The path typed: `container run` or `run`.
    pub path: &'static str,
    flags: Vec<(&'static str, String)>,
    pub args: Vec<String>,
}

impl Parsed {
    /// A boolean flag (the last occurrence wins, as in pflag).
    pub fn flag(&self, long: &str) -> bool {
        self.value(long).is_some_and(|v| v == "true")
    }
    /// The last value of a flag.
    pub fn value(&self, long: &str) -> Option<&str> {
        self.flags.iter().rev().find(|(l, _)| *l == long).map(|(_, v)| v.as_str())
    }
    /// Every value of a repeatable flag, in order.
    pub fn values(&self, long: &str) -> Vec<&str> {
        self.flags.iter().filter(|(l, _)| *l == long).map(|(_, v)| v.as_str()).collect()
    }
}

/// Validates a command line without running it.
pub fn check_command(argv: &[String]) -> Result<(), CliError> {
    parse(argv).map(|_| ())
}

/// Parses argv (without the leading `docker`).
pub fn parse(argv: &[String]) -> Result<Invocation, CliError> {
    let Some(first) = argv.first() else {
        return Err(not_simulated("docker", "the top-level help"));
    };
    if first.starts_with('-') {
        return Err(not_simulated("docker", &format!("the global option {first}")));
    }
    let (path_len, candidate) = if GROUPS.contains(&first.as_str()) {
        match argv.get(1) {
            None if first == "network" => return Ok(Invocation::Help(NETWORK_USAGE)),
            None => return Err(not_simulated(first, "this command's help")),
            Some(sub) => (2, format!("{first} {sub}")),
        }
    } else {
        (1, first.clone())
    };
    let Some((spec, path)) = find(&candidate) else {
        return Err(unknown_command(argv, path_len));
    };
    let mut parsed = parse_flags(spec, path, &argv[path_len..])?;
    check_args(&parsed)?;
    parsed.args.shrink_to_fit();
    Ok(Invocation::Command(parsed))
}

fn find(path: &str) -> Option<(&'static CommandSpec, &'static str)> {
    COMMANDS.iter().find_map(|c| c.paths.iter().find(|p| **p == path).map(|p| (c, *p)))
}

fn unknown_command(argv: &[String], path_len: usize) -> CliError {
    if path_len == 2 && argv[0] == "network" {
        return CliError {
            kind: CliErrorKind::UnknownCommand,
            message: format!("\n{}", NETWORK_USAGE.trim_matches('\n')),
            exit_code: 1,
            hint: "docker network subcommands: connect, create, disconnect, inspect, ls, prune, rm"
                .into(),
        };
    }
    if path_len == 2 {
        return not_simulated(&format!("{} {}", argv[0], argv[1]), "this subcommand");
    }
    CliError {
        kind: CliErrorKind::UnknownCommand,
        message: format!("docker: '{}' is not a docker command.\nSee 'docker --help'", argv[0]),
        exit_code: 1,
        hint:
            "simulated commands: run, ps, inspect, exec, rm, stop, info, version, pull, network …"
                .into(),
    }
}

pub(crate) fn not_simulated(path: &str, what: &str) -> CliError {
    CliError {
        kind: CliErrorKind::NotSimulated,
        message: format!("swarmsim: {what} ('docker {path}') is not simulated"),
        exit_code: 125,
        hint: "real docker accepts this; the simulator does not model it".into(),
    }
}

fn flag_error(path: &str, err: String, kind: CliErrorKind) -> CliError {
    CliError {
        kind,
        message: format!("{err}\nSee 'docker {path} --help'."),
        exit_code: 125,
        hint: format!("check the flags of 'docker {path}'"),
    }
}

struct FlagParser<'a> {
    spec: &'static CommandSpec,
    path: &'static str,
    argv: &'a [String],
    i: usize,
    out: Parsed,
}

fn parse_flags(
    spec: &'static CommandSpec,
    path: &'static str,
    argv: &[String],
) -> Result<Parsed, CliError> {
    let out = Parsed { spec, path, flags: Vec::new(), args: Vec::new() };
    let mut p = FlagParser { spec, path, argv, i: 0, out };
    while p.i < argv.len() {
        let a = &argv[p.i];
        p.i += 1;
        if a == "--" {
            p.out.args.extend(argv[p.i..].iter().cloned());
            break;
        } else if let Some(long) = a.strip_prefix("--") {
            p.long(long)?;
        } else if a.len() > 1 && a.starts_with('-') {
            p.shorts(&a[1..])?;
        } else {
            p.out.args.push(a.clone());
            if !spec.interspersed {
                p.out.args.extend(argv[p.i..].iter().cloned());
                break;
            }
        }
    }
    Ok(p.out)
}

impl FlagParser<'_> {
    fn next_value(&mut self) -> Option<String> {
        let v = self.argv.get(self.i).cloned();
        self.i += usize::from(v.is_some());
        v
    }

    fn unknown(&self, name: &str, err: String) -> CliError {
        if name == "help" || self.spec.unmodelled.contains(&name) {
            return not_simulated(self.path, &format!("the option {name}"));
        }
        flag_error(self.path, err, CliErrorKind::UnknownFlag)
    }

    fn long(&mut self, body: &str) -> Result<(), CliError> {
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(f) = self.spec.flags.iter().find(|f| f.long == name) else {
            return Err(self.unknown(name, format!("unknown flag: --{name}")));
        };
        let value = match (f.value, inline) {
            (_, Some(v)) => v,
            (true, None) => self.next_value().ok_or_else(|| {
                let err = format!("flag needs an argument: --{name}");
                flag_error(self.path, err, CliErrorKind::MissingValue)
            })?,
            (false, None) => "true".into(),
        };
        self.push(f, value)
    }

    fn shorts(&mut self, group: &str) -> Result<(), CliError> {
        for (pos, c) in group.char_indices() {
            let Some(f) = self.spec.flags.iter().find(|f| f.short == Some(c)) else {
                let err = format!("unknown shorthand flag: '{c}' in -{group}");
                let name = if c == 'h' { "help".to_string() } else { c.to_string() };
                return Err(self.unknown(&name, err));
            };
            if !f.value {
                self.push(f, "true".into())?;
                continue;
            }
            let rest = &group[pos + c.len_utf8()..];
            let value = if rest.is_empty() {
                self.next_value().ok_or_else(|| {
                    let err = format!("flag needs an argument: '{c}' in -{group}");
                    flag_error(self.path, err, CliErrorKind::MissingValue)
                })?
            } else {
                rest.strip_prefix('=').unwrap_or(rest).to_string()
            };
            return self.push(f, value);
        }
        Ok(())
    }

    fn push(&mut self, f: &FlagSpec, value: String) -> Result<(), CliError> {
        let value = if f.value { value } else { parse_bool(self.path, f, &value)? };
        self.out.flags.push((f.long, value));
        Ok(())
    }
}

/// A flag value its `pflag.Value` refused: `invalid argument "x" for "-p, --publish" flag: …`.
pub(crate) fn bad_flag_value(p: &Parsed, long: &str, value: &str, err: &str) -> CliError {
    let f = p.spec.flags.iter().find(|f| f.long == long).expect("flag is in the spec");
    let err = format!("invalid argument \"{value}\" for \"{}\" flag: {err}", flag_name(f));
    flag_error(p.path, err, CliErrorKind::BadValue)
}

/// How pflag names a flag in its errors: `-p, --publish` or `--replicas`.
fn flag_name(f: &FlagSpec) -> String {
    match f.short {
        Some(s) => format!("-{s}, --{}", f.long),
        None => format!("--{}", f.long),
    }
}

/// pflag's boolean values (`strconv.ParseBool`).
fn parse_bool(path: &str, f: &FlagSpec, v: &str) -> Result<String, CliError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok("true".into()),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok("false".into()),
        _ => {
            let name = flag_name(f);
            let err = format!(
                "invalid argument \"{v}\" for \"{name}\" flag: strconv.ParseBool: parsing \"{v}\": invalid syntax"
            );
            Err(flag_error(path, err, CliErrorKind::BadValue))
        }
    }
}

fn check_args(p: &Parsed) -> Result<(), CliError> {
    let n = p.args.len();
    let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
    let what = match p.spec.args {
        ArgRule::None if n > 0 => "accepts no arguments".to_string(),
        ArgRule::Exactly(k) if n != k => format!("requires exactly {k} {}", plural(k)),
        ArgRule::AtLeast(k) if n < k => format!("requires at least {k} {}", plural(k)),
        _ => return Ok(()),
    };
    let idx = p.spec.paths.iter().position(|x| *x == p.path).expect("path comes from spec");
    let path = p.path;
    Err(CliError {
        kind: CliErrorKind::ArgCount,
        message: format!(
            "\"docker {path}\" {what}.\nSee 'docker {path} --help'.\n\nUsage:  docker {}\n\n{}",
            p.spec.uses[idx], p.spec.short
        ),
        exit_code: 1,
        hint: format!("usage: docker {}", p.spec.uses[idx]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }
    fn err(s: &str) -> CliError {
        parse(&argv(s)).unwrap_err()
    }
    fn cmd(s: &str) -> Parsed {
        match parse(&argv(s)).unwrap() {
            Invocation::Command(p) => p,
            Invocation::Help(_) => panic!("help"),
        }
    }

    #[test]
    fn network_create_with_two_names_is_the_labs_user_error() {
        let e = err("network create my bridge");
        assert_eq!(e.exit_code, 1);
        assert_eq!(
            e.message,
            "\"docker network create\" requires exactly 1 argument.\nSee 'docker network create --help'.\n\nUsage:  docker network create [OPTIONS] NETWORK\n\nCreate a network"
        );
    }

    #[test]
    fn flag_errors_match_cobra() {
        let e = err("run --foo nginx");
        assert_eq!(
            (e.message.as_str(), e.exit_code),
            ("unknown flag: --foo\nSee 'docker run --help'.", 125)
        );
        assert_eq!(
            err("run -x nginx").message,
            "unknown shorthand flag: 'x' in -x\nSee 'docker run --help'."
        );
        assert_eq!(
            err("container run --name").message,
            "flag needs an argument: --name\nSee 'docker container run --help'."
        );
        assert_eq!(
            err("foo").message,
            "docker: 'foo' is not a docker command.\nSee 'docker --help'"
        );
        assert_eq!(err("run --restart always nginx").kind, CliErrorKind::NotSimulated);
        assert_eq!(err("ps x").message, "\"docker ps\" accepts no arguments.\nSee 'docker ps --help'.\n\nUsage:  docker ps [OPTIONS]\n\nList containers");
        assert!(err("network foo")
            .message
            .starts_with("\nUsage:  docker network COMMAND\n\nManage networks\n"));
    }

    #[test]
    fn run_flags_stop_at_the_image() {
        let p =
            cmd("run -itd --name c1 -p8080:80 -p 127.0.0.1::80 --net=my_bridge busybox sh -c ls");
        assert!(p.flag("interactive") && p.flag("tty") && p.flag("detach"));
        assert_eq!(p.value("name"), Some("c1"));
        assert_eq!(p.values("publish"), ["8080:80", "127.0.0.1::80"]);
        assert_eq!(p.value("net"), Some("my_bridge"));
        assert_eq!(p.args, ["busybox", "sh", "-c", "ls"]);
        let p = cmd("network create --subnet 10.0.0.0/24 -d bridge foo --internal");
        assert_eq!((p.value("driver"), p.flag("internal")), (Some("bridge"), true));
        assert_eq!(parse(&argv("network")).unwrap(), Invocation::Help(NETWORK_USAGE));
    }
}
