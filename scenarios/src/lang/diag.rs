//! Diagnostics: what went wrong, where, and what was expected there
//! (SCENARIO-LANGUAGE.md section 6: "Errors name the file, line and column,
//! and say what was expected there").

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
/// result ends with a newline.
pub fn render(path: &str, src: &str, d: &Diag) -> String {
    let line_no = d.span.line.max(1);
    let col = d.span.col.max(1);
    let text: &str =
        src.split('\n').nth((line_no - 1) as usize).map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or("");
    let text = if line_no == 1 { text.strip_prefix('\u{feff}').unwrap_or(text) } else { text };
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

/// Renders every diagnostic, in the order given, separated by blank lines.
pub fn render_all(path: &str, src: &str, diags: &[Diag]) -> String {
    diags.iter().map(|d| render(path, src, d)).collect::<Vec<_>>().join("\n")
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
