//! Packet captures: `tcpdump -i IFACE FILTER` on one machine, recording every frame that
//! crosses the interface, for the transcript and the run's `.pcap` files.
//!
//! The filter language is the part of pcap-filter(7) that labs use: the protocols `arp`,
//! `ip`, `icmp`, `tcp`, `udp`; `host A`, `src host A`, `dst host A`, `port N`, `src port N`,
//! `dst port N` (optionally after `tcp`/`udp`); combined with `and`/`&&`, `or`/`||`,
//! `not`/`!` and parentheses.
//!
//! [`TcpdumpArgs`] parses the command line a lab types (`tcpdump -ni eth0 port 4789`); the
//! options it knows are `-n`/`-nn`, `-i IFACE`, `-c COUNT`, `-e`, `-l` and `-p`, clustered
//! or not and anywhere on the line (glibc's getopt permutes), and the words that are not
//! options form the filter. [`banner`] and [`statistics`] are the lines tcpdump prints on
//! stderr when it starts and when it stops.

use std::net::Ipv4Addr;
use std::ops::Range;

use crate::kernel::NsRef;
use crate::wire::{EtherPayload, EthernetFrame, IpPayload};

use super::SimTime;

/// A parsed capture filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    Proto(&'static str),
    Host { dir: Dir, ip: Ipv4Addr },
    Port { dir: Dir, proto: Option<&'static str>, port: u16 },
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Any,
    Src,
    Dst,
}

/// A filter tcpdump would reject, with its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tcpdump: {0}")]
pub struct FilterError(pub String);

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let spaced = text.replace('(', " ( ").replace(')', " ) ");
        let tokens: Vec<&str> = spaced.split_whitespace().collect();
        if tokens.is_empty() {
            return Ok(Filter::All);
        }
        let mut p = Parser { tokens, pos: 0 };
        let f = p.or()?;
        match p.peek() {
            None => Ok(f),
            Some(t) => Err(FilterError(format!("syntax error in filter expression near '{t}'"))),
        }
    }

    pub fn matches(&self, frame: &EthernetFrame) -> bool {
        match self {
            Filter::All => true,
            Filter::Proto(p) => proto_of(frame).contains(p),
            Filter::Host { dir, ip } => {
                addrs_of(frame).is_some_and(|(s, d)| dir_match(*dir, s == *ip, d == *ip))
            }
            Filter::Port { dir, proto, port } => ports_of(frame).is_some_and(|(pr, s, d)| {
                proto.is_none_or(|p| p == pr) && dir_match(*dir, s == *port, d == *port)
            }),
            Filter::Not(f) => !f.matches(frame),
            Filter::And(a, b) => a.matches(frame) && b.matches(frame),
            Filter::Or(a, b) => a.matches(frame) || b.matches(frame),
        }
    }
}

fn dir_match(dir: Dir, src: bool, dst: bool) -> bool {
    match dir {
        Dir::Any => src || dst,
        Dir::Src => src,
        Dir::Dst => dst,
    }
}

// The filters look under 802.1Q tags, as a live capture on Linux does: the tag travels
// beside the packet (`skb->vlan_tci`), so the kernel's BPF filter never sees it.
fn proto_of(frame: &EthernetFrame) -> Vec<&'static str> {
    match frame.payload.untagged() {
        EtherPayload::Arp(_) => vec!["arp"],
        EtherPayload::Ipv4(p) => vec!["ip", p.payload.protocol().name()],
        EtherPayload::Vlan(_) => unreachable!("untagged() strips every tag"),
    }
}

fn addrs_of(frame: &EthernetFrame) -> Option<(Ipv4Addr, Ipv4Addr)> {
    match frame.payload.untagged() {
        EtherPayload::Arp(a) => Some((a.sender_ip, a.target_ip)),
        EtherPayload::Ipv4(p) => Some((p.src, p.dst)),
        EtherPayload::Vlan(_) => unreachable!("untagged() strips every tag"),
    }
}

fn ports_of(frame: &EthernetFrame) -> Option<(&'static str, u16, u16)> {
    let EtherPayload::Ipv4(p) = frame.payload.untagged() else { return None };
    match &p.payload {
        IpPayload::Tcp(t) => Some(("tcp", t.src_port, t.dst_port)),
        IpPayload::Udp(u) => Some(("udp", u.src_port, u.dst_port)),
        IpPayload::Icmp(_) | IpPayload::Esp(_) | IpPayload::Fragment(_) => None,
    }
}

struct Parser<'a> {
    tokens: Vec<&'a str>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<&'a str> {
        let t = self.peek();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.peek() {
            Some("not" | "!") => {
                self.pos += 1;
                Ok(Filter::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.pos += 1;
                let f = self.or()?;
                match self.next() {
                    Some(")") => Ok(f),
                    _ => Err(FilterError("syntax error in filter expression".into())),
                }
            }
            _ => self.primitive(),
        }
    }

    fn primitive(&mut self) -> Result<Filter, FilterError> {
        let word =
            self.next().ok_or_else(|| FilterError("syntax error in filter expression".into()))?;
        let dir = match word {
            "src" => Some(Dir::Src),
            "dst" => Some(Dir::Dst),
            _ => None,
        };
        if let Some(dir) = dir {
            return self.qualified(dir, None);
        }
        match word {
            "arp" | "ip" | "icmp" | "esp" => Ok(Filter::Proto(static_name(word))),
            "tcp" | "udp" if matches!(self.peek(), Some("port" | "src" | "dst")) => {
                let dir = match self.peek() {
                    Some("src") => {
                        self.pos += 1;
                        Dir::Src
                    }
                    Some("dst") => {
                        self.pos += 1;
                        Dir::Dst
                    }
                    _ => Dir::Any,
                };
                self.qualified(dir, Some(static_name(word)))
            }
            "tcp" | "udp" => Ok(Filter::Proto(static_name(word))),
            "host" | "port" => {
                self.pos -= 1;
                self.qualified(Dir::Any, None)
            }
            other => Err(FilterError(format!("syntax error in filter expression near '{other}'"))),
        }
    }

    fn qualified(&mut self, dir: Dir, proto: Option<&'static str>) -> Result<Filter, FilterError> {
        let kind = self.next();
        let value = self.next().unwrap_or("");
        match kind {
            Some("host") if proto.is_none() => value
                .parse()
                .map(|ip| Filter::Host { dir, ip })
                .map_err(|_| FilterError(format!("can't parse host '{value}'"))),
            Some("port") => value
                .parse()
                .map(|port| Filter::Port { dir, proto, port })
                .map_err(|_| FilterError(format!("illegal port number '{value}'"))),
            _ => Err(FilterError("syntax error in filter expression".into())),
        }
    }
}

fn static_name(word: &str) -> &'static str {
    match word {
        "arp" => "arp",
        "ip" => "ip",
        "icmp" => "icmp",
        "esp" => "esp",
        "tcp" => "tcp",
        _ => "udp",
    }
}

/// A tcpdump command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpdumpArgs {
    pub iface: String,
    /// The filter words joined by spaces; empty captures everything.
    pub filter: String,
    /// `-c COUNT`: exit after this many packets.
    pub count: Option<usize>,
    /// `-e`: print each frame's Ethernet header.
    pub link_level: bool,
}

/// Why a tcpdump command line cannot run here, pointing at the word at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TcpdumpArgsError {
    pub message: String,
    pub hint: Option<String>,
    /// Byte range in the command line.
    pub at: Range<usize>,
}

/// Every option letter tcpdump 4.99 knows: one of these that the simulator does not
/// reproduce is "not simulated", any other letter is tcpdump's own "invalid option".
const TCPDUMP_OPTIONS: &str = "AbBcCdDeEfFGhHiIjJKlLmMnNOpqQrsStTuUvVwWxXyYzZ#";
const SUPPORTED: &str = "supported: -n, -nn, -i IFACE, -c COUNT, -e, -l, -p and a filter";

impl TcpdumpArgs {
    /// Parses the words of `tcpdump …` (the program name first, each word with its byte
    /// range in the line). Addresses print numerically only, so `-n` is required.
    pub fn parse(words: &[(String, Range<usize>)]) -> Result<TcpdumpArgs, TcpdumpArgsError> {
        let (program, rest) = words.split_first().expect("a command line has a program");
        let mut args = TcpdumpArgs {
            iface: String::new(),
            filter: String::new(),
            count: None,
            link_level: false,
        };
        let (mut numeric, mut iface, mut filter) = (false, None, Vec::new());
        let mut words = rest.iter();
        while let Some((word, span)) = words.next() {
            let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) else {
                filter.push((word.as_str(), span.clone()));
                continue;
            };
            for (k, letter) in letters.char_indices() {
                match letter {
                    'n' => numeric = true,
                    'e' => args.link_level = true,
                    'l' | 'p' => {}
                    'i' | 'c' => {
                        let (value, at) =
                            option_value(letter, &letters[k + 1..], span, &mut words)?;
                        match letter {
                            'i' => iface = Some(value.to_string()),
                            _ => args.count = Some(parse_count(value, at)?),
                        }
                        break;
                    }
                    l => return Err(unknown_option(l, span)),
                }
            }
        }
        let program = &program.1;
        args.iface = iface.ok_or_else(|| TcpdumpArgsError {
            message: "tcpdump without -i: the simulator does not pick a default interface".into(),
            hint: Some("name the interface, as the labs do: `tcpdump -ni eth0 …`".into()),
            at: program.clone(),
        })?;
        if !numeric {
            return Err(TcpdumpArgsError {
                message: "tcpdump without -n would resolve addresses to names".into(),
                hint: Some("the simulator prints addresses and ports numerically: add -n".into()),
                at: program.clone(),
            });
        }
        args.filter = filter.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(" ");
        Filter::parse(&args.filter).map_err(|e| {
            let (first, last) = (filter.first(), filter.last());
            let at = first.map_or(0, |(_, s)| s.start)..last.map_or(0, |(_, s)| s.end);
            TcpdumpArgsError { message: e.to_string(), hint: None, at }
        })?;
        Ok(args)
    }
}

/// An option's argument, as getopt takes it: the rest of the cluster (`-ieth0`), or else
/// the next word.
fn option_value<'w>(
    letter: char,
    attached: &'w str,
    span: &Range<usize>,
    words: &mut std::slice::Iter<'w, (String, Range<usize>)>,
) -> Result<(&'w str, Range<usize>), TcpdumpArgsError> {
    if !attached.is_empty() {
        return Ok((attached, span.clone()));
    }
    let (value, at) = words.next().ok_or_else(|| {
        arg_error(format!("tcpdump: option requires an argument -- '{letter}'"), span)
    })?;
    Ok((value.as_str(), at.clone()))
}

/// An option tcpdump has that the simulator does not reproduce, or getopt's own error.
fn unknown_option(letter: char, span: &Range<usize>) -> TcpdumpArgsError {
    if letter != '-' && TCPDUMP_OPTIONS.contains(letter) {
        return TcpdumpArgsError {
            message: format!("tcpdump option -{letter} is not simulated"),
            hint: Some(SUPPORTED.to_string()),
            at: span.clone(),
        };
    }
    arg_error(format!("tcpdump: invalid option -- '{letter}'"), span)
}

fn parse_count(value: &str, at: Range<usize>) -> Result<usize, TcpdumpArgsError> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(arg_error(format!("tcpdump: invalid packet count {value}"), &at)),
    }
}

fn arg_error(message: String, at: &Range<usize>) -> TcpdumpArgsError {
    TcpdumpArgsError { message, hint: None, at: at.clone() }
}

/// Which tcpdump's wording to print: Ubuntu 18.04/20.04 ship 4.9, newer systems 4.99.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpdumpVersion {
    V4_9,
    V4_99,
}

/// The two lines tcpdump prints on stderr when it starts capturing on `iface`.
pub fn banner(version: TcpdumpVersion, iface: &str) -> String {
    let (verbose, snap) = match version {
        TcpdumpVersion::V4_9 => ("use -v or -vv", "capture size"),
        TcpdumpVersion::V4_99 => ("use -v[v]...", "snapshot length"),
    };
    format!(
        "tcpdump: verbose output suppressed, {verbose} for full protocol decode\n\
         listening on {iface}, link-type EN10MB (Ethernet), {snap} 262144 bytes\n"
    )
}

/// The statistics tcpdump prints on stderr when it stops (its `info(1)`); the simulated
/// kernel never drops a packet on the way to a capture.
pub fn statistics(captured: usize, received: usize) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{captured} packet{} captured\n{received} packet{} received by filter\n\
         0 packets dropped by kernel\n",
        plural(captured),
        plural(received)
    )
}

/// One capture in progress or finished.
#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub machine: usize,
    pub ns: NsRef,
    pub iface: String,
    pub filter: Filter,
    pub active: bool,
    pub frames: Vec<(SimTime, EthernetFrame)>,
}

impl Capture {
    pub fn offer(
        &mut self,
        now: SimTime,
        machine: usize,
        ns: &NsRef,
        iface: &str,
        frame: &EthernetFrame,
    ) {
        if self.active
            && self.machine == machine
            && self.ns == *ns
            && self.iface == iface
            && self.filter.matches(frame)
        {
            self.frames.push((now, frame.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_filters_labs_use() {
        assert!(Filter::parse("udp port 4789 or esp").is_ok());
        let f = Filter::parse("icmp or arp").unwrap();
        assert!(matches!(f, Filter::Or(..)));
        assert_eq!(
            Filter::parse("udp port 4789").unwrap(),
            Filter::Port { dir: Dir::Any, proto: Some("udp"), port: 4789 }
        );
        assert!(Filter::parse("tcp and not (port 22)").is_ok());
        assert!(Filter::parse("bogus").is_err());
    }

    fn words(line: &str) -> Vec<(String, Range<usize>)> {
        let mut at = 0;
        line.split(' ')
            .map(|w| {
                let span = at..at + w.len();
                at += w.len() + 1;
                (w.to_string(), span)
            })
            .collect()
    }

    fn parse(line: &str) -> Result<TcpdumpArgs, TcpdumpArgsError> {
        TcpdumpArgs::parse(&words(line))
    }

    #[test]
    fn parses_the_lab_command_lines() {
        let lab = parse("tcpdump -ni eth0 port 4789").unwrap();
        let expected = TcpdumpArgs {
            iface: "eth0".into(),
            filter: "port 4789".into(),
            count: None,
            link_level: false,
        };
        assert_eq!(lab, expected);
        let spread = parse("tcpdump -i eth0 port 4789 -nn -c 3 -e -l").unwrap();
        assert_eq!(spread.count, Some(3));
        assert!(spread.link_level);
        assert_eq!(spread.filter, "port 4789");
        assert_eq!(parse("tcpdump -n -idocker0").unwrap().iface, "docker0");
    }

    #[test]
    fn refuses_what_it_cannot_print_pointing_at_the_word() {
        let e = parse("tcpdump -vni eth0").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.at.clone()),
            ("tcpdump option -v is not simulated", 8..12)
        );
        let e = parse("tcpdump -ni eth0 -k").unwrap_err();
        assert_eq!((e.message.as_str(), e.at.clone()), ("tcpdump: invalid option -- 'k'", 17..19));
        let e = parse("tcpdump -ni eth0 -c 0").unwrap_err();
        assert_eq!((e.message.as_str(), e.at.clone()), ("tcpdump: invalid packet count 0", 20..21));
        let e = parse("tcpdump -n -i").unwrap_err();
        assert_eq!(e.message, "tcpdump: option requires an argument -- 'i'");
        assert_eq!(parse("tcpdump -i eth0 icmp").unwrap_err().at, 0..7);
        assert_eq!(parse("tcpdump -n icmp").unwrap_err().at, 0..7);
        let e = parse("tcpdump -ni eth0 port 4789 or bogus").unwrap_err();
        assert_eq!(e.message, "tcpdump: syntax error in filter expression near 'bogus'");
        assert_eq!(e.at, 17..35);
    }

    /// The texts, byte for byte as tcpdump 4.99.3 printed them capturing on a veth in a
    /// namespace (stderr), and as tcpdump 4.9 prints them (the lab, seeds/000).
    #[test]
    fn banner_and_statistics_match_real_tcpdump() {
        assert_eq!(
            banner(TcpdumpVersion::V4_99, "veth0"),
            "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n\
             listening on veth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n"
        );
        assert_eq!(
            banner(TcpdumpVersion::V4_9, "eth0"),
            "tcpdump: verbose output suppressed, use -v or -vv for full protocol decode\n\
             listening on eth0, link-type EN10MB (Ethernet), capture size 262144 bytes\n"
        );
        assert_eq!(
            statistics(1, 4),
            "1 packet captured\n4 packets received by filter\n0 packets dropped by kernel\n"
        );
        assert_eq!(
            statistics(0, 0),
            "0 packets captured\n0 packets received by filter\n0 packets dropped by kernel\n"
        );
    }
}
