#!/usr/bin/python3
"""ZeroC Python Ice client of the per-adapter MessageSizeMax test: echoes
strings of 10, 40, 100 and 200 kB to `tester` on each port given, each
size on a connection of its own, and prints `<port index> <kB> -> <ok or
exception type>`.

Usage: msgsize_client.py PORT_A PORT_B PORT_C
"""
import sys

import Ice
import os

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402


def main():
    init = Ice.InitializationData()
    init.properties = Ice.createProperties()
    init.properties.setProperty("Ice.MessageSizeMax", "4096")
    init.properties.setProperty("Ice.RetryIntervals", "-1")
    with Ice.initialize(init) as communicator:
        for index, port in enumerate(sys.argv[1:4]):
            for kb in (10, 40, 100, 200):
                prx = Test.TesterPrx.uncheckedCast(
                    communicator.stringToProxy("tester:tcp -h 127.0.0.1 -p %s" % port)
                ).ice_connectionId("%d-%d" % (index, kb))
                s = "x" * (kb * 1000)
                try:
                    result = "ok" if prx.echo(s) == s else "wrong"
                except Ice.Exception as e:
                    result = type(e).__name__
                print("%s %d -> %s" % ("ABC"[index], kb, result), flush=True)


if __name__ == "__main__":
    main()
