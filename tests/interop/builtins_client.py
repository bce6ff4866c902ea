#!/usr/bin/python3
"""ZeroC Python Ice client of the built-ins and interceptor test: calls the
built-in operations with and without a context on `open` (a servant that
overrides them and answers from the context it sees), and calls `guarded`
with a context asking an interceptor to reject the call. Prints one line
per call: `<what> -> <result or exception type>`.

Usage: builtins_client.py PORT
"""
import os
import sys

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402


def call(what, fn):
    try:
        result = fn()
    except Ice.UnknownException as e:
        result = "UnknownException " + e.unknown.splitlines()[0]
    except Ice.Exception as e:
        result = type(e).__name__
    print("%s -> %s" % (what, result), flush=True)


def main():
    with Ice.initialize(sys.argv) as communicator:
        port = sys.argv[1]
        base = communicator.stringToProxy("open:tcp -h 127.0.0.1 -p %s" % port)
        ctx = {"who": "zeroc"}
        call("ice_ping", lambda: base.ice_ping() or "ok")
        call("ice_ping ctx", lambda: base.ice_ping(ctx) or "ok")
        call("ice_isA ctx", lambda: base.ice_isA("::Test::Tester", ctx))
        call("ice_isA", lambda: base.ice_isA("::Test::Tester"))
        call("ice_ids ctx", lambda: ",".join(base.ice_ids(ctx)))
        call("ice_id ctx", lambda: base.ice_id(ctx))
        guarded = Test.TesterPrx.uncheckedCast(
            communicator.stringToProxy("guarded:tcp -h 127.0.0.1 -p %s" % port)
        )
        call("echo", lambda: guarded.echo("e"))
        call("echo deny=echo", lambda: guarded.echo("e", {"deny": "echo"}))
        call("ice_ping deny=ice_ping", lambda: guarded.ice_ping({"deny": "ice_ping"}) or "ok")
        call("ice_ping deny=echo", lambda: guarded.ice_ping({"deny": "echo"}) or "ok")
        call("ice_isA", lambda: guarded.ice_isA("::Test::Tester"))


if __name__ == "__main__":
    main()
