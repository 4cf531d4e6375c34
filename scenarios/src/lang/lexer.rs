//! The `.scn` lexer. The language is line-oriented (a section header at
//! column 1, indented bodies, one statement per line), so the lexer hands the
//! parser one [`Line`] per non-blank, non-comment source line: its
//! indentation and its tokens, each with a 1-based line/column span counted
//! in characters.

use super::ast::Span;
use super::diag::Diag;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A word: names, keywords (`thread`, `repeat`, `or`, `in`, `ok`, ...)
    /// and `_`.
    Ident(String),
    Int(u64),
    Str(String),
    Bytes(Vec<u8>),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Dot,
    Colon,
    /// `=`
    Assign,
    /// `=>`
    FatArrow,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `!`
    Not,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `|`
    Pipe,
    /// `&`
    Amp,
    Plus,
    Minus,
    Star,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(n) => format!("integer `{n}`"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Bytes(_) => "a byte string".to_string(),
            other => format!("`{}`", other.punct()),
        }
    }

    fn punct(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Colon => ":",
            Tok::Assign => "=",
            Tok::FatArrow => "=>",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Not => "!",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Pipe => "|",
            Tok::Amp => "&",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Ident(_) | Tok::Int(_) | Tok::Str(_) | Tok::Bytes(_) => "",
        }
    }

    pub fn is_ident(&self, word: &str) -> bool {
        matches!(self, Tok::Ident(s) if s == word)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// One source line that holds at least one token.
#[derive(Clone, Debug)]
pub struct Line {
    /// 1-based line number.
    pub line: u32,
    /// Number of leading spaces (the column of the first token minus one).
    pub indent: u32,
    pub toks: Vec<Token>,
    /// The line's characters (without the line break), for slicing source
    /// text out by span.
    pub chars: Vec<char>,
    /// The column just after the last token (where "end of line" is).
    pub end_col: u32,
    /// The lexer reported an error on this line: the parser must not report
    /// more (one error per line), and must not trust its tokens.
    pub bad: bool,
}

impl Line {
    /// The source text covered by `span` (which must be on this line).
    pub fn slice(&self, span: Span) -> String {
        let start = (span.col.max(1) - 1) as usize;
        let end = (start + span.len as usize).min(self.chars.len());
        if start >= end {
            return String::new();
        }
        self.chars[start..end].iter().collect()
    }

    /// The span just past the last token, for "expected ... at end of line".
    pub fn eol_span(&self) -> Span {
        Span { line: self.line, col: self.end_col, len: 1 }
    }
}

fn clamp32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `src` into lines and tokens. Blank and comment-only lines are
/// dropped. Lexical errors (tabs in indentation, bad characters, bad
/// literals) are returned in source order, at most one per line; such lines
/// are still returned, marked `bad`.
pub fn lex(src: &str) -> (Vec<Line>, Vec<Diag>) {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut lines = Vec::new();
    let mut diags = Vec::new();
    for (i, raw) in src.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // Blank and comment-only lines (indented with spaces only: a tab
        // is an error the line lexer reports) hold nothing to keep.
        let rest = raw.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let line_no = clamp32(i + 1);
        let chars: Vec<char> = raw.chars().collect();
        let mut lx = LineLexer { chars: &chars, pos: 0, line: line_no, toks: Vec::new(), err: None };
        lx.run();
        if lx.toks.is_empty() && lx.err.is_none() {
            continue;
        }
        let indent = chars.iter().take_while(|c| **c == ' ' || **c == '\t').count();
        let end_col = lx.toks.last().map(|t| t.span.col + t.span.len).unwrap_or(clamp32(indent + 1));
        let bad = lx.err.is_some();
        if let Some(d) = lx.err {
            diags.push(d);
        }
        lines.push(Line { line: line_no, indent: clamp32(indent), toks: lx.toks, chars, end_col, bad });
    }
    (lines, diags)
}

struct LineLexer<'a> {
    chars: &'a [char],
    pos: usize,
    line: u32,
    toks: Vec<Token>,
    err: Option<Diag>,
}

impl LineLexer<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span { line: self.line, col: clamp32(start + 1), len: clamp32(end.saturating_sub(start).max(1)) }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    fn error(&mut self, d: Diag) {
        if self.err.is_none() {
            self.err = Some(d);
        }
    }

    fn run(&mut self) {
        // Indentation: spaces only.
        while let Some(c) = self.peek(0) {
            if c == ' ' {
                self.pos += 1;
            } else if c == '\t' {
                let sp = self.span(self.pos, self.pos + 1);
                self.error(
                    Diag::new(sp, "tab in indentation")
                        .expected("spaces")
                        .help("indent section bodies with spaces, not tabs"),
                );
                self.pos += 1;
            } else {
                break;
            }
        }
        while self.pos < self.chars.len() {
            let c = self.chars[self.pos];
            if c == ' ' || c == '\t' {
                self.pos += 1;
                continue;
            }
            if c == '#' {
                break;
            }
            let start = self.pos;
            if c == 'b' && self.peek(1) == Some('"') {
                self.pos += 1;
                self.string(start, true);
                continue;
            }
            if c == '"' {
                self.string(start, false);
                continue;
            }
            if c.is_ascii_digit() {
                self.number(start);
                continue;
            }
            if is_ident_start(c) {
                while self.peek(0).is_some_and(is_ident_char) {
                    self.pos += 1;
                }
                let s: String = self.chars[start..self.pos].iter().collect();
                self.push(Tok::Ident(s), start);
                continue;
            }
            let two = |a: char, b: char| c == a && self.peek(1) == Some(b);
            let (tok, n) = if two('=', '>') {
                (Tok::FatArrow, 2)
            } else if two('=', '=') {
                (Tok::EqEq, 2)
            } else if two('!', '=') {
                (Tok::Ne, 2)
            } else if two('<', '=') {
                (Tok::Le, 2)
            } else if two('>', '=') {
                (Tok::Ge, 2)
            } else if two('&', '&') {
                (Tok::AndAnd, 2)
            } else if two('|', '|') {
                (Tok::OrOr, 2)
            } else {
                let t = match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    ',' => Tok::Comma,
                    '.' => Tok::Dot,
                    ':' => Tok::Colon,
                    '=' => Tok::Assign,
                    '<' => Tok::Lt,
                    '>' => Tok::Gt,
                    '!' => Tok::Not,
                    '&' => Tok::Amp,
                    '|' => Tok::Pipe,
                    '+' => Tok::Plus,
                    '-' => Tok::Minus,
                    '*' => Tok::Star,
                    _ => {
                        let sp = self.span(start, start + 1);
                        let shown = if c.is_control() || c.is_whitespace() {
                            format!("{}", c.escape_unicode())
                        } else {
                            c.to_string()
                        };
                        self.error(
                            Diag::new(sp, format!("unexpected character `{shown}`"))
                                .expected("a name, a literal or an operator"),
                        );
                        self.pos += 1;
                        continue;
                    }
                };
                (t, 1)
            };
            self.pos += n;
            self.push(tok, start);
        }
    }

    fn push(&mut self, tok: Tok, start: usize) {
        let span = self.span(start, self.pos);
        self.toks.push(Token { tok, span });
    }

    fn number(&mut self, start: usize) {
        let hex = self.chars[start] == '0' && matches!(self.peek(1), Some('x') | Some('X'));
        if hex {
            self.pos += 2;
        }
        let digits_start = self.pos;
        while self.peek(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let body: Vec<char> = self.chars[digits_start..self.pos].iter().copied().filter(|c| *c != '_').collect();
        let radix = if hex { 16 } else { 10 };
        let sp = self.span(start, self.pos);
        if body.is_empty() {
            self.error(
                Diag::new(sp, format!("invalid integer literal `{text}`")).expected("hexadecimal digits after `0x`"),
            );
            self.push(Tok::Int(0), start);
            return;
        }
        if let Some(bad) = body.iter().find(|c| !c.is_digit(radix)) {
            let what = if hex { "hexadecimal" } else { "decimal" };
            self.error(
                Diag::new(sp, format!("invalid digit `{bad}` in integer literal `{text}`"))
                    .expected(format!("{what} digits")),
            );
            self.push(Tok::Int(0), start);
            return;
        }
        let mut v: u64 = 0;
        let mut overflow = false;
        for c in &body {
            let d = u64::from(c.to_digit(radix).unwrap_or(0));
            match v.checked_mul(u64::from(radix)).and_then(|x| x.checked_add(d)) {
                Some(x) => v = x,
                None => {
                    overflow = true;
                    break;
                }
            }
        }
        if overflow {
            self.error(
                Diag::new(sp, format!("integer literal `{text}` does not fit in 64 bits"))
                    .expected("an integer up to 0xffffffffffffffff (18446744073709551615)"),
            );
            v = u64::MAX;
        }
        self.push(Tok::Int(v), start);
    }

    /// A `"string"` or `b"bytes"` literal; `start` is at the opening `"` or
    /// at the `b`, and `self.pos` at the opening `"`.
    fn string(&mut self, start: usize, bytes: bool) {
        self.pos += 1; // the opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                let sp = self.span(start, self.pos);
                self.error(Diag::new(sp, "unterminated string literal").expected("a closing `\"` on the same line"));
                self.push_str(out, bytes, start);
                return;
            };
            if c == '"' {
                self.pos += 1;
                break;
            }
            if c != '\\' {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                self.pos += 1;
                continue;
            }
            let esc_start = self.pos;
            self.pos += 1;
            let e = self.peek(0);
            self.pos += 1;
            let byte = match e {
                Some('n') => b'\n',
                Some('t') => b'\t',
                Some('r') => b'\r',
                Some('\\') => b'\\',
                Some('"') => b'"',
                Some('0') => 0,
                Some('x') => {
                    let h1 = self.peek(0).and_then(|c| c.to_digit(16));
                    let h2 = self.peek(1).and_then(|c| c.to_digit(16));
                    match (h1, h2) {
                        (Some(a), Some(b)) => {
                            self.pos += 2;
                            let v = (a * 16 + b) as u8;
                            if !bytes && v > 0x7f {
                                let sp = self.span(esc_start, self.pos);
                                self.error(
                                    Diag::new(sp, format!("`\\x{v:02x}` is not ASCII in a text string"))
                                        .expected("an escape up to `\\x7f`")
                                        .help("use a byte string (b\"...\") for arbitrary bytes"),
                                );
                            }
                            v
                        }
                        _ => {
                            let sp = self.span(esc_start, self.pos.min(self.chars.len()));
                            self.error(
                                Diag::new(sp, "invalid `\\x` escape").expected("two hexadecimal digits after `\\x`"),
                            );
                            0
                        }
                    }
                }
                None => {
                    self.pos = self.chars.len();
                    let sp = self.span(esc_start, self.pos);
                    self.error(
                        Diag::new(sp, "unterminated string literal").expected("a closing `\"` on the same line"),
                    );
                    self.push_str(out, bytes, start);
                    return;
                }
                Some(other) => {
                    let sp = self.span(esc_start, self.pos);
                    self.error(
                        Diag::new(sp, format!("unknown escape `\\{other}`"))
                            .expected("one of `\\n`, `\\t`, `\\r`, `\\\\`, `\\\"`, `\\0`, `\\xHH`"),
                    );
                    0
                }
            };
            out.push(byte);
        }
        self.push_str(out, bytes, start);
    }

    fn push_str(&mut self, out: Vec<u8>, bytes: bool, start: usize) {
        let tok = if bytes {
            Tok::Bytes(out)
        } else {
            Tok::Str(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        };
        self.push(tok, start);
    }
}
