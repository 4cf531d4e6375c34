//! The `ksim` command's subcommands (SCENARIO-LANGUAGE.md section 6), as
//! library functions that write to a `String` and return an exit code, so
//! tests can run them without a process.

use crate::calls::KsimCatalog;
use crate::lang::ast::CheckKind;
use crate::lang::ir::Program;
use crate::runner::{execute, Execution, RunOptions};
use sim_kernel::sched::choose::{format_schedule, parse_schedule, ReplayChooser, SeededChooser};
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

/// Exit status: every expectation held.
pub const EXIT_OK: i32 = 0;
/// An execution violated an expectation, deadlocked or leaked.
pub const EXIT_VIOLATION: i32 = 1;
/// A file could not be read or parsed, or the arguments are wrong.
pub const EXIT_USAGE: i32 = 2;

/// Read and compile a scenario file; `Err` holds the rendered diagnostics.
pub fn load(path: &str) -> Result<Rc<Program>, String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("error: cannot read {path}: {e}\n"))?;
    load_source(path, &src)
}

/// Compile scenario source text read from `path`.
pub fn load_source(path: &str, src: &str) -> Result<Rc<Program>, String> {
    crate::lang::compile(path, src, &KsimCatalog).map(Rc::new)
}

fn title(p: &Program, path: &str) -> String {
    match &p.title {
        Some(t) => format!("{t} ({path})"),
        None => path.to_string(),
    }
}

/// Print one execution's report; returns whether it passed.
pub fn print_execution(out: &mut String, path: &str, prog: &Program, ex: &Execution, how: &str, verbose: bool) -> bool {
    let _ = writeln!(out, "== {}", title(prog, path));
    if !prog.config.bugs.is_empty() {
        let _ = writeln!(out, "bugs re-introduced: {}", prog.config.bugs.join(", "));
    }
    let _ = writeln!(
        out,
        "{how}, schedule {} ({} choices, {} preemptions), {} calls, {} ns virtual time",
        format_schedule(&ex.schedule),
        ex.schedule.len(),
        ex.preemptions(),
        ex.calls,
        ex.virtual_ns
    );
    if verbose {
        for l in &ex.trace {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !ex.outcome.is_empty() {
        let vals: Vec<String> = ex.outcome.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let _ = writeln!(out, "outcome: {}", vals.join(", "));
    }
    for c in &ex.checks {
        let (status, kw) = match (c.kind, &c.value) {
            (CheckKind::Assert, Ok(true)) => ("ok", "assert"),
            (CheckKind::Assert, _) => ("FAILED", "assert"),
            (CheckKind::Never, Ok(false)) => ("ok", "never"),
            (CheckKind::Never, _) => ("FAILED", "never"),
            (CheckKind::Exists, Ok(true)) => ("seen", "exists"),
            (CheckKind::Exists, Ok(false)) => ("not seen", "exists"),
            (CheckKind::Exists, Err(_)) => ("FAILED", "exists"),
        };
        let _ = writeln!(out, "  {status:<9} {kw} {}", c.text);
    }
    if prog.checks.iter().any(|c| c.kind == CheckKind::Exists) && !ex.checks.is_empty() {
        let _ = writeln!(out, "  (exists is judged over a whole search: `ksim explore`)");
    }
    if ex.failed() {
        let _ = writeln!(out, "FAIL");
        for v in &ex.violations {
            let msg = v.message.replace('\n', "\n  ");
            if v.message.starts_with(v.kind.name()) {
                let _ = writeln!(out, "  {msg}");
            } else {
                let _ = writeln!(out, "  {}: {msg}", v.kind.name());
            }
        }
        let _ = writeln!(out, "replay: ksim replay {path} {}", format_schedule(&ex.schedule));
        false
    } else {
        let _ = writeln!(out, "PASS");
        true
    }
}

/// `ksim run FILE... [--seed N] [-v]`.
pub fn cmd_run(out: &mut String, files: &[String], seed: Option<u64>, verbose: bool) -> i32 {
    let mut code = EXIT_OK;
    for path in files {
        let prog = match load(path) {
            Ok(p) => p,
            Err(e) => {
                out.push_str(&e);
                code = EXIT_USAGE;
                continue;
            }
        };
        let seed = seed.or(prog.config.seed).unwrap_or(0);
        let ex = execute(&prog, path, &mut SeededChooser::new(seed), RunOptions { verbose, record_steps: false });
        if !print_execution(out, path, &prog, &ex, &format!("seed {seed}"), verbose) && code == EXIT_OK {
            code = EXIT_VIOLATION;
        }
    }
    code
}

/// `ksim replay FILE SCHEDULE [-v]`.
pub fn cmd_replay(out: &mut String, path: &str, schedule: &str, verbose: bool) -> i32 {
    let prog = match load(path) {
        Ok(p) => p,
        Err(e) => {
            out.push_str(&e);
            return EXIT_USAGE;
        }
    };
    let choices = match parse_schedule(schedule) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return EXIT_USAGE;
        }
    };
    let nactors = prog.actors.len() + usize::from(!prog.finally.is_empty());
    if let Some(bad) = choices.iter().find(|&&c| c >= nactors) {
        let _ = writeln!(out, "error: the schedule names actor {bad}, but {path} has actors 0..{} (its threads and kthreads in file order, then finally)", nactors - 1);
        return EXIT_USAGE;
    }
    // Scenario actor numbers to executor ids (setup is executor actor 0).
    let mut chooser = ReplayChooser::new(choices.iter().map(|c| c + 1).collect());
    let ex = execute(&prog, path, &mut chooser, RunOptions { verbose, record_steps: false });
    if let Some(i) = chooser.mismatch {
        let _ = writeln!(out, "error: choice {} of the schedule does not fit {path}: that actor could not run there (was the file changed?)", i + 1);
        return EXIT_USAGE;
    }
    if !chooser.exhausted() {
        let _ = writeln!(out, "error: the execution ended before the schedule did (was the file changed?)");
        return EXIT_USAGE;
    }
    if print_execution(out, path, &prog, &ex, "replay", verbose) {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

/// `ksim check FILE...`: parse and resolve only.
pub fn cmd_check(out: &mut String, files: &[String]) -> i32 {
    let mut code = EXIT_OK;
    for path in files {
        match load(path) {
            Ok(p) => {
                let _ = writeln!(out, "{path}: ok ({} actors, {} checks)", p.actors.len(), p.checks.len());
            }
            Err(e) => {
                out.push_str(&e);
                if !e.ends_with('\n') {
                    out.push('\n');
                }
                code = EXIT_USAGE;
            }
        }
    }
    code
}

/// `ksim bugs`: the historical-bug registry.
pub fn cmd_bugs(out: &mut String) -> i32 {
    for b in sim_kernel::bugs::BUGS {
        let _ = writeln!(out, "{}\n    {}\n    fixed by {}\n    code path: {}", b.name, b.summary, b.fix, b.path);
    }
    EXIT_OK
}

/// Options of `ksim explore` as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct ExploreArgs {
    pub preemptions: Option<u32>,
    pub max_executions: Option<u64>,
    pub time_limit_s: Option<f64>,
    pub random: Option<u64>,
    pub seed: Option<u64>,
    pub shard: Option<String>,
    pub json: bool,
    pub naive: bool,
    pub jobs: Option<u32>,
}

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("--shard takes I/N (e.g. 0/4), got `{s}`"))?;
    let i: u32 = i.trim().parse().map_err(|_| format!("--shard {s}: `{i}` is not a shard index"))?;
    let n: u32 = n.trim().parse().map_err(|_| format!("--shard {s}: `{n}` is not a shard count"))?;
    if n == 0 || i >= n {
        return Err(format!("--shard {s}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// Print a search report in the human format; returns whether it passed.
pub fn print_report(out: &mut String, r: &crate::explore::Report, src: &str) -> bool {
    let _ = writeln!(out, "== {}", r.title.as_ref().map_or(r.file.clone(), |t| format!("{t} ({})", r.file)));
    let bound = r.preemption_bound.map_or(String::new(), |b| format!(", preemption bound {b}"));
    let shard = r.shard.as_ref().map_or(String::new(), |s| format!(", shard {s}"));
    let _ = writeln!(
        out,
        "explored {} executions ({} pruned by sleep sets) [{}{bound}{shard}], complete: {}",
        r.executions, r.pruned, r.mode, r.complete
    );
    let _ = writeln!(out, "outcomes:");
    for o in &r.outcomes {
        let vals: Vec<String> = o.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let _ = writeln!(
            out,
            "  {:>8}  {}",
            o.count,
            if vals.is_empty() { "(no names bound)".into() } else { vals.join(", ") }
        );
    }
    // Check lines, in file order.
    if let Ok(prog) = load_source(&r.file, src) {
        let failed_asserts: Vec<u32> = r
            .counterexamples
            .iter()
            .filter(|c| c.kind == "assert" || c.kind == "never")
            .filter_map(|c| c.key.split(':').nth(1)?.parse().ok())
            .collect();
        if !prog.checks.is_empty() {
            let _ = writeln!(out, "checks:");
        }
        for c in &prog.checks {
            let kw = match c.kind {
                CheckKind::Assert => "assert",
                CheckKind::Never => "never",
                CheckKind::Exists => "exists",
            };
            let status = match c.kind {
                CheckKind::Exists => {
                    if r.exists.iter().any(|e| e.line == c.span.line && e.seen) {
                        "seen"
                    } else {
                        "NOT SEEN"
                    }
                }
                _ => {
                    if failed_asserts.contains(&c.span.line) {
                        "FAILED"
                    } else {
                        "ok"
                    }
                }
            };
            let _ = writeln!(out, "  {status:<9} {kw} {}", c.text);
        }
    }
    for e in r.exists.iter().filter(|e| !e.seen) {
        let why = if r.complete { "no execution reached it" } else { "not reached, and the search was not complete" };
        let _ = writeln!(out, "exists {} (line {}): {why}", e.check, e.line);
    }
    if r.failed() {
        let _ = writeln!(out, "FAIL: {} distinct violation(s)", r.violations);
        for c in &r.counterexamples {
            let _ =
                writeln!(out, "--- {} (in {} executions; shortest: {} preemptions)", c.kind, c.count, c.preemptions);
            let _ = writeln!(out, "  {}", c.message.replace('\n', "\n  "));
            // The step trace of the counterexample, by replaying it.
            if let (Ok(prog), Ok(choices)) = (load_source(&r.file, src), parse_schedule(&c.schedule)) {
                let mut ch = ReplayChooser::new(choices.iter().map(|x| x + 1).collect());
                let ex = execute(&prog, &r.file, &mut ch, RunOptions { verbose: true, record_steps: false });
                for l in &ex.trace {
                    let _ = writeln!(out, "    {l}");
                }
            }
            let _ = writeln!(out, "  replay: ksim replay {} {}", r.file, c.schedule);
        }
        false
    } else {
        let _ = writeln!(out, "PASS");
        true
    }
}

/// `ksim explore FILE... [options]`.
pub fn cmd_explore(out: &mut String, files: &[String], a: &ExploreArgs) -> i32 {
    use crate::explore::{explore_parallel, ExploreOptions, Mode};
    let shard = match a.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return EXIT_USAGE;
        }
    };
    if a.seed.is_some() && a.random.is_none() {
        let _ = writeln!(out, "error: --seed goes with --random N");
        return EXIT_USAGE;
    }
    let mut code = EXIT_OK;
    for path in files {
        let src = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(out, "error: cannot read {path}: {e}");
                code = EXIT_USAGE;
                continue;
            }
        };
        let prog = match load_source(path, &src) {
            Ok(p) => p,
            Err(e) => {
                out.push_str(&e);
                code = EXIT_USAGE;
                continue;
            }
        };
        let o = ExploreOptions {
            mode: if a.naive { Mode::Naive } else { Mode::Dpor },
            preemptions: a.preemptions.or(prog.config.preemptions.map(|p| p.min(u32::MAX as u64) as u32)),
            max_executions: a.max_executions.or(prog.config.max_executions),
            time_limit: a.time_limit_s.map(Duration::from_secs_f64),
            random: a.random.map(|n| (n, a.seed.or(prog.config.seed).unwrap_or(0))),
            shard,
        };
        let jobs = a.jobs.unwrap_or(1);
        let r = match explore_parallel(path, &src, &o, jobs) {
            Ok(r) => r,
            Err(e) => {
                out.push_str(&e);
                code = EXIT_USAGE;
                continue;
            }
        };
        let ok = if a.json {
            let _ = writeln!(out, "{}", serde_json::to_string(&r).unwrap_or_default());
            !r.failed()
        } else {
            print_report(out, &r, &src)
        };
        if !ok && code == EXIT_OK {
            code = EXIT_VIOLATION;
        }
    }
    code
}

/// `ksim merge REPORT.json...`: join shard reports (one JSON object per
/// file, as `--json` prints) into one report per scenario file.
pub fn cmd_merge(out: &mut String, files: &[String], json: bool) -> i32 {
    use crate::explore::{merge, Report};
    let mut by_file: std::collections::BTreeMap<String, Vec<Report>> = Default::default();
    for path in files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(out, "error: cannot read {path}: {e}");
                return EXIT_USAGE;
            }
        };
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match serde_json::from_str::<Report>(line) {
                Ok(r) => by_file.entry(r.file.clone()).or_default().push(r),
                Err(e) => {
                    let _ = writeln!(out, "error: {path}:{}: not a ksim explore report: {e}", i + 1);
                    return EXIT_USAGE;
                }
            }
        }
    }
    let mut code = EXIT_OK;
    for (file, reports) in by_file {
        let r = match merge(&reports) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
                return EXIT_USAGE;
            }
        };
        let ok = if json {
            let _ = writeln!(out, "{}", serde_json::to_string(&r).unwrap_or_default());
            !r.failed()
        } else {
            let src = std::fs::read_to_string(&file).unwrap_or_default();
            print_report(out, &r, &src)
        };
        if !ok {
            code = EXIT_VIOLATION;
        }
    }
    code
}
