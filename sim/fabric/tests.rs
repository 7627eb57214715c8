//! The fabric on a small routed underlay: lan1 {a, b, r1}, internet {r1, r2}, lan2 {r2, c}.

use std::net::Ipv4Addr;

use super::*;
use crate::engine::Streams;
use crate::wire::{IcmpRepr, IpPayload, Ipv4Packet};

const A: usize = 0;
const B: usize = 1;
const R1: usize = 2;
const R2: usize = 3;
const C: usize = 4;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn mac(n: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, n])
}

fn port(machine: usize) -> Port {
    Port { machine, ifindex: 2 }
}

/// lan1 has 1ms latency, lan2 2ms, the internet none; r2's WAN port is 5ms away.
fn fabric() -> Fabric {
    let streams = Streams::new(1);
    let mut f = Fabric::default();
    let lan1 = f.add_segment("lan1", LinkParams::with_latency(ms(1)), streams.stream("lan1"));
    let wan = f.add_segment("internet", LinkParams::with_latency(ms(0)), streams.stream("wan"));
    let lan2 = f.add_segment("lan2", LinkParams::with_latency(ms(2)), streams.stream("lan2"));
    let zero = SimDuration::ZERO;
    f.attach(lan1, port(A), (mac(1), ip("10.0.1.10")), zero);
    f.attach(lan1, port(B), (mac(2), ip("10.0.1.11")), zero);
    f.attach(lan1, port(R1), (mac(3), ip("10.0.1.1")), zero);
    f.attach(wan, Port { machine: R1, ifindex: 3 }, (mac(4), ip("100.64.0.1")), zero);
    f.attach(wan, Port { machine: R2, ifindex: 3 }, (mac(5), ip("100.64.0.2")), ms(5));
    f.attach(lan2, port(R2), (mac(6), ip("10.0.2.1")), zero);
    f.attach(lan2, port(C), (mac(7), ip("10.0.2.10")), zero);
    f.add_router(R1);
    f.add_router(R2);
    f
}

fn ping_frame(dst: MacAddr, src: MacAddr, from: &str, to: &str) -> EthernetFrame {
    let echo = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; 56] };
    let packet = Ipv4Packet {
        src: ip(from),
        dst: ip(to),
        ttl: 64,
        ident: 1,
        dont_fragment: true,
        payload: IpPayload::Icmp(echo),
    };
    EthernetFrame { dst, src, payload: EtherPayload::Ipv4(packet) }
}

const T0: SimTime = SimTime(1_000_000_000);

#[test]
fn frames_reach_the_mac_owner_or_flood() {
    let mut f = fabric();
    let unicast = ping_frame(mac(2), mac(1), "10.0.1.10", "10.0.1.11");
    assert_eq!(f.deliveries(T0, port(A), &unicast), vec![(port(B), ms(1))]);
    let flood = ping_frame(MacAddr::BROADCAST, mac(1), "10.0.1.10", "10.0.1.11");
    assert_eq!(f.deliveries(T0, port(A), &flood), vec![(port(B), ms(1)), (port(R1), ms(1))]);
    assert_eq!(f.segment_of(Port { machine: R2, ifindex: 3 }), Some("internet"));
}

#[test]
fn messages_on_one_lan_and_across_routers() {
    let mut f = fabric();
    assert_eq!(f.message_path(T0, A, ip("10.0.1.11"), 100), Some((B, ms(1))));
    // lan1 1ms + the internet 0ms and r2's 5ms access link + lan2 2ms.
    assert_eq!(f.message_path(T0, A, ip("10.0.2.10"), 100), Some((C, ms(8))));
    assert_eq!(f.message_path(T0, C, ip("10.0.1.10"), 100), Some((A, ms(8))));
    assert_eq!(f.message_path(T0, A, ip("10.0.1.10"), 100), Some((A, SimDuration::ZERO)));
    assert_eq!(f.message_path(T0, A, ip("10.9.9.9"), 100), None);
}

#[test]
fn a_lan_without_a_router_is_an_island() {
    let mut f = fabric();
    let island =
        f.add_segment("island", LinkParams::with_latency(ms(1)), Streams::new(1).stream("i"));
    f.attach(island, port(9), (mac(9), ip("10.0.3.10")), SimDuration::ZERO);
    assert_eq!(f.message_path(T0, A, ip("10.0.3.10"), 100), None);
}

#[test]
fn partitions_cut_machines_apart_until_healed() {
    let mut f = fabric();
    f.set_partition(Partition::new(&[vec![A], vec![B, C]]));
    assert_eq!(f.message_path(T0, A, ip("10.0.1.11"), 100), None);
    assert_eq!(f.message_path(T0, A, ip("10.0.2.10"), 100), None);
    assert_eq!(f.message_path(T0, B, ip("10.0.2.10"), 100), Some((C, ms(8))));
    assert_eq!(f.message_path(T0, A, ip("10.0.1.1"), 100), Some((R1, ms(1))));
    let direct = ping_frame(mac(2), mac(1), "10.0.1.10", "10.0.1.11");
    assert_eq!(f.deliveries(T0, port(A), &direct), vec![]);
    // Routed across groups: the first hop to the router passes, the last egress drops it.
    let to_router = ping_frame(mac(3), mac(1), "10.0.1.10", "10.0.2.10");
    assert_eq!(f.deliveries(T0, port(A), &to_router), vec![(port(R1), ms(1))]);
    let egress = ping_frame(mac(7), mac(6), "10.0.1.10", "10.0.2.10");
    assert_eq!(f.deliveries(T0, port(R2), &egress), vec![]);
    let same_group = ping_frame(mac(7), mac(6), "10.0.1.11", "10.0.2.10");
    // A second later, so that the message above (arriving at T0 + 8ms) is not overtaken.
    let t1 = T0 + SimDuration::from_secs(1);
    assert_eq!(f.deliveries(t1, port(R2), &same_group), vec![(port(C), ms(2))]);
    f.set_partition(Partition::default());
    let t2 = t1 + SimDuration::from_secs(1);
    assert_eq!(f.message_path(t2, A, ip("10.0.2.10"), 100), Some((C, ms(8))));
    let t3 = t2 + SimDuration::from_secs(1);
    assert_eq!(f.deliveries(t3, port(R2), &egress), vec![(port(C), ms(2))]);
}

#[test]
fn loss_is_random_but_seeded() {
    let delivered = || {
        let mut f = fabric();
        let lan1 = f.segment_index("lan1").unwrap();
        f.change_link(lan1, &LinkChange { loss: Some(Loss(300_000)), ..LinkChange::default() });
        (0..1000).filter(|_| f.message_path(T0, A, ip("10.0.1.11"), 100).is_some()).count()
    };
    let n = delivered();
    assert_eq!(n, delivered());
    assert!((650..750).contains(&n), "{n} of 1000 delivered at 30% loss");
}

#[test]
fn a_tcp_stream_retransmits_what_loss_takes_and_delivers_in_order() {
    let mut f = fabric();
    let lan1 = f.segment_index("lan1").unwrap();
    f.change_link(lan1, &LinkChange { loss: Some(Loss(300_000)), ..LinkChange::default() });
    let mut last = SimTime::ZERO;
    let mut delays = Vec::new();
    for i in 0..1000 {
        // Two seconds apart: a retransmitted message rarely holds back the next one.
        let now = T0 + SimDuration::from_secs(2 * i);
        let (to, d) =
            f.stream_path(now, A, ip("10.0.1.11"), 100).expect("TCP gives up after 16 losses");
        assert_eq!(to, B);
        assert!(now + d >= last, "message {i} overtook the one before it");
        last = now + d;
        delays.push(d);
    }
    let retransmitted = delays.iter().filter(|d| **d >= ms(201)).count();
    assert!((250..350).contains(&retransmitted), "{retransmitted} of 1000 needed a retransmission");
    assert!(delays.contains(&ms(1)), "a message the link did not lose takes the link's 1 ms");
    // Back to back, a lost message holds back those sent after it until it arrives.
    let now = last + SimDuration::from_secs(10);
    let held =
        (0..100).map(|i| f.stream_path(now + SimDuration::from_millis(i), A, ip("10.0.1.11"), 100));
    let arrivals: Vec<SimTime> =
        held.zip(0..).map(|(p, i)| now + SimDuration::from_millis(i) + p.unwrap().1).collect();
    assert!(arrivals.windows(2).all(|w| w[0] <= w[1]), "the stream reordered");
}

#[test]
fn a_tcp_stream_does_not_cross_a_partition() {
    let mut f = fabric();
    f.set_partition(Partition::new(&[vec![A], vec![B, C]]));
    assert_eq!(f.stream_path(T0, A, ip("10.0.1.11"), 100), None);
}

#[test]
fn a_message_computed_ahead_does_not_hold_back_earlier_frames() {
    let mut f = fabric();
    // A → C leaves r2 for C at T0 + 6ms and arrives at T0 + 8ms; a frame r2 sends to C at
    // T0 left first and arrives first.
    assert_eq!(f.message_path(T0, A, ip("10.0.2.10"), 100), Some((C, ms(8))));
    let frame = ping_frame(mac(7), mac(6), "10.0.1.10", "10.0.2.10");
    assert_eq!(f.deliveries(T0, port(R2), &frame), vec![(port(C), ms(2))]);
}

#[test]
fn jitter_spreads_delays_without_reordering() {
    let mut f = fabric();
    let lan1 = f.segment_index("lan1").unwrap();
    f.change_link(lan1, &LinkChange { jitter: Some(ms(10)), ..LinkChange::default() });
    let mut last = SimTime::ZERO;
    let mut delays = Vec::new();
    for i in 0..200 {
        let now = T0 + SimDuration::from_micros(100 * i);
        let (_, d) = f.message_path(now, A, ip("10.0.1.11"), 100).unwrap();
        assert!(now + d >= last, "frame {i} overtook the one before it");
        last = now + d;
        delays.push(d);
    }
    assert!(delays.iter().all(|d| *d >= ms(1) && *d < ms(11) + ms(20)));
    assert!(delays.iter().any(|d| *d != delays[0]), "jitter changed nothing");
}

#[test]
fn bandwidth_queues_back_to_back_frames_per_port() {
    let mut f = fabric();
    let lan1 = f.segment_index("lan1").unwrap();
    let rate = Bandwidth::from_bits_per_sec(1_000_000);
    f.change_link(lan1, &LinkChange { bandwidth: rate, ..LinkChange::default() });
    // 1000 bytes at 1 Mbit/s take 8ms to leave the port; the second waits for the first.
    assert_eq!(f.message_path(T0, A, ip("10.0.1.11"), 1000), Some((B, ms(9))));
    assert_eq!(f.message_path(T0, A, ip("10.0.1.11"), 1000), Some((B, ms(17))));
    // Another port has its own queue.
    assert_eq!(f.message_path(T0, B, ip("10.0.1.10"), 1000), Some((A, ms(9))));
    // Once the queue drained, no wait.
    let later = T0 + SimDuration::from_secs(1);
    assert_eq!(f.message_path(later, A, ip("10.0.1.11"), 1000), Some((B, ms(9))));
    let frame = ping_frame(mac(2), mac(1), "10.0.1.10", "10.0.1.11");
    // 98 bytes: 784us at 1 Mbit/s.
    let (_, d) = f.deliveries(later + SimDuration::from_secs(1), port(A), &frame)[0];
    assert_eq!(d, ms(1) + SimDuration::from_micros(784));
}

#[test]
fn the_switch_learns_macs_behind_a_nic_per_vlan_and_forgets_them() {
    let mut f = fabric();
    let container = MacAddr([2, 0x42, 10, 0, 1, 9]);
    // Unknown: flooded. Once B has sent from it, only B gets frames for it, in that VLAN.
    let to_container = ping_frame(container, mac(1), "10.0.1.10", "10.0.1.99").tagged(10);
    assert_eq!(f.deliveries(T0, port(A), &to_container).len(), 2);
    let from_container = ping_frame(mac(1), container, "10.0.1.99", "10.0.1.10").tagged(10);
    assert_eq!(f.deliveries(T0, port(B), &from_container), vec![(port(A), ms(1))]);
    assert_eq!(f.deliveries(T0, port(A), &to_container), vec![(port(B), ms(1))]);
    let other_vlan = ping_frame(container, mac(1), "10.0.1.10", "10.0.1.99").tagged(20);
    assert_eq!(f.deliveries(T0, port(A), &other_vlan).len(), 2);
    let later = T0 + SWITCH_AGEING_TIME;
    assert_eq!(f.deliveries(later, port(A), &to_container).len(), 2);
}
