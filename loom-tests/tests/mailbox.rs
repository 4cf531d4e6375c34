//! Loom models of the book's tutorial mailbox
//! (`sim_kernel::tutorial::mailbox`, chapter "Modelling your own kernel
//! code"), on its own code: `wq`'s lock protects the slot, a read checks
//! the slot and queues itself under one section of that lock, and the last
//! of the file's and the kernel users' references frees the mailbox. With
//! the tutorial toggle `tutorial_mailbox_lost_wakeup` on, loom must find
//! the interleaving in which the reader sleeps for ever.
//! See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_no_reports, live, model, read_u64, setup, Reached};
use sim_kernel::bugs::{Bug, BugSet};
use sim_kernel::syscall::{sys_close, sys_mailbox, sys_read};
use sim_kernel::tutorial::mailbox::{mailbox_get, mailbox_post, mailbox_put};
use sim_kernel::Errno;

// ANCHOR: read_vs_post
/// A blocking read of an empty mailbox against a kernel post: the reader
/// always gets the value (a lost wake-up would leave it asleep, which loom
/// reports as a deadlock), and the last put frees the mailbox.
fn read_vs_post(bugs: BugSet) {
    let (k, t) = setup(bugs);
    let fd = sys_mailbox(&t, 0).unwrap() as i64;
    let mb = mailbox_get(&t, fd).unwrap();
    let reader = {
        let t = t.clone();
        thread::spawn(move || sys_read(&t, fd, 8))
    };
    assert_eq!(mailbox_post(&mb, 7), Ok(()));
    mailbox_put(&mb);
    assert_eq!(read_u64(&reader.join().unwrap().unwrap()), 7);
    sys_close(&t, fd).unwrap();
    assert!(mb.hdr.is_released(), "the file held the last reference");
    assert_no_reports(&k);
}

#[test]
fn read_vs_post_never_loses_the_wakeup() {
    model("read_vs_post_never_loses_the_wakeup", || read_vs_post(BugSet::NONE));
}

/// The same model with the tutorial toggle on: in the interleaving where
/// the post lands between the read's check and its queueing, nothing wakes
/// the reader, and loom reports the deadlock. Loom's report of a deadlock
/// aborts the process (the blocked threads' destructors panic again while
/// it unwinds), so the model runs in a child process (`CHILD` set) and the
/// parent reads the report.
#[test]
fn lost_wakeup_bug_is_found() {
    if std::env::var_os(CHILD).is_some() {
        model("lost_wakeup_bug_is_found", || read_vs_post(BugSet::NONE.with(Bug::TutorialMailboxLostWakeup)));
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args(["--exact", "lost_wakeup_bug_is_found", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the model in a child process");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "loom missed the lost wake-up:\n{text}");
    assert!(text.contains("deadlock; threads"), "the model failed, but not with loom's deadlock:\n{text}");
}

/// Set in the child process that runs a model expected to deadlock.
const CHILD: &str = "KSIM_LOOM_EXPECT_DEADLOCK";
// ANCHOR_END: read_vs_post

/// The file's last close against a kernel thread that posts and drops its
/// reference: the post sees the mailbox open (0) or closed (EPIPE), the
/// mailbox is freed exactly once, by whichever reference went last, and
/// nothing touches it afterwards (no report).
#[test]
fn close_vs_post_and_put() {
    static SEEN: Reached = Reached::new();
    model("close_vs_post_and_put", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_mailbox(&t, 0).unwrap() as i64;
        let mb = mailbox_get(&t, fd).unwrap();
        let closer = {
            let t = t.clone();
            thread::spawn(move || sys_close(&t, fd))
        };
        let posted = mailbox_post(&mb, 7);
        mailbox_put(&mb);
        assert_eq!(closer.join().unwrap(), Ok(()));
        match posted {
            Ok(()) => SEEN.mark("posted"),
            Err(e) => {
                assert_eq!(e, Errno::EPIPE);
                SEEN.mark("EPIPE");
            }
        }
        assert!(mb.hdr.is_released());
        assert_eq!(live(&k, "mailbox"), 0);
        assert_no_reports(&k);
    });
    SEEN.assert_all("close_vs_post_and_put", &["posted", "EPIPE"]);
}
