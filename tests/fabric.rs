//! The underlay declared in a scenario: routed subnets, link parameters (jitter, loss,
//! bandwidth) and faults during a run (partition, heal, link changes), seen through the
//! transcript of `ping` as a person would run it.

use std::net::Ipv4Addr;

use swarmsim::engine::SimDuration;
use swarmsim::runner::{self, command::check as check_command, Outcome};
use swarmsim::scenario;

/// Two routed LANs (1ms and 2ms one way), three hosts, and an internet external behind
/// lan1's gateway, three routers and 10ms away. `LINK` is replaced by lan1's extra keys.
const TOPOLOGY: &str = "name: fabric
underlay:
  networks:
    - {name: lan1, subnet: 192.168.1.0/24, gateway: 192.168.1.1, latency: 1msLINK}
    - {name: lan2, subnet: 192.168.2.0/24, gateway: 192.168.2.1, latency: 2ms}
hosts:
  - {name: host-a, ip: 192.168.1.10}
  - {name: host-b, ip: 192.168.1.11}
  - {name: host-c, ip: 192.168.2.10}
externals:
  - {name: www, ip: 8.8.8.8, network: lan1, latency: 10ms, hops: 3}
steps:
";

fn scenario(link: &str, steps: &str) -> scenario::Scenario {
    let source = TOPOLOGY.replace("LINK", link) + steps;
    scenario::parse(&source, "fabric.yaml", &check_command).unwrap_or_else(|e| panic!("{e}"))
}

fn run(link: &str, steps: &str, seed: u64) -> (Outcome, String) {
    let outcome = runner::run(&scenario(link, steps), seed).expect("runs");
    let transcript = swarmsim::report::transcript(&outcome, false);
    (outcome, transcript)
}

/// The `time=` of every reply line.
fn rtts(transcript: &str) -> Vec<&str> {
    transcript.lines().filter_map(|l| l.split("time=").nth(1)).collect()
}

#[test]
fn routed_subnets_reach_each_other_through_both_routers() {
    let steps = "  - {on: host-a, run: ping -c 2 192.168.2.10}
  - {on: host-c, run: ping -c 2 192.168.1.10}
  - {on: host-a, run: ping -c 1 8.8.8.8}
  - {on: host-c, run: ping -c 1 8.8.8.8}
";
    let (outcome, t) = run("", steps, 1);
    assert!(outcome.all_held(), "{t}");
    // Two routers: TTL 64 - 2; one way 1ms + 2ms, so 6ms round trip once ARP is done.
    assert!(t.contains("64 bytes from 192.168.2.10: icmp_seq=2 ttl=62 time=6.00 ms\n"), "{t}");
    assert!(t.contains("64 bytes from 192.168.1.10: icmp_seq=2 ttl=62 time=6.00 ms\n"), "{t}");
    // www sends with TTL 62 (two routers beyond the gateway) and the replies cross one
    // gateway, from either LAN: 1ms + 10ms and 2ms + 10ms one way.
    assert!(t.contains("64 bytes from 8.8.8.8: icmp_seq=1 ttl=61 time=22.0 ms\n"), "{t}");
    assert!(t.contains("64 bytes from 8.8.8.8: icmp_seq=1 ttl=61 time=24.0 ms\n"), "{t}");
}

#[test]
fn the_fabric_routes_control_messages_between_registered_machines() {
    let (_, mut world) = runner::run_keeping_world(&scenario("", ""), 1).expect("runs");
    let host_c = world.machine_index("host-c").unwrap();
    let host_a = world.machine_index("host-a").unwrap();
    let now = world.now();
    let c = Ipv4Addr::new(192, 168, 2, 10);
    let path = world.fabric.message_path(now, host_a, c, 100);
    assert_eq!(path, Some((host_c, SimDuration::from_millis(3))));
    let www = Ipv4Addr::new(8, 8, 8, 8);
    let path = world.fabric.message_path(now, host_c, www, 100);
    assert_eq!(path, Some((world.machine_index("www").unwrap(), SimDuration::from_millis(12))));
}

#[test]
fn a_partition_cuts_groups_apart_and_heal_restores_them() {
    let steps = "  - fault: {partition: [[host-a], [host-b, host-c]]}
  - {on: host-a, run: ping -c 2 192.168.1.11, expect: {exit_code: 1}}
  - {on: host-a, run: ping -c 2 192.168.2.10, expect: {exit_code: 1}}
  - {on: host-b, run: ping -c 1 192.168.2.10}
  - {on: host-a, run: ping -c 1 192.168.1.1}
  - fault: heal
  - {on: host-a, run: ping -c 2 192.168.1.11}
  - {on: host-a, run: ping -c 2 192.168.2.10}
";
    let (outcome, t) = run("", steps, 1);
    assert!(outcome.all_held(), "{t}");
    assert!(t.starts_with("# fault: partition [host-a] | [host-b, host-c]\n\n"), "{t}");
    assert!(t.contains("\n# fault: heal\n\n"), "{t}");
    assert_eq!(t.matches("2 packets transmitted, 0 received, 100% packet loss").count(), 2, "{t}");
    // After heal, the neighbour entries are still there: no ARP, plain round trips.
    assert!(t.contains("64 bytes from 192.168.1.11: icmp_seq=2 ttl=64 time=2.00 ms\n"), "{t}");
    assert!(t.contains("64 bytes from 192.168.2.10: icmp_seq=2 ttl=62 time=6.00 ms\n"), "{t}");
}

#[test]
fn jitter_varies_round_trips_but_the_seed_fixes_them() {
    let steps = "  - {on: host-a, run: ping -c 5 192.168.1.11}\n";
    let (_, first) = run(", jitter: 4ms", steps, 1);
    let (_, again) = run(", jitter: 4ms", steps, 1);
    let (_, other_seed) = run(", jitter: 4ms", steps, 2);
    assert_eq!(first, again);
    assert_ne!(rtts(&first), rtts(&other_seed));
    let times = rtts(&first);
    assert_eq!(times.len(), 5, "{first}");
    assert!(times.iter().any(|t| *t != times[1]), "{first}");
    // Without jitter every round trip after the first (ARP) is exactly 2ms.
    let (_, plain) = run("", steps, 1);
    assert_eq!(rtts(&plain)[1..], ["2.00 ms"; 4]);
}

#[test]
fn loss_shows_in_pings_statistics() {
    let steps = "  - {on: host-a, run: ping -c 20 192.168.1.11}\n";
    let (_, t) = run(", loss: 20%", steps, 1);
    let stats = t.lines().find(|l| l.contains("packets transmitted")).expect("statistics");
    assert!(stats.starts_with("20 packets transmitted, "), "{t}");
    assert!(!stats.contains(" 0% packet loss"), "{t}");
    assert_eq!(run(", loss: 20%", steps, 1).1, t);
    let (_, fraction) = run(", loss: 0.2", steps, 1);
    assert_eq!(fraction, t, "`0.2` and `20%` are the same loss");
}

#[test]
fn bandwidth_adds_serialization_delay() {
    // A 98-byte echo frame takes 784us at 1mbit, each way: 2ms + 1.568ms.
    let steps = "  - {on: host-a, run: ping -c 2 192.168.1.11}\n";
    let (_, t) = run(", bandwidth: 1Mbit", steps, 1);
    assert_eq!(rtts(&t)[1], "3.57 ms", "{t}");
}

#[test]
fn a_link_fault_changes_the_network_mid_run() {
    let steps = "  - {on: host-a, run: ping -c 2 192.168.1.11}
  - fault: {link: {network: lan1, latency: 5ms, loss: 100%}}
  - {on: host-a, run: ping -c 2 192.168.1.11, expect: {exit_code: 1}}
  - fault: {link: {network: lan1, loss: 0%}}
  - {on: host-a, run: ping -c 2 192.168.1.11}
";
    let (outcome, t) = run("", steps, 1);
    assert!(outcome.all_held(), "{t}");
    assert!(t.contains("# fault: link lan1: latency 5ms, loss 100%\n"), "{t}");
    assert!(t.contains("# fault: link lan1: loss 0%\n"), "{t}");
    assert_eq!(rtts(&t)[1..], ["2.00 ms", "10.0 ms", "10.0 ms"], "{t}");
}
