#!/usr/bin/python3
"""A ZeroC Python peer of BridgeServiceZ (removal as an item subtype),
loading BridgeServiceZStateReplicationIf.ice with Ice.loadSlice.

Usage:
  bridge_z.py listen REPLICATOR [--Ice.Name=value ...]
      Registers a BridgeServiceZStateReplicatorListener with the replicator
      and prints `READY\t<listener proxy>`, then one line per item pushed
      with stateItemsSet, in arrival order: `SET <key> <rate> <m1,m2,...>`
      for a bridge, `REMOVED <key>` for a BridgeServiceZStateItemRemoval.
      Exits 0 when its standard input closes.
  bridge_z.py push REPLICATOR N [--Ice.Name=value ...]
      Acts as the active component: N changes (new bridges, bridges
      gaining a member, removals sent as removal items, some calls mixing
      removals and sets), each call acknowledged by the replicator before
      its lines are printed (same format), then `DONE`.

Exit codes: 0 success, 2 replicator unreachable, 1 other errors.
"""
from variant_peer import load_slice, main, show

load_slice("AsteriskSCF", "BridgeServiceZ", "BridgeServiceZStateReplicationIf.ice")
import AsteriskSCF.BridgeServiceZ.V1 as Z  # noqa: E402


def item_line(i):
    if isinstance(i, Z.BridgeServiceZStateItemRemoval):
        return "REMOVED %s" % i.key
    if isinstance(i, Z.BridgeServiceZBridgeStateItem):
        return "SET %s %d %s" % (i.key, i.mixingRate, ",".join(i.members) or "-")
    return "UNKNOWN %s" % (None if i is None else i.ice_id())


class Listener(Z.BridgeServiceZStateReplicatorListener):
    def stateItemsSet(self, items, current=None):
        show(*[item_line(i) for i in items])


def bridge(key, rate, members):
    return Z.BridgeServiceZBridgeStateItem(key, members, rate)


def removal(key):
    return Z.BridgeServiceZStateItemRemoval(key)


def push(replicator, n):
    done = 0
    i = 0
    members = {}
    while done < n:
        key = "zb%04d" % i
        members[key] = ["c%d" % i]
        calls = [[bridge(key, 8000 if i % 2 else 16000, list(members[key]))]]
        if i % 3 == 0:
            members[key].append("d%d" % i)
            calls.append([bridge(key, 8000, list(members[key]))])
        if i % 4 == 0:
            # A removal and a new bridge in one call.
            nxt = "zx%04d" % i
            calls.append([removal(key), bridge(nxt, 48000, [])])
        for items in calls:
            if done >= n:
                break
            items = items[: n - done]
            replicator.setStateItems(items)
            show(*[item_line(it) for it in items])
            done += len(items)
        i += 1
    show("DONE")


if __name__ == "__main__":
    main(
        __doc__,
        Z.BridgeServiceZStateReplicatorPrx,
        Z.BridgeServiceZStateReplicatorListenerPrx,
        Listener(),
        "BridgeZListener",
        push,
    )
