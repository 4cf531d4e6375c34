//! The limits that end a run of `ksim` with a report rather than a hang, a
//! crash or an exhausted machine (book: exploration.md, "Limits"):
//!
//! - how many calls one execution may make (`--max-steps N`, `config
//!   max_steps=N`, default [`DEFAULT_MAX_STEPS`]): past it the execution
//!   ends with a `step limit` violation;
//! - a wall-clock deadline (`--time-limit SECONDS`), checked between
//!   executions and, every [`POLL_CALLS`] calls, inside one;
//! - SIGINT and SIGTERM during `ksim explore`: [`install_signal_handlers`]
//!   turns them into a flag the search polls at the same places, so the
//!   search returns and prints its partial report;
//! - the ranges of the numeric arguments ([`MAX_JOBS`], [`MAX_DEPTH`],
//!   [`MAX_TIME_LIMIT_S`]), checked by the argument parser.
//!
//! Nothing here is on the per-call path but one counter compare: the
//! runner checks the clock and the flag only when its call count reaches
//! the next poll.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Calls one execution may make unless `--max-steps` or `config
/// max_steps=` says otherwise: a hundred times the most any shipped
/// scenario makes (1,009). `ksim run` makes that many in a few
/// milliseconds; an exploration keeps, for the execution it is in, up to
/// about 1.4 KB a step when two actors interleave (the search's stack of
/// decisions, the steps' footprints and clocks), so this bounds one
/// search thread's per-execution records to about 140 MB.
pub const DEFAULT_MAX_STEPS: u64 = 100_000;

/// Calls between two looks at the clock and the interrupt flag inside an
/// execution.
pub const POLL_CALLS: u64 = 4096;

/// The most threads `--jobs` starts (each one a search with its own
/// buffers; more than the machine's cores only adds overhead).
pub const MAX_JOBS: u32 = 256;

/// The deepest bug `--pct --depth` targets. Races need 1 to 3; each level
/// is one more change point per execution and multiplies the bound's
/// denominator by the number of steps.
pub const MAX_DEPTH: u32 = 64;

/// The longest `--time-limit`, in seconds (about 31 years).
pub const MAX_TIME_LIMIT_S: f64 = 1e9;

/// Parse `--time-limit SECONDS`: a finite number of seconds, above zero
/// and at most [`MAX_TIME_LIMIT_S`] (so `inf`, `nan` and `1e100` are
/// refused rather than overflowing a `Duration`).
pub fn parse_time_limit(s: &str) -> Result<f64, String> {
    let x: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !x.is_finite() || x <= 0.0 || x > MAX_TIME_LIMIT_S {
        return Err(format!("must be a number of seconds above 0 and at most {MAX_TIME_LIMIT_S:e}, got `{s}`"));
    }
    Ok(x)
}

/// Parse a count that must be at least 1 (`--max-steps`,
/// `--max-executions`, `--random`, `--pct`).
pub fn parse_count(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number from 1 to {}", u64::MAX)),
    }
}

/// Set by SIGINT or SIGTERM once [`install_signal_handlers`] ran.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The signal that set [`INTERRUPTED`].
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Whether a SIGINT or SIGTERM asked the search to stop.
#[inline]
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The name of the signal that interrupted the search, if one did.
pub fn interrupt_signal() -> Option<&'static str> {
    match SIGNAL.load(Ordering::Relaxed) {
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ if interrupted() => Some("a signal"),
        _ => None,
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: two atomic stores.
    SIGNAL.store(sig, Ordering::Relaxed);
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Catch SIGINT and SIGTERM: the first sets the flag the search polls
/// (the handler then resets to the default, so a second one kills the
/// process as usual).
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to
        // atomics; sigaction is called with valid pointers.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_out_of_range_are_refused() {
        for bad in ["inf", "-inf", "nan", "1e100", "0", "-1", "", "ten", "1e9.5"] {
            assert!(parse_time_limit(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_time_limit("1.5"), Ok(1.5));
        assert!(parse_count("0").is_err() && parse_count("-1").is_err() && parse_count("1e3").is_err());
        assert_eq!(parse_count("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_time_limit("1e9"), Ok(1e9));
        // Every accepted value fits a Duration.
        let _ = std::time::Duration::from_secs_f64(parse_time_limit("1e9").unwrap());
    }
}
