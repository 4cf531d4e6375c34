//! Front-end tests: the contract's first example, one test per diagnostic,
//! and a no-panic fuzz test.

use super::ast::{BinOp, CheckKind};
use super::catalog::{BuiltinId, BuiltinSig, CallCtx, CallId, CallSig, Catalog, Named, Ret};
use super::ir::{ActorKindIr, Const, IrBind, IrExpr, IrPat, Op, Program, Slot};
use super::{compile, diag, parser, resolve};
use sim_kernel::errno::Errno;

const fn sig(
    name: &'static str,
    ctx: CallCtx,
    min: u8,
    max: u8,
    named: Named,
    ret: Ret,
    usage: &'static str,
) -> CallSig {
    CallSig { name, ctx, min, max, named, ret, usage }
}

const CALLS: &[CallSig] = &[
    sig("eventfd", CallCtx::User, 1, 2, Named::None, Ret::One, "eventfd(INITVAL[, FLAGS])"),
    sig("eventfd_read", CallCtx::User, 1, 1, Named::None, Ret::One, "eventfd_read(FD)"),
    sig("eventfd_write", CallCtx::User, 2, 2, Named::None, Ret::One, "eventfd_write(FD, VALUE)"),
    sig("close", CallCtx::User, 1, 1, Named::None, Ret::One, "close(FD)"),
    sig("write", CallCtx::User, 2, 2, Named::None, Ret::One, "write(FD, BYTES)"),
    sig("read", CallCtx::User, 2, 2, Named::None, Ret::One, "read(FD, COUNT)"),
    sig("poll", CallCtx::User, 2, 2, Named::None, Ret::One, "poll(FD, EVENTS)"),
    sig("pipe2", CallCtx::User, 0, 1, Named::None, Ret::Pair, "pipe2([FLAGS])"),
    sig("ioctl", CallCtx::User, 2, 3, Named::Any, Ret::One, "ioctl(FD, CMD[, ARG], FIELD=VALUE...)"),
    sig("mmap", CallCtx::User, 0, 0, Named::Only(&["start", "len", "prot"]), Ret::One, "mmap(start=, len=, prot=)"),
    sig("eventfd_ctx_fdget", CallCtx::Kernel, 1, 1, Named::None, Ret::One, "eventfd_ctx_fdget(FD)"),
    sig("eventfd_signal", CallCtx::Kernel, 2, 2, Named::None, Ret::One, "eventfd_signal(CTX, N)"),
    sig("eventfd_ctx_put", CallCtx::Kernel, 1, 1, Named::None, Ret::One, "eventfd_ctx_put(CTX)"),
    sig("now_ns", CallCtx::Any, 0, 0, Named::None, Ret::One, "now_ns()"),
];

const BUILTINS: &[BuiltinSig] = &[
    BuiltinSig { name: "u16", min: 1, max: 1, usage: "u16(N)" },
    BuiltinSig { name: "u32", min: 1, max: 1, usage: "u32(N)" },
    BuiltinSig { name: "u64", min: 1, max: 1, usage: "u64(N)" },
    BuiltinSig { name: "cat", min: 1, max: u8::MAX, usage: "cat(B1, B2, ...)" },
    BuiltinSig { name: "fill", min: 2, max: 2, usage: "fill(LEN, BYTE)" },
    BuiltinSig { name: "len", min: 1, max: 1, usage: "len(X)" },
];

const CONSTS: &[(&str, u64)] = &[
    ("EFD_NONBLOCK", 0o4000),
    ("EFD_CLOEXEC", 0o2000000),
    ("EFD_SEMAPHORE", 1),
    ("POLLIN", 1),
    ("POLLOUT", 4),
    ("PAGE_SIZE", 4096),
    ("O_NONBLOCK", 0o4000),
];

const BUGS: &[&str] = &["eventfd_close_race", "pipe_wakeup_lost"];

struct TestCat;

impl Catalog for TestCat {
    fn call(&self, name: &str) -> Option<(CallId, &CallSig)> {
        CALLS.iter().enumerate().find(|(_, s)| s.name == name).map(|(i, s)| (i as CallId, s))
    }
    fn builtin(&self, name: &str) -> Option<(BuiltinId, &BuiltinSig)> {
        BUILTINS.iter().enumerate().find(|(_, s)| s.name == name).map(|(i, s)| (i as BuiltinId, s))
    }
    fn constant(&self, name: &str) -> Option<Const> {
        if let Some(e) = Errno::from_name(name) {
            return Some(Const::Errno(e));
        }
        CONSTS.iter().find(|(n, _)| *n == name).map(|(_, v)| Const::Int(*v))
    }
    fn is_bug(&self, name: &str) -> bool {
        BUGS.contains(&name)
    }
    fn call_names(&self) -> Vec<&'static str> {
        CALLS.iter().map(|s| s.name).collect()
    }
    fn constant_names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = CONSTS.iter().map(|(n, _)| *n).collect();
        v.extend(Errno::ALL.iter().map(|e| e.name()));
        v
    }
    fn bug_names(&self) -> Vec<&'static str> {
        BUGS.to_vec()
    }
}

const EXAMPLE: &str = r#"# eventfd: a kernel thread signals while userspace closes the fd
scenario "eventfd close vs signal"

setup:
  efd = eventfd(0, 0)
  ctx = eventfd_ctx_fdget(efd)

thread reader:
  r = eventfd_read(efd)          # blocks until the counter is non-zero

thread closer:
  close(efd) => 0

kthread signaller:
  eventfd_signal(ctx, 1) => 1
  eventfd_ctx_put(ctx)

check:
  assert reader.r in {1, EBADF}   # EBADF when the close came first
  exists reader.r == 1             # a blocked read keeps its file: close does not wake it
  exists reader.r == EBADF
"#;

fn ok(src: &str) -> Program {
    match compile("t.scn", src, &TestCat) {
        Ok(p) => p,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn err(src: &str) -> String {
    match compile("t.scn", src, &TestCat) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e,
    }
}

/// Asserts that compiling `src` reports an error at `line:col` whose
/// rendering contains every one of `phrases`.
#[track_caller]
fn expect_err(src: &str, line: u32, col: u32, phrases: &[&str]) {
    let out = err(src);
    let loc = format!("t.scn:{line}:{col}\n");
    let block =
        out.split("\n\n").find(|b| b.contains(&loc)).unwrap_or_else(|| panic!("no error at {line}:{col} in:\n{out}"));
    for p in phrases {
        assert!(block.contains(p), "error at {line}:{col} lacks {p:?}:\n{out}");
    }
}

fn calls(ops: &[Op]) -> Vec<&super::ir::CallOp> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Call(c) => out.push(c),
            Op::Repeat { body, .. } => out.extend(calls(body)),
        }
    }
    out
}

// ---- the contract's example ------------------------------------------------

#[test]
fn first_example_resolves() {
    let p = ok(EXAMPLE);
    assert_eq!(p.title.as_deref(), Some("eventfd close vs signal"));
    assert_eq!(p.processes, vec!["main".to_string()]);
    assert_eq!(p.globals, vec!["efd".to_string(), "ctx".to_string()]);

    let setup = calls(&p.setup);
    assert_eq!(setup.len(), 2);
    assert_eq!(setup[0].call, 0);
    assert!(matches!(setup[0].bind, IrBind::One(Slot::Global(0))));
    assert!(matches!(setup[0].args[..], [IrExpr::Const(Const::Int(0)), IrExpr::Const(Const::Int(0))]));
    assert_eq!(setup[0].text, "eventfd(0, 0)");
    assert!(matches!(setup[1].bind, IrBind::One(Slot::Global(1))));
    assert!(matches!(setup[1].args[..], [IrExpr::Slot(Slot::Global(0))]));
    assert_eq!(setup[1].span.line, 6);

    assert_eq!(p.actors.len(), 3);
    let names: Vec<&str> = p.actors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["reader", "closer", "signaller"]);
    assert_eq!(p.actors[0].kind, ActorKindIr::Thread);
    assert_eq!(p.actors[2].kind, ActorKindIr::Kthread);
    assert_eq!(p.actors[0].locals, vec!["r".to_string()]);
    assert!(p.actors[1].locals.is_empty());
    assert!(!p.actors[0].may_block);

    let reader = calls(&p.actors[0].body);
    assert!(matches!(reader[0].bind, IrBind::One(Slot::Local(0))));
    assert_eq!(reader[0].text, "eventfd_read(efd)");
    assert!(reader[0].pattern.is_none());

    let closer = calls(&p.actors[1].body);
    assert!(matches!(closer[0].bind, IrBind::None));
    assert_eq!(closer[0].pattern_text.as_deref(), Some("0"));
    assert!(matches!(closer[0].pattern.as_deref(), Some([IrPat::Expr(IrExpr::Const(Const::Int(0)))])));

    let sig = calls(&p.actors[2].body);
    assert_eq!(sig.len(), 2);
    assert_eq!(sig[0].text, "eventfd_signal(ctx, 1)");
    assert!(matches!(sig[0].args[..], [IrExpr::Slot(Slot::Global(1)), IrExpr::Const(Const::Int(1))]));

    assert_eq!(p.checks.len(), 3);
    let kinds: Vec<CheckKind> = p.checks.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [CheckKind::Assert, CheckKind::Exists, CheckKind::Exists]);
    assert_eq!(p.checks[0].text, "reader.r in {1, EBADF}");
    assert_eq!(p.checks[1].text, "reader.r == 1");
    match &p.checks[0].expr {
        IrExpr::In(x, set, _) => {
            assert!(matches!(**x, IrExpr::ActorVar { actor: 0, slot: 0 }));
            assert!(matches!(set[..], [IrExpr::Const(Const::Int(1)), IrExpr::Const(Const::Errno(Errno::EBADF))]));
        }
        other => panic!("{other:?}"),
    }
    match &p.checks[2].expr {
        IrExpr::Binary(BinOp::Eq, a, b, _) => {
            assert!(matches!(**a, IrExpr::ActorVar { actor: 0, slot: 0 }));
            assert!(matches!(**b, IrExpr::Const(Const::Errno(Errno::EBADF))));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn resolve_without_source_rebuilds_text() {
    let f = parser::parse(EXAMPLE).unwrap();
    let p = resolve::resolve(&f, &TestCat).unwrap();
    assert_eq!(calls(&p.setup)[0].text, "eventfd(0, 0)");
    assert_eq!(calls(&p.actors[1].body)[0].pattern_text.as_deref(), Some("0"));
}

#[test]
fn full_language() {
    let src = r#"scenario "all of it"
config seed=7 preemptions=2
config max_executions=1_000 bug=eventfd_close_race bug=eventfd_close_race
process other

setup:
  (rfd, wfd) = pipe2(O_NONBLOCK)
  efd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC)

thread w in other (may block):
  n = write(wfd, b"\x01ab") => 3 or EAGAIN
  repeat 3:
    x = eventfd_read(efd) => u64(5) or -1 or _
    repeat 0:
      poll(efd, POLLIN|POLLOUT) => POLLIN|POLLOUT
  y = ioctl(efd, 0x1000, start=x, len=2*PAGE_SIZE) => ok
  m = mmap(start=NULL, len=fill(3, 0)[0], prot=[1, 2])
  x = now_ns()

kthread k (may block):
  eventfd_signal(eventfd_h, 1)
  now_ns()

finally:
  z = eventfd(w.x)
  close(rfd)

check:
  assert w.n in {3, EAGAIN} || !(w.y == unset) && blocked(k)
  never len(cat(b"a", "b")) != 2 # comment
  exists z.field[1] >= 0x_ff - -1
"#;
    // `eventfd_h` is unknown: fix it and check the rest resolves.
    let e = err(src);
    assert!(e.contains("unknown name `eventfd_h`"), "{e}");
    let p = ok(&src.replace("eventfd_h", "efd"));
    assert_eq!(p.config.seed, Some(7));
    assert_eq!(p.config.preemptions, Some(2));
    assert_eq!(p.config.max_executions, Some(1000));
    assert_eq!(p.config.bugs, vec!["eventfd_close_race".to_string()]);
    assert_eq!(p.processes, vec!["main".to_string(), "other".to_string()]);
    assert_eq!(p.globals, vec!["rfd", "wfd", "efd", "z"]);
    let w = &p.actors[0];
    assert_eq!(w.process, 1);
    assert!(w.may_block);
    assert!(p.actors[1].may_block);
    assert_eq!(w.locals, vec!["n", "x", "y", "m"]);
    assert!(matches!(calls(&p.setup)[0].bind, IrBind::Pair(Slot::Global(0), Slot::Global(1))));
    let body = &w.body;
    assert!(matches!(body[1], Op::Repeat { count: 3, .. }));
    let cs = calls(body);
    assert_eq!(cs[0].pattern_text.as_deref(), Some("3 or EAGAIN"));
    assert!(matches!(&cs[0].args[1], IrExpr::Const(Const::Bytes(b)) if b == b"\x01ab"));
    let pat = cs[1].pattern.as_ref().unwrap();
    assert!(matches!(pat[1], IrPat::Expr(IrExpr::Const(Const::Int(u64::MAX)))));
    assert!(matches!(pat[2], IrPat::Any));
    assert!(matches!(pat[0], IrPat::Expr(IrExpr::Builtin { id: 2, .. })));
    assert_eq!(cs[3].named.len(), 2);
    assert!(matches!(cs[3].pattern.as_deref(), Some([IrPat::Ok])));
    // The last `x =` reuses slot 1.
    assert!(matches!(cs[5].bind, IrBind::One(Slot::Local(1))));
    let fin = calls(&p.finally);
    assert!(matches!(fin[0].bind, IrBind::One(Slot::Global(3))));
    assert!(matches!(fin[0].args[..], [IrExpr::ActorVar { actor: 0, slot: 1 }]));
    assert_eq!(p.checks[1].text, "len(cat(b\"a\", \"b\")) != 2");
    match &p.checks[0].expr {
        IrExpr::Binary(BinOp::Or, _, rhs, _) => match &**rhs {
            IrExpr::Binary(BinOp::And, _, b, _) => assert!(matches!(**b, IrExpr::Blocked(1))),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    match &p.checks[2].expr {
        IrExpr::Binary(BinOp::Ge, a, b, _) => {
            assert!(matches!(&**a, IrExpr::Index(f, _, _) if matches!(&**f, IrExpr::Field(_, n, _) if n == "field")));
            assert!(matches!(&**b, IrExpr::Binary(BinOp::Sub, _, _, _)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bitor_binds_tighter_than_comparison() {
    let p = ok("setup:\n  x = eventfd(0)\ncheck:\n  assert x == POLLIN|POLLOUT\n");
    match &p.checks[0].expr {
        IrExpr::Binary(BinOp::Eq, _, r, _) => {
            assert!(matches!(**r, IrExpr::Binary(BinOp::BitOr, _, _, _)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn locals_are_textual_and_repeat_bodies_count() {
    let p = ok("thread t:\n  repeat 2:\n    a = eventfd(0)\n  close(a)\n  b = eventfd(0)\n  a = eventfd(0)\n");
    assert_eq!(p.actors[0].locals, vec!["a", "b"]);
    // Own binding not visible in own arguments.
    expect_err("thread t:\n  a = eventfd(a)\n", 2, 15, &["unknown name `a`"]);
    // Locals of another actor are not visible.
    expect_err("thread t:\n  a = eventfd(0)\nthread u:\n  close(a)\n", 4, 9, &["unknown name `a`"]);
}

// ---- rendering ---------------------------------------------------------------

#[test]
fn render_format() {
    let src = "setup:\n  efd = evntfd(0, 0)\n";
    let e = err(src);
    assert_eq!(
        e,
        "error: unknown call `evntfd`\n --> t.scn:2:9\n  |\n2 |   efd = evntfd(0, 0)\n  |         ^^^^^^ expected a call name; did you mean `eventfd`?\n"
    );
}

#[test]
fn render_help_line_and_wide_gutter() {
    let mut src = String::new();
    for _ in 0..9 {
        src.push_str("# pad\n");
    }
    src.push_str("config bug=nope\n");
    let e = err(&src);
    assert!(e.contains(" --> t.scn:10:12\n"), "{e}");
    assert!(e.contains("10 | config bug=nope\n   |            ^^^^ expected a bug name: "), "{e}");
    assert!(e.contains("   = help: "), "{e}");
}

#[test]
fn errors_in_source_order_each_once() {
    let src = "setup:\n  a = nope1()\n  b = nope2()\ncheck:\n  assert zz\n";
    let e = err(src);
    let i1 = e.find("nope1").unwrap();
    let i2 = e.find("nope2").unwrap();
    let i3 = e.find("`zz`").unwrap();
    assert!(i1 < i2 && i2 < i3, "{e}");
    assert_eq!(e.matches("error:").count(), 3, "{e}");
    // Parse errors on several lines are all reported.
    let e = err("setup:\n  a = eventfd(0\n  b = eventfd(0,,)\n  close(1)\n");
    assert_eq!(e.matches("error:").count(), 2, "{e}");
}

// ---- lexical errors ------------------------------------------------------------

#[test]
fn tab_in_indentation() {
    expect_err("setup:\n\tclose(1)\n", 2, 1, &["tab in indentation", "expected spaces"]);
}

#[test]
fn unterminated_string() {
    expect_err("setup:\n  write(1, \"abc)\n", 2, 12, &["unterminated string", "closing"]);
}

#[test]
fn bad_escape() {
    expect_err("setup:\n  write(1, b\"a\\q\")\n", 2, 15, &["unknown escape `\\q`"]);
    expect_err("setup:\n  write(1, \"\\xff\")\n", 2, 13, &["not ASCII", "byte string"]);
}

#[test]
fn integer_too_large() {
    ok("setup:\n  x = eventfd(0xffff_ffff_ffff_ffff)\n  y = eventfd(18446744073709551615)\n");
    expect_err("setup:\n  x = eventfd(0x1_0000_0000_0000_0000)\n", 2, 15, &["does not fit in 64 bits"]);
    expect_err("setup:\n  x = eventfd(18446744073709551616)\n", 2, 15, &["does not fit in 64 bits"]);
    expect_err("setup:\n  x = eventfd(12ab)\n", 2, 15, &["invalid digit `a`"]);
}

#[test]
fn unexpected_character() {
    expect_err("setup:\n  x = eventfd(0) ; é\n", 2, 18, &["unexpected character `;`"]);
    expect_err("setup:\n  é = eventfd(0)\n", 2, 3, &["unexpected character `é`"]);
}

// ---- parse errors ----------------------------------------------------------------

#[test]
fn missing_paren() {
    expect_err("setup:\n  x = eventfd(0, 1\n", 2, 19, &["expected `,` or `)`, found end of line"]);
    expect_err("setup:\n  x = eventfd(0 1)\n", 2, 17, &["expected `,` or `)`"]);
}

#[test]
fn not_a_call() {
    expect_err("setup:\n  x = 5\n", 2, 7, &["expected a call"]);
    expect_err("setup:\n  close\n", 2, 8, &["`(` (a call) or `=`"]);
    expect_err("setup:\n  close(1) 5\n", 2, 12, &["`=>` or end of line"]);
    expect_err("setup:\n  close(1) => 5 6\n", 2, 17, &["`or`"]);
    expect_err("setup:\n  close(1) =>\n", 2, 14, &["a pattern"]);
}

#[test]
fn unexpected_indentation() {
    expect_err("setup:\n  close(1)\n    close(2)\n", 3, 5, &["unexpected indentation", "column 3"]);
    expect_err("scenario \"x\"\n  close(1)\n", 2, 3, &["unexpected indentation", "section header at column 1"]);
    expect_err(
        "setup:\n    close(1)\n  close(2)\n",
        3,
        3,
        &["indentation does not match any enclosing block", "column 5"],
    );
    expect_err("setup:\n  repeat 2:\n      close(1)\n    close(2)\n", 4, 5, &["indentation", "column 3"]);
}

#[test]
fn empty_bodies() {
    expect_err("setup:\nthread t:\n  close(1)\n", 1, 1, &["`setup:` has an empty body", "an indented statement"]);
    expect_err("thread t:\n", 1, 1, &["`thread t` has an empty body"]);
    expect_err("check:\n", 1, 1, &["`check:` has an empty body"]);
    expect_err("setup:\n  repeat 3:\n  close(1)\n", 2, 3, &["`repeat` has an empty body"]);
}

#[test]
fn bad_repeat() {
    expect_err("setup:\n  repeat -1:\n    close(1)\n", 2, 10, &["non-negative integer"]);
    expect_err("setup:\n  repeat 2\n    close(1)\n", 2, 11, &["expected `:`"]);
}

#[test]
fn duplicate_sections() {
    expect_err("setup:\n  close(1)\nsetup:\n  close(2)\n", 3, 1, &["duplicate `setup:` section", "line 1"]);
    expect_err("finally:\n  close(1)\nfinally:\n  close(2)\n", 3, 1, &["duplicate `finally:`"]);
    expect_err("check:\n  assert 1\ncheck:\n  assert 1\n", 3, 1, &["duplicate `check:`"]);
}

#[test]
fn scenario_must_be_first() {
    ok("# comment\n\nscenario \"t\"\nsetup:\n  close(1)\n");
    expect_err("setup:\n  close(1)\nscenario \"t\"\n", 3, 1, &["must be the first line"]);
    expect_err("scenario t\n", 1, 10, &["a quoted title"]);
}

#[test]
fn bad_header() {
    expect_err("threads t:\n  close(1)\n", 1, 1, &["expected a section header", "did you mean `thread`"]);
    expect_err("close(1)\n", 1, 1, &["expected a section header", "indented section body"]);
    expect_err("thread t\n  close(1)\n", 1, 9, &["expected `:`, `in PROC` or `(may block)`"]);
    expect_err("thread t (may)\n  close(1)\n", 1, 14, &["`(may block)`"]);
    expect_err("kthread t in p:\n  now_ns()\n", 1, 11, &["kthread does not belong to a process"]);
    expect_err("setup: x\n  close(1)\n", 1, 8, &["end of line"]);
    expect_err("config\n", 1, 7, &["`KEY=VALUE`"]);
    expect_err("config seed=-1\n", 1, 13, &["an integer or a name"]);
}

#[test]
fn positional_after_named() {
    expect_err("setup:\n  ioctl(1, 2, len=3, 4)\n", 2, 22, &["positional argument after a named argument"]);
}

#[test]
fn chained_comparison() {
    expect_err("check:\n  assert 1 < 2 < 3\n", 2, 16, &["comparisons cannot be chained"]);
}

#[test]
fn bad_check_line() {
    expect_err("check:\n  asert 1\n", 2, 3, &["`assert`, `never` or `exists`"]);
    expect_err("check:\n  assert 1 2\n", 2, 12, &["an operator or end of line"]);
    expect_err("check:\n  assert\n", 2, 9, &["expected an expression"]);
}

#[test]
fn nesting_too_deep() {
    let deep = format!("check:\n  assert {}1{}\n", "(".repeat(200), ")".repeat(200));
    let e = err(&deep);
    assert!(e.contains("nested too deeply"), "{e}");
    let long = format!("check:\n  assert 1{}\n", "+1".repeat(5000));
    let e = err(&long);
    assert!(e.contains("nested too deeply"), "{e}");
    let fields = format!("check:\n  assert x{}\n", ".f".repeat(5000));
    assert!(err(&fields).contains("nested too deeply"));
    let neg = format!("check:\n  assert {}1\n", "-".repeat(5000));
    assert!(err(&neg).contains("nested too deeply"));
    let mut rep = String::from("setup:\n");
    for i in 0..100 {
        rep.push_str(&" ".repeat(2 + i));
        rep.push_str("repeat 1:\n");
    }
    rep.push_str(&" ".repeat(102));
    rep.push_str("close(1)\n");
    assert!(err(&rep).contains("nested too deeply"));
    // Moderate nesting is fine.
    ok(&format!("check:\n  assert {}1{}\n", "(".repeat(20), ")".repeat(20)));
}

// ---- resolution errors -------------------------------------------------------------

#[test]
fn config_errors() {
    expect_err(
        "config sed=1\n",
        1,
        8,
        &[
            "unknown config key `sed`",
            "`seed`, `preemptions`, `max_executions`, `max_steps`, `granularity`, `bug`, `pkeys` or `cap_sys_resource`",
            "did you mean `seed`",
        ],
    );
    expect_err("config pkeys=yes\n", 1, 14, &["`pkeys` is `on` or `off`, found `yes`"]);
    expect_err("config cap_sys_resource=1\n", 1, 25, &["`cap_sys_resource` is `on` or `off`, found `1`"]);
    expect_err("config pkeys=on pkeys=off\n", 1, 17, &["`pkeys` is set twice"]);
    expect_err(
        "config bug=eventfd_close_rac\n",
        1,
        12,
        &[
            "unknown bug `eventfd_close_rac`",
            "`eventfd_close_race` or `pipe_wakeup_lost`",
            "did you mean `eventfd_close_race`",
        ],
    );
    expect_err("config seed=abc\n", 1, 13, &["`seed` takes an integer"]);
    expect_err("config seed=1\nconfig seed=2\n", 2, 8, &["`seed` is set twice"]);
}

#[test]
fn process_errors() {
    expect_err("process main\n", 1, 9, &["process `main` is declared implicitly"]);
    expect_err("process a\nprocess a\n", 2, 9, &["duplicate process `a`"]);
    expect_err(
        "process other\nthread t in othr:\n  close(1)\n",
        2,
        13,
        &["unknown process `othr`", "did you mean `other`"],
    );
    ok("thread t in main:\n  close(1)\n");
}

#[test]
fn actor_name_errors() {
    expect_err("thread t:\n  close(1)\nkthread t:\n  now_ns()\n", 3, 9, &["duplicate actor `t`", "line 1"]);
    expect_err("process p\nthread p:\n  close(1)\n", 2, 8, &["actor `p` has the same name as a process"]);
    expect_err("thread main:\n  close(1)\n", 1, 8, &["same name as a process"]);
}

#[test]
fn unknown_call() {
    expect_err(
        "setup:\n  efd = evntfd(0, 0)\n",
        2,
        9,
        &["unknown call `evntfd`", "expected a call name; did you mean `eventfd`?"],
    );
    expect_err("setup:\n  zzzzzz(0)\n", 2, 3, &["unknown call `zzzzzz`", "expected a call name"]);
}

#[test]
fn builtin_as_statement() {
    expect_err("setup:\n  x = u64(1)\n", 2, 7, &["`u64` is a value builtin, not a call"]);
}

#[test]
fn call_in_expression() {
    expect_err("setup:\n  close(eventfd(0))\n", 2, 9, &["`eventfd` is a call, not a value builtin"]);
}

#[test]
fn unknown_function() {
    expect_err("setup:\n  close(fil(0))\n", 2, 9, &["unknown function `fil`", "did you mean `fill`"]);
}

#[test]
fn argument_counts() {
    expect_err(
        "setup:\n  x = eventfd(1, 2, 3)\n",
        2,
        21,
        &["`eventfd` takes 1 to 2 positional arguments, but 3 were given", "`eventfd(INITVAL[, FLAGS])`"],
    );
    expect_err("setup:\n  close()\n", 2, 3, &["`close` takes 1 positional argument, but 0 were given", "`close(FD)`"]);
    expect_err("setup:\n  close(u64())\n", 2, 9, &["`u64` takes 1 positional argument"]);
    expect_err("setup:\n  close(cat())\n", 2, 9, &["`cat` takes at least 1 positional argument"]);
    ok("setup:\n  close(len(cat(b\"a\", b\"b\", b\"c\", b\"d\")))\n");
}

#[test]
fn named_argument_errors() {
    expect_err("setup:\n  close(fd=1)\n", 2, 9, &["`close` takes no named arguments"]);
    expect_err(
        "setup:\n  m = mmap(strat=1)\n",
        2,
        12,
        &["unknown named argument `strat` for `mmap`", "did you mean `start`"],
    );
    expect_err("setup:\n  m = mmap(len=1, len=2)\n", 2, 19, &["named argument `len` is given twice"]);
    expect_err("setup:\n  ioctl(1, 2, a=1, a=2)\n", 2, 20, &["`a` is given twice"]);
}

#[test]
fn pair_binding_errors() {
    expect_err("setup:\n  p = pipe2()\n", 2, 3, &["`pipe2` returns two values", "`(A, B) = pipe2(...)`"]);
    expect_err("setup:\n  (a, b) = eventfd(0)\n", 2, 4, &["`eventfd` returns one value"]);
    expect_err("setup:\n  (a, a) = pipe2()\n", 2, 7, &["`a` is bound twice"]);
    ok("setup:\n  pipe2()\n");
}

#[test]
fn kernel_call_from_thread() {
    expect_err(
        "setup:\n  efd = eventfd(0)\nthread reader:\n  eventfd_signal(efd, 1)\n",
        4,
        3,
        &["kernel-internal call `eventfd_signal` from user thread `reader`; kernel-internal calls are allowed in setup, finally and kthreads"],
    );
}

#[test]
fn syscall_from_kthread() {
    expect_err(
        "kthread k:\n  close(1)\n",
        2,
        3,
        &["syscall `close` from kernel thread `k`", "not allowed in kthreads"],
    );
    ok("setup:\n  close(1)\n  x = eventfd_ctx_fdget(1)\nfinally:\n  eventfd_ctx_put(x)\n  close(2)\n");
}

#[test]
fn unknown_name() {
    expect_err("setup:\n  efd = eventfd(0)\n  close(edf)\n", 3, 9, &["unknown name `edf`", "did you mean `efd`"]);
    expect_err("setup:\n  close(EBADFF)\n", 2, 9, &["unknown name `EBADFF`", "did you mean `EBADF`"]);
    expect_err("thread t:\n  r = eventfd(0)\ncheck:\n  assert r == 1\n", 4, 10, &["unknown name `r`", "`t.r`"]);
}

#[test]
fn shadowing_and_constants() {
    expect_err(
        "setup:\n  efd = eventfd(0)\nthread t:\n  efd = eventfd(0)\n",
        4,
        3,
        &["`efd` is already bound in `setup:`", "cannot be shadowed"],
    );
    expect_err("setup:\n  EBADF = eventfd(0)\n", 2, 3, &["`EBADF` is a constant and cannot be bound"]);
    expect_err("setup:\n  _ = eventfd(0)\n", 2, 3, &["`_` is a keyword", "=> _"]);
    expect_err("thread t:\n  close(1)\nsetup:\n  t = eventfd(0)\n", 4, 3, &["`t` is the name of an actor"]);
}

#[test]
fn actor_var_errors() {
    expect_err(
        "thread t:\n  r = eventfd(0)\ncheck:\n  assert t.q == 1\n",
        4,
        12,
        &["actor `t` binds no name `q`", "`r`"],
    );
    expect_err("thread t:\n  close(1)\ncheck:\n  assert t.q == 1\n", 4, 12, &["it binds none"]);
    expect_err(
        "thread t:\n  r = eventfd(0)\nthread u:\n  close(t.r)\n",
        4,
        9,
        &["`t` is an actor, not a value", "only in `check` and `finally`"],
    );
    expect_err("thread t:\n  close(1)\ncheck:\n  assert t\n", 4, 10, &["`t` is an actor", "blocked(t)"]);
    let p = ok("thread t:\n  r = eventfd(0)\nfinally:\n  x = eventfd(t.r)\ncheck:\n  assert x == t.r\n");
    assert!(matches!(calls(&p.finally)[0].args[0], IrExpr::ActorVar { actor: 0, slot: 0 }));
}

#[test]
fn blocked_errors() {
    expect_err(
        "thread t:\n  close(blocked(t))\n",
        2,
        9,
        &["`blocked(ACTOR)` can be used only in `check` and `finally`"],
    );
    expect_err("thread t:\n  close(1)\ncheck:\n  assert blocked(s)\n", 4, 18, &["unknown actor `s`"]);
    expect_err("thread t:\n  close(1)\ncheck:\n  assert blocked(t, t)\n", 4, 10, &["`blocked` takes one actor name"]);
    expect_err("setup:\n  blocked(1)\n", 2, 3, &["`blocked` is a value builtin, not a call"]);
}

#[test]
fn many_errors_in_one_file() {
    let src =
        "config sed=1\nsetup:\n  x = evntfd(0)\n  close(y)\nthread t:\n  eventfd_signal(x, 1)\ncheck:\n  assert t.zz\n";
    let e = err(src);
    assert_eq!(e.matches("error:").count(), 5, "{e}");
}

// ---- no panics ------------------------------------------------------------------------

fn no_panic(src: &str) {
    match parser::parse(src) {
        Ok(f) => {
            let _ = resolve::resolve(&f, &TestCat);
            if let Err(ds) = resolve::resolve_with_source(&f, src, &TestCat) {
                assert!(!ds.is_empty());
                for d in &ds {
                    let _ = diag::render("f.scn", src, d);
                }
            }
        }
        Err(ds) => {
            assert!(!ds.is_empty());
            for d in &ds {
                assert!(d.span.line >= 1 && d.span.col >= 1 && d.span.len >= 1, "{d:?}");
                let _ = diag::render("f.scn", src, d);
            }
        }
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    for s in [
        "",
        "\n\n",
        "\u{feff}setup:\n  close(1)\n",
        "\r\n\r\n",
        "setup:\r\n  close(1)\r\n",
        "\"",
        "b\"",
        "setup:\n  x = eventfd(\"\\",
        "setup:\n  x = eventfd(\"\\x",
        "setup:\n  x = eventfd(\"\\x4",
        "0x",
        "check:\n  assert é.ü\n",
        "thread 日本:\n  close(1)\n",
        "setup:\n  close(1) => ok or _ or ok",
        "setup:\n  (",
        "setup:\n  (a",
        "setup:\n  (a,",
        "setup:\n  (a, b",
        "setup:\n  (a, b)",
        "setup:\n  (a, b) =",
        "check:\n  assert x in",
        "check:\n  assert x in {",
        "check:\n  assert [",
        "check:\n  assert x[",
        "check:\n  assert x.",
        "check:\n  assert f(a=",
        "setup:\n  repeat",
        "setup:\n  repeat 99999999999999999999999:",
    ] {
        no_panic(s);
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn mutate(base: &str, edits: &[(usize, u8, char)]) -> String {
        let mut chars: Vec<char> = base.chars().collect();
        for &(pos, kind, c) in edits {
            if chars.is_empty() {
                chars.push(c);
                continue;
            }
            let p = pos % (chars.len() + 1);
            match kind % 4 {
                0 => chars.insert(p, c),
                1 if p < chars.len() => {
                    chars.remove(p);
                }
                2 if p < chars.len() => chars[p] = c,
                _ => {
                    // Duplicate a slice, which makes structural changes
                    // (repeated lines, nested brackets).
                    let end = (p + (pos % 13)).min(chars.len());
                    let piece: Vec<char> = chars[p..end].to_vec();
                    for (i, ch) in piece.into_iter().enumerate() {
                        chars.insert(end + i, ch);
                    }
                }
            }
        }
        chars.into_iter().collect()
    }

    fn interesting_char() -> impl Strategy<Value = char> {
        prop_oneof![
            prop::sample::select(vec![
                ' ', '\n', '\t', '(', ')', '[', ']', '{', '}', ',', '.', ':', '=', '>', '<', '!', '&', '|', '+', '-',
                '*', '"', '\\', '#', 'x', '0', '9', '_', 'b', 'é', '\r', '\u{feff}',
            ]),
            any::<char>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_strings_do_not_panic(s in ".{0,400}") {
            no_panic(&s);
        }

        #[test]
        fn arbitrary_unicode_does_not_panic(s in any::<String>()) {
            no_panic(&s);
        }

        #[test]
        fn mutated_example_does_not_panic(
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_char()), 1..12)
        ) {
            let src = mutate(EXAMPLE, &edits);
            no_panic(&src);
        }

        #[test]
        fn token_soup_does_not_panic(
            toks in prop::collection::vec(prop::sample::select(vec![
                "setup:", "thread t", "kthread k", "check:", "finally:", "repeat", "assert", "in", "or", "ok", "_",
                "=>", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "\n", "\n  ", "\n    ", "x", "efd", "eventfd",
                "close", "u64", "blocked", "0", "0xffffffffffffffff", "-", "!", "|", "&&", "||", "==", "\"s\"",
                "b\"\\x00\"", "unset", "NULL", "t.r", "EBADF", "process p", "config seed=1", "scenario \"x\"",
            ]), 0..60)
        ) {
            let src: String = toks.join(" ");
            no_panic(&src);
            let src: String = toks.concat();
            no_panic(&src);
        }
    }
}

#[test]
fn tab_line_does_not_set_indentation() {
    // The tab line does not set the body's indentation; the next line's
    // error is still found.
    let e = err("setup:\n\tclose(1)\n  x = eventfd(0, 1\n");
    assert_eq!(e.matches("error:").count(), 2, "{e}");
    assert!(e.contains("t.scn:3:19"), "{e}");
}

#[test]
fn body_goes_on_after_a_badly_indented_line() {
    let e = err("setup:\n    close(1)\n  close(2)\n    close(1\n");
    assert!(e.contains("t.scn:3:3"), "{e}");
    assert!(e.contains("t.scn:4:12"), "{e}");
}

#[test]
fn hyphenated_config_words() {
    let e = err("config bug=eventfd-close-race seed=1\n");
    assert!(e.contains("unknown bug `eventfd-close-race`"), "{e}");
    assert!(e.contains("t.scn:1:12"), "{e}");
    assert!(e.contains("^^^^^^^^^^^^^^^^^^ "), "{e}");
}
