//! Semantic checks over the resolved [`Ast`], one file per concern. Every
//! check pushes diagnostics into the sink and goes on; the driver sorts them
//! by position, so the first one printed is the first in the text, as with
//! ZeroC's one-pass compilers. Name resolution and redefinitions of
//! definitions are [`crate::resolve`]'s job.

mod constants;
mod deprecations;
mod dictionaries;
mod enums;
mod identifiers;
mod inheritance;
mod local;
mod members;
mod optionals;
mod placement;
mod types;

use crate::ast::*;
use crate::diagnostics::{Diagnostics, FileId};
use crate::resolve::Symbols;

/// Runs every check on a unit.
pub fn validate(ast: &Ast, _symbols: &Symbols, _main: FileId, diags: &mut Diagnostics) {
    identifiers::check(ast, diags);
    placement::check(ast, diags);
    members::check(ast, diags);
    inheritance::check(ast, diags);
    optionals::check(ast, diags);
    dictionaries::check(ast, diags);
    enums::check(ast, diags);
    constants::check(ast, diags);
    local::check(ast, diags);
    types::check(ast, diags);
    deprecations::check(ast, diags);
}

/// The resolved type of a reference, if resolution succeeded.
fn resolved(t: &TypeRef) -> Option<Type> {
    t.resolved
}

/// True when a type is local (`LocalObject` or a local definition).
fn is_local_type(ast: &Ast, t: &TypeRef) -> bool {
    match resolved(t) {
        Some(Type::Builtin(Builtin::LocalObject)) => true,
        Some(Type::Def(d)) | Some(Type::Proxy(d)) => ast.def(d).local,
        _ => false,
    }
}

/// The chain of class bases of a class, nearest first (stops on cycles).
fn class_bases(ast: &Ast, id: DefId) -> Vec<DefId> {
    let mut out = Vec::new();
    let mut cur = id;
    while let DefKind::Class(c) = &ast.def(cur).kind {
        match c.base.as_ref().and_then(|b| b.1) {
            Some(b) if b != id && !out.contains(&b) => {
                out.push(b);
                cur = b;
            }
            _ => break,
        }
    }
    out
}

/// Every interface an interface (or class, through `implements`) inherits
/// from, transitively, without duplicates.
fn interface_bases(ast: &Ast, id: DefId) -> Vec<DefId> {
    let mut out: Vec<DefId> = Vec::new();
    let mut stack: Vec<DefId> = direct_interface_bases(ast, id);
    while let Some(b) = stack.pop() {
        if b == id || out.contains(&b) {
            continue;
        }
        out.push(b);
        stack.extend(direct_interface_bases(ast, b));
    }
    out
}

fn direct_interface_bases(ast: &Ast, id: DefId) -> Vec<DefId> {
    match &ast.def(id).kind {
        DefKind::Interface(i) => i.bases.iter().filter_map(|b| b.1).collect(),
        DefKind::Class(c) => c.implements.iter().filter_map(|b| b.1).collect(),
        _ => Vec::new(),
    }
}

/// The chain of exception bases, nearest first.
fn exception_bases(ast: &Ast, id: DefId) -> Vec<DefId> {
    let mut out = Vec::new();
    let mut cur = id;
    while let DefKind::Exception(e) = &ast.def(cur).kind {
        match e.base.as_ref().and_then(|b| b.1) {
            Some(b) if b != id && !out.contains(&b) => {
                out.push(b);
                cur = b;
            }
            _ => break,
        }
    }
    out
}
