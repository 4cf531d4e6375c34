//! Loom models of the kernel's race windows, and the same kernel code on
//! plain OS threads (the book's architecture chapter: "One kernel, three
//! runtimes").
//!
//! Under `cfg(loom)`, `sim_kernel::sync` hands the kernel loom's mutexes,
//! condition variables and atomics, and loom runs each model once per
//! interleaving of those operations (up to a preemption bound). The actors
//! are loom threads calling the real syscalls (`sim_kernel::syscall`) and
//! kernel-internal entry points; there is no executor, so the kernel's named
//! yield points are no-ops and a blocking call sleeps on its wait queue's
//! condition variable. A lost wake-up shows up as a loom deadlock, a broken
//! invariant as a failed assertion in some interleaving.
//!
//! Run them with the one documented command (release mode, its own target
//! directory so the `--cfg loom` build does not evict the normal one):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p loom-tests --profile test-release
//! ```
//!
//! (`--test pipe` and so on for one file.) `LOOM_MAX_PREEMPTIONS` bounds
//! the preemptions per execution (default 3 here, 2 in CI: `test.sh`;
//! unset it and set `LOOM_NO_PREEMPTION_BOUND=1` for no bound, see
//! `builder`); `-- --nocapture` shows each model's execution count and time
//! and, for models that check that several outcomes are all reached, the
//! outcome set (`outcomes NAME: {...}`, see [`Reached`]).
//!
//! One file per kernel object. Each model asserts the invariant the Linux
//! fix established, on the kernel's own code; each re-introducible bug of
//! the object (`sim_kernel::bugs`) has a `*_bug_is_found` model that runs
//! the same code with the bug on and asserts that loom reached the failure.
//!
//! `tests/eventfd.rs` (`fs/eventfd.c`):
//! - two writers `write(fd, 1)` against a blocking reader that reads until
//!   it has consumed 2: no increment is lost or counted twice, and a blocked
//!   reader is always woken (else loom reports a deadlock);
//! - `eventfd_signal(ctx, 1)` against a non-blocking `read`: the read returns
//!   1 or EAGAIN and the final count agrees with it (both outcomes reached);
//! - `eventfd_ctx_remove_wait_queue` on an EFD_SEMAPHORE eventfd against a
//!   write of 1: the count never becomes ULLONG_MAX; and with the bug
//!   `eventfd_semaphore_underflow` enabled, loom finds an interleaving where
//!   it does (the model asserts that the bug is found);
//! - close against a blocked read, with the wake-up from an in-kernel
//!   `eventfd_signal`: the reader keeps its file reference across the close
//!   and returns 1 (or, if the close won the fd lookup, EBADF); no
//!   use-after-free is reported;
//! - `eventfd_signal` and `eventfd_ctx_put` through a context reference
//!   against the last close: the context outlives the file and the last
//!   put frees it; with `eventfd_ctx_freed_with_file` loom must find the
//!   signal touching the freed context.
//!
//! `tests/pipe.rs` (`fs/pipe.c`): a write against a blocking read of an
//! empty pipe (no lost wake-up) and two PIPE_BUF writes against one
//! reader (whole, in either order); a write of a page and a byte through a
//! one-slot pipe against the reader draining it (the writer blocked on the
//! full pipe is woken; every byte once, in order); two readers blocked on
//! an empty pipe against the last writer's close (both wake with end of
//! file: Linux 6551d5c56eb0); a write, and a partial blocking write,
//! against the last reader's close (EPIPE or the bytes queued, with the
//! process's SIGPIPE count); F_SETPIPE_SZ growing the ring under a blocked
//! writer (woken) and shrinking it against a write (EBUSY or a partial
//! write, FIONREAD agreeing); close of the read fd against a blocked read
//! (the reader keeps the read end: data, or EBADF and then EPIPE). Every
//! model ends with the pipe freed and nothing reported.
//!
//! `tests/watch_queue.rs` (`kernel/watch_queue.c`, notification pipes; the
//! windows of `book/src/pipes.md`, the `race_wqueue_*.scn` scenarios): a
//! kernel post against a blocked read (`pipe:read:after_head`: one note or
//! both, never lost), a post against IOC_WATCH_QUEUE_SET_SIZE (queued or
//! lost, nothing half-done), a post against the pipe's last close (no use
//! of the freed pipe; with `watch_queue_post_vs_clear` loom must find it),
//! `watch_add` against the close (0, EINVAL or ENOENT, no watch left),
//! `watch_remove` against the source's destruction (exactly one removal
//! note), IOC_WATCH_QUEUE_SET_FILTER against a post (with
//! `watch_queue_filter_oob`, CVE-2022-0995, the KASAN report must be
//! found). Every model ends with the queue's objects freed.
//!
//! `tests/fdtable.rs` (`fs/file.c`): close against close, close against
//! dup2 onto the same fd, `alloc_fd` + `fd_install` of a new file against
//! close and against dup2 onto the reserved fd (EBUSY), lowest-free
//! allocation and EMFILE at RLIMIT_NOFILE under concurrency; every model
//! accounts for every file reference (only the console file left, no
//! report); with `eventfd_install_before_init` loom must find the close that
//! frees the half-made file (a write checked as a write: see its docs).
//!
//! `tests/userfaultfd.rs` (`fs/userfaultfd.c`, `mm/userfaultfd.c`; the
//! `race_uffd_*.scn` scenarios): a fault (`user_load`) against
//! UFFDIO_COPY, ZEROPAGE, WAKE without resolving (the fault comes back),
//! munmap, two COPYs (one EEXIST), COPY against UNREGISTER, UNREGISTER
//! against the fault (including Linux 6.18's missed fault, left asleep
//! until the release), a UFFD_FEATURE_SIGBUS fault against the release,
//! and two racing UFFDIO_API calls (one wins; with `uffd_api_init_race`
//! loom must find both winning). No fault is ever left asleep with nothing
//! to wake it (a loom deadlock), and the context is freed.
//!
//! `tests/poll.rs` (`fs/select.c`): a blocking poll against the write, the
//! read or the last close that makes the file ready (eventfd POLLIN, a
//! pipe's POLLOUT and POLLHUP), two pollers against one write (both
//! woken), a timed poll against a write (readable or timed out, both
//! reached). A poll outside the executor sleeps on the wait queues its
//! file's `->poll` named (`sched::wait::PollWaiter`), so a wake-up lost
//! between the poll's check and its sleep is a loom deadlock.
//!
//! `tests/mailbox.rs` (the book's tutorial mailbox,
//! `sim_kernel::tutorial::mailbox`; chapter "Modelling your own kernel
//! code"): a blocking read against a kernel post (the reader always gets
//! the value; with the tutorial toggle `tutorial_mailbox_lost_wakeup` loom
//! must find the deadlock, which it reports by aborting, so that model runs
//! in a child process), and the last close against a post and put (0 or
//! EPIPE, freed once, nothing reported).
//!
//! `tests/rwsem.rs` (`sim_kernel::sync::RwSemaphore`, Linux's
//! `rw_semaphore`, uverbs' per-object lock): two readers and a writer (no
//! reader sees a half-done write, no update is lost, nobody waits for
//! ever), and `down_read_trylock` against a writer (in before, after, or
//! refused; never blocked).
//!
//! `tests/uverbs.rs` (`drivers/infiniband/core/uverbs_cmd.c`; the
//! `uverbs_*_race.scn` and `uverbs_lookup_vs_destroy.scn` scenarios):
//! GET_CONTEXT against GET_CONTEXT on one fd (exactly one wins, one async
//! fd), and REG_MR's PD lookup against DEALLOC_PD (MR made and PD busy, or
//! PD gone and lookup EINVAL; both reached), each ending with nothing
//! leaked or reported.
//!
//! No model is ignored.
//!
//! Two kernel bugs loom found, with no bug toggle on, and that are fixed:
//! `userfaultfd::munmap_vs_fault_bound_3` (at a preemption bound of 3,
//! `vma_write_wait` returned with no fault in the window but without
//! marking the VMAs write-locked, a fault got in before munmap's change,
//! and munmap unmapped under it: the fault slept for ever; the VMAs now
//! stay write-locked until the writer's change is done) and
//! `userfaultfd::unregister_vs_fault_linux_invariant` (a fault UNREGISTER
//! woke faulted again before the clearing and slept; a retried fault now
//! takes `mmap_read_lock`, which UNREGISTER holds for writing until its
//! clearing, as on Linux).
//!
//! Two things loom could not see, now fixed: poll outside the executor
//! re-polled in a loop rather than sleeping on the wait queues (it now
//! sleeps on them, and `tests/poll.rs` checks the registration), and
//! `pipe_write` left its SIGPIPE in a `thread_local!` that all loom threads
//! share (it now sends it to the writing task, and
//! `pipe::sigpipe_goes_to_each_writer` checks two writers at once). And loom's preemption-bounded DPOR is not
//! complete: a bug model that passes says loom found the bug at the bound
//! CI uses; where it needs an arrangement of the threads to do so, the
//! model says so.
//!
//! `tests/scenario_models.rs` models two shipped scenarios statement for
//! statement (`close_vs_signal.scn`, `eventfd2_03_semaphore_pingpong.scn`)
//! and prints the outcome set each reaches, so the benchmark suite
//! (`bench/`) can time loom against `ksim explore` on the same race.
//!
//! `tests/std_threads.rs` (compiled only without `cfg(loom)`) runs the same
//! eventfd code on real OS threads: many writers against one reader, and a
//! reader blocked on one thread woken from another.

use sim_kernel::bugs::BugSet;
use sim_kernel::sync::Arc;
use sim_kernel::vfs::file::IoctlArg;
use sim_kernel::{Kernel, Task};
use std::collections::BTreeSet;

/// A kernel with `bugs` enabled, one process (fds 0-2 open, so the first
/// new fd is 3) and one task of it. Clone the task to give each thread its
/// own caller.
pub fn setup(bugs: BugSet) -> (Arc<Kernel>, Task) {
    Task::single(bugs)
}

/// Decode what a successful eventfd read returned.
pub fn read_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("an eventfd read returns 8 bytes"))
}

/// The end of a writers-and-readers model: every increment of eventfd `fd`
/// was consumed (count 0), and closing it frees the context with nothing
/// reported (no leak, use-after-free or double free).
pub fn assert_drained_and_freed(k: &Kernel, t: &Task, fd: i64) {
    use sim_kernel::eventfd::{eventfd_ctx_fdget, eventfd_ctx_put};
    let ctx = eventfd_ctx_fdget(t, fd).unwrap();
    assert_eq!(ctx.count(), 0);
    eventfd_ctx_put(&ctx);
    sim_kernel::syscall::sys_close(t, fd).unwrap();
    assert!(ctx.hdr.is_released());
    assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
}

/// The model builder: `LOOM_MAX_PREEMPTIONS` (default 3) bounds the
/// preemptions per execution; the other `LOOM_*` variables keep loom's
/// meaning.
#[cfg(loom)]
pub fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    // `LOOM_NO_PREEMPTION_BOUND=1` (with LOOM_MAX_PREEMPTIONS unset): no
    // bound, a complete search.
    let unbounded = std::env::var_os("LOOM_NO_PREEMPTION_BOUND").is_some();
    b.preemption_bound = match std::env::var("LOOM_MAX_PREEMPTIONS").ok() {
        None if unbounded => None,
        v => Some(v.and_then(|s| s.parse().ok()).unwrap_or(3)),
    };
    b
}

/// Run `f` under loom for every interleaving (see [`builder`]); print and
/// return the number of executions.
#[cfg(loom)]
pub fn model(name: &str, f: impl Fn() + Sync + Send + 'static) -> usize {
    model_with(name, builder(), f)
}

/// [`model`] with a preemption bound of at least `min` (for a model whose
/// interleaving of interest needs more preemptions than CI's bound).
#[cfg(loom)]
pub fn model_min_bound(name: &str, min: usize, f: impl Fn() + Sync + Send + 'static) -> usize {
    let mut b = builder();
    b.preemption_bound = b.preemption_bound.map(|n| n.max(min));
    model_with(name, b, f)
}

#[cfg(loom)]
fn model_with(name: &str, b: loom::model::Builder, f: impl Fn() + Sync + Send + 'static) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let bound = b.preemption_bound;
    let start = std::time::Instant::now();
    b.check(move || {
        r.fetch_add(1, Ordering::Relaxed);
        f();
    });
    let n = runs.load(Ordering::Relaxed);
    println!("loom model {name}: {n} executions in {:.2?} (preemption bound {bound:?})", start.elapsed());
    n
}

/// An ioctl argument made of named fields (`api=.., features=..`), as a
/// scenario's `ioctl(u, UFFDIO_API, api=UFFD_API, features=0)` passes it.
pub fn fields(f: &[(&'static str, u64)]) -> IoctlArg<'static> {
    IoctlArg { int: None, fields: f.iter().map(|&(n, v)| (n.into(), v)).collect() }
}

/// An ioctl argument that is a plain integer.
pub fn int_arg(v: u64) -> IoctlArg<'static> {
    IoctlArg { int: Some(v), fields: Default::default() }
}

/// Nothing reported (no leak check: see [`live`]), with the reports in the
/// message otherwise.
pub fn assert_no_reports(k: &Kernel) {
    assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
}

/// How many objects of type `ty` (`"pipe_inode_info"`, `"watch"`, ...) are
/// still live: after a model's teardown, anything but 0 is a leak.
pub fn live(k: &Kernel, ty: &str) -> usize {
    k.objs.live().iter().filter(|(_, r)| r.ty == ty).count()
}

/// The outcomes a model's interleavings reached, by name: bookkeeping of
/// the test harness, outside the model (loom does not see it, so it uses
/// std's lock). A model marks what each execution saw; after `model`
/// returns, [`Reached::assert_all`] checks that every expected outcome was
/// reached in some interleaving (an `exists` of the scenario language).
pub struct Reached(#[allow(clippy::disallowed_types)] std::sync::Mutex<BTreeSet<&'static str>>);

impl Reached {
    #[allow(clippy::disallowed_types)]
    pub const fn new() -> Self {
        Reached(std::sync::Mutex::new(BTreeSet::new()))
    }

    pub fn mark(&self, outcome: &'static str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(outcome);
    }

    pub fn has(&self, outcome: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(outcome)
    }

    /// Print the outcomes reached and check that each of `want` is one.
    pub fn assert_all(&self, model: &str, want: &[&str]) {
        let got = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        println!("outcomes {model}: {got:?}");
        for w in want {
            assert!(got.contains(w), "{model}: no interleaving reached `{w}` (reached: {got:?})");
        }
    }
}

impl Default for Reached {
    fn default() -> Self {
        Reached::new()
    }
}
