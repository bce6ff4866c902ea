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
# Last, redundant replicators: the members' StateReplicatorName lists two
# replicator endpoints; the replicator is replaced by a pair (the first
# durable on the same data directory, the second following it on standby),
# the active one is killed (SIGKILL) and the standby one promoted with
# replica-ctl; the active member goes on, and a fresh member catching up
# from the promoted replicator holds the active member's state.
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
# A free port below the ephemeral range: the second one is bound only when
# a standby replicator is promoted, and no outgoing connection takes it meanwhile.
free_port() {
  /usr/bin/python3 -c '
import random, socket
while True:
    p = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}
port=$(free_port); port2=$(free_port)
"$bin/scf-replicator" --ChannelServiceXReplicator.Endpoints="tcp -h 127.0.0.1 -p $port" \
  --ChannelServiceXReplicator.DataDir="$tmp/data" >"$tmp/r" 2>"$tmp/r.log" &
pids+=($!); pid_r=$!; ready "$tmp/r"
rep=$(head -1 "$tmp/r" | cut -f2)
echo "replicator: $rep"
# Where the members find the replicator: its endpoints and, for the last
# part, a second replicator's.
group="$rep:tcp -h 127.0.0.1 -p $port2"
for m in a b; do
  "$bin/channel-service-x" "--ChannelServiceX.StateReplicatorName=$group" >"$tmp/$m" 2>"$tmp/$m.log" &
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
start=$(date +%s%N)
"$bin/scf-replicator" --ChannelServiceXReplicator.Endpoints="tcp -h 127.0.0.1 -p $port" \
  --ChannelServiceXReplicator.DataDir="$tmp/data" >"$tmp/r2" 2>"$tmp/r2.log" &
pids+=($!); pid_r2=$!; ready "$tmp/r2"
ok=
for _ in $(seq 100); do
  if /usr/bin/python3 $client "$b_svc" create after-restart "sip:after-restart@example" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { echo "the active member accepts no change after the replicator restart" >&2; exit 1; }
echo "replicator restarted; changes accepted again after $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$bin/channel-service-x" "--ChannelServiceX.StateReplicatorName=$group" >"$tmp/c" 2>"$tmp/c.log" &
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

# Redundant replicators: a pair replaces the replicator.
kill "$pid_r2"; wait "$pid_r2" 2>/dev/null || true
pair=(--ReplicatorManagement.Endpoints="tcp -h 127.0.0.1 -p 0" "--ChannelServiceXReplicator.StateReplicatorName=$group")
"$bin/scf-replicator" --ChannelServiceXReplicator.Endpoints="tcp -h 127.0.0.1 -p $port" \
  --ChannelServiceXReplicator.DataDir="$tmp/data" "${pair[@]}" >"$tmp/r3" 2>"$tmp/r3.log" &
pids+=($!); pid_r3=$!; ready "$tmp/r3"
"$bin/scf-replicator" --ChannelServiceXReplicator.Endpoints="tcp -h 127.0.0.1 -p $port2" \
  "${pair[@]}" >"$tmp/r4" 2>"$tmp/r4.log" &
pids+=($!); ready "$tmp/r4"
"$bin/replica-ctl" activate "$(head -1 "$tmp/r3" | cut -f3)"
for _ in $(seq 100); do [ "$(grep -c "following the active replicator" "$tmp/r4.log")" -ge 3 ] && break; sleep 0.1; done
echo "replicator pair: $(head -1 "$tmp/r3" | cut -f3) active, $(head -1 "$tmp/r4" | cut -f3) following it"
"$bin/replica-ctl" standby "$c_rep"
"$bin/replica-ctl" activate "$b_rep"
for _ in $(seq 100); do
  /usr/bin/python3 $client "$b_svc" create before-switch "sip:before-switch@example" >/dev/null 2>&1 && break
  sleep 0.1
done
kill -9 "$pid_r3"
echo "active replicator killed (SIGKILL)"
start=$(date +%s%N)
"$bin/replica-ctl" activate "$(head -1 "$tmp/r4" | cut -f3)"
ok=
for _ in $(seq 100); do
  if /usr/bin/python3 $client "$b_svc" create after-switch "sip:after-switch@example" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.05
done
[ -n "$ok" ] || { echo "the active member accepts no change after the replicator failover" >&2; exit 1; }
echo "standby replicator promoted; changes accepted again after $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$bin/channel-service-x" "--ChannelServiceX.StateReplicatorName=$group" >"$tmp/d" 2>"$tmp/d.log" &
pids+=($!); ready "$tmp/d"
d_svc=$(head -1 "$tmp/d" | cut -f2); d_rep=$(head -1 "$tmp/d" | cut -f3)
/usr/bin/python3 $client "$b_svc" dump >"$tmp/active2"
"$bin/replica-ctl" standby "$b_rep"
"$bin/replica-ctl" activate "$d_rep"
/usr/bin/python3 $client "$d_svc" dump >"$tmp/promoted"
if diff "$tmp/active2" "$tmp/promoted"; then
  echo "state served by the promoted replicator: $(grep -c ^ITEM "$tmp/promoted") channels, identical to the active member's"
else
  echo "state differs after the replicator failover" >&2; exit 1
fi
