//! The `.scn` scenario language, its runner and the `ksim` command's
//! library: [`lang`] (parse and resolve), [`value`] (run-time values),
//! [`calls`] (the call catalog and its dispatch into `sim_kernel`),
//! [`runner`] (one execution: setup, actors, finally, check, teardown),
//! [`explore`] (the schedule search), [`chrome_trace`] (`--trace`),
//! [`progress`] (the explorer's progress bar and lines), [`limits`] (the
//! step and time limits, the argument ranges, SIGINT and SIGTERM),
//! [`reference`] (the book's tables of calls, builtins and constants,
//! generated from the catalog), [`verbs`] (the libibverbs-like layer of
//! the `ibv_*` calls).
pub mod calls;
pub mod chrome_trace;
pub mod cli;
pub mod eval;
pub mod explore;
pub mod lang;
pub mod limits;
pub mod native;
pub mod progress;
pub mod reference;
pub mod runner;
pub mod value;
pub mod verbs;
