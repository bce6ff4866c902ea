#!/bin/sh
# Builds the ZeroC Ice C++ side of the benchmark:
#   build.sh OUTDIR  ->  OUTDIR/server, OUTDIR/client
# from bench/Bench.ice (slice2cpp, Ice 3.7 C++11 mapping, g++ -O2). Skips the
# build when the sources are unchanged since the last one.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
ice=$(cd "$here/.." && pwd)/Bench.ice
out=$1
for tool in slice2cpp g++; do
    command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool not found (run scripts/install-ice.sh)" >&2; exit 69; }
done
mkdir -p "$out"
stamp=$(cat "$ice" "$here"/*.cpp "$here"/*.h "$0" | cksum | cut -d' ' -f1)
if [ -x "$out/server" ] && [ -x "$out/client" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
slice2cpp --output-dir "$out" "$ice"
cxx() {
    g++ -std=c++17 -DICE_CPP11_MAPPING -O2 -Wall -I"$out" -I"$here" "$@"
}
cxx -c "$out/Bench.cpp" -o "$out/Bench.o"
# Two compilers at a time: the machine has two cores.
cxx "$here/server.cpp" "$out/Bench.o" -o "$out/server" -lIce++11 -lpthread &
p=$!
cxx "$here/client.cpp" "$out/Bench.o" -o "$out/client" -lIce++11 -lpthread
wait $p
echo "$stamp" >"$out/stamp"
