#!/usr/bin/python3
"""ZeroC Python Ice server of the per-adapter MessageSizeMax test: three
adapters (A, B, C) each serving Test::Tester as `tester` on 127.0.0.1 at a
free port, with A.MessageSizeMax=16, B.MessageSizeMax=64 and C left to
Ice.MessageSizeMax=128 (KiB). Prints the three ports on one line.
"""
import os
import sys

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402


class TesterI(Test.Tester):
    def echo(self, s, current):
        return s


def main():
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(sys.argv)
    init.properties.setProperty("Ice.MessageSizeMax", "128")
    init.properties.setProperty("A.MessageSizeMax", "16")
    init.properties.setProperty("B.MessageSizeMax", "64")
    init.properties.setProperty("Ice.Warn.Connections", "0")
    with Ice.initialize(init) as communicator:
        ports = []
        for name in ("A", "B", "C"):
            adapter = communicator.createObjectAdapterWithEndpoints(name, "tcp -h 127.0.0.1 -p 0")
            adapter.add(TesterI(), Ice.stringToIdentity("tester"))
            adapter.activate()
            ports.append(str(adapter.getEndpoints()[0].getInfo().port))
        print(" ".join(ports), flush=True)
        communicator.waitForShutdown()


if __name__ == "__main__":
    main()
