//! Loads and careless peers against a Rust server, each beside a ZeroC
//! Python client or compared with a ZeroC Python server of the same
//! program: a burst of connections, a request followed by close
//! connection, a client that never reads its replies, and a compression
//! bomb. The tests run one at a time (they measure this process's memory
//! and time a burst), each holding [`ONE_AT_A_TIME`].

mod runtime_support;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use ice_proto::properties::Properties;
use runtime_support::{run_python, rust_server, rust_server_with, start_python_server};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Held by each test for its whole run.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `robustness.py` with `args`, bounded by `limit`; its stdout.
async fn peer(args: &[&str], limit: Duration) -> Result<String> {
    let (ok, stdout) = run_python("robustness.py", args, limit).await?;
    ensure!(ok, "robustness.py {args:?} failed:\n{stdout}");
    Ok(stdout)
}

/// 2,000 clients connecting at once are all accepted (the server's
/// validate connection message read by each) within a second: the listen
/// queue is `Ice.TCP.Backlog` long (ZeroC's default), not tokio's. A ZeroC
/// client opening 2,000 connections at once gets all of them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_connections_at_once_are_accepted_within_a_second() -> Result<()> {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (_communicator, port) = rust_server().await?;
    let start = Instant::now();
    let clients: Vec<_> = (0..2000)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
                let mut validate = [0u8; 14];
                s.read_exact(&mut validate).await?;
                ensure!(validate[8] == 3, "not a validate connection message");
                Ok::<_, anyhow::Error>(s)
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(clients.len());
    for client in clients {
        streams.push(client.await??);
    }
    let elapsed = start.elapsed();
    ensure!(
        elapsed < Duration::from_secs(1),
        "2000 connections took {elapsed:?}"
    );
    drop(streams);

    let proxy = format!("tester:tcp -h 127.0.0.1 -p {port}");
    let out = peer(&["burst", &proxy, "2000"], Duration::from_secs(60)).await?;
    ensure!(out.starts_with("connected 2000 "), "{out}");
    eprintln!("ZeroC Python client, 2000 connections: {}", out.trim());
    Ok(())
}

/// A request followed by close connection in one write gets its reply,
/// then the server closes: what a ZeroC Python server of the same program
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_followed_by_close_connection_gets_its_reply_first() -> Result<()> {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (_zeroc, zeroc_port) = start_python_server("server.py", &[]).await?;
    let zeroc = peer(
        &["close-after-request", &zeroc_port.to_string()],
        Duration::from_secs(20),
    )
    .await?;
    let (_communicator, port) = rust_server().await?;
    let ours = peer(
        &["close-after-request", &port.to_string()],
        Duration::from_secs(20),
    )
    .await?;
    ensure!(zeroc == "reply 7 0\neof\n", "ZeroC server: {zeroc}");
    ensure!(ours == zeroc, "ours: {ours}\nZeroC's: {zeroc}");
    Ok(())
}

/// Resident set size of this process, in bytes.
fn rss() -> Result<u64> {
    status_field("VmRSS:")
}

/// A client sends 300 requests of 256 KiB each (75 MiB of replies) and
/// never reads: the server stops reading its requests once 1 MiB of
/// replies waits (`IceProto.SendQueueSizeMax`), so its memory stays near
/// the bound, and a ZeroC client on another connection is answered within
/// 10 ms meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_held_to_the_send_queue_bound() -> Result<()> {
    let _alone = ONE_AT_A_TIME.lock().await;
    const MAX_KIB: u64 = 1024;
    let properties = Properties::new()
        .with("IceProto.SendQueueSizeMax", &MAX_KIB.to_string())
        .with("Ice.MessageSizeMax", "4096");
    let (_communicator, port) = rust_server_with(properties, "tcp -h 127.0.0.1 -p 0").await?;
    let before = rss()?;
    let port_text = port.to_string();
    let flood = tokio::spawn(async move {
        peer(
            &["flood", &port_text, "300", "262144", "3"],
            Duration::from_secs(30),
        )
        .await
    });
    // Sample the server's memory while the flood goes on.
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        for _ in 0..25 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            peak = peak.max(rss().unwrap_or(0));
        }
        peak
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let proxy = format!("tester:tcp -h 127.0.0.1 -p {port}");
    let latency = peer(&["latency", &proxy, "50"], Duration::from_secs(30)).await?;
    let flood = flood.await??;
    let peak = sampler.await?;
    let sent: u32 = flood
        .trim()
        .strip_prefix("sent ")
        .and_then(|n| n.parse().ok())
        .context("flood output")?;
    ensure!(sent < 300, "the server read every request ({flood})");
    let grown = peak.saturating_sub(before);
    // The bound, the request being read and decoded, and the runtime's
    // own noise; without a bound the server held 75 MiB of replies.
    ensure!(
        grown < (MAX_KIB * 1024) + 8 * 1024 * 1024,
        "server memory grew by {} KiB",
        grown / 1024
    );
    // `median_ms M max_ms X over_10ms N`.
    let fields: Vec<&str> = latency.split_whitespace().collect();
    let number = |key: &str| -> Result<f64> {
        fields
            .iter()
            .position(|f| *f == key)
            .and_then(|i| fields.get(i + 1))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{key} in {latency}"))
    };
    let (median, worst, slow) = (
        number("median_ms")?,
        number("max_ms")?,
        number("over_10ms")?,
    );
    // Replies within 10 ms; one or two of 50 may lose the processor to
    // another process on a shared machine.
    ensure!(
        median < 10.0 && slow <= 2.0,
        "a ZeroC client waited: {latency}"
    );
    eprintln!(
        "flood: {sent} requests taken, memory grew by {} KiB; ZeroC client's pings: median {median} ms, slowest {worst} ms",
        grown / 1024
    );
    Ok(())
}

/// A `VmRSS`-style field of `/proc/self/status`, in bytes.
fn status_field(name: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| name.to_owned())?;
    Ok(kib * 1024)
}

/// A bzip2 request that inflates to exactly the size limit it announces:
/// the server's peak memory (this process's high-water mark, reset before
/// the request) stays below 1.2 times the limit, the message being
/// inflated once into a buffer of the announced size, never grown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compression_bomb_at_the_limit_peaks_below_1_2_times_the_limit() -> Result<()> {
    let _alone = ONE_AT_A_TIME.lock().await;
    const LIMIT_KIB: u64 = 64 * 1024;
    let limit = LIMIT_KIB * 1024;
    let properties = Properties::new().with("Ice.MessageSizeMax", &LIMIT_KIB.to_string());
    let (_communicator, port) = rust_server_with(properties, "tcp -h 127.0.0.1 -p 0").await?;
    // Reset the high-water mark to the current resident size.
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = status_field("VmRSS:")?;
    let out = peer(
        &["bomb", &port.to_string(), &limit.to_string()],
        Duration::from_secs(120),
    )
    .await?;
    // Decompressed and dispatched: `nobody` does not exist.
    ensure!(out == "reply 1 2\n", "{out}");
    let peak = status_field("VmHWM:")?.saturating_sub(before);
    eprintln!(
        "bomb of {} MiB: peak growth {} MiB",
        limit >> 20,
        peak >> 20
    );
    ensure!(
        peak * 10 < limit * 12,
        "peak growth {peak} bytes for a limit of {limit}"
    );
    Ok(())
}
