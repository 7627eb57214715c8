//! The event queue: a binary heap keyed by `(time, seq)`, and the limits every run has.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{SimDuration, SimTime};

/// A pending event. Ordered by time, then by the order it was scheduled in.
struct Entry<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
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
    heap: BinaryHeap<Reverse<Entry<E>>>,
    now: SimTime,
    next_seq: u64,
    popped: u64,
    limits: RunLimits,
}

impl<E> EventQueue<E> {
    pub fn new(limits: RunLimits) -> Self {
        EventQueue { heap: BinaryHeap::new(), now: SimTime::ZERO, next_seq: 0, popped: 0, limits }
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events run so far.
    pub fn events_run(&self) -> u64 {
        self.popped
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
        self.heap.push(Reverse(Entry { at, seq, event }));
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Advances time to the earliest event and returns it, or `Ok(None)` if none is pending.
    pub fn pop(&mut self) -> Result<Option<E>, LimitExceeded> {
        let Some(Reverse(entry)) = self.heap.pop() else { return Ok(None) };
        if entry.at > self.limits.max_time {
            return Err(LimitExceeded::Time(self.limits.max_time));
        }
        self.popped += 1;
        if self.popped > self.limits.max_events {
            return Err(LimitExceeded::Events(self.limits.max_events));
        }
        self.now = entry.at;
        Ok(Some(entry.event))
    }

    /// Moves the clock forward to `at` with no event (a `wait` step with nothing pending).
    pub fn advance_to(&mut self, at: SimTime) {
        assert!(at >= self.now, "time cannot go backwards");
        self.now = at;
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

    #[test]
    fn the_event_limit_is_an_error() {
        let mut q = EventQueue::new(RunLimits { max_events: 1, ..RunLimits::default() });
        q.schedule(SimDuration::ZERO, 1);
        q.schedule(SimDuration::ZERO, 2);
        assert_eq!(q.pop(), Ok(Some(1)));
        assert_eq!(q.pop(), Err(LimitExceeded::Events(1)));
    }
}
