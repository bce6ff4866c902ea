//! The State Replicator glue slice2rs generated for five differently named
//! components (`Acme::Presence` with setState/getAllState/stateSet...,
//! `Telco` with subscribe/put/erase/fetch/snapshot, out-parameters and
//! `long` keys, `Depot`, whose remove operation takes items, and `Shop` and
//! `Lab`, whose key and operations metadata names), end to end over Ice in
//! one process: an active member sets and removes items
//! through the generated client and replicator servant, the pushes reach a
//! standby's generated listener servant, and get/get-all through the
//! generated proxy answer from the replicator's store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::sync::Arc;

use ice_proto::communicator::Communicator;
use ice_proto::properties::Properties;
use replicator::{Keyed, StateReplicator};
use support::{eventually, id};

// Not every generated accessor is used here.
#[allow(clippy::all, missing_docs, dead_code)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/replication_inputs.rs"));
}

/// Starts a replicator servant and two members (standby, each with its
/// listener servant) for one glue module; evaluates to
/// `(communicator, core, replicator proxy, member a, member b)`.
macro_rules! setup {
    ($glue:path) => {{
        use $glue as g;
        let comm = Communicator::new(Properties::new());
        let radapter = comm
            .create_object_adapter_with_endpoints("R", "tcp -h 127.0.0.1 -p 0")
            .await
            .unwrap();
        let core = StateReplicator::<g::Item>::default();
        let rprx = radapter.add(
            g::ReplicatorServant::new(core.clone(), comm.clone()).into_dispatcher(),
            id("Replicator"),
        );
        radapter.activate();
        let ladapter = comm
            .create_object_adapter_with_endpoints("L", "tcp -h 127.0.0.1 -p 0")
            .await
            .unwrap();
        ladapter.activate();
        let mut members = Vec::new();
        for name in ["a", "b"] {
            let listener = g::MemberListener::default();
            let slot = Arc::clone(&listener.slot);
            let lprx = ladapter.add(listener.into_dispatcher(), id(name));
            let member = g::Member::new_standby(g::Client::new(rprx.clone(), &lprx));
            *slot.lock().unwrap() = Some(member.clone());
            member.join().await.unwrap();
            members.push(member);
        }
        let b = members.pop().unwrap();
        let a = members.pop().unwrap();
        (comm, core, rprx, a, b)
    }};
}

fn sorted<I: Keyed>(items: Vec<I>) -> Vec<I>
where
    I::Key: Ord,
{
    let mut items = items;
    items.sort_by_key(Keyed::key);
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_component_state_names() {
    use generated::acme::presence as p;
    use generated::replication::presence_state_replicator as g;
    let (comm, core, rprx, a, b) = setup!(generated::replication::presence_state_replicator);
    assert_eq!(core.listener_count(), 2);
    assert!(a.activate().await.unwrap());
    let user = |id: &str, online: bool| {
        g::Item::new(p::UserPresence {
            base: p::StateItem {
                id: id.to_owned(),
                version: 1,
            },
            user: format!("user-{id}"),
            online,
        })
    };
    a.set(
        (0..20)
            .map(|i| user(&format!("u{i:02}"), i % 2 == 0))
            .collect(),
    )
    .await
    .unwrap();
    a.set(vec![user("u03", true)]).await.unwrap();
    a.remove(vec!["u05".into(), "u07".into(), "nobody".into()])
        .await
        .unwrap();
    assert_eq!(core.len(), 18);
    eventually("the standby to catch up", || b.len() == 18).await;
    assert_eq!(sorted(b.snapshot()), sorted(a.snapshot()));
    let u03 = b.get(&"u03".to_owned()).unwrap();
    assert!(u03.downcast::<p::UserPresence>().unwrap().read().online);
    assert!(b.get(&"u05".to_owned()).is_none());

    // get and get-all through the generated proxy.
    let prx = p::PresenceStateReplicatorPrx::unchecked_cast(rprx);
    let got = g::Item::from_seq(
        prx.get_state(&["u01".into(), "u05".into(), "u02".into()])
            .await
            .unwrap(),
    );
    assert_eq!(
        got.iter().map(Keyed::key).collect::<Vec<_>>(),
        vec!["u01".to_owned(), "u02".to_owned()]
    );
    let all = g::Item::from_seq(prx.get_all_state().await.unwrap());
    assert_eq!(sorted(all), sorted(a.snapshot()));

    // The standby takes over with the whole state.
    assert!(b.activate().await.unwrap());
    assert_eq!(b.len(), 18);
    comm.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telco_component_other_naming() {
    use generated::replication::journal as g;
    use generated::telco as t;
    let (comm, core, rprx, a, b) = setup!(generated::replication::journal);
    assert!(a.activate().await.unwrap());
    let counter = |id: i64, count: i32| {
        let mut c = t::Counter::default();
        c.base.base.record_id = id;
        c.base.label = format!("c{id}");
        c.count = count;
        g::Item::new(c)
    };
    let entry = |id: i64| {
        let mut e = t::Entry::default();
        e.base.record_id = id;
        e.label = "plain".into();
        g::Item::new(e)
    };
    for round in 0..5 {
        a.set((0..10).map(|i| counter(i, round)).collect())
            .await
            .unwrap();
        a.set(vec![entry(100 + i64::from(round))]).await.unwrap();
        a.remove(vec![i64::from(round)]).await.unwrap();
    }
    // Counters 0..=9 less the last round's removal, and five entries.
    assert_eq!(core.len(), 14);
    eventually("the standby to catch up", || {
        sorted(b.snapshot()) == sorted(a.snapshot())
    })
    .await;
    let c9 = b.get(&9).unwrap();
    assert_eq!(c9.downcast::<t::Counter>().unwrap().read().count, 4);
    assert!(c9.is::<t::Entry>());
    assert!(!b.get(&100).unwrap().is::<t::Counter>());

    let prx = t::JournalPrx::unchecked_cast(rprx);
    let found = g::Item::from_seq(prx.fetch(&[100, 4, 9]).await.unwrap());
    assert_eq!(
        found.iter().map(Keyed::key).collect::<Vec<_>>(),
        vec![100, 9]
    );
    let all = g::Item::from_seq(prx.snapshot().await.unwrap());
    assert_eq!(sorted(all), sorted(a.snapshot()));
    comm.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depot_component_removes_by_items() {
    use generated::depot as d;
    use generated::replication::parcel_replicator as g;
    let (comm, core, rprx, a, b) = setup!(generated::replication::parcel_replicator);
    assert!(a.activate().await.unwrap());
    let parcel = |code: &str, weight: i32| {
        g::Item::new(d::Parcel {
            code: code.to_owned(),
            weight,
        })
    };
    a.set((0..8).map(|i| parcel(&format!("p{i}"), i)).collect())
        .await
        .unwrap();
    // The member's removal goes out as `ship` with key-only parcels.
    a.remove(vec!["p1".into(), "p6".into()]).await.unwrap();
    assert_eq!(core.len(), 6);
    eventually("the standby to catch up", || b.len() == 6).await;
    assert_eq!(sorted(b.snapshot()), sorted(a.snapshot()));
    // A client shipping whole parcels removes their keys.
    let prx = d::ParcelReplicatorPrx::unchecked_cast(rprx);
    prx.ship(&g::Item::to_seq(&[parcel("p2", 2), parcel("p3", 99)]))
        .await
        .unwrap();
    assert_eq!(core.len(), 4);
    eventually("the pushes of ship to arrive", || b.len() == 4).await;
    assert!(b.get(&"p3".to_owned()).is_none());
    let all = g::Item::from_seq(prx.all().await.unwrap());
    assert_eq!(
        sorted(all).iter().map(Keyed::key).collect::<Vec<_>>(),
        vec!["p0", "p4", "p5", "p7"]
    );
    comm.destroy().await;
}

/// Sets and removals through one component's generated glue reach the
/// standby; `$item` makes an item from a key.
macro_rules! round_trip {
    ($glue:path, $item:expr) => {{
        let (comm, core, _rprx, a, b) = setup!($glue);
        assert!(a.activate().await.unwrap());
        a.set(["k1", "k2", "k3"].into_iter().map($item).collect())
            .await
            .unwrap();
        a.remove(vec!["k2".to_owned()]).await.unwrap();
        assert_eq!(core.len(), 2);
        eventually("the standby to catch up", || b.len() == 2).await;
        assert_eq!(sorted(b.snapshot()), sorted(a.snapshot()));
        assert!(b.get(&"k2".to_owned()).is_none());
        comm.destroy().await;
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_component_key_named_by_metadata() {
    use generated::replication::catalog_replicator as g;
    use generated::shop as s;
    round_trip!(generated::replication::catalog_replicator, |k: &str| {
        g::Item::new(s::Article {
            name: "same name".to_owned(),
            sku: k.to_owned(),
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_component_operations_named_by_metadata() {
    use generated::lab as l;
    use generated::replication::sample_store as g;
    round_trip!(generated::replication::sample_store, |k: &str| {
        g::Item::new(l::Sample { name: k.to_owned() })
    });
}
