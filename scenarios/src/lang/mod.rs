//! The `.scn` language front end: source text to [`ir::Program`]
//! ([`diag::decode`] turns a file's bytes into that text).
pub mod ast;
pub mod catalog;
#[cfg(test)]
mod cli_tests;
pub mod diag;
pub mod ir;
pub mod lexer;
pub mod parser;
pub mod resolve;
#[cfg(test)]
mod tests;

/// Parses and resolves `src` (read from `path`, which is used only in
/// messages). On failure, returns the diagnostics rendered with
/// [`diag::render_all`]: in source order, separated by blank lines, the
/// first [`diag::MAX_SHOWN`] of them and a count of the rest.
pub fn compile(path: &str, src: &str, cat: &dyn catalog::Catalog) -> Result<ir::Program, String> {
    let file = parser::parse(src).map_err(|ds| diag::render_all(path, src, &ds))?;
    resolve::resolve_with_source(&file, src, cat).map_err(|ds| diag::render_all(path, src, &ds))
}
