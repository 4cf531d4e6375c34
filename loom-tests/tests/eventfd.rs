//! Loom models of eventfd's race windows (`fs/eventfd.c`), on the real
//! kernel code: `ctx->wqh.lock` protects the count, and every read, write,
//! signal and wait-queue removal checks and changes it under that lock.
//! See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_drained_and_freed, live, model, read_u64, setup};
use sim_kernel::abi::{EFD_NONBLOCK, EFD_SEMAPHORE};
use sim_kernel::bugs::{Bug, BugSet};
use sim_kernel::eventfd::{
    eventfd_ctx_fdget, eventfd_ctx_put, eventfd_ctx_remove_wait_queue, eventfd_signal, eventfd_wait_add,
};
use sim_kernel::objtrack::Report;
use sim_kernel::sync::atomic::AtomicBool as KAtomicBool;
use sim_kernel::sync::Arc;
use sim_kernel::syscall::{sys_close, sys_eventfd2, sys_read, sys_write};
use sim_kernel::Errno;
use std::sync::atomic::{AtomicBool, Ordering};

const ONE: [u8; 8] = 1u64.to_le_bytes();

/// Two writers add 1 each; a blocking reader reads until it has consumed
/// 2. A lost increment leaves the reader asleep forever (loom: deadlock), a
/// duplicated one trips the sum; a missed wake-up is a deadlock too.
#[test]
fn two_writers_one_blocking_reader() {
    model("two_writers_one_blocking_reader", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let t = t.clone();
                thread::spawn(move || assert_eq!(sys_write(&t, fd, &ONE), Ok(8)))
            })
            .collect();
        let mut got = 0;
        while got < 2 {
            let v = read_u64(&sys_read(&t, fd, 8).unwrap());
            assert!(v >= 1 && got + v <= 2, "read {v} after {got}");
            got += v;
        }
        for w in writers {
            w.join().unwrap();
        }
        assert_drained_and_freed(&k, &t, fd);
    });
}

/// `eventfd_signal(ctx, 1)` against a non-blocking read: the read returns
/// 1 or EAGAIN, and the count left over agrees with it.
#[test]
fn signal_vs_nonblocking_read() {
    static SAW_ONE: AtomicBool = AtomicBool::new(false);
    static SAW_EAGAIN: AtomicBool = AtomicBool::new(false);
    model("signal_vs_nonblocking_read", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_eventfd2(&t, 0, EFD_NONBLOCK).unwrap() as i64;
        let ctx = eventfd_ctx_fdget(&t, fd).unwrap();
        let signaller = {
            let ctx = ctx.clone();
            thread::spawn(move || eventfd_signal(&ctx, 1))
        };
        let r = sys_read(&t, fd, 8);
        assert_eq!(signaller.join().unwrap(), 1);
        let end = ctx.count();
        match r {
            Ok(b) => {
                assert_eq!(read_u64(&b), 1);
                assert_eq!(end, 0);
                SAW_ONE.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                assert_eq!(e, Errno::EAGAIN);
                assert_eq!(end, 1);
                SAW_EAGAIN.store(true, Ordering::Relaxed);
            }
        }
        sys_close(&t, fd).unwrap();
        eventfd_ctx_put(&ctx);
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    });
    assert!(SAW_ONE.load(Ordering::Relaxed), "no interleaving read the signal");
    assert!(SAW_EAGAIN.load(Ordering::Relaxed), "no interleaving read before the signal");
}

/// `eventfd_ctx_remove_wait_queue` on an EFD_SEMAPHORE eventfd (count 0)
/// against `write(fd, 1)`. Returns whether the count was ever seen at
/// ULLONG_MAX; with the fix, also checks both calls' results against the
/// count.
fn semaphore_remove_vs_write(bugs: BugSet) -> bool {
    let (k, t) = setup(bugs);
    // Non-blocking: after an underflow the write cannot fit and must not
    // sleep forever.
    let fd = sys_eventfd2(&t, 0, EFD_SEMAPHORE | EFD_NONBLOCK).unwrap() as i64;
    let ctx = eventfd_ctx_fdget(&t, fd).unwrap();
    let w = eventfd_wait_add(&ctx);
    let writer = {
        let t = t.clone();
        thread::spawn(move || sys_write(&t, fd, &ONE))
    };
    let removed = eventfd_ctx_remove_wait_queue(&ctx, &w);
    let after_remove = ctx.count();
    let wrote = writer.join().unwrap();
    let end = ctx.count();
    let underflow = after_remove == u64::MAX || end == u64::MAX;
    if !bugs.has(Bug::EventfdSemaphoreUnderflow) {
        assert!(!underflow, "semaphore count underflowed: {after_remove} then {end}");
        assert_eq!(wrote, Ok(8));
        match removed {
            Ok(n) => assert_eq!((n, end), (1, 0), "removal consumed the write"),
            Err(e) => assert_eq!((e, end), (Errno::EAGAIN, 1), "removal ran before the write"),
        }
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    }
    sys_close(&t, fd).unwrap();
    eventfd_ctx_put(&ctx);
    underflow
}

#[test]
fn semaphore_remove_wait_queue_vs_write() {
    model("semaphore_remove_wait_queue_vs_write", || {
        semaphore_remove_vs_write(BugSet::NONE);
    });
}

/// The same model with `eventfd_semaphore_underflow` re-introduced: loom
/// must find the interleaving (removal before the write) that takes the
/// count to ULLONG_MAX.
#[test]
fn semaphore_underflow_bug_is_found() {
    static SAW_UNDERFLOW: AtomicBool = AtomicBool::new(false);
    model("semaphore_underflow_bug_is_found", || {
        if semaphore_remove_vs_write(BugSet::NONE.with(Bug::EventfdSemaphoreUnderflow)) {
            SAW_UNDERFLOW.store(true, Ordering::Relaxed);
        }
    });
    assert!(SAW_UNDERFLOW.load(Ordering::Relaxed), "loom missed the eventfd semaphore underflow");
}

/// Close against a blocked read: A reads (blocking) from an empty eventfd,
/// B closes the fd, the main thread signals through a context reference.
/// The close drops only the table's reference: A keeps the file it looked
/// up, is not woken by the close, and returns 1 once signalled. If the
/// close wins the fd lookup, A gets EBADF and the count stays 1.
#[test]
fn close_vs_blocked_read() {
    static CLOSED_WHILE_READING: AtomicBool = AtomicBool::new(false);
    model("close_vs_blocked_read", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
        let ctx = eventfd_ctx_fdget(&t, fd).unwrap();
        let closed = Arc::new(KAtomicBool::new(false));
        let reader = {
            let t = t.clone();
            thread::spawn(move || sys_read(&t, fd, 8))
        };
        let closer = {
            let (t, closed) = (t.clone(), closed.clone());
            thread::spawn(move || {
                assert_eq!(sys_close(&t, fd), Ok(()));
                closed.store(true, Ordering::Release);
            })
        };
        let closed_before_signal = closed.load(Ordering::Acquire);
        assert_eq!(eventfd_signal(&ctx, 1), 1);
        let r = reader.join().unwrap();
        closer.join().unwrap();
        let end = ctx.count();
        match r {
            Ok(b) => {
                assert_eq!(read_u64(&b), 1);
                assert_eq!(end, 0);
                if closed_before_signal {
                    // A held the file across the whole close.
                    CLOSED_WHILE_READING.store(true, Ordering::Relaxed);
                }
            }
            Err(e) => {
                assert_eq!(e, Errno::EBADF, "close won the lookup");
                assert_eq!(end, 1);
            }
        }
        assert!(!ctx.hdr.is_released(), "the context outlives the file");
        eventfd_ctx_put(&ctx);
        assert!(ctx.hdr.is_released());
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    });
    assert!(CLOSED_WHILE_READING.load(Ordering::Relaxed), "no interleaving closed the fd while the read held the file");
}

/// An in-kernel user signals through its context reference
/// (`eventfd_ctx_fdget`) while another thread closes the last fd. Since
/// the 2009 split the context has its own `kref`: the close frees the file
/// only, and the signal and the final put touch a live context. With
/// `eventfd_ctx_freed_with_file` the file's release frees the context
/// whatever its count, and loom must find the interleaving where the close
/// comes first and the signal touches freed memory (a use-after-free of
/// the `eventfd_ctx`). Returns whether one was reported.
fn signal_vs_last_close(bugs: BugSet) -> bool {
    let (k, t) = setup(bugs);
    let fd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
    let ctx = eventfd_ctx_fdget(&t, fd).unwrap();
    let signaller = thread::spawn(move || {
        eventfd_signal(&ctx, 1);
        eventfd_ctx_put(&ctx);
    });
    assert_eq!(sys_close(&t, fd), Ok(()));
    signaller.join().unwrap();
    let uaf = k.objs.reports().iter().any(|r| matches!(r, Report::UseAfterFree { ty: "eventfd_ctx", .. }));
    if !bugs.has(Bug::EventfdCtxFreedWithFile) {
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
        assert_eq!(live(&k, "eventfd_ctx"), 0, "the last put frees the context");
    }
    uaf
}

#[test]
fn signal_vs_last_close_keeps_ctx() {
    model("signal_vs_last_close_keeps_ctx", || {
        assert!(!signal_vs_last_close(BugSet::NONE));
    });
}

#[test]
fn ctx_freed_with_file_bug_is_found() {
    static SAW_UAF: AtomicBool = AtomicBool::new(false);
    model("ctx_freed_with_file_bug_is_found", || {
        if signal_vs_last_close(BugSet::NONE.with(Bug::EventfdCtxFreedWithFile)) {
            SAW_UAF.store(true, Ordering::Relaxed);
        }
    });
    assert!(SAW_UAF.load(Ordering::Relaxed), "loom missed the eventfd_ctx freed with its file");
}
