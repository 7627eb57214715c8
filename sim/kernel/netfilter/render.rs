//! What iptables prints: `-S` rule specs, `-L` tables, `iptables-save`.
//!
//! Each function reproduces one piece of iptables 1.8.7 legacy output:
//! - `rule_spec` is `print_rule4`/the extensions' `save` functions: `-s -d -i -o -p` first
//!   (each with its `!`), then the matches in the order they were loaded, then `-j` and the
//!   target's options, addresses with their prefix (`/32` included), `--set-mark` as
//!   `--set-xmark V/M`;
//! - `list` is `list_entries`/`print_header`/`print_firewall` with their printf widths, and
//!   counters through `xtables_print_num` (K/M/G/T above 99999 unless `-x`);
//! - the protocol column prints names (`all`, `tcp`) as 1.8.7 does (1.8.9 prints numbers).
//!
//! Without `-n`, iptables resolves addresses, ports and ICMP types to names through the
//! resolver and /etc/services; the simulator prints them numerically and only the fixed words
//! (`anywhere`, `any`) differ.

use std::fmt::Write as _;

use super::parse::{kernel_error, ListOpts};
use super::rule::*;
use super::tables::{Chain, RuleEntry, TableState};
use super::IptablesError;

/// `iptables -S [CHAIN [N]]`.
pub(crate) fn list_rules(
    t: &TableState,
    chain: Option<&str>,
    num: Option<usize>,
) -> Result<String, IptablesError> {
    let chains = selected(t, chain)?;
    let mut out = String::new();
    if let Some(n) = num {
        let c = chains[0];
        if let Some(e) = c.rules.get(n - 1) {
            writeln!(out, "-A {} {}", c.name, rule_spec(&e.rule)).unwrap();
        }
        return Ok(out);
    }
    for c in &chains {
        match c.policy {
            Some(p) => writeln!(out, "-P {} {}", c.name, p.name()).unwrap(),
            None => writeln!(out, "-N {}", c.name).unwrap(),
        }
    }
    for c in &chains {
        for e in &c.rules {
            writeln!(out, "-A {} {}", c.name, rule_spec(&e.rule)).unwrap();
        }
    }
    Ok(out)
}

fn selected<'a>(t: &'a TableState, chain: Option<&str>) -> Result<Vec<&'a Chain>, IptablesError> {
    match chain {
        None => Ok(t.chains.iter().collect()),
        Some(name) => match t.chains.iter().find(|c| c.name == name) {
            Some(c) => Ok(vec![c]),
            None => Err(kernel_error("No chain/target/match by that name")),
        },
    }
}

/// One table as `iptables-save` prints it: chain counters always, rule counters never
/// (those need `-c`, which the simulator does not offer).
pub(crate) fn save_table(t: &TableState) -> String {
    let mut out = format!("*{}\n", t.table);
    for c in &t.chains {
        let policy = c.policy.map_or("-", |p| p.name());
        let k = c.policy_counters;
        writeln!(out, ":{} {} [{}:{}]", c.name, policy, k.packets, k.bytes).unwrap();
    }
    for c in &t.chains {
        for e in &c.rules {
            writeln!(out, "-A {} {}", c.name, rule_spec(&e.rule)).unwrap();
        }
    }
    out.push_str("COMMIT\n");
    out
}

/// The rule part of `-A CHAIN …` in canonical order.
pub(crate) fn rule_spec(r: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    let neg = |inverted: bool| if inverted { "! " } else { "" };
    if let Some(s) = &r.src {
        parts.push(format!("{}-s {}/{}", neg(s.inverted), s.value.addr, s.value.prefix));
    }
    if let Some(d) = &r.dst {
        parts.push(format!("{}-d {}/{}", neg(d.inverted), d.value.addr, d.value.prefix));
    }
    if let Some(i) = &r.in_iface {
        parts.push(format!("{}-i {}", neg(i.inverted), i.value));
    }
    if let Some(o) = &r.out_iface {
        parts.push(format!("{}-o {}", neg(o.inverted), o.value));
    }
    if let Some(p) = &r.proto {
        parts.push(format!("{}-p {}", neg(p.inverted), p.value.name()));
    }
    for m in &r.matches {
        parts.push(format!("-m {}{}", m.name(), match_save(m)));
    }
    if r.target != Target::None {
        parts.push(format!("-j {}{}", r.target.name(), target_save(&r.target)));
    }
    parts.join(" ")
}

fn neg_opt(inverted: bool, opt: &str) -> String {
    if inverted {
        format!(" ! {opt}")
    } else {
        format!(" {opt}")
    }
}

fn ports(r: PortRange) -> String {
    if r.lo == r.hi {
        r.lo.to_string()
    } else {
        format!("{}:{}", r.lo, r.hi)
    }
}

fn names(set: NameSet, table: &[&str]) -> String {
    let words: Vec<&str> = (0..table.len()).filter(|i| set.has(*i)).map(|i| table[i]).collect();
    words.join(",")
}

fn mark(value: u32, mask: u32) -> String {
    if mask == u32::MAX {
        format!("{value:#x}")
    } else {
        format!("{value:#x}/{mask:#x}")
    }
}

/// The options a match's `save` prints, each with a leading space.
fn match_save(m: &Match) -> String {
    let mut s = String::new();
    match m {
        Match::Tcp(pm) | Match::Udp(pm) => {
            for (opt, p) in [("--sport", pm.sport), ("--dport", pm.dport)] {
                if let Some(p) = p {
                    write!(s, "{} {}", neg_opt(p.inverted, opt), ports(p.value)).unwrap();
                }
            }
        }
        Match::Icmp(Some(t)) => {
            write!(s, "{} {}", neg_opt(t.inverted, "--icmp-type"), icmp_save(t.value)).unwrap()
        }
        Match::AddrType { src, dst } => {
            for (opt, set) in [("--src-type", src), ("--dst-type", dst)] {
                if let Some(set) = set {
                    let words = names(set.value, &ADDR_TYPES);
                    write!(s, "{} {words}", neg_opt(set.inverted, opt)).unwrap();
                }
            }
        }
        Match::Conntrack(Some(st)) => {
            write!(s, "{} {}", neg_opt(st.inverted, "--ctstate"), names(st.value, &CT_STATES))
                .unwrap()
        }
        Match::State(Some(st)) => {
            write!(s, "{} {}", neg_opt(st.inverted, "--state"), names(st.value, &CT_STATES))
                .unwrap()
        }
        Match::Mark(Some(mk)) => {
            write!(s, "{} {}", neg_opt(mk.inverted, "--mark"), mark(mk.value.0, mk.value.1))
                .unwrap()
        }
        Match::Comment(Some(c)) => write!(s, " --comment {}", quote(c)).unwrap(),
        Match::U32(Some(e)) => {
            write!(s, "{} \"{}\"", neg_opt(e.inverted, "--u32"), e.value).unwrap()
        }
        // libxt_ipvs's ipvs_mt_dump with the "--" prefix.
        Match::Ipvs(Some(n)) => s.push_str(&neg_opt(n.inverted, "--ipvs")),
        _ => {}
    }
    s
}

fn icmp_save(t: IcmpType) -> String {
    if t.icmp_type == 255 {
        return "any".into();
    }
    match (t.code_min, t.code_max) {
        (0, 255) => t.icmp_type.to_string(),
        (lo, hi) if lo == hi => format!("{}/{lo}", t.icmp_type),
        (lo, hi) => format!("{}/{lo}-{hi}", t.icmp_type),
    }
}

/// `xtables_save_string`: quoted only when the shell would need it.
fn quote(s: &str) -> String {
    let plain =
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._/:+=@,".contains(c));
    if plain {
        return s.to_string();
    }
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

fn nat_range(r: &NatRange) -> String {
    let mut s = String::new();
    if let Some((lo, hi)) = r.addrs {
        if lo == hi {
            write!(s, "{lo}").unwrap();
        } else {
            write!(s, "{lo}-{hi}").unwrap();
        }
    }
    if let Some(p) = r.ports {
        write!(s, ":{}", dash_ports(p)).unwrap();
    }
    s
}

fn dash_ports(p: PortRange) -> String {
    if p.lo == p.hi {
        p.lo.to_string()
    } else {
        format!("{}-{}", p.lo, p.hi)
    }
}

/// The options a target's `save` prints.
fn target_save(t: &Target) -> String {
    match t {
        Target::Dnat(r) => format!(" --to-destination {}", nat_range(r)),
        Target::Snat(r) => format!(" --to-source {}", nat_range(r)),
        Target::Masquerade(Some(p)) | Target::Redirect(Some(p)) => {
            format!(" --to-ports {}", dash_ports(*p))
        }
        Target::Mark { value, mask } => format!(" --set-xmark {value:#x}/{mask:#x}"),
        _ => String::new(),
    }
}

/// What a target's `print` adds in `-L` (with its leading space), e.g. ` to:172.17.0.2:80`.
pub(crate) fn target_print(t: &Target) -> String {
    match t {
        Target::Dnat(r) | Target::Snat(r) => format!(" to:{}", nat_range(r)),
        Target::Masquerade(Some(p)) => format!(" masq ports: {}", dash_ports(*p)),
        Target::Redirect(Some(p)) => format!(" redir ports {}", dash_ports(*p)),
        Target::Mark { value, mask } if *mask == u32::MAX => format!(" MARK set {value:#x}"),
        Target::Mark { value, mask } => format!(" MARK xset {value:#x}/{mask:#x}"),
        _ => String::new(),
    }
}

/// What a match's `print` adds in `-L` (with its leading space).
fn match_print(m: &Match) -> String {
    let bang = |inv: bool| if inv { "!" } else { "" };
    let mut s = String::new();
    match m {
        Match::Tcp(pm) | Match::Udp(pm) => {
            s.push_str(if matches!(m, Match::Tcp(_)) { " tcp" } else { " udp" });
            for (word, p) in [("spt", pm.sport), ("dpt", pm.dport)] {
                if let Some(p) = p {
                    let plural = if p.value.lo == p.value.hi { "" } else { "s" };
                    write!(s, " {word}{plural}:{}{}", bang(p.inverted), ports(p.value)).unwrap();
                }
            }
        }
        Match::Icmp(Some(t)) => {
            let inv = if t.inverted { " !" } else { "" };
            write!(s, " icmp{inv}type {}", t.value.icmp_type).unwrap();
            match (t.value.code_min, t.value.code_max) {
                (0, 255) => {}
                (lo, hi) if lo == hi => write!(s, " code {lo}").unwrap(),
                (lo, hi) => write!(s, " codes {lo}-{hi}").unwrap(),
            }
        }
        Match::AddrType { src, dst } => {
            s.push_str(" ADDRTYPE match");
            for (word, set) in [("src-type", src), ("dst-type", dst)] {
                if let Some(set) = set {
                    let words = names(set.value, &ADDR_TYPES);
                    write!(s, " {word} {}{words}", bang(set.inverted)).unwrap();
                }
            }
        }
        Match::Conntrack(Some(st)) | Match::State(Some(st)) => {
            let word = if matches!(m, Match::State(_)) { "state" } else { "ctstate" };
            let inv = if st.inverted { " !" } else { "" };
            write!(s, "{inv} {word} {}", names(st.value, &CT_STATES)).unwrap();
        }
        Match::Mark(Some(mk)) => {
            let inv = if mk.inverted { " !" } else { "" };
            write!(s, " mark match{inv} {}", mark(mk.value.0, mk.value.1)).unwrap();
        }
        Match::Comment(Some(c)) => write!(s, " /* {c} */").unwrap(),
        Match::U32(Some(e)) => {
            let inv = if e.inverted { " !" } else { "" };
            write!(s, " u32{inv} \"{}\"", e.value).unwrap();
        }
        // ipvs_mt_dump with no prefix: ` ipvs`, ` ! ipvs` when inverted.
        Match::Ipvs(Some(n)) => s.push_str(if n.inverted { " ! ipvs" } else { " ipvs" }),
        _ => {}
    }
    s
}

/// `xtables_print_num` in table form.
fn print_num(n: u64, opts: ListOpts) -> String {
    if opts.exact {
        return format!("{n:>8} ");
    }
    if n <= 99999 {
        return format!("{n:>5} ");
    }
    let mut v = n;
    for unit in ["K", "M", "G"] {
        v = (v + 500) / 1000;
        if v <= 9999 {
            return format!("{v:>4}{unit} ");
        }
    }
    format!("{:>4}T ", (v + 500) / 1000)
}

/// `xtables_print_num` in header form (`123K packets`).
fn header_num(n: u64, opts: ListOpts) -> String {
    print_num(n, opts).trim_start().to_string()
}

/// `iptables -L [-n] [-v] [-x] [--line-numbers] [CHAIN [N]]`.
pub(crate) fn list(
    t: &TableState,
    chain: Option<&str>,
    num: Option<usize>,
    opts: ListOpts,
) -> Result<String, IptablesError> {
    let chains = selected(t, chain)?;
    let mut out = String::new();
    for (i, c) in chains.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if num.is_none() {
            out.push_str(&header(t, c, opts));
        }
        for (n, e) in c.rules.iter().enumerate() {
            if num.is_none_or(|want| want == n + 1) {
                out.push_str(&row(e, n + 1, opts));
            }
        }
    }
    Ok(out)
}

fn header(t: &TableState, c: &Chain, opts: ListOpts) -> String {
    let mut s = format!("Chain {}", c.name);
    match c.policy {
        Some(p) if opts.verbose => {
            let k = c.policy_counters;
            let (pk, by) = (header_num(k.packets, opts), header_num(k.bytes, opts));
            writeln!(s, " (policy {} {pk}packets, {by}bytes)", p.name()).unwrap();
        }
        Some(p) => writeln!(s, " (policy {})", p.name()).unwrap(),
        None => writeln!(s, " ({} references)", t.references(&c.name)).unwrap(),
    }
    if opts.line_numbers {
        s.push_str("num  ");
    }
    if opts.verbose {
        s.push_str(if opts.exact { "    pkts      bytes " } else { " pkts bytes " });
    }
    s.push_str("target     prot opt ");
    if opts.verbose {
        s.push_str("in     out     ");
    }
    s.push_str("source               destination         \n");
    s
}

fn row(e: &RuleEntry, num: usize, opts: ListOpts) -> String {
    let r = &e.rule;
    let mut s = String::new();
    if opts.line_numbers {
        write!(s, "{num:<4} ").unwrap();
    }
    if opts.verbose {
        s.push_str(&print_num(e.counters.packets, opts));
        s.push_str(&print_num(e.counters.bytes, opts));
    }
    write!(s, "{:<9} ", r.target.name()).unwrap();
    let proto = r.proto.as_ref().map_or("all".to_string(), |p| p.value.name());
    let proto_inv = if r.proto.as_ref().is_some_and(|p| p.inverted) { '!' } else { ' ' };
    write!(s, "{proto_inv}{proto:<5}-- ").unwrap();
    if opts.verbose {
        let any = if opts.numeric { "*" } else { "any" };
        let iface = |i: &Option<Neg<String>>| match i {
            Some(n) => format!("{}{}", if n.inverted { "!" } else { "" }, n.value),
            None => any.to_string(),
        };
        write!(s, " {:<6} {:<6} ", iface(&r.in_iface), iface(&r.out_iface)).unwrap();
    }
    for a in [&r.src, &r.dst] {
        let inv = if a.as_ref().is_some_and(|a| a.inverted) { '!' } else { ' ' };
        write!(s, "{inv}{:<19} ", address(a.as_ref().map(|a| a.value), opts)).unwrap();
    }
    for m in &r.matches {
        s.push_str(&match_print(m));
    }
    s.push_str(&target_print(&r.target));
    s.push('\n');
    s
}

/// An address column: `0.0.0.0/0` (or `anywhere` without -n), `/32` left out.
fn address(c: Option<Cidr>, opts: ListOpts) -> String {
    let c = c.unwrap_or(Cidr::new(std::net::Ipv4Addr::UNSPECIFIED, 0));
    match c.prefix {
        0 if !opts.numeric => "anywhere".into(),
        32 => c.addr.to_string(),
        p => format!("{}/{p}", c.addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_use_kilo_mega_suffixes_like_xtables_print_num() {
        let k = ListOpts::default();
        assert_eq!(print_num(99999, k), "99999 ");
        assert_eq!(print_num(100000, k), " 100K ");
        assert_eq!(print_num(1234567890, k), "1235M ");
        assert_eq!(print_num(12345678901, k), "  12G ");
        assert_eq!(header_num(123456, k), "123K ");
        let x = ListOpts { exact: true, ..k };
        assert_eq!(print_num(100000, x), "  100000 ");
    }

    #[test]
    fn comments_are_quoted_only_when_needed() {
        assert_eq!(quote("foo"), "foo");
        assert_eq!(quote("hello world"), "\"hello world\"");
    }
}
