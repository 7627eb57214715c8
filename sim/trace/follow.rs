//! Which recorded hops belong to the probe, cut into legs (one packet's way each).
//!
//! A walk keeps its packet id through bridges, NAT, IPVS, VXLAN and ESP, and across veths
//! and the underlay, so a packet's hops share its id. A packet another one causes (the
//! SYN-ACK a SYN causes, the ACK a SYN-ACK causes, a RST) gets a new id: its first hop,
//! `socket sends`, is recorded right after the hop of the packet that caused it, on the same
//! machine at the same instant, because the kernel answers within the walk. An ICMP echo
//! reply or error keeps the request's id; its leg starts at its `output` route after the
//! request's delivery.

use indexmap::IndexMap;

use crate::engine::TracedHop;
use crate::kernel::Stage;

/// One packet's way: its id and its hops, in the order they happened.
#[derive(Debug)]
pub(super) struct Leg<'h> {
    pub hops: Vec<&'h TracedHop>,
}

/// The probe's legs among `hops` (recorded since the probe started), `first` being the id
/// of the first packet it sent.
pub(super) fn legs(hops: &[TracedHop], first: u64) -> Vec<Leg<'_>> {
    let mut current: IndexMap<u64, usize> = IndexMap::new();
    let mut legs: Vec<Leg> = Vec::new();
    let mut prev: Option<&TracedHop> = None;
    for h in hops {
        let id = h.hop.packet;
        let known = id == first || current.contains_key(&id);
        if !known && !prev.is_some_and(|p| caused(&current, p, h)) {
            prev = Some(h);
            continue;
        }
        let turns = current.get(&id).is_some_and(|&l| is_turn(legs[l].hops.last(), h));
        if !current.contains_key(&id) || turns {
            current.insert(id, legs.len());
            legs.push(Leg { hops: Vec::new() });
        }
        legs[current[&id]].hops.push(h);
        prev = Some(h);
    }
    legs
}

/// `h` is a packet `p`'s walk sent: its first hop, right after `p`'s, same machine, same time.
fn caused(current: &IndexMap<u64, usize>, p: &TracedHop, h: &TracedHop) -> bool {
    current.contains_key(&p.hop.packet)
        && p.machine == h.machine
        && p.hop.at == h.hop.at
        && h.hop.stage == Stage::Tx
        && h.hop.detail.starts_with("socket sends ")
}

/// A packet delivered here turns into its reply (ICMP echo reply, ICMP error).
fn is_turn(last: Option<&&TracedHop>, h: &TracedHop) -> bool {
    last.is_some_and(|l| l.hop.stage == Stage::Deliver && l.machine == h.machine)
        && h.hop.stage == Stage::Route
        && h.hop.detail.starts_with("output ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;
    use crate::kernel::{Hop, NsRef};

    fn hop(machine: &str, at: u64, packet: u64, stage: Stage, detail: &str) -> TracedHop {
        let hop = Hop {
            at: SimTime(at),
            packet,
            ns: NsRef::Root,
            dev: "-".into(),
            stage,
            detail: detail.into(),
        };
        TracedHop { machine: machine.into(), hop }
    }

    /// The legs of a probe whose first packet is 7, as each leg's hop details.
    fn legs_of(hops: &[TracedHop]) -> Vec<Vec<&str>> {
        let legs = legs(hops, 7);
        legs.iter().map(|l| l.hops.iter().map(|h| h.hop.detail.as_str()).collect()).collect()
    }

    /// A reply sent within the walk joins, strangers do not; an echo reply keeps the
    /// request's id but is a leg of its own, from its `output` route.
    #[test]
    fn replies_join_and_turn() {
        let caused = [
            hop("a", 0, 7, Stage::Tx, "socket sends 1.1.1.1 > 2.2.2.2"),
            hop("b", 0, 3, Stage::Tx, "socket sends 9.9.9.9 > 8.8.8.8"),
            hop("b", 5, 7, Stage::Deliver, "local 2.2.2.2"),
            hop("b", 5, 4, Stage::Tx, "socket sends 2.2.2.2 > 1.1.1.1"),
            hop("b", 6, 5, Stage::Tx, "socket sends 2.2.2.2 > 3.3.3.3"),
            hop("a", 9, 4, Stage::Deliver, "local 1.1.1.1"),
        ];
        let echoed = [
            hop("a", 0, 7, Stage::Tx, "socket sends 1.1.1.1 > 2.2.2.2"),
            hop("b", 5, 7, Stage::Deliver, "local 2.2.2.2"),
            hop("b", 5, 7, Stage::Route, "output 1.1.1.1 via eth0"),
            hop("a", 9, 7, Stage::Deliver, "local 1.1.1.1"),
        ];
        let request = ["socket sends 1.1.1.1 > 2.2.2.2", "local 2.2.2.2"];
        assert_eq!(
            legs_of(&caused),
            [request, ["socket sends 2.2.2.2 > 1.1.1.1", "local 1.1.1.1"]]
        );
        assert_eq!(legs_of(&echoed), [request, ["output 1.1.1.1 via eth0", "local 1.1.1.1"]]);
    }
}
