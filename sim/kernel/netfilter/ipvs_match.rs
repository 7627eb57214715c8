//! What netfilter does for IPVS: the `-m ipvs` match and the conntrack update IPVS makes.
//!
//! Contract:
//! - `-m ipvs [!] --ipvs` parses, prints (`-S`: `-m ipvs --ipvs`, `-L`: `ipvs`, as libxt_ipvs's
//!   `ipvs_mt_dump` with and without its `--` prefix) and matches packets whose
//!   `PacketMeta::ipvs_property` is set (xt_ipvs's `skb->ipvs_property` test); the rule model
//!   is `Match::Ipvs` in `rule.rs`, parsing in `parse.rs`, printing in `render.rs`;
//! - xt_ipvs's other options (`--vproto`, `--vaddr`, `--vport`, `--vdir`, `--vmethod`,
//!   `--vportctl`) are not modelled: iptables here calls them unknown options;
//! - [`Netfilter::ipvs_forwarded`] is `ip_vs_update_conntrack` for a request IPVS sends to a
//!   real server: an unconfirmed entry's reply tuple now comes from the real server, with no
//!   NAT status bit, so conntrack never DNATs the connection's later packets itself.

use std::net::Ipv4Addr;

use super::conntrack;
use super::tables::Netfilter;

impl Netfilter {
    /// IPVS forwarded the packet carrying `conntrack_id` to `to`.
    pub fn ipvs_forwarded(&mut self, conntrack_id: u64, to: (Ipv4Addr, u16)) {
        let (id, _) = conntrack::decode(conntrack_id);
        if self.conntrack.get(id).is_some() {
            self.conntrack.alter_reply_src(id, to.0, to.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Hook, HookCtx, IptablesError, PacketMeta};
    use super::*;
    use crate::engine::SimTime;
    use crate::wire::{IpProtocol, TcpFlags};

    const DOCKER: &str =
        "-t nat -A POSTROUTING -m ipvs --ipvs -d 10.255.0.0/16 -j SNAT --to-source 10.255.0.2";

    fn run(nf: &mut Netfilter, line: &str) -> Result<String, IptablesError> {
        nf.run_command(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    fn lb() -> Netfilter {
        let mut nf = Netfilter::new();
        run(&mut nf, DOCKER).unwrap();
        nf
    }

    fn syn(ipvs: bool) -> PacketMeta {
        PacketMeta {
            src: Ipv4Addr::new(10, 255, 0, 5),
            dst: Ipv4Addr::new(10, 255, 0, 7),
            proto: IpProtocol::Tcp,
            sport: 40000,
            dport: 80,
            icmp_type: None,
            tcp_flags: Some(TcpFlags::SYN),
            len: 60,
            in_iface: None,
            out_iface: Some("eth0".into()),
            mark: 0x100,
            conntrack_id: None,
            ipvs_property: ipvs,
        }
    }

    /// The lab's `ingress_sbox` listing (seed 004): `ipvs` in the options column.
    #[test]
    fn dockers_snat_rule_lists_like_iptables_1_8_7() {
        let mut nf = lb();
        assert_eq!(
            run(&mut nf, "-t nat -S POSTROUTING").unwrap(),
            "-P POSTROUTING ACCEPT\n\
             -A POSTROUTING -d 10.255.0.0/16 -m ipvs --ipvs -j SNAT --to-source 10.255.0.2\n"
        );
        let listing = run(&mut nf, "-t nat -nvL POSTROUTING").unwrap();
        assert_eq!(
            listing.lines().nth(2).unwrap(),
            "    0     0 SNAT       all  --  *      *       0.0.0.0/0            \
             10.255.0.0/16        ipvs to:10.255.0.2"
        );
        run(&mut nf, "-t nat -A POSTROUTING ! --ipvs -m ipvs -j ACCEPT").expect_err("! first");
        run(&mut nf, "-t nat -A POSTROUTING -m ipvs ! --ipvs -j ACCEPT").unwrap();
        assert!(run(&mut nf, "-t nat -S POSTROUTING").unwrap().contains("-m ipvs ! --ipvs -j"));
        assert!(run(&mut nf, "-t nat -nL POSTROUTING").unwrap().contains(" ! ipvs\n"));
    }

    #[test]
    fn options_it_does_not_model_fail_like_unknown_ones() {
        let mut nf = Netfilter::new();
        let e = run(&mut nf, "-t nat -A POSTROUTING -m ipvs --vaddr 10.0.0.1 -j ACCEPT");
        assert_eq!(
            e.unwrap_err().message,
            "iptables v1.8.7 (legacy): unknown option \"--vaddr\"\n\
             Try `iptables -h' or 'iptables --help' for more information."
        );
        let e = run(&mut nf, "-t nat -A POSTROUTING -m ipvs -j ACCEPT").unwrap_err();
        assert_eq!(
            e.message,
            "iptables v1.8.7 (legacy): IPVS: At least one option is required\n\
             Try `iptables -h' or 'iptables --help' for more information."
        );
        let e = run(&mut nf, "-t nat -A POSTROUTING -m ipvs --ipvs --ipvs -j ACCEPT").unwrap_err();
        assert!(e.message.contains("ipvs: option \"--ipvs\" can only be used once."), "{e}");
    }

    /// The SNAT rule takes IPVS's packets only, and only those conntrack follows
    /// (`net.ipv4.vs.conntrack=1`); an untracked IPVS packet passes nat untouched.
    #[test]
    fn only_tracked_packets_ipvs_handled_are_snated() {
        let ctx = HookCtx::default();
        let lb_ip = Ipv4Addr::new(10, 255, 0, 2);
        for (ipvs, tracked, src) in
            [(false, true, None), (true, true, Some(lb_ip)), (true, false, None)]
        {
            let mut nf = lb();
            let mut pkt = syn(false);
            nf.hook(SimTime::ZERO, Hook::Prerouting, &mut pkt, &ctx);
            pkt.ipvs_property = ipvs;
            if !tracked {
                pkt.conntrack_id = None;
            }
            let out = nf.hook(SimTime::ZERO, Hook::Postrouting, &mut pkt, &ctx);
            assert_eq!(out.nat.is_some(), src.is_some(), "ipvs={ipvs} tracked={tracked}");
            assert_eq!(pkt.src, src.unwrap_or(Ipv4Addr::new(10, 255, 0, 5)));
        }
    }

    /// After IPVS picked a real server, conntrack expects the reply from it and does not
    /// DNAT the connection's next packets on its own.
    #[test]
    fn ipvs_forwarded_rewrites_the_reply_tuple_but_not_later_packets() {
        let ctx = HookCtx::default();
        let mut nf = lb();
        let mut pkt = syn(false);
        nf.hook(SimTime::ZERO, Hook::Prerouting, &mut pkt, &ctx);
        let rs = (Ipv4Addr::new(10, 255, 0, 9), 80);
        nf.ipvs_forwarded(pkt.conntrack_id.unwrap(), rs);
        (pkt.dst, pkt.ipvs_property) = (rs.0, true);
        nf.hook(SimTime::ZERO, Hook::Postrouting, &mut pkt, &ctx);
        let e = &nf.conntrack_entries()[0];
        assert_eq!((e.reply.src, e.reply.sport), rs);
        assert_eq!(e.reply.dst, Ipv4Addr::new(10, 255, 0, 2));
        assert!(!e.is_dnat() && e.is_snat());
        let mut next = syn(false);
        next.tcp_flags = Some(TcpFlags::ACK);
        let out = nf.hook(SimTime::ZERO, Hook::Prerouting, &mut next, &ctx);
        assert_eq!((next.dst, out.nat), (Ipv4Addr::new(10, 255, 0, 7), None));
    }
}
