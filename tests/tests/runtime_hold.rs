//! A held adapter as ZeroC Python clients see it, compared with a ZeroC
//! Python server of the same program (`tests/interop/hold_server.py`):
//! holding stops reading from the connections, so a twoway with a 250 ms
//! invocation timeout times out, 20 MB of oneway requests block in
//! sending until the adapter is activated again, and a client whose ACM
//! waits for a reply closes the connection once the held server's
//! heartbeats stop.

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use ice_proto::adapter::{Current, DispatchInterceptor, DispatchResult, Next, ObjectAdapter};
use ice_proto::communicator::Communicator;
use ice_proto::connection::BoxFuture;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;
use ice_proto::protocol::Encapsulation;
use runtime_support::{run_python, start_python_server, tester_servant};

/// `record("hold:MS")` holds the adapter and activates it MS ms later, as
/// `hold_server.py` does; everything else goes on to the servant.
struct HoldOnRecord;

impl DispatchInterceptor for HoldOnRecord {
    fn intercept<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
        next: Next<'a>,
    ) -> BoxFuture<'a, DispatchResult> {
        if current.operation == "record" {
            let msg = Current::params_stream(&params)
                .and_then(|mut input| Ok(input.read_string()?))
                .unwrap_or_default();
            if let Some(ms) = msg.strip_prefix("hold:").and_then(|m| m.parse().ok()) {
                hold_for(&current.adapter, Duration::from_millis(ms));
            }
        }
        next.run(current, params)
    }
}

fn hold_for(adapter: &ObjectAdapter, time: Duration) {
    adapter.hold();
    let adapter = adapter.clone();
    tokio::spawn(async move {
        tokio::time::sleep(time).await;
        adapter.activate();
    });
}

async fn rust_server(properties: Properties) -> Result<(Communicator, u16)> {
    let communicator = Communicator::new(properties);
    let adapter = communicator
        .create_object_adapter_with_endpoints("Hold", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let _ = adapter.add(
        tester_servant(),
        Identity {
            name: "tester".into(),
            category: String::new(),
        },
    );
    adapter.add_dispatch_interceptor(Arc::new(HoldOnRecord));
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => bail!("unexpected endpoint {other:?}"),
    };
    Ok((communicator, port))
}

async fn client(cmd: &str, port: u16) -> Result<String> {
    let (ok, out) = run_python(
        "hold_client.py",
        &[cmd, &port.to_string()],
        Duration::from_secs(60),
    )
    .await?;
    ensure!(ok, "hold_client.py {cmd} failed:\n{out}");
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_adapter_blocks_sends_and_times_out_calls_as_zeroc() -> Result<()> {
    let (_zeroc, zeroc_port) =
        start_python_server("hold_server.py", &["--Ice.MessageSizeMax=4096"]).await?;
    let zeroc = client("sends", zeroc_port).await?;
    ensure!(
        zeroc == "timeout InvocationTimeoutException\noneways blocked\necho after\n",
        "ZeroC server: {zeroc}"
    );
    let (_communicator, port) =
        rust_server(Properties::new().with("Ice.MessageSizeMax", "4096")).await?;
    let ours = client("sends", port).await?;
    ensure!(ours == zeroc, "ours:\n{ours}ZeroC's:\n{zeroc}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_adapter_sends_no_heartbeats_so_the_clients_acm_closes_as_zeroc() -> Result<()> {
    let acm = ["--Ice.ACM.Timeout=1", "--Ice.ACM.Heartbeat=3"];
    let (_zeroc, zeroc_port) = start_python_server("hold_server.py", &acm).await?;
    let zeroc = client("acm", zeroc_port).await?;
    ensure!(
        zeroc == "acm ConnectionTimeoutException\n",
        "ZeroC server: {zeroc}"
    );
    let (_communicator, port) = rust_server(
        Properties::new()
            .with("Ice.ACM.Timeout", "1")
            .with("Ice.ACM.Heartbeat", "3"),
    )
    .await?;
    let ours = client("acm", port).await?;
    ensure!(ours == zeroc, "ours:\n{ours}ZeroC's:\n{zeroc}");
    Ok(())
}
