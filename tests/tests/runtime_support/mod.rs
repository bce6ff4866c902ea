//! Shared pieces of the runtime interop tests: hand-written Rust servant
//! and proxy code for `tests/interop/Test.ice` (until slice2rs generates
//! it), and a guard for ZeroC peer processes.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::any::{Any, TypeId};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use ice_proto::adapter::{Current, DispatchError, DispatchResult, Servant};
use ice_proto::connection::BoxFuture;
use ice_proto::encoding::{InputStream, OutputStream, Registry, UserException, UserExceptionType};
use ice_proto::protocol::{Context, Encapsulation, OperationMode};
use ice_proto::proxy::{read_encapsulation, ObjectPrx, Outcome};
use ice_proto::RuntimeError;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The Slice type id of `Test::Tester`.
pub const TESTER_ID: &str = "::Test::Tester";

/// `exception Test::Boom { string reason; int code; }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boom {
    pub reason: String,
    pub code: i32,
}

impl UserException for Boom {
    fn ice_id(&self) -> &str {
        Self::TYPE_ID
    }
    fn write_slices(&self, out: &mut OutputStream) {
        out.start_slice(Self::TYPE_ID, None, true);
        out.write_string(&self.reason);
        out.write_i32(self.code);
        out.end_slice();
    }
    fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
        (target == TypeId::of::<Self>()).then_some(self as &dyn Any)
    }
}

impl UserExceptionType for Boom {
    const TYPE_ID: &'static str = "::Test::Boom";
    fn read_slices(input: &mut InputStream) -> ice_proto::encoding::Result<Self> {
        input.start_slice()?;
        let reason = input.read_string()?;
        let code = input.read_i32()?;
        input.end_slice()?;
        Ok(Self { reason, code })
    }
}

/// The Rust servant for `Test::Tester`. Records messages and the
/// encodings of the requests it dispatched.
#[derive(Default)]
pub struct TesterServant {
    recorded: Mutex<Vec<String>>,
    encodings: Mutex<std::collections::BTreeSet<String>>,
    /// Set by `shutdown`.
    pub shutdown: tokio::sync::Notify,
}

impl TesterServant {
    fn seen(&self, current: &Current) {
        if let Ok(mut e) = self.encodings.lock() {
            e.insert(current.encoding.to_string());
        }
    }
}

impl Servant for TesterServant {
    fn type_ids(&self) -> &[&str] {
        &[TESTER_ID]
    }

    // `crash` panics on purpose: the runtime must answer UnknownException.
    #[allow(clippy::panic)]
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            let mut input = Current::params_stream(&params)?;
            match current.operation.as_str() {
                "echo" => {
                    self.seen(current);
                    let s = input.read_string()?;
                    Ok(current.results(|out| out.write_string(&s)))
                }
                "add" => {
                    self.seen(current);
                    let a = input.read_i32()?;
                    let b = input.read_i32()?;
                    // Out-parameters first, then the return value.
                    Ok(current.results(|out| {
                        out.write_i32(a.wrapping_mul(b));
                        out.write_i32(a.wrapping_add(b));
                    }))
                }
                "record" => {
                    self.seen(current);
                    let msg = input.read_string()?;
                    if let Ok(mut r) = self.recorded.lock() {
                        r.push(msg);
                    }
                    Ok(current.results(|_| {}))
                }
                "takeRecorded" => {
                    self.seen(current);
                    let mut out_list: Vec<String> = self
                        .recorded
                        .lock()
                        .map(|mut r| r.drain(..).collect())
                        .unwrap_or_default();
                    let encs: Vec<String> = self
                        .encodings
                        .lock()
                        .map(|e| e.iter().cloned().collect())
                        .unwrap_or_default();
                    out_list.push(format!("enc={}", encs.join(",")));
                    Ok(current.results(|out| out.write(&out_list)))
                }
                "getContext" => {
                    self.seen(current);
                    let key = input.read_string()?;
                    let value = current
                        .context
                        .get(&key)
                        .cloned()
                        .unwrap_or_else(|| "<none>".to_owned());
                    Ok(current.results(|out| out.write_string(&value)))
                }
                "fail" => {
                    self.seen(current);
                    let reason = input.read_string()?;
                    let code = input.read_i32()?;
                    Err(current.user_exception(&Boom { reason, code }))
                }
                "crash" => panic!("crash requested"),
                "shutdown" => {
                    self.shutdown.notify_waiters();
                    Ok(current.results(|_| {}))
                }
                _ => Err(DispatchError::OperationNotExist),
            }
        })
    }
}

/// Either a `Boom` or a runtime failure.
#[derive(Debug)]
pub enum FailError {
    Boom(Boom),
    Runtime(RuntimeError),
}

/// A hand-written typed proxy for `Test::Tester`.
#[derive(Clone, Debug)]
pub struct TesterPrx(pub ObjectPrx);

fn registry() -> Arc<Registry> {
    let mut r = Registry::new();
    r.add_exception::<Boom>();
    Arc::new(r)
}

impl TesterPrx {
    async fn call(
        &self,
        op: &str,
        mode: OperationMode,
        ctx: Option<&Context>,
        write: impl FnOnce(&mut OutputStream),
    ) -> Result<Outcome> {
        let params = self.0.params(write);
        Ok(self.0.ice_invoke(op, mode, params, ctx).await?)
    }

    fn ok(outcome: Outcome) -> Result<InputStream> {
        match outcome {
            Outcome::Ok(e) => Ok(read_encapsulation(&e)?),
            Outcome::UserException(_) => bail!("unexpected user exception"),
        }
    }

    pub async fn echo(&self, s: &str) -> Result<String> {
        let o = self
            .call("echo", OperationMode::Normal, None, |out| {
                out.write_string(s)
            })
            .await?;
        Ok(Self::ok(o)?.read_string()?)
    }

    /// Returns (sum, product).
    pub async fn add(&self, a: i32, b: i32) -> Result<(i32, i32)> {
        let o = self
            .call("add", OperationMode::Normal, None, |out| {
                out.write_i32(a);
                out.write_i32(b);
            })
            .await?;
        let mut input = Self::ok(o)?;
        let product = input.read_i32()?;
        let sum = input.read_i32()?;
        Ok((sum, product))
    }

    pub async fn record(&self, msg: &str) -> Result<()> {
        self.call("record", OperationMode::Normal, None, |out| {
            out.write_string(msg)
        })
        .await?;
        Ok(())
    }

    pub async fn take_recorded(&self) -> Result<Vec<String>> {
        let o = self
            .call("takeRecorded", OperationMode::Normal, None, |_| {})
            .await?;
        Ok(Self::ok(o)?.read::<Vec<String>>()?)
    }

    pub async fn get_context(&self, key: &str, ctx: Option<&Context>) -> Result<String> {
        let o = self
            .call("getContext", OperationMode::Normal, ctx, |out| {
                out.write_string(key)
            })
            .await?;
        Ok(Self::ok(o)?.read_string()?)
    }

    pub async fn fail(&self, reason: &str, code: i32) -> std::result::Result<(), FailError> {
        let params = self.0.params(|out| {
            out.write_string(reason);
            out.write_i32(code);
        });
        match self
            .0
            .ice_invoke("fail", OperationMode::Normal, params, None)
            .await
        {
            Ok(Outcome::Ok(_)) => Ok(()),
            Ok(Outcome::UserException(e)) => {
                let mut input = read_encapsulation(&e)
                    .map_err(|e| FailError::Runtime(e.into()))?
                    .with_registry(registry());
                let ex = input
                    .read_exception()
                    .map_err(|e| FailError::Runtime(e.into()))?;
                match ex.downcast_ref::<Boom>() {
                    Some(b) => Err(FailError::Boom(b.clone())),
                    None => Err(FailError::Runtime(RuntimeError::UnknownUserException(
                        ex.ice_id().to_owned(),
                    ))),
                }
            }
            Err(e) => Err(FailError::Runtime(e)),
        }
    }

    pub async fn crash(&self) -> Result<(), RuntimeError> {
        let params = self.0.params(|_| {});
        self.0
            .ice_invoke("crash", OperationMode::Normal, params, None)
            .await
            .map(drop)
    }

    pub async fn shutdown(&self) -> Result<()> {
        self.call("shutdown", OperationMode::Normal, None, |_| {})
            .await?;
        Ok(())
    }
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
    let mut child = Command::new(PYTHON)
        .arg(interop_dir().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {PYTHON} {script} (is python3-zeroc-ice installed?)"))?;
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
    let child = Command::new(PYTHON)
        .arg(interop_dir().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {PYTHON} {script} (is python3-zeroc-ice installed?)"))?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .context("peer timed out")??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        eprintln!(
            "--- {script} stderr ---\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((output.status.success(), stdout))
}
