//! The `.scn` scenario language and its runner.
pub mod lang;
