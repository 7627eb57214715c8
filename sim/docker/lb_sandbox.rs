//! An overlay's load-balancer sandbox on a node (libnetwork `network.go`
//! `createLoadBalancerSandbox`, `service_linux.go` `addLBBackend`/`rmLBBackend`).
//!
//! Contract: once the overlay is instantiated here and the manager has given this node a
//! load-balancer address on it (`Node.Attachments`), the node has the sandbox `lb-<network>`
//! (namespace `lb_<netid[:9]>`) — for the ingress network `ingress-sbox` (namespace
//! `ingress_sbox`) — with the embedded resolver's NAT rules and one endpoint, `eth0` on the
//! overlay's `br0`, named `<network>-endpoint`. An overlay's LB endpoint is anonymous: only
//! its peer record is published. `ingress-sbox` also gets the gateway leg `eth1` on
//! `docker_gwbridge` (`gateway_ingress-sbox`) and the default route through it.
//!
//! Each service bound on the network with a VIP gets, in that namespace, the VIP as a /32
//! on `eth0`, the mangle `INPUT -d VIP/32 -j MARK --set-mark FWMARK` rule and the IPVS
//! service `-f FWMARK -s rr`; on ingress also a mangle `PREROUTING` mark per published port
//! and the host's `DOCKER-INGRESS` rules (see `ingress`). Each of its tasks, anywhere in the
//! swarm, is a masquerading real server of weight 1, set to weight 0 while the task stops
//! and deleted when it is gone. The first service also brings the `-m ipvs --ipvs` SNAT rule
//! to the LB address and `vs/conntrack=1`, so that the tasks answer the LB namespace. The
//! last backend of a service takes its IPVS service, rules and VIP away. The namespace goes
//! with the overlay.
//!
//! The resolver's rules are programmed as Docker does, but no DNS server process runs in
//! these namespaces: nothing in them sends queries.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::daemon::Daemon;
use super::network::Endpoint;
use super::sandbox::{self, mac_from_ip, Iface};
use super::service_bind::{BackendChange, LbChange};
use super::swarm::daemon_side::SwarmState;
use super::swarm::store::Protocol;
use crate::kernel::{KernelOp, NsRef};

/// The namespace's sysctls for a load balancer (`osl` `ApplyOSTweaks`, `loadBalancerConfig`).
const LB_SYSCTLS: [(&str, &str); 3] = [
    ("net.ipv4.vs.conn_reuse_mode", "0"),
    ("net.ipv4.vs.expire_nodest_conn", "1"),
    ("net.ipv4.vs.expire_quiescent_template", "1"),
];

/// The ingress network's LB sandbox: its namespace and its container ID.
pub const INGRESS_SBOX: &str = "ingress_sbox";
const INGRESS_SBOX_ID: &str = "ingress-sbox";

/// A network's LB sandbox: its endpoint, its gateway leg (ingress only), and what is
/// programmed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbSandbox {
    pub key: String,
    pub endpoint: Endpoint,
    /// `ingress-sbox`'s address on `docker_gwbridge`, where the host's DNAT sends.
    pub gateway: Option<Ipv4Addr>,
    /// `invokeFWMarker` adds the SNAT rule with the first service and never removes it.
    snat: bool,
    /// IPVS services and real servers programmed, by fwmark: a removal of one never added
    /// does nothing, as `rmLBBackend` ignores ENOENT.
    services: BTreeSet<u32>,
    servers: BTreeSet<(u32, Ipv4Addr)>,
}

/// The LB sandbox's namespace for a network (`lbSandboxName` → `osl.GenerateKey`).
pub fn lb_key(net_id: &str, ingress: bool) -> String {
    if ingress {
        return INGRESS_SBOX.into();
    }
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

pub(crate) fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// `fwMarker`'s rules, added (`-A`) or deleted (`-D`): a mark per published port, the SNAT
/// rule (added once, with `vs/conntrack` written first), the mark for the VIP.
fn fwmarker_ops(key: &str, lb: &LbChange, flag: &str, snat_to: Option<Ipv4Net>) -> Vec<KernelOp> {
    let mut ops = Vec::new();
    if snat_to.is_some() {
        let (key_, value) = ("net.ipv4.vs.conntrack".into(), "1".into());
        ops.push(KernelOp::Sysctl { ns: NsRef::named(key), key: key_, value });
    }
    for p in &lb.ingress_ports {
        let (proto, port, mark) = (proto_name(p.protocol), p.published, lb.fwmark);
        let rule = format!(
            "-t mangle {flag} PREROUTING -p {proto} --dport {port} -j MARK --set-mark {mark}"
        );
        ops.push(iptables(key, rule));
    }
    if let Some(lb_ip) = snat_to {
        let (subnet, to) = (lb_ip.trunc(), lb_ip.addr());
        let rule =
            format!("-t nat -A POSTROUTING -m ipvs --ipvs -d {subnet} -j SNAT --to-source {to}");
        ops.push(iptables(key, rule));
    }
    let (vip, mark) = (lb.vip, lb.fwmark);
    ops.push(iptables(
        key,
        format!("-t mangle {flag} INPUT -d {vip}/32 -j MARK --set-mark {mark}"),
    ));
    ops
}

impl Daemon {
    /// This node's load-balancer address on `net_id`, as the dispatcher last sent it.
    fn lb_address(&self, net_id: &str) -> Option<Ipv4Net> {
        let SwarmState::Active(node) = &self.swarm.state else { return None };
        node.agent.attachments.iter().find(|a| a.network.id == net_id).map(|a| a.addr)
    }

    /// Builds the LB sandbox of every local overlay that has an LB address and none yet,
    /// with the services already bound there.
    pub(crate) fn ensure_lb_sandboxes(&mut self) -> Vec<KernelOp> {
        let wanted: Vec<(String, Ipv4Net)> = self
            .networks
            .values()
            .filter(|n| n.overlay.is_some() && n.lb.is_none())
            .filter_map(|n| self.lb_address(&n.id).map(|a| (n.id.clone(), a)))
            .collect();
        let mut ops = Vec::new();
        for (net_id, addr) in wanted {
            ops.extend(self.create_lb_sandbox(&net_id, addr));
            let lbs: Vec<_> = self.swarm.services.load_balancers(&net_id).cloned().collect();
            for lb in lbs {
                let live = lb.backends.values().filter(|(_, disabled)| !disabled);
                for (i, &(backend, _)) in live.enumerate() {
                    let what = BackendChange::Added { new_service: i == 0 };
                    let change = LbChange::of(&lb, backend, what);
                    ops.extend(self.program_lb(&net_id, &change));
                }
            }
        }
        ops
    }

    /// The namespace and its endpoint, joined like a container's, then published.
    fn create_lb_sandbox(&mut self, net_id: &str, addr: Ipv4Net) -> Vec<KernelOp> {
        let cfg = self.networks[net_id].overlay.clone().expect("an overlay");
        let key = lb_key(net_id, cfg.ingress);
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
        let (udp, tcp) = (self.rng.range_u64(32768, 61000), self.rng.range_u64(32768, 61000));
        ops.extend(sandbox::setup_resolver(&key, udp as u16, tcp as u16));
        ops.extend(super::overlay::endpoint_ops(&cfg, &outer, &inner, &port));
        let mac = mac_from_ip(addr.addr());
        ops.extend(sandbox::add_interface(&key, &Iface { src: &inner, dst: "eth0", mac, addr }));
        let name = self.networks[net_id].name.clone();
        let ep = Endpoint {
            id: self.rng.hex(32),
            container_id: if cfg.ingress { INGRESS_SBOX_ID.into() } else { format!("lb-{name}") },
            name: format!("{name}-endpoint"),
            addr,
            mac,
            host_veth: port,
            ifname: "eth0".into(),
            aliases: Vec::new(),
            ports: Vec::new(),
        };
        let gateway = cfg.ingress.then(|| self.join_ingress_gateway(&key, &mut ops));
        let sb = LbSandbox {
            key,
            endpoint: ep.clone(),
            gateway,
            snat: false,
            services: BTreeSet::new(),
            servers: BTreeSet::new(),
        };
        self.networks[net_id].lb = Some(sb);
        if cfg.ingress {
            self.publish_endpoint(net_id, &ep);
        } else {
            self.publish_peer(net_id, &ep);
        }
        ops
    }

    /// What a change in the network's service bindings does to its LB sandbox, if any.
    pub(crate) fn program_lb(&mut self, net_id: &str, change: &LbChange) -> Vec<KernelOp> {
        let Some(sb) = self.networks.get_mut(net_id).and_then(|n| n.lb.as_mut()) else {
            return Vec::new();
        };
        let (key, server) = (sb.key.clone(), (change.fwmark, change.backend));
        let (mark, ip) = server;
        match change.what {
            BackendChange::Added { new_service } => {
                let mut ops = Vec::new();
                if new_service {
                    let snat_to = (!sb.snat).then_some(sb.endpoint.addr);
                    sb.snat = true;
                    sb.services.insert(mark);
                    ops = self.lb_service_ops(net_id, change, snat_to);
                }
                let sb = self.networks[net_id].lb.as_mut().expect("checked above");
                sb.servers.insert(server);
                ops.push(ipvsadm(&key, format!("-a -f {mark} -r {ip}:0 -m -w 1")));
                ops
            }
            BackendChange::Disabled if sb.servers.contains(&server) => {
                vec![ipvsadm(&key, format!("-e -f {mark} -r {ip}:0 -m -w 0"))]
            }
            BackendChange::Disabled => Vec::new(),
            BackendChange::Removed { service_gone } => {
                let mut ops = Vec::new();
                if sb.servers.remove(&server) {
                    ops.push(ipvsadm(&key, format!("-d -f {mark} -r {ip}:0")));
                }
                if service_gone && sb.services.remove(&mark) {
                    ops.extend(self.lb_service_removal_ops(net_id, change));
                }
                ops
            }
        }
    }

    /// A service's first backend: VIP alias, the host's ingress rules (ingress only), the
    /// marks (and SNAT), the IPVS service.
    fn lb_service_ops(
        &mut self,
        net_id: &str,
        lb: &LbChange,
        snat_to: Option<Ipv4Net>,
    ) -> Vec<KernelOp> {
        let sb = self.networks[net_id].lb.clone().expect("an LB sandbox");
        let vip32 = Ipv4Net::new(lb.vip, 32).expect("/32");
        let ns = NsRef::named(&sb.key);
        let mut ops = vec![KernelOp::AddrAdd { ns, dev: "eth0".into(), addr: vip32 }];
        if let Some(gw) = sb.gateway {
            ops.extend(self.program_ingress(gw, &lb.ingress_ports, true));
        }
        ops.extend(fwmarker_ops(&sb.key, lb, "-A", snat_to));
        ops.push(ipvsadm(&sb.key, format!("-A -f {} -s rr", lb.fwmark)));
        ops
    }

    /// The last backend went: the IPVS service, the host's ingress rules, the marks, the VIP.
    fn lb_service_removal_ops(&mut self, net_id: &str, lb: &LbChange) -> Vec<KernelOp> {
        let sb = self.networks[net_id].lb.clone().expect("an LB sandbox");
        let mut ops = vec![ipvsadm(&sb.key, format!("-D -f {}", lb.fwmark))];
        if let Some(gw) = sb.gateway {
            ops.extend(self.program_ingress(gw, &lb.ingress_ports, false));
        }
        ops.extend(fwmarker_ops(&sb.key, lb, "-D", None));
        let vip32 = Ipv4Net::new(lb.vip, 32).expect("/32");
        ops.push(KernelOp::AddrDel { ns: NsRef::named(&sb.key), dev: "eth0".into(), addr: vip32 });
        ops
    }

    /// The network leaves this node: its LB endpoints are withdrawn, and the namespace goes.
    pub(crate) fn drop_lb_sandbox(&mut self, net_id: &str) -> Vec<KernelOp> {
        let Some(sb) = self.networks[net_id].lb.take() else { return Vec::new() };
        if sb.gateway.is_some() {
            self.withdraw_endpoint(net_id, &sb.endpoint);
            self.leave_ingress_gateway();
        } else {
            self.withdraw_peer(net_id, &sb.endpoint);
        }
        vec![KernelOp::NetnsDel { name: sb.key }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::swarm::store::{PortConfig, PublishMode};

    fn lines(ops: &[KernelOp]) -> Vec<String> {
        ops.iter().map(|op| op.to_string()).collect()
    }

    fn change(ingress_ports: Vec<PortConfig>) -> LbChange {
        LbChange {
            vip: Ipv4Addr::new(10, 0, 1, 2),
            fwmark: 256,
            ingress_ports,
            backend: Ipv4Addr::new(10, 0, 1, 3),
            what: BackendChange::Added { new_service: true },
        }
    }

    #[test]
    fn the_first_service_brings_the_snat_rule_and_conntrack() {
        let lb_ip: Ipv4Net = "10.0.1.7/24".parse().unwrap();
        let ops = fwmarker_ops("lb_x5ctdzrhf", &change(vec![]), "-A", Some(lb_ip));
        let ns = "ip netns exec lb_x5ctdzrhf";
        assert_eq!(
            lines(&ops),
            [
                format!("{ns} sysctl -w net.ipv4.vs.conntrack=1"),
                format!(
                    "{ns} iptables -t nat -A POSTROUTING -m ipvs --ipvs -d 10.0.1.0/24 -j SNAT \
                     --to-source 10.0.1.7"
                ),
                format!("{ns} iptables -t mangle -A INPUT -d 10.0.1.2/32 -j MARK --set-mark 256"),
            ]
        );
        let second = fwmarker_ops("lb_x5ctdzrhf", &change(vec![]), "-A", None);
        assert_eq!(second.len(), 1, "no second SNAT rule: {:?}", lines(&second));
    }

    #[test]
    fn ingress_marks_each_published_port_before_the_vip() {
        let port = PortConfig {
            protocol: Protocol::Tcp,
            target: 80,
            published: 1080,
            mode: PublishMode::Ingress,
        };
        let ops = fwmarker_ops(INGRESS_SBOX, &change(vec![port]), "-D", None);
        let ns = "ip netns exec ingress_sbox";
        assert_eq!(
            lines(&ops),
            [
                format!(
                    "{ns} iptables -t mangle -D PREROUTING -p tcp --dport 1080 -j MARK --set-mark 256"
                ),
                format!("{ns} iptables -t mangle -D INPUT -d 10.0.1.2/32 -j MARK --set-mark 256"),
            ]
        );
        assert_eq!(lb_key("y5rtwtq7bj4u", false), "lb_y5rtwtq7b");
        assert_eq!(lb_key("das46zk71z4g", true), "ingress_sbox");
    }
}
