//! Determinism: the same scenario and seed give byte-identical transcripts and reports, and
//! every scenario's checks hold under many seeds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("scenarios")
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios found");
    files
}

/// Runs the simulator; returns (exit code, stdout).
fn run(scenario: &Path, seed: u64, out: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_swarmsim"))
        .arg(scenario)
        .args(["--seed", &seed.to_string(), "--out"])
        .arg(out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let stdout = stdout.replace(&out.display().to_string(), "OUT");
    (output.status.code().expect("exited"), stdout)
}

/// Every file of a report directory, by name, with its bytes.
fn report_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("report written")
        .map(|e| {
            let p = e.expect("readable").path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swarmsim-det-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn same_seed_gives_identical_bytes() {
    for scenario in scenarios() {
        let (a, b) = (temp_dir("a"), temp_dir("b"));
        let (code_a, out_a) = run(&scenario, 7, &a);
        let (code_b, out_b) = run(&scenario, 7, &b);
        assert_eq!(code_a, code_b, "{}", scenario.display());
        assert_eq!(out_a, out_b, "{}: transcripts differ", scenario.display());
        assert_eq!(report_files(&a), report_files(&b), "{}: reports differ", scenario.display());
        let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
    }
}

#[test]
fn every_check_holds_under_twenty_seeds() {
    for scenario in scenarios() {
        for seed in 1..=20 {
            let dir = temp_dir("seeds");
            let (code, out) = run(&scenario, seed, &dir);
            assert_eq!(code, 0, "{} with seed {seed}:\n{out}", scenario.display());
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn different_seeds_give_different_ids() {
    let scenario = Path::new("scenarios/bridge-networking.yaml");
    let (a, b) = (temp_dir("s1"), temp_dir("s2"));
    let (_, out_a) = run(scenario, 1, &a);
    let (_, out_b) = run(scenario, 2, &b);
    assert_ne!(out_a, out_b, "the seed must drive IDs and timings");
    let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
}
