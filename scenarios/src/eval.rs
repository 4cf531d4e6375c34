//! Evaluation of the scenario language's expressions, patterns and checks
//! (the book's scenario-language chapter, "Values"), shared by the simulator's interpreter
//! ([`crate::runner`]) and the native one ([`crate::native`]): both read
//! bound names through a [`Scope`], so a value, a pattern or a `check` line
//! means the same thing under both. No evaluation builds a value larger
//! than [`calls::MAX_VALUE_BYTES`]: it fails with an evaluation error.

use crate::calls;
use crate::lang::ast::{BinOp, UnOp};
use crate::lang::ir::{Const, IrBind, IrExpr, IrPat, Slot};
use crate::value::Value;
use std::rc::Rc;

/// Where an expression's names live.
pub trait Scope {
    /// A name bound by `setup` or `finally`.
    fn global(&self, i: u32) -> Value;
    /// A name bound by the current actor; `Err` outside an actor.
    fn local(&self, i: u32) -> Result<Value, String>;
    /// `ACTOR.NAME`.
    fn actor_var(&self, actor: u32, slot: u32) -> Value;
    /// `blocked(ACTOR)`.
    fn blocked(&self, actor: u32) -> bool;
}

/// The run-time value of a resolved constant.
pub fn const_value(c: &Const) -> Value {
    match c {
        Const::Int(n) => Value::Int(*n),
        Const::Errno(x) => Value::Errno(*x),
        Const::Signal(x) => Value::Signal(*x),
        Const::Str(s) => Value::Str(Rc::from(s.as_str())),
        Const::Bytes(b) => Value::bytes(b),
        Const::Unset => Value::Unset,
        Const::Null => Value::Null,
    }
}

/// Whether `v` equals the constant `c` (`const_value(c) == *v`, without
/// building the value).
#[inline]
pub fn const_eq(c: &Const, v: &Value) -> bool {
    match (c, v) {
        (Const::Int(a), Value::Int(b)) => a == b,
        (Const::Errno(a), Value::Errno(b)) => a == b,
        (Const::Signal(a), Value::Signal(b)) => a == b,
        (Const::Str(a), Value::Str(b)) => a.as_str() == &**b,
        (Const::Bytes(a), Value::Bytes(b)) => a[..] == b[..],
        (Const::Unset, Value::Unset) | (Const::Null, Value::Null) => true,
        _ => false,
    }
}

/// The value of `e` when its operands are constants and it evaluates to a
/// constant (see [`crate::lang::catalog::Catalog::fold`]): evaluated as at
/// run time, by [`eval`] itself, so folding changes no result.
pub fn fold(e: &IrExpr) -> Option<Const> {
    let is_const = |x: &IrExpr| matches!(x, IrExpr::Const(_));
    let operands_const = match e {
        IrExpr::Builtin { args, .. } => args.iter().all(is_const),
        IrExpr::Binary(_, a, b, _) => is_const(a) && is_const(b),
        IrExpr::Unary(_, a, _) => is_const(a),
        IrExpr::In(a, set, _) => is_const(a) && set.iter().all(is_const),
        _ => false,
    };
    if !operands_const {
        return None;
    }
    /// Constants read no name.
    struct NoNames;
    impl Scope for NoNames {
        fn global(&self, _: u32) -> Value {
            Value::Unset
        }
        fn local(&self, _: u32) -> Result<Value, String> {
            Err("a name in a constant".into())
        }
        fn actor_var(&self, _: u32, _: u32) -> Value {
            Value::Unset
        }
        fn blocked(&self, _: u32) -> bool {
            false
        }
    }
    Some(match eval(&NoNames, e).ok()? {
        Value::Int(n) => Const::Int(n),
        Value::Errno(x) => Const::Errno(x),
        Value::Signal(x) => Const::Signal(x),
        Value::Str(s) => Const::Str(s.to_string()),
        Value::Bytes(b) => Const::Bytes(b.to_vec()),
        Value::Unset => Const::Unset,
        Value::Null => Const::Null,
        Value::Record(_) | Value::List(_) | Value::Handle(_) => return None,
    })
}

/// Evaluate an expression. The common arguments (an integer constant, a
/// bound name) are handled inline; the rest by [`eval_full`].
#[inline]
pub fn eval<S: Scope + ?Sized>(s: &S, e: &IrExpr) -> Result<Value, String> {
    match e {
        IrExpr::Const(Const::Int(n)) => Ok(Value::Int(*n)),
        IrExpr::Slot(Slot::Global(i)) => Ok(s.global(*i)),
        IrExpr::ActorVar { actor, slot } => Ok(s.actor_var(*actor, *slot)),
        _ => eval_full(s, e),
    }
}

/// Whether `a == b`: with a constant on either side (`reader.x == EBADF`,
/// `x in {0, 5}`), compared without building the constant's value.
#[inline]
fn equal<S: Scope + ?Sized>(s: &S, a: &IrExpr, b: &IrExpr) -> Result<bool, String> {
    Ok(match (a, b) {
        (x, IrExpr::Const(k)) | (IrExpr::Const(k), x) => const_eq(k, &eval(s, x)?),
        _ => eval(s, a)? == eval(s, b)?,
    })
}

/// The truth of an operand of `&&`, `||` (`!` has its own message).
#[inline]
fn operand_truth<S: Scope + ?Sized>(s: &S, op: BinOp, e: &IrExpr) -> Result<bool, String> {
    // A comparison is a truth value: no integer made to be tested.
    match e {
        IrExpr::Binary(BinOp::Eq, l, r, _) => return equal(s, l, r),
        IrExpr::Binary(BinOp::Ne, l, r, _) => return Ok(!equal(s, l, r)?),
        _ => {}
    }
    let v = eval(s, e)?;
    match v.truthy() {
        Some(t) => Ok(t),
        None => Err(needs(format_args!("`{}` needs truth values", opstr(op)), &v)),
    }
}

/// "`what`, got KIND (VALUE)": an operand of the wrong kind.
#[cold]
#[inline(never)]
fn needs(what: std::fmt::Arguments<'_>, v: &Value) -> String {
    format!("{what}, got {} ({v})", v.kind())
}

/// Evaluate any expression.
fn eval_full<S: Scope + ?Sized>(s: &S, e: &IrExpr) -> Result<Value, String> {
    Ok(match e {
        IrExpr::Const(c) => const_value(c),
        IrExpr::Slot(Slot::Global(i)) => s.global(*i),
        IrExpr::Slot(Slot::Local(i)) => s.local(*i)?,
        IrExpr::ActorVar { actor, slot } => s.actor_var(*actor, *slot),
        IrExpr::Blocked(a) => Value::Int(s.blocked(*a) as u64),
        IrExpr::Builtin { id, args, .. } => {
            let name = calls::BUILTINS.get(*id as usize).map_or("builtin", |b| b.name);
            calls::builtin(*id, &operands(s, args, name)?)?
        }
        IrExpr::List(items) => Value::List(Rc::from(operands(s, items, "[...]")?)),
        IrExpr::Index(base, idx, _) => index(eval(s, base)?, eval(s, idx)?)?,
        IrExpr::Field(base, name, _) => field(eval(s, base)?, name)?,
        IrExpr::Unary(op, x, _) => {
            let v = eval(s, x)?;
            match (op, &v) {
                (UnOp::Neg, Value::Int(n)) => Value::Int(n.wrapping_neg()),
                (UnOp::Not, Value::Int(n)) => Value::Int((*n == 0) as u64),
                (UnOp::Not, _) => return Err(needs(format_args!("`!` needs an integer or comparison"), &v)),
                (UnOp::Neg, _) => return Err(needs(format_args!("`-` needs an integer"), &v)),
            }
        }
        IrExpr::Binary(op, l, r, _) => match op {
            // && and || short-circuit.
            BinOp::And | BinOp::Or => {
                let lt = operand_truth(s, *op, l)?;
                if (*op == BinOp::And) != lt {
                    return Ok(Value::Int(lt as u64));
                }
                Value::Int(operand_truth(s, *op, r)? as u64)
            }
            BinOp::Eq => Value::Int(equal(s, l, r)? as u64),
            BinOp::Ne => Value::Int(!equal(s, l, r)? as u64),
            _ => {
                let (lv, rv) = (eval(s, l)?, eval(s, r)?);
                let (Value::Int(a), Value::Int(b)) = (&lv, &rv) else {
                    return Err(not_integers(*op, &lv, &rv));
                };
                let (a, b) = (*a, *b);
                Value::Int(match op {
                    BinOp::Lt => (a < b) as u64,
                    BinOp::Le => (a <= b) as u64,
                    BinOp::Gt => (a > b) as u64,
                    BinOp::Ge => (a >= b) as u64,
                    BinOp::Add => a.wrapping_add(b),
                    BinOp::Sub => a.wrapping_sub(b),
                    BinOp::Mul => a.wrapping_mul(b),
                    BinOp::BitAnd => a & b,
                    BinOp::BitOr => a | b,
                    BinOp::Eq | BinOp::Ne | BinOp::And | BinOp::Or => unreachable!(),
                })
            }
        },
        IrExpr::In(x, set, _) => {
            let v = eval(s, x)?;
            for item in set {
                let hit = match item {
                    IrExpr::Const(k) => const_eq(k, &v),
                    _ => eval(s, item)? == v,
                };
                if hit {
                    return Ok(Value::Int(1));
                }
            }
            Value::Int(0)
        }
    })
}

/// The values of builtin `what`'s arguments or (`what` is `[...]`) of a
/// list's items, stopping as
/// soon as they hold more than a value may ([`calls::MAX_VALUE_BYTES`]):
/// no builtin makes a value smaller than its operands together, so
/// nothing larger is built (`cat(fill(n, 1), fill(n, 1), ...)`).
fn operands<S: Scope + ?Sized>(s: &S, args: &[IrExpr], what: &str) -> Result<Vec<Value>, String> {
    let mut vals = Vec::with_capacity(args.len());
    let mut n = 0u64;
    for a in args {
        let v = eval(s, a)?;
        n = n.saturating_add(calls::value_bytes(&v));
        if n > calls::MAX_VALUE_BYTES {
            let what = if what.starts_with('[') { what.to_string() } else { format!("{what}(...)") };
            return Err(calls::too_big(&what, n));
        }
        vals.push(v);
    }
    Ok(vals)
}

#[cold]
#[inline(never)]
fn not_integers(op: BinOp, lv: &Value, rv: &Value) -> String {
    format!("`{}` needs integers, got {} ({lv}) and {} ({rv})", opstr(op), lv.kind(), rv.kind())
}

/// `BASE[INDEX]`.
fn index(b: Value, i: Value) -> Result<Value, String> {
    let i = match i {
        Value::Int(i) => i,
        v => return Err(needs(format_args!("an index must be an integer"), &v)),
    };
    match &b {
        Value::List(items) => items
            .get(i as usize)
            .cloned()
            .ok_or_else(|| format!("index {i} is out of range for a list of {}", items.len())),
        Value::Bytes(bytes) => match bytes.get(i as usize) {
            Some(&x) => Ok(Value::Int(x as u64)),
            None => Err(format!("index {i} is out of range for {} bytes", bytes.len())),
        },
        v => Err(format!("cannot index {} ({v})", v.kind())),
    }
}

/// `BASE.NAME`.
fn field(b: Value, name: &str) -> Result<Value, String> {
    match b {
        Value::Record(fields) => match fields.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => Ok(v.clone()),
            None => {
                let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
                Err(format!("the record has no field `{name}` (fields: {})", names.join(", ")))
            }
        },
        Value::Handle(h) => h.field(name).ok_or_else(|| format!("a <{}> handle has no field `{name}`", h.type_name())),
        v => Err(format!("`.{name}` needs a record, got {} ({v})", v.kind())),
    }
}

/// Whether a call's result is a failure (an errno, or any other result
/// token such as a signal): what `=> ok` rejects and what fails a call with
/// no pattern and no name. Written as the list of values that are *not*
/// failures, so a token kind added later counts as a failure.
pub fn is_failure(v: &Value) -> bool {
    !matches!(
        v,
        Value::Int(_)
            | Value::Bytes(_)
            | Value::Str(_)
            | Value::Record(_)
            | Value::List(_)
            | Value::Handle(_)
            | Value::Null
            | Value::Unset
    )
}

/// Bind a call's result as the statement says: `NAME =` takes it whole;
/// `(A, B) =` takes a pair's two values, or an errno (any non-pair) in both.
pub fn bind(b: &IrBind, result: &Value, mut store: impl FnMut(&Slot, Value)) {
    match b {
        IrBind::None => {}
        IrBind::One(s) => store(s, result.clone()),
        IrBind::Pair(a, b) => match result {
            Value::List(items) if items.len() == 2 => {
                store(a, items[0].clone());
                store(b, items[1].clone());
            }
            other => {
                store(a, other.clone());
                store(b, other.clone());
            }
        },
    }
}

/// Whether `result` matches one of a statement's `=> PATTERN` alternatives.
pub fn pattern_matches<S: Scope + ?Sized>(s: &S, alts: &[IrPat], result: &Value) -> Result<bool, String> {
    for alt in alts {
        let ok = match alt {
            IrPat::Any => true,
            IrPat::Ok => !is_failure(result),
            IrPat::Expr(IrExpr::Const(k)) => const_eq(k, result),
            IrPat::Expr(e) => eval(s, e)? == *result,
        };
        if ok {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The truth of a `check` line's expression.
pub fn truth<S: Scope + ?Sized>(s: &S, e: &IrExpr) -> Result<bool, String> {
    let v = eval(s, e)?;
    v.truthy().ok_or_else(|| format!("the expression is {} ({v}), not a truth value", v.kind()))
}

pub(crate) fn opstr(op: BinOp) -> &'static str {
    match op {
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::And => "&&",
        BinOp::Or => "||",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
    }
}
