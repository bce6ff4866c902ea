//! Interop of the Rust runtime with ZeroC Python Ice 3.7 over loopback, in
//! encodings 1.1 and 1.0: a ZeroC client calling a Rust server, and a Rust
//! client calling a ZeroC server, through `tests/interop/Test.ice`.

mod runtime_support;

use std::time::Duration;

use anyhow::Result;
use ice_proto::encoding::EncodingVersion;
use runtime_support::{
    expect_all_checks, run_python, run_python_with_stderr, rust_client_checks,
    rust_client_checks_with, rust_server, start_python_server,
};

async fn python_client_against_rust_server(encoding: &str) -> Result<()> {
    let (communicator, port) = rust_server().await?;
    let proxy = format!("tester:tcp -h 127.0.0.1 -p {port}");
    let enc = format!("--Ice.Default.EncodingVersion={encoding}");
    let (ok, stdout) = run_python("client.py", &[&proxy, &enc], Duration::from_secs(60)).await?;
    println!("{stdout}");
    expect_all_checks(ok, &stdout, &format!("python client, encoding {encoding}"))?;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_server_encoding_1_1() -> Result<()> {
    let (_peer, port) =
        start_python_server("server.py", &["--Ice.Default.EncodingVersion=1.1"]).await?;
    rust_client_checks(port, EncodingVersion::V1_1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_server_encoding_1_0() -> Result<()> {
    let (_peer, port) =
        start_python_server("server.py", &["--Ice.Default.EncodingVersion=1.0"]).await?;
    rust_client_checks(port, EncodingVersion::V1_0).await
}

/// With `-z` the ZeroC client compresses large requests (status 2) and
/// asks for compressed replies; its protocol trace shows our server's
/// replies to them compressed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_compressed_against_rust_server() -> Result<()> {
    let (communicator, port) = rust_server().await?;
    let proxy = format!("tester:tcp -h 127.0.0.1 -p {port} -z");
    let (ok, stdout, stderr) = run_python_with_stderr(
        "client.py",
        &[&proxy, "--Ice.Trace.Protocol=1"],
        Duration::from_secs(60),
    )
    .await?;
    expect_all_checks(ok, &stdout, "python client with -z")?;
    let compressed = |kind: &str| {
        stderr
            .split("\n")
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0].contains(kind) && w[1].contains("compression status = 2"))
            .count()
    };
    anyhow::ensure!(
        compressed("message type = 0 (request)") > 0,
        "no compressed request sent"
    );
    anyhow::ensure!(
        compressed("message type = 2 (reply)") > 0,
        "no compressed reply received:\n{stderr}"
    );
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_compressed_against_python_server() -> Result<()> {
    let (_peer, port) = start_python_server("server.py", &[]).await?;
    rust_client_checks_with(port, EncodingVersion::V1_1, "-z").await
}

/// Sends `operation` to `tester` at `port` with a parameter encapsulation
/// of `encoding`, over a raw connection, and returns the reply body.
async fn raw_request(
    port: u16,
    operation: &str,
    encoding: EncodingVersion,
) -> Result<ice_proto::protocol::ReplyBody> {
    use ice_proto::connection::{Connection, ConnectionConfig};
    use ice_proto::protocol::{Encapsulation, OperationMode, Request, RequestHeader};
    let stream = ice_proto::transport::connect("127.0.0.1", port).await?;
    let conn = Connection::connect(stream, "raw".into(), ConnectionConfig::default(), None).await?;
    let request = Request {
        header: RequestHeader {
            request_id: 0,
            identity: ice_proto::encoding::Identity {
                name: "tester".into(),
                category: String::new(),
            },
            facet: String::new(),
            operation: operation.into(),
            mode: OperationMode::Normal,
            context: Default::default(),
        },
        params: Encapsulation {
            encoding,
            body: vec![1, b'x'].into(),
        },
    };
    let reply = conn.invoke(request, false).await?;
    conn.close().await;
    Ok(reply.body)
}

/// A request whose parameters use an encoding nobody supports gets the
/// same reply status from our server as from ZeroC's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_parameter_encoding_is_answered_as_zeroc_does() -> Result<()> {
    let (_peer, zeroc_port) = start_python_server("server.py", &[]).await?;
    let (communicator, rust_port) = rust_server().await?;
    let bad = EncodingVersion { major: 1, minor: 7 };
    let zeroc = raw_request(zeroc_port, "echo", bad).await?;
    let ours = raw_request(rust_port, "echo", bad).await?;
    println!("ZeroC: {zeroc:?}\nours: {ours:?}");
    anyhow::ensure!(
        zeroc.status() == ours.status(),
        "ZeroC answered {zeroc:?}, we answered {ours:?}"
    );
    // The same request in a supported encoding works on both.
    for port in [zeroc_port, rust_port] {
        let ok = raw_request(port, "echo", EncodingVersion::V1_1).await?;
        anyhow::ensure!(
            ok.status() == ice_proto::protocol::ReplyStatus::Ok,
            "{ok:?}"
        );
    }
    communicator.destroy().await;
    Ok(())
}
