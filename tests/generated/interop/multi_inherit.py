#!/usr/bin/python3
# A ZeroC Python peer for slice/MultiInherit.ice (multiple interface
# inheritance with a diamond):
#   multi_inherit.py client <bottom proxy> <both proxy>
#     casts, calls every operation through every proxy type and checks
#     ice_ids/ice_isA/ice_id against ZeroC's own servants; prints
#     "ok <check>" lines and "ALL OK", exits 1 on a failure.
#   multi_inherit.py server
#     serves a Bottom ("bottom") and a Both ("both"); prints its port, then
#     serves until Bottom.shutdown().
import os
import sys
import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "slice",
                           "MultiInherit.ice"))
import MultiInherit as M  # noqa: E402


class Impl:
    def fromLeft(self, s, current):
        return "left " + s

    def fromRight(self, i, current):
        return i * 2

    def fromBoth(self, current):
        return "both"

    def fromSide(self, current):
        return "side"

    def fromBottom(self, current):
        return "bottom"

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


class BottomI(Impl, M.Bottom):
    pass


class BothI(Impl, M.Both):
    pass


def server():
    with Ice.initialize(sys.argv) as ic:
        adapter = ic.createObjectAdapterWithEndpoints("Multi", "tcp -h 127.0.0.1 -p 0")
        adapter.add(BottomI(), Ice.stringToIdentity("bottom"))
        adapter.add(BothI(), Ice.stringToIdentity("both"))
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


def client(bottom_str, both_str):
    with Ice.initialize() as ic:
        bottom = ic.stringToProxy(bottom_str)
        both = ic.stringToProxy(both_str)
        # Type ids as ZeroC's own servants report them (sorted).
        check("ice_ids bottom", tuple(bottom.ice_ids()) == tuple(BottomI().ice_ids()),
              repr(bottom.ice_ids()))
        check("ice_ids both", tuple(both.ice_ids()) == tuple(BothI().ice_ids()),
              repr(both.ice_ids()))
        check("ice_id", bottom.ice_id() == "::MultiInherit::Bottom" and
              both.ice_id() == "::MultiInherit::Both")
        for t in ["Left", "Right", "Both", "Side", "Bottom"]:
            check("ice_isA bottom " + t, bottom.ice_isA("::MultiInherit::" + t))
        for t in ["Left", "Right", "Both"]:
            check("ice_isA both " + t, both.ice_isA("::MultiInherit::" + t))
        for t in ["Side", "Bottom"]:
            check("not ice_isA both " + t, not both.ice_isA("::MultiInherit::" + t))
        # Every proxy type of the chain, cast from the Bottom object.
        b = M.BottomPrx.checkedCast(bottom)
        check("checkedCast Bottom", b is not None)
        check("Bottom ops", b.fromLeft("x") == "left x" and b.fromRight(21) == 42 and
              b.fromBoth() == "both" and b.fromSide() == "side" and b.fromBottom() == "bottom")
        l = M.LeftPrx.checkedCast(bottom)
        r = M.RightPrx.checkedCast(bottom)
        bo = M.BothPrx.checkedCast(bottom)
        s = M.SidePrx.checkedCast(bottom)
        check("base casts", None not in (l, r, bo, s))
        check("Left op", l.fromLeft("y") == "left y")
        check("Right op", r.fromRight(5) == 10)
        check("Both ops", bo.fromLeft("z") == "left z" and bo.fromRight(1) == 2 and
              bo.fromBoth() == "both")
        check("Side ops", s.fromLeft("w") == "left w" and s.fromSide() == "side")
        # The Both object is no Side and no Bottom.
        check("casts of Both", M.SidePrx.checkedCast(both) is None and
              M.BottomPrx.checkedCast(both) is None and
              M.BothPrx.checkedCast(both).fromRight(4) == 8)
        b.shutdown()
    print("ALL OK")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server()
    else:
        client(sys.argv[2], sys.argv[3])
