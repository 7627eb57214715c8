//! The real side: the exported script run in real Linux namespaces on this machine, probed
//! with small Python programs that behave like `swarmsim::check::peer`.
//!
//! Everything happens in namespaces the script created, to addresses it assigned. The
//! [`RealLab`] guard kills the processes it started (by their own handles) and deletes every
//! namespace the script creates, also when a test panics.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use swarmsim::check::peer::{Attempt, PeerServer};

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
        let ok = Command::new(tool).arg(flag).output().is_ok_and(|o| o.status.success());
        assert!(ok, "the differential test needs `{tool}`: apt-get install -y {package}");
    }
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
}

impl RealLab {
    /// Runs `script` (from `swarmsim::kernel::export`), which creates `namespaces`.
    pub fn build(script: &str, namespaces: Vec<String>) -> RealLab {
        let lab = RealLab { namespaces, children: Vec::new() };
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
fn tail(out: &Output, n: usize) -> String {
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
