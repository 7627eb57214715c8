//! A segment's link model: one-way latency, uniform jitter, random loss and a bandwidth
//! limit, and the change a `fault: {link: …}` step makes to them.
//!
//! Contract: the defaults (no jitter, no loss, unlimited bandwidth) draw no random numbers
//! and add no delay, so a scenario that sets none of them runs exactly as before they
//! existed. Values are exact integers (nanoseconds, parts per million, bits per second).

use std::fmt;

use crate::engine::SimDuration;

/// Frame loss probability in parts per million (`1%` is 10 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Loss(pub u32);

impl Loss {
    pub const NONE: Loss = Loss(0);
    /// Every frame is lost.
    pub const ALL: Loss = Loss(1_000_000);
}

impl fmt::Display for Loss {
    /// As a percentage with no trailing zeros: `30%`, `0.5%`, `0.0001%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / 10_000, self.0 % 10_000);
        if fraction == 0 {
            return write!(f, "{whole}%");
        }
        let digits = format!("{fraction:04}");
        write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
    }
}

/// A link rate in bits per second, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bandwidth(u64);

impl Bandwidth {
    /// `None` for zero: a link that carries nothing is a partition, not a rate.
    pub fn from_bits_per_sec(bits: u64) -> Option<Bandwidth> {
        (bits > 0).then_some(Bandwidth(bits))
    }

    pub fn bits_per_sec(self) -> u64 {
        self.0
    }

    /// How long `bytes` take to leave the port at this rate, rounded up to a nanosecond.
    pub fn serialization(self, bytes: usize) -> SimDuration {
        let bits = bytes as u128 * 8 * 1_000_000_000;
        let ns = bits.div_ceil(u128::from(self.0));
        SimDuration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Bandwidth {
    /// In tc's units, the largest that divides exactly: `1gbit`, `100mbit`, `1500kbit`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, scale) in [("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)] {
            if self.0 % scale == 0 {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}bit", self.0)
    }
}

/// The link model of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkParams {
    /// One-way latency across the segment.
    pub latency: SimDuration,
    /// Each frame waits a further uniform `0..jitter`.
    pub jitter: SimDuration,
    pub loss: Loss,
    /// `None` is unlimited: frames take no time to serialize.
    pub bandwidth: Option<Bandwidth>,
}

impl LinkParams {
    /// A perfect link with this latency.
    pub fn with_latency(latency: SimDuration) -> LinkParams {
        LinkParams { latency, jitter: SimDuration::ZERO, loss: Loss::NONE, bandwidth: None }
    }

    /// The parameters after `change`: the fields it sets replace ours.
    pub fn apply(&mut self, change: &LinkChange) {
        self.latency = change.latency.unwrap_or(self.latency);
        self.jitter = change.jitter.unwrap_or(self.jitter);
        self.loss = change.loss.unwrap_or(self.loss);
        self.bandwidth = change.bandwidth.or(self.bandwidth);
    }
}

/// What a `fault: {link: …}` step changes; unset fields keep their value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkChange {
    pub latency: Option<SimDuration>,
    pub jitter: Option<SimDuration>,
    pub loss: Option<Loss>,
    pub bandwidth: Option<Bandwidth>,
}

impl LinkChange {
    pub fn is_empty(&self) -> bool {
        *self == LinkChange::default()
    }
}

impl fmt::Display for LinkChange {
    /// The fields it sets, in declaration order: `latency 5ms, loss 30%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            self.latency.map(|d| format!("latency {d}")),
            self.jitter.map(|d| format!("jitter {d}")),
            self.loss.map(|l| format!("loss {l}")),
            self.bandwidth.map(|b| format!("bandwidth {b}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_prints_as_a_percentage() {
        assert_eq!(Loss(300_000).to_string(), "30%");
        assert_eq!(Loss(5_000).to_string(), "0.5%");
        assert_eq!(Loss(1).to_string(), "0.0001%");
        assert_eq!(Loss::ALL.to_string(), "100%");
    }

    #[test]
    fn bandwidth_serializes_frames_and_prints_in_tc_units() {
        let gbit = Bandwidth::from_bits_per_sec(1_000_000_000).unwrap();
        assert_eq!(gbit.serialization(1500), SimDuration::from_nanos(12_000));
        let slow = Bandwidth::from_bits_per_sec(3).unwrap();
        assert_eq!(slow.serialization(1), SimDuration::from_nanos(2_666_666_667));
        assert_eq!(gbit.to_string(), "1gbit");
        assert_eq!(Bandwidth(1_500_000).to_string(), "1500kbit");
        assert_eq!(Bandwidth(999).to_string(), "999bit");
        assert_eq!(Bandwidth::from_bits_per_sec(0), None);
    }

    #[test]
    fn a_change_replaces_only_what_it_sets() {
        let mut link = LinkParams::with_latency(SimDuration::from_millis(1));
        let change = LinkChange { loss: Some(Loss(300_000)), ..LinkChange::default() };
        link.apply(&change);
        assert_eq!(link.latency, SimDuration::from_millis(1));
        assert_eq!(link.loss, Loss(300_000));
        assert_eq!(change.to_string(), "loss 30%");
        assert!(LinkChange::default().is_empty());
    }
}
