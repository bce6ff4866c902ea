//! A native implementation of the ZeroC Ice protocol (protocol 1.0,
//! encodings 1.0 and 1.1) on tokio, wire-compatible with ZeroC Ice 3.7
//! programs in C++, Python or Java.
//!
//! Applications use it through the code `slice2rs` generates from their
//! Slice files (the `slice-compiler` crate): typed proxies (`HelloPrx`) to
//! call objects, servant traits (`Hello`) to implement them, and
//! dispatchers (`HelloServant::new(imp)`) to add to an object adapter. The
//! `hello_client` and `hello_server` examples are complete programs that
//! talk to ZeroC's own "hello" demo.
//!
//! Underneath, everything is here: a [`communicator::Communicator`] made
//! from [`properties::Properties`] (ZeroC's property names and defaults),
//! [`proxy::ObjectPrx`] (any object, with the `ice_*` factory methods and
//! the built-in operations), object adapters ([`adapter::ObjectAdapter`])
//! serving [`adapter::Servant`]s, and the `tcp`, `ssl`, `ws` and `wss`
//! transports. Without generated code, a servant can be written by hand
//! and called with untyped invocations:
//!
//! ```
//! use std::future::Future;
//! use std::pin::Pin;
//!
//! use ice_proto::adapter::{Current, DispatchResult, Servant};
//! use ice_proto::communicator::Communicator;
//! use ice_proto::encoding::{EncodingVersion, Identity};
//! use ice_proto::properties::Properties;
//! use ice_proto::protocol::{Encapsulation, OperationMode};
//! use ice_proto::proxy::Outcome;
//!
//! /// An object of type `::Demo::Hello` whose `sayHello` does nothing.
//! struct Hello;
//!
//! impl Servant for Hello {
//!     fn type_ids(&self) -> &[&str] {
//!         &["::Demo::Hello", "::Ice::Object"]
//!     }
//!
//!     fn dispatch<'a>(
//!         &'a self,
//!         current: &'a Current,
//!         _params: Encapsulation,
//!     ) -> Pin<Box<dyn Future<Output = DispatchResult> + Send + 'a>> {
//!         Box::pin(async move { Ok(Encapsulation::empty(current.encoding)) })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let communicator = Communicator::new(Properties::new());
//! let adapter = communicator
//!     .create_object_adapter_with_endpoints("Hello", "tcp -h 127.0.0.1 -p 0")
//!     .await?;
//! let hello = adapter.add(
//!     std::sync::Arc::new(Hello),
//!     Identity { name: "hello".into(), category: String::new() },
//! );
//! adapter.activate();
//!
//! // The proxy the adapter made: `ice_ping`, `ice_isA`, and a call by name.
//! hello.ice_ping().await?;
//! assert!(hello.ice_is_a("::Demo::Hello").await?);
//! let params = Encapsulation::empty(EncodingVersion::V1_1);
//! let outcome = hello.ice_invoke("sayHello", OperationMode::Normal, params, None).await?;
//! assert!(matches!(outcome, Outcome::Ok(_)));
//! communicator.destroy().await;
//! # Ok(())
//! # }
//! ```
//!
//! Layers, from the bottom: [`encoding`] (streams over bytes), [`protocol`]
//! (frames), [`transport`], [`connection`], and [`communicator`] /
//! [`proxy`] / [`adapter`]; generated code reaches them through one hidden
//! module, `codegen`.

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
