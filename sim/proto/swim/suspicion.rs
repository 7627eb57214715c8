//! Lifeguard's suspicion timer (memberlist `suspicion.go`) and the size-scaled timeouts of
//! memberlist `util.go`.

use indexmap::IndexSet;

use crate::engine::{SimDuration, SimTime};

/// memberlist `suspicionTimeout`: SuspicionMult × max(1, log10(max(1, n))) × interval, the
/// scale kept to three decimals as memberlist does.
pub fn suspicion_timeout(suspicion_mult: u32, n: usize, interval: SimDuration) -> SimDuration {
    let scale = (n.max(1) as f64).log10().max(1.0);
    let milli = (scale * 1000.0) as u64;
    SimDuration::from_nanos(u64::from(suspicion_mult) * milli * interval.as_nanos() / 1000)
}

/// memberlist `retransmitLimit`: RetransmitMult × ⌈log10(n + 1)⌉.
pub fn retransmit_limit(retransmit_mult: u32, n: usize) -> u32 {
    retransmit_mult * ((n + 1) as f64).log10().ceil() as u32
}

/// memberlist `pushPullScale`: the interval as is up to 32 nodes, then one more interval per
/// doubling (⌈log2(n) − log2(32)⌉ + 1 times).
pub fn push_pull_scale(interval: SimDuration, n: usize) -> SimDuration {
    const THRESHOLD: usize = 32;
    if n <= THRESHOLD {
        return interval;
    }
    let mult = ((n as f64).log2() - (THRESHOLD as f64).log2()).ceil() as u64 + 1;
    interval * mult
}

/// One suspect's timer: it starts at `max` (or `min` when no confirmations are expected)
/// and drops towards `min` as distinct members confirm the suspicion.
#[derive(Debug, Clone)]
pub(super) struct Suspicion {
    k: u32,
    n: u32,
    min: SimDuration,
    max: SimDuration,
    start: SimTime,
    timeout: SimDuration,
    /// Not before the last confirmation: a timeout that shrank into the past fires at once.
    not_before: SimTime,
    /// Who already counted, the original accuser included (our own suspicion may come back).
    confirmations: IndexSet<String>,
    /// The suspect's state change this timer belongs to.
    pub change: SimTime,
}

impl Suspicion {
    pub fn new(from: &str, k: u32, min: SimDuration, max: SimDuration, now: SimTime) -> Self {
        let mut confirmations = IndexSet::new();
        confirmations.insert(from.to_string());
        let timeout = if k < 1 { min } else { max };
        Suspicion {
            k,
            n: 0,
            min,
            max,
            start: now,
            timeout,
            not_before: now,
            confirmations,
            change: now,
        }
    }

    pub fn deadline(&self) -> SimTime {
        (self.start + self.timeout).max(self.not_before)
    }

    /// A new confirmation from `from` at `now`; true if it counted (and should be
    /// re-gossiped).
    pub fn confirm(&mut self, from: &str, now: SimTime) -> bool {
        if self.n >= self.k || !self.confirmations.insert(from.to_string()) {
            return false;
        }
        self.n += 1;
        self.not_before = now;
        self.timeout = remaining_timeout(self.n, self.k, self.min, self.max);
        true
    }
}

/// memberlist `remainingSuspicionTime` before subtracting the elapsed time:
/// max − log(n+1)/log(k+1) × (max − min), floored to the millisecond, at least `min`.
fn remaining_timeout(n: u32, k: u32, min: SimDuration, max: SimDuration) -> SimDuration {
    let frac = f64::from(n + 1).ln() / f64::from(k + 1).ln();
    let (min_s, max_s) = (min.as_nanos() as f64 / 1e9, max.as_nanos() as f64 / 1e9);
    let raw = max_s - frac * (max_s - min_s);
    let ms = (1000.0 * raw).floor();
    if ms <= 0.0 {
        return min;
    }
    SimDuration::from_millis(ms as u64).max(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicion_timeout_scales_with_log10_of_the_cluster() {
        let s = SimDuration::from_secs(1);
        assert_eq!(suspicion_timeout(4, 3, s), SimDuration::from_secs(4));
        assert_eq!(suspicion_timeout(4, 10, s), SimDuration::from_secs(4));
        assert_eq!(suspicion_timeout(4, 100, s), SimDuration::from_secs(8));
        assert_eq!(suspicion_timeout(4, 1000, s), SimDuration::from_secs(12));
        // log10(64) = 1.806…, kept to 1.806.
        assert_eq!(suspicion_timeout(4, 64, s), SimDuration::from_millis(7224));
    }

    #[test]
    fn retransmit_limit_and_push_pull_scale() {
        assert_eq!(retransmit_limit(4, 5), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 1000), 16);
        let i = SimDuration::from_secs(30);
        assert_eq!(push_pull_scale(i, 32), i);
        assert_eq!(push_pull_scale(i, 33), i * 2);
        assert_eq!(push_pull_scale(i, 64), i * 2);
        assert_eq!(push_pull_scale(i, 65), i * 3);
        assert_eq!(push_pull_scale(i, 1000), i * 6);
    }

    #[test]
    fn confirmations_shrink_the_timeout_per_the_log_formula() {
        let (min, max) = (SimDuration::from_secs(4), SimDuration::from_secs(24));
        let mut s = Suspicion::new("a", 2, min, max, SimTime::ZERO);
        assert_eq!(s.deadline(), SimTime(24_000_000_000));
        assert!(!s.confirm("a", SimTime(1)), "the accuser does not confirm itself");
        assert!(s.confirm("b", SimTime(1)));
        // 24 − log(2)/log(3) × 20 = 11.3814… s, floored to the millisecond.
        assert_eq!(s.deadline(), SimTime(11_381_000_000));
        assert!(!s.confirm("b", SimTime(1)), "one confirmation per member");
        assert!(s.confirm("c", SimTime(2)));
        assert_eq!(s.deadline(), SimTime(4_000_000_000));
        assert!(!s.confirm("d", SimTime(3)), "k reached");
        let mut late = Suspicion::new("a", 2, min, max, SimTime::ZERO);
        late.confirm("b", SimTime(1));
        late.confirm("c", SimTime(9_000_000_000));
        assert_eq!(late.deadline(), SimTime(9_000_000_000), "overdue: at once");
    }

    #[test]
    fn no_expected_confirmations_means_the_minimum() {
        let s = Suspicion::new(
            "a",
            0,
            SimDuration::from_secs(4),
            SimDuration::from_secs(24),
            SimTime(1),
        );
        assert_eq!(s.deadline(), SimTime(4_000_000_001));
    }
}
