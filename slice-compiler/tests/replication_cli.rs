//! `slice2rs --replication`: the State Replicator patterns of the inputs in
//! `tests/replication/`, one line each, or `file:line: error:` lines and
//! exit status 1 for a named interface that does not fit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replication")
}

fn slice2rs(args: &[&str]) -> Result<(Option<i32>, String, String), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .current_dir(dir())
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn recognised_patterns_are_listed() -> Result<(), String> {
    let (code, out, err) = slice2rs(&["--replication", "StateNames.ice", "OtherNaming.ice"])?;
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(
        "StateNames.ice: ::Acme::Presence::PresenceStateReplicator listener=::Acme::Presence::PresenceStateListener add=addStateReplicatorListener"
    ), "{out}");
    assert!(
        lines[1].starts_with("OtherNaming.ice: ::Telco::Journal "),
        "{out}"
    );
    Ok(())
}

#[test]
fn a_misfit_is_a_located_error() -> Result<(), String> {
    let (code, out, err) = slice2rs(&["--replication", "Misfit.ice"])?;
    assert_eq!(code, Some(1));
    assert_eq!(out, "");
    let want = std::fs::read_to_string(dir().join("Misfit.err")).map_err(|e| e.to_string())?;
    assert_eq!(err, want);
    Ok(())
}

#[test]
fn options_name_interfaces_and_keys() -> Result<(), String> {
    let (code, _, err) = slice2rs(&["--replication", "KeyAmbiguous.ice"])?;
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("KeyAmbiguous.ice:11: error: members `name` and `sku`"),
        "{err}"
    );
    let (code, out, err) = slice2rs(&[
        "--replicator-key",
        "Shop::Article=sku",
        "--replication",
        "KeyAmbiguous.ice",
    ])?;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("key=member:sku"), "{out}");
    let (code, _, err) = slice2rs(&["--replicator", "Acme::Presence::Nothing", "StateNames.ice"])?;
    assert_eq!(code, Some(1));
    assert!(
        err.contains("`Acme::Presence::Nothing` is not defined"),
        "{err}"
    );
    Ok(())
}
