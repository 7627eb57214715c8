//! The stub resolver inside libc/musl: `/etc/hosts` first, then one A query per nameserver
//! over UDP port 53, 5 s per try, 2 tries (glibc's `timeout:5 attempts:2`).

use std::net::Ipv4Addr;

use crate::engine::SimDuration;
use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};
use crate::wire::{DnsMessage, DnsRecordData, DnsType, Rcode, UdpPayload};

const TRY_TIMEOUT: SimDuration = SimDuration::from_secs(5);
const ATTEMPTS: usize = 2;

/// How a lookup ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Found(Ipv4Addr),
    /// The name has no address (NXDOMAIN, or no A record): glibc's `EAI_NONAME`.
    NotFound,
    /// No server answered in time, or one answered SERVFAIL: glibc's `EAI_AGAIN`,
    /// "Temporary failure in name resolution".
    TryAgain,
}

impl Resolution {
    /// glibc's `gai_strerror` text for a failed lookup.
    pub fn gai_error(&self) -> &'static str {
        match self {
            Resolution::TryAgain => "Temporary failure in name resolution",
            _ => "Name or service not known",
        }
    }
}

/// One lookup in flight. The owning process routes its socket events and the timer with
/// `timer_token` here.
#[derive(Debug, Clone)]
pub struct StubResolver {
    name: String,
    sock: Option<SockId>,
    query_id: u16,
    tries: usize,
    timer_token: u64,
}

impl StubResolver {
    /// Starts resolving `name`: literal addresses and `/etc/hosts` answer at once.
    pub fn start(
        cx: &mut ProcCtx,
        name: &str,
        timer_token: u64,
    ) -> Result<Resolution, StubResolver> {
        if let Ok(ip) = name.parse::<Ipv4Addr>() {
            return Ok(Resolution::Found(ip));
        }
        if let Some((_, ip)) = cx.resolv.hosts.iter().find(|(h, _)| h == name) {
            return Ok(Resolution::Found(*ip));
        }
        if cx.resolv.nameservers.is_empty() {
            return Ok(Resolution::NotFound);
        }
        let mut r =
            StubResolver { name: name.to_string(), sock: None, query_id: 0, tries: 0, timer_token };
        r.send_query(cx).map_err(|()| r.clone())?;
        Err(r)
    }

    /// Sends the next try; Ok when the lookup is over (out of tries).
    fn send_query(&mut self, cx: &mut ProcCtx) -> Result<Resolution, ()> {
        let servers = cx.resolv.nameservers.len();
        if self.tries >= ATTEMPTS * servers {
            return Ok(Resolution::TryAgain);
        }
        let server = cx.resolv.nameservers[self.tries % servers];
        self.tries += 1;
        if let Some(old) = self.sock.take() {
            cx.close(old);
        }
        let Ok(sock) = cx.udp_bind(Ipv4Addr::UNSPECIFIED, 0) else {
            return Ok(Resolution::TryAgain);
        };
        self.sock = Some(sock);
        self.query_id = cx.random(65536) as u16;
        let query = DnsMessage::query(self.query_id, &self.name, DnsType::A);
        if cx.udp_send(sock, (server, 53), UdpPayload::Dns(query)).is_err() {
            return self.send_query(cx);
        }
        cx.set_timer(TRY_TIMEOUT, self.timer_token);
        Err(())
    }

    pub fn owns(&self, event: &SocketEvent) -> bool {
        self.sock == Some(event.sock)
    }

    /// An answer arrived on our socket.
    pub fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) -> Option<Resolution> {
        let SocketEventKind::Datagram { payload: UdpPayload::Dns(msg), .. } = event.kind else {
            return None;
        };
        if msg.id != self.query_id || !msg.response {
            return None;
        }
        self.finish(cx);
        if msg.rcode == Rcode::ServFail {
            return Some(Resolution::TryAgain);
        }
        let ip = msg.answers.iter().find_map(|a| match a.data {
            DnsRecordData::A(ip) => Some(ip),
            _ => None,
        });
        Some(ip.map_or(Resolution::NotFound, Resolution::Found))
    }

    /// Our timer fired: try again or give up.
    pub fn on_timer(&mut self, cx: &mut ProcCtx) -> Option<Resolution> {
        let done = self.send_query(cx).ok();
        if done.is_some() {
            self.finish(cx);
        }
        done
    }

    fn finish(&mut self, cx: &mut ProcCtx) {
        if let Some(sock) = self.sock.take() {
            cx.close(sock);
        }
        self.tries = usize::MAX / 2;
    }
}

/// A tool that first resolves a host name, then talks to the address: ping, curl, nc.
/// `Resolving` runs the lookup and hands the tool its answer; everything else is the
/// tool's own.
pub trait LookupTool {
    fn name(&self) -> &str;
    /// The name (or literal address) to look up.
    fn host(&self) -> &str;
    /// Runs before the lookup starts (curl arms its `--max-time` here).
    fn on_begin(&mut self, _cx: &mut ProcCtx) {}
    fn on_resolved(&mut self, cx: &mut ProcCtx, result: Resolution);
    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent);
    fn on_timer(&mut self, _cx: &mut ProcCtx, _token: u64) {}
    fn interrupt(&mut self, cx: &mut ProcCtx) {
        cx.exit(130);
    }
}

/// The timer token the lookup uses; tools use small tokens of their own.
const LOOKUP_TOKEN: u64 = u64::MAX;

/// A `LookupTool` as a process: the lookup first, then the tool.
pub struct Resolving<T> {
    tool: T,
    lookup: Option<StubResolver>,
}

impl<T: LookupTool> Resolving<T> {
    pub fn new(tool: T) -> Self {
        Resolving { tool, lookup: None }
    }

    fn done(&mut self, cx: &mut ProcCtx, result: Resolution) {
        self.lookup = None;
        self.tool.on_resolved(cx, result);
    }
}

impl<T: LookupTool> Process for Resolving<T> {
    fn name(&self) -> &str {
        self.tool.name()
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        self.tool.on_begin(cx);
        let host = self.tool.host().to_string();
        match StubResolver::start(cx, &host, LOOKUP_TOKEN) {
            Ok(result) => self.done(cx, result),
            Err(pending) => self.lookup = Some(pending),
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match self.lookup.as_mut().filter(|r| r.owns(&event)) {
            Some(r) => {
                if let Some(result) = r.on_socket(cx, event) {
                    self.done(cx, result);
                }
            }
            None => self.tool.on_socket(cx, event),
        }
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        if token != LOOKUP_TOKEN {
            return self.tool.on_timer(cx, token);
        }
        if let Some(result) = self.lookup.as_mut().and_then(|r| r.on_timer(cx)) {
            self.done(cx, result);
        }
    }

    fn interrupt(&mut self, cx: &mut ProcCtx) {
        self.tool.interrupt(cx);
    }
}
