//! The real side: the exported script run in real Linux namespaces on this machine, probed
//! with small Python programs that behave like `swarmsim::check::peer`, or with the real
//! tools (`ping`, `tcpdump -w`).
//!
//! Everything happens in namespaces the script created, to addresses it assigned. The
//! [`RealLab`] guard kills the processes it started (by their own handles), deletes every
//! namespace the script creates and every capture file it wrote, also when a test panics.

// Each differential test includes this file and uses its own part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use swarmsim::check::peer::{Attempt, PeerServer};
use swarmsim::engine::World;
use swarmsim::kernel::export::Nic;
use swarmsim::kernel::LinkKind;

/// Prints `ready`, then every client's address (and sends it back), until `argv[3]` seconds
/// pass without a client.
const SERVER: &str = r#"
import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(8)
l.settimeout(float(sys.argv[3]))
print("ready", flush=True)
try:
    while True:
        c, a = l.accept()
        print(a[0], flush=True)
        c.sendall((a[0] + "\n").encode())
        c.close()
except socket.timeout:
    pass
"#;

/// Connects with a 2 s timeout, reads until EOF or 1 s of silence, prints how it ended.
const CLIENT: &str = r#"
import errno, socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
except ConnectionRefusedError:
    sys.exit(print("refused"))
except socket.timeout:
    sys.exit(print("silent"))
except OSError as e:
    if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        sys.exit(print("unreachable"))
    raise
s.settimeout(1)
try:
    while s.recv(100):
        pass
except OSError:
    pass
print("connected")
"#;

/// docker-proxy: listens on argv[1]:argv[2], relays each connection to argv[3]:argv[4];
/// gives up after argv[5] seconds whatever happens.
const PROXY: &str = r#"
import signal, socket, sys, threading
signal.alarm(int(sys.argv[5]))
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(16)
print("ready", flush=True)
while True:
    c, _ = l.accept()
    try:
        b = socket.create_connection((sys.argv[3], int(sys.argv[4])), timeout=2)
    except OSError:
        c.close()
        continue
    b.settimeout(None)
    for x, y in ((c, b), (b, c)):
        threading.Thread(target=pipe, args=(x, y), daemon=True).start()
"#;

/// A probe server stops waiting for clients after this long.
const SERVER_IDLE_SECS: &str = "6";
/// A relay exits after this long even if the test died without cleaning up.
const PROXY_LIFETIME_SECS: &str = "300";

/// The tools the real side runs, and the Debian package of each.
const TOOLS: [(&str, &str, &str); 4] = [
    ("ip", "-V", "iproute2"),
    ("iptables", "-V", "iptables"),
    ("sysctl", "-V", "procps"),
    ("python3", "-V", "python3"),
];

/// Fails, saying what to do, unless this is root with every tool installed.
pub fn preflight() {
    let uid = Command::new("id").arg("-u").output().expect("`id` runs");
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    assert_eq!(uid, "0", "the differential test builds network namespaces: run it as root");
    for (tool, flag, package) in TOOLS {
        need(tool, flag, package);
    }
}

/// Fails, saying what to install, unless `tool flag` runs and succeeds.
pub fn need(tool: &str, flag: &str, package: &str) {
    let ok = Command::new(tool).arg(flag).output().is_ok_and(|o| o.status.success());
    assert!(ok, "the differential test needs `{tool}`: apt-get install -y {package}");
}

/// One probe's result on the real side.
pub struct RealProbe {
    pub attempt: Attempt,
    pub seen: Vec<Ipv4Addr>,
}

/// The namespaces a script creates and the processes started in them; dropping it removes
/// them all.
pub struct RealLab {
    namespaces: Vec<String>,
    children: Vec<Child>,
    files: Vec<PathBuf>,
}

/// A `tcpdump -w` the lab started; [`RealLab::stop_tcpdump`] ends it.
pub struct Tcpdump {
    pid: u32,
    file: PathBuf,
}

/// How long the last packets get to reach tcpdump before it is stopped.
const CAPTURE_SETTLE: Duration = Duration::from_millis(500);

impl RealLab {
    /// Runs `script` (from `swarmsim::kernel::export`), which creates `namespaces`.
    pub fn build(script: &str, namespaces: Vec<String>) -> RealLab {
        let lab = RealLab { namespaces, children: Vec::new(), files: Vec::new() };
        let out = Command::new("sh").args(["-e", "-x", "-c", script]).output().expect("sh runs");
        assert!(out.status.success(), "the exported script failed:\n{}", tail(&out, 25));
        lab
    }

    /// A docker-proxy relay in `ns`, as Docker starts one per published port.
    pub fn proxy(&mut self, ns: &str, listen: (Ipv4Addr, u16), backend: (Ipv4Addr, u16)) {
        let args = [listen.0.to_string(), listen.1.to_string()]
            .into_iter()
            .chain([backend.0.to_string(), backend.1.to_string()])
            .chain([PROXY_LIFETIME_SECS.to_string()])
            .collect::<Vec<_>>();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (child, _) = start_python(ns, PROXY, &args);
        self.children.push(child);
    }

    /// A client in `from` connects to `to` while a server in `server_ns` listens on
    /// 0.0.0.0:`port` and records who came.
    pub fn probe(
        &mut self,
        from: &str,
        to: (Ipv4Addr, u16),
        server_ns: &str,
        port: u16,
    ) -> RealProbe {
        let (mut server, mut lines) =
            start_python(server_ns, SERVER, &["0.0.0.0", &port.to_string(), SERVER_IDLE_SECS]);
        let out = python(from, CLIENT, &[&to.0.to_string(), &to.1.to_string()]);
        server.kill().expect("our own server process");
        server.wait().expect("reaped");
        let mut log = String::new();
        while lines.read_line(&mut log).is_ok_and(|n| n > 0) {}
        let word = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let attempt = Attempt::parse(&word)
            .unwrap_or_else(|| panic!("the probe client failed:\n{}", tail(&out, 10)));
        RealProbe { attempt, seen: PeerServer::peers(&log) }
    }

    /// `tcpdump -w` on `iface` in `ns`, packet-buffered, returning once it listens.
    /// `-Z root` keeps it from dropping privileges before it opens `file`.
    pub fn start_tcpdump(&mut self, ns: &str, iface: &str, filter: &str, file: &Path) -> Tcpdump {
        self.files.push(file.to_path_buf());
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "tcpdump", "-n", "-U", "--immediate-mode", "-Z", "root"])
            .args(["-i", iface, "-w"])
            .arg(file)
            .args(filter.split(' '))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec runs");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("readable");
        let pid = child.id();
        self.children.push(child);
        assert!(first.contains("listening on"), "tcpdump did not start in {ns}: {first}");
        Tcpdump { pid, file: file.to_path_buf() }
    }

    /// Stops a tcpdump this lab started (SIGINT to its own pid, as Ctrl-C) and returns the
    /// pcap file's bytes.
    pub fn stop_tcpdump(&mut self, run: Tcpdump) -> Vec<u8> {
        std::thread::sleep(CAPTURE_SETTLE);
        let status = Command::new("kill").args(["-INT", &run.pid.to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "tcpdump {} could not be stopped", run.pid);
        let at = self.children.iter().position(|c| c.id() == run.pid).expect("started here");
        let out = self.children.remove(at).wait_with_output().expect("tcpdump exits");
        assert!(out.status.success(), "tcpdump failed:\n{}", tail(&out, 10));
        std::fs::read(&run.file).expect("tcpdump wrote its file")
    }

    /// Runs a command in `ns` to its end.
    pub fn run(&self, ns: &str, argv: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .output()
            .expect("ip netns exec runs")
    }
}

impl Drop for RealLab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "delete", ns]).stderr(Stdio::null()).status();
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn python(ns: &str, code: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code])
        .args(args)
        .output()
        .expect("ip netns exec runs")
}

/// Starts a Python program in `ns` and waits for its `ready` line.
fn start_python(ns: &str, code: &str, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("ip netns exec runs");
    let mut lines = BufReader::new(child.stdout.take().expect("piped"));
    let mut first = String::new();
    lines.read_line(&mut first).expect("readable");
    if first.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        panic!("a probe program did not start in {ns} with {args:?}");
    }
    (child, lines)
}

/// The last lines of a command's stderr and stdout, for failure messages.
pub fn tail(out: &Output, n: usize) -> String {
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A machine's NICs on the underlay, read from the model's kernel as build.rs made them.
pub fn nics(world: &World, m: usize) -> Vec<Nic> {
    let machine = &world.machines[m];
    let root = machine.kernel.root();
    let gateway = root.routes.routes.iter().find(|r| r.dst.prefix_len() == 0).and_then(|r| r.via);
    root.links
        .values()
        .filter(|l| l.kind == LinkKind::Ethernet)
        .map(|l| {
            let port = swarmsim::fabric::Port { machine: m, ifindex: l.ifindex };
            let addr =
                root.addrs.iter().find(|a| a.dev == l.ifindex).expect("a NIC has an address");
            Nic {
                machine: machine.name.clone(),
                lan: world.fabric.segment_of(port).expect("NICs are attached").to_string(),
                name: l.name.clone(),
                mac: l.mac,
                addr: addr.net,
                gateway,
            }
        })
        .collect()
}

/// Runs `cmd` in namespace `ns`.
pub fn run_in(ns: &str, cmd: &[&str]) -> Output {
    Command::new("ip").args(["netns", "exec", ns]).args(cmd).output().expect("ip netns exec runs")
}

/// `tcpdump -n -l ARGS` in `ns`, printing lines, given a moment to attach before the first
/// packet.
pub fn start_text_tcpdump(ns: &str, args: &[&str]) -> Child {
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "tcpdump", "-n", "-l"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump starts");
    std::thread::sleep(Duration::from_millis(700));
    child
}

/// Stops our own tcpdump (by its pid, with SIGINT) and returns what it printed.
pub fn stop_text_tcpdump(child: Child, ns: &str) -> String {
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    let _ = Command::new("ip").args(["netns", "exec", ns, "kill", "-INT", &pid]).status();
    let out = child.wait_with_output().expect("tcpdump exits");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
