//! Address uniqueness: on one machine, no two interfaces (across all its namespaces) hold
//! the same IPv4 address or MAC, and on one LAN no two NICs do. Docker's IPAM and its
//! IP-derived MACs promise this; the check holds them to it after every run.

use std::collections::BTreeMap;

use crate::engine::World;
use crate::kernel::LinkKind;

use super::CheckResult;

/// The uniqueness checks for the world as it stands.
pub fn uniqueness(world: &World) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for m in &world.machines {
        let mut ips: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut macs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for n in m.kernel.namespaces.values() {
            for link in n.links.values().filter(|l| l.kind != LinkKind::Loopback) {
                let place = format!("{} {}", n.name, link.name);
                if !borrows_port_mac(&link.kind) {
                    macs.entry(link.mac.to_string()).or_default().push(place.clone());
                }
                for a in n.addrs.iter().filter(|a| a.dev == link.ifindex) {
                    ips.entry(a.net.addr().to_string()).or_default().push(place.clone());
                }
            }
        }
        results.push(verdict(&format!("{}: every IPv4 address is unique", m.name), &ips));
        results.push(verdict(&format!("{}: every MAC address is unique", m.name), &macs));
    }
    results
}

/// A bridge whose MAC nobody set wears its lowest port's MAC, as Linux gives it (the
/// overlay's `br0`), and a VLAN sub-interface wears its parent's: shared addresses by
/// design, not duplicates.
fn borrows_port_mac(kind: &LinkKind) -> bool {
    matches!(kind, LinkKind::Bridge(b) if !b.mac_set) || matches!(kind, LinkKind::Vlan(_))
}

/// Holds when no key has more than one place; the detail names the duplicates.
fn verdict(what: &str, seen: &BTreeMap<String, Vec<String>>) -> CheckResult {
    let dups: Vec<String> = seen
        .iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|(k, p)| format!("{k} on {}", p.join(", ")))
        .collect();
    CheckResult { line: 0, what: what.to_string(), held: dups.is_empty(), detail: dups.join("; ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Machine, RunLimits, Streams};
    use crate::kernel::{Kernel, KernelOp, NsRef};

    fn world_with_addresses(second: &str) -> World {
        let mut k = Kernel::new("h", Streams::new(1).stream("h"));
        let ops = [
            KernelOp::BridgeAdd { ns: NsRef::Root, name: "br0".into() },
            KernelOp::AddrAdd {
                ns: NsRef::Root,
                dev: "br0".into(),
                addr: "172.17.0.1/16".parse().unwrap(),
            },
            KernelOp::NetnsAdd { name: "c1".into() },
            KernelOp::BridgeAdd { ns: NsRef::named("c1"), name: "br1".into() },
            KernelOp::AddrAdd {
                ns: NsRef::named("c1"),
                dev: "br1".into(),
                addr: second.parse().unwrap(),
            },
        ];
        ops.iter().for_each(|op| {
            k.apply(op).unwrap();
        });
        let mut w = World::new(RunLimits::default());
        w.machines.push(Machine::new("h", k, vec![]));
        w
    }

    #[test]
    fn a_duplicate_address_is_named() {
        let dup = uniqueness(&world_with_addresses("172.17.0.1/16"));
        assert!(!dup[0].held);
        assert_eq!(dup[0].detail, "172.17.0.1 on (host) br0, c1 br1");
        assert!(uniqueness(&world_with_addresses("172.17.0.2/16"))[0].held);
    }
}
