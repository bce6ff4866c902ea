//! Multiple interface inheritance (`slice/MultiInherit.ice`: `Both extends
//! Left, Right`, `Bottom extends Both, Side`, `Side extends Left`) with
//! generated proxies and servants, against ZeroC Python
//! (`interop/multi_inherit.py`, which loads the same file) both ways:
//! `ice_ids` (ZeroC's sorted list), `ice_id`, `ice_isA` of every base,
//! checked casts, upcasts of a derived proxy to each base proxy type, and
//! every operation through every proxy type.

use generated_check::multi::multi_inherit as mi;
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use ice_proto::properties::Properties;
use ice_proto::proxy::ObjectPrx;
use std::error::Error;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

type TestResult = Result<(), Box<dyn Error>>;

const PYTHON: &str = "/usr/bin/python3";

fn peer() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/multi_inherit.py")
}

fn identity(name: &str) -> Identity {
    Identity {
        name: name.into(),
        category: String::new(),
    }
}

/// One implementation of every interface; the Python peer's returns the
/// same values.
struct Impl;

impl mi::Left for Impl {
    async fn from_left(&self, s: String, _current: &Current) -> Result<String, DispatchError> {
        Ok(format!("left {s}"))
    }
}

impl mi::Right for Impl {
    async fn from_right(&self, i: i32, _current: &Current) -> Result<i32, DispatchError> {
        Ok(i * 2)
    }
}

impl mi::Both for Impl {
    async fn from_both(&self, _current: &Current) -> Result<String, DispatchError> {
        Ok("both".into())
    }
}

impl mi::Side for Impl {
    async fn from_side(&self, _current: &Current) -> Result<String, DispatchError> {
        Ok("side".into())
    }
}

impl mi::Bottom for Impl {
    async fn from_bottom(&self, _current: &Current) -> Result<String, DispatchError> {
        Ok("bottom".into())
    }

    async fn shutdown(&self, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }
}

/// A Rust server with a Bottom ("bottom") and a Both ("both"); returns
/// the communicator and port.
async fn rust_server() -> Result<(Communicator, u16), Box<dyn Error>> {
    let communicator = Communicator::new(Properties::new());
    let adapter = communicator
        .create_object_adapter_with_endpoints("Multi", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let _ = adapter.add(mi::BottomServant::new(Impl), identity("bottom"));
    let _ = adapter.add(mi::BothServant::new(Impl), identity("both"));
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(ice_proto::encoding::Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => return Err(format!("unexpected endpoint {other:?}").into()),
    };
    Ok((communicator, port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_python_client_calls_a_rust_server_through_every_base() -> TestResult {
    let (communicator, port) = rust_server().await?;
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(PYTHON)
            .arg(peer())
            .arg("client")
            .arg(format!("bottom:tcp -h 127.0.0.1 -p {port}"))
            .arg(format!("both:tcp -h 127.0.0.1 -p {port}"))
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    communicator.destroy().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "ZeroC client failed");
    assert!(stdout.contains("ALL OK"), "ZeroC client did not finish");
    Ok(())
}

/// `ice_ids` and `ice_id` of the objects `bottom` and `both` at `port`.
async fn ids_at(
    communicator: &Communicator,
    port: u16,
) -> Result<Vec<(Vec<String>, String)>, Box<dyn Error>> {
    let mut out = Vec::new();
    for name in ["bottom", "both"] {
        let p = communicator
            .string_to_proxy(&format!("{name}:tcp -h 127.0.0.1 -p {port}"))?
            .ok_or("null proxy")?;
        out.push((p.ice_ids().await?, p.ice_id().await?));
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_a_zeroc_python_server_through_every_base() -> TestResult {
    let mut child = Command::new(PYTHON)
        .arg(peer())
        .arg("server")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await??
        .ok_or("server exited before printing its port")?;
    let port: u16 = line.trim().parse()?;
    let communicator = Communicator::new(Properties::new());
    let check = async {
        let obj = |name: &str| -> Result<ObjectPrx, Box<dyn Error>> {
            Ok(communicator
                .string_to_proxy(&format!("{name}:tcp -h 127.0.0.1 -p {port}"))?
                .ok_or("null proxy")?)
        };
        let bottom_obj = obj("bottom")?;
        let both_obj = obj("both")?;

        // ZeroC's type ids, and the same from the generated Rust servants.
        let zeroc_ids = ids_at(&communicator, port).await?;
        let (rust_comm, rust_port) = rust_server().await?;
        let rust_ids = ids_at(&rust_comm, rust_port).await?;
        rust_comm.destroy().await;
        println!("ZeroC: {zeroc_ids:?}\nRust:  {rust_ids:?}");
        assert_eq!(rust_ids, zeroc_ids);
        assert_eq!(zeroc_ids[0].0.len(), 6, "{zeroc_ids:?}");

        for t in ["Left", "Right", "Both", "Side", "Bottom"] {
            assert!(
                bottom_obj.ice_is_a(&format!("::MultiInherit::{t}")).await?,
                "{t}"
            );
        }
        assert!(!both_obj.ice_is_a("::MultiInherit::Side").await?);

        let bottom = mi::BottomPrx::checked_cast(&bottom_obj)
            .await?
            .ok_or("not a Bottom")?;
        assert_eq!(bottom.from_left("x").await?, "left x");
        assert_eq!(bottom.from_right(21).await?, 42);
        assert_eq!(bottom.from_both().await?, "both");
        assert_eq!(bottom.from_side().await?, "side");
        assert_eq!(bottom.from_bottom().await?, "bottom");

        // Upcasts to each base proxy type, through both branches.
        let both: mi::BothPrx = bottom.clone().into();
        let side: mi::SidePrx = bottom.clone().into();
        let left: mi::LeftPrx = bottom.clone().into();
        let right: mi::RightPrx = bottom.clone().into();
        assert_eq!(both.from_left("y").await?, "left y");
        assert_eq!(both.from_right(3).await?, 6);
        assert_eq!(both.from_both().await?, "both");
        assert_eq!(side.from_left("z").await?, "left z");
        assert_eq!(side.from_side().await?, "side");
        assert_eq!(left.from_left("w").await?, "left w");
        assert_eq!(right.from_right(-4).await?, -8);
        let left_of_both: mi::LeftPrx = both.into();
        assert_eq!(left_of_both.from_left("v").await?, "left v");

        // The Both object is a Right but no Side.
        assert!(mi::SidePrx::checked_cast(&both_obj).await?.is_none());
        let right_of_both = mi::RightPrx::checked_cast(&both_obj)
            .await?
            .ok_or("not a Right")?;
        assert_eq!(right_of_both.from_right(7).await?, 14);

        bottom.shutdown().await?;
        Ok::<(), Box<dyn Error>>(())
    };
    tokio::time::timeout(Duration::from_secs(60), check).await??;
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    communicator.destroy().await;
    Ok(())
}
