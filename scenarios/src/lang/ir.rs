//! The resolved program the interpreter runs: every name is a slot, every
//! call a catalog index, every constant a value. Built by
//! [`super::resolve::resolve`] from the [`super::ast`]; nothing here is looked
//! up by string at run time (issue 7: handles resolved once at parse time).

use super::ast::{BinOp, CheckKind, Span, UnOp};
use super::catalog::{BuiltinId, CallId};
use sim_kernel::errno::Errno;
use sim_kernel::mm::Signal;

/// A literal or named constant, already evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Const {
    Int(u64),
    Errno(Errno),
    /// A signal result token (`SIGSEGV`, `SIGBUS`): what a memory access
    /// ends in, matched like an errno.
    Signal(Signal),
    Str(String),
    Bytes(Vec<u8>),
    Unset,
    Null,
}

/// Where a bound name lives. Globals are bound by `setup` and `finally`;
/// locals belong to one actor (setup and finally have no locals: their names
/// are global).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Global(u32),
    Local(u32),
}

#[derive(Clone, Debug)]
pub enum IrBind {
    None,
    One(Slot),
    Pair(Slot, Slot),
}

#[derive(Clone, Debug)]
pub enum IrPat {
    Ok,
    Any,
    Expr(IrExpr),
}

#[derive(Clone, Debug)]
pub enum IrExpr {
    Const(Const),
    Slot(Slot),
    /// `ACTOR.NAME` in `check` (and `finally`): actor index into
    /// [`Program::actors`], slot index into that actor's `locals`.
    ActorVar {
        actor: u32,
        slot: u32,
    },
    /// `blocked(ACTOR)`.
    Blocked(u32),
    Builtin {
        id: BuiltinId,
        args: Vec<IrExpr>,
        span: Span,
    },
    List(Vec<IrExpr>),
    Index(Box<IrExpr>, Box<IrExpr>, Span),
    Field(Box<IrExpr>, String, Span),
    Binary(BinOp, Box<IrExpr>, Box<IrExpr>, Span),
    Unary(UnOp, Box<IrExpr>, Span),
    In(Box<IrExpr>, Vec<IrExpr>, Span),
}

#[derive(Clone, Debug)]
pub struct CallOp {
    pub call: CallId,
    /// Positional arguments, in order.
    pub args: Vec<IrExpr>,
    /// Named arguments in source order, names as written (checked against the
    /// call's signature by the resolver).
    pub named: Vec<(String, IrExpr)>,
    pub bind: IrBind,
    pub pattern: Option<Vec<IrPat>>,
    /// The statement's span; `span.line` is what reports print.
    pub span: Span,
    /// The call as written, e.g. `eventfd_read(efd)`, for traces and reports.
    pub text: String,
    /// The pattern as written after `=>`, e.g. `5 or EAGAIN`.
    pub pattern_text: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Op {
    Call(CallOp),
    Repeat { count: u64, body: Vec<Op> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKindIr {
    Thread,
    Kthread,
}

#[derive(Clone, Debug)]
pub struct ActorIr {
    pub name: String,
    pub kind: ActorKindIr,
    /// Index into [`Program::processes`]; kthreads have `0`: their
    /// kernel-internal calls run in the context of `main`.
    pub process: u32,
    pub may_block: bool,
    /// Names of the actor's local slots, by slot index.
    pub locals: Vec<String>,
    pub body: Vec<Op>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct ConfigIr {
    pub seed: Option<u64>,
    pub preemptions: Option<u64>,
    pub max_executions: Option<u64>,
    /// `max_steps=N`: calls one execution may make (see `crate::limits`).
    pub max_steps: Option<u64>,
    /// Bug names, validated against the registry, in file order, deduplicated.
    pub bugs: Vec<String>,
    /// `pkeys=on|off`: the machine has protection keys (`None`: not pinned,
    /// [`sim_kernel::Machine::DEFAULT`]).
    pub pkeys: Option<bool>,
    /// `cap_sys_resource=on|off`: the process has CAP_SYS_RESOURCE.
    pub cap_sys_resource: Option<bool>,
    /// The userfaultfd features of the machine; no config key: set only by
    /// `ksim compare` to match the host (`scenarios/src/native/host.rs`).
    pub uffd_features: Option<u64>,
    /// `granularity=call|lock`: where actors may switch (`--granularity`
    /// overrides it).
    pub granularity: Option<sim_kernel::sched::Granularity>,
}

impl ConfigIr {
    /// The simulated machine: what the scenario pins, the default for the
    /// rest. Never read from the host.
    pub fn machine(&self) -> sim_kernel::Machine {
        let d = sim_kernel::Machine::DEFAULT;
        sim_kernel::Machine {
            pkeys: self.pkeys.unwrap_or(d.pkeys),
            cap_sys_resource: self.cap_sys_resource.unwrap_or(d.cap_sys_resource),
            uffd_features: self.uffd_features.unwrap_or(d.uffd_features),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CheckIr {
    pub kind: CheckKind,
    pub expr: IrExpr,
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub title: Option<String>,
    pub config: ConfigIr,
    /// Process names; index 0 is always `main`.
    pub processes: Vec<String>,
    /// Names of the global slots (bound in setup or finally), by slot index.
    pub globals: Vec<String>,
    pub setup: Vec<Op>,
    pub actors: Vec<ActorIr>,
    pub finally: Vec<Op>,
    pub checks: Vec<CheckIr>,
}

/// Names bound by `setup` (excluded from outcomes: setup runs alone, so
/// they are the same in every execution).
pub fn setup_globals(ops: &[Op], out: &mut Vec<u32>) {
    for op in ops {
        match op {
            Op::Call(c) => match &c.bind {
                IrBind::One(Slot::Global(i)) => out.push(*i),
                IrBind::Pair(a, b) => {
                    for s in [a, b] {
                        if let Slot::Global(i) = s {
                            out.push(*i);
                        }
                    }
                }
                _ => {}
            },
            Op::Repeat { body, .. } => setup_globals(body, out),
        }
    }
}
