//! The Docker model of one host: the `docker` CLI, the daemon and libnetwork (bridge, host
//! and null drivers, IPAM, endpoints, sandboxes, the embedded DNS's records).
//!
//! Contract: [`Daemon`] is a sans-IO state machine. [`Daemon::start`] and
//! [`Daemon::handle`] return what the CLI prints and the [`KernelOp`]s Docker would issue,
//! in Docker's order; the caller applies the ops to the kernel model and runs the
//! [`Effect`]s (container processes, `docker-proxy`). Nothing here reads a clock or an
//! ambient RNG: time is handed in, randomness comes from the daemon's own stream.
//!
//! Fidelity target: Docker Engine 20.10.7 on Linux, iptables in legacy mode, userland proxy
//! on, IPv4 only. How each step maps to moby/libnetwork sources is written next to it:
//! `bridge.rs` (driver + iptables), `sandbox.rs` (namespaces, interfaces, DNS NAT),
//! `ipam.rs`, `cli.rs` (docker/cli parsing and error texts).
//!
//! ```text
//!  argv ─► cli::parse ─► Daemon::handle ─► network / container handlers
//!                                           │ ipam: subnet, address
//!                                           │ bridge: veth, bridge, iptables  ─► KernelOps
//!                                           │ sandbox: netns, ethN, routes, DNS NAT
//!                                           └ Effects: processes, docker-proxy
//! ```

pub mod apps;
mod bridge;
pub mod cli;
pub mod commands;
mod container;
mod daemon;
mod endpoint;
mod format;
pub mod gossip;
pub mod image;
mod info;
mod ingress;
mod inspect;
pub mod ipam;
mod iptables;
mod lb_sandbox;
mod macvlan;
mod names;
mod network;
mod overlay;
pub mod overlay_crypto;
pub mod overlay_keys;
pub mod render;
mod sandbox;
pub mod service_bind;
pub mod swarm;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

pub use cli::{check_command, CliError, CliErrorKind};
pub use container::{Container, ContainerState, PortSpec};
pub use daemon::Daemon;
pub use network::{Driver, Endpoint, Network};
pub use overlay::{PeerRecord, PEER_TABLE};
pub use sandbox::RESOLVER_IP;

use crate::kernel::{KernelOp, NsRef};

/// What dockerd needs to know about the host it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    pub hostname: String,
    /// The host's own interfaces (`eth0`, 10.0.2.15/24); IPAM avoids their subnets.
    pub interfaces: Vec<(String, Ipv4Net)>,
    /// The host's resolv.conf nameservers.
    pub nameservers: Vec<Ipv4Addr>,
    /// Linux or Windows: where swarm places which images.
    pub os: swarm::store::Os,
    /// `20.10.7`, as `docker version` and `docker node ls` show it.
    pub engine_version: String,
}

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// The result of one `docker …` command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerOutcome {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    /// Kernel changes, in the order Docker makes them.
    pub ops: Vec<KernelOp>,
    /// Processes to start or stop, after the ops are applied.
    pub effects: Vec<Effect>,
    /// A swarm call still running: its outcome comes later (`Daemon::take_done`).
    pub pending: Option<u64>,
}

impl DockerOutcome {
    fn out(stdout: impl Into<String>) -> Self {
        DockerOutcome { stdout: stdout.into(), ..Default::default() }
    }
    fn err(stderr: impl Into<String>, exit_code: i32) -> Self {
        DockerOutcome { stderr: stderr.into(), exit_code, ..Default::default() }
    }
}

/// Something the world must do besides applying kernel ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start a container's main process in its namespace.
    StartProcess {
        container_id: String,
        ns: NsRef,
        image: String,
        cmd: Vec<String>,
        env: Vec<(String, String)>,
        interactive: bool,
        /// `docker run` without `-d`: the terminal shows the process's output and waits
        /// for it to exit.
        attached: bool,
    },
    /// The container stopped: end every process it runs.
    StopProcesses {
        container_id: String,
    },
    /// `docker-proxy` (the userland proxy) for a published port.
    StartProxy {
        proto: Proto,
        host_ip: Ipv4Addr,
        host_port: u16,
        container_ip: Ipv4Addr,
        container_port: u16,
    },
    StopProxy {
        proto: Proto,
        host_ip: Ipv4Addr,
        host_port: u16,
    },
    /// `docker exec [-it] C CMD…`.
    Exec {
        container_id: String,
        ns: NsRef,
        image: String,
        cmd: Vec<String>,
        interactive: bool,
    },
}
