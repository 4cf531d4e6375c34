//! Loom models of the fd table's race windows (`fs/file.c`), on the real
//! kernel code: creating an fd is `alloc_fd` (reserve the lowest free slot
//! below RLIMIT_NOFILE, or EMFILE) then `fd_install`; a reserved slot is no
//! fd yet (close: EBADF) but is taken (dup2 onto it: EBUSY); close and dup2
//! take the table lock and put the file they removed after dropping it.
//! Every model ends by closing what it opened and checking the accounting:
//! the only file left is the console behind fds 0-2, no eventfd context is
//! live, and nothing was reported (leak, use-after-free, double free).
//!
//! The files are eventfds (cheap, and `eventfd2(count)` labels them: the
//! count tells which file an fd names). The bug
//! `eventfd_install_before_init` (the file published by `fd_install` before
//! it is finished) is re-introduced in the install-vs-close model and must
//! be found.
//!
//! See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_no_reports, live, model, setup, Reached};
use sim_kernel::abi::RLIMIT_NOFILE;
use sim_kernel::bugs::{Bug, BugSet};
use sim_kernel::eventfd::{eventfd_ctx_fdget, eventfd_ctx_put};
use sim_kernel::objtrack::Report;
use sim_kernel::syscall::{sys_close, sys_dup2, sys_eventfd2, sys_setrlimit};
use sim_kernel::{Errno, KResult, Kernel, Task};
use std::sync::atomic::{AtomicBool, Ordering};

/// `eventfd2(count, 0)`: the fd.
fn efd(t: &Task, count: u32) -> KResult<i64> {
    sys_eventfd2(t, count, 0).map(|fd| fd as i64)
}

/// The count of the eventfd behind `fd` (which file it is), or None if
/// `fd` is not an open eventfd.
fn label(t: &Task, fd: i64) -> Option<u64> {
    let ctx = eventfd_ctx_fdget(t, fd).ok()?;
    let n = ctx.count();
    eventfd_ctx_put(&ctx);
    Some(n)
}

/// The fds open in the process.
fn open_fds(t: &Task) -> Vec<i32> {
    t.proc().unwrap().files.open_fds()
}

/// Close `fds`, then check that every file reference was accounted: only
/// the console file (fds 0-2) is live, no eventfd context, no report.
fn close_and_check(k: &Kernel, t: &Task, fds: &[i64]) {
    for &fd in fds {
        assert_eq!(sys_close(t, fd), Ok(()), "close({fd})");
    }
    assert_eq!(open_fds(t), [0, 1, 2]);
    assert_eq!(live(k, "file"), 1, "a file leaked: {:?}", k.objs.live());
    assert_eq!(live(k, "eventfd_ctx"), 0, "an eventfd context leaked");
    assert_no_reports(k);
}

/// Two threads close the same fd: exactly one succeeds, the other gets
/// EBADF; the file is released once (a double put would be reported).
#[test]
fn close_vs_close() {
    model("close_vs_close", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = efd(&t, 1).unwrap();
        let other = {
            let t = t.clone();
            thread::spawn(move || sys_close(&t, fd))
        };
        let mine = sys_close(&t, fd);
        let theirs = other.join().unwrap();
        assert!(
            matches!((mine, theirs), (Ok(()), Err(Errno::EBADF)) | (Err(Errno::EBADF), Ok(()))),
            "close, close: {mine:?}, {theirs:?}"
        );
        close_and_check(&k, &t, &[]);
    });
}

/// close(3) against dup2(4, 3), fd 3 naming file A, fd 4 file B. dup2
/// replaces fd 3 in one step under the table lock: close never finds fd 3
/// missing. Close first: dup2 re-opens 3 on B. dup2 first: it puts A, and
/// close(3) closes the duplicate of B. A is released exactly once either
/// way; B lives on through fd 4.
#[test]
fn close_vs_dup2() {
    static SEEN: Reached = Reached::new();
    model("close_vs_dup2", || {
        let (k, t) = setup(BugSet::NONE);
        let a = efd(&t, 1).unwrap();
        let b = efd(&t, 2).unwrap();
        assert_eq!((a, b), (3, 4));
        let closer = {
            let t = t.clone();
            thread::spawn(move || sys_close(&t, 3))
        };
        assert_eq!(sys_dup2(&t, b, 3), Ok(3));
        assert_eq!(closer.join().unwrap(), Ok(()));
        assert_eq!(label(&t, b), Some(2));
        match label(&t, 3) {
            Some(2) => {
                SEEN.mark("close first");
                close_and_check(&k, &t, &[3, b]);
            }
            None => {
                SEEN.mark("dup2 first");
                close_and_check(&k, &t, &[b]);
            }
            Some(n) => panic!("fd 3 names the closed file ({n})"),
        }
    });
    SEEN.assert_all("close_vs_dup2", &["close first", "dup2 first"]);
}

/// A new eventfd (alloc_fd of 3, then fd_install) against close(3) in
/// another thread. Before the install, 3 is reserved or free: close is
/// EBADF and the new fd stays. After it, close succeeds and releases the
/// new file. Returns whether a use-after-free was reported. With
/// `eventfd_install_before_init` the file is installed before it is
/// finished (the pre-2009 `anon_inode_getfd` order), so a close in that
/// window frees it under `eventfd()`, which then writes to it.
fn create_vs_close(bugs: BugSet, seen: &Reached) -> bool {
    let (k, t) = setup(bugs);
    let creator = {
        let t = t.clone();
        thread::spawn(move || efd(&t, 1))
    };
    let closed = sys_close(&t, 3);
    assert_eq!(creator.join().unwrap(), Ok(3), "the lowest free fd");
    let uaf = k.objs.reports().iter().any(|r| matches!(r, Report::UseAfterFree { ty: "file", .. }));
    if bugs.has(Bug::EventfdInstallBeforeInit) {
        return uaf;
    }
    match closed {
        Ok(()) => {
            seen.mark("closed the new file");
            close_and_check(&k, &t, &[]);
        }
        Err(Errno::EBADF) => {
            seen.mark("EBADF");
            assert_eq!(label(&t, 3), Some(1));
            close_and_check(&k, &t, &[3]);
        }
        Err(e) => panic!("close: {e:?}"),
    }
    uaf
}

#[test]
fn install_vs_close() {
    static SEEN: Reached = Reached::new();
    model("install_vs_close", || {
        assert!(!create_vs_close(BugSet::NONE, &SEEN));
    });
    SEEN.assert_all("install_vs_close", &["closed the new file", "EBADF"]);
}

/// The same model with `eventfd_install_before_init`: loom should find the
/// close that frees the file between its install and its last
/// initialisation (`f_mode |= FMODE_NOWAIT`), as `ksim explore` does
/// (`scenarios/tests/fail/bug_install_before_init.scn`).
///
/// The creator's access in the window is a write (`f_mode |=`), and the
/// kernel checks it as one (`File::check_write`): under loom a
/// read-modify-write of the file's `released` flag. It used to be a load,
/// and loom never found the bug: its DPOR keeps one last access per atomic
/// (`rt::atomic`'s `last_access`), and the close's `__fput` does its own
/// `check` load of the flag just before the `swap` that frees, so the swap
/// was only ever compared with the closer's own load and the creator's
/// load was never seen as racing. A write conflicts with the closer's load
/// itself, and loom reverses them. The same shape (a check of an object's
/// liveness, then its use, against a check-then-release) can hide other
/// use-after-free windows from loom when the use is a read.
#[test]
fn install_before_init_bug_is_found() {
    static SEEN: Reached = Reached::new();
    static FOUND: AtomicBool = AtomicBool::new(false);
    model("install_before_init_bug_is_found", || {
        if create_vs_close(BugSet::NONE.with(Bug::EventfdInstallBeforeInit), &SEEN) {
            FOUND.store(true, Ordering::Relaxed);
        }
    });
    assert!(FOUND.load(Ordering::Relaxed), "loom missed the close of a half-made eventfd");
}

/// A new eventfd against dup2(0, 3) onto the fd it is about to get. dup2
/// first: 3 names the console and the eventfd gets 4. dup2 while 3 is
/// reserved: EBUSY, and the eventfd keeps 3. dup2 after the install: it
/// replaces (and releases) the new eventfd. No file is lost or kept alive.
#[test]
fn install_vs_dup2_onto_reserved() {
    static SEEN: Reached = Reached::new();
    model("install_vs_dup2_onto_reserved", || {
        let (k, t) = setup(BugSet::NONE);
        let creator = {
            let t = t.clone();
            thread::spawn(move || efd(&t, 1))
        };
        let duped = sys_dup2(&t, 0, 3);
        let e = creator.join().unwrap().unwrap();
        match (duped, e) {
            (Ok(3), 4) => {
                SEEN.mark("dup2 first");
                assert_eq!(label(&t, 3), None, "3 is the console");
                assert_eq!(label(&t, 4), Some(1));
                close_and_check(&k, &t, &[3, 4]);
            }
            (Err(Errno::EBUSY), 3) => {
                SEEN.mark("EBUSY");
                assert_eq!(label(&t, 3), Some(1));
                close_and_check(&k, &t, &[3]);
            }
            (Ok(3), 3) => {
                SEEN.mark("replaced the new file");
                assert_eq!(label(&t, 3), None, "3 is the console");
                assert_eq!(live(&k, "eventfd_ctx"), 0, "dup2 released the eventfd it replaced");
                close_and_check(&k, &t, &[3]);
            }
            other => panic!("dup2, eventfd: {other:?}"),
        }
    });
    SEEN.assert_all("install_vs_dup2_onto_reserved", &["dup2 first", "EBUSY", "replaced the new file"]);
}

/// Lowest-free allocation under concurrency: fds 3 and 4 are open; one
/// thread closes 3 while two others each create an eventfd. Each
/// allocation takes the lowest free fd at its moment, and no fd is handed
/// out twice: the two new fds are {3, 5} (the close came before one of
/// them) or {5, 6} (after both).
#[test]
fn lowest_free_under_concurrency() {
    static SEEN: Reached = Reached::new();
    model("lowest_free_under_concurrency", || {
        let (k, t) = setup(BugSet::NONE);
        assert_eq!(efd(&t, 1), Ok(3));
        assert_eq!(efd(&t, 2), Ok(4));
        let closer = {
            let t = t.clone();
            thread::spawn(move || sys_close(&t, 3))
        };
        let creator = {
            let t = t.clone();
            thread::spawn(move || efd(&t, 7).unwrap())
        };
        let f = efd(&t, 7).unwrap();
        let e = creator.join().unwrap();
        assert_eq!(closer.join().unwrap(), Ok(()));
        let mut got = [e, f];
        got.sort();
        match got {
            [3, 5] => SEEN.mark("3, 5"),
            [5, 6] => SEEN.mark("5, 6"),
            other => panic!("allocated {other:?}"),
        }
        assert_eq!(label(&t, e), Some(7));
        assert_eq!(label(&t, f), Some(7));
        close_and_check(&k, &t, &[4, e, f]);
    });
    SEEN.assert_all("lowest_free_under_concurrency", &["3, 5", "5, 6"]);
}

/// EMFILE at the RLIMIT_NOFILE limit under concurrency: the limit is 4,
/// so only fd 3 is free; two threads create an eventfd while a third
/// closes fd 2. Both succeed ({2, 3}) if the close came before the second
/// allocation, else one gets EMFILE, having made nothing (EMFILE is decided
/// before the file exists): never an fd at or above the limit, never one
/// fd twice, never a leaked file.
#[test]
fn emfile_at_limit_under_concurrency() {
    static SEEN: Reached = Reached::new();
    model("emfile_at_limit_under_concurrency", || {
        let (k, t) = setup(BugSet::NONE);
        assert_eq!(sys_setrlimit(&t, RLIMIT_NOFILE, 4), Ok(()));
        let closer = {
            let t = t.clone();
            thread::spawn(move || sys_close(&t, 2))
        };
        let creator = {
            let t = t.clone();
            thread::spawn(move || efd(&t, 1))
        };
        let f = efd(&t, 2);
        let e = creator.join().unwrap();
        assert_eq!(closer.join().unwrap(), Ok(()));
        let made: Vec<i64> = [e, f].into_iter().filter_map(Result::ok).collect();
        assert_eq!(live(&k, "eventfd_ctx"), made.len(), "an EMFILE left a context behind");
        match (e, f) {
            (Ok(a), Ok(b)) => {
                assert!(a != b && a.max(b) == 3 && a.min(b) == 2, "allocated {a}, {b}");
                SEEN.mark("both");
            }
            (Ok(3), Err(Errno::EMFILE)) | (Err(Errno::EMFILE), Ok(3)) => SEEN.mark("one EMFILE"),
            other => panic!("allocated {other:?}"),
        }
        for fd in &made {
            assert_eq!(sys_close(&t, *fd), Ok(()));
        }
        assert_eq!(open_fds(&t), [0, 1]);
        assert_eq!(live(&k, "file"), 1);
        assert_eq!(live(&k, "eventfd_ctx"), 0);
        assert_no_reports(&k);
    });
    SEEN.assert_all("emfile_at_limit_under_concurrency", &["both", "one EMFILE"]);
}
