//! Loom models of the notification queue's race windows
//! (`kernel/watch_queue.c` and the notification pipe of `fs/pipe.c`), on
//! the real kernel code: a post takes `wqueue->lock` and then the pipe's
//! ring lock, never the pipe mutex; the pipe's last close clears the queue
//! (`wqueue->pipe = NULL` under `wqueue->lock`) before freeing the pipe;
//! `watch_add` holds a queue reference but no file across its window. The
//! windows are the book's (`book/src/pipes.md`, "Race windows") and the
//! models follow the `race_wqueue_*.scn` scenarios; the notifying kernel
//! thread is a loom thread like the others (`post_notification` needs no
//! task).
//!
//! Two registered bugs are re-introduced and must be found:
//! `watch_queue_post_vs_clear` (a post uses the pipe the last close freed)
//! and `watch_queue_filter_oob` (CVE-2022-0995: the filter copy writes past
//! its allocation).
//!
//! See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_no_reports, fields, int_arg, live, model, setup, Reached};
use sim_kernel::abi::{
    F_SETFL, IOC_WATCH_QUEUE_SET_FILTER, IOC_WATCH_QUEUE_SET_SIZE, O_NONBLOCK, O_NOTIFICATION_PIPE,
    WATCH_META_REMOVAL_NOTIFICATION, WATCH_TYPE_META,
};
use sim_kernel::bugs::{Bug, BugSet};
use sim_kernel::objtrack::Report;
use sim_kernel::syscall::{sys_close, sys_fcntl, sys_ioctl, sys_pipe2, sys_read, sys_watch_add, sys_watch_remove};
use sim_kernel::watch_queue::{note_bytes, post_notification, watch_source, watch_source_destroy, WatchSource};
use sim_kernel::{Errno, Kernel, Task};
use std::sync::atomic::{AtomicBool, Ordering};

/// A notification pipe: (read fd, write fd).
fn notification_pipe(t: &Task, flags: u32) -> (i64, i64) {
    let (r, w) = sys_pipe2(t, O_NOTIFICATION_PIPE | flags).unwrap();
    (r as i64, w as i64)
}

/// `ioctl(r, IOC_WATCH_QUEUE_SET_SIZE, 1)`: 32 note slots.
fn set_size(t: &Task, r: i64) {
    sys_ioctl(t, r, IOC_WATCH_QUEUE_SET_SIZE, &int_arg(1)).unwrap();
}

/// The note `post_notification(src, ty, sub, payload)` puts in a queue
/// watched with ID `id`.
fn note(ty: u32, sub: u32, id: u32, payload: &[u8]) -> Vec<u8> {
    note_bytes(ty, sub, (8 + payload.len()) as u32 | id << 8, payload)
}

/// What is left to read, without blocking: the bytes, or empty on EAGAIN.
fn drain(t: &Task, r: i64) -> Vec<u8> {
    assert_eq!(sys_fcntl(t, r, F_SETFL, O_NONBLOCK as u64), Ok(0));
    match sys_read(t, r, 4096) {
        Ok(b) => b,
        Err(Errno::EAGAIN) => Vec::new(),
        Err(e) => panic!("read: {e:?}"),
    }
}

/// The end of a model: the source destroyed (if not yet), `fds` closed,
/// and every object of the queue freed with nothing reported.
fn teardown(k: &Kernel, t: &Task, src: &WatchSource, fds: &[i64]) {
    if !src.hdr.is_released() {
        watch_source_destroy(src);
    }
    for &fd in fds {
        assert_eq!(sys_close(t, fd), Ok(()));
    }
    for ty in ["pipe_inode_info", "watch_queue", "watch_queue_notes", "watch", "watch_source"] {
        assert_eq!(live(k, ty), 0, "a {ty} leaked");
    }
    assert_no_reports(k);
}

/// `race_wqueue_post_vs_read.scn`: a reader blocks on an empty
/// notification pipe while the kernel posts two notes. The first post
/// wakes it (else deadlock); the second lands before the reader samples
/// the ring head (one read returns both) or after (window
/// `pipe:read:after_head`: the read returns the first, the next read the
/// second). Never a note lost, split or read twice.
#[test]
fn post_vs_blocking_read() {
    static SEEN: Reached = Reached::new();
    model("post_vs_blocking_read", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = notification_pipe(&t, 0);
        set_size(&t, r);
        let src = watch_source(&k);
        assert_eq!(sys_watch_add(&t, &src, r, 1), Ok(()));
        let reader = {
            let t = t.clone();
            thread::spawn(move || sys_read(&t, r, 4096))
        };
        assert_eq!(post_notification(&src, 1, 1, b"a", 0), Ok(()));
        assert_eq!(post_notification(&src, 1, 2, b"b", 0), Ok(()));
        let x = reader.join().unwrap().unwrap();
        let (a, b) = (note(1, 1, 1, b"a"), note(1, 2, 1, b"b"));
        if x == a {
            assert_eq!(drain(&t, r), b, "the second note is left for the next read");
            SEEN.mark("one note");
        } else {
            assert_eq!(x, [a, b].concat());
            assert_eq!(drain(&t, r), b"");
            SEEN.mark("both notes");
        }
        teardown(&k, &t, &src, &[r, w]);
    });
    SEEN.assert_all("post_vs_blocking_read", &["one note", "both notes"]);
}

/// `race_wqueue_post_vs_set_size.scn`: a post against
/// IOC_WATCH_QUEUE_SET_SIZE. Before the note slots exist (also in the
/// window `watch_queue:set_size:after_resize`: the ring resized, no slot
/// yet) the note is lost; after, it is queued. Nothing half-done: a later
/// post is delivered, and teardown frees the slots.
#[test]
fn post_vs_set_size() {
    static SEEN: Reached = Reached::new();
    model("post_vs_set_size", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = notification_pipe(&t, O_NONBLOCK);
        let src = watch_source(&k);
        assert_eq!(sys_watch_add(&t, &src, r, 1), Ok(()));
        let sizer = {
            let t = t.clone();
            thread::spawn(move || set_size(&t, r))
        };
        assert_eq!(post_notification(&src, 1, 1, b"x", 0), Ok(()));
        sizer.join().unwrap();
        match sys_read(&t, r, 128) {
            Ok(x) => {
                assert_eq!(x, note(1, 1, 1, b"x"));
                SEEN.mark("queued");
            }
            Err(Errno::EAGAIN) => SEEN.mark("lost"),
            Err(e) => panic!("read: {e:?}"),
        }
        assert_eq!(post_notification(&src, 1, 2, b"y", 0), Ok(()));
        assert_eq!(sys_read(&t, r, 128), Ok(note(1, 2, 1, b"y")), "the slots work after the race");
        teardown(&k, &t, &src, &[r, w]);
    });
    SEEN.assert_all("post_vs_set_size", &["queued", "lost"]);
}

/// A post against the last close of the notification pipe it feeds
/// (`race_wqueue_post_vs_teardown.scn` with the read end closed first;
/// windows `watch_queue:post:pipe_lookup` and `watch_queue:clear:unlocked`).
/// Returns whether a use-after-free was reported. With the fix (Linux
/// 353f7988dd84 "watchqueue: make sure to serialize 'wqueue->defunct'
/// properly") the post takes `wqueue->lock` before it touches the pipe and
/// the clear sets `wqueue->pipe = NULL` under it, so the post lands in the
/// live pipe (freed with it) or finds none: nothing is reported and nothing
/// leaks.
///
/// The poster is the spawned thread and the closer the main one: loom's
/// preemption-bounded DPOR is not complete, and with the roles swapped it
/// needs a bound of 3 to reach the use-after-free of the buggy variant
/// (found at 3, missed at 2), where this arrangement finds it at 2.
fn post_vs_teardown(bugs: BugSet) -> bool {
    let (k, t) = setup(bugs);
    let (r, w) = notification_pipe(&t, 0);
    set_size(&t, r);
    let src = watch_source(&k);
    assert_eq!(sys_watch_add(&t, &src, r, 1), Ok(()));
    // The read end goes first; the write end's close is the last one,
    // which clears the queue and frees the pipe.
    assert_eq!(sys_close(&t, r), Ok(()));
    let poster = {
        let src = src.clone();
        thread::spawn(move || assert_eq!(post_notification(&src, 1, 1, b"a", 0), Ok(())))
    };
    assert_eq!(sys_close(&t, w), Ok(()));
    poster.join().unwrap();
    let uaf = k.objs.reports().iter().any(|r| matches!(r, Report::UseAfterFree { ty: "pipe_inode_info", .. }));
    if !bugs.has(Bug::WatchQueuePostVsClear) {
        assert_eq!(src.nr_watches(), 0, "the clear unlinks the watch from the source");
        teardown(&k, &t, &src, &[]);
    }
    uaf
}

#[test]
fn post_vs_teardown_no_use_after_free() {
    model("post_vs_teardown_no_use_after_free", || {
        assert!(!post_vs_teardown(BugSet::NONE));
    });
}

/// The same model with `watch_queue_post_vs_clear` (the pre-5.19 code: the
/// post reads `wqueue->pipe` without the lock, the clear leaves it
/// dangling): loom must find the interleaving where the post takes the
/// freed pipe's ring lock.
#[test]
fn post_vs_clear_bug_is_found() {
    static FOUND: AtomicBool = AtomicBool::new(false);
    model("post_vs_clear_bug_is_found", || {
        if post_vs_teardown(BugSet::NONE.with(Bug::WatchQueuePostVsClear)) {
            FOUND.store(true, Ordering::Relaxed);
        }
    });
    assert!(FOUND.load(Ordering::Relaxed), "loom missed the post into the freed pipe");
}

/// `race_wqueue_add_vs_close.scn`: watch_add races the close of both ends
/// of the pipe it names. Closed first: EINVAL (no such fd). Added first:
/// the watch is made, and the last close detaches it again. In the window
/// `watch_queue:watch:after_get_queue` (queue referenced, file reference
/// dropped) the pipe is torn down under the call: ENOENT. In every case
/// the source ends with no watch and nothing leaks.
#[test]
fn watch_add_vs_close() {
    static SEEN: Reached = Reached::new();
    model("watch_add_vs_close", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = notification_pipe(&t, 0);
        let src = watch_source(&k);
        let adder = {
            let (t, src) = (t.clone(), src.clone());
            thread::spawn(move || sys_watch_add(&t, &src, r, 1))
        };
        assert_eq!(sys_close(&t, r), Ok(()));
        assert_eq!(sys_close(&t, w), Ok(()));
        match adder.join().unwrap() {
            Ok(()) => SEEN.mark("0"),
            Err(Errno::EINVAL) => SEEN.mark("EINVAL"),
            Err(Errno::ENOENT) => SEEN.mark("ENOENT"),
            Err(e) => panic!("watch_add: {e:?}"),
        }
        assert_eq!(src.nr_watches(), 0, "a watch outlived its queue's pipe");
        teardown(&k, &t, &src, &[]);
    });
    SEEN.assert_all("watch_add_vs_close", &["0", "EINVAL", "ENOENT"]);
}

/// `race_wqueue_remove_vs_destroy.scn`: watch_remove against the watched
/// object's destruction. Exactly one of them unlinks the watch (under the
/// object's list lock) and posts the removal note: the queue gets one,
/// never two. watch_remove returns 0 (it was the one), EBADSLT (found
/// nothing) or ENOENT (the object was already gone).
#[test]
fn watch_remove_vs_destroy() {
    static SEEN: Reached = Reached::new();
    model("watch_remove_vs_destroy", || {
        let (k, t) = setup(BugSet::NONE);
        let (r, w) = notification_pipe(&t, O_NONBLOCK);
        set_size(&t, r);
        let src = watch_source(&k);
        assert_eq!(sys_watch_add(&t, &src, r, 7), Ok(()));
        let remover = {
            let (t, src) = (t.clone(), src.clone());
            thread::spawn(move || sys_watch_remove(&t, &src, r))
        };
        watch_source_destroy(&src);
        match remover.join().unwrap() {
            Ok(()) => SEEN.mark("0"),
            Err(Errno::EBADSLT) => SEEN.mark("EBADSLT"),
            Err(Errno::ENOENT) => SEEN.mark("ENOENT"),
            Err(e) => panic!("watch_remove: {e:?}"),
        }
        let removal = note(WATCH_TYPE_META, WATCH_META_REMOVAL_NOTIFICATION, 7, &src.id.to_le_bytes());
        assert_eq!(sys_read(&t, r, 4096), Ok(removal), "exactly one removal note");
        teardown(&k, &t, &src, &[r, w]);
    });
    SEEN.assert_all("watch_remove_vs_destroy", &["0", "EBADSLT", "ENOENT"]);
}

/// IOC_WATCH_QUEUE_SET_FILTER against a post of a META note: the filter
/// lets through type 1 only, so the note is delivered iff it was posted
/// before the filter was installed. The filter also names type 100, beyond
/// `WATCH_TYPE__NR`: the fixed code (Linux c993ee0f9f81 "watch_queue: Fix
/// filter limit check") ignores it; with `watch_queue_filter_oob`
/// (CVE-2022-0995) it is copied past the allocation. Returns whether a
/// KASAN report was made.
fn filter_vs_post(bugs: BugSet, seen: &Reached) -> bool {
    let (k, t) = setup(bugs);
    let (r, w) = notification_pipe(&t, O_NONBLOCK);
    set_size(&t, r);
    let src = watch_source(&k);
    assert_eq!(sys_watch_add(&t, &src, r, 1), Ok(()));
    let filterer = {
        let t = t.clone();
        thread::spawn(move || {
            let arg = fields(&[
                ("nr_filters", 2),
                ("filters[0].type", 1),
                ("filters[0].subtype_filter[0]", u32::MAX as u64),
                ("filters[1].type", 100),
                ("filters[1].subtype_filter[0]", u32::MAX as u64),
            ]);
            sys_ioctl(&t, r, IOC_WATCH_QUEUE_SET_FILTER, &arg).map(|_| ())
        })
    };
    assert_eq!(post_notification(&src, WATCH_TYPE_META as u64, 5, b"m", 0), Ok(()));
    assert_eq!(filterer.join().unwrap(), Ok(()));
    let kasan = !k.objs.reports().is_empty();
    match sys_read(&t, r, 128) {
        Ok(x) => {
            assert_eq!(x, note(WATCH_TYPE_META, 5, 1, b"m"));
            seen.mark("delivered");
        }
        Err(Errno::EAGAIN) => seen.mark("filtered"),
        Err(e) => panic!("read: {e:?}"),
    }
    // The filter is in place now: type 1 passes, type 0 does not.
    assert_eq!(post_notification(&src, 1, 3, b"p", 0), Ok(()));
    assert_eq!(post_notification(&src, 0, 3, b"q", 0), Ok(()));
    assert_eq!(drain(&t, r), note(1, 3, 1, b"p"));
    if !bugs.has(Bug::WatchQueueFilterOob) {
        teardown(&k, &t, &src, &[r, w]);
    }
    kasan
}

#[test]
fn set_filter_vs_post() {
    static SEEN: Reached = Reached::new();
    model("set_filter_vs_post", || {
        assert!(!filter_vs_post(BugSet::NONE, &SEEN), "the fixed filter copy overflowed");
    });
    SEEN.assert_all("set_filter_vs_post", &["delivered", "filtered"]);
}

/// The same model with `watch_queue_filter_oob`: the out-of-range filter
/// type is copied past the allocation and KASAN reports it (in every
/// interleaving: the overflow does not depend on the race, the model only
/// shows that the post path is unaffected).
#[test]
fn filter_oob_bug_is_found() {
    static SEEN: Reached = Reached::new();
    static FOUND: AtomicBool = AtomicBool::new(false);
    model("filter_oob_bug_is_found", || {
        if filter_vs_post(BugSet::NONE.with(Bug::WatchQueueFilterOob), &SEEN) {
            FOUND.store(true, Ordering::Relaxed);
        }
    });
    assert!(FOUND.load(Ordering::Relaxed), "loom missed the filter overflow (CVE-2022-0995)");
}
