//! The loom engine itself (compiled only under `cfg(loom)`): the model of
//! one scenario, what its executions saw, and the report, printed as
//! `ksim explore` prints its own (`cli::print_report`: the title, the
//! outcome histogram, the check lines, PASS or the violations).
//!
//! Every violation the interpreter or the teardown finds is recorded and
//! loom goes on to the next interleaving, so that a failing scenario still
//! shows its whole outcome set. A failed statement ends its own section
//! only: loom cannot stop a thread from outside, so the other actors run
//! to their end (where `ksim explore` stops the whole execution), and the
//! outcomes of a failing execution can hold names `ksim explore` leaves
//! unset; `finally` and the checks do not run after a failure, as there.
//!
//! What ends loom's search early is a panic inside the model: a deadlock
//! (every thread asleep), a kernel assertion, loom's own limits. The engine's panic hook prints the report instead of
//! loom's double panic: the calls each actor was in (and every call the
//! execution made before), as `ksim explore` reports a deadlock.
// The bookkeeping outside the model uses std's lock: loom must not see it
// (it is no part of the kernel, and loom would explore its interleavings).
#![allow(clippy::disallowed_types)]

use super::unsupported;
use crate::calls::{self, KsimCatalog};
use crate::eval::{self, Scope};
use crate::lang::ast::CheckKind;
use crate::lang::ir::{ActorKindIr, CallOp, IrBind, Op, Program, Slot};
use crate::value::Value;
use sim_kernel::bugs::BugSet;
use sim_kernel::objtrack::Report;
use sim_kernel::sync::Arc;
use sim_kernel::{Kernel, Process, Task};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Mutex as StdMutex;

const EXIT_OK: i32 = 0;
const EXIT_VIOLATION: i32 = 1;
const EXIT_USAGE: i32 = 2;

const USAGE: &str =
    "usage: ksim explore [--engine loom] [--preemptions N] [--max-executions N] [--time-limit S] FILE...
  (this ksim is the loom build: ./loom.sh explore FILE; LOOM_MAX_PREEMPTIONS=N bounds the preemptions,
   unset for none)";

/// The model's state, shared by its loom threads.
///
/// SAFETY of the `Send`/`Sync` impls: loom runs every thread of a model as
/// a coroutine on the one OS thread that called `Builder::check`, and
/// switches between them only inside a loom operation (a lock, a condition
/// variable, an atomic, a spawn or join). The interpreter's values (`Rc`,
/// `RefCell`) are touched only between such operations (a borrow never
/// spans a kernel call), so no two threads ever touch them at once.
struct OneOsThread<T>(T);
unsafe impl<T> Send for OneOsThread<T> {}
unsafe impl<T> Sync for OneOsThread<T> {}

/// What a file's executions share: the program and its names.
struct Prepared {
    prog: Rc<Program>,
    path: Rc<str>,
    bugs: BugSet,
    /// `setup`, the actors, `finally`: the names call lines and reports use.
    names: Vec<String>,
    /// `actor.name` for every actor local, then the globals bound in
    /// finally (as the native runner's outcome, in that order).
    outcome_names: Vec<String>,
    outcome_globals: Vec<u32>,
}

/// One execution's interpreter state.
struct World {
    pre: Rc<Prepared>,
    globals: RefCell<Vec<Value>>,
    locals: Vec<RefCell<Vec<Value>>>,
    violations: RefCell<Vec<Violation>>,
}

#[derive(Clone, Debug)]
struct Violation {
    kind: &'static str,
    key: String,
    message: String,
}

/// What the current execution has done so far, kept outside the model so
/// that a panic (a loom deadlock) can still report it.
#[derive(Default)]
struct Live {
    /// Every call made and its result, in order, as `ksim run -v` writes
    /// them (without the clock: loom has none).
    lines: Vec<String>,
    /// Per section (setup, actors, finally): the call it is in.
    in_call: Vec<Option<(u32, String)>>,
}

static LIVE: StdMutex<Option<Live>> = StdMutex::new(None);

fn live<R>(f: impl FnOnce(&mut Live) -> R) -> R {
    let mut g = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    f(g.get_or_insert_with(Live::default))
}

/// What the executions saw, accumulated across loom's iterations.
#[derive(Default)]
struct Acc {
    executions: u64,
    /// Outcome key (the values in name order) -> (name -> value, count).
    outcomes: BTreeMap<String, (BTreeMap<String, String>, u64)>,
    /// Per check line: an `exists` held in some execution.
    seen: Vec<bool>,
    /// Violation key -> (violation, count, the calls of its first execution).
    violations: BTreeMap<String, (Violation, u64, Vec<String>)>,
}

static ACC: StdMutex<Option<Acc>> = StdMutex::new(None);

fn acc<R>(f: impl FnOnce(&mut Acc) -> R) -> R {
    let mut g = ACC.lock().unwrap_or_else(|p| p.into_inner());
    f(g.get_or_insert_with(Acc::default))
}

#[derive(Clone, Copy)]
enum Who {
    Setup,
    Actor(usize),
    Finally,
}

impl Who {
    fn index(self, n: usize) -> usize {
        match self {
            Who::Setup => 0,
            Who::Actor(i) => i + 1,
            Who::Finally => n + 1,
        }
    }
}

struct Env<'a> {
    w: &'a World,
    actor: Option<usize>,
}

impl Scope for Env<'_> {
    fn global(&self, i: u32) -> Value {
        self.w.globals.borrow()[i as usize].clone()
    }
    fn local(&self, i: u32) -> Result<Value, String> {
        let a = self.actor.ok_or("a local name outside an actor")?;
        Ok(self.w.locals[a].borrow()[i as usize].clone())
    }
    fn actor_var(&self, actor: u32, slot: u32) -> Value {
        self.w.locals[actor as usize].borrow()[slot as usize].clone()
    }
    fn blocked(&self, _actor: u32) -> bool {
        // Refused before the run (`unsupported`): every loom thread ends.
        false
    }
}

impl World {
    fn fail(&self, kind: &'static str, key: String, message: String) {
        self.violations.borrow_mut().push(Violation { kind, key, message });
    }

    /// `thread `reader``, as the native runner names the section in a
    /// failed call's message.
    fn who(&self, who: Who) -> String {
        let kind = match who {
            Who::Actor(i) => match self.pre.prog.actors[i].kind {
                ActorKindIr::Thread => "thread",
                ActorKindIr::Kthread => "kthread",
            },
            _ => "section",
        };
        format!("{kind} `{}`", self.pre.names[who.index(self.pre.prog.actors.len())])
    }
}

/// Run a section's statements; false once one failed (the section stops,
/// as under the native runner).
fn run_ops(w: &World, who: Who, task: &Task, ops: &[Op]) -> bool {
    for op in ops {
        let go = match op {
            Op::Call(c) => exec_call(w, who, task, c),
            Op::Repeat { count, body } => (0..*count).all(|_| run_ops(w, who, task, body)),
        };
        if !go {
            return false;
        }
    }
    true
}

/// One statement: evaluate the arguments, make the call through the
/// native runner's dispatch, bind the result and check its pattern. The
/// messages are the native runner's (`runner.rs`), so that both engines
/// report a failed statement alike.
fn exec_call(w: &World, who: Who, task: &Task, c: &CallOp) -> bool {
    let actor = match who {
        Who::Actor(i) => Some(i),
        _ => None,
    };
    let env = Env { w, actor };
    let (path, line) = (&*w.pre.path, c.span.line);
    let eval_fail = |e: String| {
        w.fail("evaluation error", format!("eval:{line}"), format!("{path}:{line}: {}: {}: {e}", w.who(who), c.text));
        false
    };
    let mut args = Vec::with_capacity(c.args.len());
    for a in &c.args {
        match eval::eval(&env, a) {
            Ok(v) => args.push(v),
            Err(e) => return eval_fail(e),
        }
    }
    let mut named = Vec::with_capacity(c.named.len());
    for (n, a) in &c.named {
        match eval::eval(&env, a) {
            Ok(v) => named.push((n.as_str(), v)),
            Err(e) => return eval_fail(e),
        }
    }
    let idx = who.index(w.pre.prog.actors.len());
    live(|l| l.in_call[idx] = Some((line, c.text.clone())));
    let result = calls::dispatch(c.call, task, &args, &named);
    drop((args, named));
    live(|l| l.in_call[idx] = None);
    let result = match result {
        Ok(v) => v,
        Err(e) => return eval_fail(e),
    };
    let name = &w.pre.names[idx];
    live(|l| l.lines.push(format!("{name:<10} {path}:{line}  {} = {result}", c.text)));
    eval::bind(&c.bind, &result, |slot, v| match slot {
        Slot::Global(i) => w.globals.borrow_mut()[*i as usize] = v,
        Slot::Local(i) => {
            if let Some(a) = actor {
                w.locals[a].borrow_mut()[*i as usize] = v;
            }
        }
    });
    match &c.pattern {
        Some(alts) => match eval::pattern_matches(&env, alts, &result) {
            Ok(true) => true,
            Ok(false) => {
                let pat = c.pattern_text.as_deref().unwrap_or_default();
                w.fail(
                    "pattern",
                    format!("pattern:{line}"),
                    format!("{path}:{line}: {}: {} => {pat}, got {result}", w.who(who), c.text),
                );
                false
            }
            Err(e) => eval_fail(e),
        },
        None if matches!(c.bind, IrBind::None) && eval::is_failure(&result) => {
            let how = match &result {
                Value::Errno(e) => format!("failed with {} ({})", e.name(), e.description()),
                other => format!("ended in {other}"),
            };
            w.fail(
                "call failed",
                format!("call:{line}"),
                format!(
                    "{path}:{line}: {}: {} {how}; a call with no `=>` and no name must succeed",
                    w.who(who),
                    c.text
                ),
            );
            false
        }
        None => true,
    }
}

fn report_violation(r: &Report) -> Violation {
    // Under loom the kernel has no executor to name call sites (every
    // site is 0): the report names the object and the operation.
    match r {
        Report::UseAfterFree { obj, ty, op, .. } => Violation {
            kind: "use-after-free",
            key: format!("uaf:{ty}:{op}"),
            message: format!("use-after-free: {op} on {ty} #{obj}"),
        },
        Report::DoubleFree { obj, ty, .. } => Violation {
            kind: "double free",
            key: format!("double-free:{ty}"),
            message: format!("double free: {ty} #{obj} released again"),
        },
        Report::Invariant { msg, .. } => {
            Violation { kind: "kernel warning", key: format!("warn:{msg}"), message: format!("kernel warning: {msg}") }
        }
    }
}

/// One execution of the model: everything `runner::execute` does, with
/// loom threads for the actors.
fn execution(pre: &Rc<Prepared>) {
    let prog = &pre.prog;
    let n = prog.actors.len();
    live(|l| {
        l.lines.clear();
        l.in_call.clear();
        l.in_call.resize(n + 2, None);
    });
    let kernel = Kernel::on(pre.bugs, prog.config.machine());
    let procs: Vec<Arc<Process>> = prog.processes.iter().map(|p| Process::new(&kernel, p.as_str())).collect();
    let main_task = |i: usize| Task::new(&kernel, Some(procs[0].clone()), pre.names[i].as_str());
    let w = Rc::new(World {
        pre: pre.clone(),
        globals: RefCell::new(vec![Value::Unset; prog.globals.len()]),
        locals: prog.actors.iter().map(|a| RefCell::new(vec![Value::Unset; a.locals.len()])).collect(),
        violations: RefCell::new(Vec::new()),
    });
    let mut ok = run_ops(&w, Who::Setup, &main_task(0), &prog.setup);
    if ok {
        let threads: Vec<_> = prog
            .actors
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let task = match a.kind {
                    ActorKindIr::Thread => {
                        Task::new(&kernel, Some(procs[a.process as usize].clone()), pre.names[i + 1].as_str())
                    }
                    ActorKindIr::Kthread => main_task(i + 1),
                };
                let mine = OneOsThread((w.clone(), task));
                loom::thread::spawn(move || {
                    let mine = mine;
                    let (w, task) = &mine.0;
                    run_ops(w, Who::Actor(i), task, &w.pre.prog.actors[i].body);
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        ok = w.violations.borrow().is_empty();
    }
    if ok && !prog.finally.is_empty() {
        ok = run_ops(&w, Who::Finally, &main_task(n + 1), &prog.finally);
    }
    let mut checks = Vec::new();
    if ok {
        let env = Env { w: &w, actor: None };
        for c in &prog.checks {
            let value = eval::truth(&env, &c.expr);
            let (path, line) = (&*pre.path, c.span.line);
            match (&c.kind, &value) {
                (CheckKind::Assert, Ok(false)) => w.fail(
                    "assert",
                    format!("assert:{line}"),
                    format!("{path}:{line}: assert {} does not hold", c.text),
                ),
                (CheckKind::Never, Ok(true)) => {
                    w.fail("never", format!("never:{line}"), format!("{path}:{line}: never {} happened", c.text))
                }
                (_, Err(e)) => w.fail(
                    "evaluation error",
                    format!("check:{line}"),
                    format!("{path}:{line}: cannot evaluate `{}`: {e}", c.text),
                ),
                _ => {}
            }
            checks.push(value == Ok(true));
        }
    }
    let mut key = String::new();
    let mut values = BTreeMap::new();
    {
        let g = w.globals.borrow();
        let vals = w
            .locals
            .iter()
            .flat_map(|l| l.borrow().clone())
            .chain(pre.outcome_globals.iter().map(|&i| g[i as usize].clone()));
        for (name, v) in pre.outcome_names.iter().zip(vals) {
            let s = v.to_string();
            let _ = writeln!(key, "{s}");
            values.insert(name.clone(), s);
        }
    }
    // Teardown: every process exits, then nothing may be reported or left.
    for p in &procs {
        p.exit_files();
    }
    for r in kernel.objs.reports() {
        w.violations.borrow_mut().push(report_violation(&r));
    }
    if ok {
        for (id, rec) in kernel.objs.live() {
            w.fail("leak", format!("leak:{}", rec.ty), format!("leak: {} #{id} was never released", rec.ty));
        }
    }
    let violations = std::mem::take(&mut *w.violations.borrow_mut());
    let lines = live(|l| l.lines.clone());
    acc(|a| {
        a.executions += 1;
        a.outcomes.entry(key).or_insert_with(|| (values, 0)).1 += 1;
        a.seen.resize(prog.checks.len(), false);
        for (i, (c, held)) in prog.checks.iter().zip(&checks).enumerate() {
            if c.kind == CheckKind::Exists && *held {
                a.seen[i] = true;
            }
        }
        for v in violations {
            a.violations.entry(v.key.clone()).or_insert_with(|| (v, 0, lines.clone())).1 += 1;
        }
    });
}

/// Search limits from the command line.
#[derive(Default)]
struct Limits {
    preemptions: Option<usize>,
    max_executions: Option<usize>,
    time_limit: Option<std::time::Duration>,
}

/// Explore one file under loom and print its report; the exit status.
fn explore_file(out: &mut String, path: &str, lim: &Limits) -> i32 {
    let src = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(out, "error: cannot read {path}: {e}");
            return EXIT_USAGE;
        }
    };
    let prog = match crate::lang::diag::decode(path, &src).and_then(|s| crate::lang::compile(path, s, &KsimCatalog)) {
        Ok(p) => Rc::new(p),
        Err(e) => {
            out.push_str(&e);
            return EXIT_USAGE;
        }
    };
    if let Some(why) = unsupported(&prog) {
        let _ = writeln!(out, "error: {path} cannot run under loom: {why}");
        return EXIT_USAGE;
    }
    let mut bugs = BugSet::NONE;
    for b in &prog.config.bugs {
        bugs.enable(b);
    }
    let mut names = vec!["setup".to_string()];
    names.extend(prog.actors.iter().map(|a| a.name.clone()));
    names.push("finally".to_string());
    let mut outcome_names = Vec::new();
    for a in &prog.actors {
        outcome_names.extend(a.locals.iter().map(|l| format!("{}.{l}", a.name)));
    }
    let mut from_setup = Vec::new();
    crate::lang::ir::setup_globals(&prog.setup, &mut from_setup);
    let outcome_globals: Vec<u32> = (0..prog.globals.len() as u32).filter(|i| !from_setup.contains(i)).collect();
    outcome_names.extend(outcome_globals.iter().map(|&i| prog.globals[i as usize].clone()));
    let pre =
        Rc::new(Prepared { prog: prog.clone(), path: Rc::from(path), bugs, names, outcome_names, outcome_globals });

    let mut b = loom::model::Builder::new();
    if let Some(p) = lim.preemptions {
        b.preemption_bound = Some(p);
    }
    // loom's default (1,000 branches an execution) is for small models; a
    // scenario runs whole syscalls. LOOM_MAX_BRANCHES still decides.
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        b.max_branches = 20_000;
    }
    if lim.max_executions.is_some() || lim.time_limit.is_some() {
        // loom stops before its Nth iteration: N - 1 executions.
        b.max_permutations = lim.max_executions.map(|m| m.saturating_add(1));
        b.max_duration = lim.time_limit;
        // The limits are looked at every checkpoint interval.
        b.checkpoint_interval = 1;
    }
    let bound = b.preemption_bound;
    *ACC.lock().unwrap_or_else(|p| p.into_inner()) = None;
    CURRENT.with(|c| *c.borrow_mut() = Some((pre.clone(), bound)));
    let model = OneOsThread(pre.clone());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(on_panic));
    let start = std::time::Instant::now();
    b.check(move || {
        let model = &model;
        execution(&model.0)
    });
    std::panic::set_hook(hook);
    CURRENT.with(|c| *c.borrow_mut() = None);
    let elapsed = start.elapsed();
    let a = ACC.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
    let cut =
        lim.max_executions.is_some_and(|m| a.executions as usize >= m) || lim.time_limit.is_some_and(|t| elapsed >= t);
    print_report(out, &pre, &a, bound, !cut)
}

thread_local! {
    /// The file being searched and its preemption bound, for [`on_panic`].
    static CURRENT: RefCell<Option<(Rc<Prepared>, Option<usize>)>> = const { RefCell::new(None) };
}

/// A panic inside the model ends loom's search, and loom cannot always
/// unwind from it (a deadlock found inside a thread's switch aborts the
/// process: a "non-unwinding panic", after loom's own double panic). So
/// the hook itself prints the report of what was searched, with the panic
/// as its violation, and ends the process (exit 1): the files after this
/// one on the command line are not searched.
fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
    let p = info.payload();
    let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
    let msg = msg.unwrap_or_else(|| "a panic".to_string());
    let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
    let cur = CURRENT.with(|c| c.try_borrow().ok().and_then(|c| c.clone()));
    let Some((pre, bound)) = cur else {
        eprintln!("ksim (loom build) panicked: {msg}{at}");
        std::process::exit(101);
    };
    // The panic may have come with either lock held: never wait for it.
    let (lines, in_call) = match LIVE.try_lock() {
        Ok(mut l) => l.take().map(|l| (l.lines, l.in_call)).unwrap_or_default(),
        Err(_) => Default::default(),
    };
    let mut a = match ACC.try_lock() {
        Ok(mut a) => a.take().unwrap_or_default(),
        Err(_) => Acc::default(),
    };
    // The execution the panic ended counts as explored.
    a.executions += 1;
    a.violations.insert("loom".to_string(), (loom_failure(&pre, &format!("{msg}{at}"), &in_call), 1, lines));
    let mut out = String::new();
    print_report(&mut out, &pre, &a, bound, false);
    use std::io::Write as _;
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out.as_bytes());
    let _ = so.flush();
    std::process::exit(EXIT_VIOLATION);
}

/// The panic that ended loom's search, as a violation: a deadlock with the
/// call each section was in, or the panic's message.
fn loom_failure(pre: &Prepared, msg: &str, in_call: &[Option<(u32, String)>]) -> Violation {
    let deadlock = msg.contains("deadlock");
    let mut m = if deadlock {
        String::from("deadlock: no actor can run (loom found every thread asleep)")
    } else if msg.contains("maximum number of branches") {
        format!(
            "loom stopped the search at its branch limit (LOOM_MAX_BRANCHES, 20,000 here): a thread \
             that makes no progress until another runs (a spin), which loom no longer switches away \
             from once its preemption bound is spent ({msg})"
        )
    } else {
        format!("loom stopped the search: {msg}")
    };
    for (i, c) in in_call.iter().enumerate() {
        if let Some((line, text)) = c {
            let verb = if deadlock { "blocked in" } else { "was in" };
            let _ = write!(m, "\n  {} {verb} {text} at {}:{line}", pre.names[i], pre.path);
        }
    }
    let kind = if deadlock { "deadlock" } else { "loom" };
    Violation { kind, key: kind.into(), message: m }
}

/// The report, in `ksim explore`'s shape (`cli::print_report`).
fn print_report(out: &mut String, pre: &Prepared, a: &Acc, bound: Option<usize>, complete: bool) -> i32 {
    let prog = &pre.prog;
    let title = prog.title.as_ref().map_or(pre.path.to_string(), |t| format!("{t} ({})", pre.path));
    let _ = writeln!(out, "== {title}");
    let bound = bound.map_or("no preemption bound".to_string(), |b| format!("preemption bound {b}"));
    let _ = writeln!(out, "explored {} executions [loom, {bound}], complete: {complete}", a.executions);
    let _ = writeln!(out, "outcomes:");
    for (values, count) in a.outcomes.values() {
        let vals: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let vals = if vals.is_empty() { "(no names bound)".to_string() } else { vals.join(", ") };
        let _ = writeln!(out, "  {count:>8}  {vals}");
    }
    if !prog.checks.is_empty() {
        let _ = writeln!(out, "checks:");
    }
    let mut unseen = Vec::new();
    for (i, c) in prog.checks.iter().enumerate() {
        let (kw, status) = match c.kind {
            CheckKind::Exists => {
                let seen = a.seen.get(i).copied().unwrap_or(false);
                if !seen {
                    unseen.push(c);
                }
                ("exists", if seen { "seen" } else { "NOT SEEN" })
            }
            k => {
                let key = format!("{}:{}", if k == CheckKind::Assert { "assert" } else { "never" }, c.span.line);
                let kw = if k == CheckKind::Assert { "assert" } else { "never" };
                (kw, if a.violations.contains_key(&key) { "FAILED" } else { "ok" })
            }
        };
        let _ = writeln!(out, "  {status:<9} {kw} {}", c.text);
    }
    for c in &unseen {
        let why = if complete { "no execution reached it" } else { "not reached, and the search was not complete" };
        let _ = writeln!(out, "exists {} (line {}): {why}", c.text, c.span.line);
    }
    if a.violations.is_empty() && unseen.is_empty() {
        let _ = writeln!(out, "PASS");
        return EXIT_OK;
    }
    let _ = writeln!(out, "FAIL: {} distinct violation(s)", a.violations.len());
    for (v, count, lines) in a.violations.values() {
        let _ = writeln!(out, "--- {} (in {count} executions)", v.kind);
        let _ = writeln!(out, "  {}", v.message.replace('\n', "\n  "));
        let _ = writeln!(out, "  the calls of the first execution that showed it:");
        for l in lines {
            let _ = writeln!(out, "    {l}");
        }
    }
    EXIT_VIOLATION
}

/// `ksim` built with `cfg(loom)`: `explore [--engine loom] FILE...`.
pub fn cli_main(args: Vec<String>) -> i32 {
    let mut it = args.into_iter();
    if it.next().as_deref() != Some("explore") {
        eprintln!("{USAGE}");
        return EXIT_USAGE;
    }
    let mut lim = Limits::default();
    let mut files = Vec::new();
    while let Some(a) = it.next() {
        let mut num = |what: &str| -> Option<f64> {
            let v = it.next().and_then(|v| v.parse::<f64>().ok()).filter(|v| *v >= 0.0 && v.is_finite());
            if v.is_none() {
                eprintln!("error: {what} needs a non-negative number\n{USAGE}");
            }
            v
        };
        match a.as_str() {
            "--engine" => match it.next().as_deref() {
                Some("loom") => {}
                Some(other) => {
                    eprintln!("error: this ksim is the loom build; --engine {other} is the native ksim's (target/test-release/ksim)");
                    return EXIT_USAGE;
                }
                None => {
                    eprintln!("{USAGE}");
                    return EXIT_USAGE;
                }
            },
            "--preemptions" => match num(&a) {
                Some(v) => lim.preemptions = Some(v as usize),
                None => return EXIT_USAGE,
            },
            "--max-executions" => match num(&a) {
                Some(v) => lim.max_executions = Some(v as usize),
                None => return EXIT_USAGE,
            },
            "--time-limit" => match num(&a) {
                Some(v) => lim.time_limit = Some(std::time::Duration::from_secs_f64(v)),
                None => return EXIT_USAGE,
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return EXIT_OK;
            }
            f if !f.starts_with('-') => files.push(a),
            _ => {
                eprintln!("error: unknown option {a}\n{USAGE}");
                return EXIT_USAGE;
            }
        }
    }
    if files.is_empty() {
        eprintln!("{USAGE}");
        return EXIT_USAGE;
    }
    let mut code = EXIT_OK;
    for f in &files {
        let mut out = String::new();
        let c = explore_file(&mut out, f, &lim);
        print!("{out}");
        code = code.max(c);
    }
    code
}
