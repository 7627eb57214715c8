//! The Linux networking model of one host (sans-IO).

pub mod netfilter;
mod ops;

pub use ops::{KernelOp, NsRef};
