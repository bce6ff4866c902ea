//! Interop of the Rust runtime with ZeroC C++ Ice 3.7 (C++11 mapping,
//! built from `tests/interop/cpp/` with slice2cpp and g++) over loopback,
//! in encodings 1.1 and 1.0: the C++ client calling a Rust server, and a
//! Rust client calling the C++ server.

mod runtime_support;

use std::time::Duration;

use anyhow::Result;
use ice_proto::encoding::EncodingVersion;
use runtime_support::{
    expect_all_checks, run_cpp_client, rust_client_checks, rust_server, start_cpp_server,
};

async fn cpp_client_against_rust_server(encoding: &str) -> Result<()> {
    let (communicator, port) = rust_server().await?;
    let proxy = format!("tester:tcp -h 127.0.0.1 -p {port}");
    let enc = format!("--Ice.Default.EncodingVersion={encoding}");
    let (ok, stdout) = run_cpp_client(&[&proxy, &enc], Duration::from_secs(300)).await?;
    println!("{stdout}");
    expect_all_checks(ok, &stdout, &format!("C++ client, encoding {encoding}"))?;
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_client_calls_rust_server_encoding_1_1() -> Result<()> {
    cpp_client_against_rust_server("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_client_calls_rust_server_encoding_1_0() -> Result<()> {
    cpp_client_against_rust_server("1.0").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_cpp_server_encoding_1_1() -> Result<()> {
    let (_peer, port) = start_cpp_server(&["--Ice.Default.EncodingVersion=1.1"]).await?;
    rust_client_checks(port, EncodingVersion::V1_1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_cpp_server_encoding_1_0() -> Result<()> {
    let (_peer, port) = start_cpp_server(&["--Ice.Default.EncodingVersion=1.0"]).await?;
    rust_client_checks(port, EncodingVersion::V1_0).await
}
