//! Shared by the interop test targets of `generated-check`: the ZeroC peers
//! they start (Python scripts, C++ programs built once per source hash),
//! Rust servers and proxies on loopback, and raw Ice messages.
//!
//! Every spawned peer is killed on drop and every wait is bounded.

// Each test target uses a part of this module.
#![allow(dead_code)]

use ice_proto::adapter::Servant;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::proxy::ObjectPrx;
use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout, Command};

/// The result of a test.
pub type TestResult = Result<(), Box<dyn Error>>;

/// The interpreter ZeroC Python Ice is installed for (Debian's).
pub const PYTHON: &str = "/usr/bin/python3";

/// How long a ZeroC server may take to print its port.
const READY: Duration = Duration::from_secs(30);
/// How long a ZeroC client may run.
const CLIENT_RUN: Duration = Duration::from_secs(60);
/// How long a ZeroC server may take to exit once shut down.
const EXIT: Duration = Duration::from_secs(10);

/// `tests/generated/` (this crate).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/generated/interop/`: the ZeroC peers' sources.
pub fn interop_dir() -> PathBuf {
    crate_dir().join("interop")
}

/// A ZeroC Python command running `script` (in `interop/`) with `args`.
pub fn python(script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(PYTHON);
    cmd.arg(interop_dir().join(script)).args(args);
    cmd
}

/// An identity without category.
pub fn identity(name: &str) -> Identity {
    Identity {
        name: name.into(),
        category: String::new(),
    }
}

/// The proxy `<name>:tcp -h 127.0.0.1 -p <port>`.
pub fn loopback_proxy(
    communicator: &Communicator,
    name: &str,
    port: u16,
) -> Result<ObjectPrx, Box<dyn Error>> {
    Ok(communicator
        .string_to_proxy(&format!("{name}:tcp -h 127.0.0.1 -p {port}"))?
        .ok_or("null proxy")?)
}

/// Activates an adapter `name` of `communicator` on a free loopback port,
/// with `servants` under their identity names; returns the port.
pub async fn serve(
    communicator: &Communicator,
    name: &str,
    servants: Vec<(Arc<dyn Servant>, &str)>,
) -> Result<u16, Box<dyn Error>> {
    let adapter = communicator
        .create_object_adapter_with_endpoints(name, "tcp -h 127.0.0.1 -p 0")
        .await?;
    for (servant, id) in servants {
        let _ = adapter.add(servant, identity(id));
    }
    adapter.activate();
    match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip)) => Ok(u16::try_from(ip.port)?),
        other => Err(format!("unexpected endpoint {other:?}").into()),
    }
}

/// Runs a ZeroC client to its end (at most a minute), killed on drop;
/// prints what it printed and returns its status and stdout.
pub async fn run_client(cmd: &mut Command) -> Result<(ExitStatus, String), Box<dyn Error>> {
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let out = tokio::time::timeout(CLIENT_RUN, child.wait_with_output()).await??;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    println!("client ran {:?}", started.elapsed());
    Ok((out.status, stdout))
}

/// A ZeroC server that printed its port as its first line: killed on drop;
/// its stdout stays open while it lives.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// The port it printed.
    pub port: u16,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Server {
    /// Starts `cmd` and reads its port (waiting at most 30 s).
    pub async fn start(cmd: &mut Command) -> Result<Server, Box<dyn Error>> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(READY, lines.next_line())
            .await??
            .ok_or("server exited before printing its port")?;
        Ok(Server {
            child,
            port: line.trim().parse()?,
            _stdout: lines,
        })
    }

    /// Gives the server (told to shut down) at most 10 s to exit.
    pub async fn exit(mut self) {
        let _ = tokio::time::timeout(EXIT, self.child.wait()).await;
    }
}

/// A C++ peer built from Slice files and one C++ source with slice2cpp and
/// g++ (C++11 mapping).
pub struct CppPeer {
    /// The cache folder under the target folder.
    pub cache: &'static str,
    /// The Slice files, relative to `slice/` (a path may leave it).
    pub slice: &'static [&'static str],
    /// The C++ source, relative to `interop/`.
    pub source: &'static str,
    /// The executable's name.
    pub exe: &'static str,
}

/// Builds `peer` once per hash of its sources (Slice files, then the C++
/// source) into `<target>/<cache>/<hash>/`, through a scratch folder moved
/// into place, and returns the executable.
fn build_cpp(peer: &CppPeer) -> Result<PathBuf, Box<dyn Error>> {
    use std::hash::{Hash, Hasher};
    let slice = crate_dir().join("slice");
    let ice: Vec<PathBuf> = peer.slice.iter().map(|f| slice.join(f)).collect();
    let source = interop_dir().join(peer.source);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for f in ice.iter().chain([&source]) {
        std::fs::read(f)?.hash(&mut hasher);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir().join("../../target"));
    let dir = target
        .join(peer.cache)
        .join(format!("{:016x}", hasher.finish()));
    let exe = dir.join(peer.exe);
    if exe.exists() {
        return Ok(exe);
    }
    let started = Instant::now();
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let run = |cmd: &mut std::process::Command| -> Result<(), Box<dyn Error>> {
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(())
    };
    run(std::process::Command::new("slice2cpp")
        .arg("-I")
        .arg(&slice)
        .arg("--output-dir")
        .arg(&tmp)
        .args(&ice))?;
    // slice2cpp writes `<stem>.cpp` into the output folder.
    let generated = ice
        .iter()
        .filter_map(|f| f.file_stem())
        .map(|stem| format!("{}.cpp", stem.to_string_lossy()));
    run(std::process::Command::new("g++")
        .args(["-std=c++17", "-DICE_CPP11_MAPPING", "-I."])
        .args(generated)
        .arg(&source)
        .args(["-o", peer.exe, "-lIce++11", "-lpthread"])
        .current_dir(&tmp))?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another test process built it first; theirs is as good.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    println!("built the C++ peer {} in {:?}", peer.exe, started.elapsed());
    Ok(exe)
}

/// The executable of `peer`, built at most once per test process.
pub async fn cpp_exe(peer: &'static CppPeer) -> Result<PathBuf, Box<dyn Error>> {
    static BUILT: Mutex<Option<HashMap<&'static str, Result<PathBuf, String>>>> = Mutex::new(None);
    let built = tokio::task::spawn_blocking(move || {
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        built
            .get_or_insert_with(HashMap::new)
            .entry(peer.exe)
            .or_insert_with(|| build_cpp(peer).map_err(|e| e.to_string()))
            .clone()
    })
    .await?;
    Ok(built?)
}

/// A validate-connection message: magic, protocol 1.0, encoding 1.0,
/// type 3, no compression, size 14.
pub const VALIDATE: [u8; 14] = [b'I', b'c', b'e', b'P', 1, 0, 1, 0, 3, 0, 14, 0, 0, 0];

/// Reads one Ice message (header, then the rest by its size).
pub async fn read_message(s: &mut TcpStream) -> Result<Vec<u8>, Box<dyn Error>> {
    let mut header = [0u8; 14];
    s.read_exact(&mut header).await?;
    let size = usize::try_from(i32::from_le_bytes([
        header[10], header[11], header[12], header[13],
    ]))?;
    let mut body = vec![0u8; size.saturating_sub(14)];
    s.read_exact(&mut body).await?;
    let mut msg = header.to_vec();
    msg.extend(body);
    Ok(msg)
}

/// Accepts one connection, validates it and returns the first message.
pub async fn capture(listener: &TcpListener) -> Result<Vec<u8>, Box<dyn Error>> {
    let (mut s, _) = listener.accept().await?;
    s.write_all(&VALIDATE).await?;
    read_message(&mut s).await
}
