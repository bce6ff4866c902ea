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
            def.name.next,
            format!(
                "`{}': {what} can be defined only at module scope",
                def.name.name
            ),
        );
    }
    for def in &ast.defs {
        enclosing_module_name(ast, def, diags);
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

/// A definition may not be named like its immediately enclosing module (not
/// even in another case), and a module not like any enclosing module.
fn enclosing_module_name(ast: &Ast, def: &Definition, diags: &mut Diagnostics) {
    let name = &def.name.name;
    let kind = def.kind.kind_name();
    let Some(parent) = def.parent else { return };
    let p = ast.def(parent);
    if &p.name.name == name {
        let msg = if matches!(def.kind, DefKind::Module { .. }) {
            format!("module name `{name}' must differ from the name of enclosing module `{name}'")
        } else {
            format!("{kind} name `{name}' must differ from the name of its immediately enclosing module")
        };
        diags.error("enclosing-name", def.span, msg);
        return;
    }
    if p.name.name.eq_ignore_ascii_case(name) {
        diags.error(
            "enclosing-name",
            def.span,
            format!(
                "{kind} name `{name}' cannot differ only in capitalization from its immediately enclosing module name `{}'",
                p.name.name
            ),
        );
        return;
    }
    if matches!(def.kind, DefKind::Module { .. }) {
        let mut up = p.parent;
        while let Some(a) = up {
            let ad = ast.def(a);
            if &ad.name.name == name {
                diags.error(
                    "enclosing-name",
                    def.span,
                    format!("module name `{name}' must differ from the name of enclosing module `{name}'"),
                );
                return;
            }
            if ad.name.name.eq_ignore_ascii_case(name) {
                diags.error(
                    "enclosing-name",
                    def.span,
                    format!(
                        "module name `{name}' cannot differ only in capitalization from enclosing module `{}'",
                        ad.name.name
                    ),
                );
                return;
            }
            up = ad.parent;
        }
    }
}
