#!/usr/bin/env bash
# Times slice2rs and ZeroC's slice2cpp validating all of Ice's Slice files
# (/usr/share/ice/slice, 67 files) in one process each, alternating runs in
# the same session, and prints min/median of each and the ratio.
# Goal: slice2rs at least 2x faster than slice2cpp. It also prints the
# lines of Rust generated for those files and the time of full generation
# (validate + Rust) against slice2cpp's (goal: at most 0.3x).
#
#   scripts/bench-slice.sh            # 11 runs each
#   RUNS=21 scripts/bench-slice.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ICE_SLICE=/usr/share/ice/slice
RUNS=${RUNS:-11}
command -v slice2cpp >/dev/null || { echo "slice2cpp missing: run scripts/install-ice.sh" >&2; exit 1; }
[ -d "$ICE_SLICE" ] || { echo "$ICE_SLICE missing: run scripts/install-ice.sh" >&2; exit 1; }

target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p slice-compiler --bin slice2rs
bin="$target/release/slice2rs"

mapfile -t files < <(find "$ICE_SLICE" -name '*.ice' | sort)
echo "files: ${#files[@]}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

now() { date +%s%N; }
mkdir -p "$out/cpp" "$out/rs"
rs=()
cpp=()
gen=()
for _ in $(seq "$RUNS"); do
    t0=$(now)
    "$bin" "-I$ICE_SLICE" "${files[@]}"
    t1=$(now)
    slice2cpp "-I$ICE_SLICE" --output-dir "$out/cpp" "${files[@]}"
    t2=$(now)
    # For reference: slice2rs also generating Rust (slice2cpp always writes C++).
    "$bin" "-I$ICE_SLICE" --output-dir "$out/rs" "${files[@]}"
    t3=$(now)
    rs+=($(( (t1 - t0) / 1000 )))
    cpp+=($(( (t2 - t1) / 1000 )))
    gen+=($(( (t3 - t2) / 1000 )))
done

stats() { # prints "min median" in microseconds
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[1], a[int((NR+1)/2)]}'
}
read -r rs_min rs_med < <(stats "${rs[@]}")
read -r cpp_min cpp_med < <(stats "${cpp[@]}")
read -r gen_min gen_med < <(stats "${gen[@]}")
awk -v rmin="$rs_min" -v rmed="$rs_med" -v cmin="$cpp_min" -v cmed="$cpp_med" \
    -v gmin="$gen_min" -v gmed="$gen_med" -v runs="$RUNS" 'BEGIN {
    printf "slice2rs  (validate): min %8.2f ms  median %8.2f ms  (%d runs)\n", rmin / 1000, rmed / 1000, runs
    printf "slice2cpp (validate + C++): min %8.2f ms  median %8.2f ms  (%d runs)\n", cmin / 1000, cmed / 1000, runs
    printf "ratio slice2cpp/slice2rs: min %.2fx  median %.2fx (goal >= 2x)\n", cmin / rmin, cmed / rmed
    printf "slice2rs --output-dir (validate + Rust): min %8.2f ms  median %8.2f ms\n", gmin / 1000, gmed / 1000
    printf "generation time slice2rs/slice2cpp: min %.2fx  median %.2fx (goal <= 0.3x)\n", gmin / cmin, gmed / cmed
}'
lines=$(find "$out/rs" -name '*.rs' -exec cat {} + | wc -l)
cpp_lines=$(find "$out/cpp" \( -name '*.h' -o -name '*.cpp' \) -exec cat {} + | wc -l)
echo "generated lines: Rust $lines (slice2cpp: $cpp_lines of C++)"
