#!/usr/bin/env bash
# Runs ZeroC's slice2cpp on every corpus file and checks that its first error is at
# the place named by the file's `// expect-error:` annotation. Exit status 1 on any
# mismatch. Usage: verify.sh [file.ice...]   (default: every *.ice in this folder)
set -u
dir="$(cd "$(dirname "$0")" && pwd)"
command -v slice2cpp >/dev/null || { echo "slice2cpp not found: run scripts/install-ice.sh" >&2; exit 2; }
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
if [ $# -eq 0 ]; then set -- "$dir"/*.ice; fi
bad=0; total=0
for f in "$@"; do
    f="$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
    total=$((total + 1))
    ann="$(head -n1 "$f" | sed -n 's|^// expect-error: \(.*\)$|\1|p')"
    case "$ann" in
        *:*) want_file="${ann%:*}"; want_line="${ann##*:}" ;;
        "") echo "NO ANNOTATION $f"; bad=$((bad + 1)); continue ;;
        *) want_file="$(basename "$f")"; want_line="$ann" ;;
    esac
    err="$(slice2cpp --output-dir "$out" -I"$dir" "$f" 2>&1 >/dev/null)"; rc=$?
    first="$(printf '%s\n' "$err" | grep -E '^.+:[0-9]+: ' | grep -v 'warning:' | head -n1)"
    got_file="$(printf '%s' "$first" | sed -E 's/^(.+):([0-9]+): .*$/\1/')"
    got_line="$(printf '%s' "$first" | sed -E 's/^(.+):([0-9]+): .*$/\2/')"
    if [ $rc -eq 0 ] || [ "$got_line" != "$want_line" ] ||
       { [ "$got_file" != "$want_file" ] && [ "${got_file%/"$want_file"}" = "$got_file" ]; }; then
        echo "MISMATCH $(basename "$f"): want $want_file:$want_line, slice2cpp exit $rc, first error: ${first:-none}"
        bad=$((bad + 1))
    fi
done
echo "$((total - bad))/$total files rejected by slice2cpp at the annotated line"
[ $bad -eq 0 ]
