#!/usr/bin/env bash
# The main job: a small failover demo of the Rust State Replicator.
# Starts scf-replicator (loopback, embedded defaults), two channel-service-x
# members (standby), activates the first with replica-ctl, creates channels
# through the first one's ChannelService (ZeroC Python client), kills it with
# SIGKILL, activates the second with replica-ctl, and compares the state.
# Then kills the replicator (SIGKILL), restarts it on the same port with the
# same data directory, creates a channel through the active member once it
# accepts changes again, starts a third member that catches up from the
# restarted replicator alone, activates it and compares its state with the
# active member's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-ice.sh
cargo build --release -q -p replicator --bins
bin="${CARGO_TARGET_DIR:-target}/release"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
ready() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "no READY in $1" >&2; exit 1; }

mkdir "$tmp/data"
"$bin/scf-replicator" --ChannelServiceXReplicator.Endpoints="tcp -h 127.0.0.1 -p 0" \
  --ChannelServiceXReplicator.DataDir="$tmp/data" >"$tmp/r" 2>"$tmp/r.log" &
pids+=($!); pid_r=$!; ready "$tmp/r"
rep=$(head -1 "$tmp/r" | cut -f2)
echo "replicator: $rep"
for m in a b; do
  "$bin/channel-service-x" "--ChannelServiceX.StateReplicatorName=$rep" >"$tmp/$m" 2>"$tmp/$m.log" &
  pids+=($!); eval "pid_$m=$!"; ready "$tmp/$m"
done
a_svc=$(head -1 "$tmp/a" | cut -f2); a_rep=$(head -1 "$tmp/a" | cut -f3)
b_svc=$(head -1 "$tmp/b" | cut -f2); b_rep=$(head -1 "$tmp/b" | cut -f3)
"$bin/replica-ctl" activate "$a_rep"
client=tests/peers/channel_client.py
for i in $(seq 1 20); do /usr/bin/python3 $client "$a_svc" create "ch$i" "sip:ch$i@example" >/dev/null; done
for i in $(seq 1 20 | awk 'NR%3==0'); do /usr/bin/python3 $client "$a_svc" state "ch$i" Up >/dev/null; done
/usr/bin/python3 $client "$a_svc" destroy ch5 >/dev/null
/usr/bin/python3 $client "$a_svc" dump >"$tmp/before"
kill -9 "$pid_a"
echo "active member killed (SIGKILL)"
start=$(date +%s%N)
"$bin/replica-ctl" activate "$b_rep"
/usr/bin/python3 $client "$b_svc" dump >"$tmp/after"
echo "failover (activate + first dump) took $(( ($(date +%s%N) - start) / 1000000 )) ms"
if diff "$tmp/before" "$tmp/after"; then
  echo "state after failover: $(grep -c ^ITEM "$tmp/after") channels, identical to the killed active's"
else
  echo "state differs after failover" >&2; exit 1
fi

kill -9 "$pid_r"
echo "replicator killed (SIGKILL)"
port=$(echo "$rep" | sed -E 's/.*-p ([0-9]+).*/\1/')
start=$(date +%s%N)
"$bin/scf-replicator" --ChannelServiceXReplicator.Endpoints="tcp -h 127.0.0.1 -p $port" \
  --ChannelServiceXReplicator.DataDir="$tmp/data" >"$tmp/r2" 2>"$tmp/r2.log" &
pids+=($!); ready "$tmp/r2"
ok=
for _ in $(seq 100); do
  if /usr/bin/python3 $client "$b_svc" create after-restart "sip:after-restart@example" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { echo "the active member accepts no change after the replicator restart" >&2; exit 1; }
echo "replicator restarted; changes accepted again after $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$bin/channel-service-x" "--ChannelServiceX.StateReplicatorName=$rep" >"$tmp/c" 2>"$tmp/c.log" &
pids+=($!); ready "$tmp/c"
c_svc=$(head -1 "$tmp/c" | cut -f2); c_rep=$(head -1 "$tmp/c" | cut -f3)
/usr/bin/python3 $client "$b_svc" dump >"$tmp/active"
"$bin/replica-ctl" standby "$b_rep"
"$bin/replica-ctl" activate "$c_rep"
/usr/bin/python3 $client "$c_svc" dump >"$tmp/restored"
if diff "$tmp/active" "$tmp/restored"; then
  echo "state served by the restarted replicator: $(grep -c ^ITEM "$tmp/restored") channels, identical to the active member's"
else
  echo "state differs after the replicator restart" >&2; exit 1
fi
