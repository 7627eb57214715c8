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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::docker::HostInfo;
    use crate::engine::{SimDuration, Streams};

    fn daemon() -> Daemon {
        let host = HostInfo {
            hostname: "host-a".into(),
            interfaces: vec![("eth0".into(), "192.168.0.11/24".parse().unwrap())],
            nameservers: vec![Ipv4Addr::new(192, 168, 0, 1)],
            os: crate::docker::swarm::store::Os::Linux,
            engine_version: "20.10.7".into(),
        };
        Daemon::start(host, Streams::new(7).stream("host/host-a/docker")).0
    }

    fn run(d: &mut Daemon, line: &str) -> DockerOutcome {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        d.handle(SimTime::ZERO + SimDuration::from_secs(1), &argv)
    }

    fn ops(out: &DockerOutcome) -> Vec<String> {
        out.ops.iter().map(|o| o.to_string()).collect()
    }

    const CREATE: &str = "network create -d macvlan --subnet 192.168.10.0/24";

    #[test]
    fn a_vlan_parent_is_made_with_the_network_and_goes_with_it() {
        let mut d = daemon();
        let out = run(&mut d, &format!("{CREATE} -o parent=eth0.10 macvlan10"));
        assert_eq!(out.exit_code, 0, "{}", out.stderr);
        assert_eq!(
            ops(&out),
            ["ip link add link eth0 name eth0.10 type vlan id 10", "ip link set dev eth0.10 up"]
        );
        assert_eq!(ops(&run(&mut d, "network rm macvlan10")), ["ip link delete eth0.10"]);
        // A parent the host had stays.
        let out = run(&mut d, &format!("{CREATE} -o parent=eth0 plain"));
        assert!(out.ops.is_empty());
        assert!(run(&mut d, "network rm plain").ops.is_empty());
    }

    #[test]
    fn the_drivers_refusals() {
        let mut d = daemon();
        let err = |d: &mut Daemon, line: String| run(d, &line).stderr;
        assert_eq!(
            err(&mut d, format!("{CREATE} -o parent=eth1 n")),
            "Error response from daemon: invalid subinterface vlan name eth1, example formatting is eth0.10\n"
        );
        assert_eq!(
            err(&mut d, format!("{CREATE} -o parent=eth1.10 n")),
            "Error response from daemon: -o parent interface does was not found on the host: eth1\n"
        );
        assert_eq!(
            err(&mut d, format!("{CREATE} -o parent=eth0.4095 n")),
            "Error response from daemon: vlan id must be between 1-4094, received: 4095\n"
        );
        assert_eq!(
            err(&mut d, format!("{CREATE} -o parent=eth0 -o macvlan_mode=hub n")),
            "Error response from daemon: requested macvlan mode 'hub' is not valid, 'bridge' mode is the macvlan driver default\n"
        );
        assert_eq!(
            err(&mut d, format!("{CREATE} -o parent=lo n")),
            "Error response from daemon: loopback interface is not a valid macvlan parent link\n"
        );
        run(&mut d, &format!("{CREATE} -o parent=eth0 first"));
        let id = d.network("first").unwrap().id[..12].to_string();
        assert_eq!(
            err(&mut d, "network create -d macvlan --subnet 192.168.20.0/24 -o parent=eth0 n".into()),
            format!("Error response from daemon: network dm-{id} is already using parent interface eth0\n")
        );
    }

    #[test]
    fn a_container_gets_a_macvlan_device_and_the_lans_gateway() {
        let mut d = daemon();
        run(&mut d, "network create -d macvlan --subnet 192.168.0.0/24 --gateway 192.168.0.1 -o parent=eth0 -o macvlan_mode=private mv");
        let out = run(&mut d, "run -d --net mv --ip 192.168.0.4 -p 80:80 --name web nginx");
        assert_eq!(out.exit_code, 0, "{}", out.stderr);
        let ops = ops(&out);
        let src = &d.network("mv").unwrap().endpoints.values().next().unwrap().host_veth;
        let want = [
            format!("ip link add {src} link eth0 type macvlan mode private"),
            "ip addr add 192.168.0.4/24 dev eth0".into(),
            "route add default via 192.168.0.1 dev eth0".into(),
        ];
        for w in &want {
            assert!(ops.iter().any(|o| o.ends_with(w.as_str())), "{w} missing from {ops:#?}");
        }
        let host_dnat = ops.iter().any(|o| o.starts_with("iptables") && o.contains("DNAT"));
        assert!(!host_dnat, "-p is ignored: {ops:#?}");
        assert!(ops.iter().any(|o| o.ends_with("address 02:42:c0:a8:00:04")));
        let ls = run(&mut d, "network ls").stdout;
        assert!(ls.contains("   mv        macvlan   local\n"), "{ls}");
    }
}
