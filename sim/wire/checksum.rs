//! The Internet checksum (RFC 1071) and the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1)
//! that UDP and TCP fold into theirs.

use std::net::Ipv4Addr;

/// The 32-bit running sum of `bytes` as big-endian 16-bit words (an odd tail is padded
/// with a zero byte). Sums of several pieces add up before `finish`.
pub(super) fn sum(bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    let mut acc: u32 = chunks.by_ref().map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds the carries and takes the one's complement: the value to put in the header.
pub(super) fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The checksum of `bytes` alone (IPv4 header, ICMP).
pub(super) fn of(bytes: &[u8]) -> u16 {
    finish(sum(bytes))
}

/// The sum of the IPv4 pseudo-header: addresses, protocol and transport length.
pub(super) fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: usize) -> u32 {
    let len = u16::try_from(len).expect("transport segment longer than an IPv4 packet allows");
    sum(&src.octets()) + sum(&dst.octets()) + u32::from(protocol) + u32::from(len)
}

/// The checksum of a UDP or TCP segment (checksum field zeroed) under its pseudo-header.
pub(super) fn transport(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> u16 {
    finish(pseudo_header(src, dst, protocol, segment.len()) + sum(segment))
}

/// Writes a big-endian u16 at `at`, for filling in a checksum after the bytes are laid out.
pub(super) fn put(out: &mut [u8], at: usize, value: u16) {
    out[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2 before complementing.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(finish(sum(&bytes)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn a_correct_checksum_verifies_to_zero() {
        let mut bytes = vec![0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0, 0];
        let c = of(&bytes);
        put(&mut bytes, 10, c);
        assert_eq!(of(&bytes), 0);
    }
}
