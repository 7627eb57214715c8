//! Captures as classic pcap files (LINKTYPE_ETHERNET, microsecond timestamps), the format
//! `tcpdump -r` and Wireshark read.
//!
//! Contract: the bytes depend only on the frames, their times and the epoch given to
//! [`PcapWriter::new`]; never on the machine (the header is always little-endian) or the
//! wall clock. A frame's timestamp is `epoch + at`, truncated to the microsecond as
//! tcpdump would record it.

use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::EthernetFrame;
use crate::engine::SimTime;

/// An in-memory pcap file being written.
pub struct PcapWriter {
    inner: pcap_file::pcap::PcapWriter<Vec<u8>>,
    epoch: Duration,
}

/// tcpdump's default snapshot length since 4.99 (`MAXIMUM_SNAPLEN`).
const SNAPLEN: u32 = 262_144;

impl PcapWriter {
    /// A capture whose time zero is `epoch_unix_secs` seconds after 1970-01-01 UTC.
    /// `tcpdump -r` prints its times in the reader's time zone, so under `TZ=UTC` the lines
    /// match a [`super::TcpdumpPrinter`] made with `epoch_unix_secs % 86400`.
    pub fn new(epoch_unix_secs: u32) -> PcapWriter {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
        };
        let inner = pcap_file::pcap::PcapWriter::with_header(Vec::new(), header)
            .expect("writing a pcap header into a Vec cannot fail");
        PcapWriter { inner, epoch: Duration::from_secs(u64::from(epoch_unix_secs)) }
    }

    /// Appends `frame` as captured at simulated time `at`.
    ///
    /// # Panics
    /// If the timestamp passes 2106 (pcap's 32-bit seconds) or the frame is longer than the
    /// 262144-byte snapshot length; neither can come out of a bounded run.
    pub fn push(&mut self, at: SimTime, frame: &EthernetFrame) {
        let data = frame.to_bytes();
        let len = u32::try_from(data.len()).expect("frame length fits in u32");
        let timestamp = self.epoch + Duration::from_nanos(at.as_nanos());
        self.inner
            .write_packet(&PcapPacket::new_owned(timestamp, len, data))
            .expect("pcap timestamp before 2106 and frame within the snapshot length");
    }

    /// The finished file.
    pub fn into_bytes(self) -> Vec<u8> {
        self.inner.into_writer()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::engine::SimDuration;
    use crate::wire::{ArpOp, ArpRepr, EtherPayload, MacAddr};

    fn arp() -> EthernetFrame {
        EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: MacAddr([2, 0x42, 0xac, 0x11, 0, 1]),
            payload: EtherPayload::Arp(ArpRepr {
                op: ArpOp::Request,
                sender_mac: MacAddr([2, 0x42, 0xac, 0x11, 0, 1]),
                sender_ip: Ipv4Addr::new(172, 17, 0, 1),
                target_mac: MacAddr::ZERO,
                target_ip: Ipv4Addr::new(172, 17, 0, 2),
            }),
        }
    }

    #[test]
    fn file_layout_is_exact() {
        let mut w = PcapWriter::new(1_000_000_000);
        w.push(SimTime::ZERO + SimDuration::from_nanos(1_500_001_999), &arp());
        let bytes = w.into_bytes();
        // Global header: magic, version 2.4, zone, sigfigs, snaplen, linktype 1.
        assert_eq!(
            &bytes[..24],
            &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0]
        );
        let record = &bytes[24..40];
        assert_eq!(&record[0..4], &1_000_000_001u32.to_le_bytes());
        assert_eq!(&record[4..8], &500_001u32.to_le_bytes());
        assert_eq!(&record[8..12], &42u32.to_le_bytes());
        assert_eq!(&record[12..16], &42u32.to_le_bytes());
        assert_eq!(&bytes[40..], &arp().to_bytes()[..]);
    }
}
