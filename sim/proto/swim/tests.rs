//! Unit tests of the member's mechanisms, each driving one member by hand against a scripted
//! world (peers that answer or stay silent), so that every timer is checked to the
//! nanosecond; and a few whole-cluster runs on [`cluster::Cluster`].

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::cluster::{self, Cluster};
use super::*;
use crate::engine::Streams;

type M = Member<NoDelegate>;
type Msg = Message<Vec<u8>>;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

fn sock(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(cluster::addr(i), PORT)
}

/// Member m0 of an `n`-member converged cluster, started at time 0.
fn member(n: usize, seed: u64) -> M {
    let peers: Vec<(String, Ipv4Addr)> =
        (0..n).map(|i| (cluster::name(i), cluster::addr(i))).collect();
    let config = Config::docker("m0", cluster::addr(0));
    Member::converged(config, SimTime::ZERO, Streams::new(seed).stream("m0"), NoDelegate, &peers)
}

/// The world around m0: peers in `silent` never answer; the others ack pings after 1 ms,
/// and answer indirect pings after 2 ms (ack) or, for a silent target, a nack after the
/// 500 ms probe timeout. `udp_deaf` peers answer TCP pings only.
struct World {
    m: M,
    silent: Vec<usize>,
    udp_deaf: Vec<usize>,
    inbox: BTreeMap<(SimTime, u64), (SocketAddrV4, Transport, Msg)>,
    seq: u64,
    /// Everything m0 sent or reported, with the time.
    log: Vec<(SimTime, Output<Vec<u8>>)>,
}

impl World {
    fn new(m: M, silent: &[usize]) -> Self {
        World {
            m,
            silent: silent.to_vec(),
            udp_deaf: Vec::new(),
            inbox: BTreeMap::new(),
            seq: 0,
            log: Vec::new(),
        }
    }

    fn inject(&mut self, at: SimTime, from: usize, transport: Transport, msg: Msg) {
        self.seq += 1;
        self.inbox.insert((at, self.seq), (sock(from), transport, msg));
    }

    fn idx(a: SocketAddrV4) -> usize {
        (u32::from(*a.ip()) - u32::from(Ipv4Addr::new(10, 0, 0, 0)) - 1) as usize
    }

    fn answer(&mut self, now: SimTime, t: &Transmit<Vec<u8>>) {
        let peer = Self::idx(t.to);
        if self.silent.contains(&peer) {
            return;
        }
        let parts = match &t.msg {
            Message::Compound(p) => p.clone(),
            m => vec![m.clone()],
        };
        for part in parts {
            match part {
                Message::Ping(p)
                    if !(t.transport == Transport::Udp && self.udp_deaf.contains(&peer)) =>
                {
                    let ack = Message::Ack { seq: p.seq };
                    self.inject(now + SimDuration::from_millis(1), peer, t.transport, ack);
                }
                Message::IndirectPing(ind) => {
                    let target = Self::idx(ind.target);
                    if self.silent.contains(&target) {
                        let at = now + SimDuration::from_millis(501);
                        self.inject(at, peer, Transport::Udp, Message::Nack { seq: ind.seq });
                    } else {
                        let at = now + SimDuration::from_millis(2);
                        self.inject(at, peer, Transport::Udp, Message::Ack { seq: ind.seq });
                    }
                }
                _ => {}
            }
        }
    }

    fn run_until(&mut self, until: SimTime) {
        loop {
            let timer = self.m.poll_timeout();
            let msg = self.inbox.first_key_value().map(|(k, _)| k.0);
            let now = msg.map_or(timer, |m| m.min(timer));
            if now > until {
                return;
            }
            let mut out = Vec::new();
            if msg.is_some_and(|m| m <= timer) {
                let (_, (from, transport, msg)) = self.inbox.pop_first().expect("peeked");
                self.m.handle_packet(now, from, transport, msg, &mut out);
            } else {
                self.m.handle_timeout(now, &mut out);
            }
            for o in out {
                if let Output::Send(t) = &o {
                    self.answer(now, t);
                }
                self.log.push((now, o));
            }
        }
    }

    /// When m0 first sent `pred`-matching message to peer `to`.
    fn first_send(&self, to: usize, pred: impl Fn(&Msg) -> bool) -> Option<SimTime> {
        self.log.iter().find_map(|(t, o)| match o {
            Output::Send(tx) if tx.to == sock(to) && pred(&tx.msg) => Some(*t),
            _ => None,
        })
    }

    fn leave_event(&self, name: &str) -> Option<SimTime> {
        self.log.iter().find_map(|(t, o)| match o {
            Output::Event(Event::Leave(n)) if n.name == name => Some(*t),
            _ => None,
        })
    }
}

fn is_ping(m: &Msg) -> bool {
    match m {
        Message::Ping(_) => true,
        Message::Compound(p) => matches!(p.first(), Some(Message::Ping(_))),
        _ => false,
    }
}

/// Runs until m0 has suspected `name`; the time it did.
fn suspected_at(w: &mut World, name: &str) -> SimTime {
    let mut t = SimTime::ZERO;
    while w.m.state_of(name) != Some(State::Suspect) {
        t += SimDuration::from_millis(1);
        assert!(t < SimTime(60 * S), "{name} never suspected");
        w.run_until(t);
    }
    t
}

#[test]
fn crashed_member_among_5_is_suspected_after_the_probe_and_dead_after_24s() {
    let mut w = World::new(member(5, 1), &[3]);
    let suspect = suspected_at(&mut w, "m3");
    let ping = w.first_send(3, is_ping).expect("pinged m3");
    // Direct ping, 500 ms later the indirect pings and the TCP fallback, suspicion at the
    // end of the 1 s probe interval.
    assert_eq!(suspect, ping + SimDuration::from_secs(1));
    let indirect = w
        .log
        .iter()
        .filter(|(t, o)| {
            *t == ping + SimDuration::from_millis(500)
                && matches!(o, Output::Send(tx) if matches!(&tx.msg, Message::IndirectPing(i) if i.node == "m3")
                    || (tx.transport == Transport::Tcp && tx.to == sock(3)))
        })
        .count();
    assert_eq!(indirect, 3 + 1, "three helpers and one TCP ping");
    // The helpers' nacks leave them 500 ms after the indirect pings, so they arrive just
    // after the 1 s probe interval ends and count as missing (memberlist does the same
    // with its LAN defaults): three points of health lost.
    assert_eq!(w.m.health_score(), 3);
    // n = 5: k = 2 confirmations expected, none came: the maximum, 6 × 4 s.
    w.run_until(suspect + SimDuration::from_secs(30));
    assert_eq!(w.leave_event("m3"), Some(suspect + SimDuration::from_secs(24)));
    assert_eq!(w.m.state_of("m3"), Some(State::Dead));
}

#[test]
fn confirmations_from_distinct_members_shorten_the_timeout() {
    let mut w = World::new(member(5, 1), &[3]);
    let s = suspected_at(&mut w, "m3");
    let confirm = |from: &str| {
        Message::Suspect(Suspect { incarnation: 1, node: "m3".into(), from: from.into() })
    };
    w.inject(s + SimDuration::from_secs(1), 1, Transport::Udp, confirm("m1"));
    w.inject(s + SimDuration::from_secs(1), 1, Transport::Udp, confirm("m1"));
    w.run_until(s + SimDuration::from_secs(2));
    // One confirmation: 24 − log(2)/log(3) × 20 = 11.381 s after the suspicion.
    w.run_until(s + SimDuration::from_millis(11_380));
    assert_eq!(w.m.state_of("m3"), Some(State::Suspect));
    w.run_until(s + SimDuration::from_millis(11_381));
    assert_eq!(w.leave_event("m3"), Some(s + SimDuration::from_millis(11_381)));

    let mut w = World::new(member(5, 1), &[3]);
    let s = suspected_at(&mut w, "m3");
    w.inject(s + SimDuration::from_secs(1), 1, Transport::Udp, confirm("m1"));
    w.inject(s + SimDuration::from_secs(5), 2, Transport::Udp, confirm("m2"));
    w.run_until(s + SimDuration::from_secs(30));
    // The second confirmation reaches k: the minimum, 4 s, has passed, so dead at once.
    assert_eq!(w.leave_event("m3"), Some(s + SimDuration::from_secs(5)));
}

#[test]
fn fewer_than_4_members_expect_no_confirmations() {
    let mut w = World::new(member(3, 2), &[2]);
    let s = suspected_at(&mut w, "m2");
    w.run_until(s + SimDuration::from_secs(10));
    assert_eq!(w.leave_event("m2"), Some(s + SimDuration::from_secs(4)));
}

#[test]
fn a_suspected_member_refutes_with_a_higher_incarnation() {
    let mut w = World::new(member(5, 3), &[]);
    let accuse = Suspect { incarnation: 1, node: "m0".into(), from: "m1".into() };
    w.inject(SimTime(10 * MS), 1, Transport::Udp, Message::Suspect(accuse));
    w.run_until(SimTime(10 * MS));
    assert_eq!(w.m.incarnation(), 2);
    assert_eq!(w.m.state_of("m0"), Some(State::Alive));
    assert_eq!(w.m.health_score(), 1, "refuting costs a point of health");
    w.run_until(SimTime(300 * MS));
    let refuted = w.log.iter().any(|(_, o)| {
        let alive =
            |m: &Msg| matches!(m, Message::Alive(a) if a.node == "m0" && a.incarnation == 2);
        matches!(o, Output::Send(tx) if alive(&tx.msg)
            || matches!(&tx.msg, Message::Compound(p) if p.iter().any(alive)))
    });
    assert!(refuted, "the alive message is gossiped");
    let dead = Dead { incarnation: 5, node: "m0".into(), from: "m1".into() };
    w.inject(SimTime(400 * MS), 1, Transport::Udp, Message::Dead(dead));
    w.run_until(SimTime(400 * MS));
    assert_eq!(w.m.incarnation(), 6);
}

#[test]
fn a_suspect_is_pinged_with_its_suspicion_attached() {
    let mut w = World::new(member(5, 4), &[]);
    let s = Suspect { incarnation: 1, node: "m2".into(), from: "m1".into() };
    w.inject(SimTime(1), 1, Transport::Udp, Message::Suspect(s));
    w.run_until(SimTime(5 * S));
    let buddy = w.log.iter().find_map(|(_, o)| match o {
        Output::Send(tx) if tx.to == sock(2) && is_ping(&tx.msg) => Some(tx.msg.clone()),
        _ => None,
    });
    let Some(Message::Compound(parts)) = buddy else { panic!("no compound ping: {buddy:?}") };
    assert!(matches!(&parts[0], Message::Ping(p) if p.node == "m2"));
    assert_eq!(
        parts[1],
        Message::Suspect(Suspect { incarnation: 1, node: "m2".into(), from: "m0".into() })
    );
    assert_eq!(w.m.state_of("m2"), Some(State::Suspect), "an ack does not clear a suspicion");
}

#[test]
fn failed_probes_without_nacks_raise_the_health_score_and_stretch_the_interval() {
    // Everyone is silent: the first probe gets no ack and no nack from its three helpers.
    let mut w = World::new(member(5, 5), &[1, 2, 3, 4]);
    w.run_until(SimTime(2 * S));
    assert_eq!(w.m.health_score(), 3);
    let first = w.log.iter().find_map(|(t, o)| match o {
        Output::Send(tx) if is_ping(&tx.msg) && tx.transport == Transport::Udp => Some(*t),
        _ => None,
    });
    assert_eq!(first, Some(SimTime(S)));
    // The next probe starts on the 2 s tick and, scaled by 3 + 1, ends 4 s later.
    let suspects = |w: &World| w.m.nodes().filter(|n| n.state == State::Suspect).count();
    w.run_until(SimTime(6 * S - 1));
    assert_eq!(suspects(&w), 1);
    w.run_until(SimTime(6 * S));
    assert_eq!(suspects(&w), 2);
}

#[test]
fn a_tcp_answer_saves_a_member_whose_udp_is_lost() {
    let mut w = World::new(member(4, 6), &[]);
    w.udp_deaf = vec![1];
    w.run_until(SimTime(10 * S));
    assert_eq!(w.m.state_of("m1"), Some(State::Alive));
    assert!(w.first_send(1, |m| matches!(m, Message::Ping(_))).is_some());
}

#[test]
fn an_indirect_ping_is_relayed_or_nacked() {
    let mut w = World::new(member(4, 7), &[3]);
    let ind = |seq| IndirectPing {
        seq,
        target: sock(2),
        node: "m2".into(),
        nack: true,
        source_addr: sock(1),
        source_node: "m1".into(),
    };
    w.inject(SimTime(100 * MS), 1, Transport::Udp, Message::IndirectPing(ind(77)));
    w.run_until(SimTime(200 * MS));
    let acked = w.log.iter().any(|(t, o)| {
        *t == SimTime(101 * MS)
            && matches!(o, Output::Send(tx) if tx.to == sock(1) && matches!(&tx.msg, Message::Ack { seq: 77 }))
    });
    assert!(acked, "m2's ack is forwarded with the requester's sequence number");
    let mut ind3 = ind(78);
    ind3.target = sock(3);
    ind3.node = "m3".into();
    w.inject(SimTime(300 * MS), 1, Transport::Udp, Message::IndirectPing(ind3));
    w.run_until(SimTime(900 * MS));
    let nack_at = w.first_send(1, |m| matches!(m, Message::Nack { seq: 78 }));
    assert_eq!(nack_at, Some(SimTime(800 * MS)));
}

#[test]
fn broadcasts_are_sent_retransmit_limit_times() {
    let mut w = World::new(member(5, 8), &[]);
    let s = Suspect { incarnation: 1, node: "m2".into(), from: "m1".into() };
    w.inject(SimTime(1), 1, Transport::Udp, Message::Suspect(s));
    w.run_until(SimTime(3 * S));
    let carried = |m: &Msg| matches!(m, Message::Suspect(s) if s.node == "m2" && s.from == "m1");
    let sent = w
        .log
        .iter()
        .filter(|(_, o)| match o {
            Output::Send(tx) => {
                carried(&tx.msg) || matches!(&tx.msg, Message::Compound(p) if p.iter().any(carried))
            }
            Output::Event(_) => false,
        })
        .count();
    assert_eq!(sent as u32, retransmit_limit(4, 5));
    assert_eq!(w.m.queued_broadcasts(), 0);
}

#[test]
fn message_sizes_follow_memberlist_msgpack() {
    let name = "0123456789ab";
    let ping: Msg = Message::Ping(Ping {
        seq: 1,
        node: name.into(),
        source_addr: sock(0),
        source_node: name.into(),
    });
    // type 1 + fixmap 1 + SeqNo 6+1 + Node 5+13 + SourceAddr 11+5 + SourcePort 11+3
    // + SourceNode 11+13.
    assert_eq!(ping.size_bytes(), 81);
    let alive: Msg =
        Message::Alive(Alive { incarnation: 1, node: name.into(), addr: sock(0), meta: vec![] });
    // type 1 + map 1 + Incarnation 12+1 + Node 5+13 + Addr 5+5 + Port 5+3 + Meta 5+1 + Vsn 4+7.
    assert_eq!(alive.size_bytes(), 68);
    let compound: Msg = Message::Compound(vec![ping.clone(), alive.clone()]);
    assert_eq!(compound.size_bytes(), 2 + 2 * 2 + 81 + 68);
    let tx = Transmit { to: sock(1), transport: Transport::Udp, msg: ping };
    assert_eq!(tx.wire_bytes(false), 81 + 5);
    assert_eq!(tx.wire_bytes(true), 81 + 5 + 29);
}

#[test]
fn members_join_through_a_seed_and_see_each_other() {
    let mut c = Cluster::joining(6, Streams::new(9).stream("join"), delay());
    c.run_until(SimTime(10 * S), |_, _| false);
    for i in 0..6 {
        let alive = c.member(i).nodes().filter(|n| n.state == State::Alive).count();
        assert_eq!(alive, 6, "m{i} sees everyone alive");
    }
    let joins = c.events().iter().filter(|(_, i, e)| *i == 5 && matches!(e, Event::Join(_)));
    assert_eq!(joins.count(), 6, "m5 was told of every member, itself included");
}

fn delay() -> (SimDuration, SimDuration) {
    (SimDuration::from_micros(100), SimDuration::from_micros(500))
}

#[test]
fn a_member_that_leaves_is_left_not_dead() {
    let mut c = Cluster::converged(5, Streams::new(10).stream("leave"), delay());
    c.run_until(SimTime(5 * S), |_, _| false);
    c.leave(4);
    c.run_until(SimTime(6 * S), |_, _| false);
    c.crash(4);
    c.run_until(SimTime(25 * S), |_, _| false);
    for i in 0..4 {
        assert_eq!(c.member(i).state_of("m4"), Some(State::Left), "m{i}");
    }
}

#[test]
fn a_crash_is_detected_by_every_member() {
    let mut c = Cluster::converged(8, Streams::new(11).stream("crash"), delay());
    c.run_until(SimTime(5 * S), |_, _| false);
    c.crash(7);
    c.run_until(SimTime(25 * S), |_, _| false);
    for i in 0..7 {
        assert_eq!(c.member(i).state_of("m7"), Some(State::Dead), "m{i}");
        assert_eq!(c.member(i).live_members().count(), 7);
    }
    // 30 s after its death (GossipToTheDeadTime) a member forgets it at its next wrap-around.
    c.run_until(SimTime(120 * S), |_, _| false);
    assert!((0..7).all(|i| c.member(i).state_of("m7").is_none()));
    let leaves =
        c.events().iter().filter(|(_, _, e)| matches!(e, Event::Leave(n) if n.name == "m7"));
    assert_eq!(leaves.count(), 7, "one Leave event per live member");
}

#[test]
fn a_healed_split_stays_split_until_someone_rejoins() {
    let mut c = Cluster::converged(6, Streams::new(12).stream("pp"), delay());
    c.set_groups(vec![0, 0, 0, 1, 1, 1]);
    c.run_until(SimTime(20 * S), |_, _| false);
    assert_eq!(c.member(0).state_of("m4"), Some(State::Dead));
    c.set_groups(vec![0; 6]);
    // Each side thinks the other dead: nobody probes, gossips (once the news is out) or
    // push-pulls with a dead node, so memberlist alone never merges the halves.
    c.run_until(SimTime(200 * S), |_, _| false);
    assert!((0..6).all(|i| c.member(i).live_members().count() == 3));
    // networkdb's reconnectNode: a join with a failed node, answered with its full state.
    c.join(0, 4);
    c.run_until(SimTime(210 * S), |_, _| false);
    for i in 0..6 {
        assert_eq!(c.member(i).live_members().count(), 6, "m{i} after the rejoin");
    }
}

/// m0 of an `n`-member converged cluster with the given Lifeguard switches.
fn member_with(n: usize, seed: u64, lifeguard: Lifeguard) -> M {
    let peers: Vec<(String, Ipv4Addr)> =
        (0..n).map(|i| (cluster::name(i), cluster::addr(i))).collect();
    let config = Config { lifeguard, ..Config::docker("m0", cluster::addr(0)) };
    Member::converged(config, SimTime::ZERO, Streams::new(seed).stream("m0"), NoDelegate, &peers)
}

#[test]
fn docker_runs_every_lifeguard_mechanism() {
    assert_eq!(Config::docker("m0", cluster::addr(0)).lifeguard, Lifeguard::ALL);
}

#[test]
fn without_aware_probe_failed_probes_do_not_stretch_the_interval() {
    let off = Lifeguard { aware_probe: false, ..Lifeguard::ALL };
    let mut w = World::new(member_with(5, 5, off), &[1, 2, 3, 4]);
    w.run_until(SimTime(2 * S));
    assert_eq!(w.m.health_score(), 0, "no score kept");
    // The second probe starts on the 2 s tick and ends 1 s later, not 4 s.
    let suspects = |w: &World| w.m.nodes().filter(|n| n.state == State::Suspect).count();
    w.run_until(SimTime(3 * S - 1));
    assert_eq!(suspects(&w), 1);
    w.run_until(SimTime(3 * S));
    assert_eq!(suspects(&w), 2);
}

#[test]
fn without_aware_suspicion_the_timeout_is_the_fixed_minimum() {
    let off = Lifeguard { aware_suspicion: false, ..Lifeguard::ALL };
    let mut w = World::new(member_with(5, 1, off), &[3]);
    let s = suspected_at(&mut w, "m3");
    let confirm = Suspect { incarnation: 1, node: "m3".into(), from: "m1".into() };
    w.inject(s + SimDuration::from_secs(1), 1, Transport::Udp, Message::Suspect(confirm));
    w.run_until(s + SimDuration::from_secs(1));
    let regossiped = w.log.iter().any(|(_, o)| {
        let c = |m: &Msg| matches!(m, Message::Suspect(x) if x.from == "m1");
        matches!(o, Output::Send(tx) if c(&tx.msg)
            || matches!(&tx.msg, Message::Compound(p) if p.iter().any(c)))
    });
    w.run_until(s + SimDuration::from_secs(30));
    assert!(!regossiped, "a confirmation is not passed on");
    // SuspicionMult × max(1, log10 5) × 1 s = 4 s, where Lifeguard would wait 24 s.
    assert_eq!(w.leave_event("m3"), Some(s + SimDuration::from_secs(4)));
}

#[test]
fn without_the_buddy_system_a_suspect_gets_a_plain_ping() {
    let off = Lifeguard { buddy: false, ..Lifeguard::ALL };
    let mut w = World::new(member_with(5, 4, off), &[]);
    let s = Suspect { incarnation: 1, node: "m2".into(), from: "m1".into() };
    w.inject(SimTime(1), 1, Transport::Udp, Message::Suspect(s));
    w.run_until(SimTime(5 * S));
    let pings: Vec<&Msg> = w
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Send(tx) if tx.to == sock(2) && is_ping(&tx.msg) => Some(&tx.msg),
            _ => None,
        })
        .collect();
    assert!(!pings.is_empty(), "m2 was probed");
    for p in pings {
        let from_m0 = |m: &Msg| matches!(m, Message::Suspect(x) if x.from == "m0");
        let parts = match p {
            Message::Compound(parts) => parts.clone(),
            m => vec![m.clone()],
        };
        assert!(!parts.iter().any(from_m0), "no suspicion of m0's own attached: {p:?}");
    }
}

#[test]
fn a_slow_member_is_suspected_and_refutes_more_than_healthy_ones() {
    let mut c = Cluster::converged(8, Streams::new(13).stream("slow"), delay());
    c.set_slow(3, SimDuration::from_millis(1500));
    assert!(c.is_slow(3) && !c.is_slow(2));
    c.run_until(SimTime(60 * S), |_, _| false);
    // Its acks often come after the 1 s probe interval: it is suspected, and refutes, far
    // more often than the healthy members, which only it suspects (its acks come late).
    let healthy = (0..8).filter(|&i| i != 3).map(|i| c.member(i).incarnation()).max();
    assert!(c.member(3).incarnation() > 3 * healthy.expect("healthy members"));
    c.set_slow(3, SimDuration::ZERO);
    assert!(!c.is_slow(3));
}
