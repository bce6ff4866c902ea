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
//!
//! A large buffer's contents start [`CONTENTS_OFFSET`] bytes into a 4 KiB
//! page (a few padding bytes go before them). The kernel copies a message
//! sent as header and body into its socket buffer with the body right
//! behind the header, in pages it fills from their start: were the body
//! page-aligned in memory, as large allocations are, every byte would be
//! stored a header's length (14 to a few hundred bytes) ahead of where it
//! is loaded modulo 4 KiB, the case in which `rep movsb` runs an order of
//! magnitude slower (measured on loopback: 500,000 bytes behind a 25-byte
//! header take 220 us to `writev`, 62 us when the body starts at least as
//! far into its page as the header is long).

use std::sync::Mutex;

use bytes::Bytes;

/// Buffers smaller than this are allocated and freed as usual.
pub const MIN_CAPACITY: usize = 64 * 1024;

/// At most this many idle buffers are kept.
pub const MAX_BUFFERS: usize = 8;

/// At most this many bytes of idle buffers are kept.
pub const MAX_POOLED: usize = 32 * 1024 * 1024;

/// Where in a 4 KiB page a large buffer's contents start: no less than a
/// message header is long, so that the kernel's copy of a body behind its
/// header stores at or behind the page offset it loads from.
pub const CONTENTS_OFFSET: usize = 512;

/// The most padding a large buffer takes: a page, and the 64 bytes a
/// large blob's copy may move its start by (see [`padding`]).
const MAX_PADDING: usize = 4096 + 64;

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

/// Whether storing at address `dst` what is loaded from `src` is 1 to 63
/// bytes ahead modulo 4 KiB: the distance at which a large `rep movsb`
/// copy (`memcpy`'s, and the kernel's into and out of socket buffers) runs
/// about ten times slower (measured on this machine's x86 CPUs).
pub(crate) fn aliases(dst: usize, src: usize) -> bool {
    (1..64).contains(&(dst.wrapping_sub(src) % 4096))
}

/// The padding that makes contents at `start` begin at [`CONTENTS_OFFSET`]
/// in a page, or 64 bytes further when the blob about to be written (at
/// `blob.0` bytes into the contents, from address `blob.1`) would then be
/// copied 1 to 63 bytes ahead of itself.
fn padding(start: usize, blob: Option<(usize, usize)>) -> usize {
    let mut pad = CONTENTS_OFFSET.wrapping_sub(start) % 4096;
    if let Some((at, src)) = blob {
        if aliases(start + pad + at, src) {
            pad += 64;
        }
    }
    pad
}

/// A large buffer for contents of `capacity` bytes: idle from the pool,
/// else new. Returns it holding only its padding, and the padding's length
/// (where the contents start). `blob`, when a large blob is written first:
/// its offset in the contents and its address (see [`padding`]).
pub(crate) fn take_padded(capacity: usize, blob: Option<(usize, usize)>) -> (Vec<u8>, usize) {
    let room = capacity.saturating_add(MAX_PADDING);
    let mut buf = POOL.take(room).unwrap_or_else(|| Vec::with_capacity(room));
    let pad = padding(buf.as_ptr() as usize, blob);
    buf.resize(pad, 0);
    (buf, pad)
}

/// A finished large buffer, its contents after `base` bytes of padding;
/// back to [`POOL`] when dropped.
struct Pooled {
    buf: Vec<u8>,
    base: usize,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(self.base..).unwrap_or_default()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        POOL.give(std::mem::take(&mut self.buf));
    }
}

/// The contents of `buf` after `base` bytes of padding as [`Bytes`]; a
/// large buffer goes back to the pool once every `Bytes` sharing it is
/// dropped.
pub(crate) fn into_bytes(buf: Vec<u8>, base: usize) -> Bytes {
    if buf.capacity() >= MIN_CAPACITY {
        Bytes::from_owner(Pooled { buf, base })
    } else {
        let bytes = Bytes::from(buf);
        bytes.slice(base.min(bytes.len())..)
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
    fn padding_starts_contents_at_the_offset_and_avoids_aliasing() {
        for start in [0usize, 1, 511, 512, 513, 4095, 8192 + 100] {
            let pad = padding(start, None);
            assert!(pad < 4096);
            assert_eq!((start + pad) % 4096, CONTENTS_OFFSET);
            // A blob loaded from 10 bytes behind where it goes aliases at
            // the usual start: it moves 64 bytes on.
            let at = 5;
            let src = start + pad + at - 10;
            let moved = padding(start, Some((at, src)));
            assert_eq!(moved, pad + 64);
            assert!(!aliases(start + moved + at, src));
            // A blob at the same page offset stays put.
            assert_eq!(padding(start, Some((at, start + pad + at))), pad);
        }
        assert!(aliases(4096 + 1, 0));
        assert!(aliases(63, 0));
        assert!(!aliases(0, 0));
        assert!(!aliases(64, 0));
        assert!(!aliases(0, 1));
    }

    #[test]
    fn large_bytes_return_their_buffer_when_dropped() {
        let mut v = vec![7u8; 3 * MIN_CAPACITY + 11];
        v.reserve_exact(0);
        let ptr = v.as_ptr();
        let bytes = into_bytes(v, 0);
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
