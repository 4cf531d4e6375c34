//! What the book's chapter "Modelling your own kernel code" claims of the
//! tutorial mailbox's scenarios: with the tutorial toggle on, the search
//! finds the lost wake-up at lock granularity with every named yield point
//! off, and cannot at call granularity; the fixed file, the same scenario
//! without the toggle, explores clean at lock granularity; the
//! counterexample replays.

use scenarios::explore::{explore, ExploreOptions, Report};
use sim_kernel::sched::Granularity;

fn file(rel: &str) -> (String, String) {
    let path = format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (path, src)
}

const BUG: &str = "tests/fail/bug_tutorial_mailbox_lost_wakeup.scn";
const FIXED: &str = "library/race_mailbox_read_vs_post.scn";

fn search(rel: &str, g: Granularity) -> (String, Report) {
    let (path, src) = file(rel);
    let o = ExploreOptions { granularity: Some(g), no_named_yield_points: true, ..Default::default() };
    let r = explore(&path, &src, &o).unwrap_or_else(|e| panic!("explore {path}: {e}"));
    (path, r)
}

#[test]
fn the_lost_wakeup_is_found_only_at_lock_granularity_with_no_named_yield_point() {
    let (_, call) = search(BUG, Granularity::Call);
    assert!(call.complete && !call.failed(), "call granularity cannot see the window: {call:?}");
    let (path, lock) = search(BUG, Granularity::Lock);
    assert!(lock.complete && lock.no_named_yield_points, "{lock:?}");
    assert_eq!(lock.counterexamples.len(), 1, "{lock:?}");
    let c = &lock.counterexamples[0];
    assert_eq!(c.kind, "deadlock", "{c:?}");
    assert!(c.message.contains("reader blocked in read(fd, 8)") && c.message.contains("mailbox.wq"), "{c:?}");
    // Some executions get the value: the deadlock needs the post in the
    // window.
    assert!(lock.outcomes.iter().any(|o| o.values.get("reader.r").is_some_and(|v| v.starts_with("b\"\\x07"))));
    let l = scenarios::cli::LimitArgs {
        granularity: Some(Granularity::Lock),
        no_named_yield_points: true,
        ..Default::default()
    };
    let mut out = String::new();
    let code = scenarios::cli::cmd_replay_limited(&mut out, &path, &c.schedule, false, &Default::default(), &l);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("deadlock: no actor can run"), "{out}");
}

#[test]
fn the_fixed_file_explores_clean_at_lock_granularity() {
    let (_, r) = search(FIXED, Granularity::Lock);
    assert!(r.complete && !r.failed() && r.executions > 1, "{r:?}");
}

/// The two files differ only in their comments, title and `config` lines,
/// as the chapter says.
#[test]
fn the_bug_file_is_the_fixed_file_with_the_toggle() {
    let body = |rel: &str| -> Vec<String> {
        file(rel)
            .1
            .lines()
            .filter(|l| !(l.starts_with('#') || l.starts_with("scenario ") || l.starts_with("config ")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(body(BUG), body(FIXED));
    assert!(file(BUG).1.lines().any(|l| l == "config bug=tutorial_mailbox_lost_wakeup"));
}
