//! A native implementation of the ZeroC Ice protocol.
//!
//! Layers, from the bottom: `encoding` (streams over bytes), `protocol`
//! (frames), `transport`, `connection`, and `communicator`/`proxy`/`adapter`.

pub mod encoding;

pub mod properties;
pub mod protocol;
pub mod reference;

pub mod adapter;
#[doc(hidden)]
pub mod codegen;
pub mod communicator;
pub mod connection;
pub mod locator;
pub mod proxy;
pub mod runtime_error;
pub mod transport;
pub mod typed_proxy;

#[cfg(test)]
mod test_support;

pub use runtime_error::RuntimeError;
