//! False "dead" declarations when some members are slow, with and without each of
//! Lifeguard's mechanisms — the experiment of the Lifeguard paper (Dadgar, Phillips & Currey
//! 2018, §V) on memberlist as Docker's networkdb configures it.
//!
//! Method, per trial: `members` [`Member`](crate::proto::swim::Member)s that already know
//! each other ([`Cluster::converged_with`]) on a LAN (one-way delay uniform over `delay_us`,
//! no loss); `k` of them, drawn at random, are slow ([`Cluster::set_slow`]: everything they
//! receive is handled up to `max_lag_ms` late, in order — a CPU-starved process). The run
//! lasts `minutes` of simulated time and counts every `Leave` event (a member declaring
//! another dead; nobody leaves), split by whether the declared member and the declaring
//! one are slow. Then a random healthy member crashes at a uniform moment of the next second
//! and the run measures the time until a healthy member first declares it dead (censored at
//! `cap_s`). Each [`Variant`] runs the same trials (same seeds, same slow members, same
//! victim), so the variants differ only in their Lifeguard switches.

use std::path::{Path, PathBuf};

use plotters::prelude::SeriesLabelPosition;

use super::plot::{log_x_lines, write_error, Axes};
use super::ExperimentError;
use crate::engine::{RngStream, SimDuration, SimTime, Streams};
use crate::proto::swim::cluster::{name, Cluster};
use crate::proto::swim::{Config, Event, Lifeguard, State};

/// The configurations compared: SWIM-like, each mechanism alone, all (memberlist).
pub const VARIANTS: [Variant; 5] = [
    Variant { label: "SWIM (all off)", lifeguard: Lifeguard::NONE },
    Variant {
        label: "LHA-Probe only",
        lifeguard: Lifeguard { aware_probe: true, ..Lifeguard::NONE },
    },
    Variant {
        label: "LHA-Suspicion only",
        lifeguard: Lifeguard { aware_suspicion: true, ..Lifeguard::NONE },
    },
    Variant { label: "Buddy only", lifeguard: Lifeguard { buddy: true, ..Lifeguard::NONE } },
    Variant { label: "Lifeguard (all on)", lifeguard: Lifeguard::ALL },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub label: &'static str,
    pub lifeguard: Lifeguard,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub members: usize,
    pub slow: Vec<usize>,
    pub max_lag_ms: u64,
    pub minutes: u64,
    pub trials: usize,
    pub seed: u64,
    pub delay_us: (u64, u64),
    pub cap_s: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            members: 32,
            slow: vec![1, 2, 4, 8],
            max_lag_ms: 3000,
            minutes: 10,
            trials: 5,
            seed: 1,
            delay_us: (100, 500),
            cap_s: 120,
        }
    }
}

/// Counts over every trial of one variant and one number of slow members.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub variant: Variant,
    pub slow: usize,
    /// Healthy members declared dead: by a healthy member, by a slow one.
    pub healthy_by_healthy: u64,
    pub healthy_by_slow: u64,
    /// Slow members declared dead (by anyone).
    pub slow_dead: u64,
    /// Times (s) from the crash to its first declaration by a healthy member, sorted.
    pub detect_s: Vec<f64>,
    pub censored: usize,
}

impl Row {
    pub fn healthy_dead(&self) -> u64 {
        self.healthy_by_healthy + self.healthy_by_slow
    }
}

fn median(v: &[f64]) -> f64 {
    v[(v.len() - 1) / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Runs every variant for every number of slow members.
///
/// # Panics
/// If `trials` is 0, or there are not at least two healthy members for every `slow` count.
pub fn run(settings: &Settings) -> Vec<Row> {
    assert!(settings.trials > 0, "at least one trial");
    let mut rows = Vec::new();
    for &k in &settings.slow {
        assert!(k + 2 <= settings.members, "a crash needs a healthy victim and a witness");
        for variant in VARIANTS {
            rows.push(run_cell(settings, variant, k));
        }
    }
    rows
}

fn run_cell(settings: &Settings, variant: Variant, k: usize) -> Row {
    let mut row = Row {
        variant,
        slow: k,
        healthy_by_healthy: 0,
        healthy_by_slow: 0,
        slow_dead: 0,
        detect_s: Vec::new(),
        censored: 0,
    };
    for trial in 0..settings.trials {
        trial_run(settings, variant, k, trial, &mut row);
    }
    row.detect_s.sort_by(f64::total_cmp);
    row
}

/// `k` distinct members out of `n`, drawn uniformly.
fn pick(rng: &mut RngStream, n: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + rng.index(n - i);
        all.swap(i, j);
    }
    all.truncate(k);
    all
}

fn trial_run(settings: &Settings, variant: Variant, k: usize, trial: usize, row: &mut Row) {
    let n = settings.members;
    let streams = Streams::new(settings.seed);
    let id = format!("lifeguard/{n}/{k}/{trial}");
    let delay = (
        SimDuration::from_micros(settings.delay_us.0),
        SimDuration::from_micros(settings.delay_us.1),
    );
    let lifeguard = variant.lifeguard;
    let mut c =
        Cluster::converged_with(n, streams.stream(&id), delay, |c| Config { lifeguard, ..c });
    let mut rng = streams.stream(&format!("{id}/faults"));
    let lag = SimDuration::from_millis(settings.max_lag_ms);
    for i in pick(&mut rng, n, k) {
        c.set_slow(i, lag);
    }
    let end = SimTime::ZERO + SimDuration::from_secs(60 * settings.minutes);
    c.run_until(end, |_, _| false);
    count_false_deaths(&c, row);
    let healthy: Vec<usize> = (0..n).filter(|&i| !c.is_slow(i)).collect();
    let victim = healthy[rng.index(healthy.len())];
    let crash_at = end + SimDuration::from_nanos(rng.range_u64(0, SimDuration::from_secs(1).0));
    c.run_until(crash_at, |_, _| false);
    c.crash(victim);
    let v = name(victim);
    let cap = crash_at + SimDuration::from_secs(settings.cap_s);
    let dead =
        c.run_until(cap, |c, i| !c.is_slow(i) && c.member(i).state_of(&v) == Some(State::Dead));
    match dead {
        Some(t) => row.detect_s.push(t.since(crash_at).as_nanos() as f64 / 1e9),
        None => {
            row.detect_s.push(settings.cap_s as f64);
            row.censored += 1;
        }
    }
}

/// Adds the run's `Leave` events so far (all false: nobody has crashed or left yet).
fn count_false_deaths(c: &Cluster, row: &mut Row) {
    for (_, observer, e) in c.events() {
        let Event::Leave(node) = e else { continue };
        let subject: usize = node.name[1..].parse().expect("members are named m<i>");
        match (c.is_slow(subject), c.is_slow(*observer)) {
            (true, _) => row.slow_dead += 1,
            (false, false) => row.healthy_by_healthy += 1,
            (false, true) => row.healthy_by_slow += 1,
        }
    }
}

/// The table, in markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| slow | configuration | healthy declared dead (by healthy + by slow) | slow declared dead | crash detected median / mean (s) | censored |\n\
         |---:|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {} ({} + {}) | {} | {:.2} / {:.2} | {} |\n",
            r.slow,
            r.variant.label,
            r.healthy_dead(),
            r.healthy_by_healthy,
            r.healthy_by_slow,
            r.slow_dead,
            median(&r.detect_s),
            mean(&r.detect_s),
            r.censored
        );
    }
    s
}

/// Writes `lifeguard.md`, `lifeguard-healthy.svg`, `lifeguard-slow.svg` and
/// `lifeguard-detection.svg` into `dir`; returns the files.
pub fn write(
    rows: &[Row],
    settings: &Settings,
    dir: &Path,
) -> Result<Vec<PathBuf>, ExperimentError> {
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let table = dir.join("lifeguard.md");
    let header = format!(
        "# Lifeguard: false dead declarations with slow members\n\n{} members, {} trials of {} \
         simulated minutes per cell, seed {}, one-way delay {}–{} µs, slow members handle what \
         they receive up to {} ms late. Counts are totals over the trials.\n\n",
        settings.members,
        settings.trials,
        settings.minutes,
        settings.seed,
        settings.delay_us.0,
        settings.delay_us.1,
        settings.max_lag_ms
    );
    std::fs::write(&table, header + &markdown(rows)).map_err(|e| write_error(&table, e))?;
    let per_hour = 60.0 / (settings.minutes as f64 * settings.trials as f64);
    let charts: [Chart; 3] = [
        ("lifeguard-healthy.svg", "healthy members declared dead per hour", &|r| {
            r.healthy_dead() as f64 * per_hour
        }),
        ("lifeguard-slow.svg", "slow members declared dead per hour", &|r| {
            r.slow_dead as f64 * per_hour
        }),
        ("lifeguard-detection.svg", "crash to first dead, mean (s)", &|r| mean(&r.detect_s)),
    ];
    let mut files = vec![table];
    for (file, y_desc, f) in charts {
        let path = dir.join(file);
        plot(&path, y_desc, &series(rows, f))?;
        files.push(path);
    }
    Ok(files)
}

/// A chart's file, y axis, and the value each row contributes.
type Chart<'a> = (&'a str, &'a str, &'a dyn Fn(&Row) -> f64);

/// One line per variant over the number of slow members.
fn series(rows: &[Row], f: &dyn Fn(&Row) -> f64) -> Vec<(String, Vec<(f64, f64)>)> {
    VARIANTS
        .iter()
        .map(|v| {
            let points =
                rows.iter().filter(|r| r.variant == *v).map(|r| (r.slow as f64, f(r))).collect();
            (v.label.to_string(), points)
        })
        .collect()
}

fn plot(
    path: &Path,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), ExperimentError> {
    let points = series.iter().flat_map(|s| s.1.iter());
    let (x_max, y_max) = points.fold((2.0f64, 1.0f64), |(x, y), p| (x.max(p.0), y.max(p.1)));
    let axes = Axes {
        x: (0.8, x_max * 1.25),
        y: (0.0, y_max * 1.3),
        x_desc: "slow members",
        y_desc,
        legend: SeriesLabelPosition::UpperLeft,
    };
    log_x_lines(path, &axes, series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(slow: Vec<usize>) -> Settings {
        Settings { members: 10, slow, minutes: 1, trials: 1, ..Settings::default() }
    }

    #[test]
    fn same_seed_same_numbers() {
        let s = small(vec![1]);
        assert_eq!(run(&s), run(&s));
        assert_eq!(run(&s).len(), VARIANTS.len());
    }

    #[test]
    fn without_slow_lag_nobody_is_declared_dead_and_the_crash_is_found() {
        let rows = run(&Settings { max_lag_ms: 0, ..small(vec![1]) });
        for r in &rows {
            assert_eq!((r.healthy_dead(), r.slow_dead), (0, 0), "{r:?}");
            assert_eq!(r.censored, 0);
            // The crash is suspected after a probe interval at least, and then waits the
            // 4 s minimum suspicion timeout (or longer).
            assert!(r.detect_s[0] >= 5.0, "{r:?}");
        }
    }

    #[test]
    fn slow_members_are_picked_without_repeats() {
        let mut rng = Streams::new(1).stream("pick");
        let mut p = pick(&mut rng, 8, 8);
        p.sort_unstable();
        assert_eq!(p, (0..8).collect::<Vec<_>>());
    }
}
