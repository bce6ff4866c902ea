#!/usr/bin/env bash
# Runtime benchmark against ZeroC Ice 3.7 C++, side by side (BENCHMARKS.md).
#
# Builds the scenario of bench/Bench.ice twice: in C++ (slice2cpp, g++ -O2,
# bench/cpp/) and in Rust (slice2rs through bench/build.rs, crate ice-bench,
# release). Then, ROUNDS times, runs in turn the four pairings (client/server)
# cpp/cpp, rs/rs, cpp/rs, rs/cpp and the raw TCP limits (bench-raw), each
# server a fresh process on loopback, and prints per figure and pairing the
# min/median/max time per call, MB/s for byte sequences, the speed against
# C++/C++ (median C++/C++ time / median time: above 1 is faster) and against
# raw TCP; then the issue's goals, met or not. Finally the replicator
# benchmark (scripts/bench-replicator.sh) unless REPLICATOR=0.
#
#   scripts/bench.sh                     ROUNDS=5, counts below
#   ROUNDS=3 LATENCY=2000 scripts/bench.sh
#   PIN=0 scripts/bench.sh               both processes on CPU 0 (taskset)
#   ONLY=twoway,bytes scripts/bench.sh   only figures with these prefixes
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
LATENCY=${LATENCY:-5000}     # calls per latency figure
ONEWAY=${ONEWAY:-50000}      # requests per oneway figure
CALLERS=${CALLERS:-8}        # concurrent callers of the -x figures
BYTE_SIZE=${BYTE_SIZE:-500000}
SEQ_SIZE=${SEQ_SIZE:-50000}
BYTE_CALLS=${BYTE_CALLS:-100}
SEQ_CALLS=${SEQ_CALLS:-20}
ONLY=${ONLY:-}
PIN=${PIN:-}                 # a CPU list for taskset, e.g. 0
RS_THREADS=${RS_THREADS:-0}  # tokio workers of the Rust sides (0: one thread)

for tool in slice2cpp g++; do
    command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/install-ice.sh" >&2; exit 1; }
done

target=${CARGO_TARGET_DIR:-target}
out=$target/bench
mkdir -p "$out"

echo "building the C++ side (slice2cpp + g++ -O2)..." >&2
bench/cpp/build.sh "$out/cpp" >&2
echo "building the Rust side (release)..." >&2
cargo build --release -q -p ice-bench
rs=$target/release

pin=()
[ -n "$PIN" ] && pin=(taskset -c "$PIN")

server_pid=
port=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

# start_server OUTFILE CMD... : starts a server (in this shell, so that
# stop_server can kill it), waits for its port and sets $port.
start_server() {
    local file=$1
    shift
    : >"$file"
    "${pin[@]}" "$@" >"$file" 2>"$file.err" &
    server_pid=$!
    for _ in $(seq 200); do
        if [ -s "$file" ]; then
            port=$(head -1 "$file")
            return 0
        fi
        sleep 0.05
    done
    echo "server $* printed no port" >&2
    cat "$file.err" >&2
    exit 1
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

args=(--latency "$LATENCY" --oneway "$ONEWAY" --callers "$CALLERS" --byte-size "$BYTE_SIZE"
      --seq-size "$SEQ_SIZE" --byte-calls "$BYTE_CALLS" --seq-calls "$SEQ_CALLS")
[ -n "$ONLY" ] && args+=(--only "$ONLY")

results=$out/results.txt
: >"$results"
# pair CLIENT SERVER ROUND
pair() {
    local client server
    case $2 in
        cpp) server=("$out/cpp/server") ;;
        rs) server=("$rs/bench-server" --threads "$RS_THREADS") ;;
    esac
    case $1 in
        cpp) client=("$out/cpp/client") ;;
        rs) client=("$rs/bench-client" --threads "$RS_THREADS") ;;
    esac
    start_server "$out/server.out" "${server[@]}"
    "${pin[@]}" "${client[@]}" "$port" "${args[@]}" | sed "s|^|$1/$2 $3 |" >>"$results"
    stop_server
}

echo "runtime: $ROUNDS rounds, alternating cpp/cpp rs/rs cpp/rs rs/cpp raw (client/server)${PIN:+, pinned to CPU $PIN}" >&2
for ((r = 1; r <= ROUNDS; r++)); do
    pair cpp cpp "$r"
    pair rs rs "$r"
    pair cpp rs "$r"
    pair rs cpp "$r"
    start_server "$out/server.out" "$rs/bench-raw" server
    "${pin[@]}" "$rs/bench-raw" client "$port" --latency "$LATENCY" --byte-size "$BYTE_SIZE" \
        --byte-calls "$BYTE_CALLS" | sed "s|^|raw $r |" >>"$results"
    stop_server
    echo "  round $r/$ROUNDS done" >&2
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
echo "counts: latency $LATENCY, oneway $ONEWAY, callers $CALLERS, bytes $BYTE_SIZE x $BYTE_CALLS, sequences $SEQ_SIZE x $SEQ_CALLS, rounds $ROUNDS${PIN:+, pinned to CPU $PIN}"
echo "pairing = client/server; us = microseconds per call; speed = C++/C++ median time / this median time (above 1: faster)"
echo
awk -v callers="$CALLERS" '
function sort(list, a,   n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n
}
function med(list,   a, n) { n = sort(list, a); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function lo(list,   a, n) { n = sort(list, a); return a[1] }
function hi(list,   a, n) { n = sort(list, a); return a[n] }
$3 == "figure" {
    p = $1; f = $4
    if (!(f in seen)) { seen[f] = 1; order[++nf] = f }
    t[p, f] = t[p, f] " " $5
    if ($6 != "-") m[p, f] = m[p, f] " " $6
}
END {
    raw_of["twoway-noop"] = "raw-pingpong"; raw_of["twoway-ping"] = "raw-pingpong"
    raw_of["bytes-send"] = "raw-bulk-send"; raw_of["bytes-recv"] = "raw-bulk-send"; raw_of["bytes-echo"] = "raw-bulk-echo"
    np = split("cpp/cpp rs/rs cpp/rs rs/cpp", pairs, " ")
    printf "%-18s %-8s %11s %11s %11s %8s %8s %8s\n", "figure", "pairing", "min_us", "median_us", "max_us", "MB/s", "speed", "vs_raw"
    for (i = 1; i <= nf; i++) {
        f = order[i]
        if (f ~ /^raw-/) continue
        base = ((("cpp/cpp", f) in t)) ? med(t["cpp/cpp", f]) : 0
        r = raw_of[f]
        rawt = (r != "" && (("raw", r) in t)) ? med(t["raw", r]) : 0
        for (j = 1; j <= np; j++) {
            p = pairs[j]
            if (!((p, f) in t)) continue
            mt = med(t[p, f])
            mb = ((p, f) in m) ? sprintf("%.0f", med(m[p, f])) : "-"
            sp = (base > 0) ? sprintf("%.2f", base / mt) : "-"
            vr = (rawt > 0) ? sprintf("%.2f", rawt / mt) : "-"
            printf "%-18s %-8s %11.1f %11.1f %11.1f %8s %8s %8s\n", (j == 1 ? f : ""), p, lo(t[p, f]), mt, hi(t[p, f]), mb, sp, vr
            speed[p, f] = (base > 0) ? base / mt : 0
            vsraw[p, f] = (rawt > 0) ? rawt / mt : 0
        }
    }
    for (i = 1; i <= nf; i++) {
        f = order[i]
        if (f !~ /^raw-/) continue
        mb = (("raw", f) in m) ? sprintf("%.0f", med(m["raw", f])) : "-"
        printf "%-18s %-8s %11.1f %11.1f %11.1f %8s %8s %8s\n", f, "raw", lo(t["raw", f]), med(t["raw", f]), hi(t["raw", f]), mb, "-", "-"
    }
    print ""
    print "goals (Rust/Rust, medians):"
    goal("twoway-noop latency <= 0.8x C++/C++", ("rs/rs", "twoway-noop") in speed, 1 / speed["rs/rs", "twoway-noop"], "x", "<=", 0.8)
    goal("twoway-ping latency <= 0.8x C++/C++", ("rs/rs", "twoway-ping") in speed, 1 / speed["rs/rs", "twoway-ping"], "x", "<=", 0.8)
    goal("twoway-noop latency <= 1.5x raw TCP ping-pong", ("rs/rs", "twoway-noop") in vsraw, 1 / vsraw["rs/rs", "twoway-noop"], "x", "<=", 1.5)
    split("bytes-send bytes-recv bytes-echo", bf, " ")
    for (k = 1; k <= 3; k++) {
        goal(bf[k] " throughput >= 1x C++/C++", ("rs/rs", bf[k]) in speed, speed["rs/rs", bf[k]], "x", ">=", 1)
        goal(bf[k] " throughput >= 0.7x raw TCP bulk", ("rs/rs", bf[k]) in vsraw, vsraw["rs/rs", bf[k]], "x", ">=", 0.7)
    }
    split("strings small fixed", sf, " ")
    split("send recv echo", op, " ")
    for (k = 1; k <= 3; k++) for (o = 1; o <= 3; o++) {
        f = sf[k] "-" op[o]
        goal(f " throughput >= 1.5x C++/C++", ("rs/rs", f) in speed, speed["rs/rs", f], "x", ">=", 1.5)
    }
}
function goal(what, have, value, unit, cmp, bound,   ok) {
    if (!have) return
    ok = (cmp == "<=") ? (value <= bound) : (value >= bound)
    printf "  %-48s %6.2f%s  %s\n", what, value, unit, ok ? "met" : "NOT met"
}' "$results"

if [ "${REPLICATOR:-1}" != 0 ] && [ -x scripts/bench-replicator.sh ]; then
    echo
    scripts/bench-replicator.sh
fi
