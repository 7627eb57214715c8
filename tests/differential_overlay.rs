//! Differential test for the overlay data plane: real Linux is the oracle, field by field.
//!
//! `scenarios/differential-overlay.yaml` runs in the simulator: a two-node swarm, an overlay,
//! a service with one task on each node, and two pings from node1's task to node2's (56 and
//! 1422 data bytes, the second filling the 1500-byte underlay MTU exactly) while node2's
//! `eth0` is captured. Every KernelOp of the run — dockerd's start-up, the commands', and the
//! swarm's, which arrive from the event loop (task sandboxes, the overlay namespace and its
//! VXLAN device, the peers' neighbour and FDB entries learnt by gossip) — is then replayed
//! in real network namespaces (`swarmsim::kernel::export`). The same pings run there from
//! the same task namespace while real `tcpdump -w` captures node2's `eth0`.
//!
//! Both pcaps are decoded here (Ethernet / IPv4 / UDP / VXLAN / Ethernet / IPv4 / ICMP) into
//! named fields and compared packet by packet; every difference names the packet and the
//! field. Compared exactly: the packet count and order; frame length; outer and inner MACs
//! (the export gives the NICs the model's MACs and the ops set the containers', so real
//! Linux uses the same ones); outer and inner IPv4 version, header length, TOS, total
//! length, DF and fragment offset, TTL, protocol, addresses, and whether the header checksum
//! is right; UDP destination port and length, and whether the UDP checksum is absent or
//! right; the VXLAN flags, reserved bits and VNI; the inner EtherType; ICMP type, code,
//! sequence, data length, and whether its checksum is right. Compared loosely, with the
//! reason:
//! - the outer UDP source port: Linux hashes the inner flow under a per-boot random key, so
//!   only its range (`ip_local_port_range`, 32768–60999) and which packets from the same
//!   sender share it are compared (see [`src_port`]);
//! - the outer IPv4 ID (Linux draws it from a keyed hash), the inner one (the replier's
//!   kernel's pick) and the ICMP id (ping's pick) are compared as "zero" or "not zero";
//! - the real UDP checksum: veth offloads it, so the capture holds only the pseudo-header's
//!   sum that a NIC would complete; that counts as right on the real side only;
//! - ICMP data bytes: iputils puts a timestamp first; only their length is compared.
//!
//! Needs root, iproute2, iptables, procps, python3, tcpdump and iputils-ping (`.ci/run`
//! installs them). It never skips: without them it fails saying what to install.

#[path = "differential/real.rs"]
mod real;

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use swarmsim::engine::World;
use swarmsim::kernel::export::{Export, Nic, NsNames};
use swarmsim::kernel::{KernelOp, NsRef};
use swarmsim::runner::{self, Outcome};
use swarmsim::wire::PcapWriter;

use real::RealLab;

const SCENARIO: &str = "scenarios/differential-overlay.yaml";
/// The scenario's capture of node2's underlay NIC.
const CAPTURE: (&str, &str, &str, &str) = ("vxlan", "node2", "eth0", "udp port 4789");
/// The pings the scenario runs in node1's task, repeated in real Linux.
const PINGS: [&str; 2] = ["ping -c 3 10.0.1.4", "ping -c 3 -s 1422 10.0.1.4"];
/// The service's tasks: one per node, with these overlay addresses.
const TASKS: [(&str, Ipv4Addr); 2] =
    [("node1", Ipv4Addr::new(10, 0, 1, 3)), ("node2", Ipv4Addr::new(10, 0, 1, 4))];

#[test]
fn real_linux_sends_the_same_vxlan_packets_as_the_model() {
    real::preflight();
    real::need("tcpdump", "--version", "tcpdump");
    real::need("ping", "-V", "iputils-ping");
    let scenario = swarmsim::scenario::load(Path::new(SCENARIO), &runner::command::check)
        .unwrap_or_else(|e| panic!("{e}"));
    let (outcome, world) = runner::run_keeping_world(&scenario, scenario.seed).expect("runs");
    assert!(outcome.all_held(), "the scenario's own checks must hold");
    check_peer_ops(&outcome);
    let model_pcap = model_pcap(&outcome);

    let export = export(&world, &outcome, &NsNames::new(&format!("swo{}", std::process::id())));
    let mut lab = RealLab::build(&export.script(), export.namespaces());
    let (summaries, real_pcap) = real_pings(&mut lab, &world, export.names());
    drop(lab);
    for (ping, real) in PINGS.iter().zip(&summaries) {
        assert_eq!(Some(real), model_summary(&outcome, ping).as_ref(), "`{ping}`: real vs model");
    }

    let model = decode_all(&model_pcap, Side::Model);
    let real = decode_all(&real_pcap, Side::Real);
    println!("{}", table(&model));
    let diffs = differences(&model, &real);
    assert!(diffs.is_empty(), "the model and real Linux disagree:\n{}", diffs.join("\n"));
    // Three requests and three replies per ping, all through the tunnel.
    assert_eq!(model.len(), 12, "the model's capture:\n{}", table(&model));
}

/// The peers' neighbour and FDB entries come from gossip, in the event loop: the run's
/// ops must hold them, or the export would build a tunnel without peers.
fn check_peer_ops(outcome: &Outcome) {
    for (me, _) in TASKS {
        let (_, peer) = TASKS.iter().find(|(m, _)| *m != me).expect("two tasks");
        let ops: Vec<&KernelOp> =
            outcome.applied_ops.iter().filter(|(m, _)| m == me).map(|(_, op)| op).collect();
        let neigh = ops.iter().any(|op| matches!(op, KernelOp::NeighAdd { ip, .. } if ip == peer));
        let fdb = ops.iter().any(|op| matches!(op, KernelOp::FdbAdd { .. }));
        assert!(neigh && fdb, "{me}: the run's ops lack the peer entries for {peer}: {ops:#?}");
    }
}

/// The pcap the simulator writes for the scenario's capture.
fn model_pcap(outcome: &Outcome) -> Vec<u8> {
    let c = outcome.captures.iter().find(|c| c.name == CAPTURE.0).expect("the scenario's capture");
    let mut w = PcapWriter::new(swarmsim::engine::EPOCH_UNIX_SECS);
    c.frames.iter().for_each(|(at, frame)| w.push(*at, frame));
    w.into_bytes()
}

/// `N packets transmitted, M received, L% packet loss` of a ping the scenario ran on node1.
fn model_summary(outcome: &Outcome, ping: &str) -> Option<String> {
    let entry = outcome
        .entries
        .iter()
        .find(|e| e.machine == TASKS[0].0 && e.prompt.ends_with(ping))
        .unwrap_or_else(|| panic!("the scenario runs `{ping}` on {}", TASKS[0].0));
    summary(&entry.output)
}

fn summary(out: &str) -> Option<String> {
    let line = out.lines().find(|l| l.contains("packets transmitted"))?;
    Some(line.split(", time").next().unwrap_or(line).to_string())
}

/// The pings in real Linux, from the task namespace on node1, under `tcpdump -w` on node2.
fn real_pings(lab: &mut RealLab, world: &World, names: &NsNames) -> (Vec<String>, Vec<u8>) {
    let from = names.of(TASKS[0].0, &task_ns(world, TASKS[0].0));
    let file = std::env::temp_dir().join(format!("{}.pcap", names.of(CAPTURE.1, &NsRef::Root)));
    let capture =
        lab.start_tcpdump(&names.of(CAPTURE.1, &NsRef::Root), CAPTURE.2, CAPTURE.3, &file);
    let summaries = PINGS
        .iter()
        .map(|ping| {
            let argv: Vec<&str> = ping.split(' ').collect();
            let out = lab.run(&from, &argv);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            summary(&text).unwrap_or_else(|| panic!("real `{ping}`:\n{}", real::tail(&out, 10)))
        })
        .collect();
    (summaries, lab.stop_tcpdump(capture))
}

/// The namespace of the service's task on `machine`.
fn task_ns(world: &World, machine: &str) -> NsRef {
    let m = world.machine_index(machine).expect("a node");
    let daemon = world.machines[m].daemon.as_ref().expect("a Docker host");
    let tasks: Vec<NsRef> = daemon.containers().filter_map(|c| c.ns()).collect();
    assert_eq!(tasks.len(), 1, "{machine} runs one task");
    tasks.into_iter().next().expect("checked")
}

/// The script for real Linux: every LAN, machine and NIC, then each machine's ops in the
/// order the model applied them — start-up first, then the commands' and the swarm's.
fn export(world: &World, outcome: &Outcome, names: &NsNames) -> Export {
    let mut e = Export::new(names.clone());
    let nics: Vec<Nic> = (0..world.machines.len()).flat_map(|m| real::nics(world, m)).collect();
    let mut lans: Vec<&str> = nics.iter().map(|n| n.lan.as_str()).collect();
    lans.dedup();
    lans.iter().for_each(|l| e.lan(l));
    world.machines.iter().for_each(|m| e.machine(&m.name));
    nics.iter().for_each(|n| e.nic(n));
    for (machine, ops) in &outcome.startup_ops {
        e.ops(machine, ops);
    }
    for (machine, op) in &outcome.applied_ops {
        e.ops(machine, std::slice::from_ref(op));
    }
    e
}

/// One decoded packet: its fields in wire order, as (name, value).
type Fields = Vec<(String, String)>;

/// Which capture a packet comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Model,
    Real,
}

/// Every packet of a pcap, decoded.
fn decode_all(pcap: &[u8], side: Side) -> Vec<Fields> {
    let name = if side == Side::Model { "model" } else { "real" };
    let mut reader = pcap_file::pcap::PcapReader::new(pcap)
        .unwrap_or_else(|e| panic!("the {name} pcap does not open: {e}"));
    let (mut packets, mut ports) = (Vec::new(), Vec::new());
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap_or_else(|e| panic!("the {name} pcap is damaged: {e}"));
        let n = packets.len();
        assert_eq!(p.orig_len as usize, p.data.len(), "{name}: packet {n} was truncated");
        let mut fields = Packet::decode(&p.data, side)
            .unwrap_or_else(|e| panic!("{name}: packet {n} does not decode: {e}"));
        let field = |name: &str| fields.iter().position(|(f, _)| f == name).expect("decoded");
        let (sender, port) = (field("outer src IP"), field("UDP src port"));
        fields[port].1 = src_port(&fields[sender].1.clone(), &fields[port].1, &mut ports);
        packets.push(fields);
    }
    packets
}

/// The outer source port, which Linux hashes from the inner flow under a per-boot random
/// key: whether it is in `ip_local_port_range` (32768–60999), and which earlier packet from
/// the same sender had the same one — so which packets share a port is compared, not the
/// numbers. Only within one sender: the real lab's two "machines" share one kernel, hence
/// one key, where two real machines (and the model's) each have their own.
fn src_port(sender: &str, port: &str, seen: &mut Vec<(String, u16)>) -> String {
    let port: u16 = port.parse().expect("decoded as a number");
    let first = seen.iter().position(|(s, p)| s == sender && *p == port).unwrap_or(seen.len());
    seen.push((sender.to_string(), port));
    if (32768..=60999).contains(&port) {
        format!("in 32768-60999, first used by packet {first}")
    } else {
        format!("{port}, outside 32768-60999")
    }
}

/// A frame being decoded: the bytes, how far the headers so far reach, the fields so far.
struct Packet<'a> {
    side: Side,
    data: &'a [u8],
    at: usize,
    fields: Fields,
}

impl<'a> Packet<'a> {
    /// Ethernet / IPv4 / UDP / VXLAN / Ethernet / IPv4 / ICMP, or why not.
    fn decode(frame: &'a [u8], side: Side) -> Result<Fields, String> {
        let mut p = Packet { side, data: frame, at: 0, fields: Vec::new() };
        p.field("", "frame length", frame.len());
        p.ethernet("outer")?;
        let outer = p.ipv4("outer", 17)?;
        p.udp(outer)?;
        p.vxlan()?;
        p.ethernet("inner")?;
        let inner = p.ipv4("inner", 1)?;
        p.icmp(inner)?;
        Ok(p.fields)
    }

    fn field(&mut self, layer: &str, name: &str, value: impl std::fmt::Display) {
        let name = if layer.is_empty() { name.to_string() } else { format!("{layer} {name}") };
        self.fields.push((name, value.to_string()));
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let bytes = self.data.get(self.at..self.at + n).ok_or(format!("too short for {what}"))?;
        self.at += n;
        Ok(bytes)
    }

    fn ethernet(&mut self, layer: &str) -> Result<(), String> {
        let h = self.take(14, "an Ethernet header")?;
        self.field(layer, "dst MAC", mac(&h[0..6]));
        self.field(layer, "src MAC", mac(&h[6..12]));
        self.field(layer, "EtherType", format!("{:#06x}", be16(h, 12)));
        match be16(h, 12) {
            0x0800 => Ok(()),
            other => Err(format!("{layer} EtherType {other:#06x} is not IPv4")),
        }
    }

    /// The IPv4 header; returns the bytes it covers (header and payload) for the next layer.
    fn ipv4(&mut self, layer: &str, want_proto: u8) -> Result<Span<'a>, String> {
        let h = self.take(20, "an IPv4 header")?;
        self.field(layer, "IP version/IHL", format!("{:#04x}", h[0]));
        self.field(layer, "TOS", format!("{:#04x}", h[1]));
        let total = usize::from(be16(h, 2));
        self.field(layer, "IP total length", total);
        // The outer ID comes from a keyed hash in Linux; the inner one is the pinger's or
        // the replier's kernel's pick. Only whether it is zero is comparable.
        self.field(layer, "IP ID", if be16(h, 4) == 0 { "zero" } else { "not zero" });
        let frag = be16(h, 6);
        self.field(layer, "IP DF", frag & 0x4000 != 0);
        self.field(layer, "IP MF and offset", format!("{:#06x}", frag & 0xbfff));
        self.field(layer, "TTL", h[8]);
        self.field(layer, "protocol", h[9]);
        self.field(layer, "IP header checksum", checksum_word(inet_sum(h) == 0));
        let (src, dst) = (ip(&h[12..16]), ip(&h[16..20]));
        self.field(layer, "src IP", src);
        self.field(layer, "dst IP", dst);
        if h[0] != 0x45 || h[9] != want_proto {
            return Err(format!("{layer} IPv4: options or protocol {} (want {want_proto})", h[9]));
        }
        let payload = self.data.get(self.at..self.at - 20 + total).ok_or("IPv4 length")?;
        Ok(Span { src, dst, payload })
    }

    fn udp(&mut self, outer: Span) -> Result<(), String> {
        let h = self.take(8, "a UDP header")?;
        self.field("", "UDP src port", be16(h, 0));
        self.field("", "UDP dst port", be16(h, 2));
        self.field("", "UDP length", be16(h, 4));
        let sum = match be16(h, 6) {
            0 => "absent",
            _ if udp_sum(outer.payload, &outer) == 0 => "right",
            // Checksum offload: veth hands the datagram on with only the pseudo-header's
            // sum in place, which a NIC would complete.
            check if check == !udp_sum(&[], &outer) && self.side == Side::Real => "right",
            _ => "WRONG",
        };
        self.field("", "UDP checksum", sum);
        Ok(())
    }

    fn vxlan(&mut self) -> Result<(), String> {
        let h = self.take(8, "a VXLAN header")?;
        self.field("", "VXLAN flags", format!("{:#04x}", h[0]));
        self.field(
            "",
            "VXLAN reserved",
            format!("{:02x}{:02x}{:02x} {:02x}", h[1], h[2], h[3], h[7]),
        );
        self.field("", "VNI", u32::from_be_bytes([0, h[4], h[5], h[6]]));
        Ok(())
    }

    fn icmp(&mut self, inner: Span) -> Result<(), String> {
        let h = self.take(8, "an ICMP header")?;
        self.field("", "ICMP type", h[0]);
        self.field("", "ICMP code", h[1]);
        self.field("", "ICMP checksum", checksum_word(inet_sum(inner.payload) == 0));
        // ping draws its id (iputils: at random, per run).
        self.field("", "ICMP id", if be16(h, 4) == 0 { "zero" } else { "not zero" });
        self.field("", "ICMP seq", be16(h, 6));
        self.field("", "ICMP data length", inner.payload.len() - 8);
        let end = self.at - 8 + inner.payload.len();
        self.field("", "bytes after the inner packet", self.data.len() - end);
        Ok(())
    }
}

/// An IPv4 packet's addresses and payload, for the checksums of the layer above.
struct Span<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

/// The Internet checksum of `b`: zero over a header or datagram whose checksum is right.
fn inet_sum(b: &[u8]) -> u16 {
    let mut sum: u32 =
        b.chunks(2).map(|c| u32::from(c[0]) << 8 | u32::from(c.get(1).copied().unwrap_or(0))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The UDP checksum over the pseudo-header and the datagram.
fn udp_sum(datagram: &[u8], s: &Span) -> u16 {
    let len = u16::try_from(s.payload.len()).expect("within one IPv4 packet");
    let mut buf = Vec::with_capacity(12 + datagram.len());
    buf.extend(s.src.octets());
    buf.extend(s.dst.octets());
    buf.extend([0, 17]);
    buf.extend(len.to_be_bytes());
    buf.extend(datagram);
    inet_sum(&buf)
}

fn checksum_word(right: bool) -> &'static str {
    if right {
        "right"
    } else {
        "WRONG"
    }
}

/// Every field where the two captures differ, by packet index and field name.
fn differences(model: &[Fields], real: &[Fields]) -> Vec<String> {
    let mut out = Vec::new();
    if model.len() != real.len() {
        out.push(format!("packet count: model {}, real {}", model.len(), real.len()));
    }
    for (i, (m, r)) in model.iter().zip(real).enumerate() {
        let names = |f: &Fields| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        if names(m) != names(r) {
            out.push(format!("packet {i}: different layers: model {m:?}, real {r:?}"));
            continue;
        }
        for ((name, mv), (_, rv)) in m.iter().zip(r) {
            if mv != rv {
                out.push(format!("packet {i}, {name}: model {mv}, real {rv}"));
            }
        }
    }
    out
}

/// The model's packets, one line of fields each, for the test's output.
fn table(packets: &[Fields]) -> String {
    let mut out = String::new();
    for (i, p) in packets.iter().enumerate() {
        let fields: Vec<String> = p.iter().map(|(n, v)| format!("{n}={v}")).collect();
        writeln!(out, "{i}: {}", fields.join(", ")).expect("to a String");
    }
    out
}

#[test]
fn a_difference_names_the_packet_and_the_field() {
    let packet = |ttl: &str| vec![("outer TTL".to_string(), ttl.to_string())];
    let model = [packet("64"), packet("64")];
    assert_eq!(
        differences(&model, &[packet("64"), packet("63")]),
        ["packet 1, outer TTL: model 64, real 63"]
    );
    assert_eq!(differences(&model, &[packet("64")]), ["packet count: model 2, real 1"]);
}
