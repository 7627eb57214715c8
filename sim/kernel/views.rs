//! Views: what `ip addr`, `ip link`, `ip route`, `ip neigh`, `brctl show` and
//! `bridge fdb show` print for a namespace, formatted as iproute2 and bridge-utils do, and
//! the kind line of `ip -d link show` for a VXLAN, macvlan or VLAN device. IPv6 is not modelled, so no
//! `inet6` lines and no IPv6 multicast FDB entries. The formats were checked against
//! iproute2 6.1 on Linux 6.18 with a VXLAN device moved into another namespace, as Docker
//! moves its overlay devices.

use std::fmt::Write;

use crate::engine::SimTime;

use super::link::{Link, LinkKind, BRIDGE_AGEING_TIME};
use super::neigh::NeighState;
use super::route::RouteProto;
use super::vxlan::VXLAN_AGEING_TIME;
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
    // A VXLAN device away from its socket's namespace names itself as the link, as the
    // kernel reports it (`vxlan0@if3` for ifindex 3).
    let peer = match &link.kind {
        LinkKind::Vxlan(v) => (v.socket_ns != n.name).then_some((true, link.ifindex)),
        LinkKind::Macvlan(_) | LinkKind::Vlan(_) => {
            link.lower().map(|(lns, lidx)| (lns != &n.name, *lidx))
        }
        _ => link.peer().map(|(pns, pidx)| (pns != &n.name, *pidx)),
    };
    let name = match peer {
        // A stacked device names a lower device in its own namespace (`eth0.10@eth0`).
        Some((false, lidx)) if link.lower().is_some() => {
            format!("{}@{}", link.name, n.link(lidx).name)
        }
        Some((_, pidx)) => format!("{}@if{pidx}", link.name),
        None => link.name.clone(),
    };
    let master = link.master.map(|m| format!(" master {}", n.link(m).name)).unwrap_or_default();
    let (flags, state) = flags_and_state(n, link);
    let (qdisc, qlen) = match link.kind {
        // Stacked devices keep the default queue length but have no qdisc of their own.
        LinkKind::Loopback | LinkKind::Vxlan(_) | LinkKind::Macvlan(_) | LinkKind::Vlan(_) => {
            ("noqueue", " qlen 1000")
        }
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

/// The id this namespace gives the namespace of a veth's peer or of a VXLAN device's
/// socket: 0, 1, … in order of first reference, as `ip link` shows after `link-netnsid`.
fn netnsid(n: &Netns, link: &Link) -> usize {
    let mut seen: Vec<&NsRef> = Vec::new();
    for l in n.links.values() {
        if let Some(pns) = l.link_netns() {
            if pns != &n.name && !seen.contains(&pns) {
                seen.push(pns);
            }
        }
    }
    let target = link.link_netns().expect("a veth or a VXLAN device");
    seen.iter().position(|p| *p == target).unwrap_or(0)
}

/// The flags in `<…>` and the operational state, as the kernel reports them.
fn flags_and_state(n: &Netns, link: &Link) -> (String, &'static str) {
    let carrier = match &link.kind {
        LinkKind::Bridge(_) => n.bridge_ports(link.ifindex).iter().any(|p| n.link(*p).up),
        LinkKind::Veth { peer: Some(_) } => true,
        LinkKind::Veth { peer: None } => false,
        LinkKind::Loopback | LinkKind::Ethernet | LinkKind::Vxlan(_) => true,
        // The LAN's NICs never lose their carrier, so neither do the devices on them.
        LinkKind::Macvlan(_) | LinkKind::Vlan(_) => true,
    };
    let base = if link.kind == LinkKind::Loopback { "LOOPBACK" } else { "BROADCAST,MULTICAST" };
    match (link.up, carrier, &link.kind) {
        (false, _, _) => (base.to_string(), "DOWN"),
        (true, false, _) => (format!("NO-CARRIER,{base},UP"), "DOWN"),
        // Neither reports an operational state of its own.
        (true, true, LinkKind::Loopback | LinkKind::Vxlan(_)) => {
            (format!("{base},UP,LOWER_UP"), "UNKNOWN")
        }
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

/// `route -n` (net-tools, and busybox's identical applet): the main table as
/// `/proc/net/route` lists it, in the same order as `ip route`.
pub fn route_n(kernel: &Kernel, ns: &NsRef) -> Result<String, String> {
    let n = kernel.ns(ns).ok_or_else(|| format!("Cannot open network namespace \"{ns}\""))?;
    let mut routes: Vec<_> = n.routes.routes.iter().collect();
    routes.sort_by_key(|r| (r.dst.network(), r.dst.prefix_len()));
    let mut out = String::from("Kernel IP routing table\n");
    out.push_str("Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n");
    for r in routes {
        let gateway = r.via.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        let mut flags = String::from("U");
        if r.via.is_some() {
            flags.push('G');
        }
        if r.dst.prefix_len() == 32 {
            flags.push('H');
        }
        let (dst, mask, dev) = (r.dst.network(), r.dst.netmask(), &n.link(r.dev).name);
        let _ = writeln!(
            out,
            "{dst:<15} {gateway:<15} {mask:<15} {flags:<5} {:<6} {:<3} {:>6} {dev}",
            0, 0, 0
        );
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

/// What `bridge fdb show` selects: `br BRIDGE` and/or `brport|dev DEVICE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdbFilter {
    pub bridge: Option<String>,
    pub dev: Option<String>,
}

/// The IPv4 all-hosts group every up multicast device joins (224.0.0.1).
const ALL_HOSTS_MAC: &str = "01:00:5e:00:00:01";
/// The multicast router discovery group a bridge joins (224.0.0.106, RFC 4286).
const MRD_MAC: &str = "01:00:5e:00:00:6a";

/// `bridge fdb show`, in the kernel's dump order: device by device; a bridge's own
/// multicast (`self`) entries, then its local entry; for a port, learned entries newest
/// first, its local entry, then its `self` entries. IPv6 is not modelled, so the
/// `33:33:…` entries a real host also lists are absent.
pub fn bridge_fdb(
    kernel: &Kernel,
    ns: &NsRef,
    now: SimTime,
    filter: &FdbFilter,
) -> Result<String, String> {
    let n = kernel.ns(ns).ok_or_else(|| format!("Cannot open network namespace \"{ns}\""))?;
    let bridge = match &filter.bridge {
        Some(b) => Some(n.ifindex(b).ok_or_else(|| format!("Cannot find bridge device \"{b}\""))?),
        None => None,
    };
    if let Some(d) = &filter.dev {
        n.ifindex(d).ok_or_else(|| format!("Cannot find device \"{d}\""))?;
    }
    let mut out = String::new();
    for link in n.links.values() {
        let in_bridge = bridge.is_none_or(|b| link.ifindex == b || link.master == Some(b));
        let selected = filter.dev.as_ref().is_none_or(|d| *d == link.name);
        if in_bridge && selected && link.kind != LinkKind::Loopback {
            let dev =
                if filter.dev.is_some() { String::new() } else { format!("dev {} ", link.name) };
            fdb_lines(&mut out, n, link, &dev, now);
        }
    }
    Ok(out)
}

fn fdb_lines(out: &mut String, n: &Netns, link: &Link, dev: &str, now: SimTime) {
    let self_groups: &[&str] =
        if link.bridge().is_some() { &[MRD_MAC, ALL_HOSTS_MAC] } else { &[ALL_HOSTS_MAC] };
    let self_lines = |out: &mut String| {
        if link.up {
            for g in self_groups {
                let _ = writeln!(out, "{g} {dev}self permanent");
            }
        }
    };
    if link.bridge().is_some() {
        self_lines(out);
        let _ = writeln!(out, "{} {dev}master {} permanent", link.mac, link.name);
        return;
    }
    if let Some(br) = link.master.map(|b| n.link(b)) {
        let fdb = &br.bridge().expect("masters are bridges").fdb;
        for (mac, e) in fdb.iter().rev().filter(|(_, e)| e.port == link.ifindex) {
            let state = if now.since(e.updated) >= BRIDGE_AGEING_TIME { "stale" } else { "" };
            let _ = writeln!(out, "{mac} {dev}master {} {state}", br.name);
        }
        let _ = writeln!(out, "{} {dev}master {} permanent", link.mac, br.name);
    }
    // A VXLAN device dumps its own FDB in place of the address lists other devices show.
    match link.vxlan() {
        Some(_) => vxlan_fdb_lines(out, n, link, dev, now),
        None => self_lines(out),
    }
}

/// `MAC dst VTEP [link-netnsid N] self permanent`; learned entries have no state word, and
/// the kernel deletes them when they age out.
fn vxlan_fdb_lines(out: &mut String, n: &Netns, link: &Link, dev: &str, now: SimTime) {
    let vx = link.vxlan().expect("a VXLAN device");
    let netnsid = if vx.socket_ns == n.name {
        String::new()
    } else {
        format!("link-netnsid {} ", netnsid(n, link))
    };
    for (mac, e) in &vx.fdb {
        if !e.permanent && now.since(e.updated) >= VXLAN_AGEING_TIME {
            continue;
        }
        let state = if e.permanent { "permanent" } else { "" };
        let _ = writeln!(out, "{mac} {dev}dst {} {netnsid}self {state}", e.dst);
    }
}

/// `ip neigh show [dev DEV]`: one line per entry, in the order they were made. Entries
/// stay REACHABLE once confirmed (the model has no STALE/DELAY/PROBE cycle).
pub fn ip_neigh(kernel: &Kernel, ns: &NsRef, dev: Option<&str>) -> Result<String, String> {
    let n = kernel.ns(ns).ok_or_else(|| format!("Cannot open network namespace \"{ns}\""))?;
    let only = match dev {
        Some(d) => Some(n.ifindex(d).ok_or_else(|| format!("Cannot find device \"{d}\""))?),
        None => None,
    };
    let mut out = String::new();
    for ((idx, ip), state) in &n.neigh.entries {
        if only.is_some_and(|o| o != *idx) {
            continue;
        }
        let dev =
            if only.is_some() { String::new() } else { format!("dev {} ", n.link(*idx).name) };
        let _ = match state {
            NeighState::Permanent { mac } => writeln!(out, "{ip} {dev}lladdr {mac} PERMANENT "),
            NeighState::Reachable { mac, .. } => writeln!(out, "{ip} {dev}lladdr {mac} REACHABLE "),
            NeighState::Incomplete { .. } => writeln!(out, "{ip} {dev}INCOMPLETE "),
            NeighState::Failed => writeln!(out, "{ip} {dev}FAILED "),
        };
    }
    Ok(out)
}

/// The `vxlan …` line `ip -d link show DEV` prints for a VXLAN device (newline included):
/// the settings Docker gives, and the kernel's defaults for the rest (`srcport 0 0`:
/// the local port range; `ttl auto`; `ageing 300`; `udpcsum`).
pub fn vxlan_details(kernel: &Kernel, ns: &NsRef, dev: &str) -> Result<String, String> {
    let n = kernel.ns(ns).ok_or_else(|| format!("Cannot open network namespace \"{ns}\""))?;
    let link = n.link_by_name(dev).ok_or_else(|| format!("Device \"{dev}\" does not exist."))?;
    let vx = link.vxlan().ok_or_else(|| format!("{dev} is not a VXLAN device"))?;
    let mut line = format!("    vxlan id {} srcport 0 0 dstport {} ", vx.vni, vx.dstport);
    let flags = [
        (!vx.learning, "nolearning "),
        (vx.proxy, "proxy "),
        (vx.l2miss, "l2miss "),
        (vx.l3miss, "l3miss "),
    ];
    flags.iter().filter(|(on, _)| *on).for_each(|(_, word)| line.push_str(word));
    let ageing = VXLAN_AGEING_TIME.as_nanos() / 1_000_000_000;
    line.push_str(&format!(
        "ttl auto ageing {ageing} udpcsum noudp6zerocsumtx noudp6zerocsumrx \n"
    ));
    Ok(line)
}

/// The kind line `ip -d link show DEV` prints for a macvlan or VLAN device (newline
/// included), as iproute2 6.1 prints it: `macvlan mode bridge bcqueuelen 1000
/// usedbcqueuelen 1000 `, `vlan protocol 802.1Q id 10 <REORDER_HDR> ` (the flags the
/// kernel sets by default).
pub fn link_details(kernel: &Kernel, ns: &NsRef, dev: &str) -> Result<String, String> {
    let n = kernel.ns(ns).ok_or_else(|| format!("Cannot open network namespace \"{ns}\""))?;
    let link = n.link_by_name(dev).ok_or_else(|| format!("Device \"{dev}\" does not exist."))?;
    match &link.kind {
        LinkKind::Macvlan(m) => {
            Ok(format!("    macvlan mode {} bcqueuelen 1000 usedbcqueuelen 1000 \n", m.mode))
        }
        LinkKind::Vlan(v) => Ok(format!("    vlan protocol 802.1Q id {} <REORDER_HDR> \n", v.id)),
        LinkKind::Vxlan(_) => vxlan_details(kernel, ns, dev),
        _ => Err(format!("{dev} is not a macvlan, VLAN or VXLAN device")),
    }
}
