//! An overlay's load-balancer sandbox on a node (libnetwork `network.go`
//! `createLoadBalancerSandbox`, `service_linux.go` `addLBBackend`/`rmLBBackend`).
//!
//! Contract: once the overlay is instantiated here and the manager has given this node a
//! load-balancer address on it (`Node.Attachments`), the node has the namespace
//! `lb_<netid[:9]>` with one endpoint, `eth0` on the overlay's `br0`, named
//! `<network>-endpoint` (sandbox `lb-<network>`), published like any endpoint. Each service
//! bound on the network with a VIP gets, in that namespace, the VIP as a /32 on `eth0`, the
//! mangle `INPUT -d VIP/32 -j MARK --set-mark FWMARK` rule and the IPVS service `-f FWMARK
//! -s rr`; each of its tasks, anywhere in the swarm, is a masquerading real server of
//! weight 1. The first service also brings the `-m ipvs --ipvs` SNAT rule to the LB address
//! and `vs/conntrack=1`, so that the tasks answer the LB namespace. The last backend of a
//! service takes its IPVS service, rule and VIP away. The namespace goes with the overlay.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::daemon::Daemon;
use super::network::Endpoint;
use super::sandbox::{self, mac_from_ip, Iface};
use super::service_bind::LbChange;
use super::swarm::daemon_side::SwarmState;
use crate::kernel::{KernelOp, NsRef};

/// The namespace's sysctls for a load balancer (`osl` `ApplyOSTweaks`, `loadBalancerConfig`).
const LB_SYSCTLS: [(&str, &str); 3] = [
    ("net.ipv4.vs.conn_reuse_mode", "0"),
    ("net.ipv4.vs.expire_nodest_conn", "1"),
    ("net.ipv4.vs.expire_quiescent_template", "1"),
];

/// The sandbox `lb-<network>`: its endpoint, and whether its SNAT rule is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbSandbox {
    pub endpoint: Endpoint,
    /// `invokeFWMarker` adds the rule with the first service and never removes it.
    snat: bool,
}

/// The LB sandbox's namespace for a network.
pub fn lb_key(net_id: &str) -> String {
    format!("lb_{}", &net_id[..9])
}

fn iptables(key: &str, rule: String) -> KernelOp {
    let args = rule.split_whitespace().map(String::from).collect();
    KernelOp::Iptables { ns: NsRef::named(key), args }
}

fn ipvsadm(key: &str, args: String) -> KernelOp {
    let args = args.split_whitespace().map(String::from).collect();
    KernelOp::Ipvsadm { ns: NsRef::named(key), args }
}

/// A service's first backend on this node: VIP alias, mark rule, IPVS service; the SNAT
/// rule too for the sandbox's first service (`invokeFWMarker` checks it exists).
fn service_ops(
    key: &str,
    lb_ip: Ipv4Net,
    vip: Ipv4Addr,
    fwmark: u32,
    first: bool,
) -> Vec<KernelOp> {
    let ns = NsRef::named(key);
    let vip32 = Ipv4Net::new(vip, 32).expect("/32");
    let mut ops = vec![KernelOp::AddrAdd { ns: ns.clone(), dev: "eth0".into(), addr: vip32 }];
    ops.push(iptables(key, format!("-t mangle -A INPUT -d {vip}/32 -j MARK --set-mark {fwmark}")));
    if first {
        let subnet = lb_ip.trunc();
        let snat = format!(
            "-t nat -A POSTROUTING -m ipvs --ipvs -d {subnet} -j SNAT --to-source {}",
            lb_ip.addr()
        );
        ops.push(iptables(key, snat));
        let (key, value) = ("net.ipv4.vs.conntrack".into(), "1".into());
        ops.push(KernelOp::Sysctl { ns, key, value });
    }
    ops.push(ipvsadm(key, format!("-A -f {fwmark} -s rr")));
    ops
}

/// The last backend went: the IPVS service, its mark rule and its VIP.
fn service_removal_ops(key: &str, vip: Ipv4Addr, fwmark: u32) -> Vec<KernelOp> {
    let vip32 = Ipv4Net::new(vip, 32).expect("/32");
    vec![
        ipvsadm(key, format!("-D -f {fwmark}")),
        iptables(key, format!("-t mangle -D INPUT -d {vip}/32 -j MARK --set-mark {fwmark}")),
        KernelOp::AddrDel { ns: NsRef::named(key), dev: "eth0".into(), addr: vip32 },
    ]
}

impl Daemon {
    /// This node's load-balancer address on `net_id`, as the dispatcher last sent it.
    fn lb_address(&self, net_id: &str) -> Option<Ipv4Net> {
        let SwarmState::Active(node) = &self.swarm.state else { return None };
        node.agent.attachments.iter().find(|a| a.network.id == net_id).map(|a| a.addr)
    }

    /// Builds the LB sandbox of every local overlay that has an LB address and none yet,
    /// with the services already bound there. Ingress is left out: its load balancer is
    /// `ingress_sbox`, which this model does not build yet.
    pub(crate) fn ensure_lb_sandboxes(&mut self) -> Vec<KernelOp> {
        let wanted: Vec<(String, Ipv4Net)> = self
            .networks
            .values()
            .filter(|n| n.overlay.as_ref().is_some_and(|o| !o.ingress) && n.lb.is_none())
            .filter_map(|n| self.lb_address(&n.id).map(|a| (n.id.clone(), a)))
            .collect();
        let mut ops = Vec::new();
        for (net_id, addr) in wanted {
            ops.extend(self.create_lb_sandbox(&net_id, addr));
            let lbs: Vec<_> = self.swarm.services.load_balancers(&net_id).cloned().collect();
            for lb in lbs {
                for (i, &backend) in lb.backends.values().enumerate() {
                    let (vip, fwmark, new_service) = (lb.vip, lb.fwmark, i == 0);
                    let change = LbChange::Added { vip, fwmark, backend, new_service };
                    ops.extend(self.program_lb(&net_id, &change));
                }
            }
        }
        ops
    }

    /// The namespace and its endpoint, joined like a container's, then published.
    fn create_lb_sandbox(&mut self, net_id: &str, addr: Ipv4Net) -> Vec<KernelOp> {
        let key = lb_key(net_id);
        let cfg = self.networks[net_id].overlay.clone().expect("an overlay");
        let (outer, inner) = (self.veth_name(), self.veth_name());
        let port = self.free_port_name(net_id);
        let mut ops = sandbox::create(&key);
        for (k, v) in LB_SYSCTLS {
            ops.push(KernelOp::Sysctl { ns: NsRef::named(&key), key: k.into(), value: v.into() });
        }
        // A new namespace copies the host's `ip_forward` (devconf_inherit_init_net=0); the
        // model starts namespaces at 0, so the host's 1 is set here for IPVS's replies.
        let forward = ("net.ipv4.ip_forward".into(), "1".into());
        ops.push(KernelOp::Sysctl { ns: NsRef::named(&key), key: forward.0, value: forward.1 });
        ops.extend(super::overlay::endpoint_ops(&cfg, &outer, &inner, &port));
        let mac = mac_from_ip(addr.addr());
        ops.extend(sandbox::add_interface(&key, &Iface { src: &inner, dst: "eth0", mac, addr }));
        let name = self.networks[net_id].name.clone();
        let ep = Endpoint {
            id: self.rng.hex(32),
            container_id: format!("lb-{name}"),
            name: format!("{name}-endpoint"),
            addr,
            mac,
            host_veth: port,
            ifname: "eth0".into(),
            aliases: Vec::new(),
            ports: Vec::new(),
        };
        self.networks[net_id].lb = Some(LbSandbox { endpoint: ep.clone(), snat: false });
        self.publish_endpoint(net_id, &ep);
        ops
    }

    /// What a change in the network's service bindings does to its LB sandbox, if any.
    pub(crate) fn program_lb(&mut self, net_id: &str, change: &LbChange) -> Vec<KernelOp> {
        let Some(sb) = self.networks.get_mut(net_id).and_then(|n| n.lb.as_mut()) else {
            return Vec::new();
        };
        let key = lb_key(net_id);
        match *change {
            LbChange::Added { vip, fwmark, backend, new_service } => {
                let mut ops = Vec::new();
                if new_service {
                    ops = service_ops(&key, sb.endpoint.addr, vip, fwmark, !sb.snat);
                    sb.snat = true;
                }
                ops.push(ipvsadm(&key, format!("-a -f {fwmark} -r {backend}:0 -m -w 1")));
                ops
            }
            LbChange::Removed { vip, fwmark, backend, service_gone } => {
                let mut ops = vec![ipvsadm(&key, format!("-d -f {fwmark} -r {backend}:0"))];
                if service_gone {
                    ops.extend(service_removal_ops(&key, vip, fwmark));
                }
                ops
            }
        }
    }

    /// The network leaves this node: its LB endpoint is withdrawn, and the namespace goes.
    pub(crate) fn drop_lb_sandbox(&mut self, net_id: &str) -> Vec<KernelOp> {
        let Some(sb) = self.networks[net_id].lb.take() else { return Vec::new() };
        self.withdraw_endpoint(net_id, &sb.endpoint);
        vec![KernelOp::NetnsDel { name: lb_key(net_id) }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(ops: &[KernelOp]) -> Vec<String> {
        ops.iter().map(|op| op.to_string()).collect()
    }

    #[test]
    fn the_first_service_brings_the_snat_rule_and_conntrack() {
        let lb_ip: Ipv4Net = "10.0.1.7/24".parse().unwrap();
        let ops = service_ops("lb_x5ctdzrhf", lb_ip, Ipv4Addr::new(10, 0, 1, 2), 256, true);
        let ns = "ip netns exec lb_x5ctdzrhf";
        assert_eq!(
            lines(&ops),
            [
                format!("{ns} ip addr add 10.0.1.2/32 dev eth0"),
                format!("{ns} iptables -t mangle -A INPUT -d 10.0.1.2/32 -j MARK --set-mark 256"),
                format!(
                    "{ns} iptables -t nat -A POSTROUTING -m ipvs --ipvs -d 10.0.1.0/24 -j SNAT \
                     --to-source 10.0.1.7"
                ),
                format!("{ns} sysctl -w net.ipv4.vs.conntrack=1"),
                format!("{ns} ipvsadm -A -f 256 -s rr"),
            ]
        );
        let second = service_ops("lb_x5ctdzrhf", lb_ip, Ipv4Addr::new(10, 0, 1, 8), 257, false);
        assert_eq!(second.len(), 3, "no second SNAT rule: {:?}", lines(&second));
    }

    #[test]
    fn the_last_backend_takes_service_rule_and_vip_away() {
        let ops = service_removal_ops("lb_x5ctdzrhf", Ipv4Addr::new(10, 0, 1, 2), 256);
        let ns = "ip netns exec lb_x5ctdzrhf";
        assert_eq!(
            lines(&ops),
            [
                format!("{ns} ipvsadm -D -f 256"),
                format!("{ns} iptables -t mangle -D INPUT -d 10.0.1.2/32 -j MARK --set-mark 256"),
                format!("{ns} ip addr del 10.0.1.2/32 dev eth0"),
            ]
        );
    }
}
