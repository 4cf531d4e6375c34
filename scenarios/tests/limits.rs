//! The limits that end a run with a report, never a hang or a crash
//! (issue 13, findings 2, 4 and 5): the `ksim` binary's argument ranges,
//! the per-execution step limit, the time limit inside one execution,
//! SIGINT and SIGTERM during `ksim explore`, the progress lines on a
//! pipe, and the naive count's memory cap.

use scenarios::explore::{explore, explore_parallel, ExploreOptions};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ksim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ksim"))
}

/// Write `src` to a fresh file in the temporary directory.
fn scenario(name: &str, src: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ksim-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, src).unwrap();
    p.to_string_lossy().to_string()
}

fn run(args: &[&str]) -> Output {
    ksim().args(args).output().expect("run ksim")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// Six writers to one eventfd: millions of traces, far more than a test
/// waits for.
const SIX_WRITERS: &str = "scenario \"six writers\"\nsetup:\n  efd = eventfd(0, 0)\n\
thread w1:\n  eventfd_write(efd, 1) => 0\n  eventfd_write(efd, 1) => 0\n\
thread w2:\n  eventfd_write(efd, 1) => 0\n  eventfd_write(efd, 1) => 0\n\
thread w3:\n  eventfd_write(efd, 1) => 0\n  eventfd_write(efd, 1) => 0\n\
thread w4:\n  eventfd_write(efd, 1) => 0\n  eventfd_write(efd, 1) => 0\n\
thread w5:\n  eventfd_write(efd, 1) => 0\n  eventfd_write(efd, 1) => 0\n\
thread w6:\n  eventfd_write(efd, 1) => 0\n  eventfd_write(efd, 1) => 0\n\
finally:\n  close(efd)\n";

/// A setup that never ends by itself.
const ENDLESS: &str = "scenario \"endless\"\nsetup:\n  repeat 18446744073709551615:\n    now_ns()\n";

#[test]
fn bad_numeric_arguments_are_exit_2_with_a_one_line_reason() {
    let f = scenario("bad_args.scn", "scenario \"x\"\nthread a:\n  now_ns()\n");
    let cases: &[(&[&str], &str)] = &[
        (&["explore", "--time-limit", "1e100"], "--time-limit"),
        (&["explore", "--time-limit", "inf"], "--time-limit"),
        (&["explore", "--time-limit", "nan"], "--time-limit"),
        (&["explore", "--time-limit", "0"], "--time-limit"),
        (&["explore", "--time-limit=-3"], "--time-limit"),
        (&["run", "--time-limit", "inf"], "--time-limit"),
        (&["replay", "--time-limit", "nan"], "--time-limit"),
        (&["explore", "--jobs", "100000"], "--jobs"),
        (&["explore", "--jobs", "0"], "--jobs"),
        (&["explore", "--pct", "1", "--depth", "1000000"], "--depth"),
        (&["explore", "--pct", "1", "--depth", "0"], "--depth"),
        (&["explore", "--pct", "0"], "--pct"),
        (&["explore", "--random", "0"], "--random"),
        (&["explore", "--max-executions", "0"], "--max-executions"),
        (&["explore", "--max-steps", "0"], "--max-steps"),
        (&["run", "--max-steps", "0"], "--max-steps"),
        (&["run", "--max-steps", "lots"], "--max-steps"),
        (&["explore", "--seed=-1", "--random", "3"], "--seed"),
    ];
    for (args, flag) in cases {
        let mut a: Vec<&str> = args.to_vec();
        a.push(&f);
        if a[0] == "replay" {
            a.push("v1:");
        }
        let started = Instant::now();
        let o = run(&a);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {err}");
        assert!(started.elapsed() < Duration::from_secs(20), "{a:?} took {:?}", started.elapsed());
        assert_eq!(err.trim_end().lines().count(), 1, "{a:?}: not one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(flag), "{a:?}: {err}");
        assert!(o.stdout.is_empty(), "{a:?}");
    }
}

#[test]
fn a_deep_pct_search_prints_its_bound_compactly() {
    let f = scenario("pct_deep.scn", SIX_WRITERS);
    let o = run(&["explore", "--pct", "3", "--depth", "64", "--seed", "1", &f]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let line = out.lines().find(|l| l.starts_with("pct: depth 64")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.len() < 200, "{line}");
    assert!(line.contains("^63, about ") && line.contains('e'), "{line}");
    // JSON keeps the exact decimal.
    let o = run(&["explore", "--json", "--pct", "3", "--depth", "64", "--seed", "1", &f]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = v["pct"]["bound_denominator"].as_str().unwrap();
    assert!(d.len() > 15 && d.bytes().all(|b| b.is_ascii_digit()), "{d}");
}

#[test]
fn the_step_limit_ends_an_execution_with_a_violation() {
    // The default: 100,000 calls.
    let f = scenario("endless.scn", ENDLESS);
    let started = Instant::now();
    let o = run(&["run", &f]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("100000 calls") && out.contains("step limit: the execution made 100000 calls"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // `config max_steps=` and `--max-steps`, which wins.
    let g = scenario("ten.scn", "scenario \"ten\"\nconfig max_steps=10\nsetup:\n  repeat 20:\n    now_ns()\n");
    let out = text(&run(&["run", &g]).stdout);
    assert!(out.contains("step limit: the execution made 10 calls"), "{out}");
    let o = run(&["run", "--max-steps", "20", &g]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    // Under explore: a counterexample like any violation, without its
    // step trace of a line per call.
    let o = run(&["explore", "--max-steps", "7", &g]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("--- step limit (in 1 executions") && out.contains("made 7 calls"), "{out}");
    assert!(out.lines().count() < 20, "{out}");
    // A thread's long loop too, and replay.
    let h = scenario("thread.scn", "scenario \"t\"\nthread a:\n  repeat 50:\n    now_ns()\nthread b:\n  now_ns()\n");
    let o = run(&["explore", "--max-steps", "30", "--json", &h]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["counterexamples"].as_array().unwrap().iter().any(|c| c["kind"] == "step limit"), "{v}");
    let o = run(&["replay", "--max-steps", "5", &h, "v1:"]);
    assert!(text(&o.stdout).contains("made 5 calls"), "{}", text(&o.stdout));
    // max_steps=0 is no limit one could mean.
    let z = scenario("zero.scn", "scenario \"z\"\nconfig max_steps=0\nthread a:\n  now_ns()\n");
    let o = run(&["check", &z]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stdout).contains("`max_steps` must be at least 1"), "{}", text(&o.stdout));
}

#[test]
fn the_time_limit_cuts_off_a_long_execution() {
    let f = scenario("endless_t.scn", ENDLESS);
    let max = u64::MAX.to_string();
    // run: the one execution is cut off and says so.
    let started = Instant::now();
    let o = run(&["run", "--max-steps", &max, "--time-limit", "0.3", &f]);
    let out = text(&o.stdout);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("INCOMPLETE: the time limit stopped the execution after"), "{out}");
    assert!(!out.contains("PASS"), "{out}");
    // explore: no execution finished; the report says why.
    let o = run(&["explore", "--max-steps", &max, "--time-limit", "0.3", &f]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("explored 0 executions") && out.contains("complete: false"), "{out}");
    assert!(out.contains("stopped by the time limit"), "{out}");
    let o = run(&["explore", "--json", "--max-steps", &max, "--time-limit", "0.3", &f]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["time_limit_reached"], true, "{v}");
    assert_eq!(v["complete"], false);
    // replay too.
    let o = run(&["replay", "--max-steps", &max, "--time-limit", "0.3", &f, "v1:"]);
    assert!(text(&o.stdout).contains("INCOMPLETE: the time limit"), "{}", text(&o.stdout));
    // A search that ends in time says nothing of it, and its JSON has no
    // such field.
    let lib = concat!(env!("CARGO_MANIFEST_DIR"), "/library/close_vs_signal.scn");
    let o = run(&["explore", "--json", "--time-limit", "100", lib]);
    let out = text(&o.stdout);
    assert!(out.contains("\"complete\":true") && !out.contains("time_limit_reached"), "{out}");
}

/// Start `ksim explore ARGS`, send `sig` after `wait`, and collect its
/// output.
fn interrupt(args: &[&str], sig: i32, wait: Duration) -> Output {
    let mut child =
        ksim().arg("explore").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start ksim");
    std::thread::sleep(wait);
    // SAFETY: a signal to our own child, by its id.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
    let started = Instant::now();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?} to stop", started.elapsed());
    Output { status, stdout: out, stderr: err }
}

#[test]
fn sigint_prints_the_partial_report_and_exits_130() {
    let f = scenario("six_int.scn", SIX_WRITERS);
    // Past the first progress line (every 5 s on a pipe).
    let o = interrupt(&["--jobs", "2", &f], libc::SIGINT, Duration::from_millis(5600));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(scenarios::cli::EXIT_INTERRUPTED), "{out}");
    assert!(out.contains("complete: false"), "{out}");
    assert!(out.contains("INTERRUPTED by a signal (SIGINT or SIGTERM): this report covers the"), "{out}");
    assert!(out.contains("outcomes:") && out.trim_end().ends_with("PASS"), "{out}");
    let err = text(&o.stderr);
    assert!(err.lines().any(|l| l.contains("executions") && l.contains("/s") && l.contains("elapsed")), "{err}");
    assert!(!out.contains("elapsed"), "progress on stdout: {out}");
}

#[test]
fn sigterm_prints_the_partial_json_report_and_exits_130() {
    let f = scenario("six_term.scn", SIX_WRITERS);
    let o = interrupt(&["--json", "--quiet", &f], libc::SIGTERM, Duration::from_millis(1500));
    assert_eq!(o.status.code(), Some(scenarios::cli::EXIT_INTERRUPTED), "{}", text(&o.stdout));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["interrupted"], true, "{v}");
    assert_eq!(v["complete"], false);
    assert!(v["executions"].as_u64().unwrap() > 0, "{v}");
    assert!(o.stderr.is_empty(), "--quiet printed {}", text(&o.stderr));
}

#[test]
fn sigint_inside_a_long_execution_and_before_later_files() {
    let f = scenario("endless_int.scn", ENDLESS);
    let g = scenario("later.scn", "scenario \"later\"\nthread a:\n  now_ns()\n");
    let max = u64::MAX.to_string();
    let o = interrupt(&["--jobs", "1", "--max-steps", &max, &f, &g], libc::SIGINT, Duration::from_millis(800));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(130), "{out}");
    assert!(out.contains("explored 0 executions") && out.contains("INTERRUPTED by a signal"), "{out}");
    assert!(out.contains("INTERRUPTED before these files were explored:") && out.contains("later.scn"), "{out}");
    // With --json, stdout holds only reports; the note goes to stderr.
    let o =
        interrupt(&["--json", "--jobs", "1", "--max-steps", &max, &f, &g], libc::SIGINT, Duration::from_millis(800));
    assert_eq!(o.status.code(), Some(130));
    let out = text(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((&v["interrupted"], &v["executions"]), (&serde_json::json!(true), &serde_json::json!(0)), "{v}");
    assert!(text(&o.stderr).contains("INTERRUPTED before these files were explored:"), "{}", text(&o.stderr));
}

#[test]
fn the_naive_count_is_capped_and_then_a_lower_bound() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/library/eventfd2_03_semaphore_pingpong.scn");
    let src = std::fs::read_to_string(path).unwrap();
    let exact = explore(path, &src, &ExploreOptions::default()).unwrap();
    assert!(!exact.naive_capped);
    let n: u128 = exact.naive_executions.as_deref().unwrap().parse().unwrap();
    // A cap a few traces' keys big.
    let o = ExploreOptions { naive_seen_bytes: Some(2000), ..Default::default() };
    let capped = explore(path, &src, &o).unwrap();
    assert!(capped.naive_capped, "the cap was not reached");
    assert_eq!(capped.naive_executions, None);
    assert_eq!((capped.executions, &capped.outcomes), (exact.executions, &exact.outcomes), "the search is the same");
    let share: u128 = capped.naive_share.as_deref().unwrap().parse().unwrap();
    assert!(0 < share && share < n, "{share} of {n}");
    // Where the count stops does not depend on the number of threads.
    let par = explore_parallel(path, &src, &o, 3).unwrap();
    assert_eq!(serde_json::to_string(&par).unwrap(), serde_json::to_string(&capped).unwrap());
    // The report says so; JSON carries the flag only when set.
    let mut out = String::new();
    scenarios::cli::print_report(&mut out, &capped, None);
    assert!(out.contains(&format!("a naive search needs at least {share} executions")), "{out}");
    assert!(out.contains("a lower bound"), "{out}");
    assert!(serde_json::to_string(&capped).unwrap().contains("\"naive_capped\":true"));
    assert!(!serde_json::to_string(&exact).unwrap().contains("naive_capped"));
}
