#!/usr/bin/python3
# ZeroC Python peer for Preserve.ice + PreserveHidden.ice (types the Rust
# relay does not know).
#
#   preserve_peer.py server              serves Relay as "relay", prints its port
#   preserve_peer.py client PROXY ENC    calls the Rust relay at PROXY in
#                                        encoding ENC (1.1 or 1.0), checks what
#                                        comes back, prints "ALL OK"
import os
import sys
import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE = os.path.join(HERE, "..", "slice")
Ice.loadSlice("--all -I" + SLICE + " " + os.path.join(SLICE, "PreserveHidden.ice"))
import Preserve  # noqa: E402


def hidden_item(cycle=True):
    """A HiddenItem whose link is another HiddenItem pointing back (a cycle,
    which ZeroC C++ refuses to read) or to nothing."""
    a = Preserve.HiddenItem("a", "secret-a", None, [1, 2, 3], "note-a")
    b = Preserve.HiddenItem("b", "secret-b", a if cycle else None, [], Ice.Unset)
    a.link = b
    return a


class RelayI(Preserve.Relay):
    def fail(self, kind, current):
        if kind == "preserved":
            raise Preserve.HiddenError("why", "secret-e", hidden_item(), 42)
        if kind == "preserved-chain":
            raise Preserve.HiddenError("why", "secret-e", hidden_item(False), 42)
        raise Preserve.HiddenPlainError("plain why", "secret-p")

    def echoItem(self, item, current):
        return item

    def echoItems(self, items, current):
        return items

    def echoPlain(self, item, current):
        return item

    def makeItem(self, current):
        return hidden_item()

    def makeItemCompact(self, current):
        return hidden_item()

    def failUnknown(self, current):
        raise Preserve.HiddenError("why", "secret-e", None, Ice.Unset)

    def failUnknownCompact(self, current):
        raise Preserve.HiddenError("why", "secret-e", None, Ice.Unset)

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


def server():
    with Ice.initialize(sys.argv) as communicator:
        adapter = communicator.createObjectAdapterWithEndpoints("Relay", "tcp -h 127.0.0.1 -p 0")
        adapter.add(RelayI(), Ice.stringToIdentity("relay"))
        adapter.activate()
        port = adapter.getEndpoints()[0].getInfo().port
        print(port, flush=True)
        communicator.waitForShutdown()


FAILURES = []


def check(name, ok, detail=""):
    print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
    if not ok:
        FAILURES.append(name)


def is_intact(item):
    """Whether item is hidden_item() with every member and the cycle kept."""
    if not isinstance(item, Preserve.HiddenItem):
        return False
    b = item.link
    return (
        item.key == "a"
        and item.secret == "secret-a"
        and list(item.numbers) == [1, 2, 3]
        and item.note == "note-a"
        and isinstance(b, Preserve.HiddenItem)
        and b.key == "b"
        and b.secret == "secret-b"
        and b.note is Ice.Unset
        and b.link is item
    )


def client(proxy, encoding):
    e11 = encoding == "1.1"
    with Ice.initialize(sys.argv[:1]) as communicator:
        relay = Preserve.RelayPrx.checkedCast(
            communicator.stringToProxy(proxy).ice_encodingVersion(Ice.stringToEncodingVersion(encoding))
        )

        # Exceptions: the ZeroC server raised HiddenError; the Rust relay
        # only knows BaseError and raised what it caught.
        try:
            relay.fail("preserved")
            check("fail(preserved) raises", False)
        except Preserve.HiddenError as e:
            ok = e.reason == "why" and e.secret == "secret-e" and e.code == 42 and is_intact(e.item)
            check("fail(preserved) keeps HiddenError", e11 and ok, repr(e))
        except Preserve.BaseError as e:
            # Encoding 1.0 carries no preserved slices: sliced to the base.
            check("fail(preserved) sliced to BaseError in 1.0", not e11 and e.reason == "why", repr(e))
        try:
            relay.fail("plain")
            check("fail(plain) raises", False)
        except Preserve.HiddenPlainError as e:
            check("fail(plain) sliced to PlainError", False, repr(e))
        except Preserve.PlainError as e:
            check("fail(plain) sliced to PlainError", e.reason == "plain why", repr(e))

        # Classes.
        got = relay.echoItem(hidden_item())
        if e11:
            check("echoItem keeps HiddenItem", is_intact(got), repr(got))
        else:
            check("echoItem sliced to Item in 1.0",
                  type(got) is Preserve.Item and got.key == "a", repr(got))
        shared = hidden_item()
        got = relay.echoItems([shared, Preserve.Item("plain"), shared])
        if e11:
            ok = len(got) == 3 and is_intact(got[0]) and got[2] is got[0] and type(got[1]) is Preserve.Item
            check("echoItems keeps HiddenItem and sharing", ok, repr(got))
        else:
            ok = len(got) == 3 and type(got[0]) is Preserve.Item and got[2] is got[0]
            check("echoItems sliced in 1.0", ok, repr(got))
        got = relay.echoPlain(Preserve.HiddenPlain("k", "s"))
        check("echoPlain sliced to PlainItem",
              type(got) is Preserve.PlainItem and got.key == "k", repr(got))

        # The format metadata: a RustItem / RustError (unknown here) slices
        # to its base only in the sliced format.
        got = relay.makeItem()
        check("makeItem (sliced) slices RustItem to Item",
              type(got) is Preserve.Item and got.key == "rust", repr(got))
        try:
            got = relay.makeItemCompact()
            check("makeItemCompact (compact) cannot be sliced", not e11, repr(got))
        except Ice.MarshalException as e:
            check("makeItemCompact (compact) cannot be sliced", e11, type(e).__name__)
        try:
            relay.failUnknown()
            check("failUnknown raises", False)
        except Preserve.BaseError as e:
            check("failUnknown (sliced) slices RustError to BaseError",
                  type(e) is Preserve.BaseError and e.reason == "rust", repr(e))
        try:
            relay.failUnknownCompact()
            check("failUnknownCompact raises", False)
        except Ice.UnknownUserException as e:
            check("failUnknownCompact (compact) cannot be sliced", e11, repr(e))
        except Preserve.BaseError as e:
            check("failUnknownCompact (compact) cannot be sliced", not e11, repr(e))
        except Ice.MarshalException as e:
            check("failUnknownCompact (compact) cannot be sliced", e11, repr(e))

    if FAILURES:
        print("FAILED: " + ", ".join(FAILURES), flush=True)
        sys.exit(1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "server":
        server()
    elif len(sys.argv) >= 4 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
    else:
        print(__doc__ or "usage: preserve_peer.py server | client PROXY ENCODING", file=sys.stderr)
        sys.exit(2)
