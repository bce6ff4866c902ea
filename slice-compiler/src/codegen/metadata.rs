//! The Rust generator's own metadata, `["rs:..."]`: a warning for every
//! `rs:` directive it does not know, as ZeroC's compilers warn about
//! unknown directives of their own language.
//!
//! Metadata for other languages (`cpp:`, `java:`, `python:`, `cs:`, `objc:`,
//! `js:`, `swift:`, `matlab:`, `php:`, `ruby:`, ...) and the
//! language-neutral directives (`format:`, `amd`, `preserve-slice`,
//! `deprecate`, ...) are not looked at here: they get no warning, and the
//! generated Rust does not depend on the foreign ones. Only the main file
//! of each unit is checked, so an included file is not reported again by
//! every file that includes it. The directives known are those of the
//! State Replicator glue ([`super::replication`]): `rs:replicator`,
//! `rs:replicator-removal`, `rs:replicator-op:ROLE` and
//! `rs:replicator-key:NAME`; the glue checks their arguments itself.

use crate::ast::{DataMember, DefKind, Metadata, Operation, TypeRef};
use crate::diagnostics::Diagnostics;
use crate::Model;

/// `rs:` directives known as written.
const EXACT: &[&str] = &["rs:replicator", "rs:replicator-removal"];

/// `rs:` directives known with an argument after the prefix.
const WITH_ARGUMENT: &[&str] = &["rs:replicator-op:", "rs:replicator-key:"];

/// Whether `value` is an `rs:` directive this generator knows (or no `rs:`
/// directive at all).
fn known(value: &str) -> bool {
    !value.starts_with("rs:")
        || EXACT.contains(&value)
        || WITH_ARGUMENT
            .iter()
            .any(|p| value.strip_prefix(p).is_some_and(|arg| !arg.is_empty()))
}

/// Warnings for the unknown `rs:` metadata of `model`'s main file, in
/// source order.
pub fn warnings(model: &Model) -> Diagnostics {
    let mut all: Vec<&Metadata> = Vec::new();
    let ast = &model.ast;
    all.extend(ast.file_metadata(model.main));
    for def in ast.defs.iter().filter(|d| d.span.file == model.main) {
        all.extend(&def.metadata);
        match &def.kind {
            DefKind::Class(c) => {
                members(&c.members, &mut all);
                operations(&c.operations, &mut all);
            }
            DefKind::Interface(i) => operations(&i.operations, &mut all),
            DefKind::Exception(e) => members(&e.members, &mut all),
            DefKind::Struct { members: m } => members(m, &mut all),
            DefKind::Sequence { element } => type_ref(element, &mut all),
            DefKind::Dictionary { key, value } => {
                type_ref(key, &mut all);
                type_ref(value, &mut all);
            }
            DefKind::Enum { enumerators } => {
                for e in enumerators {
                    all.extend(&e.metadata);
                }
            }
            DefKind::Const { ty, .. } => type_ref(ty, &mut all),
            DefKind::Module { .. } | DefKind::ClassForward | DefKind::InterfaceForward => {}
        }
    }
    all.sort_by_key(|m| (m.span.line, m.span.pos));
    let mut out = Diagnostics::new();
    for m in all.into_iter().filter(|m| !known(&m.value)) {
        out.warning(
            "metadata",
            m.span,
            format!("ignoring invalid metadata `{}'", m.value),
        );
    }
    out
}

fn type_ref<'a>(t: &'a TypeRef, all: &mut Vec<&'a Metadata>) {
    all.extend(&t.metadata);
}

fn members<'a>(members: &'a [DataMember], all: &mut Vec<&'a Metadata>) {
    for m in members {
        all.extend(&m.metadata);
        type_ref(&m.ty, all);
    }
}

fn operations<'a>(ops: &'a [Operation], all: &mut Vec<&'a Metadata>) {
    for op in ops {
        all.extend(&op.metadata);
        if let Some(t) = &op.return_type {
            type_ref(t, all);
        }
        for p in &op.params {
            all.extend(&p.metadata);
            type_ref(&p.ty, all);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::PreprocessOptions;

    fn lines(slice: &str) -> Vec<String> {
        let (sources, model) = crate::compile_str("T.ice", slice, &PreprocessOptions::default());
        let model = match model {
            Ok(m) => m,
            Err(d) => panic!("{}", d.render(&sources)),
        };
        warnings(&model)
            .render(&sources)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn unknown_rs_metadata_is_reported_where_it_is_written() {
        let got = lines(
            "[[\"rs:file-thing\"]]\n\
             module M {\n\
             [\"rs:nope\"] struct S { [\"rs:member\"] int a; }\n\
             interface I { [\"rs:op\"] void f([\"rs:param\"] int x); }\n\
             sequence<[\"rs:elem\"] int> Q;\n\
             }",
        );
        let want = [
            "T.ice:1: warning: ignoring invalid metadata `rs:file-thing'",
            "T.ice:3: warning: ignoring invalid metadata `rs:nope'",
            "T.ice:3: warning: ignoring invalid metadata `rs:member'",
            "T.ice:4: warning: ignoring invalid metadata `rs:op'",
            "T.ice:4: warning: ignoring invalid metadata `rs:param'",
            "T.ice:5: warning: ignoring invalid metadata `rs:elem'",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn known_and_foreign_metadata_are_quiet() {
        let table = [
            "rs:replicator",
            "rs:replicator-removal",
            "rs:replicator-op:add-listener",
            "rs:replicator-key:name",
            "cpp:type:wstring",
            "java:type:java.util.LinkedList<Integer>",
            "python:seq:tuple",
            "format:sliced",
            "amd",
        ];
        for md in table {
            assert!(known(md), "{md}");
        }
        for md in ["rs:", "rs:replicator-key:", "rs:replicatorx", "rs:type:x"] {
            assert!(!known(md), "{md}");
        }
    }
}
