//! Helpers of the native call implementations: reading arguments as the
//! simulator's dispatch does (`scenarios/src/calls.rs`: fds truncated to
//! `int`, flags to `unsigned int`), turning a host return value and `errno`
//! into a result, and [`SValue`], a value that can cross threads and
//! processes (the language's [`Value`] is `Rc`-based).

use super::NErr;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use sim_kernel::Errno;
use std::rc::Rc;

pub fn arg<'a>(name: &str, a: &'a [Value], i: usize) -> Result<&'a Value, NErr> {
    a.get(i).ok_or_else(|| NErr::Arg(format!("{name} needs argument {}", i + 1)))
}

pub fn int(name: &str, a: &[Value], i: usize) -> Result<u64, NErr> {
    match arg(name, a, i)? {
        Value::Int(n) => Ok(*n),
        v => Err(NErr::Arg(format!("argument {} of {name} must be an integer, got {} ({v})", i + 1, v.kind()))),
    }
}

/// An optional integer argument (absent: `default`).
pub fn int_or(name: &str, a: &[Value], i: usize, default: u64) -> Result<u64, NErr> {
    if a.len() > i {
        int(name, a, i)
    } else {
        Ok(default)
    }
}

/// An `int fd` argument.
pub fn fd(name: &str, a: &[Value], i: usize) -> Result<i32, NErr> {
    Ok(int(name, a, i)? as u32 as i32)
}

pub fn bytes(name: &str, a: &[Value], i: usize) -> Result<Rc<[u8]>, NErr> {
    match arg(name, a, i)? {
        Value::Bytes(b) => Ok(b.clone()),
        v => Err(NErr::Arg(format!("argument {} of {name} must be bytes, got {} ({v})", i + 1, v.kind()))),
    }
}

/// A named integer argument (`start=`), 0 when absent.
pub fn field(name: &str, named: &[(String, Value)], key: &str) -> Result<u64, NErr> {
    match named.iter().find(|(k, _)| k == key) {
        None => Ok(0),
        Some((_, Value::Int(n))) => Ok(*n),
        Some((_, v)) => Err(NErr::Arg(format!("{name}: field {key} must be an integer, got {} ({v})", v.kind()))),
    }
}

/// The calling thread's `errno`.
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// An errno code as a result; a code ksim does not know skips the scenario.
pub fn errno_value(code: i32) -> Result<Value, NErr> {
    Errno::from_code(code)
        .map(Value::Errno)
        .ok_or_else(|| NErr::Skip(format!("the host returned errno {code}, which ksim does not know")))
}

/// A syscall return value: negative is `errno`, else `ok(r)`.
pub fn ret(r: i64, ok: impl FnOnce(i64) -> Value) -> Result<Value, NErr> {
    if r < 0 {
        errno_value(last_errno())
    } else {
        Ok(ok(r))
    }
}

/// A syscall whose success value is returned as an integer.
pub fn ret_int(r: i64) -> Result<Value, NErr> {
    ret(r, |n| Value::Int(n as u64))
}

/// A syscall whose success is 0.
pub fn ret_zero(r: i64) -> Result<Value, NErr> {
    ret(r, |_| Value::Int(0))
}

/// The value of a result token the catalog defines as a constant (the
/// userfaultfd issue's `SIGSEGV` and `SIGBUS`), so the host gives exactly
/// what the simulator's `=> SIGSEGV` pattern matches.
pub fn token(name: &str) -> Result<Value, NErr> {
    use crate::lang::catalog::Catalog;
    crate::calls::KsimCatalog
        .constant(name)
        .map(|c| crate::eval::const_value(&c))
        .ok_or_else(|| NErr::Skip(format!("the catalog has no `{name}` result token")))
}

/// A [`Value`] without `Rc`s: it crosses threads, and the child's `exec()`
/// carries bound names through JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SValue {
    #[default]
    Unset,
    Null,
    Int(u64),
    Errno(i32),
    Bytes(Vec<u8>),
    Str(String),
    Record(Vec<(String, SValue)>),
    List(Vec<SValue>),
    /// Any other value, by the name the catalog gives its constant.
    Token(String),
}

/// Record field names are `&'static str` in [`Value`]; the few names a
/// resumed child reads back are interned here.
fn intern(s: &str) -> &'static str {
    use std::sync::OnceLock;
    #[allow(clippy::disallowed_types)]
    static NAMES: OnceLock<std::sync::Mutex<Vec<&'static str>>> = OnceLock::new();
    let m = NAMES.get_or_init(Default::default);
    let mut v = m.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = v.iter().find(|n| **n == s) {
        return n;
    }
    let n: &'static str = Box::leak(s.to_string().into_boxed_str());
    v.push(n);
    n
}

impl SValue {
    /// Kernel handles have no native form (the calls that make them are
    /// kernel-internal, so such scenarios are skipped): they come back
    /// `unset`.
    pub fn from_value(v: &Value) -> SValue {
        match v {
            Value::Unset => SValue::Unset,
            Value::Null => SValue::Null,
            Value::Int(n) => SValue::Int(*n),
            Value::Errno(e) => SValue::Errno(e.code()),
            Value::Bytes(b) => SValue::Bytes(b.to_vec()),
            Value::Str(s) => SValue::Str(s.to_string()),
            Value::Record(f) => SValue::Record(f.iter().map(|(k, v)| (k.to_string(), SValue::from_value(v))).collect()),
            Value::List(l) => SValue::List(l.iter().map(SValue::from_value).collect()),
            // A result token (`SIGSEGV`) travels by name; a handle (`<eventfd_ctx>`) has no
            // constant of that name and comes back unset.
            other => SValue::Token(other.to_string()),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            SValue::Unset => Value::Unset,
            SValue::Null => Value::Null,
            SValue::Int(n) => Value::Int(*n),
            SValue::Errno(c) => Errno::from_code(*c).map(Value::Errno).unwrap_or(Value::Unset),
            SValue::Bytes(b) => Value::bytes(b),
            SValue::Str(s) => Value::Str(Rc::from(s.as_str())),
            SValue::Record(f) => Value::Record(f.iter().map(|(k, v)| (intern(k), v.to_value())).collect()),
            SValue::List(l) => Value::List(l.iter().map(SValue::to_value).collect()),
            SValue::Token(name) => token(name).unwrap_or(Value::Unset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svalue_round_trips_every_kind() {
        let v = Value::List(Rc::from(vec![
            Value::Int(u64::MAX),
            Value::Errno(Errno::EAGAIN),
            Value::bytes(b"\x00ab"),
            Value::Str(Rc::from("pipe:[7]")),
            Value::Record(Rc::from(vec![("address", Value::Int(4096)), ("flags", Value::Int(1))])),
            Value::Null,
            Value::Unset,
        ]));
        let s = SValue::from_value(&v);
        let json = serde_json::to_string(&s).expect("serialize");
        let back: SValue = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back.to_value(), v);
        assert_eq!(back.to_value().to_string(), v.to_string());
    }

    #[test]
    fn host_return_values_become_results() {
        assert_eq!(ret_int(5).ok(), Some(Value::Int(5)));
        // SAFETY: close(-1) only sets errno.
        let r = unsafe { libc::close(-1) };
        assert_eq!(ret_zero(r as i64).ok(), Some(Value::Errno(Errno::EBADF)));
    }
}
