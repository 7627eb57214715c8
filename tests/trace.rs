//! `swarmsim trace`, run as a person runs it: the flagship's routing mesh from a client on
//! the LAN (the task on the same host, and the task across the VXLAN tunnel), a packet the
//! pets lab drops, exit codes, bad input, and byte-identical output for the same seed.

use std::process::{Command, Output};

fn trace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmsim"))
        .arg("trace")
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The trace with the probe's ephemeral port (and the ports that follow it) as `<port>`,
/// so that the asserted lines do not depend on a random draw.
fn normalized(out: &Output) -> String {
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8");
    let first = text.lines().find(|l| l.starts_with("Packet 1 (request): IP ")).expect("a packet");
    let src = first.split_whitespace().nth(4).expect("IP src.port");
    let port = src.rsplit('.').next().expect("a port");
    let text = text.replace(&format!(":{port}"), ":<port>").replace(&format!(".{port}"), ".<port>");
    text.lines().map(untimed).collect::<Vec<_>>().join("\n")
}

/// A hop line without its time (veths add a random jitter): `t eth0  netfilter …`.
fn untimed(line: &str) -> String {
    match line.get(4..13) {
        Some(time) if time.trim_start().ends_with("ms") && line.len() > 15 => {
            format!("t {}", &line[15..])
        }
        _ => line.to_string(),
    }
}

#[track_caller]
fn assert_lines(text: &str, want: &[&str]) {
    for line in want {
        assert!(text.lines().any(|l| l == *line), "no line {line:?} in:\n{text}");
    }
}

/// A line that starts and ends as given (the middle holds a flow-hashed port).
#[track_caller]
fn assert_line_around(text: &str, start: &str, end: &str) {
    assert!(
        text.lines().any(|l| l.starts_with(start) && l.ends_with(end)),
        "no line {start:?} … {end:?} in:\n{text}"
    );
}

const FLAGSHIP: &str = "scenarios/azure-two-host.yaml";

/// The flagship's routing mesh from a client on its LAN to host 2's published port.
fn mesh(extra: &[&str]) -> Output {
    let args = [FLAGSHIP, "--from", "172.16.24.100", "--to", "172.16.24.5:8080"];
    trace(&[&args[..], extra].concat())
}

/// The flagship with host 2's ingress IPVS about to pick the task on host 1: before the
/// `expect: reachable` step, after host 2's own curl took its local task.
fn before_the_reachability_step() -> String {
    let yaml = std::fs::read_to_string(FLAGSHIP).expect("the flagship scenario");
    let at = yaml
        .lines()
        .position(|l| l.contains("reachable: [\"docker-host-1 -> docker-host-2:8080\""));
    at.expect("the flagship checks the routing mesh").to_string()
}

#[test]
fn routing_mesh_to_the_task_on_the_same_host() {
    let out = mesh(&["--stop-at", "Challenge 6"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = normalized(&out);
    assert_lines(
        &text,
        &[
            "Source: 172.16.24.100, a temporary client on the underlay LAN azure-subnet",
            "Destination: 172.16.24.5:8080",
            "  docker-host-2 · (host)",
            "t eth0            netfilter nat PREROUTING rule 1: DOCKER-INGRESS",
            "t eth0            netfilter nat DOCKER-INGRESS rule 1: DNAT to:172.18.0.2:8080",
            "t eth0            netfilter DNAT 172.16.24.5:8080 -> 172.18.0.2:8080",
            "t eth0            route     forward 172.18.0.2 via docker_gwbridge",
            "t eth0            netfilter filter DOCKER-INGRESS rule 1: ACCEPT",
            "  docker-host-2 · ingress_sbox",
            "t eth1            netfilter mangle PREROUTING rule 1: MARK MARK set 0x100",
            "t eth1            netfilter IPVS FWM  256 (rr): new connection 172.16.24.100:<port> -> 10.0.0.6:8080 [SYN_RECV]",
            "t eth0            netfilter nat POSTROUTING rule 2: SNAT to:10.0.0.3",
            "t eth0            netfilter SNAT 172.16.24.100:<port> -> 10.0.0.3:<port>",
            "t eth0            netfilter nat PREROUTING rule 1: REDIRECT redir ports 80",
            "t eth0            netfilter REDIRECT 10.0.0.6:8080 -> 10.0.0.6:80",
            "t eth0            netfilter un-DNAT 10.0.0.6:80 -> 10.0.0.6:8080",
            "t eth0            netfilter un-SNAT 10.0.0.3:<port> -> 172.16.24.100:<port>",
            "t eth0            netfilter IPVS: reply 10.0.0.6:8080 -> source 172.18.0.2:8080",
            "t eth0            netfilter un-DNAT 172.18.0.2:8080 -> 172.16.24.5:8080",
            "Result: answered.",
        ],
    );
    assert!(text.contains("\nPacket 2 (reply): IP 10.0.0.6.8080 > 10.0.0.3.<port>: Flags [S.]"));
    assert!(text
        .contains("\nPacket 3 (request): IP 172.16.24.100.<port> > 172.16.24.5.8080: Flags [.]"));
    assert!(text.contains("\nDelivered to 10.0.0.6 on docker-host-2 · container web-service.2."));
}

#[test]
fn routing_mesh_to_the_task_across_the_vxlan_tunnel() {
    let stop = before_the_reachability_step();
    let out = mesh(&["--stop-at", &stop]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = normalized(&out);
    assert_lines(
        &text,
        &[
            "t eth0            netfilter nat DOCKER-INGRESS rule 1: DNAT to:172.18.0.2:8080",
            "t eth1            netfilter IPVS FWM  256 (rr): new connection 172.16.24.100:<port> -> 10.0.0.5:8080 [SYN_RECV]",
            "  docker-host-1 · (host)",
            "Result: answered.",
        ],
    );
    let encap = "t vxlan0          encap     encap VNI 4096 172.16.24.5:";
    assert_line_around(&text, encap, " -> 172.16.24.4:4789");
    let decap = "t vxlan0          decap     decap VNI 4096 172.16.24.5:";
    assert_line_around(&text, decap, " -> 172.16.24.4:4789");
    assert_line_around(&text, "", "netfilter REDIRECT 10.0.0.5:8080 -> 10.0.0.5:80");
    let back = "t vxlan0          encap     encap VNI 4096 172.16.24.4:";
    assert_line_around(&text, back, " -> 172.16.24.5:4789");
    assert!(text.contains("\nDelivered to 10.0.0.5 on docker-host-1 · container web-service.1."));
}

#[test]
fn a_dog_task_cannot_reach_a_cat_task() {
    let out = trace(&["scenarios/pets-overlay.yaml", "--from", "dog-web.1", "--to", "cat-db.1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = normalized(&out);
    assert_lines(
        &text,
        &[
            "Destination: 10.2.0.3:6379",
            "t eth2            route     output 10.2.0.3 via eth2 gw 172.18.0.1",
            "  host-B · (host)",
            "t docker_gwbridge DROP      no route to 10.2.0.3",
            "Result: DROPPED on host-B · (host) at docker_gwbridge: no route to 10.2.0.3",
        ],
    );
}

#[test]
fn after_the_cleanup_the_published_port_refuses() {
    let out = mesh(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = normalized(&out);
    assert_lines(
        &text,
        &[
            "t -               deliver   no socket on port 8080: RST",
            "Result: refused: the packet got through, nothing listens.",
        ],
    );
}

#[test]
fn an_icmp_echo_is_answered_and_its_reply_is_a_leg_of_its_own() {
    let out = trace(&[
        "scenarios/pets-overlay.yaml",
        "--from",
        "dog-web.1",
        "--to",
        "dog-db.1",
        "--proto",
        "icmp",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(text.contains("\nPacket 2 (reply): IP 10.1.0.3 > 10.1.0.6: ICMP echo reply, id "));
    assert!(
        text.contains("\nResult: answered.\nDelivered to 10.1.0.3 on host-A · container dog-db.1.")
    );
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let args = ["--stop-at", "Cleanup", "--seed", "7"];
    let (a, b) = (mesh(&args), mesh(&args));
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn bad_input_exits_2_with_a_hint() {
    let cases: [(&[&str], &str); 5] = [
        (&["scenarios/pets-overlay.yaml", "--from", "nosuch", "--to", "host-B:80"], "error: --from nosuch: no such machine, container or task\nhint: known here: host-A, host-B, "),
        (&["scenarios/pets-overlay.yaml", "--from", "host-A", "--to", "host-B:99999"], "error: --to host-B:99999: the port must be a number from 1 to 65535\n"),
        (&["scenarios/pets-overlay.yaml", "--from", "host-A", "--to", "10.9.9.9"], "error: --to 10.9.9.9: no port given and nothing listens there\nhint: give one, as 10.9.9.9:PORT\n"),
        (&["scenarios/pets-overlay.yaml", "--from", "host-A", "--to", "host-B:80", "--stop-at", "zzz"], "error: --stop-at zzz: no step starts at that line and no `note:` step says that\n"),
        (&["no-such-file.yaml", "--from", "a", "--to", "b"], "error: cannot read the scenario file"),
    ];
    for (args, want) in cases {
        let out = trace(args);
        let err = String::from_utf8(out.stderr).expect("UTF-8");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// The book chapter's console blocks are real runs: each `$ swarmsim trace ARGS` block shows
/// exactly what the binary prints, then `$ echo $?` and its exit code.
#[test]
fn the_book_chapter_shows_real_runs() {
    let chapter = std::fs::read_to_string("book/src/trace.md").expect("the trace chapter");
    let blocks: Vec<&str> = chapter
        .split("```console\n")
        .skip(1)
        .filter_map(|b| b.split("```").next()?.strip_prefix("$ swarmsim trace "))
        .collect();
    assert_eq!(blocks.len(), 2, "the chapter shows two traces");
    for block in blocks {
        let (command, shown) = block.split_once('\n').expect("a command line, then its output");
        let (stdout, code) = shown.split_once("$ echo $?\n").expect("the exit code is shown");
        let out = trace(&command.split_whitespace().collect::<Vec<_>>());
        let printed = String::from_utf8(out.stdout).expect("UTF-8");
        assert_eq!(printed, stdout, "book/src/trace.md: `{command}` prints something else now");
        assert_eq!(out.status.code().map(|c| format!("{c}\n")).as_deref(), Some(code));
    }
}
