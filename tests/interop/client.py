#!/usr/bin/python3
"""ZeroC Python Ice client for the runtime interop tests.

Usage: client.py PROXY [--Ice.Default.EncodingVersion=1.0 ...]

Runs every check against the Test::Tester at PROXY, printing `ok NAME` or
`FAIL NAME: detail` per check, and exits 1 if any check failed.
"""
import os
import sys
import traceback

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402

failures = 0


class CallbackI(Test.Tester):
    """The object the server calls back over the client's connection."""


def check(name, fn):
    global failures
    try:
        fn()
        print("ok " + name, flush=True)
    except Exception as e:  # noqa: BLE001
        failures += 1
        print("FAIL %s: %r" % (name, e), flush=True)
        traceback.print_exc(file=sys.stderr)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def raises(fn, exc_type):
    try:
        fn()
    except exc_type as e:
        return e
    raise AssertionError("expected " + exc_type.__name__)


def main():
    with Ice.initialize(sys.argv) as communicator:
        base = communicator.stringToProxy(sys.argv[1])
        prx = Test.TesterPrx.checkedCast(base)
        expect(prx is not None, "checkedCast returned None")
        print("ok checkedCast", flush=True)

        check("ice_ping", lambda: prx.ice_ping())
        check("ice_isA", lambda: (expect(prx.ice_isA("::Test::Tester"), "isA Tester"),
                                  expect(not prx.ice_isA("::Test::Other"), "isA Other")))
        check("ice_id", lambda: expect(prx.ice_id() == "::Test::Tester", prx.ice_id()))
        check("ice_ids", lambda: expect(prx.ice_ids() == ["::Ice::Object", "::Test::Tester"], prx.ice_ids()))
        check("echo", lambda: expect(prx.echo("h\u00e9llo w\u00f6rld") == "h\u00e9llo w\u00f6rld", "echo"))
        check("echo_long", lambda: expect(prx.echo("x" * 100000) == "x" * 100000, "long echo"))
        check("add_out_param", lambda: expect(prx.add(3, 4) == (7, 12), repr(prx.add(3, 4))))

        def user_exception():
            e = raises(lambda: prx.fail("bad thing", 42), Test.Boom)
            expect(e.reason == "bad thing" and e.code == 42, repr(e))
        check("user_exception", user_exception)

        check("unknown_exception", lambda: raises(lambda: prx.crash(), Ice.UnknownException))

        check("per_call_context", lambda: expect(prx.getContext("k", {"k": "v1"}) == "v1", "ctx"))
        check("per_proxy_context",
              lambda: expect(prx.ice_context({"k": "v2"}).getContext("k") == "v2", "proxy ctx"))
        check("no_context", lambda: expect(prx.getContext("k") == "<none>", "no ctx"))

        def oneway():
            prx.takeRecorded()
            o = prx.ice_oneway()
            o.record("o1")
            o.record("o2")
            got = prx.takeRecorded()
            expect(got[:-1] == ["o1", "o2"], repr(got))
        check("oneway", oneway)

        def batch():
            prx.takeRecorded()
            b = prx.ice_batchOneway()
            b.record("b1")
            b.record("b2")
            b.record("b3")
            b.ice_flushBatchRequests()
            got = prx.takeRecorded()
            expect(got[:-1] == ["b1", "b2", "b3"], repr(got))
        check("batch_oneway", batch)

        def missing_object():
            other = prx.ice_identity(Ice.stringToIdentity("missing"))
            e = raises(lambda: other.ice_ping(), Ice.ObjectNotExistException)
            expect(e.id.name == "missing", repr(e))
        check("object_not_exist", missing_object)

        def missing_facet():
            raises(lambda: prx.ice_facet("nope").ice_ping(), Ice.FacetNotExistException)
            expect(Test.TesterPrx.checkedCast(base, "nope") is None, "checkedCast to missing facet")
        check("facet_not_exist", missing_facet)

        check("facet_exists", lambda: expect(
            Test.TesterPrx.checkedCast(base, "extra").echo("f") == "f", "facet echo"))

        def missing_operation():
            ok, out = prx.ice_invoke("noSuchOperation", Ice.OperationMode.Normal, bytes())
            raise AssertionError("no exception, ok=%r" % ok)
        check("operation_not_exist", lambda: raises(missing_operation, Ice.OperationNotExistException))

        def bidir():
            adapter = communicator.createObjectAdapter("")
            adapter.add(CallbackI(), Ice.stringToIdentity("cb"))
            adapter.activate()
            prx.ice_getConnection().setAdapter(adapter)
            got = prx.callBack("cb")
            expect(got == "::Test::Tester", repr(got))
        check("bidir_callback", bidir)

        def encodings():
            got = prx.takeRecorded()
            want = communicator.getProperties().getPropertyWithDefault("Ice.Default.EncodingVersion", "1.1")
            expect(got == ["enc=" + want], repr(got))
        check("server_saw_only_our_encoding", encodings)

    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
