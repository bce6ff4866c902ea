#!/usr/bin/env bash
# Encoding benchmark: our streams (ice-proto/examples/encoding_bench.rs) against
# ZeroC Ice C++ Ice::OutputStream / Ice::InputStream (`golden bench` from
# tests/golden/encoding/golden.cpp), encoding 1.1, the same data, run
# alternately ROUNDS times (each run takes the best of RUNS repetitions).
# Prints min and median per figure and the ratio C++ / Rust of the minima
# (above 1: ours is faster). Not a test: numbers depend on the machine.
#   scripts/bench-encoding.sh            ROUNDS=5 RUNS=15
#   ROUNDS=9 RUNS=30 scripts/bench-encoding.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-15}
out=target/bench-encoding
mkdir -p "$out"
echo "building the C++ side (slice2cpp + g++ -O2)..." >&2
tests/golden/encoding/build.sh "$out/cpp" >&2
echo "building the Rust side (release)..." >&2
cargo build --release -q -p ice-proto --example encoding_bench
rust_bin="${CARGO_TARGET_DIR:-target}/release/examples/encoding_bench"
: >"$out/rust.txt"
: >"$out/cpp.txt"
for ((r = 1; r <= ROUNDS; r++)); do
    "$rust_bin" "$RUNS" >>"$out/rust.txt"
    "$out/cpp/golden" bench "$RUNS" >>"$out/cpp.txt"
done
awk '
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function minimum(list,   n, a, i, m) {
    n = split(list, a, " "); m = a[1]
    for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]
    return m
}
FNR == 1 { side = (FILENAME ~ /rust/) ? "rust" : "cpp" }
$1 == "bench" {
    key = $2
    names[key] = 1
    enc[side, key] = enc[side, key] " " $4
    dec[side, key] = dec[side, key] " " $6
}
END {
    printf "%-28s %-6s %14s %14s %14s %14s %8s\n", "figure", "op", "rust_min_us", "rust_med_us", "cpp_min_us", "cpp_med_us", "cpp/rust"
    n = 0
    for (k in names) order[++n] = k
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (order[j] < order[i]) { t = order[i]; order[i] = order[j]; order[j] = t }
    for (i = 1; i <= n; i++) {
        k = order[i]
        if (!(("rust", k) in enc) || !(("cpp", k) in enc)) continue
        for (op = 0; op < 2; op++) {
            if (op == 0) { r = enc["rust", k]; c = enc["cpp", k]; name = "encode" } else { r = dec["rust", k]; c = dec["cpp", k]; name = "decode" }
            rmin = minimum(r); cmin = minimum(c)
            if (rmin + 0 == 0 || cmin + 0 == 0) continue
            ratio = (rmin + 0 > 0) ? sprintf("%.2f", cmin / rmin) : "-"
            printf "%-28s %-6s %14.1f %14.1f %14.1f %14.1f %8s\n", k, name, rmin / 1000, median(r) / 1000, cmin / 1000, median(c) / 1000, ratio
        }
    }
}' "$out/rust.txt" "$out/cpp.txt"
