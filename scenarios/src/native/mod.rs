//! The host kernel as an oracle (issue 6): a scenario's calls made against
//! the Linux kernel ksim runs on, through real system calls.
//!
//! - [`run_native`] re-executes the `ksim` binary as `ksim __native-child
//!   FILE` ([`child`]): a fresh process that closes every fd but 0, 1 and 2
//!   before the scenario starts, so fd numbers, RLIMIT_NOFILE and `exec()`
//!   behave as written. The child interprets the scenario ([`interp`]):
//!   `setup`, the actors and `finally` each on real OS threads, `check` with
//!   the same evaluator as the simulator ([`crate::eval`]). It streams one
//!   JSON line per call and a final line to stdout ([`Line`]); the parent
//!   kills it after a timeout.
//! - Calls are mapped to host implementations by their catalog name
//!   ([`lookup`]), once per call before the scenario runs, from one table per
//!   subsystem ([`eventfd`], [`vfs`], [`pipe`], [`watch_queue`], [`mm`],
//!   [`userfaultfd`], [`time`]). A call with no host form (kernel-internal
//!   calls, ksim-only calls, notification pipes on a host without
//!   CONFIG_WATCH_QUEUE) makes the scenario *skipped*, naming the call: never
//!   failed.
//! - [`compare`] runs a scenario both ways and diffs the results call by call;
//!   [`conformance`] does it for a whole library and prints a table per
//!   subsystem.
//!
//! The native runner runs on real OS threads, outside the simulated world,
//! so it uses std's locks (the kernel's `sim_kernel::sync` is for simulated
//! code).
//!
//! Hooking a new call in: add one entry `("NAME", Native::Run(f))` (or
//! `Native::Skip("why")` for a call the host cannot make) to the `CALLS` table
//! of the subsystem's file here, where `f: NativeFn` takes the evaluated
//! positional and named arguments as the simulator's dispatch does and returns
//! the result as the simulator renders it (an errno as `Value::Errno`).

pub mod child;
pub mod compare;
pub mod conformance;
pub mod eventfd;
pub mod interp;
pub mod mm;
pub mod pipe;
pub mod sys;
pub mod time;
pub mod userfaultfd;
pub mod vfs;
pub mod watch_queue;

use crate::lang::catalog::{CallCtx, CallSig};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a native call did not produce a result.
#[derive(Debug)]
pub enum NErr {
    /// An argument of the wrong kind: the execution fails (as in the
    /// simulator's dispatch).
    Arg(String),
    /// The host cannot make this call: the scenario is skipped.
    Skip(String),
    /// `exec()`: the interpreter re-executes the child (see [`interp`]).
    Exec,
}

/// A host implementation of a call: positional and named arguments, as the
/// simulator's `calls::dispatch` receives them.
pub type NativeFn = fn(&[Value], &[(String, Value)]) -> Result<Value, NErr>;

/// How a catalog call runs natively.
#[derive(Clone, Copy)]
pub enum Native {
    Run(NativeFn),
    /// The host cannot make it: why (for the skip report).
    Skip(&'static str),
}

/// The native form of the catalog call `sig`, by its name: kernel-internal
/// calls are skipped, then each subsystem's table is searched.
pub fn lookup(sig: &CallSig) -> Native {
    if sig.ctx == CallCtx::Kernel {
        return Native::Skip("a kernel-internal call: the host has no system call for it");
    }
    table_entry(sig.name).unwrap_or(Native::Skip("no native implementation (a ksim-only call?)"))
}

/// The entry a subsystem's table has for the call `name`, if any.
pub fn table_entry(name: &str) -> Option<Native> {
    let tables: [&[(&str, Native)]; 7] =
        [eventfd::CALLS, vfs::CALLS, time::CALLS, pipe::CALLS, watch_queue::CALLS, mm::CALLS, userfaultfd::CALLS];
    tables.iter().find_map(|t| t.iter().find(|(n, _)| *n == name).map(|(_, x)| *x))
}

/// One line of the child's output.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Line {
    /// A call returned (or, for an actor, was the last one made).
    Call { actor: String, line: u32, call: String, text: String, result: String },
    /// The scenario cannot run natively.
    Skip { call: String, line: u32, reason: String },
    /// The execution ended.
    End {
        violations: Vec<NViolation>,
        checks: Vec<NCheck>,
        outcome: Vec<(String, String)>,
        /// Actors still blocked at the end.
        blocked: Vec<String>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NViolation {
    /// As [`crate::runner::ViolationKind::name`].
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NCheck {
    /// `assert`, `never` or `exists`.
    pub kind: String,
    pub text: String,
    pub line: u32,
    /// `Ok(truth)` or why it could not be evaluated.
    pub value: Result<bool, String>,
}

/// How a native run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every expectation held.
    Passed,
    /// An expectation was violated (the violations are in [`NativeRun`]).
    Failed,
    /// The host cannot run it: `call (line N): why`.
    Skipped(String),
    /// The child crashed, timed out or printed something unreadable.
    Error(String),
}

/// Everything a native run produced.
#[derive(Clone, Debug)]
pub struct NativeRun {
    pub status: Status,
    pub calls: Vec<Line>,
    pub violations: Vec<NViolation>,
    pub checks: Vec<NCheck>,
    pub outcome: Vec<(String, String)>,
    pub blocked: Vec<String>,
    pub elapsed: Duration,
}

/// How long one native run may take before the child is killed.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// The `ksim` binary to re-execute: this process's own executable (tests
/// pass `CARGO_BIN_EXE_ksim` instead).
pub fn own_exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "ksim".into())
}

/// Run `path` natively in a fresh child of `exe` (a `ksim` binary).
pub fn run_native(exe: &Path, path: &str) -> NativeRun {
    let start = Instant::now();
    let mut run = NativeRun {
        status: Status::Error(String::new()),
        calls: Vec::new(),
        violations: Vec::new(),
        checks: Vec::new(),
        outcome: Vec::new(),
        blocked: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let child = Command::new(exe)
        .arg("__native-child")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            run.status = Status::Error(format!("cannot start {}: {e}", exe.display()));
            return run;
        }
    };
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(_) => break None,
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            timed_out = true;
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    run.elapsed = start.elapsed();
    let mut ended = false;
    for l in String::from_utf8_lossy(&out).lines() {
        match serde_json::from_str::<Line>(l) {
            Ok(Line::End { violations, checks, outcome, blocked }) => {
                ended = true;
                run.status = if violations.is_empty() { Status::Passed } else { Status::Failed };
                run.violations = violations;
                run.checks = checks;
                run.outcome = outcome;
                run.blocked = blocked;
            }
            Ok(Line::Skip { call, line, reason }) => {
                ended = true;
                run.status = Status::Skipped(format!("{call} (line {line}): {reason}"));
            }
            Ok(c @ Line::Call { .. }) => run.calls.push(c),
            Err(e) => {
                run.status = Status::Error(format!("unreadable output from the native child ({e}): {l}"));
                return run;
            }
        }
    }
    if !ended {
        let how = if timed_out {
            format!("killed after {} s", CHILD_TIMEOUT.as_secs())
        } else {
            match status {
                Some(st) => format!("the native child exited with {st} before the end"),
                None => "the native child could not be waited for".to_string(),
            }
        };
        run.status = Status::Error(format!(
            "{how}{}",
            if err.trim().is_empty() { String::new() } else { format!(": {}", err.trim()) }
        ));
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_kernel::Errno;

    /// Make a call through the native tables, as the child does.
    fn call(name: &'static str, a: &[Value]) -> Result<Value, NErr> {
        let sig = CallSig {
            name,
            ctx: CallCtx::User,
            min: 0,
            max: 9,
            named: crate::lang::catalog::Named::Any,
            ret: crate::lang::catalog::Ret::One,
            usage: "",
        };
        match lookup(&sig) {
            Native::Run(f) => f(a, &[]),
            Native::Skip(why) => Err(NErr::Skip(why.into())),
        }
    }

    fn ok(name: &'static str, a: &[Value]) -> Value {
        call(name, a).unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    fn i(n: u64) -> Value {
        Value::Int(n)
    }

    /// Every syscall of the catalog is named in a native table (to run, or
    /// to skip with a reason); kernel-internal calls always skip.
    #[test]
    fn every_catalog_call_resolves_by_name() {
        for sig in crate::calls::CALLS {
            match sig.ctx {
                CallCtx::Kernel => {
                    assert!(matches!(lookup(sig), Native::Skip(_)), "{} is kernel-internal", sig.name)
                }
                _ => assert!(
                    table_entry(sig.name).is_some(),
                    "{} has no native entry: add it to a CALLS table in scenarios/src/native/ \
                     (Native::Run, or Native::Skip with the reason)",
                    sig.name
                ),
            }
        }
    }

    /// The pipe issue's calls on the host: pipe2 gives a pair, the ring is
    /// 16 pages, FIONREAD counts, a write with no reader is EPIPE and one
    /// SIGPIPE (counted, not fatal).
    #[test]
    fn pipes_on_the_host() {
        child::install_handlers();
        let pair = ok("pipe2", &[i(libc::O_NONBLOCK as u64)]);
        let (r, w) = match &pair {
            Value::List(l) if l.len() == 2 => (l[0].clone(), l[1].clone()),
            v => panic!("pipe2 gave {v}"),
        };
        assert_eq!(ok("fcntl", &[w.clone(), i(sim_kernel::abi::F_GETPIPE_SZ as u64)]), i(65536));
        assert_eq!(ok("write", &[w.clone(), Value::bytes(b"hello")]), i(5));
        assert_eq!(ok("ioctl", &[r.clone(), i(sim_kernel::abi::FIONREAD as u64)]), i(5));
        assert_eq!(ok("read", &[r.clone(), i(3)]), Value::bytes(b"hel"));
        assert_eq!(ok("lseek", &[r.clone(), i(0), i(0)]), Value::Errno(Errno::ESPIPE));
        assert_eq!(ok("read", &[w.clone(), i(1)]), Value::Errno(Errno::EBADF));
        assert_eq!(ok("close", &[r]), i(0));
        let before = match ok("sigcount", &[i(libc::SIGPIPE as u64)]) {
            Value::Int(n) => n,
            v => panic!("sigcount gave {v}"),
        };
        assert_eq!(ok("write", &[w.clone(), Value::bytes(b"x")]), Value::Errno(Errno::EPIPE));
        assert_eq!(ok("sigcount", &[i(libc::SIGPIPE as u64)]), i(before + 1));
        assert_eq!(ok("close", &[w]), i(0));
        assert_eq!(ok("pipe2", &[i(0x1)]), Value::Errno(Errno::EINVAL));
        match call("pipe2", &[i(sim_kernel::abi::O_NOTIFICATION_PIPE as u64)]) {
            Ok(Value::List(l)) => {
                assert!(child::host().watch_queue);
                for fd in l.iter() {
                    ok("close", std::slice::from_ref(fd));
                }
            }
            Err(NErr::Skip(why)) => {
                assert!(!child::host().watch_queue);
                assert!(why.contains("CONFIG_WATCH_QUEUE"), "{why}");
            }
            r => panic!("pipe2(O_NOTIFICATION_PIPE): {r:?}"),
        }
    }

    #[test]
    fn ksim_only_and_unknown_calls_skip() {
        assert!(matches!(call("watch_add", &[]), Err(NErr::Skip(w)) if w.contains("ksim-only")));
        assert!(matches!(call("ibv_create_cq", &[]), Err(NErr::Skip(w)) if w.contains("no native implementation")));
    }
}
