//! Constants and default values: legal types, initializers of a compatible
//! type, integers in the range of their type.

use crate::ast::*;
use crate::diagnostics::{Diagnostics, Span};

/// Checks every constant and every data member default.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        match &def.kind {
            DefKind::Const { ty, value } => {
                if let ConstExpr::Int(n) = value.expr {
                    if n > i128::from(i64::MAX) || n < i128::from(i64::MIN) {
                        diags.error(
                            "const-range",
                            value.span,
                            format!("integer constant `{n}' out of range"),
                        );
                        continue;
                    }
                }
                let what = format!("constant `{}'", def.name.name);
                match ty.resolved {
                    Some(Type::Builtin(b)) if b.is_primitive() => {
                        initializer(ast, ty, value, &what, def.span, diags);
                    }
                    Some(Type::Def(d)) if matches!(ast.def(d).kind, DefKind::Enum { .. }) => {
                        initializer(ast, ty, value, &what, def.span, diags);
                    }
                    Some(Type::Builtin(b)) => diags.error(
                        "const-type",
                        def.span,
                        format!(
                            "constant `{}' has illegal type: `{}'",
                            def.name.name,
                            b.name()
                        ),
                    ),
                    Some(_) => diags.error(
                        "const-type",
                        def.span,
                        format!("constant `{}' has illegal type", def.name.name),
                    ),
                    None => {}
                }
            }
            DefKind::Struct { members } => defaults(ast, members, diags),
            DefKind::Class(c) => defaults(ast, &c.members, diags),
            DefKind::Exception(e) => defaults(ast, &e.members, diags),
            _ => {}
        }
    }
}

fn defaults(ast: &Ast, members: &[DataMember], diags: &mut Diagnostics) {
    for m in members {
        let Some(v) = &m.default else { continue };
        let what = format!("data member `{}'", m.name.name);
        let ok_type = match m.ty.resolved {
            Some(Type::Builtin(b)) => b.is_primitive(),
            Some(Type::Def(d)) => matches!(ast.def(d).kind, DefKind::Enum { .. }),
            _ => false,
        };
        if !ok_type {
            if m.ty.resolved.is_some() {
                diags.error(
                    "default",
                    m.name.span,
                    format!(
                        "default value not allowed for data member `{}'",
                        m.name.name
                    ),
                );
            }
            continue;
        }
        initializer(ast, &m.ty, v, &what, m.name.span, diags);
    }
}

/// The kind of a value after following constant references.
enum Val {
    Int(i128),
    Float,
    Str,
    Bool,
    Enumerator(DefId, String),
    Unknown,
}

fn value_of(ast: &Ast, v: &ConstValue, depth: usize) -> Val {
    match (&v.expr, v.target) {
        (ConstExpr::Int(n), _) => Val::Int(*n),
        (ConstExpr::Float(_), _) => Val::Float,
        (ConstExpr::String(_), _) => Val::Str,
        (ConstExpr::Bool(_), _) => Val::Bool,
        (ConstExpr::Name(_), Some(ConstTarget::Const(c))) if depth < 64 => match &ast.def(c).kind {
            DefKind::Const { value, .. } => value_of(ast, value, depth + 1),
            _ => Val::Unknown,
        },
        (ConstExpr::Name(n), Some(ConstTarget::Enumerator(e, _))) => {
            Val::Enumerator(e, n.parts.last().cloned().unwrap_or_default())
        }
        _ => Val::Unknown,
    }
}

fn range(b: Builtin) -> Option<(i128, i128)> {
    match b {
        Builtin::Byte => Some((0, 255)),
        Builtin::Short => Some((i16::MIN.into(), i16::MAX.into())),
        Builtin::Int => Some((i32::MIN.into(), i32::MAX.into())),
        Builtin::Long => Some((i64::MIN.into(), i64::MAX.into())),
        _ => None,
    }
}

fn initializer(
    ast: &Ast,
    ty: &TypeRef,
    v: &ConstValue,
    what: &str,
    span: Span,
    diags: &mut Diagnostics,
) {
    let val = value_of(ast, v, 0);
    let given = match &val {
        Val::Int(_) => "long",
        Val::Float => "double",
        Val::Str => "string",
        Val::Bool => "bool",
        Val::Enumerator(..) | Val::Unknown => "",
    };
    match ty.resolved {
        Some(Type::Def(e)) => {
            let enum_name = ast.def(e).scoped.clone();
            match val {
                Val::Enumerator(of, _) if of == e => {}
                Val::Enumerator(_, name) => diags.error(
                    "initializer",
                    span,
                    format!("`{name}' does not designate an enumerator of `{enum_name}'"),
                ),
                _ => {
                    // A name that is not an enumerator of this enumeration.
                    if let ConstExpr::Name(n) = &v.expr {
                        diags.error(
                            "initializer",
                            span,
                            format!("`{n}' does not designate an enumerator of `{enum_name}'"),
                        );
                    } else {
                        diags.error(
                            "initializer",
                            span,
                            format!("type of initializer is incompatible with the type of {what}"),
                        );
                    }
                }
            }
        }
        Some(Type::Builtin(b)) => {
            let ok = match (&val, b) {
                (Val::Bool, Builtin::Bool) | (Val::Str, Builtin::String) => true,
                (Val::Int(_) | Val::Float, Builtin::Float | Builtin::Double) => true,
                (Val::Int(n), b) if b.is_integral() => {
                    if let Some((lo, hi)) = range(b) {
                        if *n < lo || *n > hi {
                            diags.error(
                                "initializer",
                                span,
                                format!(
                                    "initializer `{n}' for {what} out of range for type {}",
                                    b.name()
                                ),
                            );
                        }
                    }
                    true
                }
                _ => false,
            };
            if !ok {
                let msg = if given.is_empty() {
                    format!(
                        "type of initializer is incompatible with the type `{}' of {what}",
                        b.name()
                    )
                } else {
                    format!(
                        "initializer of type `{given}' is incompatible with the type `{}' of {what}",
                        b.name()
                    )
                };
                diags.error("initializer", span, msg);
            }
        }
        _ => {}
    }
}
