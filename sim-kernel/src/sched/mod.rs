//! The scheduler: actors, scheduling points, named yield points, wait queues
//! and the virtual clock (analogous to Linux's `kernel/sched/` and
//! `kernel/sched/wait.c`, reduced to what a deterministic simulation needs).
//!
//! Every actor (a user thread or a kthread of a scenario) is a stackful
//! coroutine on one OS thread ([`exec::Executor`]); exactly one runs at a
//! time. It gives control back at *scheduling points*: syscall boundaries
//! ([`schedule_point`]), blocking ([`wait::WaitQueueHead`]), and the *named
//! yield points* that kernel paths declare inside their race windows
//! ([`yield_point`]). At each point the executor asks its [`exec::Chooser`]
//! which runnable actor goes next: a seeded RNG for `ksim run`, a recorded
//! schedule for `ksim replay`, the search for `ksim explore`.
//!
//! Outside the executor (loom models, plain std threads) yield points are
//! no-ops and blocking uses a condition variable, so the same kernel code
//! runs in all three runtimes. Under `cfg(loom)` only that second path
//! exists.
//!
//! Lock order: the executor's core state is a thread-local borrowed only for
//! the duration of one call and never across a switch; kernel locks may be
//! held across a switch (see [`crate::sync`]).

pub mod wait;

#[cfg(not(loom))]
pub mod choose;

#[cfg(not(loom))]
pub mod exec;

pub use exec_shim::WakeReason;
pub use wait::{PollTable, WaitQueueHead, WakeFn, WqGuard};

/// Index of an actor in its executor.
pub type ActorId = usize;

#[cfg(not(loom))]
pub use exec::{
    current, current_killed, current_site, in_sim, now_ns, park_on_lock, request_stop, schedule_point, set_site,
    sleep_ns, unpark_lock, yield_point,
};

#[cfg(loom)]
mod loom_shims {
    use super::ActorId;
    pub fn in_sim() -> bool {
        false
    }
    pub fn current() -> Option<ActorId> {
        None
    }
    pub fn yield_point(_name: &'static str) {}
    pub fn schedule_point() {}
    pub fn park_on_lock(_addr: usize) {}
    pub fn unpark_lock(_addr: usize) {}
    pub fn now_ns() -> u64 {
        0
    }
    pub fn sleep_ns(_ns: u64) {}
    pub fn set_site(_site: u32) {}
    pub fn current_site() -> u32 {
        0
    }
}
#[cfg(loom)]
pub use loom_shims::*;

/// What [`wait`] needs from the executor, in both runtimes.
mod exec_shim {
    #[cfg(not(loom))]
    pub use super::exec::{wake, WakeReason};

    #[cfg(loom)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum WakeReason {
        Woken,
        TimedOut,
        Killed,
    }
    #[cfg(loom)]
    pub fn wake(_actor: super::ActorId, _token: u64) -> bool {
        false
    }
}
