#!/usr/bin/python3
# A ZeroC Python peer that knows slice/FormatDefaultPartial.ice (no Derived,
# no DerivedError), to show which format the Rust side sends where the
# operation's metadata does not choose (Ice.Default.SlicedFormat):
#   format_default.py client <maker proxy>
#     calls make, makeCompact, fail and failCompact and prints one line each:
#     "<op> base <name>" (a Base read), "<op> error <reason>" (a BaseError
#     read) or "<op> refused <exception type>" (not readable).
#   format_default.py server
#     serves a Maker ("maker") whose echo() returns the Base it receives;
#     prints its port, then serves until shutdown().
import os
import sys
import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "slice",
                           "FormatDefaultPartial.ice"))
import FormatDefault  # noqa: E402


class MakerI(FormatDefault.Maker):
    def echo(self, b, current):
        return b

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


def server():
    with Ice.initialize(sys.argv) as ic:
        adapter = ic.createObjectAdapterWithEndpoints("Maker", "tcp -h 127.0.0.1 -p 0")
        adapter.add(MakerI(), Ice.stringToIdentity("maker"))
        adapter.activate()
        print(adapter.getEndpoints()[0].getInfo().port)
        sys.stdout.flush()
        ic.waitForShutdown()


def call(name, f):
    try:
        b = f()
        print("%s base %s %s" % (name, type(b).__name__, b.name))
    except FormatDefault.BaseError as e:
        print("%s error %s %s" % (name, type(e).__name__, e.reason))
    except Ice.Exception as e:
        print("%s refused %s" % (name, type(e).__name__))
    sys.stdout.flush()


def client(echo_str):
    with Ice.initialize() as ic:
        e = FormatDefault.MakerPrx.uncheckedCast(ic.stringToProxy(echo_str))
        call("make", e.make)
        call("makeCompact", e.makeCompact)
        call("fail", e.fail)
        call("failCompact", e.failCompact)
    print("DONE")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server()
    else:
        client(sys.argv[2])
