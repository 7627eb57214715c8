//! The messages of `networkdb.proto`, as structs, with their encoded sizes.
//!
//! `size_bytes` is the protobuf length of the message wrapped in its `GossipMessage`
//! envelope (`encodeMessage`), as the real code puts it on the wire; a compound message is a
//! `CompoundMessage` of already-wrapped parts (`makeCompoundMessage`).

use super::{NetworkId, NodeName};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableEventType {
    Create = 1,
    Update = 2,
    Delete = 3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkEventType {
    Join = 1,
    Leave = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeEventType {
    Join = 1,
    Leave = 2,
}

/// `TableEvent`: one entry's create, update or delete; `node` is the entry's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEvent {
    pub kind: TableEventType,
    pub ltime: u64,
    pub node: NodeName,
    pub network: NetworkId,
    pub table: String,
    pub key: String,
    pub value: Vec<u8>,
    /// Seconds of tombstone life left, for deletes (`ResidualReapTime`).
    pub residual_reap_secs: u32,
}

/// `NetworkEntry` of a push/pull: one node's membership of one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkEntry {
    pub network: NetworkId,
    pub ltime: u64,
    pub node: NodeName,
    pub leaving: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    NetworkEvent {
        kind: NetworkEventType,
        ltime: u64,
        node: NodeName,
        network: NetworkId,
    },
    TableEvent(TableEvent),
    /// `NetworkPushPull`: the network memberships memberlist's push/pull carries.
    PushPull {
        ltime: u64,
        networks: Vec<NetworkEntry>,
        node: NodeName,
    },
    /// `BulkSyncMessage`; `payload` is carried as a compound message of table events.
    BulkSync {
        ltime: u64,
        unsolicited: bool,
        node: NodeName,
        networks: Vec<NetworkId>,
        payload: Vec<TableEvent>,
    },
    Compound(Vec<Message>),
    NodeEvent {
        kind: NodeEventType,
        ltime: u64,
        node: NodeName,
    },
}

impl Message {
    /// The encoded size in bytes, `GossipMessage` envelope included.
    pub fn size_bytes(&self) -> usize {
        envelope(self.body_bytes())
    }

    fn body_bytes(&self) -> usize {
        match self {
            Message::NetworkEvent { kind, ltime, node, network } => {
                varint_field(*kind as u64)
                    + varint_field(*ltime)
                    + str_field(node)
                    + str_field(network)
            }
            Message::TableEvent(event) => event.body_bytes(),
            Message::PushPull { ltime, networks, node } => {
                let entries: usize = networks.iter().map(|e| len_field(e.body_bytes())).sum();
                varint_field(*ltime) + entries + str_field(node)
            }
            Message::BulkSync { ltime, unsolicited, node, networks, payload } => {
                let parts = payload.iter().map(|e| envelope(e.body_bytes()));
                varint_field(*ltime)
                    + varint_field(u64::from(*unsolicited))
                    + str_field(node)
                    + networks.iter().map(|n| str_field(n)).sum::<usize>()
                    + len_field(envelope(compound_body(parts)))
            }
            Message::Compound(parts) => compound_body(parts.iter().map(Message::size_bytes)),
            Message::NodeEvent { kind, ltime, node } => {
                varint_field(*kind as u64) + varint_field(*ltime) + str_field(node)
            }
        }
    }
}

impl TableEvent {
    fn body_bytes(&self) -> usize {
        varint_field(self.kind as u64)
            + varint_field(self.ltime)
            + str_field(&self.node)
            + str_field(&self.network)
            + str_field(&self.table)
            + str_field(&self.key)
            + len_field_opt(self.value.len())
            + varint_field(u64::from(self.residual_reap_secs))
    }

    /// The size of this event as one part of a gossip packet.
    pub fn size_bytes(&self) -> usize {
        envelope(self.body_bytes())
    }
}

impl NetworkEntry {
    fn body_bytes(&self) -> usize {
        str_field(&self.network)
            + varint_field(self.ltime)
            + str_field(&self.node)
            + varint_field(u64::from(self.leaving))
    }
}

/// `CompoundMessage { repeated SimpleMessage { bytes payload } }`.
fn compound_body(parts: impl Iterator<Item = usize>) -> usize {
    parts.map(|p| len_field(len_field(p))).sum()
}

/// `GossipMessage { type, data }`; every message type number fits one byte.
fn envelope(body: usize) -> usize {
    2 + len_field(body)
}

fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros() as usize).div_ceil(7)
}

/// A proto3 scalar: omitted when zero.
fn varint_field(v: u64) -> usize {
    if v == 0 {
        0
    } else {
        1 + varint_len(v)
    }
}

fn len_field(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// A proto3 string or bytes field: omitted when empty.
fn len_field_opt(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len_field(len)
    }
}

fn str_field(s: &str) -> usize {
    len_field_opt(s.len())
}
