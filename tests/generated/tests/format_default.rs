//! `Ice.Default.SlicedFormat` with generated proxies and dispatchers
//! (`slice/FormatDefault.ice`), checked against a ZeroC Python peer that
//! lacks `Derived` and `DerivedError` (`interop/format_default.py`, which
//! loads `slice/FormatDefaultPartial.ice`), in encoding 1.1:
//!
//! - with the property at 1, classes and exceptions of operations without
//!   `["format:...]` metadata travel in the sliced format, so ZeroC slices
//!   them to the bases it knows; `["format:compact"]` operations stay
//!   compact, and ZeroC refuses those;
//! - without the property everything is compact and ZeroC refuses it all.

use generated_check::default_format::format_default as fd;
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{ClassRef, Identity};
use ice_proto::properties::Properties;
use std::error::Error;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

type TestResult = Result<(), Box<dyn Error>>;

const PYTHON: &str = "/usr/bin/python3";

fn peer() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/format_default.py")
}

fn communicator(sliced_default: bool) -> Communicator {
    let mut props = Properties::new();
    if sliced_default {
        props.set_property("Ice.Default.SlicedFormat", "1");
    }
    Communicator::new(props)
}

fn derived() -> Option<ClassRef> {
    Some(ClassRef::new(fd::Derived {
        base: fd::Base { name: "d1".into() },
        extra: 7,
    }))
}

fn derived_error() -> fd::DerivedError {
    fd::DerivedError {
        base: fd::BaseError {
            reason: "r1".into(),
        },
        code: 3,
    }
}

/// Returns a Derived and throws a DerivedError from every operation.
struct MakerImpl;

impl fd::Maker for MakerImpl {
    async fn echo(
        &self,
        b: Option<ClassRef>,
        _current: &Current,
    ) -> Result<Option<ClassRef>, DispatchError> {
        Ok(b)
    }

    async fn make(&self, _current: &Current) -> Result<Option<ClassRef>, DispatchError> {
        Ok(derived())
    }

    async fn make_compact(&self, _current: &Current) -> Result<Option<ClassRef>, DispatchError> {
        Ok(derived())
    }

    async fn fail(&self, current: &Current) -> Result<(), DispatchError> {
        Err(current.user_exception(&derived_error()))
    }

    async fn fail_compact(&self, current: &Current) -> Result<(), DispatchError> {
        Err(current.user_exception(&derived_error()))
    }

    async fn shutdown(&self, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }
}

/// Serves a Maker from a Rust communicator and runs the ZeroC Python
/// client against it; returns the client's lines.
async fn python_client(sliced_default: bool) -> Result<Vec<String>, Box<dyn Error>> {
    let communicator = communicator(sliced_default);
    let adapter = communicator
        .create_object_adapter_with_endpoints("Maker", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let _ = adapter.add(
        Arc::new(fd::MakerServant(Arc::new(MakerImpl))),
        Identity {
            name: "maker".into(),
            category: String::new(),
        },
    );
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(ice_proto::encoding::Endpoint::Tcp(ip)) => ip.port,
        other => return Err(format!("unexpected endpoint {other:?}").into()),
    };
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(PYTHON)
            .arg(peer())
            .arg("client")
            .arg(format!("maker:tcp -h 127.0.0.1 -p {port}"))
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    communicator.destroy().await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "ZeroC client failed");
    assert!(stdout.contains("DONE"), "ZeroC client did not finish");
    Ok(stdout.lines().map(str::to_owned).collect())
}

fn line_of<'l>(lines: &'l [String], op: &str) -> &'l str {
    lines
        .iter()
        .find(|l| l.split(' ').next() == Some(op))
        .map_or("", String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliced_default_rust_server_lets_zeroc_slice_results_and_exceptions() -> TestResult {
    let lines = python_client(true).await?;
    assert_eq!(line_of(&lines, "make"), "make base Base d1");
    assert_eq!(line_of(&lines, "fail"), "fail error BaseError r1");
    // The metadata wins over the property.
    assert!(
        line_of(&lines, "makeCompact").starts_with("makeCompact refused"),
        "{lines:?}"
    );
    assert!(
        line_of(&lines, "failCompact").starts_with("failCompact refused"),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_default_rust_server_is_refused_by_zeroc() -> TestResult {
    let lines = python_client(false).await?;
    for op in ["make", "makeCompact", "fail", "failCompact"] {
        assert!(
            line_of(&lines, op).starts_with(&format!("{op} refused")),
            "{op}: {lines:?}"
        );
    }
    Ok(())
}

/// Runs the ZeroC Python server and calls `echo(Derived)` on it from a
/// Rust proxy; returns the echoed value or the error's text.
async fn python_server(
    sliced_default: bool,
) -> Result<Result<Option<ClassRef>, String>, Box<dyn Error>> {
    let mut child = Command::new(PYTHON)
        .arg(peer())
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
    let port: u16 = line.trim().parse()?;
    let communicator = communicator(sliced_default);
    let base = communicator
        .string_to_proxy(&format!("maker:tcp -h 127.0.0.1 -p {port}"))?
        .ok_or("null proxy")?;
    let maker = fd::MakerPrx::unchecked_cast(base);
    let echoed = tokio::time::timeout(Duration::from_secs(30), maker.echo(&derived(), None))
        .await?
        .map_err(|e| e.to_string());
    tokio::time::timeout(Duration::from_secs(30), maker.shutdown(None)).await??;
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    communicator.destroy().await;
    Ok(echoed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliced_default_rust_client_lets_zeroc_slice_parameters() -> TestResult {
    let echoed = python_server(true).await?;
    println!("{echoed:?}");
    let b = echoed?.ok_or("null echoed")?;
    // ZeroC read the Derived as its Base part and sent that back.
    assert_eq!(b.ice_id(), Some(fd::Base::ICE_ID), "{b:?}");
    let base = b.downcast_ref::<fd::Base>().ok_or("not a Base")?;
    assert_eq!(base.name, "d1");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_default_rust_client_is_refused_by_zeroc() -> TestResult {
    let echoed = python_server(false).await?;
    println!("{echoed:?}");
    let Err(e) = echoed else {
        return Err(format!("ZeroC read a compact Derived it does not know: {echoed:?}").into());
    };
    assert!(e.contains("compact format prevents slicing"), "{e}");
    Ok(())
}
