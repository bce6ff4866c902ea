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
use std::sync::Arc;
use std::time::Duration;

use ice_proto::adapter::{ObjectAdapter, Servant};
use ice_proto::communicator::Communicator;
use ice_proto::proxy::ObjectPrx;
use interop_tests::golden::Encoding;
use interop_tests::peers::{encoding_args, Peer, PYTHON};
use replicator::bridge_z::{self, Bridge, Bridges};
use replicator::session_y::{self, Session, Sessions};
use replicator::{Keyed, StateReplicator};
use support::{communicator, eventually, id};

/// An object adapter on a free loopback port, activated.
async fn loopback_adapter(comm: &Communicator, name: &str) -> ObjectAdapter {
    let adapter = comm
        .create_object_adapter_with_endpoints(name, "tcp -h 127.0.0.1 -p 0")
        .await
        .unwrap();
    adapter.activate();
    adapter
}

/// A replicator core served (by the generated servant `servant` makes of
/// it) as `identity` on an adapter of its own.
async fn serve_replicator<I: Keyed>(
    comm: &Communicator,
    identity: &str,
    servant: impl FnOnce(StateReplicator<I>) -> Arc<dyn Servant>,
) -> (StateReplicator<I>, ObjectPrx) {
    let adapter = loopback_adapter(comm, &format!("{identity}Adapter")).await;
    let core = StateReplicator::default();
    let prx = adapter.add(servant(core.clone()), id(identity));
    (core, prx)
}

/// A SessionServiceY replicator (the generated servant) on loopback.
async fn session_replicator(
    comm: &Communicator,
) -> (StateReplicator<session_y::glue::Item>, ObjectPrx) {
    serve_replicator(comm, "SessionServiceYStateReplicator", |core| {
        session_y::glue::ReplicatorServant::new(core, comm.clone()).into_dispatcher()
    })
    .await
}

/// A BridgeServiceZ replicator (the generated servant) on loopback.
async fn bridge_replicator(
    comm: &Communicator,
) -> (StateReplicator<bridge_z::glue::Item>, ObjectPrx) {
    serve_replicator(comm, "BridgeServiceZStateReplicator", |core| {
        bridge_z::glue::ReplicatorServant::new(core, comm.clone()).into_dispatcher()
    })
    .await
}

async fn sessions_pair(comm: &Communicator, rprx: &ObjectPrx) -> (Sessions, Sessions) {
    let listeners = loopback_adapter(comm, "YListeners").await;
    let a = Sessions::join(rprx.clone(), &listeners, id("a"));
    let b = Sessions::join(rprx.clone(), &listeners, id("b"));
    (a.await.unwrap(), b.await.unwrap())
}

/// Two standby BridgeServiceZ members, and the adapter their listeners
/// are on (for more).
async fn bridges_pair(comm: &Communicator, rprx: &ObjectPrx) -> (Bridges, Bridges, ObjectAdapter) {
    let listeners = loopback_adapter(comm, "ZListeners").await;
    let a = Bridges::join(rprx.clone(), &listeners, id("a"));
    let b = Bridges::join(rprx.clone(), &listeners, id("b"));
    (a.await.unwrap(), b.await.unwrap(), listeners)
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
    let (core, rprx) = bridge_replicator(&comm).await;
    let (a, b, listeners) = bridges_pair(&comm, &rprx).await;
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

/// `replicator/tests/peers/NAME`.
fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// `SCRIPT listen REPLICATOR` (ZeroC Python as a listener of the
/// replicator), once it printed READY.
fn python_listener(script: &Path, replicator: &str, enc: Encoding) -> Peer {
    let mut args = vec![
        script.display().to_string(),
        "listen".into(),
        replicator.to_owned(),
    ];
    args.extend(encoding_args(enc));
    tokio::task::block_in_place(|| {
        Peer::spawn("python-listener", Path::new(PYTHON), &args).unwrap()
    })
}

/// The next `n` lines a Python listener prints; then it is told to leave
/// (stdin closed) and must exit 0.
fn python_heard(py: &mut Peer, n: usize) -> Vec<String> {
    tokio::task::block_in_place(|| {
        let lines: Vec<String> = (0..n)
            .map(|_| py.read_line(Duration::from_secs(20)).unwrap())
            .collect();
        py.close_stdin();
        assert_eq!(
            py.wait_exit(Duration::from_secs(10)).unwrap(),
            Some(0),
            "{}",
            py.stderr()
        );
        lines
    })
}

/// `SCRIPT push REPLICATOR N` (ZeroC Python as the active component): the
/// lines of the changes it made, each acknowledged, before its `DONE`.
fn python_push(script: &Path, replicator: &str, n: usize, enc: Encoding) -> Vec<String> {
    let mut args = vec![
        script.display().to_string(),
        "push".into(),
        replicator.to_owned(),
        n.to_string(),
    ];
    args.extend(encoding_args(enc));
    tokio::task::block_in_place(|| {
        let mut pusher = Peer::start("python-active", Path::new(PYTHON), &args).unwrap();
        let (pushed, _) = pusher
            .read_until(Duration::from_secs(30), "DONE", |l| l == "DONE")
            .unwrap();
        assert_eq!(
            pusher.wait_exit(Duration::from_secs(10)).unwrap(),
            Some(0),
            "{}",
            pusher.stderr()
        );
        pushed
    })
}

/// `SET key fields...` / `REMOVED key` lines replayed into a map; `value`
/// reads the fields of a SET line after its key.
fn replay_with<V>(lines: &[String], value: impl Fn(&[&str]) -> Option<V>) -> BTreeMap<String, V> {
    let mut out = BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(' ').collect();
        match f.as_slice() {
            ["SET", key, rest @ ..] => {
                let v = value(rest).unwrap_or_else(|| panic!("unexpected line {l:?}"));
                out.insert((*key).to_owned(), v);
            }
            ["REMOVED", key] => {
                out.remove(*key);
            }
            _ => panic!("unexpected line {l:?}"),
        }
    }
    out
}

/// `SET key caller callee answered` / `REMOVED key` lines replayed.
fn replay(lines: &[String]) -> BTreeMap<String, Session> {
    replay_with(lines, |f| match f {
        [caller, callee, answered] => Some(Session {
            caller: (*caller).to_owned(),
            callee: (*callee).to_owned(),
            answered: *answered == "true",
        }),
        _ => None,
    })
}

/// `SET key rate m1,m2` / `REMOVED key` lines replayed.
fn replay_bridges(lines: &[String]) -> BTreeMap<String, Bridge> {
    replay_with(lines, |f| match f {
        [rate, members] => Some(Bridge {
            members: if *members == "-" {
                Vec::new()
            } else {
                members.split(',').map(str::to_owned).collect()
            },
            mixing_rate: rate.parse().ok()?,
        }),
        _ => None,
    })
}

async fn session_y_with_zeroc_python(enc: Encoding) {
    let comm = communicator(enc);
    let (core, rprx) = session_replicator(&comm).await;
    let rstr = comm.proxy_to_string(&rprx);
    let (a, b) = sessions_pair(&comm, &rprx).await;

    // ZeroC Python as a listener of the Rust replicator.
    let mut py = python_listener(&script("session_y.py"), &rstr, enc);
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
    let lines = python_heard(&mut py, expected);
    let want = a.sessions();
    assert_eq!(replay(&lines), want);

    // ZeroC Python as the active component; the Rust members follow.
    assert!(a.member().standby().await.unwrap());
    let pushed = python_push(&script("session_y.py"), &rstr, 60, enc);
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

/// BridgeServiceZ with ZeroC Python: removal items made by Rust reach a
/// Python listener as `BridgeServiceZStateItemRemoval` instances, and
/// those Python sends (mixed with sets in one call) reach Rust standbys.
async fn bridge_z_with_zeroc_python(enc: Encoding) {
    let comm = communicator(enc);
    let (core, rprx) = bridge_replicator(&comm).await;
    let rstr = comm.proxy_to_string(&rprx);
    let (a, b, _listeners) = bridges_pair(&comm, &rprx).await;

    let mut py = python_listener(&script("bridge_z.py"), &rstr, enc);
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
    let lines = python_heard(&mut py, expected);
    assert!(lines.iter().any(|l| l == "REMOVED br01"), "{lines:?}");
    let want = a.bridges();
    assert_eq!(replay_bridges(&lines), want);

    assert!(a.member().standby().await.unwrap());
    let pushed = python_push(&script("bridge_z.py"), &rstr, 50, enc);
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
    let pushed: Vec<Vec<String>> = [("session_y.py", &y), ("bridge_z.py", &z)]
        .iter()
        .map(|(name, proxy)| python_push(&script(name), proxy, 20, Encoding::V1_1))
        .collect();
    let comm = communicator(Encoding::V1_1);
    let yprx = session_y::sy::SessionServiceYStateReplicatorPrx::unchecked_cast(
        comm.string_to_proxy(&y).unwrap().unwrap(),
    );
    let sessions: BTreeMap<String, Session> =
        session_y::glue::Item::from_seq(yprx.get_all_state_items().await.unwrap())
            .into_iter()
            .map(|i| {
                let s = i
                    .downcast::<session_y::sy::SessionServiceYSessionStateItem>()
                    .unwrap();
                let s = s.read();
                (i.0.key.clone(), Session::from(&*s))
            })
            .collect();
    assert!(!sessions.is_empty());
    assert_eq!(sessions, replay(&pushed[0]));
    let zprx = bridge_z::bz::BridgeServiceZStateReplicatorPrx::unchecked_cast(
        comm.string_to_proxy(&z).unwrap().unwrap(),
    );
    let bridges: BTreeMap<String, Bridge> =
        bridge_z::glue::Item::from_seq(zprx.get_all_state_items().await.unwrap())
            .into_iter()
            .map(|i| {
                let b = i
                    .downcast::<bridge_z::bz::BridgeServiceZBridgeStateItem>()
                    .unwrap();
                let b = b.read();
                (b.base.key.clone(), Bridge::from(&*b))
            })
            .collect();
    assert!(!bridges.is_empty());
    assert_eq!(bridges, replay_bridges(&pushed[1]));
    comm.destroy().await;
}
