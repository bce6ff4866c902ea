//! Replicator benchmark: state changes per second through a
//! `ChannelServiceXStateReplicator` to 1, 4 and 16 listeners, and the time
//! from a `setStateItems` call to the change reaching a listener.
//!
//! For each round, listener count and replicator (`--rust`, `--cpp`, in
//! turn), it starts a fresh replicator process, starts that many listeners
//! in this process, each on its own object adapter (its own port, so the
//! replicator holds one real Ice connection per listener, as with standby
//! replicas), and registers them with `addListener`. Every item is a
//! `ChannelServiceXChannelStateItem` whose `createdAt` holds the time of
//! the `set` call in nanoseconds on this process's clock; each listener
//! takes the difference on arrival.
//!
//! - *propagation*: `--probes` changes, one at a time, each sent when every
//!   listener got the one before: median and 99th percentile of the delay
//!   over all listeners (the replicator unloaded);
//! - *load*: `--changes` changes, one `setStateItems` call after another,
//!   as an active component sends them: changes per second from the first
//!   call to the last change reaching the last listener, and the delays
//!   under that load.
//!
//! Prints `replicator <name> <listeners> <changes/s> <median µs> <p99 µs>
//! <load median µs> <load p99 µs>` per run.
//!
//! With `--failover N` and `--member` (`channel-service-x`), it then
//! measures failover N times: a Rust replicator and two members on
//! standby, the first activated (`Replica::activate`) and given
//! `--channels` channels through its `ChannelService`, then killed
//! (SIGKILL); the time from calling `activate` on the second to its first
//! served `listChannels` (which must list every channel) is printed as
//! `failover <ms>`.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::Parser;
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::codegen::Class;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use replicator::channel_x::cx;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// Command line of `bench-replicator`.
#[derive(Parser)]
struct Args {
    /// The Rust replicator (`scf-replicator`).
    #[arg(long)]
    rust: Option<String>,
    /// The C++ replicator peer (`scf-cpp-replicator`).
    #[arg(long)]
    cpp: Option<String>,
    /// Listener counts.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    listeners: Vec<usize>,
    /// Changes of the load phase.
    #[arg(long, default_value_t = 5000)]
    changes: usize,
    /// Changes of the propagation phase.
    #[arg(long, default_value_t = 500)]
    probes: usize,
    /// Rounds (each runs every listener count on every replicator).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Failover measurements (needs `--rust` and `--member`).
    #[arg(long, default_value_t = 0)]
    failover: usize,
    /// The Rust component (`channel-service-x`), for `--failover`.
    #[arg(long)]
    member: Option<String>,
    /// Channels created before each failover.
    #[arg(long, default_value_t = 1000)]
    channels: usize,
}

/// The clock every `createdAt` and arrival is read from.
fn now_nanos() -> i64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    i64::try_from(epoch.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

/// A listener that records the delay of every item it receives.
#[derive(Clone)]
struct Recorder {
    received: Arc<AtomicUsize>,
    delays: Arc<Mutex<Vec<i64>>>,
    /// Shared by every recorder of a run; woken after each arrival.
    arrived: Arc<Notify>,
}

impl cx::ChannelServiceXStateReplicatorListener for Recorder {
    async fn state_items_set(
        &self,
        items: cx::ChannelServiceXStateItemSeq,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        let now = now_nanos();
        let mut n = 0;
        if let Ok(mut delays) = self.delays.lock() {
            for item in items.iter().flatten() {
                if let Some(c) = item.downcast::<cx::ChannelServiceXChannelStateItem>() {
                    delays.push(now - c.read().created_at);
                    n += 1;
                }
            }
        }
        self.received.fetch_add(n, Ordering::Release);
        self.arrived.notify_waiters();
        Ok(())
    }

    async fn state_items_removed(
        &self,
        _keys: cx::ChannelServiceXStateItemKeySeq,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        Ok(())
    }
}

/// A replicator process, killed on drop.
struct Replicator {
    _child: Child,
    proxy: String,
}

/// Starts `path` with `args` and returns it with the tab-separated fields
/// of its `READY` line.
async fn spawn_ready(path: &str, args: &[String]) -> Result<(Child, Vec<String>)> {
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {path}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .context("replicator printed no READY line")??
        .context("replicator exited")?;
    let fields = line
        .strip_prefix("READY\t")
        .with_context(|| format!("unexpected first line {line:?}"))?
        .split('\t')
        .map(str::to_owned)
        .collect();
    // Keep reading (DROPPED lines) so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, fields))
}

async fn spawn_replicator(path: &str) -> Result<Replicator> {
    let endpoints = "--ChannelServiceXReplicator.Endpoints=tcp -h 127.0.0.1 -p 0".to_owned();
    let (child, fields) = spawn_ready(path, &[endpoints]).await?;
    Ok(Replicator {
        _child: child,
        proxy: fields
            .first()
            .cloned()
            .context("no proxy on the READY line")?,
    })
}

/// One failover: returns the milliseconds from `activate` on the standby
/// to its first served request.
async fn failover(replicator: &str, member: &str, channels: usize) -> Result<f64> {
    use replicator::channel_x::component::ReplicaPrx;
    let rep = spawn_replicator(replicator).await?;
    let arg = vec![format!(
        "--ChannelServiceX.StateReplicatorName={}",
        rep.proxy
    )];
    let (mut a, fa) = spawn_ready(member, &arg).await?;
    let (_b, fb) = spawn_ready(member, &arg).await?;
    let communicator = Communicator::new(ice_proto::properties::Properties::new());
    let proxy = |text: Option<&String>| -> Result<ice_proto::proxy::ObjectPrx> {
        communicator
            .string_to_proxy(text.context("missing proxy on a READY line")?)?
            .context("null proxy")
    };
    let a_service = cx::ChannelServicePrx::unchecked_cast(proxy(fa.first())?);
    let a_replica = ReplicaPrx::unchecked_cast(proxy(fa.get(1))?);
    let b_service = cx::ChannelServicePrx::unchecked_cast(proxy(fb.first())?);
    let b_replica = ReplicaPrx::unchecked_cast(proxy(fb.get(1))?);
    a_replica.activate().await?;
    for i in 0..channels {
        a_service
            .create_channel(&format!("ch{i}"), &format!("sip:ch{i}@127.0.0.1"))
            .await?;
    }
    // Let the standby receive the last pushes, as it would between changes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.start_kill()?;
    let _ = a.wait().await;
    let start = Instant::now();
    b_replica.activate().await?;
    let listed = b_service.list_channels().await?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if listed.len() != channels {
        bail!(
            "the new active lists {} channels, {channels} were created",
            listed.len()
        );
    }
    communicator.destroy().await;
    Ok(ms)
}

fn item(i: usize) -> Option<Class<cx::ChannelServiceXStateItem>> {
    let key = format!("k{}", i % 1000);
    Some(
        Class::new(cx::ChannelServiceXChannelStateItem {
            base: cx::ChannelServiceXStateItem { key: key.clone() },
            channel_id: key,
            endpoint: "sip:bench@127.0.0.1".into(),
            state: cx::ChannelState::Up,
            created_at: now_nanos(),
        })
        .upcast(),
    )
}

/// Waits until every recorder received `n` items.
async fn wait_all(
    recorders: &[Recorder],
    arrived: &Notify,
    n: usize,
    limit: Duration,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let notified = arrived.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if recorders
            .iter()
            .all(|r| r.received.load(Ordering::Acquire) >= n)
        {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            let got: Vec<usize> = recorders
                .iter()
                .map(|r| r.received.load(Ordering::Acquire))
                .collect();
            bail!("listeners received {got:?} of {n} changes in {limit:?}");
        }
    }
}

/// Takes every recorded delay (µs, sorted) and resets the counters.
fn take_delays(recorders: &[Recorder]) -> Vec<f64> {
    let mut all = Vec::new();
    for r in recorders {
        if let Ok(mut d) = r.delays.lock() {
            all.extend(d.drain(..).map(|ns| ns as f64 / 1000.0));
        }
        r.received.store(0, Ordering::Release);
    }
    all.sort_by(f64::total_cmp);
    all
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One run: a fresh replicator, `listeners` listeners, both phases.
async fn run(name: &str, path: &str, listeners: usize, args: &Args) -> Result<String> {
    let replicator = spawn_replicator(path).await?;
    let communicator = Communicator::new(ice_proto::properties::Properties::new());
    let proxy = communicator
        .string_to_proxy(&replicator.proxy)?
        .context("null replicator proxy")?;
    let rep = cx::ChannelServiceXStateReplicatorPrx::unchecked_cast(proxy);
    let arrived = Arc::new(Notify::new());
    let mut recorders = Vec::new();
    for i in 0..listeners {
        let adapter = communicator
            .create_object_adapter_with_endpoints(&format!("Listener{i}"), "tcp -h 127.0.0.1 -p 0")
            .await?;
        let recorder = Recorder {
            received: Arc::new(AtomicUsize::new(0)),
            delays: Arc::new(Mutex::new(Vec::new())),
            arrived: arrived.clone(),
        };
        let prx = adapter.add(
            cx::ChannelServiceXStateReplicatorListenerServant::new(recorder.clone()),
            Identity {
                name: format!("listener{i}"),
                category: String::new(),
            },
        );
        adapter.activate();
        rep.add_listener(Some(
            &cx::ChannelServiceXStateReplicatorListenerPrx::unchecked_cast(prx),
        ))
        .await?;
        recorders.push(recorder);
    }

    // Warm-up: every connection open, every path taken once.
    for i in 0..20 {
        rep.set_state_items(&[item(i)]).await?;
    }
    wait_all(&recorders, &arrived, 20, Duration::from_secs(10)).await?;
    let _ = take_delays(&recorders);

    for i in 0..args.probes {
        rep.set_state_items(&[item(i)]).await?;
        wait_all(&recorders, &arrived, i + 1, Duration::from_secs(10)).await?;
    }
    let probe = take_delays(&recorders);

    let start = Instant::now();
    for i in 0..args.changes {
        rep.set_state_items(&[item(i)]).await?;
    }
    wait_all(&recorders, &arrived, args.changes, Duration::from_secs(120)).await?;
    let secs = start.elapsed().as_secs_f64();
    let load = take_delays(&recorders);
    communicator.destroy().await;
    drop(replicator);
    Ok(format!(
        "replicator {name} {listeners} {:.0} {:.1} {:.1} {:.1} {:.1}",
        args.changes as f64 / secs,
        percentile(&probe, 0.5),
        percentile(&probe, 0.99),
        percentile(&load, 0.5),
        percentile(&load, 0.99),
    ))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut sides = Vec::new();
    if let Some(p) = &args.cpp {
        sides.push(("cpp", p.clone()));
    }
    if let Some(p) = &args.rust {
        sides.push(("rs", p.clone()));
    }
    if sides.is_empty() {
        bail!("give --rust and/or --cpp");
    }
    if args.rounds == 0 {
        sides.clear();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for _ in 0..args.rounds {
            for &n in &args.listeners {
                for (name, path) in &sides {
                    println!("{}", run(name, path, n, &args).await?);
                }
            }
        }
        if args.failover > 0 {
            let (Some(rust), Some(member)) = (&args.rust, &args.member) else {
                bail!("--failover needs --rust and --member");
            };
            for _ in 0..args.failover {
                println!(
                    "failover {:.1}",
                    failover(rust, member, args.channels).await?
                );
            }
        }
        Ok(())
    })
}
