//! The simulator's side measured in this process: the kernel API without
//! the interpreter, memory per eventfd, in-process searches, and the
//! number of distinct interleavings (Mazurkiewicz traces) of a scenario.

use scenarios::explore::{explore, ExploreOptions, Mode, Report};
use scenarios::runner::{execute, RunOptions};
use sim_kernel::bugs::BugSet;
use sim_kernel::sched::exec::{ChoicePoint, Chooser, Executor, RunEnd, Step};
use sim_kernel::sched::{ActorId, Granularity};
use sim_kernel::syscall::{sys_close, sys_eventfd2, sys_read_into, sys_write};
use sim_kernel::Task;
use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn task() -> Task {
    Task::single(BugSet::NONE).1
}

fn pairs_loop(t: &Task, n: u64) -> f64 {
    let fd = sys_eventfd2(t, 0, 0).expect("eventfd") as i64;
    let one = 1u64.to_le_bytes();
    let start = Instant::now();
    for _ in 0..n {
        black_box(sys_write(t, fd, black_box(&one)).expect("write"));
        let mut v = [0u8; 8];
        black_box(sys_read_into(t, fd, black_box(&mut v)).expect("read"));
    }
    let s = start.elapsed().as_secs_f64();
    sys_close(t, fd).expect("close");
    s
}

/// Seconds for `n` eventfd write+read pairs through `sys_write`/`sys_read`
/// on a task, outside any executor (no interpreter, no scheduler).
pub fn kernel_api_pairs(n: u64) -> f64 {
    pairs_loop(&task(), n)
}

/// The same inside one actor of the deterministic executor (yield points
/// and footprint hooks live, no interpreter).
pub fn kernel_api_pairs_in_executor(n: u64) -> f64 {
    let t = task();
    let secs = std::rc::Rc::new(std::cell::Cell::new(0.0));
    let s2 = secs.clone();
    let mut ex = Executor::new();
    ex.spawn("bench", move || s2.set(pairs_loop(&t, n)));
    let end = ex.run(&mut sim_kernel::sched::exec::RunToBlock);
    assert_eq!(end, RunEnd::AllDone);
    drop(ex);
    secs.get()
}

/// Bytes allocated per open eventfd with `n` open in one process (file,
/// context, fd-table slot, object records; the process's fixed cost is
/// divided out by measuring from the open process).
pub fn bytes_per_eventfd(n: u64) -> f64 {
    let t = task();
    let p = t.process.clone().expect("process");
    p.set_rlimit_nofile(sim_kernel::abi::NR_OPEN_MAX, true).expect("rlimit");
    let before = crate::alloc::live_bytes();
    for _ in 0..n {
        sys_eventfd2(&t, 0, 0).expect("eventfd");
    }
    let after = crate::alloc::live_bytes();
    p.exit_files();
    (after - before) as f64 / n as f64
}

/// Explore `path` in this process; returns the report and the seconds.
pub fn explore_in_process(path: &str, mode: Mode, time_limit: Option<Duration>) -> (Report, f64) {
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let o = ExploreOptions { mode, time_limit, ..Default::default() };
    let t = Instant::now();
    let r = explore(path, &src, &o).unwrap_or_else(|e| panic!("{path}: {e}"));
    (r, t.elapsed().as_secs_f64())
}

/// One DPOR search of `path` in this process at granularity `g`, under
/// `time_limit`: the report and its seconds.
pub fn explore_at(path: &str, g: Granularity, time_limit: Duration) -> (Report, f64) {
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let o = ExploreOptions { granularity: Some(g), time_limit: Some(time_limit), ..Default::default() };
    let t = Instant::now();
    let r = explore(path, &src, &o).unwrap_or_else(|e| panic!("{path}: {e}"));
    (r, t.elapsed().as_secs_f64())
}

/// Executions (counted and pruned) of one DPOR search of each of `files`.
pub fn executions_per_sweep(files: &[String]) -> u64 {
    files
        .iter()
        .map(|p| {
            let (r, _) = explore_in_process(p, Mode::Dpor, None);
            r.executions + r.pruned
        })
        .sum()
}

/// Seconds for `ksim explore --jobs JOBS FILES...` run in this process
/// (reading, parsing and searching every file, the files side by side on
/// JOBS threads, the reports formatted), the best of `reps` runs of
/// `sweeps` commands each.
pub fn explore_files_in_process(files: &[String], jobs: u32, sweeps: u32, reps: u32) -> f64 {
    let a = scenarios::cli::ExploreArgs { jobs: Some(jobs), ..Default::default() };
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        for _ in 0..sweeps {
            let mut out = String::new();
            let code = scenarios::cli::cmd_explore(&mut out, files, &a);
            assert!(code <= 1, "ksim explore failed:\n{out}");
            std::hint::black_box(&out);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// Depth-first over every schedule (no reduction): replays `path` with the
/// first choice not yet taken at the deepest decision.
struct Dfs<'a> {
    path: &'a mut Vec<(Vec<ActorId>, usize)>,
}

impl Chooser for Dfs<'_> {
    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
        if let Some((r, i)) = self.path.get(p.index) {
            return r[*i];
        }
        self.path.push((p.runnable.to_vec(), 0));
        p.runnable[0]
    }
}

/// The canonical (lexicographically least) linearization of an
/// execution's steps under the dependence of their footprints: equal for
/// two executions iff they reorder only independent steps.
fn canonical(steps: &[Step]) -> Vec<ActorId> {
    let m = steps.len();
    let mut preds = vec![0usize; m];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); m];
    for k in 0..m {
        for j in 0..k {
            if steps[j].actor == steps[k].actor || steps[j].dependent(&steps[k]) {
                preds[k] += 1;
                succ[j].push(k);
            }
        }
    }
    let mut out = Vec::with_capacity(m);
    let mut ready: std::collections::BTreeSet<(ActorId, usize)> =
        (0..m).filter(|&k| preds[k] == 0).map(|k| (steps[k].actor, k)).collect();
    while let Some(&(a, k)) = ready.iter().next() {
        ready.remove(&(a, k));
        out.push(a);
        for &s in &succ[k] {
            preds[s] -= 1;
            if preds[s] == 0 {
                ready.insert((steps[s].actor, s));
            }
        }
    }
    out
}

/// (executions of the naive search, distinct traces), by running every
/// schedule of `path`; `None` past `limit` executions.
pub fn distinct_traces(path: &str, limit: u64) -> Option<(u64, u64)> {
    let prog = scenarios::cli::load(path).unwrap_or_else(|e| panic!("{e}"));
    let mut stack: Vec<(Vec<ActorId>, usize)> = Vec::new();
    let mut seen: HashSet<Vec<ActorId>> = HashSet::new();
    let mut runs = 0u64;
    loop {
        let ex = execute(
            &prog,
            path,
            &mut Dfs { path: &mut stack },
            RunOptions { record_steps: true, ..Default::default() },
        );
        runs += 1;
        if runs > limit {
            return None;
        }
        let c = canonical(&ex.steps);
        if std::env::var_os("KSIM_BENCH_DEBUG_TRACES").is_some() {
            eprintln!("schedule {:?} outcome {:?}\n  canonical {:?}", ex.schedule, ex.outcome, c);
            for s in &ex.steps {
                eprintln!("    actor {} dec {:?} {:x?}", s.actor, s.decision, s.accesses);
            }
        }
        seen.insert(c);
        stack.truncate(ex.schedule.len());
        loop {
            match stack.last_mut() {
                None => return Some((runs, seen.len() as u64)),
                Some((r, i)) if *i + 1 < r.len() => {
                    *i += 1;
                    break;
                }
                Some(_) => {
                    stack.pop();
                }
            }
        }
    }
}
