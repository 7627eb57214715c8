//! Swarm mode: the manager (Raft-replicated cluster store, allocator, orchestrator,
//! scheduler, dispatcher) and the agent (sessions, heartbeats, task execution), as swarmkit
//! does it.
//!
//! Contract: the swarm side of a daemon is a sans-IO state machine. Commands arrive as
//! [`SwarmRequest`]s, messages from other nodes as [`SwarmMsg`]s, time as timer callbacks;
//! out come messages to other nodes' `addr:2377`, timers, and (on completion) what the CLI
//! prints. Randomness comes from the daemon's own stream.

pub mod agent;
pub mod allocator;
mod api;
pub mod attach;
pub mod daemon_side;
pub mod dispatcher;
pub mod ids;
pub mod keymanager;
pub mod manager;
pub mod msg;
mod netagent;
pub mod node;
pub mod orchestrator;
pub mod parse;
pub mod pretty;
pub mod ps;
pub mod render;
pub mod request;
pub mod scheduler;
pub mod store;
pub mod token;

pub use request::{ServiceChanges, ServiceRequest, SwarmRequest};
pub use store::Store;

/// What `docker node ls` and `node inspect` show that the store does not hold: which Raft
/// member leads, and which members the leader has heard from lately.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipView {
    pub leader: Option<u64>,
    /// Raft IDs of the members that are reachable (the leader always is).
    pub reachable: Vec<u64>,
}
