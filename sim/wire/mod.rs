//! Packets on the wire: Ethernet (802.1Q-tagged or not), ARP, IPv4, ICMP, UDP, TCP, DNS,
//! VXLAN and ESP.
//!
//! Each protocol has a validated `*Repr`-style struct that the rest of the simulator works
//! with, and a byte form used only where bytes matter (pcap export, sizes for MTU and
//! counters): `buffer_len()`, `emit(&mut Vec<u8>)` and `parse(&[u8])`, with
//! `parse(emit(x)) == x`. UDP and TCP checksums cover the IPv4 pseudo-header, so their
//! `emit`/`parse` also take the packet's source and destination; an `Ipv4Packet` passes its
//! own. Every frame prints as the line `tcpdump -n` would print for it (`Display`, and
//! [`EthernetFrame::tcpdump_line`] for `-e`); [`TcpdumpPrinter`] adds timestamps and
//! tcpdump's relative TCP sequence numbers; [`Ngrep`] prints what ngrep shows of them;
//! [`PcapWriter`] writes captures that tcpdump and Wireshark open.
//!
//! Layering follows smoltcp's `wire/`: one file per protocol; a frame owns its payload.

mod arp;
mod checksum;
mod dns;
mod esp;
mod ethernet;
mod icmp;
mod ipv4;
mod ngrep;
mod pcap;
#[cfg(test)]
mod roundtrip;
mod tcp;
mod tcpdump;
mod udp;
mod vlan;
mod vxlan;

pub use arp::{ArpOp, ArpRepr};
pub use dns::{
    validate_name, DnsClass, DnsMessage, DnsQuestion, DnsRecord, DnsRecordData, DnsType, Edns,
    Rcode,
};
pub use esp::{EspKey, EspPacket, EspPayload};
pub use ethernet::{EtherPayload, EthernetFrame, MacAddr};
pub use icmp::IcmpRepr;
pub use ipv4::{FragmentRepr, IpPayload, IpProtocol, Ipv4Packet};
pub use ngrep::{Ngrep, NgrepArgs, NgrepArgsError};
pub use pcap::PcapWriter;
pub use tcp::{TcpFlags, TcpSegment};
pub use tcpdump::TcpdumpPrinter;
pub use udp::{UdpDatagram, UdpPayload, DNS_PORT};
pub use vlan::Dot1q;
pub use vxlan::{flow_src_port, VxlanPacket, LOCAL_PORT_RANGE, VXLAN_OVERHEAD, VXLAN_PORT};

/// A byte sequence that could not be parsed as the protocol asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// Where a packet being parsed sits: on the wire (lengths and checksums must hold) or
/// quoted inside an ICMP error (cut short, transport checksums not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    Wire,
    Quoted,
}

/// The big-endian u16 at `at`; the caller has checked the length.
fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// The big-endian u32 at `at`; the caller has checked the length.
fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
