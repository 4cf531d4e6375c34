//! ksim's clock calls on the host: `now_ns()` is CLOCK_MONOTONIC since the
//! native run started (the simulator's is virtual time from 0, so `ksim
//! compare` does not diff its results), `sleep_ns(NS)` is nanosleep(2).

use super::sys::int;
use super::{NErr, Native};
use crate::value::Value;

pub const CALLS: &[(&str, Native)] = &[("now_ns", Native::Run(now_ns)), ("sleep_ns", Native::Run(sleep_ns))];

/// CLOCK_MONOTONIC in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn now_ns(_: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    Ok(Value::Int(monotonic_ns().saturating_sub(super::child::host().start_ns)))
}

fn sleep_ns(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    std::thread::sleep(std::time::Duration::from_nanos(int("sleep_ns", a, 0)?));
    Ok(Value::Int(0))
}
