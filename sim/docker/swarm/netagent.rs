//! The daemon's networking agent (libnetwork `agent.go`): the gossip agent a node runs
//! while it is in a swarm, and what its outputs become.
//!
//! Contract: a node starts its [`GossipAgent`] on entering the swarm, joining memberlist
//! through the managers it knows, and stops it (after memberlist's leave) on
//! `swarm leave`. Memberlist's transmits go to the swarm outbox for the world to carry to
//! the peers' port 7946 over the fabric; NetworkDB's `overlay_peer_table` events become the
//! overlay driver's neighbour and FDB ops. Without an agent every call here does nothing,
//! as a standalone daemon has no cluster to gossip with.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::docker::daemon::Daemon;
use crate::docker::gossip::{GossipAgent, GossipOut};
use crate::docker::service_bind::ENDPOINT_TABLE;
use crate::engine::SimTime;
use crate::proto::networkdb::Message;
use crate::proto::swim;

impl Daemon {
    /// `agentInit`: memberlist under a random 12-hex node name, joined through `seeds`.
    pub(crate) fn start_gossip(&mut self, now: SimTime, addr: Ipv4Addr, seeds: &[Ipv4Addr]) {
        let name = self.rng.hex(6);
        let (mut agent, mut out) = GossipAgent::new(&name, addr, now, &mut self.rng);
        agent.join(seeds, &mut out);
        self.swarm.gossip = Some(agent);
        self.absorb_gossip(out);
    }

    /// memberlist's leave, announced before the agent stops.
    pub(crate) fn stop_gossip(&mut self, now: SimTime) {
        self.with_agent(|agent, out| agent.leave(now, out));
        self.swarm.gossip = None;
    }

    /// This node's VTEP address: the one its gossip agent advertises.
    pub(crate) fn vtep(&self) -> Option<Ipv4Addr> {
        self.swarm.gossip.as_ref().map(|a| a.addr())
    }

    /// A memberlist packet or stream for this node arrived on 7946.
    pub fn gossip_deliver(
        &mut self,
        now: SimTime,
        from: SocketAddrV4,
        transport: swim::Transport,
        msg: swim::Message<Message>,
    ) {
        self.with_agent(|agent, out| agent.handle_packet(now, from, transport, msg, out));
    }

    /// Runs the agent's timers that are due.
    pub(crate) fn gossip_wake(&mut self, now: SimTime) {
        let due = self.swarm.gossip.as_ref().is_some_and(|a| a.next_timeout() <= now);
        if due {
            self.with_agent(|agent, out| agent.handle_timeout(now, out));
        }
    }

    pub(crate) fn gossip_next_timeout(&self) -> Option<SimTime> {
        self.swarm.gossip.as_ref().map(GossipAgent::next_timeout)
    }

    pub(crate) fn gossip_join_network(&mut self, now: SimTime, network: &str) {
        self.with_agent(|agent, out| agent.join_network(now, network, out));
    }

    pub(crate) fn gossip_leave_network(&mut self, network: &str) {
        self.with_agent(|agent, out| agent.leave_network(network, out));
    }

    /// A write of this node's own entries (create, update, delete), if it gossips.
    pub(crate) fn with_gossip(&mut self, write: impl FnOnce(&mut GossipAgent)) {
        if let Some(agent) = self.swarm.gossip.as_mut() {
            write(agent);
        }
    }

    fn with_agent(&mut self, f: impl FnOnce(&mut GossipAgent, &mut Vec<GossipOut>)) {
        let Some(agent) = self.swarm.gossip.as_mut() else { return };
        let mut out = Vec::new();
        f(agent, &mut out);
        self.absorb_gossip(out);
    }

    /// Transmits to the outbox; peer-table changes to the overlay driver's ops.
    fn absorb_gossip(&mut self, out: Vec<GossipOut>) {
        let Some(from) = self.vtep() else { return };
        for o in out {
            match o {
                GossipOut::Send(t) => self.swarm.outbox.gossip.push((from, t)),
                GossipOut::Watch(w) if w.table == ENDPOINT_TABLE => self.on_endpoint_event(&w),
                GossipOut::Watch(w) => {
                    let ops = self.on_peer_event(&w);
                    self.swarm.outbox.ops.extend(ops);
                }
            }
        }
    }
}
