//! Slicing, `["preserve-slice"]` and the format metadata against ZeroC Ice,
//! through a Rust relay generated from `slice/Preserve.ice`:
//!
//! ZeroC Python or C++ client → Rust relay (generated servant) → ZeroC
//! Python server (through the generated proxy), where the ZeroC peers know
//! subclasses (`slice/PreserveHidden.ice`) that the Rust relay does not.
//! In encoding 1.1 the ZeroC client must get back the most-derived class
//! and exception intact (members, optional members, class members, a cycle
//! and shared instances) for `["preserve-slice"]` types, and the sliced base
//! for the others; in 1.0 (which carries no preserved slices) the base.
//! The relay also sends a class and an exception only it knows
//! (`slice/PreserveRustOnly.ice`): ZeroC slices them to the base under
//! `["format:sliced"]` and cannot under `["format:compact"]`.
//! The checks run in `interop/preserve_peer.py` and
//! `interop/preserve_client.cpp`.
//!
//! The other direction: a generated Rust proxy reads the ZeroC server's
//! `HiddenItem`/`HiddenError` as `Item`/`BaseError` (slices kept in 1.1)
//! under `["format:sliced"]`, and fails as ZeroC does under
//! `["format:compact"]` in 1.1.

mod support;

use generated_check::preserve_slice::preserve as p;
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Class, EncodingVersion};
use ice_proto::properties::Properties;
use std::error::Error;
use support::{CppPeer, Server, TestResult};
use tokio::process::Command;

/// `interop/preserve_client.cpp`.
static CPP_CLIENT: CppPeer = CppPeer {
    cache: "preserve-interop-cpp",
    slice: &["Preserve.ice", "PreserveHidden.ice"],
    source: "preserve_client.cpp",
    exe: "preserve_client",
};

/// The Rust relay: forwards every call to the ZeroC server and returns
/// (or raises) what it got; makes `RustItem`/`RustError` itself.
struct RelayImpl {
    server: p::RelayPrx,
}

fn runtime(e: impl std::fmt::Display) -> DispatchError {
    DispatchError::UnknownException(e.to_string())
}

impl p::Relay for RelayImpl {
    async fn fail(&self, kind: String, current: &Current) -> Result<(), DispatchError> {
        // Whatever arrived goes back out unchanged.
        let _ = current;
        Ok(self.server.fail(&kind).await?)
    }

    async fn echo_item(
        &self,
        item: Option<Class<p::Item>>,
        _current: &Current,
    ) -> Result<Option<Class<p::Item>>, DispatchError> {
        self.server.echo_item(item.as_ref()).await.map_err(runtime)
    }

    async fn echo_items(
        &self,
        items: p::ItemSeq,
        _current: &Current,
    ) -> Result<p::ItemSeq, DispatchError> {
        self.server.echo_items(&items).await.map_err(runtime)
    }

    async fn echo_plain(
        &self,
        item: Option<Class<p::PlainItem>>,
        _current: &Current,
    ) -> Result<Option<Class<p::PlainItem>>, DispatchError> {
        self.server.echo_plain(item.as_ref()).await.map_err(runtime)
    }

    async fn make_item(&self, _current: &Current) -> Result<Option<Class<p::Item>>, DispatchError> {
        Ok(Some(rust_item()))
    }

    async fn make_item_compact(
        &self,
        _current: &Current,
    ) -> Result<Option<Class<p::Item>>, DispatchError> {
        Ok(Some(rust_item()))
    }

    async fn fail_unknown(&self, _current: &Current) -> Result<(), DispatchError> {
        Err(rust_error().into())
    }

    async fn fail_unknown_compact(&self, current: &Current) -> Result<(), DispatchError> {
        Err(current.user_exception(&rust_error()))
    }

    async fn shutdown(&self, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }
}

fn rust_item() -> Class<p::Item> {
    Class::from_value(p::RustItem {
        base: p::Item { key: "rust".into() },
        extra: "only Rust knows".into(),
    })
}

fn rust_error() -> p::RustError {
    p::RustError {
        base: p::BaseError {
            reason: "rust".into(),
            ice_sliced_data: None,
        },
        extra: "only Rust knows".into(),
        ice_sliced_data: None,
    }
}

/// Starts the ZeroC Python server (killed on drop).
async fn python_server() -> Result<Server, Box<dyn Error>> {
    Server::start(&mut support::python("preserve_peer.py", &["server"])).await
}

/// Which ZeroC client calls the Rust relay.
#[derive(Clone, Copy)]
enum Client {
    Python,
    Cpp,
}

async fn relay(encoding: &str) -> TestResult {
    relay_with(encoding, Client::Python).await
}

async fn relay_with(encoding: &str, client: Client) -> TestResult {
    let enc = match encoding {
        "1.0" => EncodingVersion::V1_0,
        _ => EncodingVersion::V1_1,
    };
    let zeroc_server = python_server().await?;
    let communicator = Communicator::new(Properties::new());
    let base = support::loopback_proxy(&communicator, "relay", zeroc_server.port)?
        .ice_encoding_version(enc);
    let server = p::RelayPrx::unchecked_cast(base);
    let relay = p::RelayServant::new(RelayImpl { server });
    let port = support::serve(&communicator, "Relay", vec![(relay, "relay")]).await?;

    let proxy = format!("relay:tcp -h 127.0.0.1 -p {port}");
    let mut cmd = match client {
        Client::Python => support::python("preserve_peer.py", &["client"]),
        Client::Cpp => Command::new(support::cpp_exe(&CPP_CLIENT).await?),
    };
    let (status, stdout) = support::run_client(cmd.args([proxy.as_str(), encoding])).await?;
    communicator.destroy().await;
    if !status.success() || !stdout.contains("ALL OK") {
        return Err(format!("ZeroC client checks failed in encoding {encoding}").into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_types_unknown_to_the_rust_relay_pass_through_it_1_1() -> TestResult {
    relay("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_types_unknown_to_the_rust_relay_pass_through_it_1_0() -> TestResult {
    relay("1.0").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_cpp_client_gets_its_types_intact_through_the_rust_relay_1_1() -> TestResult {
    relay_with("1.1", Client::Cpp).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_cpp_client_gets_sliced_types_through_the_rust_relay_1_0() -> TestResult {
    relay_with("1.0", Client::Cpp).await
}

/// The Rust side of the format metadata: a generated proxy reading what a
/// ZeroC server sends of types it does not know.
async fn rust_client(enc: EncodingVersion) -> TestResult {
    let zeroc_server = python_server().await?;
    let communicator = Communicator::new(Properties::new());
    let base = support::loopback_proxy(&communicator, "relay", zeroc_server.port)?
        .ice_encoding_version(enc);
    let server = p::RelayPrx::checked_cast(&base)
        .await?
        .ok_or("not a Relay")?;
    let e11 = enc == EncodingVersion::V1_1;

    // Sliced format: HiddenItem arrives as Item, its slices kept in 1.1.
    let item = server.make_item().await?.ok_or("null item")?;
    assert_eq!(item.ice_id(), p::Item::ICE_ID);
    assert_eq!(item.read().key, "a");
    let kept: Vec<String> = item
        .sliced_data()
        .iter()
        .flat_map(|s| &s.slices)
        .map(|s| s.type_id.clone())
        .collect();
    let want: Vec<String> = if e11 {
        vec!["::Preserve::HiddenItem".into()]
    } else {
        Vec::new()
    };
    assert_eq!(kept, want);

    // Compact format: in 1.1 an unknown subclass cannot be sliced.
    let compact = server.make_item_compact().await;
    if e11 {
        let err = compact.err().ok_or("compact HiddenItem decoded")?;
        println!("compact HiddenItem: {err}");
        assert!(err.to_string().contains("HiddenItem"), "{err}");
    } else {
        let got = compact?.ok_or("null item")?;
        assert_eq!(got.ice_id(), p::Item::ICE_ID);
    }

    // Exceptions likewise.
    match server.fail_unknown().await {
        Err(p::RelayFailUnknownError::BaseError(e)) => {
            assert_eq!(e.reason, "why");
            assert_eq!(e.ice_sliced_data.is_some(), e11, "{e:?}");
        }
        other => return Err(format!("failUnknown: {other:?}").into()),
    }
    match server.fail_unknown_compact().await {
        Err(p::RelayFailUnknownCompactError::BaseError(e)) if !e11 => {
            assert_eq!(e.reason, "why");
        }
        Err(p::RelayFailUnknownCompactError::Runtime(e)) if e11 => {
            println!("compact HiddenError: {e}");
            assert!(e.to_string().contains("HiddenError"), "{e}");
        }
        other => return Err(format!("failUnknownCompact: {other:?}").into()),
    }
    server.shutdown().await?;
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_slices_unknown_zeroc_types_only_in_the_sliced_format_1_1() -> TestResult {
    rust_client(EncodingVersion::V1_1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_slices_unknown_zeroc_types_in_1_0() -> TestResult {
    rust_client(EncodingVersion::V1_0).await
}
