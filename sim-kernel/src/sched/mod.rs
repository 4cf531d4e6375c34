//! The scheduler: actors, scheduling points, named yield points, wait queues
//! and the virtual clock (analogous to Linux's `kernel/sched/` and
//! `kernel/sched/wait.c`, reduced to what a deterministic simulation needs).
//!
//! Every actor (a user thread or a kthread of a scenario) is a stackful
//! coroutine on one OS thread ([`exec::Executor`]); exactly one runs at a
//! time. It gives control back at *scheduling points*: syscall boundaries
//! ([`schedule_point`]), blocking ([`wait::WaitQueueHead`]), and the *named
//! yield points* that kernel paths declare inside their race windows
//! ([`yield_point`]); at lock granularity ([`Granularity::Lock`]) also every
//! lock acquisition and release, refcount read-modify-write and wake-up
//! ([`fine_point`]). At each point the executor asks its [`exec::Chooser`]
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

pub use wait::{PollTable, WaitQueueHead, WakeFn, WqGuard};

/// Why a blocked actor was made runnable again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeReason {
    /// A wake-up on a wait queue it was on.
    Woken,
    /// Its deadline passed on the virtual clock.
    TimedOut,
    /// Teardown killed it (a fatal signal: interruptible sleeps return).
    Killed,
}

/// What an actor is blocked on, for deadlock reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedOn {
    /// The wait queue's name (`"eventfd_ctx.wqh"`, `"lock"`, `"sleep"`).
    pub what: &'static str,
    /// The owning kernel object's id in the object table, 0 if none.
    pub obj: u64,
}

/// How finely the executor interleaves actors (`ksim --granularity`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// Scheduling points at syscall boundaries, blocking, and named yield
    /// points only.
    #[default]
    Call,
    /// Also every lock acquisition ([`crate::sync::Mutex::lock`]) and
    /// release, every read-modify-write of a kernel refcount, and every
    /// wake-up that woke a task ([`fine_point`]): where Linux can be
    /// preempted or another CPU can run.
    Lock,
}

impl Granularity {
    /// `call` or `lock`, as the command line and `config granularity=`
    /// spell it.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Call => "call",
            Granularity::Lock => "lock",
        }
    }

    pub fn parse(s: &str) -> Option<Granularity> {
        match s {
            "call" => Some(Granularity::Call),
            "lock" => Some(Granularity::Lock),
            _ => None,
        }
    }
}

/// Index of an actor in its executor.
pub type ActorId = usize;

pub use exec::{
    current, current_killed, current_site, fine_grained, fine_point, in_sim, now_ns, park_on_lock, request_stop,
    schedule_point, set_site, sleep_ns, spin_point, unpark_lock, yield_point,
};

/// Under `cfg(loom)` there is no executor: this module stands in for the
/// executor module with the same names, as a kernel running outside
/// any executor sees them ([`in_sim`] is always false). Yield points are
/// no-ops, blocking takes the condition-variable path of [`wait`], and the
/// executor-only entry points (`prepare_block`, `block`, `poll_block`) sit
/// behind `in_sim()` checks, so they are never reached.
#[cfg(loom)]
pub mod exec {
    use super::ActorId;

    pub use super::{BlockedOn, WakeReason};

    const NO_EXECUTOR: &str = "no executor under loom: callers check in_sim(), which is false";

    pub fn in_sim() -> bool {
        false
    }
    pub fn current() -> Option<ActorId> {
        None
    }
    pub fn current_killed() -> bool {
        false
    }
    pub fn request_stop() {}
    pub fn yield_point(_name: &'static str) {}
    #[inline(always)]
    pub fn fine_grained() -> bool {
        false
    }
    #[inline(always)]
    pub fn fine_point(_label: &'static str) {}
    /// A busy-wait retry (Linux's `cpu_relax()`): under loom a yield, so
    /// that loom runs the thread the spinner waits for instead of
    /// exploring the spin (once the preemption bound is spent, a thread
    /// that spins with no loom-visible yield is never switched away from).
    pub fn spin_point(_label: &'static str) {
        loom::thread::yield_now();
    }
    pub fn schedule_point() {}
    pub fn park_on_lock(_addr: usize) {}
    pub fn unpark_lock(_addr: usize) {}
    /// loom has no time: the clock stands still (a timed wait is a wait
    /// that may return early, see [`crate::sync::Condvar`]).
    pub fn now_ns() -> u64 {
        0
    }
    pub fn sleep_ns(_ns: u64) {}
    pub fn set_site(_site: u32) {}
    pub fn current_site() -> u32 {
        0
    }
    pub fn prepare_block() -> u64 {
        unreachable!("{NO_EXECUTOR}")
    }
    pub fn block(_token: u64, _on: BlockedOn, _deadline: Option<u64>) -> WakeReason {
        unreachable!("{NO_EXECUTOR}")
    }
    pub fn poll_block(_token: u64, _obj: u64, _deadline: Option<u64>) -> WakeReason {
        unreachable!("{NO_EXECUTOR}")
    }
    /// Wait queues hold task entries only inside the executor.
    pub fn wake(_actor: ActorId, _token: u64) -> bool {
        false
    }
}

/// Back off between two polls of a file when poll(2) has no task to sleep
/// (on an executor's thread but outside its actors; a task sleeps on its
/// [`PollTable`] instead): 50 us of real time on std threads; a yield
/// under loom.
pub fn poll_backoff() {
    #[cfg(not(loom))]
    std::thread::sleep(std::time::Duration::from_micros(50));
    #[cfg(loom)]
    loom::thread::yield_now();
}
