//! Export: the same data plane as a shell script for real Linux network namespaces, so the
//! real kernel can judge the model (the differential tests).
//!
//! Contract: [`Export`] turns the underlay and each machine's [`KernelOp`]s into commands
//! that never touch the real host's own namespace. Every simulated namespace becomes a real
//! named one ([`NsNames`]): a machine's root namespace is `PREFIX-MACHINE`, its named
//! namespace `N` is `PREFIX-MACHINE-N`, and each underlay LAN is a switch namespace
//! `PREFIX-lan-LAN` holding one bridge with a veth to every NIC on it. The ops render through
//! their own `Display` after their namespaces are renamed, so the script is exactly what the
//! model applied. [`Export::namespaces`] lists every namespace the script creates, for the
//! caller to remove afterwards (whatever happened; deleting one the script already deleted
//! just fails).
//!
//! Sysctls: the model reads a sysctl it was never given as 0, while a fresh real namespace
//! starts from the kernel's defaults. The two that decide forwarding differ: on Linux with
//! `br_netfilter` loaded (built in on the 6.x kernels we test on) every new namespace starts
//! with `net.bridge.bridge-nf-call-iptables=1` — the setting is per namespace since Linux
//! 5.3 — and `net.ipv4.ip_forward` may follow the initial namespace when
//! `net.core.devconf_inherit_init_net` is set. The script therefore pins both to the model's
//! 0 in every namespace it creates; an op that sets them later (Docker's `ip_forward=1`) is
//! rendered like any other.
//!
//! IPVS is left out: its ops become `# needs IPVS: …` comments (see `needs_ipvs`).

use std::net::Ipv4Addr;

use indexmap::IndexSet;
use ipnet::Ipv4Net;

use super::{KernelOp, NsRef};
use crate::wire::MacAddr;

/// Ops only a kernel with `ip_vs` runs: `ipvsadm`, its sysctls and `-m ipvs` rules. The
/// kernels the differential tests run on may lack the module, so the script leaves them out
/// (as comments), and the tests compare everything but the load balancers.
fn needs_ipvs(op: &KernelOp) -> bool {
    match op {
        KernelOp::Ipvsadm { .. } => true,
        KernelOp::Sysctl { key, .. } => key.starts_with("net.ipv4.vs."),
        KernelOp::Iptables { args, .. } => args.windows(2).any(|w| w[0] == "-m" && w[1] == "ipvs"),
        _ => false,
    }
}

/// The sysctls pinned to the model's reading of "never set" in each new namespace.
pub const PINNED_SYSCTLS: [&str; 2] = ["net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables"];

/// How simulated namespaces are named in real Linux.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsNames {
    prefix: String,
}

impl NsNames {
    /// `prefix` keeps concurrent runs apart (e.g. one per test process).
    pub fn new(prefix: &str) -> Self {
        NsNames { prefix: prefix.to_string() }
    }

    /// The real namespace standing for `ns` on `machine`.
    pub fn of(&self, machine: &str, ns: &NsRef) -> String {
        match ns {
            NsRef::Root => format!("{}-{machine}", self.prefix),
            NsRef::Named(n) => format!("{}-{machine}-{n}", self.prefix),
        }
    }

    /// The switch namespace of an underlay LAN.
    pub fn lan(&self, lan: &str) -> String {
        format!("{}-lan-{lan}", self.prefix)
    }

    /// `op` as it runs in real Linux: every namespace renamed, the machine's root included.
    pub fn localize(&self, machine: &str, op: &KernelOp) -> KernelOp {
        let mut op = op.clone();
        op.rename_namespaces(|ns| NsRef::Named(self.of(machine, ns)));
        op
    }
}

/// A machine's NIC on an underlay LAN, as the simulator built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub machine: String,
    pub lan: String,
    /// The interface name inside the machine (`eth0`).
    pub name: String,
    pub mac: MacAddr,
    pub addr: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
}

/// The script being built, and the namespaces it creates.
#[derive(Debug, Clone)]
pub struct Export {
    names: NsNames,
    commands: Vec<String>,
    namespaces: IndexSet<String>,
    /// Switch ports made so far, for short unique veth names.
    ports: usize,
}

impl Export {
    pub fn new(names: NsNames) -> Self {
        Export { names, commands: Vec::new(), namespaces: IndexSet::new(), ports: 0 }
    }

    pub fn names(&self) -> &NsNames {
        &self.names
    }

    /// The commands so far, one per line, for `sh -e`.
    pub fn script(&self) -> String {
        self.commands.iter().map(|c| format!("{c}\n")).collect()
    }

    /// Every namespace the script creates, in creation order (also those it deletes again).
    pub fn namespaces(&self) -> Vec<String> {
        self.namespaces.iter().cloned().collect()
    }

    /// A LAN: its switch namespace with an up bridge `br0`.
    pub fn lan(&mut self, lan: &str) {
        let sw = self.names.lan(lan);
        self.add_namespace(&sw);
        self.commands.push(format!("ip -n {sw} link add br0 type bridge"));
        self.commands.push(format!("ip -n {sw} link set br0 up"));
    }

    /// A machine's root namespace, with `lo` up as on a booted machine.
    pub fn machine(&mut self, machine: &str) {
        let ns = self.names.of(machine, &NsRef::Root);
        self.add_namespace(&ns);
        self.commands.push(format!("ip -n {ns} link set lo up"));
    }

    /// A NIC: a veth from the LAN's bridge into the machine, with the model's MAC, address
    /// and default route. The machine and the LAN must have been added.
    pub fn nic(&mut self, nic: &Nic) {
        let sw = self.names.lan(&nic.lan);
        let ns = self.names.of(&nic.machine, &NsRef::Root);
        let port = format!("p{}", self.ports);
        self.ports += 1;
        let dev = &nic.name;
        self.commands.extend([
            format!("ip -n {sw} link add {port} type veth peer name {dev} netns {ns}"),
            format!("ip -n {sw} link set {port} master br0"),
            format!("ip -n {sw} link set {port} up"),
            format!("ip -n {ns} link set dev {dev} address {}", nic.mac),
            format!("ip -n {ns} addr add {} dev {dev}", nic.addr),
            format!("ip -n {ns} link set dev {dev} up"),
        ]);
        if let Some(gw) = nic.gateway {
            self.commands.push(format!("ip -n {ns} route add default via {gw} dev {dev}"));
        }
    }

    /// One machine's ops, in the order the model applied them. IPVS's become comments.
    pub fn ops(&mut self, machine: &str, ops: &[KernelOp]) {
        for op in ops {
            let real = self.names.localize(machine, op);
            match &real {
                KernelOp::NetnsAdd { name } => self.add_namespace(name),
                _ if needs_ipvs(&real) => self.commands.push(format!("# needs IPVS: {real}")),
                _ => self.commands.push(real.to_string()),
            }
        }
    }

    /// `ip netns add`, then the pinned sysctls (see the module doc).
    fn add_namespace(&mut self, name: &str) {
        self.namespaces.insert(name.to_string());
        self.commands.push(KernelOp::NetnsAdd { name: name.to_string() }.to_string());
        for key in PINNED_SYSCTLS {
            let op =
                KernelOp::Sysctl { ns: NsRef::named(name), key: key.into(), value: "0".into() };
            self.commands.push(op.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipvs_ops_become_comments() {
        let mut ex = Export::new(NsNames::new("t"));
        let lb = NsRef::named("lb_x");
        let args = |a: &str| a.split_whitespace().map(String::from).collect::<Vec<_>>();
        ex.ops(
            "h",
            &[
                KernelOp::Ipvsadm { ns: lb.clone(), args: args("-A -f 256 -s rr") },
                KernelOp::Sysctl {
                    ns: lb.clone(),
                    key: "net.ipv4.vs.conntrack".into(),
                    value: "1".into(),
                },
                KernelOp::Iptables {
                    ns: lb.clone(),
                    args: args("-t nat -A POSTROUTING -m ipvs --ipvs -j ACCEPT"),
                },
                KernelOp::Sysctl { ns: lb, key: "net.ipv4.ip_forward".into(), value: "1".into() },
            ],
        );
        assert_eq!(
            ex.script(),
            "# needs IPVS: ip netns exec t-h-lb_x ipvsadm -A -f 256 -s rr\n\
             # needs IPVS: ip netns exec t-h-lb_x sysctl -w net.ipv4.vs.conntrack=1\n\
             # needs IPVS: ip netns exec t-h-lb_x iptables -t nat -A POSTROUTING -m ipvs --ipvs -j ACCEPT\n\
             ip netns exec t-h-lb_x sysctl -w net.ipv4.ip_forward=1\n"
        );
    }

    fn lines(e: &Export) -> Vec<String> {
        e.script().lines().map(String::from).collect()
    }

    #[test]
    fn a_machine_on_a_lan_gets_its_nic() {
        let mut e = Export::new(NsNames::new("t1"));
        e.lan("lan");
        e.machine("h");
        e.nic(&Nic {
            machine: "h".into(),
            lan: "lan".into(),
            name: "eth0".into(),
            mac: MacAddr([8, 0, 0x27, 0, 2, 15]),
            addr: "10.0.2.15/24".parse().unwrap(),
            gateway: Some(Ipv4Addr::new(10, 0, 2, 1)),
        });
        assert_eq!(
            lines(&e),
            [
                "ip netns add t1-lan-lan",
                "ip netns exec t1-lan-lan sysctl -w net.ipv4.ip_forward=0",
                "ip netns exec t1-lan-lan sysctl -w net.bridge.bridge-nf-call-iptables=0",
                "ip -n t1-lan-lan link add br0 type bridge",
                "ip -n t1-lan-lan link set br0 up",
                "ip netns add t1-h",
                "ip netns exec t1-h sysctl -w net.ipv4.ip_forward=0",
                "ip netns exec t1-h sysctl -w net.bridge.bridge-nf-call-iptables=0",
                "ip -n t1-h link set lo up",
                "ip -n t1-lan-lan link add p0 type veth peer name eth0 netns t1-h",
                "ip -n t1-lan-lan link set p0 master br0",
                "ip -n t1-lan-lan link set p0 up",
                "ip -n t1-h link set dev eth0 address 08:00:27:00:02:0f",
                "ip -n t1-h addr add 10.0.2.15/24 dev eth0",
                "ip -n t1-h link set dev eth0 up",
                "ip -n t1-h route add default via 10.0.2.1 dev eth0",
            ]
        );
        assert_eq!(e.namespaces(), ["t1-lan-lan", "t1-h"]);
    }

    #[test]
    fn ops_run_in_the_machines_namespaces_never_the_real_root() {
        let mut e = Export::new(NsNames::new("t2"));
        let c = NsRef::named("6dd93d6cdc80");
        e.ops(
            "h",
            &[
                KernelOp::Sysctl {
                    ns: NsRef::Root,
                    key: "net.ipv4.ip_forward".into(),
                    value: "1".into(),
                },
                KernelOp::NetnsAdd { name: "6dd93d6cdc80".into() },
                KernelOp::VethAdd { ns: NsRef::Root, name: "veth1".into(), peer: "tmp0".into() },
                KernelOp::LinkSetNetns { ns: NsRef::Root, name: "tmp0".into(), target: c.clone() },
                KernelOp::LinkSetNetns { ns: c.clone(), name: "eth0".into(), target: NsRef::Root },
                KernelOp::Iptables {
                    ns: NsRef::Root,
                    args: ["-t", "nat", "-N", "DOCKER"].map(String::from).to_vec(),
                },
                KernelOp::NetnsDel { name: "6dd93d6cdc80".into() },
            ],
        );
        assert_eq!(
            lines(&e),
            [
                "ip netns exec t2-h sysctl -w net.ipv4.ip_forward=1",
                "ip netns add t2-h-6dd93d6cdc80",
                "ip netns exec t2-h-6dd93d6cdc80 sysctl -w net.ipv4.ip_forward=0",
                "ip netns exec t2-h-6dd93d6cdc80 sysctl -w net.bridge.bridge-nf-call-iptables=0",
                "ip netns exec t2-h ip link add veth1 type veth peer name tmp0",
                "ip netns exec t2-h ip link set tmp0 netns t2-h-6dd93d6cdc80",
                "ip netns exec t2-h-6dd93d6cdc80 ip link set eth0 netns t2-h",
                "ip netns exec t2-h iptables -t nat -N DOCKER",
                "ip netns delete t2-h-6dd93d6cdc80",
            ]
        );
        assert_eq!(e.namespaces(), ["t2-h-6dd93d6cdc80"]);
    }
}
