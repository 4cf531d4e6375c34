//! `ksim explore --engine loom FILE`: a scenario's actors as loom threads
//! over the same kernel code, a second explorer independent of
//! [`crate::explore`]'s schedule search.
//!
//! loom is a build, not a flag: `sim_kernel::sync` hands the kernel loom's
//! mutexes, condition variables and atomics only under `cfg(loom)`, so the
//! engine lives in a `ksim` built with `RUSTFLAGS="--cfg loom"` (in its own
//! target directory, `target/loom`): `./loom.sh explore FILE` builds and
//! runs it. In that build `ksim` has this one command; the native build
//! answers `--engine loom` with the command to use (exit 2).
//!
//! How a scenario runs under loom (`run.rs`, compiled only under
//! `cfg(loom)`): for every interleaving loom chooses, a fresh kernel; setup
//! on loom's main thread; each actor a `loom::thread` interpreting its
//! statements through the same call dispatch as the native runner
//! ([`crate::calls::dispatch`]), blocking calls sleeping on the kernel's
//! wait queues (loom's condition variables: there is no executor, so
//! `sched::in_sim()` is false); after every actor joined, `finally`, the
//! checks, and the teardown (every process exits, then nothing may be left
//! or reported). A scheduling point is every operation on a loom lock,
//! condition variable or atomic: loom preempts where the kernel's own
//! synchronisation is, with no named yield point.
//!
//! What cannot run under loom is refused before anything runs (exit 2),
//! with the reason ([`unsupported`]): more actors than loom has threads,
//! actors that may end blocked (a thread that never returns is a loom
//! deadlock), `blocked(A)` (the executor's view of a sleeping actor),
//! virtual time (`now_ns`, `sleep_ns`, a poll timeout: loom has no clock).
//!
//! Lock order: none of its own. The engine's bookkeeping of what each
//! execution saw is a std mutex outside the model, taken between two
//! kernel calls, never across one.

use crate::lang::ir::{Const, IrExpr, IrPat, Op, Program};

#[cfg(loom)]
mod run;
#[cfg(loom)]
pub use run::cli_main;

/// Actors a scenario may have under loom: loom runs at most 5 threads
/// (`loom::rt::MAX_THREADS`), and the model's main thread, which runs
/// setup, finally and the checks, is one of them.
pub const MAX_ACTORS: usize = 4;

/// What the native `ksim explore --engine loom` says (exit 2).
pub const NATIVE_BUILD: &str = "error: --engine loom needs ksim built with cfg(loom), a separate build: \
     run ./loom.sh explore FILE (it builds target/loom/test-release/ksim and runs it)";

/// Why `prog` cannot run under loom, or `None` if it can.
pub fn unsupported(prog: &Program) -> Option<String> {
    if prog.actors.len() > MAX_ACTORS {
        return Some(format!(
            "{} actors: loom runs at most {MAX_ACTORS} beside the model's main thread (its limit is 5 threads)",
            prog.actors.len()
        ));
    }
    if let Some(a) = prog.actors.iter().find(|a| a.may_block) {
        return Some(format!(
            "actor `{}` may end blocked: under loom a thread that never returns is a deadlock",
            a.name
        ));
    }
    let mut why = None;
    let sections = std::iter::once(&prog.setup).chain(prog.actors.iter().map(|a| &a.body)).chain([&prog.finally]);
    for ops in sections {
        ops_unsupported(ops, &mut why);
    }
    for c in &prog.checks {
        expr_unsupported(&c.expr, &mut why);
    }
    why
}

fn ops_unsupported(ops: &[Op], why: &mut Option<String>) {
    for op in ops {
        if why.is_some() {
            return;
        }
        match op {
            Op::Repeat { body, .. } => ops_unsupported(body, why),
            Op::Call(c) => {
                let name = crate::calls::call_sig(c.call).name;
                let line = c.span.line;
                match name {
                    "now_ns" | "sleep_ns" => {
                        *why = Some(format!("line {line}: `{}` uses virtual time, and loom has no clock", c.text));
                    }
                    // poll(FD, EVENTS, TIMEOUT_MS): 0 returns at once and a
                    // negative timeout waits for ever; a positive one is a
                    // deadline that never passes under loom.
                    "poll" if !matches!(c.args.get(2), Some(IrExpr::Const(Const::Int(t))) if *t as i32 <= 0) => {
                        *why = Some(format!(
                            "line {line}: `{}` has a timeout, and loom has no clock (a timed wait never times out)",
                            c.text
                        ));
                    }
                    _ => {}
                }
                for e in c.args.iter().chain(c.named.iter().map(|(_, e)| e)) {
                    expr_unsupported(e, why);
                }
                for p in c.pattern.iter().flatten() {
                    if let IrPat::Expr(e) = p {
                        expr_unsupported(e, why);
                    }
                }
            }
        }
    }
}

fn expr_unsupported(e: &IrExpr, why: &mut Option<String>) {
    if why.is_some() {
        return;
    }
    if let IrExpr::Blocked(_) = e {
        *why = Some("`blocked(A)` asks the executor whether an actor sleeps; loom threads all end".to_string());
        return;
    }
    let mut sub = |e: &IrExpr| expr_unsupported(e, why);
    match e {
        IrExpr::Blocked(_) => {}
        IrExpr::Const(_) | IrExpr::Slot(_) | IrExpr::ActorVar { .. } => {}
        IrExpr::Builtin { args, .. } | IrExpr::List(args) => args.iter().for_each(sub),
        IrExpr::Index(a, b, _) | IrExpr::Binary(_, a, b, _) => {
            sub(a);
            sub(b);
        }
        IrExpr::Field(a, _, _) | IrExpr::Unary(_, a, _) => sub(a),
        IrExpr::In(a, alts, _) => {
            sub(a);
            alts.iter().for_each(sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unsupported;

    fn why(body: &str) -> Option<String> {
        let src = format!("setup:\n  efd = eventfd(0, EFD_NONBLOCK)\n{body}");
        let prog = crate::lang::compile("t.scn", &src, &crate::calls::KsimCatalog).expect("compiles");
        unsupported(&prog)
    }

    fn threads(n: usize) -> String {
        (0..n).map(|i| format!("thread t{i}:\n  eventfd_write(efd, 1) => 0\n")).collect()
    }

    #[test]
    fn four_actors_run_and_five_are_refused() {
        assert_eq!(why(&threads(4)), None);
        let w = why(&threads(5)).expect("refused");
        assert!(w.starts_with("5 actors: loom runs at most 4"), "{w}");
    }

    #[test]
    fn what_loom_cannot_model_is_refused_with_the_reason() {
        let cases = [
            ("thread a (may block):\n  eventfd_read(efd)\n", "actor `a` may end blocked"),
            ("thread a:\n  x = now_ns()\n", "line 4: `now_ns()` uses virtual time"),
            ("thread a:\n  sleep_ns(5)\n", "line 4: `sleep_ns(5)` uses virtual time"),
            ("thread a:\n  poll(efd, POLLIN, 10)\n", "line 4: `poll(efd, POLLIN, 10)` has a timeout"),
            ("thread a:\n  r = read(efd, 8)\ncheck:\n  assert !blocked(a)\n", "`blocked(A)`"),
        ];
        for (body, want) in cases {
            let w = why(body).unwrap_or_default();
            assert!(w.contains(want), "{body}: `{w}` does not say `{want}`");
        }
        // A poll that returns at once, or waits for ever, needs no clock.
        assert_eq!(why("thread a:\n  poll(efd, POLLIN, 0)\n  poll(efd, POLLOUT, -1)\n"), None);
    }
}
