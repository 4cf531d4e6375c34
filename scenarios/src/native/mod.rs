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
//!   [`userfaultfd`], [`time`], [`uverbs`], [`cuse`], whose calls all skip). A call
//!   with no host form (kernel-internal calls, ksim-only calls,
//!   notification pipes on a host without CONFIG_WATCH_QUEUE) makes the
//!   scenario *skipped*, naming the call: never failed.
//! - [`host`] detects the host's features and privileges that change
//!   results (protection keys, CONFIG_WATCH_QUEUE, userfaultfd and its
//!   features, CAP_SYS_RESOURCE, RLIMIT_NOFILE) and its planner decides, for
//!   every scenario and before anything runs, whether it runs here and on
//!   which simulated machine; every skip carries its reason.
//! - [`compare`] runs a scenario both ways and diffs the results call by call,
//!   judging both sides and labelling documented divergences;
//!   [`conformance`] does it for a whole library and prints a table per
//!   subsystem.
//! - The parent kills a child that runs longer than [`CHILD_TIMEOUT`] or has
//!   more than [`CHILD_MEMORY_LIMIT`] resident.
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
pub mod cuse;
pub mod eventfd;
pub mod host;
pub mod interp;
pub mod mm;
pub mod pipe;
pub mod sys;
pub mod time;
pub mod userfaultfd;
pub mod uverbs;
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
    let tables: [&[(&str, Native)]; 9] = [
        eventfd::CALLS,
        vfs::CALLS,
        time::CALLS,
        pipe::CALLS,
        watch_queue::CALLS,
        mm::CALLS,
        userfaultfd::CALLS,
        uverbs::CALLS,
        cuse::CALLS,
    ];
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

impl NativeRun {
    /// A run that has not happened (status: an empty error).
    pub fn empty() -> NativeRun {
        NativeRun {
            status: Status::Error(String::new()),
            calls: Vec::new(),
            violations: Vec::new(),
            checks: Vec::new(),
            outcome: Vec::new(),
            blocked: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }
}

/// How long one native run may take before the child is killed.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// The most memory a native child may have resident before it is killed
/// (1 GiB: four times the simulator's per-address-space cap,
/// `sim_kernel::mm::MAX_PTES` pages, plus the interpreter). A scenario
/// that touches more is stopped and reported rather than left to push
/// the host into swap.
pub const CHILD_MEMORY_LIMIT: u64 = 1 << 30;

/// The start of the message of a run stopped by [`CHILD_MEMORY_LIMIT`].
pub const MEMORY_LIMIT_HIT: &str = "stopped by the native memory limit";

/// Resident bytes of process `pid` (/proc/PID/statm), 0 if unknown.
fn resident_bytes(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    pages * page
}

/// The `ksim` binary to re-execute: this process's own executable (tests
/// pass `CARGO_BIN_EXE_ksim` instead).
pub fn own_exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "ksim".into())
}

/// Run `path` natively in a fresh child of `exe` (a `ksim` binary), unless
/// the planner ([`host::plan`]) skips it on this host.
pub fn run_native(exe: &Path, path: &str) -> NativeRun {
    run_native_with(exe, path, CHILD_MEMORY_LIMIT)
}

/// [`run_native`] with a memory limit of `limit` resident bytes.
pub fn run_native_with(exe: &Path, path: &str, limit: u64) -> NativeRun {
    let start = Instant::now();
    let mut run = NativeRun::empty();
    // The planner, before anything runs (the child plans again, the same).
    if let Ok(prog) = crate::cli::load(path) {
        if let host::Plan::Skip(why) = host::plan(&prog, host::detected()) {
            run.status = Status::Skipped(why);
            return run;
        }
    }
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
    let mut over_memory = None;
    let mut polls = 0u32;
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
        polls += 1;
        if polls.is_multiple_of(5) {
            let rss = resident_bytes(child.id());
            if rss > limit {
                let _ = child.kill();
                over_memory = Some(rss);
                break child.wait().ok();
            }
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
                run.status =
                    Status::Skipped(if call.is_empty() { reason } else { format!("{call} (line {line}): {reason}") });
            }
            Ok(c @ Line::Call { .. }) => run.calls.push(c),
            Err(e) => {
                run.status = Status::Error(format!("unreadable output from the native child ({e}): {l}"));
                return run;
            }
        }
    }
    if let Some(rss) = over_memory {
        run.status = Status::Error(format!(
            "{MEMORY_LIMIT_HIT}: the native child had {} MiB resident, above the {} MiB limit, and was killed",
            rss >> 20,
            limit >> 20
        ));
        return run;
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
        assert!(matches!(call("ibv_create_cq", &[]), Err(NErr::Skip(w)) if w.contains("ksim-only")));
        assert!(matches!(call("no_such_call", &[]), Err(NErr::Skip(w)) if w.contains("no native implementation")));
    }
}
