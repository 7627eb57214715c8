//! SWIM with Lifeguard as hashicorp/memberlist implements it and Docker's networkdb configures
//! it, as a sans-IO state machine.
//!
//! A [`Member`] is one memberlist instance. It is driven by [`Member::handle_packet`] (a
//! message from the network), [`Member::handle_timeout`] (its next deadline, from
//! [`Member::poll_timeout`], has come) and the API calls ([`Member::join`], [`Member::leave`],
//! [`Member::update_meta`], [`Member::send_best_effort`], [`Member::send_reliable`]); it
//! pushes [`Output`]s into a caller-owned `Vec`: datagrams and stream messages to send
//! ([`Transmit`], UDP or TCP to port 7946) and membership [`Event`]s (memberlist's
//! `EventDelegate`). It reads no clock and no global RNG: time comes in with every call, and
//! every random choice (probe order, indirect-probe helpers, gossip targets, push-pull peer,
//! timer phases) comes from the [`RngStream`] handed in at construction.
//!
//! Behaviour follows memberlist (`state.go`, `net.go`, `suspicion.go`, `awareness.go`,
//! `util.go`, `queue.go`):
//! - probing: every `probe_interval` the next node of a shuffled round-robin list (dead nodes
//!   skipped, the list reshuffled and reaped at each wrap-around) gets a UDP ping; after
//!   `probe_timeout` without an ack, `indirect_checks` random alive members are asked to ping
//!   it (they answer a nack if they get no ack) and a TCP ping is tried too; at the end of the
//!   (awareness-scaled) probe interval an unanswered target becomes suspect;
//! - Lifeguard: the local health score (awareness) scales the probe interval; a suspect is
//!   declared dead after a timeout that starts at `SuspicionMaxTimeoutMult` × the minimum and
//!   shrinks with each confirmation from a distinct member (k = `SuspicionMult` − 2, or 0 in a
//!   cluster of fewer than 4); a suspect is pinged with the suspicion attached (the buddy
//!   system), and a member told it is suspect or dead refutes with a higher incarnation;
//! - dissemination: alive/suspect/dead messages go into a transmit-limited queue (each sent
//!   `RetransmitMult` × ⌈log10(n+1)⌉ times, newer facts about a node replacing older ones),
//!   piggybacked on every UDP message and gossiped every `gossip_interval` to `gossip_nodes`
//!   random members; every `push_pull_interval` (scaled up above 32 nodes) a full state
//!   exchange runs over TCP with one random member; joining is a push-pull with a seed.
//!
//! [`Config::lifeguard`] turns each Lifeguard mechanism off for experiments (all on in
//! [`Config::docker`], as in memberlist): without health-aware probing the probe interval is
//! never scaled (memberlist's `AwarenessMaxMultiplier` = 1); without health-aware suspicion
//! the timeout is the fixed minimum, confirmations neither shorten it nor are re-gossiped
//! (memberlist before Lifeguard: one `time.AfterFunc` of `suspicionTimeout`); without the
//! buddy system a suspect gets a plain ping.
//!
//! The payload hooks are memberlist's `Delegate`: [`Delegate::notify_msg`],
//! [`Delegate::get_broadcasts`], [`Delegate::local_state`] and
//! [`Delegate::merge_remote_state`]. Node metadata is carried but Docker sets none.
//! Not modelled: protocol-version negotiation, compression (Docker's default config enables
//! LZW, which memberlist uses only when it shrinks a packet), the conflict, merge, alive and
//! ping delegates, and TCP connection failures (a stream to an unreachable member is simply
//! lost, as memberlist only logs the error).

mod awareness;
pub mod cluster;
mod gossip;
mod message;
mod probe;
mod queue;
mod state;
mod suspicion;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use indexmap::IndexMap;

use crate::engine::{RngStream, SimDuration, SimTime};
use awareness::Awareness;
pub use message::{Alive, Dead, IndirectPing, Message, Ping, PushNodeState, PushPull, Suspect};
use probe::{Probe, Relay};
use queue::TransmitQueue;
use suspicion::Suspicion;
pub use suspicion::{push_pull_scale, retransmit_limit, suspicion_timeout};

/// memberlist's default port (`DefaultLANConfig` BindPort), the one Docker uses.
pub const PORT: u16 = 7946;

/// A member's knobs. [`Config::docker`] gives networkdb's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub name: String,
    pub addr: Ipv4Addr,
    pub probe_interval: SimDuration,
    pub probe_timeout: SimDuration,
    pub indirect_checks: usize,
    pub gossip_interval: SimDuration,
    pub gossip_nodes: usize,
    /// How long a dead node is still gossiped to and kept in the probe list.
    pub gossip_to_the_dead: SimDuration,
    pub push_pull_interval: SimDuration,
    pub suspicion_mult: u32,
    pub suspicion_max_timeout_mult: u32,
    pub retransmit_mult: u32,
    pub awareness_max_multiplier: u32,
    /// The largest UDP payload memberlist builds (networkdb's PacketBufferSize).
    pub udp_buffer_size: usize,
    pub disable_tcp_pings: bool,
    /// Whether packets carry memberlist's AES-GCM envelope (Docker sets a keyring in swarm
    /// mode); only their sizes depend on it.
    pub encrypted: bool,
    pub lifeguard: Lifeguard,
}

/// Which of Lifeguard's three mechanisms run (Dadgar, Phillips & Currey 2018, §IV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifeguard {
    /// Local Health Aware Probe: the health score scales the probe interval.
    pub aware_probe: bool,
    /// Local Health Aware Suspicion: the timeout starts at the maximum and shrinks with
    /// confirmations; off, it is the fixed minimum (SWIM's, and memberlist's before 2017).
    pub aware_suspicion: bool,
    /// Buddy system: a ping to a suspect carries the suspicion.
    pub buddy: bool,
}

impl Lifeguard {
    /// Everything on, as memberlist (and so Docker) runs.
    pub const ALL: Lifeguard = Lifeguard { aware_probe: true, aware_suspicion: true, buddy: true };
    /// Everything off: SWIM with memberlist's probing, gossip and push-pull.
    pub const NONE: Lifeguard =
        Lifeguard { aware_probe: false, aware_suspicion: false, buddy: false };
}

impl Config {
    /// memberlist `DefaultLANConfig` with networkdb's changes (`networkdb/cluster.go`
    /// `clusterInit`): its own node name, UDPBufferSize 1400, the swarm's gossip keys.
    pub fn docker(name: &str, addr: Ipv4Addr) -> Config {
        Config {
            name: name.to_string(),
            addr,
            probe_interval: SimDuration::from_secs(1),
            probe_timeout: SimDuration::from_millis(500),
            indirect_checks: 3,
            gossip_interval: SimDuration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead: SimDuration::from_secs(30),
            push_pull_interval: SimDuration::from_secs(30),
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            retransmit_mult: 4,
            awareness_max_multiplier: 8,
            udp_buffer_size: 1400,
            disable_tcp_pings: false,
            encrypted: true,
            lifeguard: Lifeguard::ALL,
        }
    }

    pub fn socket(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.addr, PORT)
    }
}

/// A member's state as another member sees it (memberlist `NodeStateType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Alive,
    Suspect,
    Dead,
    Left,
}

impl State {
    pub fn dead_or_left(self) -> bool {
        matches!(self, State::Dead | State::Left)
    }

    /// The value memberlist encodes in a push-pull (`StateAlive` = 0 …).
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            State::Alive => "alive",
            State::Suspect => "suspect",
            State::Dead => "dead",
            State::Left => "left",
        };
        f.write_str(s)
    }
}

/// One member as this member knows it (memberlist `nodeState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    pub name: String,
    pub addr: SocketAddrV4,
    pub meta: Vec<u8>,
    pub incarnation: u32,
    pub state: State,
    pub state_change: SimTime,
}

/// What an [`Event`] says about a node (memberlist `Node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub addr: SocketAddrV4,
    pub meta: Vec<u8>,
}

/// Membership changes, as memberlist's `EventDelegate` sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A node became alive after being unknown, dead or left (`NotifyJoin`).
    Join(NodeInfo),
    /// A node was declared dead, or left (`NotifyLeave`).
    Leave(NodeInfo),
    /// A live node's metadata changed (`NotifyUpdate`).
    Update(NodeInfo),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    /// A stream: memberlist dials a TCP connection per exchange (push-pull, TCP ping,
    /// reliable user messages).
    Tcp,
}

/// A message to send to `to` (always port 7946).
#[derive(Debug, Clone, PartialEq)]
pub struct Transmit<U> {
    pub to: SocketAddrV4,
    pub transport: Transport,
    pub msg: Message<U>,
}

impl<U: Payload> Transmit<U> {
    /// Bytes on the wire above UDP/TCP: the encoded message, memberlist's CRC header on
    /// packets (peers speak protocol 5), and the encryption envelope when `encrypted`
    /// (version byte, 12-byte nonce, 16-byte tag; streams add a 5-byte length header).
    pub fn wire_bytes(&self, encrypted: bool) -> usize {
        const CRC_HEADER: usize = 5;
        const ENCRYPT_OVERHEAD: usize = 1 + 12 + 16;
        const STREAM_ENCRYPT_HEADER: usize = 5;
        let body = self.msg.size_bytes();
        match (self.transport, encrypted) {
            (Transport::Udp, false) => body + CRC_HEADER,
            (Transport::Udp, true) => body + CRC_HEADER + ENCRYPT_OVERHEAD,
            (Transport::Tcp, false) => body,
            (Transport::Tcp, true) => body + STREAM_ENCRYPT_HEADER + ENCRYPT_OVERHEAD,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output<U> {
    Send(Transmit<U>),
    Event(Event),
}

/// A user payload carried by memberlist (networkdb's messages, encoded).
pub trait Payload: Clone + fmt::Debug + PartialEq {
    /// Its encoded length in bytes.
    fn size_bytes(&self) -> usize;
}

impl Payload for Vec<u8> {
    fn size_bytes(&self) -> usize {
        self.len()
    }
}

/// memberlist's `Delegate`: how the layer above (networkdb) rides on the member.
pub trait Delegate {
    type Payload: Payload;
    /// A user message arrived (over UDP, piggybacked or best effort, or over TCP).
    fn notify_msg(&mut self, msg: Self::Payload);
    /// User messages to piggyback, each `overhead` bytes plus its size, within `limit` bytes.
    fn get_broadcasts(&mut self, overhead: usize, limit: usize) -> Vec<Self::Payload>;
    /// The user state to send in a push-pull (`join` on a join).
    fn local_state(&mut self, join: bool) -> Option<Self::Payload>;
    fn merge_remote_state(&mut self, state: Self::Payload, join: bool);
}

/// A delegate that carries nothing (memberlist without `Config.Delegate`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoDelegate;

impl Delegate for NoDelegate {
    type Payload = Vec<u8>;
    fn notify_msg(&mut self, _: Vec<u8>) {}
    fn get_broadcasts(&mut self, _: usize, _: usize) -> Vec<Vec<u8>> {
        Vec::new()
    }
    fn local_state(&mut self, _: bool) -> Option<Vec<u8>> {
        None
    }
    fn merge_remote_state(&mut self, _: Vec<u8>, _: bool) {}
}

/// The outputs of a member whose delegate is `D`.
pub type Out<D> = Vec<Output<<D as Delegate>::Payload>>;

/// One memberlist instance. See the module doc for the contract.
pub struct Member<D: Delegate> {
    config: Config,
    rng: RngStream,
    delegate: D,
    /// Every known node by name, this one included (memberlist `nodeMap`).
    nodes: IndexMap<String, NodeState>,
    /// The probe order (memberlist `nodes`): names, shuffled at each wrap-around.
    order: Vec<String>,
    probe_index: usize,
    seq: u32,
    incarnation: u32,
    left: bool,
    awareness: Awareness,
    broadcasts: TransmitQueue<D::Payload>,
    suspicions: IndexMap<String, Suspicion>,
    probe: Option<Probe>,
    /// A probe tick came while a probe was running; Go's ticker keeps one.
    probe_tick_pending: bool,
    next_probe_tick: SimTime,
    next_gossip: SimTime,
    next_push_pull: SimTime,
    relays: Vec<Relay>,
}

impl<D: Delegate> Member<D> {
    /// memberlist `Create`: this member alone, alive at incarnation 1, its alive message
    /// queued for gossip and a `Join` event for itself. Tickers start now; the push-pull
    /// ticker after a random stagger within its interval.
    pub fn new(
        config: Config,
        now: SimTime,
        rng: RngStream,
        delegate: D,
        out: &mut Out<D>,
    ) -> Self {
        let mut m = Self::blank(config, now, rng, delegate);
        m.set_alive(now, out);
        m
    }

    /// A member of a cluster that converged long ago: itself and every peer alive at
    /// incarnation 1, in a shuffled probe order, with nothing left to gossip. For experiments
    /// that start from a steady state instead of replaying the joins.
    pub fn converged(
        config: Config,
        now: SimTime,
        rng: RngStream,
        delegate: D,
        peers: &[(String, Ipv4Addr)],
    ) -> Self {
        let mut m = Self::blank(config, now, rng, delegate);
        m.incarnation = 1;
        let me = (m.config.name.clone(), m.config.addr);
        for (name, addr) in std::iter::once(&me).chain(peers.iter().filter(|p| p.0 != me.0)) {
            let node = NodeState {
                name: name.clone(),
                addr: SocketAddrV4::new(*addr, PORT),
                meta: Vec::new(),
                incarnation: 1,
                state: State::Alive,
                state_change: now,
            };
            m.nodes.insert(name.clone(), node);
            m.order.push(name.clone());
        }
        m.shuffle_order();
        m
    }

    fn blank(config: Config, now: SimTime, mut rng: RngStream, delegate: D) -> Self {
        assert!(config.probe_timeout <= config.probe_interval, "probe timeout beyond interval");
        assert!(config.awareness_max_multiplier > 0 && config.suspicion_mult > 0);
        let stagger = rng.range_u64(0, config.push_pull_interval.as_nanos().max(1));
        Member {
            next_probe_tick: now + config.probe_interval,
            next_gossip: now + config.gossip_interval,
            next_push_pull: now + SimDuration::from_nanos(stagger) + config.push_pull_interval,
            awareness: Awareness::new(if config.lifeguard.aware_probe {
                config.awareness_max_multiplier
            } else {
                1
            }),
            config,
            rng,
            delegate,
            nodes: IndexMap::new(),
            order: Vec::new(),
            probe_index: 0,
            seq: 0,
            incarnation: 0,
            left: false,
            broadcasts: TransmitQueue::default(),
            suspicions: IndexMap::new(),
            probe: None,
            probe_tick_pending: false,
            relays: Vec::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn delegate(&self) -> &D {
        &self.delegate
    }

    pub fn delegate_mut(&mut self) -> &mut D {
        &mut self.delegate
    }

    /// Every node this member knows, itself included, in the order it learned them.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeState> {
        self.nodes.values()
    }

    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.nodes.get(name)
    }

    /// The state this member holds for `name`, if it knows it.
    pub fn state_of(&self, name: &str) -> Option<State> {
        self.nodes.get(name).map(|n| n.state)
    }

    /// Nodes this member considers alive (memberlist `Members`: alive or suspect).
    pub fn live_members(&self) -> impl Iterator<Item = &NodeState> {
        self.nodes.values().filter(|n| !n.state.dead_or_left())
    }

    /// memberlist `estNumNodes`: every node in the probe list, dead ones not yet reaped.
    pub fn num_nodes(&self) -> usize {
        self.order.len()
    }

    /// The local health score (memberlist `GetHealthScore`), 0 when healthy.
    pub fn health_score(&self) -> u32 {
        self.awareness.score()
    }

    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    pub fn has_left(&self) -> bool {
        self.left
    }

    /// Broadcasts waiting in memberlist's own queue.
    pub fn queued_broadcasts(&self) -> usize {
        self.broadcasts.len()
    }

    /// The next instant [`Member::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> SimTime {
        let mut t = self.next_probe_tick.min(self.next_gossip).min(self.next_push_pull);
        if let Some(p) = &self.probe {
            t = t.min(p.next_deadline());
        }
        for s in self.suspicions.values() {
            t = t.min(s.deadline());
        }
        for r in &self.relays {
            t = t.min(r.deadline);
        }
        t
    }

    /// Runs every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: SimTime, out: &mut Out<D>) {
        self.expire_relays(now, out);
        self.advance_probe(now, out);
        if self.next_probe_tick <= now {
            self.next_probe_tick += self.config.probe_interval;
            if self.probe.is_some() {
                self.probe_tick_pending = true;
            } else {
                self.probe(now, out);
            }
        }
        self.expire_suspicions(now, out);
        if self.next_gossip <= now {
            self.next_gossip += self.config.gossip_interval;
            self.gossip(now, out);
        }
        if self.next_push_pull <= now {
            let scaled = push_pull_scale(self.config.push_pull_interval, self.num_nodes());
            self.next_push_pull = now + scaled;
            self.push_pull(out);
        }
    }

    /// A message from `from` arrived over `transport`.
    pub fn handle_packet(
        &mut self,
        now: SimTime,
        from: SocketAddrV4,
        transport: Transport,
        msg: Message<D::Payload>,
        out: &mut Out<D>,
    ) {
        match msg {
            Message::Compound(parts) => {
                for part in parts {
                    self.handle_packet(now, from, transport, part, out);
                }
            }
            Message::Ping(p) => self.on_ping(from, transport, p, out),
            Message::IndirectPing(ind) => self.on_indirect_ping(now, from, ind, out),
            Message::Ack { seq } => self.on_ack(now, transport, seq, out),
            Message::Nack { seq } => self.on_nack(seq),
            Message::Suspect(s) => self.suspect_node(now, s),
            Message::Alive(a) => self.alive_node(now, a, false, out),
            Message::Dead(d) => self.dead_node(now, d, out),
            Message::PushPull(pp) => self.on_push_pull(now, from, pp, out),
            Message::User(u) => self.delegate.notify_msg(u),
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// memberlist `randomOffset`.
    fn random_offset(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.index(n)
        }
    }

    /// memberlist `kRandomNodes`: up to `k` distinct nodes from the probe list that `skip`
    /// does not exclude, drawn with up to 3n random tries.
    fn k_random_nodes(&mut self, k: usize, skip: impl Fn(&NodeState) -> bool) -> Vec<String> {
        let n = self.order.len();
        let mut picked: Vec<String> = Vec::with_capacity(k);
        for _ in 0..3 * n {
            if picked.len() >= k {
                break;
            }
            let idx = self.random_offset(n);
            let name = &self.order[idx];
            if skip(&self.nodes[name]) || picked.contains(name) {
                continue;
            }
            picked.push(name.clone());
        }
        picked
    }

    /// memberlist `shuffleNodes` (Fisher–Yates).
    fn shuffle_order(&mut self) {
        for i in (1..self.order.len()).rev() {
            let j = self.rng.index(i + 1);
            self.order.swap(i, j);
        }
    }
}
