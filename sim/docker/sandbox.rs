//! A container's network sandbox: its namespace, interfaces, routes and the embedded DNS
//! server's NAT rules, as libnetwork's `osl` package and `resolver_unix.go` program them.
//!
//! The namespace is named after the first 12 hex digits of the sandbox ID
//! (`osl.GenerateKey`). Joining an endpoint moves the container end of the veth pair in,
//! renames it `ethN`, sets the MAC derived from the IP, adds the address and brings it up
//! (`osl/interface_linux.go` `AddInterface`); the gateway endpoint then adds the default
//! route (`SetGateway`).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::iptables::{Action, Firewall, Table};
use crate::kernel::{KernelOp, NsRef};
use crate::wire::MacAddr;

/// The embedded DNS server's address inside every sandbox that has one.
pub const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// `ip netns add KEY` and loopback up (`osl.NewSandbox`).
pub(crate) fn create(key: &str) -> Vec<KernelOp> {
    vec![
        KernelOp::NetnsAdd { name: key.into() },
        KernelOp::LinkUp { ns: NsRef::named(key), name: "lo".into() },
    ]
}

/// The container side of one endpoint, as it enters the sandbox.
#[derive(Debug, Clone)]
pub(crate) struct Iface<'a> {
    pub src: &'a str,
    pub dst: &'a str,
    pub mac: MacAddr,
    pub addr: Ipv4Net,
}

/// `AddInterface`: move, rename, MAC, address, up.
pub(crate) fn add_interface(key: &str, i: &Iface) -> Vec<KernelOp> {
    let ns = NsRef::named(key);
    vec![
        KernelOp::LinkSetNetns { ns: NsRef::Root, name: i.src.into(), target: ns.clone() },
        KernelOp::LinkRename { ns: ns.clone(), name: i.src.into(), new_name: i.dst.into() },
        KernelOp::LinkSetMac { ns: ns.clone(), name: i.dst.into(), mac: i.mac },
        KernelOp::AddrAdd { ns: ns.clone(), dev: i.dst.into(), addr: i.addr },
        KernelOp::LinkUp { ns, name: i.dst.into() },
    ]
}

/// `SetGateway`: the default route through the gateway endpoint's interface.
pub(crate) fn set_gateway(key: &str, gw: Ipv4Addr, dev: &str) -> KernelOp {
    KernelOp::RouteAdd {
        ns: NsRef::named(key),
        dst: Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("/0 is a valid prefix"),
        via: Some(gw),
        dev: dev.into(),
    }
}

/// `reexecSetupResolver`: two nat chains in the sandbox send DNS for 127.0.0.11:53 to the
/// resolver's random UDP and TCP ports and rewrite the replies' source port back to 53.
pub(crate) fn setup_resolver(key: &str, udp_port: u16, tcp_port: u16) -> Vec<KernelOp> {
    let mut fw = Firewall::new(NsRef::named(key));
    let mut out = Vec::new();
    let ip = RESOLVER_IP.to_string();
    for (hook, chain) in [("OUTPUT", "DOCKER_OUTPUT"), ("POSTROUTING", "DOCKER_POSTROUTING")] {
        fw.new_chain(&mut out, Table::Nat, chain);
        fw.raw(&mut out, Table::Nat, Action::Insert, hook, &["-d", &ip, "-j", chain]);
    }
    for (proto, port) in [("udp", udp_port), ("tcp", tcp_port)] {
        let port = port.to_string();
        let to = format!("{ip}:{port}");
        let dnat = ["-d", &ip, "-p", proto, "--dport", "53", "-j", "DNAT", "--to-destination", &to];
        fw.raw(&mut out, Table::Nat, Action::Insert, "DOCKER_OUTPUT", &dnat);
        let snat = ["-s", &ip, "-p", proto, "--sport", &port, "-j", "SNAT", "--to-source", ":53"];
        fw.raw(&mut out, Table::Nat, Action::Insert, "DOCKER_POSTROUTING", &snat);
    }
    out
}

/// The MAC Docker ≤27 derives from an IPv4 address: 02:42 and the four address bytes
/// (`netutils.GenerateMACFromIP`).
pub(crate) fn mac_from_ip(ip: Ipv4Addr) -> MacAddr {
    let o = ip.octets();
    MacAddr([0x02, 0x42, o[0], o[1], o[2], o[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_rules_match_reexec_setup_resolver() {
        let ops: Vec<String> =
            setup_resolver("4c1d3d4a5b6c", 41234, 39871).iter().map(|o| o.to_string()).collect();
        let p = "ip netns exec 4c1d3d4a5b6c iptables -t nat";
        assert_eq!(
            ops,
            [
                format!("{p} -N DOCKER_OUTPUT"),
                format!("{p} -I OUTPUT -d 127.0.0.11 -j DOCKER_OUTPUT"),
                format!("{p} -N DOCKER_POSTROUTING"),
                format!("{p} -I POSTROUTING -d 127.0.0.11 -j DOCKER_POSTROUTING"),
                format!("{p} -I DOCKER_OUTPUT -d 127.0.0.11 -p udp --dport 53 -j DNAT --to-destination 127.0.0.11:41234"),
                format!("{p} -I DOCKER_POSTROUTING -s 127.0.0.11 -p udp --sport 41234 -j SNAT --to-source :53"),
                format!("{p} -I DOCKER_OUTPUT -d 127.0.0.11 -p tcp --dport 53 -j DNAT --to-destination 127.0.0.11:39871"),
                format!("{p} -I DOCKER_POSTROUTING -s 127.0.0.11 -p tcp --sport 39871 -j SNAT --to-source :53"),
            ]
        );
    }

    #[test]
    fn mac_embeds_the_ip() {
        assert_eq!(mac_from_ip(Ipv4Addr::new(172, 19, 0, 3)).to_string(), "02:42:ac:13:00:03");
    }
}
