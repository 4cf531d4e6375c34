//! Native pipe calls (`fs/pipe.c` on the host): `pipe()` and
//! `pipe2(FLAGS)` return the pair `[read fd, write fd]`; `sigcount(SIG)` is
//! the number of times the process got SIG (the child counts SIGPIPE with a
//! handler that returns, so a write with no reader still returns EPIPE, as
//! if the signal were ignored: see [`super::child`]).

use super::sys::{errno_value, int, int_or, last_errno};
use super::{NErr, Native};
use crate::value::Value;
use std::rc::Rc;

pub const CALLS: &[(&str, Native)] =
    &[("pipe", Native::Run(pipe)), ("pipe2", Native::Run(pipe2)), ("sigcount", Native::Run(sigcount))];

fn pipe(_: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    do_pipe2(0)
}

fn pipe2(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    do_pipe2(int_or("pipe2", a, 0, 0)? as u32)
}

fn do_pipe2(flags: u32) -> Result<Value, NErr> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds has room for two ints.
    let r = unsafe { libc::syscall(libc::SYS_pipe2, fds.as_mut_ptr(), flags) };
    if r < 0 {
        let e = last_errno();
        if e == libc::ENOPKG && flags & sim_kernel::abi::O_NOTIFICATION_PIPE != 0 {
            return Err(NErr::Skip(super::host::NO_WATCH_QUEUE.into()));
        }
        return errno_value(e);
    }
    Ok(Value::List(Rc::from(vec![Value::Int(fds[0] as u64), Value::Int(fds[1] as u64)])))
}

fn sigcount(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let sig = int("sigcount", a, 0)?;
    if sig != libc::SIGPIPE as u64 {
        return Err(NErr::Skip(format!("sigcount of signal {sig}: the native child counts only SIGPIPE")));
    }
    Ok(Value::Int(super::child::sigpipe_count()))
}
