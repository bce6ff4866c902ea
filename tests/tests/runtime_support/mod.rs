//! Shared pieces of the runtime interop tests: the Rust servant for
//! `tests/interop/Test.ice`, written against the servant trait and proxy
//! that slice2rs generates from it (through `build.rs`, into
//! [`interop_tests::generated`]), and a guard for
//! ZeroC peer processes.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{EncodingVersion, Identity};
use ice_proto::properties::Properties;
use ice_proto::protocol::{Context, OperationMode};
use ice_proto::proxy::Outcome;
use ice_proto::typed_proxy::TypedProxy;
use ice_proto::RuntimeError;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use interop_tests::generated::interop::test::{
    Boom, Tester, TesterAddResult, TesterFailError, TesterPrx, TesterServant,
};

/// The Slice type id of `Test::Tester`.
pub const TESTER_ID: &str = TesterPrx::ICE_ID;

/// The Rust implementation of `Test::Tester`. Records messages and the
/// encodings of the requests it dispatched.
#[derive(Default)]
pub struct TesterImpl {
    /// When not empty, `echo(s)` answers `<name>:<s>` so that a test can
    /// tell which of several servers answered.
    name: String,
    recorded: Mutex<Vec<String>>,
    encodings: Mutex<BTreeSet<String>>,
    /// Set by `shutdown`.
    pub shutdown: tokio::sync::Notify,
}

impl TesterImpl {
    /// A servant whose `echo` answers with `name:` in front.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// The encodings of the requests dispatched so far, sorted.
    pub fn encodings(&self) -> Vec<String> {
        self.encodings
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn seen(&self, current: &Current) {
        if let Ok(mut e) = self.encodings.lock() {
            e.insert(current.encoding.to_string());
        }
    }
}

impl Tester for TesterImpl {
    async fn echo(&self, s: String, current: &Current) -> Result<String, DispatchError> {
        self.seen(current);
        if self.name.is_empty() {
            Ok(s)
        } else {
            Ok(format!("{}:{s}", self.name))
        }
    }

    async fn add(
        &self,
        a: i32,
        b: i32,
        current: &Current,
    ) -> Result<TesterAddResult, DispatchError> {
        self.seen(current);
        Ok(TesterAddResult {
            return_value: a.wrapping_add(b),
            product: a.wrapping_mul(b),
        })
    }

    async fn record(&self, msg: String, current: &Current) -> Result<(), DispatchError> {
        self.seen(current);
        if let Ok(mut r) = self.recorded.lock() {
            r.push(msg);
        }
        Ok(())
    }

    async fn take_recorded(&self, current: &Current) -> Result<Vec<String>, DispatchError> {
        self.seen(current);
        let mut out: Vec<String> = self
            .recorded
            .lock()
            .map(|mut r| r.drain(..).collect())
            .unwrap_or_default();
        let encs = self.encodings();
        out.push(format!("enc={}", encs.join(",")));
        Ok(out)
    }

    async fn get_context(&self, key: String, current: &Current) -> Result<String, DispatchError> {
        self.seen(current);
        Ok(current
            .context
            .get(&key)
            .cloned()
            .unwrap_or_else(|| "<none>".to_owned()))
    }

    async fn fail(
        &self,
        reason: String,
        code: i32,
        current: &Current,
    ) -> Result<(), DispatchError> {
        self.seen(current);
        Err(current.user_exception(&Boom { reason, code }))
    }

    // `crash` panics on purpose: the runtime must answer UnknownException.
    #[allow(clippy::panic)]
    async fn crash(&self, _current: &Current) -> Result<(), DispatchError> {
        panic!("crash requested")
    }

    async fn call_back(&self, name: String, current: &Current) -> Result<String, DispatchError> {
        self.seen(current);
        current
            .callback_proxy(ident(&name))
            .ice_id()
            .await
            .map_err(|e| DispatchError::UnknownException(e.to_string()))
    }

    async fn shutdown(&self, _current: &Current) -> Result<(), DispatchError> {
        self.shutdown.notify_waiters();
        Ok(())
    }
}

/// A fresh generated dispatcher for [`TesterImpl`], ready for an adapter.
pub fn tester_servant() -> Arc<TesterServant<TesterImpl>> {
    TesterServant::new(TesterImpl::default())
}

/// A `Test::Tester` proxy for `proxy`, without asking the object.
pub fn tester_prx(proxy: ice_proto::proxy::ObjectPrx) -> TesterPrx {
    TesterPrx::unchecked_cast(proxy)
}

/// The directory holding `Test.ice` and the Python peers.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The interpreter that has ZeroC's Python Ice.
pub const PYTHON: &str = "/usr/bin/python3";

/// A peer process, killed when dropped.
pub struct Peer {
    pub child: Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `script` with `args` and reads the port it prints on its first
/// stdout line.
pub async fn start_python_server(script: &str, args: &[&str]) -> Result<(Peer, u16)> {
    start_server(
        Command::new(PYTHON)
            .arg(interop_dir().join(script))
            .args(args),
        script,
    )
    .await
}

/// Starts a server process and reads the port it prints first.
async fn start_server(cmd: &mut Command, script: &str) -> Result<(Peer, u16)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {script} (are ZeroC Ice's packages installed?)"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from {script}"))?;
    let peer = Peer { child };
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("peer did not print its port in time")??
        .ok_or_else(|| anyhow!("{script} exited before printing its port"))?;
    let port = line.trim().parse().context("port line")?;
    Ok((peer, port))
}

/// Runs `script` with `args` to completion (bounded by `limit`), returning
/// its exit success and stdout.
pub async fn run_python(script: &str, args: &[&str], limit: Duration) -> Result<(bool, String)> {
    run_to_end(
        Command::new(PYTHON)
            .arg(interop_dir().join(script))
            .args(args),
        script,
        limit,
    )
    .await
}

/// Runs a client process to completion, bounded by `limit`.
async fn run_to_end(cmd: &mut Command, script: &str, limit: Duration) -> Result<(bool, String)> {
    let (ok, stdout, _) = run_to_end_with_stderr(cmd, script, limit).await?;
    Ok((ok, stdout))
}

/// Runs `script` like [`run_python`] and also returns its stderr.
pub async fn run_python_with_stderr(
    script: &str,
    args: &[&str],
    limit: Duration,
) -> Result<(bool, String, String)> {
    run_to_end_with_stderr(
        Command::new(PYTHON)
            .arg(interop_dir().join(script))
            .args(args),
        script,
        limit,
    )
    .await
}

async fn run_to_end_with_stderr(
    cmd: &mut Command,
    script: &str,
    limit: Duration,
) -> Result<(bool, String, String)> {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {script} (are ZeroC Ice's packages installed?)"))?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .context("peer timed out")??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        eprintln!("--- {script} stderr ---\n{stderr}");
    }
    Ok((output.status.success(), stdout, stderr))
}

fn ident(name: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        category: String::new(),
    }
}

/// Starts a Rust server with the Tester servant (and its `extra` facet) on
/// a free loopback port.
pub async fn rust_server() -> Result<(Communicator, u16)> {
    rust_server_with(Properties::new(), "tcp -h 127.0.0.1 -p 0").await
}

/// [`rust_server`] configured by `properties`, listening on `endpoints`
/// (port 0: a free port, which is returned).
pub async fn rust_server_with(
    properties: Properties,
    endpoints: &str,
) -> Result<(Communicator, u16)> {
    use ice_proto::encoding::Endpoint;
    let communicator = Communicator::new(properties);
    let adapter = communicator
        .create_object_adapter_with_endpoints("TestAdapter", endpoints)
        .await?;
    let servant = tester_servant();
    let _ = adapter.add(servant.clone(), ident("tester"));
    let _ = adapter.add_facet(servant, ident("tester"), "extra");
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip) | Endpoint::Ssl(ip)) => u16::try_from(ip.port)?,
        Some(Endpoint::Ws(ws) | Endpoint::Wss(ws)) => u16::try_from(ws.ip.port)?,
        other => bail!("unexpected endpoint {other:?}"),
    };
    Ok((communicator, port))
}

/// Properties made of `(key, value)` pairs.
pub fn properties_of(pairs: &[(String, String)]) -> Properties {
    pairs
        .iter()
        .fold(Properties::new(), |p, (k, v)| p.with(k, v))
}

/// The checks every ZeroC test client prints `ok NAME` for.
pub const CLIENT_CHECKS: &[&str] = &[
    "checkedCast",
    "ice_ping",
    "ice_isA",
    "ice_id",
    "ice_ids",
    "echo",
    "echo_long",
    "add_out_param",
    "user_exception",
    "unknown_exception",
    "per_call_context",
    "per_proxy_context",
    "no_context",
    "oneway",
    "batch_oneway",
    "object_not_exist",
    "facet_not_exist",
    "facet_exists",
    "operation_not_exist",
    "bidir_callback",
    "server_saw_only_our_encoding",
];

/// Checks a ZeroC client's output: every check passed.
pub fn expect_all_checks(ok: bool, stdout: &str, who: &str) -> Result<()> {
    for check in CLIENT_CHECKS {
        ensure!(
            stdout.lines().any(|l| l == format!("ok {check}")),
            "{who}: check `{check}` did not pass:\n{stdout}"
        );
    }
    ensure!(ok, "{who} reported failures:\n{stdout}");
    Ok(())
}

/// Runs every check of a Rust client against a ZeroC server of
/// `Test::Tester` listening on `port`, with parameters in `encoding`, then
/// shuts the server down.
pub async fn rust_client_checks(port: u16, encoding: EncodingVersion) -> Result<()> {
    rust_client_checks_with(port, encoding, "").await
}

/// [`rust_client_checks`] with extra endpoint options (`-z` compresses).
pub async fn rust_client_checks_with(
    port: u16,
    encoding: EncodingVersion,
    endpoint_options: &str,
) -> Result<()> {
    rust_client_checks_at(
        Properties::new(),
        &format!("tcp -h 127.0.0.1 -p {port} {endpoint_options}"),
        encoding,
    )
    .await
}

/// [`rust_client_checks`] from a communicator configured by `properties`
/// (IceSSL's, for example) against the server at `endpoint` (any
/// transport).
pub async fn rust_client_checks_at(
    properties: Properties,
    endpoint: &str,
    encoding: EncodingVersion,
) -> Result<()> {
    // The communicator keeps the default 1.1; the proxy picks the encoding.
    let communicator = Communicator::new(properties);
    let base = communicator
        .string_to_proxy(&format!("tester:{endpoint}"))?
        .ok_or_else(|| anyhow::anyhow!("null proxy"))?
        .ice_encoding_version(encoding);

    // Built-in operations and checkedCast.
    base.ice_ping().await?;
    let prx = TesterPrx::checked_cast(&base)
        .await?
        .ok_or_else(|| anyhow::anyhow!("checked_cast failed"))?;
    ensure!(!base.ice_is_a("::Test::Other").await?);
    ensure!(base.ice_id().await? == TESTER_ID);
    ensure!(base.ice_ids().await? == vec!["::Ice::Object".to_owned(), TESTER_ID.to_owned()]);

    // Twoway with in, out and return values; the reply uses our encoding.
    ensure!(prx.echo("héllo wörld").await? == "héllo wörld");
    let long = "x".repeat(100_000);
    ensure!(prx.echo(&long).await? == long);
    ensure!(
        prx.add(3, 4).await?
            == TesterAddResult {
                return_value: 7,
                product: 12
            }
    );
    let raw = base
        .ice_invoke(
            "echo",
            OperationMode::Normal,
            base.params(|out| out.write_string("e")),
            None,
        )
        .await?;
    match raw {
        Outcome::Ok(e) => ensure!(e.encoding == encoding, "reply in {}", e.encoding),
        other => bail!("unexpected {other:?}"),
    }

    // User exception and unknown exception.
    match prx.fail("bad thing", 42).await {
        Err(TesterFailError::Boom(b)) => ensure!(
            b == Boom {
                reason: "bad thing".into(),
                code: 42
            }
        ),
        other => bail!("expected Boom, got {other:?}"),
    }
    ensure!(matches!(
        prx.crash().await,
        Err(RuntimeError::UnknownException(_))
    ));

    // Contexts: per call, per proxy, none.
    let mut ctx = Context::new();
    ctx.insert("k".into(), "v1".into());
    let k = "k".to_owned();
    ensure!(prx.ice_context(ctx).get_context(&k).await? == "v1");
    let mut ctx2 = Context::new();
    ctx2.insert("k".into(), "v2".into());
    let with_ctx = tester_prx(prx.ice_object().clone().ice_context(ctx2));
    ensure!(with_ctx.get_context(&k).await? == "v2");
    ensure!(prx.get_context(&k).await? == "<none>");

    // Oneway, then batch oneway with flush.
    let _ = prx.take_recorded().await?;
    let oneway = tester_prx(prx.ice_object().clone().ice_oneway());
    oneway.record("o1").await?;
    oneway.record("o2").await?;
    let got = prx.take_recorded().await?;
    ensure!(got[..got.len() - 1] == ["o1", "o2"], "{got:?}");
    let batch = tester_prx(prx.ice_object().clone().ice_batch_oneway());
    for m in ["b1", "b2", "b3"] {
        batch.record(m).await?;
    }
    let got = prx.take_recorded().await?;
    ensure!(got.len() == 1, "batch sent before flush: {got:?}");
    batch.ice_object().ice_flush_batch_requests().await?;
    let got = prx.take_recorded().await?;
    ensure!(got[..got.len() - 1] == ["b1", "b2", "b3"], "{got:?}");
    ensure!(
        got.last() == Some(&format!("enc={encoding}")),
        "server saw {got:?}"
    );

    // Missing object, facet, operation.
    let missing = base.clone().ice_identity(ident("missing"));
    match missing.ice_ping().await {
        Err(RuntimeError::ObjectNotExist(f)) => ensure!(f.identity.name == "missing"),
        other => bail!("expected ObjectNotExist, got {other:?}"),
    }
    let no_facet = base.clone().ice_facet("nope");
    ensure!(matches!(
        no_facet.ice_ping().await,
        Err(RuntimeError::FacetNotExist(_))
    ));
    ensure!(TesterPrx::checked_cast(&no_facet).await?.is_none());
    let extra = tester_prx(base.clone().ice_facet("extra"));
    ensure!(extra.echo("f").await? == "f");
    match base
        .ice_invoke(
            "noSuchOperation",
            OperationMode::Normal,
            base.params(|_| {}),
            None,
        )
        .await
    {
        Err(RuntimeError::OperationNotExist(f)) => ensure!(f.operation == "noSuchOperation"),
        other => bail!("expected OperationNotExist, got {other:?}"),
    }

    // A bidirectional callback: the server calls `cb` over our connection.
    let callbacks = communicator
        .create_object_adapter_with_endpoints("", "")
        .await?;
    let _ = callbacks.add(tester_servant(), ident("cb"));
    callbacks.activate();
    prx.ice_object()
        .ice_get_connection()
        .await?
        .set_handler(Some(callbacks.handler()));
    ensure!(prx.call_back("cb").await? == TESTER_ID);

    prx.shutdown().await?;
    communicator.destroy().await;
    Ok(())
}

/// The directory `tests/interop/cpp` programs are built into: under the
/// cargo target directory, keyed by a hash of their sources.
fn cpp_build_dir() -> Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in ["Test.ice", "cpp/client.cpp", "cpp/server.cpp"] {
        std::fs::read(interop_dir().join(file))
            .with_context(|| format!("reading {file}"))?
            .hash(&mut hasher);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    Ok(target
        .join("runtime-interop-cpp")
        .join(format!("{:016x}", hasher.finish())))
}

fn run_tool(cmd: &mut std::process::Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Builds the C++ client and server once (slice2cpp, g++ with the C++11
/// mapping) and returns the directory holding `client` and `server`.
pub fn build_cpp_peers() -> Result<PathBuf> {
    static BUILT: std::sync::OnceLock<std::result::Result<PathBuf, String>> =
        std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_cpp_peers_now().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn build_cpp_peers_now() -> Result<PathBuf> {
    let dir = cpp_build_dir()?;
    if dir.join("client").exists() && dir.join("server").exists() {
        return Ok(dir);
    }
    // Build beside the final directory, then rename: a concurrent test
    // process never sees a half-built directory.
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    run_tool(
        std::process::Command::new("slice2cpp")
            .arg("--output-dir")
            .arg(&tmp)
            .arg(interop_dir().join("Test.ice")),
    )?;
    let gxx = |args: &[&std::ffi::OsStr]| -> Result<()> {
        run_tool(
            std::process::Command::new("g++")
                .args(["-std=c++17", "-DICE_CPP11_MAPPING", "-I"])
                .arg(&tmp)
                .args(args)
                .current_dir(&tmp),
        )
    };
    gxx(&[
        "-c".as_ref(),
        "Test.cpp".as_ref(),
        "-o".as_ref(),
        "Test.o".as_ref(),
    ])?;
    for program in ["client", "server"] {
        let source = interop_dir().join("cpp").join(format!("{program}.cpp"));
        gxx(&[
            source.as_os_str(),
            "Test.o".as_ref(),
            "-o".as_ref(),
            program.as_ref(),
            "-lIceSSL++11".as_ref(),
            "-lIce++11".as_ref(),
            "-lpthread".as_ref(),
        ])?;
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process won the race; its build is as good as ours.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}

/// Starts the C++ server with `args`; returns it and its port.
pub async fn start_cpp_server(args: &[&str]) -> Result<(Peer, u16)> {
    let dir = tokio::task::spawn_blocking(build_cpp_peers).await??;
    start_server(Command::new(dir.join("server")).args(args), "C++ server").await
}

/// Runs `script` with `args` (owned strings) like [`run_python`].
pub async fn run_python_args(
    script: &str,
    args: &[String],
    limit: Duration,
) -> Result<(bool, String)> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_python(script, &args, limit).await
}

/// Runs the C++ client with `args` (bounded by `limit`).
pub async fn run_cpp_client(args: &[&str], limit: Duration) -> Result<(bool, String)> {
    let dir = tokio::task::spawn_blocking(build_cpp_peers).await??;
    run_to_end(
        Command::new(dir.join("client")).args(args),
        "C++ client",
        limit,
    )
    .await
}
