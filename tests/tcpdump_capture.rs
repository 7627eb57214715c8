//! `capture: {run: "tcpdump …"}` end to end: what the transcript shows at start and stop,
//! byte for byte, and that the packet lines are what real tcpdump prints reading the run's
//! pcap (`tcpdump -n -r`, TZ=UTC: the simulated clock starts at 10:00:00 UTC).

use std::process::Command;

use swarmsim::runner::command::check as check_command;
use swarmsim::runner::{self, Entry};
use swarmsim::scenario;

const SCENARIO: &str = r#"
name: tcpdump-forms
engine: "24.0.7"
underlay:
  networks:
    - {name: lan, subnet: 10.0.2.0/24}
hosts:
  - {name: docker-host, ip: 10.0.2.15}
steps:
  - on: docker-host
    run: docker run -dt --name web ubuntu sleep infinity
  - capture: {on: docker-host, run: "tcpdump -eni docker0 -c 2 arp", name: arp}
  - capture: {on: docker-host, run: "sudo tcpdump -ni docker9", name: typo}
  - capture: {on: docker-host, run: "tcpdump -i docker0 -n icmp", name: icmp}
  - on: docker-host
    run: ping -c 1 172.17.0.2
  - stop_capture: arp
  - stop_capture: typo
    expect: {exit_code: 1, output_equals: "tcpdump: docker9: No such device exists\n(No such device exists)\n"}
  - stop_capture: icmp
    expect: {output_contains: "\n^C\n2 packets captured\n2 packets received by filter\n"}
"#;

fn entry<'o>(entries: &'o [Entry], prompt: &str) -> &'o Entry {
    entries.iter().find(|e| e.prompt == prompt).unwrap_or_else(|| panic!("no entry {prompt}"))
}

#[test]
fn the_transcript_shows_tcpdump_as_a_terminal_would() {
    let s = scenario::parse(SCENARIO, "tcpdump-forms.yaml", &check_command).expect("valid");
    let (outcome, world) = runner::run_keeping_world(&s, 1).expect("runs");
    assert!(outcome.all_held(), "{}", swarmsim::report::summary(&outcome));
    let start = entry(&outcome.entries, "$ tcpdump -eni docker0 -c 2 arp");
    assert_eq!(
        start.output,
        "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n\
         listening on docker0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n"
    );
    let failed = entry(&outcome.entries, "$ sudo tcpdump -ni docker9");
    assert_eq!(failed.exit_code, 1);
    assert!(!outcome.entries.iter().any(|e| e.prompt.starts_with("# typo")));

    let host = world.machines.iter().find(|m| m.name == "docker-host").expect("host");
    let bridge = host.kernel.root().link_by_name("docker0").expect("docker0").mac;
    let stop = entry(&outcome.entries, "# arp (continued): $ tcpdump -eni docker0 -c 2 arp");
    // -c 2 ended tcpdump by itself: no ^C, and the pcap keeps the two packets only.
    assert_eq!(
        stop.output,
        format!(
            "10:00:04.000000 {bridge} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: \
             Request who-has 172.17.0.2 tell 172.17.0.1, length 28\n\
             10:00:04.000044 02:42:ac:11:00:02 > {bridge}, ethertype ARP (0x0806), length 42: \
             Reply 172.17.0.2 is-at 02:42:ac:11:00:02, length 28\n\
             2 packets captured\n2 packets received by filter\n0 packets dropped by kernel\n"
        )
    );
    let arp = outcome.captures.iter().find(|c| c.name == "arp").expect("arp capture");
    assert_eq!(arp.frames.len(), 2);
}

#[test]
fn packet_lines_are_what_real_tcpdump_reads_from_the_pcap() {
    let dir = std::env::temp_dir().join(format!("swarmsim-tcpdump-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_swarmsim"))
        .args(["scenarios/namespaces.yaml", "--out"])
        .arg(&dir)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let transcript = String::from_utf8(out.stdout).expect("utf-8");
    let shown: Vec<&str> = transcript
        .split("# ping-docker0 (continued): $ tcpdump -ni docker0 icmp\n")
        .nth(1)
        .expect("the stop entry")
        .lines()
        .take_while(|l| *l != "^C")
        .collect();
    let pcap = dir.join("ping-docker0.pcap");
    let real = Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(&pcap)
        .env("TZ", "UTC")
        .output()
        .expect("tcpdump must be installed (apt-get install tcpdump)");
    assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stderr));
    let real = String::from_utf8(real.stdout).expect("utf-8");
    assert_eq!(shown.len(), 4);
    assert_eq!(shown, real.lines().collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
