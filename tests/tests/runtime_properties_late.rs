//! Properties after creation, as ZeroC programs use them: a property set
//! on a live communicator configures an adapter created afterwards (its
//! endpoints and message size limit, seen by a ZeroC Python client), and
//! application options on the command line are merged as ZeroC Python's
//! `parseCommandLineOptions` merges them.

mod runtime_support;

use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;
use runtime_support::{run_python, tester_servant, PYTHON};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_property_set_after_creation_configures_a_later_adapter() -> Result<()> {
    let communicator = Communicator::new(Properties::new());
    communicator.set_property("Late.Endpoints", "tcp -h 127.0.0.1 -p 0");
    communicator.set_property("Late.MessageSizeMax", "16");
    let adapter = communicator.create_object_adapter("Late").await?;
    let _ = adapter.add(
        tester_servant(),
        Identity {
            name: "tester".into(),
            category: String::new(),
        },
    );
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip)) => ip.port.to_string(),
        other => bail!("unexpected endpoint {other:?}"),
    };
    let (ok, out) = run_python(
        "msgsize_client.py",
        &[&port, &port, &port],
        Duration::from_secs(60),
    )
    .await?;
    ensure!(ok, "msgsize_client.py failed:\n{out}");
    // The answers of a ZeroC adapter with MessageSizeMax=16.
    for name in ["A", "B", "C"] {
        for (kb, result) in [
            (10, "ok"),
            (40, "ConnectionLostException"),
            (100, "ConnectionLostException"),
        ] {
            let line = format!("{name} {kb} -> {result}");
            ensure!(out.lines().any(|l| l == line), "no `{line}` in:\n{out}");
        }
    }
    communicator.destroy().await;
    Ok(())
}

#[tokio::test]
async fn application_options_merge_as_zeroc_merges_them() -> Result<()> {
    let args = [
        "prog",
        "--Ice.Trace.Network=1",
        "--MyApp.Port=10000",
        "--MyApp.Verbose",
        "--Other.X=1",
        "file",
    ];
    let script = "import sys, Ice\n\
                  props = Ice.createProperties(sys.argv)\n\
                  rest = props.parseCommandLineOptions('MyApp', sys.argv)\n\
                  print(props.getProperty('MyApp.Port'), props.getProperty('MyApp.Verbose'), \
                  props.getProperty('Ice.Trace.Network'), props.getProperty('Other.X') or '-')\n\
                  print(' '.join(rest[1:]))\n";
    let output = tokio::process::Command::new(PYTHON)
        .arg("-c")
        .arg(script)
        .args(&args[1..])
        .output()
        .await
        .context("python")?;
    let zeroc = String::from_utf8_lossy(&output.stdout).into_owned();

    let (mut props, rest) = Properties::from_args(args.iter().map(|s| (*s).to_owned()))?;
    let rest = props.merge_command_line_options("MyApp", rest);
    let get = |k: &str| props.get_property(k).unwrap_or("-").to_owned();
    let ours = format!(
        "{} {} {} {}\n{}\n",
        get("MyApp.Port"),
        get("MyApp.Verbose"),
        get("Ice.Trace.Network"),
        get("Other.X"),
        rest.get(1..).unwrap_or_default().join(" ")
    );
    ensure!(ours == zeroc, "ours:\n{ours}ZeroC Python's:\n{zeroc}");
    Ok(())
}
