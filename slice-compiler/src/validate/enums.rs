//! Enumerations: at least one enumerator, values in `0..=i32::MAX`, no two
//! enumerators with the same value. Explicit values are checked at the
//! enumerator; implicit ones (previous + 1) at the closing brace, where Ice
//! reports them.

use crate::ast::*;
use crate::diagnostics::Diagnostics;

/// Checks every enumeration.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        let DefKind::Enum { enumerators } = &def.kind else {
            continue;
        };
        if enumerators.is_empty() {
            diags.error(
                "enum",
                def.span,
                format!("enum `{}' must have at least one enumerator", def.name.name),
            );
            continue;
        }
        let mut next: i64 = 0;
        let mut values: Vec<(i64, &str)> = Vec::new();
        for e in enumerators {
            let (value, span) = match &e.explicit {
                Some(v) => {
                    let n = match (&v.expr, v.target) {
                        (ConstExpr::Int(n), _) => Some(*n),
                        (ConstExpr::Name(_), Some(ConstTarget::Const(c))) => match &ast.def(c).kind
                        {
                            DefKind::Const {
                                value:
                                    ConstValue {
                                        expr: ConstExpr::Int(n),
                                        ..
                                    },
                                ..
                            } => Some(*n),
                            _ => None,
                        },
                        _ => None,
                    };
                    let Some(n) = n else {
                        diags.error("syntax", v.span, "syntax error");
                        return;
                    };
                    (n, e.name.span)
                }
                None => (i128::from(next), def.end),
            };
            if value < 0 || value > i128::from(i32::MAX) {
                diags.error(
                    "enum",
                    span,
                    format!("value for enumerator `{}' is out of range", e.name.name),
                );
                next = i64::from(i32::MAX).saturating_add(1);
                continue;
            }
            let value = value as i64;
            if let Some((_, other)) = values.iter().find(|(v, _)| *v == value) {
                diags.error(
                    "enum",
                    span,
                    format!(
                        "enumerator `{}' has the same value as enumerator `{other}'",
                        e.name.name
                    ),
                );
            }
            values.push((value, &e.name.name));
            next = value + 1;
        }
    }
}
