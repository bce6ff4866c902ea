#!/usr/bin/python3
"""ZeroC Python Ice client that pings one object, for the transport tests.

Usage: ping.py PROXY [COUNT] [--Ice.* / --IceSSL.* properties ...]

Pings PROXY COUNT times (default 1) and prints `ok` and exits 0, or prints
`FAIL <exception type>: <message>` and exits 1 at the first failure.
"""
import sys

import Ice


def main():
    with Ice.initialize(sys.argv) as communicator:
        args = sys.argv[1:]
        proxy = communicator.stringToProxy(args[0])
        count = int(args[1]) if len(args) > 1 else 1
        try:
            for _ in range(count):
                proxy.ice_ping()
        except Ice.Exception as e:
            print("FAIL %s: %s" % (type(e).__name__, str(e).replace("\n", " ")), flush=True)
            sys.exit(1)
        print("ok", flush=True)


if __name__ == "__main__":
    main()
