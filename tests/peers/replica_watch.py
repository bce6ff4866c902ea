#!/usr/bin/python3
"""Watch a replica-group member: registers a ReplicaListener (ZeroC Python
Ice, ReplicaIf.ice) with the member's Replica and prints what it is told.

Usage: replica_watch.py PROXY [--Watch.Events=N] [--Watch.Timeout=MS] [--Ice.Name=value ...]

Prints `READY\t<listener proxy>` once registered, then one line per event,
as it arrives: `ACTIVATED <source identity>` or `STANDBY <source identity>`.
Exits 0 after N events (default 2), 2 when the member cannot be reached or
Watch.Timeout (default 30000 ms) passes first, 1 on other errors. The
listener adapter `Watch` listens on `tcp -h 127.0.0.1 -p 0` unless
`--Watch.Endpoints` says otherwise.
"""
import os
import sys
import threading

import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "slice"))
Ice.loadSlice(
    "--all -I%s %s"
    % (SLICE_DIR, os.path.join(SLICE_DIR, "AsteriskSCF", "System", "Component", "ReplicaIf.ice"))
)
import AsteriskSCF.System.Component.V1 as Component  # noqa: E402


class Watcher(Component.ReplicaListener):
    def __init__(self, communicator):
        self.communicator = communicator
        self.cond = threading.Condition()
        self.events = 0

    def _event(self, kind, source):
        name = "<null>" if source is None else self.communicator.identityToString(source.ice_getIdentity())
        with self.cond:
            print("%s %s" % (kind, name), flush=True)
            self.events += 1
            self.cond.notify_all()

    def activated(self, source, current=None):
        self._event("ACTIVATED", source)

    def onStandby(self, source, current=None):
        self._event("STANDBY", source)


def run(argv):
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(argv)
    argv = init.properties.parseCommandLineOptions("Watch", argv)
    props = init.properties
    if not props.getProperty("Watch.Endpoints"):
        props.setProperty("Watch.Endpoints", "tcp -h 127.0.0.1 -p 0")
    if not props.getProperty("Ice.Default.InvocationTimeout"):
        props.setProperty("Ice.Default.InvocationTimeout", "3000")
    props.setProperty("Ice.RetryIntervals", "-1")
    props.setProperty("Ice.Warn.UnknownProperties", "0")
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 1
    wanted = props.getPropertyAsIntWithDefault("Watch.Events", 2)
    timeout = props.getPropertyAsIntWithDefault("Watch.Timeout", 30000) / 1000.0
    with Ice.initialize(init) as communicator:
        adapter = communicator.createObjectAdapter("Watch")
        watcher = Watcher(communicator)
        prx = Component.ReplicaListenerPrx.uncheckedCast(adapter.addWithUUID(watcher))
        adapter.activate()
        replica = Component.ReplicaPrx.uncheckedCast(communicator.stringToProxy(args[0]))
        try:
            replica.addListener(prx)
        except (Ice.ConnectFailedException, Ice.TimeoutException) as e:
            print("error: unreachable: %s" % e.ice_id(), file=sys.stderr)
            return 2
        print("READY\t%s" % communicator.proxyToString(prx), flush=True)
        with watcher.cond:
            done = watcher.cond.wait_for(lambda: watcher.events >= wanted, timeout)
        try:
            replica.removeListener(prx)
        except Ice.Exception:
            pass
        return 0 if done else 2


def main():
    try:
        return run(sys.argv)
    except Ice.Exception as e:
        print("error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
