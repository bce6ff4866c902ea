//! The design's two variants as small Rust components on the generated
//! glue: SessionServiceY (keys external to the items) and BridgeServiceZ
//! (removal as an item subtype). Sets and removals go from a Rust active
//! member through a Rust replicator to a Rust standby, which ends with the
//! same state and takes over with it; both also against ZeroC Python
//! (`tests/peers/session_y.py`, `tests/peers/bridge_z.py`) as a listener
//! and as the active component, in encodings 1.1 and 1.0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ice_proto::communicator::Communicator;
use ice_proto::proxy::ObjectPrx;
use interop_tests::golden::Encoding;
use interop_tests::peers::{encoding_args, Peer, PYTHON};
use replicator::bridge_z::{self, Bridges};
use replicator::session_y::{self, Session, Sessions};
use replicator::StateReplicator;
use support::{communicator, eventually, id};

/// A SessionServiceY replicator (the generated servant) on loopback.
async fn session_replicator(
    comm: &Communicator,
) -> (StateReplicator<session_y::glue::Item>, ObjectPrx) {
    let adapter = comm
        .create_object_adapter_with_endpoints("YReplicator", "tcp -h 127.0.0.1 -p 0")
        .await
        .unwrap();
    let core = StateReplicator::default();
    let prx = adapter.add(
        session_y::glue::ReplicatorServant::new(core.clone(), comm.clone()).into_dispatcher(),
        id("SessionServiceYStateReplicator"),
    );
    adapter.activate();
    (core, prx)
}

async fn sessions_pair(comm: &Communicator, rprx: &ObjectPrx) -> (Sessions, Sessions) {
    let listeners = comm
        .create_object_adapter_with_endpoints("YListeners", "tcp -h 127.0.0.1 -p 0")
        .await
        .unwrap();
    listeners.activate();
    let a = Sessions::join(rprx.clone(), &listeners, id("a"))
        .await
        .unwrap();
    let b = Sessions::join(rprx.clone(), &listeners, id("b"))
        .await
        .unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_y_external_keys_reach_a_rust_standby() {
    let comm = communicator(Encoding::V1_1);
    let (core, rprx) = session_replicator(&comm).await;
    let (a, b) = sessions_pair(&comm, &rprx).await;
    assert!(matches!(
        a.start("x", "c", "d").await,
        Err(replicator::MemberError::NotActive)
    ));
    assert!(a.member().activate().await.unwrap());
    for i in 0..50 {
        a.start(
            &format!("s{i:02}"),
            &format!("alice{i}"),
            &format!("bob{i}"),
        )
        .await
        .unwrap();
        if i % 3 == 0 {
            assert!(a.answer(&format!("s{i:02}")).await.unwrap());
        }
        if i % 7 == 0 {
            a.end(&format!("s{i:02}")).await.unwrap();
        }
    }
    assert!(!a.answer("nobody").await.unwrap());
    let want = a.sessions();
    assert_eq!(want.len(), 50 - 8);
    assert_eq!(core.len(), want.len());
    eventually("the standby to catch up", || b.sessions() == want).await;
    assert_eq!(
        b.sessions().get("s03"),
        Some(&Session {
            caller: "alice3".into(),
            callee: "bob3".into(),
            answered: true
        })
    );
    // The standby takes over with the same state and serves changes.
    assert!(a.member().standby().await.unwrap());
    assert!(b.member().activate().await.unwrap());
    assert_eq!(b.sessions(), want);
    b.end("s01").await.unwrap();
    eventually("the old active to follow", || {
        a.sessions().len() == want.len() - 1
    })
    .await;
    comm.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_z_removal_subtype_reaches_a_rust_standby() {
    let comm = communicator(Encoding::V1_1);
    let adapter = comm
        .create_object_adapter_with_endpoints("ZReplicator", "tcp -h 127.0.0.1 -p 0")
        .await
        .unwrap();
    let core = StateReplicator::default();
    let rprx = adapter.add(
        bridge_z::glue::ReplicatorServant::new(core.clone(), comm.clone()).into_dispatcher(),
        id("BridgeServiceZStateReplicator"),
    );
    adapter.activate();
    let listeners = comm
        .create_object_adapter_with_endpoints("ZListeners", "tcp -h 127.0.0.1 -p 0")
        .await
        .unwrap();
    listeners.activate();
    let a = Bridges::join(rprx.clone(), &listeners, id("a"))
        .await
        .unwrap();
    let b = Bridges::join(rprx.clone(), &listeners, id("b"))
        .await
        .unwrap();
    assert!(a.member().activate().await.unwrap());
    for i in 0..30 {
        let bridge = format!("br{i:02}");
        a.create(&bridge, 8000 * (1 + i % 2)).await.unwrap();
        assert!(a.join_channel(&bridge, &format!("ch{i}")).await.unwrap());
        assert!(a
            .join_channel(&bridge, &format!("ch{}", i + 1))
            .await
            .unwrap());
        if i % 4 == 0 {
            a.destroy(&bridge).await.unwrap();
        }
    }
    // Removals and additions in one change.
    a.replace(
        &["br01", "br02", "nope"],
        &[("br90", 16000), ("br91", 48000)],
    )
    .await
    .unwrap();
    let want = a.bridges();
    assert_eq!(want.len(), 30 - 8 - 2 + 2);
    assert!(!want.contains_key("br01") && want.contains_key("br91"));
    assert_eq!(
        want["br03"].members,
        vec!["ch3".to_owned(), "ch4".to_owned()]
    );
    // The replicator's store holds no removal items.
    assert_eq!(core.len(), want.len());
    eventually("the standby to catch up", || b.bridges() == want).await;
    // A late joiner catches up through get-all.
    let c = Bridges::join(rprx.clone(), &listeners, id("c"))
        .await
        .unwrap();
    assert_eq!(c.bridges(), want);
    assert!(b.member().activate().await.unwrap());
    assert_eq!(b.bridges(), want);
    comm.destroy().await;
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/session_y.py")
}

/// `SET key caller callee answered` / `REMOVED key` lines replayed.
fn replay(lines: &[String]) -> BTreeMap<String, Session> {
    let mut out = BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(' ').collect();
        match f.as_slice() {
            ["SET", key, caller, callee, answered] => {
                out.insert(
                    (*key).to_owned(),
                    Session {
                        caller: (*caller).to_owned(),
                        callee: (*callee).to_owned(),
                        answered: *answered == "true",
                    },
                );
            }
            ["REMOVED", key] => {
                out.remove(*key);
            }
            _ => panic!("unexpected line {l:?}"),
        }
    }
    out
}

async fn session_y_with_zeroc_python(enc: Encoding) {
    let comm = communicator(enc);
    let (core, rprx) = session_replicator(&comm).await;
    let rstr = comm.proxy_to_string(&rprx);
    let (a, b) = sessions_pair(&comm, &rprx).await;

    // ZeroC Python as a listener of the Rust replicator.
    let mut args = vec![
        script().display().to_string(),
        "listen".into(),
        rstr.clone(),
    ];
    args.extend(encoding_args(enc));
    let mut py = tokio::task::block_in_place(|| {
        Peer::spawn("python-listener", Path::new(PYTHON), &args).unwrap()
    });
    assert_eq!(core.listener_count(), 3);
    assert!(a.member().activate().await.unwrap());
    let mut expected = 0;
    for i in 0..40 {
        let s = format!("s{i:02}");
        a.start(&s, &format!("alice{i}"), &format!("bob{i}"))
            .await
            .unwrap();
        expected += 1;
        if i % 2 == 0 {
            a.answer(&s).await.unwrap();
            expected += 1;
        }
        if i % 5 == 0 {
            a.end(&s).await.unwrap();
            expected += 1;
        }
    }
    let mut lines = Vec::new();
    while lines.len() < expected {
        lines.push(tokio::task::block_in_place(|| {
            py.read_line(Duration::from_secs(20)).unwrap()
        }));
    }
    let want = a.sessions();
    assert_eq!(replay(&lines), want);
    py.close_stdin();
    tokio::task::block_in_place(|| py.wait_exit(Duration::from_secs(10)).unwrap());

    // ZeroC Python as the active component; the Rust members follow.
    assert!(a.member().standby().await.unwrap());
    let mut args = vec![
        script().display().to_string(),
        "push".into(),
        rstr,
        "60".into(),
    ];
    args.extend(encoding_args(enc));
    let mut pusher = Peer::start("python-active", Path::new(PYTHON), &args).unwrap();
    let mut pushed = Vec::new();
    loop {
        let l = tokio::task::block_in_place(|| pusher.read_line(Duration::from_secs(30)).unwrap());
        if l == "DONE" {
            break;
        }
        pushed.push(l);
    }
    assert_eq!(pushed.len(), 60);
    let mut want = want;
    want.extend(replay(&pushed));
    for l in &pushed {
        if let Some(k) = l.strip_prefix("REMOVED ") {
            want.remove(k);
        }
    }
    eventually("the Rust standbys to follow ZeroC Python", || {
        a.sessions() == want && b.sessions() == want
    })
    .await;
    assert!(b.member().activate().await.unwrap());
    assert_eq!(b.sessions(), want);
    comm.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_y_with_zeroc_python_encoding_1_1() {
    session_y_with_zeroc_python(Encoding::V1_1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_y_with_zeroc_python_encoding_1_0() {
    session_y_with_zeroc_python(Encoding::V1_0).await;
}

fn bridge_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/bridge_z.py")
}

/// `SET key rate m1,m2` / `REMOVED key` lines replayed.
fn replay_bridges(lines: &[String]) -> BTreeMap<String, bridge_z::Bridge> {
    let mut out = BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(' ').collect();
        match f.as_slice() {
            ["SET", key, rate, members] => {
                let members = if *members == "-" {
                    Vec::new()
                } else {
                    members.split(',').map(str::to_owned).collect()
                };
                out.insert(
                    (*key).to_owned(),
                    bridge_z::Bridge {
                        members,
                        mixing_rate: rate.parse().unwrap(),
                    },
                );
            }
            ["REMOVED", key] => {
                out.remove(*key);
            }
            _ => panic!("unexpected line {l:?}"),
        }
    }
    out
}

/// BridgeServiceZ with ZeroC Python: removal items made by Rust reach a
/// Python listener as `BridgeServiceZStateItemRemoval` instances, and
/// those Python sends (mixed with sets in one call) reach Rust standbys.
async fn bridge_z_with_zeroc_python(enc: Encoding) {
    let comm = communicator(enc);
    let adapter = comm
        .create_object_adapter_with_endpoints("ZReplicator", "tcp -h 127.0.0.1 -p 0")
        .await
        .unwrap();
    let core = StateReplicator::default();
    let rprx = adapter.add(
        bridge_z::glue::ReplicatorServant::new(core.clone(), comm.clone()).into_dispatcher(),
        id("BridgeServiceZStateReplicator"),
    );
    adapter.activate();
    let rstr = comm.proxy_to_string(&rprx);
    let listeners = comm
        .create_object_adapter_with_endpoints("ZListeners", "tcp -h 127.0.0.1 -p 0")
        .await
        .unwrap();
    listeners.activate();
    let a = Bridges::join(rprx.clone(), &listeners, id("a"))
        .await
        .unwrap();
    let b = Bridges::join(rprx.clone(), &listeners, id("b"))
        .await
        .unwrap();

    let mut args = vec![
        bridge_script().display().to_string(),
        "listen".into(),
        rstr.clone(),
    ];
    args.extend(encoding_args(enc));
    let mut py = tokio::task::block_in_place(|| {
        Peer::spawn("python-listener", Path::new(PYTHON), &args).unwrap()
    });
    assert!(a.member().activate().await.unwrap());
    let mut expected = 0;
    for i in 0..30 {
        let br = format!("br{i:02}");
        a.create(&br, 8000).await.unwrap();
        a.join_channel(&br, &format!("ch{i}")).await.unwrap();
        expected += 2;
        if i % 4 == 0 {
            a.destroy(&br).await.unwrap();
            expected += 1;
        }
    }
    a.replace(&["br01", "br03"], &[("br77", 48000)])
        .await
        .unwrap();
    expected += 3;
    let mut lines = Vec::new();
    while lines.len() < expected {
        lines.push(tokio::task::block_in_place(|| {
            py.read_line(Duration::from_secs(20)).unwrap()
        }));
    }
    assert!(lines.iter().any(|l| l == "REMOVED br01"), "{lines:?}");
    let want = a.bridges();
    assert_eq!(replay_bridges(&lines), want);
    py.close_stdin();
    tokio::task::block_in_place(|| py.wait_exit(Duration::from_secs(10)).unwrap());

    assert!(a.member().standby().await.unwrap());
    let mut args = vec![
        bridge_script().display().to_string(),
        "push".into(),
        rstr,
        "50".into(),
    ];
    args.extend(encoding_args(enc));
    let mut pusher = Peer::start("python-active", Path::new(PYTHON), &args).unwrap();
    let mut pushed = Vec::new();
    loop {
        let l = tokio::task::block_in_place(|| pusher.read_line(Duration::from_secs(30)).unwrap());
        if l == "DONE" {
            break;
        }
        pushed.push(l);
    }
    assert_eq!(pushed.len(), 50);
    assert!(pushed.iter().any(|l| l.starts_with("REMOVED ")));
    let mut all = lines;
    all.extend(pushed);
    let want = replay_bridges(&all);
    eventually("the Rust standbys to follow ZeroC Python", || {
        a.bridges() == want && b.bridges() == want
    })
    .await;
    assert_eq!(core.len(), want.len());
    assert!(b.member().activate().await.unwrap());
    assert_eq!(b.bridges(), want);
    comm.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_z_with_zeroc_python_encoding_1_1() {
    bridge_z_with_zeroc_python(Encoding::V1_1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_z_with_zeroc_python_encoding_1_0() {
    bridge_z_with_zeroc_python(Encoding::V1_0).await;
}

/// `scf-replicator` serves the variants' replicators too: ZeroC Python
/// pushes SessionServiceY and BridgeServiceZ changes to it, and the Rust
/// generated proxies read the resulting state back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scf_replicator_serves_the_variants() {
    let replicator = tokio::task::block_in_place(|| {
        Peer::spawn(
            "scf-replicator",
            Path::new(env!("CARGO_BIN_EXE_scf-replicator")),
            &["--ChannelServiceXReplicator.Endpoints=tcp -h 127.0.0.1 -p 0".to_owned()],
        )
        .unwrap()
    });
    let x = replicator.proxy(0).to_owned();
    let (_, endpoints) = x.split_once(':').unwrap();
    let y = format!("SessionServiceYStateReplicator:{endpoints}");
    let z = format!("BridgeServiceZStateReplicator:{endpoints}");
    let mut pushed = Vec::new();
    for (script, proxy) in [(script(), &y), (bridge_script(), &z)] {
        let args = vec![
            script.display().to_string(),
            "push".into(),
            proxy.clone(),
            "20".into(),
        ];
        let out = tokio::task::block_in_place(|| {
            std::process::Command::new(PYTHON)
                .args(&args)
                .output()
                .unwrap()
        });
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
        assert_eq!(lines.last().map(String::as_str), Some("DONE"));
        pushed.push(lines[..lines.len() - 1].to_vec());
    }
    let comm = communicator(Encoding::V1_1);
    let yprx = session_y::sy::SessionServiceYStateReplicatorPrx::unchecked_cast(
        comm.string_to_proxy(&y).unwrap().unwrap(),
    );
    let sessions: BTreeMap<String, Session> =
        session_y::glue::Item::from_seq(yprx.get_all_state_items(None).await.unwrap())
            .into_iter()
            .map(|i| {
                let s = i
                    .downcast_ref::<session_y::sy::SessionServiceYSessionStateItem>()
                    .unwrap();
                (
                    i.0.key.clone(),
                    Session {
                        caller: s.caller.clone(),
                        callee: s.callee.clone(),
                        answered: s.answered,
                    },
                )
            })
            .collect();
    assert!(!sessions.is_empty());
    assert_eq!(sessions, replay(&pushed[0]));
    let zprx = bridge_z::bz::BridgeServiceZStateReplicatorPrx::unchecked_cast(
        comm.string_to_proxy(&z).unwrap().unwrap(),
    );
    let bridges: BTreeMap<String, bridge_z::Bridge> =
        bridge_z::glue::Item::from_seq(zprx.get_all_state_items(None).await.unwrap())
            .into_iter()
            .map(|i| {
                let b = i
                    .downcast_ref::<bridge_z::bz::BridgeServiceZBridgeStateItem>()
                    .unwrap();
                (
                    b.base.key.clone(),
                    bridge_z::Bridge {
                        members: b.members.clone(),
                        mixing_rate: b.mixing_rate,
                    },
                )
            })
            .collect();
    assert!(!bridges.is_empty());
    assert_eq!(bridges, replay_bridges(&pushed[1]));
    comm.destroy().await;
}
