//! memberlist's messages (`net.go`) and their encoded sizes.
//!
//! memberlist writes a one-byte message type, then the struct in MessagePack as
//! hashicorp/go-msgpack encodes it: a map keyed by field name, strings and byte slices as raw
//! (1-byte header up to 31 bytes, 3 bytes above), unsigned integers in the smallest form.
//! A compound message is its type byte, a count byte, a 2-byte length per part, then the
//! parts. [`Message::size_bytes`] computes that length without encoding.

use std::net::SocketAddrV4;

use super::{Payload, State};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub seq: u32,
    /// The node the ping is meant for; a node with another name ignores it.
    pub node: String,
    pub source_addr: SocketAddrV4,
    pub source_node: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndirectPing {
    pub seq: u32,
    pub target: SocketAddrV4,
    pub node: String,
    /// Ask for a nack if the target does not answer within the probe timeout.
    pub nack: bool,
    pub source_addr: SocketAddrV4,
    pub source_node: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    pub incarnation: u32,
    pub node: String,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alive {
    pub incarnation: u32,
    pub node: String,
    pub addr: SocketAddrV4,
    pub meta: Vec<u8>,
}

/// A node declared dead; `from == node` means it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dead {
    pub incarnation: u32,
    pub node: String,
    pub from: String,
}

/// One node of a push-pull (memberlist `pushNodeState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushNodeState {
    pub name: String,
    pub addr: SocketAddrV4,
    pub meta: Vec<u8>,
    pub incarnation: u32,
    pub state: State,
}

/// A full state exchange over TCP; the side that accepted the stream answers with its own
/// (`reply`).
#[derive(Debug, Clone, PartialEq)]
pub struct PushPull<U> {
    pub join: bool,
    pub reply: bool,
    pub nodes: Vec<PushNodeState>,
    pub user_state: Option<U>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message<U> {
    Ping(Ping),
    IndirectPing(IndirectPing),
    Ack {
        seq: u32,
    },
    Nack {
        seq: u32,
    },
    Suspect(Suspect),
    Alive(Alive),
    Dead(Dead),
    PushPull(PushPull<U>),
    /// A delegate's message (memberlist `userMsg`).
    User(U),
    Compound(Vec<Message<U>>),
}

/// The map header and one `key: value` pair per field, as go-msgpack writes a struct.
struct MapSize(usize);

impl MapSize {
    fn new() -> Self {
        MapSize(1)
    }
    fn field(mut self, key: &str, value: usize) -> Self {
        self.0 += raw(key.len()) + value;
        self
    }
}

/// A raw string or byte slice of `len` bytes.
fn raw(len: usize) -> usize {
    if len < 32 {
        1 + len
    } else {
        3 + len
    }
}

fn uint(v: u64) -> usize {
    match v {
        0..=127 => 1,
        128..=255 => 2,
        256..=65_535 => 3,
        65_536..=0xffff_ffff => 5,
        _ => 9,
    }
}

const IPV4_RAW: usize = 1 + 4;
const VSN_RAW: usize = 1 + 6;

impl<U: Payload> Message<U> {
    /// The encoded length in bytes, message type byte included.
    pub fn size_bytes(&self) -> usize {
        1 + match self {
            Message::Ping(p) => {
                MapSize::new()
                    .field("SeqNo", uint(p.seq.into()))
                    .field("Node", raw(p.node.len()))
                    .field("SourceAddr", IPV4_RAW)
                    .field("SourcePort", uint(p.source_addr.port().into()))
                    .field("SourceNode", raw(p.source_node.len()))
                    .0
            }
            Message::IndirectPing(i) => {
                MapSize::new()
                    .field("SeqNo", uint(i.seq.into()))
                    .field("Target", IPV4_RAW)
                    .field("Port", uint(i.target.port().into()))
                    .field("Node", raw(i.node.len()))
                    .field("Nack", 1)
                    .field("SourceAddr", IPV4_RAW)
                    .field("SourcePort", uint(i.source_addr.port().into()))
                    .field("SourceNode", raw(i.source_node.len()))
                    .0
            }
            Message::Ack { seq } => {
                MapSize::new().field("SeqNo", uint((*seq).into())).field("Payload", raw(0)).0
            }
            Message::Nack { seq } => MapSize::new().field("SeqNo", uint((*seq).into())).0,
            Message::Suspect(s) => accusation(s.incarnation, &s.node, &s.from),
            Message::Dead(d) => accusation(d.incarnation, &d.node, &d.from),
            Message::Alive(a) => {
                MapSize::new()
                    .field("Incarnation", uint(a.incarnation.into()))
                    .field("Node", raw(a.node.len()))
                    .field("Addr", IPV4_RAW)
                    .field("Port", uint(a.addr.port().into()))
                    .field("Meta", raw(a.meta.len()))
                    .field("Vsn", VSN_RAW)
                    .0
            }
            Message::PushPull(pp) => push_pull_size(pp),
            Message::User(u) => u.size_bytes(),
            Message::Compound(parts) => {
                1 + 2 * parts.len() + parts.iter().map(Message::size_bytes).sum::<usize>()
            }
        }
    }
}

fn accusation(incarnation: u32, node: &str, from: &str) -> usize {
    MapSize::new()
        .field("Incarnation", uint(incarnation.into()))
        .field("Node", raw(node.len()))
        .field("From", raw(from.len()))
        .0
}

/// The header map, one map per node, then the user state bytes (the type byte is counted
/// by the caller).
fn push_pull_size<U: Payload>(pp: &PushPull<U>) -> usize {
    let user = pp.user_state.as_ref().map_or(0, Payload::size_bytes);
    let header = MapSize::new()
        .field("Nodes", uint(pp.nodes.len() as u64))
        .field("UserStateLen", uint(user as u64))
        .field("Join", 1)
        .0;
    let nodes: usize = pp
        .nodes
        .iter()
        .map(|n| {
            MapSize::new()
                .field("Name", raw(n.name.len()))
                .field("Addr", IPV4_RAW)
                .field("Port", uint(n.addr.port().into()))
                .field("Meta", raw(n.meta.len()))
                .field("Incarnation", uint(n.incarnation.into()))
                .field("State", 1)
                .field("Vsn", VSN_RAW)
                .0
        })
        .sum();
    header + nodes + user
}
