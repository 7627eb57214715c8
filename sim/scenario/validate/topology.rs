//! The underlay: networks, Docker hosts and external machines.
//!
//! Checks: names are well formed and unique (hosts and externals share one namespace, since
//! `on:` may name either); subnets parse, are network addresses and do not overlap; every
//! address parses, sits inside its network (or, for an external, behind a gateway) and is
//! not the subnet's own or broadcast address; no two machines or gateways share an address.

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::faults::{link_change, RawLink};
use super::{duration, Ctx};
use crate::docker::swarm::store::Os;
use crate::fabric::LinkParams;
use crate::scenario::error::{ErrorKind, ScenarioError};
use crate::scenario::model::*;
use crate::scenario::positions::Path;
use crate::scenario::raw::{RawExternal, RawHost, RawNetwork, RawOs, RawScenario, RawService};
use crate::scenario::suggest::did_you_mean;
use crate::scenario::values::{is_machine_name, MACHINE_NAME_EXPECTED};

/// The validated underlay, and lookups by name for the steps.
pub(crate) struct Topology {
    pub networks: Vec<Network>,
    pub hosts: Vec<Host>,
    pub externals: Vec<External>,
}

impl Topology {
    pub fn machine(&self, name: &str) -> Option<Machine> {
        if let Some(i) = self.hosts.iter().position(|h| h.name == name) {
            return Some(Machine::Host(HostId(i)));
        }
        self.externals.iter().position(|e| e.name == name).map(|i| Machine::External(ExternalId(i)))
    }

    pub fn machine_name(&self, machine: Machine) -> &str {
        match machine {
            Machine::Host(h) => &self.hosts[h.0].name,
            Machine::External(e) => &self.externals[e.0].name,
        }
    }

    /// The network called `name`, or an error at `path` with a did-you-mean hint.
    pub fn network(&self, name: &str, path: &Path, ctx: &Ctx) -> Result<NetId, ScenarioError> {
        named_network(name, path, self, ctx)
    }

    pub fn machine_names(&self) -> impl Iterator<Item = &str> {
        self.hosts
            .iter()
            .map(|h| h.name.as_str())
            .chain(self.externals.iter().map(|e| e.name.as_str()))
    }
}

/// Who holds each address so far, for collision messages ("host `a` (line 12)").
type Owners = IndexMap<Ipv4Addr, String>;

pub(crate) fn build(raw: &RawScenario, ctx: &Ctx) -> Result<Topology, ScenarioError> {
    let mut topology = Topology { networks: Vec::new(), hosts: Vec::new(), externals: Vec::new() };
    let mut owners = Owners::new();
    let nets_path = Path::root().key("underlay").key("networks");
    if raw.underlay.networks.is_empty() {
        let kind = ErrorKind::Step("the underlay has no networks".into());
        return Err(ctx.at_value(&nets_path, kind).expected("expected at least one network"));
    }
    for (i, net) in raw.underlay.networks.iter().enumerate() {
        let network = network(net, &nets_path.index(i), &topology.networks, &mut owners, ctx)?;
        topology.networks.push(network);
    }
    for (i, host) in raw.hosts.iter().enumerate() {
        let host =
            self::host(host, &Path::root().key("hosts").index(i), &topology, &mut owners, ctx)?;
        topology.hosts.push(host);
    }
    for (i, ext) in raw.externals.iter().enumerate() {
        let path = Path::root().key("externals").index(i);
        let external = external(ext, &path, &topology, &mut owners, ctx)?;
        topology.externals.push(external);
    }
    Ok(topology)
}

fn network(
    raw: &RawNetwork,
    path: &Path,
    earlier: &[Network],
    owners: &mut Owners,
    ctx: &Ctx,
) -> Result<Network, ScenarioError> {
    check_name(&raw.name, "network", earlier.iter().map(|n| n.name.as_str()), path, ctx)?;
    let subnet = subnet(&raw.subnet, &path.key("subnet"), ctx)?;
    if let Some(other) =
        earlier.iter().find(|n| n.subnet.contains(&subnet) || subnet.contains(&n.subnet))
    {
        let kind = ErrorKind::OverlappingSubnets {
            subnet: subnet.to_string(),
            other: other.subnet.to_string(),
            other_net: other.name.clone(),
        };
        return Err(ctx
            .at_value(&path.key("subnet"), kind)
            .expected("expected a subnet of its own"));
    }
    let gateway = match &raw.gateway {
        None => None,
        Some(text) => {
            let gw_path = path.key("gateway");
            let ip = address(text, &gw_path, ctx)?;
            let owner = format!("the gateway of network `{}`", raw.name);
            place_in_subnet(ip, &owner, subnet, &gw_path, ctx)?;
            claim(ip, owner, owners, &gw_path, ctx)?;
            Some(ip)
        }
    };
    let dns = match &raw.dns {
        None => gateway,
        Some(text) => Some(address(text, &path.key("dns"), ctx)?),
    };
    let given = RawLink {
        latency: raw.latency.as_deref(),
        jitter: raw.jitter.as_deref(),
        loss: raw.loss.as_ref(),
        bandwidth: raw.bandwidth.as_deref(),
    };
    let mut link = LinkParams::with_latency(DEFAULT_LAN_LATENCY);
    link.apply(&link_change(&given, path, ctx)?);
    Ok(Network { name: raw.name.clone(), subnet, gateway, dns, link })
}

fn host(
    raw: &RawHost,
    path: &Path,
    topo: &Topology,
    owners: &mut Owners,
    ctx: &Ctx,
) -> Result<Host, ScenarioError> {
    check_name(&raw.name, "host", topo.machine_names(), path, ctx)?;
    let ip = address(&raw.ip, &path.key("ip"), ctx)?;
    let owner = format!("host `{}`", raw.name);
    let net = match &raw.network {
        Some(name) => named_network(name, &path.key("network"), topo, ctx)?,
        None => containing_network(ip, &owner, topo)
            .map_err(|kind| ctx.at_value(&path.key("ip"), kind))?,
    };
    place_in_subnet(ip, &owner, topo.networks[net.0].subnet, &path.key("ip"), ctx)?;
    claim(ip, owner, owners, &path.key("ip"), ctx)?;
    let os = match raw.os {
        None | Some(RawOs::Linux) => Os::Linux,
        Some(RawOs::Windows) => Os::Windows,
    };
    Ok(Host { name: raw.name.clone(), ip, net, os })
}

fn external(
    raw: &RawExternal,
    path: &Path,
    topo: &Topology,
    owners: &mut Owners,
    ctx: &Ctx,
) -> Result<External, ScenarioError> {
    check_name(&raw.name, "external", topo.machine_names(), path, ctx)?;
    let ip = address(&raw.ip, &path.key("ip"), ctx)?;
    let owner = format!("external `{}`", raw.name);
    let place = placement(raw, ip, &owner, path, topo, ctx)?;
    if let Placement::Lan(net) = place {
        place_in_subnet(ip, &owner, topo.networks[net.0].subnet, &path.key("ip"), ctx)?;
    }
    claim(ip, owner, owners, &path.key("ip"), ctx)?;
    let mut serves: Vec<Service> = match &raw.serves {
        None => vec![Service::Ping],
        Some(list) => list.iter().map(|s| service(*s)).collect(),
    };
    serves.sort();
    serves.dedup();
    Ok(External { name: raw.name.clone(), ip, place, serves })
}

/// On a LAN when the IP is inside a subnet (the named one, if `network:` is given);
/// otherwise behind a gateway, which must exist and be unambiguous.
fn placement(
    raw: &RawExternal,
    ip: Ipv4Addr,
    owner: &str,
    path: &Path,
    topo: &Topology,
    ctx: &Ctx,
) -> Result<Placement, ScenarioError> {
    let named = match &raw.network {
        Some(name) => Some(named_network(name, &path.key("network"), topo, ctx)?),
        None => None,
    };
    let lan = match named {
        Some(net) => topo.networks[net.0].subnet.contains(&ip).then_some(net),
        None => containing_network(ip, owner, topo).ok(),
    };
    if let Some(net) = lan {
        for (key, given) in [("latency", raw.latency.is_some()), ("hops", raw.hops.is_some())] {
            if given {
                let kind =
                    ErrorKind::Step(format!("`{key}` applies only to externals behind a gateway"));
                let hint = Some(format!(
                    "{owner} is on the LAN `{}`, whose latency is set on the network",
                    topo.networks[net.0].name
                ));
                return Err(ctx.at_key(&path.key(key), kind).hint(hint));
            }
        }
        return Ok(Placement::Lan(net));
    }
    let via = gateway_network(named, ip, owner, path, topo, ctx)?;
    let latency = match &raw.latency {
        None => DEFAULT_INTERNET_LATENCY,
        Some(text) => duration(text, &path.key("latency"), ctx)?,
    };
    Ok(Placement::Internet { via, latency, hops: raw.hops.unwrap_or(DEFAULT_INTERNET_HOPS) })
}

/// The network whose gateway leads to an external outside every subnet: the named one, or
/// the only one that has a gateway.
fn gateway_network(
    named: Option<NetId>,
    ip: Ipv4Addr,
    owner: &str,
    path: &Path,
    topo: &Topology,
    ctx: &Ctx,
) -> Result<NetId, ScenarioError> {
    let candidates: Vec<NetId> = match named {
        Some(net) => vec![net],
        None => (0..topo.networks.len()).map(NetId).collect(),
    };
    let with_gateway: Vec<NetId> =
        candidates.iter().copied().filter(|n| topo.networks[n.0].gateway.is_some()).collect();
    let ip_path = path.key("ip");
    let (ip, owner) = (ip.to_string(), owner.to_string());
    match (with_gateway.as_slice(), candidates.as_slice()) {
        ([net], _) => Ok(*net),
        ([], [net]) => {
            let network = &topo.networks[net.0];
            let kind = ErrorKind::IpOutsideSubnet { ip, owner, subnet: network.subnet.to_string() };
            let hint = format!(
                "or add a `gateway:` to network `{}` to reach addresses outside it",
                network.name
            );
            let expected = format!("expected an address inside {}", network.subnet);
            Err(ctx.at_value(&ip_path, kind).expected(expected).hint(Some(hint)))
        }
        ([], _) => {
            let kind = ErrorKind::IpInNoNetwork { ip, owner };
            let hint =
                Some("or give a network a `gateway:` to reach addresses outside it".to_string());
            Err(ctx
                .at_value(&ip_path, kind)
                .expected("expected an address inside a subnet")
                .hint(hint))
        }
        _ => {
            let kind = ErrorKind::Step(format!(
                "{owner} is outside every subnet and several networks have a gateway"
            ));
            let hint = Some("add `network: NAME` to say which gateway leads to it".to_string());
            Err(ctx.at_value(&ip_path, kind).hint(hint))
        }
    }
}

fn service(raw: RawService) -> Service {
    match raw {
        RawService::Ping => Service::Ping,
        RawService::Http => Service::Http,
        RawService::Https => Service::Https,
        RawService::Dns => Service::Dns,
    }
}

/// Well formed and not taken by an earlier one of the same namespace.
fn check_name<'a>(
    name: &str,
    what: &'static str,
    mut taken: impl Iterator<Item = &'a str>,
    path: &Path,
    ctx: &Ctx,
) -> Result<(), ScenarioError> {
    let name_path = path.key("name");
    if !is_machine_name(name) {
        let kind = ErrorKind::Invalid { what: name_kind(what), text: name.to_string() };
        return Err(ctx.at_value(&name_path, kind).expected(MACHINE_NAME_EXPECTED));
    }
    if taken.any(|t| t == name) {
        let kind = ErrorKind::DuplicateName { what, name: name.to_string() };
        let hint =
            Some("names must be unique; hosts and externals share one set of names".to_string());
        return Err(ctx
            .at_value(&name_path, kind)
            .expected("expected a name not used above")
            .hint(hint));
    }
    Ok(())
}

fn name_kind(what: &str) -> &'static str {
    match what {
        "network" => "network name",
        "host" => "host name",
        _ => "external name",
    }
}

fn named_network(
    name: &str,
    path: &Path,
    topo: &Topology,
    ctx: &Ctx,
) -> Result<NetId, ScenarioError> {
    match topo.networks.iter().position(|n| n.name == name) {
        Some(i) => Ok(NetId(i)),
        None => {
            let kind = ErrorKind::Unknown { what: "network", name: name.to_string() };
            let hint = did_you_mean(name, topo.networks.iter().map(|n| n.name.as_str()));
            Err(ctx
                .at_value(path, kind)
                .expected("expected a network declared under `underlay: networks:`")
                .hint(hint))
        }
    }
}

/// The network whose subnet holds `ip` (subnets do not overlap, so there is at most one).
fn containing_network(ip: Ipv4Addr, owner: &str, topo: &Topology) -> Result<NetId, ErrorKind> {
    match topo.networks.iter().position(|n| n.subnet.contains(&ip)) {
        Some(i) => Ok(NetId(i)),
        None if topo.networks.len() == 1 => Err(ErrorKind::IpOutsideSubnet {
            ip: ip.to_string(),
            owner: owner.to_string(),
            subnet: topo.networks[0].subnet.to_string(),
        }),
        None => Err(ErrorKind::IpInNoNetwork { ip: ip.to_string(), owner: owner.to_string() }),
    }
}

/// Inside `subnet` and neither its network nor its broadcast address.
fn place_in_subnet(
    ip: Ipv4Addr,
    owner: &str,
    subnet: Ipv4Net,
    path: &Path,
    ctx: &Ctx,
) -> Result<(), ScenarioError> {
    if !subnet.contains(&ip) {
        let kind = ErrorKind::IpOutsideSubnet {
            ip: ip.to_string(),
            owner: owner.to_string(),
            subnet: subnet.to_string(),
        };
        let first = subnet.hosts().next().unwrap_or(subnet.network());
        return Err(ctx
            .at_value(path, kind)
            .expected(format!("expected an address inside {subnet}, like {first}")));
    }
    let reserved = subnet.prefix_len() < 31 && (ip == subnet.network() || ip == subnet.broadcast());
    if reserved {
        let role = if ip == subnet.network() { "network" } else { "broadcast" };
        let kind = ErrorKind::Invalid { what: "address", text: ip.to_string() };
        return Err(ctx.at_value(path, kind).expected(format!(
            "expected a usable address: {ip} is the {role} address of {subnet}"
        )));
    }
    Ok(())
}

fn claim(
    ip: Ipv4Addr,
    owner: String,
    owners: &mut Owners,
    path: &Path,
    ctx: &Ctx,
) -> Result<(), ScenarioError> {
    if let Some(other) = owners.get(&ip) {
        let kind = ErrorKind::IpInUse { ip: ip.to_string(), owner, other: other.clone() };
        return Err(ctx
            .at_value(path, kind)
            .expected("expected an address no other machine or gateway uses"));
    }
    owners.insert(ip, owner);
    Ok(())
}

fn address(text: &str, path: &Path, ctx: &Ctx) -> Result<Ipv4Addr, ScenarioError> {
    text.parse().map_err(|_| {
        let kind = ErrorKind::Invalid { what: "IPv4 address", text: text.to_string() };
        let hint = text
            .contains('/')
            .then(|| "drop the prefix length: a machine has one address".to_string());
        ctx.at_value(path, kind).expected("expected an IPv4 address, like `10.0.2.15`").hint(hint)
    })
}

fn subnet(text: &str, path: &Path, ctx: &Ctx) -> Result<Ipv4Net, ScenarioError> {
    let invalid = || ErrorKind::Invalid { what: "subnet", text: text.to_string() };
    let net: Ipv4Net = text.parse().map_err(|_| {
        let hint = (!text.contains('/')).then(|| format!("add a prefix length, like `{text}/24`"));
        ctx.at_value(path, invalid())
            .expected("expected an IPv4 network in CIDR notation, like `10.0.2.0/24`")
            .hint(hint)
    })?;
    if net != net.trunc() {
        let hint = Some(format!("did you mean `{}`?", net.trunc()));
        return Err(ctx
            .at_value(path, invalid())
            .expected("expected the network address: the host bits must be zero")
            .hint(hint));
    }
    Ok(net)
}
