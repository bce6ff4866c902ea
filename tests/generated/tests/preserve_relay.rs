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

use generated_check::preserve_slice::preserve as p;
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{ClassRef, EncodingVersion, Identity};
use ice_proto::properties::Properties;
use std::error::Error;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

type TestResult = Result<(), Box<dyn Error>>;

const PYTHON: &str = "/usr/bin/python3";

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/preserve_peer.py")
}

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
        match self.server.fail(&kind, None).await {
            Ok(()) => Ok(()),
            Err(p::RelayFailError::BaseError(e)) => Err(current.user_exception(&e)),
            Err(p::RelayFailError::PlainError(e)) => Err(current.user_exception(&e)),
            Err(e) => Err(runtime(e)),
        }
    }

    async fn echo_item(
        &self,
        item: Option<ClassRef>,
        _current: &Current,
    ) -> Result<Option<ClassRef>, DispatchError> {
        self.server.echo_item(&item, None).await.map_err(runtime)
    }

    async fn echo_items(
        &self,
        items: p::ItemSeq,
        _current: &Current,
    ) -> Result<p::ItemSeq, DispatchError> {
        self.server.echo_items(&items, None).await.map_err(runtime)
    }

    async fn echo_plain(
        &self,
        item: Option<ClassRef>,
        _current: &Current,
    ) -> Result<Option<ClassRef>, DispatchError> {
        self.server.echo_plain(&item, None).await.map_err(runtime)
    }

    async fn make_item(&self, _current: &Current) -> Result<Option<ClassRef>, DispatchError> {
        Ok(Some(rust_item()))
    }

    async fn make_item_compact(
        &self,
        _current: &Current,
    ) -> Result<Option<ClassRef>, DispatchError> {
        Ok(Some(rust_item()))
    }

    async fn fail_unknown(&self, current: &Current) -> Result<(), DispatchError> {
        Err(current.user_exception(&rust_error()))
    }

    async fn fail_unknown_compact(&self, current: &Current) -> Result<(), DispatchError> {
        Err(current.user_exception(&rust_error()))
    }

    async fn shutdown(&self, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }
}

fn rust_item() -> ClassRef {
    ClassRef::new(p::RustItem {
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

/// Starts the ZeroC Python server; returns it (killed on drop) and its port.
async fn python_server() -> Result<(Child, u16), Box<dyn Error>> {
    let mut child = Command::new(PYTHON)
        .arg(peer_script())
        .arg("server")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await??
        .ok_or("server exited before printing its port")?;
    Ok((child, line.trim().parse()?))
}

/// Builds `interop/preserve_client.cpp` once (slice2cpp, g++ with the
/// C++11 mapping) into the target folder, keyed by a hash of its sources.
fn cpp_client_exe() -> Result<PathBuf, String> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_cpp_client().map_err(|e| e.to_string()))
        .clone()
}

fn build_cpp_client() -> Result<PathBuf, Box<dyn Error>> {
    use std::hash::{Hash, Hasher};
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let slice = here.join("slice");
    let source = here.join("interop/preserve_client.cpp");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for f in [
        slice.join("Preserve.ice"),
        slice.join("PreserveHidden.ice"),
        source.clone(),
    ] {
        std::fs::read(&f)?.hash(&mut hasher);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../../target"));
    let dir = target
        .join("preserve-interop-cpp")
        .join(format!("{:016x}", hasher.finish()));
    let exe = dir.join("preserve_client");
    if exe.exists() {
        return Ok(exe);
    }
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let run = |cmd: &mut std::process::Command| -> Result<(), Box<dyn Error>> {
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(())
    };
    run(std::process::Command::new("slice2cpp")
        .arg("-I")
        .arg(&slice)
        .arg("--output-dir")
        .arg(&tmp)
        .arg(slice.join("Preserve.ice"))
        .arg(slice.join("PreserveHidden.ice")))?;
    run(std::process::Command::new("g++")
        .args(["-std=c++17", "-DICE_CPP11_MAPPING", "-I."])
        .args(["Preserve.cpp", "PreserveHidden.cpp"])
        .arg(&source)
        .args(["-o", "preserve_client", "-lIce++11", "-lpthread"])
        .current_dir(&tmp))?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another test process built it first; theirs is as good.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(exe)
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
    let (_server, server_port) = python_server().await?;
    let communicator = Communicator::new(Properties::new());
    let base = communicator
        .string_to_proxy(&format!("relay:tcp -h 127.0.0.1 -p {server_port}"))?
        .ok_or("null proxy")?
        .ice_encoding_version(enc);
    let server = p::RelayPrx::unchecked_cast(base);

    let adapter = communicator
        .create_object_adapter_with_endpoints("Relay", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let id = Identity {
        name: "relay".into(),
        category: String::new(),
    };
    let _ = adapter.add(
        Arc::new(p::RelayServant(Arc::new(RelayImpl { server }))),
        id,
    );
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(ice_proto::encoding::Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => return Err(format!("unexpected endpoint {other:?}").into()),
    };

    let proxy = format!("relay:tcp -h 127.0.0.1 -p {port}");
    let mut cmd = match client {
        Client::Python => {
            let mut c = Command::new(PYTHON);
            c.arg(peer_script()).arg("client");
            c
        }
        Client::Cpp => Command::new(tokio::task::spawn_blocking(cpp_client_exe).await??),
    };
    let child = cmd
        .args([proxy.as_str(), encoding])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    communicator.destroy().await;
    if !out.status.success() || !stdout.contains("ALL OK") {
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
    let (_server, port) = python_server().await?;
    let communicator = Communicator::new(Properties::new());
    let base = communicator
        .string_to_proxy(&format!("relay:tcp -h 127.0.0.1 -p {port}"))?
        .ok_or("null proxy")?
        .ice_encoding_version(enc);
    let server = p::RelayPrx::checked_cast(&base)
        .await?
        .ok_or("not a Relay")?;
    let e11 = enc == EncodingVersion::V1_1;

    // Sliced format: HiddenItem arrives as Item, its slices kept in 1.1.
    let item = server.make_item(None).await?.ok_or("null item")?;
    assert_eq!(item.ice_id(), Some(p::Item::ICE_ID));
    assert_eq!(
        item.downcast_ref::<p::Item>().map(|i| i.key.as_str()),
        Some("a")
    );
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
    let compact = server.make_item_compact(None).await;
    if e11 {
        let err = compact.err().ok_or("compact HiddenItem decoded")?;
        println!("compact HiddenItem: {err}");
        assert!(err.to_string().contains("HiddenItem"), "{err}");
    } else {
        let got = compact?.ok_or("null item")?;
        assert_eq!(got.ice_id(), Some(p::Item::ICE_ID));
    }

    // Exceptions likewise.
    match server.fail_unknown(None).await {
        Err(p::RelayFailUnknownError::BaseError(e)) => {
            assert_eq!(e.reason, "why");
            assert_eq!(e.ice_sliced_data.is_some(), e11, "{e:?}");
        }
        other => return Err(format!("failUnknown: {other:?}").into()),
    }
    match server.fail_unknown_compact(None).await {
        Err(p::RelayFailUnknownCompactError::BaseError(e)) if !e11 => {
            assert_eq!(e.reason, "why");
        }
        Err(p::RelayFailUnknownCompactError::Runtime(e)) if e11 => {
            println!("compact HiddenError: {e}");
            assert!(e.to_string().contains("HiddenError"), "{e}");
        }
        other => return Err(format!("failUnknownCompact: {other:?}").into()),
    }
    server.shutdown(None).await?;
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
