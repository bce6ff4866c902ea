//! Generated proxies and servants against ZeroC Python Ice 3.7, over
//! loopback, in encodings 1.1 and 1.0: a ZeroC client calls a Rust server
//! made of a generated servant (`interop/client.py`), and a Rust client
//! made of a generated proxy calls a ZeroC server (`interop/server.py`),
//! both from `slice/Codegen.ice`.

#![allow(clippy::panic)] // test helpers: a failed check must fail the test

use generated_check::codegen::codegen_test::{self as t, Base, Echo};
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{ClassRef, EncodingVersion, Identity};
use ice_proto::properties::Properties;
use ice_proto::protocol::Context;
use std::error::Error;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

type TestResult = Result<(), Box<dyn Error>>;

const PYTHON: &str = "/usr/bin/python3";

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The Rust implementation of `Echo`, written against the generated trait.
struct EchoImpl;

impl Base for EchoImpl {
    async fn twice(&self, x: i32, _current: &Current) -> Result<i32, DispatchError> {
        Ok(x.wrapping_mul(2))
    }
}

impl Echo for EchoImpl {
    async fn swap(
        &self,
        p: t::Point,
        c: t::Color,
        _current: &Current,
    ) -> Result<(t::Point, t::Color), DispatchError> {
        Ok((t::Point { x: p.y, y: p.x }, c))
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
        s: Option<ClassRef>,
        _current: &Current,
    ) -> Result<Option<ClassRef>, DispatchError> {
        let is_cycle = s.as_ref().is_some_and(|r| {
            r.downcast_ref::<t::Circle>()
                .and_then(|c| c.next.as_ref())
                .is_some_and(|next| ClassRef::ptr_eq(next, r))
        });
        if !is_cycle {
            return Err(DispatchError::UnknownException("cycle lost".into()));
        }
        Ok(s)
    }

    async fn opt(
        &self,
        s: Option<String>,
        _current: &Current,
    ) -> Result<(Option<i32>, Option<bool>), DispatchError> {
        Ok(match s {
            Some(s) => (Some(s.len() as i32), Some(true)),
            None => (None, None),
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
    let adapter = communicator
        .create_object_adapter_with_endpoints("Echo", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let id = Identity {
        name: "echo".into(),
        category: String::new(),
    };
    let _ = adapter.add(Arc::new(t::EchoServant(Arc::new(EchoImpl))), id);
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(ice_proto::encoding::Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => return Err(format!("unexpected endpoint {other:?}").into()),
    };
    Ok((communicator, port))
}

async fn python_client(encoding: &str) -> TestResult {
    let (communicator, port) = rust_server().await?;
    let proxy = format!("echo:tcp -h 127.0.0.1 -p {port}");
    let child = Command::new(PYTHON)
        .arg(interop_dir().join("client.py"))
        .args([proxy.as_str(), encoding])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
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
    let mut child = Command::new(PYTHON)
        .arg(interop_dir().join("server.py"))
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

    let communicator = Communicator::new(Properties::new());
    let base = communicator
        .string_to_proxy(&format!("echo:tcp -h 127.0.0.1 -p {port}"))?
        .ok_or("null proxy")?
        .ice_encoding_version(encoding);
    let echo = t::EchoPrx::checked_cast(&base)
        .await?
        .ok_or("not an Echo")?;
    let e10 = encoding == EncodingVersion::V1_0;

    assert_eq!(echo.twice(&21, None).await?, 42);
    let (p, back) = echo
        .swap(&t::Point { x: 1, y: 2 }, &t::Color::Blue, None)
        .await?;
    assert_eq!((p, back), (t::Point { x: 2, y: 1 }, t::Color::Blue));
    let d = echo
        .index(
            &vec![t::Point { x: 1, y: 2 }, t::Point { x: -3, y: 4 }],
            None,
        )
        .await?;
    assert_eq!(d.get("-3,4"), Some(&t::Point { x: -3, y: 4 }));
    assert_eq!(d.len(), 2);

    let circle = ClassRef::pending();
    circle.set(t::Circle {
        base: t::Shape {
            name: "c".into(),
            sides: Some(1),
        },
        radius: 2.5,
        next: Some(circle.clone()),
    });
    let got = echo
        .echo_shape(&Some(circle), None)
        .await?
        .ok_or("null shape")?;
    let c = got.downcast_ref::<t::Circle>().ok_or("not a Circle")?;
    assert_eq!(c.radius, 2.5);
    assert_eq!(c.base.sides, if e10 { None } else { Some(1) });
    assert!(
        c.next.as_ref().is_some_and(|n| ClassRef::ptr_eq(n, &got)),
        "cycle kept"
    );

    let (ret, flag) = echo.opt(&Some("abcd".into()), None).await?;
    assert_eq!(
        (ret, flag),
        if e10 {
            (None, None)
        } else {
            (Some(4), Some(true))
        }
    );
    assert_eq!(echo.opt(&None, None).await?, (None, None));

    match echo.fail(&0, None).await {
        Err(t::EchoFailError::Failure(f)) => assert_eq!(f.reason, "plain"),
        other => panic!("expected Failure, got {other:?}"),
    }
    // The declared type is Failure; the derived BadInput arrives whole and
    // is caught as its declared base.
    match echo.fail(&7, None).await {
        Err(t::EchoFailError::Failure(f)) => assert_eq!(f.reason, "bad"),
        other => panic!("expected Failure (BadInput), got {other:?}"),
    }

    let ctx = Context::from([("k".to_string(), "v".to_string())]);
    assert_eq!(echo.ctx(&"k".into(), Some(&ctx)).await?, "v");
    assert_eq!(echo.ctx(&"k".into(), None).await?, "<none>");

    echo.shutdown(None).await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
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
