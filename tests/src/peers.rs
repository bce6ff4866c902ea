//! Real ZeroC Ice peers for the state-replication tests: the C++ programs of
//! `tests/peers/` (`scf-cpp-replicator`, `scf-cpp-component`,
//! `scf-cpp-listener`, built with `slice2cpp` from the project's own `slice/`
//! files) and the Python scripts beside them (`replica_ctl.py`,
//! `channel_client.py`, run with `/usr/bin/python3` and ZeroC Python Ice).
//!
//! This module builds, spawns and talks to those programs over their
//! stdin/stdout line protocols (documented at the top of each source file);
//! it knows nothing about Ice itself. Every C++ peer prints one
//! tab-separated line `READY\t<proxy>[\t<proxy>]` once it serves, which
//! [`Peer::spawn`] waits for.
//!
//! The C++ programs are built once per source version: [`try_bins`] hashes
//! `tests/peers/` sources and the Slice files they use, builds into
//! `<target dir>/peers/<hash>/` (the target dir is `$CARGO_TARGET_DIR`, else
//! `<workspace>/target`), and reuses that build afterwards. Parallel tests
//! (threads of one test binary, or several processes) wait for one build
//! instead of racing.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::build_cache::{self, tail, CacheError};
use crate::golden::Encoding;
use crate::workspace_root;

/// The interpreter ZeroC Python Ice is installed for (Debian's, not PATH's).
pub const PYTHON: &str = "/usr/bin/python3";

/// How long [`Peer::spawn`] waits for a `READY` line by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Exit code of `replica_ctl.py status` for an active member.
pub const CTL_ACTIVE: i32 = 0;
/// Exit code of `replica_ctl.py` for usage or other errors.
pub const CTL_ERROR: i32 = 1;
/// Exit code of `replica_ctl.py` when the member cannot be reached in time.
pub const CTL_UNREACHABLE: i32 = 2;
/// Exit code of `replica_ctl.py status` for a member on standby.
pub const CTL_STANDBY: i32 = 3;
/// Exit code of `channel_client.py` when the member answered `NotActive`.
pub const CLIENT_NOT_ACTIVE: i32 = 4;
/// Exit code of `channel_client.py` when the member answered `ChannelNotFound`.
pub const CLIENT_NOT_FOUND: i32 = 5;

/// What went wrong building, starting or talking to a peer.
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerError {
    /// A file or process could not be read, written or started.
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// `tests/peers/build.sh` failed.
    Build {
        /// Exit status, when there was one.
        status: Option<i32>,
        /// The tail of what the build printed on stderr.
        stderr: String,
    },
    /// Another process held the build lock for too long.
    LockTimeout {
        /// The lock directory.
        path: PathBuf,
    },
    /// A peer did not print what was awaited in time.
    Timeout {
        /// The peer.
        peer: String,
        /// What was awaited.
        waiting_for: String,
        /// The last lines it printed on stderr.
        stderr: String,
    },
    /// A peer closed its stdout (exited) while a line was awaited.
    Exited {
        /// The peer.
        peer: String,
        /// What was awaited.
        waiting_for: String,
        /// The last lines it printed on stderr.
        stderr: String,
    },
    /// A peer printed something that does not follow its protocol.
    Protocol {
        /// The peer.
        peer: String,
        /// The offending line.
        line: String,
    },
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Io { what, source } => write!(f, "{what}: {source}"),
            PeerError::Build { status, stderr } => write!(
                f,
                "building the C++ peers (tests/peers/build.sh) failed (exit {status:?}); they need \
                 slice2cpp (zeroc-ice-compilers), g++ and the Ice headers/libraries \
                 (libzeroc-ice-dev): run scripts/install-ice.sh\n{stderr}"
            ),
            PeerError::LockTimeout { path } => write!(
                f,
                "timed out waiting for another build of the C++ peers (lock {})",
                path.display()
            ),
            PeerError::Timeout {
                peer,
                waiting_for,
                stderr,
            } => write!(
                f,
                "{peer}: timed out waiting for {waiting_for}; its stderr:\n{stderr}"
            ),
            PeerError::Exited {
                peer,
                waiting_for,
                stderr,
            } => write!(
                f,
                "{peer}: exited while waiting for {waiting_for}; its stderr:\n{stderr}"
            ),
            PeerError::Protocol { peer, line } => write!(f, "{peer}: unexpected line {line:?}"),
        }
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PeerError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A `Result` with a [`PeerError`].
pub type Result<T> = std::result::Result<T, PeerError>;

fn io_err(what: impl fmt::Display) -> impl FnOnce(io::Error) -> PeerError {
    let what = what.to_string();
    move |source| PeerError::Io { what, source }
}

/// `tests/peers/` (C++ and Python sources, `build.sh`).
pub fn peers_dir() -> PathBuf {
    workspace_root().join("tests/peers")
}

/// `slice/` (the project's Slice files).
pub fn slice_dir() -> PathBuf {
    workspace_root().join("slice")
}

/// `tests/peers/replica_ctl.py`.
pub fn replica_ctl_script() -> PathBuf {
    peers_dir().join("replica_ctl.py")
}

/// `tests/peers/channel_client.py`.
pub fn channel_client_script() -> PathBuf {
    peers_dir().join("channel_client.py")
}

/// The Ice arguments that make a peer speak `enc`: nothing for 1.1 (Ice 3.7's
/// default), `--Ice.Default.EncodingVersion=1.0` for 1.0.
pub fn encoding_args(enc: Encoding) -> Vec<String> {
    match enc {
        Encoding::V1_0 => vec!["--Ice.Default.EncodingVersion=1.0".to_string()],
        Encoding::V1_1 => Vec::new(),
    }
}

/// `args` followed by the Ice arguments of encoding `enc` (see
/// [`encoding_args`]).
pub fn with_encoding(enc: Encoding, mut args: Vec<String>) -> Vec<String> {
    args.extend(encoding_args(enc));
    args
}

/// The files the C++ peers are built from, relative to the workspace root
/// (a change to any of them rebuilds the peers).
pub const SOURCES: [&str; 9] = [
    "tests/peers/build.sh",
    "tests/peers/peer_common.h",
    "tests/peers/replicator.cpp",
    "tests/peers/component.cpp",
    "tests/peers/listener.cpp",
    "slice/AsteriskSCF/System/Component/ReplicaIf.ice",
    "slice/AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.ice",
    "slice/AsteriskSCF/ChannelServiceX/ChannelServiceXIf.ice",
    "tests/src/peers.rs",
];

fn sources_hash() -> Result<u64> {
    // This file is listed for its paths only; hashing it would rebuild the
    // peers on every edit of the helpers.
    let names = SOURCES.iter().filter(|n| !n.ends_with(".rs")).copied();
    Ok(build_cache::sources_hash(&workspace_root(), names)?)
}

/// Where cached builds live: `<target dir>/peers/`.
pub fn build_root() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("peers")
}

/// The built C++ peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bins {
    /// `scf-cpp-replicator`.
    pub replicator: PathBuf,
    /// `scf-cpp-component`.
    pub component: PathBuf,
    /// `scf-cpp-listener`.
    pub listener: PathBuf,
}

impl Bins {
    fn in_dir(dir: &Path) -> Self {
        Bins {
            replicator: dir.join("scf-cpp-replicator"),
            component: dir.join("scf-cpp-component"),
            listener: dir.join("scf-cpp-listener"),
        }
    }

    fn complete(&self) -> bool {
        self.replicator.is_file() && self.component.is_file() && self.listener.is_file()
    }
}

impl From<CacheError> for PeerError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Io { path, source } => PeerError::Io {
                what: path.display().to_string(),
                source,
            },
            CacheError::Build { status, stderr } => PeerError::Build { status, stderr },
            CacheError::LockTimeout { path } => PeerError::LockTimeout { path },
        }
    }
}

fn build_once() -> Result<Bins> {
    let dir = build_cache::build_locked(
        &build_root(),
        sources_hash()?,
        &peers_dir().join("build.sh"),
        |dir| Bins::in_dir(dir).complete(),
    )?;
    Ok(Bins::in_dir(&dir))
}

/// Builds the C++ peers (once per source version, cached under
/// [`build_root`]) and returns their paths.
pub fn try_bins() -> std::result::Result<Bins, String> {
    static BUILT: OnceLock<std::result::Result<Bins, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_once().map_err(|e| e.to_string()))
        .clone()
}

/// The C++ peers (see [`try_bins`]).
///
/// # Panics
/// When they cannot be built; the message says which tool or header is missing.
pub fn bins() -> Bins {
    match try_bins() {
        Ok(b) => b,
        // A test helper: without ZeroC Ice the interop test must fail, clearly.
        #[allow(clippy::panic)]
        Err(e) => panic!("{e}"),
    }
}

/// Splits a `READY\t<field>\t<field>...` line into its fields; `None` when
/// the line is not a READY line.
pub fn parse_ready(line: &str) -> Option<Vec<String>> {
    let mut fields = line.split('\t');
    if fields.next() != Some("READY") {
        return None;
    }
    let rest: Vec<String> = fields.map(str::to_string).collect();
    if rest.is_empty() || rest.iter().any(String::is_empty) {
        return None;
    }
    Some(rest)
}

/// Whether `line` is one of the change lines the peers print
/// (`SET <key> ...` or `REMOVED <key>`).
pub fn is_change(line: &str) -> bool {
    line.starts_with("SET ") || line.starts_with("REMOVED ")
}

/// The store a stream of change lines leads to, as the `ITEM` lines of a
/// dump (in key order).
///
/// # Errors
/// [`PeerError::Protocol`] for a line that is not a change line.
pub fn replay(lines: &[String]) -> Result<Vec<String>> {
    let mut store = BTreeMap::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("SET ") {
            let key = rest.split(' ').next().unwrap_or_default().to_string();
            store.insert(key, format!("ITEM {rest}"));
        } else if let Some(key) = line.strip_prefix("REMOVED ") {
            store.remove(key);
        } else {
            return Err(PeerError::Protocol {
                peer: "change lines".to_string(),
                line: line.clone(),
            });
        }
    }
    Ok(store.into_values().collect())
}

/// A running peer process: its stdout as a stream of lines, its stdin for
/// commands, its stderr kept for error messages. Dropping it kills the
/// process (SIGKILL) and reaps it.
pub struct Peer {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread copying stderr; done once the process's stderr closed.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    ready: Vec<String>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .field("ready", &self.ready)
            .finish()
    }
}

impl Peer {
    /// Starts `program` with `args` and waits (up to [`READY_TIMEOUT`]) for
    /// its `READY` line. `name` labels the peer in errors.
    pub fn spawn(name: &str, program: &Path, args: &[String]) -> Result<Peer> {
        Self::spawn_with_timeout(name, program, args, READY_TIMEOUT)
    }

    /// [`Peer::spawn`] with a chosen timeout.
    pub fn spawn_with_timeout(
        name: &str,
        program: &Path,
        args: &[String],
        timeout: Duration,
    ) -> Result<Peer> {
        let mut peer = Self::start(name, program, args)?;
        loop {
            let line = peer.read_line_for(timeout, "its READY line")?;
            if let Some(fields) = parse_ready(&line) {
                peer.ready = fields;
                return Ok(peer);
            }
            if line.starts_with("READY") {
                return Err(PeerError::Protocol {
                    peer: peer.name.clone(),
                    line,
                });
            }
        }
    }

    /// Starts `program` without waiting for anything (e.g. to watch it fail).
    pub fn start(name: &str, program: &Path, args: &[String]) -> Result<Peer> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err(format!("starting {}", program.display())))?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_reader = None;
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            stderr_reader = Some(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            }));
        }
        Ok(Peer {
            name: name.to_string(),
            child,
            stdin,
            lines,
            stderr,
            stderr_reader,
            ready: Vec::new(),
        })
    }

    /// The peer's label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The fields of the READY line (the proxies it printed).
    pub fn ready(&self) -> &[String] {
        &self.ready
    }

    /// The `i`-th proxy of the READY line ("" when there is none).
    pub fn proxy(&self, i: usize) -> &str {
        self.ready.get(i).map_or("", String::as_str)
    }

    /// What the peer printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends one command line on the peer's stdin.
    pub fn send(&mut self, line: &str) -> Result<()> {
        let name = self.name.clone();
        let stdin = self.stdin.as_mut().ok_or_else(|| PeerError::Io {
            what: format!("{name}: stdin closed"),
            source: io::Error::from(io::ErrorKind::BrokenPipe),
        })?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(io_err(format!("{name}: writing {line:?}")))
    }

    /// Closes the peer's stdin (the C++ peers exit on end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn read_line_for(&mut self, timeout: Duration, waiting_for: &str) -> Result<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(PeerError::Timeout {
                peer: self.name.clone(),
                waiting_for: waiting_for.to_string(),
                stderr: tail(&self.stderr(), 20),
            }),
            Err(RecvTimeoutError::Disconnected) => {
                // Give the stderr reader a moment to catch the last words.
                std::thread::sleep(Duration::from_millis(50));
                Err(PeerError::Exited {
                    peer: self.name.clone(),
                    waiting_for: waiting_for.to_string(),
                    stderr: tail(&self.stderr(), 20),
                })
            }
        }
    }

    /// The next stdout line, waiting up to `timeout`.
    pub fn read_line(&mut self, timeout: Duration) -> Result<String> {
        self.read_line_for(timeout, "a line")
    }

    /// Reads lines until one satisfies `done`; returns the lines before it
    /// and that line. `timeout` bounds the whole wait.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&str) -> bool,
    ) -> Result<(Vec<String>, String)> {
        let start = Instant::now();
        let mut before = Vec::new();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            let line = self.read_line_for(left, what)?;
            if done(&line) {
                return Ok((before, line));
            }
            before.push(line);
        }
    }

    /// Sends `command` and reads until a line starting with `last_prefix`;
    /// returns the lines before it and that line.
    pub fn command(
        &mut self,
        command: &str,
        last_prefix: &str,
        timeout: Duration,
    ) -> Result<(Vec<String>, String)> {
        self.send(command)?;
        self.read_until(
            timeout,
            &format!("{last_prefix}... after {command:?}"),
            |l| l.starts_with(last_prefix),
        )
    }

    /// Reads lines until `n` change lines (see [`is_change`]) have come,
    /// skipping the others; `timeout` bounds each line.
    pub fn changes(&mut self, n: usize, timeout: Duration) -> Result<Vec<String>> {
        let mut got = Vec::new();
        while got.len() < n {
            let line = self.read_line_for(timeout, &format!("change line {}", got.len() + 1))?;
            if is_change(&line) {
                got.push(line);
            }
        }
        Ok(got)
    }

    /// Sends `dump` and returns the dump lines (without the final `END`).
    pub fn dump(&mut self) -> Result<Vec<String>> {
        self.command("dump", "END", Duration::from_secs(20))
            .map(|(lines, _)| lines)
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (through the `kill` program) without waiting.
    pub fn terminate(&mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(io_err(format!("{}: kill -TERM {pid}", self.name)))?;
        if status.success() {
            Ok(())
        } else {
            Err(PeerError::Io {
                what: format!("{}: kill -TERM {pid} failed ({status})", self.name),
                source: io::Error::from(io::ErrorKind::NotFound),
            })
        }
    }

    /// Sends `encodings` and returns the encodings the peer's servants have
    /// dispatched requests in (from its `ENCODINGS 1.0 1.1` answer).
    pub fn encodings(&mut self) -> Result<Vec<String>> {
        let (_, line) = self.command("encodings", "ENCODINGS", Duration::from_secs(20))?;
        Ok(line.split(' ').skip(1).map(str::to_string).collect())
    }

    /// Waits up to `timeout` for the process to exit on its own; returns its
    /// exit code (`None` when killed by a signal), or `Err` on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<i32>> {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.drain_stderr();
                    return Ok(status.code());
                }
                Ok(None) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    return Err(PeerError::Timeout {
                        peer: self.name.clone(),
                        waiting_for: "its exit".to_string(),
                        stderr: tail(&self.stderr(), 20),
                    })
                }
                Err(e) => return Err(io_err(format!("{}: wait", self.name))(e)),
            }
        }
    }
}

impl Peer {
    /// After the process exited: lets the stderr reader copy what is left
    /// in the pipe (up to 2 s, in case a child process keeps it open), so
    /// that [`Peer::stderr`] holds everything the peer printed.
    fn drain_stderr(&mut self) {
        let start = Instant::now();
        while let Some(reader) = self.stderr_reader.take() {
            if reader.is_finished() {
                let _ = reader.join();
            } else if start.elapsed() < Duration::from_secs(2) {
                self.stderr_reader = Some(reader);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The result of running one of the Python scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutput {
    /// Exit code (`None` when killed by a signal or by the wall-clock guard).
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// How long a Python script may run before it is killed.
const SCRIPT_GUARD: Duration = Duration::from_secs(60);

/// Reads `stream` to its end on a thread of its own.
fn read_to_end(stream: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut r) = stream {
            let _ = r.read_to_string(&mut s);
        }
        s
    })
}

/// Runs `cmd` with `input` on its stdin (nothing: stdin closed), collects
/// its output, and kills it once it has run for `limit` (its `code` is then
/// `None`).
pub fn run_bounded_with_input(
    cmd: &mut Command,
    input: Option<&str>,
    limit: Duration,
) -> Result<ScriptOutput> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("starting {cmd:?}")))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let text = text.to_owned();
        // Written aside, so a program that does not read cannot block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    let out_reader = read_to_end(child.stdout.take());
    let err_reader = read_to_end(child.stderr.take());
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io_err(format!("waiting for {cmd:?}"))(e));
            }
        }
    };
    let elapsed = start.elapsed();
    Ok(ScriptOutput {
        code,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        elapsed,
    })
}

/// [`run_bounded_with_input`] with stdin closed.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<ScriptOutput> {
    run_bounded_with_input(cmd, None, limit)
}

/// Runs `/usr/bin/python3 script args...` and collects its output. A script
/// still running after a minute is killed (its `code` is then `None`).
pub fn run_python(script: &Path, args: &[String]) -> Result<ScriptOutput> {
    let out = run_bounded(Command::new(PYTHON).arg(script).args(args), SCRIPT_GUARD).map_err(
        |e| match e {
            PeerError::Io { source, .. } => PeerError::Io {
                what: format!(
                    "starting {PYTHON} {} (ZeroC Python Ice: run scripts/install-ice.sh)",
                    script.display()
                ),
                source,
            },
            other => other,
        },
    )?;
    if out.stderr.contains("No module named 'Ice'") {
        return Err(PeerError::Io {
            what: format!(
                "{PYTHON} has no ZeroC Ice module (python3-zeroc-ice): run scripts/install-ice.sh"
            ),
            source: io::Error::from(io::ErrorKind::NotFound),
        });
    }
    Ok(out)
}

/// Runs `replica_ctl.py <command> <proxy> <extra...>` (see its docstring for
/// the exit codes: [`CTL_ACTIVE`], [`CTL_STANDBY`], [`CTL_UNREACHABLE`],
/// [`CTL_ERROR`]).
pub fn replica_ctl(command: &str, proxy: &str, extra: &[String]) -> Result<ScriptOutput> {
    let mut args = vec![command.to_string(), proxy.to_string()];
    args.extend_from_slice(extra);
    run_python(&replica_ctl_script(), &args)
}

/// Runs `channel_client.py <proxy> <args...> <extra...>`.
pub fn channel_client(proxy: &str, args: &[&str], extra: &[String]) -> Result<ScriptOutput> {
    let mut all = vec![proxy.to_string()];
    all.extend(args.iter().map(|a| (*a).to_string()));
    all.extend_from_slice(extra);
    run_python(&channel_client_script(), &all)
}

/// Lines of text, without the final `END` line when there is one.
pub fn lines_before_end(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| *l != "END")
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines_split_on_tabs() {
        let line = "READY\tChannelService -t -e 1.1:tcp -h 127.0.0.1 -p 5 -t 60000\tR -t:tcp -p 6";
        let fields = parse_ready(line).unwrap_or_default();
        assert_eq!(fields.len(), 2);
        assert_eq!(
            fields[0],
            "ChannelService -t -e 1.1:tcp -h 127.0.0.1 -p 5 -t 60000"
        );
        assert_eq!(fields[1], "R -t:tcp -p 6");
    }

    #[test]
    fn non_ready_lines_are_refused() {
        for bad in ["READY", "READY\t", "READY x", "ITEM a", "READY\ta\t", ""] {
            assert_eq!(parse_ready(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encoding_args_name_the_encoding() {
        assert_eq!(
            encoding_args(Encoding::V1_0),
            vec!["--Ice.Default.EncodingVersion=1.0".to_string()]
        );
        assert!(encoding_args(Encoding::V1_1).is_empty());
    }

    #[test]
    fn sources_exist_and_hash_is_stable() {
        for name in SOURCES {
            assert!(workspace_root().join(name).is_file(), "{name} missing");
        }
        let a = sources_hash().ok();
        assert!(a.is_some());
        assert_eq!(a, sources_hash().ok());
    }

    #[test]
    fn change_lines_replay_into_a_dump() {
        let lines: Vec<String> = ["SET b 2", "SET a 1", "SET b 3", "REMOVED a", "SET c 4"]
            .iter()
            .map(|l| (*l).to_string())
            .collect();
        assert!(lines.iter().all(|l| is_change(l)));
        assert!(!is_change("DONE 5") && !is_change("SETTLED"));
        assert_eq!(
            replay(&lines).ok(),
            Some(vec!["ITEM b 3".to_string(), "ITEM c 4".to_string()])
        );
        assert!(matches!(
            replay(&["DONE 1".to_string()]),
            Err(PeerError::Protocol { .. })
        ));
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(lines_before_end("x\ny\nEND\nz\n"), vec!["x", "y"]);
    }
}
