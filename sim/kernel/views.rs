//! Views: what `ip addr`, `ip link`, `ip route` and `brctl show` print for a namespace,
//! formatted as iproute2 and bridge-utils do. IPv6 is not modelled, so no `inet6` lines.

use std::fmt::Write;

use super::link::{Link, LinkKind};
use super::route::RouteProto;
use super::{Kernel, Netns, NsRef};

/// `ip link` (`with_addrs` false) or `ip addr` (true), optionally for one device.
pub fn ip_addr(
    kernel: &Kernel,
    ns: &NsRef,
    with_addrs: bool,
    dev: Option<&str>,
) -> Result<String, String> {
    let n = kernel.ns(ns).ok_or_else(|| format!("Cannot open network namespace \"{ns}\""))?;
    if let Some(d) = dev {
        if n.ifindex(d).is_none() {
            return Err(format!("Device \"{d}\" does not exist."));
        }
    }
    let mut out = String::new();
    for link in n.links.values().filter(|l| dev.is_none_or(|d| l.name == d)) {
        link_lines(&mut out, n, link, with_addrs);
        if with_addrs {
            addr_lines(&mut out, n, link);
        }
    }
    Ok(out)
}

/// The two lines every view starts a device with; `ip link` adds `mode DEFAULT`.
fn link_lines(out: &mut String, n: &Netns, link: &Link, with_addrs: bool) {
    let peer = link.peer().map(|(pns, pidx)| (pns != &n.name, *pidx));
    let name = match peer {
        Some((_, pidx)) => format!("{}@if{pidx}", link.name),
        None => link.name.clone(),
    };
    let master = link.master.map(|m| format!(" master {}", n.link(m).name)).unwrap_or_default();
    let (flags, state) = flags_and_state(n, link);
    let (qdisc, qlen) = match link.kind {
        LinkKind::Loopback => ("noqueue", " qlen 1000"),
        LinkKind::Ethernet => ("fq_codel", " qlen 1000"),
        _ => ("noqueue", ""),
    };
    let mode = if with_addrs { "" } else { " mode DEFAULT" };
    let _ = writeln!(
        out,
        "{}: {name}: <{flags}> mtu {} qdisc {qdisc}{master} state {state}{mode} group default{qlen}",
        link.ifindex, link.mtu
    );
    let netnsid = match peer {
        Some((true, _)) => format!(" link-netnsid {}", netnsid(n, link)),
        _ => String::new(),
    };
    match link.kind {
        LinkKind::Loopback => {
            out.push_str("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n")
        }
        _ => {
            let _ = writeln!(out, "    link/ether {} brd ff:ff:ff:ff:ff:ff{netnsid}", link.mac);
        }
    }
}

/// The id this namespace gives the namespace of a veth's peer: 0, 1, … in order of first
/// reference, as `ip link` shows after `link-netnsid`.
fn netnsid(n: &Netns, link: &Link) -> usize {
    let mut seen: Vec<&NsRef> = Vec::new();
    for l in n.links.values() {
        if let Some((pns, _)) = l.peer() {
            if pns != &n.name && !seen.contains(&pns) {
                seen.push(pns);
            }
        }
    }
    let target = &link.peer().expect("a veth").0;
    seen.iter().position(|p| *p == target).unwrap_or(0)
}

/// The flags in `<…>` and the operational state, as the kernel reports them.
fn flags_and_state(n: &Netns, link: &Link) -> (String, &'static str) {
    let carrier = match &link.kind {
        LinkKind::Bridge(_) => n.bridge_ports(link.ifindex).iter().any(|p| n.link(*p).up),
        LinkKind::Veth { peer: Some(_) } => true,
        LinkKind::Veth { peer: None } => false,
        LinkKind::Loopback | LinkKind::Ethernet => true,
    };
    let base = if link.kind == LinkKind::Loopback { "LOOPBACK" } else { "BROADCAST,MULTICAST" };
    match (link.up, carrier, &link.kind) {
        (false, _, _) => (base.to_string(), "DOWN"),
        (true, false, _) => (format!("NO-CARRIER,{base},UP"), "DOWN"),
        (true, true, LinkKind::Loopback) => (format!("{base},UP,LOWER_UP"), "UNKNOWN"),
        (true, true, _) => (format!("{base},UP,LOWER_UP"), "UP"),
    }
}

fn addr_lines(out: &mut String, n: &Netns, link: &Link) {
    for a in n.addrs.iter().filter(|a| a.dev == link.ifindex) {
        let scope = if a.net.addr().is_loopback() { "host" } else { "global" };
        let brd = if a.net.prefix_len() < 31 && !a.net.addr().is_loopback() {
            format!(" brd {}", a.net.broadcast())
        } else {
            String::new()
        };
        let _ = writeln!(out, "    inet {}{brd} scope {scope} {}", a.net, link.name);
        out.push_str("       valid_lft forever preferred_lft forever\n");
    }
}

/// `ip route`: the main table, ordered as the kernel dumps its FIB (by destination).
pub fn ip_route(kernel: &Kernel, ns: &NsRef) -> Result<String, String> {
    let n = kernel.ns(ns).ok_or_else(|| format!("Cannot open network namespace \"{ns}\""))?;
    let mut routes: Vec<_> = n.routes.routes.iter().collect();
    routes.sort_by_key(|r| (r.dst.network(), r.dst.prefix_len()));
    let mut out = String::new();
    for r in routes {
        let dst = if r.dst.prefix_len() == 0 { "default".to_string() } else { r.dst.to_string() };
        let via = r.via.map(|g| format!(" via {g}")).unwrap_or_default();
        let link = n.link(r.dev);
        let proto = match r.proto {
            RouteProto::Kernel => " proto kernel scope link",
            RouteProto::Boot => "",
        };
        let src = r.src.map(|s| format!(" src {s}")).unwrap_or_default();
        let (_, state) = flags_and_state(n, link);
        let linkdown = if state == "DOWN" { " linkdown" } else { "" };
        let _ = writeln!(out, "{dst}{via} dev {}{proto}{src}{linkdown}", link.name);
    }
    Ok(out)
}

/// `brctl show`, with bridge-utils' tab layout.
pub fn brctl_show(kernel: &Kernel, ns: &NsRef) -> String {
    let mut out = String::from("bridge name\tbridge id\t\tSTP enabled\tinterfaces\n");
    let Some(n) = kernel.ns(ns) else { return out };
    let mut bridges: Vec<&Link> = n.links.values().filter(|l| l.bridge().is_some()).collect();
    bridges.sort_by(|a, b| a.name.cmp(&b.name));
    for br in bridges {
        let id: String = br.mac.0.iter().map(|b| format!("{b:02x}")).collect();
        let _ = write!(out, "{}\t\t8000.{id}\tno\t\t", br.name);
        let mut ports: Vec<&str> =
            n.bridge_ports(br.ifindex).iter().map(|p| n.link(*p).name.as_str()).collect();
        ports.sort();
        match ports.split_first() {
            None => out.push('\n'),
            Some((first, rest)) => {
                let _ = writeln!(out, "{first}");
                for p in rest {
                    let _ = writeln!(out, "\t\t\t\t\t\t\t{p}");
                }
            }
        }
    }
    out
}
