//! The client's figures: each one a warm-up, then a timed run of calls on
//! one connection, printed as `figure <name> <µs per call> <MB/s or ->`.
//!
//! Latency figures (`twoway-*`) time one call after another; the `-x8`
//! variants run [`Config::callers`] callers at once on the same proxy and
//! report the wall time divided by all calls. Oneway figures send
//! [`Config::oneway`] requests, then wait for the server's `count` (a
//! twoway, answered after every oneway before it was dispatched), so the
//! time covers the server's work too. Sequence figures send, receive or
//! echo one sequence per call and check the values once before timing.

use std::time::Instant;

use anyhow::{bail, ensure, Result};

use crate::{byte_seq, fixed_seq, small_seq, string_seq, ThroughputPrx};

/// How much each figure does.
#[derive(Debug, Clone)]
pub struct Config {
    /// Calls per latency figure.
    pub latency: usize,
    /// Requests per oneway figure.
    pub oneway: usize,
    /// Concurrent callers of the `-x8` figures.
    pub callers: usize,
    /// Bytes in the byte sequence.
    pub byte_size: usize,
    /// Elements in the string and struct sequences.
    pub seq_size: usize,
    /// Calls per byte-sequence figure.
    pub byte_calls: usize,
    /// Calls per string or struct sequence figure.
    pub seq_calls: usize,
    /// Only figures whose name starts with one of these (all when empty).
    pub only: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            latency: 5000,
            oneway: 50_000,
            callers: 8,
            byte_size: 500_000,
            seq_size: 50_000,
            byte_calls: 100,
            seq_calls: 20,
            only: Vec::new(),
        }
    }
}

impl Config {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// Whether any figure of the group `prefix` (`bytes`, ...) is wanted.
    fn wants_group(&self, prefix: &str) -> bool {
        self.wants(prefix) || self.only.iter().any(|p| p.starts_with(prefix))
    }
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The figure's name (`twoway-noop`, `bytes-echo`, ...).
    pub name: String,
    /// Wall time per call, in microseconds.
    pub micros: f64,
    /// Payload throughput in MB/s (10^6 bytes), for byte sequences.
    pub mbps: Option<f64>,
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.mbps {
            Some(m) => write!(f, "figure {} {:.3} {:.1}", self.name, self.micros, m),
            None => write!(f, "figure {} {:.3} -", self.name, self.micros),
        }
    }
}

fn figure(name: &str, start: Instant, calls: usize, bytes_per_call: Option<usize>) -> Figure {
    let secs = start.elapsed().as_secs_f64();
    let calls = calls.max(1) as f64;
    Figure {
        name: name.to_owned(),
        micros: secs * 1e6 / calls,
        mbps: bytes_per_call.map(|b| b as f64 * calls / secs / 1e6),
    }
}

/// Runs `call` `n` times one after another (after `n / 10` warm-up calls).
async fn serial<F, Fut>(n: usize, mut call: F) -> Result<Instant>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    for _ in 0..(n / 10).max(1) {
        call().await?;
    }
    let start = Instant::now();
    for _ in 0..n {
        call().await?;
    }
    Ok(start)
}

/// Runs `callers` tasks each calling `call` `n / callers` times at once.
async fn concurrent<F, Fut>(n: usize, callers: usize, call: F) -> Result<(Instant, usize)>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let callers = callers.max(1);
    let each = (n / callers).max(1);
    let mut warm = Vec::new();
    for _ in 0..callers {
        let call = call.clone();
        warm.push(tokio::spawn(async move {
            for _ in 0..(each / 10).max(1) {
                call().await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in warm {
        t.await??;
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..each {
                call().await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((start, each * callers))
}

/// Sends `n` oneway `small` requests from `callers` tasks, then waits for
/// the server to count them all.
async fn oneway(prx: &ThroughputPrx, n: usize, callers: usize) -> Result<(Instant, usize)> {
    let one = ThroughputPrx::unchecked_cast(prx.ice_object().clone().ice_oneway());
    // Warm-up, and reset the server's count.
    for i in 0..(n / 10).max(1) {
        one.small(i as i32).await?;
    }
    let _ = prx.count().await?;
    let callers = callers.max(1);
    let each = (n / callers).max(1);
    let start = Instant::now();
    if callers == 1 {
        for i in 0..each {
            one.small(i as i32).await?;
        }
    } else {
        let mut tasks = Vec::new();
        for _ in 0..callers {
            let one = one.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..each {
                    one.small(i as i32).await?;
                }
                Ok::<(), anyhow::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
    }
    let got = prx.count().await?;
    let sent = each * callers;
    ensure!(
        usize::try_from(got).ok() == Some(sent),
        "server counted {got} oneway requests, {sent} sent"
    );
    Ok((start, sent))
}

/// Runs the figures `config` asks for against `prx` and returns them in
/// order; `print` writes each one to stdout as soon as it is measured.
///
/// # Errors
/// A failed call, or a value that did not come back as sent.
pub async fn run(prx: &ThroughputPrx, config: &Config, print: bool) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let mut push = |f: Figure| {
        if print {
            println!("{f}");
        }
        figures.push(f);
    };
    let n = config.latency;
    let k = config.callers;

    if config.wants("twoway-noop") {
        let p = prx.clone();
        let start = serial(n, || {
            let p = p.clone();
            async move { Ok(p.noop().await?) }
        })
        .await?;
        push(figure("twoway-noop", start, n, None));
    }
    if config.wants("twoway-ping") {
        let p = prx.ice_object().clone();
        let start = serial(n, || {
            let p = p.clone();
            async move { Ok(p.ice_ping().await?) }
        })
        .await?;
        push(figure("twoway-ping", start, n, None));
    }
    if config.wants("oneway-small") {
        let (start, sent) = oneway(prx, config.oneway, 1).await?;
        push(figure("oneway-small", start, sent, None));
    }
    if config.wants("twoway-noop-x") {
        let p = prx.clone();
        let (start, calls) = concurrent(n, k, move || {
            let p = p.clone();
            async move { Ok(p.noop().await?) }
        })
        .await?;
        push(figure(&format!("twoway-noop-x{k}"), start, calls, None));
    }
    if config.wants("twoway-ping-x") {
        let p = prx.ice_object().clone();
        let (start, calls) = concurrent(n, k, move || {
            let p = p.clone();
            async move { Ok(p.ice_ping().await?) }
        })
        .await?;
        push(figure(&format!("twoway-ping-x{k}"), start, calls, None));
    }
    if config.wants("oneway-small-x") {
        let (start, sent) = oneway(prx, config.oneway, k).await?;
        push(figure(&format!("oneway-small-x{k}"), start, sent, None));
    }

    macro_rules! sequence_figures {
        ($prefix:literal, $make:expr, $size:expr, $calls:expr, $bytes:expr,
         $send:ident, $recv:ident, $echo:ident) => {
            if config.wants_group($prefix) {
                let size = $size;
                let calls = $calls;
                let seq = $make(size);
                let wire_size = i32::try_from(size)?;
                let bytes: Option<usize> = $bytes;
                if config.wants(concat!($prefix, "-send")) {
                    let start = serial(calls, || async { Ok(prx.$send(&seq).await?) }).await?;
                    push(figure(concat!($prefix, "-send"), start, calls, bytes));
                }
                if config.wants(concat!($prefix, "-recv")) {
                    if prx.$recv(wire_size).await? != seq {
                        bail!(concat!($prefix, ": received sequence differs"));
                    }
                    let start = serial(calls, || async {
                        let got = prx.$recv(wire_size).await?;
                        ensure!(got.len() == size, "received {} elements", got.len());
                        Ok(())
                    })
                    .await?;
                    push(figure(concat!($prefix, "-recv"), start, calls, bytes));
                }
                if config.wants(concat!($prefix, "-echo")) {
                    if prx.$echo(&seq).await? != seq {
                        bail!(concat!($prefix, ": echoed sequence differs"));
                    }
                    let start = serial(calls, || async {
                        let got = prx.$echo(&seq).await?;
                        ensure!(got.len() == size, "echoed {} elements", got.len());
                        Ok(())
                    })
                    .await?;
                    push(figure(
                        concat!($prefix, "-echo"),
                        start,
                        calls,
                        bytes.map(|b| 2 * b),
                    ));
                }
            }
        };
    }
    sequence_figures!(
        "bytes",
        byte_seq,
        config.byte_size,
        config.byte_calls,
        Some(config.byte_size),
        send_bytes,
        recv_bytes,
        echo_bytes
    );
    sequence_figures!(
        "strings",
        string_seq,
        config.seq_size,
        config.seq_calls,
        None,
        send_strings,
        recv_strings,
        echo_strings
    );
    sequence_figures!(
        "small",
        small_seq,
        config.seq_size,
        config.seq_calls,
        None,
        send_small,
        recv_small,
        echo_small
    );
    sequence_figures!(
        "fixed",
        fixed_seq,
        config.seq_size,
        config.seq_calls,
        None,
        send_fixed,
        recv_fixed,
        echo_fixed
    );
    Ok(figures)
}
