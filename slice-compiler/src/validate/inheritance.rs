//! Inherited names: data members and operations that clash with ones of a
//! base class, base interface or base exception, and operations inherited
//! from two unrelated base interfaces.

use super::{class_bases, exception_bases, interface_bases};
use crate::ast::*;
use crate::diagnostics::Diagnostics;

/// One inherited name: its spelling and whether it is an operation.
struct Inherited {
    name: String,
    is_op: bool,
}

fn collect_class(ast: &Ast, id: DefId, out: &mut Vec<Inherited>) {
    if let DefKind::Class(c) = &ast.def(id).kind {
        out.extend(c.members.iter().map(|m| Inherited {
            name: m.name.name.clone(),
            is_op: false,
        }));
        out.extend(c.operations.iter().map(|o| Inherited {
            name: o.name.name.clone(),
            is_op: true,
        }));
    }
    if let DefKind::Interface(i) = &ast.def(id).kind {
        out.extend(i.operations.iter().map(|o| Inherited {
            name: o.name.name.clone(),
            is_op: true,
        }));
    }
}

/// Checks inherited names.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for id in ast.ids() {
        let def = ast.def(id);
        match &def.kind {
            DefKind::Class(c) => {
                let mut inherited = Vec::new();
                for b in class_bases(ast, id) {
                    collect_class(ast, b, &mut inherited);
                }
                for b in interface_bases(ast, id) {
                    collect_class(ast, b, &mut inherited);
                }
                for m in &c.members {
                    clash(&inherited, &m.name, "data member", diags);
                }
                for o in &c.operations {
                    clash(&inherited, &o.name, "operation", diags);
                }
                let direct: Vec<DefId> = c.implements.iter().filter_map(|b| b.1).collect();
                ambiguous(ast, id, def, &direct, diags);
            }
            DefKind::Interface(i) => {
                let bases = interface_bases(ast, id);
                let mut inherited = Vec::new();
                for b in &bases {
                    collect_class(ast, *b, &mut inherited);
                }
                for o in &i.operations {
                    clash(&inherited, &o.name, "operation", diags);
                }
                let direct: Vec<DefId> = i.bases.iter().filter_map(|b| b.1).collect();
                ambiguous(ast, id, def, &direct, diags);
            }
            DefKind::Exception(e) => {
                let mut inherited: Vec<String> = Vec::new();
                for b in exception_bases(ast, id) {
                    if let DefKind::Exception(be) = &ast.def(b).kind {
                        inherited.extend(be.members.iter().map(|m| m.name.name.clone()));
                    }
                }
                for m in &e.members {
                    if inherited.contains(&m.name.name) {
                        diags.error(
                            "inherited",
                            m.name.span,
                            format!(
                                "exception member `{}' is already defined in a base exception",
                                m.name.name
                            ),
                        );
                    } else if let Some(n) = inherited
                        .iter()
                        .find(|n| n.eq_ignore_ascii_case(&m.name.name))
                    {
                        diags.error(
                            "inherited",
                            m.name.span,
                            format!(
                                "exception member `{}' differs only in capitalization from exception member `{n}', which is defined in a base exception",
                                m.name.name
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn clash(inherited: &[Inherited], name: &Ident, what: &str, diags: &mut Diagnostics) {
    if let Some(b) = inherited.iter().find(|b| b.name == name.name) {
        let bw = if b.is_op {
            "an operation"
        } else {
            "a data member"
        };
        diags.error(
            "inherited",
            name.span,
            format!(
                "{what} `{}' is already defined as {bw} in a base interface or class",
                name.name
            ),
        );
    } else if let Some(b) = inherited
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(&name.name))
    {
        let bw = if b.is_op { "operation" } else { "data member" };
        diags.error(
            "inherited",
            name.span,
            format!(
                "{what} `{}' differs only in capitalization from {bw} `{}', which is defined in a base interface or class",
                name.name, b.name
            ),
        );
    }
}

/// An operation name reaching an interface from two different defining
/// interfaces through its direct bases.
fn ambiguous(ast: &Ast, id: DefId, def: &Definition, direct: &[DefId], diags: &mut Diagnostics) {
    if direct.len() < 2 {
        return;
    }
    // (operation name, defining interface)
    let mut seen: Vec<(String, DefId)> = Vec::new();
    for &b in direct {
        let mut all = vec![b];
        all.extend(interface_bases(ast, b));
        for d in all {
            if d == id {
                continue;
            }
            if let DefKind::Interface(bi) = &ast.def(d).kind {
                for o in &bi.operations {
                    if let Some((_, owner)) = seen.iter().find(|(n, _)| *n == o.name.name) {
                        if *owner != d {
                            diags.error(
                                "ambiguous",
                                def.span,
                                format!(
                                    "ambiguous multiple inheritance: `{}' inherits operation `{}' from two or more unrelated base interfaces",
                                    def.name.name, o.name.name
                                ),
                            );
                            return;
                        }
                    } else {
                        seen.push((o.name.name.clone(), d));
                    }
                }
            }
        }
    }
}
