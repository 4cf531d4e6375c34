//! What the resolver needs to know about calls, value builtins, constants
//! and bug names. The concrete table lives in `crate::calls`; tests may pass
//! their own.

use super::ir::{Const, IrExpr};

pub type CallId = u16;
pub type BuiltinId = u16;

/// Who may make a call (SCENARIO-LANGUAGE.md section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallCtx {
    /// A syscall: user threads, `setup` and `finally`; not kthreads.
    User,
    /// Kernel-internal: kthreads, `setup` and `finally`; not user threads.
    Kernel,
    /// ksim's own calls (`now_ns`, `sleep_ns`): anywhere.
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// No named arguments.
    None,
    /// Exactly these names may appear (each at most once).
    Only(&'static [&'static str]),
    /// Any names (checked by the call itself, e.g. ioctl by command).
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// One value: bind with `NAME =`.
    One,
    /// Two values (pipe, pipe2): bind with `(A, B) =`; `NAME =` is an error.
    Pair,
}

#[derive(Clone, Copy, Debug)]
pub struct CallSig {
    pub name: &'static str,
    pub ctx: CallCtx,
    /// Positional argument count bounds.
    pub min: u8,
    pub max: u8,
    pub named: Named,
    pub ret: Ret,
    /// Shown in diagnostics: `eventfd(INITVAL[, FLAGS])`.
    pub usage: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct BuiltinSig {
    pub name: &'static str,
    pub min: u8,
    /// `u8::MAX` means variadic.
    pub max: u8,
    pub usage: &'static str,
}

pub trait Catalog {
    fn call(&self, name: &str) -> Option<(CallId, &CallSig)>;
    fn builtin(&self, name: &str) -> Option<(BuiltinId, &BuiltinSig)>;
    fn constant(&self, name: &str) -> Option<Const>;
    fn is_bug(&self, name: &str) -> bool;
    /// Every call name, for "did you mean" suggestions.
    fn call_names(&self) -> Vec<&'static str>;
    /// Every constant name, for suggestions.
    fn constant_names(&self) -> Vec<&'static str>;
    /// Every bug name, for suggestions and the error text.
    fn bug_names(&self) -> Vec<&'static str>;
    /// The value of `e` (a builtin, an operator or an `in`), when its
    /// operands are all constants and it evaluates to a constant: the
    /// resolver puts it in the program in place of `e`, so that it is not
    /// computed again in every execution. `None` leaves `e` to run time
    /// (a failing evaluation is reported then, as it would have been).
    fn fold(&self, _e: &IrExpr) -> Option<Const> {
        None
    }
}
