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
