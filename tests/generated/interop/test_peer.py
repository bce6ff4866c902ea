#!/usr/bin/python3
# ZeroC Python peer for slice/Test.ice, both roles:
#   test_peer.py client <tester proxy> <pinger proxy> <encoding 1.0|1.1>
#     calls every operation of a (Rust, generated) Tester and checks the
#     results; prints "ok <check>" lines and "ALL OK", exits 1 on a failure.
#   test_peer.py server
#     serves a Tester ("tester") and a Pinger ("pinger"), checking what it
#     receives (verify() returns the failures); prints its port, then serves
#     until shutdown().
# The canonical values are the same in the Rust test and the C++ peer.
import os
import sys
import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "slice", "Test.ice"))
import Test  # noqa: E402

P = Test.Inner.Point
U = Ice.Unset


def show(x):
    return "Unset" if x is Ice.Unset else repr(x)


# ---- canonical values --------------------------------------------------

STR = "h\u00e9llo \u2603 \U0001F600"


def builtins():
    return Test.Builtins(True, 255, -12345, 123456789, -1234567890123, 3.5, 0.1, STR)


def line():
    return Test.Line(P(1, 2), P(-3, 4))


def tag():
    return Test.Inner.Deep.Tag("deep", Test.Inner.Color.Red)


def seqs():
    return Test.Seqs([True, False, True], bytes([0, 1, 255]), [-1, 32767], [1, -2, 3],
                     [1 << 40, -5], [0.5, -1.25], [0.1, 1e300], ["a", "", "\u2603"])


NESTED_P = [[P(1, 2)], [], [P(3, 4), P(5, 6)]]
NESTED_S = [["a", "b"], [], ["c"]]
DICT_A = {1: "one", -2: "minus two"}
DICT_B = {"x": 1 << 40, "y": -1}
DICT_C = {"p": P(1, 2), "q": P(3, 4)}
DICT_D = {P(1, 2): "p", P(3, 4): "q"}


def chain():
    return Test.Node(1, Test.Node(2, Test.Node(3, None)))


def is_chain(n):
    return (isinstance(n, Test.Node) and n.value == 1 and n.next is not None and n.next.value == 2
            and n.next.next is not None and n.next.next.value == 3 and n.next.next.next is None)


def leaf():
    return Test.Leaf("leaf", 5, 2.5, "n", P(7, 8), Test.Middle("mid", U, 1.0, U))


def is_leaf(b, e10):
    return (type(b) is Test.Leaf and b.name == "leaf" and b.opt == (U if e10 else 5)
            and b.weight == 2.5 and b.note == (U if e10 else "n") and b.p == P(7, 8)
            and type(b.other) is Test.Middle and b.other.name == "mid" and b.other.opt is U
            and b.other.weight == 1.0 and b.other.note is U)


def base_seq():
    return [Test.Base("base", 1), Test.Middle("mid2", U, 0.5, "x"), Test.Leaf("leaf2", U, 0.0, U, P(0, 0), None), None]


def is_base_seq(s, e10):
    return (len(s) == 4 and type(s[0]) is Test.Base and s[0].name == "base" and s[0].opt == (U if e10 else 1)
            and type(s[1]) is Test.Middle and s[1].name == "mid2" and s[1].weight == 0.5
            and s[1].note == (U if e10 else "x")
            and type(s[2]) is Test.Leaf and s[2].name == "leaf2" and s[2].p == P(0, 0) and s[2].other is None
            and s[3] is None)


def opts_full(pinger):
    return Test.Opts(y=1, b=True, s=2, l=3, f=4.5, d=5.5, str="six", p=P(7, 8), strs=["9"], ints=[10, 11],
                     color=Test.Inner.Color.Blue, dict={"d": P(12, 13)}, prx=pinger, node=Test.Node(14, None),
                     builtins=builtins(), big=40)


def is_opts_empty(o):
    return type(o) is Test.Opts and all(getattr(o, m) is U for m in [
        "y", "b", "s", "l", "f", "d", "str", "p", "strs", "ints", "color", "dict", "prx", "node", "builtins", "big"])


def is_opts_full(o, e10):
    if e10:
        return is_opts_empty(o)
    return (type(o) is Test.Opts and o.y == 1 and o.b is True and o.s == 2 and o.l == 3 and o.f == 4.5
            and o.d == 5.5 and o.str == "six" and o.p == P(7, 8) and o.strs == ["9"] and o.ints == [10, 11]
            and o.color == Test.Inner.Color.Blue and o.dict == {"d": P(12, 13)}
            and o.prx is not None and o.prx is not U and o.prx.ice_getIdentity().name == "pinger"
            and o.node is not U and o.node.value == 14 and o.node.next is None
            and o.builtins == builtins() and o.big == 40)


def is_defaults(d):
    return (d == Test.Defaults() and d.b is True and d.y == 7 and d.s == -2 and d.i == 100000
            and d.l == 9000000000 and d.f == 0.5 and d.d == 3.25 and d.str == "def"
            and d.size == Test.Size.Medium and d.color == Test.Inner.Color.Blue)


# ---- server ------------------------------------------------------------

class PingerI(Test.Pinger):
    def ping(self, current):
        return "pinger"


class TesterI(Test.Tester):
    def __init__(self):
        self.failures = []

    def expect(self, name, cond, detail=""):
        if not cond:
            self.failures.append("%s %s" % (name, detail))

    def e10(self, current):
        return current.encoding == Ice.Encoding_1_0

    def greet(self, name, current):
        self.expect("greet_mode", current.mode == Ice.OperationMode.Idempotent, str(current.mode))
        return "hello " + name

    def opBuiltins(self, b, current):
        self.expect("opBuiltins", b == builtins(), repr(b))
        self.expect("opBuiltins_mode", current.mode == Ice.OperationMode.Normal, str(current.mode))
        return (b, b)

    def opPrimitives(self, b, y, s, i, l, f, d, str_, current):
        x = builtins()
        self.expect("opPrimitives", Test.Builtins(b, y, s, i, l, f, d, str_) == x)
        return (i + l, b, y, s, i, l, f, d, str_)

    def opDefaults(self, d, current):
        self.expect("opDefaults", is_defaults(d), repr(d))
        return d

    def opEnums(self, c, s, current):
        self.expect("opEnums", c == Test.Inner.Color.Blue and s == Test.Size.Large)
        return (c, s)

    def opStructs(self, ln, t, current):
        self.expect("opStructs", ln == line() and t == tag())
        return (ln, t)

    def opWrapper(self, h, current):
        self.expect("opWrapper", h.name == "w" and h.node is not None and h.node.value == 7 and h.node.next is None)
        return h

    def opSeqs(self, s, current):
        self.expect("opSeqs", s == seqs(), repr(s))
        return s

    def opNestedSeqs(self, p, s, current):
        self.expect("opNestedSeqs", p == NESTED_P and s == NESTED_S)
        return (p, s)

    def opDicts(self, a, b, c, d, current):
        self.expect("opDicts", a == DICT_A and b == DICT_B and c == DICT_C and d == DICT_D)
        return (a, b, c, d)

    def opNodes(self, n, s, current):
        self.expect("opNodes", is_chain(n) and len(s) == 3 and s[0].value == 10 and s[1] is None and s[2] is n)
        return s

    def opSelfCycle(self, n, current):
        self.expect("opSelfCycle", n.value == 1 and n.next is n)
        return n

    def opTwoCycle(self, a, current):
        self.expect("opTwoCycle", a.name == "a" and a.b.id == 2 and a.b.a is a)
        return a

    def opBase(self, b, s, current):
        e10 = self.e10(current)
        self.expect("opBase", is_leaf(b, e10) and is_base_seq(s, e10))
        return (b, s)

    def opSliced(self, b, current):
        self.expect("opSliced", is_leaf(b, self.e10(current)))
        return b

    def getSliced(self, current):
        return leaf()

    def getCompact(self, current):
        return leaf()

    def opOptional(self, i, s, p, seq, current):
        present = i is not U
        if present:
            self.expect("opOptional", i == 3 and s == "opt" and p == P(1, 1) and seq == [1, 2],
                        "%s %s %s %s" % (show(i), show(s), show(p), show(seq)))
        else:
            self.expect("opOptional_absent", s is U and p is U and seq is U)
        return (i, s, p)

    def opOptionalRefs(self, p, c, current):
        if p is not U:
            self.expect("opOptionalRefs", p.ice_getIdentity().name == "pinger" and c.value == 5 and c.next is None)
        else:
            self.expect("opOptionalRefs_absent", c is U)
        return (p, c)

    def opOpts(self, full, empty, current):
        self.expect("opOpts", is_opts_full(full, self.e10(current)) and is_opts_empty(empty),
                    repr(full) + repr(empty))
        return (full, empty)

    def throwBase(self, kind, current):
        self.throw(kind)

    def throwDeclared(self, kind, current):
        self.throw(kind)

    def throw(self, kind):
        if kind == 0:
            raise Test.BaseError("base")
        if kind == 1:
            raise Test.MiddleError("middle", 1, "d")
        raise Test.LeafError("leaf", 2, U, P(9, 9))

    def opPinger(self, p, ps, h, current):
        name = lambda x: x.ice_getIdentity().name if x is not None else None  # noqa: E731
        self.expect("opPinger", name(p) == "pinger" and len(ps) == 2 and name(ps[0]) == "pinger"
                    and ps[1] is None and h.name == "box" and name(h.prx) == "pinger")
        return (p, ps)

    def opObject(self, o, current):
        self.expect("opObject", o is not None and o.ice_getIdentity().name == "tester")
        return o

    def getGreeter(self, current):
        return Test.Inner.GreeterPrx.uncheckedCast(current.adapter.createProxy(Ice.stringToIdentity("tester")))

    def opAmd(self, x, current):
        f = Ice.Future()
        f.set_result(x + 1)
        return f

    def opContext(self, key, current):
        return current.ctx.get(key, "<none>")

    def opIdempotent(self, current):
        self.expect("opIdempotent", current.mode == Ice.OperationMode.Idempotent, str(current.mode))

    def verify(self, current):
        return self.failures

    def shutdown(self, current):
        current.adapter.getCommunicator().shutdown()


def server():
    with Ice.initialize(sys.argv) as ic:
        adapter = ic.createObjectAdapterWithEndpoints("Test", "tcp -h 127.0.0.1 -p 0")
        adapter.add(TesterI(), Ice.stringToIdentity("tester"))
        adapter.add(PingerI(), Ice.stringToIdentity("pinger"))
        adapter.activate()
        print(adapter.getEndpoints()[0].getInfo().port)
        sys.stdout.flush()
        ic.waitForShutdown()


# ---- client ------------------------------------------------------------

def check(name, cond, detail=""):
    if not cond:
        print("FAIL %s %s" % (name, detail))
        sys.stdout.flush()
        sys.exit(1)
    print("ok " + name)


def client(tester_str, pinger_str, encoding):
    e10 = encoding == "1.0"
    init = Ice.InitializationData()
    init.properties = Ice.createProperties()
    init.properties.setProperty("Ice.Default.EncodingVersion", encoding)
    with Ice.initialize(init) as ic:
        t = Test.TesterPrx.checkedCast(ic.stringToProxy(tester_str))
        check("checked_cast", t is not None)
        pinger = Test.PingerPrx.uncheckedCast(ic.stringToProxy(pinger_str))
        check("checked_cast_fails", Test.TesterPrx.checkedCast(pinger) is None)
        check("checked_cast_base", Test.Inner.GreeterPrx.checkedCast(t) is not None)
        check("ice_ids", t.ice_ids() == ["::Ice::Object", "::Test::Inner::Greeter", "::Test::Tester"], str(t.ice_ids()))
        check("ice_isA", t.ice_isA("::Test::Inner::Greeter") and not t.ice_isA("::Test::Pinger"))
        check("greet", t.greet("py") == "hello py")

        r, c = t.opBuiltins(builtins())
        check("opBuiltins", r == builtins() and c == builtins(), repr(r))
        x = builtins()
        r = t.opPrimitives(x.b, x.y, x.s, x.i, x.l, x.f, x.d, x.str)
        check("opPrimitives", r[0] == x.i + x.l and Test.Builtins(*r[1:]) == x, repr(r))
        check("opDefaults", is_defaults(t.opDefaults(Test.Defaults())))
        check("opEnums", t.opEnums(Test.Inner.Color.Blue, Test.Size.Large) == (Test.Inner.Color.Blue, Test.Size.Large))
        check("opStructs", t.opStructs(line(), tag()) == (line(), tag()))
        w = t.opWrapper(Test.Wrapper("w", Test.Node(7, None)))
        check("opWrapper", w.name == "w" and w.node.value == 7 and w.node.next is None)
        check("opSeqs", t.opSeqs(seqs()) == seqs())
        check("opNestedSeqs", t.opNestedSeqs(NESTED_P, NESTED_S) == (NESTED_P, NESTED_S))
        check("opDicts", t.opDicts(DICT_A, DICT_B, DICT_C, DICT_D) == (DICT_A, DICT_B, DICT_C, DICT_D))

        n = chain()
        s = t.opNodes(n, [Test.Node(10, None), None, n])
        check("opNodes", len(s) == 3 and s[0].value == 10 and s[1] is None and is_chain(s[2]))
        n = Test.Node(1, None)
        n.next = n
        r = t.opSelfCycle(n)
        check("opSelfCycle", r.value == 1 and r.next is r)
        a = Test.A("a", None)
        a.b = Test.B(2, a)
        r = t.opTwoCycle(a)
        check("opTwoCycle", r.name == "a" and r.b.id == 2 and r.b.a is r)

        b, s = t.opBase(leaf(), base_seq())
        check("opBase", is_leaf(b, e10) and is_base_seq(s, e10))
        check("opSliced", is_leaf(t.opSliced(leaf()), e10))
        check("getSliced", is_leaf(t.getSliced(), e10))
        check("getCompact", is_leaf(t.getCompact(), e10))

        r = t.opOptional(3, "opt", P(1, 1), [1, 2])
        if e10:
            check("opOptional", r == (U, U, U), str([show(v) for v in r]))
        else:
            check("opOptional", r == (3, "opt", P(1, 1)), str([show(v) for v in r]))
        r = t.opOptional()
        check("opOptional_absent", r == (U, U, U), str([show(v) for v in r]))

        full, empty = t.opOpts(opts_full(pinger), Test.Opts())
        check("opOpts", is_opts_full(full, e10) and is_opts_empty(empty), repr(full))

        r, c = t.opOptionalRefs(pinger, Test.Node(5, None))
        if e10:
            check("opOptionalRefs", r is U and c is U)
        else:
            check("opOptionalRefs", r.ping() == "pinger" and c.value == 5 and c.next is None)
        r, c = t.opOptionalRefs()
        check("opOptionalRefs_absent", r is U and c is U)

        for kind in range(3):
            try:
                t.throwBase(kind)
                check("throwBase%d" % kind, False, "no exception")
            except Test.BaseError as e:
                ok = e.reason == ["base", "middle", "leaf"][kind]
                if kind == 1:
                    ok = ok and type(e) is Test.MiddleError and e.code == 1 and e.detail == (U if e10 else "d")
                if kind == 2:
                    ok = ok and type(e) is Test.LeafError and e.code == 2 and e.detail is U and e.where == P(9, 9)
                check("throwBase%d" % kind, ok, repr(e))
        for kind in range(3):
            try:
                t.throwDeclared(kind)
                check("throwDeclared%d" % kind, False, "no exception")
            except Test.MiddleError as e:
                check("throwDeclared%d" % kind, kind > 0 and e.code == kind, repr(e))
            except Test.BaseError as e:
                check("throwDeclared%d" % kind, kind == 0 and e.reason == "base", repr(e))

        r, ps = t.opPinger(pinger, [pinger, None], Test.PingerBox("box", pinger))
        check("opPinger", r.ping() == "pinger" and len(ps) == 2 and ps[0].ping() == "pinger" and ps[1] is None)
        o = t.opObject(t)
        check("opObject", o.ice_getIdentity().name == "tester")
        check("getGreeter", t.getGreeter().greet("g") == "hello g")
        check("opAmd", t.opAmd(41) == 42)
        check("opContext", t.opContext("k", {"k": "v"}) == "v" and t.opContext("k") == "<none>")
        t.opIdempotent()
        failures = t.verify()
        check("verify", failures == [], str(failures))
        t.shutdown()
    print("ALL OK")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server()
    else:
        client(sys.argv[2], sys.argv[3], sys.argv[4])
