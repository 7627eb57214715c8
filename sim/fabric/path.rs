//! Control-plane messages (the swarm manager's 2377/tcp, gossip) as the fabric carries
//! them: hop by hop along the routers' path, through each segment's link model.
//!
//! Contract: the path is the fewest segments from the sender to the segment holding the
//! destination address, crossing only routers; each hop is one `serialize` + `propagate`
//! on that segment, exactly as a frame, the next hop starting when the previous one
//! arrives (store and forward). A partition between the two end machines loses the message,
//! as it loses their frames at the last router.
//!
//! A message on a TCP stream (the swarm's gRPC on 2377) is not lost to the link's loss:
//! TCP sends it again after its retransmission timeout, from 200 ms (`TCP_RTO_MIN`)
//! doubling up to 120 s (`TCP_RTO_MAX`), and gives up after 15 retransmissions
//! (`tcp_retries2`), when the connection breaks. The stream delivers in order: a message
//! never arrives before one sent earlier on it.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::Fabric;
use crate::engine::{SimDuration, SimTime};

/// Linux's `TCP_RTO_MIN`: the first retransmission of a segment on a LAN's short RTT.
const TCP_RTO_MIN: SimDuration = SimDuration::from_millis(200);
/// Linux's `TCP_RTO_MAX`: the backoff stops doubling here.
const TCP_RTO_MAX: SimDuration = SimDuration::from_secs(120);
/// Linux's default `net.ipv4.tcp_retries2`: retransmissions before the connection breaks.
const TCP_RETRIES2: u32 = 15;

/// One hop: on `segment`, from attachment `from` to attachment `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hop {
    segment: usize,
    from: usize,
    to: usize,
}

impl Fabric {
    /// A message of `bytes` bytes sent at `now` from machine `from` to the underlay address
    /// `to`: the machine that owns `to` and the one-way delay, or `None` when it is lost,
    /// partitioned away, or nobody (reachable) owns `to`.
    pub fn message_path(
        &mut self,
        now: SimTime,
        from: usize,
        to: Ipv4Addr,
        bytes: usize,
    ) -> Option<(usize, SimDuration)> {
        self.path(now, from, to, bytes, false)
    }

    /// Like `message_path`, for a message on a TCP stream: each transmission the link loses
    /// is sent again after the retransmission timeout, and the message arrives no earlier
    /// than the stream's previous one. `None` when the receiver is partitioned away or
    /// unknown, or every retransmission was lost.
    pub fn stream_path(
        &mut self,
        now: SimTime,
        from: usize,
        to: Ipv4Addr,
        bytes: usize,
    ) -> Option<(usize, SimDuration)> {
        self.path(now, from, to, bytes, true)
    }

    fn path(
        &mut self,
        now: SimTime,
        from: usize,
        to: Ipv4Addr,
        bytes: usize,
        stream: bool,
    ) -> Option<(usize, SimDuration)> {
        let (target, attachment) = self.receiver(from, to)?;
        if target == from {
            return Some((from, SimDuration::ZERO));
        }
        let arrives = if stream {
            let arrives = self.retransmitted(now, from, attachment, bytes)?;
            let last = self.stream_arrivals.entry((from, target)).or_insert(arrives);
            *last = arrives.max(*last);
            *last
        } else {
            self.carry(now, from, attachment, bytes)?
        };
        Some((target, arrives.since(now)))
    }

    /// When the first transmission that the link does not lose arrives, each one sent a
    /// retransmission timeout after the one before.
    fn retransmitted(
        &mut self,
        now: SimTime,
        from: usize,
        attachment: (usize, usize),
        bytes: usize,
    ) -> Option<SimTime> {
        let (mut sent, mut rto) = (now, TCP_RTO_MIN);
        for _ in 0..=TCP_RETRIES2 {
            if let Some(arrives) = self.carry(sent, from, attachment, bytes) {
                return Some(arrives);
            }
            sent += rto;
            rto = (rto + rto).min(TCP_RTO_MAX);
        }
        None
    }

    /// The machine that owns `to` and its attachment (segment, index), unless a partition
    /// separates it from `from`.
    fn receiver(&self, from: usize, to: Ipv4Addr) -> Option<(usize, (usize, usize))> {
        let (dst_segment, dst) = self.owner(to)?;
        let target = self.machine_at(dst_segment, dst);
        (target == from || self.reachable(from, target)).then_some((target, (dst_segment, dst)))
    }

    /// One transmission along the routers' path to attachment `dst` of `dst_segment`: when
    /// it arrives, or `None` when a hop loses it.
    fn carry(
        &mut self,
        now: SimTime,
        from: usize,
        (dst_segment, dst): (usize, usize),
        bytes: usize,
    ) -> Option<SimTime> {
        let mut at = now;
        for hop in self.route(from, dst_segment, dst)? {
            let seg = &mut self.segments[hop.segment];
            let departs = seg.serialize(hop.from, at, bytes);
            at = seg.propagate(hop.from, hop.to, departs)?;
        }
        Some(at)
    }

    /// The hops from machine `from` to attachment `dst` of segment `dst_segment`: a
    /// breadth-first search over segments, crossing routers in the order they were added.
    fn route(&self, from: usize, dst_segment: usize, dst: usize) -> Option<Vec<Hop>> {
        // Segment reached → (the machine that sends on it, the segment it came from).
        let mut reached: IndexMap<usize, (usize, Option<usize>)> = IndexMap::new();
        for (s, seg) in self.segments.iter().enumerate() {
            if seg.index_of_machine(from).is_some() {
                reached.insert(s, (from, None));
            }
        }
        let mut queue: VecDeque<usize> = reached.keys().copied().collect();
        while let Some(s) = queue.pop_front() {
            if s == dst_segment {
                break;
            }
            for &router in &self.routers {
                if self.segments[s].index_of_machine(router).is_none() {
                    continue;
                }
                for (t, seg) in self.segments.iter().enumerate() {
                    if seg.index_of_machine(router).is_some() && !reached.contains_key(&t) {
                        reached.insert(t, (router, Some(s)));
                        queue.push_back(t);
                    }
                }
            }
        }
        self.hops_back(&reached, dst_segment, dst)
    }

    /// Walks the search's trail back from the destination into hops, first hop first.
    fn hops_back(
        &self,
        reached: &IndexMap<usize, (usize, Option<usize>)>,
        dst_segment: usize,
        dst: usize,
    ) -> Option<Vec<Hop>> {
        let mut hops = Vec::new();
        let (mut segment, mut to) = (dst_segment, dst);
        loop {
            let &(sender, previous) = reached.get(&segment)?;
            let from = self.segments[segment].index_of_machine(sender).expect("sender is on it");
            hops.push(Hop { segment, from, to });
            let Some(previous) = previous else { break };
            to = self.segments[previous].index_of_machine(sender).expect("router is on it");
            segment = previous;
        }
        hops.reverse();
        Some(hops)
    }
}
