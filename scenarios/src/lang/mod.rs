//! The `.scn` language front end: source text to [`ir::Program`].
pub mod ast;
pub mod catalog;
pub mod diag;
pub mod ir;
pub mod lexer;
pub mod parser;
pub mod resolve;
#[cfg(test)]
mod tests;

/// Parses and resolves `src` (read from `path`, which is used only in
/// messages). On failure, returns every diagnostic rendered with
/// [`diag::render`], in source order, separated by blank lines.
pub fn compile(path: &str, src: &str, cat: &dyn catalog::Catalog) -> Result<ir::Program, String> {
    let file = parser::parse(src).map_err(|ds| diag::render_all(path, src, &ds))?;
    resolve::resolve_with_source(&file, src, cat).map_err(|ds| diag::render_all(path, src, &ds))
}
