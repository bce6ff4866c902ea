#!/usr/bin/env bash
# Installs the ZeroC Ice 3.7 peers from the distribution's packages when any is missing.
set -euo pipefail
pkgs=(python3-zeroc-ice zeroc-ice-compilers libzeroc-ice-dev zeroc-ice-slice zeroc-icegrid resource-agents iputils-arping libxml2-utils iproute2 zeroc-ice-utils pacemaker corosync pacemaker-cli-utils)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ZeroC Ice peers: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
command -v slice2cpp >/dev/null
test -d /usr/share/ice/slice
