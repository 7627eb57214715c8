//! memberlist's `TransmitLimitedQueue` (`queue.go`): broadcasts waiting to be piggybacked,
//! each sent at most `retransmit_limit` times; a new fact about a node replaces the queued
//! one (memberlist's named broadcasts invalidate by node name).

use super::{Message, Payload};

#[derive(Debug, Clone)]
struct Item<U> {
    key: String,
    msg: Message<U>,
    size: usize,
    transmits: u32,
    id: u64,
}

#[derive(Debug, Clone)]
pub(super) struct TransmitQueue<U> {
    items: Vec<Item<U>>,
    next_id: u64,
}

impl<U> Default for TransmitQueue<U> {
    fn default() -> Self {
        TransmitQueue { items: Vec::new(), next_id: 0 }
    }
}

impl<U: Payload> TransmitQueue<U> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// memberlist `QueueBroadcast` for a named broadcast.
    pub fn queue(&mut self, key: &str, msg: Message<U>) {
        self.items.retain(|i| i.key != key);
        self.next_id += 1;
        let size = msg.size_bytes();
        self.items.push(Item { key: key.to_string(), msg, size, transmits: 0, id: self.next_id });
    }

    /// memberlist `GetBroadcasts`: the least-sent first (within a tier the largest, then the
    /// newest), each costing `overhead` plus its size, within `limit` bytes.
    pub fn get_broadcasts(
        &mut self,
        overhead: usize,
        limit: usize,
        transmit_limit: u32,
    ) -> Vec<Message<U>> {
        self.items.sort_by_key(|i| (i.transmits, std::cmp::Reverse((i.size, i.id))));
        let mut used = 0;
        let mut sent = Vec::new();
        for item in &mut self.items {
            if used + overhead >= limit {
                break;
            }
            if used + overhead + item.size > limit {
                continue;
            }
            used += overhead + item.size;
            item.transmits += 1;
            sent.push(item.msg.clone());
        }
        self.items.retain(|i| i.transmits < transmit_limit);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::swim::Suspect;

    fn suspect(node: &str, inc: u32) -> Message<Vec<u8>> {
        Message::Suspect(Suspect { incarnation: inc, node: node.into(), from: "x".into() })
    }

    #[test]
    fn newer_fact_replaces_older_and_limit_drops() {
        let mut q = TransmitQueue::default();
        q.queue("a", suspect("a", 1));
        q.queue("b", suspect("b", 1));
        q.queue("a", suspect("a", 2));
        assert_eq!(q.len(), 2);
        let first = q.get_broadcasts(2, 1400, 2);
        assert_eq!(first, vec![suspect("a", 2), suspect("b", 1)], "same size: newest first");
        assert_eq!(q.get_broadcasts(2, 1400, 2).len(), 2);
        assert_eq!(q.len(), 0, "each sent twice, the limit");
    }

    #[test]
    fn respects_the_byte_limit() {
        let mut q = TransmitQueue::default();
        q.queue("a", suspect("a", 1));
        q.queue("b", suspect("b", 1));
        let one = suspect("a", 1).size_bytes();
        assert_eq!(q.get_broadcasts(2, one + 2, 4).len(), 1);
        let next = q.get_broadcasts(2, 1400, 4);
        assert_eq!(next[0], suspect("a", 1), "the unsent one goes first");
    }
}
