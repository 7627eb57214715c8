//! Sans-IO protocol machines. Each takes its input (a tick, a message, a proposal) and
//! pushes its output into a `Vec` the caller owns; none reads a clock or a global RNG.
//!
//! - [`networkdb`]: Docker's NetworkDB (libnetwork), the gossiped overlay tables.
//! - [`raft`]: Raft as etcd-io/raft implements it, configured as moby/swarmkit does.
//! - [`swim`]: SWIM with Lifeguard as hashicorp/memberlist implements it, configured as
//!   Docker's networkdb does.

pub mod networkdb;
pub mod raft;
pub mod swim;
