//! Helpers shared by the integration tests: locating the ZeroC Ice peers and
//! the committed fixtures.

use std::path::PathBuf;

pub mod golden;
pub mod peers;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}
