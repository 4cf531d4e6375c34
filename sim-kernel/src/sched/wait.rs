//! Wait queues (analogous to Linux's `wait_queue_head_t`,
//! `kernel/sched/wait.c`, `include/linux/wait.h`).
//!
//! A [`WaitQueueHead`] is a lock plus the data it protects plus the list of
//! waiters, so that, as in Linux's eventfd (`ctx->wqh.lock` protects
//! `ctx->count`), a condition is checked and a waiter queued under one lock.
//! Entries are either sleeping tasks or in-kernel wake functions (what KVM's
//! irqfd registers on an eventfd).
//!
//! Every wake-up is non-exclusive: it wakes *all* sleeping tasks, which
//! re-check their condition (Linux's `wake_up_locked_poll` on eventfd; pipes
//! since "pipe: make sure to wake up everybody when the last reader/writer
//! closes"). Wake functions are called with the key, under the lock, and
//! stay queued until removed.
//!
//! Runtimes: inside the deterministic executor a sleeping task is an actor
//! parked in the scheduler with a token; outside it (std threads, loom) the
//! head carries a condition variable.

use super::ActorId;
use crate::errno::{Errno, KResult};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::ops::{Deref, DerefMut};

pub use super::exec::WakeReason;

/// An in-kernel waiter's wake function (Linux's `wait_queue_func_t`).
pub trait WakeFn: Send + Sync {
    /// Called with the poll key (`POLLIN`, `POLLHUP`, ...) under the queue's
    /// lock.
    fn wake(&self, key: u32);
}

enum Entry {
    Task {
        actor: ActorId,
        token: u64,
    },
    Func(Arc<dyn WakeFn>),
    /// A poll(2) caller outside the executor (`pollwake`'s entry).
    Poll(Arc<PollWaiter>),
}

/// The locked part of a wait queue head: the protected data and the
/// waiters.
pub struct Locked<T> {
    pub data: T,
    /// The queued entries; allocated at the first wait and kept (an idle
    /// queue costs one pointer, not a Vec's three words: memory per
    /// eventfd, issue 7).
    #[allow(clippy::box_collection)]
    entries: Option<Box<Vec<Entry>>>,
    /// Tasks asleep on the head's condition variable (outside the
    /// executor): they count as queued, as a sleeping task is on the list
    /// in Linux, so that [`WqGuard::has_waiters`] sees them and a wake-up
    /// reaches them.
    cv_sleepers: u32,
}

impl<T> Locked<T> {
    fn entries(&self) -> &[Entry] {
        self.entries.as_deref().map_or(&[], Vec::as_slice)
    }

    fn entries_mut(&mut self) -> &mut Vec<Entry> {
        self.entries.get_or_insert_with(Default::default)
    }
}

/// A wait queue head with the data its lock protects.
pub struct WaitQueueHead<T> {
    lock: Mutex<Locked<T>>,
    cv: Condvar,
    /// Shown in deadlock reports: `"eventfd_ctx.wqh"`.
    name: &'static str,
    /// The owning object's id in the object table (0: none), for reports.
    owner: u64,
}

/// The queue's lock, held. Derefs to the protected data.
pub struct WqGuard<'a, T> {
    g: MutexGuard<'a, Locked<T>>,
    head: &'a WaitQueueHead<T>,
}

impl<T> Deref for WqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.g.data
    }
}

impl<T> DerefMut for WqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.g.data
    }
}

impl<T> WaitQueueHead<T> {
    pub fn new(name: &'static str, owner: u64, data: T) -> Self {
        WaitQueueHead {
            lock: Mutex::new(Locked { data, entries: None, cv_sleepers: 0 }),
            cv: Condvar::new(),
            name,
            owner,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn owner(&self) -> u64 {
        self.owner
    }

    /// `spin_lock(&wqh.lock)`.
    #[inline(always)]
    pub fn lock(&self) -> WqGuard<'_, T> {
        if super::fine_grained() {
            self.lock_key();
        }
        WqGuard { g: self.lock.lock(), head: self }
    }

    /// Lock granularity: the acquisition is a write to the lock, keyed by
    /// the owner (see `exec::lock_point`), also where the caller reported
    /// nothing just before. Out of line, off the call-granularity path.
    #[cold]
    #[inline(never)]
    fn lock_key(&self) {
        crate::footprint::access(self.owner, true);
    }

    /// `wake_up_poll(wqh, key)`: take the lock and wake every waiter.
    pub fn wake_up(&self, key: u32) {
        self.lock().wake_up_locked(key);
    }

    /// Sleep until `cond` returns `Some` (Linux's
    /// `wait_event_interruptible_locked`): `cond` runs with the lock held; on
    /// `None` the caller is queued, the lock dropped, and after a wake-up
    /// the lock is retaken and `cond` runs again. Returns `EINTR` if the
    /// actor is killed (teardown) while asleep.
    pub fn wait_locked<'a, R>(
        &'a self,
        mut g: WqGuard<'a, T>,
        mut cond: impl FnMut(&mut WqGuard<'a, T>) -> Option<R>,
    ) -> KResult<(R, WqGuard<'a, T>)> {
        loop {
            if let Some(r) = cond(&mut g) {
                return Ok((r, g));
            }
            g = self.sleep(g, None)?.1;
        }
    }

    /// Queue the current task, drop the lock, sleep until woken (or the
    /// virtual-clock `deadline`), retake the lock.
    pub fn sleep<'a>(&'a self, mut g: WqGuard<'a, T>, deadline: Option<u64>) -> KResult<(WakeReason, WqGuard<'a, T>)> {
        if super::in_sim() {
            let token = super::exec::prepare_block();
            let actor = super::current().expect("sleep inside an actor");
            g.add_task(actor, token);
            // No point between the unlock and the block: the block is one.
            crate::sync::unlock_before_block(g.g);
            let why = super::exec::block(token, super::exec::BlockedOn { what: self.name, obj: self.owner }, deadline);
            if why == WakeReason::Killed {
                return Err(Errno::EINTR);
            }
            // The re-check after a wake-up touches the owner's state.
            crate::footprint::access(self.owner, true);
            Ok((why, self.lock()))
        } else {
            let WqGuard { mut g, head } = g;
            g.cv_sleepers += 1;
            let mut g = match deadline {
                None => self.cv.wait(g),
                Some(d) => self.cv.wait_timeout_ns(g, d.saturating_sub(super::now_ns())),
            };
            g.cv_sleepers -= 1;
            Ok((WakeReason::Woken, WqGuard { g, head }))
        }
    }
}

impl<T> WqGuard<'_, T> {
    /// `wake_up_locked_poll(wqh, key)`: wake every sleeping task (they
    /// re-check) and call every wake function with `key`.
    pub fn wake_up_locked(&mut self, key: u32) {
        let mut i = 0;
        let Some(entries) = self.g.entries.as_deref_mut() else {
            if self.g.cv_sleepers != 0 {
                self.head.cv.notify_all();
            }
            return;
        };
        let mut woke = false;
        while i < entries.len() {
            match &entries[i] {
                Entry::Task { actor, token } => {
                    woke |= super::exec::wake(*actor, *token);
                    entries.swap_remove(i);
                }
                Entry::Func(f) => {
                    f.wake(key);
                    i += 1;
                }
                Entry::Poll(w) => {
                    w.trigger();
                    entries.swap_remove(i);
                }
            }
        }
        if self.g.cv_sleepers != 0 {
            self.head.cv.notify_all();
        }
        if woke {
            // Lock granularity: the woken task may run now (on another CPU,
            // or preempting the waker), with the lock still held here.
            super::fine_point("wake");
        }
    }

    /// `waitqueue_active()`: anything queued.
    pub fn has_waiters(&self) -> bool {
        !self.g.entries().is_empty() || self.g.cv_sleepers != 0
    }

    /// Queue an in-kernel wake function (`add_wait_queue`).
    pub fn add_func(&mut self, f: Arc<dyn WakeFn>) {
        self.g.entries_mut().push(Entry::Func(f));
    }

    /// Remove a wake function queued with [`Self::add_func`]
    /// (`__remove_wait_queue`); false if it was not queued.
    pub fn remove_func(&mut self, f: &Arc<dyn WakeFn>) -> bool {
        let target = Arc::as_ptr(f) as *const () as usize;
        if let Some(i) = self
            .g
            .entries()
            .iter()
            .position(|e| matches!(e, Entry::Func(x) if Arc::as_ptr(x) as *const () as usize == target))
        {
            self.g.entries_mut().remove(i);
            true
        } else {
            false
        }
    }

    /// Number of queued wake functions (for invariant checks).
    pub fn func_count(&self) -> usize {
        self.g.entries().iter().filter(|e| matches!(e, Entry::Func(_))).count()
    }

    fn add_task(&mut self, actor: ActorId, token: u64) {
        // Drop this actor's stale entries from earlier waits (a poll that
        // timed out leaves one behind).
        let entries = self.g.entries_mut();
        entries.retain(|e| !matches!(e, Entry::Task { actor: a, .. } if *a == actor));
        entries.push(Entry::Task { actor, token });
    }
}

/// What `->poll` receives (Linux's `poll_table`): when present, the file's
/// poll queues the caller on each wait queue it names, so that a later
/// wake-up on any of them re-runs the poll.
///
/// Inside the executor the entry is the actor's wake token. Outside it
/// (std threads, loom) it is a [`PollWaiter`] shared by every queue the
/// poll named, as `struct poll_wqueues` is in `fs/select.c`: a wake-up on
/// any of them sets its `triggered` flag (`pollwake`), the caller sleeps
/// until the flag is set (`poll_schedule_timeout`), and dropping the table
/// takes the entries off the queues (`poll_freewait`).
pub struct PollTable {
    token: Option<(ActorId, u64)>,
    queued: usize,
    waiter: Option<Arc<PollWaiter>>,
    /// The queues the waiter was added to, for `poll_freewait`: each one's
    /// address and the function that removes the waiter from it.
    regs: Vec<(*const (), RemovePoll)>,
}

/// Takes a [`PollWaiter`] off the wait queue at an address (see
/// [`remove_poll`]).
type RemovePoll = unsafe fn(*const (), &Arc<PollWaiter>);

impl PollTable {
    /// A table for the current task: an actor's token inside the
    /// executor, a [`PollWaiter`] outside it.
    pub fn for_current() -> PollTable {
        if super::in_sim() {
            let token = super::current().map(|a| (a, super::exec::prepare_block()));
            PollTable { token, queued: 0, waiter: None, regs: Vec::new() }
        } else {
            PollTable { token: None, queued: 0, waiter: Some(Arc::new(PollWaiter::default())), regs: Vec::new() }
        }
    }

    /// `poll_wait(file, wqh, pt)`.
    ///
    /// The caller must keep the file whose `->poll` named `wq` (and with it
    /// `wq`) alive until the table is dropped, as `do_poll`'s reference to
    /// the file does in Linux (`entry->wait_address` is a plain pointer
    /// too).
    pub fn wait<T>(&mut self, wq: &WaitQueueHead<T>) {
        if let Some((actor, token)) = self.token {
            wq.lock().add_task(actor, token);
            self.queued += 1;
        } else if let Some(w) = &self.waiter {
            wq.lock().g.entries_mut().push(Entry::Poll(w.clone()));
            self.regs.push((wq as *const WaitQueueHead<T> as *const (), remove_poll::<T>));
        }
    }

    pub(crate) fn token(&self) -> Option<u64> {
        self.token.map(|t| t.1)
    }

    /// Outside the executor: sleep until a queue the poll named is woken,
    /// or until `deadline` (on [`super::now_ns`]'s clock); whether it was
    /// woken. `None` inside the executor (the caller parks the actor).
    pub fn sleep(&self, deadline: Option<u64>) -> Option<WakeReason> {
        Some(self.waiter.as_ref()?.sleep(deadline))
    }
}

impl Drop for PollTable {
    /// `poll_freewait`: off every queue it was added to.
    fn drop(&mut self) {
        if let Some(w) = &self.waiter {
            for (wq, remove) in self.regs.drain(..) {
                // SAFETY: `wait`'s contract: the queue outlives the table.
                unsafe { remove(wq, w) };
            }
        }
    }
}

/// Take `w` off the queue at `wq` (a `WaitQueueHead<T>`).
///
/// # Safety
/// `wq` points to a live `WaitQueueHead<T>`.
unsafe fn remove_poll<T>(wq: *const (), w: &Arc<PollWaiter>) {
    // SAFETY: the caller's.
    let wq = unsafe { &*(wq as *const WaitQueueHead<T>) };
    let mut g = wq.lock();
    if let Some(entries) = g.g.entries.as_deref_mut() {
        entries.retain(|e| !matches!(e, Entry::Poll(x) if Arc::ptr_eq(x, w)));
    }
}

/// A poll(2) caller outside the executor (`struct poll_wqueues`'s
/// `triggered` and its task): set by a wake-up on any queue it is on,
/// under that queue's lock (lock order: a wait queue's lock, then this).
#[derive(Default)]
pub struct PollWaiter {
    triggered: Mutex<bool>,
    cv: Condvar,
}

impl PollWaiter {
    /// `pollwake`: set the flag and wake the sleeper.
    fn trigger(&self) {
        *self.triggered.lock() = true;
        self.cv.notify_all();
    }

    /// `poll_schedule_timeout`: sleep until triggered or `deadline`.
    /// loom has no time: with a deadline, the poller lets the other
    /// threads run once and then times out unless it was woken meanwhile.
    fn sleep(&self, deadline: Option<u64>) -> WakeReason {
        let mut g = self.triggered.lock();
        loop {
            if *g {
                return WakeReason::Woken;
            }
            match deadline {
                None => g = self.cv.wait(g),
                #[cfg(loom)]
                Some(_) => {
                    drop(g);
                    loom::thread::yield_now();
                    return if *self.triggered.lock() { WakeReason::Woken } else { WakeReason::TimedOut };
                }
                #[cfg(not(loom))]
                Some(d) => {
                    let now = super::now_ns();
                    if now >= d {
                        return WakeReason::TimedOut;
                    }
                    g = self.cv.wait_timeout_ns(g, d - now);
                }
            }
        }
    }
}
