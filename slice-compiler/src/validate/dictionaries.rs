//! Dictionary key types: integral types, `bool`, `string`, enumerations,
//! and structs or sequences made only of those.

use crate::ast::*;
use crate::diagnostics::Diagnostics;

/// Checks every dictionary's key type.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        if let DefKind::Dictionary { key, .. } = &def.kind {
            if let Some(t) = key.resolved {
                if !legal_key(ast, t, 0) {
                    diags.error(
                        "dictionary-key",
                        def.span,
                        format!("dictionary `{}' uses an illegal key type", def.name.name),
                    );
                }
            }
        }
    }
}

/// True when `t` may be a dictionary key.
pub fn legal_key(ast: &Ast, t: Type, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match t {
        Type::Builtin(b) => b.is_integral() || matches!(b, Builtin::Bool | Builtin::String),
        Type::Proxy(_) => false,
        Type::Def(d) => match &ast.def(d).kind {
            DefKind::Enum { .. } => true,
            DefKind::Struct { members } => members
                .iter()
                .all(|m| m.ty.resolved.is_some_and(|t| legal_key(ast, t, depth + 1))),
            DefKind::Sequence { element } => element
                .resolved
                .is_some_and(|t| legal_key(ast, t, depth + 1)),
            _ => false,
        },
    }
}
