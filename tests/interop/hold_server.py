#!/usr/bin/python3
"""ZeroC Python Ice server of the hold tests, the model the Rust server of
`tests/tests/runtime_hold.rs` is compared with. Serves Test::Tester as
`tester` on 127.0.0.1 at a free port and prints the port. `record(msg)`
with `msg` = `hold:MS` holds the adapter and activates it again MS
milliseconds later; `echo` answers its argument. Ice properties come from
the command line.
"""
import os
import sys
import threading

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402


class TesterI(Test.Tester):
    def echo(self, s, current):
        return s

    def record(self, msg, current):
        if msg.startswith("hold:"):
            adapter = current.adapter
            adapter.hold()
            threading.Timer(int(msg[5:]) / 1000.0, adapter.activate).start()


def main():
    with Ice.initialize(sys.argv) as communicator:
        adapter = communicator.createObjectAdapterWithEndpoints("Hold", "tcp -h 127.0.0.1 -p 0")
        adapter.add(TesterI(), Ice.stringToIdentity("tester"))
        adapter.activate()
        print(adapter.getEndpoints()[0].getInfo().port, flush=True)
        communicator.waitForShutdown()


if __name__ == "__main__":
    main()
