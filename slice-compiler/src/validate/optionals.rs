//! Optional members and parameters: tags in range and unique per data type
//! or operation, and no optional members in structs.

use crate::ast::*;
use crate::diagnostics::Diagnostics;

const MAX_TAG: i64 = i32::MAX as i64;

/// Checks tags.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        match &def.kind {
            DefKind::Struct { members } => {
                for m in members.iter().filter(|m| m.tag.is_some()) {
                    diags.error(
                        "optional",
                        m.span,
                        "optional data members not supported in struct",
                    );
                }
            }
            DefKind::Class(c) => {
                members(&c.members, diags);
                c.operations.iter().for_each(|o| operation(o, diags));
            }
            DefKind::Exception(e) => members(&e.members, diags),
            DefKind::Interface(i) => i.operations.iter().for_each(|o| operation(o, diags)),
            _ => {}
        }
    }
}

/// Reports a tag out of range; returns its value when usable.
fn value(tag: &Tag, diags: &mut Diagnostics) -> Option<i64> {
    match (&tag.syntax, tag.value) {
        (ConstExpr::Int(n), _) if *n < 0 || *n > i128::from(MAX_TAG) => {
            diags.error("optional", tag.span, "tag for optional is out of range");
            None
        }
        (_, Some(v)) if !(0..=MAX_TAG).contains(&v) => {
            diags.error("optional", tag.span, "tag for optional is out of range");
            None
        }
        (ConstExpr::Float(_) | ConstExpr::String(_) | ConstExpr::Bool(_), _) => {
            diags.error("optional", tag.span, "invalid tag for optional");
            None
        }
        (_, v) => v,
    }
}

fn members(list: &[DataMember], diags: &mut Diagnostics) {
    let mut used: Vec<i64> = Vec::new();
    for m in list {
        let Some(t) = &m.tag else { continue };
        if let Some(v) = value(t, diags) {
            if used.contains(&v) {
                diags.error(
                    "optional",
                    m.name.span,
                    format!(
                        "tag for optional data member `{}' is already in use",
                        m.name.name
                    ),
                );
            }
            used.push(v);
        }
    }
}

fn operation(o: &Operation, diags: &mut Diagnostics) {
    let mut used: Vec<i64> = Vec::new();
    if let Some(t) = &o.return_tag {
        if let Some(v) = value(t, diags) {
            used.push(v);
        }
    }
    for p in &o.params {
        let Some(t) = &p.tag else { continue };
        if let Some(v) = value(t, diags) {
            if used.contains(&v) {
                diags.error(
                    "optional",
                    p.name.span,
                    format!(
                        "tag for optional parameter `{}' is already in use",
                        p.name.name
                    ),
                );
            }
            used.push(v);
        }
    }
}
