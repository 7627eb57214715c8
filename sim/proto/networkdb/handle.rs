//! Messages from peers (`delegate.go`): node, network and table events, bulk syncs,
//! compounds, and memberlist's push/pull of network memberships.

use super::db::{watch, witness, Attachment, Entry, NetworkDb};
use super::message::{
    Message, NetworkEntry, NetworkEventType, NodeEventType, TableEvent, TableEventType,
};
use super::{
    NetworkId, NodeName, NodeState, Output, WatchOp, MAX_QUEUE_LEN_BROADCAST_ON_SYNC,
    REAP_ENTRY_INTERVAL, REAP_NETWORK_INTERVAL,
};
use crate::engine::{SimDuration, SimTime};

impl NetworkDb {
    /// `NotifyMsg`: a message a peer sent this node (gossip over UDP or bulk sync over TCP).
    pub fn handle_message(&mut self, now: SimTime, msg: Message, out: &mut Vec<Output>) {
        self.dispatch(now, msg, false, out);
    }

    fn dispatch(&mut self, now: SimTime, msg: Message, bulk: bool, out: &mut Vec<Output>) {
        match msg {
            Message::NodeEvent { kind, ltime, ref node } => {
                if self.handle_node_event(kind, ltime, node, out) {
                    out.push(Output::Broadcast(msg));
                }
            }
            Message::NetworkEvent { kind, ltime, ref node, ref network } => {
                if self.handle_network_event(kind, ltime, node, network, out) {
                    out.push(Output::Broadcast(msg));
                }
            }
            Message::TableEvent(event) => self.handle_table_message(event, bulk, out),
            Message::BulkSync { ltime, unsolicited, node, networks, payload } => {
                if ltime > 0 {
                    witness(&mut self.table_clock, ltime);
                }
                for event in payload {
                    self.handle_table_message(event, true, out);
                }
                if unsolicited {
                    self.bulk_sync_node(&networks, &node, false, out);
                } else {
                    self.bulk_sync_acked(now, &node, out);
                }
            }
            Message::Compound(parts) => {
                for part in parts {
                    self.dispatch(now, part, bulk, out);
                }
            }
            // Push/pull state only arrives through `merge_remote_state`; `handleMessage`
            // rejects it as an unknown type.
            Message::PushPull { .. } => {}
        }
    }

    /// `handleNodeEvent`: a newer event about a live member moves it.
    fn handle_node_event(
        &mut self,
        kind: NodeEventType,
        ltime: u64,
        node: &str,
        out: &mut Vec<Output>,
    ) -> bool {
        witness(&mut self.network_clock, ltime);
        let Some(info) = self.nodes.get_mut(node) else { return false };
        if info.ltime >= ltime {
            return false;
        }
        info.ltime = ltime;
        if info.state != NodeState::Active {
            return false;
        }
        let state = match kind {
            NodeEventType::Join => NodeState::Active,
            NodeEventType::Leave => NodeState::Left,
        };
        self.change_node_state(node, state, out)
    }

    /// `handleNetworkEvent`: true when the event was news (and is to be relayed).
    fn handle_network_event(
        &mut self,
        kind: NetworkEventType,
        ltime: u64,
        node: &str,
        network: &str,
        out: &mut Vec<Output>,
    ) -> bool {
        witness(&mut self.network_clock, ltime);
        let leave = kind == NetworkEventType::Leave;
        if node == self.name || (leave && !self.networks.contains_key(node)) {
            return false;
        }
        let known = self.networks.get(node).and_then(|nets| nets.get(network)).cloned();
        if let Some(att) = known {
            if att.ltime >= ltime {
                return false;
            }
            let reap = if leave { REAP_NETWORK_INTERVAL } else { att.reap };
            let att = Attachment { ltime, leaving: leave, reap };
            self.networks.entry(node.into()).or_default().insert(network.into(), att);
            if leave {
                self.delete_node_network_entries(network, node, out);
                self.delete_network_node(network, node);
            } else {
                self.add_network_node(network, node);
            }
            return true;
        }
        if leave || !self.is_active(node) {
            return false;
        }
        let att = Attachment { ltime, leaving: false, reap: SimDuration::ZERO };
        self.networks.entry(node.into()).or_default().insert(network.into(), att);
        self.add_network_node(network, node);
        true
    }

    /// `handleTableMessage`: apply, then relay on the network's queue if the event was news
    /// (events learned by bulk sync only while the queue is short).
    fn handle_table_message(&mut self, event: TableEvent, bulk: bool, out: &mut Vec<Output>) {
        if event.node == self.name || !self.handle_table_event(&event, bulk, out) {
            return;
        }
        let Some(own) = self.own.get_mut(&event.network) else { return };
        if own.att.leaving || (bulk && own.queue.len() > MAX_QUEUE_LEN_BROADCAST_ON_SYNC) {
            return;
        }
        own.queue.push(event);
    }

    /// `handleTableEvent`: last writer wins by ltime; true if the event is to be relayed.
    fn handle_table_event(&mut self, ev: &TableEvent, bulk: bool, out: &mut Vec<Output>) -> bool {
        witness(&mut self.table_clock, ev.ltime);
        let Some(own) = self.own.get(&ev.network) else { return false };
        let in_sync = own.in_sync;
        let owner_present = self.network_nodes(&ev.network).contains(&ev.node);
        if own.att.leaving || !owner_present {
            return false;
        }
        let k = (ev.network.clone(), ev.table.clone(), ev.key.clone());
        let known = self.entries.get(&k).map(|e| e.ltime);
        let delete = ev.kind == TableEventType::Delete;
        match known {
            Some(ltime) if ltime >= ev.ltime => return false,
            // A delete of an unknown entry is trusted only from a bulk sync, whose residual
            // reap time is current; a gossiped one may have outlived its tombstone.
            None if delete && !bulk => return false,
            _ => {}
        }
        let mut reap = SimDuration::from_secs(u64::from(ev.residual_reap_secs));
        if delete && reap == SimDuration::ZERO {
            reap = REAP_ENTRY_INTERVAL;
        }
        let entry = Entry {
            ltime: ev.ltime,
            owner: ev.node.clone(),
            value: ev.value.clone(),
            deleting: delete,
            reap,
        };
        self.entries.insert(k.clone(), entry);
        if known.is_none() && delete {
            return in_sync && reap.as_nanos() > REAP_ENTRY_INTERVAL.as_nanos() / 6;
        }
        let op = match ev.kind {
            TableEventType::Create => WatchOp::Create,
            TableEventType::Update => WatchOp::Update,
            TableEventType::Delete => WatchOp::Delete,
        };
        out.push(watch(op, &k, ev.value.clone(), ev.node.clone()));
        in_sync
    }

    /// `LocalState`: every known attachment, for memberlist's push/pull. On a join the own
    /// attachments are first moved to a new network time so the peer takes them as news.
    pub fn local_state(&mut self, join: bool) -> Message {
        if join {
            self.network_clock += 1;
            for own in self.own.values_mut() {
                own.att.ltime = self.network_clock;
            }
        }
        let entry = |node: &NodeName, id: &NetworkId, att: &Attachment| NetworkEntry {
            network: id.clone(),
            ltime: att.ltime,
            node: node.clone(),
            leaving: att.leaving,
        };
        let mut networks: Vec<NetworkEntry> =
            self.own.iter().map(|(id, own)| entry(&self.name, id, &own.att)).collect();
        for (node, nets) in &self.networks {
            networks.extend(nets.iter().map(|(id, att)| entry(node, id, att)));
        }
        Message::PushPull { ltime: self.network_clock, networks, node: self.name.clone() }
    }

    /// `MergeRemoteState`: the peer's node event, then each attachment as a network event.
    /// The push/pull state of a node this one asked to Join ([`Output::Join`]) is the
    /// Join's answer: the reconnect or bootstrap rejoin waiting on it goes on. memberlist
    /// reports the node (`node_joined`) before it merges its state; callers keep that order.
    pub fn merge_remote_state(&mut self, state: Message, out: &mut Vec<Output>) {
        let Message::PushPull { ltime, networks, node } = state else {
            return;
        };
        self.handle_node_event(NodeEventType::Join, ltime, &node, out);
        for n in networks {
            let kind = if n.leaving { NetworkEventType::Leave } else { NetworkEventType::Join };
            self.handle_network_event(kind, n.ltime, &n.node, &n.network, out);
        }
        self.join_answered(&node, out);
    }
}
