//! UDP datagrams (RFC 768).
//!
//! Contract: the checksum covers the IPv4 pseudo-header, so `emit` and `parse` take the
//! packet's addresses. A datagram to or from port 53 carries DNS, one to or from port 4789
//! VXLAN; `parse` falls back to `Raw` when such a payload is not a message the simulator
//! models. Linux computes the outer checksum of VXLAN too (`udpcsum` is the default for
//! IPv4 since the kernel's `VXLAN_F_UDP_ZERO_CSUM_TX` flag), so it is always emitted.

use std::net::Ipv4Addr;

use super::{be16, checksum, Depth, DnsMessage, IpProtocol, VxlanPacket, WireError, VXLAN_PORT};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: UdpPayload,
}

/// A UDP payload the simulator understands, or opaque bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpPayload {
    Dns(DnsMessage),
    Vxlan(VxlanPacket),
    Raw(Vec<u8>),
}

impl UdpPayload {
    pub fn buffer_len(&self) -> usize {
        match self {
            UdpPayload::Dns(dns) => dns.buffer_len(),
            UdpPayload::Vxlan(vxlan) => vxlan.buffer_len(),
            UdpPayload::Raw(bytes) => bytes.len(),
        }
    }
}

/// The well-known DNS port.
pub const DNS_PORT: u16 = 53;

impl UdpDatagram {
    pub const HEADER_LEN: usize = 8;

    /// Header plus payload: the UDP length field.
    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.payload.buffer_len()
    }

    /// Whether tcpdump (and this module) treat the payload as DNS.
    pub fn is_dns_port(&self) -> bool {
        self.src_port == DNS_PORT || self.dst_port == DNS_PORT
    }

    /// Appends the datagram with its checksum over the pseudo-header `src`, `dst`.
    pub fn emit(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut Vec<u8>) {
        let start = out.len();
        let len = u16::try_from(self.buffer_len()).expect("UDP datagram longer than 65535");
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        match &self.payload {
            UdpPayload::Dns(dns) => dns.emit(out),
            UdpPayload::Vxlan(vxlan) => vxlan.emit(out),
            UdpPayload::Raw(bytes) => out.extend_from_slice(bytes),
        }
        let sum = match checksum::transport(src, dst, IpProtocol::Udp.number(), &out[start..]) {
            // Zero means "no checksum" in UDP, so a computed zero is sent as all ones.
            0 => 0xffff,
            sum => sum,
        };
        checksum::put(out, start + 6, sum);
    }

    /// Parses a datagram received in a packet from `src` to `dst`, checking its checksum
    /// (unless the sender left it zero).
    pub fn parse(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<UdpDatagram, WireError> {
        Self::parse_at(bytes, src, dst, Depth::Wire)
    }

    pub(super) fn parse_at(
        bytes: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        depth: Depth,
    ) -> Result<UdpDatagram, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("UDP header"));
        }
        let len = usize::from(be16(bytes, 4));
        if len < Self::HEADER_LEN {
            return Err(WireError::Malformed("UDP length"));
        }
        let bytes = match depth {
            Depth::Wire if len > bytes.len() => return Err(WireError::Truncated("UDP datagram")),
            Depth::Wire => &bytes[..len],
            Depth::Quoted => &bytes[..len.min(bytes.len())],
        };
        let sent_sum = be16(bytes, 6);
        let udp = IpProtocol::Udp.number();
        if depth == Depth::Wire && sent_sum != 0 && checksum::transport(src, dst, udp, bytes) != 0 {
            return Err(WireError::Malformed("UDP checksum"));
        }
        let (src_port, dst_port) = (be16(bytes, 0), be16(bytes, 2));
        let body = &bytes[Self::HEADER_LEN..];
        let on = |port| src_port == port || dst_port == port;
        let decoded = if on(DNS_PORT) {
            DnsMessage::parse(body).ok().map(UdpPayload::Dns)
        } else if on(VXLAN_PORT) {
            VxlanPacket::parse(body).ok().map(UdpPayload::Vxlan)
        } else {
            None
        };
        let payload = decoded.unwrap_or_else(|| UdpPayload::Raw(body.to_vec()));
        Ok(UdpDatagram { src_port, dst_port, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn raw_datagram_bytes() {
        let udp = UdpDatagram {
            src_port: 1234,
            dst_port: 5678,
            payload: UdpPayload::Raw(b"hi".to_vec()),
        };
        let mut out = Vec::new();
        udp.emit(SRC, DST, &mut out);
        // Pseudo-header 0a00+0001+0a00+0002+0011+000a, header 04d2+162e+000a, data 6869:
        // 0x19790 → folded 0x9791 → complemented 0x686e.
        assert_eq!(out, [0x04, 0xd2, 0x16, 0x2e, 0, 10, 0x68, 0x6e, b'h', b'i']);
        assert_eq!(UdpDatagram::parse(&out, SRC, DST), Ok(udp));
        assert_eq!(
            UdpDatagram::parse(&out, SRC, Ipv4Addr::new(10, 0, 0, 3)),
            Err(WireError::Malformed("UDP checksum"))
        );
    }

    #[test]
    fn zero_checksum_is_accepted() {
        let bytes = [0x04, 0xd2, 0x16, 0x2e, 0, 9, 0, 0, 7];
        let udp = UdpDatagram::parse(&bytes, SRC, DST).unwrap();
        assert_eq!(udp.payload, UdpPayload::Raw(vec![7]));
    }

    #[test]
    fn port_53_with_garbage_is_raw() {
        let udp =
            UdpDatagram { src_port: 53, dst_port: 5678, payload: UdpPayload::Raw(vec![1, 2, 3]) };
        let mut out = Vec::new();
        udp.emit(SRC, DST, &mut out);
        assert_eq!(UdpDatagram::parse(&out, SRC, DST), Ok(udp));
    }

    #[test]
    fn length_field_is_checked() {
        let mut bytes = vec![0x04, 0xd2, 0x16, 0x2e, 0, 12, 0, 0, 7];
        assert_eq!(UdpDatagram::parse(&bytes, SRC, DST), Err(WireError::Truncated("UDP datagram")));
        bytes[5] = 7;
        assert_eq!(UdpDatagram::parse(&bytes, SRC, DST), Err(WireError::Malformed("UDP length")));
    }
}
