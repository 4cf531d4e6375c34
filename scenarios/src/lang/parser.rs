//! The `.scn` parser: source text to [`ast::File`] (the book's
//! scenario-language chapter, "File structure" to "Values").
//!
//! The file is a sequence of section headers at column 1, each followed by
//! its indented body. A statement or check is one line. Every line yields at
//! most one error (the first one found on it); parsing then goes on with the
//! next line, so that one run reports as many errors as is practical.

use super::ast::{
    join, ActorDecl, ActorKind, Arg, BinOp, Bind, CallExpr, CallStmt, Check, CheckKind, ConfigItem, ConfigValue, Expr,
    File, Ident, PatAlt, Section, Span, Stmt, UnOp,
};
use super::diag::{self, Diag};
use super::lexer::{lex, Line, Tok, Token};

/// How deeply parentheses, brackets, calls, unary operators and `repeat`
/// blocks may nest.
pub const MAX_NESTING: u32 = 64;
/// How deep an expression tree may be (long operator chains such as
/// `A|B|C|...` count one level per operator).
pub const MAX_TREE_DEPTH: u32 = 256;

const HEADERS: &[&str] = &["scenario", "config", "process", "setup", "thread", "kthread", "finally", "check"];

/// Parses a whole file. Returns every error found, in source order.
pub fn parse(src: &str) -> Result<File, Vec<Diag>> {
    let (lines, mut diags) = lex(src);
    let mut p = FileParser {
        lines: &lines,
        pos: 0,
        diags: Vec::new(),
        file: File::default(),
        seen_line: false,
        setup_line: None,
        finally_line: None,
        check_line: None,
    };
    p.run();
    diags.append(&mut p.diags);
    if diags.is_empty() {
        Ok(p.file)
    } else {
        diag::sort(&mut diags);
        Err(diags)
    }
}

type PResult<T> = Result<T, Diag>;

struct FileParser<'a> {
    lines: &'a [Line],
    pos: usize,
    diags: Vec<Diag>,
    file: File,
    /// A line (of any kind) came before the current one.
    seen_line: bool,
    setup_line: Option<u32>,
    finally_line: Option<u32>,
    check_line: Option<u32>,
}

enum Header {
    Title(String, Span),
    Config(Vec<ConfigItem>),
    Process(Ident),
    Setup(Span),
    Finally(Span),
    Check(Span),
    Actor { kind: ActorKind, name: Ident, process: Option<Ident>, may_block: bool, span: Span },
}

impl FileParser<'_> {
    fn run(&mut self) {
        while self.pos < self.lines.len() {
            let l = &self.lines[self.pos];
            self.pos += 1;
            let first_line = !self.seen_line;
            self.seen_line = true;
            if l.indent > 0 {
                if !l.bad {
                    let sp = l.toks.first().map(|t| t.span).unwrap_or(l.eol_span());
                    self.diags.push(
                        Diag::new(sp, "unexpected indentation").expected("a section header at column 1").help(
                            "only the bodies of `setup:`, `thread`, `kthread`, `finally:` and `check:` are indented",
                        ),
                    );
                }
                self.skip_body();
                continue;
            }
            if l.bad {
                self.skip_body();
                continue;
            }
            let header = match parse_header(l) {
                Ok(h) => h,
                Err(d) => {
                    self.diags.push(d);
                    self.skip_body();
                    continue;
                }
            };
            match header {
                Header::Title(t, sp) => {
                    if !first_line {
                        let kw = l.toks[0].span;
                        self.diags.push(
                            Diag::new(kw, "`scenario` must be the first line of the file")
                                .expected("`scenario \"TITLE\"` before any other line (comments may come first)"),
                        );
                    } else {
                        self.file.title = Some((t, sp));
                    }
                }
                Header::Config(items) => self.file.config.extend(items),
                Header::Process(name) => self.file.processes.push(name),
                Header::Setup(span) => {
                    let body = self.stmt_body(l, "setup:");
                    if let Some(prev) = self.dup(span, "setup:", self.setup_line) {
                        self.diags.push(prev);
                    } else {
                        self.setup_line = Some(span.line);
                        if let Some(body) = body {
                            self.file.setup = Some(Section { span, body });
                        }
                    }
                }
                Header::Finally(span) => {
                    let body = self.stmt_body(l, "finally:");
                    if let Some(prev) = self.dup(span, "finally:", self.finally_line) {
                        self.diags.push(prev);
                    } else {
                        self.finally_line = Some(span.line);
                        if let Some(body) = body {
                            self.file.finally = Some(Section { span, body });
                        }
                    }
                }
                Header::Check(span) => {
                    let checks = self.check_body(l);
                    if let Some(prev) = self.dup(span, "check:", self.check_line) {
                        self.diags.push(prev);
                    } else {
                        self.check_line = Some(span.line);
                        self.file.checks.extend(checks);
                    }
                }
                Header::Actor { kind, name, process, may_block, span } => {
                    let what = match kind {
                        ActorKind::Thread => format!("thread {}", name.name),
                        ActorKind::Kthread => format!("kthread {}", name.name),
                    };
                    if let Some(body) = self.stmt_body(l, &what) {
                        self.file.actors.push(ActorDecl { kind, name, process, may_block, span, body });
                    }
                }
            }
        }
    }

    fn dup(&self, span: Span, what: &str, prev: Option<u32>) -> Option<Diag> {
        prev.map(|line| {
            Diag::new(span, format!("duplicate `{what}` section"))
                .expected(format!("at most one `{what}` section"))
                .help(format!("the first `{what}` section is on line {line}"))
        })
    }

    /// Skips the indented lines after a header that could not be parsed.
    fn skip_body(&mut self) {
        while self.pos < self.lines.len() && self.lines[self.pos].indent > 0 {
            self.pos += 1;
        }
    }

    /// The indented lines after the current header.
    fn body_lines(&mut self) -> &[Line] {
        let start = self.pos;
        self.skip_body();
        &self.lines[start..self.pos]
    }

    /// Parses a statement body; `None` (after reporting it) when it is empty.
    fn stmt_body(&mut self, header: &Line, what: &str) -> Option<Vec<Stmt>> {
        let lines = self.body_lines();
        if lines.is_empty() {
            let sp = header_span(header);
            self.diags.push(
                Diag::new(sp, format!("`{what}` has an empty body")).expected("an indented statement on the next line"),
            );
            return None;
        }
        let mut diags = Vec::new();
        let mut pos = 0;
        let indent = block_indent(lines);
        let mut body = Vec::new();
        loop {
            body.extend(parse_block(lines, &mut pos, indent, 1, &mut diags));
            // parse_block stops at a line indented less than the block:
            // report it and go on with the rest of the body.
            let Some(l) = lines.get(pos) else { break };
            if !l.bad {
                diags.push(unexpected_indent(l, indent));
            }
            pos += 1;
        }
        self.diags.append(&mut diags);
        Some(body)
    }

    fn check_body(&mut self, header: &Line) -> Vec<Check> {
        let lines = self.body_lines();
        let mut diags = Vec::new();
        let mut out = Vec::new();
        if lines.is_empty() {
            diags.push(
                Diag::new(header_span(header), "`check:` has an empty body")
                    .expected("an indented `assert`, `never` or `exists` line"),
            );
        }
        let indent = block_indent(lines);
        for l in lines {
            if l.bad {
                continue;
            }
            if l.indent != indent {
                diags.push(unexpected_indent(l, indent));
                continue;
            }
            match parse_check(l) {
                Ok(c) => out.push(c),
                Err(d) => diags.push(d),
            }
        }
        self.diags.append(&mut diags);
        out
    }
}

/// A body's indentation: that of its first line without a lexical error (a
/// tab-indented line must not set it).
fn block_indent(lines: &[Line]) -> u32 {
    lines.iter().find(|l| !l.bad).or(lines.first()).map(|l| l.indent).unwrap_or(0)
}

fn header_span(l: &Line) -> Span {
    match (l.toks.first(), l.toks.last()) {
        (Some(a), Some(b)) => join(a.span, b.span),
        _ => l.eol_span(),
    }
}

fn unexpected_indent(l: &Line, indent: u32) -> Diag {
    let sp = l.toks.first().map(|t| t.span).unwrap_or(l.eol_span());
    let msg =
        if l.indent > indent { "unexpected indentation" } else { "indentation does not match any enclosing block" };
    Diag::new(sp, msg).expected(format!("a statement at column {}, like the lines before it", indent + 1))
}

/// Parses the lines of one block whose statements are indented by `indent`,
/// stopping at the first line indented less.
fn parse_block(lines: &[Line], pos: &mut usize, indent: u32, depth: u32, diags: &mut Vec<Diag>) -> Vec<Stmt> {
    let mut out = Vec::new();
    while *pos < lines.len() {
        let l = &lines[*pos];
        if l.indent < indent {
            break;
        }
        if l.indent > indent {
            if !l.bad {
                diags.push(unexpected_indent(l, indent));
            }
            *pos += 1;
            skip_deeper(lines, pos, indent);
            continue;
        }
        *pos += 1;
        let starts_repeat = l.toks.first().is_some_and(|t| t.tok.is_ident("repeat"));
        if l.bad {
            if starts_repeat {
                skip_deeper(lines, pos, indent);
            }
            continue;
        }
        let mut lp = LineParser::new(l);
        match lp.stmt() {
            Ok(StmtHead::Call(c)) => out.push(Stmt::Call(c)),
            Ok(StmtHead::Repeat { count, count_span, span }) => {
                if *pos < lines.len() && lines[*pos].indent > indent {
                    if depth >= MAX_NESTING {
                        diags.push(
                            Diag::new(span, "`repeat` blocks nested too deeply")
                                .expected(format!("at most {MAX_NESTING} nested blocks")),
                        );
                        skip_deeper(lines, pos, indent);
                        continue;
                    }
                    let inner = lines[*pos].indent;
                    let body = parse_block(lines, pos, inner, depth + 1, diags);
                    out.push(Stmt::Repeat { count, count_span, span, body });
                } else {
                    diags.push(
                        Diag::new(span, "`repeat` has an empty body")
                            .expected("an indented statement on the next line"),
                    );
                }
            }
            Err(d) => {
                diags.push(d);
                if starts_repeat {
                    skip_deeper(lines, pos, indent);
                }
            }
        }
    }
    out
}

fn skip_deeper(lines: &[Line], pos: &mut usize, indent: u32) {
    while *pos < lines.len() && lines[*pos].indent > indent {
        *pos += 1;
    }
}

fn parse_header(l: &Line) -> PResult<Header> {
    let mut p = LineParser::new(l);
    let kw = p.peek_span();
    let word = match p.peek() {
        Some(Tok::Ident(w)) if HEADERS.contains(&w.as_str()) => w.clone(),
        other => {
            let mut d = Diag::new(
                kw,
                match other {
                    Some(t) => format!("expected a section header, found {}", t.describe()),
                    None => "expected a section header".to_string(),
                },
            )
            .expected(
                "`scenario`, `config`, `process`, `setup:`, `thread NAME:`, `kthread NAME:`, `finally:` or `check:`",
            );
            if let Some(Tok::Ident(w)) = other {
                if let Some(s) = diag::did_you_mean(w, HEADERS.iter().copied()) {
                    d = d.help(format!("did you mean `{s}`?"));
                } else if p.toks().get(1).is_some_and(|t| t.tok == Tok::LParen || t.tok == Tok::Assign) {
                    d = d.help("statements belong in an indented section body, e.g. under `setup:`");
                }
            }
            return Err(d);
        }
    };
    p.i += 1;
    let h = match word.as_str() {
        "scenario" => match p.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                let sp = p.peek_span();
                p.i += 1;
                Header::Title(s, sp)
            }
            _ => return Err(p.unexpected("a quoted title, e.g. `scenario \"eventfd close vs signal\"`")),
        },
        "config" => {
            let mut items = Vec::new();
            while !p.at_end() {
                let key = p.ident("`KEY=VALUE`")?;
                p.expect(&Tok::Assign, "`=`")?;
                let mut value_span = p.peek_span();
                let value = match p.peek() {
                    Some(Tok::Int(n)) => ConfigValue::Int(*n),
                    Some(Tok::Ident(w)) => ConfigValue::Word(w.clone()),
                    _ => return Err(p.unexpected("an integer or a name")),
                };
                p.i += 1;
                // A word may contain `-` (`bug=eventfd-close-race`): join
                // the pieces written without spaces between them.
                let value = match value {
                    ConfigValue::Word(mut w) => {
                        while let (Some(minus), Some(next)) = (p.toks().get(p.i), p.toks().get(p.i + 1)) {
                            let adjacent = |a: Span, b: Span| a.line == b.line && a.col + a.len == b.col;
                            let piece = match &next.tok {
                                Tok::Ident(x) => x.clone(),
                                Tok::Int(_) => p.line.slice(next.span),
                                _ => break,
                            };
                            if minus.tok != Tok::Minus
                                || !adjacent(value_span, minus.span)
                                || !adjacent(minus.span, next.span)
                            {
                                break;
                            }
                            w.push('-');
                            w.push_str(&piece);
                            value_span = join(value_span, next.span);
                            p.i += 2;
                        }
                        ConfigValue::Word(w)
                    }
                    v => v,
                };
                items.push(ConfigItem { key, value, value_span });
            }
            if items.is_empty() {
                return Err(p.unexpected(
                    "`KEY=VALUE` (seed, preemptions, max_executions, max_steps, granularity, bug, pkeys or cap_sys_resource)",
                ));
            }
            Header::Config(items)
        }
        "process" => Header::Process(p.ident("a process name")?),
        "setup" | "finally" | "check" => {
            p.expect(&Tok::Colon, "`:`")?;
            match word.as_str() {
                "setup" => Header::Setup(kw),
                "finally" => Header::Finally(kw),
                _ => Header::Check(kw),
            }
        }
        _ => {
            let kind = if word == "thread" { ActorKind::Thread } else { ActorKind::Kthread };
            let name = p.ident(if word == "thread" { "a thread name" } else { "a kthread name" })?;
            let mut process = None;
            if p.peek().is_some_and(|t| t.is_ident("in")) {
                if kind == ActorKind::Kthread {
                    return Err(Diag::new(p.peek_span(), "a kthread does not belong to a process")
                        .expected("`:` or `(may block)`")
                        .help("only `thread NAME in PROC:` names a process"));
                }
                p.i += 1;
                process = Some(p.ident("a process name")?);
            }
            let mut may_block = false;
            if p.peek() == Some(&Tok::LParen) {
                p.i += 1;
                for w in ["may", "block"] {
                    if p.peek().is_some_and(|t| t.is_ident(w)) {
                        p.i += 1;
                    } else {
                        return Err(p.unexpected("`(may block)`"));
                    }
                }
                p.expect(&Tok::RParen, "`)`")?;
                may_block = true;
            }
            let exp = match (kind, &process, may_block) {
                (_, _, true) => "`:`",
                (ActorKind::Thread, None, false) => "`:`, `in PROC` or `(may block)`",
                _ => "`:` or `(may block)`",
            };
            p.expect(&Tok::Colon, exp)?;
            Header::Actor { kind, name, process, may_block, span: header_span(l) }
        }
    };
    if !p.at_end() {
        return Err(p.unexpected("end of line"));
    }
    Ok(h)
}

fn parse_check(l: &Line) -> PResult<Check> {
    let mut p = LineParser::new(l);
    let kind = match p.peek() {
        Some(Tok::Ident(w)) if w == "assert" => CheckKind::Assert,
        Some(Tok::Ident(w)) if w == "never" => CheckKind::Never,
        Some(Tok::Ident(w)) if w == "exists" => CheckKind::Exists,
        _ => return Err(p.unexpected("`assert`, `never` or `exists`")),
    };
    let kw = p.peek_span();
    p.i += 1;
    let start = p.i;
    let (expr, _) = p.expr()?;
    if !p.at_end() {
        return Err(p.unexpected("an operator or end of line"));
    }
    let first = p.toks()[start].span;
    let last = p.toks()[p.i - 1].span;
    let text = l.slice(join(first, last)).trim().to_string();
    Ok(Check { kind, expr, span: join(kw, last), text })
}

enum StmtHead {
    Call(CallStmt),
    Repeat { count: u64, count_span: Span, span: Span },
}

/// A cursor over one line's tokens.
struct LineParser<'a> {
    line: &'a Line,
    i: usize,
    /// Current nesting of parentheses, brackets, calls and unary operators.
    nest: u32,
}

type Ex = (Expr, u32);

impl<'a> LineParser<'a> {
    fn new(line: &'a Line) -> Self {
        LineParser { line, i: 0, nest: 0 }
    }

    fn toks(&self) -> &'a [Token] {
        &self.line.toks
    }

    fn peek(&self) -> Option<&'a Tok> {
        self.toks().get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&'a Tok> {
        self.toks().get(self.i + k).map(|t| &t.tok)
    }

    fn peek_span(&self) -> Span {
        self.toks().get(self.i).map(|t| t.span).unwrap_or(self.line.eol_span())
    }

    fn at_end(&self) -> bool {
        self.i >= self.toks().len()
    }

    /// The span from token `start` to the last consumed token.
    fn span_from(&self, start: usize) -> Span {
        let toks = self.toks();
        match (toks.get(start), self.i.checked_sub(1).and_then(|e| toks.get(e))) {
            (Some(a), Some(b)) if self.i > start => join(a.span, b.span),
            (Some(a), _) => a.span,
            _ => self.line.eol_span(),
        }
    }

    fn unexpected(&self, expected: &str) -> Diag {
        let found = match self.peek() {
            Some(t) => t.describe(),
            None => "end of line".to_string(),
        };
        Diag::new(self.peek_span(), format!("expected {expected}, found {found}")).expected(expected)
    }

    fn expect(&mut self, t: &Tok, expected: &str) -> PResult<()> {
        if self.peek() == Some(t) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn ident(&mut self, expected: &str) -> PResult<Ident> {
        match self.peek() {
            Some(Tok::Ident(w)) => {
                let id = Ident { name: w.clone(), span: self.peek_span() };
                self.i += 1;
                Ok(id)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.nest += 1;
        if self.nest > MAX_NESTING {
            return Err(Diag::new(self.peek_span(), "expression nested too deeply")
                .expected(format!("at most {MAX_NESTING} levels of nesting")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nest = self.nest.saturating_sub(1);
    }

    fn depth(&self, d: u32) -> PResult<u32> {
        if d > MAX_TREE_DEPTH {
            return Err(Diag::new(self.peek_span(), "expression nested too deeply")
                .expected(format!("an expression at most {MAX_TREE_DEPTH} operators deep")));
        }
        Ok(d)
    }

    // ---- statements -------------------------------------------------------

    fn stmt(&mut self) -> PResult<StmtHead> {
        let start = self.i;
        if self.peek().is_some_and(|t| t.is_ident("repeat"))
            && !matches!(self.peek_at(1), Some(Tok::LParen) | Some(Tok::Assign))
        {
            self.i += 1;
            let count_span = self.peek_span();
            let count = match self.peek() {
                Some(Tok::Int(n)) => *n,
                _ => return Err(self.unexpected("a non-negative integer count, as in `repeat 3:`")),
            };
            self.i += 1;
            self.expect(&Tok::Colon, "`:`")?;
            if !self.at_end() {
                return Err(self.unexpected("end of line (the body goes on the following, indented lines)"));
            }
            return Ok(StmtHead::Repeat { count, count_span, span: self.span_from(start) });
        }
        let bind = match (self.peek(), self.peek_at(1)) {
            (Some(Tok::LParen), _) => {
                self.i += 1;
                let a = self.ident("a name, as in `(A, B) = pipe2(...)`")?;
                self.expect(&Tok::Comma, "`,`")?;
                let b = self.ident("a name")?;
                self.expect(&Tok::RParen, "`)`")?;
                self.expect(&Tok::Assign, "`=`")?;
                Bind::Pair(a, b)
            }
            (Some(Tok::Ident(_)), Some(Tok::Assign)) => {
                let a = self.ident("a name")?;
                self.i += 1;
                Bind::One(a)
            }
            (Some(Tok::Ident(_)), Some(Tok::LParen)) => Bind::None,
            (Some(Tok::Ident(_)), _) => {
                self.i += 1;
                return Err(self.unexpected("`(` (a call) or `=` (a binding)"));
            }
            _ => {
                return Err(self.unexpected("a statement: `CALL(ARGS)`, `NAME = CALL(ARGS)` or `repeat N:`"));
            }
        };
        let call = match (self.peek(), self.peek_at(1)) {
            (Some(Tok::Ident(_)), Some(Tok::LParen)) => self.call()?.0,
            (Some(Tok::Ident(_)), _) => {
                self.i += 1;
                return Err(self.unexpected("`(` after the call name"));
            }
            _ => return Err(self.unexpected("a call, as in `NAME(ARGS)`")),
        };
        let mut pattern = None;
        if self.peek() == Some(&Tok::FatArrow) {
            self.i += 1;
            let mut alts = Vec::new();
            loop {
                alts.push(self.pat_alt()?);
                if self.peek().is_some_and(|t| t.is_ident("or")) {
                    self.i += 1;
                } else {
                    break;
                }
            }
            pattern = Some(alts);
            if !self.at_end() {
                return Err(self.unexpected("`or`, an operator or end of line"));
            }
        } else if !self.at_end() {
            return Err(self.unexpected("`=>` or end of line"));
        }
        Ok(StmtHead::Call(CallStmt { bind, call, pattern, span: self.span_from(start) }))
    }

    fn pat_alt(&mut self) -> PResult<PatAlt> {
        let alone = match self.peek_at(1) {
            None => true,
            Some(t) => t.is_ident("or"),
        };
        match self.peek() {
            Some(Tok::Ident(w)) if alone && w == "ok" => {
                let sp = self.peek_span();
                self.i += 1;
                Ok(PatAlt::Ok(sp))
            }
            Some(Tok::Ident(w)) if alone && w == "_" => {
                let sp = self.peek_span();
                self.i += 1;
                Ok(PatAlt::Any(sp))
            }
            None => Err(self.unexpected("a pattern: a value, an errno name, `ok` or `_`")),
            _ => Ok(PatAlt::Expr(self.expr()?.0)),
        }
    }

    /// `NAME(ARGS)`, with the tree depth of its deepest argument plus one.
    fn call(&mut self) -> PResult<(CallExpr, u32)> {
        let start = self.i;
        let name = self.ident("a call name")?;
        self.expect(&Tok::LParen, "`(`")?;
        self.enter()?;
        let mut args: Vec<Arg> = Vec::new();
        let mut seen_named = false;
        let mut depth = 0;
        loop {
            if self.peek() == Some(&Tok::RParen) {
                self.i += 1;
                break;
            }
            let named = matches!((self.peek(), self.peek_at(1)), (Some(Tok::Ident(_)), Some(Tok::Assign)));
            if named {
                let n = self.ident("an argument name")?;
                self.i += 1;
                let (value, d) = self.expr()?;
                depth = depth.max(d);
                seen_named = true;
                args.push(Arg { name: Some(n), value });
            } else {
                if self.at_end() {
                    return Err(self.unexpected("an argument or `)`"));
                }
                let arg_span = self.peek_span();
                let (value, d) = self.expr()?;
                depth = depth.max(d);
                if seen_named {
                    return Err(Diag::new(join(arg_span, value.span()), "positional argument after a named argument")
                        .expected("a named argument `NAME=VALUE` or `)`")
                        .help("positional arguments come first, then the named ones"));
                }
                args.push(Arg { name: None, value });
            }
            match self.peek() {
                Some(Tok::Comma) => self.i += 1,
                Some(Tok::RParen) => {}
                _ => return Err(self.unexpected("`,` or `)`")),
            }
        }
        self.leave();
        let depth = self.depth(depth + 1)?;
        Ok((CallExpr { name, args, span: self.span_from(start) }, depth))
    }

    // ---- expressions ------------------------------------------------------

    fn expr(&mut self) -> PResult<Ex> {
        self.enter()?;
        let r = self.or_expr();
        self.leave();
        r
    }

    fn bin(&self, op: BinOp, l: Ex, r: Ex, start: usize) -> PResult<Ex> {
        let d = self.depth(l.1.max(r.1) + 1)?;
        Ok((Expr::Binary(op, Box::new(l.0), Box::new(r.0), self.span_from(start)), d))
    }

    fn or_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let mut l = self.and_expr()?;
        while self.peek() == Some(&Tok::OrOr) {
            self.i += 1;
            let r = self.and_expr()?;
            l = self.bin(BinOp::Or, l, r, start)?;
        }
        Ok(l)
    }

    fn and_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let mut l = self.not_expr()?;
        while self.peek() == Some(&Tok::AndAnd) {
            self.i += 1;
            let r = self.not_expr()?;
            l = self.bin(BinOp::And, l, r, start)?;
        }
        Ok(l)
    }

    fn not_expr(&mut self) -> PResult<Ex> {
        if self.peek() == Some(&Tok::Not) {
            let start = self.i;
            self.i += 1;
            self.enter()?;
            let (e, d) = self.not_expr()?;
            self.leave();
            let d = self.depth(d + 1)?;
            return Ok((Expr::Unary(UnOp::Not, Box::new(e), self.span_from(start)), d));
        }
        self.cmp_expr()
    }

    fn cmp_op(&self) -> Option<BinOp> {
        match self.peek()? {
            Tok::EqEq => Some(BinOp::Eq),
            Tok::Ne => Some(BinOp::Ne),
            Tok::Lt => Some(BinOp::Lt),
            Tok::Le => Some(BinOp::Le),
            Tok::Gt => Some(BinOp::Gt),
            Tok::Ge => Some(BinOp::Ge),
            _ => None,
        }
    }

    fn cmp_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let l = self.bitor_expr()?;
        let e = if let Some(op) = self.cmp_op() {
            self.i += 1;
            let r = self.bitor_expr()?;
            self.bin(op, l, r, start)?
        } else if self.peek().is_some_and(|t| t.is_ident("in")) {
            self.i += 1;
            self.expect(&Tok::LBrace, "`{` (a set, as in `x in {1, EBADF}`)")?;
            self.enter()?;
            let (items, d) = self.items(&Tok::RBrace, "`,` or `}`")?;
            self.leave();
            let d = self.depth(d.max(l.1) + 1)?;
            (Expr::In(Box::new(l.0), items, self.span_from(start)), d)
        } else {
            return Ok(l);
        };
        if self.cmp_op().is_some() || self.peek().is_some_and(|t| t.is_ident("in")) {
            return Err(Diag::new(self.peek_span(), "comparisons cannot be chained")
                .expected("`&&`, `||` or the end of the expression")
                .help("use parentheses or `&&`, e.g. `a < b && b < c`"));
        }
        Ok(e)
    }

    /// Comma-separated expressions up to `close` (which is consumed). A
    /// trailing comma is allowed.
    fn items(&mut self, close: &Tok, expected: &str) -> PResult<(Vec<Expr>, u32)> {
        let mut items = Vec::new();
        let mut d = 0;
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok((items, d));
            }
            let (e, ed) = self.expr()?;
            d = d.max(ed);
            items.push(e);
            match self.peek() {
                Some(Tok::Comma) => self.i += 1,
                Some(t) if t == close => {}
                _ => return Err(self.unexpected(expected)),
            }
        }
    }

    fn bitor_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let mut l = self.bitand_expr()?;
        while self.peek() == Some(&Tok::Pipe) {
            self.i += 1;
            let r = self.bitand_expr()?;
            l = self.bin(BinOp::BitOr, l, r, start)?;
        }
        Ok(l)
    }

    fn bitand_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let mut l = self.add_expr()?;
        while self.peek() == Some(&Tok::Amp) {
            self.i += 1;
            let r = self.add_expr()?;
            l = self.bin(BinOp::BitAnd, l, r, start)?;
        }
        Ok(l)
    }

    fn add_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let mut l = self.mul_expr()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => BinOp::Add,
                Some(Tok::Minus) => BinOp::Sub,
                _ => return Ok(l),
            };
            self.i += 1;
            let r = self.mul_expr()?;
            l = self.bin(op, l, r, start)?;
        }
    }

    fn mul_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let mut l = self.unary_expr()?;
        while self.peek() == Some(&Tok::Star) {
            self.i += 1;
            let r = self.unary_expr()?;
            l = self.bin(BinOp::Mul, l, r, start)?;
        }
        Ok(l)
    }

    fn unary_expr(&mut self) -> PResult<Ex> {
        let op = match self.peek() {
            Some(Tok::Minus) => UnOp::Neg,
            Some(Tok::Not) => UnOp::Not,
            _ => return self.postfix_expr(),
        };
        let start = self.i;
        self.i += 1;
        self.enter()?;
        let (e, d) = self.unary_expr()?;
        self.leave();
        let d = self.depth(d + 1)?;
        Ok((Expr::Unary(op, Box::new(e), self.span_from(start)), d))
    }

    fn postfix_expr(&mut self) -> PResult<Ex> {
        let start = self.i;
        let (mut e, mut d) = self.primary()?;
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.i += 1;
                    let f = self.ident("a field name after `.`")?;
                    d = self.depth(d + 1)?;
                    e = Expr::Field(Box::new(e), f);
                }
                Some(Tok::LBracket) => {
                    self.i += 1;
                    let (idx, id) = self.expr()?;
                    self.expect(&Tok::RBracket, "`]`")?;
                    d = self.depth(d.max(id) + 1)?;
                    e = Expr::Index(Box::new(e), Box::new(idx), self.span_from(start));
                }
                _ => return Ok((e, d)),
            }
        }
    }

    fn primary(&mut self) -> PResult<Ex> {
        let start = self.i;
        let sp = self.peek_span();
        let tok = match self.peek() {
            Some(t) => t,
            None => return Err(self.unexpected("an expression")),
        };
        let e = match tok {
            Tok::Int(n) => {
                self.i += 1;
                Expr::Int(*n, sp)
            }
            Tok::Str(s) => {
                self.i += 1;
                Expr::Str(s.clone(), sp)
            }
            Tok::Bytes(b) => {
                self.i += 1;
                Expr::Bytes(b.clone(), sp)
            }
            Tok::Ident(w) if w == "or" || w == "in" => return Err(self.unexpected("an expression")),
            Tok::Ident(_) if self.peek_at(1) == Some(&Tok::LParen) => {
                let (c, d) = self.call()?;
                return Ok((Expr::Call(c), d));
            }
            Tok::Ident(w) => {
                self.i += 1;
                match w.as_str() {
                    "unset" => Expr::Unset(sp),
                    "NULL" => Expr::Null(sp),
                    _ => Expr::Name(Ident { name: w.clone(), span: sp }),
                }
            }
            Tok::LBracket => {
                self.i += 1;
                self.enter()?;
                let (items, d) = self.items(&Tok::RBracket, "`,` or `]`")?;
                self.leave();
                let d = self.depth(d + 1)?;
                return Ok((Expr::List(items, self.span_from(start)), d));
            }
            Tok::LParen => {
                self.i += 1;
                let (e, d) = self.expr()?;
                self.expect(&Tok::RParen, "`)`")?;
                return Ok((widen(e, self.span_from(start)), d));
            }
            _ => return Err(self.unexpected("an expression")),
        };
        Ok((e, 1))
    }
}

/// Gives a parenthesized expression the span of its parentheses, where the
/// node has a span of its own.
fn widen(e: Expr, sp: Span) -> Expr {
    match e {
        Expr::Int(n, _) => Expr::Int(n, sp),
        Expr::Str(s, _) => Expr::Str(s, sp),
        Expr::Bytes(b, _) => Expr::Bytes(b, sp),
        Expr::Unset(_) => Expr::Unset(sp),
        Expr::Null(_) => Expr::Null(sp),
        Expr::Index(a, b, _) => Expr::Index(a, b, sp),
        Expr::List(v, _) => Expr::List(v, sp),
        Expr::Binary(op, a, b, _) => Expr::Binary(op, a, b, sp),
        Expr::Unary(op, a, _) => Expr::Unary(op, a, sp),
        Expr::In(a, v, _) => Expr::In(a, v, sp),
        other => other,
    }
}
