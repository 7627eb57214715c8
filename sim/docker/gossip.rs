//! A node's gossip agent: one memberlist member carrying one NetworkDB, as libnetwork's
//! `agent.go` and `networkdb/cluster.go` plug them together.
//!
//! Contract: [`GossipAgent`] is sans-IO. Every call takes `now` and pushes [`GossipOut`]s:
//! memberlist transmits (UDP or TCP to a peer's port 7946) for the world to carry, and
//! NetworkDB watch events for the overlay driver. Inside, memberlist's membership events
//! become NetworkDB's `node_joined`/`node_failed`, NetworkDB's sends to a peer by name go out
//! through memberlist's `SendBestEffort`/`SendReliable`, and NetworkDB's cluster-wide network
//! and node events ride on memberlist's gossip from NetworkDB's two transmit-limited queues
//! ([`networkdb::Broadcasts`]: `networkBroadcasts`, where a node's newer event about a
//! network replaces the queued one, and `nodeBroadcasts`; RetransmitMult 4 over NetworkDB's
//! count of live nodes).

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::engine::{RngStream, SimTime};
use crate::proto::networkdb::{self, Broadcasts, Message, NetworkDb, Transport, WatchEvent};
use crate::proto::swim::{self, Config, Delegate, Event, Member, Payload, Transmit};

/// What the agent wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum GossipOut {
    Send(Transmit<Message>),
    Watch(WatchEvent),
}

impl Payload for Message {
    fn size_bytes(&self) -> usize {
        Message::size_bytes(self)
    }
}

/// NetworkDB as memberlist's delegate. Delegate callbacks carry no clock, so the agent sets
/// `now` before each call into the member; what NetworkDB produces waits in `outbox`.
struct DbDelegate {
    db: NetworkDb,
    now: SimTime,
    outbox: Vec<networkdb::Output>,
    /// Cluster-wide network and node events waiting for memberlist's gossip.
    broadcasts: Broadcasts,
    /// Push-pull states received, merged only once the membership events of the same
    /// exchange have reached NetworkDB: memberlist calls `NotifyJoin` before
    /// `MergeRemoteState`, and NetworkDB ignores the networks of a node it thinks failed.
    merges: Vec<Message>,
}

impl Delegate for DbDelegate {
    type Payload = Message;

    fn notify_msg(&mut self, msg: Message) {
        self.db.handle_message(self.now, msg, &mut self.outbox);
    }

    fn get_broadcasts(&mut self, overhead: usize, limit: usize) -> Vec<Message> {
        self.broadcasts.get_broadcasts(overhead, limit, self.db.live_nodes())
    }

    fn local_state(&mut self, join: bool) -> Option<Message> {
        Some(self.db.local_state(join))
    }

    fn merge_remote_state(&mut self, state: Message, _join: bool) {
        self.merges.push(state);
    }
}

/// memberlist + NetworkDB for one node.
pub struct GossipAgent {
    member: Member<DbDelegate>,
}

impl std::fmt::Debug for GossipAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipAgent").field("name", &self.member.name()).finish_non_exhaustive()
    }
}

impl GossipAgent {
    /// `clusterInit`: a member named `name` (12 random hex digits in Docker) at `addr`.
    pub fn new(
        name: &str,
        addr: Ipv4Addr,
        now: SimTime,
        rng: &mut RngStream,
    ) -> (Self, Vec<GossipOut>) {
        let db = NetworkDb::new(name, addr, now, rng.fork());
        let delegate = DbDelegate {
            db,
            now,
            outbox: Vec::new(),
            broadcasts: Broadcasts::default(),
            merges: Vec::new(),
        };
        let mut mout = Vec::new();
        let member = Member::new(Config::docker(name, addr), now, rng.fork(), delegate, &mut mout);
        let mut agent = GossipAgent { member };
        let mut out = Vec::new();
        agent.settle(mout, &mut out);
        (agent, out)
    }

    /// The address memberlist advertises: the node's, and its VTEP.
    pub fn addr(&self) -> Ipv4Addr {
        self.member.config().addr
    }

    pub fn db(&self) -> &NetworkDb {
        &self.member.delegate().db
    }

    /// Every node memberlist knows, this one included, with the state it holds for each.
    pub fn members(&self) -> impl Iterator<Item = &swim::NodeState> {
        self.member.nodes()
    }

    /// memberlist `Join` through each of `seeds` (the managers, `SetBootstrapIPs`), which
    /// NetworkDB also keeps to rejoin through should the node find itself alone.
    pub fn join(&mut self, seeds: &[Ipv4Addr], out: &mut Vec<GossipOut>) {
        self.member.delegate_mut().db.set_bootstrap(seeds.to_vec());
        let mut mout = Vec::new();
        for seed in seeds {
            self.member.join(SocketAddrV4::new(*seed, swim::PORT), &mut mout);
        }
        self.settle(mout, out);
    }

    /// memberlist `Leave`: the node announces its own departure.
    pub fn leave(&mut self, now: SimTime, out: &mut Vec<GossipOut>) {
        let mut mout = Vec::new();
        self.member.leave(now, &mut mout);
        self.settle(mout, out);
    }

    pub fn handle_packet(
        &mut self,
        now: SimTime,
        from: SocketAddrV4,
        transport: swim::Transport,
        msg: swim::Message<Message>,
        out: &mut Vec<GossipOut>,
    ) {
        self.member.delegate_mut().now = now;
        let mut mout = Vec::new();
        self.member.handle_packet(now, from, transport, msg, &mut mout);
        self.settle(mout, out);
    }

    /// Runs memberlist's and NetworkDB's timers due at `now`.
    pub fn handle_timeout(&mut self, now: SimTime, out: &mut Vec<GossipOut>) {
        self.member.delegate_mut().now = now;
        let mut mout = Vec::new();
        if self.member.poll_timeout() <= now {
            self.member.handle_timeout(now, &mut mout);
        }
        let d = self.member.delegate_mut();
        if d.db.next_timeout() <= now {
            d.db.handle_timeout(now, &mut d.outbox);
        }
        self.settle(mout, out);
    }

    pub fn next_timeout(&self) -> SimTime {
        self.member.poll_timeout().min(self.db().next_timeout())
    }

    /// `JoinNetwork`: this node takes part in the network's gossip.
    pub fn join_network(&mut self, now: SimTime, network: &str, out: &mut Vec<GossipOut>) {
        let d = self.member.delegate_mut();
        d.db.join_network(now, network, &mut d.outbox);
        self.settle(Vec::new(), out);
    }

    /// `LeaveNetwork`, for a network this node joined.
    pub fn leave_network(&mut self, network: &str, out: &mut Vec<GossipOut>) {
        let d = self.member.delegate_mut();
        d.db.leave_network(network, &mut d.outbox).expect("the driver leaves only joined networks");
        self.settle(Vec::new(), out);
    }

    /// `CreateEntry` of an own entry (the driver's peer record, say).
    pub fn create_entry(&mut self, table: &str, network: &str, key: &str, value: Vec<u8>) {
        let d = self.member.delegate_mut();
        d.db.create_entry(table, network, key, value).expect("own entries are created once");
    }

    /// `UpdateEntry` of an own entry.
    pub fn update_entry(&mut self, table: &str, network: &str, key: &str, value: Vec<u8>) {
        let d = self.member.delegate_mut();
        d.db.update_entry(table, network, key, value).expect("own entries exist until deleted");
    }

    /// `DeleteEntry` of an own entry.
    pub fn delete_entry(&mut self, table: &str, network: &str, key: &str) {
        let d = self.member.delegate_mut();
        d.db.delete_entry(table, network, key).expect("own entries are deleted once");
    }

    /// Feeds memberlist's outputs and NetworkDB's outbox into each other until both are
    /// drained: membership events reach NetworkDB, NetworkDB's sends leave via memberlist.
    fn settle(&mut self, mut mout: Vec<swim::Output<Message>>, out: &mut Vec<GossipOut>) {
        loop {
            for o in std::mem::take(&mut mout) {
                match o {
                    swim::Output::Send(t) => out.push(GossipOut::Send(t)),
                    swim::Output::Event(e) => self.membership_event(e),
                }
            }
            let d = self.member.delegate_mut();
            for state in std::mem::take(&mut d.merges) {
                d.db.merge_remote_state(state, &mut d.outbox);
            }
            let dbout = std::mem::take(&mut self.member.delegate_mut().outbox);
            if dbout.is_empty() {
                return;
            }
            for o in dbout {
                self.db_output(o, &mut mout, out);
            }
        }
    }

    fn membership_event(&mut self, event: Event) {
        let d = self.member.delegate_mut();
        match event {
            Event::Join(info) => d.db.node_joined(&info.name, *info.addr.ip(), &mut d.outbox),
            Event::Leave(info) => d.db.node_failed(&info.name, &mut d.outbox),
            Event::Update(_) => {}
        }
    }

    fn db_output(
        &mut self,
        o: networkdb::Output,
        mout: &mut Vec<swim::Output<Message>>,
        out: &mut Vec<GossipOut>,
    ) {
        match o {
            networkdb::Output::Send { to, transport, msg } => {
                let Some(addr) = self.member.node(&to).map(|n| n.addr) else { return };
                match transport {
                    Transport::Udp => self.member.send_best_effort(addr, msg, mout),
                    Transport::Tcp => self.member.send_reliable(addr, msg, mout),
                }
            }
            networkdb::Output::Broadcast(msg) => self.member.delegate_mut().broadcasts.queue(msg),
            networkdb::Output::Watch(w) => out.push(GossipOut::Watch(w)),
            networkdb::Output::Join(addrs) => {
                for addr in addrs {
                    self.member.join(SocketAddrV4::new(addr, swim::PORT), mout);
                }
            }
        }
    }
}
