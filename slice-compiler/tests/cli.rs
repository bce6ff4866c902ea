//! The `slice2rs` command line: `-E`, `--depend`, `-I`/`-D`/`-U` (also glued,
//! as Ice accepts them), `__SLICE2RS__`, diagnostics in included files,
//! diagnostics format and exit status.

// A test harness: setup failures must stop the test loudly.
#![allow(clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
    }
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run slice2rs: {e}"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const CONDITIONAL: &str = "#ifdef __SLICE2RS__\nmodule Rs { struct A { int x; }; };\n#endif\n\
#if defined(FOO) && FOO == 2\nmodule Foo { struct B { int x; }; };\n#elif defined(BAR)\nmodule Bar { struct C { int x; }; };\n#else\nmodule None { struct D { int x; }; };\n#endif\n";

#[test]
fn preprocess_only_prints_text_with_line_markers() {
    let d = tmp();
    write(
        d.path(),
        "inc/b.ice",
        "#pragma once\nmodule B { struct S { int x; }; };\n",
    );
    write(
        d.path(),
        "a.ice",
        "#include <b.ice>\n#include \"inc/b.ice\"\nmodule A { struct T { ::B::S s; }; };\n",
    );
    let o = run(d.path(), &["-E", "-Iinc", "a.ice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("#line 1 \"a.ice\"\n"), "{out}");
    assert!(out.contains("#line 1 \"inc/b.ice\"\n"), "{out}");
    assert!(out.contains("#line 2 \"a.ice\"\n"), "{out}");
    assert_eq!(out.matches("module B").count(), 1, "pragma once: {out}");
    assert!(out.contains("module A"), "{out}");
}

#[test]
fn preprocess_only_applies_conditionals_and_defines() {
    let d = tmp();
    write(d.path(), "c.ice", CONDITIONAL);
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (
            &[],
            &["module Rs", "module None"],
            &["module Foo", "module Bar"],
        ),
        (
            &["-DFOO=2"],
            &["module Rs", "module Foo"],
            &["module Bar", "module None"],
        ),
        (&["-D", "FOO=2"], &["module Foo"], &["module None"]),
        (
            &["-DFOO=3", "-DBAR"],
            &["module Bar"],
            &["module Foo", "module None"],
        ),
        (&["-U__SLICE2RS__"], &["module None"], &["module Rs"]),
        (&["-DBAR", "-UBAR"], &["module None"], &["module Bar"]),
    ];
    for (args, present, absent) in cases {
        let mut a: Vec<&str> = vec!["-E"];
        a.extend_from_slice(args);
        a.push("c.ice");
        let o = run(d.path(), &a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        for p in *present {
            assert!(out.contains(p), "{args:?}: {p} missing in\n{out}");
        }
        for p in *absent {
            assert!(!out.contains(p), "{args:?}: {p} present in\n{out}");
        }
        // Line structure is kept: one output line per source line.
        assert_eq!(
            out.lines().filter(|l| !l.starts_with("#line")).count(),
            CONDITIONAL.lines().count()
        );
    }
}

#[test]
fn depend_lists_every_included_file() {
    let d = tmp();
    write(
        d.path(),
        "inc/b.ice",
        "#pragma once\n#include <c.ice>\nmodule B { struct S { int x; }; };\n",
    );
    write(
        d.path(),
        "inc/c.ice",
        "#pragma once\nmodule C { struct S { int x; }; };\n",
    );
    write(
        d.path(),
        "a.ice",
        "#include <b.ice>\n#include <c.ice>\nmodule A { struct T { ::B::S s; }; };\n",
    );
    let o = run(d.path(), &["--depend", "-Iinc", "a.ice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "a.rs: \\\n a.ice \\\n inc/b.ice \\\n inc/c.ice\n"
    );
    let o = run(
        d.path(),
        &["--depend", "--output-dir", "gen", "-Iinc", "a.ice"],
    );
    assert!(stdout(&o).starts_with("gen/a.rs: \\\n"), "{}", stdout(&o));
}

#[test]
fn error_in_included_file_names_that_file_and_line() {
    let d = tmp();
    write(
        d.path(),
        "inc/bad.ice",
        "#pragma once\nmodule B\n{\n    struct S { Missing m; };\n};\n",
    );
    write(
        d.path(),
        "a.ice",
        "// top\n#include <bad.ice>\nmodule A { struct T { int x; }; };\n",
    );
    let o = run(d.path(), &["-Iinc", "a.ice"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(
        err.lines().next(),
        Some("inc/bad.ice:4: error: `Missing' is not defined"),
        "{err}"
    );
}

#[test]
fn error_after_include_names_the_including_file_line() {
    let d = tmp();
    write(
        d.path(),
        "inc/good.ice",
        "#pragma once\n\n\nmodule B { struct S { int x; }; };\n\n",
    );
    write(d.path(), "a.ice", "#include <good.ice>\nmodule A\n{\n    struct T { ::B::S s; };\n    struct T { int y; };\n};\n");
    let o = run(d.path(), &["-Iinc", "a.ice"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("a.ice:5: error: redefinition of struct `T'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn defines_change_what_is_compiled() {
    let d = tmp();
    write(
        d.path(),
        "a.ice",
        "module M\n{\n#ifndef GOOD\n    struct S { Missing m; };\n#else\n    struct S { int x; };\n#endif\n};\n",
    );
    let o = run(d.path(), &["a.ice"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("a.ice:4: error: "), "{}", stderr(&o));
    let o = run(d.path(), &["-DGOOD", "a.ice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(d.path(), &["-DGOOD", "-UGOOD", "a.ice"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn slice2rs_is_predefined() {
    let d = tmp();
    write(
        d.path(),
        "a.ice",
        "#ifndef __SLICE2RS__\n#error not slice2rs\n#endif\nmodule M { struct S { int x; }; };\n",
    );
    let o = run(d.path(), &["a.ice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(d.path(), &["-U__SLICE2RS__", "a.ice"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("a.ice:2: error: #error not slice2rs"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn warnings_do_not_fail() {
    let d = tmp();
    write(
        d.path(),
        "a.ice",
        "module M { struct S { int x; }; };\n#warning careful\n",
    );
    let o = run(d.path(), &["a.ice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "a.ice:2: warning: #warning careful\n");
}

#[test]
fn units_are_independent_and_all_reported() {
    let d = tmp();
    // The same definitions in two files are fine: each file is its own unit.
    write(d.path(), "a.ice", "module M { struct S { int x; }; };\n");
    write(d.path(), "b.ice", "module M { struct S { int x; }; };\n");
    write(d.path(), "c.ice", "module M { struct S { X x; }; };\n");
    let o = run(d.path(), &["a.ice", "b.ice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(d.path(), &["a.ice", "c.ice", "b.ice"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "c.ice:1: error: `X' is not defined\n");
}

#[test]
fn missing_files_and_bad_options_fail() {
    let d = tmp();
    let o = run(d.path(), &["nope.ice"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.ice"), "{}", stderr(&o));
    let o = run(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(d.path(), &["--no-such-option", "a.ice"]);
    assert_eq!(o.status.code(), Some(1));
    write(d.path(), "a.ice", "#include \"gone.ice\"\n");
    let o = run(d.path(), &["a.ice"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("a.ice:1: error: "), "{}", stderr(&o));
}

#[test]
fn help_and_version() {
    let d = tmp();
    for flag in ["-h", "--help"] {
        let o = run(d.path(), &[flag]);
        assert!(o.status.success());
        let out = stdout(&o);
        for opt in [
            "-I",
            "-D",
            "-U",
            "-E",
            "--output-dir",
            "--depend",
            "--version",
        ] {
            assert!(out.contains(opt), "{flag}: {opt} missing in {out}");
        }
    }
    for flag in ["-v", "--version"] {
        let o = run(d.path(), &[flag]);
        assert!(o.status.success());
        assert_eq!(
            stdout(&o).trim(),
            format!("slice2rs {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
