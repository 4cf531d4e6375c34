//! The simulated hardware: a cycle-modelled InfiniBand HCA and fabric.
//!
//! This crate knows no kernel. A host reaches an [`hca::Hca`] only through
//! its driver interface (create QPs and CQs, register memory, post work, ring
//! doorbells, poll and arm CQs) and lends it a [`host::Host`] whenever
//! hardware events run: DMA into simulated host memory and MSI-X interrupts
//! are the only ways out. Time is simulated, in picoseconds, by a
//! discrete-event engine; every latency is composed from one calibration
//! table, [`profile::Profile`].
//!
//! Modules, one concern each:
//! - [`engine`]: the (time, sequence) event queue.
//! - [`profile`]: the calibration table (`cx4-edr`).
//! - [`host`]: the DMA and interrupt traits the host provides.
//! - [`pcie`]: the host link (doorbells, DMA reads and writes).
//! - [`packet`]: IB RC and UD packets and header sizes.
//! - [`mr`]: memory region translation and protection.
//! - [`qp`], [`cq`]: queue pair and completion queue state.
//! - [`modify_qp`]: the QP state table and MODIFY_QP.
//! - [`srq`]: shared receive queues.
//! - [`device`]: what QUERY_DEVICE and QUERY_PORT report.
//! - `destroy.rs`: destroying QPs and CQs, quiesced.
//! - [`hca`]: the HCA, its driver interface and shared pipeline stages;
//!   `req.rs`, `resp.rs`, `comp.rs`: the requester, responder and completer.
//! - [`fabric`]: links, the switch, credits, port faults, and the
//!   multi-HCA event loop.
//! - [`harness`]: HCAs on a fabric with test hosts, no kernel.
//! - [`perftest`]: ib_send_lat, ib_write_bw and an all-to-all, for the
//!   calibration, the tests and the bench.

pub mod cq;
pub mod device;
pub mod engine;
pub mod fabric;
pub mod harness;
pub mod hca;
pub mod host;
pub mod modify_qp;
pub mod mr;
pub mod packet;
pub mod pcie;
pub mod perftest;
pub mod profile;
pub mod qp;
pub mod srq;

mod comp;
mod destroy;
mod req;
mod resp;

pub use engine::{Ps, NS, US};
pub use profile::Profile;
