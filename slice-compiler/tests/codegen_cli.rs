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
