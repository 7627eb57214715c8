//! The HTML report's packet data: every packet of the run (a packet id of the world, which
//! a frame keeps across veths, LANs and VXLAN tunnels, and which the ARP exchange and the
//! echo reply it causes share), its hops, and for each hop the frame the packet carried
//! there, as header layers.
//!
//! Contract: built from the `Outcome` alone, in the order of the packets' first hops, so
//! the same run gives the same JSON. A hop's frame is the last one the packet was sent
//! with at or before the hop (a `tx` hop's own frame); hops before its first transmission
//! (the socket's send, routing, OUTPUT) show the frame it first leaves with. Identical
//! header sets are stored once.

use indexmap::{IndexMap, IndexSet};
use serde::Serialize;

use crate::engine::{TracedFrame, TracedHop};
use crate::kernel::Stage;
use crate::runner::Outcome;

use super::headers::{self, Layer};

/// What the report's script reads.
#[derive(Debug, Serialize)]
pub struct PacketData {
    /// Machine names; hops and frames refer to them by index.
    pub machines: Vec<String>,
    /// Distinct header sets; frames refer to them by index.
    pub layers: Vec<Vec<Layer>>,
    /// Frames some hop shows: (machine, namespace, device, time, layers index).
    pub frames: Vec<(usize, String, String, String, usize)>,
    pub packets: Vec<PacketRow>,
}

#[derive(Debug, Serialize)]
pub struct PacketRow {
    /// The packet's number in the report, from 1.
    pub n: usize,
    /// When its first hop happened.
    pub t: String,
    /// The machine of its first hop, by index.
    pub from: usize,
    /// tcpdump's line for the first frame it was sent with (else its first hop's detail).
    pub summary: String,
    pub protos: Vec<&'static str>,
    /// Machines it visited, by index.
    pub hosts: Vec<usize>,
    /// Devices it crossed (`eth0`, `docker0`, `vxlan0`, …), sorted.
    pub devs: Vec<String>,
    pub dropped: bool,
    pub hops: Vec<HopRow>,
}

/// time, machine, namespace, device, stage, detail, frame (index into `frames`).
pub type HopRow = (String, usize, String, String, String, String, Option<usize>);

/// Frames and layers, shared by all packets.
#[derive(Default)]
struct Tables {
    machines: IndexSet<String>,
    layers: IndexMap<String, Vec<Layer>>,
    frames: IndexMap<usize, (usize, String, String, String, usize)>,
}

impl Tables {
    fn machine(&mut self, name: &str) -> usize {
        self.machines.insert_full(name.to_string()).0
    }

    /// The index of `outcome.frames[i]` in the frames table.
    fn frame(&mut self, i: usize, f: &TracedFrame) -> usize {
        if let Some(at) = self.frames.get_index_of(&i) {
            return at;
        }
        let layers = headers::layers(&f.frame);
        let key = serde_json::to_string(&layers).expect("plain data serializes");
        let l = self.layers.insert_full(key, layers).0;
        let m = self.machine(&f.machine);
        let entry = (m, f.ns.to_string(), f.dev.clone(), f.at.to_string(), l);
        self.frames.insert_full(i, entry).0
    }
}

/// Every packet of the run, with its hops and frames.
pub fn packets(outcome: &Outcome) -> PacketData {
    let mut hops_of: IndexMap<u64, Vec<usize>> = IndexMap::new();
    for (i, h) in outcome.hops.iter().enumerate() {
        hops_of.entry(h.hop.packet).or_default().push(i);
    }
    let mut frames_of: IndexMap<u64, Vec<usize>> = IndexMap::new();
    for (i, f) in outcome.frames.iter().enumerate() {
        frames_of.entry(f.packet).or_default().push(i);
    }
    let mut t = Tables::default();
    for name in outcome.hops.iter().map(|h| &h.machine) {
        t.machine(name);
    }
    let packets = hops_of
        .iter()
        .enumerate()
        .map(|(n, (id, hops))| {
            let frames = frames_of.get(id).map_or(&[][..], Vec::as_slice);
            packet_row(&mut t, outcome, n + 1, hops, frames)
        })
        .collect();
    PacketData {
        machines: t.machines.into_iter().collect(),
        layers: t.layers.into_values().collect(),
        frames: t.frames.into_values().collect(),
        packets,
    }
}

fn packet_row(
    t: &mut Tables,
    outcome: &Outcome,
    n: usize,
    hops: &[usize],
    frames: &[usize],
) -> PacketRow {
    let first = &outcome.hops[hops[0]];
    let mut protos: Vec<&'static str> = Vec::new();
    let mut devs: Vec<String> = Vec::new();
    for f in frames.iter().map(|&i| &outcome.frames[i]) {
        for p in headers::protocols(&f.frame) {
            if !protos.contains(&p) {
                protos.push(p);
            }
        }
        devs.push(f.dev.clone());
    }
    let rows: Vec<HopRow> = hops.iter().map(|&g| hop_row(t, outcome, g, frames)).collect();
    devs.extend(hops.iter().map(|&g| outcome.hops[g].hop.dev.clone()).filter(|d| d != "-"));
    devs.sort();
    devs.dedup();
    let mut hosts: Vec<usize> = rows.iter().map(|r| r.1).collect();
    hosts.sort();
    hosts.dedup();
    let summary = frames
        .first()
        .map_or_else(|| first.hop.detail.clone(), |&i| outcome.frames[i].frame.to_string());
    PacketRow {
        n,
        t: first.hop.at.to_string(),
        from: t.machine(&first.machine),
        summary,
        protos,
        hosts,
        devs,
        dropped: hops.iter().any(|&g| outcome.hops[g].hop.stage == Stage::Drop),
        hops: rows,
    }
}

/// Hop `g` of the run, with the frame its packet carried there.
fn hop_row(t: &mut Tables, outcome: &Outcome, g: usize, frames: &[usize]) -> HopRow {
    let TracedHop { machine, hop } = &outcome.hops[g];
    let upto = g + usize::from(hop.stage == Stage::Tx);
    let shown = frames.iter().rev().find(|&&i| outcome.frames[i].after <= upto).or(frames.first());
    let frame = shown.map(|&i| t.frame(i, &outcome.frames[i]));
    (
        hop.at.to_string(),
        t.machine(machine),
        hop.ns.to_string(),
        hop.dev.clone(),
        hop.stage.to_string(),
        hop.detail.clone(),
        frame,
    )
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::engine::SimTime;
    use crate::kernel::{Hop, NsRef};
    use crate::wire::{ArpOp, ArpRepr, EtherPayload, EthernetFrame, MacAddr};

    fn hop(packet: u64, dev: &str, stage: Stage) -> TracedHop {
        let hop = Hop {
            at: SimTime::ZERO,
            packet,
            ns: NsRef::Root,
            dev: dev.into(),
            stage,
            detail: format!("{stage} on {dev}"),
        };
        TracedHop { machine: "h".into(), hop }
    }

    fn arp(packet: u64, after: usize, target: u8) -> TracedFrame {
        let frame = EthernetFrame {
            dst: MacAddr([0xff; 6]),
            src: MacAddr([2, 0x42, 0, 0, 0, 1]),
            payload: EtherPayload::Arp(ArpRepr {
                op: ArpOp::Request,
                sender_mac: MacAddr([2, 0x42, 0, 0, 0, 1]),
                sender_ip: Ipv4Addr::new(10, 0, 0, 1),
                target_mac: MacAddr([0; 6]),
                target_ip: Ipv4Addr::new(10, 0, 0, target),
            }),
        };
        let (machine, ns, dev) = ("h".into(), NsRef::Root, "eth0".into());
        TracedFrame { at: SimTime::ZERO, machine, ns, dev, packet, after, frame }
    }

    /// Runs `packets` on hops and frames alone.
    fn data(hops: Vec<TracedHop>, frames: Vec<TracedFrame>) -> PacketData {
        let mut outcome = crate::report::html::tests::empty_outcome();
        outcome.hops = hops;
        outcome.frames = frames;
        packets(&outcome)
    }

    #[test]
    fn each_hop_shows_the_frame_sent_last_and_a_tx_hop_its_own() {
        // Packet 7: route, tx (frame A), rx elsewhere, tx (frame B); packet 9 in between.
        let hops = vec![
            hop(7, "-", Stage::Route),
            hop(7, "eth0", Stage::Tx),
            hop(9, "eth0", Stage::Drop),
            hop(7, "eth1", Stage::Rx),
            hop(7, "eth1", Stage::Tx),
        ];
        let frames = vec![arp(7, 2, 2), arp(7, 5, 3)];
        let d = data(hops, frames);
        assert_eq!(d.packets.len(), 2);
        let p = &d.packets[0];
        assert_eq!((p.n, p.protos.clone(), p.dropped), (1, vec!["ARP"], false));
        assert_eq!(p.devs, ["eth0", "eth1"]);
        let shown: Vec<Option<usize>> = p.hops.iter().map(|h| h.6).collect();
        assert_eq!(shown, [Some(0), Some(0), Some(0), Some(1)]);
        assert_eq!(d.frames.len(), 2);
        assert_eq!(d.layers.len(), 2, "two different targets, two header sets");
        assert_eq!(d.layers[1][1].1[4], ("target IP", "10.0.0.3".to_string()));
        let q = &d.packets[1];
        assert_eq!((q.n, q.dropped, q.hops[0].6), (2, true, None));
        assert_eq!(q.summary, "DROP on eth0");
    }

    #[test]
    fn identical_headers_are_stored_once() {
        let hops = vec![hop(1, "eth0", Stage::Tx), hop(1, "eth0", Stage::Tx)];
        let d = data(hops, vec![arp(1, 1, 2), arp(1, 2, 2)]);
        assert_eq!((d.frames.len(), d.layers.len()), (2, 1));
    }
}
