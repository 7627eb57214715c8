//! The tickers (`cluster.go`): gossip, periodic bulk sync, `reapState`, and the bulk syncs
//! of a network join, which wait for each answer up to 30 s. The cluster upkeep tickers are
//! in `cluster.rs`.

use super::db::{JoinSync, NetworkDb};
use super::message::{Message, TableEvent, TableEventType};
use super::{
    NetworkId, NodeName, Output, Transport, BULK_SYNC_ACK_TIMEOUT, BULK_SYNC_INTERVAL,
    GOSSIP_INTERVAL, PACKET_BUFFER_SIZE, REAP_PERIOD,
};
use crate::engine::{SimDuration, SimTime};

/// `compoundHeaderOverhead`: type byte and part count.
const COMPOUND_HEADER_OVERHEAD: usize = 5;
/// `compoundOverhead`: the length prefix of each part.
const COMPOUND_OVERHEAD: usize = 4;
/// `gossip`: peers each compound goes to.
const GOSSIP_FANOUT: usize = 3;

impl NetworkDb {
    /// The earliest instant `handle_timeout` has work to do.
    pub fn next_timeout(&self) -> SimTime {
        let syncs = self.join_syncs.iter().filter_map(|s| s.waiting.as_ref().map(|w| w.1));
        let tickers = [self.next_gossip, self.next_bulk_sync, self.next_reap];
        syncs.chain(tickers).chain(self.upkeep_deadlines()).min().expect("tickers")
    }

    /// Run every ticker due at `now` (a late call runs each once, as Go tickers drop ticks).
    pub fn handle_timeout(&mut self, now: SimTime, out: &mut Vec<Output>) {
        if self.join_syncs.iter().any(|s| s.waiting.as_ref().is_some_and(|w| w.1 <= now)) {
            for sync in &mut self.join_syncs {
                if sync.waiting.as_ref().is_some_and(|w| w.1 <= now) {
                    sync.waiting = None;
                }
            }
            self.advance_join_syncs(now, out);
        }
        if due(&mut self.next_reap, now, REAP_PERIOD) {
            self.reap_state();
        }
        if due(&mut self.next_gossip, now, GOSSIP_INTERVAL) {
            self.gossip(out);
        }
        if due(&mut self.next_bulk_sync, now, BULK_SYNC_INTERVAL) {
            self.bulk_sync_tables(out);
        }
        self.upkeep(now, out);
    }

    /// `gossip`: per own network, the queued events as one compound to 3 random peers.
    fn gossip(&mut self, out: &mut Vec<Output>) {
        let ids: Vec<NetworkId> = self.own.keys().cloned().collect();
        for id in ids {
            let count = self.network_nodes(&id).len();
            let own = self.own.get_mut(&id).expect("listed above");
            let limit = PACKET_BUFFER_SIZE - COMPOUND_HEADER_OVERHEAD;
            let events = own.queue.take(COMPOUND_OVERHEAD, limit, count);
            if events.is_empty() {
                continue;
            }
            // Go draws the peers first; drawing them only when there is something to send
            // changes no outcome (its draws are independent) and spares idle ticks the copy.
            let nodes = self.network_nodes(&id).to_vec();
            let peers = self.random_nodes(GOSSIP_FANOUT, &nodes);
            let compound = Message::Compound(events.into_iter().map(Message::TableEvent).collect());
            for peer in peers {
                if !self.is_active(&peer) {
                    break;
                }
                out.push(Output::Send {
                    to: peer,
                    transport: Transport::Udp,
                    msg: compound.clone(),
                });
            }
        }
    }

    /// `bulkSyncTables`: per own network not yet covered, one random peer gets all the
    /// networks it shares with this node.
    fn bulk_sync_tables(&mut self, out: &mut Vec<Output>) {
        let mut pending: Vec<NetworkId> = self.joined_networks();
        while !pending.is_empty() {
            let id = pending.remove(0);
            let nodes = self.network_nodes(&id).to_vec();
            // `bulkSync` draws two and stops at the first send that succeeds.
            let Some(peer) = self.random_nodes(2, &nodes).into_iter().next() else { continue };
            let common = self.common_networks(&peer);
            self.bulk_sync_node(&common, &peer, true, out);
            pending.retain(|n| !common.contains(n));
        }
    }

    /// `bulkSyncNode`: every entry and tombstone of `networks` to `peer` over TCP; false if
    /// `peer` is not a live member (nothing is sent).
    pub(super) fn bulk_sync_node(
        &mut self,
        networks: &[NetworkId],
        peer: &str,
        unsolicited: bool,
        out: &mut Vec<Output>,
    ) -> bool {
        if !self.is_active(peer) {
            return false;
        }
        let mut payload = Vec::new();
        for id in networks {
            for ((n, table, key), e) in
                self.entries.range((id.clone(), String::new(), String::new())..)
            {
                if n != id {
                    break;
                }
                payload.push(TableEvent {
                    kind: if e.deleting { TableEventType::Delete } else { TableEventType::Create },
                    ltime: e.ltime,
                    node: e.owner.clone(),
                    network: id.clone(),
                    table: table.clone(),
                    key: key.clone(),
                    value: e.value.clone(),
                    residual_reap_secs: (e.reap.as_nanos() / 1_000_000_000) as u32,
                });
            }
        }
        let msg = Message::BulkSync {
            ltime: self.table_clock,
            unsolicited,
            node: self.name.clone(),
            networks: networks.to_vec(),
            payload,
        };
        out.push(Output::Send { to: peer.to_string(), transport: Transport::Tcp, msg });
        true
    }

    /// The answer to a bulk sync from `peer` arrived (`bulkSyncAckTbl`).
    pub(super) fn bulk_sync_acked(&mut self, now: SimTime, peer: &str, out: &mut Vec<Output>) {
        for sync in &mut self.join_syncs {
            if sync.waiting.as_ref().is_some_and(|w| w.0 == peer) {
                sync.waiting = None;
            }
        }
        self.advance_join_syncs(now, out);
        self.reconnect_synced(now, peer, out);
    }

    /// Start the next bulk sync of each join not waiting; a join with none left marks its
    /// network in sync.
    pub(super) fn advance_join_syncs(&mut self, now: SimTime, out: &mut Vec<Output>) {
        let mut syncs = std::mem::take(&mut self.join_syncs);
        for sync in &mut syncs {
            while sync.waiting.is_none() && !sync.remaining.is_empty() {
                let peer = sync.remaining.remove(0);
                let common = self.common_networks(&peer);
                if self.bulk_sync_node(&common, &peer, true, out) {
                    sync.waiting = Some((peer, now + BULK_SYNC_ACK_TIMEOUT));
                }
            }
        }
        let (done, active): (Vec<JoinSync>, Vec<JoinSync>) =
            syncs.into_iter().partition(|s| s.waiting.is_none() && s.remaining.is_empty());
        self.join_syncs = active;
        for sync in done {
            if let Some(own) = self.own.get_mut(&sync.network) {
                own.in_sync = true;
            }
        }
    }

    /// `findCommonNetworks`: own networks `peer` is in and not leaving.
    pub(super) fn common_networks(&self, peer: &str) -> Vec<NetworkId> {
        let theirs = self.networks.get(peer);
        self.own
            .keys()
            .filter(|id| theirs.and_then(|t| t.get(*id)).is_some_and(|a| !a.leaving))
            .cloned()
            .collect()
    }

    /// `mRandomNodes`: up to `m` distinct nodes other than this one, probing 3 × n times.
    fn random_nodes(&mut self, m: usize, nodes: &[NodeName]) -> Vec<NodeName> {
        let mut picked: Vec<NodeName> = Vec::new();
        for _ in 0..3 * nodes.len() {
            if picked.len() >= m {
                break;
            }
            let node = &nodes[self.rng.index(nodes.len())];
            if *node != self.name && !picked.contains(node) {
                picked.push(node.clone());
            }
        }
        picked
    }

    /// `reapState`: count down left networks, then tombstones of the networks this node is
    /// attached to, dropping those that ran out.
    fn reap_state(&mut self) {
        let step = |reap: &mut SimDuration| -> bool {
            if *reap == SimDuration::ZERO {
                return false;
            }
            *reap = SimDuration(reap.as_nanos().saturating_sub(REAP_PERIOD.as_nanos()));
            true
        };
        for nets in self.networks.values_mut() {
            nets.retain(|_, a| !a.leaving || step(&mut a.reap));
        }
        self.own.retain(|_, o| !o.att.leaving || step(&mut o.att.reap));
        // An extra second keeps the residual time sent on the wire strictly positive.
        let keep_above = REAP_PERIOD + SimDuration::from_secs(1);
        let own = &self.own;
        self.entries.retain(|(n, _, _), e| {
            if !e.deleting || !own.contains_key(n) {
                return true;
            }
            if e.reap > keep_above {
                e.reap = SimDuration(e.reap.as_nanos() - REAP_PERIOD.as_nanos());
                return true;
            }
            false
        });
    }
}

/// A ticker: true if it fired, then rearmed one interval on (after `now` if late).
pub(super) fn due(next: &mut SimTime, now: SimTime, interval: SimDuration) -> bool {
    if *next > now {
        return false;
    }
    *next += interval;
    if *next <= now {
        *next = now + interval;
    }
    true
}
