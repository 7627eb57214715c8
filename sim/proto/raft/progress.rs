//! What a leader knows of each follower (etcd `tracker.Progress`): how far its log matches,
//! what to send next, and whether it answered lately.
//!
//! A follower starts in `Probe`: one append at a time, until it acknowledges one; then
//! `Replicate`: appends are sent optimistically, at most `max_inflight` unacknowledged.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressState {
    Probe,
    Replicate,
}

#[derive(Debug, Clone)]
pub(crate) struct Progress {
    /// The highest index known to match the leader's log.
    pub(crate) matched: u64,
    /// The next index to send.
    pub(crate) next: u64,
    pub(crate) state: ProgressState,
    /// Probe: an append is out and unanswered.
    pub(crate) probe_sent: bool,
    /// Replicate: the last index of each unacknowledged append, oldest first.
    pub(crate) inflight: VecDeque<u64>,
    /// Leader ticks since this follower last answered (etcd `RecentActive`, as a count).
    pub(crate) silent_ticks: u32,
}

impl Progress {
    pub(crate) fn new(next: u64) -> Self {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            silent_ticks: 0,
        }
    }

    pub(crate) fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= max_inflight,
        }
    }

    /// Records that an append ending at `last` (None: carrying no entries) went out.
    pub(crate) fn sent(&mut self, last: Option<u64>) {
        match self.state {
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Replicate => {
                if let Some(last) = last {
                    self.next = last + 1;
                    self.inflight.push_back(last);
                }
            }
        }
    }

    /// An acknowledgement up to `index`; true if it taught us something new.
    pub(crate) fn acknowledge(&mut self, index: u64) -> bool {
        self.next = self.next.max(index + 1);
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
        if index <= self.matched {
            return false;
        }
        self.matched = index;
        self.probe_sent = false;
        if self.state == ProgressState::Probe {
            self.state = ProgressState::Replicate;
            self.next = self.matched + 1;
            self.inflight.clear();
        }
        true
    }

    /// A rejection of the append whose previous index was `rejected`, with the follower's
    /// `hint` (etcd `MaybeDecrTo`). False if the rejection is stale.
    pub(crate) fn reject(&mut self, rejected: u64, hint: u64) -> bool {
        match self.state {
            ProgressState::Replicate if rejected <= self.matched => false,
            ProgressState::Replicate => {
                self.become_probe();
                true
            }
            ProgressState::Probe if self.next - 1 != rejected => false,
            ProgressState::Probe => {
                self.next = rejected.min(hint + 1).max(self.matched + 1);
                self.probe_sent = false;
                true
            }
        }
    }

    pub(crate) fn become_probe(&mut self) {
        self.state = ProgressState::Probe;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// A heartbeat answer: the follower is reachable, so a stuck probe may be retried and
    /// a full inflight window may slide by one (etcd `FreeFirstOne`).
    pub(crate) fn heartbeat_answered(&mut self) {
        self.probe_sent = false;
        if self.state == ProgressState::Replicate {
            self.inflight.pop_front();
        }
    }
}
