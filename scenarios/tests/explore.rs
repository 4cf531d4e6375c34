//! The explorer's contract: completeness (known interleaving counts), the
//! reduction keeps every outcome and violation of the naive search,
//! sharding partitions the search exactly, parallel equals sequential,
//! reports are deterministic, and counterexamples replay.

use scenarios::cli::{cmd_replay, load_source};
use scenarios::explore::{explore, explore_parallel, merge, ExploreOptions, Mode, Report};
use std::collections::BTreeSet;

fn run(src: &str, o: &ExploreOptions) -> Report {
    explore("t.scn", src, o).unwrap_or_else(|e| panic!("explore failed:\n{e}"))
}

fn naive() -> ExploreOptions {
    ExploreOptions { mode: Mode::Naive, ..Default::default() }
}

fn outcome_set(r: &Report) -> BTreeSet<Vec<(String, String)>> {
    r.outcomes.iter().map(|o| o.values.clone().into_iter().collect()).collect()
}

fn violation_keys(r: &Report) -> BTreeSet<String> {
    r.counterexamples.iter().map(|c| c.key.clone()).collect()
}

/// Two threads of `a` and `b` steps on separate nonblocking eventfds, with
/// no yield point inside the calls: the naive search must visit exactly
/// C(a+b, a) interleavings.
fn two_threads(a: usize, b: usize) -> String {
    let mut s = String::from("setup:\n  x = eventfd(0, EFD_NONBLOCK)\n  y = eventfd(0, EFD_NONBLOCK)\nthread t1:\n");
    for _ in 0..a {
        s.push_str("  eventfd_write(x, 1)\n");
    }
    s.push_str("thread t2:\n");
    for _ in 0..b {
        s.push_str("  eventfd_write(y, 1)\n");
    }
    s
}

fn binom(n: u64, k: u64) -> u64 {
    (1..=k).fold(1, |acc, i| acc * (n - k + i) / i)
}

#[test]
fn naive_search_visits_every_interleaving() {
    for (a, b) in [(1, 1), (2, 2), (3, 2), (4, 3)] {
        let r = run(&two_threads(a, b), &naive());
        assert!(r.complete);
        assert_eq!(r.executions, binom((a + b) as u64, a as u64), "{a}+{b} steps");
    }
    // Three single-step actors: 3! orders.
    let three = "setup:\n  x = eventfd(0, EFD_NONBLOCK)\nthread a:\n  eventfd_write(x, 1)\nthread b:\n  eventfd_write(x, 2)\nthread c:\n  r = eventfd_read(x)\n";
    assert_eq!(run(three, &naive()).executions, 6);
}

#[test]
fn reduction_does_not_multiply_independent_actors() {
    for (a, b) in [(2, 2), (4, 3)] {
        let r = run(&two_threads(a, b), &ExploreOptions::default());
        assert!(r.complete);
        assert_eq!(r.executions, 1, "actors on different eventfds: one execution covers every order");
    }
}

#[test]
fn preemption_bound_limits_the_naive_search() {
    let src = two_threads(3, 3);
    let all = run(&src, &naive()).executions;
    let b0 = run(&src, &ExploreOptions { preemptions: Some(0), ..Default::default() });
    let b1 = run(&src, &ExploreOptions { preemptions: Some(1), ..Default::default() });
    assert_eq!(b0.executions, 2, "no preemption: run t1 to the end then t2, or the reverse");
    assert!(b0.executions < b1.executions && b1.executions < all);
    assert!(b0.complete, "complete up to the bound");
}

const RACES: &[&str] = &[
    // The contract's first example.
    "setup:\n  efd = eventfd(0, 0)\n  ctx = eventfd_ctx_fdget(efd)\nthread reader:\n  r = eventfd_read(efd)\nthread closer:\n  close(efd) => 0\nkthread signaller:\n  eventfd_signal(ctx, 1) => 1\n  eventfd_ctx_put(ctx)\ncheck:\n  assert reader.r in {1, EBADF}\n  exists reader.r == 1\n  exists reader.r == EBADF\n",
    // Prefix sums: two writers, a nonblocking reader in between.
    "setup:\n  e = eventfd(0, EFD_NONBLOCK)\nthread w1:\n  eventfd_write(e, 1)\n  eventfd_write(e, 2)\nthread w2:\n  eventfd_write(e, 4)\nthread r:\n  a = eventfd_read(e)\nfinally:\n  rest = eventfd_read(e)\ncheck:\n  exists r.a == 7\n",
    // Semaphore ping-pong with blocking.
    "setup:\n  p = eventfd(0, EFD_SEMAPHORE)\n  q = eventfd(0, EFD_SEMAPHORE)\nthread ping:\n  eventfd_write(p, 1)\n  a = eventfd_read(q)\nthread pong:\n  b = eventfd_read(p)\n  eventfd_write(q, 1)\ncheck:\n  assert ping.a == 1 && pong.b == 1\n",
    // A deadlock in some schedules only, and a wrong assert.
    "setup:\n  e = eventfd(0, 0)\nthread a:\n  x = eventfd_read(e)\nthread b:\n  eventfd_write(e, 1)\nthread c:\n  y = eventfd_read(e)\ncheck:\n  assert a.x == 1\n",
    // The install-before-init bug: a close races the creation.
    "config bug=eventfd_install_before_init\nthread maker:\n  e = eventfd(0, 0)\nthread closer:\n  c = close(3)\n",
    // The ctx freed with the file: a signal after the close.
    "config bug=eventfd_ctx_freed_with_file\nsetup:\n  efd = eventfd(0, 0)\n  ctx = eventfd_ctx_fdget(efd)\nthread closer:\n  close(efd)\nkthread k:\n  eventfd_signal(ctx, 1)\n  eventfd_ctx_put(ctx)\n",
];

#[test]
fn reduction_keeps_every_outcome_and_violation() {
    for src in RACES {
        let full = run(src, &naive());
        let red = run(src, &ExploreOptions::default());
        assert!(full.complete && red.complete);
        assert_eq!(outcome_set(&red), outcome_set(&full), "outcomes differ for\n{src}");
        assert_eq!(violation_keys(&red), violation_keys(&full), "violations differ for\n{src}");
        let seen = |r: &Report| r.exists.iter().map(|e| e.seen).collect::<Vec<_>>();
        assert_eq!(seen(&red), seen(&full));
        assert!(red.executions <= full.executions);
    }
}

#[test]
fn historical_bugs_are_found_and_absent_without_the_toggle() {
    for (i, bug) in [(4, "use-after-free"), (5, "use-after-free")] {
        let r = run(RACES[i], &ExploreOptions::default());
        assert!(r.counterexamples.iter().any(|c| c.kind == bug), "{bug} not found in\n{}", RACES[i]);
        let fixed: String =
            RACES[i].lines().filter(|l| !l.starts_with("config bug=")).map(|l| format!("{l}\n")).collect();
        let r = run(&fixed, &ExploreOptions::default());
        assert!(r.counterexamples.iter().all(|c| c.kind != bug), "{bug} without the bug in\n{fixed}");
    }
}

#[test]
fn shards_partition_the_search() {
    for src in RACES.iter().chain([&two_threads(2, 2).as_str()]) {
        for mode in [Mode::Dpor, Mode::Naive] {
            let whole = run(src, &ExploreOptions { mode, ..Default::default() });
            for n in [2, 3] {
                let parts: Vec<Report> = (0..n)
                    .map(|i| run(src, &ExploreOptions { mode, shard: Some((i, n)), ..Default::default() }))
                    .collect();
                assert_eq!(
                    parts.iter().map(|p| p.executions).sum::<u64>(),
                    whole.executions,
                    "{mode:?} {n} shards of\n{src}"
                );
                let m = merge(&parts).unwrap();
                assert!(m.complete);
                assert_eq!(m.outcomes, whole.outcomes);
                assert_eq!(violation_keys(&m), violation_keys(&whole));
                assert_eq!(
                    m.exists,
                    whole
                        .exists
                        .iter()
                        .cloned()
                        .map(|mut e| {
                            // Merged exists keep the smallest witnessing schedule.
                            e.schedule = m.exists.iter().find(|x| x.line == e.line).and_then(|x| x.schedule.clone());
                            e
                        })
                        .collect::<Vec<_>>()
                );
            }
            let partial =
                merge(&[run(src, &ExploreOptions { mode, shard: Some((0, 2)), ..Default::default() })]).unwrap();
            assert!(!partial.complete, "one shard of two is not the whole search");
        }
    }
}

#[test]
fn parallel_equals_sequential_and_reports_are_deterministic() {
    for src in RACES {
        let seq = run(src, &ExploreOptions::default());
        let again = run(src, &ExploreOptions::default());
        assert_eq!(seq, again);
        let par = explore_parallel("t.scn", src, &ExploreOptions::default(), 2).unwrap();
        assert_eq!(par.executions, seq.executions);
        assert_eq!(par.outcomes, seq.outcomes);
        assert_eq!(violation_keys(&par), violation_keys(&seq));
        for (a, b) in par.counterexamples.iter().zip(&seq.counterexamples) {
            assert_eq!(
                (a.schedule.as_str(), a.preemptions),
                (b.schedule.as_str(), b.preemptions),
                "shortest counterexample"
            );
        }
    }
}

#[test]
fn counterexamples_replay() {
    let dir = std::env::temp_dir().join(format!("ksim-explore-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, src) in RACES.iter().enumerate() {
        let path = dir.join(format!("race{i}.scn"));
        std::fs::write(&path, src).unwrap();
        let path = path.to_string_lossy().to_string();
        let r = explore(&path, src, &ExploreOptions::default()).unwrap();
        for c in &r.counterexamples {
            let mut out = String::new();
            let code = cmd_replay(&mut out, &path, &c.schedule, false);
            assert_eq!(code, 1, "replay of {} should fail:\n{out}", c.schedule);
            let first_line = c.message.lines().next().unwrap();
            assert!(out.contains(first_line), "replay of {} does not show `{first_line}`:\n{out}", c.schedule);
        }
    }
    assert!(load_source("x.scn", RACES[0]).is_ok());
}

#[test]
fn unreachable_exists_fails_the_search() {
    let src = "setup:\n  e = eventfd(0, EFD_NONBLOCK)\nthread t:\n  r = eventfd_read(e)\ncheck:\n  exists t.r == 5\n";
    let r = run(src, &ExploreOptions::default());
    assert!(r.complete && r.failed());
    assert_eq!(r.exists.len(), 1);
    assert!(!r.exists[0].seen);
}
