//! The address-space and userfaultfd footprints are sound: on every shipped
//! scenario with concurrent actors that touches memory or a userfaultfd,
//! the reduced search finds every outcome, violation and `exists` witness
//! of the naive one; and the historical UFFDIO_API race is found by
//! `explore` with its toggle and absent without it.

use scenarios::explore::{explore, ExploreOptions, Mode, Report};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn run(path: &str, src: &str, o: &ExploreOptions) -> Report {
    explore(path, src, o).unwrap_or_else(|e| panic!("explore {path} failed:\n{e}"))
}

fn outcome_set(r: &Report) -> BTreeSet<Vec<(String, String)>> {
    r.outcomes.iter().map(|o| o.values.clone().into_iter().collect()).collect()
}

fn violation_keys(r: &Report) -> BTreeSet<String> {
    r.counterexamples.iter().map(|c| c.key.clone()).collect()
}

/// Library scenarios of this subsystem with more than one actor.
fn concurrent_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("library");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("library dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (n.starts_with("uffd") || n.starts_with("race_uffd") || n.starts_with("mm"))
                && std::fs::read_to_string(p).is_ok_and(|s| s.lines().filter(|l| l.starts_with("thread ")).count() >= 2)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn reduction_keeps_every_outcome_of_the_naive_search() {
    let files = concurrent_scenarios();
    assert!(files.len() >= 10, "expected the uffd race and fault scenarios, found {}", files.len());
    let mut compared = 0;
    for f in files {
        let path = f.to_str().expect("utf-8").to_string();
        let src = std::fs::read_to_string(&f).expect("read");
        let naive = ExploreOptions { mode: Mode::Naive, max_executions: Some(20_000), ..Default::default() };
        let full = run(&path, &src, &naive);
        if !full.complete {
            continue; // too large for the naive search; DPOR covers it in test.sh
        }
        let red = run(&path, &src, &ExploreOptions::default());
        assert!(red.complete, "{path}");
        assert_eq!(outcome_set(&red), outcome_set(&full), "outcomes differ for {path}");
        assert_eq!(violation_keys(&red), violation_keys(&full), "violations differ for {path}");
        let seen = |r: &Report| r.exists.iter().map(|e| e.seen).collect::<Vec<_>>();
        assert_eq!(seen(&red), seen(&full), "exists witnesses differ for {path}");
        assert!(red.executions <= full.executions, "{path}");
        compared += 1;
    }
    assert!(compared >= 8, "only {compared} scenarios were small enough for the naive search");
}

#[test]
fn the_api_race_is_found_only_with_its_bug() {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("library/race_uffd_api.scn");
    let src = std::fs::read_to_string(&lib).expect("read");
    let fixed = run("race_uffd_api.scn", &src, &ExploreOptions::default());
    assert!(fixed.complete && fixed.counterexamples.is_empty(), "{:?}", violation_keys(&fixed));
    let buggy_src = src.replacen("setup:", "config bug=uffd_api_init_race\n\nsetup:", 1);
    let buggy = run("race_uffd_api.scn", &buggy_src, &ExploreOptions::default());
    assert!(buggy.counterexamples.iter().any(|c| c.kind == "assert"), "{:?}", violation_keys(&buggy));
}
