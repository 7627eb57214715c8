//! Lifeguard's local health awareness (memberlist `awareness.go`): a score in
//! [0, max − 1] that grows when this member's probes fail in ways that point at itself and
//! shrinks when they succeed; timeouts are multiplied by score + 1.

use crate::engine::SimDuration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Awareness {
    max: u32,
    score: u32,
}

impl Awareness {
    pub fn new(max: u32) -> Self {
        Awareness { max, score: 0 }
    }

    pub fn score(&self) -> u32 {
        self.score
    }

    /// memberlist `ApplyDelta`: add `delta`, clamped to [0, max − 1].
    pub fn apply_delta(&mut self, delta: i64) {
        let s = (i64::from(self.score) + delta).clamp(0, i64::from(self.max) - 1);
        self.score = s as u32;
    }

    /// memberlist `ScaleTimeout`.
    pub fn scale(&self, timeout: SimDuration) -> SimDuration {
        timeout * u64::from(self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_clamped_and_scales_timeouts() {
        let mut a = Awareness::new(8);
        a.apply_delta(-1);
        assert_eq!(a.score(), 0);
        a.apply_delta(3);
        assert_eq!(a.scale(SimDuration::from_secs(1)), SimDuration::from_secs(4));
        a.apply_delta(100);
        assert_eq!(a.score(), 7);
        assert_eq!(a.scale(SimDuration::from_secs(1)), SimDuration::from_secs(8));
    }
}
