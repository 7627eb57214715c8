//! Experiment 8b: how fast one NetworkDB table entry reaches the nodes of its network — the
//! fraction of the network's nodes holding it against the time since it was created — for
//! 30, 1,000 and 10,000 nodes, with 0 % and 10 % of the UDP gossip lost, beside HashiCorp
//! serf's convergence model for the same fanout (3) and interval (200 ms).
//!
//! Two harnesses, both without memberlist under networkdb (membership is static and
//! complete), with a one-way delay uniform over `delay_us`, UDP sends lost with probability
//! `loss`, TCP (bulk sync) never lost, and each node's tickers started at a uniform moment of
//! the first gossip interval (Go staggers every ticker by a random fraction of its period):
//! - **full**: `n` [`NetworkDb`]s that joined the network one after the other (each join's
//!   bulk syncs answered at once, before the clock starts); at `CREATE_AT` one random node
//!   creates an `endpoint_table` entry; a node holds it when its watch reports the create.
//!   Its state grows as n² (every node lists every other), so it runs up to `full_max` nodes.
//! - **rule**: the same dissemination rules on one entry, as plain state per node — a node
//!   that first gets the entry queues it; each of its gossip ticks sends it to 3 distinct
//!   random other nodes until it was sent in `4 × ceil(log10(n + 1))` ticks (memberlist's
//!   `TransmitLimitedQueue` under networkdb's `RetransmitMult` 4); each node's periodic bulk
//!   sync (every 30 s, first at its stagger + 30 s) swaps the entry with one random node.
//!   It runs every size; at the sizes the full model also runs, the two are compared.
//!
//! The reference is serf's convergence simulator (`hashicorp/serf`,
//! `website/source/javascripts/simulator.js`, `convergenceAtRound`): after `x` rounds of
//! length `interval`, the converged fraction is `1 / (1 + (n + 1) · e^(−c·n·x))` with contact
//! rate `c = fanout/n · (1 − loss) · (1 − failed) · 0.5`, here with failed = 0: the logistic
//! curve of the simple epidemic `dI/dx = c·I·(n − I)` (every node spreads forever, at half
//! the fanout's rate), started with about one infected node.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use plotters::prelude::SeriesLabelPosition;

use super::plot::{log_x_lines, write_error, Axes};
use super::ExperimentError;
use crate::engine::{RngStream, SimDuration, SimTime, Streams};
use crate::proto::networkdb::{
    Message, NetworkDb, Output, Transport, WatchOp, BULK_SYNC_INTERVAL, GOSSIP_INTERVAL,
};

/// When the entry is created: after every node's first gossip tick.
pub const CREATE_AT: SimTime = SimTime(1_000_000_000);
const NETWORK: &str = "ov1";
const TABLE: &str = "endpoint_table";
const FANOUT: usize = 3;
const RETRANSMIT_MULT: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub seed: u64,
    pub sizes: Vec<usize>,
    /// UDP loss probabilities.
    pub losses: Vec<f64>,
    pub trials: usize,
    /// The largest size run on the full model.
    pub full_max: usize,
    pub delay_us: (u64, u64),
    /// How long after the create the runs go on, in s.
    pub horizon_s: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 1,
            sizes: vec![30, 1_000, 10_000],
            losses: vec![0.0, 0.1],
            trials: 5,
            full_max: 1_000,
            delay_us: (100, 500),
            horizon_s: 40,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Full,
    Rule,
}

/// One (size, loss, model): per trial, each node's time to hold the entry (s after the
/// create; `None` if not within the horizon).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub nodes: usize,
    pub loss: f64,
    pub model: Model,
    pub trials: Vec<Vec<Option<f64>>>,
}

impl Row {
    /// The mean over trials of the fraction holding the entry at `t` s.
    pub fn fraction_at(&self, t: f64) -> f64 {
        let per = |tr: &Vec<Option<f64>>| {
            tr.iter().filter(|x| x.is_some_and(|x| x <= t)).count() as f64 / tr.len() as f64
        };
        self.trials.iter().map(per).sum::<f64>() / self.trials.len() as f64
    }

    /// The mean over trials of the time until a fraction `q` holds it (`None` if some trial
    /// never got there).
    pub fn time_to(&self, q: f64) -> Option<f64> {
        let mut sum = 0.0;
        for tr in &self.trials {
            let mut times: Vec<f64> = tr.iter().flatten().copied().collect();
            times.sort_by(f64::total_cmp);
            let need = ((q * tr.len() as f64).ceil() as usize).max(1);
            sum += *times.get(need - 1)?;
        }
        Some(sum / self.trials.len() as f64)
    }
}

/// serf's `convergenceAtRound` at `t` s for `n` nodes (fanout 3, 200 ms, no failed nodes).
pub fn serf_fraction(n: usize, loss: f64, t: f64) -> f64 {
    let n = n as f64;
    let contact = FANOUT as f64 / n * (1.0 - loss) * 0.5;
    let x = t / (GOSSIP_INTERVAL.as_nanos() as f64 / 1e9);
    1.0 / (1.0 + (n + 1.0) * (-contact * n * x).exp())
}

/// The time serf's model reaches fraction `q`.
pub fn serf_time_to(n: usize, loss: f64, q: f64) -> f64 {
    let rate = FANOUT as f64 * (1.0 - loss) * 0.5 / (GOSSIP_INTERVAL.as_nanos() as f64 / 1e9);
    ((n as f64 + 1.0) * q / (1.0 - q)).ln() / rate
}

/// Every (size, loss) on the rule model, and on the full model up to `full_max`.
pub fn run(settings: &Settings) -> Vec<Row> {
    assert!(settings.trials > 0, "at least one trial");
    let mut rows = Vec::new();
    for &n in &settings.sizes {
        assert!(n >= 2, "a network of one has nobody to tell");
        for &loss in &settings.losses {
            let models: &[Model] =
                if n <= settings.full_max { &[Model::Full, Model::Rule] } else { &[Model::Rule] };
            for &model in models {
                let trials = (0..settings.trials)
                    .map(|t| {
                        let id = format!("networkdb/{n}/{loss}/{model:?}/{t}");
                        let rng = Streams::new(settings.seed).stream(&id);
                        match model {
                            Model::Full => full_trial(settings, n, loss, rng),
                            Model::Rule => rule_trial(settings, n, loss, rng),
                        }
                    })
                    .collect();
                rows.push(Row { nodes: n, loss, model, trials });
            }
        }
    }
    rows
}

fn delay(settings: &Settings, rng: &mut RngStream) -> SimDuration {
    SimDuration::from_micros(rng.range_u64(settings.delay_us.0, settings.delay_us.1 + 1))
}

fn stagger(rng: &mut RngStream) -> SimTime {
    SimTime::ZERO + SimDuration::from_nanos(rng.range_u64(0, GOSSIP_INTERVAL.as_nanos()))
}

fn secs_after_create(t: SimTime) -> f64 {
    t.since(CREATE_AT).as_nanos() as f64 / 1e9
}

fn node_name(i: usize) -> String {
    format!("n{i}")
}

fn node_index(name: &str) -> usize {
    name[1..].parse().expect("names are n<index>")
}

fn node_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 + i as u32 + 1)
}

/// A timer or a message in flight, ordered by time then by arrival in the queue (`seq` is
/// unique, so the order is total).
#[derive(Debug)]
struct Pending {
    at: SimTime,
    seq: u64,
    to: usize,
    msg: Option<Message>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The full model's run. See the module doc.
fn full_trial(settings: &Settings, n: usize, loss: f64, mut rng: RngStream) -> Vec<Option<f64>> {
    let streams = Streams::new(rng.next_u64());
    let mut dbs: Vec<NetworkDb> = (0..n)
        .map(|i| {
            let name = node_name(i);
            NetworkDb::new(&name, node_addr(i), stagger(&mut rng), streams.stream(&name))
        })
        .collect();
    let mut sink = Vec::new();
    for (i, db) in dbs.iter_mut().enumerate() {
        for j in (0..n).filter(|&j| j != i) {
            db.node_joined(&node_name(j), node_addr(j), &mut sink);
        }
    }
    for i in 0..n {
        let mut out = Vec::new();
        dbs[i].join_network(SimTime::ZERO, NETWORK, &mut out);
        deliver_at_once(&mut dbs, i, out);
    }
    let writer = rng.index(n);
    let mut got: Vec<Option<f64>> = vec![None; n];
    got[writer] = Some(0.0);
    let mut queue: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    let mut seq = 0u64;
    for (i, db) in dbs.iter().enumerate() {
        queue.push(Reverse(Pending { at: db.next_timeout(), seq: i as u64, to: i, msg: None }));
    }
    seq += n as u64;
    let end = CREATE_AT + SimDuration::from_secs(settings.horizon_s);
    let mut created = false;
    while let Some(Reverse(p)) = queue.pop() {
        if p.at > end {
            break;
        }
        if !created && p.at >= CREATE_AT {
            dbs[writer].create_entry(TABLE, NETWORK, "ep", b"10.0.1.2".to_vec()).expect("new");
            created = true;
        }
        let mut out = Vec::new();
        match p.msg {
            None if dbs[p.to].next_timeout() == p.at => dbs[p.to].handle_timeout(p.at, &mut out),
            None => continue,
            Some(msg) => dbs[p.to].handle_message(p.at, msg, &mut out),
        }
        for o in out {
            match o {
                Output::Send { to, transport, msg } => {
                    if transport == Transport::Udp && rng.range_u64(0, 1 << 20) < loss_bar(loss) {
                        continue;
                    }
                    let at = p.at + delay(settings, &mut rng);
                    seq += 1;
                    queue.push(Reverse(Pending { at, seq, to: node_index(&to), msg: Some(msg) }));
                }
                Output::Watch(w) if w.op == WatchOp::Create && w.table == TABLE => {
                    got[p.to].get_or_insert(secs_after_create(p.at));
                }
                _ => {}
            }
        }
        seq += 1;
        queue.push(Reverse(Pending { at: dbs[p.to].next_timeout(), seq, to: p.to, msg: None }));
    }
    got
}

/// `loss` as a bar on a 20-bit draw.
fn loss_bar(loss: f64) -> u64 {
    (loss * f64::from(1u32 << 20)).round() as u64
}

/// Setup: every send and broadcast delivered at once and in order, nothing lost. A
/// broadcast reaches every node at its source, so the relays of it are dropped (they would
/// only cost n² deliveries per join).
fn deliver_at_once(dbs: &mut [NetworkDb], from: usize, out: Vec<Output>) {
    let mut queue: std::collections::VecDeque<(usize, Output)> =
        out.into_iter().map(|o| (from, o)).collect();
    while let Some((src, o)) = queue.pop_front() {
        let targets: Vec<(usize, Message)> = match o {
            Output::Send { to, msg, .. } => vec![(node_index(&to), msg)],
            Output::Broadcast(msg) if src == from => {
                (0..dbs.len()).filter(|&i| i != src).map(|i| (i, msg.clone())).collect()
            }
            Output::Broadcast(_) | Output::Watch(_) | Output::Join(_) => vec![],
        };
        for (i, msg) in targets {
            let mut more = Vec::new();
            dbs[i].handle_message(SimTime::ZERO, msg, &mut more);
            queue.extend(more.into_iter().map(|o| (i, o)));
        }
    }
}

/// One node of the rule model.
#[derive(Debug, Clone, Copy)]
struct RuleNode {
    got: Option<SimTime>,
    /// Gossip ticks the entry was sent in.
    sent: usize,
    next_gossip: SimTime,
    next_sync: SimTime,
}

/// The rule model's run. See the module doc.
fn rule_trial(settings: &Settings, n: usize, loss: f64, mut rng: RngStream) -> Vec<Option<f64>> {
    let limit = RETRANSMIT_MULT * decimal_digits(n);
    let mut nodes: Vec<RuleNode> = (0..n)
        .map(|_| {
            let s = stagger(&mut rng);
            RuleNode { got: None, sent: 0, next_gossip: s, next_sync: s + BULK_SYNC_INTERVAL }
        })
        .collect();
    let writer = rng.index(n);
    nodes[writer].got = Some(CREATE_AT);
    // Ticks: (time, node, is_sync); arrivals: (time, node).
    let mut ticks: BinaryHeap<Reverse<(SimTime, usize, bool)>> = BinaryHeap::new();
    for (i, node) in nodes.iter().enumerate() {
        let mut t = node.next_gossip;
        while t < CREATE_AT {
            t += GOSSIP_INTERVAL;
        }
        ticks.push(Reverse((t, i, false)));
        ticks.push(Reverse((node.next_sync, i, true)));
    }
    let mut arrivals: BinaryHeap<Reverse<(SimTime, usize)>> = BinaryHeap::new();
    let end = CREATE_AT + SimDuration::from_secs(settings.horizon_s);
    loop {
        let next_tick = ticks.peek().map(|r| r.0 .0);
        let next_arrival = arrivals.peek().map(|r| r.0 .0);
        let at = match (next_tick, next_arrival) {
            (Some(t), Some(a)) if a <= t => a,
            (Some(t), _) => t,
            (None, Some(a)) => a,
            (None, None) => break,
        };
        if at > end {
            break;
        }
        if next_arrival == Some(at) {
            let Reverse((_, i)) = arrivals.pop().expect("peeked");
            nodes[i].got.get_or_insert(at);
            continue;
        }
        let Reverse((_, i, sync)) = ticks.pop().expect("peeked");
        if sync {
            rule_sync(settings, &mut nodes, i, at, &mut rng, &mut arrivals);
            ticks.push(Reverse((at + BULK_SYNC_INTERVAL, i, true)));
        } else {
            rule_gossip(settings, &mut nodes, (i, limit, loss), at, &mut rng, &mut arrivals);
            ticks.push(Reverse((at + GOSSIP_INTERVAL, i, false)));
        }
    }
    nodes.iter().map(|nd| nd.got.map(secs_after_create)).collect()
}

/// A gossip tick of node `i`: the entry to 3 distinct random others, while under the limit.
fn rule_gossip(
    settings: &Settings,
    nodes: &mut [RuleNode],
    (i, limit, loss): (usize, usize, f64),
    at: SimTime,
    rng: &mut RngStream,
    arrivals: &mut BinaryHeap<Reverse<(SimTime, usize)>>,
) {
    if nodes[i].got.is_none_or(|g| g > at) || nodes[i].sent >= limit {
        return;
    }
    nodes[i].sent += 1;
    let n = nodes.len();
    let mut picked: Vec<usize> = Vec::with_capacity(FANOUT);
    // mRandomNodes: probe up to 3n times for distinct nodes other than this one.
    for _ in 0..3 * n {
        if picked.len() == FANOUT {
            break;
        }
        let j = rng.index(n);
        if j != i && !picked.contains(&j) {
            picked.push(j);
        }
    }
    for j in picked {
        if rng.range_u64(0, 1 << 20) >= loss_bar(loss) {
            arrivals.push(Reverse((at + delay(settings, rng), j)));
        }
    }
}

/// A periodic bulk sync of node `i` with one random other: over TCP, both end with the entry
/// if either had it (the answer takes a second delay).
fn rule_sync(
    settings: &Settings,
    nodes: &mut [RuleNode],
    i: usize,
    at: SimTime,
    rng: &mut RngStream,
    arrivals: &mut BinaryHeap<Reverse<(SimTime, usize)>>,
) {
    let n = nodes.len();
    let j = (i + 1 + rng.index(n - 1)) % n;
    let there = at + delay(settings, rng);
    if nodes[i].got.is_some_and(|g| g <= at) {
        arrivals.push(Reverse((there, j)));
    } else if nodes[j].got.is_some_and(|g| g <= there) {
        arrivals.push(Reverse((there + delay(settings, rng), i)));
    }
}

/// ceil(log10(n + 1)).
fn decimal_digits(n: usize) -> usize {
    n.to_string().len()
}

/// The table, in markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| nodes | UDP loss | model | trials | 50 % (s) | 99 % (s) | 100 % (s) | at 5 s | \
         serf 50 % (s) | serf 99 % (s) |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let opt = |t: Option<f64>| t.map_or("—".to_string(), |t| format!("{t:.2}"));
    for r in rows {
        s += &format!(
            "| {} | {:.0} % | {} | {} | {} | {} | {} | {:.4} | {:.2} | {:.2} |\n",
            r.nodes,
            r.loss * 100.0,
            if r.model == Model::Full { "full" } else { "rule" },
            r.trials.len(),
            opt(r.time_to(0.5)),
            opt(r.time_to(0.99)),
            opt(r.time_to(1.0)),
            r.fraction_at(5.0),
            serf_time_to(r.nodes, r.loss, 0.5),
            serf_time_to(r.nodes, r.loss, 0.99),
        );
    }
    s
}

/// Log-spaced sample times from 20 ms to the horizon.
fn sample_times(horizon_s: u64) -> Vec<f64> {
    let (lo, hi) = (0.02f64, horizon_s as f64);
    (0..=120).map(|k| lo * (hi / lo).powf(f64::from(k) / 120.0)).collect()
}

/// Writes `networkdb.md` and one `networkdb-<loss>.svg` per loss into `dir`.
pub fn write(
    rows: &[Row],
    settings: &Settings,
    dir: &Path,
) -> Result<Vec<PathBuf>, ExperimentError> {
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let table = dir.join("networkdb.md");
    let header = format!(
        "# NetworkDB: convergence of one table entry\n\n{} trials per row, seed {}, one-way \
         delay {}–{} µs, entry created at {} s, runs to {} s after it. `full` is the \
         NetworkDb model, `rule` its dissemination rules on one entry; serf's columns are its \
         convergence simulator's model (fanout 3, 200 ms).\n\n",
        settings.trials,
        settings.seed,
        settings.delay_us.0,
        settings.delay_us.1,
        CREATE_AT.as_nanos() / 1_000_000_000,
        settings.horizon_s
    );
    std::fs::write(&table, header + &markdown(rows)).map_err(|e| write_error(&table, e))?;
    let mut files = vec![table];
    let times = sample_times(settings.horizon_s);
    for &loss in &settings.losses {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for r in rows.iter().filter(|r| r.loss == loss) {
            let label = format!("{} nodes, {:?}", r.nodes, r.model).to_lowercase();
            series.push((label, times.iter().map(|&t| (t, r.fraction_at(t))).collect()));
        }
        for &n in &settings.sizes {
            let label = format!("{n} nodes, serf model");
            series.push((label, times.iter().map(|&t| (t, serf_fraction(n, loss, t))).collect()));
        }
        let path = dir.join(format!("networkdb-loss{:.0}.svg", loss * 100.0));
        let axes = Axes {
            x: (times[0], times[times.len() - 1]),
            y: (0.0, 1.05),
            x_desc: "time since the entry was created (s)",
            y_desc: "fraction of the network's nodes holding it",
            legend: SeriesLabelPosition::UpperLeft,
        };
        log_x_lines(&path, &axes, &series)?;
        files.push(path);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(sizes: Vec<usize>, trials: usize) -> Settings {
        Settings { sizes, trials, horizon_s: 10, ..Settings::default() }
    }

    #[test]
    fn serf_model_matches_its_formula() {
        // 30 nodes, no loss: c·n = 3 · 0.5 = 1.5 per round, so 1 / (1 + 31·e^(−1.5·x)) after
        // x rounds; x = 5 at 1 s.
        let f = serf_fraction(30, 0.0, 1.0);
        assert!((f - 1.0 / (1.0 + 31.0 * (-7.5f64).exp())).abs() < 1e-12, "{f}");
        assert!((serf_fraction(30, 0.1, serf_time_to(30, 0.1, 0.99)) - 0.99).abs() < 1e-9);
    }

    #[test]
    fn same_seed_same_curves() {
        let s = small(vec![30], 2);
        assert_eq!(run(&s), run(&s));
        assert_ne!(run(&s), run(&Settings { seed: 2, ..s.clone() }));
    }

    #[test]
    fn without_loss_thirty_nodes_all_get_the_entry_within_two_seconds() {
        let rows = run(&Settings { losses: vec![0.0], ..small(vec![30], 3) });
        assert_eq!(rows.len(), 2);
        for r in &rows {
            assert_eq!(r.fraction_at(2.0), 1.0, "{:?}", r.model);
            // The writer gossips at its next tick, at most 200 ms after the create; a copy
            // cannot arrive before 100 µs.
            assert!(r.time_to(0.05).is_some_and(|t| t >= 0.0001), "{:?}", r.model);
        }
    }

    #[test]
    fn retransmit_limit_scales_with_decimal_digits() {
        assert_eq!(decimal_digits(30), 2);
        assert_eq!(decimal_digits(1_000), 4);
        assert_eq!(decimal_digits(10_000), 5);
    }
}
