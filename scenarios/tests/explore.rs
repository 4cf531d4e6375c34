//! The explorer's contract: completeness (known interleaving counts), the
//! reduction keeps every outcome and violation of the naive search,
//! sharding partitions the search exactly, parallel equals sequential,
//! reports are deterministic, and counterexamples replay.

use scenarios::cli::{cmd_replay, load_source};
use scenarios::explore::{explore, explore_parallel, merge, ExploreOptions, Mode, Report};
use sim_kernel::sched::Granularity;
use std::collections::{BTreeMap, BTreeSet};

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

// ---------------------------------------------------------------------
// Traces, naive counts, PCT, determinism, --trace, --shard env/N, many
// actors.

use scenarios::cli::{cmd_replay_with, parse_shard_from, TraceArgs};
use scenarios::explore::{explore_visit, PctOptions};
use scenarios::runner::{Execution, ViolationKind};

/// Shipped race scenarios whose executions never advance the virtual clock
/// (a timed wake-up orders steps in a way footprints do not show).
const LIBRARY_RACES: &[&str] = &[
    "close_vs_signal.scn",
    "race_prefix_sum.scn",
    "race_semaphore_two_readers.scn",
    "race_semaphore_three_readers.scn",
    "race_blocking_write.scn",
    "race_create_vs_close.scn",
    "race_irqfd_shutdown.scn",
];

fn library(name: &str) -> (String, String) {
    let path = format!("{}/library/{name}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (path, src)
}

/// The lexicographic normal form of an execution's Mazurkiewicz trace,
/// computed independently of the explorer: the steps (setup excluded) are
/// partially ordered by program order, by every pair of dependent steps
/// (footprints touching a common key, one writing) in the order they ran,
/// and by `finally` starting after every actor; the normal form is the
/// linearization that always takes the lowest-numbered actor whose next
/// step has no earlier constraint left. Two executions are the same trace
/// exactly when they have the same normal form.
fn normal_form(ex: &Execution, finally_id: usize) -> Vec<usize> {
    let steps: Vec<&sim_kernel::sched::exec::Step> = ex.steps.iter().filter(|s| s.actor != 0).collect();
    let m = steps.len();
    let before = |i: usize, j: usize| {
        steps[i].actor == steps[j].actor
            || steps[i].dependent(steps[j])
            || (steps[j].actor == finally_id && steps[i].actor != finally_id)
    };
    let mut done = vec![false; m];
    let mut out = Vec::with_capacity(m);
    for _ in 0..m {
        let next = (0..m)
            .filter(|&j| !done[j] && (0..j).all(|i| done[i] || !before(i, j)))
            .min_by_key(|&j| (steps[j].actor, j))
            .expect("a partial order always has a minimal element");
        done[next] = true;
        out.push(steps[next].actor);
    }
    out
}

fn traces(path: &str, src: &str, mode: Mode) -> (BTreeSet<Vec<usize>>, u64) {
    let n = load_source(path, src).unwrap().actors.len();
    let mut set = BTreeSet::new();
    let o = ExploreOptions { mode, record_steps: true, ..Default::default() };
    let r = explore_visit(path, src, &o, &mut |ex| {
        assert_eq!(ex.virtual_ns, 0, "{path}: the clock advanced");
        set.insert(normal_form(ex, n + 1));
    })
    .unwrap();
    assert!(r.complete);
    (set, r.executions)
}

#[test]
fn reduced_search_runs_each_trace_once_and_misses_none() {
    for name in LIBRARY_RACES {
        let (path, src) = library(name);
        let (all, naive_execs) = traces(&path, &src, Mode::Naive);
        let (seen, dpor_execs) = traces(&path, &src, Mode::Dpor);
        assert_eq!(seen, all, "{name}: the reduced search must reach every trace the naive one does");
        // Issue 7's bound is 2x; sleep sets make it 1x.
        assert_eq!(dpor_execs, all.len() as u64, "{name}: one execution per trace ({naive_execs} naive)");
    }
    let (path, src) = library("close_vs_signal.scn");
    let (all, naive) = traces(&path, &src, Mode::Naive);
    assert_eq!((all.len(), naive), (11, 17), "close vs signal: 17 schedules, 11 traces");
}

#[test]
fn naive_count_is_exact_where_reported() {
    for name in LIBRARY_RACES {
        let (path, src) = library(name);
        let naive = explore(&path, &src, &naive()).unwrap();
        let red = explore(&path, &src, &ExploreOptions::default()).unwrap();
        assert_eq!(naive.naive_executions, Some(naive.executions.to_string()));
        assert_eq!(red.naive_executions, Some(naive.executions.to_string()), "{name}");
        // Shards' shares add up to the same count.
        let parts: Vec<Report> = (0..3)
            .map(|i| explore(&path, &src, &ExploreOptions { shard: Some((i, 3)), ..Default::default() }).unwrap())
            .collect();
        assert!(parts.iter().all(|p| p.naive_executions.is_none()), "a shard alone does not know the whole count");
        assert_eq!(merge(&parts).unwrap().naive_executions, red.naive_executions, "{name}: merged shards");
    }
    for (a, b) in [(2, 2), (4, 3), (6, 5)] {
        let r = run(&two_threads(a, b), &ExploreOptions::default());
        assert_eq!(r.executions, 1);
        assert_eq!(r.naive_executions, Some(binom((a + b) as u64, a as u64).to_string()));
    }
    // A scenario whose clock advances: unknown, not guessed.
    let (path, src) = library("race_blocked_read_close_then_write.scn");
    assert_eq!(explore(&path, &src, &ExploreOptions::default()).unwrap().naive_executions, None);
    // An incomplete search: unknown.
    let r = run(RACES[2], &ExploreOptions { max_executions: Some(1), ..Default::default() });
    assert!(!r.complete && r.naive_executions.is_none());
}

#[test]
fn pct_is_deterministic_finds_races_and_states_its_guarantee() {
    let pct =
        |count, depth, seed| ExploreOptions { pct: Some(PctOptions { count, depth, seed }), ..Default::default() };
    let (path, src) = library("close_vs_signal.scn");
    let a = explore(&path, &src, &pct(200, 2, 7)).unwrap();
    let b = explore(&path, &src, &pct(200, 2, 7)).unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    assert_eq!(a.executions, 200);
    assert!(!a.complete && a.mode == "pct" && a.seed == Some(7));
    assert!(a.exists.iter().all(|e| e.seen), "PCT reaches both outcomes of close vs signal");
    let g = a.pct.clone().unwrap();
    assert_eq!(g.actors, 3);
    assert_eq!(g.bound_denominator, (g.actors * g.steps).to_string(), "n * k^(d-1) with d = 2");
    let c = explore(&path, &src, &pct(200, 2, 8)).unwrap();
    assert_ne!(a.exists, c.exists, "another seed, other witnesses");
    // The install-before-init bug needs one preemption: depth 2 finds it,
    // and its counterexample replays.
    let dir = std::env::temp_dir().join(format!("ksim-pct-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bug.scn");
    std::fs::write(&p, RACES[4]).unwrap();
    let p = p.to_string_lossy().to_string();
    let r = explore(&p, RACES[4], &pct(100, 2, 1)).unwrap();
    let cex = r.counterexamples.iter().find(|c| c.kind == "use-after-free").expect("PCT finds the bug");
    let mut out = String::new();
    assert_eq!(cmd_replay(&mut out, &p, &cex.schedule, false), 1, "{out}");
    // Depth 1 never preempts: the bug needs a preemption, so it is never hit.
    let r1 = explore(&p, RACES[4], &pct(100, 1, 1)).unwrap();
    assert!(r1.counterexamples.iter().all(|c| c.kind != "use-after-free"));
    // Sharded PCT runs split the executions exactly.
    let parts: Vec<Report> = (0..2)
        .map(|i| explore(&path, &src, &ExploreOptions { shard: Some((i, 2)), ..pct(200, 2, 7) }).unwrap())
        .collect();
    let m = merge(&parts).unwrap();
    assert_eq!(m.executions, 200);
    assert_eq!(m.outcomes, a.outcomes);
}

#[test]
fn same_input_same_report_byte_for_byte() {
    let json = |r: &Report| serde_json::to_string(r).unwrap();
    for name in LIBRARY_RACES.iter().chain(&["eventfd2_03_semaphore_pingpong.scn"]) {
        let (path, src) = library(name);
        for o in [
            ExploreOptions::default(),
            naive(),
            ExploreOptions { preemptions: Some(1), ..Default::default() },
            ExploreOptions { random: Some((50, 3)), ..Default::default() },
            ExploreOptions { pct: Some(PctOptions { count: 50, depth: 3, seed: 3 }), ..Default::default() },
        ] {
            if o.mode == Mode::Naive && *name == "eventfd2_03_semaphore_pingpong.scn" {
                continue; // 197,568 executions: the benchmark's job
            }
            let a = json(&explore(&path, &src, &o).unwrap());
            let b = json(&explore(&path, &src, &o).unwrap());
            assert_eq!(a, b, "{name} {o:?}");
            if o.random.is_none() && o.pct.is_none() && o.preemptions.is_none() {
                let par = json(&explore_parallel(&path, &src, &o, 3).unwrap());
                assert_eq!(par, a, "{name}: 3 threads give the sequential report byte for byte");
            }
        }
    }
}

#[test]
fn chrome_trace_has_one_track_per_actor_and_nested_spans() {
    let (path, src) = library("close_vs_signal.scn");
    let dir = std::env::temp_dir().join(format!("ksim-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("t.json");
    // The reader blocks first, the signal wakes it, then the close.
    let t = TraceArgs { trace: Some(out_file.to_string_lossy().to_string()), check_determinism: true };
    let mut out = String::new();
    assert_eq!(cmd_replay_with(&mut out, &path, "v1:0.2.1.0", false, &t), 0, "{out}");
    assert!(out.contains("determinism: two runs gave the same trace"), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let evs = doc["traceEvents"].as_array().expect("a traceEvents array");
    let prog = load_source(&path, &src).unwrap();
    // Perfetto's JSON rules: every event has ph, pid and tid; X has ts and
    // dur in microseconds; i has ts and a scope; M names tracks.
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    let mut spans: BTreeMap<u64, Vec<(f64, f64, String)>> = BTreeMap::new();
    let mut instants = Vec::new();
    let mut last_ts = 0.0;
    for e in evs {
        let ph = e["ph"].as_str().expect("ph");
        assert_eq!(e["pid"].as_u64(), Some(1), "{e}");
        let tid = e["tid"].as_u64().expect("tid");
        match ph {
            "M" => {
                if e["name"] == "thread_name" {
                    names.insert(tid, e["args"]["name"].as_str().unwrap().to_string());
                }
            }
            "X" | "i" => {
                let ts = e["ts"].as_f64().expect("ts");
                assert!(ts >= last_ts, "events are in time order");
                last_ts = ts;
                if ph == "X" {
                    let dur = e["dur"].as_f64().expect("dur");
                    assert!(dur >= 0.0);
                    spans.entry(tid).or_default().push((ts, ts + dur, e["cat"].as_str().unwrap().to_string()));
                    if e["cat"] == "call" {
                        assert!(e["args"]["result"].is_string() && e["args"]["call"].is_string(), "{e}");
                    }
                } else {
                    assert_eq!(e["s"], "t");
                    instants.push((
                        tid,
                        e["cat"].as_str().unwrap().to_string(),
                        e["name"].as_str().unwrap().to_string(),
                    ));
                }
            }
            other => panic!("unexpected ph {other}"),
        }
    }
    let mut expect: Vec<String> = vec!["setup".into()];
    expect.extend(prog.actors.iter().map(|a| a.name.clone()));
    assert_eq!(names.values().cloned().collect::<Vec<_>>(), expect, "one named track per actor");
    // Spans on one track nest (no partial overlap); the reader's wait is
    // inside its read.
    for v in spans.values() {
        for (i, a) in v.iter().enumerate() {
            for b in &v[i + 1..] {
                let disjoint = a.1 <= b.0 || b.1 <= a.0;
                let nested = (a.0 <= b.0 && b.1 <= a.1) || (b.0 <= a.0 && a.1 <= b.1);
                assert!(disjoint || nested, "{a:?} and {b:?} overlap");
            }
        }
    }
    let reader = 2;
    let rs = &spans[&reader];
    let wait = rs.iter().find(|s| s.2 == "wait").expect("the reader waits");
    assert!(rs.iter().any(|s| s.2 == "call" && s.0 <= wait.0 && wait.1 <= s.1));
    assert!(instants.iter().any(|(t, c, _)| *t == reader && c == "wakeup"));
    assert!(instants.iter().any(|(_, c, n)| c == "yield_point" && n == "eventfd:before_fd_install"));
    assert_eq!(spans.values().flatten().filter(|s| s.2 == "call").count(), 6, "six calls, six spans");
}

#[test]
fn shard_index_from_the_environment() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    };
    assert_eq!(parse_shard_from("env/4", &env(&[("SLURM_ARRAY_TASK_ID", "3")])), Ok((3, 4)));
    assert_eq!(
        parse_shard_from("env/4", &env(&[("JOB_COMPLETION_INDEX", "1"), ("SLURM_ARRAY_TASK_ID", "3")])),
        Ok((1, 4))
    );
    assert_eq!(parse_shard_from("2/4", &env(&[])), Ok((2, 4)));
    assert!(parse_shard_from("env/4", &env(&[])).is_err());
    assert!(parse_shard_from("env/4", &env(&[("JOB_COMPLETION_INDEX", "x")])).is_err());
    assert!(parse_shard_from("env/4", &env(&[("JOB_COMPLETION_INDEX", "4")])).is_err());
}

#[test]
fn many_actors_and_failures_do_not_abort() {
    // Ten threads: eight on their own eventfds, two racing on a shared one
    // with a wrong assert. The search completes, finds the violation and
    // returns a report (no actor cap, no abort).
    let mut s = String::from("setup:\n  shared = eventfd(0, EFD_NONBLOCK)\n");
    for i in 0..8 {
        s.push_str(&format!("  e{i} = eventfd(0, EFD_NONBLOCK)\n"));
    }
    for i in 0..8 {
        s.push_str(&format!("thread t{i}:\n  eventfd_write(e{i}, 1)\n  eventfd_write(e{i}, 2)\n"));
    }
    s.push_str(
        "thread w:\n  eventfd_write(shared, 5)\nthread r:\n  x = eventfd_read(shared)\ncheck:\n  assert r.x == 5\n",
    );
    let r = run(&s, &ExploreOptions::default());
    assert!(r.complete);
    assert_eq!(r.executions, 2, "only the shared eventfd's two orders matter");
    assert_eq!(r.counterexamples.len(), 1);
    assert_eq!(r.counterexamples[0].kind, "assert");
    // 18 steps of 10 actors: 18! / (2!^8 1! 1!) schedules.
    let expect: u128 = (1..=18u128).product::<u128>() / 256;
    // A failed assert does not stop an execution: the count stands.
    assert_eq!(r.naive_executions, Some(expect.to_string()));
    let ok = s.replace("assert r.x == 5", "assert r.x in {5, EAGAIN}");
    let r = run(&ok, &ExploreOptions::default());
    assert!(!r.failed());
    assert_eq!(r.naive_executions, Some(expect.to_string()));
}

// ---------------------------------------------------------------------
// Every shipped multi-actor scenario: the reduced search reaches exactly
// the naive search's traces, and its naive count is the naive search's
// execution count whenever it reports one.

/// Naive searches longer than this are skipped (and named in the output).
const NAIVE_LIMIT: u64 = 20_000;

/// The trace of an execution, canonically: [`normal_form`] for one that ran
/// to its end. An execution stopped by a violation (or pruned) is cut at the
/// failing step, and which independent steps of other actors happened to
/// run before the cut is an accident of the schedule; its canonical form is
/// the normal form of the failing (last) step's causal past (everything
/// ordered before it), marked as a cut. A deadlock is not a cut: every
/// actor ran as far as it could.
fn canonical_trace(ex: &Execution, finally_id: usize) -> (bool, Vec<usize>) {
    let deadlock = ex.violations.iter().any(|v| v.kind == ViolationKind::Deadlock);
    if !ex.stopped || deadlock {
        return (false, normal_form(ex, finally_id));
    }
    let steps: Vec<&sim_kernel::sched::exec::Step> = ex.steps.iter().filter(|s| s.actor != 0).collect();
    let Some(last) = steps.len().checked_sub(1) else { return (true, Vec::new()) };
    let before = |i: usize, j: usize| {
        steps[i].actor == steps[j].actor
            || steps[i].dependent(steps[j])
            || (steps[j].actor == finally_id && steps[i].actor != finally_id)
    };
    let mut keep = vec![false; steps.len()];
    keep[last] = true;
    for j in (0..last).rev() {
        keep[j] = (j + 1..=last).any(|k| keep[k] && before(j, k));
    }
    let mut cut = ex.clone();
    let mut idx = 0;
    cut.steps.retain(|s| {
        if s.actor == 0 {
            return true;
        }
        idx += 1;
        keep[idx - 1]
    });
    (true, normal_form(&cut, finally_id))
}

fn shipped_multi_actor_scenarios() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["library", "tests/fail"] {
        let d = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "scn"))
            .collect();
        files.sort();
        for p in files {
            let path = p.to_string_lossy().to_string();
            let src = std::fs::read_to_string(&p).unwrap();
            if load_source(&path, &src).is_ok_and(|prog| prog.actors.len() > 1) {
                out.push((path, src));
            }
        }
    }
    out
}

type TraceSet = BTreeMap<(bool, Vec<usize>), u64>;

fn trace_set(path: &str, src: &str, o: &ExploreOptions) -> (Report, TraceSet) {
    let (r, set, _) = traces_and_outcomes(path, src, o);
    (r, set)
}

/// The canonical traces of a search, and the outcomes of its executions
/// that ran to the end. A stopped execution's outcome is left out: it
/// holds whatever the other actors' independent steps had bound before
/// the stop (a value returned by a step that touches nothing the failing
/// step does), which is an accident of the schedule as its trace's
/// canonical form is not (see [`canonical_trace`]).
fn traces_and_outcomes(path: &str, src: &str, o: &ExploreOptions) -> (Report, TraceSet, BTreeSet<String>) {
    let n = load_source(path, src).unwrap().actors.len();
    let mut set = TraceSet::new();
    let mut outcomes = BTreeSet::new();
    let o = ExploreOptions { record_steps: true, ..o.clone() };
    let r = explore_visit(path, src, &o, &mut |ex| {
        *set.entry(canonical_trace(ex, n + 1)).or_insert(0) += 1;
        if !ex.stopped {
            outcomes.insert(ex.outcome.key().to_string());
        }
    })
    .unwrap();
    (r, set, outcomes)
}

#[test]
fn every_shipped_scenario_reduced_traces_equal_naive_traces() {
    reduced_traces_equal_naive_traces(Granularity::Call, 20);
}

/// The same at lock granularity, where every lock, refcount change and
/// wake-up is a scheduling point: more scenarios exceed the naive limit
/// there (they are named in the output), the rest must match exactly.
#[test]
fn every_shipped_scenario_reduced_traces_equal_naive_traces_at_lock_granularity() {
    reduced_traces_equal_naive_traces(Granularity::Lock, 10);
}

fn reduced_traces_equal_naive_traces(g: Granularity, at_least: usize) {
    let scns = shipped_multi_actor_scenarios();
    assert!(scns.len() >= 20, "only {} multi-actor scenarios found", scns.len());
    let mut failures = Vec::new();
    let (mut checked, mut skipped) = (0, Vec::new());
    for (path, src) in &scns {
        let name = path.rsplit('/').next().unwrap();
        let cap = ExploreOptions {
            mode: Mode::Naive,
            max_executions: Some(NAIVE_LIMIT),
            granularity: Some(g),
            ..Default::default()
        };
        let (nr, all, n_out) = traces_and_outcomes(path, src, &cap);
        if !nr.complete {
            skipped.push(name.to_string());
            continue;
        }
        checked += 1;
        let (dr, seen, d_out) =
            traces_and_outcomes(path, src, &ExploreOptions { granularity: Some(g), ..Default::default() });
        assert!(dr.complete, "{name}");
        let missing = all.keys().filter(|k| !seen.contains_key(*k)).count();
        let extra = seen.keys().filter(|k| !all.contains_key(*k)).count();
        let dups: u64 = seen.values().map(|c| c - 1).sum();
        let count_ok = dr.naive_executions.as_ref().is_none_or(|c| *c == nr.executions.to_string());
        eprintln!(
            "{name}: naive {} executions in {} traces; dpor {} executions ({} pruned, {dups} repeating a trace), count {}{}",
            nr.executions,
            all.len(),
            dr.executions,
            dr.pruned,
            dr.naive_executions.as_deref().unwrap_or("unknown"),
            if missing + extra > 0 || !count_ok { "  <-- WRONG" } else { "" }
        );
        if missing > 0 || extra > 0 {
            failures.push(format!(
                "{name}: dpor misses {missing} of the naive search's {} traces, {extra} extra",
                all.len()
            ));
        }
        if !count_ok {
            failures.push(format!(
                "{name}: naive count {} reported as exact, the naive search ran {}",
                dr.naive_executions.as_deref().unwrap_or("?"),
                nr.executions
            ));
        }
        assert_eq!(d_out, n_out, "{name}: outcomes of the executions that ran to the end");
        assert_eq!(violation_keys(&dr), violation_keys(&nr), "{name}: violations");
    }
    eprintln!(
        "{} granularity: checked {checked} multi-actor scenarios; skipped {} whose naive search exceeds {NAIVE_LIMIT} executions: {}",
        g.name(),
        skipped.len(),
        skipped.join(", ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= at_least, "only {checked} scenarios checked at {} granularity", g.name());
}

/// A schedule that fails stops its execution at the failing step, so the
/// other actors' next steps never run there and their races are never seen
/// in it. Here the first schedule DPOR tries (a's write, then a's read,
/// which fails) hides the schedules that run b in between; unless the stop
/// itself counts as a race with every actor it cut off, DPOR never reaches
/// `b.v == 1` and still says complete.
#[test]
fn a_failing_schedule_hides_no_trace() {
    let src = "setup:\n  x = eventfd(0, EFD_NONBLOCK)\n  y = eventfd(0, EFD_NONBLOCK)\nthread a:\n  eventfd_write(y, 1)\n  eventfd_read(x) => 1\nthread b:\n  v = eventfd_read(y)\n  eventfd_write(x, 1)\ncheck:\n  exists b.v == 1\n";
    let (nr, all) = trace_set("t.scn", src, &naive());
    let (dr, seen) = trace_set("t.scn", src, &ExploreOptions::default());
    assert!(nr.complete && dr.complete);
    assert_eq!(seen.keys().collect::<Vec<_>>(), all.keys().collect::<Vec<_>>());
    assert!(dr.exists[0].seen, "b.v == 1 is reachable (naive: {:?})", nr.exists);
    assert_eq!(outcome_set(&dr), outcome_set(&nr));
}

/// `ksim explore A B C ...` searches several files side by side (one per
/// thread); what it prints and its exit code are those of one file at a
/// time, in the order given, including a file that cannot be read and a
/// failing one.
#[test]
fn several_files_explored_in_parallel_print_as_one_at_a_time() {
    use scenarios::cli::{cmd_explore, ExploreArgs};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = ["close_vs_signal.scn", "race_pipe_read_vs_close.scn", "race_uffd_api.scn"]
        .iter()
        .map(|f| root.join("library").join(f).to_string_lossy().into_owned())
        .collect();
    files.insert(1, "/nonexistent/file.scn".into());
    files.push(root.join("tests/fail/bug_ctx_freed_with_file.scn").to_string_lossy().into_owned());
    for json in [false, true] {
        let (mut one, mut two) = (String::new(), String::new());
        let c1 = cmd_explore(&mut one, &files, &ExploreArgs { jobs: Some(1), json, ..Default::default() });
        let c2 = cmd_explore(&mut two, &files, &ExploreArgs { jobs: Some(2), json, ..Default::default() });
        assert_eq!(one, two);
        assert_eq!(c1, c2);
        assert_eq!(c1, 2, "the unreadable file is a usage error, which outranks the failing search");
        assert!(one.contains("/nonexistent/file.scn"));
    }
}

/// `ksim merge` takes disjoint shards of one split: a shard given twice,
/// an unsharded report beside another, shards of two splits, reports of
/// two searches or files, and an input with no report are errors, never a
/// histogram that counts executions twice or passes part of a search off
/// as the whole (issue 13, finding 7).
#[test]
fn merge_rejects_duplicate_overlapping_foreign_and_empty_input() {
    let src = RACES[0];
    let shard = |i, n| run(src, &ExploreOptions { shard: Some((i, n)), ..Default::default() });
    let (a, b) = (shard(0, 2), shard(1, 2));
    let whole = run(src, &ExploreOptions::default());
    assert_eq!(merge(&[a.clone(), b.clone()]).unwrap().executions, whole.executions);
    assert_eq!(
        merge(std::slice::from_ref(&whole)).unwrap().outcomes,
        whole.outcomes,
        "a whole search merges into itself"
    );

    let err = |rs: &[Report]| merge(rs).expect_err("must be refused");
    assert!(err(&[a.clone(), a.clone(), b.clone()]).contains("given twice"));
    assert!(err(&[whole.clone(), whole.clone()]).contains("unsharded"));
    assert!(err(&[whole.clone(), a.clone()]).contains("unsharded"));
    assert!(err(&[a.clone(), shard(1, 3)]).contains("two splits"));
    let mut other_file = b.clone();
    other_file.file = "other.scn".into();
    assert!(err(&[a.clone(), other_file]).contains("two files"));
    let naive_b = run(src, &ExploreOptions { mode: Mode::Naive, shard: Some((1, 2)), ..Default::default() });
    assert!(err(&[a.clone(), naive_b]).contains("two different searches"));
    let mut bad_label = b.clone();
    bad_label.shard = Some("2/2".into());
    assert!(err(&[a.clone(), bad_label]).contains("not a shard label"));

    // Through the command: the same shard file given twice, and an empty file.
    let dir = std::env::temp_dir().join(format!("ksim-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pa, pb, empty) = (dir.join("a.json"), dir.join("b.json"), dir.join("empty.json"));
    std::fs::write(&pa, serde_json::to_string(&a).unwrap() + "\n").unwrap();
    std::fs::write(&pb, serde_json::to_string(&b).unwrap() + "\n").unwrap();
    std::fs::write(&empty, "").unwrap();
    let s = |p: &std::path::Path| p.to_string_lossy().to_string();
    let merge_cmd = |files: &[String]| {
        let mut out = String::new();
        let code = scenarios::cli::cmd_merge(&mut out, files, true);
        (code, out)
    };
    let (code, out) = merge_cmd(&[s(&pa), s(&pb)]);
    assert_eq!(code, 0, "{out}");
    let merged: Report = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((merged.executions, merged.complete), (whole.executions, true));
    let (code, out) = merge_cmd(&[s(&pa), s(&pa), s(&pb)]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("given twice"), "{out}");
    let (code, out) = merge_cmd(&[s(&empty)]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("holds no ksim explore report"), "{out}");
    let (code, out) = merge_cmd(&["/dev/null".to_string()]);
    assert_eq!(code, 2, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- granularity ------------------------------------------------------------------

fn granularity_file(name: &str) -> (String, String) {
    let path = format!("{}/tests/granularity/{name}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (path, src)
}

fn at(g: Granularity) -> ExploreOptions {
    ExploreOptions { granularity: Some(g), ..Default::default() }
}

/// dup(2) reserves an fd and installs the file in two sections of the fd
/// table's lock, with no named yield point between them; dup2(2) onto the
/// reserved fd in between fails with EBUSY. Only lock granularity, where
/// the second acquisition is a scheduling point, finds it, and it needs no
/// named yield point; the reduced search there reaches the naive search's
/// outcomes.
#[test]
fn a_race_with_no_yield_point_in_its_window_is_found_only_at_lock_granularity() {
    let (path, src) = granularity_file("dup_vs_dup2.scn");
    let ebusy = |r: &Report| r.outcomes.iter().any(|o| o.values.get("duper2.r").map(String::as_str) == Some("EBUSY"));
    let call = explore(&path, &src, &at(Granularity::Call)).unwrap();
    assert!(call.complete);
    assert!(!ebusy(&call) && call.failed(), "call granularity cannot see the window: {call:?}");
    assert_eq!(call.granularity, "call");
    let lock = explore(&path, &src, &at(Granularity::Lock)).unwrap();
    assert!(lock.complete && ebusy(&lock) && !lock.failed(), "{lock:?}");
    assert_eq!(lock.granularity, "lock");
    let no_named =
        explore(&path, &src, &ExploreOptions { no_named_yield_points: true, ..at(Granularity::Lock) }).unwrap();
    assert!(ebusy(&no_named) && !no_named.failed() && no_named.no_named_yield_points);
    let naive = explore(&path, &src, &ExploreOptions { mode: Mode::Naive, ..at(Granularity::Lock) }).unwrap();
    assert_eq!(outcome_set(&naive), outcome_set(&lock));
    assert_eq!(naive.naive_executions, lock.naive_executions, "the naive count is exact at lock granularity too");
}

/// `--no-named-yield-points`: the userfaultfd API race needs
/// `uffd:api:before_init` at call granularity; at lock granularity the
/// search finds it without.
#[test]
fn without_named_yield_points_only_lock_granularity_finds_the_uffd_api_race() {
    let path = format!("{}/tests/fail/bug_uffd_api_init_race.scn", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap();
    let named = explore(&path, &src, &at(Granularity::Call)).unwrap();
    assert!(named.violations > 0, "found with its named yield point");
    let off = |g| explore(&path, &src, &ExploreOptions { no_named_yield_points: true, ..at(g) }).unwrap();
    let call = off(Granularity::Call);
    assert!(call.complete && call.violations == 0, "{call:?}");
    let lock = off(Granularity::Lock);
    assert!(lock.complete && lock.violations > 0, "{lock:?}");
    // The counterexample replays with the flags the report names.
    let c = &lock.counterexamples[0];
    let (mut out, l) = (
        String::new(),
        scenarios::cli::LimitArgs {
            granularity: Some(Granularity::Lock),
            no_named_yield_points: true,
            ..Default::default()
        },
    );
    let code = scenarios::cli::cmd_replay_limited(&mut out, &path, &c.schedule, false, &Default::default(), &l);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&c.message.lines().next().unwrap().chars().take(30).collect::<String>()), "{out}");
    assert!(out.contains("--granularity lock --no-named-yield-points"), "{out}");
}

/// `config granularity=` sets the default, the option overrides it, the
/// JSON report carries it only when it is not `call` (a call report reads
/// as before the field existed, and old readers keep working), and merge
/// refuses shards of two granularities.
#[test]
fn granularity_config_flag_json_and_merge() {
    let (path, src) = granularity_file("dup_vs_dup2.scn");
    let mut lines: Vec<&str> = src.lines().collect();
    let title = lines.iter().position(|l| l.starts_with("scenario")).unwrap();
    lines.insert(title + 1, "config granularity=lock");
    let with_config = lines.join("\n") + "\n";
    let from_file = explore(&path, &with_config, &ExploreOptions::default()).unwrap();
    assert_eq!(from_file.granularity, "lock");
    let overridden = explore(&path, &with_config, &at(Granularity::Call)).unwrap();
    assert_eq!(overridden.granularity, "call");
    assert_eq!(overridden.executions, explore(&path, &src, &ExploreOptions::default()).unwrap().executions);
    let bad = with_config.replace("granularity=lock", "granularity=instruction");
    let e = explore(&path, &bad, &ExploreOptions::default()).unwrap_err();
    assert!(e.contains("unknown granularity `instruction`") && e.contains("`call` or `lock`"), "{e}");

    let call_json = serde_json::to_string(&overridden).unwrap();
    assert!(!call_json.contains("\"granularity\":"), "{call_json}");
    let lock_json = serde_json::to_string(&from_file).unwrap();
    assert!(lock_json.contains("\"granularity\":\"lock\""), "{lock_json}");
    let back: Report = serde_json::from_str(&call_json).unwrap();
    assert_eq!(back.granularity, "call", "a report without the field is a call-granularity one");

    let shard = |i, g| explore(&path, &src, &ExploreOptions { shard: Some((i, 2)), ..at(g) }).unwrap();
    let e = merge(&[shard(0, Granularity::Call), shard(1, Granularity::Lock)]).unwrap_err();
    assert!(e.contains("lock granularity"), "{e}");
    let merged = merge(&[shard(0, Granularity::Lock), shard(1, Granularity::Lock)]).unwrap();
    let whole = explore(&path, &src, &at(Granularity::Lock)).unwrap();
    assert_eq!(
        (merged.executions, &merged.outcomes, &merged.granularity),
        (whole.executions, &whole.outcomes, &whole.granularity)
    );
}

/// Lock granularity is as deterministic as call granularity: the same
/// search twice, and with threads, gives the same report byte for byte.
#[test]
fn lock_granularity_reports_are_deterministic() {
    for (path, src) in
        [granularity_file("dup_vs_dup2.scn"), library("race_create_vs_close.scn"), library("race_uffd_api.scn")]
    {
        let o = at(Granularity::Lock);
        let a = serde_json::to_string(&explore(&path, &src, &o).unwrap()).unwrap();
        let b = serde_json::to_string(&explore(&path, &src, &o).unwrap()).unwrap();
        let c = serde_json::to_string(&explore_parallel(&path, &src, &o, 3).unwrap()).unwrap();
        assert_eq!(a, b, "{path}");
        assert_eq!(a, c, "{path}: three threads");
        let mut one = String::new();
        let mut two = String::new();
        let l = scenarios::cli::LimitArgs { granularity: Some(Granularity::Lock), ..Default::default() };
        scenarios::cli::cmd_run_limited(&mut one, std::slice::from_ref(&path), Some(7), true, &Default::default(), &l);
        scenarios::cli::cmd_run_limited(&mut two, std::slice::from_ref(&path), Some(7), true, &Default::default(), &l);
        assert_eq!(one, two, "{path}: ksim run");
        assert!(one.contains("seed 7, lock granularity"), "{one}");
    }
}

/// Objects made by actors are named in footprints by their maker and
/// their rank among its objects, not by their ids, which follow the order
/// objects are made in and so change with the schedule. Two processes
/// each opening a device and making a context touch only their own
/// objects: one execution covers the search, and the naive count is the
/// naive search's own. With ids as keys, the second process's objects
/// took the first's ids in the reversed schedule, the sleeping actor woke,
/// the search ran twice and counted every interleaving twice.
#[test]
fn objects_are_named_by_their_maker_not_by_creation_order() {
    let src = "scenario \"two contexts\"\nprocess other\nthread a:\n  c = ibv_open_device(\"hca0\")\nthread b in other:\n  c = ibv_open_device(\"hca1\")\n";
    let r = run(src, &ExploreOptions::default());
    let n = run(src, &naive());
    assert!(r.complete && n.complete);
    assert_eq!(r.executions, 1, "independent actors: one execution");
    assert!(n.executions > 1);
    assert_eq!(r.naive_executions, Some(n.executions.to_string()), "the naive count is the naive search's");
}
