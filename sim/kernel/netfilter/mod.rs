//! Netfilter for one network namespace: the filter, nat and mangle tables, their built-in
//! and user chains, rule evaluation with per-rule counters, and conntrack with NAT.
//!
//! Contract:
//! - `run_command(args)` executes what `iptables ARGS` would (rules in, listings out) and
//!   fails with iptables' own error texts;
//! - `hook(now, hook, pkt, ctx)` runs one packet through one netfilter hook in Linux's
//!   priority order (conntrack, mangle, nat, filter), applies NAT to `pkt` and returns the
//!   verdict with every rule that matched, so packet walks can show them;
//! - nothing here reads a clock: `now` is handed in.
//!
//! NAT follows Linux: destination manipulation at PREROUTING and OUTPUT, source manipulation
//! at POSTROUTING and INPUT; the nat table is consulted only for a connection's first
//! packet, later packets (both directions) are translated from the conntrack entry.

use std::fmt;
use std::net::Ipv4Addr;

use crate::engine::SimTime;
use crate::wire::{IpProtocol, Ipv4Packet, TcpFlags};

/// A netfilter hook, in the order a forwarded packet meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// An iptables table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Filter,
    Nat,
    Mangle,
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Table::Filter => "filter",
            Table::Nat => "nat",
            Table::Mangle => "mangle",
        })
    }
}

/// Conntrack's view of a packet (`-m conntrack --ctstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
}

/// The fields rules match on. NAT rewrites `src`/`dst`/ports in place; the kernel builds the
/// real packet back from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketMeta {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: IpProtocol,
    /// TCP/UDP ports; for ICMP echo both hold the echo identifier (as conntrack keys it).
    pub sport: u16,
    pub dport: u16,
    /// ICMP type, for ICMP packets.
    pub icmp_type: Option<u8>,
    pub tcp_flags: Option<TcpFlags>,
    /// Length of the IP packet in bytes, for the byte counters.
    pub len: u32,
    /// `-i`: set at PREROUTING, INPUT, FORWARD.
    pub in_iface: Option<String>,
    /// `-o`: set at FORWARD, OUTPUT, POSTROUTING.
    pub out_iface: Option<String>,
    /// The skb mark (`-m mark`, `MARK --set-mark`).
    pub mark: u32,
    /// The conntrack entry this packet belongs to: set by the first hook it meets in this
    /// namespace, carried unchanged by the kernel to the later hooks.
    pub conntrack_id: Option<u64>,
    /// IPVS handled this packet (`skb->ipvs_property`, what `-m ipvs --ipvs` tests). An IPVS
    /// packet without a conntrack entry is untracked (`net.ipv4.vs.conntrack=0`).
    pub ipvs_property: bool,
}

/// What a hook needs to know about the namespace it runs in, and the packet itself.
#[derive(Debug, Clone, Default)]
pub struct HookCtx<'a> {
    /// The namespace's own addresses (`-m addrtype --dst-type LOCAL`; 127.0.0.0/8 is always
    /// local).
    pub local_addrs: Vec<Ipv4Addr>,
    /// The primary address of the outgoing interface, for MASQUERADE.
    pub out_iface_addr: Option<Ipv4Addr>,
    /// The primary address of the incoming interface, for REDIRECT (None for locally
    /// generated packets, which REDIRECT to 127.0.0.1).
    pub in_iface_addr: Option<Ipv4Addr>,
    /// The packet as it entered the hook, for matches that read its bytes (`-m u32`). Its
    /// bytes are built only when such a rule is evaluated, with the `PacketMeta`'s current
    /// addresses and ports (NAT done earlier in the hook) written into a copy. Without it
    /// those matches see an empty packet, which fails every u32 test.
    pub packet: Option<&'a Ipv4Packet>,
}

/// One rule (or chain policy) that took part in a packet's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    pub table: Table,
    pub chain: String,
    /// 1-based rule number as `iptables -L --line-numbers` shows it; 0 for the policy.
    pub rule_num: usize,
    /// What the rule did, as iptables would describe the target: `ACCEPT`,
    /// `DNAT to:172.17.0.2:80`, `MASQUERADE`, `DOCKER` (a jump), `policy DROP`.
    pub action: String,
}

impl fmt::Display for RuleHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rule_num == 0 {
            write!(f, "{} {}: {}", self.table, self.chain, self.action)
        } else {
            write!(f, "{} {} rule {}: {}", self.table, self.chain, self.rule_num, self.action)
        }
    }
}

/// Which of a hook's steps to run: IPVS sits between the filter table and source NAT
/// (`ip_vs_ops4`: LOCAL_IN priorities 98 and 99, FORWARD 99 and 100), so the kernel runs the
/// LOCAL_IN hook in two parts around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPart {
    Whole,
    /// conntrack, mangle, nat (dst) and filter.
    BeforeIpvs,
    /// nat (src) and the conntrack confirmation.
    AfterIpvs,
}

/// The outcome of one hook for one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    /// False when the packet was dropped at this hook.
    pub accepted: bool,
    /// The packet's conntrack state as the rules saw it.
    pub ct_state: CtState,
    /// Every terminating or jumping rule that matched, and policies that applied, in order.
    pub hits: Vec<RuleHit>,
    /// The NAT applied at this hook, described for traces: `DNAT 172.16.24.4:8080 -> 172.17.0.2:80`.
    pub nat: Option<String>,
}

/// An `iptables` command that failed: the text iptables prints and its exit status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IptablesError {
    pub message: String,
    pub exit_code: i32,
}

mod conntrack;
mod eval;
mod ipvs_match;
mod parse;
mod render;
mod rule;
mod tables;
mod u32_match;

pub use conntrack::{ConntrackEntry, TcpCtState, Tuple};
pub use tables::Netfilter;

#[cfg(test)]
mod docker_tests;
