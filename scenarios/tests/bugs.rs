//! Every bug of the registry (`sim_kernel::bugs::BUGS`) is found by the
//! search at lock granularity with every named yield point turned off
//! (issue 14): a bug variant differs from the fixed code only in what
//! Linux's buggy code did, so the search must find it where Linux can be
//! preempted (locks, their releases, atomics, wake-ups), not at a point
//! someone placed in its window.
//!
//! A bug's scenario is the file in `tests/fail/` whose `config bug=` names
//! it: a bug with none fails here, so no bug is registered without one.
//! The same search with the toggle removed finds nothing, so what is found
//! is the bug and not something else of the scenario.

use scenarios::explore::{explore, ExploreOptions, Report};
use sim_kernel::sched::Granularity;
use std::time::Duration;

/// Executions each search may take: the bugs are found within a few
/// thousand; the cap keeps a search whose space is larger (the
/// watch_queue teardown) to seconds.
const CAP: u64 = 20_000;

/// The `tests/fail/` scenarios that enable `bug`, with their text.
fn scenarios_of(bug: &str) -> Vec<(String, String)> {
    let dir = format!("{}/tests/fail", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .filter(|(_, src)| src.lines().any(|l| l.trim() == format!("config bug={bug}")))
        .collect()
}

fn search(path: &str, src: &str) -> Report {
    let o = ExploreOptions {
        granularity: Some(Granularity::Lock),
        no_named_yield_points: true,
        max_executions: Some(CAP),
        time_limit: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    explore(path, src, &o).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_registered_bug_is_found_at_lock_granularity_without_named_yield_points() {
    let mut failures = Vec::new();
    for info in sim_kernel::bugs::BUGS {
        let scns = scenarios_of(info.name);
        if scns.is_empty() {
            failures.push(format!("{}: no scenario in tests/fail/ has `config bug={}`", info.name, info.name));
            continue;
        }
        for (path, src) in scns {
            let name = path.rsplit('/').next().unwrap().to_string();
            let with = search(&path, &src);
            eprintln!(
                "{}: {name}: {} executions (complete: {}), {} violation(s)",
                info.name, with.executions, with.complete, with.violations
            );
            assert!(!with.time_limit_reached, "{name}: the search must find it well inside the time limit");
            assert!(with.no_named_yield_points && with.granularity == "lock", "{name}: {with:?}");
            if with.violations == 0 {
                failures.push(format!("{}: {name}: no violation in {} executions", info.name, with.executions));
                continue;
            }
            // The same search on the fixed code finds nothing.
            let fixed: String = src
                .lines()
                .filter(|l| l.trim() != format!("config bug={}", info.name))
                .map(|l| format!("{l}\n"))
                .collect();
            let without = search(&path, &fixed);
            if without.violations > 0 {
                failures.push(format!(
                    "{}: {name}: the fixed code fails too: {:?}",
                    info.name,
                    without.counterexamples.iter().map(|c| &c.message).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `--bug NAME` re-introduces a bug in a shipped scenario without editing
/// it, in `ksim explore`, `ksim run` and `ksim replay` alike: the fixed
/// library file passes, the same file with the 2009 context refcounting
/// undone fails with the use-after-free, the report's replay line carries
/// the flag, and that line reproduces the violation. An unknown name is a
/// usage error.
#[test]
fn the_bug_flag_reintroduces_a_bug_in_a_shipped_scenario() {
    let ksim = env!("CARGO_BIN_EXE_ksim");
    let file = format!("{}/library/close_vs_signal.scn", env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let o = std::process::Command::new(ksim).args(args).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (code, _) = run(&["explore", "--quiet", &file]);
    assert_eq!(code, Some(0), "the fixed scenario passes");
    let (code, out) = run(&["explore", "--quiet", &file, "--bug", "eventfd_ctx_freed_with_file"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("bugs re-introduced: eventfd_ctx_freed_with_file"), "{out}");
    assert!(out.contains("use-after-free"), "{out}");
    let replay = out.lines().find_map(|l| l.trim().strip_prefix("replay: ksim ")).expect("a replay line");
    assert!(replay.ends_with(" --bug eventfd_ctx_freed_with_file"), "{replay}");
    let args: Vec<&str> = replay.split(' ').collect();
    let (code, out) = run(&args);
    assert_eq!(code, Some(1), "the replay line reproduces it: {out}");
    assert!(out.contains("use-after-free"), "{out}");
    let (code, _) = run(&["run", &file, "--bug", "no_such_bug"]);
    assert_eq!(code, Some(2));
}
