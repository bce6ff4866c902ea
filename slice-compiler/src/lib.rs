//! The Slice compiler: reads `.ice` files and (in later stages) generates Rust.
//!
//! The pipeline is preprocess, parse, resolve, validate, generate; each phase
//! runs only when the ones before it produced no error.

/// The version string printed by `slice2rs --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
