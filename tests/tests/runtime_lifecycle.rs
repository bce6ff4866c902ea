//! Communicator lifecycle against ZeroC Python clients (logging with
//! `Ice.Warn.Connections=1`): `shutdown` called from inside a dispatch
//! still sends that dispatch's reply and closes the connection gracefully
//! (the client sees `CloseConnectionException`, and logs no warning), as
//! a ZeroC Python server of the same program does; `wait_for_shutdown`
//! returns once that is done; `destroy` closes a ZeroC client's
//! connection gracefully too.

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use ice_proto::adapter::{Current, DispatchError, DispatchResult, Servant};
use ice_proto::communicator::Communicator;
use ice_proto::connection::BoxFuture;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;
use ice_proto::protocol::Encapsulation;
use runtime_support::{interop_dir, start_python_server, PYTHON};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// `Test::Tester` whose `shutdown` shuts its communicator down from
/// inside the dispatch, and answers `ice_ping`.
struct Stopper;

impl Servant for Stopper {
    fn type_ids(&self) -> &[&str] {
        &["::Test::Tester"]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        _params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            match current.operation.as_str() {
                "shutdown" => {
                    current.adapter.communicator().shutdown().await;
                    Ok(current.results(|_| {}))
                }
                _ => Err(DispatchError::OperationNotExist),
            }
        })
    }
}

async fn rust_server() -> Result<(Communicator, u16)> {
    let communicator = Communicator::new(Properties::new());
    let adapter = communicator
        .create_object_adapter_with_endpoints("Life", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let _ = adapter.add(
        Arc::new(Stopper),
        Identity {
            name: "tester".into(),
            category: String::new(),
        },
    );
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => bail!("unexpected endpoint {other:?}"),
    };
    Ok((communicator, port))
}

/// Starts `lifecycle_client.py cmd port`; returns the child and its
/// stdout lines.
fn client(
    cmd: &str,
    port: u16,
) -> Result<(
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
)> {
    let mut child = Command::new(PYTHON)
        .arg(interop_dir().join("lifecycle_client.py"))
        .args([cmd, &port.to_string(), "--Ice.Warn.Connections=1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting lifecycle_client.py")?;
    let stdout = child.stdout.take().context("stdout")?;
    Ok((child, BufReader::new(stdout).lines()))
}

/// Waits for the client to end; its remaining stdout and its stderr.
async fn finish(
    child: tokio::process::Child,
    mut lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Result<(Vec<String>, String)> {
    let mut out = Vec::new();
    while let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("client output")??
    {
        out.push(line);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .context("client exit")??;
    ensure!(output.status.success(), "client failed");
    Ok((out, String::from_utf8_lossy(&output.stderr).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_from_a_dispatch_replies_and_closes_gracefully_as_zeroc() -> Result<()> {
    // The ZeroC Python server of the same program first.
    let (_zeroc, zeroc_port) = start_python_server("server.py", &[]).await?;
    let (child, lines) = client("shutdown", zeroc_port)?;
    let (zeroc_out, zeroc_err) = finish(child, lines).await?;
    ensure!(
        zeroc_out == ["reply", "closed CloseConnectionException"],
        "ZeroC server: {zeroc_out:?}"
    );
    ensure!(
        zeroc_err.is_empty(),
        "ZeroC server, client log: {zeroc_err}"
    );

    let (communicator, port) = rust_server().await?;
    let (child, lines) = client("shutdown", port)?;
    let waiting = tokio::spawn({
        let communicator = communicator.clone();
        async move { communicator.wait_for_shutdown().await }
    });
    let (out, err) = finish(child, lines).await?;
    ensure!(out == zeroc_out, "ours: {out:?}, ZeroC's: {zeroc_out:?}");
    ensure!(err.is_empty(), "client log: {err}");
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .context("wait_for_shutdown did not return")??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_closes_a_zeroc_clients_connection_gracefully() -> Result<()> {
    let (communicator, port) = rust_server().await?;
    let (child, mut lines) = client("wait", port)?;
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("client output")??;
    ensure!(first.as_deref() == Some("pinged"), "{first:?}");
    tokio::time::timeout(Duration::from_secs(20), communicator.destroy())
        .await
        .context("destroy did not return")?;
    let (out, err) = finish(child, lines).await?;
    ensure!(out == ["closed CloseConnectionException"], "{out:?}");
    ensure!(err.is_empty(), "client log: {err}");
    Ok(())
}
