//! UDP datagrams (RFC 768).

use super::DnsMessage;

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
    Raw(Vec<u8>),
}
