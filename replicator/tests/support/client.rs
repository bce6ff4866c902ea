//! The failover client of the cluster tests: `tests/cluster_client.py`
//! (ZeroC Python) creating channels in a loop through one proxy, read line
//! by line, and the check that every channel it saw acknowledged survived.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use interop_tests::peers::{channel_client, lines_before_end, Peer, PYTHON};

/// `cluster_client.py` running, with what it printed so far.
pub struct Client {
    peer: Peer,
    /// The channel numbers acknowledged, in order.
    pub acked: Vec<u64>,
    /// When each acknowledgement came (ms since the client started).
    pub acked_ms: Vec<u64>,
    /// How many calls failed and were retried.
    pub retries: usize,
    /// The channel number of each failed call, in order.
    pub retried: Vec<u64>,
    /// Why each call failed, in order.
    pub retry_reasons: Vec<String>,
}

impl Client {
    /// Starts `cluster_client.py PROXY PREFIX EXTRA...` (inside network
    /// namespace `netns`, when given) pausing 5 ms between two channels.
    pub fn start(netns: Option<&str>, proxy: &str, prefix: &str, extra: &[String]) -> Client {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster_client.py");
        let mut args = vec![
            script.display().to_string(),
            proxy.to_owned(),
            prefix.to_owned(),
            "--Client.Pause=5".to_owned(),
        ];
        args.extend_from_slice(extra);
        let peer = match netns {
            Some(ns) => {
                let mut all = vec![
                    "netns".to_owned(),
                    "exec".to_owned(),
                    ns.to_owned(),
                    PYTHON.to_owned(),
                ];
                all.extend(args);
                Peer::start("cluster_client.py", Path::new("ip"), &all)
            }
            None => Peer::start("cluster_client.py", Path::new(PYTHON), &args),
        }
        .unwrap();
        Client {
            peer,
            acked: Vec::new(),
            acked_ms: Vec::new(),
            retries: 0,
            retried: Vec::new(),
            retry_reasons: Vec::new(),
        }
    }

    fn take(&mut self, line: &str) {
        let mut words = line.split(' ');
        match words.next() {
            Some("ACK") => {
                let n: u64 = words.next().and_then(|w| w.parse().ok()).unwrap();
                let ms: u64 = words.next().and_then(|w| w.parse().ok()).unwrap();
                self.acked.push(n);
                self.acked_ms.push(ms);
            }
            Some("RETRY") => {
                self.retries += 1;
                if let Some(n) = words.next().and_then(|w| w.parse().ok()) {
                    self.retried.push(n);
                }
                self.retry_reasons.push(words.collect::<Vec<_>>().join(" "));
            }
            _ => {}
        }
        assert!(!line.starts_with("GAVEUP"), "client gave up: {line}");
    }

    /// Reads lines until `n` more acknowledgements have come (or panics
    /// after `limit`).
    pub fn wait_acks(&mut self, n: usize, limit: Duration) {
        let start = std::time::Instant::now();
        let want = self.acked.len() + n;
        while self.acked.len() < want {
            let left = limit.saturating_sub(start.elapsed());
            let line = self.peer.read_line(left).unwrap_or_else(|e| {
                panic!(
                    "client: {e} (acknowledged {:?}, retries {})",
                    self.acked.last(),
                    self.retries
                )
            });
            self.take(&line);
        }
    }

    /// The longest time between two acknowledgements: the outage the
    /// client saw.
    pub fn longest_gap(&self) -> Duration {
        let gap = self
            .acked_ms
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .max()
            .unwrap_or(0);
        Duration::from_millis(gap)
    }

    /// Reads lines until a call has failed (or panics after `limit`).
    pub fn wait_retry(&mut self, limit: Duration) {
        let start = std::time::Instant::now();
        let want = self.retries + 1;
        while self.retries < want {
            let left = limit.saturating_sub(start.elapsed());
            let line = self
                .peer
                .read_line(left)
                .unwrap_or_else(|e| panic!("client: no failed call: {e}"));
            self.take(&line);
        }
    }

    /// Stops the loop; returns the last channel number it attempted.
    pub fn stop(&mut self) -> u64 {
        self.peer.send("stop").unwrap();
        loop {
            let line = self.peer.read_line(Duration::from_secs(20)).unwrap();
            if let Some(n) = line.strip_prefix("DONE ") {
                return n.parse().unwrap();
            }
            self.take(&line);
        }
    }

    /// Asserts that `ids` (the channel numbers a member holds) has every
    /// acknowledged channel and none the client did not attempt (`last` is
    /// what [`Client::stop`] returned).
    pub fn assert_kept(&self, ids: &BTreeSet<u64>, last: u64) {
        let acked: BTreeSet<u64> = self.acked.iter().copied().collect();
        let lost: Vec<&u64> = acked.difference(ids).collect();
        assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
        assert!(
            ids.iter().all(|n| *n >= 1 && *n <= last),
            "unexpected channels: {ids:?}"
        );
    }
}

/// The numbers of the channels `channel_client.py SERVICE list EXTRA...`
/// lists, each id being `prefix` and a number.
pub fn listed_numbers(service: &str, prefix: &str, extra: &[String]) -> BTreeSet<u64> {
    let out = channel_client(service, &["list"], extra).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    lines_before_end(&out.stdout)
        .iter()
        .map(|l| l.strip_prefix(prefix).unwrap().parse().unwrap())
        .collect()
}
