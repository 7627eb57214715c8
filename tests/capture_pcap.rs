//! The capture in bridge-networking.yaml: its pcap opens in real tcpdump and tshark, and
//! shows exactly the packets the report lists (the host pinging its container over docker0,
//! with the ARP exchange that precedes the first echo).

use std::path::Path;
use std::process::Command;

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name).args(args).env("TZ", "UTC").output().unwrap_or_else(|e| {
        panic!("{name} must be installed (apt-get install tcpdump tshark): {e}")
    });
    assert!(out.status.success(), "{name} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Drops each line's first word (the timestamp, in either format).
fn without_timestamps(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_string())).collect()
}

#[test]
fn the_ping_capture_decodes_as_the_report_says() {
    let dir = std::env::temp_dir().join(format!("swarmsim-pcap-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_swarmsim"))
        .args(["scenarios/bridge-networking.yaml", "--quiet", "--out"])
        .arg(&dir)
        .status()
        .expect("the binary runs");
    assert!(status.success());
    let pcap = dir.join("ping-docker0.pcap");
    let pcap = pcap.to_str().expect("utf-8 path");

    let report = std::fs::read_to_string(dir.join("report.md")).expect("report written");
    let section = report.split("### ping-docker0").nth(1).expect("capture section");
    let listed: String = section
        .lines()
        .skip(3)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    let decoded = tool("tcpdump", &["-n", "-r", pcap]);
    assert_eq!(without_timestamps(&decoded), without_timestamps(&listed));

    let requests =
        tool("tshark", &["-r", pcap, "-Y", "icmp.type == 8", "-T", "fields", "-e", "ip.dst"]);
    assert_eq!(requests, "172.17.0.2\n".repeat(5));
    let replies =
        tool("tshark", &["-r", pcap, "-Y", "icmp.type == 0", "-T", "fields", "-e", "ip.src"]);
    assert_eq!(replies, "172.17.0.2\n".repeat(5));
    let arp = tool("tshark", &["-r", pcap, "-Y", "arp", "-T", "fields", "-e", "arp.opcode"]);
    assert_eq!(arp.lines().count(), 2, "one ARP request and its reply: {arp}");
    let _ = std::fs::remove_dir_all(&dir);
}
