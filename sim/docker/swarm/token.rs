//! Join tokens as swarmkit makes and checks them (`ca/config.go` `GenerateJoinToken`,
//! `ParseJoinToken`): `SWMTKN-1-<digest>-<secret>`, where the digest is the SHA-256 of the
//! swarm's root CA certificate written in base 36 and zero-padded to 50 characters, and the
//! secret is 16 random bytes in base 36 padded to 25. Worker and manager tokens share the
//! digest and differ in the secret.
//!
//! Contract: [`parse`] accepts exactly what swarmkit's parser accepts for version 1 tokens;
//! anything else is `invalid join token`. The simulated root CA is random bytes from the
//! caller's stream, so the digest is a real SHA-256 of something, as in swarmkit.

use sha2::{Digest, Sha256};

use super::ids::base36;
use crate::engine::RngStream;

/// `base36DigestLen`.
pub const DIGEST_LEN: usize = 50;
/// `maxGeneratedSecretLength`.
pub const SECRET_LEN: usize = 25;

/// Why a token was refused; its text is what the daemon reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid join token")]
pub struct InvalidJoinToken;

/// `SWMTKN-1-<digest>-<secret>`.
pub fn join_token(ca_digest: &str, secret: &str) -> String {
    assert_eq!(ca_digest.len(), DIGEST_LEN, "CA digest is 50 base-36 digits");
    assert_eq!(secret.len(), SECRET_LEN, "secret is 25 base-36 digits");
    format!("SWMTKN-1-{ca_digest}-{secret}")
}

/// The base-36 digest of a new simulated root CA.
pub fn new_ca_digest(rng: &mut RngStream) -> String {
    let mut ca = Vec::with_capacity(64);
    for _ in 0..8 {
        ca.extend_from_slice(&rng.next_u64().to_be_bytes());
    }
    padded(&Sha256::digest(&ca), DIGEST_LEN)
}

/// A new token secret: 16 random bytes in base 36.
pub fn new_secret(rng: &mut RngStream) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    padded(&bytes, SECRET_LEN)
}

/// Go's `%0*s` of `big.Int.Text(36)`: zero-padded on the left.
fn padded(bytes: &[u8], width: usize) -> String {
    let digits = base36(bytes);
    format!("{digits:0>width$}")
}

/// Splits a token into (digest, secret), with swarmkit's checks.
pub fn parse(token: &str) -> Result<(String, String), InvalidJoinToken> {
    let parts: Vec<&str> = token.split('-').collect();
    // Version 2 (`SWMTKN-2-<fips>-…`) is the FIPS form, which the simulated swarm never makes.
    let [prefix, version, digest, secret] = parts.as_slice() else {
        return Err(InvalidJoinToken);
    };
    if *prefix != "SWMTKN" || *version != "1" {
        return Err(InvalidJoinToken);
    }
    if digest.len() != DIGEST_LEN || secret.len() != SECRET_LEN {
        return Err(InvalidJoinToken);
    }
    // big.Int.SetString(_, 36) accepts both cases; a value past 256 bits fails validation.
    digest_hex(digest).ok_or(InvalidJoinToken)?;
    Ok((digest.to_string(), secret.to_string()))
}

/// The digest as the hex SHA-256 swarmkit prints (`remote CA does not match fingerprint.
/// Expected: …`); `None` if it is not a base-36 number below 2^256.
pub fn digest_hex(digest: &str) -> Option<String> {
    let mut n = [0u8; 32];
    for c in digest.chars() {
        let d = c.to_digit(36)?;
        let mut carry = d;
        for b in n.iter_mut().rev() {
            let cur = u32::from(*b) * 36 + carry;
            *b = (cur & 0xff) as u8;
            carry = cur >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(n.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;

    const LAB_TOKEN: &str =
        "SWMTKN-1-5y4llc1jq1eowsq42pkxrmjl01z50299uszrqaajvh79r33bkq-27wum03xpatfo65av02ufiexd";

    #[test]
    fn the_labs_token_parses_and_rebuilds() {
        let (digest, secret) = parse(LAB_TOKEN).unwrap();
        assert_eq!(digest, "5y4llc1jq1eowsq42pkxrmjl01z50299uszrqaajvh79r33bkq");
        assert_eq!(secret, "27wum03xpatfo65av02ufiexd");
        assert_eq!(join_token(&digest, &secret), LAB_TOKEN);
        assert_eq!(digest_hex(&digest).unwrap().len(), 64);
    }

    #[test]
    fn malformed_and_foreign_tokens_are_invalid() {
        for bad in [
            "",
            "foo",
            "SWMTKN-1-abc-def",
            &LAB_TOKEN.replace("SWMTKN-1", "SWMTKN-3"),
            &LAB_TOKEN.replace("SWMTKN", "SWMTKM"),
            &format!("{LAB_TOKEN}x"),
            &format!("{LAB_TOKEN}-x"),
            &LAB_TOKEN.replace("5y4l", "5y4_"),
            // 36^50 - 1 is past 2^256.
            &format!("SWMTKN-1-{}-27wum03xpatfo65av02ufiexd", "z".repeat(50)),
        ] {
            assert_eq!(parse(bad), Err(InvalidJoinToken), "{bad}");
        }
        assert_eq!(InvalidJoinToken.to_string(), "invalid join token");
    }

    #[test]
    fn digest_hex_is_the_big_endian_number() {
        assert_eq!(digest_hex(&format!("{:0>50}", "74")).unwrap(), format!("{:0>64}", "100"));
    }

    #[test]
    fn generated_tokens_have_the_labs_shape_and_parse() {
        let mut rng = Streams::new(7).stream("tokens");
        let digest = new_ca_digest(&mut rng);
        let (s1, s2) = (new_secret(&mut rng), new_secret(&mut rng));
        assert_ne!(s1, s2);
        let token = join_token(&digest, &s1);
        assert_eq!(token.len(), LAB_TOKEN.len());
        assert_eq!(parse(&token).unwrap(), (digest.clone(), s1));
        let mut zeros = [0u8; 16];
        zeros[15] = 1;
        assert_eq!(padded(&zeros, SECRET_LEN), format!("{:0>25}", "1"));
    }
}
