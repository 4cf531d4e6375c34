//! The simulated hardware: a cycle-modelled InfiniBand HCA and fabric.
//!
//! This crate knows no kernel. Time is simulated, in picoseconds, by a
//! discrete-event engine; every latency is composed from one calibration
//! table, [`profile::Profile`].
//!
//! Modules, one concern each:
//! - [`engine`]: the (time, sequence) event queue.
//! - [`profile`]: the calibration table (`cx4-edr`).
//! - [`host`]: the DMA and interrupt traits the host provides.
//! - [`pcie`]: the host link (doorbells, DMA reads and writes).
//! - [`packet`]: IB RC packets and header sizes.
//! - [`mr`]: memory region translation and protection.

pub mod engine;
pub mod host;
pub mod mr;
pub mod packet;
pub mod pcie;
pub mod profile;

pub use engine::{Ps, NS, US};
pub use profile::Profile;
