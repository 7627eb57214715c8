//! The event queue: events ordered by `(time, insertion sequence)`, and the limits every
//! run has.
//!
//! Near events (less than `WHEEL_SLOTS` ns ahead) sit in a timing wheel: one FIFO slot per
//! nanosecond and a bitmap of occupied slots, so scheduling and popping cost O(1). Later
//! events wait in a 4-ary min-heap keyed by `(time, seq)` packed into one `u128`, and move
//! into the wheel as soon as the window reaches them. The order stays exactly
//! `(time, seq)`: a far event enters its slot before any event scheduled later can, because
//! the window only moves at a pop, and every pop first migrates what the window reached.

use std::collections::VecDeque;

use super::{SimDuration, SimTime};

/// Nanoseconds the wheel covers ahead of `now` (a power of two).
const WHEEL_SLOTS: usize = 4096;
const WORDS: usize = WHEEL_SLOTS / 64;
/// Children per node of the far-event heap.
const ARITY: usize = 4;

/// A far event: `key` is the time in the high 64 bits and the insertion sequence in the low
/// 64, so ties on time break on insertion order.
struct Entry<E> {
    key: u128,
    event: E,
}

fn key(at: SimTime, seq: u64) -> u128 {
    (u128::from(at.0) << 64) | u128::from(seq)
}

fn time_of(key: u128) -> SimTime {
    SimTime((key >> 64) as u64)
}

fn slot_of(at: SimTime) -> usize {
    (at.0 as usize) & (WHEEL_SLOTS - 1)
}

/// Bounds on one run; hitting one is an error that names it (TigerStyle: a limit on
/// everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    pub max_events: u64,
    pub max_time: SimTime,
}

impl Default for RunLimits {
    /// Ten million events or one simulated day, whichever comes first.
    fn default() -> Self {
        RunLimits { max_events: 10_000_000, max_time: SimTime(86_400 * 1_000_000_000) }
    }
}

/// Which run limit was hit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("run limit hit: more than {0} events (raise limits.max_events if this is expected)")]
    Events(u64),
    #[error(
        "run limit hit: simulated time passed {0} (raise limits.max_time if this is expected)"
    )]
    Time(SimTime),
}

/// The queue of pending events, and the current simulated time.
pub struct EventQueue<E> {
    wheel: Vec<VecDeque<E>>,
    occupied: [u64; WORDS],
    in_wheel: usize,
    far: Vec<Entry<E>>,
    now: SimTime,
    next_seq: u64,
    popped: u64,
    limits: RunLimits,
}

impl<E> EventQueue<E> {
    pub fn new(limits: RunLimits) -> Self {
        EventQueue {
            wheel: (0..WHEEL_SLOTS).map(|_| VecDeque::new()).collect(),
            occupied: [0; WORDS],
            in_wheel: 0,
            far: Vec::new(),
            now: SimTime::ZERO,
            next_seq: 0,
            popped: 0,
            limits,
        }
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events run so far.
    pub fn events_run(&self) -> u64 {
        self.popped
    }

    pub fn len(&self) -> usize {
        self.in_wheel + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedules `event` at `now + delay`.
    pub fn schedule(&mut self, delay: SimDuration, event: E) {
        self.schedule_at(self.now + delay, event);
    }

    /// Schedules `event` at `at`, which must not be in the past.
    ///
    /// # Panics
    /// If `at` is earlier than the current time: that would be a bug in the caller.
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        assert!(at >= self.now, "event scheduled in the past: {at} < {}", self.now);
        let seq = self.next_seq;
        self.next_seq += 1;
        if at.0 - self.now.0 < WHEEL_SLOTS as u64 {
            self.push_wheel(at, event);
        } else {
            self.push_far(Entry { key: key(at, seq), event });
        }
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        match self.next_wheel_time() {
            Some(t) => Some(t),
            None => self.far.first().map(|e| time_of(e.key)),
        }
    }

    /// Advances time to the earliest event and returns it, or `Ok(None)` if none is pending.
    pub fn pop(&mut self) -> Result<Option<E>, LimitExceeded> {
        let Some(at) = self.peek_time() else { return Ok(None) };
        if at > self.limits.max_time {
            return Err(LimitExceeded::Time(self.limits.max_time));
        }
        self.popped += 1;
        if self.popped > self.limits.max_events {
            return Err(LimitExceeded::Events(self.limits.max_events));
        }
        self.move_window(at);
        let slot = slot_of(at);
        let event = self.wheel[slot].pop_front().expect("the window reached the earliest event");
        self.in_wheel -= 1;
        if self.wheel[slot].is_empty() {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
        }
        Ok(Some(event))
    }

    /// Moves the clock forward to `at` with no event (a `wait` step with nothing pending).
    pub fn advance_to(&mut self, at: SimTime) {
        assert!(at >= self.now, "time cannot go backwards");
        assert!(self.peek_time().is_none_or(|t| t >= at), "advancing past a pending event");
        self.move_window(at);
    }

    /// Sets the clock and pulls every far event the window now covers into its slot, in
    /// `(time, seq)` order.
    fn move_window(&mut self, at: SimTime) {
        self.now = at;
        while self.far.first().is_some_and(|e| time_of(e.key).0 - at.0 < WHEEL_SLOTS as u64) {
            let e = self.pop_far();
            self.push_wheel(time_of(e.key), e.event);
        }
    }

    fn push_wheel(&mut self, at: SimTime, event: E) {
        let slot = slot_of(at);
        self.wheel[slot].push_back(event);
        self.occupied[slot / 64] |= 1 << (slot % 64);
        self.in_wheel += 1;
    }

    /// The earliest occupied slot's time: the first set bit at or after `now`'s slot, going
    /// round the wheel once.
    fn next_wheel_time(&self) -> Option<SimTime> {
        if self.in_wheel == 0 {
            return None;
        }
        let start = slot_of(self.now);
        let (word, bit) = (start / 64, start % 64);
        let first = self.occupied[word] & (!0u64 << bit);
        let offset = if first != 0 {
            first.trailing_zeros() as usize - bit
        } else {
            (1..=WORDS)
                .find_map(|i| {
                    let w = self.occupied[(word + i) % WORDS];
                    (w != 0).then(|| i * 64 + w.trailing_zeros() as usize - bit)
                })
                .expect("in_wheel counts occupied slots")
        };
        Some(SimTime(self.now.0 + offset as u64))
    }

    fn push_far(&mut self, entry: Entry<E>) {
        self.far.push(entry);
        let mut i = self.far.len() - 1;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.far[parent].key <= self.far[i].key {
                break;
            }
            self.far.swap(parent, i);
            i = parent;
        }
    }

    fn pop_far(&mut self) -> Entry<E> {
        let top = self.far.swap_remove(0);
        let len = self.far.len();
        let mut i = 0;
        loop {
            let first = i * ARITY + 1;
            if first >= len {
                return top;
            }
            let last = (first + ARITY).min(len);
            let min = (first..last).min_by_key(|&c| self.far[c].key).expect("a child");
            if self.far[i].key <= self.far[min].key {
                return top;
            }
            self.far.swap(i, min);
            i = min;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_on_insertion_order() {
        let mut q = EventQueue::new(RunLimits::default());
        q.schedule(SimDuration::from_micros(5), "b1");
        q.schedule(SimDuration::from_micros(1), "a");
        q.schedule(SimDuration::from_micros(5), "b2");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().unwrap()).collect();
        assert_eq!(order, ["a", "b1", "b2"]);
        assert_eq!(q.now(), SimTime(5_000));
    }

    proptest::proptest! {
        /// Any interleaving of schedules and pops comes out in (time, insertion) order,
        /// exactly as a stable sort of what was scheduled would give.
        #[test]
        fn pops_in_time_then_insertion_order(ops in proptest::collection::vec((proptest::prop_oneof![0u64..50, 4000u64..4200, 0u64..20_000], proptest::bool::ANY), 1..400)) {
            let mut q = EventQueue::new(RunLimits::default());
            let mut pending: Vec<(SimTime, usize)> = Vec::new();
            for (n, (delay, pop)) in ops.into_iter().enumerate() {
                if pop {
                    let want = pending.iter().enumerate().min_by_key(|(_, p)| **p).map(|(i, _)| i);
                    let got = q.pop().unwrap();
                    proptest::prop_assert_eq!(got, want.map(|i| pending.remove(i).1));
                } else {
                    q.schedule(SimDuration::from_nanos(delay), n);
                    pending.push((q.now() + SimDuration::from_nanos(delay), n));
                }
            }
        }
    }

    #[test]
    fn the_event_limit_is_an_error() {
        let mut q = EventQueue::new(RunLimits { max_events: 1, ..RunLimits::default() });
        q.schedule(SimDuration::ZERO, 1);
        q.schedule(SimDuration::ZERO, 2);
        assert_eq!(q.pop(), Ok(Some(1)));
        assert_eq!(q.pop(), Err(LimitExceeded::Events(1)));
    }
}
