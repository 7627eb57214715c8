//! The store, the local writes and what the membership layer reports (`networkdb.go`,
//! `event_delegate.go`, `nodemgmt.go`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::message::{Message, NetworkEventType, TableEvent, TableEventType};
use super::queue::TransmitQueue;
use super::{
    DbError, NetworkId, NodeInfo, NodeName, NodeState, Output, WatchEvent, WatchOp,
    NODE_REAP_INTERVAL, NODE_TABLE, REAP_ENTRY_INTERVAL, REAP_NETWORK_INTERVAL,
};
use crate::engine::{RngStream, SimDuration, SimTime};

/// (network, table, key): the `byNetwork` index order.
pub(super) type EntryKey = (NetworkId, String, String);

/// One table entry, or its tombstone while `deleting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ltime: u64,
    /// The node that wrote it.
    pub owner: NodeName,
    pub value: Vec<u8>,
    pub deleting: bool,
    /// Tombstone life left, counted down by `reapState`.
    pub reap: SimDuration,
}

/// A node's attachment to a network (`network`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attachment {
    pub ltime: u64,
    pub leaving: bool,
    pub reap: SimDuration,
}

/// This node's attachment, with the queue of table events it gossips there.
#[derive(Debug, Clone)]
pub(super) struct OwnNetwork {
    pub att: Attachment,
    /// Set once the bulk syncs of the join are over; only then are learned events relayed.
    pub in_sync: bool,
    pub queue: TransmitQueue<TableEvent>,
}

/// The bulk syncs `JoinNetwork` runs one node after the other, each waiting for its answer.
#[derive(Debug, Clone)]
pub(super) struct JoinSync {
    pub network: NetworkId,
    pub remaining: Vec<NodeName>,
    pub waiting: Option<(NodeName, SimTime)>,
}

/// One NetworkDB instance. See the module doc for the contract.
pub struct NetworkDb {
    pub(super) name: NodeName,
    pub(super) rng: RngStream,
    pub(super) network_clock: u64,
    pub(super) table_clock: u64,
    pub(super) nodes: BTreeMap<NodeName, NodeInfo>,
    /// Other nodes' attachments (`nDB.networks` without this node's own).
    pub(super) networks: BTreeMap<NodeName, BTreeMap<NetworkId, Attachment>>,
    pub(super) own: BTreeMap<NetworkId, OwnNetwork>,
    /// `networkNodes`: who is in each network, in the order they were learned.
    pub(super) network_nodes: BTreeMap<NetworkId, Vec<NodeName>>,
    pub(super) entries: BTreeMap<EntryKey, Entry>,
    pub(super) join_syncs: Vec<JoinSync>,
    pub(super) next_gossip: SimTime,
    pub(super) next_bulk_sync: SimTime,
    pub(super) next_reap: SimTime,
    /// Life left of each failed or left node before `reapDeadNode` forgets it.
    pub(super) node_reap: BTreeMap<NodeName, SimDuration>,
    /// The addresses given to `Join` (`bootStrapIP`), for `rejoinClusterBootStrap`.
    pub(super) bootstrap: Vec<Ipv4Addr>,
    pub(super) next_reconnect: SimTime,
    pub(super) next_node_reap: SimTime,
    pub(super) next_rejoin: SimTime,
    /// The `reconnectNode` run in progress (its goroutine blocks in Join, then bulk sync).
    pub(super) reconnect: Option<Reconnect>,
    /// A reconnect tick came while one was running: Go's ticker keeps one, run at its end.
    pub(super) reconnect_missed: bool,
    pub(super) rejoin: Option<Rejoin>,
}

/// Where a `reconnectNode` run is blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reconnect {
    /// `memberlist.Join` of the node's address, until its push/pull answers or times out.
    Joining { node: NodeName, until: SimTime },
    /// The bulk sync after the join waits for its answer. The deadline is stamped by the
    /// first call that knows the time (the answer to the join arrives without one).
    Syncing { node: NodeName, until: Option<SimTime> },
}

/// `rejoinClusterBootStrap`'s `retryJoin`: a Join of the bootstrap IPs every second, until
/// one works or 10 s are over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rejoin {
    pub ends: SimTime,
    /// The next tick of the 1 s retry ticker.
    pub next_try: SimTime,
    /// The Join in flight blocks until this instant unless a bootstrap node answers.
    pub in_flight: Option<SimTime>,
}

/// serf `LamportClock.Witness`: move past a time seen from another node.
pub(super) fn witness(clock: &mut u64, seen: u64) {
    if seen >= *clock {
        *clock = seen + 1;
    }
}

fn key(network: &str, table: &str, key: &str) -> EntryKey {
    (network.to_string(), table.to_string(), key.to_string())
}

impl NetworkDb {
    /// A node named `name` (memberlist's node name), its tickers started at `now`.
    pub fn new(name: &str, addr: Ipv4Addr, now: SimTime, rng: RngStream) -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(name.to_string(), NodeInfo { addr, state: NodeState::Active, ltime: 0 });
        NetworkDb {
            name: name.to_string(),
            rng,
            network_clock: 0,
            table_clock: 0,
            nodes,
            networks: BTreeMap::new(),
            own: BTreeMap::new(),
            network_nodes: BTreeMap::new(),
            entries: BTreeMap::new(),
            join_syncs: Vec::new(),
            next_gossip: now + super::GOSSIP_INTERVAL,
            next_bulk_sync: now + super::BULK_SYNC_INTERVAL,
            next_reap: now + super::REAP_PERIOD,
            node_reap: BTreeMap::new(),
            bootstrap: Vec::new(),
            next_reconnect: now + super::RECONNECT_INTERVAL,
            next_node_reap: now + super::NODE_REAP_PERIOD,
            next_rejoin: now + super::REJOIN_CLUSTER_INTERVAL,
            reconnect: None,
            reconnect_missed: false,
            rejoin: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn network_clock(&self) -> u64 {
        self.network_clock
    }

    pub fn table_clock(&self) -> u64 {
        self.table_clock
    }

    /// The stored entry or tombstone.
    pub fn entry(&self, table: &str, network: &str, k: &str) -> Option<&Entry> {
        self.entries.get(&key(network, table, k))
    }

    /// `GetEntry`: the value, unless absent or deleted.
    pub fn get_entry(&self, table: &str, network: &str, k: &str) -> Option<&[u8]> {
        self.entry(table, network, k).filter(|e| !e.deleting).map(|e| e.value.as_slice())
    }

    /// The live entries of a network: (table, key) → (value, owner), for comparing views.
    pub fn network_view(&self, network: &str) -> BTreeMap<(String, String), (Vec<u8>, NodeName)> {
        self.entries
            .iter()
            .filter(|((n, _, _), e)| n == network && !e.deleting)
            .map(|((_, t, k), e)| ((t.clone(), k.clone()), (e.value.clone(), e.owner.clone())))
            .collect()
    }

    /// `networkNodes[nid]`: the nodes known to be in the network, this one included.
    pub fn network_nodes(&self, network: &str) -> &[NodeName] {
        self.network_nodes.get(network).map_or(&[], Vec::as_slice)
    }

    /// How many live entries (not tombstones) the node holds, over every table and network.
    pub fn live_entries(&self) -> usize {
        self.entries.values().filter(|e| !e.deleting).count()
    }

    /// The networks this node is in (joined and not leaving).
    pub fn joined_networks(&self) -> Vec<NetworkId> {
        self.own.iter().filter(|(_, n)| !n.att.leaving).map(|(id, _)| id.clone()).collect()
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name)
    }

    /// `len(nDB.nodes)`: the live members, this node included.
    pub fn live_nodes(&self) -> usize {
        self.nodes.values().filter(|n| n.state == NodeState::Active).count()
    }

    /// Table events waiting in the network's gossip queue.
    pub fn queued(&self, network: &str) -> usize {
        self.own.get(network).map_or(0, |n| n.queue.len())
    }

    /// Whether the bulk syncs of joining `network` are over.
    pub fn in_sync(&self, network: &str) -> bool {
        self.own.get(network).is_some_and(|n| n.in_sync)
    }

    /// `CreateEntry`: refused while any entry, even a tombstone, holds the key.
    pub fn create_entry(
        &mut self,
        table: &str,
        network: &str,
        k: &str,
        value: Vec<u8>,
    ) -> Result<(), DbError> {
        if self.entry(table, network, k).is_some() {
            return Err(DbError::EntryExists {
                table: table.into(),
                network: network.into(),
                key: k.into(),
            });
        }
        self.write_own(TableEventType::Create, table, network, k, value);
        Ok(())
    }

    /// `UpdateEntry`: any stored entry can be updated, a tombstone too (it comes back).
    pub fn update_entry(
        &mut self,
        table: &str,
        network: &str,
        k: &str,
        value: Vec<u8>,
    ) -> Result<(), DbError> {
        if self.entry(table, network, k).is_none() {
            return Err(DbError::UpdateMissing {
                table: table.into(),
                network: network.into(),
                key: k.into(),
            });
        }
        self.write_own(TableEventType::Update, table, network, k, value);
        Ok(())
    }

    /// `DeleteEntry`: leaves a tombstone with the old value for 30 minutes.
    pub fn delete_entry(&mut self, table: &str, network: &str, k: &str) -> Result<(), DbError> {
        let value = match self.entry(table, network, k) {
            Some(e) if !e.deleting => e.value.clone(),
            _ => {
                return Err(DbError::DeleteMissing {
                    table: table.into(),
                    network: network.into(),
                    key: k.into(),
                })
            }
        };
        self.write_own(TableEventType::Delete, table, network, k, value);
        Ok(())
    }

    /// Store an own write at the next table time and queue it (`sendTableEvent`). Local
    /// writes are not reported to local watchers: the writer already knows.
    fn write_own(
        &mut self,
        kind: TableEventType,
        table: &str,
        network: &str,
        k: &str,
        value: Vec<u8>,
    ) {
        self.table_clock += 1;
        let deleting = kind == TableEventType::Delete;
        let reap = if deleting { REAP_ENTRY_INTERVAL } else { SimDuration::ZERO };
        let entry =
            Entry { ltime: self.table_clock, owner: self.name.clone(), value, deleting, reap };
        let event = TableEvent {
            kind,
            ltime: entry.ltime,
            node: self.name.clone(),
            network: network.into(),
            table: table.into(),
            key: k.into(),
            value: entry.value.clone(),
            residual_reap_secs: (reap.as_nanos() / 1_000_000_000) as u32,
        };
        self.entries.insert(key(network, table, k), entry);
        if let Some(own) = self.own.get_mut(network) {
            own.queue.push(event);
        }
    }

    /// `JoinNetwork`: a fresh attachment (a rejoin replaces the old one), announced
    /// cluster-wide, then a bulk sync with every node already in the network.
    pub fn join_network(&mut self, now: SimTime, network: &str, out: &mut Vec<Output>) {
        self.network_clock += 1;
        let ltime = self.network_clock;
        let att = Attachment { ltime, leaving: false, reap: SimDuration::ZERO };
        let own = OwnNetwork { att, in_sync: false, queue: TransmitQueue::default() };
        self.own.insert(network.to_string(), own);
        self.add_network_node(network, &self.name.clone());
        let others: Vec<NodeName> =
            self.network_nodes(network).iter().filter(|n| **n != self.name).cloned().collect();
        out.push(Output::Broadcast(Message::NetworkEvent {
            kind: NetworkEventType::Join,
            ltime,
            node: self.name.clone(),
            network: network.to_string(),
        }));
        self.join_syncs.push(JoinSync {
            network: network.to_string(),
            remaining: others,
            waiting: None,
        });
        self.advance_join_syncs(now, out);
    }

    /// `LeaveNetwork`: announced cluster-wide; own entries become tombstones, the others'
    /// are dropped without one; the attachment lingers, leaving, for 30 min + 25 s.
    pub fn leave_network(&mut self, network: &str, out: &mut Vec<Output>) -> Result<(), DbError> {
        self.network_clock += 1;
        let ltime = self.network_clock;
        out.push(Output::Broadcast(Message::NetworkEvent {
            kind: NetworkEventType::Leave,
            ltime,
            node: self.name.clone(),
            network: network.to_string(),
        }));
        self.delete_network_node(network, &self.name.clone());
        self.delete_node_network_entries(network, &self.name.clone(), out);
        let own = self.own.get_mut(network).ok_or_else(|| DbError::NotJoined(network.into()))?;
        own.att = Attachment { ltime, leaving: true, reap: REAP_NETWORK_INTERVAL };
        Ok(())
    }

    pub(super) fn add_network_node(&mut self, network: &str, node: &str) {
        let nodes = self.network_nodes.entry(network.to_string()).or_default();
        if !nodes.iter().any(|n| n == node) {
            nodes.push(node.to_string());
        }
    }

    pub(super) fn delete_network_node(&mut self, network: &str, node: &str) {
        if let Some(nodes) = self.network_nodes.get_mut(network) {
            nodes.retain(|n| n != node);
        }
    }

    /// `deleteNodeNetworkEntries`: `node` left `network`. For a remote node its live entries
    /// become tombstones; for this node its own become tombstones one tick newer and the
    /// others' are dropped. Watchers see a delete for every entry that was live.
    pub(super) fn delete_node_network_entries(
        &mut self,
        network: &str,
        node: &str,
        out: &mut Vec<Output>,
    ) {
        let local = node == self.name;
        let keys: Vec<EntryKey> =
            self.entries.keys().filter(|(n, _, _)| n == network).cloned().collect();
        for k in keys {
            let old = self.entries[&k].clone();
            if !local && (old.owner != node || old.deleting) {
                continue;
            }
            if old.owner == node {
                if !old.deleting {
                    let ltime = old.ltime + u64::from(local);
                    let tomb =
                        Entry { ltime, deleting: true, reap: REAP_ENTRY_INTERVAL, ..old.clone() };
                    self.entries.insert(k.clone(), tomb);
                }
            } else {
                self.entries.remove(&k);
            }
            if !old.deleting {
                out.push(watch(WatchOp::Delete, &k, old.value, old.owner));
            }
        }
    }

    /// `deleteNodeTableEntries`: drop every entry `node` owns, in table order, no tombstone.
    fn delete_node_table_entries(&mut self, node: &str, out: &mut Vec<Output>) {
        let mut keys: Vec<EntryKey> =
            self.entries.iter().filter(|(_, e)| e.owner == node).map(|(k, _)| k.clone()).collect();
        keys.sort_by(|a, b| (&a.1, &a.0, &a.2).cmp(&(&b.1, &b.0, &b.2)));
        for k in keys {
            let old = self.entries.remove(&k).expect("key collected from the map");
            if !old.deleting {
                out.push(watch(WatchOp::Delete, &k, old.value, old.owner));
            }
        }
    }

    /// memberlist `NotifyJoin`: a known node comes back active; a new one is added, and an
    /// older incarnation at the same address is retired (`purgeReincarnation`).
    pub fn node_joined(&mut self, name: &str, addr: Ipv4Addr, out: &mut Vec<Output>) {
        out.push(node_watch(WatchOp::Create, addr));
        if self.change_node_state(name, NodeState::Active, out) {
            return;
        }
        let stale: Option<NodeName> = self
            .nodes
            .iter()
            .find(|(n, info)| info.addr == addr && n.as_str() != name)
            .map(|(n, _)| n.clone());
        if let Some(old) = stale {
            self.change_node_state(&old, NodeState::Left, out);
        }
        self.nodes.insert(name.to_string(), NodeInfo { addr, state: NodeState::Active, ltime: 0 });
    }

    /// The membership layer saw `name` leave gracefully (networkdb's own node-leave event).
    pub fn node_left(&mut self, name: &str, out: &mut Vec<Output>) {
        self.node_gone(name, NodeState::Left, out);
    }

    /// memberlist `NotifyLeave` for a node declared dead.
    pub fn node_failed(&mut self, name: &str, out: &mut Vec<Output>) {
        self.node_gone(name, NodeState::Failed, out);
    }

    fn node_gone(&mut self, name: &str, state: NodeState, out: &mut Vec<Output>) {
        let Some(info) = self.nodes.get(name) else { return };
        out.push(node_watch(WatchOp::Delete, info.addr));
        if info.state == NodeState::Active {
            self.change_node_state(name, state, out);
        }
    }

    /// `changeNodeState`: true if the node moved. Leaving or failing deletes its
    /// memberships and all its entries at once (released Docker, fact 45).
    pub(super) fn change_node_state(
        &mut self,
        name: &str,
        state: NodeState,
        out: &mut Vec<Output>,
    ) -> bool {
        let Some(info) = self.nodes.get_mut(name) else { return false };
        if info.state == state {
            return false;
        }
        info.state = state;
        if state == NodeState::Active {
            self.node_reap.remove(name);
        } else {
            // A node going from failed to left keeps the reap time it already has.
            self.node_reap.entry(name.to_string()).or_insert(NODE_REAP_INTERVAL);
            for nodes in self.network_nodes.values_mut() {
                nodes.retain(|n| n != name);
            }
            self.networks.remove(name);
            self.delete_node_table_entries(name, out);
        }
        true
    }

    /// Whether memberlist currently counts `name` as a live member (`nDB.nodes`).
    pub(super) fn is_active(&self, name: &str) -> bool {
        self.nodes.get(name).is_some_and(|n| n.state == NodeState::Active)
    }
}

pub(super) fn watch(op: WatchOp, k: &EntryKey, value: Vec<u8>, owner: NodeName) -> Output {
    Output::Watch(WatchEvent {
        op,
        table: k.1.clone(),
        network: k.0.clone(),
        key: k.2.clone(),
        value,
        owner,
    })
}

/// `broadcastNodeEvent`: the NodeTable event carries `{"Addr":"<ip>"}` (`NodeAddr` as JSON).
fn node_watch(op: WatchOp, addr: Ipv4Addr) -> Output {
    Output::Watch(WatchEvent {
        op,
        table: NODE_TABLE.to_string(),
        network: String::new(),
        key: String::new(),
        value: format!("{{\"Addr\":\"{addr}\"}}").into_bytes(),
        owner: String::new(),
    })
}
