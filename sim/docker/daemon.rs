//! dockerd: its state, its start-up, and the dispatch of CLI commands to handlers.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::bridge::{self, BridgeConfig};
use super::cli::{self, Invocation, Parsed};
use super::container::Container;
use super::image::ImageRef;
use super::iptables::Firewall;
use super::network::{Driver, Network};
use super::{DockerOutcome, HostInfo, Proto};
use crate::engine::{RngStream, SimTime};
use crate::kernel::process::ResolvConf;
use crate::kernel::{KernelOp, NsRef};
use crate::wire::MacAddr;

/// The Docker daemon of one host.
#[derive(Debug)]
pub struct Daemon {
    pub(crate) host: HostInfo,
    pub(crate) rng: RngStream,
    pub(crate) fw: Firewall,
    pub(crate) networks: IndexMap<String, Network>,
    pub(crate) containers: IndexMap<String, Container>,
    /// Pulled images: `nginx:latest` → image ID.
    pub(crate) images: IndexMap<String, String>,
    /// Host ports taken: (proto, host IP, port).
    pub(crate) ports: BTreeSet<(Proto, Ipv4Addr, u16)>,
    /// The next ephemeral host port (`portallocator`, from ip_local_port_range 32768–60999).
    pub(crate) next_ephemeral: u16,
    pub(crate) daemon_id: String,
    pub(crate) swarm: super::swarm::daemon_side::SwarmSide,
}

/// The first port of Linux's default `ip_local_port_range`, where Docker's allocator starts.
pub(crate) const EPHEMERAL_START: u16 = 32768;
/// The last one.
pub(crate) const EPHEMERAL_END: u16 = 60999;

impl Daemon {
    /// dockerd starting on a fresh host (ip_forward off): the bridge driver's chains and
    /// forwarding, then the networks `none`, `host` and `bridge` (docker0, 172.17.0.1/16
    /// unless that overlaps a host interface), each followed by the DOCKER-USER arrangement.
    pub fn start(host: HostInfo, rng: RngStream) -> (Daemon, Vec<KernelOp>) {
        let mut d = Daemon {
            host,
            rng,
            fw: Firewall::new(NsRef::Root),
            networks: IndexMap::new(),
            containers: IndexMap::new(),
            images: IndexMap::new(),
            ports: BTreeSet::new(),
            next_ephemeral: EPHEMERAL_START,
            daemon_id: String::new(),
            swarm: Default::default(),
        };
        d.daemon_id = d.new_daemon_id();
        let mut ops = Vec::new();
        bridge::configure_driver(&mut d.fw, false, &mut ops);
        for (name, driver) in [("none", Driver::Null), ("host", Driver::Host)] {
            let id = d.new_id();
            d.networks.insert(id.clone(), Network::builtin(id, name, driver, SimTime::ZERO));
            bridge::arrange_user_chain(&mut d.fw, &mut ops);
        }
        d.create_default_bridge(&mut ops);
        (d, ops)
    }

    fn create_default_bridge(&mut self, ops: &mut Vec<KernelOp>) {
        let host_nets: Vec<_> = self.host.interfaces.iter().map(|(_, n)| n.trunc()).collect();
        let subnet = super::ipam::pick_pool(&[], &host_nets).expect("a fresh host has free pools");
        let id = self.new_id();
        let net = Network::default_bridge(id.clone(), subnet, SimTime::ZERO);
        let cfg = net.bridge.clone().expect("the default bridge has a bridge config");
        let mac = self.random_mac();
        bridge::create_network(&mut self.fw, &cfg, mac, ops);
        self.networks.insert(id, net);
        bridge::arrange_user_chain(&mut self.fw, ops);
    }

    /// One `docker …` command line (argv without the leading `docker`).
    pub fn handle(&mut self, now: SimTime, argv: &[String]) -> DockerOutcome {
        match cli::parse(argv) {
            Err(e) => DockerOutcome::err(format!("{}\n", e.message), e.exit_code),
            Ok(Invocation::Help(text)) => DockerOutcome::err(text, 0),
            Ok(Invocation::Command(p)) => self.dispatch(now, &p),
        }
    }

    fn dispatch(&mut self, now: SimTime, p: &Parsed) -> DockerOutcome {
        match p.spec.id {
            "run" => self.cmd_run(now, p),
            "ps" => self.cmd_ps(now, p),
            "inspect" => self.cmd_inspect(p, true),
            "container inspect" => self.cmd_inspect(p, false),
            "exec" => self.cmd_exec(p),
            "rm" => self.cmd_rm(now, p),
            "stop" => self.cmd_stop(now, p),
            "info" => DockerOutcome::out(self.info_text()),
            "version" => DockerOutcome::out(super::info::VERSION_TEXT),
            "pull" => self.cmd_pull(p),
            "network create" => self.cmd_network_create(now, p),
            "network ls" => self.cmd_network_ls(p),
            "network inspect" => self.cmd_network_inspect(p),
            "network rm" => self.cmd_network_rm(now, p),
            "network connect" if self.connects_to_swarm_network(p) => {
                self.connect_swarm_network(now, p)
            }
            "network connect" => self.cmd_network_connect(p),
            "network disconnect" => self.cmd_network_disconnect(p),
            id if is_swarm_command(id) => match super::swarm::parse::request(p) {
                Ok(req) => self.swarm_request(now, req),
                Err(e) => DockerOutcome::err(format!("{}\n", e.message), e.exit_code),
            },
            other => unreachable!("command table entry {other} has no handler"),
        }
    }

    /// A container by full ID, name (with or without `/`) or unique ID prefix.
    pub fn container(&self, name_or_id: &str) -> Option<&Container> {
        self.container_id(name_or_id).map(|id| &self.containers[&id])
    }

    pub(crate) fn container_id(&self, key: &str) -> Option<String> {
        let name = key.strip_prefix('/').unwrap_or(key);
        if let Some(c) = self.containers.get(key) {
            return Some(c.id.clone());
        }
        if let Some(c) = self.containers.values().find(|c| c.name == name) {
            return Some(c.id.clone());
        }
        let mut hits = self.containers.keys().filter(|id| !key.is_empty() && id.starts_with(key));
        match (hits.next(), hits.next()) {
            (Some(id), None) => Some(id.clone()),
            _ => None,
        }
    }

    /// A network by full ID, name, or unique ID prefix (libnetwork's lookup order).
    pub fn network(&self, name_or_id: &str) -> Option<&Network> {
        self.network_id(name_or_id).map(|id| &self.networks[&id])
    }

    /// Local networks only: an overlay instantiated here is the swarm's, looked up through
    /// the swarm's view ([`Daemon::swarm_network`]).
    pub(crate) fn network_id(&self, key: &str) -> Option<String> {
        let local = || self.networks.values().filter(|n| n.driver != Driver::Overlay);
        if let Some(n) = local().find(|n| n.id == key).or_else(|| local().find(|n| n.name == key)) {
            return Some(n.id.clone());
        }
        let mut hits = local().map(|n| &n.id).filter(|id| !key.is_empty() && id.starts_with(key));
        match (hits.next(), hits.next()) {
            (Some(id), None) => Some(id.clone()),
            _ => None,
        }
    }

    /// Every network, in creation order.
    pub fn networks(&self) -> impl Iterator<Item = &Network> {
        self.networks.values()
    }

    /// The node's NetworkDB, while it is in a swarm.
    pub fn network_db(&self) -> Option<&crate::proto::networkdb::NetworkDb> {
        self.swarm.gossip.as_ref().map(super::gossip::GossipAgent::db)
    }

    /// Every container, in creation order.
    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.containers.values()
    }

    pub(crate) fn new_id(&mut self) -> String {
        self.rng.hex(32)
    }

    /// `netutils.GenerateRandomMAC`: 02:42 and four random bytes (bridges).
    pub(crate) fn random_mac(&mut self) -> MacAddr {
        let b = self.rng.next_u64().to_le_bytes();
        MacAddr([0x02, 0x42, b[0], b[1], b[2], b[3]])
    }

    /// `veth` + 7 hex digits, unique on this host.
    pub(crate) fn veth_name(&mut self) -> String {
        loop {
            let name = format!("veth{}", &self.rng.hex(4)[..7]);
            let taken = self
                .networks
                .values()
                .flat_map(|n| n.endpoints.values())
                .any(|e| e.host_veth == name);
            if !taken {
                return name;
            }
        }
    }

    fn new_daemon_id(&mut self) -> String {
        const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let groups: Vec<String> =
            (0..12).map(|_| (0..4).map(|_| B32[self.rng.index(32)] as char).collect()).collect();
        groups.join(":")
    }

    /// Marks an image pulled and returns its ID.
    pub(crate) fn store_image(&mut self, r: &ImageRef) -> String {
        let id = format!("sha256:{}", self.rng.hex(32));
        self.images.insert(r.familiar(), id.clone());
        id
    }

    pub(crate) fn bridge_of(&self, net_id: &str) -> Option<&BridgeConfig> {
        self.networks.get(net_id).and_then(|n| n.bridge.as_ref())
    }
}

/// The commands swarm mode serves.
fn is_swarm_command(id: &str) -> bool {
    ["swarm ", "node ", "service "].iter().any(|group| id.starts_with(group))
}

/// Container addressing, for the processes and probes the simulator runs in containers.
impl Daemon {
    /// The container's addresses, one per network, in the order it joined them.
    pub fn addresses<'a>(&self, container: &'a Container) -> Vec<(&'a str, Ipv4Addr)> {
        container
            .networks
            .iter()
            .filter_map(|a| {
                let ep = self.networks.get(&a.network_id)?.endpoints.get(&container.id)?;
                Some((a.network_id.as_str(), ep.addr.addr()))
            })
            .collect()
    }

    /// `target`'s address on a network `from` is also on, else its first address.
    pub fn address_seen_from(
        &self,
        target: &Container,
        from: Option<&Container>,
    ) -> Option<Ipv4Addr> {
        let mine = from.map(|f| self.addresses(f)).unwrap_or_default();
        let theirs = self.addresses(target);
        let shared = theirs.iter().find(|(net, _)| mine.iter().any(|(n, _)| n == net));
        shared.or(theirs.first()).map(|(_, ip)| *ip)
    }

    /// `/etc/resolv.conf` and `/etc/hosts` as the container sees them: its hostname maps to
    /// its first address, as Docker writes /etc/hosts.
    pub fn resolv_conf(&self, container: &Container) -> ResolvConf {
        let mut hosts = vec![("localhost".to_string(), Ipv4Addr::LOCALHOST)];
        if let Some((_, ip)) = self.addresses(container).first() {
            hosts.push((container.hostname.clone(), *ip));
        }
        ResolvConf { nameservers: container.nameservers.clone(), hosts }
    }
}
