//! The raw loopback limits (`ice_bench::raw`): `bench-raw server` prints
//! its port and serves forever; `bench-raw client PORT` prints the
//! `raw-*` figures.

use clap::{Parser, Subcommand};

/// Command line of `bench-raw`.
#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves on 127.0.0.1, any port (printed on stdout).
    Server,
    /// Measures against a raw server.
    Client {
        /// The server's port on 127.0.0.1.
        port: u16,
        /// Ping-pong round trips.
        #[arg(long, default_value_t = 5000)]
        latency: usize,
        /// Bytes per bulk message.
        #[arg(long, default_value_t = 500_000)]
        byte_size: usize,
        /// Bulk messages per figure.
        #[arg(long, default_value_t = 100)]
        byte_calls: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Server => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
            ice_bench::raw::serve(&listener);
        }
        Command::Client {
            port,
            latency,
            byte_size,
            byte_calls,
        } => {
            let addr = format!("127.0.0.1:{port}");
            for f in ice_bench::raw::run(&addr, latency, byte_size, byte_calls)? {
                println!("{f}");
            }
        }
    }
    Ok(())
}
