//! The resolver: checks an [`ast::File`] against a [`Catalog`] and lowers it
//! to the [`ir::Program`] the interpreter runs. Every name becomes a slot,
//! every call a catalog index, every constant a value.
//!
//! Constant operands are folded ([`Catalog::fold`]) into at most
//! [`FOLD_BUDGET`] bytes; a value longer than the catalog's limit
//! ([`Catalog::max_value_bytes`]) whose size is known here is an error,
//! found without building it.
//!
//! Name rules (the book's scenario-language chapter, "Names"): a bare name is, in order, a
//! name bound textually earlier in the same actor, a global (bound in
//! `setup`, or earlier in `finally`), or a catalog constant. `check` and
//! `finally` may also read `ACTOR.NAME` and `blocked(ACTOR)`.

use std::collections::HashMap;

use super::ast::{
    self, ActorKind, Arg, BinOp, Bind, CallExpr, CallStmt, ConfigItem, ConfigValue, Expr, File, Ident, PatAlt, Span,
    Stmt, UnOp,
};
use super::catalog::{CallCtx, Catalog, Named, Ret};
use super::diag::{self, did_you_mean, one_of, Diag};
use super::ir::{ActorIr, ActorKindIr, CallOp, CheckIr, ConfigIr, Const, IrBind, IrExpr, IrPat, Op, Program, Slot};

/// The most bytes of byte strings folded into one program. A builtin
/// whose value would pass it is left to run time, as if its operands were
/// not constants: it is built when its statement runs (under the limit on
/// one value), and dropped after. So compiling a file takes memory in
/// proportion to its length, and no more than this for built values,
/// however many large `fill`s it has.
pub const FOLD_BUDGET: u64 = 16 << 20;

/// `n` bytes in MiB (or KiB, or bytes) for a message.
fn mib(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The most names an error lists as what was expected; beyond it, it
/// counts them.
const MAX_LISTED: usize = 30;

/// Names that cannot be bound.
const RESERVED: &[&str] = &["_", "ok", "or", "in", "unset", "NULL"];

/// Builtin names probed for "did you mean" (the catalog has no list of its
/// builtins; only those it knows are suggested).
const BUILTIN_GUESSES: &[&str] =
    &["u8", "u16", "u32", "u64", "cat", "fill", "len", "note", "filter", "bytes", "str", "min", "max", "now_ns"];

/// Resolves a parsed file. `CallOp::text` and `pattern_text` are rebuilt from
/// the syntax tree (whitespace normalised, integers in decimal); use
/// [`resolve_with_source`] to get them exactly as written.
pub fn resolve(file: &File, cat: &dyn Catalog) -> Result<Program, Vec<Diag>> {
    Resolver::new(cat, None).run(file)
}

/// As [`resolve`], taking `CallOp::text` and `pattern_text` from `src`, the
/// text `file` was parsed from.
pub fn resolve_with_source(file: &File, src: &str, cat: &dyn Catalog) -> Result<Program, Vec<Diag>> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines: Vec<&str> = src.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    Resolver::new(cat, Some(lines)).run(file)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Setup,
    Finally,
    Check,
    Actor(u32, ActorKind),
}

impl Scope {
    /// Where `ACTOR.NAME` and `blocked(ACTOR)` are allowed.
    fn sees_actors(self) -> bool {
        matches!(self, Scope::Finally | Scope::Check)
    }
}

struct Locals {
    names: Vec<String>,
    map: HashMap<String, u32>,
}

struct Resolver<'a> {
    cat: &'a dyn Catalog,
    /// The source's lines (spans count characters, not bytes).
    src: Option<Vec<&'a str>>,
    diags: Vec<Diag>,
    globals: Vec<String>,
    global_map: HashMap<String, u32>,
    /// Actor name to index (the first actor of that name).
    actor_map: HashMap<String, u32>,
    actor_names: Vec<String>,
    /// Each resolved actor's locals, by actor index.
    actor_locals: Vec<Locals>,
    /// The current actor's locals.
    locals: Option<Locals>,
    /// The bytes of the byte strings folded so far (at most
    /// [`FOLD_BUDGET`]).
    folded_bytes: u64,
}

impl<'a> Resolver<'a> {
    fn new(cat: &'a dyn Catalog, src: Option<Vec<&'a str>>) -> Self {
        Resolver {
            cat,
            src,
            diags: Vec::new(),
            globals: Vec::new(),
            global_map: HashMap::new(),
            actor_map: HashMap::new(),
            actor_names: Vec::new(),
            actor_locals: Vec::new(),
            locals: None,
            folded_bytes: 0,
        }
    }

    fn err(&mut self, d: Diag) {
        self.diags.push(d);
    }

    /// Whether to look for "did you mean" suggestions: only until there
    /// are as many errors as are printed ([`diag::MAX_SHOWN`]). A search
    /// scans every name of its kind, so searching for every error of a
    /// long file would take time quadratic in its length.
    fn suggesting(&self) -> bool {
        self.diags.len() < diag::MAX_SHOWN
    }

    /// [`did_you_mean`], while [`Resolver::suggesting`].
    fn suggest<'n>(&self, name: &str, candidates: impl IntoIterator<Item = &'n str>) -> Option<String> {
        if self.suggesting() {
            did_you_mean(name, candidates)
        } else {
            None
        }
    }

    fn run(mut self, file: &File) -> Result<Program, Vec<Diag>> {
        let mut prog = Program { title: file.title.as_ref().map(|(t, _)| t.clone()), ..Program::default() };
        prog.config = self.config(file);
        prog.processes = self.processes(file);
        self.declare_actors(file, &prog.processes);

        if let Some(s) = &file.setup {
            prog.setup = self.block(&s.body, Scope::Setup);
        }
        for (i, a) in file.actors.iter().enumerate() {
            let process = match &a.process {
                None => 0,
                Some(p) => match prog.processes.iter().position(|n| *n == p.name) {
                    Some(i) => i as u32,
                    None => {
                        let mut d = Diag::new(p.span, format!("unknown process `{}`", p.name))
                            .expected("a process declared with `process NAME` (or `main`)");
                        let names = prog.processes.iter().map(|s| s.as_str());
                        if let Some(s) = self.suggest(&p.name, names) {
                            d = d.help(format!("did you mean `{s}`?"));
                        }
                        self.err(d);
                        0
                    }
                },
            };
            self.locals = Some(Locals { names: Vec::new(), map: HashMap::new() });
            let body = self.block(&a.body, Scope::Actor(i as u32, a.kind));
            let done = self.locals.take().unwrap_or_else(|| Locals { names: Vec::new(), map: HashMap::new() });
            let locals = done.names.clone();
            self.actor_locals.push(done);
            prog.actors.push(ActorIr {
                name: a.name.name.clone(),
                kind: match a.kind {
                    ActorKind::Thread => ActorKindIr::Thread,
                    ActorKind::Kthread => ActorKindIr::Kthread,
                },
                process,
                may_block: a.may_block,
                locals,
                body,
                span: a.span,
            });
        }
        if let Some(s) = &file.finally {
            prog.finally = self.block(&s.body, Scope::Finally);
        }
        for c in &file.checks {
            let expr = self.expr(&c.expr, Scope::Check);
            prog.checks.push(CheckIr { kind: c.kind, expr, text: c.text.clone(), span: c.span });
        }
        prog.globals = self.globals;
        if self.diags.is_empty() {
            Ok(prog)
        } else {
            diag::sort(&mut self.diags);
            Err(self.diags)
        }
    }

    // ---- declarations -----------------------------------------------------

    /// Whether `item` is the first setting of its key; a second one is an
    /// error naming the line of the first.
    fn config_key_once(&mut self, seen: &mut HashMap<String, u32>, item: &ConfigItem) -> bool {
        let key = item.key.name.as_str();
        if let Some(&line) = seen.get(key) {
            self.err(
                Diag::new(item.key.span, format!("`{key}` is set twice"))
                    .expected(format!("one `{key}=` item"))
                    .help(format!("it was first set on line {line}")),
            );
            return false;
        }
        seen.insert(key.to_string(), item.key.span.line);
        true
    }

    fn config(&mut self, file: &File) -> ConfigIr {
        const KEYS: &[&str] =
            &["seed", "preemptions", "max_executions", "max_steps", "granularity", "bug", "pkeys", "cap_sys_resource"];
        let mut cfg = ConfigIr::default();
        let mut seen: HashMap<String, u32> = HashMap::new();
        for item in &file.config {
            let key = item.key.name.as_str();
            match key {
                "seed" | "preemptions" | "max_executions" | "max_steps" => {
                    let n = match &item.value {
                        ConfigValue::Int(n) => *n,
                        ConfigValue::Word(w) => {
                            self.err(
                                Diag::new(item.value_span, format!("`{key}` takes an integer, found `{w}`"))
                                    .expected("an integer"),
                            );
                            continue;
                        }
                    };
                    if !self.config_key_once(&mut seen, item) {
                        continue;
                    }
                    if key == "max_steps" && n == 0 {
                        self.err(
                            Diag::new(item.value_span, "`max_steps` must be at least 1")
                                .expected("the number of calls one execution may make"),
                        );
                        continue;
                    }
                    let slot = match key {
                        "seed" => &mut cfg.seed,
                        "preemptions" => &mut cfg.preemptions,
                        "max_steps" => &mut cfg.max_steps,
                        _ => &mut cfg.max_executions,
                    };
                    *slot = Some(n);
                }
                "pkeys" | "cap_sys_resource" => {
                    let on = match &item.value {
                        ConfigValue::Word(w) if w == "on" => true,
                        ConfigValue::Word(w) if w == "off" => false,
                        v => {
                            let found = match v {
                                ConfigValue::Word(w) => w.clone(),
                                ConfigValue::Int(n) => n.to_string(),
                            };
                            self.err(
                                Diag::new(item.value_span, format!("`{key}` is `on` or `off`, found `{found}`"))
                                    .expected("`on` or `off`"),
                            );
                            continue;
                        }
                    };
                    if !self.config_key_once(&mut seen, item) {
                        continue;
                    }
                    if key == "pkeys" {
                        cfg.pkeys = Some(on);
                    } else {
                        cfg.cap_sys_resource = Some(on);
                    }
                }
                "granularity" => {
                    let g = match &item.value {
                        ConfigValue::Word(w) => sim_kernel::sched::Granularity::parse(w),
                        ConfigValue::Int(_) => None,
                    };
                    let Some(g) = g else {
                        let found = match &item.value {
                            ConfigValue::Word(w) => w.clone(),
                            ConfigValue::Int(n) => n.to_string(),
                        };
                        self.err(
                            Diag::new(item.value_span, format!("unknown granularity `{found}`"))
                                .expected("`call` or `lock`"),
                        );
                        continue;
                    };
                    if !self.config_key_once(&mut seen, item) {
                        continue;
                    }
                    cfg.granularity = Some(g);
                }
                "bug" => {
                    let name = match &item.value {
                        ConfigValue::Word(w) => w.clone(),
                        ConfigValue::Int(n) => n.to_string(),
                    };
                    if self.cat.is_bug(&name) {
                        if !cfg.bugs.contains(&name) {
                            cfg.bugs.push(name);
                        }
                    } else {
                        let mut names = self.cat.bug_names();
                        names.sort_unstable();
                        let expected = if names.is_empty() {
                            "a bug name (no bugs are registered)".to_string()
                        } else {
                            format!("a bug name: {}", one_of(&names))
                        };
                        let mut d = Diag::new(item.value_span, format!("unknown bug `{name}`")).expected(expected);
                        if let Some(s) = did_you_mean(&name, names.iter().copied()) {
                            d = d.help(format!("did you mean `{s}`? (`ksim bugs` lists them all)"));
                        } else {
                            d = d.help("`ksim bugs` lists the bugs with their descriptions");
                        }
                        self.err(d);
                    }
                }
                _ => {
                    let mut d = Diag::new(item.key.span, format!("unknown config key `{key}`")).expected(one_of(KEYS));
                    if let Some(s) = did_you_mean(key, KEYS.iter().copied()) {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    self.err(d);
                }
            }
        }
        cfg
    }

    fn processes(&mut self, file: &File) -> Vec<String> {
        let mut out = vec!["main".to_string()];
        let mut lines: HashMap<String, u32> = HashMap::new();
        for p in &file.processes {
            if p.name == "main" {
                self.err(
                    Diag::new(p.span, "process `main` is declared implicitly")
                        .expected("the name of another process")
                        .help("every scenario has a process `main`; remove this line"),
                );
            } else if let Some(line) = lines.get(&p.name) {
                let line = *line;
                self.err(
                    Diag::new(p.span, format!("duplicate process `{}`", p.name))
                        .expected("a new process name")
                        .help(format!("process `{}` is first declared on line {line}", p.name)),
                );
            } else {
                lines.insert(p.name.clone(), p.span.line);
                out.push(p.name.clone());
            }
        }
        out
    }

    fn declare_actors(&mut self, file: &File, processes: &[String]) {
        for (i, a) in file.actors.iter().enumerate() {
            let name = &a.name;
            self.actor_names.push(name.name.clone());
            if let Some(&first) = self.actor_map.get(&name.name) {
                let line = file.actors[first as usize].name.span.line;
                self.err(
                    Diag::new(name.span, format!("duplicate actor `{}`", name.name))
                        .expected("a name not used by another thread or kthread")
                        .help(format!("`{}` is first declared on line {line}", name.name)),
                );
                continue;
            }
            if processes.contains(&name.name) {
                self.err(
                    Diag::new(name.span, format!("actor `{}` has the same name as a process", name.name))
                        .expected("a name different from every process name"),
                );
            }
            self.actor_map.insert(name.name.clone(), i as u32);
        }
    }

    // ---- statements -------------------------------------------------------

    fn block(&mut self, body: &[Stmt], scope: Scope) -> Vec<Op> {
        let mut ops = Vec::new();
        for s in body {
            match s {
                Stmt::Repeat { count, body, .. } => {
                    let body = self.block(body, scope);
                    ops.push(Op::Repeat { count: *count, body });
                }
                Stmt::Call(c) => {
                    if let Some(op) = self.call_stmt(c, scope) {
                        ops.push(op);
                    }
                }
            }
        }
        ops
    }

    fn call_stmt(&mut self, s: &CallStmt, scope: Scope) -> Option<Op> {
        let c = &s.call;
        let name = c.name.name.as_str();
        let found = self.cat.call(name).map(|(id, sig)| (id, *sig));
        if found.is_none() {
            self.unknown_call(&c.name);
        }
        if let Some((_, sig)) = &found {
            match (sig.ctx, scope) {
                (CallCtx::Kernel, Scope::Actor(i, ActorKind::Thread)) => {
                    let actor = self.actor_names.get(i as usize).cloned().unwrap_or_default();
                    self.err(
                        Diag::new(
                            c.name.span,
                            format!(
                                "kernel-internal call `{name}` from user thread `{actor}`; kernel-internal calls are \
                                 allowed in setup, finally and kthreads"
                            ),
                        )
                        .expected("a syscall")
                        .help("move the call to a `kthread`, `setup:` or `finally:`"),
                    );
                }
                (CallCtx::User, Scope::Actor(i, ActorKind::Kthread)) => {
                    let actor = self.actor_names.get(i as usize).cloned().unwrap_or_default();
                    self.err(
                        Diag::new(
                            c.name.span,
                            format!(
                                "syscall `{name}` from kernel thread `{actor}`; syscalls are not allowed in kthreads"
                            ),
                        )
                        .expected("a kernel-internal call")
                        .help("make syscalls from a `thread`, `setup:` or `finally:`"),
                    );
                }
                _ => {}
            }
            self.check_args(c, sig.min, sig.max, sig.named, sig.usage, "call");
        }

        // Arguments and the pattern see the names bound before this line.
        let mut args = Vec::new();
        let mut named = Vec::new();
        for a in &c.args {
            let v = self.expr(&a.value, scope);
            match &a.name {
                None => args.push(v),
                Some(n) => named.push((n.name.clone(), v)),
            }
        }
        let pattern = s.pattern.as_ref().map(|alts| {
            alts.iter()
                .map(|alt| match alt {
                    PatAlt::Ok(_) => IrPat::Ok,
                    PatAlt::Any(_) => IrPat::Any,
                    PatAlt::Expr(e) => IrPat::Expr(self.expr(e, scope)),
                })
                .collect::<Vec<_>>()
        });

        let bind = match &s.bind {
            Bind::None => IrBind::None,
            Bind::One(a) => {
                if let Some((_, sig)) = &found {
                    if sig.ret == Ret::Pair {
                        self.err(
                            Diag::new(a.span, format!("`{name}` returns two values"))
                                .expected(format!("`(A, B) = {name}(...)`"))
                                .help("bind both values with `(A, B) =`, or leave the call unbound"),
                        );
                    }
                }
                IrBind::One(self.bind(a, scope))
            }
            Bind::Pair(a, b) => {
                if let Some((_, sig)) = &found {
                    if sig.ret == Ret::One {
                        self.err(
                            Diag::new(ast::join(a.span, b.span), format!("`{name}` returns one value, not two"))
                                .expected(format!("`NAME = {name}(...)`")),
                        );
                    }
                }
                if a.name == b.name {
                    self.err(
                        Diag::new(b.span, format!("`{}` is bound twice in the same statement", b.name))
                            .expected("two different names"),
                    );
                }
                let sa = self.bind(a, scope);
                let sb = self.bind(b, scope);
                IrBind::Pair(sa, sb)
            }
        };
        let (id, _) = found?;
        Some(Op::Call(CallOp {
            call: id,
            args,
            named,
            bind,
            pattern,
            span: s.span,
            text: self.call_text(c),
            pattern_text: self.pattern_text(s),
        }))
    }

    fn unknown_call(&mut self, id: &Ident) {
        let name = id.name.as_str();
        if self.cat.builtin(name).is_some() || (name == "blocked") {
            self.err(
                Diag::new(id.span, format!("`{name}` is a value builtin, not a call"))
                    .expected("a call name")
                    .help("value builtins are used inside arguments, patterns and checks; a statement makes a call"),
            );
            return;
        }
        let names = self.cat.call_names();
        let expected = match self.suggest(name, names.iter().copied()) {
            Some(s) => format!("a call name; did you mean `{s}`?"),
            None => "a call name".to_string(),
        };
        self.err(Diag::new(id.span, format!("unknown call `{name}`")).expected(expected));
    }

    /// Positional count and named arguments of a call or builtin.
    fn check_args(&mut self, c: &CallExpr, min: u8, max: u8, named: Named, usage: &str, what: &str) {
        let name = &c.name.name;
        let positional: Vec<&Arg> = c.args.iter().filter(|a| a.name.is_none()).collect();
        let n = positional.len();
        let variadic = max == u8::MAX;
        if n < usize::from(min) || (!variadic && n > usize::from(max)) {
            let range = if variadic {
                format!("at least {min}")
            } else if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            let plural = if !variadic && max == 1 && min == 1 { "" } else { "s" };
            let span =
                if !variadic && n > usize::from(max) { positional[usize::from(max)].value.span() } else { c.span };
            self.err(
                Diag::new(
                    span,
                    format!(
                        "`{name}` takes {range} positional argument{plural}, but {n} {} given",
                        if n == 1 { "was" } else { "were" }
                    ),
                )
                .expected(format!("`{usage}`")),
            );
        }
        let mut seen: Vec<&str> = Vec::new();
        for a in &c.args {
            let Some(an) = &a.name else { continue };
            let key = an.name.as_str();
            match named {
                Named::None => {
                    self.err(
                        Diag::new(an.span, format!("`{name}` takes no named arguments")).expected(format!("`{usage}`")),
                    );
                    continue;
                }
                Named::Only(list) if !list.contains(&key) => {
                    let mut d = Diag::new(an.span, format!("unknown named argument `{key}` for `{name}`"))
                        .expected(if list.is_empty() { "no named arguments".to_string() } else { one_of(list) });
                    if let Some(s) = did_you_mean(key, list.iter().copied()) {
                        d = d.help(format!("did you mean `{s}`?"));
                    } else {
                        d = d.help(format!("usage: `{usage}`"));
                    }
                    self.err(d);
                    continue;
                }
                _ => {}
            }
            if seen.contains(&key) {
                self.err(
                    Diag::new(an.span, format!("named argument `{key}` is given twice"))
                        .expected(format!("each named argument of this {what} at most once")),
                );
            } else {
                seen.push(key);
            }
        }
    }

    fn bind(&mut self, id: &Ident, scope: Scope) -> Slot {
        let name = id.name.as_str();
        if RESERVED.contains(&name) {
            let help =
                if name == "_" { "to accept any result, write `=> _` after the call" } else { "pick another name" };
            self.err(
                Diag::new(id.span, format!("`{name}` is a keyword and cannot be bound")).expected("a name").help(help),
            );
        } else if self.cat.constant(name).is_some() {
            self.err(
                Diag::new(id.span, format!("`{name}` is a constant and cannot be bound"))
                    .expected("a name that is not a constant"),
            );
        }
        match scope {
            Scope::Actor(..) => {
                if self.global_map.contains_key(name) {
                    self.err(
                        Diag::new(id.span, format!("`{name}` is already bound in `setup:`"))
                            .expected("a new name")
                            .help("names bound in `setup:` are visible in every actor and cannot be shadowed"),
                    );
                }
                let locals = self.locals.get_or_insert_with(|| Locals { names: Vec::new(), map: HashMap::new() });
                if let Some(&i) = locals.map.get(name) {
                    return Slot::Local(i);
                }
                let i = locals.names.len() as u32;
                locals.names.push(name.to_string());
                locals.map.insert(name.to_string(), i);
                Slot::Local(i)
            }
            _ => {
                if self.actor_map.contains_key(name) {
                    self.err(
                        Diag::new(id.span, format!("`{name}` is the name of an actor"))
                            .expected("a name that is not an actor's")
                            .help(format!("`{name}.NAME` reads the actor's names in `check` and `finally`")),
                    );
                }
                if let Some(&i) = self.global_map.get(name) {
                    return Slot::Global(i);
                }
                let i = self.globals.len() as u32;
                self.globals.push(name.to_string());
                self.global_map.insert(name.to_string(), i);
                Slot::Global(i)
            }
        }
    }

    // ---- expressions ------------------------------------------------------

    fn expr(&mut self, e: &Expr, scope: Scope) -> IrExpr {
        match e {
            Expr::Int(n, _) => IrExpr::Const(Const::Int(*n)),
            Expr::Str(s, _) => IrExpr::Const(Const::Str(s.clone())),
            Expr::Bytes(b, _) => IrExpr::Const(Const::Bytes(b.clone())),
            Expr::Unset(_) => IrExpr::Const(Const::Unset),
            Expr::Null(_) => IrExpr::Const(Const::Null),
            Expr::Name(id) => self.name(id, scope),
            Expr::Field(base, f) => {
                if let Expr::Name(a) = &**base {
                    if scope.sees_actors() && !self.global_map.contains_key(&a.name) {
                        if let Some(&actor) = self.actor_map.get(&a.name) {
                            return self.actor_var(actor, a, f);
                        }
                    }
                }
                let b = self.expr(base, scope);
                IrExpr::Field(Box::new(b), f.name.clone(), e.span())
            }
            Expr::Index(a, i, sp) => {
                let a = self.expr(a, scope);
                let i = self.expr(i, scope);
                IrExpr::Index(Box::new(a), Box::new(i), *sp)
            }
            Expr::Call(c) => self.builtin(c, scope),
            Expr::List(items, sp) => {
                let e = IrExpr::List(items.iter().map(|x| self.expr(x, scope)).collect());
                if self.too_big(self.cat.built_len(&e), *sp, "the list") {
                    return IrExpr::Const(Const::Unset);
                }
                e
            }
            Expr::Binary(op, a, b, sp) => {
                let a = self.expr(a, scope);
                let b = self.expr(b, scope);
                self.folded(IrExpr::Binary(*op, Box::new(a), Box::new(b), *sp))
            }
            Expr::Unary(UnOp::Neg, inner, sp) => match &**inner {
                Expr::Int(n, _) => IrExpr::Const(Const::Int(n.wrapping_neg())),
                _ => {
                    let a = self.expr(inner, scope);
                    IrExpr::Unary(UnOp::Neg, Box::new(a), *sp)
                }
            },
            Expr::Unary(op, inner, sp) => {
                let a = self.expr(inner, scope);
                self.folded(IrExpr::Unary(*op, Box::new(a), *sp))
            }
            Expr::In(a, set, sp) => {
                let a = self.expr(a, scope);
                let set = set.iter().map(|x| self.expr(x, scope)).collect();
                self.folded(IrExpr::In(Box::new(a), set, *sp))
            }
        }
    }

    /// Whether a value of `n` bytes (at least), built by `what` at `span`,
    /// is more than a value may hold; if so, reports it.
    fn too_big(&mut self, n: u64, span: Span, what: &str) -> bool {
        let max = self.cat.max_value_bytes();
        if n <= max {
            return false;
        }
        self.err(
            Diag::new(span, format!("{what} would be {n} bytes, more than a value may hold"))
                .expected(format!("a value of at most {max} bytes ({})", mib(max)))
                .help("the limit keeps a typo from exhausting memory; no call takes a buffer this large"),
        );
        true
    }

    /// `e`, or the constant it evaluates to when the catalog folds it
    /// (its operands, lowered first, are then constants themselves).
    fn folded(&self, e: IrExpr) -> IrExpr {
        match self.cat.fold(&e) {
            Some(c) => IrExpr::Const(c),
            None => e,
        }
    }

    fn name(&mut self, id: &Ident, scope: Scope) -> IrExpr {
        let name = id.name.as_str();
        if let (Scope::Actor(..), Some(l)) = (scope, &self.locals) {
            if let Some(&i) = l.map.get(name) {
                return IrExpr::Slot(Slot::Local(i));
            }
        }
        if let Some(&i) = self.global_map.get(name) {
            return IrExpr::Slot(Slot::Global(i));
        }
        if let Some(c) = self.cat.constant(name) {
            return IrExpr::Const(c);
        }
        if self.actor_map.contains_key(name) {
            let (expected, help) = if scope.sees_actors() {
                (format!("a value; use `{name}.NAME` or `blocked({name})`"), None)
            } else {
                (
                    "a value".to_string(),
                    Some(
                        "actor names can be used, as `ACTOR.NAME` and `blocked(ACTOR)`, only in `check` and `finally`",
                    ),
                )
            };
            let mut d = Diag::new(id.span, format!("`{name}` is an actor, not a value")).expected(expected);
            if let Some(h) = help {
                d = d.help(h);
            }
            self.err(d);
            return IrExpr::Const(Const::Unset);
        }
        let suggestion = if self.suggesting() {
            let mut candidates: Vec<&str> = Vec::new();
            if let (Scope::Actor(..), Some(l)) = (scope, &self.locals) {
                candidates.extend(l.names.iter().map(|s| s.as_str()));
            }
            candidates.extend(self.globals.iter().map(|s| s.as_str()));
            let consts = self.cat.constant_names();
            candidates.extend(consts.iter().copied());
            did_you_mean(name, candidates)
        } else {
            None
        };
        let expected = match suggestion {
            Some(s) => format!("a name bound earlier or a constant; did you mean `{s}`?"),
            None => "a name bound earlier or a constant".to_string(),
        };
        let mut d = Diag::new(id.span, format!("unknown name `{name}`")).expected(expected);
        if matches!(scope, Scope::Check | Scope::Finally) && self.suggesting() {
            let owners: Vec<&str> = self
                .actor_locals
                .iter()
                .enumerate()
                .filter(|(_, l)| l.map.contains_key(name))
                .map(|(i, _)| self.actor_names[i].as_str())
                .collect();
            if let Some(a) = owners.first() {
                d = d.help(format!("actor `{a}` binds `{name}`: read it as `{a}.{name}`"));
            }
        }
        self.err(d);
        IrExpr::Const(Const::Unset)
    }

    fn actor_var(&mut self, actor: u32, a: &Ident, f: &Ident) -> IrExpr {
        let none = Locals { names: Vec::new(), map: HashMap::new() };
        let locals = self.actor_locals.get(actor as usize).unwrap_or(&none);
        if let Some(&i) = locals.map.get(&f.name) {
            return IrExpr::ActorVar { actor, slot: i };
        }
        let names: Vec<&str> = locals.names.iter().map(|s| s.as_str()).collect();
        let expected = if names.is_empty() {
            format!("a name bound by `{}` (it binds none)", a.name)
        } else if names.len() > MAX_LISTED {
            format!("a name bound by `{}` (it binds {})", a.name, names.len())
        } else {
            format!("a name bound by `{}`: {}", a.name, one_of(&names))
        };
        let mut d = Diag::new(f.span, format!("actor `{}` binds no name `{}`", a.name, f.name)).expected(expected);
        if let Some(s) = self.suggest(&f.name, names.iter().copied()) {
            d = d.help(format!("did you mean `{}.{s}`?", a.name));
        }
        self.err(d);
        IrExpr::Const(Const::Unset)
    }

    fn builtin(&mut self, c: &CallExpr, scope: Scope) -> IrExpr {
        let name = c.name.name.as_str();
        if name == "blocked" {
            return self.blocked(c, scope);
        }
        if let Some((id, sig)) = self.cat.builtin(name) {
            let sig = *sig;
            self.check_args(c, sig.min, sig.max, Named::None, sig.usage, "builtin");
            let args = c.args.iter().map(|a| self.expr(&a.value, scope)).collect();
            let e = IrExpr::Builtin { id, args, span: c.span };
            let n = self.cat.built_len(&e);
            if self.too_big(n, c.span, &format!("`{name}(...)`")) {
                return IrExpr::Const(Const::Unset);
            }
            if self.folded_bytes.saturating_add(n) > FOLD_BUDGET {
                // Built in each execution instead, and dropped after it.
                return e;
            }
            let e = self.folded(e);
            if let IrExpr::Const(Const::Bytes(b)) = &e {
                self.folded_bytes += b.len() as u64;
            }
            return e;
        }
        if self.cat.call(name).is_some() {
            self.err(
                Diag::new(c.name.span, format!("`{name}` is a call, not a value builtin"))
                    .expected("a value builtin (`u64`, `cat`, `fill`, `len`, ...)")
                    .help(format!(
                        "calls are statements: make the call on its own line, `x = {name}(...)`, and use `x` here"
                    )),
            );
        } else {
            let mut candidates: Vec<&str> =
                BUILTIN_GUESSES.iter().copied().filter(|b| self.cat.builtin(b).is_some()).collect();
            if scope.sees_actors() {
                candidates.push("blocked");
            }
            let expected = match did_you_mean(name, candidates) {
                Some(s) => format!("a value builtin; did you mean `{s}`?"),
                None => "a value builtin".to_string(),
            };
            self.err(Diag::new(c.name.span, format!("unknown function `{name}`")).expected(expected));
        }
        for a in &c.args {
            self.expr(&a.value, scope);
        }
        IrExpr::Const(Const::Unset)
    }

    fn blocked(&mut self, c: &CallExpr, scope: Scope) -> IrExpr {
        if !scope.sees_actors() {
            self.err(
                Diag::new(c.name.span, "`blocked(ACTOR)` can be used only in `check` and `finally`")
                    .expected("a value"),
            );
            return IrExpr::Const(Const::Unset);
        }
        let arg = match c.args.as_slice() {
            [Arg { name: None, value }] => value,
            _ => {
                self.err(Diag::new(c.span, "`blocked` takes one actor name").expected("`blocked(ACTOR)`"));
                return IrExpr::Const(Const::Unset);
            }
        };
        if let Expr::Name(id) = arg {
            if let Some(&i) = self.actor_map.get(&id.name) {
                return IrExpr::Blocked(i);
            }
            let mut d = Diag::new(id.span, format!("unknown actor `{}`", id.name))
                .expected("the name of a `thread` or `kthread`");
            if let Some(s) = self.suggest(&id.name, self.actor_names.iter().map(|s| s.as_str())) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.err(d);
        } else {
            self.err(
                Diag::new(arg.span(), "`blocked` takes an actor name").expected("the name of a `thread` or `kthread`"),
            );
        }
        IrExpr::Const(Const::Unset)
    }

    // ---- source text ------------------------------------------------------

    fn slice(&self, span: Span) -> Option<String> {
        let line = *self.src.as_ref()?.get((span.line as usize).checked_sub(1)?)?;
        let start = (span.col as usize).checked_sub(1)?;
        if line.is_ascii() {
            let end = (start + span.len as usize).min(line.len());
            return (start < end).then(|| line[start..end].to_string());
        }
        let text: String = line.chars().skip(start).take(span.len as usize).collect();
        (!text.is_empty()).then_some(text)
    }

    fn call_text(&self, c: &CallExpr) -> String {
        self.slice(c.span).unwrap_or_else(|| call_to_string(c))
    }

    fn pattern_text(&self, s: &CallStmt) -> Option<String> {
        let alts = s.pattern.as_ref()?;
        // The pattern is the end of the statement: everything after the call.
        let end_call = s.call.span.col + s.call.span.len;
        let stmt_end = s.span.col + s.span.len;
        if s.span.line == s.call.span.line && stmt_end > end_call {
            let sp = Span { line: s.span.line, col: end_call, len: stmt_end - end_call };
            if let Some(t) = self.slice(sp) {
                let t = t.trim();
                if let Some(rest) = t.strip_prefix("=>") {
                    return Some(rest.trim().to_string());
                }
            }
        }
        let parts: Vec<String> = alts
            .iter()
            .map(|a| match a {
                PatAlt::Ok(_) => "ok".to_string(),
                PatAlt::Any(_) => "_".to_string(),
                PatAlt::Expr(e) => expr_to_string(e),
            })
            .collect();
        Some(parts.join(" or "))
    }
}

// ---- printing (when the source is not at hand) -----------------------------

fn call_to_string(c: &CallExpr) -> String {
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| match &a.name {
            Some(n) => format!("{}={}", n.name, expr_to_string(&a.value)),
            None => expr_to_string(&a.value),
        })
        .collect();
    format!("{}({})", c.name.name, args.join(", "))
}

fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary(op, ..) => binop_prec(*op),
        Expr::In(..) => 4,
        Expr::Unary(UnOp::Not, ..) => 3,
        Expr::Unary(UnOp::Neg, ..) => 9,
        _ => 10,
    }
}

fn binop_prec(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
        BinOp::BitOr => 5,
        BinOp::BitAnd => 6,
        BinOp::Add | BinOp::Sub => 7,
        BinOp::Mul => 8,
    }
}

fn binop_str(op: BinOp) -> &'static str {
    match op {
        BinOp::Eq => " == ",
        BinOp::Ne => " != ",
        BinOp::Lt => " < ",
        BinOp::Le => " <= ",
        BinOp::Gt => " > ",
        BinOp::Ge => " >= ",
        BinOp::And => " && ",
        BinOp::Or => " || ",
        BinOp::Add => " + ",
        BinOp::Sub => " - ",
        BinOp::Mul => " * ",
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
    }
}

fn paren(e: &Expr, min: u8) -> String {
    let s = expr_to_string(e);
    if prec(e) < min {
        format!("({s})")
    } else {
        s
    }
}

fn escape(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0 => out.push_str("\\0"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
}

/// An expression as source text, parenthesized where precedence needs it.
pub fn expr_to_string(e: &Expr) -> String {
    match e {
        Expr::Int(n, _) => n.to_string(),
        Expr::Str(s, _) => {
            let mut out = String::from("\"");
            for ch in s.chars() {
                if ch.is_ascii() {
                    escape(&[ch as u8], &mut out);
                } else {
                    out.push(ch);
                }
            }
            out.push('"');
            out
        }
        Expr::Bytes(b, _) => {
            let mut out = String::from("b\"");
            escape(b, &mut out);
            out.push('"');
            out
        }
        Expr::Unset(_) => "unset".to_string(),
        Expr::Null(_) => "NULL".to_string(),
        Expr::Name(id) => id.name.clone(),
        Expr::Field(b, f) => format!("{}.{}", paren(b, 10), f.name),
        Expr::Index(b, i, _) => format!("{}[{}]", paren(b, 10), expr_to_string(i)),
        Expr::Call(c) => call_to_string(c),
        Expr::List(items, _) => {
            let v: Vec<String> = items.iter().map(expr_to_string).collect();
            format!("[{}]", v.join(", "))
        }
        Expr::Binary(op, a, b, _) => {
            let p = binop_prec(*op);
            // Comparisons do not chain: both sides bind tighter.
            let (lmin, rmin) = if p == 4 { (5, 5) } else { (p, p + 1) };
            format!("{}{}{}", paren(a, lmin), binop_str(*op), paren(b, rmin))
        }
        Expr::Unary(UnOp::Neg, a, _) => format!("-{}", paren(a, 9)),
        Expr::Unary(UnOp::Not, a, _) => format!("!{}", paren(a, 3)),
        Expr::In(a, set, _) => {
            let v: Vec<String> = set.iter().map(expr_to_string).collect();
            format!("{} in {{{}}}", paren(a, 5), v.join(", "))
        }
    }
}
