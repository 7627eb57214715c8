//! Every file in `tests/bad_scenarios/` has exactly one problem, named on its first line as
//! `# expect: PHRASE`. Loading it must fail with an error that names a line and whose
//! headline contains PHRASE — never a panic, never a scenario — and the binary must exit 2
//! with that message and write no report.

use std::path::{Path, PathBuf};

use std::process::Command;

use swarmsim::runner::command::check as check_command;
use swarmsim::scenario;

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

#[test]
fn the_binary_exits_2_and_writes_nothing() {
    for path in bad_scenarios() {
        let out = std::env::temp_dir().join(format!("swarmsim-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let run = Command::new(env!("CARGO_BIN_EXE_swarmsim"))
            .arg(&path)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(run.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&expected_phrase(&path)), "{name}: {stderr}");
        assert!(stderr.contains(&format!("{name}:")), "{name} must be named with a line: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(run.stdout.is_empty(), "{name}: nothing may run");
        assert!(!out.exists(), "{name}: no report may be written");
    }
}
