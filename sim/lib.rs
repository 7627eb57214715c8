//! # swarmsim
//!
//! A deterministic discrete-event simulator of Docker Swarm cluster networking.
//!
//! Docker networking is a stack of Linux machinery few people can see: network namespaces,
//! Linux bridges, veth pairs, iptables chains, conntrack, an embedded DNS server, and in
//! swarm mode VXLAN tunnels, IPVS, gossip and Raft. swarmsim models each piece as a pure
//! state machine and advances all of them from one seeded event loop, so a lab that takes an
//! hour on real machines replays in a second, prints what the real tools print, and replays
//! byte for byte from its seed.
//!
//! ```text
//! scenario/   YAML → raw structs → validate() → typed Scenario (errors with file:line:col)
//!    │
//!    ▼
//! engine/     SimTime, the (time, seq) event queue, per-component ChaCha streams, limits
//!    │
//!    ▼
//! docker/     per host: the CLI, the daemon, libnetwork (bridge, host, null; IPAM; DNS)
//!    │        ── changes the kernel ONLY through KernelOps ──┐
//!    ▼                                                        ▼
//! kernel/     per host: netns, links (lo, veth, bridge, vxlan, macvlan, 802.1Q), addresses,
//!    │        routes, ARP, netfilter + conntrack, IPVS, sockets, and the tools (ping, curl, nc)
//! fabric/     the LAN between hosts and external machines
//! wire/       packets: Ethernet, ARP, IPv4, ICMP, UDP, TCP, DNS
//! proto/      sans-IO protocol machines (raft/: etcd raft as swarmkit configures it)
//! experiment/ runs outside scenarios that reproduce published figures (Raft elections)
//!    ▼
//! check/      invariants computed from packet walks (reachability, segmentation, uniqueness)
//! report/     transcript, report.md, report.html (topology, packet explorer), plots,
//!             summary.json, pcap
//! trace/      one probe followed hop by hop through the cluster (`swarmsim trace`)
//! ```
//!
//! Three ideas hold it together. Protocols and devices are sans-IO state machines: input
//! arrives with the current time, output goes into a list the caller owns, and nothing inside
//! reads a clock or a global RNG. Docker talks to the kernel through [`kernel::KernelOp`]s,
//! plain data that also renders as the `ip`/`iptables` commands a person would type. And a
//! packet's trip is a list of hops — namespace, device, rule, decision — from which the
//! transcript, the reachability checks and the reports are all built.

pub mod check;
pub mod docker;
pub mod engine;
pub mod experiment;
pub mod fabric;
pub mod kernel;
pub mod proto;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod trace;
pub mod wire;
