//! A small process-wide pool of large output buffers.
//!
//! A large request or reply (a 500 KB byte sequence, 50,000 structs) is
//! encoded into a buffer of its size, sent, and dropped. Allocating that
//! buffer afresh for every call hands the allocator a large block to map
//! and the copy into it fresh pages to fault in: glibc trims and re-grows
//! its heap around each one, mimalloc gives out huge-page-backed memory the
//! kernel clears first. Both cost more than the encoding. An
//! [`OutputStream`](super::OutputStream) that grows past [`MIN_CAPACITY`]
//! takes a buffer from here, and the [`Bytes`] it finishes into gives the
//! buffer back when the last reference to it is dropped (after the write),
//! so a steady stream of large calls reuses a few warm buffers. The pool
//! keeps at most [`MAX_BUFFERS`] buffers and [`MAX_POOLED`] bytes.

use std::sync::Mutex;

use bytes::Bytes;

/// Buffers smaller than this are allocated and freed as usual.
pub const MIN_CAPACITY: usize = 64 * 1024;

/// At most this many idle buffers are kept.
pub const MAX_BUFFERS: usize = 8;

/// At most this many bytes of idle buffers are kept.
pub const MAX_POOLED: usize = 32 * 1024 * 1024;

/// Idle buffers, empty, each of at least [`MIN_CAPACITY`] bytes.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    idle: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    pub(crate) const fn new() -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The smallest idle buffer with room for `capacity` bytes, if any.
    pub(crate) fn take(&self, capacity: usize) -> Option<Vec<u8>> {
        if capacity < MIN_CAPACITY {
            return None;
        }
        let mut idle = self.idle.lock().ok()?;
        let (i, _) = idle
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())?;
        Some(idle.swap_remove(i))
    }

    /// Keeps `buf` for reuse when it is large, and there is room.
    pub(crate) fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() < MIN_CAPACITY || buf.capacity() > MAX_POOLED {
            return;
        }
        buf.clear();
        if let Ok(mut idle) = self.idle.lock() {
            let pooled: usize = idle.iter().map(Vec::capacity).sum();
            if idle.len() < MAX_BUFFERS && pooled + buf.capacity() <= MAX_POOLED {
                idle.push(buf);
            }
        }
    }

    /// How many buffers are idle.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }
}

/// The pool of every [`OutputStream`](super::OutputStream).
pub(crate) static POOL: BufferPool = BufferPool::new();

/// A finished large buffer; back to [`POOL`] when dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        POOL.give(std::mem::take(&mut self.0));
    }
}

/// `buf` as [`Bytes`]; a large buffer goes back to the pool once every
/// `Bytes` sharing it is dropped.
pub(crate) fn into_bytes(buf: Vec<u8>) -> Bytes {
    if buf.capacity() >= MIN_CAPACITY {
        Bytes::from_owner(Pooled(buf))
    } else {
        Bytes::from(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_are_reused_best_fit_and_bounded() {
        let pool = BufferPool::new();
        assert!(pool.take(MIN_CAPACITY).is_none());
        // Small buffers are not kept.
        pool.give(Vec::with_capacity(1024));
        assert_eq!(pool.idle(), 0);
        let big = Vec::<u8>::with_capacity(4 * MIN_CAPACITY);
        let small = Vec::<u8>::with_capacity(MIN_CAPACITY);
        let big_ptr = big.as_ptr();
        pool.give(big);
        pool.give(small);
        assert_eq!(pool.idle(), 2);
        // The smallest that fits: a request for 2x gets the 4x buffer.
        let got = pool.take(2 * MIN_CAPACITY).expect("a pooled buffer");
        assert_eq!(got.as_ptr(), big_ptr);
        assert!(got.is_empty());
        assert!(pool.take(8 * MIN_CAPACITY).is_none());
        // Requests below the threshold never take a pooled buffer.
        assert!(pool.take(100).is_none());
        // No more than MAX_BUFFERS buffers, nor MAX_POOLED bytes.
        for _ in 0..2 * MAX_BUFFERS {
            pool.give(Vec::with_capacity(MIN_CAPACITY));
        }
        assert_eq!(pool.idle(), MAX_BUFFERS);
        pool.give(Vec::with_capacity(MAX_POOLED + 1));
        assert_eq!(pool.idle(), MAX_BUFFERS);
    }

    #[test]
    fn large_bytes_return_their_buffer_when_dropped() {
        let mut v = vec![7u8; 3 * MIN_CAPACITY + 11];
        v.reserve_exact(0);
        let ptr = v.as_ptr();
        let bytes = into_bytes(v);
        let shared = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(&shared[..], &[7u8; 10]);
        drop(shared);
        // Another test may take pooled buffers meanwhile; look for ours.
        let mut found = false;
        let mut taken = Vec::new();
        while let Some(b) = POOL.take(3 * MIN_CAPACITY + 11) {
            found |= b.as_ptr() == ptr;
            taken.push(b);
        }
        assert!(found, "the buffer went back to the pool");
        for b in taken {
            POOL.give(b);
        }
    }
}
