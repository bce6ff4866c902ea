#!/bin/sh
# Builds the ZeroC Ice C++ peers of the state-replication tests:
#   build.sh OUTDIR  ->  OUTDIR/scf-cpp-replicator, OUTDIR/scf-cpp-component,
#                        OUTDIR/scf-cpp-listener
# from the project's own Slice files in slice/ (slice2cpp, Ice 3.7 C++11 mapping).
# Needs slice2cpp (zeroc-ice-compilers), g++ and libzeroc-ice-dev; run
# scripts/install-ice.sh to install them.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
slice=$(cd "$here/../../slice" && pwd)
out=$1
for tool in slice2cpp g++; do
    command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool not found (run scripts/install-ice.sh: zeroc-ice-compilers libzeroc-ice-dev g++)" >&2; exit 69; }
done
[ -f /usr/include/Ice/Ice.h ] || { echo "build.sh: /usr/include/Ice/Ice.h not found (run scripts/install-ice.sh: libzeroc-ice-dev)" >&2; exit 69; }
gen=$out/gen
obj=$out/obj
mkdir -p "$gen/AsteriskSCF/System/Component" "$gen/AsteriskSCF/ChannelServiceX" "$obj"
slice2cpp -I"$slice" --include-dir AsteriskSCF/System/Component \
    --output-dir "$gen/AsteriskSCF/System/Component" \
    "$slice/AsteriskSCF/System/Component/ReplicaIf.ice"
slice2cpp -I"$slice" --include-dir AsteriskSCF/ChannelServiceX \
    --output-dir "$gen/AsteriskSCF/ChannelServiceX" \
    "$slice/AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.ice" \
    "$slice/AsteriskSCF/ChannelServiceX/ChannelServiceXIf.ice"
CXXFLAGS=${CXXFLAGS:--O1}
cxx() {
    g++ -std=c++17 -DICE_CPP11_MAPPING $CXXFLAGS -Wall -I"$gen" -I"$here" -c "$1" -o "$2"
}
# Two compilers at a time: the machine has two cores.
cxx "$gen/AsteriskSCF/System/Component/ReplicaIf.cpp" "$obj/ReplicaIf.o" &
p1=$!
cxx "$gen/AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.cpp" "$obj/ChannelServiceXStateReplicationIf.o"
wait $p1
cxx "$gen/AsteriskSCF/ChannelServiceX/ChannelServiceXIf.cpp" "$obj/ChannelServiceXIf.o" &
p1=$!
cxx "$here/replicator.cpp" "$obj/replicator.o"
wait $p1
cxx "$here/component.cpp" "$obj/component.o" &
p1=$!
cxx "$here/listener.cpp" "$obj/listener.o"
wait $p1
link() {
    g++ -o "$out/$1.tmp" "$obj/$2.o" "$obj/ReplicaIf.o" "$obj/ChannelServiceXStateReplicationIf.o" \
        "$obj/ChannelServiceXIf.o" -lIce++11 -lpthread
    mv "$out/$1.tmp" "$out/$1"
}
link scf-cpp-replicator replicator
link scf-cpp-component component
link scf-cpp-listener listener
