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
import os
import sys
import threading

import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "slice"))
Ice.loadSlice(
    "-I%s %s"
    % (
        SLICE_DIR,
        os.path.join(SLICE_DIR, "AsteriskSCF", "SessionServiceY", "SessionServiceYStateReplicationIf.ice"),
    )
)
import AsteriskSCF.SessionServiceY.V1 as Y  # noqa: E402

LOCK = threading.Lock()


def show(line):
    with LOCK:
        print(line, flush=True)


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


def run(argv):
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(argv)
    argv = init.properties.parseCommandLineOptions("", argv)
    props = init.properties
    props.setProperty("Listener.Endpoints", "tcp -h 127.0.0.1 -p 0")
    if not props.getProperty("Ice.Default.InvocationTimeout"):
        props.setProperty("Ice.Default.InvocationTimeout", "5000")
    props.setProperty("Ice.RetryIntervals", "-1")
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) < 2 or args[0] not in ("listen", "push"):
        sys.stderr.write(__doc__)
        return 1
    with Ice.initialize(init) as communicator:
        replicator = Y.SessionServiceYStateReplicatorPrx.uncheckedCast(communicator.stringToProxy(args[1]))
        try:
            if args[0] == "push":
                push(replicator, int(args[2]))
                return 0
            adapter = communicator.createObjectAdapter("Listener")
            prx = Y.SessionServiceYStateReplicatorListenerPrx.uncheckedCast(
                adapter.add(Listener(), Ice.stringToIdentity("SessionYListener"))
            )
            adapter.activate()
            replicator.addListener(prx)
            show("READY\t%s" % communicator.proxyToString(prx))
            sys.stdin.read()
            replicator.removeListener(prx)
            return 0
        except (Ice.ConnectFailedException, Ice.ConnectionRefusedException, Ice.TimeoutException) as e:
            sys.stderr.write("replicator unreachable: %s\n" % e)
            return 2


if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv))
    except Ice.Exception as e:
        sys.stderr.write("error: %s\n" % e)
        sys.exit(1)
