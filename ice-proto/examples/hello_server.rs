//! A Rust server for ZeroC's "hello" demo: any hello client (ZeroC's C++,
//! Python or Java demo, or `hello_client`) can call it.
//!
//! ```text
//! cargo run -p ice-proto --example hello_server -- "tcp -h localhost -p 10000"
//! ```
//!
//! It serves the object `hello` on an adapter named `Hello` (the demo's
//! `Hello.Endpoints`, default `tcp -h localhost -p 10000`), prints
//! `READY <port>` once it listens, prints `Hello World!` for each
//! `sayHello`, and exits after `shutdown`.

use std::time::Duration;

use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;

mod generated {
    #![allow(missing_docs, dead_code)]
    include!("hello/Hello.rs");
}
use generated::demo::{Hello, HelloServant};

/// The servant: what `sayHello` and `shutdown` do.
struct HelloImpl;

impl Hello for HelloImpl {
    async fn say_hello(&self, delay: i32, _current: &Current) -> Result<(), DispatchError> {
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay.unsigned_abs().into())).await;
        }
        println!("Hello World!");
        Ok(())
    }

    async fn shutdown(&self, current: &Current) -> Result<(), DispatchError> {
        println!("Shutting down...");
        // The reply to this call still goes out before the connections close.
        current.adapter.communicator().shutdown().await;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoints = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp -h localhost -p 10000".to_owned());
    let communicator = Communicator::new(Properties::new().with("Hello.Endpoints", &endpoints));
    let adapter = communicator.create_object_adapter("Hello").await?;
    let _ = adapter.add(
        HelloServant::new(HelloImpl),
        Identity {
            name: "hello".into(),
            category: String::new(),
        },
    );
    adapter.activate();
    if let Some(Endpoint::Tcp(ip)) = adapter.endpoints().first() {
        println!("READY {}", ip.port);
    }
    communicator.wait_for_shutdown().await;
    communicator.destroy().await;
    Ok(())
}
