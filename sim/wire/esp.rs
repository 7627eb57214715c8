//! ESP (RFC 4303) in transport mode with `rfc4106(gcm(aes))` and a 64-bit ICV, the only
//! transform Docker's encrypted overlay configures (`buildAeadAlgo`).
//!
//! Contract: a packet is SPI, sequence number, an 8-byte IV, the encrypted payload (the
//! inner transport datagram, self-describing padding 1, 2, 3… up to a multiple of 4, the pad
//! length and the next header) and the first 8 bytes of the GCM tag. Encryption is real
//! AES-128-GCM as RFC 4106 defines it for ESP: key = the first 16 bytes of the SA's key
//! material, nonce = the 4-byte salt (its last 4 bytes) ‖ IV, additional data = SPI ‖ seq.
//! So a capture never holds the inner datagram in the clear, and Wireshark opens it given
//! the SA. The repr keeps what the sender sealed ([`EspPayload::Sealed`]: the inner payload
//! and the key it was sealed under) so the receiving kernel can "decrypt" by checking the
//! key; [`EspPacket::parse`] yields [`EspPayload::Opaque`] bytes, which
//! [`EspPacket::open`] decrypts and verifies with a key.
//!
//! Sizes match Linux's `esp_output`: the trailer is aligned to 4 (GCM's block size is 1),
//! so ESP adds 8 + 8 + 2..=5 + 8 bytes; a full 1424-MTU VXLAN frame becomes a 1500-byte
//! packet, which is why Docker subtracts `pktExpansion` = 26 from an encrypted overlay MTU.

use std::net::Ipv4Addr;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};

use super::{be32, IpPayload, WireError};

/// The rfc4106 key material: a 16-byte AES key and a 4-byte salt (`aead … 0xKEYSALT 64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EspKey {
    pub key: [u8; 16],
    pub salt: [u8; 4],
}

impl EspKey {
    /// The 20 bytes as `ip xfrm` prints and takes them: key then salt.
    pub fn material(&self) -> [u8; 20] {
        let mut m = [0u8; 20];
        m[..16].copy_from_slice(&self.key);
        m[16..].copy_from_slice(&self.salt);
        m
    }

    /// `0x` and the 40 hex digits of [`EspKey::material`].
    pub fn hex(&self) -> String {
        let digits: String = self.material().iter().map(|b| format!("{b:02x}")).collect();
        format!("0x{digits}")
    }

    fn cipher(&self) -> Aes128Gcm {
        Aes128Gcm::new_from_slice(&self.key).expect("AES-128 takes a 16-byte key")
    }

    fn nonce(&self, iv: &[u8; 8]) -> Nonce<U12> {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&self.salt);
        n[4..].copy_from_slice(iv);
        n.into()
    }
}

/// What an ESP packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EspPayload {
    /// Sealed by a simulated sender: the inner transport payload, encrypted under `key` when
    /// emitted.
    Sealed { key: EspKey, inner: Box<IpPayload> },
    /// Read from bytes: the encrypted part (payload, padding, pad length, next header) and
    /// the ICV, which only [`EspPacket::open`] with the right key can read.
    Opaque { ciphertext: Vec<u8>, icv: [u8; 8] },
}

/// An ESP packet (IP protocol 50).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspPacket {
    pub spi: u32,
    pub seq: u32,
    pub iv: [u8; 8],
    pub payload: EspPayload,
}

impl EspPacket {
    /// SPI and sequence number.
    pub const HEADER_LEN: usize = 8;
    pub const IV_LEN: usize = 8;
    /// The 64-bit ICV Docker asks for (`ICVLen: 64`).
    pub const ICV_LEN: usize = 8;
    /// `esp_output` aligns the trailer to max(block size, 4); GCM's block size is 1.
    const ALIGN: usize = 4;

    /// A packet `inner` will be sealed into; Linux's `seqiv` derives the IV from the
    /// sequence number (XORed with a per-boot random salt the simulator cannot reproduce,
    /// so here the IV is the 64-bit sequence number itself).
    pub fn seal(spi: u32, seq: u32, key: EspKey, inner: IpPayload) -> EspPacket {
        let iv = u64::from(seq).to_be_bytes();
        EspPacket { spi, seq, iv, payload: EspPayload::Sealed { key, inner: Box::new(inner) } }
    }

    /// Bytes of padding for a plaintext of `len` bytes: the trailer's two bytes included,
    /// the encrypted part is a multiple of 4.
    fn pad_len(len: usize) -> usize {
        (Self::ALIGN - (len + 2) % Self::ALIGN) % Self::ALIGN
    }

    fn encrypted_len(&self) -> usize {
        match &self.payload {
            EspPayload::Sealed { inner, .. } => {
                let len = inner.buffer_len();
                len + Self::pad_len(len) + 2
            }
            EspPayload::Opaque { ciphertext, .. } => ciphertext.len(),
        }
    }

    /// Everything after the IP header.
    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + Self::IV_LEN + self.encrypted_len() + Self::ICV_LEN
    }

    /// Appends the packet; a sealed payload's transport checksum covers the outer
    /// addresses `src`, `dst` (transport mode keeps the IP header).
    pub fn emit(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.spi.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.iv);
        match &self.payload {
            EspPayload::Opaque { ciphertext, icv } => {
                out.extend_from_slice(ciphertext);
                out.extend_from_slice(icv);
            }
            EspPayload::Sealed { key, inner } => {
                let body = out.len();
                inner.emit(src, dst, out);
                let pad = Self::pad_len(out.len() - body);
                out.extend((1..=pad).map(|i| i as u8));
                out.extend_from_slice(&[pad as u8, inner.protocol().number()]);
                let aad: [u8; 8] = out[start..start + 8].try_into().expect("8 bytes");
                let tag = key
                    .cipher()
                    .encrypt_in_place_detached(&key.nonce(&self.iv), &aad, &mut out[body..])
                    .expect("an ESP payload is far below GCM's length limit");
                out.extend_from_slice(&tag[..Self::ICV_LEN]);
            }
        }
    }

    /// Parses ESP bytes; the payload stays [`EspPayload::Opaque`].
    pub fn parse(bytes: &[u8]) -> Result<EspPacket, WireError> {
        let fixed = Self::HEADER_LEN + Self::IV_LEN + Self::ICV_LEN;
        if bytes.len() < fixed + 2 {
            return Err(WireError::Truncated("ESP packet"));
        }
        let icv_at = bytes.len() - Self::ICV_LEN;
        Ok(EspPacket {
            spi: be32(bytes, 0),
            seq: be32(bytes, 4),
            iv: bytes[8..16].try_into().expect("8 bytes"),
            payload: EspPayload::Opaque {
                ciphertext: bytes[16..icv_at].to_vec(),
                icv: bytes[icv_at..].try_into().expect("8 bytes"),
            },
        })
    }

    /// Decrypts and verifies an opaque payload with `key`, then parses the inner datagram
    /// as carried between `src` and `dst`. A sealed payload opens only with its own key.
    pub fn open(&self, key: &EspKey, src: Ipv4Addr, dst: Ipv4Addr) -> Result<IpPayload, WireError> {
        let (ciphertext, icv) = match &self.payload {
            EspPayload::Sealed { key: sealed, inner } if sealed == key => return Ok(*inner.clone()),
            EspPayload::Sealed { .. } => return Err(WireError::Malformed("ESP ICV")),
            EspPayload::Opaque { ciphertext, icv } => (ciphertext, icv),
        };
        let aad = [self.spi.to_be_bytes(), self.seq.to_be_bytes()].concat();
        let (cipher, nonce) = (key.cipher(), key.nonce(&self.iv));
        // GCM is CTR mode plus a tag over the ciphertext: running the encryption over the
        // ciphertext yields the plaintext, and sealing that again recomputes the full tag,
        // whose first 8 bytes must equal the truncated ICV (the crate only checks 12..=16).
        let mut plain = ciphertext.clone();
        let _ = cipher.encrypt_in_place_detached(&nonce, &aad, &mut plain);
        let mut again = plain.clone();
        let tag = cipher.encrypt_in_place_detached(&nonce, &aad, &mut again);
        if tag.map(|t| t[..Self::ICV_LEN] != icv[..]).unwrap_or(true) {
            return Err(WireError::Malformed("ESP ICV"));
        }
        let [.., pad, next] = plain[..] else { unreachable!("parse keeps 2 bytes or more") };
        let body_len = plain.len().checked_sub(usize::from(pad) + 2);
        let body = body_len.map(|n| &plain[..n]).ok_or(WireError::Malformed("ESP pad length"))?;
        IpPayload::parse_transport(next, body, src, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{UdpDatagram, UdpPayload};

    const SRC: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 4);
    const DST: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 5);
    const KEY: EspKey = EspKey {
        key: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        salt: [0xde, 0xad, 0xbe, 0xef],
    };

    fn udp(len: usize) -> IpPayload {
        let payload = UdpPayload::Raw(vec![0x5a; len]);
        IpPayload::Udp(UdpDatagram { src_port: 40000, dst_port: 4789, payload })
    }

    fn bytes(p: &EspPacket) -> Vec<u8> {
        let mut out = Vec::new();
        p.emit(SRC, DST, &mut out);
        assert_eq!(out.len(), p.buffer_len());
        out
    }

    #[test]
    fn lengths_follow_esp_output() {
        // UDP of 8 + n bytes, trailer 2, padded to 4; plus SPI, seq, IV and ICV (24).
        let cases = [(0, 24 + 12), (1, 24 + 12), (2, 24 + 12), (3, 24 + 16), (1446, 24 + 1456)];
        for (n, want) in cases {
            assert_eq!(EspPacket::seal(1, 1, KEY, udp(n)).buffer_len(), want, "n = {n}");
        }
        // Docker's encrypted overlay: MTU 1424, an inner frame of 1438 bytes in VXLAN (8)
        // and UDP (8) is sealed into 1480 bytes of ESP, a 1500-byte IP packet.
        assert_eq!(20 + EspPacket::seal(1, 1, KEY, udp(8 + 1438)).buffer_len(), 1500);
    }

    #[test]
    fn header_in_clear_payload_encrypted() {
        let p = EspPacket::seal(0x1234_5678, 3, KEY, udp(40));
        let out = bytes(&p);
        assert_eq!(&out[..16], &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3]);
        assert!(!out.windows(8).any(|w| w == [0x5a; 8]), "the payload leaked in clear");
        let parsed = EspPacket::parse(&out).unwrap();
        assert_eq!((parsed.spi, parsed.seq, parsed.iv), (p.spi, p.seq, p.iv));
        assert_eq!(parsed.buffer_len(), p.buffer_len());
        assert_eq!(bytes(&parsed), out);
    }

    #[test]
    fn opens_with_the_key_only() {
        let p = EspPacket::seal(7, 1, KEY, udp(41));
        let parsed = EspPacket::parse(&bytes(&p)).unwrap();
        assert_eq!(parsed.open(&KEY, SRC, DST), Ok(udp(41)));
        assert_eq!(p.open(&KEY, SRC, DST), Ok(udp(41)));
        let other = EspKey { salt: [0; 4], ..KEY };
        assert_eq!(parsed.open(&other, SRC, DST), Err(WireError::Malformed("ESP ICV")));
        assert_eq!(p.open(&other, SRC, DST), Err(WireError::Malformed("ESP ICV")));
        let mut tampered = bytes(&p);
        tampered[20] ^= 1;
        let tampered = EspPacket::parse(&tampered).unwrap();
        assert_eq!(tampered.open(&KEY, SRC, DST), Err(WireError::Malformed("ESP ICV")));
    }

    #[test]
    fn known_answer() {
        // AES-128-GCM over the empty UDP datagram (40000 -> 4789), its trailer 01 02 02 11,
        // checked against an independent implementation (Python's cryptography).
        let out = bytes(&EspPacket::seal(1, 1, KEY, udp(0)));
        let hex: String = out[16..].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, KNOWN_CIPHERTEXT_AND_ICV);
    }

    const KNOWN_CIPHERTEXT_AND_ICV: &str = "425d25e86f80d7b7a5d1e8edc6943d0f4d952649";

    #[test]
    fn truncated() {
        assert_eq!(EspPacket::parse(&[0; 25]), Err(WireError::Truncated("ESP packet")));
    }
}
