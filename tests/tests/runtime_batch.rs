//! Batch requests of fixed proxies are queued on their connection, as Ice
//! queues them: a regular proxy's flush leaves them queued, the
//! connection's flush (or the communicator's) sends them as one batch.
//! Checked against a ZeroC Python server, and the same sequence run by a
//! ZeroC Python client gives the same results.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use ice_proto::properties::Properties;
use ice_proto::protocol::OperationMode;
use ice_proto::proxy::{read_encapsulation, ObjectPrx, Outcome};
use interop_tests::peers::PYTHON;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn interop_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Starts `tests/interop/server.py`; returns it and its port.
async fn server() -> Result<(Child, u16)> {
    let mut child = Command::new(PYTHON)
        .arg(interop_dir().join("server.py"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting server.py")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from server.py"))?;
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .context("server.py did not print its port")??
    .ok_or_else(|| anyhow!("server.py exited"))?;
    Ok((child, line.trim().parse()?))
}

async fn record(prx: &ObjectPrx, msg: &str) -> Result<()> {
    let params = prx.params(|out| out.write_string(msg));
    prx.ice_invoke("record", OperationMode::Normal, params, None)
        .await?;
    Ok(())
}

/// `takeRecorded()` without its trailing `enc=` entry.
async fn take(prx: &ObjectPrx) -> Result<Vec<String>> {
    let params = prx.params(|_| {});
    match prx
        .ice_invoke("takeRecorded", OperationMode::Normal, params, None)
        .await?
    {
        Outcome::Ok(e) => {
            let mut got = read_encapsulation(&e)?.read::<Vec<String>>()?;
            got.retain(|s| !s.starts_with("enc="));
            Ok(got)
        }
        Outcome::UserException(_) => bail!("unexpected user exception"),
    }
}

/// The sequence both clients run; one line per `takeRecorded`.
const EXPECTED: &[&str] = &["", "", "f1,f2", "", "f3"];

/// A ZeroC Python client running the same sequence.
const PY_CLIENT: &str = r#"
import sys, Ice
Ice.loadSlice(sys.argv[1])
import Test
with Ice.initialize(sys.argv) as c:
    prx = Test.TesterPrx.checkedCast(c.stringToProxy(sys.argv[2]))
    con = prx.ice_getConnection()
    fixed = Test.TesterPrx.uncheckedCast(con.createProxy(Ice.stringToIdentity("tester"))).ice_batchOneway()
    take = lambda: print(",".join(s for s in prx.takeRecorded() if not s.startswith("enc=")), flush=True)
    prx.takeRecorded()
    fixed.record("f1"); fixed.record("f2")
    take()
    prx.ice_batchOneway().ice_flushBatchRequests()
    take()
    con.flushBatchRequests(Ice.CompressBatch.No)
    take()
    fixed.record("f3")
    take()
    c.flushBatchRequests(Ice.CompressBatch.No)
    take()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_proxies_batch_on_their_connection() -> Result<()> {
    let (_server, port) = server().await?;
    let communicator = Communicator::new(Properties::new());
    let prx = communicator
        .string_to_proxy(&format!("tester:tcp -h 127.0.0.1 -p {port}"))?
        .ok_or_else(|| anyhow!("null proxy"))?;
    let conn = prx.ice_get_connection().await?;
    let fixed = communicator
        .fixed_proxy(
            Identity {
                name: "tester".into(),
                category: String::new(),
            },
            conn.clone(),
        )
        .ice_batch_oneway();
    let mut seen = Vec::new();
    take(&prx).await?;
    record(&fixed, "f1").await?;
    record(&fixed, "f2").await?;
    ensure!(conn.queued_batch_requests() == 2);
    seen.push(take(&prx).await?.join(","));
    // A regular proxy's flush sends its own queue only.
    prx.clone()
        .ice_batch_oneway()
        .ice_flush_batch_requests()
        .await?;
    seen.push(take(&prx).await?.join(","));
    conn.flush_batch_requests()?;
    seen.push(take(&prx).await?.join(","));
    record(&fixed, "f3").await?;
    seen.push(take(&prx).await?.join(","));
    communicator.flush_batch_requests().await?;
    seen.push(take(&prx).await?.join(","));
    ensure!(seen == EXPECTED, "Rust client saw {seen:?}");
    communicator.destroy().await;

    let output = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(PYTHON)
            .arg("-c")
            .arg(PY_CLIENT)
            .arg(interop_dir().join("Test.ice"))
            .arg(format!("tester:tcp -h 127.0.0.1 -p {port}"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("the ZeroC client timed out")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let zeroc: Vec<&str> = stdout.lines().collect();
    ensure!(
        zeroc == EXPECTED,
        "ZeroC client saw {zeroc:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
