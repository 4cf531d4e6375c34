//! Native eventfd calls (`fs/eventfd.c` on the host): `eventfd(INITVAL[,
//! FLAGS])` is eventfd2(2); `eventfd_read`/`eventfd_write` are glibc's
//! (an 8-byte read or write of the counter). The kernel-internal calls
//! (`eventfd_signal`, `eventfd_ctx_fdget`, ...) have no host form and skip.

use super::sys::{fd, int, int_or, ret, ret_int};
use super::{NErr, Native};
use crate::value::Value;

pub const CALLS: &[(&str, Native)] = &[
    ("eventfd", Native::Run(eventfd)),
    ("eventfd_read", Native::Run(eventfd_read)),
    ("eventfd_write", Native::Run(eventfd_write)),
];

fn eventfd(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let init = int("eventfd", a, 0)? as u32;
    let flags = int_or("eventfd", a, 1, 0)? as u32 as libc::c_int;
    // SAFETY: eventfd2 takes two integers.
    ret_int(unsafe { libc::syscall(libc::SYS_eventfd2, init, flags) })
}

fn eventfd_read(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("eventfd_read", a, 0)?;
    let mut v = [0u8; 8];
    // SAFETY: v is 8 writable bytes.
    let r = unsafe { libc::read(f, v.as_mut_ptr().cast(), 8) };
    ret(r as i64, |_| Value::Int(u64::from_le_bytes(v)))
}

fn eventfd_write(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("eventfd_write", a, 0)?;
    let v = int("eventfd_write", a, 1)?.to_le_bytes();
    // SAFETY: v is 8 readable bytes.
    let r = unsafe { libc::write(f, v.as_ptr().cast(), 8) };
    ret(r as i64, |_| Value::Int(0))
}
