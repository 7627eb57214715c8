//! ngrep 1.47 as the labs run it: `ngrep -tpd eth0 HTTP [BPF FILTER]`.
//!
//! Contract: [`NgrepArgs::parse`] reads the command line the way ngrep's (musl, so
//! non-permuting) getopt does: options first, then the match expression, then BPF filter
//! words. [`NgrepArgs::startup`] is what ngrep prints before the first packet, and
//! [`Ngrep::packet`] what it prints for each frame, byte for byte as `ngrep.c` does it:
//!
//! * every IP packet that passes the filter prints a `#` (with no newline);
//! * its payload is what `process()` calls the data: after the TCP header (data offset),
//!   after the 8-byte UDP header (for VXLAN, the VXLAN header and the whole inner frame),
//!   after 4 bytes of ICMP, and for any other protocol (ESP) everything after the IP
//!   header — the SPI, sequence number, IV and ciphertext;
//! * a non-empty payload the expression matches is printed: a newline, the header line
//!   (`T`/`U`/`I`/`?`, the `-t` time in the container's zone, UTC, the addresses, the TCP
//!   flags `[AP]`, ICMP's `type:code`, the frame number `#N`), then the payload in rows of
//!   75 characters (`ws_col` 80 less 5: standard input is no terminal, so ngrep keeps its
//!   default width), two spaces before each and the last padded with spaces, `.` for
//!   every byte `isprint` rejects (newlines included);
//! * on Ctrl-C, [`Ngrep::exit`]: `exit` and `N received, M matched`; the exit status is 0
//!   when something matched, 1 otherwise, as grep's.
//!
//! The expression is a regular expression over the payload's bytes with `.` matching
//! newlines (ngrep's default multi-line match); each byte is read as one character, so a
//! pattern matches bytes exactly as ngrep's byte-oriented regex library does. The
//! simulator never fragments IPv4, so ngrep's fragment suffix never shows.
//!
//! Verified against Debian's ngrep 1.47 in network namespaces, live and on pcaps this
//! module's frames were written to (the one difference is Debian's PCRE2 patch, which
//! prints `match (JIT):`; upstream 1.47 prints `match:`).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::ops::Range;

use ipnet::Ipv4Net;

use super::{EtherPayload, EthernetFrame};
use crate::engine::SimTime;

/// An ngrep command line the simulator runs.
#[derive(Debug, Clone)]
pub struct NgrepArgs {
    /// `-d IFACE`.
    pub iface: String,
    /// The match expression; `None` matches every packet with a payload.
    pub expression: Option<String>,
    /// The BPF filter words after the expression, joined by spaces; empty for none.
    pub filter: String,
    /// Where the filter words are in the command line; empty for none.
    pub filter_at: Range<usize>,
    /// `-t`: print each match's absolute time.
    pub timestamps: bool,
    matcher: Option<regex_lite::Regex>,
}

impl PartialEq for NgrepArgs {
    fn eq(&self, other: &NgrepArgs) -> bool {
        let key = |a: &NgrepArgs| (a.iface.clone(), a.expression.clone(), a.filter.clone());
        key(self) == key(other) && self.timestamps == other.timestamps
    }
}

impl Eq for NgrepArgs {}

/// Why an ngrep command line cannot run here, pointing at the word at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NgrepArgsError {
    pub message: String,
    pub hint: Option<String>,
    /// Byte range in the command line.
    pub at: Range<usize>,
}

/// ngrep 1.47's option letters (its getopt string without the argument colons); those the
/// simulator does not reproduce are "not simulated", any other letter is invalid.
const NGREP_OPTIONS: &str = "LNhXViwqpevxlDtTRMKCsncdAIOSPFW";
const SUPPORTED: &str = "supported: -t, -p, -l, -d IFACE, a match expression and a BPF filter";

/// The filter ngrep always adds: IP packets, VLAN-tagged or not.
const BPF_IP_VLAN: &str = "((ip || ip6) || (vlan && (ip || ip6)))";

/// `ws_col` 80 (ngrep's default when standard input is not a terminal) less 5.
const WIDTH: usize = 75;

impl NgrepArgs {
    /// Parses the words of `ngrep …` (the program name first, each word with its byte
    /// range in the line). `-d` is required: the simulator does not guess pcap's default
    /// device.
    pub fn parse(words: &[(String, Range<usize>)]) -> Result<NgrepArgs, NgrepArgsError> {
        let (program, rest) = words.split_first().expect("a command line has a program");
        let (mut timestamps, mut iface) = (false, None);
        let mut k = 0;
        while let Some((word, span)) = rest.get(k) {
            let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) else { break };
            k += 1;
            if letters == "-" {
                break;
            }
            for (i, letter) in letters.char_indices() {
                match letter {
                    't' => timestamps = true,
                    'p' | 'l' => {}
                    'd' => {
                        let attached = &letters[i + 1..];
                        if !attached.is_empty() {
                            iface = Some(attached.to_string());
                        } else if let Some((next, _)) = rest.get(k) {
                            iface = Some(next.clone());
                            k += 1;
                        } else {
                            return Err(missing_argument(span));
                        }
                        break;
                    }
                    _ => return Err(unsupported(letter, span)),
                }
            }
        }
        let Some(iface) = iface else {
            let hint = Some("name the interface: `ngrep -tpd eth0 HTTP`".to_string());
            return Err(NgrepArgsError {
                message: "ngrep needs -d IFACE".into(),
                hint,
                at: program.1.clone(),
            });
        };
        let expression = rest.get(k).map(|(w, _)| w.clone());
        let words = rest.get(k + 1..).unwrap_or_default();
        let filter = words.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>().join(" ");
        let filter_at = match (words.first(), words.last()) {
            (Some((_, first)), Some((_, last))) => first.start..last.end,
            _ => 0..0,
        };
        let matcher = match (&expression, rest.get(k)) {
            (Some(e), Some((_, span))) => Some(compile(e, span)?),
            _ => None,
        };
        Ok(NgrepArgs { iface, expression, filter, filter_at, timestamps, matcher })
    }

    /// The filter ngrep compiles and prints: the words given, and only IP.
    pub fn bpf_filter(&self) -> String {
        if self.filter.is_empty() {
            BPF_IP_VLAN.to_string()
        } else {
            format!("( {} ) and {BPF_IP_VLAN}", self.filter)
        }
    }

    /// What ngrep prints when it starts on an interface that exists: on stderr libpcap's
    /// complaint when `net` (the interface's first IPv4 address) is `None`, then on stdout
    /// the interface with its network, the filter and the expression.
    pub fn startup(&self, net: Option<Ipv4Net>) -> String {
        let mut out = String::new();
        match net {
            Some(net) => {
                let _ = writeln!(
                    out,
                    "interface: {} ({}/{})",
                    self.iface,
                    net.network(),
                    net.netmask()
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{}: no IPv4 address assigned: Cannot assign requested address\ninterface: {}",
                    self.iface, self.iface
                );
            }
        }
        let _ = writeln!(out, "filter: {}", self.bpf_filter());
        if let Some(e) = self.expression.as_deref().filter(|e| !e.is_empty()) {
            let _ = writeln!(out, "match: {e}");
        }
        out
    }

    /// What ngrep prints when the interface does not exist: pcap_open_live's message (as
    /// libpcap 1.8 words it) with `perror`'s errno text, then its exit lines; status 1.
    pub fn no_such_device(&self) -> String {
        let iface = &self.iface;
        format!(
            "{iface}: No such device exists (SIOCGIFHWADDR: No such device): No such device\n\
             exit\n0 received, 0 matched\n"
        )
    }

    fn matches(&self, data: &[u8]) -> bool {
        let Some(re) = &self.matcher else { return true };
        let text: String = data.iter().map(|&b| char::from(b)).collect();
        re.is_match(&text)
    }
}

fn compile(expression: &str, span: &Range<usize>) -> Result<regex_lite::Regex, NgrepArgsError> {
    // Multi-line match: `.` also matches a newline. Payloads are matched one character per
    // byte, so the expression's own bytes are read the same way.
    let pattern: String = expression.bytes().map(char::from).collect();
    regex_lite::Regex::new(&format!("(?s){pattern}")).map_err(|e| NgrepArgsError {
        message: format!("regex compile: {e}"),
        hint: None,
        at: span.clone(),
    })
}

fn missing_argument(span: &Range<usize>) -> NgrepArgsError {
    NgrepArgsError {
        message: "ngrep option -d needs an argument".into(),
        hint: Some("`-d IFACE`, like `-d eth0`".into()),
        at: span.clone(),
    }
}

fn unsupported(letter: char, span: &Range<usize>) -> NgrepArgsError {
    let message = if NGREP_OPTIONS.contains(letter) {
        format!("ngrep option -{letter} is not simulated")
    } else {
        format!("ngrep: invalid option -- '{letter}'")
    };
    NgrepArgsError { message, hint: Some(SUPPORTED.into()), at: span.clone() }
}

/// A running ngrep: its counters and what it prints.
#[derive(Debug, Clone)]
pub struct Ngrep {
    args: NgrepArgs,
    epoch_unix_secs: u64,
    seen: u32,
    matched: u32,
}

/// What `process()` reads from one IP packet.
struct Dissected<'a> {
    ident: char,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// The ports of TCP and UDP; ICMP's type and code.
    pair: Option<(u16, u16)>,
    /// TCP's flags byte, 0 for the other protocols.
    flags: u8,
    data: &'a [u8],
}

impl Ngrep {
    /// An ngrep started with `args`, on a host whose simulated time zero is
    /// `epoch_unix_secs` after 1970 (UTC).
    pub fn new(args: NgrepArgs, epoch_unix_secs: u32) -> Ngrep {
        Ngrep { args, epoch_unix_secs: u64::from(epoch_unix_secs), seen: 0, matched: 0 }
    }

    /// What ngrep prints for `frame`, captured at `at`: nothing for a frame that is not
    /// IPv4 (its filter drops it), `#` for a packet it does not show, else `#` and the match.
    pub fn packet(&mut self, at: SimTime, frame: &EthernetFrame) -> String {
        if !matches!(frame.payload, EtherPayload::Ipv4(_)) {
            return String::new();
        }
        self.seen += 1;
        let bytes = frame.to_bytes();
        let packet = dissect(&bytes[EthernetFrame::HEADER_LEN..]);
        if packet.data.is_empty() || !self.args.matches(packet.data) {
            return "#".to_string();
        }
        self.matched += 1;
        let mut out = format!("#\n{} ", packet.ident);
        if self.args.timestamps {
            out += &self.timestamp(at);
        }
        out += &header(&packet);
        let _ = writeln!(out, " #{}", self.seen);
        out + &dump_formatted(packet.data)
    }

    /// What ngrep prints when Ctrl-C stops it.
    pub fn exit(&self) -> String {
        format!("exit\n{} received, {} matched\n", self.seen, self.matched)
    }

    /// The exit status, grep's convention: 0 when a packet matched.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.matched == 0)
    }

    /// `print_time_absolute`: `YYYY/MM/DD HH:MM:SS.uuuuuu `, microseconds truncated as
    /// libpcap stamps them.
    fn timestamp(&self, at: SimTime) -> String {
        let micros = at.as_nanos() / 1_000;
        let secs = self.epoch_unix_secs + micros / 1_000_000;
        let (y, mo, d) = civil_from_days(secs / 86_400);
        let day = secs % 86_400;
        let (h, mi, s) = (day / 3600, day / 60 % 60, day % 60);
        format!("{y:04}/{mo:02}/{d:02} {h:02}:{mi:02}:{s:02}.{:06} ", micros % 1_000_000)
    }
}

/// Splits an IPv4 packet (header included) as ngrep's `process()` does.
fn dissect(ip: &[u8]) -> Dissected<'_> {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let addr = |at: usize| Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]);
    let (src, dst) = (addr(12), addr(16));
    let l4 = &ip[hl..];
    let be16 = |at: usize| u16::from_be_bytes([l4[at], l4[at + 1]]);
    let (ident, pair, flags, skip) = match ip[9] {
        6 => ('T', Some((be16(0), be16(2))), l4[13], usize::from(l4[12] >> 4) * 4),
        17 => ('U', Some((be16(0), be16(2))), 0, 8),
        1 => ('I', Some((u16::from(l4[0]), u16::from(l4[1]))), 0, 4),
        _ => ('?', None, 0, 0),
    };
    Dissected { ident, src, dst, pair, flags, data: &l4[skip.min(l4.len())..] }
}

/// The header line after the identifier and time, up to the frame number.
fn header(p: &Dissected<'_>) -> String {
    let (src, dst) = (p.src, p.dst);
    let mut out = match (p.ident, p.pair) {
        ('T' | 'U', Some((sport, dport))) if sport != 0 || dport != 0 => {
            format!("{src}:{sport} -> {dst}:{dport}")
        }
        _ => format!("{src} -> {dst}"),
    };
    if p.flags != 0 {
        let _ = write!(out, " [{}]", tcp_flags(p.flags));
    }
    if let ('I', Some((kind, code))) = (p.ident, p.pair) {
        let _ = write!(out, " {kind}:{code}");
    }
    out
}

/// ngrep's flag letters, in its order: ACK SYN RST FIN URG PSH ECE CWR.
fn tcp_flags(flags: u8) -> String {
    [
        (0x10, 'A'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x01, 'F'),
        (0x20, 'U'),
        (0x08, 'P'),
        (0x40, 'E'),
        (0x80, 'C'),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|&(_, letter)| letter)
    .collect()
}

/// `dump_formatted` without `-x`: rows of [`WIDTH`] characters, two spaces before each,
/// the last padded with spaces.
fn dump_formatted(data: &[u8]) -> String {
    let mut out = String::new();
    for row in data.chunks(WIDTH) {
        out += "  ";
        out.extend(
            row.iter().map(|&b| if (0x20..0x7f).contains(&b) { char::from(b) } else { '.' }),
        );
        out.extend(std::iter::repeat_n(' ', WIDTH - row.len()));
        out.push('\n');
    }
    out
}

/// The proleptic Gregorian date of `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimDuration, EPOCH_UNIX_SECS};
    use crate::runner::shell::split_spans;
    use crate::wire::{
        ArpOp, ArpRepr, EspKey, EspPacket, IcmpRepr, IpPayload, Ipv4Packet, MacAddr, TcpFlags,
        TcpSegment, UdpDatagram, UdpPayload, VxlanPacket,
    };

    const GET: &[u8] =
        b"GET / HTTP/1.1\r\nHost: web\r\nUser-Agent: curl/7.77.0\r\nAccept: */*\r\n\r\n";

    fn args(line: &str) -> Result<NgrepArgs, NgrepArgsError> {
        NgrepArgs::parse(&split_spans(line).expect("quoted well"))
    }

    fn ip(src: [u8; 4], dst: [u8; 4], payload: IpPayload) -> Ipv4Packet {
        Ipv4Packet {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            ttl: 64,
            ident: 0x1234,
            dont_fragment: true,
            payload,
        }
    }

    fn eth(packet: Ipv4Packet) -> EthernetFrame {
        EthernetFrame {
            dst: MacAddr([2, 0, 0, 0, 0, 5]),
            src: MacAddr([2, 0, 0, 0, 0, 4]),
            payload: EtherPayload::Ipv4(packet),
        }
    }

    fn tcp(sport: u16, dport: u16, flags: TcpFlags, payload: &[u8]) -> IpPayload {
        IpPayload::Tcp(TcpSegment {
            src_port: sport,
            dst_port: dport,
            seq: 1000,
            ack: 2000,
            flags,
            window: 502,
            mss: None,
            payload: payload.to_vec(),
        })
    }

    /// The container's TCP segment from the overlay, in VXLAN between the two hosts.
    fn vxlan(inner: IpPayload) -> IpPayload {
        let inner = EthernetFrame {
            dst: MacAddr([2, 0x42, 10, 0, 1, 5]),
            src: MacAddr([2, 0x42, 10, 0, 1, 3]),
            payload: EtherPayload::Ipv4(ip([10, 0, 1, 3], [10, 0, 1, 5], inner)),
        };
        let payload = UdpPayload::Vxlan(VxlanPacket::new(4097, inner));
        IpPayload::Udp(UdpDatagram { src_port: 54321, dst_port: 4789, payload })
    }

    const HOST_A: [u8; 4] = [172, 16, 24, 4];
    const HOST_B: [u8; 4] = [172, 16, 24, 5];

    fn http_in_vxlan() -> EthernetFrame {
        let get = tcp(45678, 80, TcpFlags::ACK | TcpFlags::PSH, GET);
        eth(ip(HOST_A, HOST_B, vxlan(get)))
    }

    fn ack_in_vxlan() -> EthernetFrame {
        eth(ip(HOST_A, HOST_B, vxlan(tcp(45678, 80, TcpFlags::ACK, b""))))
    }

    fn http_in_esp() -> EthernetFrame {
        let key = EspKey { key: [7; 16], salt: [1, 2, 3, 4] };
        let get = tcp(45678, 80, TcpFlags::ACK | TcpFlags::PSH, GET);
        let esp = EspPacket::seal(0x0c0f_fee5, 1, key, vxlan(get));
        eth(ip(HOST_A, HOST_B, IpPayload::Esp(esp)))
    }

    fn response() -> EthernetFrame {
        let mut body = b"HTTP/1.1 200 OK\r\nServer: nginx/1.21.1\r\n\r\n".to_vec();
        body.extend(0u8..40);
        body.extend(0xf0u8..=0xff);
        eth(ip(HOST_B, HOST_A, tcp(80, 45678, TcpFlags::ACK | TcpFlags::PSH, &body)))
    }

    fn ping() -> EthernetFrame {
        let echo = IcmpRepr::EchoRequest { ident: 7, seq: 1, data: b"an HTTP ping".to_vec() };
        eth(ip(HOST_A, HOST_B, IpPayload::Icmp(echo)))
    }

    fn arp() -> EthernetFrame {
        EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: MacAddr([2, 0, 0, 0, 0, 4]),
            payload: EtherPayload::Arp(ArpRepr {
                op: ArpOp::Request,
                sender_mac: MacAddr([2, 0, 0, 0, 0, 4]),
                sender_ip: Ipv4Addr::from(HOST_A),
                target_mac: MacAddr([0; 6]),
                target_ip: Ipv4Addr::from(HOST_B),
            }),
        }
    }

    fn frames() -> Vec<EthernetFrame> {
        vec![arp(), http_in_vxlan(), ack_in_vxlan(), http_in_esp(), response(), ping()]
    }

    fn at(i: usize) -> SimTime {
        SimTime::ZERO + SimDuration::from_nanos(5_000_123_999 + 1_000_000 * i as u64)
    }

    /// What Debian's ngrep 1.47 printed for these frames written to a pcap
    /// (`TZ=UTC ngrep -tI sim.pcap HTTP`), and the counters it prints when live.
    const EXPECTED: &str = "#
U 2021/07/08 10:00:05.001123 172.16.24.4:54321 -> 172.16.24.5:4789 #1
  .........B.....B......E..k.4@.@..R.........n.P........P.......GET / HTTP/1.
  1..Host: web..User-Agent: curl/7.77.0..Accept: */*....                     
###
T 2021/07/08 10:00:05.004123 172.16.24.5:80 -> 172.16.24.4:45678 [AP] #4
  HTTP/1.1 200 OK..Server: nginx/1.21.1.................................... !
  \"#$%&'................                                                     
#
I 2021/07/08 10:00:05.005123 172.16.24.4 -> 172.16.24.5 8:0 #5
  ....an HTTP ping                                                           
exit
5 received, 3 matched
";

    fn run(line: &str, frames: &[EthernetFrame]) -> (String, i32) {
        let mut ngrep = Ngrep::new(args(line).expect("valid"), EPOCH_UNIX_SECS);
        let mut out = String::new();
        for (i, f) in frames.iter().enumerate() {
            out += &ngrep.packet(at(i), f);
        }
        (out + &ngrep.exit(), ngrep.exit_code())
    }

    #[test]
    fn http_in_vxlan_shows_in_clear_and_esp_as_a_hash() {
        assert_eq!(run("ngrep -tpd eth0 HTTP", &frames()), (EXPECTED.to_string(), 0));
    }

    #[test]
    fn through_esp_only_hashes_show() {
        let frames = [http_in_esp(), http_in_esp(), arp()];
        let expected = "##exit\n2 received, 0 matched\n";
        assert_eq!(run("ngrep -tpd eth0 HTTP", &frames), (expected.to_string(), 1));
    }

    #[test]
    fn without_t_no_time_and_without_expression_every_payload() {
        let frames = [ack_in_vxlan(), ping()];
        let expected = "#\nU 172.16.24.4:54321 -> 172.16.24.5:4789 #1\n  ".to_string();
        let (out, code) = run("ngrep -d eth0", &frames);
        assert!(out.starts_with(&expected), "{out}");
        assert!(out.contains("\n#\nI 172.16.24.4 -> 172.16.24.5 8:0 #2\n"), "{out}");
        assert_eq!(code, 0);
        let (out, _) = run("ngrep -d eth0 'GET /'", &[ack_in_vxlan(), http_in_vxlan()]);
        assert!(out.starts_with("##\nU 172.16.24.4:54321"), "{out}");
    }

    #[test]
    fn expressions_are_regular_and_span_lines() {
        let (out, _) = run("ngrep -d eth0 'Host:.*Accept'", &[http_in_vxlan()]);
        assert!(out.starts_with("#\nU "), "{out}");
        let (out, _) = run("ngrep -d eth0 '^HTTP/1\\.[01] 2'", &[http_in_vxlan(), response()]);
        assert!(out.starts_with("##\nT "), "{out}");
    }

    #[test]
    fn startup_lines() {
        let net: Ipv4Net = "172.16.24.4/24".parse().expect("valid");
        let a = args("ngrep -tpd eth0 HTTP").expect("valid");
        let expected = "interface: eth0 (172.16.24.0/255.255.255.0)\n\
                        filter: ((ip || ip6) || (vlan && (ip || ip6)))\nmatch: HTTP\n";
        assert_eq!(a.startup(Some(net)), expected);
        let a = args("ngrep -d nv0 HTTP udp port 4789").expect("valid");
        let expected = "nv0: no IPv4 address assigned: Cannot assign requested address\n\
                        interface: nv0\n\
                        filter: ( udp port 4789 ) and ((ip || ip6) || (vlan && (ip || ip6)))\n\
                        match: HTTP\n";
        assert_eq!(a.startup(None), expected);
        assert_eq!((a.filter.as_str(), a.filter_at.clone()), ("udp port 4789", 18..31));
        let a = args("ngrep -d eth0").expect("valid");
        let expected = "interface: eth0 (172.16.24.0/255.255.255.0)\n\
                        filter: ((ip || ip6) || (vlan && (ip || ip6)))\n";
        assert_eq!(a.startup(Some(net)), expected);
        let expected = "eth9: No such device exists (SIOCGIFHWADDR: No such device): \
                        No such device\nexit\n0 received, 0 matched\n";
        assert_eq!(args("ngrep -td eth9 HTTP").expect("valid").no_such_device(), expected);
    }

    #[test]
    fn options_as_getopt_reads_them() {
        let a = args("ngrep -t -p -deth0 HTTP").expect("valid");
        assert_eq!(
            (a.iface.as_str(), a.timestamps, a.expression.as_deref()),
            ("eth0", true, Some("HTTP"))
        );
        // musl's getopt stops at the first word that is not an option.
        let a = args("ngrep -d eth0 HTTP -t").expect("valid");
        assert_eq!((a.timestamps, a.filter.as_str()), (false, "-t"));
        let a = args("ngrep -d eth0 -- -x").expect("valid");
        assert_eq!(a.expression.as_deref(), Some("-x"));
    }

    #[test]
    fn command_lines_the_simulator_cannot_run() {
        let err = |line: &str| args(line).expect_err("rejected");
        let e = err("ngrep -tpd eth0 -x HTTP");
        assert_eq!(
            (e.message.as_str(), e.at.clone()),
            ("ngrep option -x is not simulated", 16..18)
        );
        assert_eq!(e.hint.as_deref(), Some(SUPPORTED));
        assert_eq!(err("ngrep -Z HTTP").message, "ngrep: invalid option -- 'Z'");
        let e = err("ngrep -t HTTP");
        assert_eq!((e.message.as_str(), e.at.clone()), ("ngrep needs -d IFACE", 0..5));
        let e = err("ngrep -tpd");
        assert_eq!(
            (e.message.as_str(), e.at.clone()),
            ("ngrep option -d needs an argument", 6..10)
        );
        let e = err("ngrep -d eth0 'HT(TP'");
        assert!(e.message.starts_with("regex compile: "), "{}", e.message);
        assert_eq!(e.at, 14..21);
    }

    #[test]
    fn dates_cross_days_and_years() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(18_816), (2021, 7, 8));
        assert_eq!(civil_from_days(19_051), (2022, 2, 28));
        assert_eq!(civil_from_days(19_052), (2022, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
