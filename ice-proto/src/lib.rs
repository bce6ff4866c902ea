//! A native implementation of the ZeroC Ice protocol.
//!
//! Layers, from the bottom: `encoding` (streams over bytes), `protocol`
//! (frames), `transport`, `connection`, and `communicator`/`proxy`/`adapter`.

pub mod encoding;

#[doc(hidden)]
pub use encoding::codegen;
