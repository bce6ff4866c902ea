//! Per-adapter settings with ZeroC's precedence, as a ZeroC Python client
//! sees them: three adapters with `A.MessageSizeMax=16`,
//! `B.MessageSizeMax=64` and C left to `Ice.MessageSizeMax=128` (KiB),
//! each limit enforced for its own connections only, the same answers as
//! from a ZeroC Python server of the same program
//! (`tests/interop/msgsize_server.py`).

mod runtime_support;

use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;
use runtime_support::{interop_dir, run_python, tester_servant, Peer, PYTHON};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

async fn client(ports: &[String]) -> Result<String> {
    let args: Vec<&str> = ports.iter().map(String::as_str).collect();
    let (ok, out) = run_python("msgsize_client.py", &args, Duration::from_secs(60)).await?;
    ensure!(ok, "msgsize_client.py failed:\n{out}");
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_adapters_enforce_their_own_message_size_max_as_zeroc() -> Result<()> {
    let mut child = Command::new(PYTHON)
        .arg(interop_dir().join("msgsize_server.py"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting msgsize_server.py")?;
    let stdout = child.stdout.take().context("stdout")?;
    let _peer = Peer { child };
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .context("ports")??
    .context("no ports")?;
    let zeroc_ports: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let zeroc = client(&zeroc_ports).await?;
    ensure!(
        zeroc.lines().filter(|l| l.ends_with("-> ok")).count() == 6,
        "ZeroC server: {zeroc}"
    );

    let communicator = Communicator::new(
        Properties::new()
            .with("Ice.MessageSizeMax", "128")
            .with("A.MessageSizeMax", "16")
            .with("B.MessageSizeMax", "64"),
    );
    let mut ports = Vec::new();
    for name in ["A", "B", "C"] {
        let adapter = communicator
            .create_object_adapter_with_endpoints(name, "tcp -h 127.0.0.1 -p 0")
            .await?;
        let _ = adapter.add(
            tester_servant(),
            Identity {
                name: "tester".into(),
                category: String::new(),
            },
        );
        adapter.activate();
        match adapter.endpoints().first() {
            Some(Endpoint::Tcp(ip)) => ports.push(ip.port.to_string()),
            other => bail!("unexpected endpoint {other:?}"),
        }
    }
    let ours = client(&ports).await?;
    pretty_assertions::assert_eq!(ours, zeroc);
    Ok(())
}
