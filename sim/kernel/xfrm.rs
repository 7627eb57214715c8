//! IPsec (xfrm): security associations and policies of one namespace, ESP transport mode
//! only, as Docker's encrypted overlay programs them.
//!
//! Contract:
//! - States are keyed by (dst, SPI), policies by (selector, dir, mark); adding a duplicate
//!   or deleting a missing one fails with iproute2's message. Both list newest first, as
//!   the kernel's walk of its `state_all`/`policy_all` lists does.
//! - Output ([`Kernel::xfrm_output`], after POSTROUTING): the first `dir out` policy whose
//!   mark (`skb->mark & mask == value`) and selector (addresses, protocol, destination port)
//!   match sends the packet through its template's state (same src, dst, reqid and SPI),
//!   which seals it into ESP with the next output sequence number. A policy whose state is
//!   missing drops the packet (`XfrmOutNoStates`).
//! - Input ([`Kernel::xfrm_input`], for ESP to a local address): the state with the
//!   packet's (dst, SPI) opens it (a wrong key fails the ICV check: `XfrmInStateProtoError`)
//!   and the inner datagram re-enters the stack, PREROUTING first, as
//!   `xfrm4_transport_finish` re-injects it.
//!
//! Simplifications: the ESP packet itself does not traverse netfilter (Linux passes it
//! through OUTPUT/POSTROUTING and PREROUTING/INPUT too); `dir in`/`fwd` policies are kept
//! and shown but not enforced (Docker installs only `dir out`); replay-window 0 means no
//! replay check, as in Linux; no lifetimes, acquires or statistics.

use std::fmt::Write;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::wire::{EspKey, EspPacket, IpPayload, IpProtocol, Ipv4Packet};

use super::walk::{Stage, Walk};
use super::{Kernel, NsRef, OpError};

/// The only AEAD the model speaks, as `ip xfrm` names it.
pub const AEAD_NAME: &str = "rfc4106(gcm(aes))";
/// The ICV length in bits.
pub const ICV_BITS: u32 = 64;

/// An xfrm mark: matches when `skb->mark & mask == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfrmMark {
    pub value: u32,
    pub mask: u32,
}

impl XfrmMark {
    fn matches(mark: Option<XfrmMark>, skb_mark: u32) -> bool {
        mark.is_none_or(|m| skb_mark & m.mask == m.value)
    }
}

/// One ESP transport-mode SA (`ip xfrm state add … proto esp … mode transport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XfrmSa {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub spi: u32,
    pub reqid: u32,
    pub key: EspKey,
    pub mark: Option<XfrmMark>,
}

/// An installed SA and its anti-replay counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XfrmState {
    pub sa: XfrmSa,
    /// The last sequence number sent.
    pub oseq: u32,
    /// The highest sequence number received.
    pub seq: u32,
}

/// `dir in|out|fwd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XfrmDir {
    In,
    Out,
    Fwd,
}

impl XfrmDir {
    pub fn name(self) -> &'static str {
        match self {
            XfrmDir::In => "in",
            XfrmDir::Out => "out",
            XfrmDir::Fwd => "fwd",
        }
    }
}

/// What a policy matches (`src PREFIX dst PREFIX [proto P [dport PORT]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfrmSelector {
    pub src: Ipv4Net,
    pub dst: Ipv4Net,
    pub proto: Option<IpProtocol>,
    pub dport: Option<u16>,
}

impl XfrmSelector {
    fn matches(&self, pkt: &Ipv4Packet) -> bool {
        let dport = match &pkt.payload {
            IpPayload::Udp(u) => Some(u.dst_port),
            IpPayload::Tcp(t) => Some(t.dst_port),
            _ => None,
        };
        self.src.contains(&pkt.src)
            && self.dst.contains(&pkt.dst)
            && self.proto.is_none_or(|p| p == pkt.payload.protocol())
            && self.dport.is_none_or(|p| Some(p) == dport)
    }

    /// `src A/N dst B/M [proto P] [dport D]` as iproute2 prints it (with its trailing
    /// space) and takes it.
    fn text(&self) -> String {
        let mut s = format!("src {} dst {} ", self.src, self.dst);
        if let Some(p) = self.proto {
            write!(s, "proto {} ", p.name()).expect("String");
        }
        if let Some(d) = self.dport {
            write!(s, "dport {d} ").expect("String");
        }
        s
    }
}

/// The template of a policy: which SA the packet must go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfrmTmpl {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub spi: u32,
    pub reqid: u32,
}

/// One policy (`ip xfrm policy add SELECTOR dir DIR [mark …] tmpl …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XfrmPolicy {
    pub sel: XfrmSelector,
    pub dir: XfrmDir,
    pub mark: Option<XfrmMark>,
    pub tmpl: XfrmTmpl,
}

impl XfrmPolicy {
    /// Policies are the same policy for add and delete when these agree.
    fn same_key(&self, other: &XfrmPolicy) -> bool {
        (self.sel, self.dir, self.mark) == (other.sel, other.dir, other.mark)
    }
}

/// The SAD and SPD of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Xfrm {
    states: Vec<XfrmState>,
    policies: Vec<XfrmPolicy>,
}

fn exists() -> OpError {
    OpError("RTNETLINK answers: File exists".into())
}

impl Xfrm {
    pub fn states(&self) -> &[XfrmState] {
        &self.states
    }

    pub fn policies(&self) -> &[XfrmPolicy] {
        &self.policies
    }

    pub(super) fn state_add(&mut self, sa: &XfrmSa) -> Result<(), OpError> {
        if self.states.iter().any(|s| (s.sa.dst, s.sa.spi) == (sa.dst, sa.spi)) {
            return Err(exists());
        }
        self.states.insert(0, XfrmState { sa: sa.clone(), oseq: 0, seq: 0 });
        Ok(())
    }

    pub(super) fn state_del(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        spi: u32,
    ) -> Result<(), OpError> {
        let at = self.states.iter().position(|s| (s.sa.src, s.sa.dst, s.sa.spi) == (src, dst, spi));
        let at = at.ok_or_else(|| OpError("RTNETLINK answers: No such process".into()))?;
        self.states.remove(at);
        Ok(())
    }

    pub(super) fn policy_add(&mut self, policy: &XfrmPolicy) -> Result<(), OpError> {
        if self.policies.iter().any(|p| p.same_key(policy)) {
            return Err(exists());
        }
        self.policies.insert(0, policy.clone());
        Ok(())
    }

    /// `ip xfrm policy update`: the new policy takes the old one's place in the list, or
    /// goes first when there was none.
    pub(super) fn policy_update(&mut self, policy: &XfrmPolicy) {
        match self.policies.iter_mut().find(|p| p.same_key(policy)) {
            Some(old) => *old = policy.clone(),
            None => self.policies.insert(0, policy.clone()),
        }
    }

    pub(super) fn policy_del(&mut self, policy: &XfrmPolicy) -> Result<(), OpError> {
        let at = self.policies.iter().position(|p| p.same_key(policy));
        let at =
            at.ok_or_else(|| OpError("RTNETLINK answers: No such file or directory".into()))?;
        self.policies.remove(at);
        Ok(())
    }

    /// `ip xfrm state` (iproute2 6.1): the selector line is the all-zero selector that
    /// `ip xfrm state add` installs without `sel`.
    pub fn render_states(&self) -> String {
        let mut out = String::new();
        for s in &self.states {
            let sa = &s.sa;
            writeln!(out, "src {} dst {}", sa.src, sa.dst).expect("String");
            let id = format!("proto esp spi 0x{:08x} reqid {} mode transport", sa.spi, sa.reqid);
            writeln!(out, "\t{id}\n\treplay-window 0 ").expect("String");
            if let Some(m) = sa.mark {
                writeln!(out, "\tmark 0x{:x}/0x{:x} ", m.value, m.mask).expect("String");
            }
            writeln!(out, "\taead {AEAD_NAME} {} {ICV_BITS}", sa.key.hex()).expect("String");
            let replay = format!("seq 0x{:x}, oseq 0x{:x}, bitmap 0x00000000", s.seq, s.oseq);
            writeln!(out, "\tanti-replay context: {replay}").expect("String");
            writeln!(out, "\tsel src 0.0.0.0/0 dst 0.0.0.0/0 ").expect("String");
        }
        out
    }

    /// `ip xfrm policy` (iproute2 6.1), checked against the real command.
    pub fn render_policies(&self) -> String {
        let mut out = String::new();
        for p in &self.policies {
            writeln!(out, "{}", p.sel.text()).expect("String");
            writeln!(out, "\tdir {} priority 0 ptype main ", p.dir.name()).expect("String");
            if let Some(m) = p.mark {
                writeln!(out, "\tmark 0x{:x}/0x{:x} ", m.value, m.mask).expect("String");
            }
            let t = &p.tmpl;
            writeln!(out, "\ttmpl src {} dst {}", t.src, t.dst).expect("String");
            let id = format!("proto esp spi 0x{:08x} reqid {} mode transport", t.spi, t.reqid);
            writeln!(out, "\t\t{id}").expect("String");
        }
        out
    }

    /// The SA an outgoing packet with `skb_mark` must go through, if a policy wants one:
    /// `Ok(None)` when no policy matches, `Err` when one matches but its SA is missing.
    fn output_state(
        &mut self,
        pkt: &Ipv4Packet,
        mark: u32,
    ) -> Result<Option<&mut XfrmState>, XfrmTmpl> {
        let policy = self.policies.iter().find(|p| {
            p.dir == XfrmDir::Out && XfrmMark::matches(p.mark, mark) && p.sel.matches(pkt)
        });
        let Some(tmpl) = policy.map(|p| p.tmpl) else { return Ok(None) };
        let state = self.states.iter_mut().find(|s| {
            (s.sa.src, s.sa.dst) == (tmpl.src, tmpl.dst)
                && (tmpl.reqid == 0 || s.sa.reqid == tmpl.reqid)
                && (tmpl.spi == 0 || s.sa.spi == tmpl.spi)
                && XfrmMark::matches(s.sa.mark, mark)
        });
        state.map(Some).ok_or(tmpl)
    }
}

/// The arguments of `ip xfrm state add` for `sa`, for `--explain` and the export.
pub(super) fn state_add_args(sa: &XfrmSa) -> String {
    let mark = sa.mark.map(|m| format!(" mark 0x{:x} mask 0x{:x}", m.value, m.mask));
    format!(
        "src {} dst {} proto esp spi 0x{:08x} reqid {} mode transport{} aead '{AEAD_NAME}' {} \
         {ICV_BITS}",
        sa.src,
        sa.dst,
        sa.spi,
        sa.reqid,
        mark.unwrap_or_default(),
        sa.key.hex()
    )
}

/// The selector, direction and mark of `ip xfrm policy add|delete`.
pub(super) fn policy_key_args(p: &XfrmPolicy) -> String {
    let mark = p.mark.map(|m| format!(" mark 0x{:x} mask 0x{:x}", m.value, m.mask));
    format!("{}dir {}{}", p.sel.text(), p.dir.name(), mark.unwrap_or_default())
}

/// The template of `ip xfrm policy add`.
pub(super) fn tmpl_args(t: &XfrmTmpl) -> String {
    format!(
        "tmpl src {} dst {} proto esp spi 0x{:08x} reqid {} mode transport",
        t.src, t.dst, t.spi, t.reqid
    )
}

impl Kernel {
    /// Applies the `dir out` policies to a packet leaving `ns`: the packet itself, sealed
    /// into ESP, or `None` when it was dropped.
    pub(super) fn xfrm_output(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev_name: &str,
        pkt: Ipv4Packet,
    ) -> Option<Ipv4Packet> {
        let xfrm = &mut self.ns_mut(ns).xfrm;
        match xfrm.output_state(&pkt, w.mark) {
            Ok(None) => Some(pkt),
            Err(t) => {
                let detail = format!("xfrm: no state {} -> {} spi 0x{:08x}", t.src, t.dst, t.spi);
                w.hop(ns, dev_name, Stage::Drop, detail);
                None
            }
            Ok(Some(state)) => {
                state.oseq = state.oseq.wrapping_add(1);
                let (spi, seq, key) = (state.sa.spi, state.oseq, state.sa.key);
                let detail = format!("ESP spi 0x{spi:08x} seq {seq} -> {}", pkt.dst);
                w.hop(ns, dev_name, Stage::Encap, detail);
                let esp = EspPacket::seal(spi, seq, key, pkt.payload);
                Some(Ipv4Packet { payload: IpPayload::Esp(esp), ..pkt })
            }
        }
    }

    /// An ESP packet for a local address of `ns`: the decrypted packet, or `None` when it
    /// was dropped.
    pub(super) fn xfrm_input(
        &mut self,
        w: &mut Walk,
        ns: &NsRef,
        dev_name: &str,
        pkt: Ipv4Packet,
    ) -> Option<Ipv4Packet> {
        let IpPayload::Esp(esp) = &pkt.payload else { return Some(pkt) };
        let xfrm = &mut self.ns_mut(ns).xfrm;
        let state = xfrm.states.iter_mut().find(|s| {
            (s.sa.dst, s.sa.spi) == (pkt.dst, esp.spi) && XfrmMark::matches(s.sa.mark, w.mark)
        });
        let Some(state) = state else {
            let detail = format!("xfrm: no state for spi 0x{:08x} (XfrmInNoStates)", esp.spi);
            w.hop(ns, dev_name, Stage::Drop, detail);
            return None;
        };
        let Ok(inner) = esp.open(&state.sa.key, pkt.src, pkt.dst) else {
            let detail =
                format!("xfrm: ICV check failed, spi 0x{:08x} (XfrmInStateProtoError)", esp.spi);
            w.hop(ns, dev_name, Stage::Drop, detail);
            return None;
        };
        state.seq = state.seq.max(esp.seq);
        let detail = format!("ESP spi 0x{:08x} seq {} from {}", esp.spi, esp.seq, pkt.src);
        w.hop(ns, dev_name, Stage::Decap, detail);
        Some(Ipv4Packet { payload: inner, ..pkt })
    }
}
