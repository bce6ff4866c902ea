//! Warnings for constructs Ice 3.7 deprecates: operations in (non-local)
//! classes, proxies to classes, interfaces by value, sequences as dictionary
//! keys. (Classes that
//! implement interfaces, unknown string escapes and enumerators named through
//! their enclosing scope are reported where they are parsed or resolved.)

use crate::ast::*;
use crate::diagnostics::Diagnostics;

/// Pushes the deprecation warnings.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        match &def.kind {
            DefKind::Class(c) if !def.local => {
                for o in &c.operations {
                    diags.warning(
                        "deprecated",
                        o.name.span,
                        "classes with operations are deprecated",
                    );
                }
            }
            DefKind::Dictionary { key, .. } => {
                if let Some(Type::Def(d)) = key.resolved {
                    if matches!(ast.def(d).kind, DefKind::Sequence { .. }) {
                        diags.warning(
                            "deprecated",
                            def.span,
                            "use of sequences in dictionary keys has been deprecated",
                        );
                    }
                }
            }
            _ => {}
        }
    }
    let mut class_proxies = Vec::new();
    for def in &ast.defs {
        visit_types(&def.kind, &mut |t: &TypeRef| match t.resolved {
            Some(Type::Proxy(d))
                if matches!(ast.def(d).kind, DefKind::Class(_) | DefKind::ClassForward) =>
            {
                class_proxies.push((t.span, "proxy for a class is deprecated"));
            }
            Some(Type::Def(d))
                if !ast.def(d).local
                    && matches!(
                        ast.def(d).kind,
                        DefKind::Interface(_) | DefKind::InterfaceForward
                    ) =>
            {
                class_proxies.push((t.span, "interface by value is deprecated"));
            }
            _ => {}
        });
    }
    for (span, msg) in class_proxies {
        diags.warning("deprecated", span, msg);
    }
}

fn visit_types(kind: &DefKind, f: &mut impl FnMut(&TypeRef)) {
    let ops = |ops: &[Operation], f: &mut dyn FnMut(&TypeRef)| {
        for o in ops {
            o.return_type.iter().for_each(&mut *f);
            o.params.iter().for_each(|p| f(&p.ty));
        }
    };
    match kind {
        DefKind::Class(c) => {
            c.members.iter().for_each(|m| f(&m.ty));
            ops(&c.operations, f);
        }
        DefKind::Interface(i) => ops(&i.operations, f),
        DefKind::Exception(e) => e.members.iter().for_each(|m| f(&m.ty)),
        DefKind::Struct { members } => members.iter().for_each(|m| f(&m.ty)),
        DefKind::Sequence { element } => f(element),
        DefKind::Dictionary { key, value } => {
            f(key);
            f(value);
        }
        _ => {}
    }
}
