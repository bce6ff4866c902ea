#!/usr/bin/python3
# A ZeroC Python peer that knows slice/TestPartial.ice (Test.ice without
# Test::Leaf), to show on the wire which format classes travel in:
#   test_partial.py client <tester proxy> <encoding 1.0|1.1>
#     getSliced() must arrive as the Middle part of a Leaf; getCompact()
#     must fail to unmarshal in 1.1 (compact format) and slice in 1.0.
#     Prints "ok <check>" lines and "ALL OK", exits 1 on a failure.
#   test_partial.py server
#     serves a Tester ("tester") that returns the Base it receives; prints
#     its port, then serves until shutdown().
import os
import sys
import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "slice", "TestPartial.ice"))
import Test  # noqa: E402

U = Ice.Unset


def is_leaf_as_middle(b, e10):
    return (type(b) is Test.Middle and b.name == "leaf" and b.weight == 2.5
            and b.opt == (U if e10 else 5) and b.note == (U if e10 else "n"))


class TesterI(Test.Tester):
    def greet(self, name, current):
        return "hello " + name

    def opBase(self, b, s, current):
        return (b, s)

    def opSliced(self, b, current):
        return b

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


def server():
    with Ice.initialize(sys.argv) as ic:
        adapter = ic.createObjectAdapterWithEndpoints("Test", "tcp -h 127.0.0.1 -p 0")
        adapter.add(TesterI(), Ice.stringToIdentity("tester"))
        adapter.activate()
        print(adapter.getEndpoints()[0].getInfo().port)
        sys.stdout.flush()
        ic.waitForShutdown()


def check(name, cond, detail=""):
    if not cond:
        print("FAIL %s %s" % (name, detail))
        sys.stdout.flush()
        sys.exit(1)
    print("ok " + name)


def client(tester_str, encoding):
    e10 = encoding == "1.0"
    init = Ice.InitializationData()
    init.properties = Ice.createProperties()
    init.properties.setProperty("Ice.Default.EncodingVersion", encoding)
    with Ice.initialize(init) as ic:
        t = Test.TesterPrx.uncheckedCast(ic.stringToProxy(tester_str))
        b = t.getSliced()
        check("getSliced", is_leaf_as_middle(b, e10), repr(b))
        try:
            b = t.getCompact()
            check("getCompact", e10 and is_leaf_as_middle(b, e10), "decoded " + repr(b))
        except Ice.MarshalException as e:
            check("getCompact", not e10, repr(e))
    print("ALL OK")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server()
    else:
        client(sys.argv[2], sys.argv[3])
