//! The bridge driver's kernel programming, step by step as libnetwork 20.10 does it.
//!
//! Sources (moby/libnetwork, 20.10 branch): `drivers/bridge/bridge.go` (`configure`,
//! `createNetwork`, `DeleteNetwork`, `CreateEndpoint`), `setup_ip_tables.go`
//! (`setupIPChains`, `setupIPTablesInternal`, `setIcc`, `setINC`,
//! `setupInternalNetworkRules`), `iptables/iptables.go` (`ProgramChain`, `Forward`) and
//! `setup_ip_forwarding.go`. Every function here appends ops in the order Docker issues the
//! corresponding netlink or iptables calls, so the list replays in a real namespace.
//!
//! Where Docker fires a command it expects may fail (`iptables -D` of a rule that is not
//! there, from `setIcc`), the model skips it: the end state is the same and the list stays
//! runnable.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::iptables::{Action, Firewall, Table};
use super::Proto;
use crate::kernel::{KernelOp, NsRef};
use crate::wire::MacAddr;

/// The `DOCKER` chain (nat and filter), target of published ports.
pub(crate) const DOCKER_CHAIN: &str = "DOCKER";
/// First isolation stage: traffic leaving one bridge for another interface.
pub(crate) const ISOLATION_1: &str = "DOCKER-ISOLATION-STAGE-1";
/// Second isolation stage: drops what stage 1 sent here when it enters another bridge.
pub(crate) const ISOLATION_2: &str = "DOCKER-ISOLATION-STAGE-2";
/// The chain reserved for the administrator's own rules (`controller.go` `userChain`).
pub(crate) const USER_CHAIN: &str = "DOCKER-USER";

/// One bridge network's driver configuration (`networkConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BridgeConfig {
    /// `docker0`, `br-<id[:12]>` or `com.docker.network.bridge.name`.
    pub bridge_name: String,
    /// The bridge address with its prefix, e.g. 172.17.0.1/16.
    pub bridge_addr: Ipv4Net,
    /// `com.docker.network.bridge.enable_icc` (default true).
    pub icc: bool,
    /// `com.docker.network.bridge.enable_ip_masquerade` (default true).
    pub masquerade: bool,
    /// `--internal`: no masquerade, no ports, traffic kept on the subnet.
    pub internal: bool,
    /// `com.docker.network.driver.mtu`; 0 leaves the kernel default.
    pub mtu: u32,
}

impl BridgeConfig {
    fn subnet(&self) -> String {
        self.bridge_addr.trunc().to_string()
    }
}

/// The driver's `configure`: stale chains are removed (nothing on a fresh host), the four
/// chains are created, then IPv4 forwarding is switched on. Docker sets the FORWARD policy
/// to DROP only when it is the one enabling forwarding.
pub(crate) fn configure_driver(
    fw: &mut Firewall,
    ip_forward_was_on: bool,
    out: &mut Vec<KernelOp>,
) {
    // `configure` first runs `modprobe -va bridge br_netfilter` when /proc/sys/net/bridge is
    // missing; the loaded module starts with bridge-nf-call-iptables=1, which this op stands
    // for. From then on bridged IPv4 meets iptables on every bridge, ICC on or off.
    fw.enable_bridge_netfilter(out);
    fw.new_chain(out, Table::Nat, DOCKER_CHAIN);
    fw.new_chain(out, Table::Filter, DOCKER_CHAIN);
    fw.new_chain(out, Table::Filter, ISOLATION_1);
    fw.new_chain(out, Table::Filter, ISOLATION_2);
    fw.add_return_rule(out, ISOLATION_1);
    fw.add_return_rule(out, ISOLATION_2);
    if !ip_forward_was_on {
        out.push(KernelOp::Sysctl {
            ns: NsRef::Root,
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
        });
        fw.set_policy(out, "FORWARD", "DROP");
    }
}

/// `arrangeUserFilterRule`, run after every network creation: DOCKER-USER exists, ends in
/// RETURN, and FORWARD jumps to it first.
pub(crate) fn arrange_user_chain(fw: &mut Firewall, out: &mut Vec<KernelOp>) {
    fw.new_chain(out, Table::Filter, USER_CHAIN);
    fw.add_return_rule(out, USER_CHAIN);
    fw.ensure_jump_rule(out, "FORWARD", USER_CHAIN);
}

/// `createNetwork`: device, MAC, address, iptables, isolation, then up.
pub(crate) fn create_network(
    fw: &mut Firewall,
    cfg: &BridgeConfig,
    mac: MacAddr,
    out: &mut Vec<KernelOp>,
) {
    let ns = NsRef::Root;
    let name = cfg.bridge_name.clone();
    out.push(KernelOp::BridgeAdd { ns: ns.clone(), name: name.clone() });
    out.push(KernelOp::LinkSetMac { ns: ns.clone(), name: name.clone(), mac });
    out.push(KernelOp::AddrAdd { ns: ns.clone(), dev: name.clone(), addr: cfg.bridge_addr });
    setup_iptables(fw, cfg, out);
    if !cfg.internal {
        set_inc(fw, &name, Action::Insert, out);
    }
    // `setupBridgeNetFiltering` is queued for ICC-off networks; the module load above has
    // already switched the sysctl on, so this writes nothing more.
    if !cfg.icc {
        fw.enable_bridge_netfilter(out);
    }
    out.push(KernelOp::LinkUp { ns, name });
}

/// `DeleteNetwork`: the bridge goes first, then the clean-up functions run in the order
/// they were registered. The nat PREROUTING/OUTPUT jumps stay (they are shared).
pub(crate) fn delete_network(fw: &mut Firewall, cfg: &BridgeConfig, out: &mut Vec<KernelOp>) {
    out.push(KernelOp::LinkDel { ns: NsRef::Root, name: cfg.bridge_name.clone() });
    if cfg.internal {
        internal_rules(fw, cfg, Action::Delete, out);
        return;
    }
    iptables_internal(fw, cfg, Action::Delete, out);
    program_filter_chain(fw, &cfg.bridge_name, Action::Delete, out);
    set_inc(fw, &cfg.bridge_name, Action::Delete, out);
}

/// `setupIPTables` for IPv4.
fn setup_iptables(fw: &mut Firewall, cfg: &BridgeConfig, out: &mut Vec<KernelOp>) {
    if cfg.internal {
        internal_rules(fw, cfg, Action::Insert, out);
    } else {
        iptables_internal(fw, cfg, Action::Insert, out);
        program_nat_chain(fw, out);
        program_filter_chain(fw, &cfg.bridge_name, Action::Insert, out);
    }
    fw.ensure_jump_rule(out, "FORWARD", ISOLATION_1);
}

/// `setupIPTablesInternal` with the userland proxy on (hairpin off): masquerade the subnet,
/// skip DNAT for traffic from the bridge itself, ICC, and accept outgoing traffic.
fn iptables_internal(fw: &mut Firewall, cfg: &BridgeConfig, act: Action, out: &mut Vec<KernelOp>) {
    let br = cfg.bridge_name.as_str();
    let subnet = cfg.subnet();
    if cfg.masquerade {
        let masq = ["-s", subnet.as_str(), "!", "-o", br, "-j", "MASQUERADE"];
        fw.program(out, Table::Nat, act, "POSTROUTING", &masq);
        fw.program(out, Table::Nat, act, DOCKER_CHAIN, &["-i", br, "-j", "RETURN"]);
    }
    set_icc(fw, br, cfg.icc, act, out);
    let out_rule = ["-i", br, "!", "-o", br, "-j", "ACCEPT"];
    fw.program(out, Table::DefaultFilter, act, "FORWARD", &out_rule);
}

/// `setIcc`: ACCEPT (inserted) or DROP (appended) for bridge-to-same-bridge traffic.
fn set_icc(fw: &mut Firewall, br: &str, icc: bool, act: Action, out: &mut Vec<KernelOp>) {
    let accept = ["-i", br, "-o", br, "-j", "ACCEPT"];
    let drop = ["-i", br, "-o", br, "-j", "DROP"];
    let (wanted, other, add) =
        if icc { (accept, drop, Action::Insert) } else { (drop, accept, Action::Append) };
    if act == Action::Delete {
        fw.program(out, Table::DefaultFilter, Action::Delete, "FORWARD", &wanted);
        return;
    }
    fw.program(out, Table::DefaultFilter, Action::Delete, "FORWARD", &other);
    fw.program(out, Table::DefaultFilter, add, "FORWARD", &wanted);
}

/// `ProgramChain` for the nat DOCKER chain: jumps from PREROUTING and OUTPUT for traffic to
/// local addresses (OUTPUT excludes loopback because hairpin mode is off).
fn program_nat_chain(fw: &mut Firewall, out: &mut Vec<KernelOp>) {
    let pre = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DOCKER_CHAIN];
    fw.program(out, Table::Nat, Action::Append, "PREROUTING", &pre);
    let output =
        ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DOCKER_CHAIN, "!", "--dst", "127.0.0.0/8"];
    fw.program(out, Table::Nat, Action::Append, "OUTPUT", &output);
}

/// `ProgramChain` for the filter DOCKER chain: traffic into the bridge goes through DOCKER,
/// and replies to connections the containers made are accepted.
fn program_filter_chain(fw: &mut Firewall, br: &str, act: Action, out: &mut Vec<KernelOp>) {
    let act = if act == Action::Delete { Action::Delete } else { Action::Insert };
    let link = ["-o", br, "-j", DOCKER_CHAIN];
    fw.program(out, Table::DefaultFilter, act, "FORWARD", &link);
    let est = ["-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"];
    fw.program(out, Table::DefaultFilter, act, "FORWARD", &est);
}

/// `setINC`: the two isolation rules for one bridge.
fn set_inc(fw: &mut Firewall, br: &str, act: Action, out: &mut Vec<KernelOp>) {
    let stage1 = ["-i", br, "!", "-o", br, "-j", ISOLATION_2];
    fw.program(out, Table::Filter, act, ISOLATION_1, &stage1);
    fw.program(out, Table::Filter, act, ISOLATION_2, &["-o", br, "-j", "DROP"]);
}

/// `setupInternalNetworkRules`: drop anything entering or leaving the subnet, then ICC.
fn internal_rules(fw: &mut Firewall, cfg: &BridgeConfig, act: Action, out: &mut Vec<KernelOp>) {
    let br = cfg.bridge_name.as_str();
    let subnet = cfg.subnet();
    let in_drop = ["-i", br, "!", "-d", subnet.as_str(), "-j", "DROP"];
    fw.program(out, Table::DefaultFilter, act, ISOLATION_1, &in_drop);
    let out_drop = ["-o", br, "!", "-s", subnet.as_str(), "-j", "DROP"];
    fw.program(out, Table::DefaultFilter, act, ISOLATION_1, &out_drop);
    set_icc(fw, br, cfg.icc, act, out);
}

/// `CreateEndpoint`: the veth pair in the host namespace, MTU when the network sets one, the
/// host end enslaved to the bridge and brought up. Both names are `veth` + 7 hex digits; the
/// container end is renamed when it joins the sandbox.
pub(crate) fn create_endpoint(cfg: &BridgeConfig, host_if: &str, peer_if: &str) -> Vec<KernelOp> {
    let ns = NsRef::Root;
    let mut out =
        vec![KernelOp::VethAdd { ns: ns.clone(), name: host_if.into(), peer: peer_if.into() }];
    if cfg.mtu != 0 {
        for name in [host_if, peer_if] {
            out.push(KernelOp::LinkSetMtu { ns: ns.clone(), name: name.into(), mtu: cfg.mtu });
        }
    }
    out.push(KernelOp::LinkSetMaster {
        ns: ns.clone(),
        name: host_if.into(),
        master: cfg.bridge_name.clone(),
    });
    out.push(KernelOp::LinkUp { ns, name: host_if.into() });
    out
}

/// One published port as the port mapper programs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forward<'a> {
    pub proto: Proto,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    pub bridge: &'a str,
}

/// `ChainInfo.Forward`: DNAT in nat DOCKER, ACCEPT in filter DOCKER, and the MASQUERADE
/// that makes a container reaching its own published port work. Appended on map, deleted
/// on unmap.
pub(crate) fn forward(fw: &mut Firewall, act: Action, f: &Forward, out: &mut Vec<KernelOp>) {
    let proto = f.proto.to_string();
    // iptables reads 0.0.0.0 as 0.0.0.0/32; "0/0" means any.
    let daddr = if f.host_ip.is_unspecified() { "0/0".to_string() } else { f.host_ip.to_string() };
    let (hport, cport) = (f.host_port.to_string(), f.container_port.to_string());
    let cip = f.container_ip.to_string();
    let to = format!("{}:{}", cip, cport);
    let dnat = [
        "-p",
        &proto,
        "-d",
        &daddr,
        "--dport",
        &hport,
        "-j",
        "DNAT",
        "--to-destination",
        &to,
        "!",
        "-i",
        f.bridge,
    ];
    fw.program(out, Table::Nat, act, DOCKER_CHAIN, &dnat);
    let accept = [
        "!", "-i", f.bridge, "-o", f.bridge, "-p", &proto, "-d", &cip, "--dport", &cport, "-j",
        "ACCEPT",
    ];
    fw.program(out, Table::Filter, act, DOCKER_CHAIN, &accept);
    let masq = ["-p", &proto, "-s", &cip, "-d", &cip, "--dport", &cport, "-j", "MASQUERADE"];
    fw.program(out, Table::Nat, act, "POSTROUTING", &masq);
}
