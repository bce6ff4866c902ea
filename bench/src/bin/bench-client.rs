//! The Rust benchmark client: runs the figures of `ice_bench::client`
//! against a `::Bench::Throughput` server (ours or ZeroC's) and prints one
//! `figure` line each.

use anyhow::Context as _;
use clap::Parser;
use ice_bench::client::Config;
use ice_bench::ThroughputPrx;

/// Command line of `bench-client`.
#[derive(Parser)]
struct Args {
    /// The server's port on `--host`.
    port: u16,
    /// The server's host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Calls per latency figure.
    #[arg(long, default_value_t = 5000)]
    latency: usize,
    /// Requests per oneway figure.
    #[arg(long, default_value_t = 50_000)]
    oneway: usize,
    /// Concurrent callers of the `-x` figures.
    #[arg(long, default_value_t = 8)]
    callers: usize,
    /// Bytes in the byte sequence.
    #[arg(long, default_value_t = 500_000)]
    byte_size: usize,
    /// Elements of the string and struct sequences.
    #[arg(long, default_value_t = 50_000)]
    seq_size: usize,
    /// Calls per byte-sequence figure.
    #[arg(long, default_value_t = 100)]
    byte_calls: usize,
    /// Calls per string or struct sequence figure.
    #[arg(long, default_value_t = 20)]
    seq_calls: usize,
    /// Only figures whose names start with one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Tokio worker threads; 0 runs everything on one thread.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Call `shutdown` on the server at the end.
    #[arg(long)]
    shutdown: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config {
        latency: args.latency,
        oneway: args.oneway,
        callers: args.callers,
        byte_size: args.byte_size,
        seq_size: args.seq_size,
        byte_calls: args.byte_calls,
        seq_calls: args.seq_calls,
        only: args.only.clone(),
    };
    let runtime = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    // The figures run in a spawned task, not as the `block_on` future:
    // tokio's current-thread scheduler polls its I/O driver once more
    // (an extra `epoll_wait`) before resuming a woken `block_on` future,
    // which would add a system call to every twoway round trip.
    let work = async move {
        let communicator = ice_proto::communicator::Communicator::new(ice_bench::properties());
        let proxy = communicator
            .string_to_proxy(&format!(
                "{}:tcp -h {} -p {}",
                ice_bench::OBJECT_NAME,
                args.host,
                args.port
            ))?
            .context("null proxy")?;
        let prx = ThroughputPrx::checked_cast(&proxy)
            .await?
            .context("not a ::Bench::Throughput")?;
        ice_bench::client::run(&prx, &config, true).await?;
        if args.shutdown {
            prx.shutdown().await?;
        }
        communicator.destroy().await;
        anyhow::Ok(())
    };
    runtime.block_on(async { tokio::spawn(work).await? })
}
