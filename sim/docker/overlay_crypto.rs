//! The encrypted overlay's IPsec programming, as libnetwork's `drivers/overlay/encryption.go`
//! does it, expressed as [`KernelOp`]s.
//!
//! Contract: [`build_spi`] is `buildSPI` bit for bit (FNV-32a over the source address in
//! its 16-byte IPv4-in-IPv6 form, the key tag big-endian, the destination likewise);
//! [`program_sa`] and [`program_sp`] give the ops of `programSA`/`programSP` in their order
//! (reverse SA before forward SA); [`setup_encryption`] those of `setupEncryption` for one
//! remote VTEP: the mangle mark, then per key the SAs — both directions for the primary
//! (first) key, receive-only for the others — and one outbound policy for the primary.
//!
//! The mark rule picks the network's VNI out of the VXLAN header with libnetwork 20.10's
//! `-m u32` expression. Departure, because the simulated iptables has no `-m policy`: the
//! INPUT rules that accept VXLAN of this VNI only through IPsec and drop it otherwise
//! (`programInput`) are not emitted.

use std::net::Ipv4Addr;

use crate::kernel::xfrm::{XfrmDir, XfrmMark, XfrmPolicy, XfrmSa, XfrmSelector, XfrmTmpl};
use crate::kernel::{KernelOp, NsRef};
use crate::wire::{EspKey, IpProtocol};

/// libnetwork's `r`: the reqid of every SA and the mark of every policy (13681891).
pub const OVERLAY_REQID_MARK: u32 = 0x00D0_C4E3;

/// `pktExpansion`: SPI 4 + seq 4 + IV 8 + pad length 1 + next header 1 + ICV 8.
pub const PKT_EXPANSION: u32 = 26;

/// `vxlanEncap`: what VXLAN adds to an inner frame's IP packet (50).
const VXLAN_ENCAP: u32 = 50;

/// One `networking:ipsec` key of the swarm's keyring: 16 bytes and its Lamport tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlayKey {
    pub value: [u8; 16],
    pub tag: u32,
}

/// `network.maxMTU()`: the option (1500 by default) less VXLAN's 50 and, when encrypted,
/// less [`PKT_EXPANSION`] rounded down to a multiple of 4 (1424 by default).
pub fn max_mtu(mtu_option: Option<u32>, secure: bool) -> u32 {
    let mut mtu = mtu_option.unwrap_or(1500) - VXLAN_ENCAP;
    if secure {
        mtu -= PKT_EXPANSION;
        mtu -= mtu % 4;
    }
    mtu
}

/// `buildSPI(src, dst, tag)`.
pub fn build_spi(src: Ipv4Addr, dst: Ipv4Addr, tag: u32) -> u32 {
    let mut bytes = src.to_ipv6_mapped().octets().to_vec();
    bytes.extend_from_slice(&tag.to_be_bytes());
    bytes.extend_from_slice(&dst.to_ipv6_mapped().octets());
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// `buildAeadAlgo`: the key and, as salt, the SPI big-endian.
fn aead_key(key: &OverlayKey, spi: u32) -> EspKey {
    EspKey { key: key.value, salt: spi.to_be_bytes() }
}

/// Which SAs `programSA` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaDirection {
    /// Only the transmit SA (local → remote).
    Forward,
    /// Only the receive SA (remote → local).
    Reverse,
    Both,
}

/// The SPIs of one key between this node and a remote: `spi{forward, reverse}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpiPair {
    pub forward: u32,
    pub reverse: u32,
}

impl SpiPair {
    /// As `setupEncryption` computes them, from the advertise address.
    pub fn new(advertise: Ipv4Addr, remote: Ipv4Addr, key: &OverlayKey) -> SpiPair {
        SpiPair {
            forward: build_spi(advertise, remote, key.tag),
            reverse: build_spi(remote, advertise, key.tag),
        }
    }
}

/// `programSA(localIP, remoteIP, spis, key, dir, add=true)`: the reverse SA first.
pub fn program_sa(
    local: Ipv4Addr,
    remote: Ipv4Addr,
    spis: SpiPair,
    key: &OverlayKey,
    dir: SaDirection,
) -> Vec<KernelOp> {
    let sa = |src, dst, spi| KernelOp::XfrmStateAdd {
        ns: NsRef::Root,
        sa: XfrmSa {
            src,
            dst,
            spi,
            reqid: OVERLAY_REQID_MARK,
            key: aead_key(key, spi),
            mark: None,
        },
    };
    let mut ops = Vec::new();
    if dir != SaDirection::Forward {
        ops.push(sa(remote, local, spis.reverse));
    }
    if dir != SaDirection::Reverse {
        ops.push(sa(local, remote, spis.forward));
    }
    ops
}

/// `programSA(…, add=false)`: deletes, in the same order.
pub fn remove_sa(
    local: Ipv4Addr,
    remote: Ipv4Addr,
    spis: SpiPair,
    dir: SaDirection,
) -> Vec<KernelOp> {
    let del = |src, dst, spi| KernelOp::XfrmStateDel { ns: NsRef::Root, src, dst, spi };
    let mut ops = Vec::new();
    if dir != SaDirection::Forward {
        ops.push(del(remote, local, spis.reverse));
    }
    if dir != SaDirection::Reverse {
        ops.push(del(local, remote, spis.forward));
    }
    ops
}

/// The outbound policy of `programSP`: UDP from `local` to the remote's data-path port,
/// marked [`OVERLAY_REQID_MARK`], through the forward SA.
pub fn outbound_policy(
    local: Ipv4Addr,
    remote: Ipv4Addr,
    forward_spi: u32,
    port: u16,
) -> XfrmPolicy {
    XfrmPolicy {
        sel: XfrmSelector {
            src: local.into(),
            dst: remote.into(),
            proto: Some(IpProtocol::Udp),
            dport: Some(port),
        },
        dir: XfrmDir::Out,
        mark: Some(XfrmMark { value: OVERLAY_REQID_MARK, mask: u32::MAX }),
        tmpl: XfrmTmpl { src: local, dst: remote, spi: forward_spi, reqid: OVERLAY_REQID_MARK },
    }
}

/// `programSP(fSA, rSA, add=true)`.
pub fn program_sp(local: Ipv4Addr, remote: Ipv4Addr, forward_spi: u32, port: u16) -> KernelOp {
    KernelOp::XfrmPolicyAdd {
        ns: NsRef::Root,
        policy: outbound_policy(local, remote, forward_spi, port),
    }
}

/// `programMangle(vni, true)`: UDP to the data-path port whose VXLAN header (found past the
/// IP header's length, `0>>22&0x3C`, then 12 bytes on: the 8-byte UDP header and the VXLAN
/// flags word) carries `vni` gets the mark the policies select.
pub fn mangle_mark_op(vni: u32, port: u16) -> KernelOp {
    let vni_match = format!("0>>22&0x3C@12&0xFFFFFF00={}", vni << 8);
    let args = ["-t", "mangle", "-A", "OUTPUT", "-p", "udp", "--dport", &port.to_string()]
        .into_iter()
        .chain(["-m", "u32", "--u32", &vni_match])
        .chain(["-j", "MARK", "--set-mark", &OVERLAY_REQID_MARK.to_string()])
        .map(String::from)
        .collect();
    KernelOp::Iptables { ns: NsRef::Root, args }
}

/// `setupEncryption(localIP, advIP, remoteIP, vni, …, keys)`: `keys[0]` is the primary.
/// The caller adds [`mangle_mark_op`] once per VNI (libnetwork checks that it exists).
pub fn setup_encryption(
    local: Ipv4Addr,
    advertise: Ipv4Addr,
    remote: Ipv4Addr,
    keys: &[OverlayKey],
    port: u16,
) -> Vec<KernelOp> {
    let mut ops = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let spis = SpiPair::new(advertise, remote, key);
        let dir = if i == 0 { SaDirection::Both } else { SaDirection::Reverse };
        ops.extend(program_sa(local, remote, spis, key, dir));
        if i == 0 {
            ops.push(program_sp(local, remote, spis.forward, port));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimTime, Streams};
    use crate::kernel::{Action, Kernel, VxlanConfig};
    use crate::wire::{
        EtherPayload, EthernetFrame, IcmpRepr, IpPayload, Ipv4Packet, MacAddr, UdpPayload,
    };

    const H1: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 4);
    const H2: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 5);
    const PRIMARY: OverlayKey = OverlayKey { value: [7; 16], tag: 0x3d2 };
    const SECOND: OverlayKey = OverlayKey { value: [9; 16], tag: 0x3d3 };

    #[test]
    fn spis_match_fnv32a_over_ipv6_mapped_addresses() {
        // Worked independently (Python: FNV-1a over ::ffff:a.b.c.d ‖ tag ‖ ::ffff:…).
        assert_eq!(build_spi(H1, H2, 0x3d2), 0x9d60_0d3f);
        assert_eq!(build_spi(H2, H1, 0x3d2), 0xecd0_b1af);
        assert_eq!(
            SpiPair::new(H1, H2, &SECOND),
            SpiPair { forward: 0x3aa6_1cbc, reverse: 0x0b2c_058c }
        );
    }

    #[test]
    fn mtu_leaves_room_for_esp() {
        assert_eq!(max_mtu(None, false), 1450);
        assert_eq!(max_mtu(None, true), 1424);
        assert_eq!(max_mtu(Some(9000), true), 8924);
    }

    #[test]
    fn setup_renders_as_ip_xfrm_commands() {
        let ops = setup_encryption(H1, H1, H2, &[PRIMARY, SECOND], 4789);
        let lines: Vec<String> = ops.iter().map(ToString::to_string).collect();
        let k7 = "07".repeat(16);
        let k9 = "09".repeat(16);
        assert_eq!(
            lines,
            [
                format!(
                    "ip xfrm state add src 172.16.24.5 dst 172.16.24.4 proto esp spi 0xecd0b1af \
                     reqid 13681891 mode transport aead 'rfc4106(gcm(aes))' 0x{k7}ecd0b1af 64"
                ),
                format!(
                    "ip xfrm state add src 172.16.24.4 dst 172.16.24.5 proto esp spi 0x9d600d3f \
                     reqid 13681891 mode transport aead 'rfc4106(gcm(aes))' 0x{k7}9d600d3f 64"
                ),
                "ip xfrm policy add src 172.16.24.4/32 dst 172.16.24.5/32 proto udp dport 4789 \
                 dir out mark 0xd0c4e3 mask 0xffffffff tmpl src 172.16.24.4 dst 172.16.24.5 \
                 proto esp spi 0x9d600d3f reqid 13681891 mode transport"
                    .to_string(),
                format!(
                    "ip xfrm state add src 172.16.24.5 dst 172.16.24.4 proto esp spi 0x0b2c058c \
                     reqid 13681891 mode transport aead 'rfc4106(gcm(aes))' 0x{k9}0b2c058c 64"
                ),
            ]
        );
        assert_eq!(
            mangle_mark_op(4097, 4789).to_string(),
            "iptables -t mangle -A OUTPUT -p udp --dport 4789 -m u32 --u32 \
             '0>>22&0x3C@12&0xFFFFFF00=1048832' -j MARK --set-mark 13681891"
        );
    }

    const OV: &str = "1-3d6ddd35f0";
    const MACS: [MacAddr; 2] = [MacAddr([2, 0x42, 10, 0, 1, 3]), MacAddr([2, 0x42, 10, 0, 1, 4])];
    const NICS: [MacAddr; 2] = [MacAddr([2, 0, 0, 0, 0, 4]), MacAddr([2, 0, 0, 0, 0, 5])];
    const INNER: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 1, 3), Ipv4Addr::new(10, 0, 1, 4)];

    /// Host `me` of an encrypted overlay with one container on each of two hosts: the
    /// overlay namespace (br0, vxlan0, veth0), the peer's entries and the IPsec ops.
    fn host(me: usize, keys: &[OverlayKey]) -> Kernel {
        let (vteps, peer) = ([H1, H2], 1 - me);
        let mut k = Kernel::new("h", Streams::new(1).stream(&format!("h{me}")));
        k.add_ethernet("eth0", NICS[me], format!("{}/24", vteps[me]).parse().unwrap(), None);
        let (ov, s) = (NsRef::named(OV), |x: &str| x.to_string());
        let mut ops = vec![
            KernelOp::NetnsAdd { name: s(OV) },
            KernelOp::BridgeAdd { ns: ov.clone(), name: s("br0") },
            KernelOp::VxlanAdd {
                ns: NsRef::Root,
                name: s("vx"),
                config: VxlanConfig::docker(4097, 1424),
            },
            KernelOp::LinkSetNetns { ns: NsRef::Root, name: s("vx"), target: ov.clone() },
            KernelOp::LinkRename { ns: ov.clone(), name: s("vx"), new_name: s("vxlan0") },
            KernelOp::VethAdd { ns: ov.clone(), name: s("veth0"), peer: s("tmp0") },
            KernelOp::NeighAdd {
                ns: ov.clone(),
                dev: s("vxlan0"),
                ip: INNER[peer],
                mac: MACS[peer],
            },
            KernelOp::FdbAdd {
                ns: ov.clone(),
                dev: s("vxlan0"),
                mac: MACS[peer],
                dst: vteps[peer],
            },
            KernelOp::NeighAdd {
                ns: NsRef::Root,
                dev: s("eth0"),
                ip: vteps[peer],
                mac: NICS[peer],
            },
            mangle_mark_op(4097, 4789),
        ];
        ops.extend(setup_encryption(vteps[me], vteps[me], vteps[peer], keys, 4789));
        for d in ["vxlan0", "veth0"] {
            ops.push(KernelOp::LinkSetMaster { ns: ov.clone(), name: s(d), master: s("br0") });
        }
        for d in ["br0", "vxlan0", "veth0", "tmp0"] {
            ops.push(KernelOp::LinkUp { ns: ov.clone(), name: s(d) });
        }
        for op in &ops {
            k.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
        k
    }

    /// Hands `frame` to `dev` of `ns` and returns what leaves, by device, and the hops.
    fn run(
        k: &mut Kernel,
        ns: &NsRef,
        dev: &str,
        frame: EthernetFrame,
    ) -> (Vec<(String, EthernetFrame)>, Vec<String>) {
        let mut out = Vec::new();
        let idx = k.ns(ns).unwrap().ifindex(dev).unwrap();
        k.handle_frame(SimTime::ZERO, ns, idx, 1, frame, &mut out);
        let (mut tx, mut hops) = (Vec::new(), Vec::new());
        for a in out {
            match a {
                Action::Transmit { ns, ifindex, frame, .. } => {
                    tx.push((k.ns(&ns).unwrap().link(ifindex).name.clone(), frame))
                }
                Action::Hop(h) => hops.push(format!("{}: {}", h.stage, h.detail)),
                _ => {}
            }
        }
        (tx, hops)
    }

    /// The largest echo request the 1424-byte overlay MTU allows.
    fn echo() -> EthernetFrame {
        let icmp = IcmpRepr::EchoRequest { ident: 1, seq: 1, data: vec![0; 1424 - 28] };
        let ip = Ipv4Packet {
            src: INNER[0],
            dst: INNER[1],
            ttl: 64,
            ident: 9,
            dont_fragment: true,
            payload: IpPayload::Icmp(icmp),
        };
        EthernetFrame { dst: MACS[1], src: MACS[0], payload: EtherPayload::Ipv4(ip) }
    }

    #[test]
    fn vxlan_leaves_sealed_and_is_opened_by_the_peer() {
        let (mut h1, mut h2) = (host(0, &[PRIMARY]), host(1, &[PRIMARY]));
        let ov = NsRef::named(OV);
        let mut wire = Vec::new();
        for seq in 1..=2 {
            let (tx, hops) = run(&mut h1, &ov, "veth0", echo());
            assert!(
                hops.contains(&format!("encap: ESP spi 0x9d600d3f seq {seq} -> 172.16.24.5")),
                "{hops:#?}"
            );
            let [(dev, frame)] = &tx[..] else { panic!("{tx:?}") };
            assert_eq!(dev, "eth0");
            let EtherPayload::Ipv4(ip) = &frame.payload else { panic!("not IP") };
            // A full-MTU inner packet fills the underlay's 1500 bytes exactly.
            assert_eq!(ip.buffer_len(), 1500);
            assert_eq!(
                frame.to_string(),
                format!(
                    "IP 172.16.24.4 > 172.16.24.5: ESP(spi=0x9d600d3f,seq=0x{seq}), length 1480"
                )
            );
            wire.push(frame.clone());
        }
        let bytes = wire[0].to_bytes();
        assert!(!bytes.windows(6).any(|w| w == MACS[0].0), "inner frame visible on the wire");
        let (tx, hops) = run(&mut h2, &NsRef::Root, "eth0", wire[0].clone());
        assert!(
            hops.contains(&"decap: ESP spi 0x9d600d3f seq 1 from 172.16.24.4".to_string()),
            "{hops:#?}"
        );
        let [(dev, frame)] = &tx[..] else { panic!("{tx:?}") };
        assert_eq!((dev.as_str(), frame), ("veth0", &echo()));
        assert!(h2.root().xfrm.render_states().contains("anti-replay context: seq 0x1, oseq 0x0"));
        assert!(h1.root().xfrm.render_states().contains("anti-replay context: seq 0x0, oseq 0x2"));
    }

    #[test]
    fn unmarked_vxlan_stays_plain_and_a_wrong_key_is_dropped() {
        let mut h1 = host(0, &[PRIMARY]);
        let flush = KernelOp::Iptables {
            ns: NsRef::Root,
            args: ["-t", "mangle", "-F", "OUTPUT"].map(String::from).to_vec(),
        };
        h1.apply(&flush).unwrap();
        let (tx, _) = run(&mut h1, &NsRef::named(OV), "veth0", echo());
        let EtherPayload::Ipv4(ip) = &tx[0].1.payload else { panic!("not IP") };
        assert!(
            matches!(&ip.payload, IpPayload::Udp(u) if matches!(u.payload, UdpPayload::Vxlan(_)))
        );
        // The peer installed a different key under the same SPIs: the ICV check fails.
        let mut h1 = host(0, &[PRIMARY]);
        let mut h2 = host(1, &[OverlayKey { value: [8; 16], ..PRIMARY }]);
        let (tx, _) = run(&mut h1, &NsRef::named(OV), "veth0", echo());
        let (rx, hops) = run(&mut h2, &NsRef::Root, "eth0", tx[0].1.clone());
        assert!(rx.is_empty(), "{rx:?}");
        assert!(
            hops.contains(
                &"DROP: xfrm: ICV check failed, spi 0x9d600d3f (XfrmInStateProtoError)".to_string()
            ),
            "{hops:#?}"
        );
    }

    #[test]
    fn views_list_newest_first() {
        let h1 = host(0, &[PRIMARY, SECOND]);
        let k7 = "07".repeat(16);
        let k9 = "09".repeat(16);
        let state = |src, dst, spi: &str, key: &str| {
            format!(
                "src {src} dst {dst}\n\tproto esp spi 0x{spi} reqid 13681891 mode transport\n\
                 \treplay-window 0 \n\taead rfc4106(gcm(aes)) 0x{key}{spi} 64\n\
                 \tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n\
                 \tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n"
            )
        };
        let want = [
            state(H2, H1, "0b2c058c", &k9),
            state(H1, H2, "9d600d3f", &k7),
            state(H2, H1, "ecd0b1af", &k7),
        ]
        .concat();
        assert_eq!(h1.root().xfrm.render_states(), want);
        assert_eq!(
            h1.root().xfrm.render_policies(),
            "src 172.16.24.4/32 dst 172.16.24.5/32 proto udp dport 4789 \n\
             \tdir out priority 0 ptype main \n\tmark 0xd0c4e3/0xffffffff \n\
             \ttmpl src 172.16.24.4 dst 172.16.24.5\n\
             \t\tproto esp spi 0x9d600d3f reqid 13681891 mode transport\n"
        );
    }

    #[test]
    fn ops_fail_like_ip_xfrm() {
        let mut h1 = host(0, &[PRIMARY]);
        let again = setup_encryption(H1, H1, H2, &[PRIMARY], 4789);
        for op in &again {
            assert_eq!(h1.apply(op).unwrap_err().0, "RTNETLINK answers: File exists", "{op}");
        }
        let spis = SpiPair::new(H1, H2, &PRIMARY);
        for op in remove_sa(H1, H2, spis, SaDirection::Both) {
            h1.apply(&op).unwrap();
            assert_eq!(h1.apply(&op).unwrap_err().0, "RTNETLINK answers: No such process");
        }
        let del =
            KernelOp::XfrmPolicyDel { ns: NsRef::Root, policy: outbound_policy(H1, H2, 0, 4789) };
        assert_eq!(
            del.to_string(),
            "ip xfrm policy delete src 172.16.24.4/32 dst 172.16.24.5/32 proto udp dport 4789 \
             dir out mark 0xd0c4e3 mask 0xffffffff"
        );
        // The policy outlives its SA: marked VXLAN is now dropped, not sent in clear.
        let (tx, hops) = run(&mut h1, &NsRef::named(OV), "veth0", echo());
        assert!(tx.is_empty(), "{tx:?}");
        assert!(
            hops.contains(
                &"DROP: xfrm: no state 172.16.24.4 -> 172.16.24.5 spi 0x9d600d3f".to_string()
            ),
            "{hops:#?}"
        );
        h1.apply(&del).unwrap();
        assert_eq!(h1.apply(&del).unwrap_err().0, "RTNETLINK answers: No such file or directory");
    }
}
