//! A deterministic in-memory network of [`Member`]s, for tests and experiments: one-way
//! delays drawn uniformly from a range, UDP loss as an integer percentage, partitions into
//! groups, crashes. TCP is reliable but, like UDP, cannot cross a partition or reach a
//! crashed member. Events run in (time, sequence) order; all randomness comes from the
//! stream handed in, so a seed replays a run exactly.
//!
//! Member `i` is named `m{i}` at 10.0.0.0 + i + 1, port 7946. The cluster counts every
//! packet and stream message each member sends (and its bytes on the wire) for load
//! measurements.
//!
//! A *slow* member ([`Cluster::set_slow`]) models a CPU-starved process, as the Lifeguard
//! paper's evaluation does: its timers fire on time (Go's timer goroutine is cheap), but every
//! packet and stream message it receives is handled late — at its arrival plus a lag drawn
//! uniformly from [0, `max_lag`], and never before the message it received previously (its
//! receive loop works in order). Its answers leave when it handles what they answer, so they
//! are late too; what its timers send (probes, gossip, push-pulls) is not.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use super::{Config, Event, Member, Message, NoDelegate, Output, Transport};
use crate::engine::{RngStream, SimDuration, SimTime};

type Msg = Message<Vec<u8>>;

/// Per-member send counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    pub udp_packets: u64,
    pub udp_bytes: u64,
    pub tcp_messages: u64,
    pub tcp_bytes: u64,
}

pub struct Cluster {
    members: Vec<Member<NoDelegate>>,
    up: Vec<bool>,
    group: Vec<u8>,
    /// Each up member's next deadline, as (time, index).
    timers: BTreeSet<(SimTime, usize)>,
    deadline: Vec<SimTime>,
    wire: BTreeMap<(SimTime, u64), (usize, SocketAddrV4, Transport, Msg)>,
    seq: u64,
    rng: RngStream,
    now: SimTime,
    delay: (SimDuration, SimDuration),
    udp_loss_pct: u64,
    /// Per member: the largest extra handling lag, and when it last handled a message.
    slow: Vec<(SimDuration, SimTime)>,
    load: Vec<Load>,
    events: Vec<(SimTime, usize, Event)>,
}

/// Member `i`'s name and address.
pub fn name(i: usize) -> String {
    format!("m{i}")
}

pub fn addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + i as u32 + 1)
}

fn index_of(a: SocketAddrV4) -> usize {
    (u32::from(*a.ip()) - u32::from(Ipv4Addr::new(10, 0, 0, 0)) - 1) as usize
}

impl Cluster {
    /// `n` members that already know each other ([`Member::converged`]), each started at a
    /// random moment of the first probe interval.
    pub fn converged(n: usize, rng: RngStream, delay: (SimDuration, SimDuration)) -> Self {
        Self::converged_with(n, rng, delay, |c| c)
    }

    /// [`Cluster::converged`] with each member's [`Config::docker`] passed through `configure`.
    pub fn converged_with(
        n: usize,
        mut rng: RngStream,
        delay: (SimDuration, SimDuration),
        configure: impl Fn(Config) -> Config,
    ) -> Self {
        let peers: Vec<(String, Ipv4Addr)> = (0..n).map(|i| (name(i), addr(i))).collect();
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            let start = SimTime(rng.range_u64(0, SimDuration::from_secs(1).as_nanos()));
            let config = configure(Config::docker(&name(i), addr(i)));
            members.push(Member::converged(config, start, rng.fork(), NoDelegate, &peers));
        }
        Self::with_members(members, rng, delay)
    }

    /// `n` fresh members, each started at a random moment of the first second and joining
    /// member 0 at once (as `docker swarm join` makes networkdb join a manager).
    pub fn joining(n: usize, mut rng: RngStream, delay: (SimDuration, SimDuration)) -> Self {
        let mut members = Vec::with_capacity(n);
        let mut first = Vec::new();
        for i in 0..n {
            let start = SimTime(rng.range_u64(0, SimDuration::from_secs(1).as_nanos()));
            let mut out = Vec::new();
            let config = Config::docker(&name(i), addr(i));
            let mut m = Member::new(config, start, rng.fork(), NoDelegate, &mut out);
            if i > 0 {
                m.join(SocketAddrV4::new(addr(0), super::PORT), &mut out);
            }
            members.push(m);
            first.push((start, out));
        }
        let mut c = Self::with_members(members, rng, delay);
        for (i, (start, out)) in first.into_iter().enumerate() {
            c.now = start;
            c.flush(i, out);
        }
        c.now = SimTime::ZERO;
        c
    }

    fn with_members(
        members: Vec<Member<NoDelegate>>,
        rng: RngStream,
        delay: (SimDuration, SimDuration),
    ) -> Self {
        assert!(delay.0 <= delay.1, "delay range");
        let n = members.len();
        let deadline: Vec<SimTime> = members.iter().map(Member::poll_timeout).collect();
        let timers = deadline.iter().enumerate().map(|(i, &t)| (t, i)).collect();
        Cluster {
            members,
            up: vec![true; n],
            group: vec![0; n],
            timers,
            deadline,
            wire: BTreeMap::new(),
            seq: 0,
            rng,
            now: SimTime::ZERO,
            delay,
            udp_loss_pct: 0,
            slow: vec![(SimDuration::ZERO, SimTime::ZERO); n],
            load: vec![Load::default(); n],
            events: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn member(&self, i: usize) -> &Member<NoDelegate> {
        &self.members[i]
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.up[i]
    }

    pub fn set_udp_loss_pct(&mut self, pct: u64) {
        assert!(pct <= 100);
        self.udp_loss_pct = pct;
    }

    /// Member `i` handles what it receives up to `max_lag` late (see the module doc); zero
    /// makes it healthy again.
    pub fn set_slow(&mut self, i: usize, max_lag: SimDuration) {
        self.slow[i].0 = max_lag;
    }

    pub fn is_slow(&self, i: usize) -> bool {
        self.slow[i].0 > SimDuration::ZERO
    }

    /// Members in different groups cannot reach each other; all in group 0 heals.
    pub fn set_groups(&mut self, group: Vec<u8>) {
        assert_eq!(group.len(), self.members.len());
        self.group = group;
    }

    /// The member stops: no timers, and what is sent to it is lost.
    pub fn crash(&mut self, i: usize) {
        self.up[i] = false;
        self.timers.remove(&(self.deadline[i], i));
    }

    /// Graceful leave (what `docker swarm leave` makes networkdb do).
    pub fn leave(&mut self, i: usize) {
        let mut out = Vec::new();
        self.members[i].leave(self.now, &mut out);
        self.flush(i, out);
    }

    /// Member `i` joins through member `j` (networkdb's `reconnectNode` does this for a
    /// random failed node every second).
    pub fn join(&mut self, i: usize, j: usize) {
        let mut out = Vec::new();
        self.members[i].join(SocketAddrV4::new(addr(j), super::PORT), &mut out);
        self.flush(i, out);
    }

    pub fn load(&self, i: usize) -> Load {
        self.load[i]
    }

    pub fn reset_load(&mut self) {
        self.load.iter_mut().for_each(|l| *l = Load::default());
    }

    /// Membership events so far: (time, member, event).
    pub fn events(&self) -> &[(SimTime, usize, Event)] {
        &self.events
    }

    /// Runs events in order up to `until` (inclusive). After each step of an up member `i`,
    /// `stop(self, i)` may end the run early: then the time of that step is returned.
    pub fn run_until(
        &mut self,
        until: SimTime,
        mut stop: impl FnMut(&Cluster, usize) -> bool,
    ) -> Option<SimTime> {
        loop {
            let timer = self.timers.first().copied();
            let msg_at = self.wire.first_key_value().map(|(k, _)| k.0);
            let next = match (timer, msg_at) {
                (Some((t, _)), Some(m)) => t.min(m),
                (Some((t, _)), None) => t,
                (None, Some(m)) => m,
                (None, None) => return None,
            };
            if next > until {
                self.now = until;
                return None;
            }
            self.now = next;
            let Some(i) = self.step(timer, msg_at) else { continue };
            if stop(self, i) {
                return Some(self.now);
            }
        }
    }

    /// Runs the earliest event; the member that ran, if any did.
    fn step(&mut self, timer: Option<(SimTime, usize)>, msg_at: Option<SimTime>) -> Option<usize> {
        let mut out = Vec::new();
        let i = match (timer, msg_at) {
            (Some((t, i)), m) if m.is_none_or(|m| t < m) => {
                self.members[i].handle_timeout(self.now, &mut out);
                i
            }
            _ => {
                let (_, (to, from, transport, msg)) = self.wire.pop_first().expect("peeked");
                if !self.up[to] {
                    return None;
                }
                self.members[to].handle_packet(self.now, from, transport, msg, &mut out);
                to
            }
        };
        self.flush(i, out);
        Some(i)
    }

    /// Puts member `i`'s outputs on the wire (or drops them), records its events, and
    /// reschedules its timer.
    fn flush(&mut self, i: usize, out: Vec<Output<Vec<u8>>>) {
        let from = SocketAddrV4::new(addr(i), super::PORT);
        for o in out {
            match o {
                Output::Event(e) => self.events.push((self.now, i, e)),
                Output::Send(t) => {
                    let bytes = t.wire_bytes(true) as u64;
                    let l = &mut self.load[i];
                    match t.transport {
                        Transport::Udp => (l.udp_packets += 1, l.udp_bytes += bytes),
                        Transport::Tcp => (l.tcp_messages += 1, l.tcp_bytes += bytes),
                    };
                    self.deliver(i, from, t.to, t.transport, t.msg);
                }
            }
        }
        self.timers.remove(&(self.deadline[i], i));
        if self.up[i] {
            self.deadline[i] = self.members[i].poll_timeout();
            self.timers.insert((self.deadline[i], i));
        }
    }

    fn deliver(&mut self, i: usize, from: SocketAddrV4, to: SocketAddrV4, t: Transport, msg: Msg) {
        let j = index_of(to);
        if j >= self.members.len() || self.group[i] != self.group[j] {
            return;
        }
        if t == Transport::Udp && self.rng.range_u64(0, 100) < self.udp_loss_pct {
            return;
        }
        let (lo, hi) = (self.delay.0.as_nanos(), self.delay.1.as_nanos());
        let mut at = self.now + SimDuration::from_nanos(self.rng.range_u64(lo, hi + 1));
        let (max_lag, last) = self.slow[j];
        if max_lag > SimDuration::ZERO {
            let lag = SimDuration::from_nanos(self.rng.range_u64(0, max_lag.as_nanos() + 1));
            at = (at + lag).max(last);
            self.slow[j].1 = at;
        }
        self.seq += 1;
        self.wire.insert((at, self.seq), (j, from, t, msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;

    #[test]
    fn a_slow_member_handles_messages_late_and_in_order() {
        let delay = (SimDuration::from_micros(100), SimDuration::from_micros(500));
        let mut c = Cluster::converged(2, Streams::new(1).stream("slow"), delay);
        let lag = SimDuration::from_millis(100);
        c.set_slow(1, lag);
        let from = SocketAddrV4::new(addr(0), super::super::PORT);
        let to = SocketAddrV4::new(addr(1), super::super::PORT);
        for seq in 0..50 {
            c.deliver(0, from, to, Transport::Udp, Message::Ack { seq });
        }
        let times: Vec<(SimTime, u32)> = c
            .wire
            .iter()
            .map(|(k, v)| match v.3 {
                Message::Ack { seq } => (k.0, seq),
                _ => panic!("only acks sent"),
            })
            .collect();
        let seqs: Vec<u32> = times.iter().map(|t| t.1).collect();
        assert_eq!(seqs, (0..50).collect::<Vec<u32>>(), "handled in the order sent");
        let latest = SimTime::ZERO + delay.1 + lag;
        assert!(times.iter().all(|t| t.0 >= SimTime::ZERO + delay.0 && t.0 <= latest));
        assert!(times.iter().any(|t| t.0 > SimTime::ZERO + delay.1), "some lag drawn");
        // A healthy member gets no lag.
        let back = SocketAddrV4::new(addr(0), super::super::PORT);
        c.deliver(1, to, back, Transport::Udp, Message::Ack { seq: 99 });
        let t = c.wire.iter().find(|(_, v)| v.0 == 0).map(|(k, _)| k.0).expect("queued");
        assert!(t <= SimTime::ZERO + delay.1);
    }
}
