//! Per-service and per-server counters and their rate estimator (`ip_vs_est.c`).
//!
//! The counters are `ip_vs_in_stats`/`ip_vs_out_stats`/`ip_vs_conn_stats`: connections
//! scheduled, packets and bytes (IP length, `skb->len`) in from clients and out from real
//! servers. The estimator runs every 2 s and keeps exponentially weighted rates:
//! `avg += (rate - avg) >> 2`, with conns and packets scaled by 2^10 and bytes by 2^5.
//! Linux runs it from a timer; here it is caught up lazily before every counter change and
//! every listing, which gives the same numbers because counters only change at packets.
//! Ticks fall on multiples of 2 s of simulated time.

use crate::engine::{SimDuration, SimTime};

/// The estimator's period.
const TICK: SimDuration = SimDuration::from_secs(2);

/// The five counters (`struct ip_vs_kstats`' totals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

impl Counters {
    fn as_array(&self) -> [u64; 5] {
        [self.conns, self.inpkts, self.outpkts, self.inbytes, self.outbytes]
    }
}

/// `struct ip_vs_stats`: counters and the estimator's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub total: Counters,
    /// The counters at the last tick.
    last: [u64; 5],
    /// Scaled averages: cps, inpps, outpps (×2^10), inbps, outbps (×2^5).
    avg: [i64; 5],
    /// The last tick processed, in ticks since time zero.
    tick: u64,
}

impl Stats {
    /// Counters that start at `now` (`ip_vs_start_estimator`).
    pub fn new(now: SimTime) -> Stats {
        Stats { tick: now.as_nanos() / TICK.as_nanos(), ..Stats::default() }
    }

    /// Runs the estimator's ticks up to `now`.
    pub fn catch_up(&mut self, now: SimTime) {
        let target = now.as_nanos() / TICK.as_nanos();
        let current = self.total.as_array();
        while self.tick < target {
            if self.avg == [0; 5] && self.last == current {
                break; // nothing moves any more
            }
            self.tick += 1;
            for (i, avg) in self.avg.iter_mut().enumerate() {
                let shift = if i < 3 { 9 } else { 4 };
                let rate = ((current[i] - self.last[i]) << shift) as i64;
                *avg += (rate - *avg) >> 2;
            }
            self.last = current;
        }
        self.tick = target;
    }

    /// `ip_vs_read_estimator`: cps, inpps, outpps, inbps, outbps.
    pub fn rates(&self) -> [u64; 5] {
        let mut out = [0; 5];
        for (i, avg) in self.avg.iter().enumerate() {
            let (round, shift) = if i < 3 { (0x1FF, 10) } else { (0xF, 5) };
            out[i] = ((avg + round) >> shift).max(0) as u64;
        }
        out
    }

    /// `-Z`: counters and rates back to zero (`ip_vs_zero_stats`).
    pub fn zero(&mut self, now: SimTime) {
        *self = Stats::new(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_average_over_two_second_ticks_like_the_kernel() {
        let t = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        let mut s = Stats::new(t(0));
        s.catch_up(t(1));
        s.total = Counters { conns: 10, inpkts: 100, outpkts: 50, inbytes: 6000, outbytes: 0 };
        s.catch_up(t(2));
        // rate = 10 << 9 = 5120; avg = 5120 >> 2 = 1280; (1280 + 511) >> 10 = 1.
        // inbytes: 6000 << 4 = 96000 → avg 24000 → (24000 + 15) >> 5 = 750.
        assert_eq!(s.rates(), [1, 12, 6, 750, 0]);
        s.catch_up(t(4));
        assert_eq!(s.rates(), [1, 9, 5, 562, 0]);
        s.catch_up(t(600));
        assert_eq!(s.rates(), [0; 5]);
    }
}
