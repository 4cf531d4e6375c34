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
            let _ = writeln!(out, "  {}: {}", v.kind.name(), v.message.replace('\n', "\n  "));
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
        let ex = execute(&prog, path, &mut SeededChooser::new(seed), RunOptions { verbose });
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
    let nactors = prog.actors.len() + 1;
    if let Some(bad) = choices.iter().find(|&&c| c >= nactors) {
        let _ = writeln!(out, "error: the schedule names actor {bad}, but {path} has actors 0..{} (its threads and kthreads in file order, then finally)", nactors - 1);
        return EXIT_USAGE;
    }
    // Scenario actor numbers to executor ids (setup is executor actor 0).
    let mut chooser = ReplayChooser::new(choices.iter().map(|c| c + 1).collect());
    let ex = execute(&prog, path, &mut chooser, RunOptions { verbose });
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
