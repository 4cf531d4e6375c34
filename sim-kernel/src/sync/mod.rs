//! The one place that names synchronisation primitives (DESIGN.md,
//! principle 1). Kernel code uses `sync::{Arc, Mutex, Condvar, atomic}` and
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
//! holder's guard drops. That is the only scheduler-aware primitive.

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
    use std::ops::{Deref, DerefMut};

    /// A mutual-exclusion lock (Linux's `spinlock_t` and `struct mutex`).
    /// As small as std's: whether an actor is parked on it is the
    /// executor's to know ([`sched::unpark_lock`] returns at once when no
    /// actor is parked on any lock).
    #[derive(Default)]
    pub struct Mutex<T> {
        inner: std::sync::Mutex<T>,
    }

    pub struct MutexGuard<'a, T> {
        guard: Option<std::sync::MutexGuard<'a, T>>,
        lock: &'a Mutex<T>,
    }

    impl<T> Mutex<T> {
        pub const fn new(value: T) -> Self {
            Mutex { inner: std::sync::Mutex::new(value) }
        }

        pub fn lock(&self) -> MutexGuard<'_, T> {
            loop {
                match self.inner.try_lock() {
                    Ok(g) => return MutexGuard { guard: Some(g), lock: self },
                    Err(std::sync::TryLockError::Poisoned(p)) => {
                        return MutexGuard { guard: Some(p.into_inner()), lock: self }
                    }
                    Err(std::sync::TryLockError::WouldBlock) => {
                        if sched::in_sim() {
                            // Callers report the lock's footprint key just
                            // before taking it, once per `lock()`. Parking
                            // ends the step; the retry (which takes the lock
                            // and runs the critical section, or finds it
                            // taken again) is a new step and must carry that
                            // key too, or the explorer sees an empty step
                            // and treats it as independent of the holder's
                            // next acquisition (unsound DPOR). The key is not
                            // known here, so the retry repeats the whole
                            // footprint of the step that found the lock
                            // taken: a superset, which is sound.
                            let cur = sched::exec::step_count().saturating_sub(1);
                            let parked_fp = sched::exec::steps_since(cur).pop().map(|s| s.accesses);
                            sched::park_on_lock(self as *const Self as usize);
                            for (key, write) in parked_fp.into_iter().flatten() {
                                crate::footprint::access(key, write);
                            }
                        } else {
                            let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                            return MutexGuard { guard: Some(g), lock: self };
                        }
                    }
                }
            }
        }

        pub fn into_inner(self) -> T {
            self.inner.into_inner().unwrap_or_else(|p| p.into_inner())
        }

        pub fn get_mut(&mut self) -> &mut T {
            self.inner.get_mut().unwrap_or_else(|p| p.into_inner())
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.guard.as_ref().expect("guard present")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.guard.as_mut().expect("guard present")
        }
    }

    impl<T> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            self.guard = None;
            sched::unpark_lock(self.lock as *const Mutex<T> as usize);
        }
    }

    /// A condition variable, used only by the std-threads runtime (the
    /// deterministic scheduler parks actors itself).
    #[derive(Default)]
    pub struct Condvar(std::sync::Condvar);

    impl Condvar {
        pub const fn new() -> Self {
            Condvar(std::sync::Condvar::new())
        }

        pub fn wait<'a, T>(&self, mut g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            let inner = g.guard.take().expect("guard present");
            let inner = self.0.wait(inner).unwrap_or_else(|p| p.into_inner());
            g.guard = Some(inner);
            g
        }

        pub fn wait_timeout_ns<'a, T>(&self, mut g: MutexGuard<'a, T>, ns: u64) -> MutexGuard<'a, T> {
            let inner = g.guard.take().expect("guard present");
            let (inner, _) =
                self.0.wait_timeout(inner, std::time::Duration::from_nanos(ns)).unwrap_or_else(|p| p.into_inner());
            g.guard = Some(inner);
            g
        }

        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(loom)]
mod imp {
    pub use loom::sync::{Mutex as LoomMutex, MutexGuard};

    /// loom's mutex with the same `lock()` signature as the std flavour.
    pub struct Mutex<T>(LoomMutex<T>);

    impl<T> Mutex<T> {
        pub fn new(value: T) -> Self {
            Mutex(LoomMutex::new(value))
        }
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|p| p.into_inner())
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

pub use imp::{Condvar, Mutex, MutexGuard};
