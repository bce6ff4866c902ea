#!/usr/bin/python3
"""Drive a replica-group member's Replica object, the way a Pacemaker
resource agent drives Asterisk SCF components (ZeroC Python Ice,
ReplicaIf.ice loaded at run time).

Usage: replica_ctl.py activate|standby|status PROXY [--Ice.Name=value ...]
       (e.g. --Ice.Default.EncodingVersion=1.0 for Ice 3.4-era members)

PROXY is a stringified proxy of the member's Replica, e.g.
"ChannelServiceXReplica:tcp -h 127.0.0.1 -p 4061".

Exit codes:
  status:   0 active, 3 standby
  activate: 0 the member is active (activate() returned true), 1 it refused
  standby:  0 the member is on standby
  any:      2 unreachable or no answer in time (connect and invocation
              timeouts: --Ctl.Timeout=MS, default 3000), 1 usage or other error
Prints one line: "active", "standby", or "error: <why>" (stderr).
"""
import os
import sys

import Ice

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_UNREACHABLE = 2
EXIT_STANDBY = 3

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "slice"))
Ice.loadSlice(
    "--all -I%s %s"
    % (SLICE_DIR, os.path.join(SLICE_DIR, "AsteriskSCF", "System", "Component", "ReplicaIf.ice"))
)
import AsteriskSCF.System.Component.V1 as Component  # noqa: E402

UNREACHABLE = (
    Ice.ConnectFailedException,
    Ice.ConnectionLostException,
    Ice.TimeoutException,
    Ice.DNSException,
    Ice.CommunicatorDestroyedException,
)


def usage(msg):
    print("error: " + msg, file=sys.stderr)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return EXIT_ERROR


def run(argv):
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(argv)
    argv = init.properties.parseCommandLineOptions("Ctl", argv)
    timeout = init.properties.getPropertyAsIntWithDefault("Ctl.Timeout", 3000)
    # Bounded answers: no retries, connect and invocation timeouts.
    init.properties.setProperty("Ice.RetryIntervals", "-1")
    if not init.properties.getProperty("Ice.Override.ConnectTimeout"):
        init.properties.setProperty("Ice.Override.ConnectTimeout", str(timeout))
    if not init.properties.getProperty("Ice.Default.InvocationTimeout"):
        init.properties.setProperty("Ice.Default.InvocationTimeout", str(timeout))
    init.properties.setProperty("Ice.Warn.Connections", "0")
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 2 or args[0] not in ("activate", "standby", "status"):
        return usage("expected: activate|standby|status PROXY")
    command, proxy = args
    with Ice.initialize(init) as communicator:
        try:
            replica = Component.ReplicaPrx.uncheckedCast(communicator.stringToProxy(proxy))
        except Ice.Exception as e:
            return usage("bad proxy %r: %s" % (proxy, e))
        if replica is None:
            return usage("bad proxy %r" % proxy)
        try:
            if command == "status":
                active = replica.isActive()
            elif command == "activate":
                if not replica.activate():
                    print("error: activate() returned false", file=sys.stderr)
                    return EXIT_ERROR
                active = True
            else:
                replica.standby()
                active = False
        except UNREACHABLE as e:
            print("error: unreachable: %s" % e.ice_id(), file=sys.stderr)
            return EXIT_UNREACHABLE
        except Ice.Exception as e:
            print("error: %s" % e, file=sys.stderr)
            return EXIT_ERROR
        print("active" if active else "standby", flush=True)
        if command == "status" and not active:
            return EXIT_STANDBY
        return EXIT_OK


def main():
    try:
        return run(sys.argv)
    except Ice.Exception as e:
        print("error: %s" % e, file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
