//! 802.1Q VLAN sub-interfaces (`ip link add link eth0 name eth0.10 type vlan id 10`).
//!
//! Contract: a VLAN device shares its lower device's MAC and MTU. What it sends leaves the
//! lower device with a tag for its VLAN (`vlan_dev_hard_start_xmit`); a tagged frame that
//! arrives on a lower device goes, untagged, to the VLAN device for its VLAN ID and is
//! dropped when there is none (`vlan_do_receive`: the host is not in that VLAN). Untagged
//! frames stay with the lower device. Deleting the lower device deletes its VLAN devices.

use crate::wire::EthernetFrame;

use super::link::LinkKind;
use super::walk::{Action, Stage, Walk};
use super::{no_device, Kernel, NsRef, OpError};

/// A VLAN device's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vlan {
    /// The lower device: its namespace and interface index.
    pub lower: (NsRef, u32),
    /// The VLAN ID (0–4094; 0 tags priority only).
    pub id: u16,
}

impl Kernel {
    /// `ip link add link PARENT name NAME type vlan id ID`, with iproute2's and the
    /// kernel's refusals.
    pub(super) fn vlan_add(
        &mut self,
        ns: &NsRef,
        name: &str,
        parent: &str,
        id: u16,
    ) -> Result<String, OpError> {
        // vlan_validate refuses VLAN_VID_MASK and above (0 is a priority tag).
        if id >= 4095 {
            return Err(OpError("Error: 8021q: Invalid VLAN id.".into()));
        }
        let n = self.existing_ns(ns)?;
        let lower = n.ifindex(parent).ok_or_else(|| OpError(no_device(parent)))?;
        n.ensure_free_name(name)?;
        let taken = n.links.values().any(|l| {
            matches!(&l.kind, LinkKind::Vlan(v) if v.lower == (ns.clone(), lower) && v.id == id)
        });
        if taken {
            return Err(OpError("RTNETLINK answers: File exists".into()));
        }
        let (mac, mtu) = (n.link(lower).mac, n.link(lower).mtu);
        let idx = n.add_link(name, LinkKind::Vlan(Vlan { lower: (ns.clone(), lower), id }), mac);
        n.link_mut(idx).mtu = mtu;
        Ok(String::new())
    }

    /// The VLAN device for `vid` on lower device `lower` of `ns`.
    fn vlan_device(&self, ns: &NsRef, lower: u32, vid: u16) -> Option<u32> {
        let n = self.ns(ns)?;
        let on_lower = |l: &&super::Link| match &l.kind {
            LinkKind::Vlan(v) => v.lower == (ns.clone(), lower) && v.id == vid,
            _ => false,
        };
        n.links.values().find(on_lower).map(|l| l.ifindex)
    }

    /// A VLAN device sends: the frame leaves its lower device tagged.
    pub(super) fn vlan_xmit(&mut self, w: &mut Walk, ns: &NsRef, dev: u32, frame: EthernetFrame) {
        let link = self.ns(ns).expect("live").link(dev);
        let LinkKind::Vlan(vlan) = &link.kind else { unreachable!("called for VLAN devices") };
        let ((lower_ns, lower), id) = (vlan.lower.clone(), vlan.id);
        let name = link.name.clone();
        w.out.push(Action::Seen { ns: ns.clone(), ifindex: dev, frame: frame.clone() });
        w.hop(ns, &name, Stage::Tx, format!("802.1Q: tag vlan {id}"));
        self.transmit(w, &lower_ns, lower, frame.tagged(id));
    }

    /// A frame arrived on `dev`: a tagged one goes, untagged, to the VLAN device for its
    /// tag if `dev` has one. Otherwise the frame is returned for `dev` itself (whose stack
    /// drops a tagged frame: the host is not in that VLAN).
    pub(super) fn vlan_rcv(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev: u32,
        frame: EthernetFrame,
    ) -> Option<EthernetFrame> {
        let Some(vid) = frame.vlan() else { return Some(frame) };
        let Some(vlan_dev) = self.vlan_device(ns, dev, vid) else { return Some(frame) };
        let (vid, inner) = frame.untagged().expect("has a tag");
        let n = self.ns(ns).expect("live");
        let (dev_name, name) = (n.link(dev).name.clone(), n.link(vlan_dev).name.clone());
        w.hop(ns, &dev_name, Stage::Rx, format!("802.1Q: vlan {vid} -> {name}"));
        w.out.push(Action::Seen { ns: ns.clone(), ifindex: vlan_dev, frame: inner.clone() });
        self.device_input(w, ns, vlan_dev, inner);
        None
    }

    /// Deletes the devices stacked on `lower` of `ns` (and theirs), as the kernel does
    /// when a lower device goes (`NETDEV_UNREGISTER`).
    pub(super) fn remove_uppers(&mut self, ns: &NsRef, lower: u32) {
        let key = (ns.clone(), lower);
        let uppers: Vec<(NsRef, u32)> = self
            .namespaces
            .iter()
            .flat_map(|(n_ref, n)| {
                n.links
                    .values()
                    .filter(|l| l.lower() == Some(&key))
                    .map(move |l| (n_ref.clone(), l.ifindex))
            })
            .collect();
        for (n_ref, idx) in uppers {
            self.ns_mut(&n_ref).remove_link(idx);
            self.remove_uppers(&n_ref, idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;
    use crate::kernel::{views, KernelOp};
    use crate::wire::MacAddr;

    const ETH0: MacAddr = MacAddr([0x08, 0, 0x27, 0x85, 0x8e, 0x95]);

    fn host() -> Kernel {
        let mut k = Kernel::new("host-a", Streams::new(1).stream("k"));
        k.add_ethernet("eth0", ETH0, "192.168.0.2/24".parse().unwrap(), None);
        k
    }

    fn add(k: &mut Kernel, name: &str, id: u16) -> Result<String, OpError> {
        k.apply(&KernelOp::VlanAdd {
            ns: NsRef::Root,
            name: name.into(),
            parent: "eth0".into(),
            id,
        })
    }

    #[test]
    fn a_sub_interface_shares_its_parents_mac_and_lists_as_iproute2_does() {
        let mut k = host();
        add(&mut k, "eth0.10", 10).unwrap();
        k.apply(&KernelOp::LinkUp { ns: NsRef::Root, name: "eth0.10".into() }).unwrap();
        let text = views::ip_addr(&k, &NsRef::Root, false, Some("eth0.10")).unwrap();
        assert_eq!(
            text,
            "3: eth0.10@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP \
             mode DEFAULT group default qlen 1000\n    \
             link/ether 08:00:27:85:8e:95 brd ff:ff:ff:ff:ff:ff\n"
        );
        let details = views::link_details(&k, &NsRef::Root, "eth0.10").unwrap();
        assert_eq!(details, "    vlan protocol 802.1Q id 10 <REORDER_HDR> \n");
    }

    #[test]
    fn refusals_and_deleting_the_parent() {
        let mut k = host();
        let err = add(&mut k, "eth0.4095", 4095).unwrap_err();
        assert_eq!(err.0, "Error: 8021q: Invalid VLAN id.");
        add(&mut k, "eth0.10", 10).unwrap();
        assert_eq!(add(&mut k, "vlan10", 10).unwrap_err().0, "RTNETLINK answers: File exists");
        let missing = KernelOp::VlanAdd {
            ns: NsRef::Root,
            name: "eth1.10".into(),
            parent: "eth1".into(),
            id: 10,
        };
        assert_eq!(k.apply(&missing).unwrap_err().0, "Cannot find device \"eth1\"");
        k.apply(&KernelOp::LinkDel { ns: NsRef::Root, name: "eth0".into() }).unwrap();
        assert!(k.root().ifindex("eth0.10").is_none());
    }
}
