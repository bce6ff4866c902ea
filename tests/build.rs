//! Generates the Rust mapping of the Slice files the interop tests are built
//! from, with slice2rs through its `build.rs` API, into `OUT_DIR`:
//! `interop_test.rs` from `interop/Test.ice` (servant and proxy of the
//! runtime interop tests) and `golden_fixtures.rs` from
//! `golden/encoding/Fixtures.ice` (the types of the golden encoding
//! fixtures; `GoldenHidden.ice` stays unknown to Rust on purpose).

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    slice_compiler::builder::Builder::new()
        .file(manifest.join("interop/Test.ice"))
        .file_name("interop_test.rs")
        .compile()?;
    slice_compiler::builder::Builder::new()
        .file(manifest.join("golden/encoding/Fixtures.ice"))
        .file_name("golden_fixtures.rs")
        .compile()?;
    Ok(())
}
