//! DNS servers: Docker's embedded resolver (127.0.0.11 in each container on a user-defined
//! network, answering from the daemon's records and forwarding the rest), and a plain
//! authoritative server for the underlay's own names.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};
use crate::wire::{DnsMessage, DnsRecord, DnsRecordData, DnsType, Rcode, UdpPayload};

/// Docker's embedded DNS answers with TTL 600 (libnetwork `resolver.go` respTTL).
pub const EMBEDDED_TTL: u32 = 600;

/// Where names come from.
pub enum Upstream {
    /// The embedded resolver of container `container_id`: ask the daemon, forward misses to
    /// the host's nameservers.
    Embedded { container_id: String, forwarders: Vec<Ipv4Addr> },
    /// A static zone.
    Zone(Vec<(String, Ipv4Addr)>),
}

pub struct DnsServer {
    bind: (Ipv4Addr, u16),
    upstream: Upstream,
    sock: Option<SockId>,
    forward_sock: Option<SockId>,
    /// Forwarded query id → (asker, asker's query id).
    in_flight: IndexMap<u16, ((Ipv4Addr, u16), u16)>,
}

impl DnsServer {
    pub fn new(bind: (Ipv4Addr, u16), upstream: Upstream) -> Self {
        DnsServer { bind, upstream, sock: None, forward_sock: None, in_flight: IndexMap::new() }
    }

    fn answer(&self, cx: &ProcCtx, name: &str) -> Option<Vec<Ipv4Addr>> {
        match &self.upstream {
            Upstream::Embedded { container_id, .. } => {
                cx.names.and_then(|n| n.lookup(container_id, name))
            }
            Upstream::Zone(zone) => {
                let ips: Vec<_> =
                    zone.iter().filter(|(n, _)| n == name).map(|(_, ip)| *ip).collect();
                Some(ips)
            }
        }
    }

    fn on_query(&mut self, cx: &mut ProcCtx, from: (Ipv4Addr, u16), q: DnsMessage) {
        let Some(question) = q.questions.first().cloned() else { return };
        match self.answer(cx, &question.name) {
            Some(ips) => self.reply(cx, from, &q, ips, question.qtype),
            None => self.forward(cx, from, q),
        }
    }

    fn reply(
        &self,
        cx: &mut ProcCtx,
        to: (Ipv4Addr, u16),
        q: &DnsMessage,
        ips: Vec<Ipv4Addr>,
        qtype: DnsType,
    ) {
        let name = q.questions[0].name.clone();
        let ttl = match self.upstream {
            Upstream::Embedded { .. } => EMBEDDED_TTL,
            Upstream::Zone(_) => 300,
        };
        let answers: Vec<DnsRecord> = if qtype == DnsType::A {
            ips.iter()
                .map(|ip| DnsRecord { name: name.clone(), ttl, data: DnsRecordData::A(*ip) })
                .collect()
        } else {
            Vec::new()
        };
        let rcode = if ips.is_empty() { Rcode::NxDomain } else { Rcode::NoError };
        let resp = DnsMessage {
            response: true,
            recursion_available: true,
            authoritative: matches!(self.upstream, Upstream::Zone(_)),
            rcode,
            answers,
            ..q.clone()
        };
        if let Some(sock) = self.sock {
            let _ = cx.udp_send(sock, to, UdpPayload::Dns(resp));
        }
    }

    fn forward(&mut self, cx: &mut ProcCtx, from: (Ipv4Addr, u16), q: DnsMessage) {
        let Upstream::Embedded { forwarders, .. } = &self.upstream else { return };
        let Some(server) = forwarders.first().copied() else {
            return self.reply(cx, from, &q, Vec::new(), DnsType::A);
        };
        if self.forward_sock.is_none() {
            self.forward_sock = cx.udp_bind(Ipv4Addr::UNSPECIFIED, 0).ok();
        }
        let Some(fsock) = self.forward_sock else { return };
        let id = cx.random(65536) as u16;
        self.in_flight.insert(id, (from, q.id));
        let _ = cx.udp_send(fsock, (server, 53), UdpPayload::Dns(DnsMessage { id, ..q }));
    }

    fn on_upstream_answer(&mut self, cx: &mut ProcCtx, resp: DnsMessage) {
        let Some((asker, id)) = self.in_flight.shift_remove(&resp.id) else { return };
        if let Some(sock) = self.sock {
            let _ = cx.udp_send(sock, asker, UdpPayload::Dns(DnsMessage { id, ..resp }));
        }
    }
}

impl Process for DnsServer {
    fn name(&self) -> &str {
        match self.upstream {
            Upstream::Embedded { .. } => "dockerd (embedded DNS)",
            Upstream::Zone(_) => "named",
        }
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        match cx.udp_bind(self.bind.0, self.bind.1) {
            Ok(s) => self.sock = Some(s),
            Err(_) => cx.exit(1),
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        let SocketEventKind::Datagram { from, payload: UdpPayload::Dns(msg) } = event.kind else {
            return;
        };
        if Some(event.sock) == self.forward_sock {
            self.on_upstream_answer(cx, msg);
        } else if !msg.response {
            self.on_query(cx, from, msg);
        }
    }
}

impl crate::kernel::process::NameService for crate::docker::Daemon {
    fn lookup(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        self.resolve(container_id, name)
    }
}
