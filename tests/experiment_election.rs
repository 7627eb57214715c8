//! `swarmsim experiment election`: the command runs every range of the Raft paper's
//! Figure 16, prints the table, writes it with the two CDF plots, and rejects bad input with
//! exit code 2.

use std::process::Command;

fn swarmsim(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_swarmsim")).args(args).output().expect("runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    (output.status.code().expect("exited"), stdout)
}

/// (min ms, max ms, median, mean, p99, max) of each table row.
fn rows(table: &str) -> Vec<(f64, f64, f64, f64, f64, f64)> {
    table
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(" ms |"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let range: Vec<f64> = cells[1]
                .trim_end_matches(" ms")
                .split('–')
                .map(|x| x.parse().expect("range"))
                .collect();
            let num = |i: usize| cells[i].parse::<f64>().expect("number");
            (range[0], range[1], num(3), num(4), num(5), num(6))
        })
        .collect()
}

#[test]
fn election_experiment_table_and_plots() {
    let dir = std::env::temp_dir().join(format!("swarmsim-election-{}", std::process::id()));
    let out = dir.to_str().expect("utf-8 path");
    let (code, stdout) = swarmsim(&["experiment", "election", "--trials", "5", "--out", out]);
    assert_eq!(code, 0, "{stdout}");
    let rows = rows(&stdout);
    let ranges: Vec<(f64, f64)> = rows.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(ranges.len(), 10, "{stdout}");
    assert_eq!(ranges[0], (150.0, 150.0));
    assert_eq!(ranges[9], (100.0, 200.0));
    for (min, _, median, mean, p99, max) in rows {
        assert!(median <= p99 && p99 <= max && mean <= max, "{stdout}");
        // The last heartbeat left at most min/2 before the crash and took ≥ 6 ms; a follower
        // then waits ≥ min, and its vote request and a grant take ≥ 6 ms each.
        assert!(median >= min / 2.0 + 18.0, "row {min}: median {median}");
    }
    for (file, row) in [
        ("election.md", "150–300 ms"),
        ("election-150.svg", "150–300 ms"),
        ("election-scaled.svg", "12–24 ms"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect(file);
        assert!(text.contains(row), "{file} names the {row} row");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn bad_experiment_input_exits_2() {
    assert_eq!(swarmsim(&["experiment", "election", "--trials", "0"]).0, 2);
    assert_eq!(swarmsim(&["experiment", "election", "--tick-us", "0"]).0, 2);
    assert_eq!(swarmsim(&["experiment", "nonesuch"]).0, 2);
}
