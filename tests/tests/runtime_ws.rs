//! The `ws` and `wss` transports against ZeroC Ice 3.7 peers (Python and
//! C++) over loopback: every parameter kind of `tests/interop/Test.ice`
//! in encodings 1.1 and 1.0 both ways, a resource path (`-r`), and a
//! plain HTTP request on a ws port that closes only its own connection.

mod runtime_support;

use std::time::Duration;

use anyhow::{ensure, Result};
use ice_proto::encoding::EncodingVersion;
use ice_proto::properties::Properties;
use interop_tests::certs::TestPki;
use runtime_support::{
    expect_all_checks, properties_of, run_cpp_client, run_python_args, rust_client_checks_at,
    rust_server_with, start_cpp_server, start_python_server,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Fresh certificates for `wss`: a CA, `server` and `client`.
fn pki() -> Result<(tempfile::TempDir, TestPki)> {
    let dir = tempfile::tempdir()?;
    let pki = TestPki::new(dir.path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    pki.issue("server", "server")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    pki.issue("client", "client")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((dir, pki))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    Python,
    Cpp,
}

/// A ZeroC client runs every check against a Rust server on `transport`
/// (`ws` or `wss`), with resource `/ice/test`.
async fn zeroc_client_against_rust_server(
    peer: Peer,
    transport: &str,
    encoding: &str,
) -> Result<()> {
    let (_dir, pki) = pki()?;
    let secure = transport == "wss";
    let server_props = if secure {
        properties_of(&pki.properties(Some("server")))
    } else {
        Properties::new()
    };
    let (communicator, port) = rust_server_with(
        server_props,
        &format!("{transport} -h 127.0.0.1 -p 0 -r /ice/test"),
    )
    .await?;
    let mut args = vec![format!(
        "tester:{transport} -h 127.0.0.1 -p {port} -r /ice/test"
    )];
    if secure {
        args.extend(pki.args(Some("client")));
    }
    args.push(format!("--Ice.Default.EncodingVersion={encoding}"));
    let (ok, stdout) = match peer {
        Peer::Cpp => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_cpp_client(&args, Duration::from_secs(300)).await?
        }
        Peer::Python => run_python_args("client.py", &args, Duration::from_secs(60)).await?,
    };
    println!("{stdout}");
    expect_all_checks(
        ok,
        &stdout,
        &format!("{transport} client, encoding {encoding}"),
    )?;
    communicator.destroy().await;
    Ok(())
}

/// A Rust client runs every check against a ZeroC server on `transport`.
async fn rust_client_against_zeroc_server(
    peer: Peer,
    transport: &str,
    encoding: EncodingVersion,
) -> Result<()> {
    let (_dir, pki) = pki()?;
    let secure = transport == "wss";
    let mut args = if secure {
        pki.args(Some("server"))
    } else {
        Vec::new()
    };
    args.push(format!(
        "--Test.Endpoints={transport} -h 127.0.0.1 -p 0 -r /ice/test"
    ));
    args.push(format!("--Ice.Default.EncodingVersion={encoding}"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_peer, port) = match peer {
        Peer::Cpp => start_cpp_server(&args).await?,
        Peer::Python => start_python_server("server.py", &args).await?,
    };
    let client_props = if secure {
        properties_of(&pki.properties(Some("client")))
    } else {
        Properties::new()
    };
    rust_client_checks_at(
        client_props,
        &format!("{transport} -h 127.0.0.1 -p {port} -r /ice/test"),
        encoding,
    )
    .await
}

macro_rules! matrix {
    ($($name:ident: $peer:ident, $transport:literal, $zeroc_client:literal, $enc:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() -> Result<()> {
            if $zeroc_client {
                zeroc_client_against_rust_server(Peer::$peer, $transport, $enc).await
            } else {
                let encoding = if $enc == "1.0" { EncodingVersion::V1_0 } else { EncodingVersion::V1_1 };
                rust_client_against_zeroc_server(Peer::$peer, $transport, encoding).await
            }
        }
    )*};
}

matrix! {
    python_client_calls_rust_server_over_ws_encoding_1_1: Python, "ws", true, "1.1";
    python_client_calls_rust_server_over_ws_encoding_1_0: Python, "ws", true, "1.0";
    python_client_calls_rust_server_over_wss_encoding_1_1: Python, "wss", true, "1.1";
    python_client_calls_rust_server_over_wss_encoding_1_0: Python, "wss", true, "1.0";
    cpp_client_calls_rust_server_over_ws_encoding_1_1: Cpp, "ws", true, "1.1";
    cpp_client_calls_rust_server_over_ws_encoding_1_0: Cpp, "ws", true, "1.0";
    cpp_client_calls_rust_server_over_wss_encoding_1_1: Cpp, "wss", true, "1.1";
    cpp_client_calls_rust_server_over_wss_encoding_1_0: Cpp, "wss", true, "1.0";
    rust_client_calls_python_server_over_ws_encoding_1_1: Python, "ws", false, "1.1";
    rust_client_calls_python_server_over_ws_encoding_1_0: Python, "ws", false, "1.0";
    rust_client_calls_python_server_over_wss_encoding_1_1: Python, "wss", false, "1.1";
    rust_client_calls_python_server_over_wss_encoding_1_0: Python, "wss", false, "1.0";
    rust_client_calls_cpp_server_over_ws_encoding_1_1: Cpp, "ws", false, "1.1";
    rust_client_calls_cpp_server_over_ws_encoding_1_0: Cpp, "ws", false, "1.0";
    rust_client_calls_cpp_server_over_wss_encoding_1_1: Cpp, "wss", false, "1.1";
    rust_client_calls_cpp_server_over_wss_encoding_1_0: Cpp, "wss", false, "1.0";
}

/// A plain HTTP request (no upgrade) and raw Ice bytes on a ws port each
/// get refused and closed, while a ZeroC Python client on its own ws
/// connection keeps getting replies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_websocket_requests_close_only_their_connection() -> Result<()> {
    let (communicator, port) = rust_server_with(Properties::new(), "ws -h 127.0.0.1 -p 0").await?;
    let proxy = format!("tester:ws -h 127.0.0.1 -p {port}");
    let pinger = tokio::spawn(async move {
        run_python_args(
            "ping.py",
            &[proxy, "300".to_owned()],
            Duration::from_secs(60),
        )
        .await
    });
    let bad: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"IceP\x01\x00\x01\x00\x03\x00\x0e\x00\x00\x00",
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ];
    for request in bad {
        let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        raw.write_all(request).await?;
        let mut reply = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(15), raw.read_to_end(&mut reply)).await;
        ensure!(read.is_ok(), "the server kept a bad connection open");
        let text = String::from_utf8_lossy(&reply);
        ensure!(
            !text.starts_with("HTTP/1.1 101"),
            "a bad upgrade was accepted: {text}"
        );
        println!("{:?} -> {:?}", String::from_utf8_lossy(request), text);
    }
    let (ok, stdout) = pinger.await??;
    ensure!(ok, "the ZeroC client was disturbed: {stdout}");
    communicator.destroy().await;
    Ok(())
}
