//! `ping`, as iputils (Debian/Ubuntu) and BusyBox (alpine, busybox images) print it.
//!
//! One echo request per second (`-i 1`), 56 data bytes unless `-s SIZE`; `-c N` stops after
//! N. Without `-c` it runs until interrupted, then prints its statistics like after Ctrl-C.
//! iputils' `-M do|want|dont` sets the socket's path MTU discovery: a request larger than
//! the path MTU under `-M do` fails locally (`ping: local error: message too long,
//! mtu=1450`), an ICMP "fragmentation needed" prints `From … Frag needed and DF set (mtu =
//! 1450)`; both count as errors (`+N errors` in the statistics), and ping stops once
//! replies and errors account for every request.

use std::net::Ipv4Addr;

use crate::engine::{SimDuration, SimTime};
use crate::kernel::process::ProcCtx;
use crate::kernel::{PmtuDisc, SockId, SocketError, SocketEvent, SocketEventKind};

use super::resolver::{LookupTool, Resolution};
use super::ToolUsageError;

const INTERVAL: SimDuration = SimDuration::from_secs(1);
const DEFAULT_DATA_BYTES: usize = 56;
/// The largest echo payload an IPv4 packet holds: 65535 − 20 (IP) − 8 (ICMP). iputils
/// accepts larger `-s` values; their requests fail silently (sendmsg: EMSGSIZE).
const MAX_DATA_BYTES: usize = 65507;
const TOKEN_SEND: u64 = 1;
const TOKEN_LINGER: u64 = 3;
/// How long ping waits for the last reply after the last request (iputils: 10 s with -c,
/// unless every reply is in).
const LINGER: SimDuration = SimDuration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingFlavor {
    Iputils,
    Busybox,
}

pub struct Ping {
    flavor: PingFlavor,
    target: String,
    count: Option<u32>,
    size: usize,
    pmtudisc: Option<PmtuDisc>,
    ip: Option<Ipv4Addr>,
    sock: Option<SockId>,
    sent: u32,
    sent_at: Vec<SimTime>,
    rtts_ns: Vec<u64>,
    errors: u32,
    started: SimTime,
}

impl Ping {
    /// Parses `ping [-c COUNT] [-s SIZE] [-M do|want|dont] [-n] [-q] HOST` (the options the
    /// labs use; `-M` is iputils only).
    pub fn parse(flavor: PingFlavor, args: &[String]) -> Result<Ping, ToolUsageError> {
        let mut count = None;
        let mut size = DEFAULT_DATA_BYTES;
        let mut pmtudisc = None;
        let mut target = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-c" => count = Some(parse_count(it.next())?),
                "-s" => size = parse_size(it.next())?,
                "-M" if flavor == PingFlavor::Iputils => {
                    pmtudisc = Some(parse_pmtudisc(it.next())?)
                }
                "-n" | "-q" => {}
                s if s.starts_with("-c") => count = Some(parse_count(Some(&s[2..].to_string()))?),
                s if s.starts_with("-s") => size = parse_size(Some(&s[2..].to_string()))?,
                s if s.starts_with('-') => {
                    return Err(usage(flavor, &format!("invalid option -- '{}'", &s[1..])))
                }
                s => target = Some(s.to_string()),
            }
        }
        let target =
            target.ok_or_else(|| usage(flavor, "usage error: Destination address required"))?;
        Ok(Ping {
            flavor,
            target,
            count,
            size,
            pmtudisc,
            ip: None,
            sock: None,
            sent: 0,
            sent_at: Vec::new(),
            rtts_ns: Vec::new(),
            errors: 0,
            started: SimTime::ZERO,
        })
    }

    fn send(&mut self, cx: &mut ProcCtx) {
        let (Some(sock), Some(ip)) = (self.sock, self.ip) else { return };
        let seq = self.first_seq() + self.sent as u16;
        self.sent += 1;
        self.sent_at.push(cx.now);
        let sent = match self.size {
            0..=MAX_DATA_BYTES => cx.ping_send(sock, ip, seq, self.size),
            _ => Ok(0),
        };
        match sent {
            Ok(_) => {}
            Err(SocketError::MessageTooLong { mtu }) => {
                cx.println(&format!("ping: local error: message too long, mtu={mtu}"));
                self.errors += 1;
                if self.all_answered() {
                    return self.finish(cx);
                }
            }
            Err(_) => {
                cx.println("ping: connect: Network is unreachable");
                return cx.exit(2);
            }
        }
        if Some(self.sent) == self.count {
            cx.set_timer(LINGER, TOKEN_LINGER);
        } else {
            cx.set_timer(INTERVAL, TOKEN_SEND);
        }
    }

    fn first_seq(&self) -> u16 {
        match self.flavor {
            PingFlavor::Iputils => 1,
            PingFlavor::Busybox => 0,
        }
    }

    fn on_reply(&mut self, cx: &mut ProcCtx, from: Ipv4Addr, seq: u16, ttl: u8, bytes: usize) {
        let idx = seq.wrapping_sub(self.first_seq()) as usize;
        let Some(sent) = self.sent_at.get(idx) else { return };
        let rtt = cx.now.since(*sent).as_nanos();
        self.rtts_ns.push(rtt);
        match self.flavor {
            PingFlavor::Iputils => cx.println(&format!(
                "{bytes} bytes from {from}: icmp_seq={seq} ttl={ttl} time={}",
                iputils_time(rtt)
            )),
            PingFlavor::Busybox => cx.println(&format!(
                "{bytes} bytes from {from}: seq={seq} ttl={ttl} time={} ms",
                ms3(rtt)
            )),
        }
        if self.all_answered() {
            self.finish(cx);
        }
    }

    /// iputils stops once replies and errors account for every request of `-c`.
    fn all_answered(&self) -> bool {
        Some(self.rtts_ns.len() as u32 + self.errors) == self.count
    }

    fn on_frag_needed(&mut self, cx: &mut ProcCtx, from: Ipv4Addr, seq: u16, mtu: u16) {
        self.errors += 1;
        cx.println(&format!("From {from} icmp_seq={seq} Frag needed and DF set (mtu = {mtu})"));
        if self.all_answered() {
            self.finish(cx);
        }
    }

    fn finish(&mut self, cx: &mut ProcCtx) {
        let stats = match self.flavor {
            PingFlavor::Iputils => self.iputils_stats(cx.now),
            PingFlavor::Busybox => self.busybox_stats(),
        };
        cx.print(&stats);
        cx.exit(if self.rtts_ns.is_empty() || self.errors > 0 { 1 } else { 0 });
    }

    fn loss_percent(&self) -> u32 {
        if self.sent == 0 {
            return 0;
        }
        (self.sent - self.rtts_ns.len() as u32) * 100 / self.sent
    }

    fn iputils_stats(&self, now: SimTime) -> String {
        let received = self.rtts_ns.len();
        let elapsed_ms = now.since(self.started).as_nanos() / 1_000_000;
        let errors = match self.errors {
            0 => String::new(),
            n => format!("+{n} errors, "),
        };
        let mut s = format!(
            "\n--- {} ping statistics ---\n{} packets transmitted, {received} received, {errors}{}% packet loss, time {elapsed_ms}ms\n",
            self.target, self.sent, self.loss_percent()
        );
        // Without replies iputils ends the statistics with an empty line.
        if received == 0 {
            s.push('\n');
        }
        if received > 0 {
            let (min, avg, max, mdev) = summary(&self.rtts_ns);
            s += &format!(
                "rtt min/avg/max/mdev = {}/{}/{}/{} ms\n",
                ms3(min),
                ms3(avg),
                ms3(max),
                ms3(mdev)
            );
        }
        s
    }

    fn busybox_stats(&self) -> String {
        let received = self.rtts_ns.len();
        let mut s = format!(
            "\n--- {} ping statistics ---\n{} packets transmitted, {received} packets received, {}% packet loss\n",
            self.target, self.sent, self.loss_percent()
        );
        if received > 0 {
            let (min, avg, max, _) = summary(&self.rtts_ns);
            s += &format!("round-trip min/avg/max = {}/{}/{} ms\n", ms3(min), ms3(avg), ms3(max));
        }
        s
    }
}

impl LookupTool for Ping {
    fn name(&self) -> &str {
        "ping"
    }

    fn host(&self) -> &str {
        &self.target
    }

    fn on_resolved(&mut self, cx: &mut ProcCtx, r: Resolution) {
        let Resolution::Found(ip) = r else {
            match self.flavor {
                PingFlavor::Iputils => {
                    cx.println(&format!("ping: {}: {}", self.target, r.gai_error()))
                }
                PingFlavor::Busybox => cx.println(&format!("ping: bad address '{}'", self.target)),
            }
            return cx.exit(if self.flavor == PingFlavor::Iputils { 2 } else { 1 });
        };
        self.ip = Some(ip);
        match self.flavor {
            PingFlavor::Iputils => cx.println(&format!(
                "PING {} ({ip}) {}({}) bytes of data.",
                self.target,
                self.size,
                self.size + 28
            )),
            PingFlavor::Busybox => {
                cx.println(&format!("PING {} ({ip}): {} data bytes", self.target, self.size))
            }
        }
        let ident = cx.random(65536) as u16;
        let sock = cx.ping_open(ident);
        if let Some(mode) = self.pmtudisc {
            cx.set_pmtudisc(sock, mode);
        }
        self.sock = Some(sock);
        self.started = cx.now;
        self.send(cx);
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::EchoReply { from, seq, ttl, bytes } => {
                self.on_reply(cx, from, seq, ttl, bytes)
            }
            SocketEventKind::FragNeeded { from, seq, mtu } => {
                self.on_frag_needed(cx, from, seq, mtu)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        match token {
            TOKEN_SEND => self.send(cx),
            TOKEN_LINGER => self.finish(cx),
            _ => unreachable!("ping set no timer {token}"),
        }
    }

    /// Ctrl-C: print the statistics so far (iputils echoes `^C` first).
    fn interrupt(&mut self, cx: &mut ProcCtx) {
        if self.flavor == PingFlavor::Iputils {
            cx.print("^C");
        }
        self.finish(cx);
    }
}

fn parse_count(v: Option<&String>) -> Result<u32, ToolUsageError> {
    match v.and_then(|s| s.parse::<u32>().ok()) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(ToolUsageError(format!(
            "ping: invalid argument: '{}'",
            v.map_or("", |s| s.as_str())
        ))),
    }
}

/// `-s`: iputils takes any int.
fn parse_size(v: Option<&String>) -> Result<usize, ToolUsageError> {
    let text = v.map_or("", |s| s.as_str());
    match text.parse::<u64>() {
        Ok(n) if n <= i32::MAX as u64 => Ok(n as usize),
        Ok(_) => Err(ToolUsageError(format!(
            "ping: invalid argument: '{text}': out of range: 0 <= value <= 2147483647"
        ))),
        Err(_) => Err(ToolUsageError(format!("ping: invalid argument: '{text}'"))),
    }
}

/// `-M`: iputils' `do`, `want` and `dont` (`probe` is not modelled).
fn parse_pmtudisc(v: Option<&String>) -> Result<PmtuDisc, ToolUsageError> {
    match v.map(|s| s.as_str()) {
        Some("do") => Ok(PmtuDisc::Do),
        Some("want") => Ok(PmtuDisc::Want),
        Some("dont") => Ok(PmtuDisc::Dont),
        other => {
            Err(ToolUsageError(format!("ping: invalid -M argument: {}", other.unwrap_or_default())))
        }
    }
}

fn usage(flavor: PingFlavor, msg: &str) -> ToolUsageError {
    match flavor {
        PingFlavor::Iputils => ToolUsageError(format!("ping: {msg}")),
        PingFlavor::Busybox => ToolUsageError(format!(
            "ping: {msg}\nBusyBox v1.33.1 () multi-call binary.\n\nUsage: ping [OPTIONS] HOST"
        )),
    }
}

/// iputils' three significant digits: `0.069`, `1.23`, `93.9`, `120`.
fn iputils_time(ns: u64) -> String {
    let us = ns / 1_000;
    if us >= 100_000 - 50 {
        format!("{} ms", (us + 500) / 1_000)
    } else if us >= 10_000 - 5 {
        format!("{}.{:01} ms", (us + 50) / 1_000, ((us + 50) % 1_000) / 100)
    } else if us >= 1_000 {
        format!("{}.{:02} ms", (us + 5) / 1_000, ((us + 5) % 1_000) / 10)
    } else {
        format!("{}.{:03} ms", us / 1_000, us % 1_000)
    }
}

/// Milliseconds with three decimals, from nanoseconds (microsecond resolution, as the tools).
fn ms3(ns: u64) -> String {
    let us = ns / 1_000;
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

/// min, avg, max and iputils' mdev (the standard deviation), in nanoseconds.
fn summary(rtts: &[u64]) -> (u64, u64, u64, u64) {
    let n = rtts.len() as u64;
    let min = *rtts.iter().min().expect("at least one reply");
    let max = *rtts.iter().max().expect("at least one reply");
    let sum: u64 = rtts.iter().sum();
    let avg = sum / n;
    let us: Vec<f64> = rtts.iter().map(|r| (r / 1_000) as f64).collect();
    let mean = us.iter().sum::<f64>() / n as f64;
    let var = us.iter().map(|x| x * x).sum::<f64>() / n as f64 - mean * mean;
    let mdev = (var.max(0.0).sqrt() * 1_000.0) as u64;
    (min, avg, max, mdev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Ping, ToolUsageError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Ping::parse(PingFlavor::Iputils, &args)
    }

    #[test]
    fn size_and_pmtu_discovery_options_as_iputils_takes_them() {
        let ping = parse(&["-M", "do", "-s", "1500", "-c", "1", "10.9.2.2"]).unwrap();
        assert_eq!((ping.size, ping.pmtudisc), (1500, Some(PmtuDisc::Do)));
        assert_eq!(parse(&["-M", "dont", "x"]).unwrap().pmtudisc, Some(PmtuDisc::Dont));
        assert_eq!(parse(&["x"]).unwrap().size, 56);
        // Texts from iputils 20221126.
        let err = |args: &[&str]| parse(args).err().map(|e| e.0);
        assert_eq!(err(&["-M", "foo", "x"]).as_deref(), Some("ping: invalid -M argument: foo"));
        assert_eq!(err(&["-s", "abc", "x"]).as_deref(), Some("ping: invalid argument: 'abc'"));
        assert_eq!(
            err(&["-s", "2147483648", "x"]).as_deref(),
            Some("ping: invalid argument: '2147483648': out of range: 0 <= value <= 2147483647")
        );
        let busybox = Ping::parse(PingFlavor::Busybox, &["-M".into(), "do".into(), "x".into()]);
        assert!(busybox.err().is_some_and(|e| e.0.starts_with("ping: invalid option -- 'M'")));
    }

    #[test]
    fn statistics_count_errors_and_end_with_a_blank_line_without_replies() {
        let mut ping = parse(&["-c", "3", "10.9.2.2"]).unwrap();
        (ping.sent, ping.errors) = (3, 3);
        let at_407ms = SimTime::ZERO + SimDuration::from_millis(407);
        assert_eq!(
            ping.iputils_stats(at_407ms),
            "\n--- 10.9.2.2 ping statistics ---\n\
             3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 407ms\n\n"
        );
    }

    #[test]
    fn times_have_three_significant_digits_like_iputils() {
        assert_eq!(iputils_time(69_000), "0.069 ms");
        assert_eq!(iputils_time(1_234_000), "1.23 ms");
        assert_eq!(iputils_time(93_900_000), "93.9 ms");
        assert_eq!(iputils_time(120_400_000), "120 ms");
    }
}
