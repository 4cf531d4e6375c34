//! The `.scn` scenario language, its runner and the `ksim` command's
//! library: [`lang`] (parse and resolve), [`value`] (run-time values),
//! [`calls`] (the call catalog and its dispatch into `sim_kernel`),
//! [`runner`] (one execution: setup, actors, finally, check, teardown),
//! [`explore`] (the schedule search), [`chrome_trace`] (`--trace`),
//! [`progress`] (the explorer's progress bar and lines), [`limits`] (the
//! step and time limits, the argument ranges, SIGINT and SIGTERM),
//! [`reference`] (the book's tables of calls, builtins and constants,
//! generated from the catalog), [`loom_engine`] (`ksim explore --engine
//! loom`), [`verbs`] (the libibverbs-like layer of the `ibv_*` calls).
//!
//! Under `cfg(loom)` (`./loom.sh`) there is no executor: the crate is the
//! language, the call dispatch and the loom engine, and nothing that needs
//! the deterministic scheduler.
pub mod calls;
#[cfg(not(loom))]
pub mod chrome_trace;
#[cfg(not(loom))]
pub mod cli;
pub mod cuse_daemon;
pub mod eval;
#[cfg(not(loom))]
pub mod explore;
pub mod lang;
pub mod limits;
pub mod loom_engine;
#[cfg(not(loom))]
pub mod native;
#[cfg(not(loom))]
pub mod progress;
#[cfg(not(loom))]
pub mod reference;
#[cfg(not(loom))]
pub mod runner;
pub mod value;
pub mod verbs;
