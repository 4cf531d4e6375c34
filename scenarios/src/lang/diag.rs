//! Diagnostics: what went wrong, where, and what was expected there
//! (the book's scenario-language chapter, "Diagnostics": an error names the
//! file, line and column, and says what was expected there).
//!
//! Rendering is linear in the file: the lines are indexed once
//! ([`Lines`]), and at most [`MAX_SHOWN`] diagnostics are printed, the rest
//! counted. [`decode`] turns a file's bytes into text, or an error at the
//! first byte that is not UTF-8.

use super::ast::Span;

/// One error found while lexing, parsing or resolving a `.scn` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub span: Span,
    /// The headline, e.g. "unknown call `evntfd`".
    pub message: String,
    /// What was expected at the span, printed after the carets as
    /// "expected ...", e.g. "a call name; did you mean `eventfd`?".
    pub expected: Option<String>,
    /// An extra hint, printed as a `= help:` line.
    pub help: Option<String>,
}

impl Diag {
    pub fn new(span: Span, message: impl Into<String>) -> Diag {
        Diag { span, message: message.into(), expected: None, help: None }
    }

    pub fn expected(mut self, e: impl Into<String>) -> Diag {
        self.expected = Some(e.into());
        self
    }

    pub fn help(mut self, h: impl Into<String>) -> Diag {
        self.help = Some(h.into());
        self
    }
}

/// Sorts diagnostics into source order (stable, so diagnostics at the same
/// place keep the order they were found in) and drops exact duplicates.
pub fn sort(diags: &mut Vec<Diag>) {
    diags.sort_by_key(|d| (d.span.line, d.span.col));
    diags.dedup();
}

/// The most diagnostics printed for one file. The rest are counted on a
/// last line, "and N more errors": a file with more errors than this is
/// rarely a scenario with typos (more often the wrong file), and its first
/// errors are the ones to fix; rendering stays cheap however long the file.
pub const MAX_SHOWN: usize = 50;

/// Where each line of a source text starts, found in one pass, so that
/// rendering a diagnostic finds its line without splitting the source again
/// (rendering every error of a file is linear in the file).
pub struct Lines<'a> {
    src: &'a str,
    /// The byte offset at which each line starts; `starts[0]` is 0.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(src: &'a str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(src.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        Lines { src, starts }
    }

    /// Line `n` (from 1) without its line break, a trailing `\r` or (on
    /// line 1) a byte-order mark; empty past the end.
    pub fn get(&self, n: u32) -> &'a str {
        let Some(&start) = (n as usize).checked_sub(1).and_then(|i| self.starts.get(i)) else {
            return "";
        };
        let end = self.starts.get(n as usize).map(|e| e - 1).unwrap_or(self.src.len());
        let text = &self.src[start..end];
        let text = text.strip_suffix('\r').unwrap_or(text);
        if n == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        }
    }
}

/// Renders a diagnostic in the form
///
/// ```text
/// error: unknown call `evntfd`
///  --> tests/x.scn:5:9
///   |
/// 5 |   efd = evntfd(0, 0)
///   |         ^^^^^^ expected a call name; did you mean `eventfd`?
/// ```
///
/// followed by `  = help: ...` when the diagnostic has a help text. The
/// result ends with a newline. To render several, use [`render_all`],
/// which indexes the lines once.
pub fn render(path: &str, src: &str, d: &Diag) -> String {
    render_line(path, Lines::new(src).get(d.span.line.max(1)), d)
}

/// As [`render`], given the text of the diagnostic's line.
pub fn render_line(path: &str, text: &str, d: &Diag) -> String {
    let line_no = d.span.line.max(1);
    let col = d.span.col.max(1);
    let num = line_no.to_string();
    let pad = " ".repeat(num.len());
    let mut out = String::new();
    out.push_str(&format!("error: {}\n", d.message));
    out.push_str(&format!("{pad}--> {path}:{line_no}:{col}\n"));
    out.push_str(&format!("{pad} |\n"));
    out.push_str(&format!("{num} | {text}\n"));
    // Keep tabs in the lead-in so that the caret lines up under the text.
    let lead: String = text
        .chars()
        .chain(std::iter::repeat(' '))
        .take((col - 1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let carets = "^".repeat(d.span.len.clamp(1, 1000) as usize);
    let mut caret_line = format!("{pad} | {lead}{carets}");
    if let Some(e) = &d.expected {
        caret_line.push_str(" expected ");
        caret_line.push_str(e);
    }
    out.push_str(&caret_line);
    out.push('\n');
    if let Some(h) = &d.help {
        out.push_str(&format!("{pad} = help: {h}\n"));
    }
    out
}

/// Renders the first [`MAX_SHOWN`] diagnostics, in the order given,
/// separated by blank lines; when there are more, a last line counts them
/// ("and N more errors").
pub fn render_all(path: &str, src: &str, diags: &[Diag]) -> String {
    let lines = Lines::new(src);
    let shown = diags.len().min(MAX_SHOWN);
    let mut out = diags[..shown]
        .iter()
        .map(|d| render_line(path, lines.get(d.span.line.max(1)), d))
        .collect::<Vec<_>>()
        .join("\n");
    let more = diags.len() - shown;
    if more > 0 {
        let s = if more == 1 { "" } else { "s" };
        out.push_str(&format!("\nand {more} more error{s} (only the first {MAX_SHOWN} are shown)\n"));
    }
    out
}

/// The source text of a file read as `bytes`, or, when it is not UTF-8, an
/// error rendered like the others, at the line and column (in characters,
/// as everywhere) of the first byte that is not part of a UTF-8 character.
pub fn decode<'b>(path: &str, bytes: &'b [u8]) -> Result<&'b str, String> {
    let e = match std::str::from_utf8(bytes) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let at = e.valid_up_to();
    let start = bytes[..at].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let end = bytes[at..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| at + i);
    let line = 1 + bytes[..start].iter().filter(|b| **b == b'\n').count();
    // The line up to the bad byte is valid UTF-8; the rest is shown with
    // U+FFFD in place of each bad sequence.
    let before = std::str::from_utf8(&bytes[start..at]).unwrap_or_default();
    let col = 1 + before.chars().count();
    let text = String::from_utf8_lossy(&bytes[start..end]);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let text = if line == 1 { text.strip_prefix('\u{feff}').unwrap_or(text) } else { text };
    let col = if line == 1 && before.starts_with('\u{feff}') { col - 1 } else { col };
    let span =
        Span { line: u32::try_from(line).unwrap_or(u32::MAX), col: u32::try_from(col).unwrap_or(u32::MAX), len: 1 };
    let d = Diag::new(span, format!("the file is not UTF-8 text (byte 0x{:02x} at offset {at})", bytes[at]))
        .expected("UTF-8 text")
        .help("scenario files are UTF-8; write other bytes as `\\xHH` escapes in a `b\"...\"` literal");
    Err(render_line(path, text, &d))
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within edit distance 2 (and closer than the length
/// of `name`, so that one-letter names do not match everything), ties broken
/// alphabetically.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    // Long names cannot be within distance 2 of short ones; skip the work.
    let n = name.chars().count();
    if n > 200 {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let m = c.chars().count();
        if m.abs_diff(n) > 2 {
            continue;
        }
        let d = edit_distance(name, c);
        if d > 2 || d >= n {
            continue;
        }
        let better = match best {
            None => true,
            Some((bd, bc)) => d < bd || (d == bd && c < bc),
        };
        if better {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// "`a`, `b` or `c`".
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}
