//! The event loop on ns-3's `utils/bench-scheduler.cc` workload: a constant population of
//! 100,000 pending events, 1,000,000 events run, inter-event times exponential with mean
//! 100 ns, each handler scheduling one successor. Events/s = 1e6 / the reported time.

use divan::Bencher;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use swarmsim::engine::{EventQueue, RunLimits, SimDuration, SimTime};

const POPULATION: usize = 100_000;
const TOTAL: u64 = 1_000_000;
const MEAN_NS: f64 = 100.0;

fn main() {
    divan::main();
}

/// Exponential delays drawn ahead of time, so the bench measures the queue, not the RNG.
fn delays(n: usize) -> Vec<SimDuration> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    (0..n)
        .map(|_| {
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            SimDuration::from_nanos((-u.ln() * MEAN_NS) as u64)
        })
        .collect()
}

#[divan::bench(sample_count = 5)]
fn bench_scheduler(bencher: Bencher) {
    let table = delays(1 << 20);
    bencher
        .with_inputs(|| {
            let limits = RunLimits { max_events: u64::MAX, max_time: SimTime(u64::MAX) };
            let mut q = EventQueue::new(limits);
            for (i, d) in table.iter().take(POPULATION).enumerate() {
                q.schedule(*d, i as u32);
            }
            q
        })
        .bench_local_values(|mut q| {
            for i in POPULATION..POPULATION + TOTAL as usize {
                let ev = q.pop().expect("within limits").expect("population is constant");
                q.schedule(table[i & ((1 << 20) - 1)], ev);
            }
            q
        });
}
