//! A Rust client for ZeroC's "hello" demo: it calls any hello server
//! (ZeroC's C++, Python or Java demo server, or `hello_server`).
//!
//! ```text
//! cargo run -p ice-proto --example hello_client -- "hello:tcp -h localhost -p 10000" t o s
//! ```
//!
//! The first argument is the proxy (the demo's `Hello.Proxy`); each
//! further argument is one of the demo's menu commands: `t` a twoway
//! `sayHello`, `o` a oneway one, `d` a twoway one with a 500 ms delay, `s`
//! `shutdown` of the server.

use ice_proto::communicator::Communicator;
use ice_proto::properties::Properties;
use ice_proto::typed_proxy::TypedProxy;

mod generated {
    #![allow(missing_docs, dead_code)]
    include!("hello/Hello.rs");
}
use generated::demo::HelloPrx;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let proxy = args
        .next()
        .unwrap_or_else(|| "hello:tcp -h localhost -p 10000".to_owned());
    let communicator = Communicator::new(Properties::new());
    let base = communicator.string_to_proxy(&proxy)?.ok_or("null proxy")?;
    let hello = HelloPrx::checked_cast(&base)
        .await?
        .ok_or("invalid proxy: not a ::Demo::Hello")?;
    for command in args {
        match command.as_str() {
            "t" => hello.say_hello(0).await?,
            "o" => hello.ice_oneway().say_hello(0).await?,
            "d" => hello.say_hello(500).await?,
            "s" => hello.shutdown().await?,
            other => return Err(format!("unknown command `{other}`").into()),
        }
        println!("{command}: done");
    }
    communicator.destroy().await;
    Ok(())
}
