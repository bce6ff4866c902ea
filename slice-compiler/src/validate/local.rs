//! `local` rules: non-local definitions may not use local types, bases or
//! exceptions, and local classes and interfaces may not have non-local bases.

use super::is_local_type;
use crate::ast::*;
use crate::diagnostics::Diagnostics;

/// Checks every definition.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        let name = &def.name.name;
        let kind = def.kind.kind_name();
        let bases: Vec<DefId> = match &def.kind {
            DefKind::Class(c) => c
                .base
                .iter()
                .chain(c.implements.iter())
                .filter_map(|b| b.1)
                .collect(),
            DefKind::Interface(i) => i.bases.iter().filter_map(|b| b.1).collect(),
            DefKind::Exception(e) => e.base.iter().filter_map(|b| b.1).collect(),
            _ => Vec::new(),
        };
        for b in bases {
            let bd = ast.def(b);
            let bk = bd.kind.kind_name();
            if !def.local && bd.local {
                diags.error(
                    "local",
                    def.span,
                    format!(
                        "non-local {kind} `{name}' cannot have local base {bk} `{}'",
                        bd.name.name
                    ),
                );
            } else if def.local && !bd.local && !matches!(def.kind, DefKind::Exception(_)) {
                diags.error(
                    "local",
                    def.span,
                    format!(
                        "local {kind} `{name}' cannot have non-local base {bk} `{}'",
                        bd.name.name
                    ),
                );
            }
        }
        if def.local {
            continue;
        }
        match &def.kind {
            DefKind::Struct { members } => members_local(ast, "struct", name, members, diags),
            DefKind::Class(c) => {
                members_local(ast, "class", name, &c.members, diags);
                operations_local(ast, "class", name, &c.operations, diags);
            }
            DefKind::Exception(e) => members_local(ast, "exception", name, &e.members, diags),
            DefKind::Interface(i) => operations_local(ast, "interface", name, &i.operations, diags),
            DefKind::Sequence { element } if is_local_type(ast, element) => diags.error(
                "local",
                def.span,
                format!("non-local sequence `{name}' cannot have local element type"),
            ),
            DefKind::Dictionary { key, value } => {
                if is_local_type(ast, key) {
                    diags.error(
                        "local",
                        def.span,
                        format!("non-local dictionary `{name}' cannot have local key type"),
                    );
                } else if is_local_type(ast, value) {
                    diags.error(
                        "local",
                        def.span,
                        format!("non-local dictionary `{name}' cannot have local value type"),
                    );
                }
            }
            _ => {}
        }
    }
}

fn members_local(
    ast: &Ast,
    kind: &str,
    name: &str,
    members: &[DataMember],
    diags: &mut Diagnostics,
) {
    for m in members {
        if is_local_type(ast, &m.ty) {
            diags.error(
                "local",
                m.name.span,
                format!(
                    "non-local {kind}`{name}' cannot contain local member `{}'",
                    m.name.name
                ),
            );
        }
    }
}

fn operations_local(ast: &Ast, kind: &str, name: &str, ops: &[Operation], diags: &mut Diagnostics) {
    for o in ops {
        let op = &o.name.name;
        if o.return_type
            .as_ref()
            .is_some_and(|t| is_local_type(ast, t))
        {
            diags.error(
                "local",
                o.name.span,
                format!(
                    "non-local {kind} `{name}' cannot have operation `{op}' with local return type"
                ),
            );
        }
        for p in &o.params {
            if is_local_type(ast, &p.ty) {
                diags.error(
                    "local",
                    p.name.span,
                    format!("non-local {kind} `{name}' cannot have local parameter `{}' in operation `{op}'", p.name.name),
                );
            }
        }
        for (ex, target) in &o.throws {
            if let Some(e) = target {
                if ast.def(*e).local {
                    diags.error(
                        "local",
                        ex.span,
                        format!(
                            "non-local {kind} `{name}' cannot have operation `{op}' throwing local exception `{}'",
                            ex.parts.join("::")
                        ),
                    );
                }
            }
        }
    }
}
