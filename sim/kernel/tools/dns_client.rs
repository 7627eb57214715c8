//! The DNS client tools: `drill`, `dig`, `nslookup` (BIND and BusyBox) and `getent hosts`,
//! as one process that sends the queries each tool sends to the first nameserver of the
//! namespace's resolv.conf (or `@SERVER`) and prints what the tool prints.
//!
//! Queries and retries, as observed on the real tools against a server that never answers:
//! - `drill NAME [TYPE]`: one query, 3 tries of 5 s; no reply prints
//!   `Error: error sending query: …network error` and exits 1. NXDOMAIN exits 0.
//! - `dig NAME [TYPE] [+short]`: one query with EDNS (bufsize 1232, a client cookie), 3
//!   tries of 5 s; no reply prints `;; connection timed out; no servers could be reached`
//!   (BIND 9.16) and exits 9. NXDOMAIN exits 0.
//! - BIND `nslookup NAME`: A, then AAAA unless the A query failed; 3 tries of 5 s.
//!   A failure prints `** server can't find NAME: NXDOMAIN` and exits 1.
//! - BusyBox `nslookup NAME`: A and AAAA at once, 2 tries of 2.5 s; one block per query,
//!   so an empty AAAA answer prints a bare `Non-authoritative answer:`.
//! - `getent hosts NAME`: `/etc/hosts`, then AAAA, then A if AAAA had no address (glibc's
//!   `gethostbyname2` order), 2 tries of 5 s each; nothing found exits 2, silently.
//!
//! Only IPv4 addresses exist in the simulation, so AAAA answers are always empty.

use std::net::Ipv4Addr;

use crate::engine::{SimDuration, SimTime};
use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};
use crate::wire::{validate_name, DnsMessage, DnsType, Edns, Rcode, UdpPayload};

use super::dns_text::{self, Received};
use super::{PingFlavor, ToolUsageError};

/// Which tool, with what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsToolKind {
    Drill,
    Dig { short: bool },
    Nslookup(PingFlavor),
    Getent,
}

/// A parsed DNS tool command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTool {
    pub kind: DnsToolKind,
    pub name: String,
    pub qtype: DnsType,
    pub server: Option<Ipv4Addr>,
    /// The arguments as typed, for dig's banner.
    args: String,
}

fn usage(text: String) -> ToolUsageError {
    ToolUsageError(text)
}

/// Splits `[@SERVER] NAME [TYPE]`; options (`-x`, `+x`) other than those in `allowed` are
/// refused by name.
fn words(
    tool: &str,
    args: &[String],
    allowed: &[&str],
) -> Result<(Vec<String>, Option<Ipv4Addr>), ToolUsageError> {
    let mut rest = Vec::new();
    let mut server = None;
    for a in args {
        if let Some(s) = a.strip_prefix('@') {
            let ip = s
                .parse()
                .map_err(|_| usage(format!("{tool}: server {s}: only addresses are simulated")))?;
            server = Some(ip);
        } else if (a.starts_with('-') || a.starts_with('+')) && !allowed.contains(&a.as_str()) {
            return Err(usage(format!("{tool}: option {a} is not simulated")));
        } else if !allowed.contains(&a.as_str()) {
            rest.push(a.clone());
        }
    }
    Ok((rest, server))
}

fn checked_name(tool: &str, name: &str) -> Result<String, ToolUsageError> {
    let name = name.strip_suffix('.').unwrap_or(name).to_string();
    validate_name(&name).map_err(|_| usage(format!("{tool}: {name}: not a valid name")))?;
    Ok(name)
}

impl DnsTool {
    /// `drill [@SERVER] NAME [TYPE]`.
    pub fn parse_drill(args: &[String]) -> Result<DnsTool, ToolUsageError> {
        let (rest, server) = words("drill", args, &[])?;
        let (name, qtype) = match rest.as_slice() {
            [name] => (name, DnsType::A),
            [name, t] => (
                name,
                dns_text::parse_type(t)
                    .ok_or_else(|| usage(format!("drill: type {t} is not simulated")))?,
            ),
            _ => return Err(usage("Usage: drill [OPTIONS] name [@server] [type] [class]".into())),
        };
        let name = checked_name("drill", name)?;
        Ok(DnsTool { kind: DnsToolKind::Drill, name, qtype, server, args: args.join(" ") })
    }

    /// `dig [@SERVER] NAME [TYPE] [+short]`.
    pub fn parse_dig(args: &[String]) -> Result<DnsTool, ToolUsageError> {
        let (rest, server) = words("dig", args, &["+short"])?;
        let short = args.iter().any(|a| a == "+short");
        let (name, qtype) = match rest.as_slice() {
            [name] => (name, DnsType::A),
            [name, t] => (
                name,
                dns_text::parse_type(t)
                    .ok_or_else(|| usage(format!("dig: type {t} is not simulated")))?,
            ),
            _ => {
                return Err(usage(
                    "dig: only `dig [@SERVER] NAME [TYPE] [+short]` is simulated".into(),
                ))
            }
        };
        let name = checked_name("dig", name)?;
        Ok(DnsTool { kind: DnsToolKind::Dig { short }, name, qtype, server, args: args.join(" ") })
    }

    /// `nslookup NAME [SERVER]`, BusyBox's or BIND's.
    pub fn parse_nslookup(flavor: PingFlavor, args: &[String]) -> Result<DnsTool, ToolUsageError> {
        let (rest, _) = words("nslookup", args, &[])?;
        let (name, server) = match rest.as_slice() {
            [name] => (name, None),
            [name, s] => (
                name,
                Some(s.parse().map_err(|_| {
                    usage(format!("nslookup: server {s}: only addresses are simulated"))
                })?),
            ),
            _ => return Err(usage("nslookup: only `nslookup NAME [SERVER]` is simulated".into())),
        };
        let name = checked_name("nslookup", name)?;
        let kind = DnsToolKind::Nslookup(flavor);
        Ok(DnsTool { kind, name, qtype: DnsType::A, server, args: args.join(" ") })
    }

    /// `getent hosts NAME`.
    pub fn parse_getent(args: &[String]) -> Result<DnsTool, ToolUsageError> {
        match args {
            [db, name] if db == "hosts" => {
                let name = checked_name("getent", name)?;
                Ok(DnsTool { kind: DnsToolKind::Getent, name, qtype: DnsType::Aaaa, server: None, args: args.join(" ") })
            }
            [db, ..] if db != "hosts" => Err(usage(format!(
                "Unknown database: {db}\nTry `getent --help' or `getent --usage' for more information."
            ))),
            _ => Err(usage("getent: only `getent hosts NAME` is simulated".into())),
        }
    }

    /// Tries and the time each gets.
    fn retries(&self) -> (u32, SimDuration) {
        match self.kind {
            DnsToolKind::Nslookup(PingFlavor::Busybox) => (2, SimDuration::from_millis(2_500)),
            DnsToolKind::Getent => (2, SimDuration::from_secs(5)),
            _ => (3, SimDuration::from_secs(5)),
        }
    }
}

/// One query and its tries.
struct Probe {
    qtype: DnsType,
    id: u16,
    sock: Option<SockId>,
    sent_at: SimTime,
    tries_left: u32,
    /// Some once finished: the answer, or None when every try timed out.
    outcome: Option<Option<Received>>,
}

/// The running tool.
pub struct DnsClient {
    tool: DnsTool,
    server: Ipv4Addr,
    probes: Vec<Probe>,
}

impl DnsClient {
    pub fn new(tool: DnsTool) -> Self {
        DnsClient { tool, server: Ipv4Addr::UNSPECIFIED, probes: Vec::new() }
    }

    fn query(&self, cx: &mut ProcCtx, p: &Probe) -> DnsMessage {
        let edns = match self.tool.kind {
            DnsToolKind::Dig { .. } => {
                let cookie = (cx.random(1 << 32) << 32 | cx.random(1 << 32)).to_be_bytes();
                Some(Edns { udp_size: 1232, cookie: Some(cookie) })
            }
            _ => None,
        };
        DnsMessage { edns, ..DnsMessage::query(p.id, &self.tool.name, p.qtype) }
    }

    /// Starts query `qtype` as probe number `self.probes.len()`.
    fn start(&mut self, cx: &mut ProcCtx, qtype: DnsType) {
        let (tries, _) = self.tool.retries();
        let id = cx.random(65536) as u16;
        let probe =
            Probe { qtype, id, sock: None, sent_at: cx.now, tries_left: tries, outcome: None };
        self.probes.push(probe);
        self.send(cx, self.probes.len() - 1);
    }

    /// Sends probe `i`'s next try, or finishes it without an answer.
    fn send(&mut self, cx: &mut ProcCtx, i: usize) {
        let (_, timeout) = self.tool.retries();
        if self.probes[i].tries_left == 0 {
            self.probes[i].outcome = Some(None);
            return;
        }
        self.probes[i].tries_left -= 1;
        if self.probes[i].sock.is_none() {
            self.probes[i].sock = cx.udp_bind(Ipv4Addr::UNSPECIFIED, 0).ok();
        }
        let query = self.query(cx, &self.probes[i]);
        if let Some(sock) = self.probes[i].sock {
            let _ = cx.udp_send(sock, (self.server, 53), UdpPayload::Dns(query));
        }
        self.probes[i].sent_at = cx.now;
        cx.set_timer(timeout, i as u64);
    }

    fn answers(&self) -> impl Iterator<Item = (DnsType, Option<&Received>)> {
        self.probes.iter().map(|p| (p.qtype, p.outcome.as_ref().and_then(|o| o.as_ref())))
    }

    /// All probes so far are done: start the next query, or print and exit.
    fn advance(&mut self, cx: &mut ProcCtx) {
        if self.probes.iter().any(|p| p.outcome.is_none()) {
            return;
        }
        let last = self.probes.last().and_then(|p| p.outcome.clone().flatten());
        let next = match (&self.tool.kind, self.probes.len(), &last) {
            (DnsToolKind::Nslookup(PingFlavor::Iputils), 1, Some(r))
                if r.msg.rcode == Rcode::NoError =>
            {
                Some(DnsType::Aaaa)
            }
            (DnsToolKind::Getent, 1, _) if !last.as_ref().is_some_and(has_address) => {
                Some(DnsType::A)
            }
            _ => None,
        };
        match next {
            Some(t) => self.start(cx, t),
            None => self.finish(cx),
        }
    }

    fn finish(&mut self, cx: &mut ProcCtx) {
        let (text, code) = match &self.tool.kind {
            DnsToolKind::Drill => self.drill_output(),
            DnsToolKind::Dig { short } => self.dig_output(*short),
            DnsToolKind::Nslookup(PingFlavor::Busybox) => self.busybox_output(),
            DnsToolKind::Nslookup(PingFlavor::Iputils) => self.bind_output(),
            DnsToolKind::Getent => {
                let found = self.answers().filter_map(|(_, r)| r).find(|r| has_address(r));
                found.map_or((String::new(), 2), |r| (dns_text::getent_hosts(&r.msg), 0))
            }
        };
        for p in &mut self.probes {
            if let Some(sock) = p.sock.take() {
                cx.close(sock);
            }
        }
        cx.print(&text);
        cx.exit(code);
    }

    fn drill_output(&self) -> (String, i32) {
        match self.answers().next().and_then(|(_, r)| r) {
            Some(r) => (dns_text::drill(r), 0),
            None => (
                "Error: error sending query: Could not send or receive, because of network error\n"
                    .into(),
                1,
            ),
        }
    }

    fn dig_output(&self, short: bool) -> (String, i32) {
        let banner = if short { String::new() } else { dns_text::dig_banner(&self.tool.args) };
        match self.answers().next().and_then(|(_, r)| r) {
            Some(r) if short => (dns_text::dig_short(&r.msg), 0),
            Some(r) => (banner + &dns_text::dig(r), 0),
            None => (banner + ";; connection timed out; no servers could be reached\n", 9),
        }
    }

    fn busybox_output(&self) -> (String, i32) {
        let mut out = dns_text::nslookup_server(self.server, true);
        let mut code = 0;
        for (_, r) in self.answers() {
            let Some(r) = r else {
                return (out + ";; connection timed out; no servers could be reached\n\n", 1);
            };
            if r.msg.rcode != Rcode::NoError {
                out += &dns_text::nslookup_failure(&self.tool.name, r.msg.rcode);
                code = 1;
                continue;
            }
            if !r.msg.authoritative {
                out += "Non-authoritative answer:\n";
            }
            out += &dns_text::nslookup_addresses(&r.msg);
            out.push('\n');
        }
        (out, code)
    }

    fn bind_output(&self) -> (String, i32) {
        let mut answers = self.answers();
        let Some((_, Some(a))) = answers.next() else {
            return (";; connection timed out; no servers could be reached\n\n".into(), 1);
        };
        let mut out = dns_text::nslookup_server(self.server, false);
        if a.msg.rcode != Rcode::NoError {
            return (out + &dns_text::nslookup_failure(&self.tool.name, a.msg.rcode), 1);
        }
        if !a.msg.authoritative {
            out += "Non-authoritative answer:\n";
        }
        out += &dns_text::nslookup_addresses(&a.msg);
        for (_, r) in answers {
            out += &r.map(|r| dns_text::nslookup_addresses(&r.msg)).unwrap_or_default();
        }
        (out + "\n", 0)
    }
}

fn has_address(r: &Received) -> bool {
    r.msg.rcode == Rcode::NoError && !dns_text::getent_hosts(&r.msg).is_empty()
}

impl Process for DnsClient {
    fn name(&self) -> &str {
        match self.tool.kind {
            DnsToolKind::Drill => "drill",
            DnsToolKind::Dig { .. } => "dig",
            DnsToolKind::Nslookup(_) => "nslookup",
            DnsToolKind::Getent => "getent",
        }
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        if self.tool.kind == DnsToolKind::Getent {
            if let Some((name, ip)) = cx.resolv.hosts.iter().find(|(h, _)| *h == self.tool.name) {
                cx.print(&format!("{:<15} {name}\n", ip.to_string()));
                return cx.exit(0);
            }
        }
        let Some(server) = self.tool.server.or_else(|| cx.resolv.nameservers.first().copied())
        else {
            // No nameserver at all: every tool's lookup fails at once.
            return self.finish(cx);
        };
        self.server = server;
        match self.tool.kind {
            DnsToolKind::Nslookup(PingFlavor::Busybox) => {
                self.start(cx, DnsType::A);
                self.start(cx, DnsType::Aaaa);
            }
            DnsToolKind::Nslookup(PingFlavor::Iputils) => self.start(cx, DnsType::A),
            _ => self.start(cx, self.tool.qtype),
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        let SocketEventKind::Datagram { from, payload: UdpPayload::Dns(msg) } = event.kind else {
            return;
        };
        let Some(i) = self.probes.iter().position(|p| {
            p.sock == Some(event.sock) && p.outcome.is_none() && p.id == msg.id && msg.response
        }) else {
            return;
        };
        let p = &mut self.probes[i];
        let rtt = cx.now.since(p.sent_at);
        p.outcome = Some(Some(Received { msg, rtt, server: from.0, at: cx.now }));
        self.advance(cx);
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        let i = token as usize;
        if self.probes.get(i).is_some_and(|p| p.outcome.is_none()) {
            self.send(cx, i);
            self.advance(cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_lines_and_refusals() {
        let dig = DnsTool::parse_dig(&args("@10.0.0.9 tasks.web. AAAA +short")).unwrap();
        assert_eq!(dig.kind, DnsToolKind::Dig { short: true });
        assert_eq!(
            (dig.name.as_str(), dig.qtype, dig.server),
            ("tasks.web", DnsType::Aaaa, Some([10, 0, 0, 9].into()))
        );
        let err = |r: Result<DnsTool, ToolUsageError>| r.err().map(|e| e.0);
        assert_eq!(
            err(DnsTool::parse_dig(&args("+trace web"))).as_deref(),
            Some("dig: option +trace is not simulated")
        );
        assert_eq!(
            err(DnsTool::parse_drill(&args("-T web"))).as_deref(),
            Some("drill: option -T is not simulated")
        );
        assert_eq!(
            err(DnsTool::parse_getent(&args("passwd root"))).as_deref(),
            Some("Unknown database: passwd\nTry `getent --help' or `getent --usage' for more information.")
        );
        let ns = DnsTool::parse_nslookup(PingFlavor::Busybox, &args("web")).unwrap();
        assert_eq!(ns.kind, DnsToolKind::Nslookup(PingFlavor::Busybox));
        assert!(err(DnsTool::parse_nslookup(PingFlavor::Iputils, &args("web a..b"))).is_some());
    }
}
