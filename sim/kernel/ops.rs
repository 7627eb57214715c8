//! KernelOps: the only way the docker model changes a host's kernel.
//!
//! Each op is data in the vocabulary of `ip`, `bridge`, `iptables`, `ipvsadm` and `sysctl`, so the same
//! list that the kernel model applies also renders as the shell commands a person would type
//! (`--explain`) and as a script that builds the same data plane in real Linux namespaces
//! (the differential tests). A namespace is named as `ip netns` would name it; `Root` is the
//! host's own namespace.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::xfrm::{self, XfrmPolicy, XfrmSa};
use crate::wire::MacAddr;

/// Which network namespace an op acts in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NsRef {
    /// The host's initial namespace.
    Root,
    /// A named namespace (`ip netns add NAME`); Docker names sandboxes by 12 hex digits.
    Named(String),
}

impl NsRef {
    pub fn named(name: impl Into<String>) -> Self {
        NsRef::Named(name.into())
    }
}

impl fmt::Display for NsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NsRef::Root => f.write_str("(host)"),
            NsRef::Named(n) => f.write_str(n),
        }
    }
}

/// The settings of `ip link add NAME [mtu MTU] type vxlan …`, as libnetwork's `createVxlan`
/// passes them (it sets all four flags and the MTU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanConfig {
    /// The 24-bit VNI (`id`).
    pub vni: u32,
    /// The UDP port of the tunnel (`dstport`), Docker's data-path port (4789 by default).
    pub dstport: u16,
    /// The device MTU; without it Linux keeps 1500 (it only derives 1450 from a `dev`
    /// lower device, which Docker does not give).
    pub mtu: Option<u32>,
    /// Learn remote MACs from received packets (`[no]learning`; iproute2's default is on).
    pub learning: bool,
    /// Answer ARP requests from the neighbour table instead of sending them (`proxy`).
    pub proxy: bool,
    /// Report FDB misses (`l2miss`); the simulator only records the miss in the walk.
    pub l2miss: bool,
    /// Report neighbour misses (`l3miss`); likewise.
    pub l3miss: bool,
}

impl VxlanConfig {
    /// Docker's overlay device: learning, proxy, l2miss and l3miss on, UDP 4789.
    pub fn docker(vni: u32, mtu: u32) -> VxlanConfig {
        VxlanConfig {
            vni,
            dstport: 4789,
            mtu: Some(mtu),
            learning: true,
            proxy: true,
            l2miss: true,
            l3miss: true,
        }
    }

    /// The arguments after `ip link add NAME`.
    fn args(&self) -> String {
        let mtu = self.mtu.map(|m| format!("mtu {m} ")).unwrap_or_default();
        let mut s = format!("{mtu}type vxlan id {} dstport {}", self.vni, self.dstport);
        s.push_str(if self.proxy { " proxy" } else { "" });
        s.push_str(if self.learning { " learning" } else { " nolearning" });
        s.push_str(if self.l2miss { " l2miss" } else { "" });
        s.push_str(if self.l3miss { " l3miss" } else { "" });
        s
    }
}

/// One change to one host's kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelOp {
    /// `ip netns add NAME`
    NetnsAdd { name: String },
    /// `ip netns delete NAME` (its links go with it; a veth's peer too).
    NetnsDel { name: String },
    /// `ip link add NAME type bridge`
    BridgeAdd { ns: NsRef, name: String },
    /// `ip link add NAME [mtu MTU] type vxlan id VNI dstport PORT [proxy] [no]learning
    /// [l2miss] [l3miss]`. The device's UDP socket stays in `ns` even when the device is
    /// moved to another namespace, as Linux keeps it in the namespace it was created in.
    VxlanAdd { ns: NsRef, name: String, config: VxlanConfig },
    /// `bridge fdb add MAC dev NAME dst VTEP self permanent`: frames for `mac` leave the
    /// VXLAN device `dev` towards the tunnel endpoint `dst`.
    FdbAdd { ns: NsRef, dev: String, mac: MacAddr, dst: Ipv4Addr },
    /// `bridge fdb del MAC dev NAME dst VTEP self`
    FdbDel { ns: NsRef, dev: String, mac: MacAddr, dst: Ipv4Addr },
    /// `ip link add NAME link PARENT type macvlan mode MODE`: a device with its own MAC on
    /// `parent`, which stays its lower device when it moves to another namespace.
    MacvlanAdd { ns: NsRef, name: String, parent: String, mode: super::MacvlanMode },
    /// `ip link add link PARENT name NAME type vlan id ID`: an 802.1Q sub-interface.
    VlanAdd { ns: NsRef, name: String, parent: String, id: u16 },
    /// `ip link add NAME type veth peer name PEER` (both ends in `ns`).
    VethAdd { ns: NsRef, name: String, peer: String },
    /// `ip link set NAME netns TARGET`
    LinkSetNetns { ns: NsRef, name: String, target: NsRef },
    /// `ip link set dev NAME name NEW`
    LinkRename { ns: NsRef, name: String, new_name: String },
    /// `ip link set dev NAME address MAC`
    LinkSetMac { ns: NsRef, name: String, mac: MacAddr },
    /// `ip link set dev NAME mtu MTU`
    LinkSetMtu { ns: NsRef, name: String, mtu: u32 },
    /// `ip link set dev NAME master BRIDGE`
    LinkSetMaster { ns: NsRef, name: String, master: String },
    /// `ip link set dev NAME up`
    LinkUp { ns: NsRef, name: String },
    /// `ip link delete NAME`
    LinkDel { ns: NsRef, name: String },
    /// `ip addr add CIDR dev NAME`
    AddrAdd { ns: NsRef, dev: String, addr: Ipv4Net },
    /// `ip addr del CIDR dev NAME`
    AddrDel { ns: NsRef, dev: String, addr: Ipv4Net },
    /// `ip route add DST [via GW] dev NAME`; `dst` 0.0.0.0/0 renders as `default`.
    RouteAdd { ns: NsRef, dst: Ipv4Net, via: Option<Ipv4Addr>, dev: String },
    /// `ip neigh add IP lladdr MAC dev NAME nud permanent`
    NeighAdd { ns: NsRef, dev: String, ip: Ipv4Addr, mac: MacAddr },
    /// `ip neigh del IP dev NAME`
    NeighDel { ns: NsRef, dev: String, ip: Ipv4Addr },
    /// `iptables ARGS…` exactly as typed, e.g. `["-t", "nat", "-A", "POSTROUTING", …]`.
    Iptables { ns: NsRef, args: Vec<String> },
    /// `sysctl -w KEY=VALUE`
    Sysctl { ns: NsRef, key: String, value: String },
    /// `ipvsadm ARGS…` exactly as typed, e.g. `["-A", "-f", "256", "-s", "rr"]` or
    /// `["-a", "-f", "256", "-r", "10.0.1.3:0", "-m", "-w", "1"]`.
    Ipvsadm { ns: NsRef, args: Vec<String> },
    /// `ip xfrm state add src S dst D proto esp spi SPI reqid R mode transport [mark M mask
    /// K] aead 'rfc4106(gcm(aes))' KEYSALT 64`
    XfrmStateAdd { ns: NsRef, sa: XfrmSa },
    /// `ip xfrm state delete src S dst D proto esp spi SPI`
    XfrmStateDel { ns: NsRef, src: Ipv4Addr, dst: Ipv4Addr, spi: u32 },
    /// `ip xfrm policy add SELECTOR dir DIR [mark M mask K] tmpl … mode transport`
    XfrmPolicyAdd { ns: NsRef, policy: XfrmPolicy },
    /// `ip xfrm policy delete SELECTOR dir DIR [mark M mask K]` (the template is ignored).
    XfrmPolicyDel { ns: NsRef, policy: XfrmPolicy },
    /// `ip xfrm policy update SELECTOR dir DIR [mark M mask K] tmpl …`: replaces the policy
    /// with the same selector, direction and mark, or adds it.
    XfrmPolicyUpdate { ns: NsRef, policy: XfrmPolicy },
}

impl KernelOp {
    /// The namespace the op runs in (for `NetnsAdd`/`NetnsDel`, the host's).
    pub fn ns(&self) -> &NsRef {
        match self {
            KernelOp::NetnsAdd { .. } | KernelOp::NetnsDel { .. } => &NsRef::Root,
            KernelOp::BridgeAdd { ns, .. }
            | KernelOp::VethAdd { ns, .. }
            | KernelOp::VxlanAdd { ns, .. }
            | KernelOp::MacvlanAdd { ns, .. }
            | KernelOp::VlanAdd { ns, .. }
            | KernelOp::FdbAdd { ns, .. }
            | KernelOp::FdbDel { ns, .. }
            | KernelOp::NeighDel { ns, .. }
            | KernelOp::LinkSetNetns { ns, .. }
            | KernelOp::LinkRename { ns, .. }
            | KernelOp::LinkSetMac { ns, .. }
            | KernelOp::LinkSetMtu { ns, .. }
            | KernelOp::LinkSetMaster { ns, .. }
            | KernelOp::LinkUp { ns, .. }
            | KernelOp::LinkDel { ns, .. }
            | KernelOp::AddrAdd { ns, .. }
            | KernelOp::AddrDel { ns, .. }
            | KernelOp::RouteAdd { ns, .. }
            | KernelOp::NeighAdd { ns, .. }
            | KernelOp::Iptables { ns, .. }
            | KernelOp::Sysctl { ns, .. }
            | KernelOp::Ipvsadm { ns, .. }
            | KernelOp::XfrmStateAdd { ns, .. }
            | KernelOp::XfrmStateDel { ns, .. }
            | KernelOp::XfrmPolicyAdd { ns, .. }
            | KernelOp::XfrmPolicyDel { ns, .. }
            | KernelOp::XfrmPolicyUpdate { ns, .. } => ns,
        }
    }

    /// Renames every namespace the op names (where it runs, where it moves a link, the
    /// namespace it adds or deletes), as when replaying it under other names.
    pub fn rename_namespaces(&mut self, rename: impl Fn(&NsRef) -> NsRef) {
        let renamed_name = |n: &String| match rename(&NsRef::Named(n.clone())) {
            NsRef::Named(new) => new,
            NsRef::Root => panic!("a named namespace cannot become the root"),
        };
        match self {
            KernelOp::NetnsAdd { name } | KernelOp::NetnsDel { name } => *name = renamed_name(name),
            KernelOp::LinkSetNetns { ns, target, .. } => {
                *target = rename(target);
                *ns = rename(ns);
            }
            KernelOp::BridgeAdd { ns, .. }
            | KernelOp::VethAdd { ns, .. }
            | KernelOp::VxlanAdd { ns, .. }
            | KernelOp::MacvlanAdd { ns, .. }
            | KernelOp::VlanAdd { ns, .. }
            | KernelOp::FdbAdd { ns, .. }
            | KernelOp::FdbDel { ns, .. }
            | KernelOp::NeighDel { ns, .. }
            | KernelOp::LinkRename { ns, .. }
            | KernelOp::LinkSetMac { ns, .. }
            | KernelOp::LinkSetMtu { ns, .. }
            | KernelOp::LinkSetMaster { ns, .. }
            | KernelOp::LinkUp { ns, .. }
            | KernelOp::LinkDel { ns, .. }
            | KernelOp::AddrAdd { ns, .. }
            | KernelOp::AddrDel { ns, .. }
            | KernelOp::RouteAdd { ns, .. }
            | KernelOp::NeighAdd { ns, .. }
            | KernelOp::Iptables { ns, .. }
            | KernelOp::Sysctl { ns, .. }
            | KernelOp::Ipvsadm { ns, .. }
            | KernelOp::XfrmStateAdd { ns, .. }
            | KernelOp::XfrmStateDel { ns, .. }
            | KernelOp::XfrmPolicyAdd { ns, .. }
            | KernelOp::XfrmPolicyDel { ns, .. }
            | KernelOp::XfrmPolicyUpdate { ns, .. } => *ns = rename(ns),
        }
    }

    /// The command without the namespace prefix.
    fn command(&self) -> String {
        match self {
            KernelOp::NetnsAdd { name } => format!("ip netns add {name}"),
            KernelOp::NetnsDel { name } => format!("ip netns delete {name}"),
            KernelOp::BridgeAdd { name, .. } => format!("ip link add {name} type bridge"),
            KernelOp::VethAdd { name, peer, .. } => {
                format!("ip link add {name} type veth peer name {peer}")
            }
            KernelOp::VxlanAdd { name, config, .. } => {
                format!("ip link add {name} {}", config.args())
            }
            KernelOp::MacvlanAdd { name, parent, mode, .. } => {
                format!("ip link add {name} link {parent} type macvlan mode {mode}")
            }
            KernelOp::VlanAdd { name, parent, id, .. } => {
                format!("ip link add link {parent} name {name} type vlan id {id}")
            }
            KernelOp::FdbAdd { dev, mac, dst, .. } => {
                format!("bridge fdb add {mac} dev {dev} dst {dst} self permanent")
            }
            KernelOp::FdbDel { dev, mac, dst, .. } => {
                format!("bridge fdb del {mac} dev {dev} dst {dst} self")
            }
            KernelOp::NeighDel { dev, ip, .. } => format!("ip neigh del {ip} dev {dev}"),
            KernelOp::LinkSetNetns { name, target, .. } => match target {
                NsRef::Root => format!("ip link set {name} netns 1"),
                NsRef::Named(t) => format!("ip link set {name} netns {t}"),
            },
            KernelOp::LinkRename { name, new_name, .. } => {
                format!("ip link set dev {name} name {new_name}")
            }
            KernelOp::LinkSetMac { name, mac, .. } => {
                format!("ip link set dev {name} address {mac}")
            }
            KernelOp::LinkSetMtu { name, mtu, .. } => format!("ip link set dev {name} mtu {mtu}"),
            KernelOp::LinkSetMaster { name, master, .. } => {
                format!("ip link set dev {name} master {master}")
            }
            KernelOp::LinkUp { name, .. } => format!("ip link set dev {name} up"),
            KernelOp::LinkDel { name, .. } => format!("ip link delete {name}"),
            KernelOp::AddrAdd { dev, addr, .. } => format!("ip addr add {addr} dev {dev}"),
            KernelOp::AddrDel { dev, addr, .. } => format!("ip addr del {addr} dev {dev}"),
            KernelOp::RouteAdd { dst, via, dev, .. } => {
                let dst =
                    if dst.prefix_len() == 0 { "default".to_string() } else { dst.to_string() };
                match via {
                    Some(gw) => format!("ip route add {dst} via {gw} dev {dev}"),
                    None => format!("ip route add {dst} dev {dev}"),
                }
            }
            KernelOp::NeighAdd { dev, ip, mac, .. } => {
                format!("ip neigh add {ip} lladdr {mac} dev {dev} nud permanent")
            }
            KernelOp::Iptables { args, .. } => {
                let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
                format!("iptables {}", quoted.join(" "))
            }
            KernelOp::Sysctl { key, value, .. } => format!("sysctl -w {key}={value}"),
            KernelOp::Ipvsadm { args, .. } => {
                let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
                format!("ipvsadm {}", quoted.join(" "))
            }
            KernelOp::XfrmStateAdd { sa, .. } => {
                format!("ip xfrm state add {}", xfrm::state_add_args(sa))
            }
            KernelOp::XfrmStateDel { src, dst, spi, .. } => {
                format!("ip xfrm state delete src {src} dst {dst} proto esp spi 0x{spi:08x}")
            }
            KernelOp::XfrmPolicyAdd { policy, .. } => format!(
                "ip xfrm policy add {} {}",
                xfrm::policy_key_args(policy),
                xfrm::tmpl_args(&policy.tmpl)
            ),
            KernelOp::XfrmPolicyUpdate { policy, .. } => format!(
                "ip xfrm policy update {} {}",
                xfrm::policy_key_args(policy),
                xfrm::tmpl_args(&policy.tmpl)
            ),
            KernelOp::XfrmPolicyDel { policy, .. } => {
                format!("ip xfrm policy delete {}", xfrm::policy_key_args(policy))
            }
        }
    }
}

impl fmt::Display for KernelOp {
    /// The shell command a person would type, with `ip netns exec NS` for named namespaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ns() {
            NsRef::Root => f.write_str(&self.command()),
            NsRef::Named(ns) => write!(f, "ip netns exec {ns} {}", self.command()),
        }
    }
}

/// Quotes an argument for a POSIX shell only when it needs it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,!+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_commands_a_person_types() {
        let op = KernelOp::RouteAdd {
            ns: NsRef::named("6dd93d6cdc80"),
            dst: "0.0.0.0/0".parse().unwrap(),
            via: Some(Ipv4Addr::new(172, 17, 0, 1)),
            dev: "eth0".into(),
        };
        assert_eq!(
            op.to_string(),
            "ip netns exec 6dd93d6cdc80 ip route add default via 172.17.0.1 dev eth0"
        );
        let op = KernelOp::Iptables {
            ns: NsRef::Root,
            args: [
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-s",
                "172.17.0.0/16",
                "!",
                "-o",
                "docker0",
                "-j",
                "MASQUERADE",
            ]
            .map(String::from)
            .to_vec(),
        };
        assert_eq!(
            op.to_string(),
            "iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
        );
    }

    #[test]
    fn vxlan_ops_render_as_ip_and_bridge_commands() {
        let ov = NsRef::named("1-3d6ddd35f0");
        let add = KernelOp::VxlanAdd {
            ns: NsRef::Root,
            name: "vx-001001-3d6dd".into(),
            config: VxlanConfig::docker(4097, 1450),
        };
        assert_eq!(
            add.to_string(),
            "ip link add vx-001001-3d6dd mtu 1450 type vxlan id 4097 dstport 4789 proxy learning \
             l2miss l3miss"
        );
        let fdb = KernelOp::FdbAdd {
            ns: ov.clone(),
            dev: "vxlan0".into(),
            mac: MacAddr([2, 0x42, 10, 0, 1, 4]),
            dst: Ipv4Addr::new(172, 16, 24, 5),
        };
        assert_eq!(
            fdb.to_string(),
            "ip netns exec 1-3d6ddd35f0 bridge fdb add 02:42:0a:00:01:04 dev vxlan0 \
             dst 172.16.24.5 self permanent"
        );
        let del =
            KernelOp::NeighDel { ns: ov, dev: "vxlan0".into(), ip: Ipv4Addr::new(10, 0, 1, 4) };
        assert_eq!(del.to_string(), "ip netns exec 1-3d6ddd35f0 ip neigh del 10.0.1.4 dev vxlan0");
    }

    #[test]
    fn ipvsadm_ops_render_as_typed() {
        let args = ["-a", "-f", "256", "-r", "10.0.1.3:0", "-m", "-w", "1"];
        let op = KernelOp::Ipvsadm {
            ns: NsRef::named("lb_y5rtwtq7b"),
            args: args.map(String::from).to_vec(),
        };
        assert_eq!(
            op.to_string(),
            "ip netns exec lb_y5rtwtq7b ipvsadm -a -f 256 -r 10.0.1.3:0 -m -w 1"
        );
        assert_eq!(op.ns(), &NsRef::named("lb_y5rtwtq7b"));
    }
}
