//! One execution of a scenario: build the kernel and processes, run
//! `setup`, the actors, `finally` under a schedule chooser, evaluate
//! `check`, tear everything down (every process exits), and collect what
//! went wrong (the book's scenario-language chapter, "Statements" to
//! "Blocking, deadlock and teardown").
//!
//! Actors are coroutines of the kernel's executor; each interprets its
//! statements, making calls through [`crate::calls::dispatch`]. A scheduling
//! point separates consecutive calls of an actor; the kernel adds blocking
//! points and named yield points.
//!
//! The explorer runs one program thousands of times a second, so what
//! executions of a program share is computed once (`Prepared`, kept for
//! the last program run on the thread), and what one execution leaves
//! behind serves the next: its interpreter state (`Shared`), its kernel's
//! object table ([`Kernel::recycle`]), and the buffers of an [`Execution`]
//! handed back with [`recycle`].
//!
//! An execution ends at its step limit with a `step limit` violation, and
//! is cut off unfinished ([`Execution::cut`]) once its deadline has
//! passed or a signal asked the search to stop; both are looked at only
//! when the call count reaches the next check (`Shared::next_poll`).
//! Steps are recorded for the explorer from the actors' phase on, never
//! for setup.

use crate::calls;
use crate::lang::ast::CheckKind;
use crate::lang::ir::{ActorKindIr, CallOp, Const, IrBind, IrExpr, IrPat, Op, Program, Slot};
use crate::value::Value;
use sim_kernel::bugs::BugSet;
use sim_kernel::objtrack::{Report, Site};
use sim_kernel::sched::exec::{ActorState, Chooser, Decision, ExecEvent, Executor, RunEnd};
use sim_kernel::sched::{self, Granularity};
use sim_kernel::sync::Arc;
use sim_kernel::{Kernel, Process, Task};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;

/// What kind of thing went wrong, for grouping in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViolationKind {
    /// A `=> PATTERN` did not match.
    Pattern,
    /// A call with neither a pattern nor a binding returned an errno.
    CallFailed,
    /// An argument or expression could not be evaluated.
    Eval,
    Assert,
    Never,
    Deadlock,
    Leak,
    UseAfterFree,
    DoubleFree,
    KernelWarning,
    /// The execution made more calls than `--max-steps` (or `config
    /// max_steps=`, or [`crate::limits::DEFAULT_MAX_STEPS`]) allows.
    StepLimit,
}

impl ViolationKind {
    pub fn name(self) -> &'static str {
        match self {
            ViolationKind::Pattern => "pattern",
            ViolationKind::CallFailed => "call failed",
            ViolationKind::Eval => "evaluation error",
            ViolationKind::Assert => "assert",
            ViolationKind::Never => "never",
            ViolationKind::Deadlock => "deadlock",
            ViolationKind::Leak => "leak",
            ViolationKind::UseAfterFree => "use-after-free",
            ViolationKind::DoubleFree => "double free",
            ViolationKind::KernelWarning => "kernel warning",
            ViolationKind::StepLimit => "step limit",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// Identifies "the same" violation across executions (kind, line,
    /// object type...), without schedule-dependent detail.
    pub key: String,
    /// The full message.
    pub message: String,
}

/// The value of a `check` line in this execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub kind: CheckKind,
    pub text: Rc<str>,
    pub line: u32,
    /// `Ok(truth)`, or why it could not be evaluated.
    pub value: Result<bool, String>,
}

/// The values an execution ended with: every actor-bound name, then the
/// names bound in `finally`, each with its value as the language prints it.
///
/// The names are the program's and shared by all its executions; the
/// values are one string, each value ended by a newline (a printed value
/// never holds a raw newline: strings and bytes print escaped), so that
/// the explorer counts outcomes by [`Outcome::key`] with no allocation per
/// execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    names: Rc<[String]>,
    values: String,
}

impl Outcome {
    fn push_value(&mut self, v: &Value) {
        let start = self.values.len();
        let _ = v.render(&mut self.values);
        debug_assert!(!self.values[start..].contains('\n'), "a printed value holds a newline");
        self.values.push('\n');
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `(name, value)` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names.iter().map(String::as_str).zip(self.values.split_terminator('\n'))
    }

    /// The values alone: equal for two executions of one program iff their
    /// outcomes are equal.
    pub fn key(&self) -> &str {
        &self.values
    }

    /// The outcome whose values are `key` (an earlier outcome's
    /// [`Outcome::key`]), with this outcome's names.
    pub fn with_key(&self, key: &str) -> Outcome {
        Outcome { names: self.names.clone(), values: key.to_string() }
    }
}

/// Everything one execution produced.
#[derive(Clone, Debug, Default)]
pub struct Execution {
    pub violations: Vec<Violation>,
    /// The decisions with a real choice, in full when
    /// [`RunOptions::record_steps`] is on (empty otherwise: `schedule` and
    /// `preemptions` say what a run needs).
    pub decisions: Vec<Decision>,
    /// Choices in scenario actor numbers (the schedule).
    pub schedule: Vec<usize>,
    /// `name = value` for every actor-bound and finally-bound name.
    pub outcome: Outcome,
    pub checks: Vec<CheckResult>,
    /// Step trace lines (`-v`).
    pub trace: Vec<String>,
    pub calls: u64,
    pub virtual_ns: u64,
    /// Decisions that switched away from an actor that could have gone on.
    pub preemption_count: usize,
    /// Whether the execution was stopped early (a failure, or a chooser
    /// that pruned it).
    pub stopped: bool,
    /// Step footprints, when [`RunOptions::record_steps`] is on.
    pub steps: Vec<sim_kernel::sched::exec::Step>,
    /// Structured events for `--trace`, when [`RunOptions::trace_events`]
    /// is on (see `chrome_trace.rs`).
    pub trace_events: Vec<crate::chrome_trace::TraceEvent>,
    /// Set when the execution was cut off unfinished by the time limit or
    /// an interrupt (it is then `stopped`, with no checks and no
    /// violations of its own: nothing it shows is a result).
    pub cut: Option<Cut>,
}

/// Why an execution was cut off unfinished (see [`Execution::cut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// [`RunOptions::deadline`] passed.
    TimeLimit,
    /// SIGINT or SIGTERM (see [`crate::limits::interrupted`]).
    Interrupted,
}

impl Execution {
    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }

    /// Number of preemptions: switches away from an actor that could have
    /// gone on.
    pub fn preemptions(&self) -> usize {
        self.preemption_count
    }
}

/// One call an execution made, with its result rendered as the language
/// prints values: what `ksim compare` diffs against the host kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// `setup`, the actor's name, or `finally`.
    pub actor: String,
    pub line: u32,
    /// The catalog name of the call.
    pub call: &'static str,
    /// The call as written.
    pub text: String,
    pub result: String,
}

thread_local! {
    /// The calls of the execution running on this thread, when
    /// [`execute_logged`] asked for them.
    static CALL_LOG: RefCell<Option<Vec<CallRecord>>> = const { RefCell::new(None) };
}

/// [`execute`], also returning every call made and its result, in order.
pub fn execute_logged(
    prog: &Rc<Program>,
    path: &str,
    chooser: &mut dyn Chooser,
    opts: RunOptions,
) -> (Execution, Vec<CallRecord>) {
    CALL_LOG.with(|l| *l.borrow_mut() = Some(Vec::new()));
    let ex = execute(prog, path, chooser, opts);
    let log = CALL_LOG.with(|l| l.borrow_mut().take()).unwrap_or_default();
    (ex, log)
}

/// Options for one execution.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Record the step trace.
    pub verbose: bool,
    /// Record step footprints (for the explorer's partial-order reduction).
    pub record_steps: bool,
    /// Record structured call and scheduler events (`--trace`).
    pub trace_events: bool,
    /// Calls the execution may make (`--max-steps`); `None`: the program's
    /// `config max_steps=`, else [`crate::limits::DEFAULT_MAX_STEPS`].
    pub max_steps: Option<u64>,
    /// Cut the execution off (see [`Execution::cut`]) once this instant
    /// has passed, looked at every [`crate::limits::POLL_CALLS`] calls.
    pub deadline: Option<std::time::Instant>,
    /// Where actors may switch (`--granularity`); `None`: the program's
    /// `config granularity=`, else [`Granularity::Call`].
    pub granularity: Option<Granularity>,
    /// `--no-named-yield-points`: the kernel's named yield points do
    /// nothing.
    pub no_named_yield_points: bool,
}

impl RunOptions {
    /// The step limit for `prog` (see [`RunOptions::max_steps`]).
    pub fn max_steps_for(&self, prog: &Program) -> u64 {
        self.max_steps.or(prog.config.max_steps).unwrap_or(crate::limits::DEFAULT_MAX_STEPS).max(1)
    }

    /// The granularity for `prog` (see [`RunOptions::granularity`]).
    pub fn granularity_for(&self, prog: &Program) -> Granularity {
        self.granularity.or(prog.config.granularity).unwrap_or_default()
    }
}

/// Executor actor ids: setup is 0, scenario actors 1..=n, finally n+1.
fn exec_id_of_actor(i: usize) -> usize {
    i + 1
}

struct Shared {
    prog: Rc<Program>,
    path: Rc<str>,
    /// The execution's kernel (taken out when the execution ends, so that
    /// the kernel and this struct can each serve the next one).
    kernel: Option<Arc<Kernel>>,
    globals: RefCell<Vec<Value>>,
    locals: Vec<RefCell<Vec<Value>>>,
    violations: RefCell<Vec<Violation>>,
    /// Per executor actor: the call it is in (for deadlock reports). The
    /// pointer is into `prog`, which this struct keeps alive.
    in_call: Vec<Cell<Option<*const CallOp>>>,
    /// Per scenario actor: blocked at the end of its phase (`blocked(A)`).
    blocked: RefCell<Vec<bool>>,
    /// Executor actor names, by executor id.
    names: Rc<[String]>,
    trace: Option<RefCell<Vec<String>>>,
    calls: Cell<u64>,
    /// The call count at which [`poll_limits`] looks at the step limit,
    /// the deadline and the interrupt flag next (the per-call cost of the
    /// limits is comparing `calls` with it).
    next_poll: Cell<u64>,
    max_steps: u64,
    deadline: Option<std::time::Instant>,
    /// Set when the execution was cut off (see [`Execution::cut`]).
    cut: Cell<Option<Cut>>,
    /// `--trace` events (chrome_trace.rs), when on.
    tevents: Option<RefCell<Vec<crate::chrome_trace::TraceEvent>>>,
    /// Whether any per-call hook is on (`-v`, `--trace`, the call log of
    /// [`execute_logged`]): the common case tests one flag per call.
    hooks: bool,
    /// Whether [`execute_logged`] asked for the calls.
    log_calls: bool,
}

/// The call count of the first look at the limits (see
/// [`Shared::next_poll`]).
fn first_poll(max_steps: u64) -> u64 {
    max_steps.min(crate::limits::POLL_CALLS)
}

/// The execution's call count reached [`Shared::next_poll`]: end it at
/// the step limit (a violation), cut it off if the deadline passed or a
/// signal asked the search to stop, else look again later.
#[cold]
#[inline(never)]
fn poll_limits(sh: &Shared, cx: &Cx, c: &CallOp) -> Flow {
    let made = sh.calls.get();
    if made >= sh.max_steps {
        sh.fail(
            ViolationKind::StepLimit,
            "step-limit".to_string(),
            format!(
                "step limit: the execution made {made} calls and had not ended ({} was at {}:{}); \
                 raise the limit with --max-steps N or `config max_steps=N`",
                sh.names[cx.exec_id], sh.path, c.span.line
            ),
        );
        return Flow::Stop;
    }
    let cut = if crate::limits::interrupted() {
        Some(Cut::Interrupted)
    } else if sh.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
        Some(Cut::TimeLimit)
    } else {
        None
    };
    if let Some(cut) = cut {
        sh.cut.set(Some(cut));
        sched::request_stop();
        return Flow::Stop;
    }
    sh.next_poll.set(sh.max_steps.min(made.saturating_add(crate::limits::POLL_CALLS)));
    Flow::Go
}

/// Call sites are `(executor actor id << 20) | line`.
fn site(exec_id: usize, line: u32) -> Site {
    ((exec_id as u32) << 20) | (line & 0xfffff)
}

impl Shared {
    fn kernel(&self) -> &Kernel {
        self.kernel.as_ref().expect("the kernel of a running execution")
    }

    /// Ready for an execution of `pre`'s program with `kernel`: a spare
    /// left by the last execution of that program on this thread (its
    /// vectors keep their memory), or a new one.
    fn new(pre: &Prepared, kernel: &Arc<Kernel>, opts: RunOptions, log_calls: bool) -> Rc<Shared> {
        let prog = &pre.prog;
        let n = prog.actors.len();
        let spare =
            pre.spare.take().filter(|s| s.trace.is_some() == opts.verbose && s.tevents.is_some() == opts.trace_events);
        if let Some(mut rc) = spare {
            if let Some(s) = Rc::get_mut(&mut rc) {
                s.kernel = Some(kernel.clone());
                s.globals.get_mut().resize(prog.globals.len(), Value::Unset);
                for (l, a) in s.locals.iter_mut().zip(&prog.actors) {
                    l.get_mut().resize(a.locals.len(), Value::Unset);
                }
                s.violations.get_mut().clear();
                for c in &s.in_call {
                    c.set(None);
                }
                s.blocked.get_mut().fill(false);
                s.calls.set(0);
                s.max_steps = opts.max_steps_for(prog);
                s.next_poll.set(first_poll(s.max_steps));
                s.deadline = opts.deadline;
                s.cut.set(None);
                s.hooks = opts.verbose || opts.trace_events || log_calls;
                s.log_calls = log_calls;
                return rc;
            }
        }
        Rc::new(Shared {
            prog: prog.clone(),
            path: pre.path.clone(),
            kernel: Some(kernel.clone()),
            globals: RefCell::new(vec![Value::Unset; prog.globals.len()]),
            locals: prog.actors.iter().map(|a| RefCell::new(vec![Value::Unset; a.locals.len()])).collect(),
            violations: RefCell::new(Vec::new()),
            in_call: (0..n + 2).map(|_| Cell::new(None)).collect(),
            blocked: RefCell::new(vec![false; n]),
            names: pre.names.clone(),
            trace: opts.verbose.then(|| RefCell::new(Vec::new())),
            calls: Cell::new(0),
            next_poll: Cell::new(first_poll(opts.max_steps_for(prog))),
            max_steps: opts.max_steps_for(prog),
            deadline: opts.deadline,
            cut: Cell::new(None),
            tevents: opts.trace_events.then(|| RefCell::new(Vec::new())),
            hooks: opts.verbose || opts.trace_events || log_calls,
            log_calls,
        })
    }

    /// The execution is over: give back the kernel, and keep `sh` as
    /// `pre`'s spare if nothing else holds it. Values hold kernel objects:
    /// they are dropped here, before the kernel.
    fn finish(mut sh: Rc<Shared>, pre: &Prepared) -> Option<Arc<Kernel>> {
        sh.globals.borrow_mut().clear();
        for l in &sh.locals {
            l.borrow_mut().clear();
        }
        let s = Rc::get_mut(&mut sh)?;
        if let Some(t) = &mut s.trace {
            t.get_mut().clear();
        }
        if let Some(t) = &mut s.tevents {
            t.get_mut().clear();
        }
        let k = s.kernel.take();
        pre.spare.set(Some(sh));
        k
    }

    fn site_str(&self, s: Site) -> String {
        if s == 0 {
            return "process exit".to_string();
        }
        let id = (s >> 20) as usize;
        let line = s & 0xfffff;
        let who = self.names.get(id).map(String::as_str).unwrap_or("?");
        format!("{}:{} ({})", self.path, line, who)
    }

    fn fail(&self, kind: ViolationKind, key: String, message: String) {
        self.violations.borrow_mut().push(Violation { kind, key, message });
        sched::request_stop();
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if let Some(t) = &self.trace {
            t.borrow_mut().push(line());
        }
    }
}

/// One actor's interpreter state.
struct Cx {
    exec_id: usize,
    /// Index into `Shared::locals` (scenario actors only).
    actor: Option<usize>,
    task: Task,
    started: bool,
}

enum Flow {
    Go,
    Stop,
}

/// Evaluation environment: whose locals `Slot::Local` means.
struct Env<'a> {
    sh: &'a Shared,
    actor: Option<usize>,
}

impl crate::eval::Scope for Env<'_> {
    fn global(&self, i: u32) -> Value {
        self.sh.globals.borrow()[i as usize].clone()
    }
    fn local(&self, i: u32) -> Result<Value, String> {
        let a = self.actor.ok_or("a local name outside an actor")?;
        Ok(self.sh.locals[a].borrow()[i as usize].clone())
    }
    fn actor_var(&self, actor: u32, slot: u32) -> Value {
        self.sh.locals[actor as usize].borrow()[slot as usize].clone()
    }
    fn blocked(&self, actor: u32) -> bool {
        self.sh.blocked.borrow()[actor as usize]
    }
}

impl Env<'_> {
    /// Evaluate an expression; a constant integer or a bound name (most
    /// arguments) inline.
    #[inline]
    fn eval(&self, e: &IrExpr) -> Result<Value, String> {
        match (e, self.actor) {
            (IrExpr::Const(Const::Int(n)), _) => Ok(Value::Int(*n)),
            (IrExpr::Slot(Slot::Global(i)), _) => Ok(self.sh.globals.borrow()[*i as usize].clone()),
            (IrExpr::Slot(Slot::Local(i)), Some(a)) => Ok(self.sh.locals[a].borrow()[*i as usize].clone()),
            _ => crate::eval::eval(self, e),
        }
    }
}

fn run_ops(sh: &Shared, cx: &mut Cx, ops: &[Op]) -> Flow {
    for op in ops {
        match op {
            Op::Call(c) => {
                if let Flow::Stop = exec_call(sh, cx, c) {
                    return Flow::Stop;
                }
            }
            Op::Repeat { count, body } => {
                for _ in 0..*count {
                    if let Flow::Stop = run_ops(sh, cx, body) {
                        return Flow::Stop;
                    }
                }
            }
        }
    }
    Flow::Go
}

fn actor_name(sh: &Shared, cx: &Cx) -> String {
    sh.names[cx.exec_id].clone()
}

/// Arguments an integer-only call takes at most on [`exec_call`]'s fast
/// path.
const MAX_INT_ARGS: usize = 4;

/// The call's positional arguments as integers, into `out`, when each is an
/// integer constant or a name bound to an integer and there are no named
/// arguments (the fast path of [`exec_call`]); `None` otherwise. Reading a
/// name has no effect, so the general path may evaluate them again.
#[inline]
fn int_args(sh: &Shared, actor: Option<usize>, c: &CallOp, out: &mut [u64; MAX_INT_ARGS]) -> Option<usize> {
    if c.args.len() > MAX_INT_ARGS || !c.named.is_empty() {
        return None;
    }
    for (o, a) in out.iter_mut().zip(&c.args) {
        *o = match (a, actor) {
            (IrExpr::Const(Const::Int(n)), _) => *n,
            (IrExpr::Slot(Slot::Global(i)), _) => match sh.globals.borrow()[*i as usize] {
                Value::Int(n) => n,
                _ => return None,
            },
            (IrExpr::Slot(Slot::Local(i)), Some(a)) => match sh.locals[a].borrow()[*i as usize] {
                Value::Int(n) => n,
                _ => return None,
            },
            _ => return None,
        };
    }
    Some(c.args.len())
}

/// Positional arguments a call takes at most without spilling its
/// argument buffer to the heap.
const INLINE_ARGS: usize = 5;
/// Named arguments likewise (`ioctl(u, UFFDIO_COPY, dst=, src=, len=, mode=)`).
const INLINE_NAMED: usize = 4;

/// Evaluate the call's arguments as values and make it (the general path
/// of [`exec_call`]): the call's result, or how the actor goes on when an
/// argument could not be evaluated or had the wrong type (the call is then
/// over: counted, and the failure reported).
#[inline(never)]
fn call_with_values(sh: &Shared, cx: &mut Cx, c: &CallOp) -> Result<Value, Flow> {
    let env = Env { sh, actor: cx.actor };
    // In a block: the argument values are dropped where they lie (not
    // moved out to be dropped), when the call returns.
    let result = {
        let mut args = smallvec::SmallVec::<[Value; INLINE_ARGS]>::new();
        for a in &c.args {
            match env.eval(a) {
                Ok(v) => args.push(v),
                Err(e) => return Err(eval_failure(sh, cx, c, e)),
            }
        }
        let call = |named: &[(&str, Value)]| {
            sh.in_call[cx.exec_id].set(Some(c as *const CallOp));
            if sh.tevents.is_some() {
                // --trace hook (chrome_trace.rs): the call's span begins.
                drain_events(sh);
                crate::chrome_trace::call_begin(sh.tevents.as_ref(), cx.exec_id, c.span.line, &c.text, &args, named);
            }
            calls::dispatch(c.call, &cx.task, &args, named)
        };
        if c.named.is_empty() {
            call(&[])
        } else {
            // Named arguments by the names the program holds (no copy per
            // call).
            let mut named = smallvec::SmallVec::<[(&str, Value); INLINE_NAMED]>::new();
            for (n, a) in &c.named {
                match env.eval(a) {
                    Ok(v) => named.push((n.as_str(), v)),
                    Err(e) => return Err(eval_failure(sh, cx, c, e)),
                }
            }
            call(&named)
        }
    };
    result.map_err(|e| call_failed(sh, cx, c, e))
}

/// A call that failed on its arguments' types: it is over (counted), and
/// the failure reported.
#[cold]
fn call_failed(sh: &Shared, cx: &Cx, c: &CallOp, e: calls::ArgError) -> Flow {
    sh.in_call[cx.exec_id].set(None);
    if sched::current_killed() {
        // Killed while blocked (teardown): the call never returned.
        return Flow::Stop;
    }
    sh.calls.set(sh.calls.get() + 1);
    eval_failure(sh, cx, c, e)
}

fn exec_call(sh: &Shared, cx: &mut Cx, c: &CallOp) -> Flow {
    let line = c.span.line;
    if sh.calls.get() >= sh.next_poll.get() {
        if let Flow::Stop = poll_limits(sh, cx, c) {
            return Flow::Stop;
        }
    }
    // The scheduling point before every call but an actor's first, then
    // the call site; a killed actor makes no more calls.
    if sched::exec::enter_call(cx.started, site(cx.exec_id, line)) {
        return Flow::Stop;
    }
    cx.started = true;
    // The fast path: integer arguments straight to an integer-only call
    // (not with --trace, whose hook shows the argument values).
    let mut ints = [0u64; MAX_INT_ARGS];
    let fast =
        if calls::takes_ints(c.call) && sh.tevents.is_none() { int_args(sh, cx.actor, c, &mut ints) } else { None };
    let result = match fast {
        Some(n) => {
            sh.in_call[cx.exec_id].set(Some(c as *const CallOp));
            match calls::dispatch_ints(c.call, &cx.task, &ints[..n]) {
                Ok(v) => v,
                Err(e) => return call_failed(sh, cx, c, e),
            }
        }
        None => match call_with_values(sh, cx, c) {
            Ok(v) => v,
            Err(flow) => return flow,
        },
    };
    sh.in_call[cx.exec_id].set(None);
    if sched::current_killed() {
        // Killed while blocked (teardown): the call never returned.
        return Flow::Stop;
    }
    sh.calls.set(sh.calls.get() + 1);
    if sh.hooks {
        call_hooks(sh, cx, c, &result);
    }
    let store = |slot: &Slot, v: Value| match slot {
        Slot::Global(i) => sh.globals.borrow_mut()[*i as usize] = v,
        Slot::Local(i) => {
            if let Some(a) = cx.actor {
                sh.locals[a].borrow_mut()[*i as usize] = v;
            }
        }
    };
    // The common cases: no pattern, or one constant that matches (`=> 0`).
    // A name then takes the result itself (no copy); with no name, a
    // call with no pattern must not fail (below).
    let settled = match &c.pattern {
        None => true,
        Some(alts) => matches!(alts[..], [IrPat::Expr(IrExpr::Const(ref k))] if crate::eval::const_eq(k, &result)),
    };
    if settled {
        match &c.bind {
            IrBind::One(slot) => {
                store(slot, result);
                return Flow::Go;
            }
            IrBind::Pair(..) => {
                crate::eval::bind(&c.bind, &result, store);
                return Flow::Go;
            }
            IrBind::None if c.pattern.is_some() => return Flow::Go,
            IrBind::None => {}
        }
    } else {
        // Bound before the pattern is checked: a pattern may read the name.
        crate::eval::bind(&c.bind, &result, store);
    }
    // Check.
    match &c.pattern {
        Some(alts) => {
            let mut matched = false;
            for alt in alts {
                let ok = match alt {
                    IrPat::Any => true,
                    IrPat::Ok => !result.is_errno() && !result.is_signal(),
                    // A constant (`=> 0`, `=> EAGAIN`) compares without
                    // building a value.
                    IrPat::Expr(IrExpr::Const(k)) => crate::eval::const_eq(k, &result),
                    IrPat::Expr(e) => match (Env { sh, actor: cx.actor }).eval(e) {
                        Ok(v) => v == result,
                        Err(e) => return eval_failure(sh, cx, c, e),
                    },
                };
                if ok {
                    matched = true;
                    break;
                }
            }
            if !matched {
                let pat = c.pattern_text.clone().unwrap_or_default();
                sh.fail(
                    ViolationKind::Pattern,
                    format!("pattern:{line}"),
                    format!(
                        "{}:{}: {} `{}`: {} => {}, got {}",
                        sh.path,
                        line,
                        actor_kind_name(sh, cx),
                        actor_name(sh, cx),
                        c.text,
                        pat,
                        result
                    ),
                );
                return Flow::Stop;
            }
        }
        None => {
            if matches!(c.bind, IrBind::None) {
                if let Value::Signal(sig) = result {
                    sh.fail(
                        ViolationKind::CallFailed,
                        format!("call:{line}"),
                        format!(
                            "{}:{}: {} `{}`: {} ended in {}; a call with no `=>` and no name must succeed",
                            sh.path,
                            line,
                            actor_kind_name(sh, cx),
                            actor_name(sh, cx),
                            c.text,
                            sig.name()
                        ),
                    );
                    return Flow::Stop;
                }
                if let Value::Errno(e) = result {
                    sh.fail(
                        ViolationKind::CallFailed,
                        format!("call:{line}"),
                        format!(
                            "{}:{}: {} `{}`: {} failed with {} ({}); a call with no `=>` and no name must succeed",
                            sh.path,
                            line,
                            actor_kind_name(sh, cx),
                            actor_name(sh, cx),
                            c.text,
                            e.name(),
                            e.description()
                        ),
                    );
                    return Flow::Stop;
                }
            }
        }
    }
    Flow::Go
}

/// The per-call hooks after a call returned: `-v` and `--trace` events,
/// the call log of [`execute_logged`].
#[cold]
fn call_hooks(sh: &Shared, cx: &Cx, c: &CallOp, result: &Value) {
    let line = c.span.line;
    drain_events(sh);
    // --trace hook (chrome_trace.rs): the call's span ends.
    crate::chrome_trace::call_end(sh.tevents.as_ref(), cx.exec_id, result);
    if sh.log_calls {
        CALL_LOG.with(|l| {
            if let Some(log) = l.borrow_mut().as_mut() {
                log.push(CallRecord {
                    actor: actor_name(sh, cx),
                    line,
                    call: calls::call_sig(c.call).name,
                    text: c.text.clone(),
                    result: result.to_string(),
                });
            }
        });
    }
    sh.log(|| {
        format!("[{:>6} ns] {:<10} {}:{}  {} = {}", sched::now_ns(), actor_name(sh, cx), sh.path, line, c.text, result)
    });
}

fn actor_kind_name(sh: &Shared, cx: &Cx) -> &'static str {
    match cx.actor {
        Some(a) => match sh.prog.actors[a].kind {
            ActorKindIr::Thread => "thread",
            ActorKindIr::Kthread => "kthread",
        },
        None => "section",
    }
}

fn eval_failure(sh: &Shared, cx: &Cx, c: &CallOp, e: String) -> Flow {
    sh.fail(
        ViolationKind::Eval,
        format!("eval:{}", c.span.line),
        format!("{}:{}: {} `{}`: {}: {}", sh.path, c.span.line, actor_kind_name(sh, cx), actor_name(sh, cx), c.text, e),
    );
    Flow::Stop
}

pub(crate) use crate::lang::ir::setup_globals;

/// What every execution of one program shares, computed once: the
/// explorer runs a program thousands of times, and these names and lists
/// were a good part of an execution's allocations.
struct Prepared {
    prog: Rc<Program>,
    path: Rc<str>,
    bugs: BugSet,
    machine: sim_kernel::Machine,
    /// Executor actor names, by executor id: setup, the actors, finally.
    names: Rc<[String]>,
    /// Task names, by executor id.
    task_names: Vec<Arc<str>>,
    process_names: Vec<Arc<str>>,
    /// The outcome's names ...
    outcome_names: Rc<[String]>,
    /// ... and the global slots among them (the names bound in finally;
    /// those bound in setup are the same in every execution).
    outcome_globals: Vec<u32>,
    check_texts: Vec<Rc<str>>,
    /// The last execution's interpreter state, for the next to reuse.
    spare: Cell<Option<Rc<Shared>>>,
    /// Buffers of an execution given back by [`recycle`].
    spare_checks: Cell<Vec<CheckResult>>,
    spare_values: Cell<String>,
}

thread_local! {
    /// The last program prepared on this thread. It holds the program, so
    /// a pointer-equal `Rc<Program>` is that program.
    static PREPARED: RefCell<Option<Rc<Prepared>>> = const { RefCell::new(None) };
}

impl Prepared {
    fn of(prog: &Rc<Program>, path: &str) -> Rc<Prepared> {
        PREPARED.with(|c| {
            let mut c = c.borrow_mut();
            if let Some(p) = c.as_ref().filter(|p| Rc::ptr_eq(&p.prog, prog) && &*p.path == path) {
                return p.clone();
            }
            let p = Rc::new(Prepared::new(prog, path));
            *c = Some(p.clone());
            p
        })
    }

    fn new(prog: &Rc<Program>, path: &str) -> Prepared {
        let mut bugs = BugSet::NONE;
        for b in &prog.config.bugs {
            bugs.enable(b);
        }
        let mut names = vec!["setup".to_string()];
        names.extend(prog.actors.iter().map(|a| a.name.clone()));
        names.push("finally".to_string());
        let mut outcome_names = Vec::new();
        for a in &prog.actors {
            outcome_names.extend(a.locals.iter().map(|name| format!("{}.{}", a.name, name)));
        }
        let mut from_setup = Vec::new();
        setup_globals(&prog.setup, &mut from_setup);
        let outcome_globals: Vec<u32> = (0..prog.globals.len() as u32).filter(|i| !from_setup.contains(i)).collect();
        outcome_names.extend(outcome_globals.iter().map(|&i| prog.globals[i as usize].clone()));
        Prepared {
            prog: prog.clone(),
            path: Rc::from(path),
            bugs,
            machine: prog.config.machine(),
            task_names: names.iter().map(|n| Arc::from(n.as_str())).collect(),
            process_names: prog.processes.iter().map(|n| Arc::from(n.as_str())).collect(),
            names: names.into(),
            outcome_names: outcome_names.into(),
            outcome_globals,
            check_texts: prog.checks.iter().map(|c| Rc::from(c.text.as_str())).collect(),
            spare: Cell::new(None),
            spare_checks: Cell::new(Vec::new()),
            spare_values: Cell::new(String::new()),
        }
    }
}

/// Done with `ex` (the explorer, once it has counted it): its buffers
/// serve the next execution on this thread rather than being freed and
/// allocated again.
pub fn recycle(ex: Execution) {
    sim_kernel::sched::exec::recycle_steps(ex.steps);
    sim_kernel::sched::exec::recycle_decisions(ex.decisions);
    PREPARED.with(|c| {
        if let Some(p) = c.borrow().as_ref() {
            let mut checks = ex.checks;
            checks.clear();
            p.spare_checks.set(checks);
            let mut values = ex.outcome.values;
            values.clear();
            p.spare_values.set(values);
        }
    });
}

/// Run one execution of `prog` with `chooser` deciding every scheduling
/// point. Never panics on user input; a kernel assertion (a simulator bug)
/// propagates as a panic to the caller.
pub fn execute(prog: &Rc<Program>, path: &str, chooser: &mut dyn Chooser, opts: RunOptions) -> Execution {
    let pre = Prepared::of(prog, path);
    let kernel = Kernel::on(pre.bugs, pre.machine);
    let log_calls = CALL_LOG.with(|l| l.borrow().is_some());
    let procs: smallvec::SmallVec<[Arc<Process>; 2]> =
        pre.process_names.iter().map(|n| Process::new(&kernel, n.clone())).collect();
    let n = prog.actors.len();
    let sh = Shared::new(&pre, &kernel, opts, log_calls);
    let main_task = |id: usize| Task::new(&kernel, Some(procs[0].clone()), pre.task_names[id].clone());

    let mut ex = Executor::new();
    ex.set_granularity(opts.granularity_for(prog));
    ex.set_named_yield_points(!opts.no_named_yield_points);
    if opts.verbose || opts.trace_events {
        ex.record_events();
    }
    // Steps are recorded from the actors' phase on: setup runs alone
    // before every other actor, so its steps take part in no race and
    // count for nothing in the naive count, and a long setup would
    // otherwise keep a record per call.
    let mut stopped = false;

    // Phase 1: setup, alone.
    {
        let sh2 = sh.clone();
        let task = main_task(0);
        ex.spawn("setup", move || {
            let mut cx = Cx { exec_id: 0, actor: None, task, started: false };
            let ops = &sh2.prog.clone().setup;
            run_ops(&sh2, &mut cx, ops);
        });
    }
    let phase = |ex: &mut Executor, chooser: &mut dyn Chooser, may_block: &dyn Fn(usize) -> bool| -> bool {
        let end = ex.run(chooser);
        drain_events(&sh);
        match end {
            RunEnd::AllDone => true,
            RunEnd::Stopped => false,
            RunEnd::Blocked(ids) => {
                let bad: Vec<usize> = ids.iter().copied().filter(|&i| !may_block(i)).collect();
                if !bad.is_empty() {
                    report_deadlock(&sh, ex, &ids);
                    return false;
                }
                true
            }
        }
    };
    let setup_ok = phase(&mut ex, chooser, &|_| false);
    if opts.record_steps {
        ex.record_steps();
    }
    // Executor ids 1..=n are the scenario's actors; only they may end blocked.
    let may_block = |id: usize| id >= 1 && id <= n && prog.actors[id - 1].may_block;
    debug_assert!(ex.schedule().is_empty());

    // Phase 2: every actor.
    let mut ok = setup_ok;
    if ok {
        for (i, a) in prog.actors.iter().enumerate() {
            let sh2 = sh.clone();
            let task = match a.kind {
                ActorKindIr::Thread => Task::new(
                    &kernel,
                    Some(procs[a.process as usize].clone()),
                    pre.task_names[exec_id_of_actor(i)].clone(),
                ),
                // A kthread runs kernel-internal calls in the context of
                // `main` (as KVM's irqfd code runs in the VMM's ioctl).
                ActorKindIr::Kthread => main_task(exec_id_of_actor(i)),
            };
            let id = ex.spawn(&a.name, move || {
                let mut cx = Cx { exec_id: exec_id_of_actor(i), actor: Some(i), task, started: false };
                let prog = sh2.prog.clone();
                run_ops(&sh2, &mut cx, &prog.actors[i].body);
            });
            debug_assert_eq!(id, exec_id_of_actor(i));
        }
        ok = phase(&mut ex, chooser, &may_block);
    }
    let record_blocked = |ex: &Executor| {
        let mut b = sh.blocked.borrow_mut();
        for i in 0..n {
            b[i] = ex.state(exec_id_of_actor(i)) == ActorState::Blocked;
        }
    };
    if ok {
        record_blocked(&ex);
    }

    // Phase 3: finally (blocked actors stay blocked, and may be woken).
    if ok && !prog.finally.is_empty() {
        let sh2 = sh.clone();
        let task = main_task(n + 1);
        ex.spawn("finally", move || {
            let mut cx = Cx { exec_id: n + 1, actor: None, task, started: false };
            let prog = sh2.prog.clone();
            run_ops(&sh2, &mut cx, &prog.finally);
        });
        ok = phase(&mut ex, chooser, &may_block);
        if ok {
            record_blocked(&ex);
        }
    }
    if !ok {
        stopped = true;
    }
    // Moved out, not copied (a long run makes millions).
    let all_decisions: Vec<Decision> = ex.take_decisions();
    let mut schedule = ex.take_schedule();
    let preemption_count = ex.preemptions();

    // Check.
    let mut checks = pre.spare_checks.take();
    if ok {
        let env = Env { sh: &sh, actor: None };
        for (c, text) in prog.checks.iter().zip(&pre.check_texts) {
            let value = env.eval(&c.expr).and_then(|v| {
                v.truthy().ok_or_else(|| format!("the expression is {} ({v}), not a truth value", v.kind()))
            });
            match (&c.kind, &value) {
                (CheckKind::Assert, Ok(false)) => sh.violations.borrow_mut().push(Violation {
                    kind: ViolationKind::Assert,
                    key: format!("assert:{}", c.span.line),
                    message: format!("{}:{}: assert {} does not hold", path, c.span.line, c.text),
                }),
                (CheckKind::Never, Ok(true)) => sh.violations.borrow_mut().push(Violation {
                    kind: ViolationKind::Never,
                    key: format!("never:{}", c.span.line),
                    message: format!("{}:{}: never {} happened", path, c.span.line, c.text),
                }),
                (_, Err(e)) => sh.violations.borrow_mut().push(Violation {
                    kind: ViolationKind::Eval,
                    key: format!("check:{}", c.span.line),
                    message: format!("{}:{}: cannot evaluate `{}`: {}", path, c.span.line, c.text, e),
                }),
                _ => {}
            }
            checks.push(CheckResult { kind: c.kind, text: text.clone(), line: c.span.line, value });
        }
    }

    // Outcome: every actor's names, then names bound in finally.
    let mut outcome = Outcome { names: pre.outcome_names.clone(), values: pre.spare_values.take() };
    for l in &sh.locals {
        for v in l.borrow().iter() {
            outcome.push_value(v);
        }
    }
    {
        let g = sh.globals.borrow();
        for &i in &pre.outcome_globals {
            outcome.push_value(&g[i as usize]);
        }
    }

    // Teardown: kill what is left, every process exits, then every object
    // must be gone.
    let virtual_ns = ex.clock_ns();
    let steps = if opts.record_steps { ex.take_steps() } else { Vec::new() };
    ex.kill_all();
    drain_events(&sh);
    drop(ex);
    for p in &procs {
        p.exit_files();
    }
    for r in kernel.objs.reports() {
        let v = report_violation(&sh, &r);
        sh.violations.borrow_mut().push(v);
    }
    if !stopped {
        for (id, rec) in kernel.objs.live() {
            sh.violations.borrow_mut().push(Violation {
                kind: ViolationKind::Leak,
                key: format!("leak:{}:{}", rec.ty, sh.site_str(rec.created)),
                message: format!("leak: {} #{} created at {} was never released", rec.ty, id, sh.site_str(rec.created)),
            });
        }
    }

    // Executor ids to scenario actor numbers, in place.
    for c in &mut schedule {
        *c -= 1;
    }
    let violations = std::mem::take(&mut *sh.violations.borrow_mut());
    let trace = sh.trace.as_ref().map(|t| t.take()).unwrap_or_default();
    let ex = Execution {
        violations,
        decisions: all_decisions,
        schedule,
        outcome,
        checks,
        trace,
        calls: sh.calls.get(),
        virtual_ns,
        preemption_count,
        stopped,
        steps,
        trace_events: sh.tevents.as_ref().map(|t| t.take()).unwrap_or_default(),
        cut: sh.cut.get(),
    };
    // The interpreter state and the kernel's memory serve the next
    // execution, if nothing holds them.
    drop(Shared::finish(sh, &pre));
    drop(procs);
    Kernel::recycle(kernel);
    ex
}

fn drain_events(sh: &Shared) {
    if sh.trace.is_none() && sh.tevents.is_none() {
        return;
    }
    let events = sim_kernel::sched::exec::take_events();
    // --trace hook (chrome_trace.rs): scheduler events, in order.
    if let Some(t) = &sh.tevents {
        t.borrow_mut().extend(events.iter().cloned().map(crate::chrome_trace::TraceEvent::Sched));
    }
    if sh.trace.is_none() {
        return;
    }
    for e in events {
        sh.log(|| match &e {
            ExecEvent::Blocked { actor, on, t } => {
                let what = if on.obj != 0 && on.what != "lock" {
                    format!("{} of {} #{}", on.what, sh.kernel().objs.record(on.obj).ty, on.obj)
                } else {
                    on.what.to_string()
                };
                format!("[{:>6} ns] {:<10} blocks on {}", t, sh.names[*actor], what)
            }
            ExecEvent::Woken { actor, why, t } => format!("[{:>6} ns] {:<10} {:?}", t, sh.names[*actor], why),
            ExecEvent::Yield { actor, label, t } => {
                format!("[{:>6} ns] {:<10} at yield point {}", t, sh.names[*actor], label)
            }
        });
    }
}

fn report_deadlock(sh: &Shared, ex: &Executor, ids: &[usize]) {
    let mut msg = String::from("deadlock: no actor can run");
    let mut key = String::from("deadlock:");
    for &id in ids {
        let name = &sh.names[id];
        // SAFETY: the pointer was taken from a `CallOp` of `sh.prog`, which
        // `sh` keeps alive and never changes.
        let (line, call) = match sh.in_call[id].get() {
            Some(c) => unsafe { ((*c).span.line, (*c).text.as_str()) },
            None => (0, "?"),
        };
        let on = ex.blocked_on(id);
        let what = match &on {
            Some(b) if b.obj != 0 && b.what != "lock" => {
                let rec = sh.kernel().objs.record(b.obj);
                format!("{} ({} #{} created at {})", b.what, rec.ty, b.obj, sh.site_str(rec.created))
            }
            Some(b) => b.what.to_string(),
            None => "?".into(),
        };
        let may = id >= 1 && id <= sh.prog.actors.len() && sh.prog.actors[id - 1].may_block;
        let _ = write!(
            msg,
            "\n  {} blocked in {} at {}:{} on {}{}",
            name,
            call,
            sh.path,
            line,
            what,
            if may { " (may block)" } else { "" }
        );
        let _ = write!(key, "{name}@{line},");
    }
    sh.violations.borrow_mut().push(Violation { kind: ViolationKind::Deadlock, key, message: msg });
}

fn report_violation(sh: &Shared, r: &Report) -> Violation {
    match r {
        Report::UseAfterFree { obj, ty, op, created, released, site } => Violation {
            kind: ViolationKind::UseAfterFree,
            key: format!("uaf:{ty}:{op}"),
            message: format!(
                "use-after-free: {op} on {ty} #{obj} at {}; created at {}, released at {}",
                sh.site_str(*site),
                sh.site_str(*created),
                sh.site_str(*released)
            ),
        },
        Report::DoubleFree { obj, ty, created, released, site } => Violation {
            kind: ViolationKind::DoubleFree,
            key: format!("double-free:{ty}"),
            message: format!(
                "double free: {ty} #{obj} released again at {}; created at {}, first released at {}",
                sh.site_str(*site),
                sh.site_str(*created),
                sh.site_str(*released)
            ),
        },
        Report::Invariant { msg, site } => Violation {
            kind: ViolationKind::KernelWarning,
            key: format!("warn:{msg}"),
            message: format!("kernel warning at {}: {msg}", sh.site_str(*site)),
        },
    }
}
