#!/usr/bin/python3
"""ZeroC Python Ice server for the runtime interop tests.

Serves Test::Tester as identity `tester` on 127.0.0.1 at a free port and
prints the port on stdout; the endpoint is `tcp` unless the property
Test.Endpoints names another (for example `ssl -h 127.0.0.1 -p 0`, with
the IceSSL plugin and its properties on the command line). Extra Ice properties come from the command line
(for example --Ice.Default.EncodingVersion=1.0). Each request's parameter
encoding is recorded; `takeRecorded` returns recorded messages followed by
"enc=<versions seen>".
"""
import os
import sys

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402


class TesterI(Test.Tester):
    def __init__(self):
        self.recorded = []
        self.encodings = set()

    def _seen(self, current):
        self.encodings.add("%d.%d" % (current.encoding.major, current.encoding.minor))

    def echo(self, s, current):
        self._seen(current)
        return s

    def add(self, a, b, current):
        self._seen(current)
        return (a + b, a * b)

    def record(self, msg, current):
        self._seen(current)
        self.recorded.append(msg)

    def takeRecorded(self, current):
        self._seen(current)
        out = self.recorded + ["enc=" + ",".join(sorted(self.encodings))]
        self.recorded = []
        return out

    def getContext(self, key, current):
        self._seen(current)
        return current.ctx.get(key, "<none>")

    def fail(self, reason, code, current):
        self._seen(current)
        raise Test.Boom(reason, code)

    def crash(self, current):
        raise RuntimeError("crash requested")

    def callBack(self, name, current):
        # Returns a future: the single server thread must stay free to read
        # the callback's reply on the same connection.
        return current.con.createProxy(Ice.stringToIdentity(name)).ice_idAsync()

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


def main():
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(sys.argv)
    # Test.* properties on the command line too (Ice reads only its own).
    init.properties.parseCommandLineOptions("Test", sys.argv)
    with Ice.initialize(sys.argv, init) as communicator:
        endpoints = communicator.getProperties().getPropertyWithDefault(
            "Test.Endpoints", "tcp -h 127.0.0.1 -p 0")
        adapter = communicator.createObjectAdapterWithEndpoints("TestAdapter", endpoints)
        servant = TesterI()
        adapter.add(servant, Ice.stringToIdentity("tester"))
        adapter.addFacet(servant, Ice.stringToIdentity("tester"), "extra")
        adapter.activate()
        # An ssl or ws endpoint's information holds the tcp one's.
        info = adapter.getEndpoints()[0].getInfo()
        while not hasattr(info, "port"):
            info = info.underlying
        print(info.port, flush=True)
        communicator.waitForShutdown()


if __name__ == "__main__":
    main()
