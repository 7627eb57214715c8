//! Networks and their endpoints, the `docker network …` commands, and the embedded DNS's
//! view of them.

use std::cmp::Ordering;
use std::fmt;
use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::bridge::{self, BridgeConfig};
use super::cli::Parsed;
use super::daemon::Daemon;
use super::format::table;
use super::ipam::{self, AddrPool};
use super::{DockerOutcome, Proto};
use crate::engine::SimTime;
use crate::wire::MacAddr;

/// A network driver the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Bridge,
    Host,
    Null,
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
        })
    }
}

/// What the user passed to `network create` for IPAM (shown as-is by inspect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIpam {
    pub subnet: Ipv4Net,
    pub ip_range: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
}

/// One Docker network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: Driver,
    pub created: SimTime,
    /// The subnet's addresses (bridge networks).
    pub(crate) pool: Option<AddrPool>,
    pub gateway: Option<Ipv4Addr>,
    pub user_ipam: Option<UserIpam>,
    pub internal: bool,
    pub attachable: bool,
    pub options: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub(crate) bridge: Option<BridgeConfig>,
    pub default_bridge: bool,
    /// Endpoints by container ID, in join order.
    pub endpoints: IndexMap<String, Endpoint>,
}

/// A container's attachment to a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub container_id: String,
    /// The container's name: what the embedded DNS answers for.
    pub name: String,
    pub addr: Ipv4Net,
    pub mac: MacAddr,
    /// The host end of the veth pair.
    pub host_veth: String,
    /// `eth0`, `eth1`… inside the container.
    pub ifname: String,
    /// `--network-alias`/`--alias`, then the 12-digit short ID.
    pub aliases: Vec<String>,
    pub ports: Vec<Binding>,
}

/// A published port, as allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub proto: Proto,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

impl Network {
    pub(crate) fn builtin(id: String, name: &str, driver: Driver, created: SimTime) -> Network {
        Network {
            id,
            name: name.into(),
            driver,
            created,
            pool: None,
            gateway: None,
            user_ipam: None,
            internal: false,
            attachable: false,
            options: Vec::new(),
            labels: Vec::new(),
            bridge: None,
            default_bridge: false,
            endpoints: IndexMap::new(),
        }
    }

    /// `bridge`: docker0 with the daemon's default options (as `docker network inspect
    /// bridge` lists them).
    pub(crate) fn default_bridge(id: String, subnet: Ipv4Net, created: SimTime) -> Network {
        let mut pool = AddrPool::new(subnet, None);
        let gw = pool.request(None).expect("a fresh pool has a gateway address");
        let opts = [
            ("com.docker.network.bridge.default_bridge", "true"),
            ("com.docker.network.bridge.enable_icc", "true"),
            ("com.docker.network.bridge.enable_ip_masquerade", "true"),
            ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
            ("com.docker.network.bridge.name", "docker0"),
            ("com.docker.network.driver.mtu", "1500"),
        ];
        let mut n = Network::builtin(id, "bridge", Driver::Bridge, created);
        n.bridge = Some(BridgeConfig {
            bridge_name: "docker0".into(),
            bridge_addr: Ipv4Net::new(gw, subnet.prefix_len()).expect("prefix from a subnet"),
            icc: true,
            masquerade: true,
            internal: false,
            mtu: 1500,
        });
        n.options = opts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        n.pool = Some(pool);
        n.gateway = Some(gw);
        n.default_bridge = true;
        n
    }

    /// User-defined bridges get name resolution; the default bridge does not.
    pub fn is_user_defined_bridge(&self) -> bool {
        self.driver == Driver::Bridge && !self.default_bridge
    }

    pub fn subnet(&self) -> Option<Ipv4Net> {
        self.pool.as_ref().map(|p| p.subnet)
    }

    fn option(&self, key: &str) -> Option<&str> {
        self.options.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// `sortorder.NaturalLess`: digit runs compare as numbers.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    while !x.is_empty() && !y.is_empty() {
        let (dx, dy) = (x[0].is_ascii_digit(), y[0].is_ascii_digit());
        if dx && dy {
            let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
            let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
            let (sx, sy) = (&x[..nx], &y[..ny]);
            let tx: &[u8] = &sx[sx.iter().take_while(|c| **c == b'0').count()..];
            let ty: &[u8] = &sy[sy.iter().take_while(|c| **c == b'0').count()..];
            let ord = tx.len().cmp(&ty.len()).then(tx.cmp(ty)).then(nx.cmp(&ny));
            if ord != Ordering::Equal {
                return ord;
            }
            (x, y) = (&x[nx..], &y[ny..]);
        } else {
            if x[0] != y[0] {
                return x[0].cmp(&y[0]);
            }
            (x, y) = (&x[1..], &y[1..]);
        }
    }
    x.len().cmp(&y.len())
}

fn daemon_err(msg: impl fmt::Display) -> DockerOutcome {
    DockerOutcome::err(format!("Error response from daemon: {msg}\n"), 1)
}

fn cli_err(msg: impl fmt::Display) -> DockerOutcome {
    DockerOutcome::err(format!("{msg}\n"), 1)
}

/// IPAM input from `network create`, checked the way the CLI's `consolidateIpam` does.
fn user_ipam(p: &Parsed) -> Result<Option<UserIpam>, DockerOutcome> {
    let subnets = p.values("subnet");
    let (ranges, gws) = (p.values("ip-range"), p.values("gateway"));
    if subnets.len() > 1 || ranges.len() > 1 || gws.len() > 1 {
        return Err(cli_err("swarmsim: more than one subnet per network is not simulated"));
    }
    let Some(s) = subnets.first() else {
        if !ranges.is_empty() || !gws.is_empty() {
            return Err(cli_err("every ip-range or gateway must have a corresponding subnet"));
        }
        return Ok(None);
    };
    let subnet: Ipv4Net = s.parse().map_err(|_| cli_err(format!("invalid CIDR address: {s}")))?;
    let ip_range = match ranges.first() {
        None => None,
        Some(r) => {
            let n: Ipv4Net =
                r.parse().map_err(|_| cli_err(format!("invalid CIDR address: {r}")))?;
            if !subnet.contains(&n) {
                return Err(cli_err(format!("no matching subnet for range {r}")));
            }
            Some(n)
        }
    };
    let gateway = match gws.first() {
        None => None,
        Some(g) => {
            let ip: Ipv4Addr =
                g.parse().map_err(|_| cli_err(format!("invalid IP address: {g}")))?;
            if !subnet.contains(&ip) {
                return Err(cli_err(format!("no matching subnet for gateway {g}")));
            }
            Some(ip)
        }
    };
    Ok(Some(UserIpam { subnet, ip_range, gateway }))
}

fn check_driver(driver: &str) -> Result<(), DockerOutcome> {
    match driver {
        "bridge" => Ok(()),
        "host" | "null" => {
            Err(daemon_err(format!("only one instance of \"{driver}\" network is allowed")))
        }
        "macvlan" | "ipvlan" => {
            Err(cli_err(format!("swarmsim: the {driver} driver is not simulated")))
        }
        other => Err(daemon_err(format!("plugin \"{other}\" not found"))),
    }
}

/// `key=value` items; a bare key has an empty value (`opts.ConvertKVStringsToMap`).
pub(crate) fn key_values(items: Vec<&str>) -> Vec<(String, String)> {
    items
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect()
}

impl Daemon {
    pub(crate) fn cmd_network_create(&mut self, now: SimTime, p: &Parsed) -> DockerOutcome {
        let name = p.args[0].clone();
        if p.value("driver") == Some("overlay") {
            return match super::swarm::parse::overlay_network(p) {
                Ok(req) => self.swarm_request(now, req),
                Err(e) => DockerOutcome::err(format!("{}\n", e.message), e.exit_code),
            };
        }
        if let Err(e) = check_driver(p.value("driver").unwrap_or("bridge")) {
            return e;
        }
        let uipam = match user_ipam(p) {
            Ok(u) => u,
            Err(e) => return e,
        };
        if self.networks.values().any(|n| n.name == name) {
            return daemon_err(format!("network with name {name} already exists"));
        }
        let in_use: Vec<Ipv4Net> = self.networks.values().filter_map(Network::subnet).collect();
        let host: Vec<Ipv4Net> = self.host.interfaces.iter().map(|(_, n)| n.trunc()).collect();
        let subnet = match &uipam {
            Some(u) => ipam::check_user_pool(&u.subnet, &in_use).map(|_| u.subnet.trunc()),
            None => ipam::pick_pool(&in_use, &host),
        };
        let subnet = match subnet {
            Ok(s) => s,
            Err(e) => return daemon_err(e),
        };
        let id = self.new_id();
        let mut net = Network::builtin(id.clone(), &name, Driver::Bridge, now);
        let mut pool = AddrPool::new(subnet, uipam.as_ref().and_then(|u| u.ip_range));
        let gw = pool.request(uipam.as_ref().and_then(|u| u.gateway)).expect("gateway is free");
        net.options = key_values(p.values("opt"));
        net.labels = key_values(p.values("label"));
        net.internal = p.flag("internal");
        net.attachable = p.flag("attachable");
        net.bridge = Some(bridge_config(&net, &id, gw, subnet));
        (net.pool, net.gateway, net.user_ipam) = (Some(pool), Some(gw), uipam);
        let mut out = DockerOutcome::out(format!("{id}\n"));
        let cfg = net.bridge.clone().expect("set above");
        let mac = self.random_mac();
        bridge::create_network(&mut self.fw, &cfg, mac, &mut out.ops);
        bridge::arrange_user_chain(&mut self.fw, &mut out.ops);
        self.networks.insert(id, net);
        out
    }

    pub(crate) fn cmd_network_ls(&self, p: &Parsed) -> DockerOutcome {
        let mut nets: Vec<&Network> = self.networks.values().collect();
        nets.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        let id =
            |n: &Network| if p.flag("no-trunc") { n.id.clone() } else { n.id[..12].to_string() };
        if p.flag("quiet") {
            return DockerOutcome::out(nets.iter().map(|n| id(n) + "\n").collect::<String>());
        }
        let mut rows =
            vec![vec!["NETWORK ID".into(), "NAME".into(), "DRIVER".into(), "SCOPE".into()]];
        for n in nets {
            rows.push(vec![id(n), n.name.clone(), n.driver.to_string(), "local".into()]);
        }
        DockerOutcome::out(table(&rows))
    }

    pub(crate) fn cmd_network_rm(&mut self, p: &Parsed) -> DockerOutcome {
        let mut out = DockerOutcome::default();
        for key in &p.args {
            let Some(id) = self.network_id(key) else {
                out.stderr += &format!("Error: No such network: {key}\n");
                out.exit_code = 1;
                continue;
            };
            let net = &self.networks[&id];
            let err = if matches!(net.name.as_str(), "bridge" | "host" | "none") {
                Some(format!("{} is a pre-defined network and cannot be removed", net.name))
            } else if !net.endpoints.is_empty() {
                Some(format!(
                    "error while removing network: network {} id {} has active endpoints",
                    net.name, net.id
                ))
            } else {
                None
            };
            if let Some(e) = err {
                out.stderr += &format!("Error response from daemon: {e}\n");
                out.exit_code = 1;
                continue;
            }
            let net = self.networks.shift_remove(&id).expect("looked up above");
            let cfg = net.bridge.expect("only bridge networks can be user-defined");
            bridge::delete_network(&mut self.fw, &cfg, &mut out.ops);
            out.stdout += &format!("{key}\n");
        }
        out
    }

    /// Embedded DNS (127.0.0.11) for a container: the addresses for `name` on the first of
    /// the container's user-defined networks that knows it (container names, aliases, short
    /// IDs), sorted (the real resolver shuffles them per query). `None`: forward the query
    /// to the host's nameservers.
    pub fn resolve(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        let c = self.container(container_id)?;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        for att in &c.networks {
            let Some(net) = self.networks.get(&att.network_id) else { continue };
            if !net.is_user_defined_bridge() || !net.endpoints.contains_key(&c.id) {
                continue;
            }
            let bare = name.strip_suffix(&format!(".{}", net.name)).unwrap_or(&name);
            let mut ips: Vec<Ipv4Addr> = net
                .endpoints
                .values()
                .filter(|e| {
                    e.name.eq_ignore_ascii_case(bare)
                        || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(bare))
                })
                .map(|e| e.addr.addr())
                .collect();
            if !ips.is_empty() {
                ips.sort();
                return Some(ips);
            }
        }
        None
    }
}

/// The bridge driver configuration of a new user network, from its `-o` options.
fn bridge_config(net: &Network, id: &str, gw: Ipv4Addr, subnet: Ipv4Net) -> BridgeConfig {
    let flag = |k: &str| net.option(k).map(|v| v != "false").unwrap_or(true);
    BridgeConfig {
        bridge_name: net
            .option("com.docker.network.bridge.name")
            .map(String::from)
            .unwrap_or_else(|| format!("br-{}", &id[..12])),
        bridge_addr: Ipv4Net::new(gw, subnet.prefix_len()).expect("prefix from a subnet"),
        icc: flag("com.docker.network.bridge.enable_icc"),
        masquerade: flag("com.docker.network.bridge.enable_ip_masquerade") && !net.internal,
        internal: net.internal,
        mtu: net.option("com.docker.network.driver.mtu").and_then(|m| m.parse().ok()).unwrap_or(0),
    }
}

const HOST_CONFLICT: &str =
    "container cannot be disconnected from host network or connected to host network";
const NONE_CONFLICT: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";

impl Daemon {
    /// The network and container of a connect/disconnect, or the daemon's error.
    fn net_and_container(&self, p: &Parsed) -> Result<(String, String), DockerOutcome> {
        let (nkey, ckey) = (&p.args[0], &p.args[1]);
        let nid =
            self.network_id(nkey).ok_or_else(|| daemon_err(format!("network {nkey} not found")))?;
        let cid = self
            .container_id(ckey)
            .ok_or_else(|| daemon_err(format!("No such container: {ckey}")))?;
        let c = &self.containers[&cid];
        let drivers = || c.networks.iter().map(|a| self.networks[&a.network_id].driver);
        if self.networks[&nid].driver == Driver::Host || drivers().any(|d| d == Driver::Host) {
            return Err(daemon_err(HOST_CONFLICT));
        }
        Ok((nid, cid))
    }

    pub(crate) fn cmd_network_connect(&mut self, p: &Parsed) -> DockerOutcome {
        let (nid, cid) = match self.net_and_container(p) {
            Ok(x) => x,
            Err(e) => return e,
        };
        let c = &self.containers[&cid];
        let net = &self.networks[&nid];
        if c.networks.iter().any(|a| a.network_id == nid) {
            return daemon_err(format!(
                "endpoint with name {} already exists in network {}",
                c.name, net.name
            ));
        }
        let on_none =
            c.networks.iter().any(|a| self.networks[&a.network_id].driver == Driver::Null);
        if net.driver == Driver::Null || on_none {
            return daemon_err(NONE_CONFLICT);
        }
        let ip = match p.value("ip").map(str::parse::<Ipv4Addr>) {
            None => None,
            Some(Ok(ip)) => Some(ip),
            Some(Err(_)) => {
                return cli_err(format!("invalid IPv4 address: {}", p.value("ip").unwrap_or("")))
            }
        };
        let att = super::container::Attachment {
            network_id: nid.clone(),
            network_name: net.name.clone(),
            ip,
            aliases: p.values("alias").into_iter().map(String::from).collect(),
            ptr: 0,
        };
        if let Err(e) = self.validate_attachment(&att) {
            return daemon_err(e);
        }
        let att = super::container::Attachment { ptr: self.fake_pointer(), ..att };
        let mut out = DockerOutcome::default();
        if self.is_running(&cid) {
            let mut pl = super::endpoint::Plumbing::default();
            self.join(&cid, &att, Vec::new(), &mut pl);
            (out.ops, out.effects) = (pl.ops, pl.effects);
        }
        self.containers[&cid].networks.push(att);
        out
    }

    pub(crate) fn cmd_network_disconnect(&mut self, p: &Parsed) -> DockerOutcome {
        let (nid, cid) = match self.net_and_container(p) {
            Ok(x) => x,
            Err(e) => return e,
        };
        let Some(pos) = self.containers[&cid].networks.iter().position(|a| a.network_id == nid)
        else {
            let name = &self.networks[&nid].name;
            return daemon_err(format!("container {cid} is not connected to network {name}"));
        };
        let mut pl = super::endpoint::Plumbing::default();
        self.leave(&cid, &nid, &mut pl);
        self.containers[&cid].networks.remove(pos);
        DockerOutcome { ops: pl.ops, effects: pl.effects, ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers() {
        let mut v = vec!["net10", "net2", "bridge", "docker_gwbridge", "host"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["bridge", "docker_gwbridge", "host", "net2", "net10"]);
    }
}
