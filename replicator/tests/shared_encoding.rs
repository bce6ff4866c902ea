//! A change is encoded once for all the listeners of one encoding, and each
//! listener still receives exactly the request its own proxy sends: a
//! ZeroC Python object that prints the raw requests it receives
//! (`tests/peers/raw_listener.py`, an `Ice.Blobject`) listens as two
//! encoding 1.0 and two encoding 1.1 listeners of a replicator core behind
//! the generated glue; every change, delivered one at a time (so never
//! merged), must arrive byte for byte as the generated proxy method of the
//! listener's operation sends it to the same object in that encoding.
//! ChannelServiceX removes through `stateItemsRemoved`, BridgeServiceZ
//! through removal items in `stateItemsSet`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ice_proto::communicator::Communicator;
use ice_proto::properties::Properties;
use ice_proto::proxy::ObjectPrx;
use interop_tests::peers::{Peer, PYTHON};
use replicator::{Keyed, Listener, StateReplicator};

/// One change made on the replicator.
enum Step<I: Keyed> {
    Set(Vec<I>),
    Remove(Vec<I::Key>),
}

/// What the raw listener printed for one request, without the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    operation: String,
    mode: String,
    encoding: String,
    params: String,
}

/// The listeners fed by the shared encodings: (identity, encoding).
const SHARED: [(&str, &str); 4] = [
    ("a10", "1.0"),
    ("b10", "1.0"),
    ("a11", "1.1"),
    ("b11", "1.1"),
];

/// The raw listener, once it printed READY.
fn raw_listener() -> Peer {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/raw_listener.py");
    tokio::task::block_in_place(|| {
        Peer::spawn(
            "raw-listener",
            Path::new(PYTHON),
            &[script.display().to_string()],
        )
        .unwrap()
    })
}

/// A twoway proxy to `identity` at the raw listener, in `encoding`.
fn raw_proxy(comm: &Communicator, peer: &Peer, identity: &str, encoding: &str) -> ObjectPrx {
    let (_, endpoints) = peer.proxy(0).split_once(':').unwrap();
    comm.string_to_proxy(&format!("{identity} -t -e {encoding}:{endpoints}"))
        .unwrap()
        .unwrap()
}

/// The next `n` requests the raw listener printed, by identity.
fn requests(peer: &mut Peer, n: usize) -> BTreeMap<String, Request> {
    tokio::task::block_in_place(|| {
        let mut got = BTreeMap::new();
        for _ in 0..n {
            let line = peer.read_line(Duration::from_secs(20)).unwrap();
            let f: Vec<&str> = line.split(' ').collect();
            assert!(f.len() == 6 && f[0] == "REQUEST", "{line}");
            let request = Request {
                operation: f[2].to_owned(),
                mode: f[3].to_owned(),
                encoding: f[4].to_owned(),
                params: f[5].to_owned(),
            };
            assert!(got.insert(f[1].to_owned(), request).is_none(), "{line}");
        }
        got
    })
}

/// Registers the shared listeners (made by `listener` from their
/// proxies) with a core, makes each of `steps` and compares what every
/// listener received with what `reference` (the generated proxy method)
/// sends in its encoding.
async fn check<I, L>(
    listener: impl Fn(ObjectPrx) -> L,
    reference: impl AsyncFn(&ObjectPrx, &Step<I>),
    steps: Vec<Step<I>>,
) where
    I: Keyed,
    L: Listener<I>,
{
    let comm = Communicator::new(Properties::new());
    let mut peer = raw_listener();
    let core = StateReplicator::<I>::default();
    for (identity, encoding) in SHARED {
        core.add_listener(listener(raw_proxy(&comm, &peer, identity, encoding)));
    }
    let ref10 = raw_proxy(&comm, &peer, "ref10", "1.0");
    let ref11 = raw_proxy(&comm, &peer, "ref11", "1.1");
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Set(items) => core.set_items(items.clone()).await.unwrap(),
            Step::Remove(keys) => core.remove_items(keys.clone()).await.unwrap(),
        }
        // Every listener has this change before the next is made.
        let shared = requests(&mut peer, SHARED.len());
        reference(&ref10, step).await;
        let want10 = requests(&mut peer, 1).remove("ref10").unwrap();
        reference(&ref11, step).await;
        let want11 = requests(&mut peer, 1).remove("ref11").unwrap();
        assert_eq!(want10.encoding, "1.0");
        assert_eq!(want11.encoding, "1.1");
        if matches!(step, Step::Set(_)) {
            // Classes are written differently in 1.0 and 1.1: a mix-up shows.
            assert_ne!(want10.params, want11.params, "step {i}");
        }
        for (identity, encoding) in SHARED {
            let want = if encoding == "1.0" { &want10 } else { &want11 };
            assert_eq!(
                shared.get(identity),
                Some(want),
                "step {i}, listener {identity}"
            );
        }
    }
    assert_eq!(core.listener_count(), SHARED.len());
    tokio::task::block_in_place(|| {
        peer.close_stdin();
        assert_eq!(
            peer.wait_exit(Duration::from_secs(10)).unwrap(),
            Some(0),
            "{}",
            peer.stderr()
        );
    });
    comm.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_x_listeners_receive_the_bytes_their_proxies_send() {
    use replicator::channel_x::{cx, glue};
    let channel = |key: &str, state: cx::ChannelState, at: i64| {
        glue::Item::new(cx::ChannelServiceXChannelStateItem {
            base: cx::ChannelServiceXStateItem { key: key.into() },
            channel_id: format!("id-{key}"),
            endpoint: format!("sip:{key}@127.0.0.1"),
            state,
            created_at: at,
        })
    };
    let steps = vec![
        Step::Set(vec![channel("c1", cx::ChannelState::Up, 1)]),
        Step::Set(vec![
            channel("c2", cx::ChannelState::Down, 2),
            channel("c3", cx::ChannelState::Up, -3),
            channel("c1", cx::ChannelState::Down, 4),
        ]),
        Step::Remove(vec!["c2".into(), "nowhere".into()]),
        Step::Set(vec![channel("é", cx::ChannelState::Up, i64::MAX)]),
    ];
    check(
        glue::ListenerProxy::new,
        async |prx: &ObjectPrx, step: &Step<glue::Item>| {
            let l = cx::ChannelServiceXStateReplicatorListenerPrx::unchecked_cast(prx.clone());
            match step {
                Step::Set(items) => l.state_items_set(&glue::Item::to_seq(items)).await,
                Step::Remove(keys) => l.state_items_removed(keys).await,
            }
            .unwrap();
        },
        steps,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_z_listeners_receive_the_bytes_their_proxies_send() {
    use replicator::bridge_z::{bz, glue};
    let bridge = |key: &str, members: &[&str], rate: i32| {
        glue::Item::new(bz::BridgeServiceZBridgeStateItem {
            base: bz::BridgeServiceZStateItem { key: key.into() },
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            mixing_rate: rate,
        })
    };
    let steps = vec![
        Step::Set(vec![bridge("b1", &["c1", "c2"], 8000)]),
        Step::Set(vec![bridge("b2", &[], 16000), bridge("b1", &["c3"], 8000)]),
        Step::Remove(vec!["b1".into()]),
        Step::Set(vec![bridge("b3", &["c4"], 48000)]),
    ];
    check(
        glue::ListenerProxy::new,
        async |prx: &ObjectPrx, step: &Step<glue::Item>| {
            let l = bz::BridgeServiceZStateReplicatorListenerPrx::unchecked_cast(prx.clone());
            let items = match step {
                Step::Set(items) => glue::Item::to_seq(items),
                Step::Remove(keys) => glue::Item::to_seq(
                    &keys
                        .iter()
                        .cloned()
                        .map(glue::Item::removal)
                        .collect::<Vec<_>>(),
                ),
            };
            l.state_items_set(&items).await.unwrap();
        },
        steps,
    )
    .await;
}
