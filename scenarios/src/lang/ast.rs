//! The syntax tree of a `.scn` file, exactly as written (the book's
//! scenario-language chapter, "File structure" to "Values"). Produced by [`super::parser`], consumed by
//! [`super::resolve`], which checks it against the call catalog and lowers it
//! to the [`super::ir`] the interpreter runs.

/// A place in the source: 1-based line and column (in characters), and the
/// length of the token or construct in characters (at least 1), for carets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct File {
    /// `scenario "TITLE"`.
    pub title: Option<(String, Span)>,
    /// Every `config KEY=VALUE ...` item, in order (a file may have several
    /// config lines). `bug=NAME` may repeat.
    pub config: Vec<ConfigItem>,
    /// `process NAME` lines (not counting the implicit `main`).
    pub processes: Vec<Ident>,
    pub setup: Option<Section>,
    /// `thread` and `kthread` sections in file order.
    pub actors: Vec<ActorDecl>,
    pub finally: Option<Section>,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug)]
pub struct ConfigItem {
    pub key: Ident,
    /// The raw value token: an integer literal or an identifier (bug names).
    pub value: ConfigValue,
    pub value_span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    Int(u64),
    Word(String),
}

#[derive(Clone, Debug)]
pub struct Section {
    pub span: Span,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    Thread,
    Kthread,
}

#[derive(Clone, Debug)]
pub struct ActorDecl {
    pub kind: ActorKind,
    pub name: Ident,
    /// `thread NAME in PROC:`; `None` means `main`. Always `None` for kthreads.
    pub process: Option<Ident>,
    /// `(may block)`.
    pub may_block: bool,
    pub span: Span,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug)]
pub enum Stmt {
    Call(CallStmt),
    Repeat { count: u64, count_span: Span, span: Span, body: Vec<Stmt> },
}

#[derive(Clone, Debug)]
pub struct CallStmt {
    pub bind: Bind,
    pub call: CallExpr,
    /// `=> PATTERN`: alternatives joined with `or`.
    pub pattern: Option<Vec<PatAlt>>,
    /// The whole statement.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Bind {
    None,
    One(Ident),
    Pair(Ident, Ident),
}

#[derive(Clone, Debug)]
pub struct CallExpr {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Arg {
    /// `name=value`; `None` for positional.
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Debug)]
pub enum PatAlt {
    /// `ok`: any value that is not an errno.
    Ok(Span),
    /// `_`: anything.
    Any(Span),
    /// A value, errno name, flag expression or builtin, compared for equality.
    Expr(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Add,
    Sub,
    Mul,
    BitAnd,
    BitOr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Debug)]
pub enum Expr {
    /// Integer literal, decimal or 0x hex, up to u64::MAX. `-1` parses as
    /// `Unary(Neg, Int(1))`; the resolver folds it to two's complement.
    Int(u64, Span),
    Str(String, Span),
    Bytes(Vec<u8>, Span),
    /// `unset`.
    Unset(Span),
    /// `NULL` (an absent pointer argument, e.g. to remove a filter).
    Null(Span),
    /// A bare identifier: a bound name, a constant, or (in `check`) an actor.
    Name(Ident),
    /// `BASE.FIELD`: a record field, or in `check`, `ACTOR.NAME`.
    Field(Box<Expr>, Ident),
    /// `BASE[INDEX]`.
    Index(Box<Expr>, Box<Expr>, Span),
    /// `f(args)` inside an expression: a value builtin (`u64`, `cat`, `fill`,
    /// `len`, `blocked`, subsystem builtins such as `note`, `filter`).
    Call(CallExpr),
    /// `[a, b, ...]`.
    List(Vec<Expr>, Span),
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
    Unary(UnOp, Box<Expr>, Span),
    /// `X in {A, B, ...}`.
    In(Box<Expr>, Vec<Expr>, Span),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Int(_, s)
            | Expr::Str(_, s)
            | Expr::Bytes(_, s)
            | Expr::Unset(s)
            | Expr::Null(s)
            | Expr::Index(_, _, s)
            | Expr::List(_, s)
            | Expr::Binary(_, _, _, s)
            | Expr::Unary(_, _, s)
            | Expr::In(_, _, s) => *s,
            Expr::Name(i) => i.span,
            Expr::Field(base, f) => join(base.span(), f.span),
            Expr::Call(c) => c.span,
        }
    }
}

/// The span from the start of `a` to the end of `b` (same line, or `a` alone).
pub fn join(a: Span, b: Span) -> Span {
    if a.line == b.line && b.col >= a.col {
        Span { line: a.line, col: a.col, len: (b.col + b.len - a.col).max(1) }
    } else {
        a
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    Assert,
    Never,
    Exists,
}

#[derive(Clone, Debug)]
pub struct Check {
    pub kind: CheckKind,
    pub expr: Expr,
    pub span: Span,
    /// The check's source text after the keyword, trimmed, for reports.
    pub text: String,
}
