//! Generated proxies and servants against ZeroC Ice 3.7, over loopback, in
//! encodings 1.1 and 1.0: ZeroC Python and C++ clients call a Rust server
//! made of a generated servant (`interop/client.py`, `interop/client.cpp`),
//! and a Rust client made of a generated proxy calls a ZeroC Python server
//! (`interop/server.py`), all from `slice/Codegen.ice`.

#![allow(clippy::panic)] // test helpers: a failed check must fail the test

mod support;

use generated_check::codegen::codegen_test::{self as t, Base, Echo};
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Class, EncodingVersion};
use ice_proto::properties::Properties;
use ice_proto::protocol::{Context, OperationMode};
use ice_proto::typed_proxy::TypedProxy;
use std::error::Error;
use support::{CppPeer, Server, TestResult};
use tokio::process::Command;

/// `interop/client.cpp`.
static CPP_CLIENT: CppPeer = CppPeer {
    cache: "codegen-interop-cpp",
    slice: &["Codegen.ice"],
    source: "client.cpp",
    exe: "client",
};

/// The Rust implementation of `Echo`, written against the generated trait.
struct EchoImpl;

impl Base for EchoImpl {
    async fn twice(&self, x: i32, current: &Current) -> Result<i32, DispatchError> {
        if current.mode != OperationMode::Idempotent {
            return Err(DispatchError::UnknownException(format!(
                "twice sent as {:?}",
                current.mode
            )));
        }
        Ok(x.wrapping_mul(2))
    }
}

impl Echo for EchoImpl {
    async fn swap(
        &self,
        p: t::Point,
        c: t::Color,
        _current: &Current,
    ) -> Result<t::EchoSwapResult, DispatchError> {
        Ok(t::EchoSwapResult {
            return_value: t::Point { x: p.y, y: p.x },
            back: c,
        })
    }

    async fn index(
        &self,
        points: t::PointSeq,
        _current: &Current,
    ) -> Result<t::PointDict, DispatchError> {
        Ok(points
            .into_iter()
            .map(|p| (format!("{},{}", p.x, p.y), p))
            .collect())
    }

    async fn echo_shape(
        &self,
        s: Option<Class<t::Shape>>,
        _current: &Current,
    ) -> Result<Option<Class<t::Shape>>, DispatchError> {
        // The Python client sends a self-referencing Circle and checks the
        // cycle comes back; the C++ client sends a chain (ZeroC C++ refuses
        // cycles). Either way it is echoed as decoded.
        if !s.as_ref().is_some_and(|r| r.is::<t::Circle>()) {
            return Err(DispatchError::UnknownException("not a Circle".into()));
        }
        Ok(s)
    }

    async fn opt(
        &self,
        s: Option<String>,
        _current: &Current,
    ) -> Result<t::EchoOptResult, DispatchError> {
        Ok(match s {
            Some(s) => t::EchoOptResult {
                return_value: Some(s.len() as i32),
                flag: Some(true),
            },
            None => t::EchoOptResult::default(),
        })
    }

    async fn fail(&self, code: i32, current: &Current) -> Result<(), DispatchError> {
        let base = t::Failure {
            reason: if code == 0 { "plain" } else { "bad" }.into(),
        };
        if code == 0 {
            Err(current.user_exception(&base))
        } else {
            Err(current.user_exception(&t::BadInput { base, code }))
        }
    }

    async fn ctx(&self, key: String, current: &Current) -> Result<String, DispatchError> {
        Ok(current
            .context
            .get(&key)
            .cloned()
            .unwrap_or_else(|| "<none>".into()))
    }

    async fn shutdown(&self, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }
}

async fn rust_server() -> Result<(Communicator, u16), Box<dyn Error>> {
    let communicator = Communicator::new(Properties::new());
    let servant = t::EchoServant::new(EchoImpl);
    let port = support::serve(&communicator, "Echo", vec![(servant, "echo")]).await?;
    Ok((communicator, port))
}

async fn cpp_client(encoding: &str) -> TestResult {
    let exe = support::cpp_exe(&CPP_CLIENT).await?;
    zeroc_client(Command::new(exe), encoding).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_cpp_client_calls_generated_servant_1_1() -> TestResult {
    cpp_client("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_cpp_client_calls_generated_servant_1_0() -> TestResult {
    cpp_client("1.0").await
}

async fn python_client(encoding: &str) -> TestResult {
    zeroc_client(support::python("client.py", &[]), encoding).await
}

/// Runs a ZeroC client program against a fresh Rust server.
async fn zeroc_client(mut cmd: Command, encoding: &str) -> TestResult {
    let (communicator, port) = rust_server().await?;
    let proxy = format!("echo:tcp -h 127.0.0.1 -p {port}");
    let (status, stdout) = support::run_client(cmd.args([proxy.as_str(), encoding])).await?;
    assert!(
        status.success(),
        "python client failed (encoding {encoding})"
    );
    assert!(stdout.contains("ALL OK"), "python client did not finish");
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_python_client_calls_generated_servant_1_1() -> TestResult {
    python_client("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_python_client_calls_generated_servant_1_0() -> TestResult {
    python_client("1.0").await
}

async fn rust_client(encoding: EncodingVersion) -> TestResult {
    let server = Server::start(&mut support::python("server.py", &[])).await?;
    let communicator = Communicator::new(Properties::new());
    let base =
        support::loopback_proxy(&communicator, "echo", server.port)?.ice_encoding_version(encoding);
    let echo = t::EchoPrx::checked_cast(&base)
        .await?
        .ok_or("not an Echo")?;
    let e10 = encoding == EncodingVersion::V1_0;

    assert_eq!(echo.twice(21).await?, 42);
    let swapped = echo.swap(&t::Point { x: 1, y: 2 }, t::Color::Blue).await?;
    assert_eq!(
        (swapped.return_value, swapped.back),
        (t::Point { x: 2, y: 1 }, t::Color::Blue)
    );
    let d = echo
        .index(&[t::Point { x: 1, y: 2 }, t::Point { x: -3, y: 4 }])
        .await?;
    assert_eq!(d.get("-3,4"), Some(&t::Point { x: -3, y: 4 }));
    assert_eq!(d.len(), 2);

    let circle = Class::new(t::Circle {
        base: t::Shape {
            name: "c".into(),
            sides: Some(1),
        },
        radius: 2.5,
        next: None,
    });
    circle.write().next = Some(circle.clone().upcast());
    let got = echo
        .echo_shape(Some(&circle.clone().upcast()))
        .await?
        .ok_or("null shape")?;
    circle.write().next = None;
    let c = got.downcast::<t::Circle>().ok_or("not a Circle")?;
    let c = c.read().clone();
    assert_eq!(c.radius, 2.5);
    assert_eq!(c.base.sides, if e10 { None } else { Some(1) });
    assert!(
        c.next.as_ref().is_some_and(|n| Class::ptr_eq(n, &got)),
        "cycle kept"
    );
    if let Some(c) = got.downcast::<t::Circle>() {
        c.write().next = None;
    }

    let got = echo.opt(Some("abcd")).await?;
    assert_eq!(
        (got.return_value, got.flag),
        if e10 {
            (None, None)
        } else {
            (Some(4), Some(true))
        }
    );
    assert_eq!(echo.opt(None).await?, t::EchoOptResult::default());

    match echo.fail(0).await {
        Err(t::EchoFailError::Failure(f)) => assert_eq!(f.reason, "plain"),
        other => panic!("expected Failure, got {other:?}"),
    }
    // The declared type is Failure; the derived BadInput arrives whole and
    // is caught as its declared base.
    match echo.fail(7).await {
        Err(t::EchoFailError::Failure(f)) => assert_eq!(f.reason, "bad"),
        other => panic!("expected Failure (BadInput), got {other:?}"),
    }

    let ctx = Context::from([("k".to_string(), "v".to_string())]);
    assert_eq!(echo.ice_context(ctx).ctx("k").await?, "v");
    assert_eq!(echo.ctx("k").await?, "<none>");

    echo.shutdown().await?;
    server.exit().await;
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_proxy_calls_zeroc_python_server_1_1() -> TestResult {
    rust_client(EncodingVersion::V1_1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_proxy_calls_zeroc_python_server_1_0() -> TestResult {
    rust_client(EncodingVersion::V1_0).await
}
