//! Names inside a body: data members and operations that redefine each other
//! (or differ only in case), operations named like their interface, and
//! parameters (redefinitions, case, `in` after `out`).

use crate::ast::*;
use crate::diagnostics::{Diagnostics, Span};

/// Checks every body of the unit.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        match &def.kind {
            DefKind::Struct { members } => {
                let names: Vec<Named> = members
                    .iter()
                    .map(|m| Named::member(m, "struct member"))
                    .collect();
                simple(&names, diags);
            }
            DefKind::Exception(e) => {
                let names: Vec<Named> = e
                    .members
                    .iter()
                    .map(|m| Named::member(m, "exception member"))
                    .collect();
                simple(&names, diags);
            }
            DefKind::Class(c) => {
                let mut names: Vec<Named> = c
                    .members
                    .iter()
                    .map(|m| Named::member(m, "data member"))
                    .collect();
                names.extend(c.operations.iter().map(Named::op));
                names.sort_by_key(|n| n.span.pos);
                class_like(&names, diags);
                ops(def, &c.operations, diags);
            }
            DefKind::Interface(i) => {
                let names: Vec<Named> = i.operations.iter().map(Named::op).collect();
                class_like(&names, diags);
                ops(def, &i.operations, diags);
            }
            _ => {}
        }
    }
}

struct Named<'a> {
    name: &'a str,
    what: &'static str,
    span: Span,
}

impl<'a> Named<'a> {
    fn member(m: &'a DataMember, what: &'static str) -> Self {
        Named {
            name: &m.name.name,
            what,
            span: m.name.span,
        }
    }

    fn op(o: &'a Operation) -> Self {
        Named {
            name: &o.name.name,
            what: "operation",
            span: o.name.span,
        }
    }
}

/// Struct and exception members: `redefinition of struct member `x'`.
fn simple(names: &[Named], diags: &mut Diagnostics) {
    for (k, n) in names.iter().enumerate() {
        for prev in &names[..k] {
            if prev.name == n.name {
                diags.error(
                    "redefinition",
                    n.span,
                    format!("redefinition of {} `{}'", n.what, n.name),
                );
                break;
            }
            if prev.name.eq_ignore_ascii_case(n.name) {
                diags.error(
                    "redefinition",
                    n.span,
                    format!(
                        "{} `{}' differs only in capitalization from {} `{}'",
                        n.what, n.name, prev.what, prev.name
                    ),
                );
                break;
            }
        }
    }
}

/// Class and interface members: `redefinition of data member `x' as operation `x'`.
fn class_like(names: &[Named], diags: &mut Diagnostics) {
    for (k, n) in names.iter().enumerate() {
        for prev in &names[..k] {
            if prev.name == n.name {
                diags.error(
                    "redefinition",
                    n.span,
                    format!(
                        "redefinition of {} `{}' as {} `{}'",
                        prev.what, prev.name, n.what, n.name
                    ),
                );
                break;
            }
            if prev.name.eq_ignore_ascii_case(n.name) {
                diags.error(
                    "redefinition",
                    n.span,
                    format!(
                        "{} `{}' differs only in capitalization from {} `{}'",
                        n.what, n.name, prev.what, prev.name
                    ),
                );
                break;
            }
        }
    }
}

fn ops(def: &Definition, operations: &[Operation], diags: &mut Diagnostics) {
    let owner = &def.name.name;
    let kind = def.kind.kind_name();
    for o in operations {
        if &o.name.name == owner {
            diags.error(
                "redefinition",
                o.name.span,
                format!("{kind} name `{owner}' cannot be used as operation name"),
            );
        } else if o.name.name.eq_ignore_ascii_case(owner) {
            diags.error(
                "redefinition",
                o.name.span,
                format!(
                    "operation `{}' differs only in capitalization from enclosing {kind} name `{owner}'",
                    o.name.name
                ),
            );
        }
        params(o, diags);
    }
}

fn params(o: &Operation, diags: &mut Diagnostics) {
    let mut seen_out = false;
    for (k, p) in o.params.iter().enumerate() {
        for prev in &o.params[..k] {
            if prev.name.name == p.name.name {
                diags.error(
                    "redefinition",
                    p.name.span,
                    format!("redefinition of parameter `{}'", p.name.name),
                );
                break;
            }
            if prev.name.name.eq_ignore_ascii_case(&p.name.name) {
                diags.error(
                    "redefinition",
                    p.name.span,
                    format!(
                        "parameter `{}' differs only in capitalization from parameter `{}'",
                        p.name.name, prev.name.name
                    ),
                );
                break;
            }
        }
        if p.out {
            seen_out = true;
        } else if seen_out {
            diags.error(
                "param-order",
                p.name.span,
                format!(
                    "`{}': in parameters cannot follow out parameters",
                    p.name.name
                ),
            );
        }
    }
}
