//! The locator against a real IceGrid registry (`icegridregistry` on
//! loopback, dynamic registration): a Rust adapter with an `AdapterId`
//! registers its endpoints and a ZeroC Python client reaches it through
//! `id@AdapterId` and through a well-known name; a Rust client reaches a
//! ZeroC Python server registered the same way, follows it when it
//! restarts on another port, and resolves a replica group; in encodings
//! 1.1 and 1.0. The full ZeroC client checks (`tests/interop/client.py`
//! and the C++ client) also pass through the locator. The Rust servant
//! and proxy are the ones slice2rs generates from `Test.ice`.

mod runtime_support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use ice_proto::adapter::ObjectAdapter;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;
use ice_proto::proxy::ObjectPrx;
use ice_proto::RuntimeError;
use interop_tests::icegrid::Registry;
use interop_tests::peers::PYTHON;
use runtime_support::{tester_prx, TesterImpl, TesterServant, TESTER_ID};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

fn ident(name: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        category: String::new(),
    }
}

/// Calls `echo(s)` on `prx` through the generated proxy.
async fn echo(prx: &ObjectPrx, s: &str) -> Result<String> {
    Ok(tester_prx(prx.clone()).echo(s).await?)
}

/// Calls `takeRecorded()` on `prx` (a ZeroC `server.py`); its last entry
/// is `enc=<encodings seen>`.
async fn take_recorded(prx: &ObjectPrx) -> Result<Vec<String>> {
    Ok(tester_prx(prx.clone()).take_recorded().await?)
}

fn port_of(endpoints: &[Endpoint]) -> Result<i32> {
    match endpoints.first() {
        Some(Endpoint::Tcp(ip)) => Ok(ip.port),
        other => bail!("unexpected endpoints {other:?}"),
    }
}

/// A Rust server: adapter `TestAdapter` with `adapter_id` (and
/// `replica_group`), registered with `registry`, serving `tester`.
async fn rust_server(
    registry: &Registry,
    adapter_id: &str,
    replica_group: &str,
    encoding: &str,
) -> Result<(Communicator, ObjectAdapter, Arc<TesterServant<TesterImpl>>)> {
    let mut props = Properties::new()
        .with("Ice.Default.Locator", &registry.locator())
        .with("Ice.Default.EncodingVersion", encoding)
        .with("TestAdapter.Endpoints", "tcp -h 127.0.0.1 -p 0")
        .with("TestAdapter.AdapterId", adapter_id);
    if !replica_group.is_empty() {
        props = props.with("TestAdapter.ReplicaGroupId", replica_group);
    }
    let communicator = Communicator::new(props);
    let adapter = communicator.create_object_adapter("TestAdapter").await?;
    let servant = TesterServant::new(TesterImpl::named(adapter_id));
    let prx = adapter.add(servant.clone(), ident("tester"));
    let expected = if replica_group.is_empty() {
        format!("tester -t -e {encoding} @ {adapter_id}")
    } else {
        format!("tester -t -e {encoding} @ {replica_group}")
    };
    ensure!(
        prx.to_string() == expected,
        "adapter made {prx}, not {expected}"
    );
    adapter.activate_and_register().await?;
    Ok((communicator, adapter, servant))
}

/// A ZeroC Python client: for each proxy, `checkedCast` to `Test::Tester`
/// and `echo`; prints `ok <proxy> <answer>` or `FAIL <proxy> <error>`.
const PY_CLIENT: &str = r#"
import sys, Ice
Ice.loadSlice(sys.argv[1])
import Test
with Ice.initialize(sys.argv) as communicator:
    failed = False
    for text in sys.argv[2:]:
        try:
            prx = Test.TesterPrx.checkedCast(communicator.stringToProxy(text))
            print("ok %s %s" % (text, prx.echo("py")), flush=True)
        except Exception as e:
            failed = True
            print("FAIL %s %r" % (text, e), flush=True)
    sys.exit(1 if failed else 0)
"#;

/// Runs [`PY_CLIENT`] against `proxies` with the registry's locator and
/// `encoding`; returns its stdout.
async fn python_client(registry: &Registry, encoding: &str, proxies: &[&str]) -> Result<String> {
    let child = Command::new(PYTHON)
        .arg("-c")
        .arg(PY_CLIENT)
        .arg(interop_dir().join("Test.ice"))
        .args(proxies)
        .arg(registry.locator_arg())
        .arg(format!("--Ice.Default.EncodingVersion={encoding}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the ZeroC Python client")?;
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .context("the ZeroC Python client timed out")??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "ZeroC Python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

async fn rust_adapter_reached_by_python_client(encoding: &str) -> Result<()> {
    let registry = tokio::task::spawn_blocking(Registry::start).await??;
    let (communicator, adapter, servant) = rust_server(&registry, "RustA", "", encoding).await?;
    let port = port_of(adapter.endpoints())?;

    // The registry holds our endpoints.
    let held = registry.adapter_proxies("RustA")?;
    ensure!(
        held.iter().any(|p| p.contains(&format!("-p {port}"))),
        "registry holds {held:?}, not port {port}"
    );
    registry.add_object("tester@RustA", TESTER_ID)?;

    let out = python_client(&registry, encoding, &["tester@RustA", "tester"]).await?;
    println!("{out}");
    ensure!(out.contains("ok tester@RustA RustA:py"), "{out}");
    ensure!(out.contains("ok tester RustA:py"), "{out}");
    ensure!(
        servant.0.encodings() == vec![encoding.to_owned()],
        "servant saw {:?}",
        servant.0.encodings()
    );

    // Deactivating unregisters: the locator no longer gives endpoints.
    adapter.deactivate().await;
    let client =
        Communicator::new(Properties::new().with("Ice.Default.Locator", &registry.locator()));
    let locator = client
        .default_locator()
        .ok_or_else(|| anyhow!("no default locator"))?;
    match locator.find_adapter_by_id(&client, "RustA").await {
        Ok(None) | Err(RuntimeError::NotRegistered { .. }) => {}
        other => bail!("adapter still registered after deactivate: {other:?}"),
    }
    client.destroy().await;
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_reaches_rust_adapter_through_icegrid_encoding_1_1() -> Result<()> {
    rust_adapter_reached_by_python_client("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_reaches_rust_adapter_through_icegrid_encoding_1_0() -> Result<()> {
    rust_adapter_reached_by_python_client("1.0").await
}

/// A ZeroC `server.py` killed on drop.
struct PyServer {
    _child: Child,
    port: u16,
}

/// Writes `config` to a fresh Ice configuration file (Ice reads only its
/// own prefixes from the command line, so adapter properties go there).
fn write_config(config: &str) -> Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "locator-icegrid-{}-{}.cfg",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::write(&path, config)?;
    Ok(path)
}

/// Starts `tests/interop/server.py` with the registry's locator and the
/// adapter properties in `config` (through `--Ice.Config`, since Ice
/// reads only its own prefixes from the command line).
async fn python_server(registry: &Registry, config: &str, encoding: &str) -> Result<PyServer> {
    let path = write_config(config)?;
    let mut child = Command::new(PYTHON)
        .arg(interop_dir().join("server.py"))
        .arg(registry.locator_arg())
        .arg(format!("--Ice.Config={}", path.display()))
        .arg(format!("--Ice.Default.EncodingVersion={encoding}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting server.py")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from server.py"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("server.py did not print its port in time")??
        .ok_or_else(|| anyhow!("server.py exited before printing its port"))?;
    let _ = std::fs::remove_file(&path);
    Ok(PyServer {
        _child: child,
        port: line.trim().parse().context("port line")?,
    })
}

async fn rust_client_reaches_python_server(encoding: &str) -> Result<()> {
    let registry = tokio::task::spawn_blocking(Registry::start).await??;
    let server = python_server(&registry, "TestAdapter.AdapterId=PyA\n", encoding).await?;
    registry.add_object("tester@PyA", TESTER_ID)?;

    let communicator = Communicator::new(
        Properties::new()
            .with("Ice.Default.Locator", &registry.locator())
            .with("Ice.Default.EncodingVersion", encoding),
    );
    let by_adapter = communicator
        .string_to_proxy("tester@PyA")?
        .ok_or_else(|| anyhow!("null proxy"))?;
    let well_known = communicator
        .string_to_proxy("tester")?
        .ok_or_else(|| anyhow!("null proxy"))?;
    ensure!(echo(&by_adapter, "a").await? == "a");
    ensure!(echo(&well_known, "w").await? == "w");
    ensure!(well_known.checked_cast(TESTER_ID).await?.is_some());
    let recorded = take_recorded(&by_adapter).await?;
    ensure!(
        recorded == vec![format!("enc={encoding}")],
        "server saw {recorded:?}"
    );
    let conn = by_adapter.ice_get_connection().await?;
    ensure!(
        conn.description().ends_with(&format!(":{}", server.port)),
        "connected to {} instead of port {}",
        conn.description(),
        server.port
    );

    // Unknown adapters and objects are Ice's NotRegisteredException.
    for text in ["tester@NoSuchAdapter", "nobody"] {
        let prx = communicator
            .string_to_proxy(text)?
            .ok_or_else(|| anyhow!("null proxy"))?;
        match prx.ice_ping().await {
            Err(RuntimeError::NotRegistered { .. }) => {}
            other => bail!("{text}: expected NotRegistered, got {other:?}"),
        }
    }

    // The server restarts on another port: the cached endpoints fail, the
    // next call resolves again and succeeds.
    let old_port = server.port;
    drop(server);
    let server = python_server(&registry, "TestAdapter.AdapterId=PyA\n", encoding).await?;
    ensure!(server.port != old_port, "restarted on the same port");
    ensure!(echo(&by_adapter, "again").await? == "again");
    ensure!(echo(&well_known, "again").await? == "again");
    let conn = well_known.ice_get_connection().await?;
    ensure!(
        conn.description().ends_with(&format!(":{}", server.port)),
        "after restart connected to {}, not port {}",
        conn.description(),
        server.port
    );
    communicator.destroy().await;
    drop(server);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_reaches_python_server_through_icegrid_encoding_1_1() -> Result<()> {
    rust_client_reaches_python_server("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_reaches_python_server_through_icegrid_encoding_1_0() -> Result<()> {
    rust_client_reaches_python_server("1.0").await
}

/// A replica group with a ZeroC Python member and a Rust member: both
/// registered with `ReplicaGroupId`, the group resolves to their
/// endpoints, a ZeroC client and a Rust client reach `tester@Group`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_group_with_rust_and_python_members() -> Result<()> {
    let registry = tokio::task::spawn_blocking(Registry::start).await??;
    let py = python_server(
        &registry,
        "TestAdapter.AdapterId=PyR\nTestAdapter.ReplicaGroupId=Group\n",
        "1.1",
    )
    .await?;
    let (communicator, adapter, servant) = rust_server(&registry, "RustR", "Group", "1.1").await?;
    let rust_port = port_of(adapter.endpoints())?;

    let client =
        Communicator::new(Properties::new().with("Ice.Default.Locator", &registry.locator()));
    let locator = client
        .default_locator()
        .ok_or_else(|| anyhow!("no default locator"))?;
    let group = locator
        .find_adapter_by_id(&client, "Group")
        .await?
        .ok_or_else(|| anyhow!("replica group not active"))?;
    let mut ports: Vec<i32> = group
        .endpoints
        .iter()
        .filter_map(|e| match e {
            Endpoint::Tcp(ip) => Some(ip.port),
            _ => None,
        })
        .collect();
    ports.sort_unstable();
    let mut want = vec![rust_port, i32::from(py.port)];
    want.sort_unstable();
    ensure!(ports == want, "group endpoints {ports:?}, members {want:?}");

    // Both clients reach a member of the group.
    let prx = client
        .string_to_proxy("tester@Group")?
        .ok_or_else(|| anyhow!("null proxy"))?;
    let answer = echo(&prx, "g").await?;
    ensure!(answer == "g" || answer == "RustR:g", "{answer}");
    let out = python_client(&registry, "1.1", &["tester@Group"]).await?;
    ensure!(out.contains("ok tester@Group"), "{out}");

    // With the Python member gone, the group's cached endpoints that fail
    // are dropped and the Rust member answers.
    drop(py);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rust_answered = false;
    for _ in 0..5 {
        if echo(&prx, "h").await? == "RustR:h" {
            rust_answered = true;
            break;
        }
    }
    ensure!(rust_answered, "the Rust member never answered");
    ensure!(servant.0.encodings() == vec!["1.1".to_owned()]);
    client.destroy().await;
    communicator.destroy().await;
    Ok(())
}

/// Checks a ZeroC client's output for a well-known proxy: every check
/// passes but `object_not_exist`, whose other identity is itself a
/// well-known name the locator does not know (Ice then raises
/// `NotRegisteredException`, not `ObjectNotExistException`).
fn expect_well_known_checks(ok: bool, stdout: &str, who: &str) -> Result<()> {
    for check in runtime_support::CLIENT_CHECKS {
        if *check == "object_not_exist" {
            ensure!(
                stdout
                    .lines()
                    .any(|l| l.starts_with("FAIL object_not_exist") && l.contains("NotRegistered")),
                "{who}: `object_not_exist` should fail with NotRegisteredException:\n{stdout}"
            );
        } else {
            ensure!(
                stdout.lines().any(|l| l == format!("ok {check}")),
                "{who}: check `{check}` did not pass:\n{stdout}"
            );
        }
    }
    ensure!(!ok, "{who} reported no failure:\n{stdout}");
    Ok(())
}

/// Every check of the ZeroC Python and C++ clients passes against the
/// Rust `Test::Tester` server reached through IceGrid by adapter id, and
/// by well-known name (but for the missing object, which is then a name
/// the locator does not know).
async fn full_client_checks_through_icegrid(encoding: &str) -> Result<()> {
    use runtime_support::{expect_all_checks, run_cpp_client, run_python, tester_servant};
    let registry = tokio::task::spawn_blocking(Registry::start).await??;
    let communicator = Communicator::new(
        Properties::new()
            .with("Ice.Default.Locator", &registry.locator())
            .with("TestAdapter.Endpoints", "tcp -h 127.0.0.1 -p 0")
            .with("TestAdapter.AdapterId", "RustFull"),
    );
    let adapter = communicator.create_object_adapter("TestAdapter").await?;
    let servant = tester_servant();
    let _ = adapter.add(servant.clone(), ident("tester"));
    let _ = adapter.add_facet(servant, ident("tester"), "extra");
    adapter.activate_and_register().await?;
    registry.add_object("tester@RustFull", TESTER_ID)?;
    let locator = registry.locator_arg();
    let enc = format!("--Ice.Default.EncodingVersion={encoding}");
    let limit = Duration::from_secs(60);
    let proxy = "tester@RustFull";
    let (ok, out) = run_python("client.py", &[proxy, &locator, &enc], limit).await?;
    expect_all_checks(ok, &out, &format!("python client, {proxy}, {encoding}"))?;
    let (ok, out) = run_cpp_client(&[proxy, &locator, &enc], limit).await?;
    expect_all_checks(ok, &out, &format!("C++ client, {proxy}, {encoding}"))?;
    let proxy = "tester";
    let (ok, out) = run_python("client.py", &[proxy, &locator, &enc], limit).await?;
    expect_well_known_checks(ok, &out, &format!("python client, {proxy}, {encoding}"))?;
    let (ok, out) = run_cpp_client(&[proxy, &locator, &enc], limit).await?;
    expect_well_known_checks(ok, &out, &format!("C++ client, {proxy}, {encoding}"))?;
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_clients_pass_every_check_through_icegrid_encoding_1_1() -> Result<()> {
    full_client_checks_through_icegrid("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_clients_pass_every_check_through_icegrid_encoding_1_0() -> Result<()> {
    full_client_checks_through_icegrid("1.0").await
}

/// A Rust client reaches the ZeroC C++ server (`tests/interop/cpp`)
/// registered with IceGrid, by adapter id and by well-known name.
async fn rust_client_reaches_cpp_server(encoding: &str) -> Result<()> {
    let registry = tokio::task::spawn_blocking(Registry::start).await??;
    let config = write_config("TestAdapter.AdapterId=CppA\n")?;
    let config_arg = format!("--Ice.Config={}", config.display());
    let enc = format!("--Ice.Default.EncodingVersion={encoding}");
    let (_server, port) =
        runtime_support::start_cpp_server(&[&registry.locator_arg(), &config_arg, &enc]).await?;
    let _ = std::fs::remove_file(&config);
    let held = registry.adapter_proxies("CppA")?;
    ensure!(
        held.iter().any(|p| p.contains(&format!("-p {port}"))),
        "registry holds {held:?}, not port {port}"
    );
    registry.add_object("tester@CppA", TESTER_ID)?;
    let communicator = Communicator::new(
        Properties::new()
            .with("Ice.Default.Locator", &registry.locator())
            .with("Ice.Default.EncodingVersion", encoding),
    );
    for text in ["tester@CppA", "tester"] {
        let prx = communicator
            .string_to_proxy(text)?
            .ok_or_else(|| anyhow!("null proxy"))?;
        ensure!(echo(&prx, text).await? == text);
        ensure!(prx.checked_cast(TESTER_ID).await?.is_some());
    }
    let prx = communicator
        .string_to_proxy("tester")?
        .ok_or_else(|| anyhow!("null proxy"))?;
    let recorded = take_recorded(&prx).await?;
    ensure!(
        recorded == vec![format!("enc={encoding}")],
        "C++ server saw {recorded:?}"
    );
    communicator.destroy().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_reaches_cpp_server_through_icegrid_encoding_1_1() -> Result<()> {
    rust_client_reaches_cpp_server("1.1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_reaches_cpp_server_through_icegrid_encoding_1_0() -> Result<()> {
    rust_client_reaches_cpp_server("1.0").await
}
