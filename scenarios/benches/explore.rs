//! `cargo bench -p scenarios --bench explore [-- FILTER]`: for each shipped
//! race scenario, the reduced search's executions, the number of distinct
//! Mazurkiewicz traces (counted from a naive search), the naive count and
//! the reduction factor, the time to complete the search, and executions
//! per second (one thread), for the reduced and the naive search.
//!
//! Numbers are wall-clock on the machine it runs on; nothing here asserts
//! a time.

use scenarios::cli::load_source;
use scenarios::explore::{explore, explore_visit, trace_order, ExploreOptions, Mode, Report};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const SCENARIOS: &[&str] = &[
    "close_vs_signal.scn",
    "race_prefix_sum.scn",
    "race_semaphore_two_readers.scn",
    "race_semaphore_three_readers.scn",
    "race_blocking_write.scn",
    "race_create_vs_close.scn",
    "race_irqfd_shutdown.scn",
    "race_blocked_read_close_then_write.scn",
    "eventfd2_03_semaphore_pingpong.scn",
];

/// Run complete searches for at least `min` of wall time; returns (one
/// search's report, searches, executions per second, seconds per search).
fn measure(path: &str, src: &str, o: &ExploreOptions, min: Duration) -> (Report, u64, f64, f64) {
    let start = Instant::now();
    let mut n = 0u64;
    let mut execs = 0u64;
    let mut first = None;
    while n == 0 || start.elapsed() < min {
        let r = explore(path, src, o).expect("explore");
        execs += r.executions + r.pruned;
        n += 1;
        first.get_or_insert(r);
    }
    let secs = start.elapsed().as_secs_f64();
    (first.unwrap(), n, execs as f64 / secs, secs / n as f64)
}

fn traces(path: &str, src: &str) -> Option<usize> {
    let n = load_source(path, src).ok()?.actors.len();
    let mut set = BTreeSet::new();
    let o = ExploreOptions { mode: Mode::Naive, record_steps: true, ..Default::default() };
    explore_visit(path, src, &o, &mut |ex| {
        let r = |d: usize| ex.decisions.get(d).map(|x| x.runnable.as_slice());
        set.insert(trace_order(&ex.steps, n, &r).0);
    })
    .ok()?;
    Some(set.len())
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let dir = format!("{}/library", env!("CARGO_MANIFEST_DIR"));
    println!(
        "{:<40} {:>6} {:>7} {:>6} {:>9} {:>9} {:>10} {:>12} {:>12}",
        "scenario", "execs", "traces", "ratio", "naive", "reduction", "time", "dpor exec/s", "naive exec/s"
    );
    for name in SCENARIOS {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let path = format!("{dir}/{name}");
        let src = std::fs::read_to_string(&path).expect("read scenario");
        let (r, _, dpor_rate, dpor_time) = measure(&path, &src, &ExploreOptions::default(), Duration::from_secs(1));
        let naive_o = ExploreOptions { mode: Mode::Naive, ..Default::default() };
        let (nr, _, naive_rate, _) = measure(&path, &src, &naive_o, Duration::from_secs(1));
        let t = traces(&path, &src);
        let naive: u64 = nr.executions;
        println!(
            "{:<40} {:>6} {:>7} {:>6} {:>9} {:>8.1}x {:>8.2}ms {:>12.0} {:>12.0}",
            name.trim_end_matches(".scn"),
            r.executions,
            t.map_or("-".into(), |t| t.to_string()),
            t.map_or("-".into(), |t| format!("{:.2}", (r.executions + r.pruned) as f64 / t as f64)),
            naive,
            naive as f64 / r.executions.max(1) as f64,
            dpor_time * 1e3,
            dpor_rate,
            naive_rate,
        );
    }
    println!("execs: executions of the reduced search (dpor); traces: distinct Mazurkiewicz traces among the naive");
    println!("search's executions; ratio: (executions + pruned) / traces; naive: the naive search's executions;");
    println!("time: one complete reduced search; exec/s: executions (pruned included) per second, one thread.");
}
