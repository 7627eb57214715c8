//! How fast memberlist (as Docker's networkdb configures it) first notices a crashed member,
//! and what failure detection costs each member, for cluster sizes 8 to 1000 — the two
//! scalability claims of the SWIM paper (Das, Gupta & Motivala 2002, §3.1 and §5): the
//! expected time to a first detection does not depend on the cluster size, nor does the
//! message load per member.
//!
//! Method, per trial: `n` [`Member`](crate::proto::swim::Member)s that already know each
//! other ([`Cluster::converged`]), each started at a random moment of the first second, on a
//! network with a one-way delay uniform over `delay_us` and no loss. From 30 s on (after
//! every first push-pull stagger) the sends of every member are counted for one scaled
//! push-pull interval (30 s up to 32 members, 180 s at 1000) — steady-state load: pings, acks
//! and push-pulls, with the bytes they take on the wire (memberlist's msgpack encoding, CRC
//! header and encryption envelope, as with Docker's gossip keys). Then a random member
//! crashes at a uniform moment of the next second, and the run measures the time until some
//! live member first holds it suspect, and until some member first declares it dead. A trial
//! with no death after `cap_s` is censored and counts as `cap_s`.

use std::path::{Path, PathBuf};

use plotters::prelude::SeriesLabelPosition;

use super::plot::{log_x_lines, write_error, Axes};
use super::ExperimentError;
use crate::engine::{SimDuration, SimTime, Streams};
use crate::proto::swim::cluster::{name, Cluster};
use crate::proto::swim::{push_pull_scale, State};

pub const SIZES: [usize; 8] = [8, 16, 32, 64, 128, 256, 512, 1000];

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub trials: usize,
    pub seed: u64,
    pub sizes: Vec<usize>,
    pub delay_us: (u64, u64),
    pub cap_s: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { trials: 20, seed: 1, sizes: SIZES.to_vec(), delay_us: (100, 500), cap_s: 180 }
    }
}

/// One cluster size's measurements: detection times in s (sorted), load per member per s.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub members: usize,
    pub first_suspect_s: Vec<f64>,
    pub first_dead_s: Vec<f64>,
    pub censored: usize,
    pub msgs_per_member_s: f64,
    pub bytes_per_member_s: f64,
}

fn median(v: &[f64]) -> f64 {
    v[(v.len() - 1) / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn max(v: &[f64]) -> f64 {
    *v.last().expect("at least one trial")
}

/// Runs every size's trials.
///
/// # Panics
/// If `trials` is 0 or a size is below 2.
pub fn run(settings: &Settings) -> Vec<Row> {
    assert!(settings.trials > 0, "at least one trial");
    settings.sizes.iter().map(|&n| run_size(settings, n)).collect()
}

fn run_size(settings: &Settings, n: usize) -> Row {
    assert!(n >= 2, "a crash needs a survivor");
    let mut row = Row {
        members: n,
        first_suspect_s: Vec::new(),
        first_dead_s: Vec::new(),
        censored: 0,
        msgs_per_member_s: 0.0,
        bytes_per_member_s: 0.0,
    };
    for trial in 0..settings.trials {
        let t = trial_run(settings, n, trial);
        row.first_suspect_s.push(t.suspect_s);
        row.first_dead_s.push(t.dead_s.unwrap_or(settings.cap_s as f64));
        row.censored += usize::from(t.dead_s.is_none());
        row.msgs_per_member_s += t.msgs_per_s / settings.trials as f64;
        row.bytes_per_member_s += t.bytes_per_s / settings.trials as f64;
    }
    row.first_suspect_s.sort_by(f64::total_cmp);
    row.first_dead_s.sort_by(f64::total_cmp);
    row
}

struct Trial {
    suspect_s: f64,
    dead_s: Option<f64>,
    msgs_per_s: f64,
    bytes_per_s: f64,
}

fn trial_run(settings: &Settings, n: usize, trial: usize) -> Trial {
    let streams = Streams::new(settings.seed);
    let id = format!("swim/{n}/{trial}");
    let delay = (
        SimDuration::from_micros(settings.delay_us.0),
        SimDuration::from_micros(settings.delay_us.1),
    );
    let mut c = Cluster::converged(n, streams.stream(&id), delay);
    let mut rng = streams.stream(&format!("{id}/crash"));
    let warm = SimTime::ZERO + SimDuration::from_secs(30);
    let window = push_pull_scale(SimDuration::from_secs(30), n);
    c.run_until(warm, |_, _| false);
    c.reset_load();
    c.run_until(warm + window, |_, _| false);
    let secs = window.as_nanos() as f64 / 1e9;
    let (mut msgs, mut bytes) = (0u64, 0u64);
    for i in 0..n {
        let l = c.load(i);
        msgs += l.udp_packets + l.tcp_messages;
        bytes += l.udp_bytes + l.tcp_bytes;
    }
    let victim = rng.index(n);
    let crash_at =
        warm + window + SimDuration::from_nanos(rng.range_u64(0, SimDuration::from_secs(1).0));
    c.run_until(crash_at, |_, _| false);
    c.crash(victim);
    let v = name(victim);
    let cap = crash_at + SimDuration::from_secs(settings.cap_s);
    let seen = |c: &Cluster, i: usize, s: &[State]| {
        c.member(i).state_of(&v).is_some_and(|st| s.contains(&st))
    };
    let since = |t: SimTime| t.since(crash_at).as_nanos() as f64 / 1e9;
    let suspect = c.run_until(cap, |c, i| seen(c, i, &[State::Suspect, State::Dead]));
    let suspect_s = suspect.map_or(settings.cap_s as f64, since);
    let dead = c.run_until(cap, |c, i| seen(c, i, &[State::Dead]));
    Trial {
        suspect_s,
        dead_s: dead.map(since),
        msgs_per_s: msgs as f64 / n as f64 / secs,
        bytes_per_s: bytes as f64 / n as f64 / secs,
    }
}

/// The table, in markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| members | trials | first suspect median / mean / max (s) | first dead median / mean / max (s) | censored | msgs/member/s | bytes/member/s |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let (sus, dead) = (&r.first_suspect_s, &r.first_dead_s);
        s += &format!(
            "| {} | {} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} | {} | {:.2} | {:.0} |\n",
            r.members,
            sus.len(),
            median(sus),
            mean(sus),
            max(sus),
            median(dead),
            mean(dead),
            max(dead),
            r.censored,
            r.msgs_per_member_s,
            r.bytes_per_member_s
        );
    }
    s
}

/// Writes `swim.md`, `swim-detection.svg` and `swim-load.svg` into `dir`; returns the files.
pub fn write(
    rows: &[Row],
    settings: &Settings,
    dir: &Path,
) -> Result<Vec<PathBuf>, ExperimentError> {
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let table = dir.join("swim.md");
    let header = format!(
        "# SWIM/memberlist: first detection of a crashed member, and load\n\n{} trials per size, \
         seed {}, one-way delay {}–{} µs, no loss, Docker's memberlist configuration.\n\n",
        settings.trials, settings.seed, settings.delay_us.0, settings.delay_us.1
    );
    std::fs::write(&table, header + &markdown(rows)).map_err(|e| write_error(&table, e))?;
    let xs = |f: &dyn Fn(&Row) -> f64| rows.iter().map(|r| (r.members as f64, f(r))).collect();
    let paper = std::f64::consts::E / (std::f64::consts::E - 1.0);
    let detection = dir.join("swim-detection.svg");
    let series: Vec<(String, Vec<(f64, f64)>)> = vec![
        ("first suspect, median".into(), xs(&|r| median(&r.first_suspect_s))),
        ("first suspect, mean".into(), xs(&|r| mean(&r.first_suspect_s))),
        ("first dead, median".into(), xs(&|r| median(&r.first_dead_s))),
        ("SWIM paper: T'·e/(e−1)".into(), xs(&|_| paper)),
    ];
    plot(&detection, "time after the crash (s)", &series)?;
    let load = dir.join("swim-load.svg");
    let series: Vec<(String, Vec<(f64, f64)>)> = vec![
        ("messages/member/s".into(), xs(&|r| r.msgs_per_member_s)),
        ("bytes/member/s ÷ 100".into(), xs(&|r| r.bytes_per_member_s / 100.0)),
    ];
    plot(&load, "per member per second", &series)?;
    Ok(vec![table, detection, load])
}

/// Lines over the cluster size (log-scale axis).
fn plot(
    path: &Path,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), ExperimentError> {
    let points = series.iter().flat_map(|s| s.1.iter());
    let (x_max, y_max) = points.fold((8.0f64, 1.0f64), |(x, y), p| (x.max(p.0), y.max(p.1)));
    let axes = Axes {
        x: (4.0, x_max * 1.5),
        y: (0.0, y_max * 1.15),
        x_desc: "cluster size (members)",
        y_desc,
        legend: SeriesLabelPosition::UpperLeft,
    };
    log_x_lines(path, &axes, series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(sizes: Vec<usize>, trials: usize) -> Settings {
        Settings { trials, sizes, ..Settings::default() }
    }

    #[test]
    fn same_seed_same_numbers() {
        let s = small(vec![8], 2);
        assert_eq!(run(&s), run(&s));
        assert_ne!(run(&s), run(&Settings { seed: 2, ..s.clone() }));
    }

    #[test]
    fn a_first_suspicion_takes_at_least_one_probe_interval() {
        // Whoever probes the crashed member first suspects it only at the end of its 1 s
        // probe interval; a death needs the 4 s minimum suspicion timeout on top.
        let rows = run(&small(vec![8], 4));
        assert!(rows[0].first_suspect_s[0] >= 1.0, "{:?}", rows[0]);
        assert!(rows[0].first_dead_s[0] >= rows[0].first_suspect_s[0] + 4.0, "{:?}", rows[0]);
        assert_eq!(rows[0].censored, 0);
    }
}
