//! Where definitions may appear: only modules at file level; structs need
//! at least one member.

use crate::ast::*;
use crate::diagnostics::Diagnostics;

/// Checks placement rules.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for &id in &ast.top {
        let def = ast.def(id);
        let what = match def.kind {
            DefKind::Module { .. } => continue,
            DefKind::Class(_) | DefKind::ClassForward => "a class",
            DefKind::Interface(_) | DefKind::InterfaceForward => "an interface",
            DefKind::Exception(_) => "an exception",
            DefKind::Struct { .. } => "a structure",
            DefKind::Sequence { .. } => "a sequence",
            DefKind::Dictionary { .. } => "a dictionary",
            DefKind::Enum { .. } => "an enumeration",
            DefKind::Const { .. } => "a constant",
        };
        diags.error(
            "placement",
            def.span,
            format!(
                "`{}': {what} can be defined only at module scope",
                def.name.name
            ),
        );
    }
    for def in &ast.defs {
        if let DefKind::Struct { members } = &def.kind {
            if members.is_empty() {
                diags.error(
                    "empty-struct",
                    def.end,
                    format!("struct `{}' must have at least one member", def.name.name),
                );
            }
        }
    }
}
