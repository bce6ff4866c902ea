#!/usr/bin/python3
"""Load for the active member's throughput: THREADS ZeroC Python threads,
each on a connection of its own, creating channels PREFIX<thread>-<n> one
after the other through ChannelService at PROXY for SECONDS seconds.

Usage: member_load.py PROXY PREFIX THREADS SECONDS [--Ice.Name=value ...]
Prints `CALLS <acknowledged calls> <seconds measured>`; exits 1 when a call
fails.
"""
import os
import sys
import threading
import time

import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "..", "tests", "peers")))
from channel_client import X  # noqa: E402


def main():
    with Ice.initialize(sys.argv) as communicator:
        args = [a for a in sys.argv[1:] if not a.startswith("--")]
        if len(args) != 4:
            print(__doc__, file=sys.stderr)
            return 1
        proxy, prefix, threads, seconds = args[0], args[1], int(args[2]), float(args[3])
        base = communicator.stringToProxy(proxy)
        counts = [0] * threads
        errors = []
        start = time.monotonic()
        deadline = start + seconds

        def work(i):
            svc = X.ChannelServicePrx.uncheckedCast(base.ice_connectionId("load%d" % i))
            n = 0
            try:
                while time.monotonic() < deadline:
                    n += 1
                    cid = "%s%d-%d" % (prefix, i, n)
                    svc.createChannel(cid, "sip:%s@example" % cid)
                    counts[i] += 1
            except Ice.Exception as e:
                errors.append(str(e))

        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - start
        if errors:
            print("error: %s" % errors[0], file=sys.stderr)
            return 1
        print("CALLS %d %.3f" % (sum(counts), elapsed), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
