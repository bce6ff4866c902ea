//! Generates the Rust mapping of the project's Slice files that the
//! replicator and the example components use, with slice2rs's build API,
//! State Replicator glue included (`scf.rs`); and the mapping and glue of
//! the test components from slice2rs's recogniser inputs from slice2rs's recogniser
//! inputs (`replication_inputs.rs`, used by the tests).

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let slice = root.join("../slice");
    let files = [
        "AsteriskSCF/System/Component/ReplicaIf.ice",
        "AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.ice",
        "AsteriskSCF/ChannelServiceX/ChannelServiceXIf.ice",
        "AsteriskSCF/SessionServiceY/SessionServiceYStateReplicationIf.ice",
        "AsteriskSCF/BridgeServiceZ/BridgeServiceZStateReplicationIf.ice",
    ];
    slice_compiler::builder::Builder::new()
        .files(files.iter().map(|f| slice.join(f)))
        .include_dir(&slice)
        .file_name("scf.rs")
        .replication(true)
        .replicator_crate("crate")
        .compile()?;
    let inputs = root.join("../slice-compiler/tests/replication");
    slice_compiler::builder::Builder::new()
        .file(inputs.join("StateNames.ice"))
        .file(inputs.join("OtherNaming.ice"))
        .file(inputs.join("RemoveByItems.ice"))
        .file(inputs.join("KeyByMetadata.ice"))
        .file(inputs.join("OpsByMetadata.ice"))
        .file_name("replication_inputs.rs")
        .replication(true)
        .compile()?;
    Ok(())
}
