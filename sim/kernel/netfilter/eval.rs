//! One packet through one netfilter hook: the order Linux runs things in, and the chain walk.
//!
//! Each hook runs its steps in priority order (`hook_steps`):
//!
//! ```text
//! PREROUTING   conntrack  mangle  nat(dst)
//! INPUT                   mangle  filter  nat(src)  confirm
//! FORWARD                 mangle  filter
//! OUTPUT       conntrack  mangle  nat(dst) filter
//! POSTROUTING             mangle  nat(src)          confirm
//! ```
//!
//! A table walk starts at the hook's built-in chain and goes down the rules; the first rule
//! whose matches all succeed and whose target decides ends the walk (ACCEPT, DROP, a NAT
//! target); a jump descends into a user chain, RETURN (or running off a user chain's end)
//! comes back to the rule after the jump; running off a built-in chain applies its policy.
//! Every matching rule counts the packet; MARK and rules without a target keep going.
//!
//! The nat table sees only a connection's first packet: it decides the binding, stored in
//! the conntrack entry, and every packet of the connection (both directions) is then
//! rewritten from the entry at the same hooks.

use std::cell::OnceCell;
use std::net::Ipv4Addr;

use super::conntrack::{self, CtInfo, Manip};
use super::render::target_print;
use super::rule::*;
use super::tables::TableState;
use super::*;

/// How deep jumps may nest before the packet is dropped (the kernel's jump stack is sized by
/// the number of chains; loops are refused there, here a bound keeps a walk finite).
const MAX_JUMP_DEPTH: usize = 64;

/// The entry id used for ICMP errors, which are RELATED but have no entry of their own here.
const NO_ENTRY: u64 = 0;

/// One step of a hook.
#[derive(Debug, Clone, Copy)]
enum Step {
    Conntrack,
    Table(Table),
    Nat(Manip),
    Confirm,
}

fn hook_steps(hook: Hook) -> &'static [Step] {
    use Step::*;
    match hook {
        Hook::Prerouting => &[Conntrack, Table(super::Table::Mangle), Nat(Manip::Dst)],
        Hook::Input => {
            &[Table(super::Table::Mangle), Table(super::Table::Filter), Nat(Manip::Src), Confirm]
        }
        Hook::Forward => &[Table(super::Table::Mangle), Table(super::Table::Filter)],
        Hook::Output => {
            &[Conntrack, Table(super::Table::Mangle), Nat(Manip::Dst), Table(super::Table::Filter)]
        }
        Hook::Postrouting => &[Table(super::Table::Mangle), Nat(Manip::Src), Confirm],
    }
}

/// How a table walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accept,
    Drop,
    /// A NAT target matched (only in the nat table).
    Nat(Target),
}

/// What rules can match on besides the packet's fields.
struct Env<'a> {
    host: &'a HookCtx<'a>,
    /// None when the namespace does not track connections.
    ct: Option<CtView>,
    /// The packet's bytes from the IP header on, built on first use (`-m u32`); a walk does
    /// not change addresses or ports, so one build serves the whole walk.
    bytes: OnceCell<Vec<u8>>,
}

impl<'a> Env<'a> {
    fn new(host: &'a HookCtx<'a>, ct: Option<CtView>) -> Env<'a> {
        Env { host, ct, bytes: OnceCell::new() }
    }

    /// The packet as it would be on the wire now: the hook's packet with `pkt`'s (possibly
    /// NATed) addresses and ports, checksums recomputed.
    fn packet_bytes(&self, pkt: &PacketMeta) -> &[u8] {
        self.bytes.get_or_init(|| {
            let Some(packet) = self.host.packet else { return Vec::new() };
            let mut packet = packet.clone();
            pkt.write_back(&mut packet);
            let mut out = Vec::with_capacity(packet.buffer_len());
            packet.emit(&mut out);
            out
        })
    }
}

/// Conntrack's verdict on the packet, as `-m conntrack` sees it.
#[derive(Debug, Clone, Copy)]
struct CtView {
    /// None: INVALID.
    info: Option<CtInfo>,
    snat: bool,
    dnat: bool,
}

impl Netfilter {
    /// Runs `pkt` through `hook`: conntrack, mangle, nat and filter in Linux's order. NAT is
    /// applied to `pkt` in place; the outcome lists every rule that decided something.
    pub fn hook(
        &mut self,
        now: SimTime,
        hook: Hook,
        pkt: &mut PacketMeta,
        ctx: &HookCtx,
    ) -> HookOutcome {
        self.hook_part(now, hook, HookPart::Whole, pkt, ctx)
    }

    /// Like [`Netfilter::hook`], for the steps on one side of IPVS only.
    pub fn hook_part(
        &mut self,
        now: SimTime,
        hook: Hook,
        part: HookPart,
        pkt: &mut PacketMeta,
        ctx: &HookCtx,
    ) -> HookOutcome {
        let mut out =
            HookOutcome { accepted: true, ct_state: CtState::New, hits: vec![], nat: None };
        let steps = hook_steps(hook);
        let split = steps
            .iter()
            .rposition(|s| matches!(s, Step::Table(super::Table::Filter)))
            .map_or(steps.len(), |i| i + 1);
        let steps = match part {
            HookPart::Whole => steps,
            HookPart::BeforeIpvs => &steps[..split],
            HookPart::AfterIpvs => &steps[split..],
        };
        for step in steps {
            let accepted = match *step {
                Step::Conntrack => {
                    self.conntrack_step(now, pkt);
                    true
                }
                Step::Table(table) => self.table_step(table, hook, pkt, ctx, &mut out.hits),
                Step::Nat(manip) => self.nat_step(hook, manip, pkt, ctx, &mut out),
                Step::Confirm => {
                    self.confirm_step(pkt);
                    true
                }
            };
            if !accepted {
                out.accepted = false;
                break;
            }
        }
        out.ct_state = self
            .ct_view(pkt)
            .and_then(|v| v.info)
            .map_or(if self.tracking { CtState::Invalid } else { CtState::New }, CtInfo::state);
        if !out.accepted {
            self.drop_step(pkt);
        }
        out
    }

    /// Finds or creates the packet's conntrack entry, unless it already has one (a packet
    /// looped back through `lo` keeps the entry its OUTPUT hook gave it).
    fn conntrack_step(&mut self, now: SimTime, pkt: &mut PacketMeta) {
        if !self.tracking {
            pkt.conntrack_id = None;
            return;
        }
        if pkt.ipvs_property && pkt.conntrack_id.is_none() {
            return; // ip_vs_notrack: IPVS sends it untracked
        }
        let attached = pkt.conntrack_id.map(conntrack::decode);
        if attached.is_some_and(|(id, _)| self.conntrack.get(id).is_some()) {
            return;
        }
        self.conntrack.expire(now);
        pkt.conntrack_id =
            self.conntrack.track(now, pkt).map(|(id, info)| conntrack::encode(id, info));
    }

    fn ct_view(&self, pkt: &PacketMeta) -> Option<CtView> {
        if !self.tracking || (pkt.ipvs_property && pkt.conntrack_id.is_none()) {
            return None;
        }
        let Some((id, info)) = pkt.conntrack_id.map(conntrack::decode) else {
            return Some(CtView { info: None, snat: false, dnat: false });
        };
        let entry = self.conntrack.get(id);
        Some(CtView {
            info: Some(info),
            snat: entry.is_some_and(|e| e.is_snat()),
            dnat: entry.is_some_and(|e| e.is_dnat()),
        })
    }

    /// Walks a filter or mangle table; false when the packet was dropped.
    fn table_step(
        &mut self,
        table: Table,
        hook: Hook,
        pkt: &mut PacketMeta,
        ctx: &HookCtx,
        hits: &mut Vec<RuleHit>,
    ) -> bool {
        if !self.is_used(table) {
            return true;
        }
        let env = Env::new(ctx, self.ct_view(pkt));
        walk(self.table_mut(table), hook, pkt, &env, hits) != Verdict::Drop
    }

    /// NAT at this hook: decide the binding on a connection's first packet, otherwise
    /// rewrite from the conntrack entry. False when the packet was dropped.
    fn nat_step(
        &mut self,
        hook: Hook,
        manip: Manip,
        pkt: &mut PacketMeta,
        ctx: &HookCtx,
        out: &mut HookOutcome,
    ) -> bool {
        let Some((id, info)) = pkt.conntrack_id.map(conntrack::decode) else { return true };
        if id == NO_ENTRY || !self.is_used(Table::Nat) {
            return true;
        }
        let entry = self.conntrack.get(id).expect("conntrack_id refers to a live entry");
        let done = match manip {
            Manip::Dst => entry.nat_done_dst,
            Manip::Src => entry.nat_done_src,
        };
        let mut label = None;
        if info == CtInfo::New && !done {
            let env = Env::new(ctx, self.ct_view(pkt));
            let verdict = walk(self.table_mut(Table::Nat), hook, pkt, &env, &mut out.hits);
            let e = self.conntrack.get_mut(id);
            match manip {
                Manip::Dst => e.nat_done_dst = true,
                Manip::Src => e.nat_done_src = true,
            }
            match verdict {
                Verdict::Drop => return false,
                Verdict::Accept => {}
                Verdict::Nat(target) => {
                    if !self.bind(id, hook, &target, ctx) {
                        return false;
                    }
                    label = Some(target.name().to_string());
                }
            }
        }
        let entry = self.conntrack.get(id).expect("conntrack_id refers to a live entry");
        if let Some(text) = conntrack::translate(entry, info.dir(), manip, pkt, label.as_deref()) {
            out.nat = Some(text);
        }
        true
    }

    /// Stores a NAT target's decision in the entry; false when MASQUERADE has no address.
    fn bind(&mut self, id: u64, hook: Hook, target: &Target, ctx: &HookCtx) -> bool {
        let local = Ipv4Addr::LOCALHOST;
        match target {
            Target::Dnat(r) => {
                let to =
                    conntrack::range_addr(r, self.conntrack.get(id).expect("live").original.dst);
                self.conntrack.bind_dst(id, to, r.ports);
            }
            Target::Redirect(ports) => {
                let to =
                    if hook == Hook::Output { local } else { ctx.in_iface_addr.unwrap_or(local) };
                self.conntrack.bind_dst(id, to, *ports);
            }
            Target::Snat(r) => {
                let to =
                    conntrack::range_addr(r, self.conntrack.get(id).expect("live").original.src);
                self.conntrack.bind_src(id, to, r.ports);
            }
            Target::Masquerade(ports) => {
                let Some(to) = ctx.out_iface_addr else { return false };
                self.conntrack.bind_src(id, to, *ports);
            }
            _ => unreachable!("the nat table's walk returns only NAT targets"),
        }
        true
    }

    fn confirm_step(&mut self, pkt: &PacketMeta) {
        if let Some((id, _)) = pkt.conntrack_id.map(conntrack::decode) {
            if id != NO_ENTRY {
                self.conntrack.confirm(id);
            }
        }
    }

    fn drop_step(&mut self, pkt: &mut PacketMeta) {
        if let Some((id, _)) = pkt.conntrack_id.take().map(conntrack::decode) {
            self.conntrack.discard_unconfirmed(id);
        }
    }
}

/// Walks `table` from the built-in chain of `hook`.
fn walk(
    t: &mut TableState,
    hook: Hook,
    pkt: &mut PacketMeta,
    env: &Env,
    hits: &mut Vec<RuleHit>,
) -> Verdict {
    let table = t.table;
    let start = super::tables::builtin_chains(table)
        .iter()
        .position(|(_, h)| *h == hook)
        .expect("walks start at a built-in chain of the table");
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let (mut ci, mut ri) = (start, 0);
    loop {
        let chain = &mut t.chains[ci];
        let Some(entry) = chain.rules.get_mut(ri) else {
            match stack.pop() {
                Some((c, r)) => (ci, ri) = (c, r),
                None => return policy(table, chain, pkt.len, hits),
            }
            continue;
        };
        ri += 1;
        if !rule_matches(&entry.rule, pkt, env) {
            continue;
        }
        entry.counters.add(pkt.len);
        let target = entry.rule.target.clone();
        if target != Target::None {
            let action = format!("{}{}", target.name(), target_print(&target));
            hits.push(RuleHit { table, chain: chain.name.clone(), rule_num: ri, action });
        }
        match target {
            Target::None => {}
            Target::Accept => return Verdict::Accept,
            Target::Drop => return Verdict::Drop,
            Target::Mark { value, mask } => pkt.mark = (pkt.mark & !mask) ^ value,
            Target::Return => match stack.pop() {
                Some((c, r)) => (ci, ri) = (c, r),
                None => return policy(table, &mut t.chains[ci], pkt.len, hits),
            },
            Target::Jump(name) => {
                if stack.len() == MAX_JUMP_DEPTH {
                    return Verdict::Drop;
                }
                stack.push((ci, ri));
                ci = t.chain_index(&name).expect("jump targets exist (checked on commit)");
                ri = 0;
            }
            nat => return Verdict::Nat(nat),
        }
    }
}

/// A built-in chain's policy decides: count it and record it.
fn policy(
    table: Table,
    chain: &mut super::tables::Chain,
    len: u32,
    hits: &mut Vec<RuleHit>,
) -> Verdict {
    let p = chain.policy.expect("only built-in chains end a walk");
    chain.policy_counters.add(len);
    hits.push(RuleHit {
        table,
        chain: chain.name.clone(),
        rule_num: 0,
        action: format!("policy {}", p.name()),
    });
    match p {
        super::tables::Policy::Accept => Verdict::Accept,
        super::tables::Policy::Drop => Verdict::Drop,
    }
}

/// All of a rule's conditions, header fields first (the kernel's `ip_packet_match`).
fn rule_matches(r: &Rule, pkt: &PacketMeta, env: &Env) -> bool {
    let neg = |inverted: bool, hit: bool| hit != inverted;
    r.src.as_ref().is_none_or(|s| neg(s.inverted, s.value.contains(pkt.src)))
        && r.dst.as_ref().is_none_or(|d| neg(d.inverted, d.value.contains(pkt.dst)))
        && r.in_iface
            .as_ref()
            .is_none_or(|i| neg(i.inverted, iface_matches(&i.value, pkt.in_iface.as_deref())))
        && r.out_iface
            .as_ref()
            .is_none_or(|o| neg(o.inverted, iface_matches(&o.value, pkt.out_iface.as_deref())))
        && r.proto.as_ref().is_none_or(|p| neg(p.inverted, p.value.0 == pkt.proto.number()))
        && r.matches.iter().all(|m| match_matches(m, pkt, env))
}

fn match_matches(m: &Match, pkt: &PacketMeta, env: &Env) -> bool {
    let neg = |inverted: bool, hit: bool| hit != inverted;
    match m {
        Match::Tcp(pm) | Match::Udp(pm) => ports_match(pm, pkt),
        Match::Icmp(t) => t.as_ref().is_none_or(|t| neg(t.inverted, icmp_matches(t.value, pkt))),
        Match::AddrType { src, dst } => {
            let check = |set: &Option<Neg<NameSet>>, ip| {
                set.as_ref().is_none_or(|s| neg(s.inverted, s.value.has(addr_type(ip, env.host))))
            };
            check(src, pkt.src) && check(dst, pkt.dst)
        }
        Match::Conntrack(s) | Match::State(s) => {
            s.as_ref().is_none_or(|s| neg(s.inverted, s.value.0 & ct_bits(env.ct) != 0))
        }
        Match::Mark(mk) => {
            mk.as_ref().is_none_or(|mk| neg(mk.inverted, pkt.mark & mk.value.1 == mk.value.0))
        }
        Match::Comment(_) => true,
        Match::U32(e) => {
            e.as_ref().is_none_or(|e| neg(e.inverted, e.value.matches(env.packet_bytes(pkt))))
        }
        Match::Ipvs(n) => n.as_ref().is_none_or(|n| neg(n.inverted, pkt.ipvs_property)),
    }
}

fn ports_match(pm: &PortMatch, pkt: &PacketMeta) -> bool {
    let one = |p: &Option<Neg<PortRange>>, port: u16| {
        p.as_ref().is_none_or(|p| p.value.contains(port) != p.inverted)
    };
    one(&pm.sport, pkt.sport) && one(&pm.dport, pkt.dport)
}

/// PacketMeta carries no ICMP code, so a code range matches when it includes code 0.
fn icmp_matches(t: IcmpType, pkt: &PacketMeta) -> bool {
    t.icmp_type == 255 || (pkt.icmp_type == Some(t.icmp_type) && t.code_min == 0)
}

/// The route type of an address as `-m addrtype` sees it (index into `ADDR_TYPES`).
fn addr_type(ip: Ipv4Addr, host: &HookCtx) -> usize {
    let named = |n: &str| ADDR_TYPES.iter().position(|t| *t == n).expect("known type");
    if ip.is_unspecified() {
        named("UNSPEC")
    } else if ip.is_loopback() || host.local_addrs.contains(&ip) {
        named("LOCAL")
    } else if ip.is_broadcast() {
        named("BROADCAST")
    } else if ip.is_multicast() {
        named("MULTICAST")
    } else {
        named("UNICAST")
    }
}

/// The `--ctstate` bits a packet has (index into `CT_STATES`).
fn ct_bits(ct: Option<CtView>) -> u16 {
    let bit = |name: &str| 1u16 << CT_STATES.iter().position(|s| *s == name).expect("known state");
    let Some(ct) = ct else { return bit("UNTRACKED") };
    let Some(info) = ct.info else { return bit("INVALID") };
    let mut bits = 1 << ct_state_index(info.state());
    if ct.snat {
        bits |= bit("SNAT");
    }
    if ct.dnat {
        bits |= bit("DNAT");
    }
    bits
}
