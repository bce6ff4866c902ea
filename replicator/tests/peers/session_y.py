#!/usr/bin/python3
"""A ZeroC Python peer of SessionServiceY (keys external to the items),
loading SessionServiceYStateReplicationIf.ice with Ice.loadSlice.

Usage:
  session_y.py listen REPLICATOR [--Ice.Name=value ...]
      Registers a SessionServiceYStateReplicatorListener with the
      replicator and prints `READY\t<listener proxy>`, then one line per
      pushed change, in arrival order: `SET <key> <caller> <callee> <answered>`
      for each entry of stateItemsSet, `REMOVED <key>` for each key of
      stateItemsRemoved. Exits 0 when its standard input closes.
  session_y.py push REPLICATOR N [--Ice.Name=value ...]
      Acts as the active component: N changes (sets of new sessions,
      updates that answer them, removals), each acknowledged by the
      replicator before its line is printed (same format), then `DONE`.

Exit codes: 0 success, 2 replicator unreachable, 1 other errors.
"""
from variant_peer import load_slice, main, show

load_slice("AsteriskSCF", "SessionServiceY", "SessionServiceYStateReplicationIf.ice")
import AsteriskSCF.SessionServiceY.V1 as Y  # noqa: E402


def entry_line(e):
    s = e.item
    if s is None:
        return "SET %s <null>" % e.key
    return "SET %s %s %s %s" % (e.key, s.caller, s.callee, "true" if s.answered else "false")


class Listener(Y.SessionServiceYStateReplicatorListener):
    def stateItemsSet(self, entries, current=None):
        for e in entries:
            show(entry_line(e))

    def stateItemsRemoved(self, keys, current=None):
        for k in keys:
            show("REMOVED %s" % k)


def entry(key, caller, callee, answered):
    return Y.SessionServiceYStateEntry(key, Y.SessionServiceYSessionStateItem(caller, callee, answered))


def push(replicator, n):
    done = 0
    i = 0
    while done < n:
        key = "s%04d" % i
        e = entry(key, "alice%d" % i, "bob%d" % i, False)
        replicator.setStateItems([e])
        show(entry_line(e))
        done += 1
        if done < n and i % 2 == 0:
            e = entry(key, "alice%d" % i, "bob%d" % i, True)
            replicator.setStateItems([e])
            show(entry_line(e))
            done += 1
        if done < n and i % 5 == 0:
            replicator.removeStateItems([key])
            show("REMOVED %s" % key)
            done += 1
        i += 1
    show("DONE")


if __name__ == "__main__":
    main(
        __doc__,
        Y.SessionServiceYStateReplicatorPrx,
        Y.SessionServiceYStateReplicatorListenerPrx,
        Listener(),
        "SessionYListener",
        push,
    )
