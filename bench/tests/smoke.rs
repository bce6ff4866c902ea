//! Keeps the benchmark from rotting: one Rust client/server run of every
//! figure with tiny counts (the client checks every echoed and received
//! sequence against the values it sent or expects), and the raw figures.

use ice_bench::client::{self, Config};
use ice_bench::ThroughputPrx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_round_trips() -> anyhow::Result<()> {
    let (server, port) = ice_bench::serve("127.0.0.1", 0).await?;
    let communicator = ice_proto::communicator::Communicator::new(ice_bench::properties());
    let proxy = communicator
        .string_to_proxy(&format!(
            "{}:tcp -h 127.0.0.1 -p {port}",
            ice_bench::OBJECT_NAME
        ))?
        .ok_or_else(|| anyhow::anyhow!("null proxy"))?;
    let prx = ThroughputPrx::checked_cast(&proxy)
        .await?
        .ok_or_else(|| anyhow::anyhow!("not a Throughput"))?;
    let config = Config {
        latency: 20,
        oneway: 40,
        callers: 4,
        byte_size: 70_000,
        seq_size: 300,
        byte_calls: 2,
        seq_calls: 2,
        only: Vec::new(),
    };
    let figures = client::run(&prx, &config, false).await?;
    let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.len(), 18, "{names:?}");
    assert!(names.contains(&"twoway-noop-x4"), "{names:?}");
    for f in &figures {
        assert!(f.micros > 0.0, "{f}");
        assert_eq!(f.mbps.is_some(), f.name.starts_with("bytes-"), "{f}");
    }

    // `only` picks single figures out of a group.
    let only = Config {
        only: vec!["bytes-echo".into(), "fixed-send".into()],
        ..config.clone()
    };
    let picked: Vec<String> = client::run(&prx, &only, false)
        .await?
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(picked, ["bytes-echo", "fixed-send"]);

    // The same values, one by one: what comes back is what was sent.
    let strings = ice_bench::string_seq(3);
    assert_eq!(strings, ["s-00000", "s-00001", "s-00002"]);
    assert_eq!(prx.echo_strings(&strings).await?, strings);
    assert_eq!(prx.recv_fixed(2).await?, ice_bench::fixed_seq(2));
    assert_eq!(prx.recv_bytes(300).await?.get(251), Some(&0));

    prx.shutdown().await?;
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        server.wait_for_shutdown(),
    )
    .await?;
    server.destroy().await;
    communicator.destroy().await;
    Ok(())
}

#[test]
fn raw_figures_round_trip() -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    std::thread::spawn(move || ice_bench::raw::serve(&listener));
    let figures = ice_bench::raw::run(&addr, 20, 100_000, 3)?;
    let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["raw-pingpong", "raw-bulk-send", "raw-bulk-echo"]);
    assert!(figures[0].mbps.is_none());
    assert!(figures[1].mbps.is_some_and(|m| m > 0.0));
    Ok(())
}
