//! The leader's keymanager: the keys that bootstrap the overlay's gossip and IPsec
//! encryption (swarmkit `manager/keymanager/keymanager.go`, docker-facts 36).
//!
//! Contract: when a manager starts leading, its Lamport clock starts at a random 0–65535
//! and, if the cluster object has no keys, [`KeyManager::ops`] writes 3 new keys per
//! subsystem, each tagged with the next clock value; if it has keys, the leader adopts them
//! and the cluster's clock. Every 12 h of leadership the ring rotates: per subsystem the
//! oldest key goes (when there are 3) and a new one is added. The keys travel to the nodes
//! with the dispatcher's heartbeat acknowledgements.
//!
//! Departure: swarmkit walks a Go map of subsystems when rotating, so which subsystem's new
//! key gets the lower tag is random there; here gossip always goes first.

use super::store::{Cluster, EncryptionKey, KeySubsystem, Store, StoreOp};
use crate::engine::{RngStream, SimDuration, SimTime};

/// `DefaultKeyRotationInterval`.
pub const ROTATION_INTERVAL: SimDuration = SimDuration::from_secs(12 * 3600);
/// `keyringSize`: keys kept per subsystem.
pub const KEYRING_SIZE: usize = 3;
/// `DefaultConfig().Subsystems`, in the order the first keys are allocated.
const SUBSYSTEMS: [KeySubsystem; 2] = [KeySubsystem::Gossip, KeySubsystem::Ipsec];

#[derive(Debug, Clone)]
pub struct KeyManager {
    lamport_clock: u64,
    /// Set once the ring is in the cluster object (ours or adopted).
    keys: Option<Vec<EncryptionKey>>,
    next_rotation: SimTime,
}

impl KeyManager {
    /// A new leader's keymanager (`New` + the start of `Run`'s ticker).
    pub fn new(now: SimTime, rng: &mut RngStream) -> KeyManager {
        KeyManager {
            lamport_clock: rng.range_u64(0, 1 << 16),
            keys: None,
            next_rotation: now + ROTATION_INTERVAL,
        }
    }

    /// The cluster object with new keys, when the ring must be created or rotated.
    pub fn ops(&mut self, store: &Store, now: SimTime, rng: &mut RngStream) -> Vec<StoreOp> {
        let Some(cluster) = store.cluster.as_ref() else { return Vec::new() };
        match self.keys.take() {
            None if cluster.network_bootstrap_keys.is_empty() => {
                let keys = SUBSYSTEMS
                    .iter()
                    .flat_map(|s| [*s; KEYRING_SIZE])
                    .map(|s| self.allocate(s, rng))
                    .collect();
                self.write(cluster, keys, now)
            }
            None => {
                self.lamport_clock = cluster.encryption_key_lamport_clock;
                self.keys = Some(cluster.network_bootstrap_keys.clone());
                self.ops(store, now, rng)
            }
            Some(keys) if now >= self.next_rotation => {
                self.next_rotation += ROTATION_INTERVAL;
                let keys = self.rotate(keys, rng);
                self.write(cluster, keys, now)
            }
            Some(keys) => {
                self.keys = Some(keys);
                Vec::new()
            }
        }
    }

    /// When the next rotation is due.
    pub fn next_rotation(&self) -> SimTime {
        self.next_rotation
    }

    /// `allocateKey`: 16 random bytes at the next Lamport time.
    fn allocate(&mut self, subsystem: KeySubsystem, rng: &mut RngStream) -> EncryptionKey {
        self.lamport_clock += 1;
        let mut key = [0; 16];
        rng.fill_bytes(&mut key);
        EncryptionKey { subsystem, key, lamport_time: self.lamport_clock }
    }

    /// `rotateKey`: per subsystem, a full ring loses the key swarmkit's scan picks (the
    /// oldest, in the order the ring is kept), then a new key is appended.
    fn rotate(&mut self, keys: Vec<EncryptionKey>, rng: &mut RngStream) -> Vec<EncryptionKey> {
        let mut ring = Vec::new();
        for subsystem in SUBSYSTEMS {
            let mut own: Vec<EncryptionKey> =
                keys.iter().filter(|k| k.subsystem == subsystem).copied().collect();
            if own.len() == KEYRING_SIZE {
                own.remove(swarmkit_min(&own));
            }
            own.push(self.allocate(subsystem, rng));
            ring.extend(own);
        }
        ring
    }

    /// `updateKey`: the ring and the clock written to the cluster object.
    fn write(&mut self, cluster: &Cluster, keys: Vec<EncryptionKey>, now: SimTime) -> Vec<StoreOp> {
        let mut c = cluster.clone();
        c.network_bootstrap_keys = keys.clone();
        c.encryption_key_lamport_clock = self.lamport_clock;
        c.meta.updated_at = now;
        self.keys = Some(keys);
        vec![StoreOp::PutCluster(c)]
    }
}

/// The index `rotateKey` removes. Its scan runs over `keys[1:]` but records the position
/// in that slice, one less than the key's own: with the ring in Lamport order (as it always
/// is here) that is still the first key, the oldest.
fn swarmkit_min(keys: &[EncryptionKey]) -> usize {
    let mut min = 0;
    for (i, key) in keys[1..].iter().enumerate() {
        if key.lamport_time < keys[min].lamport_time {
            min = i;
        }
    }
    min
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;

    fn store() -> Store {
        let c = Cluster::new("c".into(), SimTime::ZERO, String::new(), String::new());
        Store { cluster: Some(c), ..Store::default() }
    }

    fn apply(store: &mut Store, ops: Vec<StoreOp>) {
        store.apply(7, &ops);
    }

    fn tags(store: &Store, subsystem: KeySubsystem) -> Vec<u64> {
        let keys = &store.cluster.as_ref().unwrap().network_bootstrap_keys;
        keys.iter().filter(|k| k.subsystem == subsystem).map(|k| k.lamport_time).collect()
    }

    #[test]
    fn a_new_leader_writes_three_keys_per_subsystem_then_waits_twelve_hours() {
        let mut rng = Streams::new(3).stream("keys");
        let mut s = store();
        let mut km = KeyManager::new(SimTime::ZERO, &mut rng);
        let ops = km.ops(&s, SimTime::ZERO, &mut rng);
        apply(&mut s, ops);
        let first = tags(&s, KeySubsystem::Gossip)[0];
        assert!(first <= 1 << 16);
        assert_eq!(tags(&s, KeySubsystem::Gossip), [first, first + 1, first + 2]);
        assert_eq!(tags(&s, KeySubsystem::Ipsec), [first + 3, first + 4, first + 5]);
        assert_eq!(s.cluster.as_ref().unwrap().encryption_key_lamport_clock, first + 5);
        let keys = &s.cluster.as_ref().unwrap().network_bootstrap_keys;
        assert_ne!(keys[0].key, keys[1].key);

        let before_rotation = SimTime::ZERO + SimDuration::from_secs(12 * 3600 - 1);
        assert!(km.ops(&s, before_rotation, &mut rng).is_empty());
        let ops = km.ops(&s, SimTime::ZERO + ROTATION_INTERVAL, &mut rng);
        apply(&mut s, ops);
        assert_eq!(tags(&s, KeySubsystem::Gossip), [first + 1, first + 2, first + 6]);
        assert_eq!(tags(&s, KeySubsystem::Ipsec), [first + 4, first + 5, first + 7]);
        assert_eq!(km.next_rotation(), SimTime::ZERO + ROTATION_INTERVAL * 2);
    }

    #[test]
    fn a_later_leader_adopts_the_ring_and_its_clock() {
        let mut rng = Streams::new(5).stream("keys");
        let mut s = store();
        let ops = KeyManager::new(SimTime::ZERO, &mut rng).ops(&s, SimTime::ZERO, &mut rng);
        apply(&mut s, ops);
        let ring = s.cluster.as_ref().unwrap().network_bootstrap_keys.clone();
        let at = SimTime::ZERO + SimDuration::from_secs(60);
        let mut next = KeyManager::new(at, &mut rng);
        assert!(next.ops(&s, at, &mut rng).is_empty());
        let ops = next.ops(&s, at + ROTATION_INTERVAL, &mut rng);
        apply(&mut s, ops);
        let newest = ring.iter().map(|k| k.lamport_time).max().unwrap();
        assert_eq!(tags(&s, KeySubsystem::Ipsec)[2], newest + 2);
    }

    #[test]
    fn the_scan_that_picks_the_key_to_drop_is_off_by_one_as_in_swarmkit() {
        let k = |t| EncryptionKey { subsystem: KeySubsystem::Ipsec, key: [0; 16], lamport_time: t };
        assert_eq!(swarmkit_min(&[k(1), k(2), k(3)]), 0);
        // The oldest key is last, but the scan records its slice index, 1.
        assert_eq!(swarmkit_min(&[k(2), k(3), k(1)]), 1);
    }
}
