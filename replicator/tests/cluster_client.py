#!/usr/bin/python3
"""A ZeroC Python Ice client of ChannelServiceX that keeps calling the
service through one (shared) address across a failover, for the cluster
tests.

Usage: cluster_client.py PROXY PREFIX [--Ice.Name=value ...] [--Client.GiveUp=MS]
                          [--Client.Pause=MS]

Creates channels PREFIX1, PREFIX2, ... one after the other
(createChannel(PREFIXn, "sip:PREFIXn@example"), which replaces a channel of
the same id, so a retry after a lost reply is harmless). Prints
  ACK n ms          once channel n is acknowledged (ms since the start)
  RETRY n reason    when a call failed (NotActive, unreachable, no endpoint
                    from the locator, or an unknown exception such as the
                    active member's replicator being unreachable) and is
                    retried
and, after a `stop` line (or the end) on stdin, `DONE n` with the last
acknowledged n. --Client.Pause pauses between two channels (default 0).
Exits 3 (`GAVEUP n`) when channel n cannot be created within
--Client.GiveUp ms (default 30000), 1 on other errors.
"""
import os
import sys
import threading
import time

import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
# The ChannelServiceX mapping, as the one-shot client tests/peers/channel_client.py
# loads it.
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "tests", "peers")))
from channel_client import X  # noqa: E402

RETRIED = (
    X.NotActive,
    Ice.ConnectFailedException,
    Ice.ConnectionLostException,
    Ice.TimeoutException,
    Ice.SocketException,
    Ice.NoEndpointException,
    Ice.UnknownException,
)


def run(argv):
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(argv)
    argv = init.properties.parseCommandLineOptions("Client", argv)
    for name, value in (
        ("Ice.Default.InvocationTimeout", "1000"),
        ("Ice.Override.ConnectTimeout", "500"),
    ):
        if not init.properties.getProperty(name):
            init.properties.setProperty(name, value)
    init.properties.setProperty("Ice.RetryIntervals", "-1")
    init.properties.setProperty("Ice.Warn.Connections", "0")
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 1
    proxy, prefix = args
    pause = init.properties.getPropertyAsIntWithDefault("Client.Pause", 0) / 1000.0
    give_up = init.properties.getPropertyAsIntWithDefault("Client.GiveUp", 30000) / 1000.0

    stop = threading.Event()

    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    start = time.monotonic()
    with Ice.initialize(init) as communicator:
        svc = X.ChannelServicePrx.uncheckedCast(communicator.stringToProxy(proxy))
        n = 0
        while not stop.is_set():
            n += 1
            cid = "%s%d" % (prefix, n)
            first = time.monotonic()
            while True:
                try:
                    svc.createChannel(cid, "sip:%s@example" % cid)
                    break
                except RETRIED as e:
                    name = e.ice_id() if hasattr(e, "ice_id") else type(e).__name__
                    print("RETRY %d %s" % (n, name), flush=True)
                    if time.monotonic() - first > give_up:
                        print("GAVEUP %d" % n, flush=True)
                        return 3
                    time.sleep(0.02)
            print("ACK %d %d" % (n, (time.monotonic() - start) * 1000), flush=True)
            if pause > 0:
                stop.wait(pause)
        print("DONE %d" % n, flush=True)
    return 0


def main():
    try:
        return run(sys.argv)
    except Ice.Exception as e:
        print("error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
