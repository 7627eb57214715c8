//! The schedulers: which real server a new connection goes to, as Linux's modules pick.
//!
//! A service's real servers are a list in the kernel's order: `__ip_vs_update_dest` adds a
//! new one at the head (`list_add_rcu`), so the last added is first. Every scheduler walks
//! that list:
//! - `rr` (`ip_vs_rr.c`): the next server after the last one picked, wrapping, skipping
//!   weight 0; deleting the last-picked server moves the mark to its predecessor;
//! - `wrr` (`ip_vs_wrr.c`): interleaved weighted round robin — a current weight `cw` steps
//!   down from the largest weight by the weights' gcd, and each pass picks the servers whose
//!   weight is at least `cw`; any change of the servers resets the mark;
//! - `lc` (`ip_vs_lc.c`): the least `activeconns*256 + inactconns`, first in list order on a
//!   tie, skipping weight 0 (lc does not weigh; that is wlc);
//! - `wlc` (`ip_vs_wlc.c`, ipvsadm's default): the least overhead divided by weight, compared
//!   by cross-multiplication as the kernel does.
//!
//! Overload flags (thresholds) are not modelled, so no server is ever skipped for them.

use std::net::Ipv4Addr;

/// A real server's identity within its service.
pub(super) type DestId = (Ipv4Addr, u16);

/// What a scheduler needs to know about one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    pub id: DestId,
    pub weight: u32,
    pub active: u32,
    pub inactive: u32,
}

impl Candidate {
    /// `ip_vs_dest_conn_overhead`.
    fn overhead(&self) -> i64 {
        (i64::from(self.active) << 8) + i64::from(self.inactive)
    }
}

/// `struct ip_vs_wrr_mark`: `cl` is a list position (None: the list head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct WrrMark {
    cl: Option<usize>,
    cw: i64,
    mw: i64,
    di: i64,
}

/// A service's scheduler and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scheduler {
    /// The server picked last (None: start from the list head).
    Rr {
        last: Option<DestId>,
    },
    Wrr(WrrMark),
    Lc,
    Wlc,
}

/// Schedulers Linux has that the simulator does not.
pub(super) const NOT_SIMULATED: &[&str] =
    &["lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];

impl Scheduler {
    /// The scheduler by its module name (`-s NAME`), bound to a service with `dests`
    /// (`init_service`: wrr starts its current weight at the maximum).
    pub fn new(name: &str, dests: &[Candidate]) -> Option<Scheduler> {
        let mut s = match name {
            "rr" => Scheduler::Rr { last: None },
            "wrr" => Scheduler::Wrr(WrrMark::default()),
            "lc" => Scheduler::Lc,
            "wlc" => Scheduler::Wlc,
            _ => return None,
        };
        s.dests_changed(dests);
        if let Scheduler::Wrr(m) = &mut s {
            m.cw = m.mw;
        }
        Some(s)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scheduler::Rr { .. } => "rr",
            Scheduler::Wrr(_) => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
        }
    }

    /// A server was added or its weight changed (`add_dest`/`upd_dest`): wrr recomputes
    /// its mark (`ip_vs_wrr_dest_changed`, also its `init_service`).
    pub fn dests_changed(&mut self, dests: &[Candidate]) {
        if let Scheduler::Wrr(m) = self {
            let weights = dests.iter().map(|d| i64::from(d.weight));
            let g = weights.clone().filter(|w| *w > 0).fold(0, gcd);
            m.cl = None;
            m.di = if g == 0 { 1 } else { g };
            m.mw = weights.max().unwrap_or(0) - (m.di - 1);
            if m.cw > m.mw || m.di == 0 {
                m.cw = 0;
            } else if m.di > 1 {
                m.cw = (m.cw / m.di) * m.di + 1;
            }
        }
    }

    /// Server `gone`, which was at list position `pos`, was removed (`del_dest`).
    pub fn dest_removed(&mut self, dests: &[Candidate], gone: DestId, pos: usize) {
        match self {
            Scheduler::Rr { last } if *last == Some(gone) => {
                *last = pos.checked_sub(1).map(|p| dests[p].id);
            }
            Scheduler::Wrr(_) => self.dests_changed(dests),
            _ => {}
        }
    }

    /// The list position of the server for a new connection, or None: "no destination
    /// available".
    pub fn schedule(&mut self, dests: &[Candidate]) -> Option<usize> {
        match self {
            Scheduler::Rr { last } => {
                let start = last.and_then(|id| dests.iter().position(|d| d.id == id));
                let n = dests.len();
                let first = start.map_or(0, |s| s + 1);
                let pick = (0..n).map(|i| (first + i) % n).find(|&p| dests[p].weight > 0)?;
                *last = Some(dests[pick].id);
                Some(pick)
            }
            Scheduler::Wrr(m) => wrr_schedule(m, dests),
            Scheduler::Lc => {
                let live = dests.iter().enumerate().filter(|(_, d)| d.weight > 0);
                live.min_by_key(|(i, d)| (d.overhead(), *i)).map(|(i, _)| i)
            }
            Scheduler::Wlc => wlc_schedule(dests),
        }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if a == 0 {
        b
    } else if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `ip_vs_wrr_schedule`, step for step.
fn wrr_schedule(m: &mut WrrMark, dests: &[Candidate]) -> Option<usize> {
    if m.mw == 0 {
        return None;
    }
    let last = m.cl;
    let mut pos = last;
    let mut stop: Option<usize> = None;
    let (mut last_pass, mut restarted) = (false, false);
    loop {
        // list_for_each_entry_continue: from after `pos` to the end of the list.
        for (p, d) in dests.iter().enumerate().skip(pos.map_or(0, |x| x + 1)) {
            if i64::from(d.weight) >= m.cw {
                m.cl = Some(p);
                return Some(p);
            }
            if stop == Some(p) {
                return None;
            }
        }
        pos = None;
        m.cw -= m.di;
        if m.cw <= 0 {
            m.cw = m.mw;
            if last_pass || last.is_none() {
                return None;
            }
            restarted = true;
        }
        last_pass = m.cw <= m.di;
        if last_pass && restarted && last.is_some() {
            stop = last;
        }
    }
}

/// `ip_vs_wlc_schedule`: the first server with weight > 0, then any with a smaller
/// overhead/weight (`loh * w_d > doh * w_least`).
fn wlc_schedule(dests: &[Candidate]) -> Option<usize> {
    let mut least = dests.iter().position(|d| d.weight > 0)?;
    for (i, d) in dests.iter().enumerate().skip(least + 1) {
        let l = &dests[least];
        if l.overhead() * i64::from(d.weight) > d.overhead() * i64::from(l.weight) {
            least = i;
        }
    }
    Some(least)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Servers in list order (the last added first), by the last octet.
    fn list(weights: &[(u8, u32)]) -> Vec<Candidate> {
        weights
            .iter()
            .map(|&(o, weight)| Candidate {
                id: (Ipv4Addr::new(10, 0, 0, o), 80),
                weight,
                active: 0,
                inactive: 0,
            })
            .collect()
    }

    fn picks(s: &mut Scheduler, dests: &[Candidate], n: usize) -> Vec<u8> {
        (0..n).map(|_| s.schedule(dests).map_or(0, |p| dests[p].id.0.octets()[3])).collect()
    }

    /// `-a .1` then `-a .2`: the list is [.2, .1], so rr starts with .2.
    #[test]
    fn rr_walks_the_list_from_the_newest_server_and_skips_weight_zero() {
        let dests = list(&[(2, 1), (1, 1)]);
        let mut rr = Scheduler::new("rr", &dests).unwrap();
        assert_eq!(picks(&mut rr, &dests, 4), [2, 1, 2, 1]);
        let quiesced = list(&[(3, 1), (2, 0), (1, 1)]);
        assert_eq!(picks(&mut rr, &quiesced, 4), [3, 1, 3, 1]);
        assert_eq!(picks(&mut rr, &list(&[(2, 0), (1, 0)]), 1), [0]);
    }

    #[test]
    fn rr_removing_the_last_picked_server_resumes_after_its_predecessor() {
        let dests = list(&[(3, 1), (2, 1), (1, 1)]);
        let mut rr = Scheduler::new("rr", &dests).unwrap();
        assert_eq!(picks(&mut rr, &dests, 2), [3, 2]);
        let after = list(&[(3, 1), (1, 1)]);
        rr.dest_removed(&after, (Ipv4Addr::new(10, 0, 0, 2), 80), 1);
        assert_eq!(picks(&mut rr, &after, 3), [1, 3, 1]);
    }

    /// Weights 3 (added first) and 1: the kernel's sequence, traced through
    /// `ip_vs_wrr_schedule` by hand (mw 3, di 1, cw left at 1 by the adds).
    #[test]
    fn wrr_interleaves_by_weight_with_gcd_steps() {
        let mut wrr = Scheduler::new("wrr", &[]).unwrap();
        let one = list(&[(1, 3)]);
        wrr.dests_changed(&one);
        let dests = list(&[(2, 1), (1, 3)]);
        wrr.dests_changed(&dests);
        assert_eq!(picks(&mut wrr, &dests, 9), [2, 1, 1, 1, 2, 1, 1, 1, 2]);
        // gcd 2: weights 4 and 2 behave like 2 and 1.
        let even = list(&[(2, 2), (1, 4)]);
        let mut wrr = Scheduler::new("wrr", &even).unwrap();
        assert_eq!(picks(&mut wrr, &even, 6), [1, 2, 1, 1, 2, 1]);
        assert_eq!(
            picks(&mut Scheduler::new("wrr", &list(&[(1, 0)])).unwrap(), &list(&[(1, 0)]), 1),
            [0]
        );
    }

    #[test]
    fn lc_takes_the_least_overhead_and_ignores_weights_but_zero() {
        let mut dests = list(&[(3, 5), (2, 1), (1, 1)]);
        dests[0].active = 1; // 256
        dests[1].inactive = 300; // 300
        dests[2].inactive = 255; // 255
        let mut lc = Scheduler::new("lc", &dests).unwrap();
        assert_eq!(picks(&mut lc, &dests, 1), [1]);
        dests[2].weight = 0;
        assert_eq!(picks(&mut lc, &dests, 1), [3]);
    }

    #[test]
    fn wlc_divides_the_overhead_by_the_weight() {
        let mut dests = list(&[(2, 3), (1, 1)]);
        dests[0].active = 2; // 512 / 3
        dests[1].active = 1; // 256 / 1
        assert_eq!(picks(&mut Scheduler::new("wlc", &dests).unwrap(), &dests, 1), [2]);
        dests[0].active = 3; // 768 / 3 = 256: a tie keeps the first
        assert_eq!(picks(&mut Scheduler::new("wlc", &dests).unwrap(), &dests, 1), [2]);
    }
}
