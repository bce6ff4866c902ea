//! `<Adapter>.StateReplicatorName` as a well-known name resolved through a
//! real IceGrid registry: `scf-replicator` registers its adapter with an
//! `AdapterId`, its object is added as a well-known object, and two
//! `channel-service-x` members configured with the bare name replicate
//! through it. A name the locator does not know fails start-up fast with
//! an error naming the property.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use interop_tests::golden::Encoding;
use interop_tests::icegrid::Registry;
use interop_tests::peers::{
    channel_client, encoding_args, with_encoding as with_enc, Peer, CTL_ACTIVE, CTL_STANDBY,
};
use support::grid::{admin_try, Node};
use support::{Scratch, COMPONENT, LOOPBACK_REPLICATOR, REPLICATOR};

const REPLICATOR_TYPE: &str = "::AsteriskSCF::ChannelServiceX::V1::ChannelServiceXStateReplicator";
const NAME: &str = "ChannelServiceXStateReplicator";

fn rust_ctl(command: &str, proxy: &str, enc: Encoding) -> Option<i32> {
    support::ctl(command, proxy, &encoding_args(enc))
}

fn dump(service: &str, enc: Encoding) -> Vec<String> {
    support::client_dump(service, &encoding_args(enc))
}

fn component(name: &str, registry: &Registry, enc: Encoding) -> Peer {
    support::spawn_component(name, NAME, &with_enc(enc, vec![registry.locator_arg()]))
}

fn replicate_through_a_well_known_replicator(enc: Encoding) {
    let started = Instant::now();
    let registry = Registry::start_with("ReplGrid", &[]).unwrap();
    let replicator = support::spawn_replicator(&with_enc(
        enc,
        vec![
            LOOPBACK_REPLICATOR.to_owned(),
            "--ChannelServiceXReplicator.AdapterId=ReplicatorAdapter".to_owned(),
            registry.locator_arg(),
        ],
    ));
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
    let out = Command::new(COMPONENT)
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
    let out = Command::new(COMPONENT)
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

/// `icegridadmin -e COMMAND` against `registry`; its exit success and output.
fn icegridadmin(registry: &Registry, command: &str) -> (bool, String) {
    let out = admin_try(registry, command);
    (out.code == Some(0), format!("{}{}", out.stdout, out.stderr))
}

/// A Rust server started by a real IceGrid node, with Ice's admin left
/// enabled: it registers its adapter and its `Process` facet, so the node
/// reports it active, and `server stop` stops it through that facet.
#[test]
fn an_icegrid_node_starts_and_stops_the_replicator() {
    let registry = Registry::start_with("NodeGrid", &[]).unwrap();
    let scratch = Scratch::new("locator-node");
    let dir = scratch.path.clone();
    let node = Node::start("node1", &registry, &dir, &["--IceGrid.Node.Trace.Server=1"]);
    let descriptor = dir.join("app.xml");
    std::fs::write(
        &descriptor,
        format!(
            r#"<icegrid>
  <application name="LocatorApp">
    <node name="node1">
      <server id="Repl" exe="{REPLICATOR}" activation="manual">
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
    let log = || node.log();
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
