//! The macvlan driver (libnetwork `drivers/macvlan`): containers get their own MAC and an
//! address of the LAN their host's interface is on.
//!
//! Contract, as Docker 20.10 does it:
//! - `network create -d macvlan -o parent=IF [-o macvlan_mode=MODE]`: IPAM as for any local
//!   network (the user's subnet and gateway; the gateway is the LAN's router, outside the
//!   host); no bridge and no iptables rules. One network per parent. A parent `eth0.10`
//!   that does not exist is made as an 802.1Q sub-interface of `eth0` (and brought up), and
//!   deleted with the network; a parent the host already had is left alone.
//! - Joining a container: a macvlan device named `veth` + 7 hex digits on the parent, moved
//!   into the container as `ethN` with the MAC derived from its address (Docker ≤27), the
//!   default route through the network's gateway; published ports are ignored (the driver
//!   only logs a warning). Names resolve through the embedded DNS as on user-defined
//!   bridges, but only among this host's containers: the network is local.
//! - Not simulated: a macvlan network without `-o parent` (libnetwork's `dm-` dummy parent,
//!   also what `--internal` gives) and swarm-scoped (`--config-from`) macvlan networks.

use ipnet::Ipv4Net;

use super::cli::Parsed;
use super::container::Attachment;
use super::daemon::Daemon;
use super::endpoint::Plumbing;
use super::network::{daemon_err, key_values, Driver, Endpoint, Network, UserIpam};
use super::sandbox::{self, mac_from_ip, Iface};
use super::DockerOutcome;
use crate::engine::SimTime;
use crate::kernel::{KernelOp, MacvlanMode, NsRef};

/// `-o parent=IF`.
const PARENT_OPT: &str = "parent";
/// `-o macvlan_mode=MODE`.
const MODE_OPT: &str = "macvlan_mode";

impl Network {
    /// A macvlan network's parent interface (`-o parent`).
    pub(crate) fn macvlan_parent(&self) -> Option<&str> {
        let parent = self.options.iter().rev().find(|(k, _)| k == PARENT_OPT);
        parent.map(|(_, v)| v.as_str()).filter(|_| self.driver == Driver::Macvlan)
    }

    /// A macvlan network's mode; bridge unless `-o macvlan_mode` says otherwise.
    fn macvlan_mode(&self) -> MacvlanMode {
        let mode = self.options.iter().rev().find(|(k, _)| k == MODE_OPT);
        mode.map_or(MacvlanMode::Bridge, |(_, v)| v.parse().expect("checked at create"))
    }
}

impl Daemon {
    /// `docker network create -d macvlan …` after the CLI's checks: the driver's
    /// refusals, then IPAM, then the parent sub-interface if the driver has to make it.
    pub(crate) fn cmd_macvlan_create(
        &mut self,
        now: SimTime,
        name: String,
        ipam: Option<UserIpam>,
        p: &Parsed,
    ) -> DockerOutcome {
        let options = key_values(p.values("opt"));
        let opt = |k: &str| options.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let mode = opt(MODE_OPT).unwrap_or_else(|| "bridge".into());
        if mode.parse::<MacvlanMode>().is_err() {
            return daemon_err(format!(
                "requested macvlan mode '{mode}' is not valid, 'bridge' mode is the macvlan driver default"
            ));
        }
        let parent = match opt(PARENT_OPT).filter(|p| !p.is_empty()) {
            Some(parent) if !p.flag("internal") => parent,
            _ => return DockerOutcome::err(
                "swarmsim: a macvlan network without -o parent (or --internal) is not simulated\n",
                1,
            ),
        };
        if parent == "lo" {
            return daemon_err("loopback interface is not a valid macvlan parent link");
        }
        let (pool, gw) = match self.allocate_pool(ipam.as_ref()) {
            Ok(x) => x,
            Err(e) => return daemon_err(e),
        };
        let mut out = DockerOutcome::default();
        if let Err(e) = self.ensure_parent(&parent, &mut out.ops) {
            return daemon_err(e);
        }
        let id = self.new_id();
        let mut net = Network::builtin(id.clone(), &name, Driver::Macvlan, now);
        (net.options, net.labels) = (options, key_values(p.values("label")));
        (net.pool, net.gateway, net.user_ipam) = (Some(pool), Some(gw), ipam);
        net.ipam_options = Some(Vec::new());
        net.attachable = p.flag("attachable");
        self.networks.insert(id.clone(), net);
        out.stdout = format!("{id}\n");
        out
    }

    /// `createNetwork`: one network per parent; a missing parent must be a sub-interface
    /// name (`eth0.10`), which is made.
    fn ensure_parent(&self, parent: &str, ops: &mut Vec<KernelOp>) -> Result<(), String> {
        if let Some(other) = self.networks.values().find(|n| n.macvlan_parent() == Some(parent)) {
            return Err(format!(
                "network dm-{} is already using parent interface {parent}",
                &other.id[..12]
            ));
        }
        if self.host_has_interface(parent) {
            return Ok(());
        }
        if !parent.contains('.') {
            return Err(format!(
                "invalid subinterface vlan name {parent}, example formatting is eth0.10"
            ));
        }
        let (lower, id) = self.parse_vlan(parent)?;
        if !(1..=4094).contains(&id) {
            return Err(format!("vlan id must be between 1-4094, received: {id}"));
        }
        let ns = NsRef::Root;
        let name = parent.to_string();
        ops.push(KernelOp::VlanAdd { ns: ns.clone(), name: name.clone(), parent: lower, id });
        ops.push(KernelOp::LinkUp { ns, name });
        Ok(())
    }

    /// `parseVlan`: `eth0.10` is parent `eth0` (which must exist) and VLAN 10.
    fn parse_vlan(&self, name: &str) -> Result<(String, u16), String> {
        let [lower, vid] = name.split('.').collect::<Vec<_>>()[..] else {
            return Err(format!("required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received {name}"));
        };
        let id: i64 = vid.parse().map_err(|_| {
            format!("unable to parse a valid vlan id from: {vid} (ex. eth0.10 for vlan 10)")
        })?;
        if !self.host_has_interface(lower) {
            return Err(format!("-o parent interface does was not found on the host: {lower}"));
        }
        let id = u16::try_from(id)
            .map_err(|_| format!("vlan id must be between 1-4094, received: {id}"))?;
        Ok((lower.to_string(), id))
    }

    /// The host's own interfaces and the sub-interfaces macvlan networks made.
    fn host_has_interface(&self, name: &str) -> bool {
        self.host.interfaces.iter().any(|(n, _)| n == name)
            || self.networks.values().any(|n| n.macvlan_parent() == Some(name))
    }

    /// `DeleteNetwork`: a sub-interface the driver made goes with the network.
    pub(crate) fn delete_macvlan_network(&self, net: &Network, ops: &mut Vec<KernelOp>) {
        let parent = net.macvlan_parent().expect("a macvlan network has a parent");
        if !self.host.interfaces.iter().any(|(n, _)| n == parent) {
            ops.push(KernelOp::LinkDel { ns: NsRef::Root, name: parent.to_string() });
        }
    }

    /// `CreateEndpoint` + `Join` on a macvlan network: the macvlan device on the parent,
    /// into the sandbox with the address's MAC, the default route via the gateway.
    pub(crate) fn join_macvlan(&mut self, cid: &str, att: &Attachment, pl: &mut Plumbing) {
        let net = &self.networks[&att.network_id];
        let (parent, mode) =
            (net.macvlan_parent().expect("macvlan").to_string(), net.macvlan_mode());
        let gw = net.gateway.expect("IPAM gives every macvlan network a gateway");
        let pool = self.networks[&att.network_id].pool.as_mut().expect("macvlan pool");
        let prefix = pool.subnet.prefix_len();
        let ip = pool.request(att.ip).expect("validated before plumbing");
        let src = self.veth_name();
        let ep_id = self.new_id();
        if self.containers[cid].sandbox.is_none() {
            self.new_sandbox(cid, pl);
        }
        let sb = self.containers[cid].sandbox.clone().expect("sandbox exists before join");
        let ifname = self.ifname_for(cid, &att.network_id, pl);
        if sb.dns_ports.is_none() {
            self.start_resolver(cid, pl);
        }
        let root = NsRef::Root;
        pl.ops.push(KernelOp::MacvlanAdd { ns: root, name: src.clone(), parent, mode });
        let addr = Ipv4Net::new(ip, prefix).expect("prefix from a subnet");
        let mac = mac_from_ip(ip);
        pl.ops
            .extend(sandbox::add_interface(&sb.key, &Iface { src: &src, dst: &ifname, mac, addr }));
        if !self.has_gateway_endpoint(cid) {
            pl.ops.push(sandbox::set_gateway(&sb.key, gw, &ifname));
        }
        let c = &self.containers[cid];
        let mut aliases = att.aliases.clone();
        if !aliases.contains(&c.short_id()) {
            aliases.push(c.short_id());
        }
        let ep = Endpoint {
            id: ep_id,
            container_id: cid.to_string(),
            name: c.name.clone(),
            addr,
            mac,
            host_veth: src,
            ifname,
            aliases,
            ports: Vec::new(),
        };
        self.networks[&att.network_id].endpoints.insert(cid.to_string(), ep);
    }
}
