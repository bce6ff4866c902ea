"""What the ZeroC Python peers of the design's variants (session_y.py,
bridge_z.py) share: loading a component's Slice file, printing lines from
several threads, and the `listen` / `push` command line around the parts
that differ (the listener servant and the changes pushed).

Not a program: imported by the scripts beside it.
"""
import os
import sys
import threading

import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "slice"))

LOCK = threading.Lock()


def load_slice(*path):
    """Loads the Slice file at SLICE_DIR/path... with Ice.loadSlice."""
    Ice.loadSlice("-I%s %s" % (SLICE_DIR, os.path.join(SLICE_DIR, *path)))


def show(*lines):
    """Prints lines together (no other thread's line in between)."""
    with LOCK:
        for line in lines:
            print(line, flush=True)


def run(argv, doc, replicator_prx, listener_prx, listener, identity, push):
    """`listen REPLICATOR`: adds `listener` (a servant) as `identity`,
    registers it (a `listener_prx`) with the replicator (a
    `replicator_prx`), prints READY and serves until stdin closes.
    `push REPLICATOR N`: calls `push(replicator, N)`."""
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
        sys.stderr.write(doc)
        return 1
    with Ice.initialize(init) as communicator:
        replicator = replicator_prx.uncheckedCast(communicator.stringToProxy(args[1]))
        try:
            if args[0] == "push":
                push(replicator, int(args[2]))
                return 0
            adapter = communicator.createObjectAdapter("Listener")
            prx = listener_prx.uncheckedCast(adapter.add(listener, Ice.stringToIdentity(identity)))
            adapter.activate()
            replicator.addListener(prx)
            show("READY\t%s" % communicator.proxyToString(prx))
            sys.stdin.read()
            replicator.removeListener(prx)
            return 0
        except (Ice.ConnectFailedException, Ice.ConnectionRefusedException, Ice.TimeoutException) as e:
            sys.stderr.write("replicator unreachable: %s\n" % e)
            return 2


def main(*args):
    """Exits with what `run(sys.argv, *args)` returns, 1 on an Ice error."""
    try:
        sys.exit(run(sys.argv, *args))
    except Ice.Exception as e:
        sys.stderr.write("error: %s\n" % e)
        sys.exit(1)
