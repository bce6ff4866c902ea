#!/usr/bin/env python3
# A ZeroC Python server of the "hello" demo's Slice
# (ice-proto/examples/hello/Hello.ice), for the Rust hello client example:
# prints its port, then "Hello World!" for each sayHello, and exits after
# shutdown.
import os
import sys
import time

import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
Ice.loadSlice(os.path.join(HERE, "..", "..", "..", "ice-proto", "examples", "hello", "Hello.ice"))
import Demo  # noqa: E402


class HelloI(Demo.Hello):
    def sayHello(self, delay, current):
        if delay > 0:
            time.sleep(delay / 1000.0)
        print("Hello World!", flush=True)

    def shutdown(self, current):
        print("Shutting down...", flush=True)
        current.adapter.getCommunicator().shutdown()


with Ice.initialize(sys.argv) as communicator:
    adapter = communicator.createObjectAdapterWithEndpoints("Hello", "tcp -h 127.0.0.1 -p 0")
    adapter.add(HelloI(), Ice.stringToIdentity("hello"))
    adapter.activate()
    print(adapter.getEndpoints()[0].getInfo().port, flush=True)
    communicator.waitForShutdown()
