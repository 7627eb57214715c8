//! The engine: simulated time, the event queue, seeded randomness and run limits.
//!
//! Contract: this is the only place where time advances. Events are ordered by
//! `(time, insertion sequence)`, so ties never depend on memory or hashing. Every component
//! draws randomness from its own ChaCha stream derived from `(root seed, stable id)`, so
//! adding a component never shifts another's random choices.

mod capture;
mod effects;
mod queue;
mod rng;
mod time;
mod world;

pub use capture::{
    banner, statistics, Capture, Filter, FilterError, TcpdumpArgs, TcpdumpArgsError, TcpdumpVersion,
};
pub use queue::{EventQueue, LimitExceeded, RunLimits};
pub use rng::{RngStream, Streams};
pub use time::{SimDuration, SimTime, EPOCH_UNIX_SECS};
pub use world::{world_packet_id, Event, Machine, Probe, ProcSlot, TracedFrame, TracedHop, World};
