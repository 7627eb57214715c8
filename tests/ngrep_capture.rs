//! `capture: {run: "docker run --net host jpetazzo/netshoot ngrep -tpd eth0 HTTP"}` end to
//! end, as lab 001 sniffs its overlays: through an unencrypted overlay the HTTP request
//! and response show in clear inside the VXLAN datagrams; through an encrypted one ngrep
//! sees only ESP and prints one `#` per packet. What the transcript shows is what real
//! ngrep prints reading the run's pcap (`ngrep -tI FILE HTTP`, TZ=UTC).
//!
//! The two overlays are in two runs: the simulated mark rule encrypts every VXLAN datagram
//! between two nodes once an encrypted overlay joins them (see `docker::overlay_crypto`).

use std::path::Path;
use std::process::Command;

use swarmsim::runner::command::check as check_command;
use swarmsim::runner::{self, Entry};
use swarmsim::scenario;

const SCENARIO: &str = r#"
name: ngrep-OPTS
seed: 1
underlay:
  networks:
    - {name: lan, subnet: 172.16.24.0/24, latency: 0.2ms}
hosts:
  - {name: node1, ip: 172.16.24.4}
  - {name: node2, ip: 172.16.24.5}
steps:
  - {on: node1, run: docker swarm init --advertise-addr 172.16.24.4}
  - {on: node2, run: 'docker swarm join --token ${WORKER_TOKEN} 172.16.24.4:2377'}
  - {on: node1, run: docker network create --attachable -d overlay OPTS net}
  - {on: node2, run: docker run -d --name web --network net nginx}
  - {on: node1, run: docker run -dit --name client --network net alpine}
  - capture: {on: node2, run: "docker run --net host jpetazzo/netshoot ngrep -tpd eth0 HTTP", name: sniff}
  - {in: client, run: curl -s 10.0.1.2}
  - stop_capture: sniff
    expect: {exit_code: EXIT}
"#;

const COMMAND: &str = "docker run --net host jpetazzo/netshoot ngrep -tpd eth0 HTTP";

const STARTUP: &str = "interface: eth0 (172.16.24.0/255.255.255.0)\n\
                       filter: ((ip || ip6) || (vlan && (ip || ip6)))\nmatch: HTTP\n";

fn run(options: &str, exit: u8) -> (Vec<Entry>, tempdir::Dir) {
    let src = SCENARIO
        .replace("ngrep-OPTS", if options.is_empty() { "ngrep-plain" } else { "ngrep-secure" })
        .replace("OPTS ", options)
        .replace("EXIT", &exit.to_string());
    let s = scenario::parse(&src, "ngrep.yaml", &check_command).expect("valid");
    let (outcome, world) = runner::run_keeping_world(&s, 1).expect("runs");
    assert!(outcome.all_held(), "{}", swarmsim::report::summary(&outcome));
    let dir = tempdir::Dir::new(options);
    for capture in &outcome.captures {
        let mut pcap = swarmsim::wire::PcapWriter::new(swarmsim::engine::EPOCH_UNIX_SECS);
        capture.frames.iter().for_each(|(at, f)| pcap.push(*at, f));
        std::fs::write(dir.0.join("sniff.pcap"), pcap.into_bytes()).expect("writes");
    }
    drop(world);
    (outcome.entries, dir)
}

/// A directory removed when dropped.
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let tag: String = tag.chars().filter(char::is_ascii_alphanumeric).collect();
            let dir =
                std::env::temp_dir().join(format!("swarmsim-ngrep-{}{tag}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("creates");
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn entry<'e>(entries: &'e [Entry], prompt: &str) -> &'e Entry {
    entries.iter().find(|e| e.prompt == prompt).unwrap_or_else(|| panic!("no entry {prompt}"))
}

/// What real ngrep prints for the pcap, less its `input:`, `filter:`, `match:` lines and
/// its final `exit` (a file's end, where the terminal shows `^Cexit` and the counts).
fn real_ngrep(pcap: &Path) -> String {
    let out = Command::new("ngrep")
        .args(["-tI"])
        .arg(pcap)
        .arg("HTTP")
        .env("TZ", "UTC")
        .output()
        .expect("ngrep must be installed (apt-get install ngrep)");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let body: String = text.split_inclusive('\n').skip(3).collect();
    body.strip_suffix("exit\n").expect("ngrep ends with exit").to_string()
}

#[test]
fn http_through_a_plain_overlay_shows_in_clear() {
    let (entries, dir) = run("", 0);
    let start = entry(&entries, &format!("node2$ {COMMAND}"));
    assert_eq!((start.output.as_str(), start.exit_code), (STARTUP, 0));
    let stop = entry(&entries, &format!("# sniff (continued): node2$ {COMMAND}"));
    assert_eq!(stop.exit_code, 0);
    let (packets, exit) = stop.output.split_once("^C").expect("Ctrl-C");
    // Rows of 75 characters: the VXLAN header and inner headers come first.
    assert!(packets.contains("GET / HTTP/1.\n  1..Host: 10.0.1.2..User-Agent: curl/7.68.0"));
    assert!(packets.contains("HTTP/1.1 200 \n  OK..Server: nginx/1.21.1..Content-Type"));
    assert!(packets.contains("\nU 2021/07/08 10:00:"), "{packets}");
    assert!(exit.starts_with("exit\n") && exit.ends_with(" matched\n"), "{exit}");
    assert_eq!(packets, real_ngrep(&dir.0.join("sniff.pcap")));
}

#[test]
fn http_through_an_encrypted_overlay_shows_only_hashes() {
    let (entries, dir) = run("--opt encrypted ", 1);
    let stop = entry(&entries, &format!("# sniff (continued): node2$ {COMMAND}"));
    assert_eq!(stop.exit_code, 1);
    let (packets, exit) = stop.output.split_once("^C").expect("Ctrl-C");
    assert!(!packets.is_empty() && packets.chars().all(|c| c == '#'), "{packets}");
    assert_eq!(exit, format!("exit\n{} received, 0 matched\n", packets.len()));
    assert_eq!(packets, real_ngrep(&dir.0.join("sniff.pcap")));
}
