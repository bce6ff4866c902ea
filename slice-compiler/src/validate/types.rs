//! Rules about types and operations not covered elsewhere: compact ids of
//! classes, structs that contain themselves, duplicate exceptions in a
//! `throws` clause.

use crate::ast::*;
use crate::diagnostics::Diagnostics;

/// The integer a compact id stands for: a literal, or a constant (through
/// any chain of constants) of an integer type.
fn compact_value(ast: &Ast, v: &ConstValue) -> Option<i128> {
    let mut cur = v;
    for _ in 0..64 {
        match (&cur.expr, cur.target) {
            (ConstExpr::Int(n), _) => return Some(*n),
            (_, Some(ConstTarget::Const(k))) => match &ast.def(k).kind {
                DefKind::Const { value, .. } => cur = value,
                _ => return None,
            },
            _ => return None,
        }
    }
    None
}

/// Checks compact ids, self-containing structs and `throws` clauses.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    let mut compact_ids: Vec<(i128, DefId)> = Vec::new();
    for id in ast.ids() {
        let def = ast.def(id);
        match &def.kind {
            DefKind::Class(c) => {
                if let Some(v) = &c.compact_id {
                    let n = compact_value(ast, v);
                    match n {
                        None => diags.error(
                            "compact-id",
                            v.span,
                            "invalid compact id for class: id must be an integer",
                        ),
                        Some(n) if n < 0 => diags.error(
                            "compact-id",
                            v.span,
                            "invalid compact id for class: id must be a positive integer",
                        ),
                        Some(n) if n > i128::from(i32::MAX) => diags.error(
                            "compact-id",
                            v.span,
                            "invalid compact id for class: value is out of range",
                        ),
                        Some(n) => {
                            if let Some((_, other)) = compact_ids.iter().find(|(m, _)| *m == n) {
                                diags.error(
                                    "compact-id",
                                    v.span,
                                    format!(
                                        "invalid compact id for class: already assigned to class `{}'",
                                        ast.def(*other).scoped
                                    ),
                                );
                            }
                            compact_ids.push((n, id));
                        }
                    }
                }
                operations(&c.operations, diags);
            }
            DefKind::Interface(i) => operations(&i.operations, diags),
            DefKind::Struct { members } => {
                for m in members {
                    if m.ty.resolved == Some(Type::Def(id)) {
                        diags.error(
                            "self-contained",
                            m.name.span,
                            format!("struct `{}' cannot contain itself", def.name.name),
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn operations(ops: &[Operation], diags: &mut Diagnostics) {
    for o in ops {
        let mut seen: Vec<DefId> = Vec::new();
        for (name, target) in &o.throws {
            let Some(t) = target else { continue };
            if seen.contains(t) {
                diags.error(
                    "throws",
                    name.span,
                    format!(
                        "operation `{}' has a throws clause with a duplicate exception: `{name}'",
                        o.name.name
                    ),
                );
            }
            seen.push(*t);
        }
    }
}
