//! ACM close modes against ZeroC Python Ice: a client waiting for a reply
//! keeps the connection while the ZeroC server heartbeats during a long
//! dispatch, and closes it forcefully (`CloseOnInvocation`, part of Ice's
//! default client mode `CloseOnInvocationAndIdle`) when the server stays
//! silent for the ACM timeout. A ZeroC Python client in the same two
//! situations shows the same outcomes.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context as _, Result};
use ice_proto::communicator::Communicator;
use ice_proto::properties::Properties;
use ice_proto::protocol::OperationMode;
use ice_proto::RuntimeError;
use interop_tests::peers::PYTHON;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A ZeroC server whose object `sleeper` answers any operation after
/// sleeping the milliseconds of its int parameter; prints its port.
const PY_SERVER: &str = r#"
import struct, sys, time, Ice
class Sleeper(Ice.Blobject):
    def ice_invoke(self, params, current):
        # An encapsulation: size, encoding major and minor, then the int.
        ms = struct.unpack_from("<i", params, 6)[0]
        time.sleep(ms / 1000.0)
        return (True, struct.pack("<iBB", 6, current.encoding.major, current.encoding.minor))
with Ice.initialize(sys.argv) as c:
    a = c.createObjectAdapterWithEndpoints("S", "tcp -h 127.0.0.1 -p 0")
    a.add(Sleeper(), Ice.stringToIdentity("sleeper"))
    a.activate()
    print(a.getEndpoints()[0].getInfo().port, flush=True)
    c.waitForShutdown()
"#;

/// A ZeroC client calling `sleep(ms)` on PROXY; prints `ok` or the
/// exception's type id.
const PY_CLIENT: &str = r#"
import struct, sys, Ice
with Ice.initialize(sys.argv) as c:
    p = c.stringToProxy(sys.argv[1])
    params = struct.pack("<iBBi", 10, 1, 1, int(sys.argv[2]))
    try:
        p.ice_invoke("sleep", Ice.OperationMode.Normal, params)
        print("ok", flush=True)
    except Ice.Exception as e:
        print(e.ice_id(), flush=True)
"#;

/// Starts [`PY_SERVER`] with `args`; returns it and its port.
async fn server(args: &[&str]) -> Result<(Child, u16)> {
    let mut child = Command::new(PYTHON)
        .arg("-c")
        .arg(PY_SERVER)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting the ZeroC Python server")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from the ZeroC server"))?;
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .context("the ZeroC server did not print its port")??
    .ok_or_else(|| anyhow!("the ZeroC server exited"))?;
    Ok((child, line.trim().parse()?))
}

/// Calls `sleep(ms)` from Rust with a 2 s client ACM timeout and Ice's
/// default close mode.
async fn rust_call(port: u16, ms: i32) -> Result<Result<(), RuntimeError>> {
    let communicator = Communicator::new(Properties::new().with("Ice.ACM.Client.Timeout", "2"));
    let prx = communicator
        .string_to_proxy(&format!("sleeper:tcp -h 127.0.0.1 -p {port}"))?
        .ok_or_else(|| anyhow!("null proxy"))?;
    let params = prx.params(|out| out.write_i32(ms));
    let result = prx
        .ice_invoke("sleep", OperationMode::Normal, params, None)
        .await
        .map(drop);
    communicator.destroy().await;
    Ok(result)
}

/// Calls `sleep(ms)` from a ZeroC Python client with the same settings.
async fn python_call(port: u16, ms: i32) -> Result<String> {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(PYTHON)
            .arg("-c")
            .arg(PY_CLIENT)
            .arg(format!("sleeper:tcp -h 127.0.0.1 -p {port}"))
            .arg(ms.to_string())
            .arg("--Ice.ACM.Client.Timeout=2")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("the ZeroC client timed out")??;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeating_server_keeps_a_waiting_call_alive() -> Result<()> {
    // The ZeroC server heartbeats every 250 ms while dispatching.
    let (_server, port) = server(&["--Ice.ACM.Timeout=1"]).await?;
    let started = Instant::now();
    let rust = rust_call(port, 3000).await?;
    println!("Rust client: {rust:?} after {:?}", started.elapsed());
    ensure!(rust.is_ok(), "Rust client: {rust:?}");
    let zeroc = python_call(port, 3000).await?;
    ensure!(zeroc == "ok", "ZeroC client: {zeroc}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_dropped_after_the_acm_timeout() -> Result<()> {
    // No heartbeats: the waiting client hears nothing for over two seconds.
    let (_server, port) = server(&["--Ice.ACM.Heartbeat=0"]).await?;
    let started = Instant::now();
    let rust = rust_call(port, 6000).await?;
    let elapsed = started.elapsed();
    println!("Rust client: {rust:?} after {elapsed:?}");
    ensure!(
        matches!(rust, Err(RuntimeError::ConnectionTimeout { .. })),
        "Rust client: {rust:?}"
    );
    // Well before the dispatch would have ended.
    ensure!(elapsed < Duration::from_millis(5900), "{elapsed:?}");
    let zeroc = python_call(port, 6000).await?;
    ensure!(
        zeroc == "::Ice::ConnectionTimeoutException",
        "ZeroC client: {zeroc}"
    );
    Ok(())
}
