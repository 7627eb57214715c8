//! Networks and their endpoints, the `docker network …` commands, and the embedded DNS's
//! view of them.
//!
//! The local networks live here; `ls`, `inspect` and `rm` also reach the swarm networks the
//! node sees ([`Daemon::swarm_networks`]), looked up after the local ones as the API router
//! does. `docker_gwbridge`, the bridge a node makes on entering a swarm, is made on the same
//! path as a `network create` bridge.

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
use super::render::Value;
use super::swarm::render as swarm_render;
use super::swarm::request::SwarmRequest;
use super::{DockerOutcome, Proto};
use crate::engine::SimTime;
use crate::kernel::KernelOp;
use crate::wire::MacAddr;

/// A network driver the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Bridge,
    Host,
    Null,
    /// A swarm overlay instantiated on this node; listed through the swarm's view.
    Overlay,
    /// Containers with their own MACs on a host interface (see `macvlan`).
    Macvlan,
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
            Driver::Overlay => "overlay",
            Driver::Macvlan => "macvlan",
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
    /// `IPAM.Options`: the map the API was given (the CLI always sends one), or `None`
    /// (`null`) for the networks the daemon makes itself.
    pub ipam_options: Option<Vec<(String, String)>>,
    pub internal: bool,
    pub attachable: bool,
    pub options: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub(crate) bridge: Option<BridgeConfig>,
    pub(crate) overlay: Option<super::overlay::OverlayConfig>,
    pub default_bridge: bool,
    /// Endpoints by container ID, in join order.
    pub endpoints: IndexMap<String, Endpoint>,
    /// A swarm overlay's load-balancer sandbox on this node; see `lb_sandbox`.
    pub(crate) lb: Option<super::lb_sandbox::LbSandbox>,
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
    /// The swarm overlay's load-balancer endpoint on this node (`lb-<name>`), if any.
    pub fn lb_endpoint(&self) -> Option<&Endpoint> {
        self.lb.as_ref().map(|sb| &sb.endpoint)
    }

    pub(crate) fn builtin(id: String, name: &str, driver: Driver, created: SimTime) -> Network {
        Network {
            id,
            name: name.into(),
            driver,
            created,
            pool: None,
            gateway: None,
            user_ipam: None,
            ipam_options: None,
            internal: false,
            attachable: false,
            options: Vec::new(),
            labels: Vec::new(),
            bridge: None,
            overlay: None,
            default_bridge: false,
            endpoints: IndexMap::new(),
            lb: None,
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

    /// A local network the user made: a user-defined bridge or a macvlan network (name
    /// resolution, aliases and `--ip` work on these).
    pub fn is_user_defined(&self) -> bool {
        self.is_user_defined_bridge() || self.driver == Driver::Macvlan
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

pub(crate) fn daemon_err(msg: impl fmt::Display) -> DockerOutcome {
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
        "bridge" | "macvlan" => Ok(()),
        "host" | "null" => {
            Err(daemon_err(format!("only one instance of \"{driver}\" network is allowed")))
        }
        "ipvlan" => Err(cli_err(format!("swarmsim: the {driver} driver is not simulated"))),
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

/// The bridge that connects swarm sandboxes to the host (libnetwork `libnGWNetwork`).
pub const GW_BRIDGE: &str = "docker_gwbridge";

/// A bridge network to create: from `network create`, or the daemon's own `docker_gwbridge`.
#[derive(Debug, Clone)]
struct BridgeSpec {
    name: String,
    ipam: Option<UserIpam>,
    ipam_options: Option<Vec<(String, String)>>,
    options: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    internal: bool,
    attachable: bool,
}

impl BridgeSpec {
    /// `docker_gwbridge` as libnetwork's `createGWNetwork` asks for it: no ICC, masquerading,
    /// the bridge device named after the network, everything else default.
    fn gateway_bridge() -> BridgeSpec {
        let options = [
            ("com.docker.network.bridge.enable_icc", "false"),
            ("com.docker.network.bridge.enable_ip_masquerade", "true"),
            ("com.docker.network.bridge.name", GW_BRIDGE),
        ];
        BridgeSpec {
            name: GW_BRIDGE.into(),
            ipam: None,
            ipam_options: None,
            options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            labels: Vec::new(),
            internal: false,
            attachable: false,
        }
    }
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
        let ipam = match user_ipam(p) {
            Ok(u) => u,
            Err(e) => return e,
        };
        let swarm_names = self.swarm_networks().into_iter().map(|n| &n.name);
        if self.networks.values().map(|n| &n.name).chain(swarm_names).any(|n| *n == name) {
            return daemon_err(format!("network with name {name} already exists"));
        }
        if p.value("driver") == Some("macvlan") {
            return self.cmd_macvlan_create(now, name, ipam, p);
        }
        let spec = BridgeSpec {
            name,
            ipam,
            ipam_options: Some(Vec::new()),
            options: key_values(p.values("opt")),
            labels: key_values(p.values("label")),
            internal: p.flag("internal"),
            attachable: p.flag("attachable"),
        };
        let mut out = DockerOutcome::default();
        match self.create_bridge_network(now, spec, &mut out.ops) {
            Ok(id) => out.stdout = format!("{id}\n"),
            Err(e) => return daemon_err(e),
        }
        out
    }

    /// A new bridge-driver network: its subnet (the user's, or the first free local pool),
    /// gateway, bridge device and iptables rules. Returns its ID.
    fn create_bridge_network(
        &mut self,
        now: SimTime,
        spec: BridgeSpec,
        ops: &mut Vec<KernelOp>,
    ) -> Result<String, ipam::IpamError> {
        let (pool, gw) = self.allocate_pool(spec.ipam.as_ref())?;
        let subnet = pool.subnet;
        let id = self.new_id();
        let mut net = Network::builtin(id.clone(), &spec.name, Driver::Bridge, now);
        (net.options, net.labels) = (spec.options, spec.labels);
        (net.internal, net.attachable) = (spec.internal, spec.attachable);
        net.bridge = Some(bridge_config(&net, &id, gw, subnet));
        (net.pool, net.gateway, net.user_ipam) = (Some(pool), Some(gw), spec.ipam);
        net.ipam_options = spec.ipam_options;
        let cfg = net.bridge.clone().expect("set above");
        let mac = self.random_mac();
        bridge::create_network(&mut self.fw, &cfg, mac, ops);
        bridge::arrange_user_chain(&mut self.fw, ops);
        self.networks.insert(id.clone(), net);
        Ok(id)
    }

    /// The address pool and gateway of a new local network: the user's subnet if it
    /// overlaps no other network's, else the first predefined pool clear of the networks'
    /// and the host's subnets.
    pub(crate) fn allocate_pool(
        &self,
        user: Option<&UserIpam>,
    ) -> Result<(AddrPool, Ipv4Addr), ipam::IpamError> {
        let in_use: Vec<Ipv4Net> = self.networks.values().filter_map(Network::subnet).collect();
        let host: Vec<Ipv4Net> = self.host.interfaces.iter().map(|(_, n)| n.trunc()).collect();
        let subnet = match user {
            Some(u) => ipam::check_user_pool(&u.subnet, &in_use).map(|_| u.subnet.trunc())?,
            None => ipam::pick_pool(&in_use, &host)?,
        };
        let mut pool = AddrPool::new(subnet, user.and_then(|u| u.ip_range));
        let gw = pool.request(user.and_then(|u| u.gateway)).expect("gateway is free");
        Ok((pool, gw))
    }

    /// `docker_gwbridge`, made when the node enters a swarm unless a network of that name
    /// exists: one left from an earlier swarm (`swarm leave` keeps it), or one the user made
    /// beforehand to choose its subnet. If no local pool is free, dockerd only logs the
    /// failure, and so does nothing here.
    pub(crate) fn ensure_gateway_bridge(&mut self, now: SimTime, ops: &mut Vec<KernelOp>) {
        if self.networks.values().any(|n| n.name == GW_BRIDGE) {
            return;
        }
        self.create_bridge_network(now, BridgeSpec::gateway_bridge(), ops).ok();
    }

    /// `docker network ls`: the swarm networks this node sees (the cluster's list comes
    /// first in the API answer), then the local ones, sorted by name as the CLI sorts.
    pub(crate) fn cmd_network_ls(&self, p: &Parsed) -> DockerOutcome {
        let no_trunc = p.flag("no-trunc");
        let mut rows: Vec<Vec<String>> = self
            .swarm_networks()
            .into_iter()
            .map(|n| swarm_render::swarm_network_ls_row(n, no_trunc))
            .collect();
        let local = self.networks.values().filter(|n| n.driver != Driver::Overlay);
        rows.extend(local.map(|n| local_ls_row(n, no_trunc)));
        rows.sort_by(|a, b| natural_cmp(&a[1], &b[1]));
        if p.flag("quiet") {
            return DockerOutcome::out(
                rows.iter().map(|r| format!("{}\n", r[0])).collect::<String>(),
            );
        }
        let header = ["NETWORK ID", "NAME", "DRIVER", "SCOPE"].map(String::from).to_vec();
        rows.insert(0, header);
        DockerOutcome::out(table(&rows))
    }

    /// `docker network rm`. Each name is looked up locally first, then among the swarm
    /// networks this node sees (the API router's `findUniqueNetwork`); swarm networks are
    /// removed through the cluster, which refuses on a worker.
    pub(crate) fn cmd_network_rm(&mut self, now: SimTime, p: &Parsed) -> DockerOutcome {
        let in_swarm: Vec<bool> = p
            .args
            .iter()
            .map(|k| self.network_id(k).is_none() && self.swarm_network(k).is_some())
            .collect();
        if in_swarm.iter().all(|s| *s) {
            return self.swarm_request(now, SwarmRequest::NetworkRm(p.args.clone()));
        }
        if in_swarm.iter().any(|s| *s) {
            return cli_err(
                "swarmsim: removing local and swarm networks in one command is not simulated",
            );
        }
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
            match net.bridge {
                Some(cfg) => bridge::delete_network(&mut self.fw, &cfg, &mut out.ops),
                None => self.delete_macvlan_network(&net, &mut out.ops),
            }
            out.stdout += &format!("{key}\n");
        }
        out
    }

    /// What `docker network inspect KEY` shows: a local network (the API router looks
    /// locally first), else a swarm network this node sees, as the cluster describes it.
    /// `docker network inspect`'s object: a local network, else a swarm network this node
    /// sees, from its own instance of it when it has one (the router prefers the daemon's
    /// view to the cluster's).
    pub(crate) fn network_inspect_value(&self, key: &str) -> Option<Value> {
        if let Some(n) = self.network(key) {
            return Some(self.network_value(n));
        }
        let net = self.swarm_network(key)?;
        let local = self.networks.get(&net.id).map(|n| self.local_instance(n));
        Some(swarm_render::swarm_network_value(net, local.as_ref()))
    }

    /// Embedded DNS (127.0.0.11) for a container: the addresses for `name` (or
    /// `name.<network>`) on the first of the container's user-defined networks that knows
    /// it, overlays before local networks (`ByNetworkType`). On an overlay the names are the
    /// service bindings (services, `tasks.<svc>`, task and container names from every node);
    /// on a bridge the local endpoints' names, aliases and short IDs, sorted. `None`:
    /// forward the query to the host's nameservers. The resolver shuffles the answer.
    pub fn resolve(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        let c = self.container(container_id)?;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let joined = c.networks.iter().filter_map(|att| self.networks.get(&att.network_id));
        let mut nets: Vec<&Network> = joined.filter(|n| n.endpoints.contains_key(&c.id)).collect();
        nets.sort_by_key(|n| n.driver != Driver::Overlay);
        nets.into_iter().find_map(|net| {
            let bare = name.strip_suffix(&format!(".{}", net.name)).unwrap_or(&name);
            let ips = match net.driver {
                Driver::Overlay => self.swarm.services.lookup(&net.id, bare),
                _ if net.is_user_defined() => local_names(net, bare),
                _ => Vec::new(),
            };
            (!ips.is_empty()).then_some(ips)
        })
    }
}

/// The local endpoints a bridge network's embedded DNS names `name`, sorted.
fn local_names(net: &Network, name: &str) -> Vec<Ipv4Addr> {
    let mut ips: Vec<Ipv4Addr> = net
        .endpoints
        .values()
        .filter(|e| {
            e.name.eq_ignore_ascii_case(name)
                || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
        .map(|e| e.addr.addr())
        .collect();
    ips.sort();
    ips
}

/// A local network's row in `docker network ls` (ID, NAME, DRIVER, SCOPE).
fn local_ls_row(n: &Network, no_trunc: bool) -> Vec<String> {
    let id = if no_trunc { n.id.clone() } else { n.id[..12].to_string() };
    vec![id, n.name.clone(), n.driver.to_string(), "local".into()]
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

pub(crate) const HOST_CONFLICT: &str =
    "container cannot be disconnected from host network or connected to host network";
pub(crate) const NONE_CONFLICT: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";

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
        // A stopped container may name an overlay no longer instantiated here.
        let drivers = || c.networks.iter().filter_map(|a| self.networks.get(&a.network_id));
        let drivers = || drivers().map(|n| n.driver);
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
        let on_none = c
            .networks
            .iter()
            .any(|a| self.networks.get(&a.network_id).map(|n| n.driver) == Some(Driver::Null));
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
pub(crate) mod tests {
    use super::*;
    use crate::docker::HostInfo;
    use crate::engine::{SimDuration, Streams};
    use crate::runner::command::check as check_command;
    use crate::{report, runner, scenario};

    fn daemon() -> Daemon {
        let host = HostInfo {
            hostname: "docker-host-1".into(),
            interfaces: vec![("eth0".into(), "172.16.24.4/24".parse().unwrap())],
            nameservers: vec![Ipv4Addr::new(168, 63, 129, 16)],
            os: crate::docker::swarm::store::Os::Linux,
            engine_version: "20.10.7".into(),
        };
        Daemon::start(host, Streams::new(7).stream("host/docker-host-1/docker")).0
    }

    fn run(d: &mut Daemon, secs: u64, line: &str) -> DockerOutcome {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        d.handle(SimTime::ZERO + SimDuration::from_secs(secs), &argv)
    }

    fn short(d: &Daemon, name: &str) -> String {
        d.network(name).expect("local network").id[..12].to_string()
    }

    #[test]
    fn swarm_init_makes_docker_gwbridge_as_lab_000_shows_it() {
        let mut d = daemon();
        let out = run(&mut d, 3, "swarm init --advertise-addr=172.16.24.4");
        assert_eq!(out.exit_code, 0, "{}", out.stderr);
        let ops: Vec<String> = d.take_swarm_io().ops.iter().map(|o| o.to_string()).collect();
        for want in [
            "ip link add docker_gwbridge type bridge",
            "ip addr add 172.18.0.1/16 dev docker_gwbridge",
            "iptables -t nat -I POSTROUTING -s 172.18.0.0/16 ! -o docker_gwbridge -j MASQUERADE",
            "iptables -A FORWARD -i docker_gwbridge -o docker_gwbridge -j DROP",
        ] {
            assert!(ops.iter().any(|o| o == want), "{want} missing from {ops:#?}");
        }
        let id = d.network(GW_BRIDGE).expect("created").id.clone();
        let json = run(&mut d, 4, "network inspect docker_gwbridge").stdout;
        let want = r#"[
    {
        "Name": "docker_gwbridge",
        "Id": "ID",
        "Created": "2021-07-08T10:00:03Z",
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [
                {
                    "Subnet": "172.18.0.0/16",
                    "Gateway": "172.18.0.1"
                }
            ]
        },
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {
            "Network": ""
        },
        "ConfigOnly": false,
        "Containers": {},
        "Options": {
            "com.docker.network.bridge.enable_icc": "false",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.name": "docker_gwbridge"
        },
        "Labels": {}
    }
]
"#;
        assert_eq!(json, want.replace("ID", &id));
    }

    #[test]
    fn a_manager_lists_the_swarm_networks_among_the_local_ones_by_name() {
        let mut d = daemon();
        run(&mut d, 0, "swarm init");
        d.swarm_wake(SimTime::ZERO + SimDuration::from_secs(1));
        let ingress = d.swarm_network("ingress").expect("committed at init").id.clone();
        let net10 = run(&mut d, 2, "network create -d overlay net10").stdout.trim().to_string();
        run(&mut d, 2, "network create net2");
        let (ls, q) = (run(&mut d, 3, "network ls"), run(&mut d, 3, "network ls -q --no-trunc"));
        let local = |n: &str| short(&d, n);
        let want = format!(
            "NETWORK ID     NAME              DRIVER    SCOPE
{}   bridge            bridge    local
{}   docker_gwbridge   bridge    local
{}   host              host      local
{}   ingress           overlay   swarm
{}   net2              bridge    local
{}   net10             overlay   swarm
{}   none              null      local
",
            local("bridge"),
            local(GW_BRIDGE),
            local("host"),
            &ingress[..12],
            local("net2"),
            &net10[..12],
            local("none")
        );
        assert_eq!(ls.stdout, want);
        let full = |n: &str| d.network(n).expect("local").id.clone();
        let ids = [full("bridge"), full(GW_BRIDGE), full("host"), ingress, full("net2"), net10];
        assert_eq!(q.stdout, ids.join("\n") + "\n" + &full("none") + "\n");
    }

    #[test]
    fn swarm_network_names_are_taken_and_inspectable() {
        let mut d = daemon();
        run(&mut d, 0, "swarm init");
        d.swarm_wake(SimTime::ZERO + SimDuration::from_secs(1));
        let out = run(&mut d, 1, "network create ingress");
        assert_eq!(
            out.stderr,
            "Error response from daemon: network with name ingress already exists\n"
        );
        let out =
            run(&mut d, 1, "network inspect --format {{.Scope}}/{{.Driver}}/{{.Ingress}} ingress");
        assert_eq!(out.stdout, "swarm/overlay/true\n");
        let out = run(&mut d, 1, "inspect --format {{.Name}} ingress");
        assert_eq!(out.stdout, "ingress\n");
        let out = run(&mut d, 1, "network rm ingress bridge");
        assert_eq!(
            out.stderr,
            "swarmsim: removing local and swarm networks in one command is not simulated\n"
        );
    }

    /// A two-node swarm run as a scenario: the worker's view of the swarm networks.
    const WORKER_VIEW: &str = "name: worker-view
underlay:
  networks:
    - {name: lan, subnet: 172.16.24.0/24, latency: 0.5ms}
hosts:
  - {name: manager, ip: 172.16.24.4}
  - {name: worker, ip: 172.16.24.5}
steps:
  - {on: manager, run: docker swarm init --advertise-addr 172.16.24.4}
  - {on: worker, run: 'docker swarm join --token ${WORKER_TOKEN} 172.16.24.4:2377'}
  - {on: manager, run: docker network create -d overlay appnet}
  - {on: worker, run: docker network ls}
  - {on: manager, run: docker service create --name web --network appnet --constraint node.role==worker nginx}
  - {on: worker, run: docker network ls}
  - {on: worker, run: 'docker network inspect --format {{.Name}}/{{.Scope}}/{{.Driver}} appnet'}
  - {on: worker, run: docker network rm appnet}
  - {on: manager, run: docker service rm web}
  - wait: 10s
  - {on: worker, run: docker network ls}
";

    /// `docker network ls` without the ID column (IDs are random).
    pub(crate) fn without_ids(out: &str) -> String {
        out.lines().map(|l| format!("{}\n", &l[15..])).collect()
    }

    #[test]
    fn a_worker_sees_ingress_and_the_swarm_networks_of_its_task_containers() {
        let sc = scenario::parse(WORKER_VIEW, "worker-view.yaml", &check_command).expect("valid");
        let outcome = runner::run(&sc, 1).expect("runs");
        let t = report::transcript(&outcome, false);
        let ls: Vec<&runner::Entry> =
            outcome.entries.iter().filter(|e| e.prompt.ends_with("network ls")).collect();
        let base = "NAME              DRIVER    SCOPE
bridge            bridge    local
docker_gwbridge   bridge    local
host              host      local
ingress           overlay   swarm
none              null      local
";
        assert_eq!(without_ids(&ls[0].output), base, "{t}");
        let with_task = "NAME              DRIVER    SCOPE
appnet            overlay   swarm
bridge            bridge    local
docker_gwbridge   bridge    local
host              host      local
ingress           overlay   swarm
none              null      local
";
        assert_eq!(without_ids(&ls[1].output), with_task, "{t}");
        assert_eq!(without_ids(&ls[2].output), base, "{t}");
        let inspect = outcome.entries.iter().find(|e| e.prompt.contains("inspect")).expect("ran");
        assert_eq!(inspect.output, "appnet/swarm/overlay\n", "{t}");
        let rm = outcome.entries.iter().find(|e| e.prompt.contains("network rm")).expect("ran");
        assert_eq!(
            (rm.exit_code, rm.output.as_str()),
            (
                1,
                format!("Error response from daemon: {}\n", swarm_render::NOT_MANAGER_WORKER)
                    .as_str()
            ),
            "{t}"
        );
    }

    #[test]
    fn natural_order_compares_numbers() {
        let mut v = vec!["net10", "net2", "bridge", "docker_gwbridge", "host"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["bridge", "docker_gwbridge", "host", "net2", "net10"]);
    }
}
