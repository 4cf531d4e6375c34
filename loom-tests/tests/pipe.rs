//! Loom models of the pipe's race windows (`fs/pipe.c`), on the real
//! kernel code: `pipe->mutex` serialises readers, writers and fcntls, the
//! ring lives under `rd_wait`'s lock, a writer checks `pipe_writable` under
//! `wr_wait`'s lock, and `pipe_release` wakes both sides when the last
//! reader or the last writer goes. A lost wake-up is a loom deadlock.
//!
//! SIGPIPE: `pipe_write` sends it to its caller (`send_sig(SIGPIPE,
//! current, 0)`: the writing task is passed down to `->write`), counted per
//! process; `sigpipe_goes_to_each_writer` checks that two processes
//! writing at once each get their own.
//!
//! See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_no_reports, int_arg, live, model, setup, Reached};
use sim_kernel::abi::{FIONREAD, F_GETPIPE_SZ, F_SETPIPE_SZ, O_NONBLOCK, SIGPIPE};
use sim_kernel::bugs::BugSet;
use sim_kernel::syscall::{sigcount, sys_close, sys_fcntl, sys_ioctl, sys_pipe2, sys_read, sys_write};
use sim_kernel::vfs::file::IoctlOut;
use sim_kernel::{Errno, Kernel, Task};

const PAGE: usize = 4096;

/// `pipe2(flags)`: (read fd, write fd).
fn pipe(t: &Task, flags: u32) -> (i64, i64) {
    let (r, w) = sys_pipe2(t, flags).unwrap();
    (r as i64, w as i64)
}

/// A pipe of one slot (`F_SETPIPE_SZ` 4096): a page fills it.
fn one_slot_pipe(t: &Task, flags: u32) -> (i64, i64) {
    let (r, w) = pipe(t, flags);
    assert_eq!(sys_fcntl(t, w, F_SETPIPE_SZ, PAGE as u64), Ok(PAGE as u64));
    (r, w)
}

/// `ioctl(fd, FIONREAD)`: the bytes queued.
fn fionread(t: &Task, fd: i64) -> u64 {
    match sys_ioctl(t, fd, FIONREAD, &int_arg(0)) {
        Ok(IoctlOut::Int(n)) => n,
        other => panic!("FIONREAD: {other:?}"),
    }
}

/// Read (blocking) until `n` bytes came, or end of file.
fn read_n(t: &Task, fd: i64, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let b = sys_read(t, fd, (n - got.len()) as u64).unwrap();
        if b.is_empty() {
            break;
        }
        got.extend_from_slice(&b);
    }
    got
}

/// The end of a model: `fds` closed, the pipe freed with what it held, and
/// nothing reported.
fn close_and_check_freed(k: &Kernel, t: &Task, fds: &[i64]) {
    for &fd in fds {
        assert_eq!(sys_close(t, fd), Ok(()));
    }
    assert_eq!(live(k, "pipe_inode_info"), 0, "the pipe outlived its files");
    assert_no_reports(k);
}

/// A write against a blocking read of an empty pipe: the reader is woken
/// (else deadlock) and gets the whole write (a write of at most PIPE_BUF
/// bytes is atomic).
#[test]
fn writer_vs_blocking_reader() {
    model("writer_vs_blocking_reader", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = pipe(&t, 0);
        let reader = {
            let t = t.clone();
            thread::spawn(move || sys_read(&t, r, 10))
        };
        assert_eq!(sys_write(&t, w, b"ab"), Ok(2));
        assert_eq!(reader.join().unwrap(), Ok(b"ab".to_vec()));
        close_and_check_freed(&k, &t, &[r, w]);
    });
}

/// Two writers of 3 bytes each against a blocking reader that reads until
/// it has 6: both writes arrive, whole (PIPE_BUF atomicity: never
/// interleaved), in one order or the other, and both orders happen.
#[test]
fn two_writers_atomic_vs_reader() {
    static SEEN: Reached = Reached::new();
    model("two_writers_atomic_vs_reader", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = pipe(&t, 0);
        let writers: Vec<_> = [b"aaa", b"bbb"]
            .into_iter()
            .map(|d| {
                let t = t.clone();
                thread::spawn(move || assert_eq!(sys_write(&t, w, d), Ok(3)))
            })
            .collect();
        let got = read_n(&t, r, 6);
        for h in writers {
            h.join().unwrap();
        }
        match &got[..] {
            b"aaabbb" => SEEN.mark("aaabbb"),
            b"bbbaaa" => SEEN.mark("bbbaaa"),
            other => panic!("writes interleaved or lost: {:?}", String::from_utf8_lossy(other)),
        }
        close_and_check_freed(&k, &t, &[r, w]);
    });
    SEEN.assert_all("two_writers_atomic_vs_reader", &["aaabbb", "bbbaaa"]);
}

/// A write of one page and one byte through a one-slot pipe: the writer
/// fills the slot and sleeps on `wr_wait` until the reader empties it. The
/// reader must wake it (else deadlock), and reads every byte once, in
/// order.
#[test]
fn writer_blocked_on_full_vs_reader_draining() {
    model("writer_blocked_on_full_vs_reader_draining", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = one_slot_pipe(&t, 0);
        let data: Vec<u8> = (0..PAGE + 1).map(|i| (i % 251) as u8).collect();
        let writer = {
            let (t, data) = (t.clone(), data.clone());
            thread::spawn(move || sys_write(&t, w, &data))
        };
        let got = read_n(&t, r, PAGE + 1);
        assert_eq!(writer.join().unwrap(), Ok(PAGE + 1));
        assert!(got == data, "bytes lost, duplicated or reordered");
        assert_eq!(fionread(&t, r), 0);
        close_and_check_freed(&k, &t, &[r, w]);
    });
}

/// Two readers block on an empty pipe; the last writer's close must wake
/// both, and both see end of file (Linux 6551d5c56eb0 "pipe: make sure to
/// wake up everybody when the last reader/writer closes"; LTP pipe13). A
/// reader left asleep is a loom deadlock.
#[test]
fn last_writer_close_wakes_all_readers() {
    model("last_writer_close_wakes_all_readers", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = pipe(&t, 0);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let t = t.clone();
                thread::spawn(move || sys_read(&t, r, 10))
            })
            .collect();
        assert_eq!(sys_close(&t, w), Ok(()));
        for h in readers {
            assert_eq!(h.join().unwrap(), Ok(Vec::new()), "a reader missed end of file");
        }
        close_and_check_freed(&k, &t, &[r]);
    });
}

/// A small write against the last reader's close: the write either queues
/// its 3 bytes (the close came after; they are freed with the pipe) or
/// fails with EPIPE and one SIGPIPE; never both, never neither.
#[test]
fn write_vs_last_reader_close() {
    static SEEN: Reached = Reached::new();
    model("write_vs_last_reader_close", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = pipe(&t, 0);
        let writer = {
            let t = t.clone();
            thread::spawn(move || sys_write(&t, w, b"abc"))
        };
        assert_eq!(sys_close(&t, r), Ok(()));
        let n = writer.join().unwrap();
        let sigs = sigcount(&t, SIGPIPE).unwrap();
        match n {
            Ok(3) => {
                assert_eq!(sigs, 0);
                SEEN.mark("written");
            }
            Err(Errno::EPIPE) => {
                assert_eq!(sigs, 1);
                SEEN.mark("EPIPE");
            }
            other => panic!("write returned {other:?}"),
        }
        close_and_check_freed(&k, &t, &[w]);
    });
    SEEN.assert_all("write_vs_last_reader_close", &["written", "EPIPE"]);
}

/// A blocking write of two pages into a one-slot pipe fills it and sleeps;
/// the last reader's close wakes it and it returns the partial count (the
/// page it queued), with a SIGPIPE. Had the close come first: EPIPE, also
/// with one SIGPIPE (gVisor PipeTest.BlockPartialWriteClosed; fs/pipe.c:
/// "send_sig(SIGPIPE, current, 0); if (!ret) ret = -EPIPE;"). The queued
/// page is accounted: FIONREAD is never read here, but the pipe is freed
/// with it and nothing leaks.
#[test]
fn partial_write_vs_last_reader_close() {
    static SEEN: Reached = Reached::new();
    model("partial_write_vs_last_reader_close", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = one_slot_pipe(&t, 0);
        let writer = {
            let t = t.clone();
            thread::spawn(move || sys_write(&t, w, &[7u8; 2 * PAGE]))
        };
        assert_eq!(sys_close(&t, r), Ok(()));
        let n = writer.join().unwrap();
        assert_eq!(sigcount(&t, SIGPIPE).unwrap(), 1, "write {n:?}");
        match n {
            Ok(PAGE) => SEEN.mark("partial"),
            Err(Errno::EPIPE) => SEEN.mark("EPIPE"),
            other => panic!("write returned {other:?}"),
        }
        close_and_check_freed(&k, &t, &[w]);
    });
    SEEN.assert_all("partial_write_vs_last_reader_close", &["partial", "EPIPE"]);
}

/// A writer sleeps on a full one-slot pipe; F_SETPIPE_SZ grows the ring to
/// two slots, which "might have made more room for writers": it must wake
/// the writer (else deadlock), whose byte then lands in the new slot.
#[test]
fn setpipe_sz_grow_wakes_blocked_writer() {
    model("setpipe_sz_grow_wakes_blocked_writer", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = one_slot_pipe(&t, 0);
        assert_eq!(sys_write(&t, w, &[1u8; PAGE]), Ok(PAGE));
        let writer = {
            let t = t.clone();
            thread::spawn(move || sys_write(&t, w, b"x"))
        };
        assert_eq!(sys_fcntl(&t, r, F_SETPIPE_SZ, 2 * PAGE as u64), Ok(2 * PAGE as u64));
        assert_eq!(writer.join().unwrap(), Ok(1));
        assert_eq!(fionread(&t, r), PAGE as u64 + 1);
        close_and_check_freed(&k, &t, &[r, w]);
    });
}

/// F_SETPIPE_SZ shrinking a pipe to one slot against a non-blocking write
/// of a page and a byte (two slots). Both run under `pipe->mutex`: either
/// the resize comes first and the write stops at the full slot (a partial
/// 4096), or the write comes first and the resize finds two slots queued
/// (EBUSY, the size unchanged). The bytes queued always equal the bytes
/// written.
#[test]
fn setpipe_sz_shrink_vs_write() {
    static SEEN: Reached = Reached::new();
    model("setpipe_sz_shrink_vs_write", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = pipe(&t, O_NONBLOCK);
        let writer = {
            let t = t.clone();
            thread::spawn(move || sys_write(&t, w, &[3u8; PAGE + 1]))
        };
        let resized = sys_fcntl(&t, r, F_SETPIPE_SZ, PAGE as u64);
        let n = writer.join().unwrap();
        let size = sys_fcntl(&t, r, F_GETPIPE_SZ, 0).unwrap();
        match (resized, n) {
            (Ok(4096), Ok(PAGE)) => {
                assert_eq!(size, PAGE as u64);
                SEEN.mark("resized first");
            }
            (Err(Errno::EBUSY), Ok(n)) if n == PAGE + 1 => {
                assert_eq!(size, 16 * PAGE as u64);
                SEEN.mark("write first");
            }
            other => panic!("resize and write returned {other:?}"),
        }
        assert_eq!(fionread(&t, r), n.unwrap() as u64);
        close_and_check_freed(&k, &t, &[r, w]);
    });
    SEEN.assert_all("setpipe_sz_shrink_vs_write", &["resized first", "write first"]);
}

/// A blocking read of an empty pipe against `close(r); write(w, "hi")` in
/// another thread. close drops only the table's reference: a reader that
/// looked the file up first keeps the read end open, so the write succeeds
/// and wakes it with the data. If the close won the lookup, the read is
/// EBADF, the read end is released, and the write is EPIPE. Never a reader
/// asleep on a pipe with no writer to come, never data written to a pipe
/// whose reader got EBADF.
#[test]
fn close_read_fd_vs_blocked_read() {
    static SEEN: Reached = Reached::new();
    model("close_read_fd_vs_blocked_read", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = pipe(&t, 0);
        let reader = {
            let t = t.clone();
            thread::spawn(move || sys_read(&t, r, 10))
        };
        assert_eq!(sys_close(&t, r), Ok(()));
        let wrote = sys_write(&t, w, b"hi");
        match (reader.join().unwrap(), wrote) {
            (Ok(b), Ok(2)) => {
                assert_eq!(b, b"hi");
                SEEN.mark("read");
            }
            (Err(Errno::EBADF), Err(Errno::EPIPE)) => SEEN.mark("EBADF"),
            other => panic!("read and write returned {other:?}"),
        }
        close_and_check_freed(&k, &t, &[w]);
    });
    SEEN.assert_all("close_read_fd_vs_blocked_read", &["read", "EBADF"]);
}

/// Two processes each write to their own pipe whose reader is gone, at
/// the same time: each gets exactly its own SIGPIPE and EPIPE (fs/pipe.c:
/// `send_sig(SIGPIPE, current, 0)`). A pending-signal flag shared between
/// the writers (as a `thread_local!` is between loom's threads, which run
/// on one OS thread, and between the executor's coroutines) loses one or
/// gives it to the wrong process.
#[test]
fn sigpipe_goes_to_each_writer() {
    model("sigpipe_goes_to_each_writer", || {
        let (k, t) = setup(BugSet::NONE);
        let p2 = sim_kernel::Process::new(&k, "p2");
        let t2 = Task::new(&k, Some(p2), "t2");
        let (r1, w1) = pipe(&t, 0);
        let (r2, w2) = pipe(&t2, 0);
        assert_eq!(sys_close(&t, r1), Ok(()));
        assert_eq!(sys_close(&t2, r2), Ok(()));
        let other = {
            let t2 = t2.clone();
            thread::spawn(move || sys_write(&t2, w2, b"x"))
        };
        assert_eq!(sys_write(&t, w1, b"x"), Err(Errno::EPIPE));
        assert_eq!(other.join().unwrap(), Err(Errno::EPIPE));
        assert_eq!(sigcount(&t, SIGPIPE).unwrap(), 1);
        assert_eq!(sigcount(&t2, SIGPIPE).unwrap(), 1);
        assert_eq!(sys_close(&t2, w2), Ok(()));
        t2.proc().unwrap().exit_files();
        close_and_check_freed(&k, &t, &[w1]);
    });
}
