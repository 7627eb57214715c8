//! The HTML report in a real browser: the simulator writes `report.html`, headless
//! Chromium opens it from `file://` under chromedriver, and the test drives it as a reader
//! would — picks a packet, clicks through its hops, reads what the page shows (the hop's
//! namespace, device and detail, a header field, the device marked in the topology), and
//! filters the list. The WebDriver protocol is plain JSON over HTTP, spoken here over a
//! `TcpStream` to a chromedriver started on a free localhost port.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them): without them the tests fail. With
//! `SWARMSIM_BLESS=1` the flagship test also writes the book's screenshot
//! (`book/src/images/report.png`) and topology picture
//! (`book/src/images/azure-two-host-topology.svg`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key WebDriver gives element references under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Runs a scenario with the built binary; returns its report directory.
fn report_of(scenario: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser").join(scenario);
    let status = Command::new(env!("CARGO_BIN_EXE_swarmsim"))
        .arg(format!("scenarios/{scenario}.yaml"))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("the simulator runs");
    assert!(status.success(), "{scenario} failed: {status}");
    out
}

/// A chromedriver process and one browser session in it.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: PathBuf,
}

impl Browser {
    fn start(name: &str) -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: apt-get install chromium chromium-driver"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap();
        let port = port.port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{name}"));
        let _ = std::fs::remove_dir_all(&profile);
        let mut b = Browser { driver, port, session: String::new(), _profile: profile.clone() };
        b.wait_ready();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let reply = b.call("POST", "/session", Some(caps));
        b.session = reply["sessionId"].as_str().expect("a session id").to_string();
        b
    }

    /// Waits (at most 20 s) until chromedriver answers `/status` as ready.
    fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(v) = self.try_call("GET", "/status", None) {
                if v["ready"] == json!(true) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver on port {} never became ready", self.port);
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// One WebDriver command: its `value`, or the error it answered with.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let (head, body) = read_reply(&mut stream)?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("{head}\n{body}"));
        }
        Ok(v["value"].clone())
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, file: &Path) {
        let url = format!("file://{}", file.canonicalize().expect("the report exists").display());
        self.session_call("POST", "/url", Some(json!({"url": url})));
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        let ids = found.as_array().expect("a list of elements").iter();
        ids.map(|e| e[ELEMENT].as_str().expect("an element reference").to_string()).collect()
    }

    fn find(&self, css: &str) -> String {
        self.find_all(css).into_iter().next().unwrap_or_else(|| panic!("nothing matches {css}"))
    }

    fn click(&self, element: &str) {
        self.session_call("POST", &format!("/element/{element}/click"), Some(json!({})));
    }

    /// The element's rendered text, table cells separated by a space instead of a tab.
    fn text(&self, element: &str) -> String {
        let v = self.session_call("GET", &format!("/element/{element}/text"), None);
        v.as_str().expect("text").replace('\t', " ")
    }

    fn attribute(&self, element: &str, name: &str) -> Option<String> {
        let v = self.session_call("GET", &format!("/element/{element}/attribute/{name}"), None);
        v.as_str().map(str::to_string)
    }

    /// Picks an option of a `<select>` by clicking it, as a reader would.
    fn choose(&self, select: &str, value: &str) {
        self.click(&self.find(&format!("#{select} option[value=\"{value}\"]")));
    }

    fn rows(&self) -> Vec<String> {
        self.find_all("#packet-rows tr")
    }

    fn screenshot(&self) -> Vec<u8> {
        let v = self.session_call("GET", "/screenshot", None);
        base64_decode(v.as_str().expect("base64 PNG"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.try_call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An HTTP reply's head and body: the body is `Content-Length` bytes (chromedriver keeps
/// the connection open after answering, so reading to the end would wait).
fn read_reply(stream: &mut TcpStream) -> Result<(String, String), String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>())
                })
                .ok_or("no Content-Length")?
                .map_err(|e| e.to_string())?;
            if raw.len() >= end + 4 + length {
                let body = String::from_utf8(raw[end + 4..end + 4 + length].to_vec());
                return Ok((head, body.map_err(|e| e.to_string())?));
            }
        }
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-reply".to_string());
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=' && c != b'\n').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The hops list's items whose text contains every one of `parts`.
fn hops_with(b: &Browser, parts: &[&str]) -> Vec<(usize, String)> {
    let items = b.find_all("#hop-list li");
    let texts = items.iter().map(|li| b.text(li));
    texts.enumerate().filter(|(_, t)| parts.iter().all(|p| t.contains(p))).collect()
}

#[test]
fn a_packet_can_be_followed_hop_by_hop_and_the_list_filtered() {
    let dir = report_of("bridge-networking");
    let b = Browser::start("bridge");
    b.open(&dir.join("report.html"));
    let all = b.rows().len();
    assert!(all > 20, "only {all} packets listed");
    assert_eq!(b.text(&b.find("#packet-count")), format!("{all} of {all} packets"));

    b.choose("f-proto", "ICMP");
    let icmp = b.rows();
    assert!(!icmp.is_empty() && icmp.len() < all, "{} ICMP of {all}", icmp.len());
    assert_eq!(b.text(&b.find("#packet-count")), format!("{} of {all} packets", icmp.len()));
    b.choose("f-dev", "docker0");
    let through_bridge = b.rows();
    assert!(!through_bridge.is_empty() && through_bridge.len() <= icmp.len());

    b.click(&through_bridge[0]);
    let hops = b.find_all("#hop-list li");
    assert!(hops.len() >= 4, "{} hops", hops.len());
    assert!(b.text(&b.find("#packet-title")).starts_with("Packet "));
    for (i, li) in hops.iter().enumerate() {
        b.click(li);
        assert_eq!(b.text(&b.find("#hop-pos")), format!("hop {} of {}", i + 1, hops.len()));
        let shown = b.text(&b.find("#hop-detail"));
        let line = b.text(li);
        let dev = line.split(": ").next().and_then(|s| s.split(' ').next_back()).unwrap();
        assert!(shown.contains(&format!("Device {dev}")), "hop {i} `{line}` shows {shown}");
        let detail = line.split_once(": ").map(|(_, d)| d).unwrap();
        assert!(shown.contains(&format!("Detail {detail}")), "hop {i} `{line}` shows {shown}");
    }

    let (at, line) = hops_with(&b, &["bridge", "(host) docker0", "FDB"]).remove(0);
    b.click(&hops[at]);
    let shown = b.text(&b.find("#hop-detail"));
    assert!(shown.contains("Machine docker-host"), "{shown}");
    assert!(shown.contains("Namespace (host)"), "{shown}");
    assert!(shown.contains("Stage bridge"), "{line}: {shown}");
    let marked = b.find(".topology .sel[data-dev]");
    assert_eq!(b.attribute(&marked, "data-dev").as_deref(), Some("docker-host|(host)|docker0"));

    let (at, line) = hops_with(&b, &["tx", "ICMP echo request"]).remove(0);
    b.click(&hops[at]);
    let headers = b.text(&b.find("#headers"));
    assert!(headers.contains("IPv4"), "{headers}");
    assert!(headers.contains("src 172.17.0.") || headers.contains("src 10.0.2."), "{headers}");
    assert!(headers.contains("protocol 1 (icmp)"), "{headers}");
    assert!(headers.contains("type 8 (echo request)"), "{headers}");
    let place: Vec<&str> = line.split(": ").next().unwrap().split(' ').skip(2).collect();
    let marked = b.find(".topology .sel[data-dev]");
    assert_eq!(b.attribute(&marked, "data-dev"), Some(place.join("|")), "{line}");

    b.click(&b.find("#hop-next"));
    assert_eq!(b.text(&b.find("#hop-pos")), format!("hop {} of {}", at + 2, hops.len()));

    b.choose("f-proto", "");
    b.choose("f-dev", "");
    assert_eq!(b.rows().len(), all);
    let host = b.find_all("#f-host option").len();
    assert!(host >= 3, "{host} host options");
    b.choose("f-host", "1");
    let on_host = b.rows().len();
    assert!(on_host > 0 && on_host < all, "{on_host} of {all} on the second host");
}

#[test]
fn the_flagship_report_shows_a_vxlan_packet_outer_and_inner() {
    let dir = report_of("azure-two-host");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    let b = Browser::start("flagship");
    b.session_call("POST", "/window/rect", Some(json!({"width": 1400, "height": 1900})));
    b.open(&dir.join("report.html"));
    b.choose("f-proto", "ICMP");
    b.choose("f-dev", "vxlan0");
    let rows = b.rows();
    assert!(!rows.is_empty(), "no ICMP packet crossed vxlan0");
    b.click(&rows[0]);
    let (at, _) = hops_with(&b, &["encap", "vxlan0", "VNI"]).remove(0);
    b.click(&b.find_all("#hop-list li")[at]);
    let shown = b.text(&b.find("#hop-detail"));
    assert!(shown.contains("Device vxlan0") && shown.contains("Stage encap"), "{shown}");
    let (at, _) = hops_with(&b, &["tx", "eth0", "VXLAN"]).remove(0);
    b.click(&b.find_all("#hop-list li")[at]);
    let headers = b.text(&b.find("#headers"));
    for part in ["VXLAN", "VNI 4097", "dst port 4789", "inner Ethernet", "inner IPv4", "inner ICMP"]
    {
        assert!(headers.contains(part), "no `{part}` in {headers}");
    }
    assert!(headers.contains("src 172.16.24."), "outer source on the subnet: {headers}");
    let png = b.screenshot();
    assert_eq!(&png[1..4], b"PNG");
    if std::env::var("SWARMSIM_BLESS").is_ok_and(|v| v == "1") {
        let images = Path::new("book/src/images");
        std::fs::write(images.join("report.png"), &png).expect("write the screenshot");
        let start = html.find("<svg xmlns").expect("the topology picture");
        let end = start + html[start..].find("</svg>").expect("its end") + "</svg>".len();
        let svg = format!("{}\n", &html[start..end]);
        std::fs::write(images.join("azure-two-host-topology.svg"), svg).expect("write the SVG");
    }
}
