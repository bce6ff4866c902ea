#!/usr/bin/python3
"""ZeroC Python Ice client of the hold tests; prints what it observes, one
line per check, so that the outputs against a ZeroC server and a Rust
server of the same program can be compared.

Usage:
  hold_client.py sends PORT
      Holds the server for 2 s (`record("hold:2000")`), then: a twoway
      with a 250 ms invocation timeout (`timeout <exception>`), 200 oneway
      requests of 100 kB (20 MB, more than the socket buffers hold:
      `oneways blocked` when sending them took until the adapter was
      activated again, else `oneways not blocked`), and a twoway after
      them (`echo <answer>`).
  hold_client.py acm PORT
      With ACM (1 s, close on invocation, no heartbeats of its own): holds
      the server for 5 s and calls a twoway, printing `acm <exception>`
      when the client's ACM closes the silent connection, else `acm
      <answer>`. Run the server with Ice.ACM.Timeout=1 and
      Ice.ACM.Heartbeat=3: its heartbeats stop while it holds.
"""
import os
import sys
import time

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402


def main():
    cmd, port = sys.argv[1], sys.argv[2]
    init = Ice.InitializationData()
    init.properties = Ice.createProperties(sys.argv)
    if cmd == "acm":
        init.properties.setProperty("Ice.ACM.Client.Timeout", "1")
        init.properties.setProperty("Ice.ACM.Client.Close", "2")
        init.properties.setProperty("Ice.ACM.Client.Heartbeat", "0")
    with Ice.initialize(init) as communicator:
        prx = Test.TesterPrx.uncheckedCast(
            communicator.stringToProxy("tester:tcp -h 127.0.0.1 -p %s" % port)
        )
        prx.ice_ping()
        if cmd == "sends":
            prx.record("hold:2000")
            start = time.monotonic()
            try:
                prx.ice_invocationTimeout(250).echo("x")
                print("timeout none", flush=True)
            except Ice.Exception as e:
                print("timeout %s" % type(e).__name__, flush=True)
            oneway = prx.ice_oneway()
            payload = "y" * 100000
            for _ in range(200):
                oneway.record(payload)
            blocked = time.monotonic() - start > 1.5
            print("oneways %s" % ("blocked" if blocked else "not blocked"), flush=True)
            print("echo %s" % prx.echo("after"), flush=True)
        else:
            prx.record("hold:5000")
            try:
                print("acm %s" % prx.echo("late"), flush=True)
            except Ice.Exception as e:
                print("acm %s" % type(e).__name__, flush=True)


if __name__ == "__main__":
    main()
