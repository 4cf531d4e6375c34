//! The one place that names synchronisation primitives (the book's
//! architecture chapter, "One kernel, three runtimes"). Kernel code uses `sync::{Arc, Mutex, Condvar, atomic}` and
//! never `std::sync` or `loom::sync` directly (clippy's `disallowed-types`
//! enforces it).
//!
//! Three runtimes share the kernel code:
//! - under `cfg(loom)` these are loom's types, and loom explores the
//!   interleavings of individual lock and atomic operations;
//! - otherwise they are std's types, and the kernel runs either on plain OS
//!   threads (stress tests) or under the deterministic scheduler in
//!   [`crate::sched`], where every actor is a coroutine on one OS thread.
//!
//! Under the deterministic scheduler a lock can be held across a named yield
//! point (as Linux can be preempted holding a mutex, or contended on another
//! CPU holding a spinlock). A second actor that finds it taken must not block
//! the OS thread: [`Mutex::lock`] parks that actor in the scheduler until the
//! holder's guard drops. That is the only scheduler-aware primitive. At lock
//! granularity ([`crate::sched::Granularity::Lock`]) every acquisition is
//! also a scheduling point, and so is every release (after it).

#[cfg(loom)]
pub use loom::sync::atomic;
#[cfg(not(loom))]
pub use std::sync::atomic;

/// `Arc` is std's in every runtime. loom's `Arc` cannot coerce to a trait
/// object (`Arc<EventfdWait>` to `Arc<dyn WakeFn>` needs the unstable
/// `CoerceUnsized`), and the kernel's reference counts that matter are its
/// own atomics (`kref`, `f_count`), which are loom's under loom; modelling
/// the allocator's count as well would only multiply the interleavings.
pub use std::sync::Arc;

#[cfg(not(loom))]
#[allow(clippy::disallowed_types)]
mod imp {
    use crate::sched;
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

    /// Unlocked.
    const FREE: u8 = 0;
    /// Held (taken with [`Mutex::lock_quiet`], or at call granularity),
    /// no actor parked on it: the only state whose unlock is a plain store.
    const HELD: u8 = 1;
    /// With [`HELD`]: an actor of the deterministic executor is parked on
    /// it, and the unlock must wake it ([`sched::unpark_lock`]).
    const PARKED: u8 = 2;
    /// With [`HELD`]: taken at lock granularity ([`Mutex::lock`]), so its
    /// release is a scheduling point too ([`sched::exec::unlock_point`]).
    const FINE: u8 = 4;

    /// A mutual-exclusion lock (Linux's `spinlock_t` and `struct mutex`):
    /// one byte of state beside the data.
    ///
    /// Taking it is one compare-and-swap; releasing it is a load and a
    /// store (no read-modify-write): only an actor of the deterministic
    /// executor marks a held lock [`PARKED`], and all actors of an
    /// executor run on one OS thread, so nothing can mark it between the
    /// releasing thread's load and store. On plain threads (the std-threads
    /// runtime) a contended lock spins, yielding the CPU; nobody sleeps on
    /// the lock word itself (sleepers wait on a [`Condvar`], which has its
    /// own). No poisoning: a panic in the kernel is a simulator bug that
    /// ends the run.
    #[derive(Default)]
    pub struct Mutex<T> {
        state: AtomicU8,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock gives one thread at a time access to the value, as
    // std's Mutex does; the bounds are std's.
    unsafe impl<T: Send> Send for Mutex<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send> Sync for Mutex<T> {}

    pub struct MutexGuard<'a, T> {
        lock: &'a Mutex<T>,
    }

    // SAFETY: a guard gives `&T`/`&mut T` only; sharing it shares `&T`.
    unsafe impl<T: Sync> Sync for MutexGuard<'_, T> {}

    impl<T> Mutex<T> {
        pub const fn new(value: T) -> Self {
            Mutex { state: AtomicU8::new(FREE), value: UnsafeCell::new(value) }
        }

        /// `spin_lock`/`mutex_lock`: at lock granularity a scheduling point
        /// first ([`sched::fine_point`]; its step carries the footprint the
        /// caller reported for the lock), then the acquisition, which parks
        /// the actor if another holds the lock.
        #[inline]
        pub fn lock(&self) -> MutexGuard<'_, T> {
            if sched::fine_grained() {
                return self.lock_fine();
            }
            self.lock_quiet()
        }

        /// [`Mutex::lock`] at lock granularity: the point, the acquisition,
        /// and the keys reported before it remembered while the lock is
        /// held ([`sched::exec::hold_lock`]), so that the critical
        /// section's later steps carry them.
        #[cold]
        #[inline(never)]
        fn lock_fine(&self) -> MutexGuard<'_, T> {
            let keys = sched::exec::lock_point();
            if self.state.compare_exchange(FREE, HELD | FINE, Ordering::Acquire, Ordering::Relaxed).is_err() {
                self.lock_slow(HELD | FINE);
            }
            let g = MutexGuard { lock: self };
            if let Some(keys) = keys {
                sched::exec::hold_lock(self as *const Self as usize, keys);
            }
            g
        }

        /// Take the lock with no scheduling point at any granularity: for
        /// the simulator's own bookkeeping behind kernel objects (the
        /// object table), which has no Linux counterpart to preempt.
        #[inline]
        pub fn lock_quiet(&self) -> MutexGuard<'_, T> {
            if self.state.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_err() {
                self.lock_slow(HELD);
            }
            MutexGuard { lock: self }
        }

        /// Take the lock as `held` ([`HELD`], with [`FINE`] at lock
        /// granularity) once it is free.
        #[cold]
        fn lock_slow(&self, held: u8) {
            loop {
                let s = self.state.load(Ordering::Relaxed);
                if s == FREE {
                    if self.state.compare_exchange(FREE, held, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                        return;
                    }
                    continue;
                }
                if sched::in_sim() {
                    // The holder is another actor on this OS thread: mark
                    // the lock so its release wakes us, and park.
                    //
                    // Callers report the lock's footprint key just before
                    // taking it, once per `lock()`. Parking ends the step;
                    // the retry (which takes the lock and runs the critical
                    // section, or finds it taken again) is a new step and
                    // must carry that key too, or the explorer sees an empty
                    // step and treats it as independent of the holder's next
                    // acquisition (unsound DPOR). The key is not known here,
                    // so the retry repeats the whole footprint of the step
                    // that found the lock taken: a superset, which is sound.
                    let cur = sched::exec::step_count().saturating_sub(1);
                    let parked_fp = sched::exec::with_steps_since(cur, |s| s.last().map(|s| s.accesses.clone()));
                    self.state.store(s | PARKED, Ordering::Relaxed);
                    sched::park_on_lock(self as *const Self as usize);
                    for (key, write) in parked_fp.into_iter().flatten() {
                        crate::footprint::access(key, write);
                    }
                } else {
                    std::thread::yield_now();
                }
            }
        }

        pub fn into_inner(self) -> T {
            self.value.into_inner()
        }

        pub fn get_mut(&mut self) -> &mut T {
            self.value.get_mut()
        }

        /// Inlined into every guard's drop: a lock taken quietly or at call
        /// granularity with nobody parked on it is released by a store;
        /// the rest is out of line ([`Mutex::unlock_slow`]), so at call
        /// granularity an unlock costs a load, a test and a store.
        #[inline(always)]
        fn unlock(&self) {
            let s = self.state.load(Ordering::Relaxed);
            if s == HELD {
                self.state.store(FREE, Ordering::Release);
            } else {
                self.unlock_slow(s, true);
            }
        }

        /// [`Mutex::unlock`] of a lock taken at lock granularity or with an
        /// actor parked on it: free it, make the parked actor runnable,
        /// and (`point`) at lock granularity make the release a scheduling
        /// point. In Linux `spin_unlock` and `mutex_unlock` end in
        /// `preempt_enable()` (include/linux/spinlock_api_smp.h
        /// `__raw_spin_unlock`), where a CONFIG_PREEMPT kernel switches to
        /// a task woken meanwhile, and another CPU may take the lock as
        /// soon as it is free: the code after a critical section does not
        /// run in one piece with it.
        #[cold]
        #[inline(never)]
        fn unlock_slow(&self, s: u8, point: bool) {
            let addr = self as *const Self as usize;
            if s & FINE != 0 {
                sched::exec::release_lock(addr);
            }
            self.state.store(FREE, Ordering::Release);
            if s & PARKED != 0 {
                sched::unpark_lock(addr);
            }
            if point && s & FINE != 0 {
                sched::exec::unlock_point();
            }
        }
    }

    /// Release the lock with no scheduling point after it, for a caller
    /// that reaches one at once (a sleeper that unlocks the wait queue and
    /// blocks: Linux's `schedule()` right after `spin_unlock`).
    pub fn unlock_before_block<T>(g: MutexGuard<'_, T>) {
        let lock = g.lock;
        std::mem::forget(g);
        let s = lock.state.load(Ordering::Relaxed);
        if s == HELD {
            lock.state.store(FREE, Ordering::Release);
        } else {
            lock.unlock_slow(s, false);
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        #[inline]
        fn deref(&self) -> &T {
            // SAFETY: the guard holds the lock.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        #[inline]
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: the guard holds the lock, and `&mut self` is unique.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for MutexGuard<'_, T> {
        #[inline(always)]
        fn drop(&mut self) {
            self.lock.unlock();
        }
    }

    /// A condition variable, used only by the std-threads runtime (the
    /// deterministic scheduler parks actors itself): a generation count,
    /// read under the kernel lock and bumped by every notify (which the
    /// kernel calls under the same lock), so that a wake-up between the
    /// waiter's release of the lock and its sleep is not lost. Sleepers
    /// sleep on one process-wide std condition variable (four bytes per
    /// wait queue, as std's own; a notify wakes every sleeper of the
    /// runtime, and the others go back to sleep).
    #[derive(Default)]
    pub struct Condvar {
        gen: AtomicU32,
    }

    static SLEEP_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static SLEEP_CV: std::sync::Condvar = std::sync::Condvar::new();

    impl Condvar {
        pub const fn new() -> Self {
            Condvar { gen: AtomicU32::new(0) }
        }

        pub fn wait<'a, T>(&self, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.wait_until(g, None)
        }

        pub fn wait_timeout_ns<'a, T>(&self, g: MutexGuard<'a, T>, ns: u64) -> MutexGuard<'a, T> {
            self.wait_until(g, Some(std::time::Instant::now() + std::time::Duration::from_nanos(ns)))
        }

        fn wait_until<'a, T>(&self, g: MutexGuard<'a, T>, deadline: Option<std::time::Instant>) -> MutexGuard<'a, T> {
            let lock = g.lock;
            let seen = self.gen.load(Ordering::Acquire);
            let mut m = SLEEP_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            drop(g);
            while self.gen.load(Ordering::Acquire) == seen {
                match deadline {
                    None => m = SLEEP_CV.wait(m).unwrap_or_else(|p| p.into_inner()),
                    Some(d) => {
                        let now = std::time::Instant::now();
                        if now >= d {
                            break;
                        }
                        m = SLEEP_CV.wait_timeout(m, d - now).unwrap_or_else(|p| p.into_inner()).0;
                    }
                }
            }
            drop(m);
            lock.lock()
        }

        pub fn notify_all(&self) {
            let _m = SLEEP_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            self.gen.fetch_add(1, Ordering::Release);
            SLEEP_CV.notify_all();
        }
    }
}

#[cfg(loom)]
mod imp {
    pub use loom::sync::{Mutex as LoomMutex, MutexGuard};

    /// Under loom a release is loom's own scheduling point either way.
    pub fn unlock_before_block<T>(g: MutexGuard<'_, T>) {
        drop(g);
    }

    /// loom's mutex with the same `lock()` signature as the std flavour.
    pub struct Mutex<T>(LoomMutex<T>);

    impl<T> Mutex<T> {
        pub fn new(value: T) -> Self {
            Mutex(LoomMutex::new(value))
        }
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|p| p.into_inner())
        }
        pub fn lock_quiet(&self) -> MutexGuard<'_, T> {
            self.lock()
        }
        pub fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(|p| p.into_inner())
        }
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(|p| p.into_inner())
        }
    }

    pub struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub fn wait<'a, T>(&self, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(g).unwrap_or_else(|p| p.into_inner())
        }
        pub fn wait_timeout_ns<'a, T>(&self, g: MutexGuard<'a, T>, _ns: u64) -> MutexGuard<'a, T> {
            // loom has no time: a timed wait is a wait that may return early.
            self.wait(g)
        }
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    impl Default for Condvar {
        fn default() -> Self {
            Condvar::new()
        }
    }
}

pub use imp::{unlock_before_block, Condvar, Mutex, MutexGuard};

mod rwsem;
pub use rwsem::{RwSemReadGuard, RwSemWriteGuard, RwSemaphore};
