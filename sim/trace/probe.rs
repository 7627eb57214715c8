//! Injecting the probe into the world the scenario left: a temporary client if need be,
//! the id its first packet will have in the world's hops, a probing process, and the run until it is
//! answered, refused, or its time is up.

use std::net::Ipv4Addr;

use crate::engine::{world_packet_id, LimitExceeded, SimDuration, SimTime, Streams, World};
use crate::kernel::process::{ProcCtx, Process, ResolvConf};
use crate::kernel::{NsRef, SocketEvent, SocketEventKind};
use crate::scenario::Scenario;
use crate::wire::UdpPayload;

use super::resolve::{Origin, Target};
use super::Proto;

/// How long the probe waits for an answer: past ARP's three tries (3 s), as a person
/// would wait before calling it lost.
const BUDGET: SimDuration = SimDuration::from_secs(4);
/// After the answer, how long the world runs on so the last segment (the ACK) lands.
const SETTLE: SimDuration = SimDuration::from_secs(1);

/// What the probe process saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Heard {
    /// A SYN-ACK, an echo reply, or a datagram back.
    Answer,
    /// A RST or an ICMP error.
    Refused,
    /// The source cannot even send: no route (`connect: Network is unreachable`).
    Unsendable,
    Nothing,
}

/// The injected probe: where it ran, the first packet's id, when it started, what it heard.
pub(super) struct Injected {
    pub machine: usize,
    pub ns: NsRef,
    pub first_packet: u64,
    pub start: SimTime,
    pub hops_from: usize,
    pub heard: Heard,
}

/// Places the source, sends the probe, and runs the world until it is answered (plus a
/// settling second) or the budget runs out.
pub(super) fn inject(
    world: &mut World,
    scenario: &Scenario,
    seed: u64,
    origin: &Origin,
    target: &Target,
    proto: Proto,
    resolv: ResolvConf,
) -> Result<Injected, LimitExceeded> {
    let (machine, ns) = match origin {
        Origin::At { machine, ns, .. } => (*machine, ns.clone()),
        Origin::Client { net, ip } => (add_client(world, scenario, seed, *net, *ip), NsRef::Root),
    };
    let first_packet = world_packet_id(machine, world.machines[machine].kernel.next_packet_id());
    let (start, hops_from) = (world.now(), world.hops.len());
    let prober = Prober { dst: target.ip, port: target.port, proto };
    let pid = world.spawn(machine, ns.clone(), Box::new(prober), resolv, None);
    world.run_until_exit(machine, pid, BUDGET)?;
    let slot = world.kill(machine, pid).expect("spawned above");
    let heard = match slot.exit {
        Some(0) => Heard::Answer,
        Some(1) => Heard::Refused,
        Some(_) => Heard::Unsendable,
        None => Heard::Nothing,
    };
    world.run_until(world.now() + SETTLE)?;
    Ok(Injected { machine, ns, first_packet, start, hops_from, heard })
}

/// A temporary machine at `ip` on underlay network `net`, with the LAN's gateway.
fn add_client(
    world: &mut World,
    scenario: &Scenario,
    seed: u64,
    net: usize,
    ip: Ipv4Addr,
) -> usize {
    let n = &scenario.networks[net];
    let segment = world.fabric.segment_index(&n.name).expect("every underlay LAN has a segment");
    let streams = Streams::new(seed);
    let nic = (segment, ip, n.subnet, n.gateway);
    crate::runner::add_machine(world, &streams, &ip.to_string(), nic, SimDuration::ZERO)
}

/// Sends one probe and exits 0 when answered, 1 when refused, 2 when it could not send.
struct Prober {
    dst: Ipv4Addr,
    port: Option<u16>,
    proto: Proto,
}

impl Process for Prober {
    fn name(&self) -> &str {
        "trace"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        let port = self.port.unwrap_or(0);
        let sent = match self.proto {
            Proto::Icmp => {
                let ident = cx.random(65536) as u16;
                let s = cx.ping_open(ident);
                cx.ping_send(s, self.dst, 1, 56).map(|_| ())
            }
            Proto::Tcp => cx.tcp_connect((self.dst, port)).map(|_| ()),
            Proto::Udp => cx
                .udp_bind(Ipv4Addr::UNSPECIFIED, 0)
                .and_then(|s| cx.udp_send(s, (self.dst, port), UdpPayload::Raw(b"probe".to_vec())))
                .map(|_| ()),
        };
        if sent.is_err() {
            cx.exit(2);
        }
    }

    /// Exits at the first answer without closing: the trace shows the handshake only.
    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::EchoReply { .. }
            | SocketEventKind::Connected
            | SocketEventKind::Datagram { .. } => cx.exit(0),
            SocketEventKind::Refused => cx.exit(1),
            _ => {}
        }
    }
}
