#!/usr/bin/python3
# ZeroC Python peer for Fidelity.ice (classes and exceptions with full Ice
# fidelity) and FidelityOld.ice (the same component as an older program
# knows it).
#
#   fidelity_peer.py server [old]        serves Directory as "directory" (and a
#                                         NamedCounter as "counter"), prints its port
#   fidelity_peer.py relay UPSTREAM ENC   an older program (FidelityOld.ice) that
#                                         forwards every call to UPSTREAM, prints its port
#   fidelity_peer.py client PROXY ENC     calls Directory at PROXY in encoding ENC
#                                         (1.1 or 1.0), checks every value, prints "ALL OK"
#   fidelity_peer.py relay-client PROXY ENC
#                                         calls, through a relay that knows only
#                                         FidelityOld.ice, what only this program knows;
#                                         checks what comes back, prints "ALL OK"
#
# The same relay-client runs against the relay mode of this program and
# against the Rust relay, so both are held to what ZeroC does.
import os
import sys
import Ice

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE = os.path.join(HERE, "..", "slice")
OLD = len(sys.argv) > 1 and (sys.argv[1] == "relay" or sys.argv[-1] == "old")
Ice.loadSlice(os.path.join(SLICE, "FidelityOld.ice" if OLD else "Fidelity.ice"))
import Fidelity  # noqa: E402

FAILURES = []


def check(name, ok, detail=""):
    print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
    if not ok:
        FAILURES.append(name)


class HookedI(Fidelity.Hooked):
    """Sets preMarshaled before it is sent, as an application's class would."""

    def ice_preMarshal(self):
        self.preMarshaled = True

    def ice_postUnmarshal(self):
        self.post = True


def hooked_factory(type_id):
    return HookedI()


class NamedCounterI(Fidelity.NamedCounterDisp):
    def __init__(self):
        self.count = 0
        self.name = "python"

    def increment(self, by, current):
        self.count += by
        return self.count

    def describe(self, current):
        return "%s=%d" % (self.name, self.count)

    def notify(self, what, current):
        return "python heard " + what

    def rename(self, name, current):
        self.name = name


def error(level):
    if level == 1:
        return Fidelity.SessionError("session")
    if level == 2:
        return Fidelity.MediaError("media", 2)
    return Fidelity.CodecError("codec", 3, "opus", 48000)


class DirectoryI(Fidelity.Directory):
    def __init__(self):
        self.count = 0

    def counted(self):
        self.count += 1

    def echo(self, e, current):
        self.counted()
        return e

    def echoSliced(self, e, current):
        self.counted()
        return e

    def echoSnapshot(self, s, current):
        self.counted()
        return s

    def echoSeq(self, s, m, current):
        self.counted()
        return (s, m)

    def echoListener(self, v, current):
        self.counted()
        return v

    def echoHooked(self, h, current):
        self.counted()
        return HookedI(False, "received preMarshaled=%s post=%s" % (h.preMarshaled, getattr(h, "post", False)))

    def echoHandles(self, h, current):
        self.counted()
        return h

    def makeCounter(self, current):
        self.counted()
        return Fidelity.CounterPrx.uncheckedCast(
            current.adapter.createProxy(Ice.stringToIdentity("counter")))

    def callCounter(self, c, by, current):
        self.counted()
        return c.increment(by)

    def fail(self, level, current):
        self.counted()
        raise error(level)

    def failSliced(self, level, current):
        self.counted()
        raise error(level)

    def calls(self, current):
        return self.count

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


class RelayI(Fidelity.Directory):
    """An older program's Directory that forwards every call."""

    def __init__(self, upstream):
        self.up = upstream

    def echo(self, e, current):
        return self.up.echo(e)

    def echoSliced(self, e, current):
        return self.up.echoSliced(e)

    def echoSnapshot(self, s, current):
        return self.up.echoSnapshot(s)

    def echoSeq(self, s, m, current):
        return self.up.echoSeq(s, m)

    def echoListener(self, v, current):
        return self.up.echoListener(v)

    def echoHooked(self, h, current):
        return self.up.echoHooked(h)

    def echoHandles(self, h, current):
        return self.up.echoHandles(h)

    def makeCounter(self, current):
        return self.up.makeCounter()

    def callCounter(self, c, by, current):
        return self.up.callCounter(c, by)

    def fail(self, level, current):
        self.up.fail(level)

    def failSliced(self, level, current):
        self.up.failSliced(level)

    def calls(self, current):
        return self.up.calls()

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


def serve(servants):
    with Ice.initialize(sys.argv) as communicator:
        communicator.getValueFactoryManager().add(hooked_factory, Fidelity.Hooked.ice_staticId())
        adapter = communicator.createObjectAdapterWithEndpoints("Fidelity", "tcp -h 127.0.0.1 -p 0")
        for name, servant in servants(communicator):
            adapter.add(servant, Ice.stringToIdentity(name))
        adapter.activate()
        print(adapter.getEndpoints()[0].getInfo().port, flush=True)
        communicator.waitForShutdown()


def server():
    serve(lambda c: [("directory", DirectoryI()), ("counter", NamedCounterI())])


def relay(upstream, enc):
    def servants(c):
        up = Fidelity.DirectoryPrx.uncheckedCast(c.stringToProxy(upstream)).ice_encodingVersion(
            Ice.stringToEncodingVersion(enc))
        return [("directory", RelayI(up))]
    serve(servants)


def e10(d):
    return d.ice_getEncodingVersion() == Ice.Encoding_1_0


def sip(name, port, cycle):
    """A SipEndpoint whose peer is an Endpoint pointing back (a cycle) and
    whose owner is a Resource."""
    owner = Fidelity.Resource("owner-" + name, "res", 7, None)
    s = Fidelity.SipEndpoint("sip-" + name, "label-" + name, 100, owner, "sip:" + name, None, port,
                             Fidelity.Endpoint("fb", Ice.Unset, 1, None, "sip:fallback", None))
    peer = Fidelity.Endpoint("peer-" + name, Ice.Unset, 200, owner, "sip:peer", s if cycle else None)
    s.peer = peer
    return s


def is_sip(v, name, port, old10=False):
    """v is the SipEndpoint of sip(name, port) (in 1.0 without optionals)."""
    if not isinstance(v, Fidelity.SipEndpoint):
        return False
    ok = (v.id == "sip-" + name and v.uri == "sip:" + name and v.port == port and v.created == 100
          and isinstance(v.owner, Fidelity.Resource) and v.owner.id == "owner-" + name
          and isinstance(v.peer, Fidelity.Endpoint) and v.peer.owner is v.owner)
    if old10:
        return ok and v.label is Ice.Unset and v.fallback is Ice.Unset
    return ok and v.label == "label-" + name and v.fallback.uri == "sip:fallback"


def client(proxy, enc):
    with Ice.initialize(sys.argv[:1]) as communicator:
        communicator.getValueFactoryManager().add(hooked_factory, Fidelity.Hooked.ice_staticId())
        d = Fidelity.DirectoryPrx.checkedCast(communicator.stringToProxy(proxy)).ice_encodingVersion(
            Ice.stringToEncodingVersion(enc))
        old10 = e10(d)

        # A four-level instance with a cycle and shared members, both formats.
        for op in (d.echo, d.echoSliced):
            s = sip("a", 5060, True)
            r = op(s)
            check("%s SipEndpoint" % op.__name__, is_sip(r, "a", 5060, old10), repr(r))
            check("%s cycle" % op.__name__, r is not None and r.peer.peer is r)
        r = d.echo(None)
        check("echo null", r is None)

        # Sequences and dictionaries of classes sharing instances.
        shared = Fidelity.Endpoint("shared", Ice.Unset, 1, None, "sip:shared", None)
        seq = [shared, sip("b", 1, False), None, shared, Fidelity.Entity("plain", "l")]
        m = {"x": shared, "y": seq[1], "z": None}
        rs, rm = d.echoSeq(seq, m)
        check("echoSeq", len(rs) == 5 and rs[0] is rs[3] and rs[2] is None
              and is_sip(rs[1], "b", 1, old10) and rs[4].id == "plain"
              and rm["x"] is rs[0] and rm["y"] is rs[1] and rm["z"] is None, repr(rs))

        snap = Fidelity.Snapshot(seq, m, shared, shared)
        rsn = d.echoSnapshot(snap)
        check("echoSnapshot", rsn.first is rsn.second and rsn.items[0] is rsn.first
              and rsn.byId["y"] is rsn.items[1] and is_sip(rsn.items[1], "b", 1, old10))

        # (echoListener, an interface by value, is not called: ZeroC Python
        # 3.7.8 fails its own round trip of it with an
        # UnmarshalOutOfBoundsException, Python to Python.)

        # Marshal hooks on both sides.
        h = d.echoHooked(HookedI(False, "from python"))
        check("echoHooked sent", h.note.startswith("received preMarshaled=True"), h.note)
        check("echoHooked post-unmarshal", "post=True" in h.note, h.note)
        check("echoHooked received", h.preMarshaled is True, repr(h))

        # Class proxies: served by the peer, called through Counter* here.
        c = d.makeCounter()
        nc = Fidelity.NamedCounterPrx.checkedCast(c)
        check("checkedCast NamedCounter", nc is not None)
        check("ice_ids", c.ice_ids() == ["::Fidelity::Counter", "::Fidelity::Listener",
                                          "::Fidelity::NamedCounter", "::Ice::Object"], repr(c.ice_ids()))
        before = c.increment(0)
        check("increment", c.increment(5) == before + 5)
        nc.rename("renamed")
        check("describe", nc.describe() == "renamed=%d" % (before + 5), nc.describe())
        check("notify", nc.notify("hi").endswith("heard hi"), nc.notify("hi"))
        check("callCounter", d.callCounter(c, 2) == before + 7)
        hs = d.echoHandles(Fidelity.Handles(c, nc, nc))
        check("echoHandles", hs.counter == c and hs.named == nc and hs.listener == nc)

        # Three levels of exceptions, both formats.
        for op in (d.fail, d.failSliced):
            for level, cls in ((1, Fidelity.SessionError), (2, Fidelity.MediaError), (3, Fidelity.CodecError)):
                try:
                    op(level)
                    check("%s(%d) raised" % (op.__name__, level), False)
                except Fidelity.SessionError as ex:
                    ok = type(ex) is cls and ex.reason == ("session", "media", "codec")[level - 1]
                    if level == 3:
                        ok = ok and ex.code == 3 and ex.codec == "opus"
                        ok = ok and ex.rate == (Ice.Unset if old10 else 48000)
                    check("%s(%d)" % (op.__name__, level), ok, repr(ex))
        d.shutdown()
    if FAILURES:
        print("FAILED: " + ", ".join(FAILURES), flush=True)
        sys.exit(1)
    print("ALL OK", flush=True)


def relay_client(proxy, enc):
    """Sends, through a relay that knows only FidelityOld.ice, a SipEndpoint
    and a CodecError: preserved in 1.1 under the sliced format, refused
    under the compact format in 1.1, sliced to the known base in 1.0."""
    with Ice.initialize(sys.argv[:1]) as communicator:
        d = Fidelity.DirectoryPrx.uncheckedCast(communicator.stringToProxy(proxy)).ice_encodingVersion(
            Ice.stringToEncodingVersion(enc))
        old10 = e10(d)
        r = d.echoSliced(sip("r", 5070, True))
        if old10:
            check("relay echoSliced 1.0 sliced to Endpoint",
                  type(r) is Fidelity.Endpoint and r.uri == "sip:r" and r.peer.peer is r, repr(r))
        else:
            check("relay echoSliced preserved", is_sip(r, "r", 5070) and r.peer.peer is r, repr(r))
        try:
            r = d.echo(sip("c", 5080, False))
            if old10:
                check("relay echo 1.0 sliced to Endpoint", type(r) is Fidelity.Endpoint, repr(r))
            else:
                check("relay echo compact refused", False, repr(r))
        except Ice.UnknownLocalException as ex:
            check("relay echo compact refused",
                  not old10 and "compact format prevents slicing" in ex.unknown, ex.unknown)
        try:
            d.failSliced(3)
            check("relay failSliced raised", False)
        except Fidelity.SessionError as ex:
            if old10:
                check("relay failSliced 1.0 sliced to MediaError", type(ex) is Fidelity.MediaError
                      and ex.code == 3, repr(ex))
            else:
                check("relay failSliced preserved", type(ex) is Fidelity.CodecError and ex.code == 3
                      and ex.codec == "opus" and ex.rate == 48000, repr(ex))
        try:
            d.fail(3)
            check("relay fail raised", False)
        except Fidelity.SessionError as ex:
            check("relay fail 1.0 sliced to MediaError",
                  old10 and type(ex) is Fidelity.MediaError and ex.code == 3, repr(ex))
        except Ice.UnknownUserException as ex:
            check("relay fail compact unknown", not old10 and "CodecError" in ex.unknown, ex.unknown)
        d.shutdown()
    if FAILURES:
        print("FAILED: " + ", ".join(FAILURES), flush=True)
        sys.exit(1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "server":
        server()
    elif mode == "relay":
        relay(sys.argv[2], sys.argv[3])
    elif mode == "client":
        client(sys.argv[2], sys.argv[3])
    else:
        relay_client(sys.argv[2], sys.argv[3])
