//! The routing mesh on one node: the ingress network and the host's side of it (daemon
//! `SetupIngress`; libnetwork `service_linux.go` `programIngress`, `addRedirectRules`;
//! docker-facts 25–27).
//!
//! Contract: once the manager's attachment to the ingress network reaches the node, the
//! network is instantiated here and `ingress-sbox` is built (see `lb_sandbox`), with its
//! gateway leg on `docker_gwbridge`. The first time a published port's service gets a
//! backend in `ingress-sbox`, the host's nat and filter `DOCKER-INGRESS` chains (made on
//! first use, with their jumps and trailing `RETURN`s) get the port's DNAT to the sandbox's
//! gateway address and the two ACCEPTs; each port config is reference-counted, and its
//! rules go with the last service using it. A task container on ingress redirects each
//! published port on its ingress address to the target port, and accepts nothing else on
//! that address. The daemon's listening socket that reserves each published port is not
//! modelled: nothing reaches it, the DNAT sees the packets first.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::bridge;
use super::daemon::Daemon;
use super::iptables::{Action, Table};
use super::lb_sandbox::proto_name;
use super::network::{Endpoint, GW_BRIDGE};
use super::sandbox::{self, mac_from_ip, Iface};
use super::swarm::daemon_side::SwarmState;
use super::swarm::store::{PortConfig, Protocol};
use crate::engine::SimTime;
use crate::kernel::{KernelOp, NsRef};

/// The chain, in the host's nat and filter tables.
const INGRESS_CHAIN: &str = "DOCKER-INGRESS";
/// `ingress-sbox`'s endpoint on `docker_gwbridge`, by its (container) ID.
const GATEWAY_KEY: &str = "ingress-sbox";

/// `portConfigTbl`: how many services use each published port config on this node.
pub(crate) type PortRefs = BTreeMap<(Protocol, u16, u16), usize>;

fn port_key(p: &PortConfig) -> (Protocol, u16, u16) {
    (p.protocol, p.target, p.published)
}

/// `filterPortConfigs`: the ports whose rules must change — on add those seen for the first
/// time, on delete those losing their last reference.
fn filter_ports(refs: &mut PortRefs, ports: &[PortConfig], add: bool) -> Vec<PortConfig> {
    let mut out = Vec::new();
    for p in ports {
        let key = port_key(p);
        if add {
            let count = refs.entry(key).or_insert(0);
            *count += 1;
            if *count == 1 {
                out.push(*p);
            }
        } else if let Some(count) = refs.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                refs.remove(&key);
                out.push(*p);
            }
        }
    }
    out
}

/// `redirector`: inside a task container, each published port on its ingress address goes
/// to the target port; only those connections in and out, everything else on that address
/// dropped.
pub(crate) fn redirect_ops(key: &str, addr: Ipv4Addr, ports: &[PortConfig]) -> Vec<KernelOp> {
    let rule = |text: String| KernelOp::Iptables {
        ns: NsRef::named(key),
        args: text.split_whitespace().map(String::from).collect(),
    };
    let mut ops = Vec::new();
    for p in ports {
        let (proto, published, target) = (proto_name(p.protocol), p.published, p.target);
        ops.push(rule(format!(
            "-t nat -A PREROUTING -d {addr} -p {proto} --dport {published} -j REDIRECT --to-port {target}"
        )));
        ops.push(rule(format!(
            "-I INPUT -d {addr} -p {proto} --dport {target} -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT"
        )));
        ops.push(rule(format!(
            "-I OUTPUT -s {addr} -p {proto} --sport {target} -m conntrack --ctstate ESTABLISHED -j ACCEPT"
        )));
    }
    if ports.is_empty() {
        return ops;
    }
    for proto in ["sctp", "udp", "tcp"] {
        ops.push(rule(format!("-A INPUT -d {addr} -p {proto} -j DROP")));
        ops.push(rule(format!("-A OUTPUT -s {addr} -p {proto} -j DROP")));
    }
    ops
}

impl Daemon {
    /// `SetupIngress`: the ingress network instantiated here as soon as the manager has
    /// given this node its address on it; `ingress-sbox` follows (`ensure_overlay`).
    pub(crate) fn ensure_ingress(&mut self, now: SimTime, ops: &mut Vec<KernelOp>) {
        let SwarmState::Active(node) = &self.swarm.state else { return };
        let ingress = node.agent.attachments.iter().find(|a| a.network.ingress);
        if let Some(net) = ingress.map(|a| a.network.clone()) {
            self.ensure_overlay(now, &net, ops);
        }
    }

    /// `setupDefaultGW` for `ingress-sbox`: `eth1` on `docker_gwbridge`, named
    /// `gateway_ingress-sbox`, and the default route through the bridge. Returns the leg's
    /// address.
    pub(crate) fn join_ingress_gateway(&mut self, key: &str, ops: &mut Vec<KernelOp>) -> Ipv4Addr {
        let gw_id = self.network_id(GW_BRIDGE).expect("docker_gwbridge exists in a swarm");
        let cfg = self.networks[&gw_id].bridge.clone().expect("a bridge");
        let pool = self.networks[&gw_id].pool.as_mut().expect("bridge pool");
        let ip = pool.request(None).expect("docker_gwbridge has free addresses");
        let (host_veth, peer) = (self.veth_name(), self.veth_name());
        ops.extend(bridge::create_endpoint(&cfg, &host_veth, &peer));
        let addr = Ipv4Net::new(ip, cfg.bridge_addr.prefix_len()).expect("prefix from a subnet");
        let mac = mac_from_ip(ip);
        ops.extend(sandbox::add_interface(key, &Iface { src: &peer, dst: "eth1", mac, addr }));
        ops.push(sandbox::set_gateway(key, cfg.bridge_addr.addr(), "eth1"));
        let ep = Endpoint {
            id: self.new_id(),
            container_id: GATEWAY_KEY.into(),
            name: format!("gateway_{GATEWAY_KEY}"),
            addr,
            mac,
            host_veth,
            ifname: "eth1".into(),
            aliases: Vec::new(),
            ports: Vec::new(),
        };
        self.networks[&gw_id].endpoints.insert(GATEWAY_KEY.into(), ep);
        ip
    }

    /// `ingress-sbox` goes: its gateway endpoint leaves `docker_gwbridge`.
    pub(crate) fn leave_ingress_gateway(&mut self) {
        let Some(gw_id) = self.network_id(GW_BRIDGE) else { return };
        let net = &mut self.networks[&gw_id];
        if let (Some(ep), Some(pool)) = (net.endpoints.shift_remove(GATEWAY_KEY), &mut net.pool) {
            pool.release(ep.addr.addr());
        }
    }

    /// `programIngress`: the host's rules for a service's published ports, sending them to
    /// `ingress-sbox` at `gw`; `add` false takes the ports' rules away.
    pub(crate) fn program_ingress(
        &mut self,
        gw: Ipv4Addr,
        ports: &[PortConfig],
        add: bool,
    ) -> Vec<KernelOp> {
        let mut ops = Vec::new();
        if add {
            self.ensure_ingress_chains(&mut ops);
        }
        let (action, fw) = (if add { Action::Insert } else { Action::Delete }, &mut self.fw);
        for p in filter_ports(&mut self.swarm.ingress_refs, ports, add) {
            let (proto, port) = (proto_name(p.protocol), p.published.to_string());
            let to = format!("{gw}:{port}");
            let dnat = ["-p", proto, "--dport", &port, "-j", "DNAT", "--to-destination", &to];
            fw.raw(&mut ops, Table::Nat, action, INGRESS_CHAIN, &dnat);
            let established = [
                "-m",
                "state",
                "-p",
                proto,
                "--sport",
                &port,
                "--state",
                "ESTABLISHED,RELATED",
                "-j",
                "ACCEPT",
            ];
            fw.raw(&mut ops, Table::DefaultFilter, action, INGRESS_CHAIN, &established);
            let accept = ["-p", proto, "--dport", &port, "-j", "ACCEPT"];
            fw.raw(&mut ops, Table::DefaultFilter, action, INGRESS_CHAIN, &accept);
        }
        ops
    }

    /// The chains, their `RETURN`s and jumps, `route_localnet` and the MASQUERADE for the
    /// host's own requests, each made only if missing.
    fn ensure_ingress_chains(&mut self, ops: &mut Vec<KernelOp>) {
        let fw = &mut self.fw;
        fw.new_chain(ops, Table::Nat, INGRESS_CHAIN);
        fw.new_chain(ops, Table::DefaultFilter, INGRESS_CHAIN);
        fw.program(ops, Table::Nat, Action::Append, INGRESS_CHAIN, &["-j", "RETURN"]);
        fw.add_return_rule(ops, INGRESS_CHAIN);
        let jump = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", INGRESS_CHAIN];
        for chain in ["OUTPUT", "PREROUTING"] {
            fw.program(ops, Table::Nat, Action::Insert, chain, &jump);
        }
        if !fw.exists(Table::DefaultFilter, "FORWARD", &["-j", INGRESS_CHAIN]) {
            fw.raw(ops, Table::DefaultFilter, Action::Insert, "FORWARD", &["-j", INGRESS_CHAIN]);
            // DOCKER-USER goes back on top (docker-facts 21): the next network the daemon
            // makes re-runs `arrangeUserFilterRule`.
            bridge::arrange_user_chain(fw, ops);
        }
        ops.push(KernelOp::Sysctl {
            ns: NsRef::Root,
            key: format!("net.ipv4.conf.{GW_BRIDGE}.route_localnet"),
            value: "1".into(),
        });
        let masquerade =
            ["-m", "addrtype", "--src-type", "LOCAL", "-o", GW_BRIDGE, "-j", "MASQUERADE"];
        fw.program(ops, Table::Nat, Action::Insert, "POSTROUTING", &masquerade);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::swarm::store::PublishMode;

    fn port(published: u16) -> PortConfig {
        PortConfig { protocol: Protocol::Tcp, target: 80, published, mode: PublishMode::Ingress }
    }

    #[test]
    fn port_rules_come_with_the_first_service_and_go_with_the_last() {
        let mut refs = PortRefs::new();
        assert_eq!(filter_ports(&mut refs, &[port(8080)], true), [port(8080)]);
        assert!(filter_ports(&mut refs, &[port(8080)], true).is_empty());
        assert!(filter_ports(&mut refs, &[port(8080)], false).is_empty());
        assert_eq!(filter_ports(&mut refs, &[port(8080)], false), [port(8080)]);
        assert!(refs.is_empty());
    }

    #[test]
    fn a_task_redirects_its_published_port_and_drops_the_rest() {
        let text: Vec<String> =
            redirect_ops("c036ec2f1a57", Ipv4Addr::new(10, 0, 0, 9), &[port(8080)])
                .iter()
                .map(|o| o.to_string())
                .collect();
        let ns = "ip netns exec c036ec2f1a57 iptables";
        assert_eq!(
            text[..4],
            [
                format!("{ns} -t nat -A PREROUTING -d 10.0.0.9 -p tcp --dport 8080 -j REDIRECT --to-port 80"),
                format!(
                    "{ns} -I INPUT -d 10.0.0.9 -p tcp --dport 80 -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT"
                ),
                format!(
                    "{ns} -I OUTPUT -s 10.0.0.9 -p tcp --sport 80 -m conntrack --ctstate ESTABLISHED -j ACCEPT"
                ),
                format!("{ns} -A INPUT -d 10.0.0.9 -p sctp -j DROP"),
            ]
        );
        assert_eq!(text.len(), 9);
        assert!(redirect_ops("x", Ipv4Addr::new(10, 0, 0, 9), &[]).is_empty());
    }
}
