#!/usr/bin/python3
# ZeroC Python server for Codegen.ice: the Echo object the Rust client calls.
# Prints its port on the first line, then serves until shutdown().
import os
import sys
import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "slice", "Codegen.ice"))
import CodegenTest  # noqa: E402


class EchoI(CodegenTest.Echo):
    def twice(self, x, current):
        # `idempotent` must arrive as such (the Rust proxy sets the mode).
        if current.mode != Ice.OperationMode.Idempotent:
            raise Ice.UnknownException("twice sent with mode %s" % current.mode)
        return 2 * x

    def swap(self, p, c, current):
        if current.mode != Ice.OperationMode.Normal:
            raise Ice.UnknownException("swap sent with mode %s" % current.mode)
        return (CodegenTest.Point(p.y, p.x), c)

    def index(self, points, current):
        return {"%d,%d" % (p.x, p.y): p for p in points}

    def echoShape(self, s, current):
        if not isinstance(s, CodegenTest.Circle):
            raise Ice.UnknownException("not a Circle")
        return s

    def opt(self, s, current):
        if s is Ice.Unset:
            return (Ice.Unset, Ice.Unset)
        return (len(s), True)

    def fail(self, code, current):
        if code == 0:
            raise CodegenTest.Failure("plain")
        raise CodegenTest.BadInput("bad", code)

    def ctx(self, key, current):
        return current.ctx.get(key, "<none>")

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


def main():
    with Ice.initialize(sys.argv) as ic:
        adapter = ic.createObjectAdapterWithEndpoints("Echo", "tcp -h 127.0.0.1 -p 0")
        adapter.add(EchoI(), Ice.stringToIdentity("echo"))
        adapter.activate()
        port = adapter.getEndpoints()[0].getInfo().port
        print(port)
        sys.stdout.flush()
        ic.waitForShutdown()


if __name__ == "__main__":
    main()
