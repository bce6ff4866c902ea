#!/usr/bin/env bash
# The main job. Until the replicator binary exists this compiles the
# project's own Slice files with slice2rs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-ice.sh
mapfile -t files < <(find slice -name '*.ice' | sort)
cargo run --release -q -p slice-compiler --bin slice2rs -- -I slice "${files[@]}"
