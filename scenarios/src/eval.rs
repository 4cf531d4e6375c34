//! Evaluation of the scenario language's expressions, patterns and checks
//! (SCENARIO-LANGUAGE.md section 4), shared by the simulator's interpreter
//! ([`crate::runner`]) and the native one ([`crate::native`]): both read
//! bound names through a [`Scope`], so a value, a pattern or a `check` line
//! means the same thing under both.

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

/// Evaluate an expression. The common arguments (an integer constant, a
/// bound name) are handled inline; the rest by [`eval_full`].
#[inline]
pub fn eval<S: Scope + ?Sized>(s: &S, e: &IrExpr) -> Result<Value, String> {
    match e {
        IrExpr::Const(Const::Int(n)) => Ok(Value::Int(*n)),
        IrExpr::Slot(Slot::Global(i)) => Ok(s.global(*i)),
        _ => eval_full(s, e),
    }
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
            let vals = args.iter().map(|a| eval(s, a)).collect::<Result<Vec<_>, _>>()?;
            calls::builtin(*id, &vals)?
        }
        IrExpr::List(items) => Value::List(Rc::from(items.iter().map(|a| eval(s, a)).collect::<Result<Vec<_>, _>>()?)),
        IrExpr::Index(base, idx, _) => {
            let b = eval(s, base)?;
            let i = match eval(s, idx)? {
                Value::Int(i) => i,
                v => return Err(format!("an index must be an integer, got {} ({v})", v.kind())),
            };
            match &b {
                Value::List(items) => items
                    .get(i as usize)
                    .cloned()
                    .ok_or_else(|| format!("index {i} is out of range for a list of {}", items.len()))?,
                Value::Bytes(bytes) => Value::Int(
                    *bytes
                        .get(i as usize)
                        .ok_or_else(|| format!("index {i} is out of range for {} bytes", bytes.len()))?
                        as u64,
                ),
                v => return Err(format!("cannot index {} ({v})", v.kind())),
            }
        }
        IrExpr::Field(base, name, _) => match eval(s, base)? {
            Value::Record(fields) => {
                fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).ok_or_else(|| {
                    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
                    format!("the record has no field `{name}` (fields: {})", names.join(", "))
                })?
            }
            Value::Handle(h) => {
                h.field(name).ok_or_else(|| format!("a <{}> handle has no field `{name}`", h.type_name()))?
            }
            v => return Err(format!("`.{name}` needs a record, got {} ({v})", v.kind())),
        },
        IrExpr::Unary(op, x, _) => {
            let v = eval(s, x)?;
            match op {
                UnOp::Not => match v.truthy() {
                    Some(t) => Value::Int((!t) as u64),
                    None => return Err(format!("`!` needs an integer or comparison, got {} ({v})", v.kind())),
                },
                UnOp::Neg => match v {
                    Value::Int(n) => Value::Int(n.wrapping_neg()),
                    v => return Err(format!("`-` needs an integer, got {} ({v})", v.kind())),
                },
            }
        }
        IrExpr::Binary(op, l, r, _) => {
            // && and || short-circuit.
            if matches!(op, BinOp::And | BinOp::Or) {
                let lv = eval(s, l)?;
                let lt = lv
                    .truthy()
                    .ok_or_else(|| format!("`{}` needs truth values, got {} ({lv})", opstr(*op), lv.kind()))?;
                if (*op == BinOp::And && !lt) || (*op == BinOp::Or && lt) {
                    return Ok(Value::Int(lt as u64));
                }
                let rv = eval(s, r)?;
                let rt = rv
                    .truthy()
                    .ok_or_else(|| format!("`{}` needs truth values, got {} ({rv})", opstr(*op), rv.kind()))?;
                return Ok(Value::Int(rt as u64));
            }
            let lv = eval(s, l)?;
            let rv = eval(s, r)?;
            match op {
                BinOp::Eq => Value::Int((lv == rv) as u64),
                BinOp::Ne => Value::Int((lv != rv) as u64),
                _ => {
                    let (a, b) = match (&lv, &rv) {
                        (Value::Int(a), Value::Int(b)) => (*a, *b),
                        _ => {
                            return Err(format!(
                                "`{}` needs integers, got {} ({lv}) and {} ({rv})",
                                opstr(*op),
                                lv.kind(),
                                rv.kind()
                            ))
                        }
                    };
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
            }
        }
        IrExpr::In(x, set, _) => {
            let v = eval(s, x)?;
            for item in set {
                if eval(s, item)? == v {
                    return Ok(Value::Int(1));
                }
            }
            Value::Int(0)
        }
    })
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
