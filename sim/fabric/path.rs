//! Control-plane messages (the swarm manager's 2377/tcp, gossip) as the fabric carries
//! them: hop by hop along the routers' path, through each segment's link model.
//!
//! Contract: the path is the fewest segments from the sender to the segment holding the
//! destination address, crossing only routers; each hop is one `serialize` + `propagate`
//! on that segment, exactly as a frame, the next hop starting when the previous one
//! arrives (store and forward). A partition between the two end machines loses the message,
//! as it loses their frames at the last router.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::Fabric;
use crate::engine::{SimDuration, SimTime};

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
        let (dst_segment, dst) = self.owner(to)?;
        let target = self.machine_at(dst_segment, dst);
        if target == from {
            return Some((from, SimDuration::ZERO));
        }
        if !self.reachable(from, target) {
            return None;
        }
        let mut at = now;
        for hop in self.route(from, dst_segment, dst)? {
            let seg = &mut self.segments[hop.segment];
            let departs = seg.serialize(hop.from, at, bytes);
            at = seg.propagate(hop.from, hop.to, departs)?;
        }
        Some((target, at.since(now)))
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
