//! Docker's NetworkDB (libnetwork `networkdb/`, as released in Docker 20.10) as a sans-IO state
//! machine.
//!
//! NetworkDB keeps tables of entries scoped to overlay networks (`endpoint_table`,
//! `overlay_peer_table`) and spreads them by gossip among the nodes that joined the network.
//! A [`NetworkDb`] is driven by method calls that all take `now` — the local writes
//! ([`NetworkDb::create_entry`], [`NetworkDb::join_network`], …), what the membership layer
//! reports ([`NetworkDb::node_joined`], [`NetworkDb::node_failed`], …), messages from peers
//! ([`NetworkDb::handle_message`]) and its timers ([`NetworkDb::handle_timeout`] at
//! [`NetworkDb::next_timeout`]) — and pushes [`Output`]s into a caller-owned `Vec`. It reads no
//! clock and no global RNG: random peer choices come from the [`RngStream`] handed in.
//!
//! The boundary to the membership layer mirrors how libnetwork plugs into memberlist:
//! memberlist's event delegate becomes `node_joined`/`node_left`/`node_failed`, its
//! `NotifyMsg` becomes `handle_message`, `SendBestEffort`/`SendReliable` become
//! [`Output::Send`] with [`Transport::Udp`]/[`Transport::Tcp`], a network or node event to
//! spread cluster-wide becomes [`Output::Broadcast`] (the caller queues it on a
//! [`Broadcasts`], the `networkBroadcasts`/`nodeBroadcasts` pair memberlist drains with
//! `GetBroadcasts`, where a newer event of a node about a network replaces the queued one),
//! and push/pull's `LocalState`/`MergeRemoteState` become
//! [`NetworkDb::local_state`]/[`NetworkDb::merge_remote_state`].
//!
//! Rules followed (files: `networkdb.go`, `cluster.go`, `delegate.go`, `event_delegate.go`,
//! `nodemgmt.go`, `broadcast.go`, `networkdb.proto`; memberlist `queue.go`, `util.go`):
//! - two Lamport clocks as serf's `LamportClock`: `Increment` returns the new value,
//!   `Witness(t)` moves the clock to `t + 1` when `t` is not older;
//! - entries keyed (network, table, key), last writer wins by ltime (`handleTableEvent`):
//!   an event not newer than the stored entry is dropped, an unknown entry's delete is
//!   dropped unless it came by bulk sync, a newer create over a tombstone resurrects it;
//! - deletes leave tombstones for 30 min, a left network lingers 30 min + 25 s, both counted
//!   down by `reapState` every 5 s;
//! - gossip every 200 ms per joined network: the queued table events, as one compound
//!   message, to 3 random other nodes; the queue is memberlist's `TransmitLimitedQueue` with
//!   `RetransmitMult` 4 over the network's node count;
//! - bulk sync every 30 s to one random node per network, and with every node of a network
//!   on joining it (the network is "in sync", and relays what it learns, once those finish);
//! - when a node fails or leaves, all its entries are deleted (watchers see deletes) and its
//!   memberships forgotten, as `changeNodeState` does in released Docker;
//! - `reconnectNode` every 1 s: one random failed node is asked to memberlist ([`Output::Join`]
//!   of its address); once its push/pull answer is merged, a node-join event is broadcast and
//!   every common network is bulk-synced with it, waiting up to 30 s for the answer. The run
//!   blocks the ticker (a Join nobody answers gives up after memberlist's `TCPTimeout`, 10 s);
//!   a tick missed meanwhile fires when it ends, as Go's ticker keeps one;
//! - `reapDeadNode` every 2 h: a failed or left node is forgotten once its 24 h are counted
//!   down (it stays while more than 2 h are left, so it goes at the 12th run);
//! - `rejoinClusterBootStrap` every 60 s: unless an active member other than this node is at
//!   one of the addresses given to [`NetworkDb::set_bootstrap`] (`Join`'s `bootStrapIP`),
//!   `retryJoin` asks memberlist to Join all of them on each 1 s tick for 10 s, until one
//!   answers (then a node-join event is broadcast);
//! - [`NetworkDb::leave_cluster`] (`Close` → `clusterLeave`) broadcasts the node-leave event
//!   before memberlist leaves; peers then drop the node's entries and memberships.
//!
//! The ticker intervals, the 24 h and the 10 s are fact 40 of `docker-facts.md`; the logic of
//! the upkeep tasks follows moby's `libnetwork/networkdb/cluster.go` (the version read has
//! `rejoinClusterInterval`/`rejoinClusterDuration` as config fields with the same 60 s / 10 s
//! defaults).
//!
//! Not modelled: the second bulk sync target tried after a TCP failure (the caller cannot
//! fail a send synchronously); that `sendNodeEvent` waits (up to 5 s) for memberlist to finish
//! broadcasting the event before a reconnect bulk-syncs (here the bulk sync goes at once);
//! the random stagger of each ticker's first tick (every ticker starts at `new`'s `now`; a
//! caller staggers nodes by creating them at different instants); the stats printing and
//! encryption keys.

mod cluster;
mod db;
mod handle;
mod message;
mod periodic;
mod queue;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;

use crate::engine::SimDuration;

pub use db::NetworkDb;
pub use message::{
    Message, NetworkEntry, NetworkEventType, NodeEventType, TableEvent, TableEventType,
};
pub use queue::Broadcasts;

/// `reapPeriod`: how often `reapState` runs.
pub const REAP_PERIOD: SimDuration = SimDuration::from_secs(5);
/// `reapEntryInterval`: how long a deleted entry's tombstone is kept.
pub const REAP_ENTRY_INTERVAL: SimDuration = SimDuration::from_secs(30 * 60);
/// `reapNetworkInterval` = reapEntryInterval + 5 × reapPeriod.
pub const REAP_NETWORK_INTERVAL: SimDuration = SimDuration::from_secs(30 * 60 + 25);
/// `cluster.go`: the gossip ticker.
pub const GOSSIP_INTERVAL: SimDuration = SimDuration::from_millis(200);
/// `cluster.go`: the periodic bulk sync ticker.
pub const BULK_SYNC_INTERVAL: SimDuration = SimDuration::from_secs(30);
/// `bulkSyncNode`: how long an unsolicited bulk sync waits for its answer.
pub const BULK_SYNC_ACK_TIMEOUT: SimDuration = SimDuration::from_secs(30);
/// `retryInterval`: the `reconnectNode` ticker, and `retryJoin`'s.
pub const RECONNECT_INTERVAL: SimDuration = SimDuration::from_secs(1);
/// `nodeReapPeriod`: how often `reapDeadNode` runs.
pub const NODE_REAP_PERIOD: SimDuration = SimDuration::from_secs(2 * 3600);
/// `nodeReapInterval`: how long a failed or left node is remembered.
pub const NODE_REAP_INTERVAL: SimDuration = SimDuration::from_secs(24 * 3600);
/// `rejoinClusterInterval`: how often `rejoinClusterBootStrap` runs.
pub const REJOIN_CLUSTER_INTERVAL: SimDuration = SimDuration::from_secs(60);
/// `rejoinClusterDuration`: how long its `retryJoin` keeps trying.
pub const REJOIN_CLUSTER_DURATION: SimDuration = SimDuration::from_secs(10);
/// memberlist `TCPTimeout` (`DefaultLANConfig`): how long a Join waits on one address.
pub const JOIN_TIMEOUT: SimDuration = SimDuration::from_secs(10);
/// `DefaultConfig` PacketBufferSize (UDPBufferSize 1400).
pub const PACKET_BUFFER_SIZE: usize = 1400;
/// `maxQueueLenBroadcastOnSync`: above this, entries learned by bulk sync are not relayed.
pub const MAX_QUEUE_LEN_BROADCAST_ON_SYNC: usize = 500;
/// The table `event_delegate.go` reports cluster membership changes in.
pub const NODE_TABLE: &str = "NodeTable";

pub type NodeName = String;
pub type NetworkId = String;

/// How a message to one peer travels (memberlist `SendBestEffort` vs `SendReliable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What a watcher (the overlay driver, the service-discovery code) is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchOp {
    Create,
    Update,
    Delete,
}

/// One watch event: `makeEvent(op, table, network, key, value)` plus the entry's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub op: WatchOp,
    pub table: String,
    pub network: NetworkId,
    pub key: String,
    pub value: Vec<u8>,
    pub owner: NodeName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A message to one named peer.
    Send {
        to: NodeName,
        transport: Transport,
        msg: Message,
    },
    /// A network or node event for the membership layer to piggyback on its own gossip,
    /// through a [`Broadcasts`] queue.
    Broadcast(Message),
    Watch(WatchEvent),
    /// memberlist `Join(addrs)`: a push/pull with `join` set to each address (the caller
    /// does `swim::Member::join` on port 7946 for each), then the answers' states handed to
    /// [`NetworkDb::merge_remote_state`] after the nodes were reported to `node_joined`.
    Join(Vec<Ipv4Addr>),
}

/// A cluster member as the membership layer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Active,
    Left,
    Failed,
}

/// A local write refused, with libnetwork's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("cannot create entry in table {table} with network id {network} and key {key}, already exists")]
    EntryExists { table: String, network: NetworkId, key: String },
    #[error("cannot update entry as the entry in table {table} with network id {network} and key {key} does not exist")]
    UpdateMissing { table: String, network: NetworkId, key: String },
    #[error("cannot delete entry {table} with network id {network} and key {key} does not exist or is already being deleted")]
    DeleteMissing { table: String, network: NetworkId, key: String },
    #[error("could not find network {0} while trying to leave")]
    NotJoined(NetworkId),
}

/// A cluster member: its address and lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub addr: Ipv4Addr,
    pub state: NodeState,
    /// The Lamport time of the last node event applied.
    pub ltime: u64,
}
