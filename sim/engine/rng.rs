//! Seeded randomness with a lineage: one root seed, one ChaCha stream per component.
//!
//! A stream's seed is SHA-256 of the root seed and the component's stable id, so streams are
//! independent of each other and of creation order. ChaCha is portable and value-stable;
//! `rand`/`rand_chacha` are pinned in Cargo.lock because distributions are not.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// The source of every component's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    root_seed: u64,
}

impl Streams {
    pub fn new(root_seed: u64) -> Self {
        Streams { root_seed }
    }

    pub fn root_seed(&self) -> u64 {
        self.root_seed
    }

    /// The stream for the component with this stable id (`host/docker-host-1/docker`).
    pub fn stream(&self, id: &str) -> RngStream {
        let mut hasher = Sha256::new();
        hasher.update(self.root_seed.to_le_bytes());
        hasher.update(id.as_bytes());
        let seed: [u8; 32] = hasher.finalize().into();
        RngStream { rng: ChaCha8Rng::from_seed(seed) }
    }
}

/// One component's random stream.
#[derive(Debug, Clone)]
pub struct RngStream {
    rng: ChaCha8Rng,
}

impl RngStream {
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A value in `[low, high)`.
    pub fn range_u64(&mut self, low: u64, high: u64) -> u64 {
        self.rng.random_range(low..high)
    }

    /// `n` random bytes as lowercase hex (Docker IDs: 64 hex digits).
    pub fn hex(&mut self, n_bytes: usize) -> String {
        (0..n_bytes).map(|_| format!("{:02x}", self.rng.random::<u8>())).collect()
    }

    /// Fills `out` with random bytes (key material).
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        self.rng.fill_bytes(out);
    }

    /// A new, independent stream seeded from this one (a component handing a part of
    /// itself its own randomness).
    pub fn fork(&mut self) -> RngStream {
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        RngStream { rng: ChaCha8Rng::from_seed(seed) }
    }

    /// A uniformly chosen index below `len`.
    pub fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_and_id_only() {
        let a = Streams::new(7).stream("host/a").next_u64();
        assert_eq!(a, Streams::new(7).stream("host/a").next_u64());
        assert_ne!(a, Streams::new(7).stream("host/b").next_u64());
        assert_ne!(a, Streams::new(8).stream("host/a").next_u64());
    }
}
