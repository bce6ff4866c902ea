//! What the replicator's integration tests share: the workspace's programs
//! (`scf-replicator`, `channel-service-x`, `replica-ctl`) started as peers
//! or run with a bound, the ChannelServiceX client and `replica-ctl` as the
//! tests call them, scratch directories, and the in-process Ice helpers of
//! the tests that run the generated glue. The OCF agent lives in [`ocf`],
//! the IceGrid tools in [`grid`], the failover client in [`client`].
//!
//! Process handling itself (spawning, READY lines, bounded runs) is
//! `interop_tests::peers`; this module only says how these tests call it.

// Each test target uses a part of these helpers.
#![allow(dead_code)]

pub mod client;
pub mod grid;
pub mod ocf;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use ice_proto::properties::Properties;
use interop_tests::golden::Encoding;
use interop_tests::peers::{channel_client, encoding_args, lines_before_end, Peer, ScriptOutput};

/// `scf-replicator`, as built for this test run.
pub const REPLICATOR: &str = env!("CARGO_BIN_EXE_scf-replicator");
/// `channel-service-x`, as built for this test run.
pub const COMPONENT: &str = env!("CARGO_BIN_EXE_channel-service-x");
/// `replica-ctl`, as built for this test run.
pub const CTL: &str = env!("CARGO_BIN_EXE_replica-ctl");

/// The endpoints argument that puts `scf-replicator` on a free loopback port.
pub const LOOPBACK_REPLICATOR: &str = "--ChannelServiceXReplicator.Endpoints=tcp -h 127.0.0.1 -p 0";

/// How long one `replica-ctl` call may run (it gives up after its own
/// `Ctl.Timeout`, 3 s by default).
const CTL_LIMIT: Duration = Duration::from_secs(20);

/// The first of `candidates` that exists, else a lookup of `name` in PATH.
pub fn find_program(name: &str, candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// Runs `cmd` (stdin closed, output collected) and kills it after `limit`.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> ScriptOutput {
    interop_tests::peers::run_bounded(cmd, limit).unwrap_or_else(|e| panic!("{e}"))
}

/// A free TCP port on loopback (free when asked).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free TCP port on loopback below the ephemeral range, for an address
/// bound only later (a standby replicator binds its client address on
/// promotion): no outgoing connection takes it meanwhile, and a client
/// retrying it cannot connect to itself.
pub fn free_service_port() -> u16 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        ^ std::process::id().rotate_left(16);
    (0..2000u32)
        .map(|i| 20_000 + ((seed.wrapping_add(i.wrapping_mul(7919))) % 12_000) as u16)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap()
}

/// `scf-replicator` with `args`, once it prints READY.
pub fn spawn_replicator(args: &[String]) -> Peer {
    Peer::spawn("rust-replicator", Path::new(REPLICATOR), args).unwrap()
}

/// `channel-service-x` named `name` (in errors), replicating through
/// `replicator` (a proxy or a well-known name), with `extra` arguments.
pub fn spawn_component(name: &str, replicator: &str, extra: &[String]) -> Peer {
    let mut args = vec![format!(
        "--ChannelServiceX.StateReplicatorName={replicator}"
    )];
    args.extend_from_slice(extra);
    Peer::spawn(name, Path::new(COMPONENT), &args).unwrap()
}

/// `replica-ctl COMMAND PROXY EXTRA...`: its exit code, logged with what it
/// printed on stderr.
pub fn ctl(command: &str, proxy: &str, extra: &[String]) -> Option<i32> {
    let out = run_bounded(
        Command::new(CTL).args([command, proxy]).args(extra),
        CTL_LIMIT,
    );
    eprintln!(
        "replica-ctl {command} {proxy}: {:?} {}",
        out.code,
        out.stderr.trim()
    );
    out.code
}

/// `channel_client.py SERVICE dump EXTRA...`: the ITEM lines before END.
pub fn client_dump(service: &str, extra: &[String]) -> Vec<String> {
    let out = channel_client(service, &["dump"], extra).unwrap();
    assert_eq!(out.code, Some(0), "dump failed: {}", out.stderr);
    lines_before_end(&out.stdout)
}

/// Kills (SIGKILL) process `pid` if it still runs one of `programs` (its
/// command line names one; a recycled pid is left alone).
pub fn kill_program(pid: u32, programs: &[&str]) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    if !programs.iter().any(|p| cmdline.contains(p)) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// A scratch directory under the system's temporary directory, removed on
/// drop. World-readable, so `ocf-tester`'s `su nobody` check can run.
#[derive(Debug)]
pub struct Scratch {
    /// Its path.
    pub path: PathBuf,
}

impl Scratch {
    /// A new empty directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Scratch { path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// An identity with no category.
pub fn id(name: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        category: String::new(),
    }
}

/// A communicator speaking encoding `enc` by default.
pub fn communicator(enc: Encoding) -> Communicator {
    let mut props = Properties::new();
    for a in encoding_args(enc) {
        if let Some((k, v)) = a.trim_start_matches("--").split_once('=') {
            props.set_property(k, v);
        }
    }
    Communicator::new(props)
}

/// Waits until `f` holds (pushes are asynchronous), up to 10 s.
pub async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
