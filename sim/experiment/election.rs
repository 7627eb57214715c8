//! How long a 5-node Raft cluster is without a leader after the leader crashes, for several
//! election-timeout ranges (Ongaro & Ousterhout 2014, "In Search of an Understandable
//! Consensus Algorithm", §9.3 and Figure 16).
//!
//! Method, per trial:
//! - five [`RaftNode`]s with voters 1–5; time advances in ticks of `tick_us`, and each node's
//!   tick clock has its own random phase (real machines' timers are not aligned);
//! - election timeout uniform over the range (rounded to ticks), heartbeat interval half the
//!   minimum timeout, as in the paper; CheckQuorum as `check_quorum` says (the paper's
//!   LogCabin has no such lease; swarmkit turns it on);
//! - one-way message delay uniform over `delay_us` (default 6–9 ms: a round trip of 12–18 ms,
//!   so the broadcast time to four peers is about 15 ms, the paper's figure); no loss;
//! - node 1 campaigns at time 0; from `4 × max timeout` on, at the first heartbeat-interval
//!   boundary where every node follows one leader in its term, plus a uniform moment within
//!   one heartbeat interval, the leader crashes (messages it already sent still arrive; the
//!   leader may have changed in the meantime: the one in office crashes);
//! - the measured time runs from the crash until some node becomes leader of a higher term.
//!   A trial with no new leader after `cap_ms` is censored and counts as `cap_ms`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

use plotters::prelude::SeriesLabelPosition;

use super::plot::{log_x_lines, write_error, Axes};
use super::ExperimentError;
use crate::engine::Streams;
use crate::proto::raft::{Config, Message, NodeId, Output, RaftNode, Role};

/// The rows of Figure 16: the 150 ms family (top), then the scaled ranges (bottom).
pub const PAPER_RANGES_MS: [(u32, u32); 10] = [
    (150, 150),
    (150, 151),
    (150, 155),
    (150, 175),
    (150, 200),
    (150, 300),
    (12, 24),
    (25, 50),
    (50, 100),
    (100, 200),
];

const NODES: u64 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub trials: usize,
    pub seed: u64,
    pub tick_us: u64,
    pub delay_us: (u64, u64),
    pub check_quorum: bool,
    pub cap_ms: u64,
    pub ranges_ms: Vec<(u32, u32)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            trials: 1000,
            seed: 1,
            tick_us: 50,
            delay_us: (6_000, 9_000),
            check_quorum: false,
            cap_ms: 30_000,
            ranges_ms: PAPER_RANGES_MS.to_vec(),
        }
    }
}

/// One timeout range's measurements, in ms, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub range_ms: (u32, u32),
    pub samples_ms: Vec<f64>,
    pub censored: usize,
}

impl Row {
    pub fn label(&self) -> String {
        format!("{}–{} ms", self.range_ms.0, self.range_ms.1)
    }

    /// The `q`-quantile (nearest rank).
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.samples_ms.len();
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.samples_ms[rank - 1]
    }

    pub fn mean(&self) -> f64 {
        self.samples_ms.iter().sum::<f64>() / self.samples_ms.len() as f64
    }

    pub fn max(&self) -> f64 {
        *self.samples_ms.last().expect("at least one trial")
    }
}

/// Runs every range's trials.
///
/// # Panics
/// If `trials` is 0 or a range is empty.
pub fn run(settings: &Settings) -> Vec<Row> {
    assert!(settings.trials > 0, "at least one trial");
    settings.ranges_ms.iter().map(|&range| run_range(settings, range)).collect()
}

fn run_range(settings: &Settings, range_ms: (u32, u32)) -> Row {
    assert!(range_ms.0 <= range_ms.1 && range_ms.0 > 0);
    let mut samples_ms = Vec::with_capacity(settings.trials);
    let mut censored = 0;
    for trial in 0..settings.trials {
        let id = format!("election/{}-{}/{trial}", range_ms.0, range_ms.1);
        match Trial::new(settings, range_ms, &id).measure() {
            Some(us) => samples_ms.push(us as f64 / 1000.0),
            None => {
                censored += 1;
                samples_ms.push(settings.cap_ms as f64);
            }
        }
    }
    samples_ms.sort_by(f64::total_cmp);
    Row { range_ms, samples_ms, censored }
}

/// One cluster, from boot to the first leader after the crash.
struct Trial<'a> {
    settings: &'a Settings,
    nodes: Vec<RaftNode<()>>,
    up: Vec<bool>,
    /// Each node's next tick, in µs.
    next_tick: Vec<u64>,
    /// Messages in flight: (arrival µs, sequence) and the message.
    wire: BinaryHeap<Reverse<(u64, u64, MessageSlot)>>,
    seq: u64,
    rng: crate::engine::RngStream,
    heartbeat_us: u64,
    out: Vec<Output<()>>,
}

/// A message ordered by nothing (the heap orders by arrival and sequence first).
struct MessageSlot(Message<()>);

impl PartialEq for MessageSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for MessageSlot {}
impl PartialOrd for MessageSlot {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for MessageSlot {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<'a> Trial<'a> {
    fn new(settings: &'a Settings, range_ms: (u32, u32), id: &str) -> Self {
        let streams = Streams::new(settings.seed);
        let ticks = |ms: u32| ((u64::from(ms) * 1000) / settings.tick_us) as u32;
        let voters: Vec<NodeId> = (1..=NODES).collect();
        let heartbeat_tick = (ticks(range_ms.0) / 2).max(1);
        let mut rng = streams.stream(id);
        let mut nodes = Vec::new();
        let mut next_tick = Vec::new();
        for &v in &voters {
            let config = Config {
                id: v,
                election_tick_min: ticks(range_ms.0),
                election_tick_max: ticks(range_ms.1),
                heartbeat_tick,
                check_quorum: settings.check_quorum,
                max_inflight: 256,
                max_entries_per_append: 64,
            };
            nodes.push(RaftNode::new(config, &voters, streams.stream(&format!("{id}/node{v}"))));
            next_tick.push(rng.range_u64(1, settings.tick_us + 1));
        }
        Trial {
            settings,
            nodes,
            up: vec![true; NODES as usize],
            next_tick,
            wire: BinaryHeap::new(),
            seq: 0,
            rng,
            heartbeat_us: u64::from(heartbeat_tick) * settings.tick_us,
            out: Vec::new(),
        }
    }

    /// µs from the crash to the next leader, or None past the cap.
    fn measure(mut self) -> Option<u64> {
        self.nodes[0].campaign(&mut self.out);
        self.flush(0);
        let max_timeout_us =
            u64::from(self.nodes[0].config().election_tick_max) * self.settings.tick_us;
        let mut settled = 4 * max_timeout_us;
        self.run_until(settled, |_| false);
        let leader = loop {
            if let Some(leader) = self.settled_leader() {
                break leader;
            }
            settled += self.heartbeat_us;
            assert!(settled < 1000 * self.settings.cap_ms, "no stable leader before the crash");
            self.run_until(settled, |_| false);
        };
        let crash_at = settled + self.rng.range_u64(0, self.heartbeat_us);
        self.run_until(crash_at, |_| false);
        let leader = self.nodes.iter().position(|n| n.role() == Role::Leader).unwrap_or(leader);
        let old_term = self.nodes[leader].term();
        self.up[leader] = false;
        let deadline = crash_at + self.settings.cap_ms * 1000;
        let elected_at =
            self.run_until(deadline, |n| n.role() == Role::Leader && n.term() > old_term)?;
        Some(elected_at - crash_at)
    }

    /// The leader every node follows in its term, if there is one.
    fn settled_leader(&self) -> Option<usize> {
        let leader = self.nodes.iter().position(|n| n.role() == Role::Leader)?;
        let (id, term) = (self.nodes[leader].id(), self.nodes[leader].term());
        let follows = |n: &RaftNode<()>| n.leader() == Some(id) && n.term() == term;
        self.nodes.iter().all(follows).then_some(leader)
    }

    /// Runs events in time order up to `until`; returns the time `done` first held for an
    /// up node after one of its events.
    fn run_until(&mut self, until: u64, done: impl Fn(&RaftNode<()>) -> bool) -> Option<u64> {
        loop {
            let (i, tick_at) = (0..self.nodes.len())
                .filter(|&i| self.up[i])
                .map(|i| (i, self.next_tick[i]))
                .min_by_key(|&(i, t)| (t, i))
                .expect("some node is up");
            let msg_at = self.wire.peek().map_or(u64::MAX, |Reverse((t, _, _))| *t);
            let now = tick_at.min(msg_at);
            if now > until {
                return None;
            }
            let node = if msg_at <= tick_at {
                let Reverse((_, _, MessageSlot(m))) = self.wire.pop().expect("peeked");
                let to = (m.to - 1) as usize;
                if !self.up[to] {
                    continue;
                }
                self.nodes[to].step(m, &mut self.out);
                to
            } else {
                self.next_tick[i] += self.settings.tick_us;
                self.nodes[i].tick(&mut self.out);
                i
            };
            self.flush(now);
            if done(&self.nodes[node]) {
                return Some(now);
            }
        }
    }

    /// Puts the messages of the last call on the wire.
    fn flush(&mut self, now: u64) {
        let (low, high) = self.settings.delay_us;
        for o in std::mem::take(&mut self.out) {
            if let Output::Send(m) = o {
                let at = now + self.rng.range_u64(low, high + 1);
                self.seq += 1;
                self.wire.push(Reverse((at, self.seq, MessageSlot(m))));
            }
        }
    }
}

/// The table, in markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| election timeout | trials | median (ms) | mean (ms) | p99 (ms) | max (ms) | censored |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
            r.label(),
            r.samples_ms.len(),
            r.quantile(0.5),
            r.mean(),
            r.quantile(0.99),
            r.max(),
            r.censored
        );
    }
    s
}

/// Writes `election.md` and the two CDF panels into `dir`; returns the files written.
pub fn write(
    rows: &[Row],
    settings: &Settings,
    dir: &Path,
) -> Result<Vec<PathBuf>, ExperimentError> {
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let table = dir.join("election.md");
    let header =
        format!(
        "# Raft leader election after a leader crash\n\n{} trials per range, seed {}, tick {} µs, \
         one-way delay {}–{} µs, CheckQuorum {}.\n\n",
        settings.trials, settings.seed, settings.tick_us, settings.delay_us.0, settings.delay_us.1,
        settings.check_quorum
    );
    std::fs::write(&table, header + &markdown(rows)).map_err(|e| write_error(&table, e))?;
    let (top, bottom): (Vec<Row>, Vec<Row>) =
        rows.iter().cloned().partition(|r| r.range_ms.0 == 150);
    let mut files = vec![table];
    for (name, panel) in [("election-150.svg", top), ("election-scaled.svg", bottom)] {
        if !panel.is_empty() {
            let path = dir.join(name);
            plot_cdf(&panel, &path)?;
            files.push(path);
        }
    }
    Ok(files)
}

/// A CDF of each row's samples, log-scale time axis in ms (as the paper draws it).
fn plot_cdf(rows: &[Row], path: &Path) -> Result<(), ExperimentError> {
    let x_max = rows.iter().map(Row::max).fold(100.0, f64::max) * 1.2;
    let axes = Axes {
        x: (10.0, x_max),
        y: (0.0, 100.0),
        x_desc: "time without leader (ms)",
        y_desc: "cumulative percent",
        legend: SeriesLabelPosition::LowerRight,
    };
    let series: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|row| {
            let n = row.samples_ms.len() as f64;
            let points = row.samples_ms.iter().enumerate();
            (row.label(), points.map(|(k, &x)| (x, 100.0 * (k + 1) as f64 / n)).collect())
        })
        .collect();
    log_x_lines(path, &axes, &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(ranges_ms: Vec<(u32, u32)>, trials: usize) -> Settings {
        Settings { trials, ranges_ms, ..Settings::default() }
    }

    #[test]
    fn same_seed_same_numbers() {
        let s = small(vec![(12, 24)], 5);
        assert_eq!(run(&s), run(&s));
        let other = Settings { seed: 2, ..s.clone() };
        assert_ne!(run(&s), run(&other));
    }

    #[test]
    fn a_follower_waits_at_least_its_timeout_minus_a_heartbeat() {
        // The last heartbeat a follower got left the leader at most one heartbeat interval
        // (75 ms) before the crash, and arrived after at least the 6 ms minimum delay; the
        // follower then waits its timeout (≥ 150 ms) and the winner's votes take ≥ 2 delays.
        let rows = run(&small(vec![(150, 155)], 20));
        let min = rows[0].samples_ms[0];
        assert!(min >= 150.0 - 75.0 + 6.0 + 2.0 * 6.0, "fastest election {min} ms");
        assert_eq!(rows[0].samples_ms.len(), 20);
        assert!(rows[0].samples_ms.windows(2).all(|w| w[0] <= w[1]), "sorted");
    }
}
