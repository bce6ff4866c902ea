#!/usr/bin/python3
"""ZeroC Python Ice client of the lifecycle tests, run with
--Ice.Warn.Connections=1 so that a connection lost shows in its log.

Usage:
  lifecycle_client.py shutdown PORT
      Calls `shutdown` on `tester` (the server shuts its communicator down
      from inside that dispatch), prints `reply`, then prints how the
      connection closed: `closed <exception type>`.
  lifecycle_client.py wait PORT
      Pings `tester`, prints `pinged`, and prints `closed <exception type>`
      once the server closes the connection (within 20 s).
"""
import os
import sys
import threading

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402


def main():
    with Ice.initialize(sys.argv) as communicator:
        cmd, port = sys.argv[1], sys.argv[2]
        prx = Test.TesterPrx.uncheckedCast(
            communicator.stringToProxy("tester:tcp -h 127.0.0.1 -p %s" % port)
        )
        conn = prx.ice_getConnection()
        closed = threading.Event()
        how = []

        def on_close(c):
            try:
                c.throwException()
            except Ice.Exception as e:
                how.append(type(e).__name__)
            closed.set()

        conn.setCloseCallback(on_close)
        if cmd == "shutdown":
            prx.shutdown()
            print("reply", flush=True)
        else:
            prx.ice_ping()
            print("pinged", flush=True)
        if closed.wait(20):
            print("closed %s" % how[0], flush=True)
        else:
            print("still open", flush=True)


if __name__ == "__main__":
    main()
