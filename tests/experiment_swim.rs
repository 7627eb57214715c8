//! `swarmsim experiment swim`: the command runs the requested cluster sizes, prints the
//! table, writes it with the two plots, and rejects bad input with exit code 2.

use std::process::Command;

fn swarmsim(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_swarmsim")).args(args).output().expect("runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    (output.status.code().expect("exited"), stdout)
}

/// (members, trials, suspect median/mean/max, dead median/mean/max, msgs/s, bytes/s).
type Row = (f64, f64, Vec<f64>, Vec<f64>, f64, f64);

fn rows(table: &str) -> Vec<Row> {
    table
        .lines()
        .filter(|l| l.starts_with("| ") && l.as_bytes()[2].is_ascii_digit())
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let num = |s: &str| s.parse::<f64>().expect("number");
            let triple = |s: &str| s.split(" / ").map(num).collect::<Vec<f64>>();
            (
                num(cells[1]),
                num(cells[2]),
                triple(cells[3]),
                triple(cells[4]),
                num(cells[6]),
                num(cells[7]),
            )
        })
        .collect()
}

#[test]
fn swim_experiment_table_and_plots() {
    let dir = std::env::temp_dir().join(format!("swarmsim-swim-{}", std::process::id()));
    let out = dir.to_str().expect("utf-8 path");
    let args = ["experiment", "swim", "--trials", "3", "--sizes", "8,16", "--out", out];
    let (code, stdout) = swarmsim(&args);
    assert_eq!(code, 0, "{stdout}");
    let rows = rows(&stdout);
    assert_eq!(rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), vec![(8.0, 3.0), (16.0, 3.0)]);
    for (n, _, suspect, dead, msgs, bytes) in rows {
        let (s_median, s_max) = (suspect[0], suspect[2]);
        // Someone probes the victim within a few probe intervals and suspects it at the end
        // of that 1 s interval; death takes at least the 4 s minimum suspicion on top.
        assert!((1.0..=6.0).contains(&s_median) && s_max < 10.0, "n={n}: suspect {suspect:?}");
        assert!(dead[0] >= s_median + 4.0 && dead[2] < 30.0, "n={n}: dead {dead:?}");
        // In steady state a member sends one ping and one ack per second, plus push-pulls.
        assert!((1.9..2.5).contains(&msgs), "n={n}: {msgs} msgs/s");
        assert!((100.0..1000.0).contains(&bytes), "n={n}: {bytes} bytes/s");
    }
    for (file, needle) in [
        ("swim.md", "| 16 | 3 |"),
        ("swim-detection.svg", "first suspect, median"),
        ("swim-load.svg", "messages/member/s"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect(file);
        assert!(text.contains(needle), "{file} has {needle}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn bad_swim_input_exits_2() {
    assert_eq!(swarmsim(&["experiment", "swim", "--trials", "0"]).0, 2);
    assert_eq!(swarmsim(&["experiment", "swim", "--sizes", "1"]).0, 2);
}
