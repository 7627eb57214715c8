//! Dissemination (memberlist `state.go` `gossip`/`pushPull`, `net.go` `sendMsg`,
//! `handleConn`, `memberlist.go` `Join`/`SendBestEffort`/`SendReliable`): piggybacking on
//! every UDP message, the gossip tick, push-pull anti-entropy over TCP, and joins.

use std::net::SocketAddrV4;

use super::{
    retransmit_limit, Delegate, Member, Message, Out, Output, PushPull, State, Transmit, Transport,
};
use crate::engine::SimTime;

/// memberlist `compoundHeaderOverhead` (type and count bytes) and `compoundOverhead` (the
/// length of each part).
const COMPOUND_HEADER: usize = 2;
const COMPOUND_PART: usize = 2;
/// The `userMsg` type byte in front of a delegate's message.
const USER_MSG_OVERHEAD: usize = 1;
/// memberlist `encryptOverhead` for encryption version 1.
const ENCRYPT_OVERHEAD: usize = 1 + 12 + 16;

impl<D: Delegate> Member<D> {
    fn packet_room(&self) -> usize {
        let enc = if self.config.encrypted { ENCRYPT_OVERHEAD } else { 0 };
        self.config.udp_buffer_size.saturating_sub(COMPOUND_HEADER + enc)
    }

    /// memberlist `getBroadcasts`: this member's queue first, then the delegate's messages
    /// in what room is left.
    fn get_broadcasts(&mut self, overhead: usize, limit: usize) -> Vec<Message<D::Payload>> {
        let transmit_limit = retransmit_limit(self.config.retransmit_mult, self.num_nodes());
        let mut msgs = self.broadcasts.get_broadcasts(overhead, limit, transmit_limit);
        let used: usize = msgs.iter().map(|m| overhead + m.size_bytes()).sum();
        let avail = limit.saturating_sub(used);
        if avail > overhead + USER_MSG_OVERHEAD {
            let user = self.delegate.get_broadcasts(overhead + USER_MSG_OVERHEAD, avail);
            msgs.extend(user.into_iter().map(Message::User));
        }
        msgs
    }

    /// memberlist `sendMsg`: a UDP message with as many broadcasts piggybacked as fit.
    pub(super) fn send_udp(
        &mut self,
        to: SocketAddrV4,
        msg: Message<D::Payload>,
        out: &mut Out<D>,
    ) {
        let avail = self.packet_room().saturating_sub(msg.size_bytes());
        let extra = self.get_broadcasts(COMPOUND_PART, avail);
        let msg = if extra.is_empty() {
            msg
        } else {
            Message::Compound(std::iter::once(msg).chain(extra).collect())
        };
        out.push(Output::Send(Transmit { to, transport: Transport::Udp, msg }));
    }

    /// memberlist `gossip`: queued broadcasts to `gossip_nodes` random members (alive,
    /// suspect, or dead for less than `gossip_to_the_dead`); nothing when nothing is queued.
    pub(super) fn gossip(&mut self, now: SimTime, out: &mut Out<D>) {
        let me = self.config.name.clone();
        let keep_dead = self.config.gossip_to_the_dead;
        let targets = self.k_random_nodes(self.config.gossip_nodes, |n| {
            n.name == me
                || match n.state {
                    State::Alive | State::Suspect => false,
                    State::Dead => now.since(n.state_change) > keep_dead,
                    State::Left => true,
                }
        });
        let room = self.packet_room();
        for name in targets {
            let mut msgs = self.get_broadcasts(COMPOUND_PART, room);
            if msgs.is_empty() {
                return;
            }
            let msg = if msgs.len() == 1 { msgs.remove(0) } else { Message::Compound(msgs) };
            let to = self.nodes[&name].addr;
            out.push(Output::Send(Transmit { to, transport: Transport::Udp, msg }));
        }
    }

    fn push_pull_msg(&mut self, join: bool, reply: bool) -> Message<D::Payload> {
        Message::PushPull(PushPull {
            join,
            reply,
            nodes: self.local_nodes(),
            user_state: self.delegate.local_state(join),
        })
    }

    /// memberlist `pushPull`: a full state exchange with one random alive member.
    pub(super) fn push_pull(&mut self, out: &mut Out<D>) {
        let me = self.config.name.clone();
        let Some(peer) = self.k_random_nodes(1, |n| n.name == me || n.state != State::Alive).pop()
        else {
            return;
        };
        let to = self.nodes[&peer].addr;
        let msg = self.push_pull_msg(false, false);
        out.push(Output::Send(Transmit { to, transport: Transport::Tcp, msg }));
    }

    /// memberlist `Join` (for one seed): a push-pull with `join` set. Whether it worked shows
    /// in the members learned from the answer.
    pub fn join(&mut self, seed: SocketAddrV4, out: &mut Out<D>) {
        let msg = self.push_pull_msg(true, false);
        out.push(Output::Send(Transmit { to: seed, transport: Transport::Tcp, msg }));
    }

    /// A push-pull arrived: the accepting side answers with its own state first
    /// (memberlist `handleConn`), then both merge (`mergeRemoteState`).
    pub(super) fn on_push_pull(
        &mut self,
        now: SimTime,
        from: SocketAddrV4,
        pp: PushPull<D::Payload>,
        out: &mut Out<D>,
    ) {
        if !pp.reply {
            let msg = self.push_pull_msg(pp.join, true);
            out.push(Output::Send(Transmit { to: from, transport: Transport::Tcp, msg }));
        }
        self.merge_state(now, pp.nodes, out);
        if let Some(state) = pp.user_state {
            self.delegate.merge_remote_state(state, pp.join);
        }
    }

    /// memberlist `SendBestEffort`: a delegate message in its own UDP packet.
    pub fn send_best_effort(&mut self, to: SocketAddrV4, msg: D::Payload, out: &mut Out<D>) {
        let msg = Message::User(msg);
        out.push(Output::Send(Transmit { to, transport: Transport::Udp, msg }));
    }

    /// memberlist `SendReliable`: a delegate message over TCP.
    pub fn send_reliable(&mut self, to: SocketAddrV4, msg: D::Payload, out: &mut Out<D>) {
        let msg = Message::User(msg);
        out.push(Output::Send(Transmit { to, transport: Transport::Tcp, msg }));
    }
}
