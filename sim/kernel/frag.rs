//! IPv4 fragmentation state of one namespace, as Linux keeps it: the reassembly queues of
//! `ip_defrag` and the path MTUs learnt from ICMP "fragmentation needed" (the route
//! exceptions `ip route get` shows as `cache expires 599sec mtu 1450`).
//!
//! Contract:
//! - [`FragState::defrag`] queues a fragment by (source, destination, protocol, ident) and
//!   hands back the whole packet once every piece is in, with the largest fragment's size
//!   (`IPCB(skb)->frag_max_size`, which bounds refragmentation on the way out). A queue
//!   older than `ipfrag_time` (30 s) is dropped when the next fragment arrives; overlapping
//!   fragments drop their queue.
//! - [`FragState::learn_pmtu`] records a smaller MTU towards a destination for
//!   `mtu_expires` (600 s), never below `min_pmtu` (552), as `__ip_rt_update_pmtu` does;
//!   [`FragState::pmtu`] reads it back while it lasts.
//! - [`PmtuDisc`] is a socket's `IP_MTU_DISCOVER` mode, which decides DF on what it sends.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::engine::{SimDuration, SimTime};
use crate::wire::{Ipv4Packet, WireError};

use super::walk::{Stage, Walk};
use super::{Kernel, NsRef};

/// `net.ipv4.ipfrag_time`.
const IPFRAG_TIME: SimDuration = SimDuration::from_secs(30);
/// `net.ipv4.route.mtu_expires`.
const MTU_EXPIRES: SimDuration = SimDuration::from_secs(600);
/// `net.ipv4.route.min_pmtu`.
const MIN_PMTU: u32 = 552;

/// A socket's `IP_MTU_DISCOVER` setting (`ping -M want|dont|do`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PmtuDisc {
    /// The default: DF when the datagram fits the path MTU, else fragment it.
    #[default]
    Want,
    /// Never DF; fragment as needed.
    Dont,
    /// Always DF; a datagram larger than the path MTU fails with EMSGSIZE.
    Do,
}

/// What a fragment did to its reassembly queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Defrag {
    /// Pieces are still missing.
    Incomplete,
    /// The last piece came in: the whole packet and the largest fragment's length.
    Complete { packet: Ipv4Packet, max_size: usize },
    /// The pieces could not be put together (overlap, or a payload that does not parse).
    Bad(WireError),
}

/// Reassembly queues are keyed as `ip4_frag_match` does.
type FragKey = (Ipv4Addr, Ipv4Addr, u8, u16);

#[derive(Debug, Clone, PartialEq, Eq)]
struct FragQueue {
    started: SimTime,
    parts: Vec<Ipv4Packet>,
}

/// One namespace's fragment queues and learnt path MTUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FragState {
    queues: BTreeMap<FragKey, FragQueue>,
    /// Destination → (MTU, expiry).
    pmtu: BTreeMap<Ipv4Addr, (u32, SimTime)>,
}

impl FragState {
    /// `ip_defrag` for one fragment.
    ///
    /// # Panics
    /// If `frag` is not a fragment.
    pub fn defrag(&mut self, now: SimTime, frag: Ipv4Packet) -> Defrag {
        assert!(frag.is_fragment(), "defrag of a whole packet");
        self.queues.retain(|_, q| now.since(q.started) < IPFRAG_TIME);
        let key = (frag.src, frag.dst, frag.payload.protocol().number(), frag.ident);
        let queue = self.queues.entry(key).or_insert(FragQueue { started: now, parts: vec![] });
        queue.parts.push(frag);
        let outcome = match Ipv4Packet::reassemble(&queue.parts) {
            None => return Defrag::Incomplete,
            Some(Ok(packet)) => {
                let max_size = queue.parts.iter().map(Ipv4Packet::buffer_len).max();
                Defrag::Complete { packet, max_size: max_size.expect("a complete queue") }
            }
            Some(Err(e)) => Defrag::Bad(e),
        };
        self.queues.remove(&key);
        outcome
    }

    /// An ICMP "fragmentation needed" reported `mtu` towards `dst`, whose route's device
    /// has `dev_mtu`.
    pub fn learn_pmtu(&mut self, now: SimTime, dst: Ipv4Addr, mtu: u32, dev_mtu: u32) {
        let current = self.pmtu(now, dst).unwrap_or(dev_mtu);
        let mtu = mtu.max(MIN_PMTU);
        if mtu < current {
            self.pmtu.insert(dst, (mtu, now + MTU_EXPIRES));
        }
    }

    /// The learnt MTU towards `dst`, if one has not expired.
    pub fn pmtu(&self, now: SimTime, dst: Ipv4Addr) -> Option<u32> {
        self.pmtu.get(&dst).filter(|(_, expires)| now < *expires).map(|(mtu, _)| *mtu)
    }
}

impl Kernel {
    /// `ip_defrag`: queues a fragment; the whole packet once its last piece is in (and
    /// `w.frag_max_size` set for the way out).
    pub(super) fn defrag(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev_name: &str,
        frag: Ipv4Packet,
    ) -> Option<Ipv4Packet> {
        let (ident, len) = (frag.ident, frag.buffer_len());
        match self.ns_mut(ns).frag.defrag(w.now, frag) {
            Defrag::Incomplete => {
                w.hop(
                    ns,
                    dev_name,
                    Stage::Frag,
                    format!("queued fragment id {ident}, {len} bytes"),
                );
                None
            }
            Defrag::Complete { packet, max_size } => {
                let detail = format!("reassembled id {ident}: {} bytes", packet.buffer_len());
                w.hop(ns, dev_name, Stage::Frag, detail);
                w.frag_max_size = Some(max_size);
                Some(packet)
            }
            Defrag::Bad(e) => {
                w.hop(ns, dev_name, Stage::Drop, format!("reassembly of id {ident}: {e}"));
                None
            }
        }
    }

    pub(super) fn dev_mtu(&self, ns: &NsRef, dev: u32) -> u32 {
        self.ns(ns).expect("live").link(dev).mtu
    }

    /// The MTU local output uses towards `dst` over `dev`: the device's, or a smaller one
    /// learnt from ICMP.
    pub(super) fn path_mtu(&self, now: SimTime, ns: &NsRef, dev: u32, dst: Ipv4Addr) -> u32 {
        let n = self.ns(ns).expect("live");
        let dev_mtu = n.link(dev).mtu;
        n.frag.pmtu(now, dst).map_or(dev_mtu, |mtu| mtu.min(dev_mtu))
    }

    /// The MTU a socket of `ns` sees towards `dst` (`IP_MTU`), if there is a route.
    pub(super) fn route_mtu(&self, now: SimTime, ns: &NsRef, dst: Ipv4Addr) -> Option<u32> {
        let (dev, _) = self.route_out(ns, dst)?;
        Some(self.path_mtu(now, ns, dev, dst))
    }

    /// `icmp_send(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu)` about `pkt`, which is dropped.
    pub(super) fn frag_needed(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev_name: &str,
        pkt: &Ipv4Packet,
        mtu: u32,
    ) {
        let detail = format!("{}-byte packet exceeds MTU {mtu} with DF set", pkt.buffer_len());
        w.hop(ns, dev_name, Stage::Drop, detail);
        let Some(src) = self.ns(ns).expect("live").source_for(pkt.src) else { return };
        let mtu = u16::try_from(mtu).unwrap_or(u16::MAX);
        self.dest_unreachable(w, ns, src, pkt, 4, mtu);
    }

    /// An ICMP "fragmentation needed" addressed here: the path MTU towards the quoted
    /// packet's destination drops to the reported MTU.
    pub(super) fn learn_pmtu(&mut self, now: SimTime, ns: &NsRef, dst: Ipv4Addr, mtu: u16) {
        let Some((dev, _)) = self.route_out(ns, dst) else { return };
        let dev_mtu = self.dev_mtu(ns, dev);
        self.ns_mut(ns).frag.learn_pmtu(now, dst, u32::from(mtu), dev_mtu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IcmpRepr, IpPayload};

    const DST: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 2);

    fn at(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    fn big(ident: u16) -> Ipv4Packet {
        Ipv4Packet {
            src: Ipv4Addr::new(10, 9, 1, 2),
            dst: DST,
            ttl: 64,
            ident,
            dont_fragment: false,
            payload: IpPayload::Icmp(IcmpRepr::EchoRequest {
                ident: 1,
                seq: 1,
                data: vec![7; 1500],
            }),
        }
    }

    #[test]
    fn reassembles_once_every_piece_is_in() {
        let mut state = FragState::default();
        let pieces = big(9).fragment(1450);
        assert_eq!(state.defrag(at(0), pieces[1].clone()), Defrag::Incomplete);
        // Another packet's piece with a different ident waits in its own queue.
        assert_eq!(state.defrag(at(0), big(10).fragment(1450)[0].clone()), Defrag::Incomplete);
        assert_eq!(
            state.defrag(at(1), pieces[0].clone()),
            Defrag::Complete { packet: big(9), max_size: 1444 }
        );
        // The queue is gone: the same piece again starts a new one.
        assert_eq!(state.defrag(at(1), pieces[0].clone()), Defrag::Incomplete);
    }

    #[test]
    fn a_queue_expires_after_ipfrag_time() {
        let mut state = FragState::default();
        let pieces = big(9).fragment(1450);
        assert_eq!(state.defrag(at(0), pieces[0].clone()), Defrag::Incomplete);
        assert_eq!(state.defrag(at(30), pieces[1].clone()), Defrag::Incomplete);
        assert_eq!(state.queues.len(), 1, "the stale first piece was dropped");
    }

    #[test]
    fn path_mtu_is_learnt_lowered_only_and_expires() {
        let mut state = FragState::default();
        state.learn_pmtu(at(0), DST, 1500, 1500);
        assert_eq!(state.pmtu(at(0), DST), None, "not below the device MTU");
        state.learn_pmtu(at(0), DST, 1450, 1500);
        assert_eq!(state.pmtu(at(599), DST), Some(1450));
        state.learn_pmtu(at(1), DST, 1480, 1500);
        assert_eq!(state.pmtu(at(2), DST), Some(1450), "a larger report does not raise it");
        assert_eq!(state.pmtu(at(600), DST), None);
        state.learn_pmtu(at(700), DST, 100, 1500);
        assert_eq!(state.pmtu(at(700), DST), Some(552), "min_pmtu");
    }
}
