//! Encodes and decodes (encoding 1.1) the data of `golden bench` (see
//! `tests/golden/encoding/golden.cpp`) with our streams and prints the best
//! time of several runs in the same format:
//! `bench <name> encode_ns <n> decode_ns <n>`.
//!
//! Data: 50,000 `Small{name = "item-<i>", value = i * 0.5}`, 50,000 strings
//! `"string-<i>"`, 500,000 bytes with byte k = (k * 31) & 0xff (decoded into
//! a `Vec<u8>`, and without copying into `Bytes`).
//!
//! Run: `cargo run --release -p ice-proto --example encoding_bench [RUNS]`;
//! `scripts/bench-encoding.sh` runs it beside ZeroC's C++ and prints ratios.

use std::hint::black_box;
use std::time::Instant;

use ice_proto::encoding::{
    Bytes, Decode, Encode, EncodingVersion, InputStream, OutputStream, Result,
};

/// `struct Small { string name; double value; }`
#[derive(Debug, Clone, PartialEq)]
struct Small {
    name: String,
    value: f64,
}

impl Encode for Small {
    fn encode(&self, out: &mut OutputStream) {
        out.write_string(&self.name);
        out.write_f64(self.value);
    }
}

impl Decode for Small {
    const MIN_WIRE_SIZE: usize = 9;
    fn decode(input: &mut InputStream) -> Result<Self> {
        Ok(Self {
            name: input.read_string()?,
            value: input.read_f64()?,
        })
    }
}

fn best_ns(runs: u32, mut f: impl FnMut()) -> u128 {
    let mut best = u128::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_nanos());
    }
    best
}

fn bench<T: Encode + Decode>(name: &str, value: &T, runs: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    let enc = best_ns(runs, || {
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        value.encode(&mut out);
        if bytes.is_empty() {
            bytes = out.into_vec();
        } else {
            black_box(out.as_slice());
        }
    });
    let shared = Bytes::from(bytes.clone());
    let dec = best_ns(runs, || {
        let mut input = InputStream::new(shared.clone(), EncodingVersion::V1_1);
        black_box(T::decode(&mut input).ok());
    });
    println!(
        "bench {name} encode_ns {enc} decode_ns {dec} bytes {}",
        bytes.len()
    );
    bytes
}

fn main() {
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let smalls: Vec<Small> = (0..50_000)
        .map(|k| Small {
            name: format!("item-{k}"),
            value: f64::from(k) * 0.5,
        })
        .collect();
    let strings: Vec<String> = (0..50_000).map(|k| format!("string-{k}")).collect();
    let bytes: Vec<u8> = (0..500_000u32).map(|k| ((k * 31) & 0xff) as u8).collect();
    bench("small_structs_50000", &smalls, runs);
    bench("strings_50000", &strings, runs);
    let encoded = bench("bytes_500000", &bytes, runs);
    let shared = Bytes::from(encoded);
    let dec = best_ns(runs, || {
        let mut input = InputStream::new(shared.clone(), EncodingVersion::V1_1);
        black_box(Bytes::decode(&mut input).ok());
    });
    println!("bench bytes_500000_zerocopy encode_ns 0 decode_ns {dec}");
}
