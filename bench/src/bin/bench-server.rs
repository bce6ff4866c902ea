//! The Rust benchmark server: serves `::Bench::Throughput` as
//! `throughput` on loopback, prints its port on the first line of
//! stdout, and runs until a client calls `shutdown` (or it is killed).

use clap::Parser;

/// Command line of `bench-server`.
#[derive(Parser)]
struct Args {
    /// Host to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Tokio worker threads; 0 runs everything on one thread.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
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
    runtime.block_on(async {
        let (communicator, port) = ice_bench::serve(&args.host, args.port).await?;
        println!("{port}");
        communicator.wait_for_shutdown().await;
        communicator.destroy().await;
        Ok(())
    })
}
