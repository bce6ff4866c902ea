//! Identifier rules: no underscores unless the file says `[["underscore"]]`,
//! no `Ice` prefix unless it says `[["ice-prefix"]]`, and no reserved
//! suffixes (`Prx`, `Ptr`, `Helper`, `Holder`).

use crate::ast::*;
use crate::diagnostics::Diagnostics;

const SUFFIXES: [&str; 4] = ["Helper", "Holder", "Prx", "Ptr"];

/// Checks every identifier of the unit.
pub fn check(ast: &Ast, diags: &mut Diagnostics) {
    for def in &ast.defs {
        ident(ast, &def.name, diags);
        match &def.kind {
            DefKind::Class(c) => {
                c.members.iter().for_each(|m| ident(ast, &m.name, diags));
                c.operations.iter().for_each(|o| operation(ast, o, diags));
            }
            DefKind::Interface(i) => i.operations.iter().for_each(|o| operation(ast, o, diags)),
            DefKind::Exception(e) => e.members.iter().for_each(|m| ident(ast, &m.name, diags)),
            DefKind::Struct { members } => members.iter().for_each(|m| ident(ast, &m.name, diags)),
            DefKind::Enum { enumerators } => {
                enumerators.iter().for_each(|e| ident(ast, &e.name, diags))
            }
            _ => {}
        }
    }
}

fn operation(ast: &Ast, o: &Operation, diags: &mut Diagnostics) {
    ident(ast, &o.name, diags);
    o.params.iter().for_each(|p| ident(ast, &p.name, diags));
}

fn has_file_metadata(ast: &Ast, id: &Ident, what: &str) -> bool {
    ast.file_metadata(id.span.file)
        .iter()
        .any(|m| m.value == what)
}

/// The error for one identifier, if any.
pub fn problem(name: &str, underscore_ok: bool, ice_ok: bool) -> Option<String> {
    if !underscore_ok {
        if name.starts_with('_') {
            return Some(format!("illegal leading underscore in identifier `{name}'"));
        }
        if name.ends_with('_') {
            return Some(format!(
                "illegal trailing underscore in identifier `{name}'"
            ));
        }
        if name.contains("__") {
            return Some(format!("illegal double underscore in identifier `{name}'"));
        }
        if name.contains('_') {
            return Some(format!("illegal underscore in identifier `{name}'"));
        }
    }
    if !ice_ok
        && name.len() >= 3
        && name.is_char_boundary(3)
        && name[..3].eq_ignore_ascii_case("ice")
    {
        return Some(format!(
            "illegal identifier `{name}': `{}' prefix is reserved",
            &name[..3]
        ));
    }
    SUFFIXES
        .iter()
        .find(|s| name.ends_with(**s))
        .map(|s| format!("illegal identifier `{name}': `{s}' suffix is reserved"))
}

fn ident(ast: &Ast, id: &Ident, diags: &mut Diagnostics) {
    let underscore_ok = has_file_metadata(ast, id, "underscore");
    let ice_ok = has_file_metadata(ast, id, "ice-prefix");
    if let Some(m) = problem(&id.name, underscore_ok, ice_ok) {
        diags.error("identifier", id.span, m);
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn identifier_table() {
        let cases = [
            ("_S", Some("leading underscore")),
            ("S_", Some("trailing underscore")),
            ("a__b", Some("double underscore")),
            ("a_b", Some("illegal underscore")),
            ("IceX", Some("`Ice' prefix")),
            ("icex", Some("`ice' prefix")),
            ("Icing", None),
            ("FooPrx", Some("`Prx' suffix")),
            ("FooHolder", Some("`Holder' suffix")),
            ("FooAsync", None),
            ("Good", None),
        ];
        for (name, want) in cases {
            let got = problem(name, false, false);
            match want {
                None => assert_eq!(got, None, "{name}"),
                Some(frag) => assert!(
                    got.as_deref().unwrap_or("").contains(frag),
                    "{name}: {got:?}"
                ),
            }
        }
        assert_eq!(problem("a_b", true, false), None);
        assert_eq!(problem("IceX", false, true), None);
    }
}
