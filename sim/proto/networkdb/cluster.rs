//! Cluster upkeep (`cluster.go`, `networkdb.go`): `reconnectNode`, `reapDeadNode`,
//! `rejoinClusterBootStrap` and the node-leave event of `Close`.
//!
//! memberlist's `Join` is synchronous in Go and blocks the ticker goroutine that called it;
//! here it is [`Output::Join`], and the join counts as done when the push/pull answer of an
//! asked node reaches [`NetworkDb::merge_remote_state`] (memberlist merges the answer, calling
//! `NotifyJoin` then `MergeRemoteState`, before `Join` returns). A join nobody answers gives
//! up after memberlist's `TCPTimeout` per address, [`JOIN_TIMEOUT`].

use std::net::Ipv4Addr;

use super::db::{NetworkDb, Reconnect, Rejoin};
use super::message::{Message, NodeEventType};
use super::{
    NodeName, NodeState, Output, BULK_SYNC_ACK_TIMEOUT, JOIN_TIMEOUT, NODE_REAP_PERIOD,
    RECONNECT_INTERVAL, REJOIN_CLUSTER_DURATION,
};
use crate::engine::{SimDuration, SimTime};

impl NetworkDb {
    /// `Join(members)` keeps the addresses as `bootStrapIP`; Docker passes the managers'.
    pub fn set_bootstrap(&mut self, addrs: Vec<Ipv4Addr>) {
        self.bootstrap = addrs;
    }

    pub fn bootstrap(&self) -> &[Ipv4Addr] {
        &self.bootstrap
    }

    /// `Close` → `clusterLeave`: the node-leave event (`sendNodeEvent(NodeEventTypeLeave)`),
    /// broadcast before memberlist leaves. The caller then makes its member leave and drops
    /// this instance (Go stops every ticker).
    pub fn leave_cluster(&mut self, out: &mut Vec<Output>) {
        self.send_node_event(NodeEventType::Leave, out);
    }

    /// `sendNodeEvent`: a node event at the next network time, for memberlist to broadcast.
    fn send_node_event(&mut self, kind: NodeEventType, out: &mut Vec<Output>) {
        self.network_clock += 1;
        let ltime = self.network_clock;
        out.push(Output::Broadcast(Message::NodeEvent { kind, ltime, node: self.name.clone() }));
    }

    /// The upkeep deadlines `next_timeout` has to honour besides the tickers.
    pub(super) fn upkeep_deadlines(&self) -> impl Iterator<Item = SimTime> + '_ {
        let reconnect = match &self.reconnect {
            Some(Reconnect::Joining { until, .. }) => Some(*until),
            Some(Reconnect::Syncing { until, .. }) => *until,
            None => None,
        };
        let rejoin = self.rejoin.as_ref().map(|r| r.in_flight.unwrap_or(r.next_try));
        [Some(self.next_reconnect), Some(self.next_node_reap), Some(self.next_rejoin)]
            .into_iter()
            .chain([reconnect, rejoin])
            .flatten()
    }

    /// The upkeep part of `handle_timeout`: blocked runs that timed out end, then the
    /// reconnect, dead-node reaper and bootstrap rejoin tickers run if due.
    pub(super) fn upkeep(&mut self, now: SimTime, out: &mut Vec<Output>) {
        self.reconnect_timeouts(now, out);
        if super::periodic::due(&mut self.next_reconnect, now, RECONNECT_INTERVAL) {
            if self.reconnect.is_some() {
                self.reconnect_missed = true;
            } else {
                self.reconnect_node(now, out);
            }
        }
        if super::periodic::due(&mut self.next_node_reap, now, NODE_REAP_PERIOD) {
            self.reap_dead_nodes();
        }
        if super::periodic::due(&mut self.next_rejoin, now, super::REJOIN_CLUSTER_INTERVAL)
            && self.rejoin.is_none()
        {
            self.rejoin_cluster_bootstrap(now);
        }
        self.advance_rejoin(now, out);
    }

    fn reconnect_timeouts(&mut self, now: SimTime, out: &mut Vec<Output>) {
        let expired = match &mut self.reconnect {
            Some(Reconnect::Joining { until, .. }) => *until <= now,
            Some(Reconnect::Syncing { until: Some(until), .. }) => *until <= now,
            Some(Reconnect::Syncing { until, .. }) => {
                *until = Some(now + BULK_SYNC_ACK_TIMEOUT);
                false
            }
            None => false,
        };
        if expired {
            self.end_reconnect(now, out);
        }
    }

    /// The reconnect run is over; the tick Go's ticker kept while it ran fires now.
    fn end_reconnect(&mut self, now: SimTime, out: &mut Vec<Output>) {
        self.reconnect = None;
        if std::mem::take(&mut self.reconnect_missed) {
            self.reconnect_node(now, out);
        }
    }

    /// `reconnectNode`: Join one random failed node; the rest follows its answer.
    fn reconnect_node(&mut self, now: SimTime, out: &mut Vec<Output>) {
        let failed: Vec<(NodeName, Ipv4Addr)> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.state == NodeState::Failed)
            .map(|(name, n)| (name.clone(), n.addr))
            .collect();
        if failed.is_empty() {
            return;
        }
        let (node, addr) = failed[self.rng.index(failed.len())].clone();
        out.push(Output::Join(vec![addr]));
        self.reconnect = Some(Reconnect::Joining { node, until: now + JOIN_TIMEOUT });
    }

    /// The push/pull answer of `node` arrived: a reconnect Join of it succeeded (node-join
    /// event, then a bulk sync of every common network, waiting for its answer); a bootstrap
    /// Join succeeded if `node` is at a bootstrap address (node-join event, retries stop).
    pub(super) fn join_answered(&mut self, node: &str, out: &mut Vec<Output>) {
        if matches!(&self.reconnect, Some(Reconnect::Joining { node: n, .. }) if n == node) {
            self.send_node_event(NodeEventType::Join, out);
            let common = self.common_networks(node);
            self.reconnect = if self.bulk_sync_node(&common, node, true, out) {
                Some(Reconnect::Syncing { node: node.to_string(), until: None })
            } else {
                None
            };
        }
        let addr = self.nodes.get(node).map(|n| n.addr);
        let rejoining = self.rejoin.as_ref().is_some_and(|r| r.in_flight.is_some());
        if rejoining && addr.is_some_and(|a| self.bootstrap.contains(&a)) {
            self.send_node_event(NodeEventType::Join, out);
            self.rejoin = None;
        }
    }

    /// A bulk sync answer from `peer` ends a reconnect waiting for it.
    pub(super) fn reconnect_synced(&mut self, now: SimTime, peer: &str, out: &mut Vec<Output>) {
        if matches!(&self.reconnect, Some(Reconnect::Syncing { node, .. }) if node == peer) {
            self.end_reconnect(now, out);
        }
    }

    /// `reapDeadNode`: count a failed or left node's 24 h down by 2 h; forget it at the end.
    fn reap_dead_nodes(&mut self) {
        let mut forget = Vec::new();
        for (name, reap) in &mut self.node_reap {
            if *reap > NODE_REAP_PERIOD {
                *reap = SimDuration(reap.as_nanos() - NODE_REAP_PERIOD.as_nanos());
            } else {
                forget.push(name.clone());
            }
        }
        for name in forget {
            self.node_reap.remove(&name);
            self.nodes.remove(&name);
        }
    }

    /// `rejoinClusterBootStrap`: unless some active member other than this node is at a
    /// bootstrap address, start `retryJoin` of all of them for 10 s.
    fn rejoin_cluster_bootstrap(&mut self, now: SimTime) {
        if self.bootstrap.is_empty() {
            return;
        }
        let me = self.nodes[&self.name].addr;
        let present = self.nodes.values().any(|n| {
            n.state == NodeState::Active && n.addr != me && self.bootstrap.contains(&n.addr)
        });
        if !present {
            let next_try = now + RECONNECT_INTERVAL;
            self.rejoin =
                Some(Rejoin { ends: now + REJOIN_CLUSTER_DURATION, next_try, in_flight: None });
        }
    }

    /// `retryJoin`: on each 1 s tick a Join of the bootstrap IPs, blocking until answered or
    /// timed out (a tick passed meanwhile fires at once); over when the 10 s end, the
    /// deadline winning a tie with a tick.
    fn advance_rejoin(&mut self, now: SimTime, out: &mut Vec<Output>) {
        let Some(r) = &mut self.rejoin else { return };
        if r.in_flight.is_some_and(|t| t <= now) {
            r.in_flight = None;
        }
        if r.in_flight.is_some() || r.next_try > now {
            return;
        }
        if now >= r.ends {
            self.rejoin = None;
            return;
        }
        while r.next_try <= now {
            r.next_try += RECONNECT_INTERVAL;
        }
        let addrs = self.bootstrap.clone();
        r.in_flight = Some(now + JOIN_TIMEOUT * addrs.len() as u64);
        out.push(Output::Join(addrs));
    }
}
