//! DNS servers: Docker's embedded resolver (127.0.0.11 in each container on a user-defined
//! network, answering from the daemon's records and forwarding the rest), and a plain
//! authoritative server for the underlay's own names.
//!
//! The embedded server follows libnetwork's `resolver.go` as vendored in Engine 20.10:
//! - A for a name the daemon knows: every address, shuffled on each query, TTL 600, names
//!   written in full (miekg/dns packs the messages it builds without compression), RA set,
//!   RD copied, no OPT record even when the query had one (`SetReply` does not copy it).
//! - AAAA and MX for a known name: NOERROR without answers (the records are IPv4 only).
//! - Anything else, and unknown names: the query goes unchanged (same id, new socket) to
//!   the host's first nameserver, at most three in turn, each given 4 s. SERVFAIL, REFUSED,
//!   a non-authoritative NXDOMAIN or any other error moves on to the next; the last one's
//!   answer is relayed (compressed) if all refuse. A server that does not answer in time
//!   ends the forwarding without any reply to the asker (20.10's loop breaks when
//!   `ReadMsg` returns no message); so does a host without nameservers.
//!
//! Not modelled: PTR answers for container addresses (the `NameService` has no reverse
//! lookup, so PTR queries are forwarded), SRV, truncation of replies above 512 bytes.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::engine::SimDuration;
use crate::kernel::process::{NameService, ProcCtx, Process, ServiceListing};
use crate::kernel::{SockId, SocketEvent, SocketEventKind};
use crate::wire::{DnsMessage, DnsRecord, DnsRecordData, DnsType, Rcode, UdpPayload};

/// Docker's embedded DNS answers with TTL 600 (libnetwork `resolver.go` respTTL).
pub const EMBEDDED_TTL: u32 = 600;
/// `maxExtDNS`: the nameservers a miss is forwarded to, in order.
pub const MAX_FORWARDERS: usize = 3;
/// `extIOTimeout`: how long each forwarder has to answer.
pub const FORWARD_TIMEOUT: SimDuration = SimDuration::from_secs(4);

/// Where names come from.
pub enum Upstream {
    /// The embedded resolver of container `container_id`: ask the daemon, forward misses to
    /// the host's nameservers.
    Embedded { container_id: String, forwarders: Vec<Ipv4Addr> },
    /// A static zone.
    Zone(Vec<(String, Ipv4Addr)>),
}

/// A query being forwarded: who asked, what, and which forwarder has it now.
struct Forward {
    asker: (Ipv4Addr, u16),
    query: DnsMessage,
    server: usize,
}

pub struct DnsServer {
    bind: (Ipv4Addr, u16),
    upstream: Upstream,
    sock: Option<SockId>,
    /// One socket per forwarded try, as `net.DialTimeout` opens one per try.
    in_flight: IndexMap<SockId, Forward>,
}

/// What the embedded server does with a query before any forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalAnswer {
    Reply(DnsMessage),
    Forward,
}

/// The embedded server's own answer to `query` from container `container_id`, shuffling
/// several addresses with `random(n)` (a number below `n`) as `shuffleAddr` does.
pub fn embedded_answer(
    names: Option<&dyn NameService>,
    container_id: &str,
    query: &DnsMessage,
    random: &mut dyn FnMut(u64) -> u64,
) -> LocalAnswer {
    let Some(question) = query.questions.first() else { return LocalAnswer::Forward };
    let known =
        || names.and_then(|n| n.lookup(container_id, &question.name)).filter(|ips| !ips.is_empty());
    let answers = match question.qtype {
        DnsType::A => match known() {
            Some(mut ips) => {
                shuffle(&mut ips, random);
                ips.into_iter()
                    .map(|ip| DnsRecord {
                        name: question.name.clone(),
                        ttl: EMBEDDED_TTL,
                        data: DnsRecordData::A(ip),
                    })
                    .collect()
            }
            None => return LocalAnswer::Forward,
        },
        DnsType::Aaaa | DnsType::Other(MX) if known().is_some() => Vec::new(),
        _ => return LocalAnswer::Forward,
    };
    LocalAnswer::Reply(reply_to(query, answers, false))
}

const MX: u16 = 15;

/// `shuffleAddr`: Fisher–Yates from the end.
fn shuffle(ips: &mut [Ipv4Addr], random: &mut dyn FnMut(u64) -> u64) {
    for i in (1..ips.len()).rev() {
        let r = random(i as u64 + 1) as usize;
        ips.swap(i, r);
    }
}

/// miekg/dns `SetReply` plus `RecursionAvailable`: id, RD and question kept, no OPT.
fn reply_to(query: &DnsMessage, answers: Vec<DnsRecord>, authoritative: bool) -> DnsMessage {
    DnsMessage {
        response: true,
        recursion_available: true,
        authoritative,
        rcode: Rcode::NoError,
        answers,
        edns: None,
        compress: false,
        ..query.clone()
    }
}

/// Whether a forwarder's answer ends the forwarding (20.10 `ServeDNS`): success and an
/// authoritative NXDOMAIN do, every other rcode tries the next forwarder.
pub fn answer_is_final(resp: &DnsMessage) -> bool {
    match resp.rcode {
        Rcode::NoError => true,
        Rcode::NxDomain => resp.authoritative,
        _ => false,
    }
}

impl DnsServer {
    pub fn new(bind: (Ipv4Addr, u16), upstream: Upstream) -> Self {
        DnsServer { bind, upstream, sock: None, in_flight: IndexMap::new() }
    }

    fn on_query(&mut self, cx: &mut ProcCtx, from: (Ipv4Addr, u16), q: DnsMessage) {
        let answer = match &self.upstream {
            Upstream::Embedded { container_id, .. } => {
                let names = cx.names;
                embedded_answer(names, container_id, &q, &mut |n| cx.random(n))
            }
            Upstream::Zone(zone) => LocalAnswer::Reply(zone_answer(zone, &q)),
        };
        match answer {
            LocalAnswer::Reply(resp) => self.send(cx, from, resp),
            LocalAnswer::Forward => self.forward(cx, Forward { asker: from, query: q, server: 0 }),
        }
    }

    fn send(&self, cx: &mut ProcCtx, to: (Ipv4Addr, u16), resp: DnsMessage) {
        if let Some(sock) = self.sock {
            let _ = cx.udp_send(sock, to, UdpPayload::Dns(resp));
        }
    }

    /// Sends `f.query` to forwarder `f.server`; without one, the query is dropped.
    fn forward(&mut self, cx: &mut ProcCtx, f: Forward) {
        let Upstream::Embedded { forwarders, .. } = &self.upstream else { return };
        let Some(&server) = forwarders.iter().take(MAX_FORWARDERS).nth(f.server) else { return };
        let Ok(sock) = cx.udp_bind(Ipv4Addr::UNSPECIFIED, 0) else { return };
        if cx.udp_send(sock, (server, 53), UdpPayload::Dns(f.query.clone())).is_err() {
            cx.close(sock);
            return self.forward(cx, Forward { server: f.server + 1, ..f });
        }
        cx.set_timer(FORWARD_TIMEOUT, sock.0 as u64);
        self.in_flight.insert(sock, f);
    }

    fn on_upstream_answer(&mut self, cx: &mut ProcCtx, sock: SockId, resp: DnsMessage) {
        let Some(f) = self.in_flight.shift_remove(&sock) else { return };
        cx.close(sock);
        let Upstream::Embedded { forwarders, .. } = &self.upstream else { return };
        let last = f.server + 1 >= forwarders.len().min(MAX_FORWARDERS);
        if answer_is_final(&resp) || last {
            let resp = DnsMessage { compress: true, ..resp };
            return self.send(cx, f.asker, resp);
        }
        self.forward(cx, Forward { server: f.server + 1, ..f });
    }
}

/// The static zone's answer: authoritative, NXDOMAIN for names it does not hold.
fn zone_answer(zone: &[(String, Ipv4Addr)], q: &DnsMessage) -> DnsMessage {
    let Some(question) = q.questions.first() else { return reply_to(q, Vec::new(), true) };
    // Names compare without regard to case (RFC 4343).
    let named = |n: &&(String, Ipv4Addr)| n.0.eq_ignore_ascii_case(&question.name);
    let ips: Vec<_> = zone.iter().filter(named).map(|(_, ip)| *ip).collect();
    let answers = match question.qtype {
        DnsType::A => ips
            .iter()
            .map(|ip| DnsRecord {
                name: question.name.clone(),
                ttl: 300,
                data: DnsRecordData::A(*ip),
            })
            .collect(),
        _ => Vec::new(),
    };
    let rcode = if ips.is_empty() { Rcode::NxDomain } else { Rcode::NoError };
    DnsMessage { rcode, compress: true, ..reply_to(q, answers, true) }
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
        if self.in_flight.contains_key(&event.sock) {
            self.on_upstream_answer(cx, event.sock, msg);
        } else if Some(event.sock) == self.sock && !msg.response {
            self.on_query(cx, from, msg);
        }
    }

    /// A forwarder did not answer in time: 20.10 gives up without replying.
    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        let sock = self.in_flight.keys().copied().find(|s| s.0 as u64 == token);
        if let Some(sock) = sock {
            self.in_flight.shift_remove(&sock);
            cx.close(sock);
        }
    }
}

impl NameService for crate::docker::Daemon {
    fn lookup(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        self.resolve(container_id, name)
    }

    fn services(&self) -> Vec<ServiceListing> {
        let Some(store) = self.swarm_store() else { return Vec::new() };
        let listing = |s: &crate::docker::swarm::store::Service| ServiceListing {
            name: s.spec.name.clone(),
            labels: s.spec.labels.clone(),
            vips: (s.endpoint.iter().flat_map(|e| &e.virtual_ips))
                .filter_map(|v| {
                    Some((store.networks.get(&v.network_id)?.name.clone(), v.addr.addr()))
                })
                .collect(),
        };
        store.services.values().map(listing).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records as the daemon would hold them for a service with three tasks.
    struct FakeNames;

    impl NameService for FakeNames {
        fn lookup(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
            assert_eq!(container_id, "c1");
            match name {
                "web" => Some(vec![Ipv4Addr::new(10, 0, 0, 2)]),
                "tasks.web" => Some((3..6).map(|d| Ipv4Addr::new(10, 0, 0, d)).collect()),
                _ => None,
            }
        }
    }

    fn query(name: &str, qtype: DnsType) -> DnsMessage {
        DnsMessage::query(7, name, qtype)
    }

    fn answer(name: &str, qtype: DnsType, draws: &[u64]) -> LocalAnswer {
        let mut draws = draws.iter().copied();
        let mut random = |below: u64| {
            let r = draws.next().expect("enough draws");
            assert!(r < below);
            r
        };
        embedded_answer(Some(&FakeNames), "c1", &query(name, qtype), &mut random)
    }

    fn addresses(a: &LocalAnswer) -> Vec<String> {
        let LocalAnswer::Reply(m) = a else { panic!("forwarded") };
        m.answers
            .iter()
            .map(|r| match &r.data {
                DnsRecordData::A(ip) => format!("{} {} {ip}", r.name, r.ttl),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_task_address_shuffled_per_query() {
        // Draws 0 then 0: swap [2]<->[0], then [1]<->[0].
        assert_eq!(
            addresses(&answer("tasks.web", DnsType::A, &[0, 0])),
            ["tasks.web 600 10.0.0.4", "tasks.web 600 10.0.0.5", "tasks.web 600 10.0.0.3"]
        );
        assert_eq!(
            addresses(&answer("tasks.web", DnsType::A, &[2, 1])),
            ["tasks.web 600 10.0.0.3", "tasks.web 600 10.0.0.4", "tasks.web 600 10.0.0.5"]
        );
        // One address draws nothing.
        assert_eq!(addresses(&answer("web", DnsType::A, &[])), ["web 600 10.0.0.2"]);
    }

    #[test]
    fn replies_as_set_reply_builds_them() {
        let LocalAnswer::Reply(m) = answer("web", DnsType::A, &[]) else { panic!() };
        assert!(m.response && m.recursion_available && m.recursion_desired && !m.authoritative);
        assert_eq!((m.id, m.edns, m.compress), (7, None, false));
        assert_eq!(m.buffer_len(), 40);
    }

    #[test]
    fn known_names_have_no_ipv6_and_no_mx() {
        for qtype in [DnsType::Aaaa, DnsType::Other(MX)] {
            let LocalAnswer::Reply(m) = answer("web", qtype, &[]) else { panic!("{qtype:?}") };
            assert_eq!((m.rcode, m.answers.len()), (Rcode::NoError, 0));
        }
        assert_eq!(answer("nosuch", DnsType::Aaaa, &[]), LocalAnswer::Forward);
        assert_eq!(answer("nosuch", DnsType::A, &[]), LocalAnswer::Forward);
        assert_eq!(answer("web", DnsType::Other(16), &[]), LocalAnswer::Forward);
        assert_eq!(answer("2.0.0.10.in-addr.arpa", DnsType::Ptr, &[]), LocalAnswer::Forward);
    }

    #[test]
    fn zone_names_match_in_any_case() {
        let zone = [("host-B".to_string(), Ipv4Addr::new(10, 0, 2, 16))];
        let reply = zone_answer(&zone, &query("HOST-b", DnsType::A));
        assert_eq!(reply.rcode, Rcode::NoError);
        assert_eq!(reply.answers[0].data, DnsRecordData::A(Ipv4Addr::new(10, 0, 2, 16)));
        assert_eq!(zone_answer(&zone, &query("host-c", DnsType::A)).rcode, Rcode::NxDomain);
    }

    #[test]
    fn which_forwarder_answers_end_the_forwarding() {
        let resp = |rcode, authoritative| DnsMessage {
            response: true,
            rcode,
            authoritative,
            ..query("x", DnsType::A)
        };
        assert!(answer_is_final(&resp(Rcode::NoError, false)));
        assert!(answer_is_final(&resp(Rcode::NxDomain, true)));
        assert!(!answer_is_final(&resp(Rcode::NxDomain, false)));
        assert!(!answer_is_final(&resp(Rcode::ServFail, true)));
        assert!(!answer_is_final(&resp(Rcode::Refused, false)));
    }
}
