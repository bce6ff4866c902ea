// ZeroC C++ (C++11 mapping) peer for slice/Test.ice, both roles:
//   test_peer client <tester proxy> <pinger proxy> <encoding 1.0|1.1>
//     calls every operation of a (Rust, generated) Tester and checks the
//     results; prints "ok <check>" lines and "ALL OK", exits 1 on a failure.
//   test_peer server
//     serves a Tester ("tester") and a Pinger ("pinger"), checking what it
//     receives (verify() returns the failures); prints its port, then serves
//     until shutdown().
// The canonical values are the same as in test_peer.py and the Rust test.
#include <Ice/Ice.h>
#include <Test.h>
#include <iostream>
#include <mutex>

using namespace std;
using namespace Test;
using Test::Inner::Point;
using Test::Inner::Color;

namespace
{

// ---- canonical values --------------------------------------------------

const string STR = "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80";

Builtins builtins()
{
    return Builtins{true, 255, -12345, 123456789, -1234567890123LL, 3.5f, 0.1, STR};
}

Line line() { return Line{Point{1, 2}, Point{-3, 4}}; }

Inner::Deep::Tag tag() { return Inner::Deep::Tag{"deep", Color::Red}; }

Seqs seqs()
{
    return Seqs{BoolSeq{true, false, true}, ByteSeq{0, 1, 255}, ShortSeq{-1, 32767}, IntSeq{1, -2, 3},
                LongSeq{1LL << 40, -5}, FloatSeq{0.5f, -1.25f}, DoubleSeq{0.1, 1e300},
                StringSeq{"a", "", "\xe2\x98\x83"}};
}

PointSeqSeq nestedP() { return PointSeqSeq{{Point{1, 2}}, {}, {Point{3, 4}, Point{5, 6}}}; }
StringSeqSeq nestedS() { return StringSeqSeq{{"a", "b"}, {}, {"c"}}; }
IntStringDict dictA() { return IntStringDict{{1, "one"}, {-2, "minus two"}}; }
StringLongDict dictB() { return StringLongDict{{"x", 1LL << 40}, {"y", -1}}; }
PointDict dictC() { return PointDict{{"p", Point{1, 2}}, {"q", Point{3, 4}}}; }
PointKeyDict dictD() { return PointKeyDict{{Point{1, 2}, "p"}, {Point{3, 4}, "q"}}; }

shared_ptr<Node> chain()
{
    return make_shared<Node>(1, make_shared<Node>(2, make_shared<Node>(3, nullptr)));
}

bool isChain(const shared_ptr<Node>& n)
{
    return n && n->value == 1 && n->next && n->next->value == 2 && n->next->next &&
           n->next->next->value == 3 && !n->next->next->next;
}

template<class T> bool exactly(const shared_ptr<Base>& b)
{
    return b && b->ice_id() == T::ice_staticId();
}

shared_ptr<Base> leaf()
{
    return make_shared<Leaf>("leaf", 5, 2.5, string("n"), Point{7, 8},
                             make_shared<Middle>("mid", Ice::nullopt, 1.0, Ice::nullopt));
}

bool isLeaf(const shared_ptr<Base>& b, bool e10)
{
    auto l = dynamic_pointer_cast<Leaf>(b);
    if(!exactly<Leaf>(b) || !l)
    {
        return false;
    }
    auto m = dynamic_pointer_cast<Middle>(l->other);
    bool opts = e10 ? (!l->opt && !l->note) : (l->opt && *l->opt == 5 && l->note && *l->note == "n");
    return l->name == "leaf" && opts && l->weight == 2.5 && l->p == Point{7, 8} && exactly<Middle>(l->other) &&
           m && m->name == "mid" && !m->opt && m->weight == 1.0 && !m->note;
}

BaseSeq baseSeq()
{
    return BaseSeq{make_shared<Base>("base", 1), make_shared<Middle>("mid2", Ice::nullopt, 0.5, string("x")),
                   make_shared<Leaf>("leaf2", Ice::nullopt, 0.0, Ice::nullopt, Point{0, 0}, nullptr), nullptr};
}

bool isBaseSeq(const BaseSeq& s, bool e10)
{
    if(s.size() != 4 || !exactly<Base>(s[0]) || !exactly<Middle>(s[1]) || !exactly<Leaf>(s[2]) || s[3])
    {
        return false;
    }
    auto m = dynamic_pointer_cast<Middle>(s[1]);
    auto l = dynamic_pointer_cast<Leaf>(s[2]);
    bool opts = e10 ? (!s[0]->opt && !m->note) : (s[0]->opt && *s[0]->opt == 1 && m->note && *m->note == "x");
    return s[0]->name == "base" && m->name == "mid2" && m->weight == 0.5 && l->name == "leaf2" &&
           l->p == Point{0, 0} && !l->other && opts;
}

shared_ptr<Opts> optsFull(const shared_ptr<PingerPrx>& pinger)
{
    return make_shared<Opts>(Ice::Byte(1), true, short(2), 3LL, 4.5f, 5.5, string("six"), Point{7, 8},
                             StringSeq{"9"}, IntSeq{10, 11}, Color::Blue, PointDict{{"d", Point{12, 13}}}, pinger,
                             make_shared<Node>(14, nullptr), builtins(), 40);
}

bool isOptsEmpty(const shared_ptr<Opts>& o)
{
    return o && !o->y && !o->b && !o->s && !o->l && !o->f && !o->d && !o->str && !o->p && !o->strs && !o->ints &&
           !o->color && !o->dict && !o->prx && !o->node && !o->builtins && !o->big;
}

bool isOptsFull(const shared_ptr<Opts>& o, bool e10)
{
    if(e10)
    {
        return isOptsEmpty(o);
    }
    return o && o->y == Ice::Byte(1) && o->b == true && o->s == short(2) && o->l == 3LL && o->f == 4.5f &&
           o->d == 5.5 && o->str == string("six") && o->p == Point{7, 8} && o->strs == StringSeq{"9"} &&
           o->ints == IntSeq{10, 11} && o->color == Color::Blue && o->dict == PointDict{{"d", Point{12, 13}}} &&
           o->prx && *o->prx && (*o->prx)->ice_getIdentity().name == "pinger" && o->node && *o->node &&
           (*o->node)->value == 14 && !(*o->node)->next && o->builtins == builtins() && o->big == 40;
}

bool isDefaults(const Defaults& d)
{
    return d == Defaults() && d.b && d.y == 7 && d.s == -2 && d.i == 100000 && d.l == 9000000000LL &&
           d.f == 0.5f && d.d == 3.25 && d.str == "def" && d.size == Size::Medium && d.color == Color::Blue;
}

template<class P> string nameOf(const shared_ptr<P>& p)
{
    return p ? p->ice_getIdentity().name : string("<null>");
}

// ---- server ------------------------------------------------------------

class PingerI : public Pinger
{
public:
    string ping(const Ice::Current&) override { return "pinger"; }
};

class TesterI : public Tester
{
public:
    string greet(string name, const Ice::Current& c) override
    {
        expect("greet_mode", c.mode == Ice::OperationMode::Idempotent);
        return "hello " + name;
    }

    Builtins opBuiltins(Builtins b, Builtins& copy, const Ice::Current& c) override
    {
        expect("opBuiltins", b == builtins());
        expect("opBuiltins_mode", c.mode == Ice::OperationMode::Normal);
        copy = b;
        return b;
    }

    long long opPrimitives(bool b, Ice::Byte y, short s, int i, long long l, float f, double d, string str, bool& ob,
                           Ice::Byte& oy, short& os, int& oi, long long& ol, float& of, double& od, string& ostr,
                           const Ice::Current&) override
    {
        expect("opPrimitives", Builtins{b, y, s, i, l, f, d, str} == builtins());
        ob = b;
        oy = y;
        os = s;
        oi = i;
        ol = l;
        of = f;
        od = d;
        ostr = str;
        return i + l;
    }

    Defaults opDefaults(Defaults d, const Ice::Current&) override
    {
        expect("opDefaults", isDefaults(d));
        return d;
    }

    Color opEnums(Color c, Size s, Size& os, const Ice::Current&) override
    {
        expect("opEnums", c == Color::Blue && s == Size::Large);
        os = s;
        return c;
    }

    Line opStructs(Line l, Inner::Deep::Tag t, Inner::Deep::Tag& ot, const Ice::Current&) override
    {
        expect("opStructs", l == line() && t == tag());
        ot = t;
        return l;
    }

    Wrapper opWrapper(Wrapper h, const Ice::Current&) override
    {
        expect("opWrapper", h.name == "w" && h.node && h.node->value == 7 && !h.node->next);
        return h;
    }

    Seqs opSeqs(Seqs s, const Ice::Current&) override
    {
        expect("opSeqs", s == seqs());
        return s;
    }

    PointSeqSeq opNestedSeqs(PointSeqSeq p, StringSeqSeq s, StringSeqSeq& os, const Ice::Current&) override
    {
        expect("opNestedSeqs", p == nestedP() && s == nestedS());
        os = s;
        return p;
    }

    IntStringDict opDicts(IntStringDict a, StringLongDict b, PointDict c, PointKeyDict d, StringLongDict& ob,
                          PointDict& oc, PointKeyDict& od, const Ice::Current&) override
    {
        expect("opDicts", a == dictA() && b == dictB() && c == dictC() && d == dictD());
        ob = b;
        oc = c;
        od = d;
        return a;
    }

    NodeSeq opNodes(shared_ptr<Node> n, NodeSeq s, const Ice::Current&) override
    {
        expect("opNodes", isChain(n) && s.size() == 3 && s[0] && s[0]->value == 10 && !s[1] && s[2] == n);
        return s;
    }

    shared_ptr<Node> opSelfCycle(shared_ptr<Node> n, const Ice::Current&) override
    {
        expect("opSelfCycle", n && n->value == 1 && n->next == n);
        return n;
    }

    shared_ptr<A> opTwoCycle(shared_ptr<A> a, const Ice::Current&) override
    {
        expect("opTwoCycle", a && a->name == "a" && a->b && a->b->id == 2 && a->b->a == a);
        return a;
    }

    shared_ptr<Base> opBase(shared_ptr<Base> b, BaseSeq s, BaseSeq& os, const Ice::Current& c) override
    {
        bool e10 = c.encoding == Ice::Encoding_1_0;
        expect("opBase", isLeaf(b, e10) && isBaseSeq(s, e10));
        os = s;
        return b;
    }

    shared_ptr<Base> opSliced(shared_ptr<Base> b, const Ice::Current& c) override
    {
        expect("opSliced", isLeaf(b, c.encoding == Ice::Encoding_1_0));
        return b;
    }

    shared_ptr<Base> getSliced(const Ice::Current&) override { return leaf(); }

    shared_ptr<Base> getCompact(const Ice::Current&) override { return leaf(); }

    Ice::optional<int> opOptional(Ice::optional<int> i, Ice::optional<string> s, Ice::optional<Point> p,
                                  Ice::optional<IntSeq> seq, Ice::optional<string>& os, Ice::optional<Point>& op,
                                  const Ice::Current&) override
    {
        if(i)
        {
            expect("opOptional", *i == 3 && s && *s == "opt" && p && *p == Point{1, 1} && seq &&
                                     *seq == IntSeq{1, 2});
        }
        else
        {
            expect("opOptional_absent", !s && !p && !seq);
        }
        os = s;
        op = p;
        return i;
    }

    Ice::optional<shared_ptr<PingerPrx>> opOptionalRefs(Ice::optional<shared_ptr<PingerPrx>> p,
                                                        Ice::optional<shared_ptr<Node>> c,
                                                        Ice::optional<shared_ptr<Node>>& oc,
                                                        const Ice::Current&) override
    {
        if(p)
        {
            expect("opOptionalRefs", nameOf(*p) == "pinger" && c && *c && (*c)->value == 5 && !(*c)->next);
        }
        else
        {
            expect("opOptionalRefs_absent", !c);
        }
        oc = c;
        return p;
    }

    shared_ptr<Opts> opOpts(shared_ptr<Opts> full, shared_ptr<Opts> empty, shared_ptr<Opts>& oempty,
                            const Ice::Current& c) override
    {
        expect("opOpts", isOptsFull(full, c.encoding == Ice::Encoding_1_0) && isOptsEmpty(empty));
        oempty = empty;
        return full;
    }

    void throwBase(int kind, const Ice::Current&) override { raise(kind); }

    void throwDeclared(int kind, const Ice::Current&) override { raise(kind); }

    shared_ptr<PingerPrx> opPinger(shared_ptr<PingerPrx> p, PingerSeq ps, PingerBox h, PingerSeq& ops,
                                   const Ice::Current&) override
    {
        expect("opPinger", nameOf(p) == "pinger" && ps.size() == 2 && nameOf(ps[0]) == "pinger" && !ps[1] &&
                               h.name == "box" && nameOf(h.prx) == "pinger");
        ops = ps;
        return p;
    }

    shared_ptr<Ice::ObjectPrx> opObject(shared_ptr<Ice::ObjectPrx> o, const Ice::Current&) override
    {
        expect("opObject", nameOf(o) == "tester");
        return o;
    }

    shared_ptr<Inner::GreeterPrx> getGreeter(const Ice::Current& c) override
    {
        return Ice::uncheckedCast<Inner::GreeterPrx>(c.adapter->createProxy(Ice::stringToIdentity("tester")));
    }

    void opAmdAsync(int x, function<void(int)> response, function<void(exception_ptr)>, const Ice::Current&) override
    {
        response(x + 1);
    }

    string opContext(string key, const Ice::Current& c) override
    {
        auto p = c.ctx.find(key);
        return p == c.ctx.end() ? "<none>" : p->second;
    }

    void opIdempotent(const Ice::Current& c) override
    {
        expect("opIdempotent", c.mode == Ice::OperationMode::Idempotent);
    }

    StringSeq verify(const Ice::Current&) override
    {
        lock_guard<mutex> lock(_mutex);
        return _failures;
    }

    void shutdown(const Ice::Current& c) override { c.adapter->getCommunicator()->shutdown(); }

private:
    void expect(const string& name, bool ok)
    {
        if(!ok)
        {
            lock_guard<mutex> lock(_mutex);
            _failures.push_back(name);
        }
    }

    static void raise(int kind)
    {
        if(kind == 0)
        {
            throw BaseError("base");
        }
        if(kind == 1)
        {
            throw MiddleError("middle", 1, string("d"));
        }
        throw LeafError("leaf", 2, Ice::nullopt, Point{9, 9});
    }

    mutex _mutex;
    StringSeq _failures;
};

int server(int argc, char* argv[])
{
    Ice::CommunicatorHolder ich(argc, argv);
    auto adapter = ich->createObjectAdapterWithEndpoints("Test", "tcp -h 127.0.0.1 -p 0");
    adapter->add(make_shared<TesterI>(), Ice::stringToIdentity("tester"));
    adapter->add(make_shared<PingerI>(), Ice::stringToIdentity("pinger"));
    adapter->activate();
    auto info = dynamic_pointer_cast<Ice::TCPEndpointInfo>(adapter->getEndpoints()[0]->getInfo());
    cout << info->port << endl;
    ich->waitForShutdown();
    return 0;
}

// ---- client ------------------------------------------------------------

void check(const char* name, bool cond)
{
    if(!cond)
    {
        cout << "FAIL " << name << endl;
        exit(1);
    }
    cout << "ok " << name << endl;
}

int client(const string& testerStr, const string& pingerStr, const string& encoding, bool cycles)
{
    const bool e10 = encoding == "1.0";
    Ice::InitializationData init;
    init.properties = Ice::createProperties();
    init.properties->setProperty("Ice.Default.EncodingVersion", encoding);
    Ice::CommunicatorHolder ich(init);
    auto t = Ice::checkedCast<TesterPrx>(ich->stringToProxy(testerStr));
    check("checked_cast", t != nullptr);
    auto pinger = Ice::uncheckedCast<PingerPrx>(ich->stringToProxy(pingerStr));
    check("checked_cast_fails", Ice::checkedCast<TesterPrx>(pinger) == nullptr);
    check("checked_cast_base", Ice::checkedCast<Inner::GreeterPrx>(t) != nullptr);
    check("ice_ids", t->ice_ids() == vector<string>{"::Ice::Object", "::Test::Inner::Greeter", "::Test::Tester"});
    check("ice_isA", t->ice_isA("::Test::Inner::Greeter") && !t->ice_isA("::Test::Pinger"));
    check("greet", t->greet("cpp") == "hello cpp");

    Builtins copy;
    check("opBuiltins", t->opBuiltins(builtins(), copy) == builtins() && copy == builtins());
    {
        auto x = builtins();
        Builtins o;
        long long r = t->opPrimitives(x.b, x.y, x.s, x.i, x.l, x.f, x.d, x.str, o.b, o.y, o.s, o.i, o.l, o.f, o.d,
                                      o.str);
        check("opPrimitives", r == x.i + x.l && o == x);
    }
    check("opDefaults", isDefaults(t->opDefaults(Defaults())));
    Size os;
    check("opEnums", t->opEnums(Color::Blue, Size::Large, os) == Color::Blue && os == Size::Large);
    Inner::Deep::Tag ot;
    check("opStructs", t->opStructs(line(), tag(), ot) == line() && ot == tag());
    auto w = t->opWrapper(Wrapper{"w", make_shared<Node>(7, nullptr)});
    check("opWrapper", w.name == "w" && w.node && w.node->value == 7 && !w.node->next);
    check("opSeqs", t->opSeqs(seqs()) == seqs());
    StringSeqSeq oss;
    check("opNestedSeqs", t->opNestedSeqs(nestedP(), nestedS(), oss) == nestedP() && oss == nestedS());
    StringLongDict ob;
    PointDict oc;
    PointKeyDict od;
    check("opDicts", t->opDicts(dictA(), dictB(), dictC(), dictD(), ob, oc, od) == dictA() && ob == dictB() &&
                         oc == dictC() && od == dictD());

    auto n = chain();
    auto s = t->opNodes(n, NodeSeq{make_shared<Node>(10, nullptr), nullptr, n});
    check("opNodes", s.size() == 3 && s[0] && s[0]->value == 10 && !s[1] && isChain(s[2]));
    if(cycles)
    {
        auto self = make_shared<Node>(1, nullptr);
        self->next = self;
        auto r = t->opSelfCycle(self);
        check("opSelfCycle", r && r->value == 1 && r->next == r);
        self->next = nullptr;
        r->next = nullptr;
        auto a = make_shared<A>("a", nullptr);
        a->b = make_shared<B>(2, a);
        auto ra = t->opTwoCycle(a);
        check("opTwoCycle", ra && ra->name == "a" && ra->b && ra->b->id == 2 && ra->b->a == ra);
        a->b->a = nullptr;
        ra->b->a = nullptr;
    }

    BaseSeq obs;
    auto b = t->opBase(leaf(), baseSeq(), obs);
    check("opBase", isLeaf(b, e10) && isBaseSeq(obs, e10));
    check("opSliced", isLeaf(t->opSliced(leaf()), e10));
    check("getSliced", isLeaf(t->getSliced(), e10));
    check("getCompact", isLeaf(t->getCompact(), e10));

    Ice::optional<string> oos;
    Ice::optional<Point> op;
    auto ri = t->opOptional(3, string("opt"), Point{1, 1}, IntSeq{1, 2}, oos, op);
    if(e10)
    {
        check("opOptional", !ri && !oos && !op);
    }
    else
    {
        check("opOptional", ri && *ri == 3 && oos && *oos == "opt" && op && *op == Point{1, 1});
    }
    ri = t->opOptional(Ice::nullopt, Ice::nullopt, Ice::nullopt, Ice::nullopt, oos, op);
    check("opOptional_absent", !ri && !oos && !op);

    {
        shared_ptr<Opts> oempty;
        auto full = t->opOpts(optsFull(pinger), make_shared<Opts>(), oempty);
        check("opOpts", isOptsFull(full, e10) && isOptsEmpty(oempty));
    }
    {
        Ice::optional<shared_ptr<Node>> oc;
        auto rp = t->opOptionalRefs(pinger, make_shared<Node>(5, nullptr), oc);
        if(e10)
        {
            check("opOptionalRefs", !rp && !oc);
        }
        else
        {
            check("opOptionalRefs", rp && *rp && (*rp)->ping() == "pinger" && oc && *oc && (*oc)->value == 5);
        }
        rp = t->opOptionalRefs(Ice::nullopt, Ice::nullopt, oc);
        check("opOptionalRefs_absent", !rp && !oc);
    }

    const char* reasons[] = {"base", "middle", "leaf"};
    for(int kind = 0; kind < 3; ++kind)
    {
        try
        {
            t->throwBase(kind);
            check("throwBase", false);
        }
        catch(const BaseError& e)
        {
            bool ok = e.reason == reasons[kind];
            if(kind == 1)
            {
                auto m = dynamic_cast<const MiddleError*>(&e);
                ok = ok && m && !dynamic_cast<const LeafError*>(&e) && m->code == 1 &&
                     (e10 ? !m->detail : (m->detail && *m->detail == "d"));
            }
            if(kind == 2)
            {
                auto l = dynamic_cast<const LeafError*>(&e);
                ok = ok && l && l->code == 2 && !l->detail && l->where == Point{9, 9};
            }
            check("throwBase", ok);
        }
    }
    for(int kind = 0; kind < 3; ++kind)
    {
        try
        {
            t->throwDeclared(kind);
            check("throwDeclared", false);
        }
        catch(const MiddleError& e)
        {
            check("throwDeclared", kind > 0 && e.code == kind);
        }
        catch(const BaseError& e)
        {
            check("throwDeclared", kind == 0 && e.reason == "base");
        }
    }

    PingerSeq ops;
    auto rp = t->opPinger(pinger, PingerSeq{pinger, nullptr}, PingerBox{"box", pinger}, ops);
    check("opPinger", rp && rp->ping() == "pinger" && ops.size() == 2 && ops[0] && ops[0]->ping() == "pinger" &&
                          !ops[1]);
    check("opObject", nameOf(t->opObject(t)) == "tester");
    check("getGreeter", t->getGreeter()->greet("g") == "hello g");
    check("opAmd", t->opAmd(41) == 42);
    check("opContext", t->opContext("k", Ice::Context{{"k", "v"}}) == "v" && t->opContext("k") == "<none>");
    t->opIdempotent();
    auto failures = t->verify();
    for(const auto& f : failures)
    {
        cout << "server saw: " << f << endl;
    }
    check("verify", failures.empty());
    t->shutdown();
    cout << "ALL OK" << endl;
    return 0;
}

}

int main(int argc, char* argv[])
{
    try
    {
        if(argc >= 2 && string(argv[1]) == "server")
        {
            return server(argc, argv);
        }
        if(argc >= 5 && string(argv[1]) == "client")
        {
            bool cycles = argc >= 6 && string(argv[5]) == "cycles";
            return client(argv[2], argv[3], argv[4], cycles);
        }
        cerr << "usage: test_peer server | test_peer client <tester> <pinger> <encoding> [cycles]" << endl;
        return 2;
    }
    catch(const std::exception& e)
    {
        cout << "FAIL exception: " << e.what() << endl;
        return 1;
    }
}
