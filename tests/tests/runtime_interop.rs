//! Interop of the Rust runtime with ZeroC Python Ice 3.7 over loopback, in
//! encodings 1.1 and 1.0: a ZeroC client calling a Rust server, and a Rust
//! client calling a ZeroC server, through `tests/interop/Test.ice`.

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{EncodingVersion, Identity};
use ice_proto::properties::Properties;
use ice_proto::protocol::{Context, OperationMode};
use ice_proto::proxy::Outcome;
use ice_proto::RuntimeError;
use runtime_support::{
    run_python, start_python_server, Boom, FailError, TesterPrx, TesterServant, TESTER_ID,
};

fn ident(name: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        category: String::new(),
    }
}

/// Starts a Rust server with the Tester servant (and its `extra` facet) on
/// a free loopback port.
async fn rust_server() -> Result<(Communicator, u16)> {
    let communicator = Communicator::new(Properties::new());
    let adapter = communicator
        .create_object_adapter_with_endpoints("TestAdapter", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let servant = Arc::new(TesterServant::default());
    let _ = adapter.add(servant.clone(), ident("tester"));
    let _ = adapter.add_facet(servant, ident("tester"), "extra");
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(ice_proto::encoding::Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => bail!("unexpected endpoint {other:?}"),
    };
    Ok((communicator, port))
}

const PYTHON_CHECKS: &[&str] = &[
    "checkedCast",
    "ice_ping",
    "ice_isA",
    "ice_id",
    "ice_ids",
    "echo",
    "echo_long",
    "add_out_param",
    "user_exception",
    "unknown_exception",
    "per_call_context",
    "per_proxy_context",
    "no_context",
    "oneway",
    "batch_oneway",
    "object_not_exist",
    "facet_not_exist",
    "facet_exists",
    "operation_not_exist",
    "server_saw_only_our_encoding",
];

async fn python_client_against_rust_server(encoding: &str) -> Result<()> {
    let (communicator, port) = rust_server().await?;
    let proxy = format!("tester:tcp -h 127.0.0.1 -p {port}");
    let enc = format!("--Ice.Default.EncodingVersion={encoding}");
    let (ok, stdout) = run_python("client.py", &[&proxy, &enc], Duration::from_secs(60)).await?;
    println!("{stdout}");
    for check in PYTHON_CHECKS {
        ensure!(
            stdout.lines().any(|l| l == format!("ok {check}")),
            "python check `{check}` did not pass in encoding {encoding}:\n{stdout}"
        );
    }
    ensure!(ok, "python client reported failures:\n{stdout}");
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_calls_rust_server_encoding_1_1() -> Result<()> {
    python_client_against_rust_server("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_calls_rust_server_encoding_1_0() -> Result<()> {
    python_client_against_rust_server("1.0").await
}

async fn rust_client_against_python_server(encoding: EncodingVersion) -> Result<()> {
    let enc_arg = format!("--Ice.Default.EncodingVersion={encoding}");
    let (_peer, port) = start_python_server("server.py", &[&enc_arg]).await?;
    // The communicator keeps the default 1.1; the proxy picks the encoding.
    let communicator = Communicator::new(Properties::new());
    let base = communicator
        .string_to_proxy(&format!("tester:tcp -h 127.0.0.1 -p {port}"))?
        .ok_or_else(|| anyhow::anyhow!("null proxy"))?
        .ice_encoding_version(encoding);

    // Built-in operations and checkedCast.
    base.ice_ping().await?;
    let prx = TesterPrx(
        base.checked_cast(TESTER_ID)
            .await?
            .ok_or_else(|| anyhow::anyhow!("checked_cast failed"))?,
    );
    ensure!(!base.ice_is_a("::Test::Other").await?);
    ensure!(base.ice_id().await? == TESTER_ID);
    ensure!(base.ice_ids().await? == vec!["::Ice::Object".to_owned(), TESTER_ID.to_owned()]);

    // Twoway with in, out and return values; the reply uses our encoding.
    ensure!(prx.echo("héllo wörld").await? == "héllo wörld");
    let long = "x".repeat(100_000);
    ensure!(prx.echo(&long).await? == long);
    ensure!(prx.add(3, 4).await? == (7, 12));
    let raw = base
        .ice_invoke(
            "echo",
            OperationMode::Normal,
            base.params(|out| out.write_string("e")),
            None,
        )
        .await?;
    match raw {
        Outcome::Ok(e) => ensure!(e.encoding == encoding, "reply in {}", e.encoding),
        other => bail!("unexpected {other:?}"),
    }

    // User exception and unknown exception.
    match prx.fail("bad thing", 42).await {
        Err(FailError::Boom(b)) => ensure!(
            b == Boom {
                reason: "bad thing".into(),
                code: 42
            }
        ),
        other => bail!("expected Boom, got {other:?}"),
    }
    ensure!(matches!(
        prx.crash().await,
        Err(RuntimeError::UnknownException(_))
    ));

    // Contexts: per call, per proxy, none.
    let mut ctx = Context::new();
    ctx.insert("k".into(), "v1".into());
    ensure!(prx.get_context("k", Some(&ctx)).await? == "v1");
    let mut ctx2 = Context::new();
    ctx2.insert("k".into(), "v2".into());
    let with_ctx = TesterPrx(prx.0.clone().ice_context(ctx2));
    ensure!(with_ctx.get_context("k", None).await? == "v2");
    ensure!(prx.get_context("k", None).await? == "<none>");

    // Oneway, then batch oneway with flush.
    let _ = prx.take_recorded().await?;
    let oneway = TesterPrx(prx.0.clone().ice_oneway());
    oneway.record("o1").await?;
    oneway.record("o2").await?;
    let got = prx.take_recorded().await?;
    ensure!(got[..got.len() - 1] == ["o1", "o2"], "{got:?}");
    let batch = TesterPrx(prx.0.clone().ice_batch_oneway());
    for m in ["b1", "b2", "b3"] {
        batch.record(m).await?;
    }
    let got = prx.take_recorded().await?;
    ensure!(got.len() == 1, "batch sent before flush: {got:?}");
    batch.0.ice_flush_batch_requests().await?;
    let got = prx.take_recorded().await?;
    ensure!(got[..got.len() - 1] == ["b1", "b2", "b3"], "{got:?}");
    ensure!(
        got.last() == Some(&format!("enc={encoding}")),
        "server saw {got:?}"
    );

    // Missing object, facet, operation.
    let missing = base.clone().ice_identity(ident("missing"));
    match missing.ice_ping().await {
        Err(RuntimeError::ObjectNotExist(f)) => ensure!(f.identity.name == "missing"),
        other => bail!("expected ObjectNotExist, got {other:?}"),
    }
    let no_facet = base.clone().ice_facet("nope");
    ensure!(matches!(
        no_facet.ice_ping().await,
        Err(RuntimeError::FacetNotExist(_))
    ));
    ensure!(no_facet.checked_cast(TESTER_ID).await?.is_none());
    let extra = TesterPrx(base.clone().ice_facet("extra"));
    ensure!(extra.echo("f").await? == "f");
    match base
        .ice_invoke(
            "noSuchOperation",
            OperationMode::Normal,
            base.params(|_| {}),
            None,
        )
        .await
    {
        Err(RuntimeError::OperationNotExist(f)) => ensure!(f.operation == "noSuchOperation"),
        other => bail!("expected OperationNotExist, got {other:?}"),
    }

    prx.shutdown().await?;
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_server_encoding_1_1() -> Result<()> {
    rust_client_against_python_server(EncodingVersion::V1_1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_server_encoding_1_0() -> Result<()> {
    rust_client_against_python_server(EncodingVersion::V1_0).await
}
