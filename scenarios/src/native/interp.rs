//! The native interpreter: one execution of a scenario against the host
//! kernel, inside the child process ([`super::child`]).
//!
//! Before anything runs, the child asks the planner
//! ([`super::host::plan`]) as the parent did: a scenario the host cannot
//! run as written is skipped with the planner's reason, otherwise the
//! process is configured to be the simulated machine
//! ([`super::child::configure`]).
//!
//! The phases are the simulator's ([`crate::runner`]): `setup` alone, then
//! every actor at once, then `finally`, then `check`. Each runs on real OS
//! threads (setup and finally on one thread each, every actor on its own);
//! the main thread only watches them. Expressions, patterns and checks are
//! evaluated by [`crate::eval`], so they mean what they mean in the
//! simulator; the rules for binding, `=>` patterns, the "a call with no `=>`
//! and no name must succeed" rule and the outcome are the runner's.
//!
//! Blocking: a thread is *blocked* when it has been inside a call that has no
//! time bound (not `sleep_ns`, not a `poll` with a timeout) while no call
//! anywhere completed for [`QUIET`] and the host says it is asleep (state S
//! or D in /proc, so that a thread starved of CPU on a loaded machine is not
//! mistaken for a blocked one). When every unfinished thread of a phase
//! is blocked, the phase ends: a blocked `(may block)` actor is recorded for
//! `blocked(A)` (and stays blocked in its system call until `finally` wakes it
//! or the process exits), any other blocked thread is a deadlock, as in the
//! simulator. A phase that runs longer than [`PHASE_LIMIT`] fails.
//!
//! `exec()` is a real execve(2) of the ksim binary (`__native-child FILE
//! --resume STATE`): STATE carries the bound names and how many calls the
//! phase had made, and the new image skips that many calls and goes on, so
//! the FD_CLOEXEC fds are closed by the host kernel itself. It is allowed
//! only while no other scenario thread is alive (in `setup`, or in
//! `finally` with no blocked actor): Linux's exec would kill them.

use super::child::{emit, exit_now, host};
use super::sys::SValue;
use super::{lookup, NCheck, NErr, NViolation, Native, NativeFn};
use crate::eval::{self, Scope};
use crate::lang::ast::CheckKind;
use crate::lang::ir::{ActorKindIr, CallOp, IrBind, Op, Program, Slot};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// No progress for this long with every live thread inside an unbounded
/// call: they are blocked.
pub const QUIET: Duration = Duration::from_millis(250);
/// The longest a phase may run.
pub const PHASE_LIMIT: Duration = Duration::from_secs(30);

const RUNNING: u8 = 0;
const IN_CALL: u8 = 1;
const IN_TIMED_CALL: u8 = 2;
const DONE: u8 = 3;

#[allow(clippy::disallowed_types)]
type Lock<T> = std::sync::Mutex<T>;

#[allow(clippy::disallowed_types)]
fn lock<T>(m: &Lock<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The state a child re-executed by `exec()` resumes from.
#[derive(Serialize, Deserialize)]
pub struct Resume {
    pub path: String,
    pub source: String,
    /// `setup` or `finally`.
    pub phase: String,
    /// Calls the phase made before the exec (the exec is call number `k`).
    pub k: u64,
    pub globals: Vec<SValue>,
    pub locals: Vec<Vec<SValue>>,
    pub start_ns: u64,
}

/// Why the program cannot run natively, found before it runs: the first
/// call (in file order) with no host form.
pub fn static_skip(prog: &Program) -> Option<(String, u32, String)> {
    if prog.processes.len() > 1 {
        return Some((
            "process".into(),
            0,
            "several processes (`process NAME`): the native runner runs one process".into(),
        ));
    }
    let mut first: Option<(String, u32, String)> = None;
    let mut visit = |c: &CallOp| {
        let sig = crate::calls::call_sig(c.call);
        if let Native::Skip(why) = lookup(sig) {
            if first.as_ref().is_none_or(|f| c.span.line < f.1) {
                first = Some((sig.name.to_string(), c.span.line, why.to_string()));
            }
        }
    };
    for_each_call(&prog.setup, &mut visit);
    for a in &prog.actors {
        for_each_call(&a.body, &mut visit);
    }
    for_each_call(&prog.finally, &mut visit);
    first
}

fn for_each_call(ops: &[Op], f: &mut dyn FnMut(&CallOp)) {
    for op in ops {
        match op {
            Op::Call(c) => f(c),
            Op::Repeat { body, .. } => for_each_call(body, f),
        }
    }
}

/// Shared state of one native execution.
struct World {
    prog: Arc<Program>,
    path: String,
    source: String,
    /// By catalog `CallId`: the host implementation, resolved by name before
    /// the run.
    natives: Vec<Option<NativeFn>>,
    globals: Lock<Vec<SValue>>,
    locals: Vec<Lock<Vec<SValue>>>,
    blocked: Vec<AtomicBool>,
    /// Per thread of the current phase (setup: 0; actors: actor index;
    /// finally: actors.len()).
    states: Vec<AtomicU8>,
    /// Per thread: the call it is in, for deadlock reports.
    in_call: Vec<Lock<Option<(u32, String)>>>,
    /// Per thread: its host thread id, to ask /proc whether it sleeps.
    os_tids: Vec<AtomicI32>,
    progress: AtomicU64,
    stop: AtomicBool,
    violations: Lock<Vec<NViolation>>,
    /// Threads alive besides the one running setup or finally (blocked
    /// actors): exec is refused while there are any.
    alive_actors: AtomicU64,
}

impl World {
    fn fail(&self, kind: &str, message: String) {
        lock(&self.violations).push(NViolation { kind: kind.into(), message });
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One thread's interpreter state.
struct Cx<'w> {
    w: &'w World,
    /// Index into `World::states`.
    tid: usize,
    who: String,
    kind: &'static str,
    actor: Option<usize>,
    globals: Vec<Value>,
    locals: Vec<Value>,
    /// Calls made in this phase (for exec's resume point).
    count: u64,
    /// In a resumed child: the index of the exec call to complete.
    resume_at: Option<u64>,
    phase: &'static str,
}

impl Scope for Cx<'_> {
    fn global(&self, i: u32) -> Value {
        self.globals[i as usize].clone()
    }
    fn local(&self, i: u32) -> Result<Value, String> {
        if self.actor.is_none() {
            return Err("a local name outside an actor".into());
        }
        Ok(self.locals[i as usize].clone())
    }
    fn actor_var(&self, actor: u32, slot: u32) -> Value {
        lock(&self.w.locals[actor as usize])[slot as usize].to_value()
    }
    fn blocked(&self, actor: u32) -> bool {
        self.w.blocked[actor as usize].load(Ordering::SeqCst)
    }
}

enum Flow {
    Go,
    Stop,
}

fn run_ops(cx: &mut Cx, ops: &[Op]) -> Flow {
    for op in ops {
        match op {
            Op::Call(c) => {
                if let Flow::Stop = exec_call(cx, c) {
                    return Flow::Stop;
                }
            }
            Op::Repeat { count, body } => {
                for _ in 0..*count {
                    if let Flow::Stop = run_ops(cx, body) {
                        return Flow::Stop;
                    }
                }
            }
        }
    }
    Flow::Go
}

/// Whether a call returns by itself in bounded time (not a blocked call).
fn timed(name: &str, args: &[Value]) -> bool {
    match name {
        "sleep_ns" | "now_ns" => true,
        "poll" => matches!(args.get(2), Some(Value::Int(t)) if (*t as u32 as i32) >= 0),
        _ => false,
    }
}

fn exec_call(cx: &mut Cx, c: &CallOp) -> Flow {
    let w = cx.w;
    if w.stop.load(Ordering::SeqCst) {
        return Flow::Stop;
    }
    let idx = cx.count;
    cx.count += 1;
    let mut resumed = false;
    if let Some(k) = cx.resume_at {
        if idx < k {
            return Flow::Go;
        }
        cx.resume_at = None;
        resumed = true;
    }
    let line = c.span.line;
    let sig = crate::calls::call_sig(c.call);
    let mut args = Vec::with_capacity(c.args.len());
    for a in &c.args {
        match eval::eval(cx, a) {
            Ok(v) => args.push(v),
            Err(e) => return eval_failure(cx, c, e),
        }
    }
    let mut named = Vec::with_capacity(c.named.len());
    for (n, a) in &c.named {
        match eval::eval(cx, a) {
            Ok(v) => named.push((n.clone(), v)),
            Err(e) => return eval_failure(cx, c, e),
        }
    }
    let result = if resumed {
        // The exec this image resumes from succeeded.
        Ok(Value::Int(0))
    } else {
        let Some(f) = w.natives[c.call as usize] else {
            // static_skip found every call without a native form already.
            skip(sig.name, line, "no native implementation".into());
        };
        *lock(&w.in_call[cx.tid]) = Some((line, c.text.clone()));
        let state = if timed(sig.name, &args) { IN_TIMED_CALL } else { IN_CALL };
        // SAFETY: gettid has no preconditions.
        w.os_tids[cx.tid].store(unsafe { libc::gettid() }, Ordering::SeqCst);
        w.states[cx.tid].store(state, Ordering::SeqCst);
        let r = f(&args, &named);
        w.states[cx.tid].store(RUNNING, Ordering::SeqCst);
        w.progress.fetch_add(1, Ordering::SeqCst);
        *lock(&w.in_call[cx.tid]) = None;
        r
    };
    let result = match result {
        Ok(v) => v,
        Err(NErr::Arg(e)) => return eval_failure(cx, c, e),
        Err(NErr::Skip(why)) => skip(sig.name, line, why),
        Err(NErr::Exec) => match do_exec(cx, idx, line) {
            Ok(never) => match never {},
            Err(v) => v,
        },
    };
    emit(&super::Line::Call {
        actor: cx.who.clone(),
        line,
        call: sig.name.to_string(),
        text: c.text.clone(),
        result: result.to_string(),
    });
    // Bind, as the runner does (a pair binds both names to an errno).
    let store = |slot: &Slot, v: Value| match slot {
        Slot::Global(i) => {
            lock(&w.globals)[*i as usize] = SValue::from_value(&v);
            cx.globals[*i as usize] = v;
        }
        Slot::Local(i) => {
            if let Some(a) = cx.actor {
                lock(&w.locals[a])[*i as usize] = SValue::from_value(&v);
                cx.locals[*i as usize] = v;
            }
        }
    };
    crate::eval::bind(&c.bind, &result, store);
    match &c.pattern {
        Some(alts) => match eval::pattern_matches(cx, alts, &result) {
            Err(e) => return eval_failure(cx, c, e),
            Ok(false) => {
                let pat = c.pattern_text.clone().unwrap_or_default();
                w.fail(
                    "pattern",
                    format!("{}:{}: {} `{}`: {} => {}, got {}", w.path, line, cx.kind, cx.who, c.text, pat, result),
                );
                return Flow::Stop;
            }
            Ok(true) => {}
        },
        None => {
            if matches!(c.bind, IrBind::None) && eval::is_failure(&result) {
                let how = match &result {
                    Value::Errno(e) => format!("failed with {} ({})", e.name(), e.description()),
                    other => format!("ended in {other}"),
                };
                w.fail(
                    "call failed",
                    format!(
                        "{}:{}: {} `{}`: {} {how}; a call with no `=>` and no name must succeed",
                        w.path, line, cx.kind, cx.who, c.text
                    ),
                );
                return Flow::Stop;
            }
        }
    }
    Flow::Go
}

fn eval_failure(cx: &Cx, c: &CallOp, e: String) -> Flow {
    cx.w.fail(
        "evaluation error",
        format!("{}:{}: {} `{}`: {}: {}", cx.w.path, c.span.line, cx.kind, cx.who, c.text, e),
    );
    Flow::Stop
}

/// The scenario cannot run natively: say so and leave.
fn skip(call: &str, line: u32, reason: String) -> ! {
    emit(&super::Line::Skip { call: call.to_string(), line, reason });
    exit_now(0)
}

/// The planner skipped the scenario: its reason names the call or the
/// config item.
fn skip_planned(reason: String) -> ! {
    emit(&super::Line::Skip { call: String::new(), line: 0, reason });
    exit_now(0)
}

enum Never {}

/// Re-execute the child at this call; returns only the errno of a failed
/// execve.
fn do_exec(cx: &Cx, idx: u64, line: u32) -> Result<Never, Value> {
    let w = cx.w;
    if cx.actor.is_some() || w.alive_actors.load(Ordering::SeqCst) > 0 {
        skip("exec", line, "exec() while other scenario threads are alive (Linux's exec would kill them)".into());
    }
    let state = Resume {
        path: w.path.clone(),
        source: w.source.clone(),
        phase: cx.phase.to_string(),
        k: idx,
        globals: lock(&w.globals).clone(),
        locals: w.locals.iter().map(|l| lock(l).clone()).collect(),
        start_ns: host().start_ns,
    };
    let json = serde_json::to_string(&state).unwrap_or_default();
    if json.len() > 120_000 {
        skip("exec", line, "exec(): the bound names are too large to carry across the exec".into());
    }
    let exe = std::ffi::CString::new("/proc/self/exe").expect("no NUL");
    let args: Vec<std::ffi::CString> = ["ksim", "__native-child", &w.path, "--resume", &json]
        .iter()
        .map(|s| std::ffi::CString::new(s.replace('\0', "")).expect("NULs removed"))
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: a NULL-terminated argv of valid C strings; on success this
    // process image is replaced.
    unsafe { libc::execv(exe.as_ptr(), argv.as_ptr()) };
    Err(super::sys::errno_value(super::sys::last_errno()).unwrap_or(Value::Unset))
}

/// Run the phase's threads; returns the indices (into `states`) of the
/// threads left blocked, or `None` when the phase ran out of time.
fn watch(w: &World, tids: &[usize]) -> Option<Vec<usize>> {
    let start = Instant::now();
    let mut quiet_since: Option<(Instant, u64)> = None;
    let mut stop_since: Option<Instant> = None;
    loop {
        let live: Vec<usize> = tids.iter().copied().filter(|&t| w.states[t].load(Ordering::SeqCst) != DONE).collect();
        if live.is_empty() {
            return Some(Vec::new());
        }
        if w.stop.load(Ordering::SeqCst) {
            // A violation stops the execution: give the other threads a
            // moment to see the flag, then leave them where they are.
            let t = *stop_since.get_or_insert_with(Instant::now);
            if t.elapsed() > QUIET {
                return Some(live);
            }
        } else if live.iter().all(|&t| w.states[t].load(Ordering::SeqCst) == IN_CALL) {
            let p = w.progress.load(Ordering::SeqCst);
            match quiet_since {
                Some((t, p0)) if p0 == p => {
                    if t.elapsed() >= QUIET {
                        // A thread the host has not run for a while (a loaded
                        // machine) is not blocked: only sleepers count.
                        if live.iter().all(|&t| sleeping(w.os_tids[t].load(Ordering::SeqCst))) {
                            return Some(live);
                        }
                        quiet_since = Some((Instant::now(), p));
                    }
                }
                _ => quiet_since = Some((Instant::now(), p)),
            }
        } else {
            quiet_since = None;
        }
        if start.elapsed() > PHASE_LIMIT {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether host thread `tid` of this process is asleep (state S or D in
/// /proc/self/task/TID/stat), not running or waiting for a CPU.
fn sleeping(tid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return true;
    };
    // The state follows the parenthesised command name, which may itself
    // contain spaces and parentheses.
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].trim_start().chars().next());
    matches!(state, Some('S' | 'D'))
}

fn report_blocked(w: &World, tids: &[usize], names: &dyn Fn(usize) -> (String, bool)) {
    let mut msg = String::from("deadlock: no actor can run");
    for &t in tids {
        let (name, may) = names(t);
        let (line, call) = lock(&w.in_call[t]).clone().unwrap_or((0, "?".into()));
        msg.push_str(&format!(
            "\n  {name} blocked in {call} at {}:{line} (on the host){}",
            w.path,
            if may { " (may block)" } else { "" }
        ));
    }
    lock(&w.violations).push(NViolation { kind: "deadlock".into(), message: msg });
}

fn phase_timeout(w: &World, what: &str) {
    lock(&w.violations).push(NViolation {
        kind: "timeout".into(),
        message: format!("{}: the {what} did not finish within {} s on the host", w.path, PHASE_LIMIT.as_secs()),
    });
}

/// Run a single-thread phase (setup or finally) on its own thread.
fn run_section(w: &Arc<World>, phase: &'static str, tid: usize, resume_at: Option<u64>) -> bool {
    w.states[tid].store(RUNNING, Ordering::SeqCst);
    let w2 = w.clone();
    std::thread::spawn(move || {
        let globals = lock(&w2.globals).iter().map(SValue::to_value).collect();
        let mut cx = Cx {
            w: &w2,
            tid,
            who: phase.to_string(),
            kind: "section",
            actor: None,
            globals,
            locals: Vec::new(),
            count: 0,
            resume_at,
            phase,
        };
        let prog = w2.prog.clone();
        let ops = if phase == "setup" { &prog.setup } else { &prog.finally };
        run_ops(&mut cx, ops);
        w2.states[tid].store(DONE, Ordering::SeqCst);
    });
    match watch(w, &[tid]) {
        None => {
            phase_timeout(w, phase);
            false
        }
        Some(b) if !b.is_empty() && !w.stop.load(Ordering::SeqCst) => {
            report_blocked(w, &b, &|_| (phase.to_string(), false));
            false
        }
        Some(_) => !w.stop.load(Ordering::SeqCst),
    }
}

/// Run the child: `source` of `path`, from the start or resumed after an
/// exec. Never returns: the process exits when the scenario is done.
pub fn run_child(path: &str, source: &str, resume: Option<Resume>) -> ! {
    let prog = match crate::cli::load_source(path, source) {
        Ok(p) => p,
        Err(e) => {
            eprint!("{e}");
            exit_now(2);
        }
    };
    let prog: Arc<Program> = Arc::new((*prog).clone());
    // The one planner decides what the parent decided: skip, or make this
    // process the machine the simulator runs on. A child resumed after
    // exec() was planned before the exec (the scenario may since have
    // lowered its fd limit below what the probes need): it only drops
    // CAP_SYS_RESOURCE again, which execve gives back to root.
    if resume.is_none() {
        match super::host::plan(&prog, super::host::detected()) {
            super::host::Plan::Skip(why) => skip_planned(why),
            super::host::Plan::Run { drop_cap_sys_resource, .. } => {
                if let Err(e) = super::child::configure(drop_cap_sys_resource, true) {
                    skip_planned(e)
                }
            }
        }
    } else if prog.config.cap_sys_resource == Some(false) {
        if let Err(e) = super::child::configure(true, false) {
            skip_planned(e)
        }
    }
    if let Some((call, line, why)) = static_skip(&prog) {
        skip(&call, line, why);
    }
    let natives: Vec<Option<NativeFn>> = crate::calls::CALLS
        .iter()
        .map(|sig| match lookup(sig) {
            Native::Run(f) => Some(f),
            Native::Skip(_) => None,
        })
        .collect();
    let n = prog.actors.len();
    let w = Arc::new(World {
        prog: prog.clone(),
        path: path.to_string(),
        source: source.to_string(),
        natives,
        globals: Lock::new(
            resume.as_ref().map(|r| r.globals.clone()).unwrap_or_else(|| vec![SValue::Unset; prog.globals.len()]),
        ),
        locals: prog
            .actors
            .iter()
            .enumerate()
            .map(|(i, a)| {
                Lock::new(
                    resume
                        .as_ref()
                        .and_then(|r| r.locals.get(i).cloned())
                        .unwrap_or_else(|| vec![SValue::Unset; a.locals.len()]),
                )
            })
            .collect(),
        blocked: (0..n).map(|_| AtomicBool::new(false)).collect(),
        states: (0..n + 1).map(|_| AtomicU8::new(DONE)).collect(),
        os_tids: (0..n + 1).map(|_| AtomicI32::new(0)).collect(),
        in_call: (0..n + 1).map(|_| Lock::new(None)).collect(),
        progress: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        violations: Lock::new(Vec::new()),
        alive_actors: AtomicU64::new(0),
    });
    let resume_phase = resume.as_ref().map(|r| (r.phase.clone(), r.k));
    let mut ok = true;
    // Setup (tid 0; no actor runs yet).
    if resume_phase.as_ref().is_none_or(|(p, _)| p == "setup") {
        let at = resume_phase.as_ref().map(|(_, k)| *k);
        ok = run_section(&w, "setup", 0, at);
        // Actors.
        if ok && n > 0 {
            // Every actor starts at once (thread creation would otherwise
            // give the first ones a head start of several spawns).
            let go = Arc::new(std::sync::Barrier::new(n));
            for (i, a) in prog.actors.iter().enumerate() {
                w.states[i].store(RUNNING, Ordering::SeqCst);
                let w2 = w.clone();
                let kind = match a.kind {
                    ActorKindIr::Thread => "thread",
                    ActorKindIr::Kthread => "kthread",
                };
                let go = go.clone();
                std::thread::spawn(move || {
                    let globals = lock(&w2.globals).iter().map(SValue::to_value).collect();
                    let prog = w2.prog.clone();
                    let a = &prog.actors[i];
                    go.wait();
                    let mut cx = Cx {
                        w: &w2,
                        tid: i,
                        who: a.name.clone(),
                        kind,
                        actor: Some(i),
                        globals,
                        locals: vec![Value::Unset; a.locals.len()],
                        count: 0,
                        resume_at: None,
                        phase: "actors",
                    };
                    run_ops(&mut cx, &a.body);
                    w2.states[i].store(DONE, Ordering::SeqCst);
                });
            }
            let tids: Vec<usize> = (0..n).collect();
            match watch(&w, &tids) {
                None => {
                    phase_timeout(&w, "actors");
                    ok = false;
                }
                Some(b) => {
                    if w.stop.load(Ordering::SeqCst) {
                        ok = false;
                    } else {
                        let bad: Vec<usize> = b.iter().copied().filter(|&t| !prog.actors[t].may_block).collect();
                        if !bad.is_empty() {
                            report_blocked(&w, &b, &|t| (prog.actors[t].name.clone(), prog.actors[t].may_block));
                            ok = false;
                        }
                        for &t in &b {
                            w.blocked[t].store(true, Ordering::SeqCst);
                        }
                        w.alive_actors.store(b.len() as u64, Ordering::SeqCst);
                    }
                }
            }
        }
    }
    // Finally (tid n), with the blocked actors watched again: finally may
    // wake them.
    if ok && !prog.finally.is_empty() {
        let at = resume_phase.as_ref().filter(|(p, _)| p == "finally").map(|(_, k)| *k);
        ok = run_section(&w, "finally", n, at);
        if ok {
            let still: Vec<usize> = (0..n).filter(|&t| w.blocked[t].load(Ordering::SeqCst)).collect();
            if let Some(b) = watch(&w, &still) {
                for t in still {
                    w.blocked[t].store(b.contains(&t), Ordering::SeqCst);
                }
            }
        }
    }
    // Check.
    let mut checks = Vec::new();
    if ok && !w.stop.load(Ordering::SeqCst) {
        let globals = lock(&w.globals).iter().map(SValue::to_value).collect();
        let cx = Cx {
            w: &w,
            tid: 0,
            who: "check".into(),
            kind: "check",
            actor: None,
            globals,
            locals: Vec::new(),
            count: 0,
            resume_at: None,
            phase: "check",
        };
        for c in &prog.checks {
            let value = eval::truth(&cx, &c.expr);
            let kind = match c.kind {
                CheckKind::Assert => "assert",
                CheckKind::Never => "never",
                CheckKind::Exists => "exists",
            };
            match (&c.kind, &value) {
                (CheckKind::Assert, Ok(false)) => lock(&w.violations).push(NViolation {
                    kind: "assert".into(),
                    message: format!("{}:{}: assert {} does not hold", path, c.span.line, c.text),
                }),
                (CheckKind::Never, Ok(true)) => lock(&w.violations).push(NViolation {
                    kind: "never".into(),
                    message: format!("{}:{}: never {} happened", path, c.span.line, c.text),
                }),
                (_, Err(e)) => lock(&w.violations).push(NViolation {
                    kind: "evaluation error".into(),
                    message: format!("{}:{}: cannot evaluate `{}`: {}", path, c.span.line, c.text, e),
                }),
                _ => {}
            }
            checks.push(NCheck { kind: kind.into(), text: c.text.clone(), line: c.span.line, value });
        }
    }
    // Outcome: every actor's names, then the names bound in finally.
    let mut outcome = Vec::new();
    for (i, a) in prog.actors.iter().enumerate() {
        let l = lock(&w.locals[i]);
        for (j, name) in a.locals.iter().enumerate() {
            outcome.push((format!("{}.{}", a.name, name), l[j].to_value().outcome()));
        }
    }
    let mut from_setup = Vec::new();
    crate::runner::setup_globals(&prog.setup, &mut from_setup);
    {
        let g = lock(&w.globals);
        for (i, name) in prog.globals.iter().enumerate() {
            if !from_setup.contains(&(i as u32)) {
                outcome.push((name.clone(), g[i].to_value().outcome()));
            }
        }
    }
    let blocked =
        (0..n).filter(|&t| w.blocked[t].load(Ordering::SeqCst)).map(|t| prog.actors[t].name.clone()).collect();
    let violations = lock(&w.violations).clone();
    emit(&super::Line::End { violations, checks, outcome, blocked });
    exit_now(0)
}

/// `ksim __native-child FILE [--resume STATE]`: the child's entry point.
pub fn child_main(path: &str, resume: Option<&str>) -> ! {
    match resume {
        None => {
            let source = match std::fs::read_to_string(path) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: cannot read {path}: {e}");
                    exit_now(2);
                }
            };
            super::child::fresh_process();
            super::child::init_host(super::time::monotonic_ns());
            super::child::install_handlers();
            run_child(path, &source, None)
        }
        Some(state) => {
            let r: Resume = match serde_json::from_str(state) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: bad --resume state: {e}");
                    exit_now(2);
                }
            };
            super::child::init_host(r.start_ns);
            super::child::install_handlers();
            let (p, s) = (r.path.clone(), r.source.clone());
            run_child(&p, &s, Some(r))
        }
    }
}
