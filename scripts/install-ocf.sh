#!/usr/bin/env bash
# Installs the OCF resource agent for replica-group members, so Pacemaker
# finds it as ocf:asterisk-scf:scf-replica:
#   scripts/install-ocf.sh            -> /usr/lib/ocf/resource.d/asterisk-scf/scf-replica
#   OCF_ROOT=/some/root scripts/install-ocf.sh
# The member and management programs (channel-service-x, replica-ctl) are
# found through the agent's `binary` and `ctl` parameters (default: PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
ocf_root=${OCF_ROOT:-/usr/lib/ocf}
provider=${OCF_PROVIDER:-asterisk-scf}
dest="$ocf_root/resource.d/$provider"
SUDO=""
[ "$(id -u)" -eq 0 ] || [ -w "$ocf_root" ] || SUDO="sudo"
$SUDO install -d -m 755 "$dest"
$SUDO install -m 755 replicator/ocf/scf-replica "$dest/scf-replica"
echo "installed $dest/scf-replica (ocf:$provider:scf-replica)"
if [ ! -r "$ocf_root/lib/heartbeat/ocf-shellfuncs" ]; then
    echo "note: $ocf_root/lib/heartbeat/ocf-shellfuncs is missing (package resource-agents); the agent runs without it" >&2
fi
