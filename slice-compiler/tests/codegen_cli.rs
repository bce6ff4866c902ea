//! `slice2rs --output-dir`: writes `<stem>.rs` per Slice file, the same
//! text the generator's golden test pins.

use pretty_assertions::assert_eq;
use std::path::Path;
use std::process::Command;

#[test]
fn output_dir_gets_one_rust_file_per_slice_file() -> Result<(), Box<dyn std::error::Error>> {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden_codegen");
    let dir = tempfile::tempdir()?;
    let status = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("--output-dir")
        .arg(dir.path())
        .arg(golden.join("Small.ice"))
        .status()?;
    assert!(status.success());
    let got = std::fs::read_to_string(dir.path().join("Small.rs"))?;
    let want = std::fs::read_to_string(golden.join("Small.rs"))?;
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn slice_errors_write_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let ice = dir.path().join("Bad.ice");
    std::fs::write(&ice, "module M { struct S { nosuchtype x; } }\n")?;
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("--output-dir")
        .arg(dir.path())
        .arg(&ice)
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Bad.ice:1: "));
    assert!(!dir.path().join("Bad.rs").exists());
    Ok(())
}

#[test]
fn output_dir_trees_refer_to_the_trees_of_included_files() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("A.ice"),
        "#pragma once\nmodule M { struct S { int x; } class C { string n; } }\n",
    )?;
    std::fs::write(
        dir.path().join("B.ice"),
        "#pragma once\n#include <A.ice>\n\
         module M { module N { struct T { S s; } class D extends C { S s; } } }\n",
    )?;
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("-I")
        .arg(dir.path())
        .arg("--output-dir")
        .arg(dir.path())
        .arg(dir.path().join("A.ice"))
        .arg(dir.path().join("B.ice"))
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = std::fs::read_to_string(dir.path().join("B.rs"))?;
    // From `M::N` in B's tree: up three levels (N, M, B's tree) into A's.
    assert!(b.contains("pub s: super::super::super::a::m::S"), "{b}");
    assert!(b.contains("pub base: super::super::super::a::m::C"), "{b}");
    assert!(b.contains("super::a::register_types(registry);"), "{b}");
    let a = std::fs::read_to_string(dir.path().join("A.rs"))?;
    assert!(!a.contains("super::b::"), "{a}");
    Ok(())
}
