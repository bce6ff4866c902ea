"""A ZeroC Python object that prints every request it receives, as bytes.

    raw_listener.py [--Ice.X=...]

Serves every identity of its adapter (a default servant, `Ice.Blobject`)
on a loopback port, prints `READY<TAB>PROXY` (a proxy to identity
`listener` on that port), then for each request one line

    REQUEST <identity> <operation> <mode> <encoding> <hex of the parameter encapsulation>

and answers with an empty result, until stdin closes. It knows no Slice:
what it prints is what arrived on the wire.
"""
import sys
import threading

import Ice

LOCK = threading.Lock()

MODES = {
    Ice.OperationMode.Normal: "normal",
    Ice.OperationMode.Nonmutating: "nonmutating",
    Ice.OperationMode.Idempotent: "idempotent",
}


class Raw(Ice.Blobject):
    """Prints each request and answers with no results."""

    def ice_invoke(self, in_params, current):
        line = "REQUEST %s %s %s %s %s" % (
            current.id.name,
            current.operation,
            MODES.get(current.mode, str(current.mode)),
            Ice.encodingVersionToString(current.encoding),
            bytes(in_params).hex(),
        )
        with LOCK:
            print(line, flush=True)
        return (True, bytes())


def main():
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(sys.argv)
    init.properties.setProperty("Raw.Endpoints", "tcp -h 127.0.0.1 -p 0")
    with Ice.initialize(init) as communicator:
        adapter = communicator.createObjectAdapter("Raw")
        adapter.addDefaultServant(Raw(), "")
        adapter.activate()
        prx = adapter.createProxy(Ice.stringToIdentity("listener"))
        with LOCK:
            print("READY\t%s" % communicator.proxyToString(prx), flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Ice.Exception as e:
        sys.stderr.write("error: %s\n" % e)
        sys.exit(1)
