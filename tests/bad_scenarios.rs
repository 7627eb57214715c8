//! Every file in `tests/bad_scenarios/` has exactly one problem, named on its first line as
//! `# expect: PHRASE`. Loading it must fail with an error that names a line and whose
//! headline contains PHRASE — never a panic, never a scenario.

use std::path::{Path, PathBuf};

use swarmsim::scenario::{self, CommandError, CommandSite};

/// The commands the labs use. A stand-in for the docker CLI parser the binary plugs in:
/// it rejects only commands whose first word is not one of these.
const KNOWN_COMMANDS: &[&str] = &[
    "docker",
    "ping",
    "curl",
    "ip",
    "brctl",
    "bridge",
    "iptables",
    "iptables-save",
    "nc",
    "tcpdump",
    "nslookup",
    "dig",
    "drill",
    "getent",
    "apt-get",
    "cat",
    "echo",
    "ifconfig",
    "sleep",
    "route",
    "conntrack",
    "ipvsadm",
];

fn check_command(site: &CommandSite) -> Result<(), CommandError> {
    let first = site.command.split_whitespace().next().unwrap_or("");
    if KNOWN_COMMANDS.contains(&first) {
        return Ok(());
    }
    Err(CommandError {
        message: format!("unknown command `{first}`"),
        hint: Some(
            "the simulator knows docker, ping, curl, ip, iptables, tcpdump and a few more".into(),
        ),
        at: Some(0..first.len()),
    })
}

fn bad_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/bad_scenarios exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// The phrase after `# expect:` on the first line.
fn expected_phrase(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable");
    let first = text.lines().next().unwrap_or("");
    let phrase = first.strip_prefix("# expect: ");
    phrase
        .unwrap_or_else(|| panic!("{}: first line must be `# expect: …`", path.display()))
        .to_string()
}

#[test]
fn there_are_enough_bad_scenarios() {
    assert!(bad_scenarios().len() >= 25, "only {} bad scenarios", bad_scenarios().len());
}

#[test]
fn each_bad_scenario_fails_with_its_phrase_and_a_line() {
    let mut failures = Vec::new();
    for path in bad_scenarios() {
        let phrase = expected_phrase(&path);
        match scenario::load(&path, &check_command) {
            Ok(_) => failures.push(format!("{}: loaded without error", path.display())),
            Err(err) if err.line_col().is_none() => {
                failures.push(format!("{}: error names no line:\n{err}", path.display()))
            }
            Err(err) if !err.message().contains(&phrase) => {
                failures.push(format!("{}: expected `{phrase}` in:\n{err}", path.display()))
            }
            Err(err) => assert!(err.to_string().contains(&format!("{}:", path.display()))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
