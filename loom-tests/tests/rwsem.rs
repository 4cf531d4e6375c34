//! Loom model of `sim_kernel::sync::RwSemaphore` (Linux's `struct
//! rw_semaphore`, `kernel/locking/rwsem.c`), the lock uverbs takes on every
//! user object: readers share it, a writer excludes everyone, and
//! `down_read_trylock` never waits. See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::model;
use sim_kernel::sync::atomic::{AtomicUsize, Ordering};
use sim_kernel::sync::{Arc, RwSemaphore};

/// Two readers and a writer updating two fields under the write hold: no
/// reader sees them disagree (a half-done update), the writer's update is
/// never lost, and nobody waits for ever (loom reports a deadlock).
#[test]
fn readers_never_see_a_half_done_write() {
    model("readers_never_see_a_half_done_write", || {
        let s = Arc::new(RwSemaphore::new((AtomicUsize::new(0), AtomicUsize::new(0))));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let g = s.down_read();
                    assert_eq!(g.0.load(Ordering::Relaxed), g.1.load(Ordering::Relaxed));
                })
            })
            .collect();
        {
            let g = s.down_write();
            g.0.fetch_add(1, Ordering::Relaxed);
            g.1.fetch_add(1, Ordering::Relaxed);
        }
        for r in readers {
            r.join().unwrap();
        }
        let g = s.down_read();
        assert_eq!((g.0.load(Ordering::Relaxed), g.1.load(Ordering::Relaxed)), (1, 1));
    });
}

/// `down_read_trylock` against a writer: it either gets in before or after
/// the write (and then sees none or all of it) or fails at once because
/// the writer holds it; it never blocks.
#[test]
fn read_trylock_against_a_writer() {
    model("read_trylock_against_a_writer", || {
        let s = Arc::new(RwSemaphore::new(AtomicUsize::new(0)));
        let s2 = s.clone();
        let w = thread::spawn(move || {
            let g = s2.down_write();
            g.store(1, Ordering::Relaxed);
            g.store(2, Ordering::Relaxed);
        });
        if let Some(g) = s.down_read_trylock() {
            let v = g.load(Ordering::Relaxed);
            assert!(v == 0 || v == 2, "saw {v}");
        }
        w.join().unwrap();
        assert!(s.down_write_trylock().is_some());
    });
}
