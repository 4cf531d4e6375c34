//! What the resolver needs to know about calls, value builtins, constants
//! and bug names, how to fold constant expressions, and how large a value
//! may be. The concrete table lives in `crate::calls`; tests may pass their
//! own.

use super::ir::{Const, IrExpr};

pub type CallId = u16;
pub type BuiltinId = u16;

/// Who may make a call (the book's scenario-language chapter, "Calls").
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
    /// The least number of bytes the value of `e` holds if it evaluates (a
    /// byte string, or a list of them), computed from the operands without
    /// building anything: `fill(LEN, B)` holds LEN, `cat(...)` the sum of
    /// what its operands are known to hold; 0 when nothing is known before
    /// run time. The resolver refuses a value longer than
    /// [`Catalog::max_value_bytes`] and budgets the bytes it folds with it.
    fn built_len(&self, _e: &IrExpr) -> u64 {
        0
    }
    /// The most bytes one value may hold (see [`Catalog::built_len`]).
    fn max_value_bytes(&self) -> u64 {
        u64::MAX
    }
}
