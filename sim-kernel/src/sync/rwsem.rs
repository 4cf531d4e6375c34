//! A sleeping reader-writer semaphore: Linux's `struct rw_semaphore`
//! (`include/linux/rwsem.h`, `kernel/locking/rwsem.c`): `down_read`,
//! `down_read_trylock`, `up_read`, `down_write`, `down_write_trylock`,
//! `up_write`. Any number of readers or one writer hold it; a caller that
//! cannot take it sleeps until it can.
//!
//! As [`super::Mutex`] it guards a value (`RwSemaphore<()>` is Linux's bare
//! semaphore): a read guard gives `&T`, a write guard `&mut T`, and
//! dropping a guard is `up_read`/`up_write`.
//!
//! Three runtimes, as the rest of [`crate::sync`]:
//! - under `cfg(loom)`, loom's `RwLock`;
//! - on plain threads, a spinning (yielding) lock word, as the std flavour
//!   of [`super::Mutex`];
//! - under the deterministic executor, a task that finds it taken parks in
//!   the scheduler ([`sched::park_on_lock`]) until the holders are gone.
//!   At lock granularity an acquisition is a scheduling point: a read
//!   acquisition reads the keys the caller reported before it
//!   ([`sched::exec::lock_point_shared`]), so two readers commute, and a
//!   write acquisition writes them ([`sched::exec::lock_point`]).
//!
//! Divergence: Linux queues waiters in FIFO order and a reader arriving
//! behind a waiting writer waits too (no writer starvation); here every
//! waiter retries when the semaphore becomes free, and the scheduler (or
//! the explorer) picks who gets it. Every order Linux allows is one of
//! those; so is a reader overtaking a waiting writer, which Linux's
//! hand-off would forbid (book: divergences).

#[cfg(not(loom))]
#[allow(clippy::disallowed_types)]
mod imp {
    use crate::sched;
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Held for writing.
    const WRITER: u32 = 1 << 31;
    /// An actor of the deterministic executor is parked on the semaphore:
    /// the release that frees it must wake it.
    const PARKED: u32 = 1 << 30;
    /// The readers holding it.
    const READERS: u32 = PARKED - 1;

    /// `struct rw_semaphore` guarding a `T`.
    #[derive(Default)]
    pub struct RwSemaphore<T> {
        state: AtomicU32,
        value: UnsafeCell<T>,
    }

    // SAFETY: readers share `&T` (hence `T: Sync`), a writer has `&mut T`
    // alone (hence `T: Send`), exactly as std's RwLock.
    unsafe impl<T: Send> Send for RwSemaphore<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send + Sync> Sync for RwSemaphore<T> {}

    /// A read hold (`up_read` on drop).
    pub struct RwSemReadGuard<'a, T> {
        sem: &'a RwSemaphore<T>,
    }

    /// A write hold (`up_write` on drop).
    pub struct RwSemWriteGuard<'a, T> {
        sem: &'a RwSemaphore<T>,
    }

    impl<T> RwSemaphore<T> {
        pub const fn new(value: T) -> Self {
            RwSemaphore { state: AtomicU32::new(0), value: UnsafeCell::new(value) }
        }

        fn addr(&self) -> usize {
            self as *const Self as usize
        }

        /// `down_read`: sleeps while a writer holds it.
        pub fn down_read(&self) -> RwSemReadGuard<'_, T> {
            let keys = if sched::fine_grained() { sched::exec::lock_point_shared() } else { None };
            while !self.try_read() {
                self.wait();
            }
            self.held(keys);
            RwSemReadGuard { sem: self }
        }

        /// `down_read_trylock`: the read hold if no writer holds it, at once.
        pub fn down_read_trylock(&self) -> Option<RwSemReadGuard<'_, T>> {
            let keys = if sched::fine_grained() { sched::exec::lock_point_shared() } else { None };
            if !self.try_read() {
                return None;
            }
            self.held(keys);
            Some(RwSemReadGuard { sem: self })
        }

        /// `down_write`: sleeps while anyone holds it.
        pub fn down_write(&self) -> RwSemWriteGuard<'_, T> {
            let keys = if sched::fine_grained() { sched::exec::lock_point() } else { None };
            while !self.try_write() {
                self.wait();
            }
            self.held(keys);
            RwSemWriteGuard { sem: self }
        }

        /// `down_write_trylock`: the write hold if nobody holds it, at once.
        pub fn down_write_trylock(&self) -> Option<RwSemWriteGuard<'_, T>> {
            let keys = if sched::fine_grained() { sched::exec::lock_point() } else { None };
            if !self.try_write() {
                return None;
            }
            self.held(keys);
            Some(RwSemWriteGuard { sem: self })
        }

        /// Whether anyone holds it (`rwsem_is_locked`).
        pub fn is_locked(&self) -> bool {
            self.state.load(Ordering::Relaxed) & (WRITER | READERS) != 0
        }

        pub fn into_inner(self) -> T {
            self.value.into_inner()
        }

        pub fn get_mut(&mut self) -> &mut T {
            self.value.get_mut()
        }

        fn try_read(&self) -> bool {
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if s & WRITER != 0 || s & READERS == READERS {
                    return false;
                }
                match self.state.compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(now) => s = now,
                }
            }
        }

        fn try_write(&self) -> bool {
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if s & (WRITER | READERS) != 0 {
                    return false;
                }
                match self.state.compare_exchange_weak(s, s | WRITER, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(now) => s = now,
                }
            }
        }

        /// At lock granularity, remember the keys reported before the
        /// acquisition while it is held (see [`sched::exec::hold_lock`]).
        fn held(&self, keys: Option<crate::sched::exec::Footprint>) {
            if let Some(keys) = keys {
                sched::exec::hold_lock(self.addr(), keys);
            }
        }

        /// Found taken: park the actor until a release frees it (the
        /// deterministic executor), or yield the CPU (plain threads).
        #[cold]
        fn wait(&self) {
            if !sched::in_sim() {
                std::thread::yield_now();
                return;
            }
            // As in Mutex::lock_slow: the retry is a new step and must
            // carry the footprint of the step that found the semaphore
            // taken (a superset, which keeps the reduction sound).
            let cur = sched::exec::step_count().saturating_sub(1);
            let parked_fp = sched::exec::with_steps_since(cur, |s| s.last().map(|s| s.accesses.clone()));
            self.state.fetch_or(PARKED, Ordering::Relaxed);
            sched::park_on_lock(self.addr());
            for (key, write) in parked_fp.into_iter().flatten() {
                crate::footprint::access(key, write);
            }
        }

        /// The common end of `up_read` and `up_write`: `bits` is what the
        /// hold added. Wakes the parked actors when the semaphore is free.
        fn release(&self, bits: u32) {
            if sched::fine_grained() {
                sched::exec::release_lock(self.addr());
            }
            let prev = self.state.fetch_sub(bits, Ordering::Release);
            let now = prev - bits;
            if now == PARKED && self.state.compare_exchange(PARKED, 0, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                sched::unpark_lock(self.addr());
            }
        }
    }

    impl<T> Deref for RwSemReadGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: a read hold: no writer, readers share `&T`.
            unsafe { &*self.sem.value.get() }
        }
    }

    impl<T> Drop for RwSemReadGuard<'_, T> {
        /// `up_read`.
        fn drop(&mut self) {
            self.sem.release(1);
        }
    }

    impl<T> Deref for RwSemWriteGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the write hold is exclusive.
            unsafe { &*self.sem.value.get() }
        }
    }

    impl<T> DerefMut for RwSemWriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: the write hold is exclusive and `&mut self` unique.
            unsafe { &mut *self.sem.value.get() }
        }
    }

    impl<T> Drop for RwSemWriteGuard<'_, T> {
        /// `up_write`.
        fn drop(&mut self) {
            self.sem.release(WRITER);
        }
    }
}

#[cfg(loom)]
mod imp {
    use loom::sync::RwLock;
    pub use loom::sync::{RwLockReadGuard as RwSemReadGuard, RwLockWriteGuard as RwSemWriteGuard};

    /// loom's `RwLock` with the semaphore's names.
    pub struct RwSemaphore<T>(RwLock<T>);

    impl<T> RwSemaphore<T> {
        pub fn new(value: T) -> Self {
            RwSemaphore(RwLock::new(value))
        }
        pub fn down_read(&self) -> RwSemReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|p| p.into_inner())
        }
        pub fn down_read_trylock(&self) -> Option<RwSemReadGuard<'_, T>> {
            self.0.try_read().ok()
        }
        pub fn down_write(&self) -> RwSemWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|p| p.into_inner())
        }
        pub fn down_write_trylock(&self) -> Option<RwSemWriteGuard<'_, T>> {
            self.0.try_write().ok()
        }
        pub fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(|p| p.into_inner())
        }
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(|p| p.into_inner())
        }
    }

    impl<T: Default> Default for RwSemaphore<T> {
        fn default() -> Self {
            RwSemaphore::new(T::default())
        }
    }
}

pub use imp::{RwSemReadGuard, RwSemWriteGuard, RwSemaphore};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::Arc;

    #[test]
    fn readers_share_writers_exclude() {
        let s = RwSemaphore::new(5);
        let r1 = s.down_read();
        let r2 = s.down_read_trylock().expect("a second reader gets in");
        assert_eq!(*r1 + *r2, 10);
        assert!(s.down_write_trylock().is_none(), "no writer while readers hold it");
        drop(r1);
        assert!(s.down_write_trylock().is_none(), "one reader still holds it");
        drop(r2);
        {
            let mut w = s.down_write_trylock().expect("free");
            *w = 7;
            assert!(s.down_read_trylock().is_none(), "no reader while a writer holds it");
            assert!(s.down_write_trylock().is_none());
        }
        assert!(!s.is_locked());
        assert_eq!(*s.down_read(), 7);
        assert_eq!(s.into_inner(), 7);
    }

    /// On plain threads: writers' increments under the write lock are never
    /// lost, and a reader never sees a half-done update (the two fields
    /// always agree).
    #[test]
    fn plain_threads_writers_and_readers() {
        let s = Arc::new(RwSemaphore::new((0u64, 0u64)));
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        if i % 2 == 0 {
                            let mut w = s.down_write();
                            w.0 += 1;
                            std::hint::spin_loop();
                            w.1 += 1;
                        } else {
                            let r = s.down_read();
                            assert_eq!(r.0, r.1);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*s.down_read(), (1000, 1000));
    }

    /// Under the deterministic executor at lock granularity: a writer that
    /// finds readers holding the semaphore (preempted inside their read
    /// sections) parks and runs after them; the readers' acquisitions
    /// read the key reported before them, the writer's writes it. Every
    /// seed's schedule ends with every actor done.
    #[test]
    fn executor_parks_a_writer_behind_readers_and_records_reads() {
        use crate::sched::choose::SeededChooser;
        use crate::sched::exec::{access, yield_point, Executor, RunEnd};
        use crate::sched::Granularity;
        use std::rc::Rc;
        const K: u64 = 77;
        let mut parked_writer = false;
        for seed in 0..40 {
            let mut ex = Executor::new();
            ex.set_granularity(Granularity::Lock);
            ex.record_steps();
            let s = Rc::new(RwSemaphore::new(0u32));
            let log = Rc::new(std::cell::RefCell::new(Vec::new()));
            for r in 0..2 {
                let (s, log) = (s.clone(), log.clone());
                ex.spawn(&format!("reader{r}"), move || {
                    access(K, false);
                    let g = s.down_read();
                    log.borrow_mut().push(("read", *g));
                    yield_point("test:in_read");
                    log.borrow_mut().push(("read_end", *g));
                });
            }
            let (s2, log2) = (s.clone(), log.clone());
            ex.spawn("writer", move || {
                access(K, true);
                let mut g = s2.down_write();
                log2.borrow_mut().push(("write", 0));
                *g += 1;
            });
            assert_eq!(ex.run(&mut SeededChooser::new(seed)), RunEnd::AllDone, "seed {seed}");
            // No reader section overlaps the write: every reader saw 0 at
            // both ends, or 1 at both ends.
            let log = log.borrow();
            let w = log.iter().position(|e| e.0 == "write").expect("the writer ran");
            for (i, e) in log.iter().enumerate() {
                match e.0 {
                    "read" | "read_end" => assert_eq!(e.1, u32::from(i > w), "seed {seed}: {log:?}"),
                    _ => {}
                }
            }
            let steps = ex.steps();
            let (readers, writer): (Vec<_>, Vec<_>) = steps.iter().partition(|st| st.actor < 2);
            assert!(readers.iter().all(|st| !st.accesses.contains(&(K, true))), "a read acquisition wrote K");
            assert!(writer.iter().any(|st| st.accesses.contains(&(K, true))));
            parked_writer |= steps.iter().filter(|st| st.actor == 2).count() > 2;
            drop(log);
            assert!(!s.is_locked());
        }
        assert!(parked_writer, "no seed made the writer wait for a reader");
    }
}
