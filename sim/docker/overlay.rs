//! The overlay driver on one node, as libnetwork's `drivers/overlay` builds it
//! (docker-facts 1–8, 11, 13).
//!
//! Contract: a swarm network becomes a local network on a node when a task there needs it
//! ([`Daemon::ensure_overlay`]) and goes when its last endpoint leaves
//! ([`Daemon::drop_unused_overlays`]). Its sandbox is the namespace `1-<netid[:10]>` holding
//! `br0` (the gateway address) and `vxlan0` (made in the root namespace, so its UDP socket
//! stays there, then moved in). A container joins through a veth pair whose outer end is
//! `vethN` on `br0` and whose inner end is the container's `ethN`, MTU 1450 (1424 encrypted),
//! MAC derived from the IP. Each endpoint is published in NetworkDB's `overlay_peer_table`;
//! neighbour and FDB entries for *remote* endpoints are programmed from that table's watch
//! events only ([`Daemon::on_peer_event`]), never from the cluster store.

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::container::Attachment;
use super::daemon::Daemon;
use super::endpoint::Plumbing;
use super::network::{Driver, Endpoint, Network};
use super::overlay_crypto;
use super::overlay_keys::Vtep;
use super::sandbox::{self, mac_from_ip, Iface};
use super::swarm::daemon_side::SwarmState;
use super::swarm::store::{self, EncryptionKey};
use crate::engine::SimTime;
use crate::kernel::{KernelOp, NsRef, VxlanConfig};
use crate::proto::networkdb::{WatchEvent, WatchOp};
use crate::wire::MacAddr;

/// NetworkDB's table of overlay endpoints (`peer.go`).
pub const PEER_TABLE: &str = "overlay_peer_table";
/// The option that sets the MTU the overlay's own is derived from.
const MTU_OPTION: &str = "com.docker.network.driver.mtu";
/// The options the overlay driver reads (`ov_network.go` `CreateNetwork`, ovmanager);
/// nothing checks for others (docker-facts 35).
const DRIVER_OPTIONS: [&str; 3] =
    ["encrypted", MTU_OPTION, "com.docker.network.driver.overlay.vxlanid_list"];

/// What the run's report says about an overlay option no driver reads, which Docker
/// accepts without a word: the network works, without what the option was meant to do.
fn unknown_option_warning(network: &str, key: &str) -> String {
    let hint = crate::scenario::suggest::nearest(key, DRIVER_OPTIONS).map_or(String::new(), |k| {
        let effect =
            if k == "encrypted" { " As created, the network is NOT encrypted." } else { "" };
        format!(" (did you mean `{k}`?{effect})")
    });
    format!("network {network}: the overlay driver ignores option `{key}`{hint}")
}

/// A swarm overlay as the driver instantiates it on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayConfig {
    pub vni: u32,
    /// The gateway address on `br0`, with the subnet's prefix.
    pub gateway: Ipv4Net,
    pub mtu: u32,
    /// The sandbox's namespace: `1-` and the network ID's first 10 characters.
    pub ns_key: String,
    /// The key `encrypted` is among the options (any value, docker-facts 35).
    pub encrypted: bool,
    /// The driver's peer DB: remote endpoints programmed on `vxlan0`, by endpoint ID. A
    /// delete for an endpoint never programmed (its create was missed) is ignored, as
    /// `peerDelete` does.
    pub peers: IndexMap<String, PeerRecord>,
    /// The swarm's ingress network, whose load balancer is `ingress_sbox`, not `lb_…`.
    pub ingress: bool,
}

impl OverlayConfig {
    /// The driver's view of an allocated swarm network.
    pub fn of(net: &store::Network) -> OverlayConfig {
        let alloc = net.allocation.as_ref().expect("a task's networks are allocated");
        let encrypted = net.options.iter().any(|(k, _)| k == "encrypted");
        let gateway =
            Ipv4Net::new(alloc.gateway, alloc.subnet.prefix_len()).expect("subnet prefix");
        OverlayConfig {
            vni: alloc.vni,
            gateway,
            mtu: network_mtu(&net.options, encrypted),
            ns_key: format!("1-{}", &net.id[..10]),
            encrypted,
            peers: IndexMap::new(),
            ingress: net.ingress,
        }
    }

    fn ns(&self) -> NsRef {
        NsRef::named(&self.ns_key)
    }
}

/// `maxMTU` of a network's options (docker-facts 5).
fn network_mtu(options: &[(String, String)], encrypted: bool) -> u32 {
    let configured =
        options.iter().find(|(k, _)| k == MTU_OPTION).and_then(|(_, v)| v.parse().ok());
    overlay_crypto::max_mtu(configured, encrypted)
}

/// `PeerRecord` (`overlay.proto`): an endpoint and the VTEP that reaches it, encoded as the
/// protobuf message it is, three string fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    pub endpoint_ip: Ipv4Net,
    pub endpoint_mac: MacAddr,
    pub tunnel_endpoint_ip: Ipv4Addr,
}

impl PeerRecord {
    pub fn encode(&self) -> Vec<u8> {
        let fields = [
            self.endpoint_ip.to_string(),
            self.endpoint_mac.to_string(),
            self.tunnel_endpoint_ip.to_string(),
        ];
        let mut out = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            out.push(((i as u8 + 1) << 3) | 2);
            out.push(f.len() as u8);
            out.extend_from_slice(f.as_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<PeerRecord> {
        let mut fields = Vec::new();
        let mut rest = bytes;
        while let [_tag, len, tail @ ..] = rest {
            let len = usize::from(*len);
            fields.push(std::str::from_utf8(tail.get(..len)?).ok()?);
            rest = &tail[len..];
        }
        let [ip, mac, vtep] = fields[..] else { return None };
        Some(PeerRecord {
            endpoint_ip: ip.parse().ok()?,
            endpoint_mac: mac.parse().ok()?,
            tunnel_endpoint_ip: vtep.parse().ok()?,
        })
    }
}

/// `ov-<vni as 6 hex>-<netid[:5]>` and `vx-…`: the names the devices are made under.
fn device_name(prefix: &str, cfg: &OverlayConfig, net_id: &str) -> String {
    format!("{prefix}-{:06x}-{}", cfg.vni, &net_id[..5])
}

/// `initSandbox` + `setupSubnetSandbox`: the namespace, `br0` with the gateway, and
/// `vxlan0` made in the root namespace, moved in and enslaved.
fn sandbox_ops(cfg: &OverlayConfig, net_id: &str) -> Vec<KernelOp> {
    let ns = cfg.ns();
    let (br, vx) = (device_name("ov", cfg, net_id), device_name("vx", cfg, net_id));
    let mut ops = sandbox::create(&cfg.ns_key);
    ops.extend([
        KernelOp::BridgeAdd { ns: ns.clone(), name: br.clone() },
        KernelOp::LinkRename { ns: ns.clone(), name: br, new_name: "br0".into() },
        KernelOp::AddrAdd { ns: ns.clone(), dev: "br0".into(), addr: cfg.gateway },
        KernelOp::LinkUp { ns: ns.clone(), name: "br0".into() },
        KernelOp::VxlanAdd {
            ns: NsRef::Root,
            name: vx.clone(),
            config: VxlanConfig::docker(cfg.vni, cfg.mtu),
        },
        KernelOp::LinkSetNetns { ns: NsRef::Root, name: vx.clone(), target: ns.clone() },
        KernelOp::LinkRename { ns: ns.clone(), name: vx, new_name: "vxlan0".into() },
        KernelOp::LinkSetMaster { ns: ns.clone(), name: "vxlan0".into(), master: "br0".into() },
        KernelOp::LinkUp { ns, name: "vxlan0".into() },
    ]);
    ops
}

/// The driver's `Join`: a veth pair with the overlay's MTU, its outer end moved into the
/// sandbox as `port` on `br0`.
pub(super) fn endpoint_ops(
    cfg: &OverlayConfig,
    outer: &str,
    inner: &str,
    port: &str,
) -> Vec<KernelOp> {
    let ns = cfg.ns();
    vec![
        KernelOp::VethAdd { ns: NsRef::Root, name: outer.into(), peer: inner.into() },
        KernelOp::LinkSetMtu { ns: NsRef::Root, name: outer.into(), mtu: cfg.mtu },
        KernelOp::LinkSetMtu { ns: NsRef::Root, name: inner.into(), mtu: cfg.mtu },
        KernelOp::LinkSetNetns { ns: NsRef::Root, name: outer.into(), target: ns.clone() },
        KernelOp::LinkRename { ns: ns.clone(), name: outer.into(), new_name: port.into() },
        KernelOp::LinkSetMaster { ns: ns.clone(), name: port.into(), master: "br0".into() },
        KernelOp::LinkUp { ns, name: port.into() },
    ]
}

/// `peerAdd`/`peerDelete` for a remote endpoint: the permanent neighbour entry and the FDB
/// entry pointing at its VTEP, both on `vxlan0`.
fn peer_ops(cfg: &OverlayConfig, rec: &PeerRecord, op: WatchOp) -> Vec<KernelOp> {
    let (ns, dev) = (cfg.ns(), "vxlan0".to_string());
    let (ip, mac, dst) = (rec.endpoint_ip.addr(), rec.endpoint_mac, rec.tunnel_endpoint_ip);
    match op {
        WatchOp::Create | WatchOp::Update => vec![
            KernelOp::NeighAdd { ns: ns.clone(), dev: dev.clone(), ip, mac },
            KernelOp::FdbAdd { ns, dev, mac, dst },
        ],
        WatchOp::Delete => vec![
            KernelOp::NeighDel { ns: ns.clone(), dev: dev.clone(), ip },
            KernelOp::FdbDel { ns, dev, mac, dst },
        ],
    }
}

impl Daemon {
    /// Warnings for the options of the swarm overlays this node knows that the driver
    /// ignores, by network ID.
    pub fn unknown_overlay_options(&self) -> Vec<(String, String)> {
        let nets = self.swarm_networks();
        let overlays = nets.iter().filter(|n| n.driver == "overlay");
        overlays
            .flat_map(|n| {
                let unknown =
                    n.options.iter().filter(|(k, _)| !DRIVER_OPTIONS.contains(&k.as_str()));
                unknown.map(|(k, _)| (n.id.clone(), unknown_option_warning(&n.name, k)))
            })
            .collect()
    }

    /// The network instantiated on this node, its sandbox built and its gossip joined.
    pub(crate) fn ensure_overlay(
        &mut self,
        now: SimTime,
        net: &store::Network,
        ops: &mut Vec<KernelOp>,
    ) {
        if self.networks.contains_key(&net.id) {
            return;
        }
        let cfg = OverlayConfig::of(net);
        ops.extend(sandbox_ops(&cfg, &net.id));
        let mut local = Network::builtin(net.id.clone(), &net.name, Driver::Overlay, now);
        local.overlay = Some(cfg);
        local.options = net.options.clone();
        local.attachable = net.attachable;
        self.networks.insert(net.id.clone(), local);
        self.gossip_join_network(now, &net.id);
        ops.extend(self.ensure_lb_sandboxes());
    }

    /// Joins a container to an overlay at the address the manager allocated.
    pub(crate) fn join_overlay(&mut self, cid: &str, att: &Attachment, pl: &mut Plumbing) {
        let cfg = self.networks[&att.network_id].overlay.clone().expect("an overlay network");
        let ip = att.ip.expect("swarm allocates every overlay address");
        let addr = Ipv4Net::new(ip, cfg.gateway.prefix_len()).expect("subnet prefix");
        let (outer, inner) = (self.veth_name(), self.veth_name());
        let port = self.free_port_name(&att.network_id);
        pl.ops.extend(endpoint_ops(&cfg, &outer, &inner, &port));
        if self.containers[cid].sandbox.is_none() {
            self.new_sandbox(cid, pl);
        }
        let sb = self.containers[cid].sandbox.clone().expect("sandbox exists before join");
        if sb.dns_ports.is_none() {
            self.start_resolver(cid, pl);
        }
        let ifname = self.ifname_for(cid, &att.network_id, pl);
        let mac = mac_from_ip(ip);
        pl.ops.extend(sandbox::add_interface(
            &sb.key,
            &Iface { src: &inner, dst: &ifname, mac, addr },
        ));
        if cfg.ingress {
            let ports = self.task_service(cid).map(|s| s.ingress_ports.clone()).unwrap_or_default();
            pl.ops.extend(super::ingress::redirect_ops(&sb.key, ip, &ports));
        }
        pl.ops.extend(self.encrypt_to_known_peers(&att.network_id));
        let c = &self.containers[cid];
        let ep = Endpoint {
            id: self.rng.hex(32),
            container_id: cid.to_string(),
            name: c.name.clone(),
            addr,
            mac,
            host_veth: port,
            ifname,
            aliases: att.aliases.clone(),
            ports: Vec::new(),
        };
        self.networks[&att.network_id].endpoints.insert(cid.to_string(), ep);
    }

    /// The lowest `vethN` free in the overlay's sandbox.
    pub(super) fn free_port_name(&self, net_id: &str) -> String {
        let net = &self.networks[net_id];
        let lb = net.lb.iter().map(|sb| &sb.endpoint);
        let used: Vec<&str> =
            net.endpoints.values().chain(lb).map(|e| e.host_veth.as_str()).collect();
        (0..).map(|n| format!("veth{n}")).find(|p| !used.contains(&p.as_str())).expect("unbounded")
    }

    /// Publishes the container's overlay endpoints (see `publish_endpoint`).
    pub(crate) fn publish_endpoints(&mut self, cid: &str) {
        for (net_id, ep) in self.overlay_endpoints(cid) {
            self.publish_endpoint(&net_id, &ep);
        }
    }

    /// Publishes one endpoint: the driver's record in `overlay_peer_table`, then the
    /// controller's service info in `endpoint_table` (the order of `sbJoin`).
    pub(crate) fn publish_endpoint(&mut self, net_id: &str, ep: &Endpoint) {
        if self.publish_peer(net_id, ep) {
            self.publish_service_info(net_id, ep);
        }
    }

    /// The driver's record alone (`addDriverInfoToCluster`), as for an anonymous endpoint;
    /// false when the node has no VTEP to publish it with.
    pub(crate) fn publish_peer(&mut self, net_id: &str, ep: &Endpoint) -> bool {
        let Some(vtep) = self.vtep() else { return false };
        let rec =
            PeerRecord { endpoint_ip: ep.addr, endpoint_mac: ep.mac, tunnel_endpoint_ip: vtep };
        self.with_gossip(|g| g.create_entry(PEER_TABLE, net_id, &ep.id, rec.encode()));
        true
    }

    /// Withdraws the container's endpoints, before they go.
    pub(crate) fn withdraw_endpoints(&mut self, cid: &str) {
        for (net_id, ep) in self.overlay_endpoints(cid) {
            self.withdraw_endpoint(&net_id, &ep);
        }
    }

    /// Withdraws both records of one endpoint.
    pub(crate) fn withdraw_endpoint(&mut self, net_id: &str, ep: &Endpoint) {
        self.withdraw_service_info(net_id, ep);
        self.withdraw_peer(net_id, ep);
    }

    /// The driver's record alone.
    pub(crate) fn withdraw_peer(&mut self, net_id: &str, ep: &Endpoint) {
        self.with_gossip(|g| g.delete_entry(PEER_TABLE, net_id, &ep.id));
    }

    /// A task is stopping: its endpoints drain before they go (`DisableService`).
    pub(crate) fn disable_endpoints(&mut self, cid: &str) {
        for (net_id, ep) in self.overlay_endpoints(cid) {
            self.disable_service_info(&net_id, &ep);
        }
    }

    fn overlay_endpoints(&self, cid: &str) -> Vec<(String, Endpoint)> {
        self.networks
            .values()
            .filter(|n| n.driver == Driver::Overlay)
            .filter_map(|n| n.endpoints.get(cid).map(|ep| (n.id.clone(), ep.clone())))
            .collect()
    }

    /// Deletes the local instance of every overlay no endpoint uses any more: its namespace
    /// (and the devices in it) and its gossip. Ingress stays while the node is in the swarm
    /// (`ingress-sbox` uses it). Returns the ops.
    pub(crate) fn drop_unused_overlays(&mut self) -> Vec<KernelOp> {
        let in_swarm = matches!(self.swarm.state, SwarmState::Active(_));
        let unused: Vec<(String, String)> = self
            .networks
            .values()
            .filter(|n| n.endpoints.is_empty())
            .filter(|n| !(in_swarm && n.overlay.as_ref().is_some_and(|o| o.ingress)))
            .filter_map(|n| n.overlay.as_ref().map(|cfg| (n.id.clone(), cfg.ns_key.clone())))
            .collect();
        let mut ops = Vec::new();
        for (id, key) in unused {
            ops.extend(self.drop_lb_sandbox(&id));
            self.networks.shift_remove(&id);
            self.drop_service_bindings(&id);
            self.gossip_leave_network(&id);
            ops.push(KernelOp::NetnsDel { name: key });
        }
        ops
    }

    /// A change in `overlay_peer_table`: a remote endpoint's neighbour and FDB entries are
    /// added or removed; local endpoints and networks not instantiated here are ignored.
    pub(crate) fn on_peer_event(&mut self, w: &WatchEvent) -> Vec<KernelOp> {
        let own_vtep = self.vtep();
        let cfg = self.networks.get_mut(&w.network).and_then(|n| n.overlay.as_mut());
        let rec = PeerRecord::decode(&w.value);
        let (Some(cfg), Some(rec)) = (cfg, rec) else { return Vec::new() };
        if w.table != PEER_TABLE || Some(rec.tunnel_endpoint_ip) == own_vtep {
            return Vec::new();
        }
        let mut ops = Vec::new();
        match w.op {
            WatchOp::Create | WatchOp::Update => {
                if let Some(old) = cfg.peers.shift_remove(&w.key) {
                    ops.extend(peer_ops(cfg, &old, WatchOp::Delete));
                }
                ops.extend(peer_ops(cfg, &rec, WatchOp::Create));
                cfg.peers.insert(w.key.clone(), rec.clone());
            }
            WatchOp::Delete => match cfg.peers.shift_remove(&w.key) {
                Some(old) => ops.extend(peer_ops(cfg, &old, WatchOp::Delete)),
                None => return ops,
            },
        }
        ops.extend(self.check_encryption(&w.network, rec.tunnel_endpoint_ip, w.op));
        ops
    }

    /// `checkEncryption` for a remote peer of a secure network: a peer added while local
    /// endpoints exist gets its SAs; a peer deleted while none do loses them.
    fn check_encryption(&mut self, net_id: &str, remote: Ipv4Addr, op: WatchOp) -> Vec<KernelOp> {
        let net = &self.networks[net_id];
        let cfg = net.overlay.as_ref().expect("an overlay network");
        let (Some(vtep), true) = (self.sa_vtep(), cfg.encrypted) else { return Vec::new() };
        let (local, vni) = (!net.endpoints.is_empty(), cfg.vni);
        let enc = &mut self.swarm.encryption;
        match op {
            WatchOp::Create | WatchOp::Update if local => enc.setup(vtep, remote, vni),
            WatchOp::Delete if !local => enc.remove(vtep, remote),
            _ => Vec::new(),
        }
    }

    /// `checkEncryption(…, isLocal)` on a join: SAs to every remote VTEP the network's peer
    /// DB knows.
    fn encrypt_to_known_peers(&mut self, net_id: &str) -> Vec<KernelOp> {
        let cfg = self.networks[net_id].overlay.as_ref().expect("an overlay network");
        let Some(vtep) = self.sa_vtep().filter(|_| cfg.encrypted) else { return Vec::new() };
        let remotes: Vec<Ipv4Addr> = cfg.peers.values().map(|p| p.tunnel_endpoint_ip).collect();
        let vni = cfg.vni;
        remotes.into_iter().flat_map(|r| self.swarm.encryption.setup(vtep, r, vni)).collect()
    }

    /// The driver's bind and advertise addresses: both the node's VTEP.
    fn sa_vtep(&self) -> Option<Vtep> {
        self.vtep().map(|a| Vtep { local: a, advertise: a })
    }

    /// The swarm's keys reached this node (`SetNetworkBootstrapKeys`).
    pub(crate) fn set_network_keys(&mut self, keys: &[EncryptionKey]) -> Vec<KernelOp> {
        let Some(vtep) = self.sa_vtep() else { return Vec::new() };
        self.swarm.encryption.set_keys(keys, vtep)
    }

    /// The node leaves the swarm: its SAs go.
    pub(crate) fn clear_encryption(&mut self) -> Vec<KernelOp> {
        let Some(vtep) = self.sa_vtep() else { return Vec::new() };
        self.swarm.encryption.clear(vtep)
    }

    /// The driver's `Join` refuses a secure network before the keys arrive.
    pub(crate) fn check_encryption_keys(&self, net: &store::Network) -> Result<(), String> {
        let secure = OverlayConfig::of(net).encrypted;
        if secure && !self.swarm.encryption.has_keys() {
            return Err("cannot join secure network: encryption keys not present".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_option_gets_a_warning_with_the_fix() {
        assert_eq!(
            unknown_option_warning("green-overlay", "encyrpted"),
            "network green-overlay: the overlay driver ignores option `encyrpted` (did you mean \
             `encrypted`? As created, the network is NOT encrypted.)"
        );
        assert_eq!(
            unknown_option_warning("n", "color"),
            "network n: the overlay driver ignores option `color`"
        );
    }

    #[test]
    fn the_mtu_option_is_the_base_of_the_overlay_mtu() {
        let none: Vec<(String, String)> = Vec::new();
        assert_eq!(network_mtu(&none, false), 1450);
        assert_eq!(network_mtu(&none, true), 1424);
        let jumbo = vec![(MTU_OPTION.to_string(), "9000".to_string())];
        assert_eq!(network_mtu(&jumbo, false), 8950);
        assert_eq!(network_mtu(&jumbo, true), 8924);
    }

    #[test]
    fn peer_records_round_trip_as_three_protobuf_strings() {
        let rec = PeerRecord {
            endpoint_ip: "10.0.1.3/24".parse().unwrap(),
            endpoint_mac: MacAddr([2, 0x42, 10, 0, 1, 3]),
            tunnel_endpoint_ip: Ipv4Addr::new(172, 16, 24, 5),
        };
        let bytes = rec.encode();
        assert_eq!(&bytes[..13], b"\x0a\x0b10.0.1.3/24");
        assert_eq!(bytes.len(), 2 + 11 + 2 + 17 + 2 + 11);
        assert_eq!(PeerRecord::decode(&bytes), Some(rec));
        assert_eq!(PeerRecord::decode(b"\x0a\x02xy"), None);
    }

    #[test]
    fn the_sandbox_is_named_after_the_network_and_holds_br0_and_vxlan0() {
        let cfg = OverlayConfig {
            vni: 4097,
            gateway: "10.0.1.1/24".parse().unwrap(),
            mtu: 1450,
            ns_key: "1-e2wklxwawq".into(),
            encrypted: false,
            peers: IndexMap::new(),
            ingress: false,
        };
        let text: Vec<String> =
            sandbox_ops(&cfg, "e2wklxwawqznawtlwyieynell").iter().map(|o| o.to_string()).collect();
        assert_eq!(text[0], "ip netns add 1-e2wklxwawq");
        assert!(
            text.contains(
                &"ip netns exec 1-e2wklxwawq ip link add ov-001001-e2wkl type bridge".to_string()
            ),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("ip link add vx-001001-e2wkl mtu 1450 type vxlan id 4097")),
            "{text:#?}"
        );
    }
}
