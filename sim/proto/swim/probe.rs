//! Failure detection (memberlist `state.go` `probe`/`probeNode`, `net.go` `handlePing`,
//! `handleIndirectPing`, `handleAck`, `handleNack`): the round-robin probe, its indirect and
//! TCP fallbacks, the relays this member runs for others, and the health-score updates.

use std::net::SocketAddrV4;

use super::{
    Delegate, IndirectPing, Member, Message, Out, Output, Ping, State, Suspect, Transmit, Transport,
};
use crate::engine::SimTime;

/// The probe in progress (one at a time, as memberlist runs them on one goroutine).
#[derive(Debug, Clone)]
pub(super) struct Probe {
    seq: u32,
    target: String,
    addr: SocketAddrV4,
    /// The target's incarnation when the probe started (what a suspicion will name).
    incarnation: u32,
    /// When the direct ping gives up and the indirect stage starts; None once it has.
    direct_until: Option<SimTime>,
    /// The end of the (health-scaled) probe interval.
    deadline: SimTime,
    expected_nacks: u32,
    nacks: u32,
    tcp_contact: bool,
}

impl Probe {
    pub fn next_deadline(&self) -> SimTime {
        self.direct_until.unwrap_or(self.deadline)
    }
}

/// An indirect ping this member sends on behalf of `requester`.
#[derive(Debug, Clone)]
pub(super) struct Relay {
    local_seq: u32,
    orig_seq: u32,
    requester: SocketAddrV4,
    nack: bool,
    pub deadline: SimTime,
}

impl<D: Delegate> Member<D> {
    /// memberlist `probe`: the next node in the list that is neither this one nor dead.
    pub(super) fn probe(&mut self, now: SimTime, out: &mut Out<D>) {
        let mut checked = 0;
        loop {
            if checked >= self.order.len() {
                return;
            }
            if self.probe_index >= self.order.len() {
                self.reset_nodes(now);
                self.probe_index = 0;
                checked += 1;
                continue;
            }
            let name = self.order[self.probe_index].clone();
            self.probe_index += 1;
            let node = &self.nodes[&name];
            if name == self.config.name || node.state.dead_or_left() {
                checked += 1;
                continue;
            }
            self.probe_node(now, &name, out);
            return;
        }
    }

    /// memberlist `resetNodes`: forget nodes dead or left for longer than
    /// `gossip_to_the_dead`, then shuffle the list.
    fn reset_nodes(&mut self, now: SimTime) {
        let keep_for = self.config.gossip_to_the_dead;
        let nodes = &mut self.nodes;
        self.order.retain(|name| {
            let n = &nodes[name];
            let reap = n.state.dead_or_left() && now.since(n.state_change) > keep_for;
            if reap {
                nodes.shift_remove(name);
            }
            !reap
        });
        self.shuffle_order();
    }

    /// memberlist `probeNode`: a UDP ping, with the suspicion attached when the target is
    /// already suspect (Lifeguard's buddy system, unless switched off).
    fn probe_node(&mut self, now: SimTime, name: &str, out: &mut Out<D>) {
        let node = &self.nodes[name];
        let (addr, incarnation, state) = (node.addr, node.incarnation, node.state);
        let seq = self.next_seq();
        let ping = Message::Ping(self.ping(seq, name));
        if state == State::Alive || !self.config.lifeguard.buddy {
            self.send_udp(addr, ping, out);
        } else {
            let suspect = Message::Suspect(Suspect {
                incarnation,
                node: name.to_string(),
                from: self.config.name.clone(),
            });
            let msg = Message::Compound(vec![ping, suspect]);
            out.push(Output::Send(Transmit { to: addr, transport: Transport::Udp, msg }));
        }
        self.probe = Some(Probe {
            seq,
            target: name.to_string(),
            addr,
            incarnation,
            direct_until: Some(now + self.config.probe_timeout),
            deadline: now + self.awareness.scale(self.config.probe_interval),
            expected_nacks: 0,
            nacks: 0,
            tcp_contact: false,
        });
    }

    fn ping(&self, seq: u32, node: &str) -> Ping {
        Ping {
            seq,
            node: node.to_string(),
            source_addr: self.config.socket(),
            source_node: self.config.name.clone(),
        }
    }

    /// Moves the probe in progress past whichever of its deadlines has come.
    pub(super) fn advance_probe(&mut self, now: SimTime, out: &mut Out<D>) {
        let Some(p) = &self.probe else { return };
        if p.direct_until.is_some_and(|t| t <= now) {
            self.start_indirect(out);
        }
        if self.probe.as_ref().is_some_and(|p| p.direct_until.is_none() && p.deadline <= now) {
            self.finish_failed_probe(now, out);
        }
    }

    /// No ack within the probe timeout: ask `indirect_checks` alive members to ping the
    /// target (expecting nacks, as every peer speaks protocol ≥ 4) and try TCP.
    fn start_indirect(&mut self, out: &mut Out<D>) {
        let p = self.probe.as_mut().expect("probe in progress");
        p.direct_until = None;
        let (seq, target, addr) = (p.seq, p.target.clone(), p.addr);
        let me = self.config.name.clone();
        let helpers = self.k_random_nodes(self.config.indirect_checks, |n| {
            n.name == me || n.name == target || n.state != State::Alive
        });
        for helper in &helpers {
            let ind = IndirectPing {
                seq,
                target: addr,
                node: target.clone(),
                nack: true,
                source_addr: self.config.socket(),
                source_node: me.clone(),
            };
            let to = self.nodes[helper].addr;
            self.send_udp(to, Message::IndirectPing(ind), out);
        }
        self.probe.as_mut().expect("probe in progress").expected_nacks = helpers.len() as u32;
        if !self.config.disable_tcp_pings {
            let msg = Message::Ping(self.ping(seq, &target));
            out.push(Output::Send(Transmit { to: addr, transport: Transport::Tcp, msg }));
        }
    }

    /// The probe interval ran out without a UDP ack: unless TCP got through, raise the
    /// health score by the missing nacks (or 1 when none were expected) and suspect.
    fn finish_failed_probe(&mut self, now: SimTime, out: &mut Out<D>) {
        let p = self.probe.take().expect("probe in progress");
        if p.tcp_contact {
            self.awareness.apply_delta(-1);
        } else {
            let delta =
                if p.expected_nacks > 0 { p.expected_nacks.saturating_sub(p.nacks) } else { 1 };
            self.awareness.apply_delta(i64::from(delta));
            let from = self.config.name.clone();
            let s = Suspect { incarnation: p.incarnation, node: p.target, from };
            self.suspect_node(now, s);
        }
        self.run_pending_probe(now, out);
    }

    fn run_pending_probe(&mut self, now: SimTime, out: &mut Out<D>) {
        if std::mem::take(&mut self.probe_tick_pending) {
            self.probe(now, out);
        }
    }

    /// memberlist `handlePing` (UDP) and the ping case of `handleConn` (TCP): ack pings
    /// meant for this node.
    pub(super) fn on_ping(
        &mut self,
        from: SocketAddrV4,
        transport: Transport,
        p: Ping,
        out: &mut Out<D>,
    ) {
        if !p.node.is_empty() && p.node != self.config.name {
            return;
        }
        let ack = Message::Ack { seq: p.seq };
        match transport {
            Transport::Udp => self.send_udp(from, ack, out),
            Transport::Tcp => {
                out.push(Output::Send(Transmit { to: from, transport, msg: ack }));
            }
        }
    }

    /// memberlist `handleIndirectPing`: ping the target for the requester, forward its ack,
    /// or answer a nack after the probe timeout.
    pub(super) fn on_indirect_ping(
        &mut self,
        now: SimTime,
        from: SocketAddrV4,
        ind: IndirectPing,
        out: &mut Out<D>,
    ) {
        let local_seq = self.next_seq();
        let ping = Message::Ping(self.ping(local_seq, &ind.node));
        self.send_udp(ind.target, ping, out);
        self.relays.push(Relay {
            local_seq,
            orig_seq: ind.seq,
            requester: from,
            nack: ind.nack,
            deadline: now + self.config.probe_timeout,
        });
    }

    pub(super) fn expire_relays(&mut self, now: SimTime, out: &mut Out<D>) {
        let (due, keep): (Vec<Relay>, Vec<Relay>) =
            std::mem::take(&mut self.relays).into_iter().partition(|r| r.deadline <= now);
        self.relays = keep;
        for r in due.into_iter().filter(|r| r.nack) {
            self.send_udp(r.requester, Message::Nack { seq: r.orig_seq }, out);
        }
    }

    /// An ack: completes the probe (UDP), records TCP contact (the fallback ping's answer
    /// comes back on its stream), or is relayed to whoever asked for an indirect ping.
    pub(super) fn on_ack(
        &mut self,
        now: SimTime,
        transport: Transport,
        seq: u32,
        out: &mut Out<D>,
    ) {
        if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq) {
            if transport == Transport::Tcp {
                p.tcp_contact = true;
                return;
            }
            self.probe = None;
            self.awareness.apply_delta(-1);
            self.run_pending_probe(now, out);
            return;
        }
        if let Some(i) = self.relays.iter().position(|r| r.local_seq == seq) {
            let r = self.relays.remove(i);
            self.send_udp(r.requester, Message::Ack { seq: r.orig_seq }, out);
        }
    }

    pub(super) fn on_nack(&mut self, seq: u32) {
        if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq) {
            p.nacks += 1;
        }
    }
}
