//! Loom models of two shipped scenarios, statement for statement, so that
//! the benchmark suite (`bench/`, issue 7) can time loom and `ksim explore`
//! on the same race and check that both reach the same outcome set:
//!
//! - `close_vs_signal` is `scenarios/library/close_vs_signal.scn`: a
//!   blocking read, a close of the same fd from another thread, and an
//!   in-kernel `eventfd_signal` through a context reference;
//! - `semaphore_pingpong` is
//!   `scenarios/library/eventfd2_03_semaphore_pingpong.scn` (LTP
//!   eventfd2_03): two threads post and wait on two EFD_SEMAPHORE eventfds.
//!
//! Each model prints `loom model NAME: N executions in T` (from
//! [`loom_tests::model`]) and one line `outcomes NAME: {...}` with the set
//! of outcomes reached, written as `ksim explore` writes them
//! (`actor.name = value`, the outcomes separated by `; `).
#![cfg(loom)]
// The outcome sets are bookkeeping of the test harness, outside the models
// (loom does not see them), so they use std's lock.
#![allow(clippy::disallowed_types)]

use loom::thread;
use loom_tests::{model, read_u64, setup};
use sim_kernel::abi::EFD_SEMAPHORE;
use sim_kernel::abi::POLLIN;
use sim_kernel::bugs::BugSet;
use sim_kernel::eventfd::{eventfd_ctx_fdget, eventfd_ctx_put, eventfd_signal};
use sim_kernel::syscall::{sys_close, sys_eventfd2, sys_poll, sys_read, sys_write};
use sim_kernel::{Errno, KResult};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// An eventfd_read result as the scenario language prints it.
fn show(r: &KResult<Vec<u8>>) -> String {
    match r {
        Ok(b) => read_u64(b).to_string(),
        Err(e) => e.name().to_string(),
    }
}

fn print_outcomes(name: &str, set: &Mutex<BTreeSet<String>>) -> BTreeSet<String> {
    let set = set.lock().unwrap().clone();
    println!("outcomes {name}: {{{}}}", set.iter().cloned().collect::<Vec<_>>().join("; "));
    set
}

/// setup: `efd = eventfd(0, 0)`, `ctx = eventfd_ctx_fdget(efd)`;
/// thread reader: `r = eventfd_read(efd)`; thread closer: `close(efd) =>
/// 0`; kthread signaller: `eventfd_signal(ctx, 1) => 1`,
/// `eventfd_ctx_put(ctx)`; check: `reader.r in {1, EBADF}`, both seen;
/// teardown: nothing leaks.
#[test]
fn close_vs_signal() {
    static OUT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    model("close_vs_signal", || {
        let (k, t) = setup(BugSet::NONE);
        let efd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
        let ctx = eventfd_ctx_fdget(&t, efd).unwrap();
        let reader = {
            let t = t.clone();
            thread::spawn(move || sys_read(&t, efd, 8))
        };
        let closer = {
            let t = t.clone();
            thread::spawn(move || assert_eq!(sys_close(&t, efd), Ok(())))
        };
        let signaller = thread::spawn(move || {
            assert_eq!(eventfd_signal(&ctx, 1), 1);
            eventfd_ctx_put(&ctx);
        });
        closer.join().unwrap();
        signaller.join().unwrap();
        let r = reader.join().unwrap();
        assert!(matches!(&r, Ok(b) if read_u64(b) == 1) || r == Err(Errno::EBADF), "reader.r = {}", show(&r));
        OUT.lock().unwrap().insert(format!("reader.r = {}", show(&r)));
        drop(t);
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
        // The model does not exit the process: its files and its address
        // space (every process has an mm_struct since the uffd merge) are
        // still live.
        assert!(k.objs.live().iter().all(|(_, rec)| rec.ty == "file" || rec.ty == "mm_struct"), "{:?}", k.objs.live());
    });
    let set = print_outcomes("close_vs_signal", &OUT);
    assert_eq!(set.len(), 2, "both outcomes are reachable");
}

/// The two players of eventfd2_03; each returns its a1/a2 (b1/b2) reads.
fn player(t: &sim_kernel::Task, post: i64, wait: i64) -> (String, String) {
    let one = 1u64.to_le_bytes();
    assert_eq!(sys_write(t, post, &one), Ok(8));
    let x1 = sys_read(t, wait, 8);
    assert_eq!(sys_write(t, post, &one), Ok(8));
    let x2 = sys_read(t, wait, 8);
    assert_eq!(sys_write(t, post, &5u64.to_le_bytes()), Ok(8));
    for _ in 0..5 {
        assert_eq!(sys_read(t, wait, 8).map(|b| read_u64(&b)), Ok(1));
    }
    (show(&x1), show(&x2))
}

#[test]
fn semaphore_pingpong() {
    static OUT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    model("semaphore_pingpong", || {
        let (k, t) = setup(BugSet::NONE);
        let fd1 = sys_eventfd2(&t, 0, EFD_SEMAPHORE).unwrap() as i64;
        let fd2 = sys_eventfd2(&t, 0, EFD_SEMAPHORE).unwrap() as i64;
        let poster = {
            let t = t.clone();
            thread::spawn(move || player(&t, fd1, fd2))
        };
        let waiter = {
            let t = t.clone();
            thread::spawn(move || player(&t, fd2, fd1))
        };
        let (a1, a2) = poster.join().unwrap();
        let (b1, b2) = waiter.join().unwrap();
        let p1 = sys_poll(&t, fd1, POLLIN, 0).unwrap();
        let p2 = sys_poll(&t, fd2, POLLIN, 0).unwrap();
        assert_eq!((p1, p2), (0, 0), "everything posted was taken");
        sys_close(&t, fd1).unwrap();
        sys_close(&t, fd2).unwrap();
        OUT.lock().unwrap().insert(format!(
            "p1 = {p1}, p2 = {p2}, poster.a1 = {a1}, poster.a2 = {a2}, waiter.b1 = {b1}, waiter.b2 = {b2}"
        ));
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    });
    print_outcomes("semaphore_pingpong", &OUT);
}
