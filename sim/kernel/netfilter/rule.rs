//! The rule model: what one iptables rule matches on and what it does.
//!
//! A `Rule` mirrors the kernel's `ipt_entry`: the fixed IP header part (`-s -d -i -o -p`, each
//! with its own `!`), an ordered list of match extensions (`-m tcp`, `-m conntrack`, …) and
//! one target. Two rules are the same rule (for `-D`/`-C`) when all of these are equal;
//! counters live beside the rule, in the chain, so they never take part in that comparison.
//! Values are stored the way the kernel stores them (addresses already masked, `--set-mark`
//! turned into mark/mask), which is what makes `iptables -S` print the canonical form.

use std::net::Ipv4Addr;

use super::u32_match::U32Expr;
use super::CtState;

/// A value with an optional `!` in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Neg<T> {
    pub inverted: bool,
    pub value: T,
}

/// An address with a prefix length, stored masked (`10.1.2.3/8` becomes `10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Cidr {
        Cidr { addr: Ipv4Addr::from(u32::from(addr) & mask_of(prefix)), prefix }
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask_of(self.prefix) == u32::from(self.addr)
    }
}

fn mask_of(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// `-p`: a protocol number (0, "all", is represented by leaving `Rule::proto` empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proto(pub u8);

impl Proto {
    pub const ICMP: Proto = Proto(1);
    pub const TCP: Proto = Proto(6);
    pub const UDP: Proto = Proto(17);

    /// The name iptables prints (`-S` and 1.8.7's `-L` column).
    pub fn name(self) -> String {
        match self.0 {
            1 => "icmp".into(),
            6 => "tcp".into(),
            17 => "udp".into(),
            132 => "sctp".into(),
            n => n.to_string(),
        }
    }
}

/// A port or an inclusive port range (`80`, `53:60`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
}

/// The options of `-m tcp` / `-m udp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PortMatch {
    pub sport: Option<Neg<PortRange>>,
    pub dport: Option<Neg<PortRange>>,
}

/// `--icmp-type`: a type and a code range (`any` is type 255).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IcmpType {
    pub icmp_type: u8,
    pub code_min: u8,
    pub code_max: u8,
}

/// Route types of `-m addrtype`, in the kernel's bit order (which is the print order).
pub(crate) const ADDR_TYPES: [&str; 12] = [
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
];

/// Conntrack states of `--ctstate`, in libxt_conntrack's print order; bit i is entry i.
pub(crate) const CT_STATES: [&str; 7] =
    ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT"];

/// A set of names from `ADDR_TYPES` or `CT_STATES`, as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameSet(pub u16);

impl NameSet {
    pub fn has(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }
}

pub(crate) fn ct_state_index(state: CtState) -> usize {
    match state {
        CtState::Invalid => 0,
        CtState::New => 1,
        CtState::Related => 2,
        CtState::Established => 3,
    }
}

/// A match extension (`-m NAME …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    Tcp(PortMatch),
    Udp(PortMatch),
    Icmp(Option<Neg<IcmpType>>),
    AddrType {
        src: Option<Neg<NameSet>>,
        dst: Option<Neg<NameSet>>,
    },
    Conntrack(Option<Neg<NameSet>>),
    State(Option<Neg<NameSet>>),
    Mark(Option<Neg<(u32, u32)>>),
    Comment(Option<String>),
    U32(Option<Neg<U32Expr>>),
    /// `-m ipvs [!] --ipvs`: the packet belongs to an IPVS connection (`skb->ipvs_property`).
    /// xt_ipvs's other options (`--vaddr`, `--vport`, …) are not modelled.
    Ipvs(Option<Neg<()>>),
}

impl Match {
    /// The extension's name, as `-m` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Match::Tcp(_) => "tcp",
            Match::Udp(_) => "udp",
            Match::Icmp(_) => "icmp",
            Match::AddrType { .. } => "addrtype",
            Match::Conntrack(_) => "conntrack",
            Match::State(_) => "state",
            Match::Mark(_) => "mark",
            Match::Comment(_) => "comment",
            Match::U32(_) => "u32",
            Match::Ipvs(_) => "ipvs",
        }
    }
}

/// The address/port part of DNAT/SNAT (`--to-destination 1.2.3.4-1.2.3.5:80-90`, `:53`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NatRange {
    pub addrs: Option<(Ipv4Addr, Ipv4Addr)>,
    pub ports: Option<PortRange>,
}

/// What a rule does when it matches (`-j`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// No `-j`: the rule only counts.
    None,
    Accept,
    Drop,
    Return,
    Jump(String),
    Dnat(NatRange),
    Snat(NatRange),
    Masquerade(Option<PortRange>),
    Redirect(Option<PortRange>),
    /// `skb->mark = (skb->mark & !mask) ^ value`, as xt_MARK revision 2 does.
    Mark {
        value: u32,
        mask: u32,
    },
}

impl Target {
    /// The target's name as `-L` prints it in the target column.
    pub fn name(&self) -> &str {
        match self {
            Target::None => "",
            Target::Accept => "ACCEPT",
            Target::Drop => "DROP",
            Target::Return => "RETURN",
            Target::Jump(chain) => chain,
            Target::Dnat(_) => "DNAT",
            Target::Snat(_) => "SNAT",
            Target::Masquerade(_) => "MASQUERADE",
            Target::Redirect(_) => "REDIRECT",
            Target::Mark { .. } => "MARK",
        }
    }
}

/// One rule, without its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub src: Option<Neg<Cidr>>,
    pub dst: Option<Neg<Cidr>>,
    pub in_iface: Option<Neg<String>>,
    pub out_iface: Option<Neg<String>>,
    pub proto: Option<Neg<Proto>>,
    pub matches: Vec<Match>,
    pub target: Target,
}

/// Packet and byte counters of a rule or a policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

impl Counters {
    pub fn add(&mut self, len: u32) {
        self.packets += 1;
        self.bytes += u64::from(len);
    }
}

/// `-i`/`-o` matching: a trailing `+` matches every interface with that prefix.
pub(crate) fn iface_matches(pattern: &str, name: Option<&str>) -> bool {
    let Some(name) = name else { return false };
    match pattern.strip_suffix('+') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_is_stored_masked_and_matches_its_prefix() {
        let c = Cidr::new(Ipv4Addr::new(10, 1, 2, 3), 8);
        assert_eq!(c.addr, Ipv4Addr::new(10, 0, 0, 0));
        assert!(c.contains(Ipv4Addr::new(10, 200, 0, 1)));
        assert!(!c.contains(Ipv4Addr::new(11, 0, 0, 1)));
        assert!(Cidr::new(Ipv4Addr::new(1, 2, 3, 4), 0).contains(Ipv4Addr::new(9, 9, 9, 9)));
    }

    #[test]
    fn plus_suffix_is_an_interface_prefix_wildcard() {
        assert!(iface_matches("eth+", Some("eth0")));
        assert!(!iface_matches("eth+", Some("docker0")));
        assert!(iface_matches("docker0", Some("docker0")));
        assert!(!iface_matches("docker0", None));
    }
}
