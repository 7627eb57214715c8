//! memberlist's `TransmitLimitedQueue` as a network's table-event queue uses it.
//!
//! Each queued event is sent at most `RetransmitMult × ceil(log10(n + 1))` times, `n` being
//! the network's node count at the moment of sending (`retransmitLimit`, memberlist
//! `util.go`). `GetBroadcasts` takes the least-sent events first and, among equals, the
//! newest first, as long as they fit the packet; queueing an event drops the queued ones
//! for the same (network, table, key) (`tableEventMessage.Invalidates`).

use super::TableEvent;

/// `RetransmitMult` of every table queue (`JoinNetwork`).
pub const RETRANSMIT_MULT: usize = 4;

/// memberlist `retransmitLimit`.
pub fn retransmit_limit(mult: usize, nodes: usize) -> usize {
    let mut scale = 0;
    let mut bound = 1;
    // ceil(log10(nodes + 1)) in integers: the count of decimal digits of `nodes`.
    while bound <= nodes {
        bound *= 10;
        scale += 1;
    }
    mult * scale
}

#[derive(Debug, Clone)]
struct Queued {
    event: TableEvent,
    transmits: usize,
    id: u64,
}

#[derive(Debug, Clone, Default)]
pub struct TransmitQueue {
    items: Vec<Queued>,
    next_id: u64,
}

impl TransmitQueue {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn push(&mut self, event: TableEvent) {
        self.items.retain(|q| {
            (&q.event.network, &q.event.table, &q.event.key)
                != (&event.network, &event.table, &event.key)
        });
        self.items.push(Queued { event, transmits: 0, id: self.next_id });
        self.next_id += 1;
    }

    /// `GetBroadcasts(overhead, limit)`: the events that fit in `limit` bytes, each costing
    /// its size plus `overhead`; those sent `limit` times leave the queue.
    pub fn take(&mut self, overhead: usize, limit: usize, nodes: usize) -> Vec<TableEvent> {
        let transmit_limit = retransmit_limit(RETRANSMIT_MULT, nodes);
        self.items.sort_by(|a, b| a.transmits.cmp(&b.transmits).then(b.id.cmp(&a.id)));
        let mut used = 0;
        let mut picked = Vec::new();
        for q in self.items.iter_mut() {
            let cost = overhead + q.event.size_bytes();
            if used + cost > limit {
                continue;
            }
            used += cost;
            q.transmits += 1;
            picked.push(q.event.clone());
        }
        self.items.retain(|q| q.transmits < transmit_limit);
        picked
    }
}
