//! The `ice-proto` hello examples against ZeroC: the Rust `hello_client`
//! calls a ZeroC Python server of the demo's Slice, and a ZeroC C++ client
//! calls the Rust `hello_server`. Each side checks what the other did:
//! the servers print a line per `sayHello`, the client a line per command.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use support::{CppPeer, TestResult};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

/// `interop/hello_client.cpp`, built from the example's own Slice.
static CPP_CLIENT: CppPeer = CppPeer {
    cache: "hello-interop-cpp",
    slice: &["../../../ice-proto/examples/hello/Hello.ice"],
    source: "hello_client.cpp",
    exe: "hello_client",
};

const TIMEOUT: Duration = Duration::from_secs(30);

/// An example of `ice-proto`, built beside this test (`cargo build
/// --workspace --all-targets`, or `cargo test`, builds the examples).
fn example(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    // <target>/<profile>/deps/<this test> -> <target>/<profile>/examples/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("no target folder")?;
    let path = dir.join("examples").join(name);
    if !path.is_file() {
        return Err(format!(
            "{} is missing: build it with `cargo build -p ice-proto --examples`",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// Runs `cmd` to its end (at most [`TIMEOUT`]) and returns its exit code
/// and standard output.
async fn output(cmd: &mut Command) -> Result<(Option<i32>, String), Box<dyn std::error::Error>> {
    let out = tokio::time::timeout(TIMEOUT, cmd.stderr(Stdio::inherit()).output()).await??;
    Ok((out.status.code(), String::from_utf8(out.stdout)?))
}

#[tokio::test]
async fn rust_hello_client_calls_a_zeroc_python_server() -> TestResult {
    let mut server = support::python("hello_server.py", &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = server.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout);
    let mut port = String::new();
    tokio::time::timeout(TIMEOUT, lines.read_line(&mut port)).await??;
    let proxy = format!("hello:tcp -h 127.0.0.1 -p {}", port.trim());

    let (code, out) =
        output(Command::new(example("hello_client")?).args([proxy.as_str(), "t", "o", "d", "s"]))
            .await?;
    assert_eq!(code, Some(0), "hello_client failed: {out}");
    assert_eq!(out, "t: done\no: done\nd: done\ns: done\n");

    // The server saw three sayHello (the oneway one included: it was sent
    // before the twoway calls that followed it) and the shutdown.
    let mut rest = String::new();
    tokio::time::timeout(TIMEOUT, lines.read_to_string(&mut rest)).await??;
    let status = tokio::time::timeout(TIMEOUT, server.wait()).await??;
    assert!(status.success(), "the Python server exited with {status}");
    assert_eq!(
        rest,
        "Hello World!\nHello World!\nHello World!\nShutting down...\n"
    );
    Ok(())
}

#[tokio::test]
async fn zeroc_cpp_client_calls_the_rust_hello_server() -> TestResult {
    let client = support::cpp_exe(&CPP_CLIENT).await?;
    let mut server = Command::new(example("hello_server")?)
        .arg("tcp -h 127.0.0.1 -p 0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = server.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout);
    let mut ready = String::new();
    tokio::time::timeout(TIMEOUT, lines.read_line(&mut ready)).await??;
    let port = ready
        .trim()
        .strip_prefix("READY ")
        .ok_or_else(|| format!("not a READY line: {ready:?}"))?;
    let proxy = format!("hello:tcp -h 127.0.0.1 -p {port}");

    let (code, out) =
        output(Command::new(client).args([proxy.as_str(), "t", "o", "d", "s"])).await?;
    assert_eq!(code, Some(0), "the C++ client failed: {out}");
    assert_eq!(out, "t: done\no: done\nd: done\ns: done\n");

    let mut rest = String::new();
    tokio::time::timeout(TIMEOUT, lines.read_to_string(&mut rest)).await??;
    let status = tokio::time::timeout(TIMEOUT, server.wait()).await??;
    assert!(status.success(), "hello_server exited with {status}");
    assert_eq!(
        rest,
        "Hello World!\nHello World!\nHello World!\nShutting down...\n"
    );
    Ok(())
}
