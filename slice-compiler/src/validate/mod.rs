//! Semantic checks.
use crate::ast::Ast;
use crate::diagnostics::{Diagnostics, FileId};
use crate::resolve::Symbols;

/// Runs every check.
pub fn validate(_ast: &Ast, _symbols: &Symbols, _main: FileId, _diags: &mut Diagnostics) {}
