//! swarmkit's object IDs (`identity.NewID`): 17 random bytes with the top bit set, written
//! in base 36, characters 1 to 25 kept. Node, service, task and network IDs all look like
//! `im1clp7aw6n6qqv8lcs3u3hxe`; the CLI shows the first 12.

use crate::engine::RngStream;

/// The length of a swarmkit ID.
pub const ID_LEN: usize = 25;

/// A new ID from the caller's stream.
pub fn new_id(rng: &mut RngStream) -> String {
    let mut bytes = [0u8; 17];
    for chunk in bytes.chunks_mut(8) {
        let word = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    bytes[0] |= 0x80;
    base36(&bytes)[1..=ID_LEN].to_string()
}

/// Big-endian bytes as a base-36 number, lowercase, without leading zeros.
pub(crate) fn base36(bytes: &[u8]) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = bytes.to_vec();
    let mut out = Vec::new();
    while n.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 36) as u8;
            rem = cur % 36;
        }
        out.push(DIGITS[rem as usize]);
    }
    out.reverse();
    String::from_utf8(out).expect("base-36 digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;

    #[test]
    fn base36_matches_big_int_text() {
        assert_eq!(base36(&[0x01, 0x00]), "74");
        assert_eq!(base36(&[0xff; 2]), "1ekf");
    }

    #[test]
    fn ids_are_25_base36_characters() {
        let mut rng = Streams::new(1).stream("ids");
        for _ in 0..100 {
            let id = new_id(&mut rng);
            assert_eq!(id.len(), ID_LEN);
            assert!(id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        }
    }
}
