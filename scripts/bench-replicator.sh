#!/usr/bin/env bash
# Replicator benchmark (BENCHMARKS.md): state changes per second through the
# Rust scf-replicator and through the ZeroC C++ replicator peer
# (tests/peers/replicator.cpp, built with g++ -O2) to 1, 4 and 16 listeners,
# alternating C++ and Rust, ROUNDS rounds; the time from a setStateItems call
# to the change reaching a listener (median and 99th percentile, unloaded and
# under load); then failover time (activate on the standby -> first served
# request). Prints medians over the rounds and the issue's goals.
# The listeners run in bench-replicator, each on its own adapter and port.
#
# Then durable state: the same load through the Rust replicator in memory
# and with a data directory under each sync policy (group, call, none),
# DURABLE_ROUNDS rounds of DURABLE_CHANGES changes, printing changes/s and
# the ratio to in-memory (DURABLE=0 skips it; DURABLE_DIR chooses the file
# system, default a directory under the target dir).
#
# Then concurrent changes through an active member (MEMBER=0 skips it):
# MEMBER_BENCH_THREADS ZeroC Python clients of a release channel-service-x,
# the replicator in memory and under each sync policy, 1/4/16 standby
# members (replicator/tests/member_throughput.rs); the member sends the
# changes made during a call together, so they share a durable commit.
#
#   scripts/bench-replicator.sh          ROUNDS=3 CHANGES=5000 PROBES=500
#   ROUNDS=5 CHANGES=20000 scripts/bench-replicator.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
CHANGES=${CHANGES:-5000}
PROBES=${PROBES:-500}
LISTENERS=${LISTENERS:-1,4,16}
FAILOVERS=${FAILOVERS:-5}

target=${CARGO_TARGET_DIR:-target}
out=$target/bench
mkdir -p "$out"
echo "building the C++ replicator peer (g++ -O2)..." >&2
stamp=$(cat tests/peers/*.cpp tests/peers/*.h tests/peers/build.sh slice/AsteriskSCF/*/*.ice slice/AsteriskSCF/*/*/*.ice | cksum | cut -d' ' -f1)
if [ ! -x "$out/peers/scf-cpp-replicator" ] || [ "$(cat "$out/peers/stamp" 2>/dev/null)" != "$stamp" ]; then
    CXXFLAGS=-O2 tests/peers/build.sh "$out/peers" >&2
    echo "$stamp" >"$out/peers/stamp"
fi
echo "building the Rust replicator and the load generator (release)..." >&2
cargo build --release -q -p replicator --bins -p ice-bench
rs=$target/release

echo "replicator: $ROUNDS rounds, listeners $LISTENERS, $CHANGES changes under load, $PROBES one at a time" >&2
"$rs/bench-replicator" --rust "$rs/scf-replicator" --cpp "$out/peers/scf-cpp-replicator" \
    --listeners "$LISTENERS" --changes "$CHANGES" --probes "$PROBES" --rounds "$ROUNDS" \
    --failover "$FAILOVERS" --member "$rs/channel-service-x" >"$out/replicator.txt"

echo "replicator (medians over $ROUNDS rounds; us = microseconds from the set call to a listener's arrival)"
awk '
function med(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$1 == "replicator" {
    k = $2 SUBSEP $3
    if (!($3 in seen)) { seen[$3] = 1; counts[++nc] = $3 }
    rate[k] = rate[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6
    l50[k] = l50[k] " " $7; l99[k] = l99[k] " " $8
}
$1 == "failover" { fo = fo " " $2; nfo++ }
END {
    printf "%-10s %-5s %12s %12s %12s %14s %14s %10s\n", "listeners", "side", "changes/s", "median_us", "p99_us", "load_med_us", "load_p99_us", "rs/cpp"
    for (i = 1; i <= nc; i++) {
        n = counts[i]
        split("cpp rs", sides, " ")
        for (j = 1; j <= 2; j++) {
            k = sides[j] SUBSEP n
            if (!(k in rate)) continue
            r = ""
            if (sides[j] == "rs" && (("cpp" SUBSEP n) in rate)) r = sprintf("%.2fx", med(rate[k]) / med(rate["cpp" SUBSEP n]))
            printf "%-10s %-5s %12.0f %12.1f %12.1f %14.1f %14.1f %10s\n", (j == 1 ? n : ""), sides[j], med(rate[k]), med(p50[k]), med(p99[k]), med(l50[k]), med(l99[k]), r
        }
    }
    if (nfo > 0) printf "failover (activate on the standby -> first served request, Rust): median %.1f ms over %d\n", med(fo), nfo
    print ""
    print "goals:"
    if ((("rs" SUBSEP 16) in rate) && (("cpp" SUBSEP 16) in rate)) {
        x = med(rate["rs" SUBSEP 16]) / med(rate["cpp" SUBSEP 16])
        printf "  %-48s %6.2fx  %s\n", "changes/s at 16 listeners >= 2x C++ peer", x, (x >= 2) ? "met" : "NOT met"
    }
    if (("rs" SUBSEP 1) in p99) {
        x = med(p99["rs" SUBSEP 1])
        printf "  %-48s %6.0fus  %s\n", "p99 propagation at 1 listener < 1 ms", x, (x < 1000) ? "met" : "NOT met"
    }
}' "$out/replicator.txt"

member_bench() {
    [ "${MEMBER:-1}" = 1 ] || return 0
    echo
    echo "concurrent changes through an active member (replicator/tests/member_throughput.rs)"
    MEMBER_BENCH_BIN=$(cd "$rs" && pwd) cargo test -q -p replicator --test member_throughput -- \
        --ignored --nocapture 2>/dev/null | grep '^member'
}

[ "${DURABLE:-1}" = 1 ] || { member_bench; exit 0; }
DURABLE_ROUNDS=${DURABLE_ROUNDS:-1}
DURABLE_CHANGES=${DURABLE_CHANGES:-2000}
durable_dir=${DURABLE_DIR:-$out/durable}
rm -rf "$durable_dir"; mkdir -p "$durable_dir"
durable_dir=$(cd "$durable_dir" && pwd)
echo "durable state: $DURABLE_ROUNDS rounds, listeners $LISTENERS, $DURABLE_CHANGES changes one call after another, data in $durable_dir" >&2
: >"$out/durable.txt"
for policy in memory group call none; do
    bin=$rs/scf-replicator
    if [ "$policy" != memory ]; then
        # Every replicator the bench starts gets a fresh data directory.
        bin=$out/scf-replicator-$policy
        cat >"$bin" <<WRAP
#!/bin/sh
d=\$(mktemp -d -p "$durable_dir")
exec "$(cd "$rs" && pwd)/scf-replicator" --ChannelServiceXReplicator.DataDir="\$d" --ChannelServiceXReplicator.Sync=$policy "\$@"
WRAP
        chmod +x "$bin"
    fi
    "$rs/bench-replicator" --rust "$bin" --listeners "$LISTENERS" --changes "$DURABLE_CHANGES" \
        --probes 50 --rounds "$DURABLE_ROUNDS" | sed "s/^replicator rs /replicator $policy /" >>"$out/durable.txt"
    rm -rf "${durable_dir:?}"/*
done
echo
echo "durable state (medians over $DURABLE_ROUNDS rounds; one setStateItems call after another, as an active member with one caller at a time sends them)"
awk '
function med(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$1 == "replicator" {
    k = $2 SUBSEP $3
    if (!($3 in seen)) { seen[$3] = 1; counts[++nc] = $3 }
    rate[k] = rate[k] " " $4
}
END {
    printf "%-10s %-8s %12s %12s\n", "listeners", "policy", "changes/s", "/memory"
    split("memory group call none", pol, " ")
    for (i = 1; i <= nc; i++) {
        n = counts[i]
        for (j = 1; j <= 4; j++) {
            k = pol[j] SUBSEP n
            if (!(k in rate)) continue
            printf "%-10s %-8s %12.0f %11.2fx\n", (j == 1 ? n : ""), pol[j], med(rate[k]), med(rate[k]) / med(rate["memory" SUBSEP n])
        }
    }
    if ((("group" SUBSEP 16) in rate) && (("memory" SUBSEP 16) in rate)) {
        x = med(rate["group" SUBSEP 16]) / med(rate["memory" SUBSEP 16])
        printf "  %-48s %6.2fx  %s\n", "group-committed durable >= 50% of memory at 16", x, (x >= 0.5) ? "met" : "NOT met"
    }
}' "$out/durable.txt"
member_bench
