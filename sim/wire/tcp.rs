//! TCP segments (RFC 9293): ports, sequence numbers, flags, window and data. The simulator's
//! TCP has no congestion control; options other than MSS are not modelled.
//!
//! Contract: `emit` writes a 20-byte header, plus the 4-byte MSS option (kind 2) when `mss`
//! is set, with a checksum over the IPv4 pseudo-header; the urgent pointer is zero. `parse`
//! verifies the checksum, reads MSS and skips every other option.

use std::net::Ipv4Addr;

use super::{be16, be32, checksum, Depth, IpProtocol, WireError};

/// The TCP flags byte (CWR and ECE are never set by the simulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, o: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | o.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegment {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// The MSS option, sent on SYN and SYN-ACK.
    pub mss: Option<u16>,
    pub payload: Vec<u8>,
}

const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;

impl TcpSegment {
    /// The header without options.
    pub const HEADER_LEN: usize = 20;

    /// The header length including options: what the data offset field encodes.
    pub fn header_len(&self) -> usize {
        Self::HEADER_LEN + if self.mss.is_some() { 4 } else { 0 }
    }

    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Appends the segment with its checksum over the pseudo-header `src`, `dst`.
    pub fn emit(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut Vec<u8>) {
        let start = out.len();
        let data_offset = (self.header_len() / 4) as u8;
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ack.to_be_bytes());
        out.extend_from_slice(&[data_offset << 4, self.flags.0]);
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        if let Some(mss) = self.mss {
            out.extend_from_slice(&[OPT_MSS, 4]);
            out.extend_from_slice(&mss.to_be_bytes());
        }
        out.extend_from_slice(&self.payload);
        let sum = checksum::transport(src, dst, IpProtocol::Tcp.number(), &out[start..]);
        checksum::put(out, start + 16, sum);
    }

    /// Parses a segment received in a packet from `src` to `dst`, checking its checksum.
    pub fn parse(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<TcpSegment, WireError> {
        Self::parse_at(bytes, src, dst, Depth::Wire)
    }

    pub(super) fn parse_at(
        bytes: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        depth: Depth,
    ) -> Result<TcpSegment, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("TCP header"));
        }
        let header_len = usize::from(bytes[12] >> 4) * 4;
        if header_len < Self::HEADER_LEN {
            return Err(WireError::Malformed("TCP data offset"));
        }
        if header_len > bytes.len() {
            return Err(WireError::Truncated("TCP options"));
        }
        let tcp = IpProtocol::Tcp.number();
        if depth == Depth::Wire && checksum::transport(src, dst, tcp, bytes) != 0 {
            return Err(WireError::Malformed("TCP checksum"));
        }
        Ok(TcpSegment {
            src_port: be16(bytes, 0),
            dst_port: be16(bytes, 2),
            seq: be32(bytes, 4),
            ack: be32(bytes, 8),
            flags: TcpFlags(bytes[13]),
            window: be16(bytes, 14),
            mss: parse_mss(&bytes[Self::HEADER_LEN..header_len])?,
            payload: bytes[header_len..].to_vec(),
        })
    }
}

/// Walks the option list (RFC 9293 §3.1) and returns the MSS if present.
fn parse_mss(mut options: &[u8]) -> Result<Option<u16>, WireError> {
    let mut mss = None;
    while let Some(&kind) = options.first() {
        match kind {
            OPT_END => break,
            OPT_NOP => options = &options[1..],
            _ => {
                let len = usize::from(*options.get(1).ok_or(WireError::Malformed("TCP option"))?);
                if len < 2 || len > options.len() {
                    return Err(WireError::Malformed("TCP option length"));
                }
                if kind == OPT_MSS {
                    if len != 4 {
                        return Err(WireError::Malformed("TCP MSS option"));
                    }
                    mss = Some(be16(options, 2));
                }
                options = &options[len..];
            }
        }
    }
    Ok(mss)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);

    fn syn() -> TcpSegment {
        TcpSegment {
            src_port: 45678,
            dst_port: 80,
            seq: 1000,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 64240,
            mss: Some(1460),
            payload: Vec::new(),
        }
    }

    #[test]
    fn syn_with_mss_bytes() {
        let mut out = Vec::new();
        syn().emit(SRC, DST, &mut out);
        assert_eq!(out.len(), 24);
        assert_eq!(&out[12..16], &[0x60, 0x02, 0xfa, 0xf0]);
        assert_eq!(&out[20..], &[2, 4, 0x05, 0xb4]);
        assert_eq!(TcpSegment::parse(&out, SRC, DST), Ok(syn()));
        // Swapping the addresses would not change the sum; another address does.
        let elsewhere = Ipv4Addr::new(10, 0, 2, 101);
        assert_eq!(
            TcpSegment::parse(&out, SRC, elsewhere),
            Err(WireError::Malformed("TCP checksum"))
        );
    }

    #[test]
    fn linux_syn_options_are_skipped() {
        // Linux's SYN: mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7 (40-byte header).
        let options = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        assert_eq!(parse_mss(&options), Ok(Some(1460)));
        assert_eq!(parse_mss(&[1, 1, 0, 9]), Ok(None));
        assert_eq!(parse_mss(&[8, 10, 0]), Err(WireError::Malformed("TCP option length")));
        assert_eq!(parse_mss(&[2, 3, 5]), Err(WireError::Malformed("TCP MSS option")));
    }

    #[test]
    fn data_offset_is_checked() {
        let mut out = Vec::new();
        syn().emit(SRC, DST, &mut out);
        out[12] = 0x40;
        assert_eq!(TcpSegment::parse(&out, SRC, DST), Err(WireError::Malformed("TCP data offset")));
        out[12] = 0xf0;
        assert_eq!(TcpSegment::parse(&out, SRC, DST), Err(WireError::Truncated("TCP options")));
    }
}
