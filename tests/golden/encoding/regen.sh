#!/bin/sh
# Rebuilds the generator and rewrites fixtures/ from ZeroC Ice, then checks
# the fixtures with the same program (gen and check must agree).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${GOLDEN_BUILD_DIR:-"$here/../../../target/golden-encoding-regen"}
"$here/build.sh" "$build"
rm -rf "$here/fixtures"
mkdir -p "$here/fixtures"
"$build/golden" gen "$here/fixtures"
"$build/golden" check "$here/fixtures" | tail -n 1
