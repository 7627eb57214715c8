//! Attaching a container to networks and detaching it (macvlan networks: `macvlan`), in
//! libnetwork's order:
//! `CreateEndpoint` (address, veth pair on the bridge) → `NewSandbox` (first network only) →
//! `Join` (embedded DNS for user-defined networks, interface into the sandbox, default
//! route) → `ProgramExternalConnectivity` (published ports, gateway endpoint only).
//!
//! Everything that can fail is checked before the first op is emitted, so a failed start
//! leaves no half-built plumbing (real Docker builds it and tears it down again; the end
//! state is the same).

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::bridge::{self, Forward};
use super::container::{Attachment, ContainerState, SandboxInfo};
use super::daemon::{Daemon, EPHEMERAL_END};
use super::iptables::Action;
use super::network::{Binding, Driver, Endpoint};
use super::sandbox::{self, mac_from_ip, Iface, RESOLVER_IP};
use super::{Effect, Proto};
use crate::kernel::KernelOp;

/// Ops and effects of one networking change.
#[derive(Debug, Default)]
pub(crate) struct Plumbing {
    pub ops: Vec<KernelOp>,
    pub effects: Vec<Effect>,
    /// The names a starting container's endpoints get, by network ID (see
    /// `plan_ifnames`); a later join takes the lowest free one.
    pub ifnames: IndexMap<String, String>,
}

const NO_SUBNET_IP: &str =
    "user specified IP address is supported only when connecting to networks with user configured subnets";

impl Daemon {
    /// Checks one attachment the way `updateNetworkConfig`/`validateNetworkingConfig` do.
    pub(crate) fn validate_attachment(&self, att: &Attachment) -> Result<(), String> {
        let net = &self.networks[&att.network_id];
        if net.driver == Driver::Overlay {
            return Ok(());
        }
        if !net.is_user_defined() {
            if att.ip.is_some() && net.driver == Driver::Bridge {
                return Err(
                    "user specified IP address is supported on user defined networks only".into()
                );
            }
            if !att.aliases.is_empty() && net.driver == Driver::Bridge {
                return Err("network-scoped alias is supported only for containers in user defined networks".into());
            }
            return Ok(());
        }
        let Some(ip) = att.ip else { return Ok(()) };
        if net.user_ipam.is_none() {
            return Err(NO_SUBNET_IP.into());
        }
        let pool = net.pool.as_ref().expect("bridge networks have a pool");
        if !pool.holds(ip) {
            return Err(format!(
                "Invalid address {ip}: It does not belong to any of this network's subnets"
            ));
        }
        if net.endpoints.values().any(|e| e.addr.addr() == ip) || net.gateway == Some(ip) {
            return Err("Address already in use".into());
        }
        Ok(())
    }

    /// Host ports for the container's `-p`/`-P`, or the port allocator's / proxy's error.
    pub(crate) fn allocate_ports(&self, cid: &str) -> Result<Vec<Binding>, String> {
        let c = &self.containers[cid];
        let mut taken = self.ports.clone();
        let mut next = self.next_ephemeral;
        let mut out = Vec::new();
        for spec in &c.publish {
            let host_ip = spec.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
            let port = match spec.host_port {
                Some(p) => p,
                None => {
                    while taken.iter().any(|(_, _, p)| *p == next) && next < EPHEMERAL_END {
                        next += 1;
                    }
                    next
                }
            };
            if taken.contains(&(spec.proto, host_ip, port)) {
                return Err(format!("Bind for {host_ip}:{port} failed: port is already allocated"));
            }
            let clash = taken.iter().any(|(pr, ip, p)| {
                *pr == spec.proto && *p == port && (ip.is_unspecified() || host_ip.is_unspecified())
            });
            if clash {
                return Err(format!(
                    "Error starting userland proxy: listen {}4 {host_ip}:{port}: bind: address already in use",
                    spec.proto
                ));
            }
            taken.insert((spec.proto, host_ip, port));
            out.push(Binding {
                proto: spec.proto,
                host_ip,
                host_port: port,
                container_port: spec.container_port,
            });
        }
        Ok(out)
    }

    /// Attaches a started container to all its networks.
    pub(crate) fn plumb_container(&mut self, cid: &str, ports: Vec<Binding>) -> Plumbing {
        let mut pl = Plumbing::default();
        let atts = self.containers[cid].networks.clone();
        let first = self.networks[&atts[0].network_id].driver;
        if first == Driver::Host {
            self.containers[cid].sandbox = Some(SandboxInfo::host());
            self.containers[cid].nameservers = self.host.nameservers.clone();
            return pl;
        }
        if first == Driver::Null {
            self.new_sandbox(cid, &mut pl);
        }
        pl.ifnames = self.plan_ifnames(&atts);
        // Published ports go to the endpoint that gives the container its way out: the
        // first network's, or the gateway leg behind an overlay (`setupDefaultGW`).
        let via_gateway = first == Driver::Overlay;
        let mut ports = Some(ports);
        for (i, att) in atts.iter().enumerate() {
            let bindings = if i == 0 && !via_gateway { ports.take() } else { None };
            self.join(cid, att, bindings.unwrap_or_default(), &mut pl);
            if !self.has_gateway_endpoint(cid) && self.networks[&att.network_id].overlay.is_some() {
                self.join_gateway_bridge(cid, ports.take().unwrap_or_default(), &mut pl);
            }
        }
        self.publish_endpoints(cid);
        pl
    }

    /// The interface names of a starting container. Its endpoints are joined in the order
    /// given, but the interfaces enter the namespace when the container starts (`SetKey`),
    /// in the sandbox's endpoint order (`Endpoint.Less`): endpoints with a gateway first,
    /// internal ones and then the `docker_gwbridge` leg last, otherwise by network name.
    fn plan_ifnames(&self, atts: &[Attachment]) -> IndexMap<String, String> {
        let nets = atts.iter().map(|a| &self.networks[&a.network_id]);
        let joined: Vec<&super::network::Network> =
            nets.filter(|n| !matches!(n.driver, Driver::Host | Driver::Null)).collect();
        // The sort key: (the gateway leg, internal, without a gateway, network name).
        let mut order: Vec<((bool, bool, bool, String), String)> = joined
            .iter()
            .map(|n| ((false, n.internal, n.overlay.is_some(), n.name.clone()), n.id.clone()))
            .collect();
        let no_way_out = joined.iter().all(|n| n.bridge.as_ref().is_none_or(|b| b.internal));
        let gets_gateway_leg = no_way_out && joined.iter().any(|n| n.overlay.is_some());
        if let Some(gw) = self.network_id(super::network::GW_BRIDGE).filter(|_| gets_gateway_leg) {
            order.push(((true, false, false, String::new()), gw));
        }
        order.sort();
        order.into_iter().enumerate().map(|(i, (_, id))| (id, format!("eth{i}"))).collect()
    }

    /// The name an endpoint on `net_id` gets in the container.
    pub(crate) fn ifname_for(&self, cid: &str, net_id: &str, pl: &Plumbing) -> String {
        pl.ifnames.get(net_id).cloned().unwrap_or_else(|| self.free_ifname(cid))
    }

    /// `setupDefaultGW`: a container whose endpoints give it no way out (overlays have no
    /// gateway) gets an endpoint on `docker_gwbridge`, named `gateway_<sandbox ID[:12]>`.
    fn join_gateway_bridge(&mut self, cid: &str, ports: Vec<Binding>, pl: &mut Plumbing) {
        let Some(gw) = self.network_id(super::network::GW_BRIDGE) else { return };
        let att = Attachment {
            network_id: gw.clone(),
            network_name: super::network::GW_BRIDGE.into(),
            ip: None,
            aliases: Vec::new(),
            ptr: 0,
        };
        self.join(cid, &att, ports, pl);
        let key = self.containers[cid].sandbox.as_ref().expect("joined").id[..12].to_string();
        let ep = self.networks[&gw].endpoints.get_mut(cid).expect("just joined");
        ep.name = format!("gateway_{key}");
        ep.aliases.clear();
    }

    /// `NewSandbox`: the namespace, with the host's nameservers in its resolv.conf.
    pub(crate) fn new_sandbox(&mut self, cid: &str, pl: &mut Plumbing) {
        let sb = SandboxInfo::new(self.new_id());
        pl.ops.extend(sandbox::create(&sb.key));
        self.containers[cid].sandbox = Some(sb);
        self.containers[cid].nameservers = self.default_nameservers();
    }

    /// The host's nameservers without loopback ones, or Google's when none remain
    /// (`resolvconf.FilterResolvDNS`).
    fn default_nameservers(&self) -> Vec<Ipv4Addr> {
        let ns: Vec<Ipv4Addr> =
            self.host.nameservers.iter().copied().filter(|n| !n.is_loopback()).collect();
        if ns.is_empty() {
            return vec![Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(8, 8, 4, 4)];
        }
        ns
    }

    /// Creates and joins one endpoint (`--net none` has none).
    pub(crate) fn join(
        &mut self,
        cid: &str,
        att: &Attachment,
        ports: Vec<Binding>,
        pl: &mut Plumbing,
    ) {
        let net = &self.networks[&att.network_id];
        if net.driver == Driver::Overlay {
            return self.join_overlay(cid, att, pl);
        }
        if net.driver == Driver::Macvlan {
            return self.join_macvlan(cid, att, pl);
        }
        let Some(cfg) = net.bridge.clone() else { return };
        let user_defined = net.is_user_defined_bridge();
        let prefix = cfg.bridge_addr.prefix_len();
        let ip = {
            let pool = self.networks[&att.network_id].pool.as_mut().expect("bridge pool");
            pool.request(att.ip).expect("validated before plumbing")
        };
        let (host_veth, peer) = (self.veth_name(), self.veth_name());
        let ep_id = self.new_id();
        pl.ops.extend(bridge::create_endpoint(&cfg, &host_veth, &peer));
        if self.containers[cid].sandbox.is_none() {
            self.new_sandbox(cid, pl);
        }
        let c = &self.containers[cid];
        let sb = c.sandbox.clone().expect("sandbox exists before join");
        let ifname = self.ifname_for(cid, &att.network_id, pl);
        let mut aliases = att.aliases.clone();
        if user_defined && !aliases.contains(&c.short_id()) {
            aliases.push(c.short_id());
        }
        if user_defined && sb.dns_ports.is_none() {
            self.start_resolver(cid, pl);
        }
        let addr = Ipv4Net::new(ip, prefix).expect("prefix from a subnet");
        let mac = mac_from_ip(ip);
        let iface = Iface { src: &peer, dst: &ifname, mac, addr };
        pl.ops.extend(sandbox::add_interface(&sb.key, &iface));
        if !self.has_gateway_endpoint(cid) && !cfg.internal {
            pl.ops.push(sandbox::set_gateway(&sb.key, cfg.bridge_addr.addr(), &ifname));
        }
        for b in &ports {
            self.map_port(b, ip, &cfg.bridge_name, pl);
        }
        let ep = Endpoint {
            id: ep_id,
            container_id: cid.to_string(),
            name: self.containers[cid].name.clone(),
            addr,
            mac,
            host_veth,
            ifname,
            aliases,
            ports,
        };
        self.networks[&att.network_id].endpoints.insert(cid.to_string(), ep);
    }

    pub(crate) fn start_resolver(&mut self, cid: &str, pl: &mut Plumbing) {
        let udp = self.rng.range_u64(32768, 61000) as u16;
        let tcp = self.rng.range_u64(32768, 61000) as u16;
        let c = &mut self.containers[cid];
        let sb = c.sandbox.as_mut().expect("sandbox exists before join");
        sb.dns_ports = Some((udp, tcp));
        pl.ops.extend(sandbox::setup_resolver(&sb.key, udp, tcp));
        c.nameservers = vec![RESOLVER_IP];
    }

    fn map_port(&mut self, b: &Binding, ip: Ipv4Addr, bridge_name: &str, pl: &mut Plumbing) {
        self.ports.insert((b.proto, b.host_ip, b.host_port));
        if b.host_port >= self.next_ephemeral && b.host_port < EPHEMERAL_END {
            self.next_ephemeral = b.host_port + 1;
        }
        let f = Forward {
            proto: b.proto,
            host_ip: b.host_ip,
            host_port: b.host_port,
            container_ip: ip,
            container_port: b.container_port,
            bridge: bridge_name,
        };
        bridge::forward(&mut self.fw, Action::Append, &f, &mut pl.ops);
        pl.effects.push(Effect::StartProxy {
            proto: b.proto,
            host_ip: b.host_ip,
            host_port: b.host_port,
            container_ip: ip,
            container_port: b.container_port,
        });
    }

    /// The lowest `ethN` not yet used in the container.
    pub(crate) fn free_ifname(&self, cid: &str) -> String {
        let used: Vec<&str> = self
            .networks
            .values()
            .filter_map(|n| n.endpoints.get(cid))
            .map(|e| e.ifname.as_str())
            .collect();
        (0..).map(|n| format!("eth{n}")).find(|i| !used.contains(&i.as_str())).expect("unbounded")
    }

    /// Whether one of the container's endpoints already gives it its default route: a
    /// bridge that is not internal, or a macvlan network (whose gateway is the LAN's).
    pub(crate) fn has_gateway_endpoint(&self, cid: &str) -> bool {
        self.networks.values().any(|n| {
            let gives_route = n.bridge.as_ref().is_some_and(|b| !b.internal);
            n.endpoints.contains_key(cid) && (gives_route || n.driver == Driver::Macvlan)
        })
    }

    /// `Leave` + `DeleteEndpoint` for one network: ports unmapped, the interface deleted
    /// (its host peer goes with it), the address released.
    pub(crate) fn leave(&mut self, cid: &str, net_id: &str, pl: &mut Plumbing) {
        let Some(ep) = self.networks[net_id].endpoints.shift_remove(cid) else { return };
        if let Some(bridge) = self.bridge_of(net_id) {
            let bridge_name = bridge.bridge_name.clone();
            self.unmap_ports(&ep, &bridge_name, pl);
        }
        let sb = self.containers[cid].sandbox.clone().expect("joined containers have a sandbox");
        pl.ops
            .push(KernelOp::LinkDel { ns: crate::kernel::NsRef::named(&sb.key), name: ep.ifname });
        let Some(pool) = self.networks[net_id].pool.as_mut() else { return };
        pool.release(ep.addr.addr());
    }

    fn unmap_ports(&mut self, ep: &Endpoint, bridge_name: &str, pl: &mut Plumbing) {
        for b in &ep.ports {
            let f = Forward {
                proto: b.proto,
                host_ip: b.host_ip,
                host_port: b.host_port,
                container_ip: ep.addr.addr(),
                container_port: b.container_port,
                bridge: bridge_name,
            };
            bridge::forward(&mut self.fw, Action::Delete, &f, &mut pl.ops);
            pl.effects.push(Effect::StopProxy {
                proto: b.proto,
                host_ip: b.host_ip,
                host_port: b.host_port,
            });
            self.ports.remove(&(b.proto, b.host_ip, b.host_port));
        }
    }

    /// Everything a stopping container releases: its endpoints, then its namespace.
    pub(crate) fn unplumb_container(&mut self, cid: &str) -> Plumbing {
        let mut pl = Plumbing::default();
        self.withdraw_endpoints(cid);
        let net_ids: Vec<String> = self.networks.keys().cloned().collect();
        for id in net_ids {
            self.leave(cid, &id, &mut pl);
        }
        let c = &mut self.containers[cid];
        if let Some(sb) = c.sandbox.take() {
            if !sb.is_host() {
                pl.ops.push(KernelOp::NetnsDel { name: sb.key });
            }
        }
        pl
    }

    pub(crate) fn is_running(&self, cid: &str) -> bool {
        matches!(self.containers[cid].state, ContainerState::Running { .. })
    }
}

/// The protocol part of a port key (`80/tcp`).
pub(crate) fn proto_of(s: &str) -> Option<Proto> {
    match s {
        "tcp" => Some(Proto::Tcp),
        "udp" => Some(Proto::Udp),
        _ => None,
    }
}
