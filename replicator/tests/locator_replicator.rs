//! `<Adapter>.StateReplicatorName` as a well-known name resolved through a
//! real IceGrid registry: `scf-replicator` registers its adapter with an
//! `AdapterId`, its object is added as a well-known object, and two
//! `channel-service-x` members configured with the bare name replicate
//! through it. A name the locator does not know fails start-up fast with
//! an error naming the property.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use interop_tests::golden::Encoding;
use interop_tests::icegrid::Registry;
use interop_tests::peers::{channel_client, encoding_args, Peer, CTL_ACTIVE, CTL_STANDBY};

const RUST_REPLICATOR: &str = env!("CARGO_BIN_EXE_scf-replicator");
const RUST_COMPONENT: &str = env!("CARGO_BIN_EXE_channel-service-x");
const RUST_CTL: &str = env!("CARGO_BIN_EXE_replica-ctl");
const REPLICATOR_TYPE: &str = "::AsteriskSCF::ChannelServiceX::V1::ChannelServiceXStateReplicator";
const NAME: &str = "ChannelServiceXStateReplicator";

fn rust_ctl(command: &str, proxy: &str, enc: Encoding) -> Option<i32> {
    let out = Command::new(RUST_CTL)
        .arg(command)
        .arg(proxy)
        .args(encoding_args(enc))
        .output()
        .unwrap();
    eprintln!(
        "replica-ctl {command}: {:?} {:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out.status.code()
}

fn dump(service: &str, enc: Encoding) -> Vec<String> {
    let out = channel_client(service, &["dump"], &encoding_args(enc)).unwrap();
    assert_eq!(out.code, Some(0), "dump failed: {}", out.stderr);
    out.stdout
        .lines()
        .take_while(|l| *l != "END")
        .map(str::to_owned)
        .collect()
}

fn component(name: &str, registry: &Registry, enc: Encoding) -> Peer {
    let mut args = vec![
        format!("--ChannelServiceX.StateReplicatorName={NAME}"),
        registry.locator_arg(),
    ];
    args.extend(encoding_args(enc));
    Peer::spawn(name, Path::new(RUST_COMPONENT), &args).unwrap()
}

fn replicate_through_a_well_known_replicator(enc: Encoding) {
    let started = Instant::now();
    let registry = Registry::start_with("ReplGrid", &[]).unwrap();
    let mut args = vec![
        "--ChannelServiceXReplicator.Endpoints=tcp -h 127.0.0.1 -p 0".to_owned(),
        "--ChannelServiceXReplicator.AdapterId=ReplicatorAdapter".to_owned(),
        registry.locator_arg(),
    ];
    args.extend(encoding_args(enc));
    let replicator = Peer::spawn("rust-replicator", Path::new(RUST_REPLICATOR), &args).unwrap();
    let version = match enc {
        Encoding::V1_0 => "1.0",
        Encoding::V1_1 => "1.1",
    };
    assert_eq!(
        replicator.proxy(0),
        format!("{NAME} -t -e {version} @ ReplicatorAdapter"),
        "the replicator's proxy is indirect"
    );
    let held = registry.adapter_proxies("ReplicatorAdapter").unwrap();
    assert!(
        held.iter().any(|p| p.contains("-h 127.0.0.1")),
        "registry holds {held:?}"
    );
    registry
        .add_object(&format!("{NAME}@ReplicatorAdapter"), REPLICATOR_TYPE)
        .unwrap();

    let a = component("rust-a", &registry, enc);
    let b = component("rust-b", &registry, enc);
    assert_eq!(rust_ctl("status", a.proxy(1), enc), Some(CTL_STANDBY));
    assert_eq!(rust_ctl("activate", a.proxy(1), enc), Some(CTL_ACTIVE));
    let ext = encoding_args(enc);
    for i in 0..10 {
        let id = format!("ch{i}");
        let out = channel_client(a.proxy(0), &["create", &id, &format!("sip:{id}")], &ext).unwrap();
        assert_eq!(out.code, Some(0), "{out:?}");
    }
    let out = channel_client(a.proxy(0), &["destroy", "ch3"], &ext).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    let want = dump(a.proxy(0), enc);
    assert_eq!(want.len(), 9, "{want:?}");

    // The standby got every change through the replicator it found by
    // name; it serves them once activated. Pushes reach it asynchronously:
    // give them a moment, then compare.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rust_ctl("standby", a.proxy(1), enc), Some(0));
    assert_eq!(rust_ctl("activate", b.proxy(1), enc), Some(CTL_ACTIVE));
    assert_eq!(dump(b.proxy(0), enc), want);
    eprintln!(
        "{enc:?}: replicated through IceGrid in {:?}",
        started.elapsed()
    );
}

#[test]
fn members_replicate_through_a_replicator_found_by_name_encoding_1_1() {
    replicate_through_a_well_known_replicator(Encoding::V1_1);
}

#[test]
fn members_replicate_through_a_replicator_found_by_name_encoding_1_0() {
    replicate_through_a_well_known_replicator(Encoding::V1_0);
}

#[test]
fn an_unresolvable_replicator_name_fails_fast() {
    let registry = Registry::start_with("ReplGrid", &[]).unwrap();
    let started = Instant::now();
    let out = Command::new(RUST_COMPONENT)
        .arg("--ChannelServiceX.StateReplicatorName=NoSuchReplicator")
        .arg(registry.locator_arg())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ChannelServiceX.StateReplicatorName")
            && stderr.contains("NoSuchReplicator"),
        "{stderr}"
    );
    assert!(stderr.contains("registered with the locator"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    // A bare name with no locator at all.
    let out = Command::new(RUST_COMPONENT)
        .arg(format!("--ChannelServiceX.StateReplicatorName={NAME}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ChannelServiceX.StateReplicatorName")
            && stderr.contains("Ice.Default.Locator"),
        "{stderr}"
    );
}

/// An `icegridnode` of the test, killed (with the servers it started) on
/// drop.
struct Node {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `icegridadmin -e COMMAND` against `registry`; its exit success and output.
fn icegridadmin(registry: &Registry, command: &str) -> (bool, String) {
    let out = Command::new("icegridadmin")
        .arg(registry.locator_arg())
        .args(["-u", "test", "-p", "test", "-e", command])
        .output()
        .expect("icegridadmin (zeroc-ice-utils, installed by scripts/install-ice.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A Rust server started by a real IceGrid node, with Ice's admin left
/// enabled: it registers its adapter and its `Process` facet, so the node
/// reports it active, and `server stop` stops it through that facet.
#[test]
fn an_icegrid_node_starts_and_stops_the_replicator() {
    let registry = Registry::start_with("NodeGrid", &[]).unwrap();
    let dir = std::env::temp_dir().join(format!("locator-node-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    let child = Command::new("icegridnode")
        .arg(registry.locator_arg())
        .arg("--IceGrid.Node.Name=node1")
        .arg("--IceGrid.Node.Endpoints=tcp -h 127.0.0.1")
        .arg(format!(
            "--IceGrid.Node.Data={}",
            dir.join("data").display()
        ))
        .arg(format!(
            "--IceGrid.Node.Output={}",
            dir.join("out").display()
        ))
        .arg("--IceGrid.Node.Trace.Server=1")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let node = Node {
        child,
        dir: dir.clone(),
    };
    let descriptor = dir.join("app.xml");
    std::fs::write(
        &descriptor,
        format!(
            r#"<icegrid>
  <application name="LocatorApp">
    <node name="node1">
      <server id="Repl" exe="{RUST_REPLICATOR}" activation="manual">
        <adapter name="ChannelServiceXReplicator" id="ReplA" endpoints="tcp -h 127.0.0.1">
          <object identity="{NAME}" type="{REPLICATOR_TYPE}"/>
        </adapter>
      </server>
    </node>
  </application>
</icegrid>
"#
        ),
    )
    .unwrap();
    let (ok, out) = icegridadmin(
        &registry,
        &format!("application add \"{}\"", descriptor.display()),
    );
    assert!(ok, "{out}");
    // The node registers with the registry shortly after it starts.
    let started = Instant::now();
    let (ok, out) = loop {
        let (ok, out) = icegridadmin(&registry, "server start Repl");
        if ok || started.elapsed() > Duration::from_secs(20) {
            break (ok, out);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = || std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
    assert!(ok, "server start: {out}\n{}", log());
    eprintln!("server start returned after {:?}", started.elapsed());
    let (_, state) = icegridadmin(&registry, "server state Repl");
    assert!(state.starts_with("active"), "{state}\n{}", log());
    let held = registry.adapter_proxies("ReplA").unwrap();
    assert!(held.iter().any(|p| p.contains("127.0.0.1")), "{held:?}");

    let stopping = Instant::now();
    let (ok, out) = icegridadmin(&registry, "server stop Repl");
    assert!(ok, "server stop: {out}\n{}", log());
    let (_, state) = icegridadmin(&registry, "server state Repl");
    assert!(state.starts_with("inactive"), "{state}");
    eprintln!("server stop returned after {:?}", stopping.elapsed());
    let node_log = log();
    drop(node);
    eprintln!("{node_log}");
}
