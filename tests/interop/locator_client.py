#!/usr/bin/python3
"""ZeroC Python Ice client of the servant-locator program: calls `echo`
(and `ice_ping`) on objects of the server at 127.0.0.1:PORT and prints one
line per call, `<identity> <operation> -> <result or exception type>`,
then the server's `finished` log.

Usage: locator_client.py PORT
"""
import os
import sys

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402

CASES = [
    ("asm", ""),
    ("asm", "nofacet"),
    ("loc/asm", ""),
    ("loc/one", ""),
    ("loc/missing", ""),
    ("loc/userex", ""),
    ("loc/notexist", ""),
    ("loc/crash", ""),
    ("loc/finerr", ""),
    ("both/x", ""),
    ("other/y", ""),
    ("z", ""),
]


def main():
    with Ice.initialize(sys.argv) as communicator:
        port = sys.argv[1]
        for ident, facet in CASES:
            prx = Test.TesterPrx.uncheckedCast(
                communicator.stringToProxy("%s:tcp -h 127.0.0.1 -p %s" % (ident, port)), facet or None
            )
            where = ident + ("#" + facet if facet else "")
            for op in ("echo", "ice_ping"):
                try:
                    if op == "echo":
                        result = prx.echo("e")
                    else:
                        prx.ice_ping()
                        result = "ok"
                except Ice.Exception as e:
                    result = type(e).__name__
                    if isinstance(e, Ice.RequestFailedException):
                        result += " " + Ice.identityToString(e.id) + " " + e.operation
                print("%s %s -> %s" % (where, op, result), flush=True)
        log = Test.TesterPrx.uncheckedCast(communicator.stringToProxy("log:tcp -h 127.0.0.1 -p %s" % port))
        for line in log.takeRecorded():
            print(line, flush=True)


if __name__ == "__main__":
    main()
