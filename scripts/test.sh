#!/usr/bin/env bash
# The whole test suite: installs the ZeroC Ice peers when missing, then runs
# every test of the workspace (unit, integration, interop, fuzz smoke runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-ice.sh
export CARGO_TERM_COLOR=never
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
