//! A state far larger than `Ice.MessageSizeMax` (1 MiB by default, which
//! the whole `getAllStateItems` reply of about 20,000 channels exceeds):
//! the real `scf-replicator` filled with `LARGE_STATE_ITEMS` channels
//! (default 200,000, about 20 MB encoded; the 1,000,000 with
//! `LARGE_STATE_ITEMS=1000000`), then a new `channel-service-x` standby
//! with default settings joins and catches up (in pages), is activated by
//! `replica-ctl` and serves the channels. Prints the catch-up and
//! activation times.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ice_proto::communicator::Communicator;
use ice_proto::properties::Properties;
use interop_tests::peers::{channel_client, Peer, CTL_ACTIVE};
use replicator::channel_x::{cx, glue, StateItem};
use support::{run_bounded, spawn_replicator, COMPONENT, CTL, LOOPBACK_REPLICATOR};

/// Items per `setStateItems` call while filling.
const BATCH: usize = 2000;

fn channel(n: usize) -> StateItem {
    let id = format!("c{n}");
    StateItem::new(cx::ChannelServiceXChannelStateItem {
        base: cx::ChannelServiceXStateItem { key: id.clone() },
        channel_id: id.clone(),
        endpoint: format!("sip:{id}@example.org"),
        state: cx::ChannelState::Up,
        created_at: i64::try_from(n).unwrap(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_joins_and_takes_over_a_state_larger_than_message_size_max() {
    let items: usize = std::env::var("LARGE_STATE_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let replicator = spawn_replicator(&[LOOPBACK_REPLICATOR.to_owned()]);
    let proxy = replicator.proxy(0).to_owned();

    let comm = Communicator::new(Properties::new());
    let prx = cx::ChannelServiceXStateReplicatorPrx::unchecked_cast(
        comm.string_to_proxy(&proxy).unwrap().unwrap(),
    );
    let filling = Instant::now();
    for start in (0..items).step_by(BATCH) {
        let batch: Vec<StateItem> = (start..(start + BATCH).min(items)).map(channel).collect();
        prx.set_state_items(&glue::Item::to_seq(&batch))
            .await
            .unwrap();
    }
    eprintln!("filled {items} channels in {:?}", filling.elapsed());

    // The whole state in one reply is beyond the default limit: the old
    // operation cannot carry it (it is still served for smaller states).
    if items >= 20_000 {
        let err = prx.get_all_state_items().await.err();
        assert!(err.is_some(), "a {items}-item getAllStateItems reply fit");
    }

    let joining = Instant::now();
    // A million channels take a while to catch up in a debug build: wait
    // for READY longer than the usual 20 s.
    let member = tokio::task::block_in_place(|| {
        Peer::spawn_with_timeout(
            "rust-late",
            Path::new(COMPONENT),
            &[format!("--ChannelServiceX.StateReplicatorName={proxy}")],
            Duration::from_secs(300),
        )
        .unwrap()
    });
    let catch_up = joining.elapsed();
    let activating = Instant::now();
    let out = tokio::task::block_in_place(|| {
        run_bounded(
            Command::new(CTL).args(["activate", member.proxy(1), "--Ctl.Timeout=120000"]),
            Duration::from_secs(180),
        )
    });
    assert_eq!(out.code, Some(CTL_ACTIVE), "{out:?}");
    let activation = activating.elapsed();
    eprintln!(
        "{items} channels: a new standby caught up in {catch_up:?} (start-up included), \
         activated in {activation:?}, with the default Ice.MessageSizeMax"
    );
    for n in [0, items / 2, items - 1] {
        let id = format!("c{n}");
        let out = tokio::task::block_in_place(|| {
            channel_client(member.proxy(0), &["get", &id], &[]).unwrap()
        });
        assert_eq!(out.code, Some(0), "{id}: {out:?}");
        assert!(
            out.stdout.contains(&format!("sip:{id}@example.org")),
            "{out:?}"
        );
    }
    drop(comm);
}
