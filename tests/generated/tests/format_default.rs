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

mod support;

use generated_check::default_format::format_default as fd;
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Class;
use ice_proto::properties::Properties;
use std::error::Error;
use std::time::Duration;
use support::{Server, TestResult};

/// The ZeroC Python peer without `Derived` and `DerivedError`.
const PEER: &str = "format_default.py";

fn communicator(sliced_default: bool) -> Communicator {
    let mut props = Properties::new();
    if sliced_default {
        props.set_property("Ice.Default.SlicedFormat", "1");
    }
    Communicator::new(props)
}

fn derived() -> Option<Class<fd::Base>> {
    Some(Class::from_value(fd::Derived {
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
        b: Option<Class<fd::Base>>,
        _current: &Current,
    ) -> Result<Option<Class<fd::Base>>, DispatchError> {
        Ok(b)
    }

    async fn make(&self, _current: &Current) -> Result<Option<Class<fd::Base>>, DispatchError> {
        Ok(derived())
    }

    async fn make_compact(
        &self,
        _current: &Current,
    ) -> Result<Option<Class<fd::Base>>, DispatchError> {
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
    let maker = fd::MakerServant::new(MakerImpl);
    let port = support::serve(&communicator, "Maker", vec![(maker, "maker")]).await?;
    let proxy = format!("maker:tcp -h 127.0.0.1 -p {port}");
    let result = support::run_client(&mut support::python(PEER, &["client", &proxy])).await;
    communicator.destroy().await;
    let (status, stdout) = result?;
    assert!(status.success(), "ZeroC client failed");
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
) -> Result<Result<Option<Class<fd::Base>>, String>, Box<dyn Error>> {
    let server = Server::start(&mut support::python(PEER, &["server"])).await?;
    let communicator = communicator(sliced_default);
    let base = support::loopback_proxy(&communicator, "maker", server.port)?;
    let maker = fd::MakerPrx::unchecked_cast(base);
    let echoed = tokio::time::timeout(Duration::from_secs(30), maker.echo(derived().as_ref()))
        .await?
        .map_err(|e| e.to_string());
    tokio::time::timeout(Duration::from_secs(30), maker.shutdown()).await??;
    server.exit().await;
    communicator.destroy().await;
    Ok(echoed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliced_default_rust_client_lets_zeroc_slice_parameters() -> TestResult {
    let echoed = python_server(true).await?;
    println!("{echoed:?}");
    let b = echoed?.ok_or("null echoed")?;
    // ZeroC read the Derived as its Base part and sent that back.
    assert_eq!(b.ice_id(), fd::Base::ICE_ID, "{b:?}");
    assert_eq!(b.read().name, "d1");
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
