//! Generates the Rust mapping of the project's Slice files that the
//! replicator and the example component use, with slice2rs's build API.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let slice = Path::new(env!("CARGO_MANIFEST_DIR")).join("../slice");
    let files = [
        "AsteriskSCF/System/Component/ReplicaIf.ice",
        "AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.ice",
        "AsteriskSCF/ChannelServiceX/ChannelServiceXIf.ice",
    ];
    slice_compiler::builder::Builder::new()
        .files(files.iter().map(|f| slice.join(f)))
        .include_dir(&slice)
        .file_name("scf.rs")
        .replication(true)
        .replicator_crate("crate")
        .compile()?;
    Ok(())
}
