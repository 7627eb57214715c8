//! The encrypted overlay's keys on one node: how libnetwork's controller takes the swarm's
//! `networking:ipsec` keys (`agent.go`: `getKeys`, `handleKeyChange`, `getPrimaryKeyTag`)
//! and how the overlay driver turns them into SAs per remote VTEP (`encryption.go`:
//! `setKeys`, `updateKeys`, `updateNodeKey`, `checkEncryption`, `setupEncryption`).
//!
//! Contract:
//! - The first keys a node gets become the driver's keys in `getKeys` order: by Lamport
//!   time with the first two swapped, so the primary (transmit) key, first, is the
//!   second-oldest (docker-facts 37).
//! - A later key set is diffed against the last: at most one key added, one pruned, and
//!   the primary is again the second-oldest. Every remote VTEP's SAs then go through the
//!   rotation `-rSA(pruned) +rSA(new) +fSA(primary) fSP update -fSA(old primary)`.
//! - [`OverlayEncryption::setup`] programs one remote VTEP once (the mangle mark rule once
//!   per host first); [`OverlayEncryption::remove`] undoes it.
//!
//! The gossip keys (`networking:gossip`) encrypt memberlist in Docker; the simulated
//! memberlist is not encrypted, so they are not used.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::overlay_crypto::{
    mangle_mark_op, outbound_policy, program_sa, remove_sa, setup_encryption, OverlayKey,
    SaDirection, SpiPair,
};
use super::swarm::store::{EncryptionKey, KeySubsystem};
use crate::kernel::{KernelOp, NsRef};

/// The data-path port the SAs' policies match (`vxlanPort`).
const DATA_PORT: u16 = 4789;

/// The addresses the SAs are built from: the bind address (the SAs' own addresses) and the
/// advertise address (the SPIs' input). Docker's defaults make them one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vtep {
    pub local: Ipv4Addr,
    pub advertise: Ipv4Addr,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayEncryption {
    /// The controller's `networking:ipsec` keys as last received.
    received: Vec<EncryptionKey>,
    /// The driver's keys, the primary first.
    keys: Vec<OverlayKey>,
    /// `secMap`: per remote VTEP, the SPIs of each key, in the order of `keys`.
    nodes: IndexMap<Ipv4Addr, Vec<SpiPair>>,
    /// The VNIs whose mark rule is installed.
    marked_vnis: Vec<u32>,
}

/// What a key change asks of the driver (`DriverEncryptionUpdate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyUpdate {
    new: Option<OverlayKey>,
    primary: Option<OverlayKey>,
    prune: Option<OverlayKey>,
}

fn overlay_key(k: &EncryptionKey) -> OverlayKey {
    OverlayKey { value: k.key, tag: k.lamport_time as u32 }
}

impl OverlayEncryption {
    /// The driver has keys: a secure network can be joined.
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// `SetNetworkBootstrapKeys`: the swarm's keys, as every heartbeat brings them. Returns
    /// the ops that re-key the remote VTEPs already programmed.
    pub fn set_keys(&mut self, keys: &[EncryptionKey], vtep: Vtep) -> Vec<KernelOp> {
        let mut ipsec: Vec<EncryptionKey> =
            keys.iter().filter(|k| k.subsystem == KeySubsystem::Ipsec).copied().collect();
        ipsec.sort_by_key(|k| k.lamport_time);
        if self.received.is_empty() {
            self.keys = ipsec.iter().map(overlay_key).collect();
            if self.keys.len() > 1 {
                self.keys.swap(0, 1);
            }
            self.received = ipsec;
            return Vec::new();
        }
        let update = KeyUpdate {
            new: ipsec.iter().find(|k| !self.received.contains(k)).map(overlay_key),
            prune: self.received.iter().find(|k| !ipsec.contains(k)).map(overlay_key),
            primary: ipsec.get(1).map(overlay_key),
        };
        self.received = ipsec;
        self.update_keys(update, vtep)
    }

    /// `updateKeys`: the new key appended, every node re-keyed, then the primary swapped to
    /// the front and the pruned key dropped.
    fn update_keys(&mut self, u: KeyUpdate, vtep: Vtep) -> Vec<KernelOp> {
        if let Some(k) = u.new {
            self.keys.push(k);
        }
        let find = |k: Option<OverlayKey>| k.and_then(|k| self.keys.iter().position(|x| *x == k));
        let idx = Indices {
            new: u.new.map(|_| self.keys.len() - 1),
            primary: find(u.primary),
            prune: find(u.prune),
        };
        let mut ops = Vec::new();
        for (remote, spis) in self.nodes.iter_mut() {
            ops.extend(update_node_key(vtep, *remote, spis, &self.keys, idx));
        }
        rearrange(&mut self.keys, idx);
        ops
    }

    /// `setupEncryption` for one remote VTEP of network `vni`: the VNI's mark rule if it is
    /// missing, then the remote's SAs if they are. Without keys nothing is programmed
    /// (`checkEncryption`: "encryption key is not present").
    pub fn setup(&mut self, vtep: Vtep, remote: Ipv4Addr, vni: u32) -> Vec<KernelOp> {
        let mut ops = Vec::new();
        if !self.has_keys() {
            return ops;
        }
        if !self.marked_vnis.contains(&vni) {
            self.marked_vnis.push(vni);
            ops.push(mangle_mark_op(vni, DATA_PORT));
        }
        if self.nodes.contains_key(&remote) {
            return ops;
        }
        ops.extend(setup_encryption(vtep.local, vtep.advertise, remote, &self.keys, DATA_PORT));
        let spis = self.keys.iter().map(|k| SpiPair::new(vtep.advertise, remote, k)).collect();
        self.nodes.insert(remote, spis);
        ops
    }

    /// Leaving the swarm: every remote's SAs and policies go with the keys
    /// (`clearEncryptionStates`); the mangle rule stays, as libnetwork leaves it.
    pub fn clear(&mut self, vtep: Vtep) -> Vec<KernelOp> {
        let remotes: Vec<Ipv4Addr> = self.nodes.keys().copied().collect();
        let ops = remotes.into_iter().flat_map(|r| self.remove(vtep, r)).collect();
        (self.received, self.keys) = (Vec::new(), Vec::new());
        ops
    }

    /// `removeEncryption`: the remote's SAs and policy deleted.
    pub fn remove(&mut self, vtep: Vtep, remote: Ipv4Addr) -> Vec<KernelOp> {
        let Some(spis) = self.nodes.shift_remove(&remote) else { return Vec::new() };
        let mut ops = Vec::new();
        for (i, s) in spis.iter().enumerate() {
            let dir = if i == 0 { SaDirection::Both } else { SaDirection::Reverse };
            ops.extend(remove_sa(vtep.local, remote, *s, dir));
            if i == 0 {
                let policy = outbound_policy(vtep.local, remote, s.forward, DATA_PORT);
                ops.push(KernelOp::XfrmPolicyDel { ns: NsRef::Root, policy });
            }
        }
        ops
    }
}

/// Positions in the driver's key list (after the new key is appended).
#[derive(Debug, Clone, Copy)]
struct Indices {
    new: Option<usize>,
    primary: Option<usize>,
    prune: Option<usize>,
}

/// The swap to the front and the prune that `updateKeys` and `updateNodeKey` both do: a
/// pruned entry at the front has just been swapped to the primary's old place.
fn rearrange<T>(list: &mut Vec<T>, idx: Indices) {
    if let Some(p) = idx.primary {
        list.swap(0, p);
    }
    if let Some(d) = idx.prune {
        let d = if d == 0 { idx.primary.expect("a pruned primary has a successor") } else { d };
        list.remove(d);
    }
}

/// `updateNodeKey` for one remote VTEP.
fn update_node_key(
    vtep: Vtep,
    remote: Ipv4Addr,
    spis: &mut Vec<SpiPair>,
    keys: &[OverlayKey],
    idx: Indices,
) -> Vec<KernelOp> {
    let mut ops = Vec::new();
    if let Some(n) = idx.new {
        spis.push(SpiPair::new(vtep.advertise, remote, &keys[n]));
    }
    if let Some(d) = idx.prune {
        ops.extend(remove_sa(vtep.local, remote, spis[d], SaDirection::Reverse));
    }
    if let Some(n) = idx.new {
        ops.extend(program_sa(vtep.local, remote, spis[n], &keys[n], SaDirection::Reverse));
    }
    if let Some(p) = idx.primary.filter(|p| *p > 0) {
        ops.extend(program_sa(vtep.local, remote, spis[p], &keys[p], SaDirection::Forward));
        let policy = outbound_policy(vtep.local, remote, spis[p].forward, DATA_PORT);
        ops.push(KernelOp::XfrmPolicyUpdate { ns: NsRef::Root, policy });
        ops.extend(remove_sa(vtep.local, remote, spis[0], SaDirection::Forward));
    }
    rearrange(spis, idx);
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 4);
    const H2: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 5);
    const VTEP: Vtep = Vtep { local: H1, advertise: H1 };
    const VNI: u32 = 4098;

    fn key(t: u64) -> EncryptionKey {
        EncryptionKey { subsystem: KeySubsystem::Ipsec, key: [t as u8; 16], lamport_time: t }
    }

    fn gossip(t: u64) -> EncryptionKey {
        EncryptionKey { subsystem: KeySubsystem::Gossip, ..key(t) }
    }

    fn tags(e: &OverlayEncryption) -> Vec<u32> {
        e.keys.iter().map(|k| k.tag).collect()
    }

    #[test]
    fn nothing_is_programmed_before_the_keys_arrive() {
        let mut e = OverlayEncryption::default();
        assert!(e.setup(VTEP, H2, VNI).is_empty());
        e.set_keys(&[key(4), key(5), key(6)], VTEP);
        assert_eq!(e.setup(VTEP, H2, VNI).len(), 6);
    }

    #[test]
    fn the_primary_is_the_second_oldest_key() {
        let mut e = OverlayEncryption::default();
        let ops = e.set_keys(&[gossip(1), gossip(2), gossip(3), key(6), key(4), key(5)], VTEP);
        assert!(ops.is_empty());
        assert_eq!(tags(&e), [5, 4, 6]);
        assert!(e.has_keys());
    }

    #[test]
    fn a_remote_gets_both_directions_of_the_primary_and_receive_sas_of_the_others_once() {
        let mut e = OverlayEncryption::default();
        e.set_keys(&[key(4), key(5), key(6)], VTEP);
        let ops = e.setup(VTEP, H2, VNI);
        let spi = |tag| SpiPair::new(H1, H2, &OverlayKey { value: [0; 16], tag });
        let lines: Vec<String> = ops.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines[0],
            "iptables -t mangle -A OUTPUT -p udp --dport 4789 -m u32 --u32 \
             '0>>22&0x3C@12&0xFFFFFF00=1049088' -j MARK --set-mark 13681891"
        );
        assert_eq!(ops.len(), 1 + 2 + 1 + 1 + 1);
        assert!(lines[2].contains(&format!("spi 0x{:08x}", spi(5).forward)), "{}", lines[2]);
        assert!(lines[3].starts_with("ip xfrm policy add"));
        assert!(e.setup(VTEP, H2, VNI).is_empty());
        let third = Ipv4Addr::new(172, 16, 24, 6);
        assert!(!e.setup(VTEP, third, VNI)[0].to_string().starts_with("iptables"));
        assert_eq!(e.setup(VTEP, H2, VNI + 1), [mangle_mark_op(VNI + 1, DATA_PORT)]);
    }

    #[test]
    fn rotation_moves_transmission_to_the_next_key_and_drops_the_oldest() {
        let mut e = OverlayEncryption::default();
        e.set_keys(&[key(4), key(5), key(6)], VTEP);
        e.setup(VTEP, H2, VNI);
        let ops = e.set_keys(&[key(5), key(6), key(7)], VTEP);
        let spi = |tag| SpiPair::new(H1, H2, &OverlayKey { value: [0; 16], tag });
        let (s4, s5, s6, s7) = (spi(4), spi(5), spi(6), spi(7));
        let lines: Vec<String> = ops.iter().map(ToString::to_string).collect();
        let starts = |i: usize, text: String| {
            assert!(lines[i].starts_with(&text), "op {i}: {} does not start with {text}", lines[i])
        };
        starts(
            0,
            format!("ip xfrm state delete src {H2} dst {H1} proto esp spi 0x{:08x}", s4.reverse),
        );
        starts(
            1,
            format!("ip xfrm state add src {H2} dst {H1} proto esp spi 0x{:08x}", s7.reverse),
        );
        starts(
            2,
            format!("ip xfrm state add src {H1} dst {H2} proto esp spi 0x{:08x}", s6.forward),
        );
        assert!(lines[3].starts_with("ip xfrm policy update"), "{}", lines[3]);
        assert!(
            lines[3].ends_with(&format!("spi 0x{:08x} reqid 13681891 mode transport", s6.forward))
        );
        starts(
            4,
            format!("ip xfrm state delete src {H1} dst {H2} proto esp spi 0x{:08x}", s5.forward),
        );
        assert_eq!(lines.len(), 5);
        assert_eq!(tags(&e), [6, 5, 7]);
        assert_eq!(e.nodes[&H2], [s6, s5, s7]);
    }

    #[test]
    fn removing_a_remote_deletes_what_setup_added() {
        let mut e = OverlayEncryption::default();
        e.set_keys(&[key(4), key(5), key(6)], VTEP);
        let added = e.setup(VTEP, H2, VNI);
        let removed = e.remove(VTEP, H2);
        assert_eq!(removed.len(), added.len() - 1);
        assert!(e.remove(VTEP, H2).is_empty());
        let again = e.setup(VTEP, H2, VNI);
        assert_eq!(again.len(), added.len() - 1, "the mark rule stays");
    }
}
