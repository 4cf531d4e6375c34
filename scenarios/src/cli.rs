//! The `ksim` command's subcommands (the book's scenario-language
//! chapter, "The `ksim` command"), as
//! library functions that write to a `String` and return an exit code, so
//! tests can run them without a process.
//!
//! Exit codes: [`EXIT_OK`], [`EXIT_VIOLATION`], [`EXIT_USAGE`] and, for an
//! `explore` a signal ended, [`EXIT_INTERRUPTED`] (its partial report is
//! still printed).

use crate::calls::KsimCatalog;
use crate::lang::ast::CheckKind;
use crate::lang::ir::Program;
use crate::runner::{execute, Execution, RunOptions};
use sim_kernel::sched::choose::{format_schedule, parse_schedule, ReplayChooser, SeededChooser};
use sim_kernel::sched::Granularity;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

/// Exit status: every expectation held.
pub const EXIT_OK: i32 = 0;
/// An execution violated an expectation, deadlocked or leaked.
pub const EXIT_VIOLATION: i32 = 1;
/// A file could not be read or parsed, or the arguments are wrong.
pub const EXIT_USAGE: i32 = 2;
/// `ksim explore` was interrupted by SIGINT or SIGTERM: it printed the
/// partial report of what it had searched (128 + SIGINT, as a shell
/// reports a command a Ctrl-C ended).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Read and compile a scenario file; `Err` holds the rendered diagnostics
/// (a file that is not UTF-8 is an error at its first bad byte).
pub fn load(path: &str) -> Result<Rc<Program>, String> {
    load_source(path, &read_source(path)?)
}

/// Read a scenario file's text; `Err` holds the rendered error.
pub fn read_source(path: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("error: cannot read {path}: {e}\n"))?;
    String::from_utf8(bytes).map_err(|e| crate::lang::diag::decode(path, e.as_bytes()).err().unwrap_or_default())
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
    print_execution_with(out, path, prog, ex, how, verbose, "")
}

/// [`print_execution`] whose `replay:` line adds `flags` (a granularity,
/// `--no-named-yield-points`).
pub fn print_execution_with(
    out: &mut String,
    path: &str,
    prog: &Program,
    ex: &Execution,
    how: &str,
    verbose: bool,
    flags: &str,
) -> bool {
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
    if let Some(cut) = ex.cut {
        let why = match cut {
            crate::runner::Cut::TimeLimit => "the time limit",
            crate::runner::Cut::Interrupted => "a signal",
        };
        let _ = writeln!(out, "INCOMPLETE: {why} stopped the execution after {} calls, unfinished", ex.calls);
        return false;
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
        let _ = writeln!(out, "replay: ksim replay {path} {}{flags}", format_schedule(&ex.schedule));
        false
    } else {
        let _ = writeln!(out, "PASS");
        true
    }
}

/// `ksim run FILE... [--seed N] [-v]`.
pub fn cmd_run(out: &mut String, files: &[String], seed: Option<u64>, verbose: bool) -> i32 {
    cmd_run_with(out, files, seed, verbose, &TraceArgs::default())
}

/// `--max-steps N` and `--time-limit SECONDS` of `ksim run`, `ksim
/// replay` and `ksim explore` (see `crate::limits`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LimitArgs {
    /// Calls one execution may make before it ends with a `step limit`
    /// violation (default: the file's `config max_steps=`, else 100000).
    #[arg(long, value_name = "N", value_parser = crate::limits::parse_count)]
    pub max_steps: Option<u64>,
    /// Stop after this many seconds, also inside a long execution (the
    /// report says the time limit ended it).
    #[arg(long, value_name = "SECONDS", value_parser = crate::limits::parse_time_limit)]
    pub time_limit: Option<f64>,
    /// Where actors may switch: `call` (syscall boundaries, blocking, named
    /// yield points) or `lock` (also every lock acquisition and release,
    /// refcount change and wake-up). Default: the file's `config
    /// granularity=`, else call.
    #[arg(long, value_name = "call|lock", value_parser = parse_granularity)]
    pub granularity: Option<Granularity>,
    /// Make the kernel's named yield points do nothing.
    #[arg(long)]
    pub no_named_yield_points: bool,
    /// Re-introduce a historical bug, as a `config bug=NAME` line in the
    /// file would (may repeat; `ksim bugs` lists them).
    #[arg(long = "bug", value_name = "NAME", value_parser = parse_bug)]
    pub bugs: Vec<String>,
}

/// `--bug NAME`: a name of the registry.
pub fn parse_bug(s: &str) -> Result<String, String> {
    match sim_kernel::bugs::lookup(s) {
        Some(b) => Ok(b.name.to_string()),
        None => Err(format!("`{s}` is not a bug of the registry (`ksim bugs` lists them)")),
    }
}

/// `prog` with the bugs `--bug` names added to its `config bug=` list
/// (in order, each once); `prog` itself when there are none.
pub fn with_bugs(prog: Rc<Program>, bugs: &[String]) -> Rc<Program> {
    if bugs.iter().all(|b| prog.config.bugs.contains(b)) {
        return prog;
    }
    let mut p = (*prog).clone();
    for b in bugs {
        if !p.config.bugs.contains(b) {
            p.config.bugs.push(b.clone());
        }
    }
    Rc::new(p)
}

/// `--granularity call|lock`.
pub fn parse_granularity(s: &str) -> Result<Granularity, String> {
    Granularity::parse(s).ok_or_else(|| format!("`{s}` is not a granularity: call or lock"))
}

impl LimitArgs {
    /// What the header of `ksim run` and `ksim replay` adds for these
    /// options, and the flags a replay of the execution needs: empty at
    /// the defaults (call granularity, named yield points on), so that
    /// such output reads as before granularities existed.
    fn shown(&self, prog: &Program) -> (String, String) {
        let g = self.granularity.or(prog.config.granularity).unwrap_or_default();
        let (mut how, mut flags) = (String::new(), String::new());
        if g != Granularity::Call {
            let _ = write!(how, ", {} granularity", g.name());
            let _ = write!(flags, " --granularity {}", g.name());
        }
        if self.no_named_yield_points {
            how.push_str(", no named yield points");
            flags.push_str(" --no-named-yield-points");
        }
        for b in &self.bugs {
            let _ = write!(flags, " --bug {b}");
        }
        (how, flags)
    }

    /// The options of one execution under these limits, its deadline
    /// counted from now.
    fn run_options(&self, base: RunOptions) -> RunOptions {
        RunOptions {
            max_steps: self.max_steps,
            granularity: self.granularity,
            no_named_yield_points: self.no_named_yield_points,
            deadline: self.time_limit.and_then(|s| std::time::Instant::now().checked_add(Duration::from_secs_f64(s))),
            ..base
        }
    }
}

/// `--trace OUT.json` and `--check-determinism` of `ksim run` and `ksim
/// replay`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TraceArgs {
    /// Write the execution as Chrome trace-event JSON (Perfetto).
    #[arg(long, value_name = "OUT.json")]
    pub trace: Option<String>,
    /// Run twice and compare the hashes of the two traces.
    #[arg(long)]
    pub check_determinism: bool,
}

/// Write the Chrome trace and check determinism after an execution;
/// `rerun` re-executes the same file and schedule. Returns an exit code
/// if something went wrong.
fn after_execution(
    out: &mut String,
    path: &str,
    prog: &Program,
    ex: &Execution,
    t: &TraceArgs,
    rerun: &mut dyn FnMut() -> Execution,
) -> Option<i32> {
    if let Some(file) = &t.trace {
        let json = crate::chrome_trace::to_json(path, prog, ex);
        if let Err(e) = std::fs::write(file, json) {
            let _ = writeln!(out, "error: cannot write {file}: {e}");
            return Some(EXIT_USAGE);
        }
    }
    if t.check_determinism {
        let (a, b) = (execution_hash(ex), execution_hash(&rerun()));
        if a == b {
            let _ = writeln!(out, "determinism: two runs gave the same trace (hash {a:016x})");
        } else {
            let _ = writeln!(
                out,
                "determinism: FAILED: two runs of the same schedule gave different traces ({a:016x} and {b:016x})"
            );
            return Some(EXIT_VIOLATION);
        }
    }
    None
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and release.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The hash of everything an execution shows: its step trace, the
/// structured events of `--trace`, the schedule, the outcome, the checks
/// and the violations.
fn execution_hash(ex: &Execution) -> u64 {
    let text = format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}\n{}",
        ex.trace, ex.trace_events, ex.schedule, ex.outcome, ex.checks, ex.violations, ex.calls, ex.virtual_ns
    );
    fnv1a(text.as_bytes())
}

/// [`cmd_run`] with `--trace` and `--check-determinism`.
pub fn cmd_run_with(out: &mut String, files: &[String], seed: Option<u64>, verbose: bool, t: &TraceArgs) -> i32 {
    cmd_run_limited(out, files, seed, verbose, t, &LimitArgs::default())
}

/// [`cmd_run_with`] under `--max-steps` and `--time-limit` (the deadline
/// counts for each file's execution).
pub fn cmd_run_limited(
    out: &mut String,
    files: &[String],
    seed: Option<u64>,
    verbose: bool,
    t: &TraceArgs,
    l: &LimitArgs,
) -> i32 {
    if t.trace.is_some() && files.len() != 1 {
        let _ = writeln!(out, "error: --trace writes one execution: give one file");
        return EXIT_USAGE;
    }
    let mut code = EXIT_OK;
    for path in files {
        let prog = match load(path) {
            Ok(p) => with_bugs(p, &l.bugs),
            Err(e) => {
                out.push_str(&e);
                code = EXIT_USAGE;
                continue;
            }
        };
        let seed = seed.or(prog.config.seed).unwrap_or(0);
        let opts = l.run_options(RunOptions {
            verbose: verbose || t.check_determinism,
            trace_events: t.trace.is_some() || t.check_determinism,
            ..Default::default()
        });
        let ex = execute(&prog, path, &mut SeededChooser::new(seed), opts);
        let (how, flags) = l.shown(&prog);
        // The trace (recorded for --check-determinism) shows only with -v.
        if !print_execution_with(out, path, &prog, &ex, &format!("seed {seed}{how}"), verbose, &flags)
            && code == EXIT_OK
        {
            code = EXIT_VIOLATION;
        }
        if ex.cut.is_some() {
            // Unfinished: no trace to write, no determinism to check.
            continue;
        }
        let opts = l.run_options(opts);
        let mut rerun = || execute(&prog, path, &mut SeededChooser::new(seed), opts);
        if let Some(c) = after_execution(out, path, &prog, &ex, t, &mut rerun) {
            code = code.max(c);
        }
    }
    code
}

/// `ksim replay FILE SCHEDULE [-v]`.
pub fn cmd_replay(out: &mut String, path: &str, schedule: &str, verbose: bool) -> i32 {
    cmd_replay_with(out, path, schedule, verbose, &TraceArgs::default())
}

/// [`cmd_replay`] with `--trace` and `--check-determinism`.
pub fn cmd_replay_with(out: &mut String, path: &str, schedule: &str, verbose: bool, t: &TraceArgs) -> i32 {
    cmd_replay_limited(out, path, schedule, verbose, t, &LimitArgs::default())
}

/// [`cmd_replay_with`] under `--max-steps` and `--time-limit`.
pub fn cmd_replay_limited(
    out: &mut String,
    path: &str,
    schedule: &str,
    verbose: bool,
    t: &TraceArgs,
    l: &LimitArgs,
) -> i32 {
    let prog = match load(path) {
        Ok(p) => with_bugs(p, &l.bugs),
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
        let _ = writeln!(out, "error: the schedule names actor {bad}, but {path} has actors 0..{} (its threads and kthreads in file order, then finally)", nactors.saturating_sub(1));
        return EXIT_USAGE;
    }
    // Scenario actor numbers to executor ids (setup is executor actor 0).
    let ids: Vec<usize> = choices.iter().map(|c| c + 1).collect();
    let mut chooser = ReplayChooser::new(ids.clone());
    let opts = l.run_options(RunOptions {
        verbose: verbose || t.check_determinism,
        trace_events: t.trace.is_some() || t.check_determinism,
        ..Default::default()
    });
    let ex = execute(&prog, path, &mut chooser, opts);
    if ex.cut.is_some() {
        let mut shown = ex;
        shown.trace.clear();
        let (how, flags) = l.shown(&prog);
        print_execution_with(out, path, &prog, &shown, &format!("replay{how}"), false, &flags);
        return EXIT_VIOLATION;
    }
    if let Some(i) = chooser.mismatch {
        let _ = writeln!(out, "error: choice {} of the schedule does not fit {path}: that actor could not run there (was the file changed?)", i + 1);
        return EXIT_USAGE;
    }
    if !chooser.exhausted() {
        let _ = writeln!(out, "error: the execution ended before the schedule did (was the file changed?)");
        return EXIT_USAGE;
    }
    let mut shown = ex.clone();
    if !verbose {
        shown.trace.clear();
    }
    let (how, flags) = l.shown(&prog);
    let passed = print_execution_with(out, path, &prog, &shown, &format!("replay{how}"), verbose, &flags);
    let mut code = if passed { EXIT_OK } else { EXIT_VIOLATION };
    let opts = l.run_options(opts);
    let mut rerun = || execute(&prog, path, &mut ReplayChooser::new(ids.clone()), opts);
    if let Some(c) = after_execution(out, path, &prog, &ex, t, &mut rerun) {
        code = code.max(c);
    }
    code
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

/// `ksim bugs`: the historical-bug registry (and the tutorial's toggle,
/// marked as such).
pub fn cmd_bugs(out: &mut String) -> i32 {
    for b in sim_kernel::bugs::BUGS {
        let fix = if b.tutorial { "a tutorial toggle, not a Linux bug; the right version:" } else { "fixed by" };
        let _ = writeln!(out, "{}\n    {}\n    {fix} {}\n    code path: {}", b.name, b.summary, b.fix, b.path);
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
    /// `--pct N`: N executions of probabilistic concurrency testing.
    pub pct: Option<u64>,
    /// `--depth D` for `--pct` (default 3).
    pub depth: Option<u32>,
    /// Draw a progress bar on stderr (the caller decides: only when stderr
    /// is a terminal and the output is not JSON).
    pub progress: bool,
    /// Print a progress line on stderr every few seconds (the caller
    /// decides: when stderr is not a terminal, unless `--quiet`).
    pub progress_lines: bool,
    /// Search twice and compare the reports.
    pub check_determinism: bool,
    /// `--max-steps N`: calls one execution may make.
    pub max_steps: Option<u64>,
    /// `--granularity call|lock` (default: the file's, else call).
    pub granularity: Option<Granularity>,
    /// `--no-named-yield-points`.
    pub no_named_yield_points: bool,
    /// `--bug NAME`, repeated.
    pub bugs: Vec<String>,
}

/// Environment variables `--shard env/N` reads the shard index from, in
/// order: a Kubernetes Indexed Job's, then a Slurm job array's.
pub const SHARD_ENV: &[&str] = &["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

/// Parse `I/N`, or `env/N` with I from the first of [`SHARD_ENV`] set.
pub fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    parse_shard_from(s, &|k| std::env::var(k).ok())
}

/// [`parse_shard`] with the environment given (for tests).
pub fn parse_shard_from(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(u32, u32), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("--shard takes I/N (e.g. 0/4) or env/N, got `{s}`"))?;
    let from_env;
    let i = if i.trim() == "env" {
        let Some((var, v)) = SHARD_ENV.iter().find_map(|k| env(k).map(|v| (*k, v))) else {
            return Err(format!("--shard {s}: none of {} is set", SHARD_ENV.join(", ")));
        };
        from_env = v;
        if from_env.trim().parse::<u32>().is_err() {
            return Err(format!("--shard {s}: {var}=`{from_env}` is not a shard index"));
        }
        from_env.as_str()
    } else {
        i
    };
    let i: u32 = i.trim().parse().map_err(|_| format!("--shard {s}: `{i}` is not a shard index"))?;
    let n: u32 = n.trim().parse().map_err(|_| format!("--shard {s}: `{n}` is not a shard count"))?;
    if n == 0 || i >= n {
        return Err(format!("--shard {s}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// Print a search report in the human format; returns whether it passed.
/// `prog` is the report's scenario, compiled (for the check lines and the
/// counterexamples' step traces; `None` if it cannot be read or compiled).
pub fn print_report(out: &mut String, r: &crate::explore::Report, prog: Option<&Rc<Program>>) -> bool {
    let _ = writeln!(out, "== {}", r.title.as_ref().map_or(r.file.clone(), |t| format!("{t} ({})", r.file)));
    if let Some(p) = prog.filter(|p| !p.config.bugs.is_empty()) {
        let _ = writeln!(out, "bugs re-introduced: {}", p.config.bugs.join(", "));
    }
    let bound = r.preemption_bound.map_or(String::new(), |b| format!(", preemption bound {b}"));
    let shard = r.shard.as_ref().map_or(String::new(), |s| format!(", shard {s}"));
    // Shown only when not the default, so that a call-granularity report
    // reads as it did before granularities existed.
    let mut how = String::new();
    if r.granularity != Granularity::Call.name() {
        let _ = write!(how, ", {} granularity", r.granularity);
    }
    if r.no_named_yield_points {
        how.push_str(", no named yield points");
    }
    let _ = writeln!(
        out,
        "explored {} executions ({} pruned by sleep sets) [{}{how}{bound}{shard}], complete: {}",
        r.executions, r.pruned, r.mode, r.complete
    );
    if r.interrupted {
        let _ = writeln!(
            out,
            "INTERRUPTED by a signal (SIGINT or SIGTERM): this report covers the {} executions finished before it",
            r.executions
        );
    }
    if r.time_limit_reached {
        let _ = writeln!(
            out,
            "stopped by the time limit: this report covers the {} executions finished before it",
            r.executions
        );
    }
    if r.mode == "dpor" || r.mode == "naive" {
        let whole = r.complete && r.shard.is_none() && r.preemption_bound.is_none();
        match &r.naive_executions {
            Some(n) if r.mode == "dpor" => {
                let factor = n.parse::<f64>().unwrap_or(f64::INFINITY) / (r.executions.max(1) as f64);
                let _ = writeln!(out, "a naive search needs {n} executions: reduction {factor:.1}x");
            }
            Some(_) => {}
            None if r.naive_capped && whole && r.mode == "dpor" => {
                let n = r.naive_share.as_deref().unwrap_or("0");
                let factor = n.parse::<f64>().unwrap_or(f64::INFINITY) / (r.executions.max(1) as f64);
                let _ = writeln!(
                    out,
                    "a naive search needs at least {n} executions: reduction at least {factor:.1}x (a lower bound: \
                     the count stopped when the traces it keeps to count each once reached {} MiB)",
                    crate::explore::NAIVE_SEEN_BYTES >> 20
                );
            }
            None => {
                let _ = writeln!(out, "a naive search needs: unknown (known exactly only for a complete, unsharded search whose actors never wait)");
            }
        }
    }
    if let Some(seed) = r.seed {
        let _ = writeln!(out, "seed: {seed}");
    }
    if let Some(p) = &r.pct {
        let _ = writeln!(
            out,
            "pct: depth {}, n = {} actors, k = {} steps: each execution finds a given bug of depth {} with probability >= 1/{}",
            p.depth,
            p.actors,
            p.steps,
            p.depth,
            compact_denominator(p)
        );
    }
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
    if let Some(prog) = prog {
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
        let why = if r.shard.is_some() {
            "not reached in this shard (`ksim merge` judges it over every shard)"
        } else if r.complete {
            "no execution reached it"
        } else {
            "not reached, and the search was not complete"
        };
        let _ = writeln!(out, "exists {} (line {}): {why}", e.check, e.line);
    }
    if r.failed() {
        let _ = writeln!(out, "FAIL: {} distinct violation(s)", r.violations);
        for c in &r.counterexamples {
            let _ =
                writeln!(out, "--- {} (in {} executions; shortest: {} preemptions)", c.kind, c.count, c.preemptions);
            let _ = writeln!(out, "  {}", c.message.replace('\n', "\n  "));
            // The step trace of the counterexample, by replaying it (not
            // for a step limit: one line per call).
            if c.kind == crate::runner::ViolationKind::StepLimit.name() {
                let _ = writeln!(out, "    (its steps: ksim replay -v)");
            } else if let (Some(prog), Ok(choices)) = (prog, parse_schedule(&c.schedule)) {
                let mut ch = ReplayChooser::new(choices.iter().map(|x| x + 1).collect());
                let opts = RunOptions {
                    verbose: true,
                    granularity: Granularity::parse(&r.granularity),
                    no_named_yield_points: r.no_named_yield_points,
                    ..Default::default()
                };
                let ex = execute(prog, &r.file, &mut ch, opts);
                for l in &ex.trace {
                    let _ = writeln!(out, "    {l}");
                }
            }
            let _ = writeln!(out, "  replay: ksim replay {} {}{}", r.file, c.schedule, replay_flags(r));
        }
        false
    } else {
        let _ = writeln!(out, "PASS");
        true
    }
}

/// The flags a `ksim replay` of a report's schedule needs besides the file
/// and the schedule: the granularity (when not call) and
/// `--no-named-yield-points`.
pub fn replay_flags(r: &crate::explore::Report) -> String {
    let mut f = String::new();
    if r.granularity != Granularity::Call.name() {
        let _ = write!(f, " --granularity {}", r.granularity);
    }
    if r.no_named_yield_points {
        f.push_str(" --no-named-yield-points");
    }
    for b in &r.bugs {
        let _ = write!(f, " --bug {b}");
    }
    f
}

/// The PCT bound's denominator `n k^(d-1)` as the text report prints it:
/// in decimal up to 15 digits, else as the product with its order of
/// magnitude (`3 * 120^9 (about 1.5e19)`); JSON keeps the decimal.
fn compact_denominator(p: &crate::explore::PctInfo) -> String {
    let d = &p.bound_denominator;
    if d.len() <= 15 {
        return d.clone();
    }
    let lead: f64 = d[..3].parse::<f64>().unwrap_or(0.0) / 100.0;
    format!("({} * {}^{}, about {lead:.1}e{})", p.actors, p.steps, p.depth.saturating_sub(1), d.len() - 1)
}

/// `ksim explore FILE... [options]`.
pub fn cmd_explore(out: &mut String, files: &[String], a: &ExploreArgs) -> i32 {
    let shard = match a.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return EXIT_USAGE;
        }
    };
    if a.seed.is_some() && a.random.is_none() && a.pct.is_none() {
        let _ = writeln!(out, "error: --seed goes with --random N or --pct N");
        return EXIT_USAGE;
    }
    if a.depth.is_some() && a.pct.is_none() {
        let _ = writeln!(out, "error: --depth goes with --pct N");
        return EXIT_USAGE;
    }
    if a.pct.is_some() && a.random.is_some() {
        let _ = writeln!(out, "error: --pct and --random are two different searches: give one");
        return EXIT_USAGE;
    }
    let max_depth = crate::limits::MAX_DEPTH;
    if a.depth.is_some_and(|d| d == 0 || d > max_depth) {
        let _ = writeln!(out, "error: --depth must be between 1 and {max_depth}");
        return EXIT_USAGE;
    }
    let max_jobs = crate::limits::MAX_JOBS;
    if a.jobs.is_some_and(|j| j == 0 || j > max_jobs) {
        let _ = writeln!(out, "error: --jobs must be between 1 and {max_jobs}");
        return EXIT_USAGE;
    }
    if let Some(t) = a.time_limit_s {
        if let Err(e) = crate::limits::parse_time_limit(&t.to_string()) {
            let _ = writeln!(out, "error: --time-limit {e}");
            return EXIT_USAGE;
        }
    }
    let jobs = a.jobs.unwrap_or(1).max(1) as usize;
    // Progress lines for every search of this command, counted together.
    let lines = a.progress_lines.then(|| crate::progress::lines(files));
    let sink = lines.as_ref().map(|l| l.sink()).unwrap_or_default();
    if files.len() > 1 && jobs > 1 && !a.progress {
        // Several files: explore them side by side, one search per thread
        // (each alone: it would only split a small search further), and
        // print the reports in the order given, exactly as one at a time.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let one = ExploreArgs { jobs: Some(1), ..a.clone() };
        // Each thread takes the next file and hands back what it searched
        // (`None`: not searched, a signal came first); a file whose thread
        // panicked stays `None`.
        let mut done: Vec<Option<Option<(String, i32)>>> = vec![None; files.len()];
        let results = crossbeam::thread::scope(|s| {
            let handles: Vec<_> = (0..jobs.min(files.len()))
                .map(|_| {
                    s.spawn(|_| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(path) = files.get(i) else { break };
                            if crate::limits::interrupted() {
                                mine.push((i, None));
                                continue;
                            }
                            let mut o = String::new();
                            let c = explore_file(&mut o, path, &one, shard, &sink);
                            mine.push((i, Some((o, c))));
                        }
                        mine
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).flatten().collect::<Vec<_>>()
        });
        for (i, d) in results.into_iter().flatten() {
            done[i] = Some(d);
        }
        let mut code = EXIT_OK;
        let mut skipped = Vec::new();
        for (path, d) in files.iter().zip(done) {
            match d {
                Some(Some((o, c))) => {
                    out.push_str(&o);
                    code = code.max(c);
                }
                Some(None) => skipped.push(path.as_str()),
                None => {
                    let _ = writeln!(out, "error: exploring {path}: the search thread panicked");
                    code = code.max(EXIT_USAGE);
                }
            }
        }
        drop(lines);
        return code.max(not_explored(out, &skipped, a.json));
    }
    let mut code = EXIT_OK;
    let mut skipped = Vec::new();
    for path in files {
        if crate::limits::interrupted() {
            skipped.push(path.as_str());
            continue;
        }
        code = code.max(explore_file(out, path, a, shard, &sink));
    }
    drop(lines);
    code.max(not_explored(out, &skipped, a.json))
}

/// After an interrupt, name the files not searched (on stderr with
/// `--json`, whose stdout holds only reports); the exit status.
fn not_explored(out: &mut String, skipped: &[&str], json: bool) -> i32 {
    if skipped.is_empty() {
        return EXIT_OK;
    }
    let line = format!("INTERRUPTED before these files were explored: {}", skipped.join(" "));
    if json {
        eprintln!("{line}");
    } else {
        let _ = writeln!(out, "{line}");
    }
    EXIT_INTERRUPTED
}

/// Explore one file (the body of [`cmd_explore`]); returns its exit code.
/// `sink` hears of every execution (the progress lines).
fn explore_file(
    out: &mut String,
    path: &str,
    a: &ExploreArgs,
    shard: Option<(u32, u32)>,
    sink: &crate::explore::Progress,
) -> i32 {
    use crate::explore::{explore_parallel_with, ExploreOptions, Mode};
    let mut code = EXIT_OK;
    let src = match read_source(path) {
        Ok(s) => s,
        Err(e) => {
            out.push_str(&e);
            return EXIT_USAGE;
        }
    };
    let prog = match load_source(path, &src) {
        Ok(p) => with_bugs(p, &a.bugs),
        Err(e) => {
            out.push_str(&e);
            return EXIT_USAGE;
        }
    };
    let o = ExploreOptions {
        mode: if a.naive { Mode::Naive } else { Mode::Dpor },
        preemptions: a.preemptions.or(prog.config.preemptions.map(|p| p.min(u32::MAX as u64) as u32)),
        max_executions: a.max_executions.or(prog.config.max_executions),
        time_limit: a.time_limit_s.and_then(|s| Duration::try_from_secs_f64(s).ok()),
        random: a.random.map(|n| (n, a.seed.or(prog.config.seed).unwrap_or(0))),
        pct: a.pct.map(|count| crate::explore::PctOptions {
            count,
            depth: a.depth.unwrap_or(3),
            seed: a.seed.or(prog.config.seed).unwrap_or(0),
        }),
        shard,
        max_steps: a.max_steps,
        granularity: a.granularity,
        no_named_yield_points: a.no_named_yield_points,
        bugs: a.bugs.clone(),
        ..Default::default()
    };
    let jobs = a.jobs.unwrap_or(1);
    let mut o_shown = o.clone();
    o_shown.progress = sink.clone();
    let bar = a.progress.then(|| crate::progress::bar(path, &o));
    if let Some(b) = &bar {
        o_shown.progress = b.sink();
    }
    let r = explore_parallel_with(path, &src, Some(&prog), &o_shown, jobs);
    drop(bar);
    let r = match r {
        Ok(r) => r,
        Err(e) => {
            out.push_str(&e);
            return EXIT_USAGE;
        }
    };
    if a.check_determinism && (r.interrupted || r.time_limit_reached) {
        let _ = writeln!(out, "determinism: not checked (the search was cut short)");
    } else if a.check_determinism {
        let again = explore_parallel_with(path, &src, Some(&prog), &o, jobs);
        let h = |r: &crate::explore::Report| fnv1a(serde_json::to_string(r).unwrap_or_default().as_bytes());
        match again {
            Ok(r2) if r2.interrupted || r2.time_limit_reached => {
                let _ = writeln!(out, "determinism: not checked (the second search was cut short)");
                if r2.interrupted {
                    code = EXIT_INTERRUPTED;
                }
            }
            Ok(r2) if h(&r2) == h(&r) => {
                let _ = writeln!(out, "determinism: two searches gave the same report (hash {:016x})", h(&r));
            }
            _ => {
                let _ = writeln!(out, "determinism: FAILED: two searches of {path} gave different reports");
                code = EXIT_VIOLATION;
            }
        }
    }
    let ok = if a.json {
        let _ = writeln!(out, "{}", serde_json::to_string(&r).unwrap_or_default());
        !r.failed()
    } else {
        print_report(out, &r, Some(&prog))
    };
    if !ok && code == EXIT_OK {
        code = EXIT_VIOLATION;
    }
    if r.interrupted {
        code = EXIT_INTERRUPTED;
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
        let mut any = false;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match serde_json::from_str::<Report>(line) {
                Ok(r) => by_file.entry(r.file.clone()).or_default().push(r),
                Err(e) => {
                    let _ = writeln!(out, "error: {path}:{}: not a ksim explore report: {e}", i + 1);
                    return EXIT_USAGE;
                }
            }
            any = true;
        }
        // An empty input is a shard that did not run (or wrote nothing):
        // merging without it would pass off part of a search as the whole.
        if !any {
            let _ = writeln!(
                out,
                "error: {path} holds no ksim explore report (expected the output of `ksim explore --json`)"
            );
            return EXIT_USAGE;
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
            let prog = std::fs::read_to_string(&file)
                .ok()
                .and_then(|src| load_source(&file, &src).ok())
                .map(|p| with_bugs(p, &r.bugs));
            print_report(out, &r, prog.as_ref())
        };
        if !ok {
            code = EXIT_VIOLATION;
        }
    }
    code
}
