//! The raw loopback limits: bare TCP with blocking sockets and
//! `TCP_NODELAY`, no framing beyond a fixed message size.
//!
//! The client opens a connection per figure and sends a mode byte and a
//! message size (4 bytes, little endian); then, per call, it writes one
//! message and the server answers either with the same bytes (`e`, echo)
//! or with one byte (`a`, acknowledge). `raw-pingpong` echoes small
//! messages (the size of an Ice request for an empty operation),
//! `raw-bulk-send` sends large messages acknowledged by one byte and
//! `raw-bulk-echo` echoes large messages.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use anyhow::{bail, Result};

use crate::client::Figure;

/// Bytes of a ping-pong message: about an Ice request for `noop`.
pub const PING_SIZE: usize = 48;

/// Accepts connections on `listener` forever, one thread each.
pub fn serve(listener: &TcpListener) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = serve_one(stream);
        });
    }
}

fn serve_one(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut head = [0u8; 5];
    stream.read_exact(&mut head)?;
    let size = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut buf = vec![0u8; size];
    loop {
        match stream.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        if head[0] == b'e' {
            stream.write_all(&buf)?;
        } else {
            stream.write_all(&[1])?;
        }
    }
}

fn open(addr: &str, mode: u8, size: usize) -> Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut head = vec![mode];
    head.extend_from_slice(&u32::try_from(size)?.to_le_bytes());
    stream.write_all(&head)?;
    Ok(stream)
}

/// Times `calls` messages of `size` bytes in `mode` (after a tenth as
/// warm-up) and checks what came back.
fn measure(addr: &str, name: &str, mode: u8, size: usize, calls: usize) -> Result<Figure> {
    let mut stream = open(addr, mode, size)?;
    let out: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut back = vec![0u8; if mode == b'e' { size } else { 1 }];
    let mut one = |stream: &mut TcpStream| -> Result<()> {
        stream.write_all(&out)?;
        stream.read_exact(&mut back)?;
        if mode == b'e' && back != out {
            bail!("{name}: echoed bytes differ");
        }
        Ok(())
    };
    for _ in 0..(calls / 10).max(1) {
        one(&mut stream)?;
    }
    let start = Instant::now();
    for _ in 0..calls {
        one(&mut stream)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let calls = calls.max(1) as f64;
    let moved = if mode == b'e' { 2 * size } else { size };
    Ok(Figure {
        name: name.to_owned(),
        micros: secs * 1e6 / calls,
        mbps: (size > PING_SIZE).then(|| moved as f64 * calls / secs / 1e6),
    })
}

/// The three raw figures against a raw server at `addr`.
///
/// # Errors
/// An I/O error, or echoed bytes that differ.
pub fn run(addr: &str, pings: usize, bulk_size: usize, bulk_calls: usize) -> Result<Vec<Figure>> {
    Ok(vec![
        measure(addr, "raw-pingpong", b'e', PING_SIZE, pings)?,
        measure(addr, "raw-bulk-send", b'a', bulk_size, bulk_calls)?,
        measure(addr, "raw-bulk-echo", b'e', bulk_size, bulk_calls)?,
    ])
}
