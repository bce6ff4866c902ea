//! No panic on any input: random and mutated Slice text (ZeroC's own Slice
//! files and the invalid corpus, cut and corrupted) fed to the library.
//! Bounded so the suite stays fast.

use proptest::prelude::*;
use slice_compiler::compile_str;
use slice_compiler::preprocess::PreprocessOptions;
use std::sync::OnceLock;

/// A fallback seed when the Ice files are not installed.
const BUILTIN_SEED: &str = r#"
#pragma once
[["cpp:header-ext:h"]]
#ifndef X
module M
{
    /** A doc comment. */
    ["amd"] interface I extends ::Ice::Object
    {
        idempotent optional(1) int op(string a, out optional(2) long b) throws E;
    };
    class C(3) extends B implements I { int x = 0x1F; optional(4) C next; void f(); };
    exception E extends F { string reason = "a\x41\101\u0041"; };
    struct S { double d = 1.5e3; float f = .5f; bool b = true; };
    sequence<["cpp:array"] byte> Bytes;
    dictionary<string, Object*> D;
    enum Color { Red, Green = 5, Blue };
    const Color Favorite = Green;
    local interface L { LocalObject get(); Value v(); };
    interface \module;
};
#endif
"#;

/// Seeds: the Ice Slice files and the invalid corpus, with `#include`
/// lines blanked (so the mutated text itself reaches the parser).
fn seeds() -> &'static Vec<String> {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut out = vec![BUILTIN_SEED.to_string()];
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/invalid");
        for dir in [
            "/usr/share/ice/slice/Ice",
            "/usr/share/ice/slice/IceGrid",
            corpus,
        ] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "ice"))
            {
                if let Ok(t) = std::fs::read_to_string(&p) {
                    let t: String = t
                        .lines()
                        .map(|l| {
                            if l.trim_start().starts_with("#include") {
                                ""
                            } else {
                                l
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    out.push(t);
                }
            }
        }
        out
    })
}

/// Fragments inserted by mutations: tokens that steer the parser into
/// every production and the preprocessor into every directive.
const TOKENS: &[&str] = &[
    "{",
    "}",
    ";",
    ",",
    "<",
    ">",
    "(",
    ")",
    "[",
    "]",
    "[[",
    "]]",
    "::",
    "*",
    "=",
    "\"",
    "\\",
    "/*",
    "*/",
    "//",
    "/**",
    "///",
    "\n#if 1\n",
    "\n#endif\n",
    "\n#else\n",
    "\n#elif X\n",
    "\n#define X 2\n",
    "\n#pragma once\n",
    "\n#include \"x.ice\"\n",
    "\n#error e\n",
    "module M {",
    "class",
    "interface",
    "exception",
    "struct",
    "sequence<",
    "dictionary<",
    "enum",
    "const",
    "local",
    "extends",
    "implements",
    "throws",
    "idempotent",
    "optional(",
    "out",
    "void",
    "Object*",
    "Value",
    "LocalObject",
    "0x",
    "-",
    "1e",
    "99999999999999999999999",
    "\\u12",
    "\\x",
    "'",
    "\u{e9}",
    "\0",
    "true",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Keep bytes `[a, b)` (a random window, cut anywhere).
    Window(usize, usize),
    /// Replace the byte at a position.
    Replace(usize, u8),
    /// Delete a range.
    Delete(usize, usize),
    /// Duplicate a range in place.
    Duplicate(usize, usize),
    /// Insert a token.
    Insert(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Window(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        (any::<usize>(), 0usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0usize..256).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Mutation::Insert(a, t)),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let len = bytes.len().max(1);
    match *m {
        Mutation::Window(a, b) => {
            let (a, b) = (a % len, b % len);
            let (a, b) = (a.min(b), a.max(b).min(bytes.len()));
            // Keep windows small enough for a quick run.
            let b = b.min(a + 6000);
            bytes.get(a..b).map(<[u8]>::to_vec).unwrap_or_default()
        }
        Mutation::Replace(a, v) => {
            if let Some(x) = bytes.get_mut(a % len) {
                *x = v;
            }
            bytes
        }
        Mutation::Delete(a, n) => {
            let a = (a % len).min(bytes.len());
            let b = (a + n).min(bytes.len());
            bytes.drain(a..b);
            bytes
        }
        Mutation::Duplicate(a, n) => {
            let a = (a % len).min(bytes.len());
            let b = (a + n).min(bytes.len());
            let dup = bytes[a..b].to_vec();
            bytes.splice(a..a, dup);
            bytes
        }
        Mutation::Insert(a, t) => {
            let a = (a % len).min(bytes.len());
            bytes.splice(a..a, TOKENS[t % TOKENS.len()].bytes());
            bytes
        }
    }
}

fn compile(text: &str) {
    // The result does not matter; the call must return.
    let _ = compile_str("/nonexistent/fuzz.ice", text, &PreprocessOptions::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_slice_never_panics(seed in any::<usize>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let seeds = seeds();
        let mut bytes = seeds[seed % seeds.len()].clone().into_bytes();
        // Start from a window so each case stays small.
        if bytes.len() > 6000 {
            let start = (seed / seeds.len()) % (bytes.len() - 6000);
            bytes = bytes[start..start + 6000].to_vec();
        }
        for m in &muts {
            bytes = apply(bytes, m);
        }
        compile(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_token_soup_never_panics(toks in prop::collection::vec(0..TOKENS.len(), 0..120), words in prop::collection::vec("[A-Za-z_][A-Za-z0-9_]{0,6}|[0-9.eExX+-]{1,8}", 0..40)) {
        let mut text = String::new();
        for (k, t) in toks.iter().enumerate() {
            text.push_str(TOKENS[*t]);
            text.push(' ');
            if let Some(w) = words.get(k % words.len().max(1)) {
                text.push_str(w);
                text.push(' ');
            }
        }
        compile(&text);
    }
}

#[test]
fn deep_module_nesting_is_an_error_not_a_crash() {
    let deep = "module M { ".repeat(100_000);
    let (_, r) = compile_str(
        "/nonexistent/deep.ice",
        &deep,
        &PreprocessOptions::default(),
    );
    assert!(r.is_err());
}

#[test]
fn deep_if_expressions_are_errors_not_crashes() {
    for op in ["!", "(", "-", "~"] {
        let expr = format!(
            "#if {}1\n#endif\nmodule M {{ struct S {{ int x; }}; }};\n",
            op.repeat(100_000)
        );
        let (_, r) = compile_str(
            "/nonexistent/deep.ice",
            &expr,
            &PreprocessOptions::default(),
        );
        assert!(r.is_err(), "{op}");
    }
}
