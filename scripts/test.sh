#!/usr/bin/env bash
# The whole test suite: installs the ZeroC Ice peers when missing, then runs
# every test of the workspace (unit, integration, interop, fuzz smoke runs),
# and checks that the API documentation builds without a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-ice.sh
export CARGO_TERM_COLOR=never
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
