//! The replicated log: entries indexed from 1, contiguous, never compacted (swarmkit
//! snapshots every 10 000 entries; the simulator's runs stay far below that).

use super::Entry;

/// The entries, `entries[i]` holding index `i + 1`.
#[derive(Debug, Clone)]
pub(crate) struct RaftLog<T> {
    entries: Vec<Entry<T>>,
}

impl<T: Clone> RaftLog<T> {
    pub(crate) fn new(entries: Vec<Entry<T>>) -> Self {
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.index, i as u64 + 1, "log entries must be contiguous from 1");
        }
        RaftLog { entries }
    }

    pub(crate) fn entries(&self) -> &[Entry<T>] {
        &self.entries
    }

    pub(crate) fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    pub(crate) fn last_term(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// The term of the entry at `index`; index 0 is the empty prefix, of term 0.
    pub(crate) fn term_at(&self, index: u64) -> Option<u64> {
        match index {
            0 => Some(0),
            i => self.entries.get(i as usize - 1).map(|e| e.term),
        }
    }

    pub(crate) fn entry(&self, index: u64) -> &Entry<T> {
        &self.entries[index as usize - 1]
    }

    /// Entries `from..=to`, at most `max` of them.
    pub(crate) fn slice(&self, from: u64, max: usize) -> Vec<Entry<T>> {
        let start = (from as usize - 1).min(self.entries.len());
        let end = (start + max).min(self.entries.len());
        self.entries[start..end].to_vec()
    }

    pub(crate) fn push(&mut self, entry: Entry<T>) {
        assert_eq!(entry.index, self.last_index() + 1, "appended entry out of order");
        self.entries.push(entry);
    }

    /// Raft §5.3: keep what matches, cut the log at the first conflicting entry and append the
    /// rest. Entries already present with the same term stay (a stale, shorter append must not
    /// truncate a longer log).
    ///
    /// # Panics
    /// If the conflict is at or below `committed`: a committed entry never changes.
    pub(crate) fn merge(&mut self, entries: Vec<Entry<T>>, committed: u64) {
        for e in entries {
            match self.term_at(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    assert!(e.index > committed, "conflict at committed index {}", e.index);
                    self.entries.truncate(e.index as usize - 1);
                    self.entries.push(e);
                }
                None => self.push(e),
            }
        }
    }

    /// A candidate's log is at least as up to date as ours (Raft §5.4.1).
    pub(crate) fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// The largest index `<= index` whose term is `<= term` (etcd `findConflictByTerm`): the
    /// follower's hint, below which its log may still match the leader's.
    pub(crate) fn find_conflict_by_term(&self, index: u64, term: u64) -> u64 {
        let mut i = index.min(self.last_index());
        while i > 0 && self.term_at(i).is_some_and(|t| t > term) {
            i -= 1;
        }
        i
    }
}
