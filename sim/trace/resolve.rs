//! Turning `--from` and `--to` into a place to probe from and an address to probe, in the
//! world as the scenario left it. Every way a user can get them wrong is a `TraceError`
//! with a hint.

use std::net::Ipv4Addr;

use crate::docker::{Container, Daemon};
use crate::engine::World;
use crate::kernel::process::ResolvConf;
use crate::kernel::NsRef;
use crate::scenario::Scenario;

use super::{Proto, TraceError};

/// Where the probe starts.
pub(super) enum Origin {
    /// An existing machine's namespace: a machine's root, or a container's.
    At { machine: usize, ns: NsRef, container: Option<String> },
    /// A temporary client at a free address of an underlay LAN (by scenario network index).
    Client { net: usize, ip: Ipv4Addr },
}

/// What the probe aims at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub ip: Ipv4Addr,
    /// `None` for ICMP.
    pub port: Option<u16>,
}

pub(super) fn origin(world: &World, scenario: &Scenario, text: &str) -> Result<Origin, TraceError> {
    if let Ok(ip) = text.parse::<Ipv4Addr>() {
        if let Some(machine) = machine_with_nic_addr(world, ip) {
            return Ok(Origin::At { machine, ns: NsRef::Root, container: None });
        }
        return free_lan_address(world, scenario, ip).map(|net| Origin::Client { net, ip });
    }
    if let Some(machine) = world.machine_index(text) {
        return Ok(Origin::At { machine, ns: NsRef::Root, container: None });
    }
    let (machine, c) = container(world, text, "--from")?;
    let ns = c.ns().ok_or_else(|| TraceError::NotRunning { name: text.to_string() })?;
    Ok(Origin::At { machine, ns, container: Some(c.id.clone()) })
}

/// The machine whose NIC (an underlay address) has `ip`.
fn machine_with_nic_addr(world: &World, ip: Ipv4Addr) -> Option<usize> {
    world.machines.iter().position(|m| {
        let root = m.kernel.root();
        ["eth0", "eth1"]
            .iter()
            .any(|nic| root.ifindex(nic).and_then(|i| root.primary_addr(i)) == Some(ip))
    })
}

/// The underlay network on which `ip` is a free host address.
fn free_lan_address(world: &World, scenario: &Scenario, ip: Ipv4Addr) -> Result<usize, TraceError> {
    let net = scenario.networks.iter().position(|n| {
        n.subnet.contains(&ip) && ip != n.subnet.network() && ip != n.subnet.broadcast()
    });
    let Some(net) = net else {
        return Err(TraceError::UnknownSource {
            name: ip.to_string(),
            hint: "an address as SRC must be a machine's or a free one on an underlay subnet \
                   (a temporary client is put there)"
                .to_string(),
        });
    };
    let taken = world.machines.iter().any(|m| m.kernel.root().is_local(ip))
        || scenario.networks[net].dns == Some(ip);
    if taken {
        return Err(TraceError::UnknownSource {
            name: ip.to_string(),
            hint: "that address is in use on the LAN but not a machine's NIC; name the container"
                .to_string(),
        });
    }
    Ok(net)
}

/// A container by name, ID (prefix), or task `<service>.<slot>`, on any Docker host.
fn container<'w>(
    world: &'w World,
    text: &str,
    flag: &'static str,
) -> Result<(usize, &'w Container), TraceError> {
    let task = format!("{text}.");
    let mut found = world.machines.iter().enumerate().filter_map(|(i, m)| {
        let d = m.daemon.as_ref().filter(|_| !m.crashed)?;
        let c = d.container(text).or_else(|| d.containers().find(|c| c.name.starts_with(&task)));
        c.map(|c| (i, c))
    });
    match (found.next(), found.next()) {
        (Some(hit), None) => Ok(hit),
        (Some(_), Some(_)) => Err(TraceError::Ambiguous { flag, name: text.to_string() }),
        (None, _) => Err(unknown(world, flag, text)),
    }
}

fn unknown(world: &World, flag: &'static str, text: &str) -> TraceError {
    let mut names: Vec<String> = world.machines.iter().map(|m| m.name.clone()).collect();
    for d in world.machines.iter().filter_map(|m| m.daemon.as_ref()) {
        names.extend(d.containers().filter(|c| c.ns().is_some()).map(|c| c.name.clone()));
    }
    let hint = format!("known here: {}", names.join(", "));
    if flag == "--from" {
        TraceError::UnknownSource { name: text.to_string(), hint }
    } else {
        TraceError::UnknownTarget { name: text.to_string(), hint }
    }
}

/// `NAME`, `IP`, `NAME:PORT` or `IP:PORT`, seen from the source (for a container, its
/// address on a network the source shares). Without a port, TCP and UDP aim at the
/// destination's lowest listening port.
pub(super) fn target(
    world: &World,
    text: &str,
    from: Option<(usize, &str)>,
    proto: Proto,
) -> Result<Target, TraceError> {
    let (host, port) = split_port(text)?;
    let (ip, place) = match host.parse::<Ipv4Addr>() {
        Ok(ip) => (ip, owner_of(world, ip)),
        Err(_) => named(world, host, from)?,
    };
    let port = match (proto, port) {
        (Proto::Icmp, Some(_)) => return Err(TraceError::IcmpPort),
        (Proto::Icmp, None) => None,
        (_, Some(p)) => Some(p),
        (_, None) => Some(
            place
                .and_then(|(m, ns)| lowest_port(world, (m, &ns), ip, proto))
                .ok_or_else(|| TraceError::NoPort { target: text.to_string() })?,
        ),
    };
    Ok(Target { ip, port })
}

fn split_port(text: &str) -> Result<(&str, Option<u16>), TraceError> {
    match text.rsplit_once(':') {
        None => Ok((text, None)),
        Some((host, port)) => match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok((host, Some(p))),
            _ => Err(TraceError::BadPort { text: text.to_string() }),
        },
    }
}

/// A name's address and namespace: a machine's NIC address, or a container's.
fn named(
    world: &World,
    name: &str,
    from: Option<(usize, &str)>,
) -> Result<(Ipv4Addr, Option<(usize, NsRef)>), TraceError> {
    if let Some(m) = world.machine_index(name) {
        let root = world.machines[m].kernel.root();
        let ip = root.ifindex("eth0").and_then(|i| root.primary_addr(i));
        let ip = ip.expect("every machine has a NIC with an address");
        return Ok((ip, Some((m, NsRef::Root))));
    }
    let (m, c) = container(world, name, "--to")?;
    let d = world.machines[m].daemon.as_ref().expect("containers live on Docker hosts");
    let source = from.and_then(|(sm, id)| world.machines[sm].daemon.as_ref()?.container(id));
    let ip = address_seen_from(d, c, source)
        .ok_or_else(|| TraceError::NotRunning { name: name.to_string() })?;
    Ok((ip, c.ns().map(|ns| (m, ns))))
}

/// `target`'s address on a network `source` is attached to (overlay IDs are the same on
/// every host), else its first address.
fn address_seen_from(
    d: &Daemon,
    target: &Container,
    source: Option<&Container>,
) -> Option<Ipv4Addr> {
    let mine: Vec<&str> = source
        .map(|s| s.networks.iter().map(|a| a.network_id.as_str()).collect())
        .unwrap_or_default();
    let theirs = d.addresses(target);
    let shared = theirs.iter().find(|(net, _)| mine.contains(net));
    shared.or(theirs.first()).map(|(_, ip)| *ip)
}

/// Who owns an address: a running container with it (the first, host by host), else the
/// machine whose NIC has it.
fn owner_of(world: &World, ip: Ipv4Addr) -> Option<(usize, NsRef)> {
    for (i, m) in world.machines.iter().enumerate() {
        let Some(d) = m.daemon.as_ref() else { continue };
        let c = d.containers().find(|c| d.addresses(c).iter().any(|(_, a)| *a == ip));
        if let Some(ns) = c.and_then(|c| c.ns()) {
            return Some((i, ns));
        }
    }
    machine_with_nic_addr(world, ip).map(|m| (m, NsRef::Root))
}

/// The lowest port a socket listens on for `ip` (bound to it or to 0.0.0.0).
fn lowest_port(
    world: &World,
    (machine, ns): (usize, &NsRef),
    ip: Ipv4Addr,
    proto: Proto,
) -> Option<u16> {
    let want = if proto == Proto::Udp { "udp" } else { "tcp" };
    let listeners = world.machines[machine].kernel.ns(ns)?.sockets.listeners();
    let takes = |addr: Ipv4Addr| addr.is_unspecified() || addr == ip;
    listeners.iter().filter(|l| l.0 == want && takes(l.1)).map(|l| l.2).min()
}

/// The probe's source address and resolver for an existing machine or container.
pub(super) fn resolv_conf(world: &World, machine: usize, container: Option<&str>) -> ResolvConf {
    let m = &world.machines[machine];
    match container.and_then(|id| Some((m.daemon.as_ref()?, id))) {
        Some((d, id)) => d.container(id).map(|c| d.resolv_conf(c)).unwrap_or_default(),
        None => ResolvConf { nameservers: m.nameservers.clone(), hosts: vec![] },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_follows_the_last_colon_and_must_be_1_to_65535() {
        assert_eq!(split_port("172.16.24.5:8080"), Ok(("172.16.24.5", Some(8080))));
        assert_eq!(split_port("web-service.1"), Ok(("web-service.1", None)));
        for bad in ["host-B:0", "host-B:65536", "host-B:http", "host-B:"] {
            assert_eq!(split_port(bad), Err(TraceError::BadPort { text: bad.to_string() }));
        }
    }
}
