//! Fault behaviour of a Rust server: peers that send garbage, a wrong
//! magic, an unsupported protocol, an oversized message, or vanish in the
//! middle of a message each get their connection closed with a log line
//! naming the problem, while well-behaved clients (Rust and a ZeroC Python
//! client) of the same server go on being served.

mod runtime_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use ice_proto::properties::Properties;
use runtime_support::{run_python, tester_prx, tester_servant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Log output captured from `tracing`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

fn header(magic: &[u8; 4], major: u8, msg_type: u8, size: i32) -> Vec<u8> {
    let mut h = magic.to_vec();
    h.extend_from_slice(&[major, 0, 1, 0, msg_type, 0]);
    h.extend_from_slice(&size.to_le_bytes());
    h
}

/// Connects, reads the validate connection message, sends `bytes`, and
/// (unless `vanish`) waits for the server to close the connection.
async fn bad_peer(port: u16, bytes: Vec<u8>, vanish: bool) -> Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut validate = [0u8; 14];
    s.read_exact(&mut validate).await?;
    ensure!(validate[8] == 3, "first message is not validate connection");
    s.write_all(&bytes).await?;
    if vanish {
        return Ok(());
    }
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest))
        .await
        .context("server did not close the bad connection")??;
    ensure!(rest.is_empty(), "server answered garbage with {rest:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_are_cut_off_while_good_clients_are_served() -> Result<()> {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    tracing::subscriber::set_global_default(subscriber)?;

    // Ice.MessageSizeMax is in KiB (the Python client echoes 100 000 bytes).
    let server = Communicator::new(Properties::new().with("Ice.MessageSizeMax", "256"));
    let adapter = server
        .create_object_adapter_with_endpoints("Faults", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let servant = tester_servant();
    let id = Identity {
        name: "tester".into(),
        category: String::new(),
    };
    let tester = adapter.add(servant.clone(), id.clone());
    let _ = adapter.add_facet(servant, id, "extra");
    adapter.activate();
    let proxy_text = tester.to_string();
    let port = match adapter.endpoints().first() {
        Some(ice_proto::encoding::Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => bail!("unexpected endpoint {other:?}"),
    };

    // Well-behaved Rust clients, each on its own communicator (connection).
    let mut good = Vec::new();
    for n in 0..3 {
        let text = proxy_text.clone();
        good.push(tokio::spawn(async move {
            let client = Communicator::new(Properties::new());
            let prx = tester_prx(
                client
                    .string_to_proxy(&text)?
                    .ok_or_else(|| anyhow::anyhow!("null proxy"))?,
            );
            for i in 0..200 {
                let s = format!("client {n} call {i}");
                ensure!(prx.echo(&s).await? == s);
            }
            client.destroy().await;
            Ok::<_, anyhow::Error>(())
        }));
    }
    // A well-behaved ZeroC Python client, at the same time.
    let python = tokio::spawn({
        let text = proxy_text.clone();
        async move { run_python("client.py", &[&text], Duration::from_secs(60)).await }
    });

    // The bad peers.
    let mut garbage = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    garbage.extend_from_slice(&[0xff; 64]);
    let wrong_magic = header(b"IceX", 1, 0, 14);
    let bad_protocol = header(b"IceP", 2, 0, 14);
    let oversized = header(b"IceP", 1, 0, 10 * 1024 * 1024);
    // A request header announcing 100 bytes, then only 30 of them.
    let mut partial = header(b"IceP", 1, 0, 100);
    partial.extend_from_slice(&[0u8; 30]);
    let mut bad = Vec::new();
    for (bytes, vanish) in [
        (garbage, false),
        (wrong_magic, false),
        (bad_protocol, false),
        (oversized, false),
        (partial, true),
    ] {
        bad.push(tokio::spawn(bad_peer(port, bytes, vanish)));
    }
    for b in bad {
        b.await??;
    }
    for g in good {
        g.await??;
    }
    let (ok, stdout) = python.await??;
    ensure!(ok, "python client failed during the faults:\n{stdout}");

    // One log line per bad peer, naming the problem.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let wanted = [
        "BadMagic { found: [71, 69, 84, 32] }",
        "BadMagic { found: [73, 99, 101, 88] }",
        "UnsupportedProtocol { major: 2, minor: 0 }",
        "MessageTooLarge { size: 10485760, max: 262144 }",
        "peer closed in the middle of a message",
    ];
    loop {
        let log = capture.text();
        let missing: Vec<_> = wanted.iter().filter(|w| !log.contains(*w)).collect();
        if missing.is_empty() {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("log lacks {missing:?}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("{}", capture.text());
    ensure!(
        capture.text().matches("closing connection").count() >= wanted.len(),
        "{}",
        capture.text()
    );

    // The server still serves after all of it.
    let client = Communicator::new(Properties::new());
    let prx = tester_prx(
        client
            .string_to_proxy(&proxy_text)?
            .ok_or_else(|| anyhow::anyhow!("null proxy"))?,
    );
    ensure!(prx.echo("still here").await? == "still here");
    client.destroy().await;
    server.destroy().await;
    Ok(())
}
