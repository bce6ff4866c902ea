//! Benchmarks of `ice-proto` against ZeroC Ice C++ (`scripts/bench.sh`).
//!
//! The Rust side of the scenario of `bench/Bench.ice`: the servant
//! ([`ThroughputImpl`]), the server ([`serve`]) and the client's figures
//! ([`client`]). The C++ side (`bench/cpp/`) prints the same lines, so the
//! script can pair any client with any server. Each figure is printed as
//! `figure <name> <microseconds per call> <payload MB/s or ->`.
//!
//! Raw TCP limits are in [`raw`]; the replicator's load test in the
//! `bench-replicator` binary.

/// The allocator of every benchmark program (see BENCHMARKS.md): the
/// Rust mapping allocates each decoded `String` on its own, and glibc's
/// malloc spends most of a 50,000-string call sorting its free lists.
#[global_allocator]
static ALLOCATOR: alloc::Mimalloc = alloc::Mimalloc;

/// mimalloc called as its C users call it. The `mimalloc` crate's
/// allocator asks `mi_malloc_aligned` for every block, whose alignment
/// handling costs about 30 instructions more than `mi_malloc` (callgrind:
/// a third of decoding a 50,000-struct sequence of `{string; double}`).
/// Every mimalloc block is aligned to at least 8 bytes (its smallest size
/// class, and every class a multiple of it), so blocks aligned to 8 or
/// less come from `mi_malloc`, the others from `mi_malloc_aligned`.
mod alloc {
    // A global allocator is an unsafe trait: this module is the benchmark
    // programs' one use of `unsafe`, each call passing on the contract
    // `GlobalAlloc` gives it.
    #![allow(unsafe_code)]

    use std::alloc::{GlobalAlloc, Layout};
    use std::ffi::c_void;

    use libmimalloc_sys as mi;

    /// Alignments every mimalloc block has.
    const PLAIN: usize = 8;

    /// The benchmark programs' global allocator.
    pub struct Mimalloc;

    // SAFETY: every block comes from mimalloc with at least the layout's
    // size and alignment (`mi_malloc` for alignments mimalloc always
    // gives, `mi_*_aligned` otherwise), and goes back through `mi_free`
    // or `mi_realloc*`, which take any block mimalloc gave.
    unsafe impl GlobalAlloc for Mimalloc {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.align() <= PLAIN {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }

        #[inline]
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if layout.align() <= PLAIN {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }

        #[inline]
        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            mi::mi_free(ptr.cast::<c_void>());
        }

        #[inline]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if layout.align() <= PLAIN {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

pub mod client;
pub mod raw;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;

/// The code `slice2rs` generated from `bench/Bench.ice`.
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/bench.rs"));
}

pub use generated::bench::{
    ByteSeq, Fixed, FixedSeq, Small, SmallSeq, StringSeq, Throughput, ThroughputPrx,
    ThroughputServant,
};

/// The identity of the benchmark object on both servers.
pub const OBJECT_NAME: &str = "throughput";

/// `Ice.MessageSizeMax` (KiB) used on both sides, so that larger
/// sequences than the defaults still fit.
pub const MESSAGE_SIZE_MAX_KB: &str = "102400";

/// The byte sequence of `size` bytes both sides send (`i % 251`).
#[must_use]
pub fn byte_seq(size: usize) -> ByteSeq {
    // 251 is prime, so the pattern does not line up with any power of two.
    (0..size)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// The string sequence of `size` strings both sides send (`"s-<i>"`, the
/// index in decimal, padded to five digits).
#[must_use]
pub fn string_seq(size: usize) -> StringSeq {
    (0..size).map(|i| format!("s-{i:05}")).collect()
}

/// The small-struct sequence of `size` elements both sides send.
#[must_use]
pub fn small_seq(size: usize) -> SmallSeq {
    (0..size)
        .map(|i| Small {
            s: format!("small-{}", i % 1000),
            d: i as f64 * 0.5,
        })
        .collect()
}

/// The fixed-size-struct sequence of `size` elements both sides send.
#[must_use]
pub fn fixed_seq(size: usize) -> FixedSeq {
    (0..size)
        .map(|i| Fixed {
            i: i as i32,
            j: (i as i32).wrapping_mul(7),
            d: i as f64 * 0.25,
        })
        .collect()
}

/// The sequences `recv*` returned last, by size, so that a run returns the
/// same values without building them again.
#[derive(Default)]
struct Cache {
    bytes: HashMap<i32, ByteSeq>,
    strings: HashMap<i32, Arc<StringSeq>>,
    small: HashMap<i32, Arc<SmallSeq>>,
    fixed: HashMap<i32, Arc<FixedSeq>>,
}

/// The Rust servant of `::Bench::Throughput`.
#[derive(Default)]
pub struct ThroughputImpl {
    count: AtomicI32,
    cache: Mutex<Cache>,
    communicator: Mutex<Option<Communicator>>,
}

impl ThroughputImpl {
    /// A servant that shuts `communicator` down on `shutdown`.
    #[must_use]
    pub fn new(communicator: Communicator) -> Self {
        Self {
            communicator: Mutex::new(Some(communicator)),
            ..Self::default()
        }
    }

    fn cached<T: Clone>(
        &self,
        size: i32,
        pick: impl FnOnce(&mut Cache) -> &mut HashMap<i32, T>,
        make: impl FnOnce(usize) -> T,
    ) -> T {
        let Ok(mut cache) = self.cache.lock() else {
            return make(usize::try_from(size).unwrap_or(0));
        };
        pick(&mut cache)
            .entry(size)
            .or_insert_with(|| make(usize::try_from(size).unwrap_or(0)))
            .clone()
    }
}

impl Throughput for ThroughputImpl {
    async fn noop(&self, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }

    async fn small(&self, _x: i32, _current: &Current) -> Result<(), DispatchError> {
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn count(&self, _current: &Current) -> Result<i32, DispatchError> {
        Ok(self.count.swap(0, Ordering::Relaxed))
    }

    async fn send_bytes(&self, _seq: ByteSeq, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }

    async fn recv_bytes(&self, size: i32, _current: &Current) -> Result<ByteSeq, DispatchError> {
        Ok(self.cached(size, |c| &mut c.bytes, byte_seq))
    }

    async fn echo_bytes(&self, seq: ByteSeq, _current: &Current) -> Result<ByteSeq, DispatchError> {
        Ok(seq)
    }

    async fn send_strings(&self, _seq: StringSeq, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }

    async fn recv_strings(
        &self,
        size: i32,
        _current: &Current,
    ) -> Result<StringSeq, DispatchError> {
        let seq = self.cached(size, |c| &mut c.strings, |n| Arc::new(string_seq(n)));
        Ok(seq.as_ref().clone())
    }

    async fn echo_strings(
        &self,
        seq: StringSeq,
        _current: &Current,
    ) -> Result<StringSeq, DispatchError> {
        Ok(seq)
    }

    async fn send_small(&self, _seq: SmallSeq, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }

    async fn recv_small(&self, size: i32, _current: &Current) -> Result<SmallSeq, DispatchError> {
        let seq = self.cached(size, |c| &mut c.small, |n| Arc::new(small_seq(n)));
        Ok(seq.as_ref().clone())
    }

    async fn echo_small(
        &self,
        seq: SmallSeq,
        _current: &Current,
    ) -> Result<SmallSeq, DispatchError> {
        Ok(seq)
    }

    async fn send_fixed(&self, _seq: FixedSeq, _current: &Current) -> Result<(), DispatchError> {
        Ok(())
    }

    async fn recv_fixed(&self, size: i32, _current: &Current) -> Result<FixedSeq, DispatchError> {
        let seq = self.cached(size, |c| &mut c.fixed, |n| Arc::new(fixed_seq(n)));
        Ok(seq.as_ref().clone())
    }

    async fn echo_fixed(
        &self,
        seq: FixedSeq,
        _current: &Current,
    ) -> Result<FixedSeq, DispatchError> {
        Ok(seq)
    }

    async fn shutdown(&self, _current: &Current) -> Result<(), DispatchError> {
        let communicator = self.communicator.lock().ok().and_then(|mut c| c.take());
        if let Some(c) = communicator {
            tokio::spawn(async move { c.shutdown().await });
        }
        Ok(())
    }
}

/// The properties both Rust sides start from.
#[must_use]
pub fn properties() -> Properties {
    Properties::new().with("Ice.MessageSizeMax", MESSAGE_SIZE_MAX_KB)
}

/// Starts a Rust benchmark server on `host`, port `port` (0: any), and
/// returns its communicator and the port it listens on.
///
/// # Errors
/// When the adapter cannot be created or listens on no TCP endpoint.
pub async fn serve(host: &str, port: u16) -> anyhow::Result<(Communicator, u16)> {
    let communicator = Communicator::new(properties());
    let adapter = communicator
        .create_object_adapter_with_endpoints("Bench", &format!("tcp -h {host} -p {port}"))
        .await?;
    let servant = ThroughputImpl::new(communicator.clone());
    let _ = adapter.add(
        ThroughputServant::new(servant),
        Identity {
            name: OBJECT_NAME.into(),
            category: String::new(),
        },
    );
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => anyhow::bail!("unexpected endpoint {other:?}"),
    };
    Ok((communicator, port))
}
