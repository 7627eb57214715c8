//! memberlist's `TransmitLimitedQueue` as NetworkDB uses it: one per joined network for its
//! table events, and `networkBroadcasts`/`nodeBroadcasts` for the cluster-wide network and
//! node events memberlist piggybacks on its own gossip.
//!
//! Each queued message is sent at most `RetransmitMult × ceil(log10(n + 1))` times, `n` being
//! the node count at the moment of sending (`retransmitLimit`, memberlist `util.go`).
//! `GetBroadcasts` takes the least-sent messages first and, among equals, the newest first,
//! as long as they fit the packet. Queueing a message drops the queued ones it invalidates
//! (`broadcast.go`): a table event those for the same (network, table, key), a network event
//! those for the same (network, node); a node event invalidates none.

use super::{Message, TableEvent};

/// `RetransmitMult` of every NetworkDB queue (memberlist `DefaultLANConfig`).
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

/// A message a [`TransmitQueue`] holds.
pub trait Broadcast: Clone {
    fn wire_size(&self) -> usize;
    /// memberlist `Invalidates`: whether queueing `self` drops the queued `older`.
    fn invalidates(&self, older: &Self) -> bool;
}

impl Broadcast for TableEvent {
    fn wire_size(&self) -> usize {
        self.size_bytes()
    }

    /// `tableEventMessage.Invalidates`.
    fn invalidates(&self, older: &Self) -> bool {
        (&self.network, &self.table, &self.key) == (&older.network, &older.table, &older.key)
    }
}

impl Broadcast for Message {
    fn wire_size(&self) -> usize {
        self.size_bytes()
    }

    /// `networkEventMessage.Invalidates` (same network and node); `nodeEventMessage`'s is
    /// always false.
    fn invalidates(&self, older: &Self) -> bool {
        match (self, older) {
            (
                Message::NetworkEvent { node, network, .. },
                Message::NetworkEvent { node: n, network: id, .. },
            ) => node == n && network == id,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Queued<T> {
    msg: T,
    transmits: usize,
    id: u64,
}

#[derive(Debug, Clone)]
pub struct TransmitQueue<T> {
    items: Vec<Queued<T>>,
    next_id: u64,
}

impl<T> Default for TransmitQueue<T> {
    fn default() -> Self {
        TransmitQueue { items: Vec::new(), next_id: 0 }
    }
}

impl<T: Broadcast> TransmitQueue<T> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `QueueBroadcast`.
    pub fn push(&mut self, msg: T) {
        self.items.retain(|q| !msg.invalidates(&q.msg));
        self.items.push(Queued { msg, transmits: 0, id: self.next_id });
        self.next_id += 1;
    }

    /// `GetBroadcasts(overhead, limit)`: the messages that fit in `limit` bytes, each costing
    /// its size plus `overhead`; those sent the limit for `nodes` nodes leave the queue.
    pub fn take(&mut self, overhead: usize, limit: usize, nodes: usize) -> Vec<T> {
        let transmit_limit = retransmit_limit(RETRANSMIT_MULT, nodes);
        self.items.sort_by(|a, b| a.transmits.cmp(&b.transmits).then(b.id.cmp(&a.id)));
        let mut used = 0;
        let mut picked = Vec::new();
        for q in self.items.iter_mut() {
            let cost = overhead + q.msg.wire_size();
            if used + cost > limit {
                continue;
            }
            used += cost;
            q.transmits += 1;
            picked.push(q.msg.clone());
        }
        self.items.retain(|q| q.transmits < transmit_limit);
        picked
    }
}

/// `networkBroadcasts` and `nodeBroadcasts`: the events NetworkDB hands memberlist to spread
/// cluster-wide ([`super::Output::Broadcast`]), waiting for its gossip.
#[derive(Debug, Clone, Default)]
pub struct Broadcasts {
    network: TransmitQueue<Message>,
    node: TransmitQueue<Message>,
}

impl Broadcasts {
    /// `sendNetworkEvent`/`sendNodeEvent`, or the relay of a peer's event: node events go on
    /// the node queue, the rest on the network queue.
    pub fn queue(&mut self, msg: Message) {
        match msg {
            Message::NodeEvent { .. } => self.node.push(msg),
            _ => self.network.push(msg),
        }
    }

    /// The delegate's `GetBroadcasts`: the network events that fit `limit`, then the node
    /// events that fit it too (Docker 20.10 gives each queue the whole room); `nodes` is
    /// NetworkDB's count of live nodes (both queues' `NumNodes`).
    pub fn get_broadcasts(&mut self, overhead: usize, limit: usize, nodes: usize) -> Vec<Message> {
        let mut msgs = self.network.take(overhead, limit, nodes);
        msgs.extend(self.node.take(overhead, limit, nodes));
        msgs
    }

    pub fn len(&self) -> usize {
        self.network.len() + self.node.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::networkdb::{NetworkEventType, NodeEventType};

    fn network_event(kind: NetworkEventType, ltime: u64, node: &str, network: &str) -> Message {
        Message::NetworkEvent { kind, ltime, node: node.into(), network: network.into() }
    }

    fn node_event(ltime: u64) -> Message {
        Message::NodeEvent { kind: NodeEventType::Join, ltime, node: "a".into() }
    }

    #[test]
    fn a_network_event_replaces_the_queued_one_of_its_node_and_network_only() {
        let (join, leave) = (NetworkEventType::Join, NetworkEventType::Leave);
        let mut q = Broadcasts::default();
        q.queue(network_event(leave, 2, "a", "n"));
        q.queue(network_event(leave, 3, "a", "m"));
        q.queue(network_event(leave, 4, "b", "n"));
        q.queue(node_event(5));
        q.queue(node_event(6));
        q.queue(network_event(join, 7, "a", "n"));
        assert_eq!(q.len(), 5);
        let sent = q.get_broadcasts(2, 1400, 3);
        let expected = vec![
            network_event(join, 7, "a", "n"),
            network_event(leave, 4, "b", "n"),
            network_event(leave, 3, "a", "m"),
            node_event(6),
            node_event(5),
        ];
        assert_eq!(sent, expected, "network queue first, newest first in each");
    }

    #[test]
    fn each_event_goes_out_the_retransmit_limit_of_the_live_node_count() {
        let mut q = Broadcasts::default();
        q.queue(node_event(1));
        // 3 live nodes: 4 × ceil(log10(4)) = 4 sends.
        for _ in 0..4 {
            assert_eq!(q.get_broadcasts(2, 1400, 3), vec![node_event(1)]);
        }
        assert!(q.is_empty());
    }
}
