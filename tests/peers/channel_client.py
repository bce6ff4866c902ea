#!/usr/bin/python3
"""A ZeroC Python Ice client of ChannelServiceX's ChannelService, to drive
whichever member of a replica group is active.

Usage: channel_client.py PROXY COMMAND [ARGS] [--Ice.Name=value ...]
Commands:
  dump                  getChannel for every id of listChannels, printed as
                        sorted `ITEM <key> <channelId> <endpoint> <state> <createdAt>`
                        lines, then `END`
  list                  the ids of listChannels, one per line, then `END`
  create ID ENDPOINT    createChannel
  state ID STATE        setChannelState (Idle, Ringing, Up, Held, Down)
  destroy ID            destroyChannel
  get ID                getChannel, printed as one ITEM line
  first-served          retries `listChannels` every 5 ms until it is served
                        (up to --Client.Wait=MS, default 10000), prints
                        `SERVED <ms waited>`
Exit codes: 0 done, 4 the member answered NotActive (prints NOTACTIVE),
5 ChannelNotFound (prints NOTFOUND <id>), 2 unreachable or timeout,
1 usage or other error.
"""
import os
import sys
import time

import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "slice"))
Ice.loadSlice(
    "--all -I%s %s"
    % (SLICE_DIR, os.path.join(SLICE_DIR, "AsteriskSCF", "ChannelServiceX", "ChannelServiceXIf.ice"))
)
import AsteriskSCF.ChannelServiceX.V1 as X  # noqa: E402

UNREACHABLE = (
    Ice.ConnectFailedException,
    Ice.ConnectionLostException,
    Ice.TimeoutException,
    Ice.DNSException,
)


def item_line(item):
    return "ITEM %s %s %s %s %d" % (item.key, item.channelId, item.endpoint, item.state, item.createdAt)


def run(argv):
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(argv)
    argv = init.properties.parseCommandLineOptions("Client", argv)
    if not init.properties.getProperty("Ice.Default.InvocationTimeout"):
        init.properties.setProperty("Ice.Default.InvocationTimeout", "5000")
    if not init.properties.getProperty("Ice.Override.ConnectTimeout"):
        init.properties.setProperty("Ice.Override.ConnectTimeout", "3000")
    init.properties.setProperty("Ice.RetryIntervals", "-1")
    init.properties.setProperty("Ice.Warn.Connections", "0")
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 1
    proxy, command, rest = args[0], args[1], args[2:]
    with Ice.initialize(init) as communicator:
        svc = X.ChannelServicePrx.uncheckedCast(communicator.stringToProxy(proxy))
        try:
            if command == "dump":
                items = [svc.getChannel(i) for i in svc.listChannels()]
                for line in sorted(item_line(i) for i in items):
                    print(line)
                print("END")
            elif command == "list":
                for i in sorted(svc.listChannels()):
                    print(i)
                print("END")
            elif command == "create" and len(rest) == 2:
                svc.createChannel(rest[0], rest[1])
            elif command == "state" and len(rest) == 2:
                state = getattr(X.ChannelState, rest[1], None)
                if not isinstance(state, X.ChannelState):
                    print("error: unknown state " + rest[1], file=sys.stderr)
                    return 1
                svc.setChannelState(rest[0], state)
            elif command == "destroy" and len(rest) == 1:
                svc.destroyChannel(rest[0])
            elif command == "get" and len(rest) == 1:
                print(item_line(svc.getChannel(rest[0])))
            elif command == "first-served":
                wait_ms = init.properties.getPropertyAsIntWithDefault("Client.Wait", 10000)
                start = time.monotonic()
                while True:
                    try:
                        svc.listChannels()
                        break
                    except (X.NotActive,) + UNREACHABLE:
                        if (time.monotonic() - start) * 1000 > wait_ms:
                            raise
                        time.sleep(0.005)
                print("SERVED %.1f" % ((time.monotonic() - start) * 1000))
            else:
                print(__doc__, file=sys.stderr)
                return 1
        except X.NotActive:
            print("NOTACTIVE", flush=True)
            return 4
        except X.ChannelNotFound as e:
            print("NOTFOUND %s" % e.channelId, flush=True)
            return 5
        except UNREACHABLE as e:
            print("error: unreachable: %s" % e.ice_id(), file=sys.stderr)
            return 2
        sys.stdout.flush()
        return 0


def main():
    try:
        return run(sys.argv)
    except Ice.Exception as e:
        print("error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
