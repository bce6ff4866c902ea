//! Generates the Rust mapping of the project's Slice files that the
//! replicator and the example component use, with slice2rs's build API.
//!
//! Work-around (to drop once slice2rs is fixed): the generator writes and
//! reads the encoding 1.0 pending class instances in both directions of an
//! operation that has classes in one direction only, which ZeroC rejects in
//! encoding 1.0 (a stray byte in an empty encapsulation). The generated text
//! is patched for the operations of these Slice files; when the generator
//! no longer emits those lines the patch finds nothing to remove.

use std::path::Path;

/// Operations with classes only in their parameters: (proxy fn, Slice name).
const CLASSES_IN: &[(&str, &str)] = &[
    ("set_state_items", "setStateItems"),
    ("state_items_set", "stateItemsSet"),
];
/// Operations with classes only in their results.
const CLASSES_OUT: &[(&str, &str)] = &[
    ("get_state_items", "getStateItems"),
    ("get_all_state_items", "getAllStateItems"),
    ("get_channel", "getChannel"),
];

/// Removes the first `line` between `start` and the nearest of `ends`.
fn remove_in_block(text: &mut String, start: &str, ends: &[&str], line: &str) {
    let Some(s) = text.find(start) else { return };
    let from = s + start.len();
    let end = ends
        .iter()
        .filter_map(|e| text[from..].find(e))
        .min()
        .map_or(text.len(), |e| from + e);
    if let Some(pos) = text[from..end].find(line) {
        let at = from + pos;
        text.replace_range(at..at + line.len(), "");
    }
}

fn patch(text: &mut String) {
    let proxy_ends = ["pub async fn ", "pub trait ", "pub struct "];
    let dispatch_ends = ["\" => {", "_ => {"];
    for (rust, slice) in CLASSES_IN {
        let p = format!("pub async fn {rust}(");
        remove_in_block(text, &p, &proxy_ends, "ice_in.read_pending_classes()?;");
        let d = format!("\"{slice}\" => {{");
        remove_in_block(text, &d, &dispatch_ends, "ice_out.write_pending_classes();");
    }
    for (rust, slice) in CLASSES_OUT {
        let p = format!("pub async fn {rust}(");
        remove_in_block(text, &p, &proxy_ends, "ice_out.write_pending_classes();");
        let d = format!("\"{slice}\" => {{");
        remove_in_block(text, &d, &dispatch_ends, "ice_in.read_pending_classes()?;");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let slice = Path::new(env!("CARGO_MANIFEST_DIR")).join("../slice");
    let files = [
        "AsteriskSCF/System/Component/ReplicaIf.ice",
        "AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.ice",
        "AsteriskSCF/ChannelServiceX/ChannelServiceXIf.ice",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={}", slice.join(f).display());
    }
    slice_compiler::builder::Builder::new()
        .files(files.iter().map(|f| slice.join(f)))
        .include_dir(&slice)
        .file_name("scf.rs")
        .compile()?;
    let out = Path::new(&std::env::var("OUT_DIR")?).join("scf.rs");
    let mut text = std::fs::read_to_string(&out)?;
    patch(&mut text);
    std::fs::write(&out, text)?;
    Ok(())
}
