//! Rust names for Slice names: case conversion and keyword escaping, in one
//! place so every part of the generator agrees on them.
//!
//! - Types, enumerators: `UpperCamelCase` ([`type_name`], [`variant_name`]).
//! - Modules, fields, operations, parameters: `snake_case` ([`module_name`],
//!   [`field_name`]).
//! - Constants: `SCREAMING_SNAKE_CASE` ([`const_name`]).
//!
//! A result that is a Rust keyword becomes a raw identifier (`r#type`); the
//! four keywords that cannot be raw (`self`, `Self`, `super`, `crate`) get a
//! trailing underscore instead. Case conversion is done by `heck`.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Words reserved in Rust 2021 (strict and reserved keywords).
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be written as raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Makes `name` a valid Rust identifier: raw for keywords, `_`-suffixed for
/// the keywords raw identifiers cannot spell.
pub fn escape(name: &str) -> Ident {
    if NOT_RAW.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// The text of [`escape`] without building an identifier (for paths in docs
/// and for tests).
pub fn escaped_text(name: &str) -> String {
    escape(name).to_string()
}

/// A Slice module name as a Rust module name (`IceGrid` -> `ice_grid`).
pub fn module_name(slice: &str) -> Ident {
    escape(&snake(slice))
}

/// A Slice type name as a Rust type name (`ACMClose` -> `AcmClose`).
pub fn type_name(slice: &str) -> Ident {
    escape(&camel(slice))
}

/// An enumerator as a Rust enum variant.
pub fn variant_name(slice: &str) -> Ident {
    escape(&camel(slice))
}

/// A data member, parameter or operation name (`requestId` -> `request_id`).
pub fn field_name(slice: &str) -> Ident {
    escape(&snake(slice))
}

/// A constant name (`maxSize` -> `MAX_SIZE`).
pub fn const_name(slice: &str) -> Ident {
    let s = slice.to_shouty_snake_case();
    escape(if s.is_empty() { "_C" } else { &s })
}

/// An identifier as given, for names the generator makes itself.
pub fn plain(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

fn snake(s: &str) -> String {
    let out = s.to_snake_case();
    if out.is_empty() {
        // heck drops a name made only of underscores; keep something valid.
        "_x".to_string()
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{out}")
    } else {
        out
    }
}

fn camel(s: &str) -> String {
    let out = s.to_upper_camel_case();
    if out.is_empty() {
        "X".to_string()
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("X{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn cases_follow_rust_conventions() {
        let table = [
            (module_name("IceGrid"), "ice_grid"),
            (module_name("Glacier2"), "glacier2"),
            (module_name("IceMX"), "ice_mx"),
            (type_name("ACMClose"), "AcmClose"),
            (type_name("byteSeq"), "ByteSeq"),
            (type_name("Identity"), "Identity"),
            (
                variant_name("CloseGracefullyAndWait"),
                "CloseGracefullyAndWait",
            ),
            (variant_name("red"), "Red"),
            (field_name("requestId"), "request_id"),
            (field_name("ice_isA"), "ice_is_a"),
            (field_name("DATA"), "data"),
            (const_name("maxSize"), "MAX_SIZE"),
            (const_name("ConstA"), "CONST_A"),
        ];
        for (got, want) in table {
            assert_eq!(got.to_string(), want);
        }
    }

    #[test]
    fn keywords_are_escaped() {
        let table = [
            (field_name("type"), "r#type"),
            (field_name("async"), "r#async"),
            (field_name("self"), "self_"),
            (field_name("crate"), "crate_"),
            (field_name("super"), "super_"),
            (type_name("Self"), "Self_"),
            (module_name("mod"), "r#mod"),
            (field_name("match"), "r#match"),
            (field_name("value"), "value"),
        ];
        for (got, want) in table {
            assert_eq!(got.to_string(), want);
        }
    }
}
