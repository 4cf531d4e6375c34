//! Loom models of poll(2)'s wake-up registration (`fs/select.c`: `do_poll`,
//! `poll_wait`, `pollwake`, `poll_schedule_timeout`, `poll_freewait`), on the
//! real kernel code: a blocking poll queues one waiter on every wait queue
//! the file's `->poll` names, under that queue's lock and before it reads
//! the file's state, so that a change made after the read wakes it. A
//! wake-up lost between the poll's check and its sleep is a loom deadlock.
//!
//! See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_no_reports, model, setup, Reached};
use sim_kernel::abi::{POLLHUP, POLLIN, POLLOUT};
use sim_kernel::bugs::BugSet;
use sim_kernel::syscall::{sys_close, sys_eventfd2, sys_fcntl, sys_pipe2, sys_poll, sys_read, sys_write};

const ONE: [u8; 8] = 1u64.to_le_bytes();

/// A poll with no timeout for POLLIN on an empty eventfd against a write
/// of 1: the poll always returns POLLIN (never sleeps through the write).
#[test]
fn blocking_poll_vs_eventfd_write() {
    model("blocking_poll_vs_eventfd_write", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
        let writer = {
            let t = t.clone();
            thread::spawn(move || assert_eq!(sys_write(&t, fd, &ONE), Ok(8)))
        };
        assert_eq!(sys_poll(&t, fd, POLLIN, -1), Ok(POLLIN));
        writer.join().unwrap();
        assert_eq!(sys_close(&t, fd), Ok(()));
        assert_no_reports(&k);
    });
}

/// Two threads poll one empty eventfd, a third writes: the wake-up reaches
/// both (every wake-up on a wait queue is non-exclusive).
#[test]
fn two_pollers_one_eventfd_write() {
    model("two_pollers_one_eventfd_write", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
        let poller = {
            let t = t.clone();
            thread::spawn(move || sys_poll(&t, fd, POLLIN, -1))
        };
        let writer = {
            let t = t.clone();
            thread::spawn(move || assert_eq!(sys_write(&t, fd, &ONE), Ok(8)))
        };
        assert_eq!(sys_poll(&t, fd, POLLIN, -1), Ok(POLLIN));
        assert_eq!(poller.join().unwrap(), Ok(POLLIN));
        writer.join().unwrap();
        assert_eq!(sys_close(&t, fd), Ok(()));
        assert_no_reports(&k);
    });
}

/// A blocking poll of a pipe's read end against the last writer's close:
/// the poll returns POLLHUP (`pipe_release` wakes `rd_wait`; POLLHUP is
/// reported whatever the events asked).
#[test]
fn blocking_poll_vs_last_writer_close() {
    model("blocking_poll_vs_last_writer_close", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = sys_pipe2(&t, 0).unwrap();
        let (r, w) = (r as i64, w as i64);
        let closer = {
            let t = t.clone();
            thread::spawn(move || assert_eq!(sys_close(&t, w), Ok(())))
        };
        assert_eq!(sys_poll(&t, r, POLLIN, -1), Ok(POLLHUP));
        closer.join().unwrap();
        assert_eq!(sys_close(&t, r), Ok(()));
        assert_no_reports(&k);
    });
}

/// A blocking poll for POLLOUT on a full one-slot pipe against a read that
/// empties it: the read wakes `wr_wait` and the poll returns POLLOUT (the
/// events asked for, plus POLLERR and POLLHUP, are all poll reports).
#[test]
fn blocking_pollout_vs_read() {
    model("blocking_pollout_vs_read", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = sys_pipe2(&t, 0).unwrap();
        let (r, w) = (r as i64, w as i64);
        assert_eq!(sys_fcntl(&t, w, sim_kernel::abi::F_SETPIPE_SZ, 4096), Ok(4096));
        assert_eq!(sys_write(&t, w, &[7u8; 4096]), Ok(4096));
        let reader = {
            let t = t.clone();
            thread::spawn(move || assert_eq!(sys_read(&t, r, 4096).map(|b| b.len()), Ok(4096)))
        };
        assert_eq!(sys_poll(&t, w, POLLOUT, -1), Ok(POLLOUT));
        reader.join().unwrap();
        assert_eq!(sys_close(&t, w), Ok(()));
        assert_eq!(sys_close(&t, r), Ok(()));
        assert_no_reports(&k);
    });
}

/// A poll with a finite timeout against a write: POLLIN if the write came
/// first or woke it, 0 if it timed out first; both happen. loom has no
/// time: a timed-out poll is one that let the other thread run once and
/// was not woken (`sched::wait::PollWaiter`).
#[test]
fn timed_poll_vs_write() {
    static SEEN: Reached = Reached::new();
    model("timed_poll_vs_write", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = sys_pipe2(&t, 0).unwrap();
        let (r, w) = (r as i64, w as i64);
        let writer = {
            let t = t.clone();
            thread::spawn(move || assert_eq!(sys_write(&t, w, b"x"), Ok(1)))
        };
        match sys_poll(&t, r, POLLIN, 10) {
            Ok(0) => SEEN.mark("timed out"),
            Ok(POLLIN) => SEEN.mark("readable"),
            other => panic!("poll: {other:?}"),
        }
        writer.join().unwrap();
        // The poller's queue entries are gone once it returned
        // (`poll_freewait`): the last close frees the pipe.
        assert_eq!(sys_close(&t, w), Ok(()));
        assert_eq!(sys_close(&t, r), Ok(()));
        assert_no_reports(&k);
    });
    SEEN.assert_all("timed_poll_vs_write", &["timed out", "readable"]);
}
