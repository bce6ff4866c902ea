//! `replica-ctl activate|standby|status PROXY`: drives a replica-group
//! member's `Replica`, for an external cluster manager.
//!
//! Exit codes (the convention of `tests/peers/replica_ctl.py`): `status` 0
//! active, 3 standby; `activate` 0 active, 1 refused; `standby` 0; any
//! command 2 when the member cannot be reached in time (`--Ctl.Timeout=MS`,
//! default 3000); 1 usage or other error.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ice_proto::communicator::Communicator;
use ice_proto::RuntimeError;
use replicator::channel_x::component::ReplicaPrx;
use replicator::cli;

const EXIT_ERROR: u8 = 1;
const EXIT_UNREACHABLE: u8 = 2;
const EXIT_STANDBY: u8 = 3;

/// What to do.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Command {
    /// Make the member active.
    Activate,
    /// Put the member on standby.
    Standby,
    /// Report whether the member is active (0) or on standby (3).
    Status,
}

/// Drives a replica-group member's Replica object.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The command.
    command: Command,
    /// The stringified proxy of the member's Replica.
    proxy: String,
}

fn unreachable(e: &RuntimeError) -> bool {
    !matches!(
        e,
        RuntimeError::UnknownUserException(_) | RuntimeError::ProxyParse { .. }
    ) && !e.to_string().contains("does not exist")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (props, rest) = match cli::properties_from_args(std::env::args().skip(1).collect(), &[]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let args = match Args::try_parse_from(std::iter::once("replica-ctl".to_owned()).chain(rest)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let timeout = props.get_property_as_int_with_default("Ctl.Timeout", 3000);
    let timeout = Duration::from_millis(u64::try_from(timeout.max(1)).unwrap_or(3000));
    let communicator = Communicator::new(props.with("Ice.RetryIntervals", "-1"));
    let proxy = match communicator.string_to_proxy(&args.proxy) {
        Ok(Some(p)) => p,
        Ok(None) | Err(_) => {
            eprintln!("error: `{}` is not a proxy", args.proxy);
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let replica = ReplicaPrx::unchecked_cast(proxy.ice_invocation_timeout(Some(timeout)));
    let call = async {
        match args.command {
            Command::Status => replica.is_active().await.map(|a| {
                if a {
                    println!("active");
                    0
                } else {
                    println!("standby");
                    EXIT_STANDBY
                }
            }),
            Command::Activate => replica.activate().await.map(|ok| {
                if ok {
                    println!("active");
                    0
                } else {
                    eprintln!("error: the member refused to activate");
                    EXIT_ERROR
                }
            }),
            Command::Standby => replica.standby().await.map(|()| {
                println!("standby");
                0
            }),
        }
    };
    let code = match tokio::time::timeout(timeout, call).await {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            if unreachable(&e) {
                EXIT_UNREACHABLE
            } else {
                EXIT_ERROR
            }
        }
        Err(_) => {
            eprintln!("error: no answer within {} ms", timeout.as_millis());
            EXIT_UNREACHABLE
        }
    };
    ExitCode::from(code)
}
