//! The IPVS connection table (`ip_vs_conn.c`) and its TCP state machine
//! (`ip_vs_proto_tcp.c`).
//!
//! Contract:
//! - a connection is keyed by (protocol, client addr:port, virtual addr:port), which is how
//!   `ip_vs_conn_in_get` finds it for client packets; replies find it by (protocol, real
//!   server addr:port, client addr:port) (`ip_vs_conn_out_get`, masquerading only);
//! - a new connection is inactive (`__ip_vs_update_dest` sets `IP_VS_CONN_F_INACTIVE` in
//!   the server's connection flags); a TCP connection is active exactly while its IPVS
//!   state is ESTABLISHED (`set_tcp_state`), a UDP one is never active — the ActiveConn /
//!   InActConn columns count these;
//! - every packet re-arms the expiry with its state's timeout: TCP from `tcp_timeouts`
//!   (ESTABLISHED 900 s, SYN_RECV 60 s, FIN_WAIT and TIME_WAIT 120 s, CLOSE 10 s, …), UDP
//!   300 s; entries past their expiry are removed lazily, on the next look at the table.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use super::{Fwd, VsKey};
use crate::engine::{SimDuration, SimTime};
use crate::wire::{IpProtocol, TcpFlags};

/// `IP_VS_TCP_S_*`, in the kernel's order (the columns of its state table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TcpState {
    None,
    Established,
    SynSent,
    SynRecv,
    FinWait,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Synack,
}

use TcpState::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    SynRecv as SR, SynSent as SS, Synack as SA, TimeWait as TW,
};

/// `tcp_states[]` for NAT connections: INPUT (client → server) then OUTPUT (replies), each
/// indexed by [syn, fin, ack, rst][current state].
const TCP_STATES: [[[TcpState; 11]; 4]; 2] = [
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        [CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    ],
    [
        [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
];

impl TcpState {
    /// `tcp_timeouts[]`.
    fn timeout(self) -> SimDuration {
        SimDuration::from_secs(match self {
            TcpState::None => 2,
            ES => 15 * 60,
            SS | FW | TW | LI | SA => 2 * 60,
            SR | CW => 60,
            CL => 10,
            LA => 30,
        })
    }
}

impl fmt::Display for TcpState {
    /// `tcp_state_name_table[]`, as `/proc/net/ip_vs_conn` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpState::None => "NONE",
            ES => "ESTABLISHED",
            SS => "SYN_SENT",
            SR => "SYN_RECV",
            FW => "FIN_WAIT",
            TW => "TIME_WAIT",
            CL => "CLOSE",
            CW => "CLOSE_WAIT",
            LA => "LAST_ACK",
            LI => "LISTEN",
            SA => "SYNACK",
        })
    }
}

/// `ip_vs_udp_timeouts[IP_VS_UDP_S_NORMAL]`.
const UDP_TIMEOUT: SimDuration = SimDuration::from_secs(5 * 60);

/// Which way a packet travels through a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    /// Client → virtual service (`IP_VS_DIR_INPUT`).
    In,
    /// Real server → client (`IP_VS_DIR_OUTPUT`).
    Out,
}

/// (protocol, client, virtual service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnKey {
    pub proto: IpProtocol,
    pub caddr: Ipv4Addr,
    pub cport: u16,
    pub vaddr: Ipv4Addr,
    pub vport: u16,
}

/// One IPVS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    pub key: ConnKey,
    pub service: VsKey,
    /// The real server as the service lists it (its port may be 0: "the packet's port").
    pub dest: (Ipv4Addr, u16),
    /// Where the connection's packets go.
    pub daddr: Ipv4Addr,
    pub dport: u16,
    pub fwd: Fwd,
    /// TCP only; UDP connections have no state.
    pub state: Option<TcpState>,
    pub inactive: bool,
    pub expires: SimTime,
}

impl Conn {
    /// `ip_vs_set_state` for one packet: the new state and the expiry it re-arms.
    pub(super) fn update(&mut self, now: SimTime, dir: Dir, flags: Option<TcpFlags>) {
        let Some(state) = self.state else {
            self.expires = now + UDP_TIMEOUT;
            return;
        };
        let next = flags
            .and_then(flag_index)
            .map_or(state, |i| TCP_STATES[usize::from(dir == Dir::Out)][i][state as usize]);
        self.inactive = next != ES;
        self.state = Some(next);
        self.expires = now + next.timeout();
    }

    /// `/proc/net/ip_vs_conn`'s state column.
    pub fn state_name(&self) -> String {
        self.state.map_or("UDP".to_string(), |s| s.to_string())
    }
}

/// `tcp_state_idx`: RST first, then SYN, FIN, ACK; None leaves the state alone.
fn flag_index(f: TcpFlags) -> Option<usize> {
    if f.contains(TcpFlags::RST) {
        Some(3)
    } else if f.contains(TcpFlags::SYN) {
        Some(0)
    } else if f.contains(TcpFlags::FIN) {
        Some(1)
    } else if f.contains(TcpFlags::ACK) {
        Some(2)
    } else {
        None
    }
}

/// The real server a new connection is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NewDest {
    /// As the service lists it.
    pub id: (Ipv4Addr, u16),
    /// The address and port packets go to (a listed port 0 keeps the virtual port).
    pub to: (Ipv4Addr, u16),
    pub fwd: Fwd,
}

/// (protocol, real server addr:port, client addr:port): how replies find their connection.
type OutKey = (IpProtocol, Ipv4Addr, u16, Ipv4Addr, u16);

/// The connection table of one namespace.
#[derive(Debug, Clone, Default)]
pub(super) struct Conns {
    by_in: BTreeMap<ConnKey, Conn>,
    by_out: BTreeMap<OutKey, ConnKey>,
}

impl Conns {
    /// A new connection to a real server: state NONE, inactive, 3 s to live until the packet
    /// that made it updates it (`ip_vs_conn_new`).
    pub fn insert(&mut self, now: SimTime, key: ConnKey, service: VsKey, dest: NewDest) {
        let NewDest { id, to, fwd } = dest;
        let state = (key.proto == IpProtocol::Tcp).then_some(TcpState::None);
        let conn = Conn {
            key,
            service,
            dest: id,
            daddr: to.0,
            dport: to.1,
            fwd,
            state,
            inactive: true,
            expires: now + SimDuration::from_secs(3),
        };
        if fwd == Fwd::Masq {
            self.by_out.insert((key.proto, to.0, to.1, key.caddr, key.cport), key);
        }
        self.by_in.insert(key, conn);
    }

    pub fn get_in(&mut self, key: &ConnKey) -> Option<&mut Conn> {
        self.by_in.get_mut(key)
    }

    /// The masqueraded connection a reply from `src` to `dst` belongs to.
    pub fn get_out(
        &mut self,
        proto: IpProtocol,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
    ) -> Option<&mut Conn> {
        let key = self.by_out.get(&(proto, src.0, src.1, dst.0, dst.1))?;
        self.by_in.get_mut(key)
    }

    /// `ip_vs_conn_expire_now`.
    pub fn remove(&mut self, key: &ConnKey) {
        if let Some(c) = self.by_in.remove(key) {
            self.by_out.remove(&(key.proto, c.daddr, c.dport, key.caddr, key.cport));
        }
    }

    pub fn expire(&mut self, now: SimTime) {
        let dead: Vec<ConnKey> =
            self.by_in.values().filter(|c| c.expires <= now).map(|c| c.key).collect();
        for key in dead {
            self.remove(&key);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Conn> {
        self.by_in.values()
    }

    /// (ActiveConn, InActConn) of one real server of one service.
    pub fn counts(&self, service: VsKey, dest: (Ipv4Addr, u16)) -> (u32, u32) {
        let mine = self.iter().filter(|c| c.service == service && c.dest == dest);
        mine.fold((0, 0), |(a, i), c| if c.inactive { (a, i + 1) } else { (a + 1, i) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_conn() -> Conn {
        let key = ConnKey {
            proto: IpProtocol::Tcp,
            caddr: Ipv4Addr::new(10, 0, 0, 9),
            cport: 40000,
            vaddr: Ipv4Addr::new(10, 0, 0, 2),
            vport: 80,
        };
        let mut conns = Conns::default();
        let to = (Ipv4Addr::new(10, 0, 0, 5), 80);
        let dest = NewDest { id: (to.0, 0), to, fwd: Fwd::Masq };
        conns.insert(SimTime::ZERO, key, VsKey::Fwmark(256), dest);
        conns.get_in(&key).unwrap().clone()
    }

    /// A client's handshake and close through a NAT service, with the state and timeout
    /// after each packet.
    #[test]
    fn tcp_states_and_timeouts_follow_the_kernel_table() {
        let mut c = tcp_conn();
        let t0 = SimTime::ZERO;
        let steps = [
            (Dir::In, TcpFlags::SYN, SR, 60, true),
            (Dir::Out, TcpFlags::SYN | TcpFlags::ACK, SR, 60, true),
            (Dir::In, TcpFlags::ACK, ES, 900, false),
            (Dir::In, TcpFlags::FIN | TcpFlags::ACK, CW, 60, true),
            (Dir::Out, TcpFlags::FIN | TcpFlags::ACK, TW, 120, true),
            (Dir::In, TcpFlags::ACK, TW, 120, true),
        ];
        for (dir, flags, state, secs, inactive) in steps {
            c.update(t0, dir, Some(flags));
            assert_eq!(c.state, Some(state), "{dir:?} {flags:?}");
            assert_eq!(c.expires, t0 + SimDuration::from_secs(secs));
            assert_eq!(c.inactive, inactive);
        }
        c.update(t0, Dir::In, Some(TcpFlags::RST));
        assert_eq!((c.state, c.expires), (Some(CL), t0 + SimDuration::from_secs(10)));
    }

    #[test]
    fn connections_expire_and_counts_follow_activity() {
        let mut conns = Conns::default();
        let c = tcp_conn();
        let dest = c.dest;
        let to = (c.daddr, c.dport);
        conns.insert(SimTime::ZERO, c.key, c.service, NewDest { id: dest, to, fwd: Fwd::Masq });
        assert_eq!(conns.counts(c.service, dest), (0, 1));
        let t1 = SimTime::ZERO + SimDuration::from_secs(1);
        conns.get_in(&c.key).unwrap().update(t1, Dir::In, Some(TcpFlags::ACK));
        assert_eq!(conns.counts(c.service, dest), (0, 1), "an ACK from NONE closes");
        conns.get_in(&c.key).unwrap().state = Some(SR);
        conns.get_in(&c.key).unwrap().update(t1, Dir::In, Some(TcpFlags::ACK));
        assert_eq!(conns.counts(c.service, dest), (1, 0));
        let reply = conns.get_out(IpProtocol::Tcp, to, (c.key.caddr, c.key.cport));
        assert_eq!(reply.map(|r| r.key), Some(c.key));
        conns.expire(t1 + SimDuration::from_secs(899));
        assert_eq!(conns.iter().count(), 1);
        conns.expire(t1 + SimDuration::from_secs(900));
        assert_eq!(conns.iter().count(), 0);
        assert!(conns.get_out(IpProtocol::Tcp, to, (c.key.caddr, c.key.cport)).is_none());
    }
}
