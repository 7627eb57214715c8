//! Experiments: runs of the protocol machines outside any scenario, reproducing a figure from
//! the literature. Each is deterministic per seed and writes its tables and plots to a
//! directory.
//!
//! - [`election`]: the Raft paper's leader-election figure (Ongaro & Ousterhout 2014,
//!   Figure 16), on [`crate::proto::raft::RaftNode`].
//! - [`swim`]: the SWIM paper's scalability claims (first-detection time and load per
//!   member against cluster size), on [`crate::proto::swim::Member`].
//! - [`lifeguard`]: the Lifeguard paper's false positives with slow members, each of its
//!   mechanisms on or off, on [`crate::proto::swim::Member`].
//! - [`networkdb`]: experiment 8b, how fast one table entry reaches a network's nodes,
//!   beside serf's convergence model, on [`crate::proto::networkdb::NetworkDb`].

pub mod election;
pub mod lifeguard;
pub mod networkdb;
mod plot;
pub mod swim;

/// Why an experiment could not write its results.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot draw {path}: {message}")]
    Plot { path: String, message: String },
}
