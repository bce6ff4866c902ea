//! Generates the Rust side of the benchmark from `Bench.ice`, the file
//! the C++ side is generated from with `slice2cpp`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    slice_compiler::builder::Builder::new()
        .file(dir.join("Bench.ice"))
        .file_name("bench.rs")
        .compile()?;
    Ok(())
}
