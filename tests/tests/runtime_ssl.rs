//! The `ssl` transport against ZeroC Ice 3.7 peers (Python and C++, with
//! the IceSSL plugin) over loopback, with certificates each test makes
//! (rcgen): every parameter kind of `tests/interop/Test.ice` in encodings
//! 1.1 and 1.0 both ways, the `IceSSL.VerifyPeer` levels and
//! `IceSSL.TrustOnly` rules with their refusals seen from the ZeroC side,
//! and a garbage handshake that closes only its own connection.

mod runtime_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Result};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::EncodingVersion;
use ice_proto::properties::Properties;
use ice_proto::RuntimeError;
use interop_tests::certs::TestPki;
use runtime_support::{
    expect_all_checks, properties_of, run_cpp_client, run_python_args, rust_client_checks_at,
    rust_server_with, start_cpp_server, start_python_server,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SSL: &str = "ssl -h 127.0.0.1 -p 0";

/// Properties as `(key, value)` pairs.
type Props = Vec<(String, String)>;

/// A CA with a `server` (CN=server), `client` (CN=client) and `manager`
/// (CN=manager) certificate, and a second CA's `stranger` (CN=stranger)
/// certificate, in a fresh directory.
fn pki() -> Result<(tempfile::TempDir, TestPki)> {
    let dir = tempfile::tempdir()?;
    let pki = TestPki::new(dir.path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    for (name, cn) in [
        ("server", "server"),
        ("client", "client"),
        ("manager", "manager"),
    ] {
        pki.issue(name, cn).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // A certificate from a CA nobody trusts, beside the others.
    let other = TestPki::new_named(dir.path(), "other_ca", "Other CA")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    other
        .issue("stranger", "stranger")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((dir, pki))
}

fn with(mut pairs: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        pairs.push(((*k).to_owned(), (*v).to_owned()));
    }
    pairs
}

fn args_of(pairs: &[(String, String)]) -> Vec<String> {
    std::iter::once("--Ice.Plugin.IceSSL=IceSSL:createIceSSL".to_owned())
        .chain(pairs.iter().map(|(k, v)| format!("--{k}={v}")))
        .collect()
}

async fn zeroc_client_against_rust_server(cpp: bool, encoding: &str) -> Result<()> {
    let (_dir, pki) = pki()?;
    let (communicator, port) =
        rust_server_with(properties_of(&pki.properties(Some("server"))), SSL).await?;
    let mut args = vec![format!("tester:ssl -h 127.0.0.1 -p {port}")];
    args.extend(pki.args(Some("client")));
    args.push(format!("--Ice.Default.EncodingVersion={encoding}"));
    let (ok, stdout) = if cpp {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cpp_client(&args, Duration::from_secs(300)).await?
    } else {
        run_python_args("client.py", &args, Duration::from_secs(60)).await?
    };
    println!("{stdout}");
    let who = if cpp { "C++" } else { "Python" };
    expect_all_checks(
        ok,
        &stdout,
        &format!("{who} ssl client, encoding {encoding}"),
    )?;
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_calls_rust_server_over_ssl_encoding_1_1() -> Result<()> {
    zeroc_client_against_rust_server(false, "1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_calls_rust_server_over_ssl_encoding_1_0() -> Result<()> {
    zeroc_client_against_rust_server(false, "1.0").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_client_calls_rust_server_over_ssl_encoding_1_1() -> Result<()> {
    zeroc_client_against_rust_server(true, "1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_client_calls_rust_server_over_ssl_encoding_1_0() -> Result<()> {
    zeroc_client_against_rust_server(true, "1.0").await
}

async fn rust_client_against_zeroc_server(cpp: bool, encoding: EncodingVersion) -> Result<()> {
    let (_dir, pki) = pki()?;
    let mut args = pki.args(Some("server"));
    args.push(format!("--Test.Endpoints={SSL}"));
    args.push(format!("--Ice.Default.EncodingVersion={encoding}"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_peer, port) = if cpp {
        start_cpp_server(&args).await?
    } else {
        start_python_server("server.py", &args).await?
    };
    rust_client_checks_at(
        properties_of(&pki.properties(Some("client"))),
        &format!("ssl -h 127.0.0.1 -p {port}"),
        encoding,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_server_over_ssl_encoding_1_1() -> Result<()> {
    rust_client_against_zeroc_server(false, EncodingVersion::V1_1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_server_over_ssl_encoding_1_0() -> Result<()> {
    rust_client_against_zeroc_server(false, EncodingVersion::V1_0).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_cpp_server_over_ssl_encoding_1_1() -> Result<()> {
    rust_client_against_zeroc_server(true, EncodingVersion::V1_1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_cpp_server_over_ssl_encoding_1_0() -> Result<()> {
    rust_client_against_zeroc_server(true, EncodingVersion::V1_0).await
}

/// Runs `ping.py` against `proxy` with `pairs` as its properties; returns
/// whether it got through and what it printed.
async fn python_ping(proxy: &str, pairs: &[(String, String)]) -> Result<(bool, String)> {
    python_pings(proxy, 1, pairs).await
}

/// [`python_ping`] `count` times over one connection.
async fn python_pings(
    proxy: &str,
    count: u32,
    pairs: &[(String, String)],
) -> Result<(bool, String)> {
    let mut args = vec![proxy.to_owned(), count.to_string()];
    args.extend(args_of(pairs));
    run_python_args("ping.py", &args, Duration::from_secs(60)).await
}

/// The server side's `VerifyPeer` levels and trust rules, each checked
/// with a ZeroC Python client on the other side: what gets through and
/// what is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_server_verify_peer_and_trust_rules_against_python_clients() -> Result<()> {
    let (_dir, pki) = pki()?;
    let server = pki.properties(Some("server"));
    let client = pki.properties(Some("client"));
    let manager = pki.properties(Some("manager"));
    let anonymous = pki.properties(None);
    let stranger = with(
        pki.properties(None),
        &[
            ("IceSSL.CertFile", "stranger.pem"),
            ("IceSSL.KeyFile", "stranger_key.pem"),
        ],
    );
    // (server properties, client properties, expected to get through)
    let cases: Vec<(&str, Props, &Props, bool)> = vec![
        (
            "VerifyPeer=2, trusted client",
            server.clone(),
            &client,
            true,
        ),
        (
            "VerifyPeer=2, no certificate",
            server.clone(),
            &anonymous,
            false,
        ),
        (
            "VerifyPeer=2, untrusted CA",
            server.clone(),
            &stranger,
            false,
        ),
        (
            "VerifyPeer=1, no certificate",
            with(server.clone(), &[("IceSSL.VerifyPeer", "1")]),
            &anonymous,
            true,
        ),
        (
            "VerifyPeer=1, untrusted CA",
            with(server.clone(), &[("IceSSL.VerifyPeer", "1")]),
            &stranger,
            false,
        ),
        (
            "VerifyPeer=0, untrusted CA",
            with(server.clone(), &[("IceSSL.VerifyPeer", "0")]),
            &stranger,
            true,
        ),
        (
            "TrustOnly.Server.TestAdapter names the manager: client refused",
            with(
                server.clone(),
                &[(
                    "IceSSL.TrustOnly.Server.TestAdapter",
                    "CN=manager, O=Ice Tests",
                )],
            ),
            &client,
            false,
        ),
        (
            "TrustOnly.Server.TestAdapter names the manager: manager accepted",
            with(
                server.clone(),
                &[(
                    "IceSSL.TrustOnly.Server.TestAdapter",
                    "CN=manager, O=Ice Tests",
                )],
            ),
            &manager,
            true,
        ),
        (
            "TrustOnly.Server.OtherAdapter does not apply here",
            with(
                server.clone(),
                &[("IceSSL.TrustOnly.Server.OtherAdapter", "CN=manager")],
            ),
            &client,
            true,
        ),
        (
            "TrustOnly rejects the client",
            with(server.clone(), &[("IceSSL.TrustOnly", "!CN=client")]),
            &client,
            false,
        ),
        (
            "TrustOnly.Server accepts the client",
            with(server.clone(), &[("IceSSL.TrustOnly.Server", "CN=client")]),
            &client,
            true,
        ),
    ];
    for (what, server_props, client_props, expected) in cases {
        let (communicator, port) = rust_server_with(properties_of(&server_props), SSL).await?;
        let proxy = format!("tester:ssl -h 127.0.0.1 -p {port}");
        let client_props = with(client_props.clone(), &[("Ice.RetryIntervals", "-1")]);
        let (ok, stdout) = python_ping(&proxy, &client_props).await?;
        println!("{what}: {}", stdout.trim());
        ensure!(
            ok == expected,
            "{what}: expected {}, the ZeroC client printed {stdout}",
            if expected { "success" } else { "a refusal" }
        );
        if !expected {
            ensure!(stdout.starts_with("FAIL"), "{what}: {stdout}");
        }
        communicator.destroy().await;
    }
    Ok(())
}

/// The client side's `VerifyPeer`, `CheckCertName` and trust rules
/// against ZeroC Python servers, and a ZeroC server's `TrustOnly.Server`
/// refusing the Rust client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_verify_peer_and_trust_rules_against_python_servers() -> Result<()> {
    let (_dir, pki) = pki()?;
    let client = pki.properties(Some("client"));
    let stranger_server = with(
        pki.properties(None),
        &[
            ("IceSSL.CertFile", "stranger.pem"),
            ("IceSSL.KeyFile", "stranger_key.pem"),
            ("IceSSL.VerifyPeer", "0"),
        ],
    );
    let server = pki.properties(Some("server"));
    // (server properties, client properties, expected to get through)
    let cases: Vec<(&str, Props, Props, bool)> = vec![
        (
            "VerifyPeer=2, server from an untrusted CA",
            stranger_server.clone(),
            client.clone(),
            false,
        ),
        (
            "VerifyPeer=0, server from an untrusted CA",
            stranger_server,
            with(client.clone(), &[("IceSSL.VerifyPeer", "0")]),
            true,
        ),
        (
            "CheckCertName=1, the certificate names 127.0.0.1",
            server.clone(),
            with(client.clone(), &[("IceSSL.CheckCertName", "1")]),
            true,
        ),
        (
            "TrustOnly.Client names the server",
            server.clone(),
            with(client.clone(), &[("IceSSL.TrustOnly.Client", "CN=server")]),
            true,
        ),
        (
            "TrustOnly.Client names another server",
            server.clone(),
            with(
                client.clone(),
                &[("IceSSL.TrustOnly.Client", "CN=elsewhere")],
            ),
            false,
        ),
        (
            "VerifyDepthMax=1 is shorter than leaf and CA",
            server.clone(),
            with(client.clone(), &[("IceSSL.VerifyDepthMax", "1")]),
            false,
        ),
        (
            "the ZeroC server's TrustOnly.Server.TestAdapter refuses the Rust client",
            with(
                server.clone(),
                &[("IceSSL.TrustOnly.Server.TestAdapter", "CN=manager")],
            ),
            client.clone(),
            false,
        ),
        (
            "the ZeroC server's TrustOnly.Server.TestAdapter accepts the manager",
            with(
                server.clone(),
                &[("IceSSL.TrustOnly.Server.TestAdapter", "CN=manager")],
            ),
            pki.properties(Some("manager")),
            true,
        ),
        (
            "the ZeroC server requires a certificate the Rust client lacks",
            server,
            pki.properties(None),
            false,
        ),
    ];
    for (what, server_props, client_props, expected) in cases {
        let mut args = args_of(&server_props);
        args.push(format!("--Test.Endpoints={SSL}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_peer, port) = start_python_server("server.py", &args).await?;
        let communicator =
            Communicator::new(properties_of(&client_props).with("Ice.RetryIntervals", "-1"));
        let proxy = communicator
            .string_to_proxy(&format!("tester:ssl -h 127.0.0.1 -p {port}"))?
            .ok_or_else(|| anyhow::anyhow!("null proxy"))?;
        let outcome = proxy.ice_ping().await;
        println!("{what}: {outcome:?}");
        ensure!(
            outcome.is_ok() == expected,
            "{what}: expected {}, got {outcome:?}",
            if expected { "success" } else { "a refusal" }
        );
        // A refusal is a security error, or a connection the ZeroC server
        // closed after the handshake (its trust rules).
        ensure!(
            matches!(
                outcome,
                Ok(()) | Err(RuntimeError::Security { .. } | RuntimeError::ConnectionLost)
            ),
            "{what}: {outcome:?}"
        );
        communicator.destroy().await;
    }
    Ok(())
}

/// `IceSSL.CheckCertName=1` refuses a ZeroC server whose certificate does
/// not name the host of the proxy (127.0.0.2, also loopback); with the
/// default 0 the same server is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_cert_name_against_a_python_server() -> Result<()> {
    let (_dir, pki) = pki()?;
    let mut args = pki.args(Some("server"));
    args.push("--Test.Endpoints=ssl -h 127.0.0.2 -p 0".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_peer, port) = start_python_server("server.py", &args).await?;
    for (check, expected) in [("0", true), ("1", false)] {
        let communicator = Communicator::new(
            properties_of(&pki.properties(Some("client")))
                .with("IceSSL.CheckCertName", check)
                .with("Ice.RetryIntervals", "-1"),
        );
        let proxy = communicator
            .string_to_proxy(&format!("tester:ssl -h 127.0.0.2 -p {port}"))?
            .ok_or_else(|| anyhow::anyhow!("null proxy"))?;
        let outcome = proxy.ice_ping().await;
        println!("CheckCertName={check}: {outcome:?}");
        ensure!(
            outcome.is_ok() == expected,
            "CheckCertName={check}: {outcome:?}"
        );
        if !expected {
            ensure!(
                matches!(&outcome, Err(RuntimeError::Security { reason }) if reason.contains("not valid for name")),
                "{outcome:?}"
            );
        }
        communicator.destroy().await;
    }
    Ok(())
}

/// Both sides of an ssl connection expose the peer's verified
/// certificate and the cipher: the client sees the server's, the
/// adapter's accepted connection (what a servant's `Current` holds) the
/// client's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_info_carries_the_peer_certificate() -> Result<()> {
    let (_dir, pki) = pki()?;
    let server = Communicator::new(properties_of(&pki.properties(Some("server"))));
    let adapter = server
        .create_object_adapter_with_endpoints("TestAdapter", SSL)
        .await?;
    let _ = adapter.add(
        runtime_support::tester_servant(),
        ice_proto::encoding::Identity {
            name: "tester".into(),
            category: String::new(),
        },
    );
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(ice_proto::encoding::Endpoint::Ssl(ip)) => ip.port,
        other => anyhow::bail!("unexpected endpoint {other:?}"),
    };
    let client = Communicator::new(properties_of(&pki.properties(Some("manager"))));
    let prx = client
        .string_to_proxy(&format!("tester:ssl -h 127.0.0.1 -p {port}"))?
        .ok_or_else(|| anyhow::anyhow!("null proxy"))?;
    prx.ice_ping().await?;
    let conn = prx.ice_get_connection().await?;
    let ssl = conn
        .info()
        .ssl
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no TLS information: {:?}", conn.info()))?;
    ensure!(ssl.verified, "{ssl:?}");
    ensure!(ssl.certs.len() == 1, "{ssl:?}");
    ensure!(
        ssl.subject.as_deref() == Some("CN=server, O=Ice Tests"),
        "{ssl:?}"
    );
    ensure!(ssl.cipher.starts_with("TLS"), "{ssl:?}");
    // The adapter records the connection once it is validated; wait for it.
    let mut accepted = adapter.connections();
    for _ in 0..100 {
        if !accepted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        accepted = adapter.connections();
    }
    let theirs = accepted
        .first()
        .and_then(|c| c.info().ssl.clone())
        .ok_or_else(|| anyhow::anyhow!("no accepted ssl connection"))?;
    ensure!(
        theirs
            .subject_attributes()
            .contains(&("CN".into(), "manager".into())),
        "{theirs:?}"
    );
    ensure!(theirs.verified && theirs.cipher == ssl.cipher, "{theirs:?}");
    ensure!(accepted[0].info().adapter_name == "TestAdapter");
    client.destroy().await;
    server.destroy().await;
    Ok(())
}

/// A `tracing` writer keeping what is written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
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

/// Garbage instead of a TLS hello closes that connection with a log line,
/// while a ZeroC Python client on its own connection keeps getting replies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_handshake_closes_only_its_connection() -> Result<()> {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    // Global: the refusal is logged from the runtime's worker threads.
    // This is the only test of this file that sets a subscriber.
    tracing::subscriber::set_global_default(subscriber)?;

    let (_dir, pki) = pki()?;
    let (communicator, port) =
        rust_server_with(properties_of(&pki.properties(Some("server"))), SSL).await?;
    let proxy = format!("tester:ssl -h 127.0.0.1 -p {port}");
    // A ZeroC client pinging 200 times over one connection meanwhile.
    let client_props = pki.properties(Some("client"));
    let pinger = tokio::spawn(async move { python_pings(&proxy, 300, &client_props).await });
    for _ in 0..5 {
        let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        raw.write_all(b"GET / HTTP/1.1\r\n\r\n\x16\x03\x01\xff\xffgarbage")
            .await?;
        let mut buf = [0u8; 256];
        // The server answers with at most a TLS alert, then closes.
        let mut total = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), raw.read(&mut buf)).await? {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
            ensure!(total < 1024, "the server kept talking to garbage");
        }
    }
    let (ok, stdout) = pinger.await??;
    ensure!(ok, "the ZeroC client was disturbed: {stdout}");
    // And a fresh ZeroC connection still works after the garbage.
    let (ok, stdout) = python_ping(
        &format!("tester:ssl -h 127.0.0.1 -p {port}"),
        &pki.properties(Some("client")),
    )
    .await?;
    ensure!(ok, "{stdout}");
    let log = String::from_utf8_lossy(&captured.0.lock().map(|v| v.clone()).unwrap_or_default())
        .into_owned();
    ensure!(
        log.matches("incoming connection refused").count() >= 5,
        "no log line per refused connection:\n{log}"
    );
    ensure!(log.contains("TLS handshake failed"), "{log}");
    communicator.destroy().await;
    Ok(())
}

/// An adapter with an `ssl` endpoint and no certificate is refused with a
/// security error naming IceSSL.CertFile.
#[tokio::test]
async fn ssl_adapter_without_a_certificate_is_refused() -> Result<()> {
    let communicator = Communicator::new(Properties::new());
    let err = communicator
        .create_object_adapter_with_endpoints("TestAdapter", SSL)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("an ssl adapter without a certificate was created"))?;
    ensure!(err.to_string().contains("IceSSL.CertFile"), "{err}");
    Ok(())
}

/// Endpoint selection across a mixed `tcp`/`ssl` endpoint list: plain
/// first by default, only ssl for a secure proxy (`-s`), ssl first with
/// `Ice.Default.PreferSecure=1`; a secure proxy with no secure endpoint
/// finds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_endpoint_lists_follow_ice_secure_and_prefer_secure() -> Result<()> {
    use ice_proto::transport::Transport;
    let (_dir, pki) = pki()?;
    let server = Communicator::new(properties_of(&pki.properties(Some("server"))));
    let adapter = server
        .create_object_adapter_with_endpoints(
            "TestAdapter",
            "tcp -h 127.0.0.1 -p 0:ssl -h 127.0.0.1 -p 0",
        )
        .await?;
    let _ = adapter.add(
        runtime_support::tester_servant(),
        ice_proto::encoding::Identity {
            name: "tester".into(),
            category: String::new(),
        },
    );
    adapter.activate();
    let endpoints: Vec<String> = adapter
        .endpoints()
        .iter()
        .map(ice_proto::reference::endpoint_to_string)
        .collect();
    ensure!(endpoints.len() == 2, "{endpoints:?}");
    let list = endpoints.join(":");
    for (what, options, prefer, expected) in [
        ("default", "", "0", Transport::Tcp),
        ("secure proxy", " -s", "0", Transport::Ssl),
        ("PreferSecure", "", "1", Transport::Ssl),
    ] {
        let client = Communicator::new(
            properties_of(&pki.properties(Some("client")))
                .with("Ice.Default.PreferSecure", prefer)
                .with("Ice.Default.EndpointSelection", "Ordered"),
        );
        let prx = client
            .string_to_proxy(&format!("tester{options}:{list}"))?
            .ok_or_else(|| anyhow::anyhow!("null proxy"))?;
        prx.ice_ping().await?;
        let used = prx.ice_get_connection().await?.info().transport;
        ensure!(used == expected, "{what}: used {used}, expected {expected}");
        client.destroy().await;
    }
    let client = Communicator::new(properties_of(&pki.properties(Some("client"))));
    let plain_only = client
        .string_to_proxy(&format!("tester -s:{}", endpoints[0]))?
        .ok_or_else(|| anyhow::anyhow!("null proxy"))?;
    ensure!(
        matches!(
            plain_only.ice_ping().await,
            Err(RuntimeError::NoEndpoint { .. })
        ),
        "a secure proxy used a tcp endpoint"
    );
    client.destroy().await;
    server.destroy().await;
    Ok(())
}
