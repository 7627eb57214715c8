//! Packets on the wire: Ethernet, ARP, IPv4, ICMP, UDP, TCP and DNS.
//!
//! Each protocol has a validated `*Repr`-style struct that the rest of the simulator works
//! with, and a byte form used only where bytes matter (pcap export, sizes for MTU and
//! counters): `buffer_len()`, `emit(&mut Vec<u8>)` and `parse(&[u8])`. Every frame prints
//! as the one line tcpdump would print for it (`Display`).
//!
//! Layering follows smoltcp's `wire/`: one file per protocol; a frame owns its payload.

mod arp;
mod dns;
mod ethernet;
mod icmp;
mod ipv4;
mod tcp;
mod udp;

pub use arp::{ArpOp, ArpRepr};
pub use dns::{DnsClass, DnsMessage, DnsQuestion, DnsRecord, DnsRecordData, DnsType, Rcode};
pub use ethernet::{EtherPayload, EthernetFrame, MacAddr};
pub use icmp::IcmpRepr;
pub use ipv4::{IpPayload, IpProtocol, Ipv4Packet};
pub use tcp::{TcpFlags, TcpSegment};
pub use udp::{UdpDatagram, UdpPayload};

/// A byte sequence that could not be parsed as the protocol asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
}
