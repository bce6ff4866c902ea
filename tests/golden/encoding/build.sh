#!/bin/sh
# Builds the golden fixture generator/checker: build.sh OUTDIR -> OUTDIR/golden
# Needs slice2cpp (zeroc-ice-compilers) and the C++ headers/libraries
# (libzeroc-ice-dev) of ZeroC Ice 3.7.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out/gen"
for tool in slice2cpp g++; do
    command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool not found (install zeroc-ice-compilers libzeroc-ice-dev g++)" >&2; exit 69; }
done
[ -f /usr/include/Ice/Ice.h ] || { echo "build.sh: /usr/include/Ice/Ice.h not found (install libzeroc-ice-dev)" >&2; exit 69; }
slice2cpp -I"$here" --output-dir "$out/gen" "$here/Fixtures.ice" "$here/GoldenHidden.ice"
CXXFLAGS=${CXXFLAGS:--O2}
# One g++ per translation unit so the two cores can share the work.
g++ -std=c++17 -DICE_CPP11_MAPPING $CXXFLAGS -I"$out/gen" -c "$out/gen/Fixtures.cpp" -o "$out/gen/Fixtures.o" &
p1=$!
g++ -std=c++17 -DICE_CPP11_MAPPING $CXXFLAGS -I"$out/gen" -c "$out/gen/GoldenHidden.cpp" -o "$out/gen/GoldenHidden.o" &
p2=$!
g++ -std=c++17 -DICE_CPP11_MAPPING $CXXFLAGS -I"$out/gen" -c "$here/golden.cpp" -o "$out/gen/golden.o"
wait $p1
wait $p2
g++ -o "$out/golden.tmp" "$out/gen/golden.o" "$out/gen/Fixtures.o" "$out/gen/GoldenHidden.o" \
    -lIceSSL++11 -lIce++11 -lpthread
mv "$out/golden.tmp" "$out/golden"
