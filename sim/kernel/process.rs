//! Processes: the programs that use sockets — tools a person runs (`ping`, `curl`) and the
//! daemons in containers (nginx, redis, docker-proxy, the embedded DNS server).
//!
//! A process is a sans-IO state machine: it is started, then fed socket events and its own
//! timers, and acts only through `ProcCtx` (socket calls, timers, output, exit). The world
//! owns the clock and delivers the events.

use std::net::Ipv4Addr;

use crate::engine::{SimDuration, SimTime};
use crate::wire::UdpPayload;

use super::socket::{Pid, SockId, SocketError, SocketEvent};
use super::walk::Action;
use super::{Kernel, NsRef};

/// The resolver configuration a process sees (`/etc/resolv.conf` and `/etc/hosts`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvConf {
    pub nameservers: Vec<Ipv4Addr>,
    /// `/etc/hosts` entries: name → address.
    pub hosts: Vec<(String, Ipv4Addr)>,
}

/// A swarm service as the Docker API lists it (`GET /services`): what a container holding
/// the Docker socket (UCP's HTTP routing mesh) reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceListing {
    pub name: String,
    pub labels: Vec<(String, String)>,
    /// `Endpoint.VirtualIPs`, by network name.
    pub vips: Vec<(String, Ipv4Addr)>,
}

/// What processes ask of the Docker daemon of their node: the embedded DNS server the records
/// for a name in the asking container's scope (`None`: forward the query to the host's
/// resolvers), and API clients the swarm's services.
pub trait NameService {
    fn lookup(&self, container_id: &str, name: &str) -> Option<Vec<Ipv4Addr>>;

    /// `GET /services`: empty where the daemon cannot list them (not a swarm manager).
    fn services(&self) -> Vec<ServiceListing> {
        Vec::new()
    }
}

/// What a process may do, for the duration of one callback.
pub struct ProcCtx<'a> {
    pub now: SimTime,
    pub pid: Pid,
    pub ns: NsRef,
    pub kernel: &'a mut Kernel,
    pub actions: &'a mut Vec<Action>,
    pub stdout: &'a mut String,
    pub resolv: &'a ResolvConf,
    pub names: Option<&'a dyn NameService>,
    pub(crate) timers: &'a mut Vec<(SimTime, u64)>,
    pub(crate) exit: &'a mut Option<i32>,
}

impl ProcCtx<'_> {
    pub fn print(&mut self, text: &str) {
        self.stdout.push_str(text);
    }

    pub fn println(&mut self, text: &str) {
        self.stdout.push_str(text);
        self.stdout.push('\n');
    }

    /// Wakes the process with `on_timer(token)` after `delay`.
    pub fn set_timer(&mut self, delay: SimDuration, token: u64) {
        self.timers.push((self.now + delay, token));
    }

    pub fn exit(&mut self, code: i32) {
        *self.exit = Some(code);
    }

    pub fn tcp_connect(&mut self, dst: (Ipv4Addr, u16)) -> Result<SockId, SocketError> {
        self.kernel.tcp_connect(self.now, &self.ns, self.pid, dst, self.actions)
    }

    pub fn tcp_listen(&mut self, addr: Ipv4Addr, port: u16) -> Result<SockId, SocketError> {
        self.kernel.tcp_listen(&self.ns, self.pid, addr, port)
    }

    pub fn tcp_send(&mut self, sock: SockId, data: &[u8]) {
        self.kernel.tcp_send(self.now, &self.ns, sock, data, self.actions);
    }

    pub fn tcp_close(&mut self, sock: SockId) {
        self.kernel.tcp_close(self.now, &self.ns, sock, self.actions);
    }

    /// `getsockname()` on a TCP connection: the address and port it arrived on.
    pub fn tcp_local(&self, sock: SockId) -> Option<(Ipv4Addr, u16)> {
        Some(self.kernel.ns(&self.ns)?.sockets.tcp_addrs(sock)?.0)
    }

    pub fn udp_bind(&mut self, addr: Ipv4Addr, port: u16) -> Result<SockId, SocketError> {
        self.kernel.udp_bind(&self.ns, self.pid, addr, port)
    }

    pub fn udp_send(
        &mut self,
        sock: SockId,
        dst: (Ipv4Addr, u16),
        payload: UdpPayload,
    ) -> Result<u64, SocketError> {
        self.kernel.udp_send(self.now, &self.ns, sock, dst, payload, self.actions)
    }

    pub fn ping_open(&mut self, ident: u16) -> SockId {
        self.kernel.ping_open(&self.ns, self.pid, ident)
    }

    /// `setsockopt(IP_MTU_DISCOVER)` on a ping socket (`ping -M`).
    pub fn set_pmtudisc(&mut self, sock: SockId, mode: crate::kernel::PmtuDisc) {
        self.kernel.set_pmtudisc(&self.ns, sock, mode)
    }

    pub fn ping_send(
        &mut self,
        sock: SockId,
        dst: Ipv4Addr,
        seq: u16,
        size: usize,
    ) -> Result<u64, SocketError> {
        self.kernel.ping_send(self.now, &self.ns, sock, dst, seq, size, self.actions)
    }

    pub fn close(&mut self, sock: SockId) {
        self.kernel.close_socket(&self.ns, sock);
    }

    pub fn random(&mut self, below: u64) -> u64 {
        self.kernel.rng().range_u64(0, below)
    }
}

/// A simulated program.
pub trait Process {
    /// The name `ps` would show.
    fn name(&self) -> &str;
    fn on_start(&mut self, cx: &mut ProcCtx);
    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent);
    fn on_timer(&mut self, _cx: &mut ProcCtx, _token: u64) {}
    /// SIGINT (Ctrl-C): by default the process dies with status 130, as a shell reports.
    fn interrupt(&mut self, cx: &mut ProcCtx) {
        cx.exit(130);
    }
}
