// ZeroC C++ (C++11 mapping) peer for slice/Fidelity.ice, both roles:
//   fidelity_peer server
//     serves a Directory ("directory") and a NamedCounter ("counter"),
//     prints its port, then serves until shutdown().
//   fidelity_peer client <directory proxy> <encoding 1.0|1.1>
//     calls every operation and checks the results; prints "ok <check>"
//     lines and "ALL OK", exits 1 on a failure.
//   fidelity_peer relay-client <relay proxy> <encoding 1.0|1.1>
//     calls, through a relay that knows only FidelityOld.ice, what only
//     this program knows (SipEndpoint, CodecError) and checks what comes
//     back, as fidelity_peer.py relay-client does (without the cycle).
// The values are those of fidelity_peer.py (without cycles: ZeroC C++
// frees class graphs by reference counting, so the graphs it sends are
// acyclic; cycles are checked from Python).
#include <Ice/Ice.h>
#include <Fidelity.h>
#include <atomic>
#include <iostream>
#include <mutex>

using namespace std;
using namespace Fidelity;

namespace
{

/// Sets preMarshaled before it is sent; notes that ice_postUnmarshal ran.
class HookedI : public Hooked
{
public:
    using Hooked::Hooked;
    bool post = false;

    void ice_preMarshal() override { preMarshaled = true; }
    void ice_postUnmarshal() override { post = true; }
};

void addHookedFactory(const shared_ptr<Ice::Communicator>& c)
{
    c->getValueFactoryManager()->add([](const string&) { return make_shared<HookedI>(); },
                                     Hooked::ice_staticId());
}

class NamedCounterI : public NamedCounterDisp
{
public:
    int increment(int by, const Ice::Current&) override
    {
        lock_guard<mutex> lock(_m);
        _count += by;
        return _count;
    }

    string describe(const Ice::Current&) override
    {
        lock_guard<mutex> lock(_m);
        return _name + "=" + to_string(_count);
    }

    string notify(string what, const Ice::Current&) override { return "cpp heard " + what; }

    void rename(string name, const Ice::Current&) override
    {
        lock_guard<mutex> lock(_m);
        _name = name;
    }

private:
    mutex _m;
    int _count = 0;
    string _name = "cpp";
};

void throwLevel(int level)
{
    if(level == 1)
    {
        throw SessionError("session");
    }
    if(level == 2)
    {
        throw MediaError("media", 2);
    }
    throw CodecError("codec", 3, "opus", 48000);
}

class DirectoryI : public Directory
{
public:
    shared_ptr<Entity> echo(shared_ptr<Entity> e, const Ice::Current&) override { return counted(e); }
    shared_ptr<Entity> echoSliced(shared_ptr<Entity> e, const Ice::Current&) override { return counted(e); }
    shared_ptr<Snapshot> echoSnapshot(shared_ptr<Snapshot> s, const Ice::Current&) override { return counted(s); }

    EntitySeq echoSeq(EntitySeq s, EntityMap m, EntityMap& mout, const Ice::Current&) override
    {
        ++_calls;
        mout = m;
        return s;
    }

    shared_ptr<Ice::Value> echoListener(shared_ptr<Ice::Value> v, const Ice::Current&) override { return counted(v); }

    shared_ptr<Hooked> echoHooked(shared_ptr<Hooked> h, const Ice::Current&) override
    {
        ++_calls;
        auto hi = dynamic_pointer_cast<HookedI>(h);
        string note = string("received preMarshaled=") + (h && h->preMarshaled ? "True" : "False") +
                      " post=" + (hi && hi->post ? "True" : "False");
        return make_shared<HookedI>(false, note);
    }

    Handles echoHandles(Handles h, const Ice::Current&) override
    {
        ++_calls;
        return h;
    }

    shared_ptr<CounterPrx> makeCounter(const Ice::Current& current) override
    {
        ++_calls;
        return Ice::uncheckedCast<CounterPrx>(current.adapter->createProxy(Ice::stringToIdentity("counter")));
    }

    int callCounter(shared_ptr<CounterPrx> c, int by, const Ice::Current&) override
    {
        ++_calls;
        return c->increment(by);
    }

    void fail(int level, const Ice::Current&) override
    {
        ++_calls;
        throwLevel(level);
    }

    void failSliced(int level, const Ice::Current&) override
    {
        ++_calls;
        throwLevel(level);
    }

    int calls(const Ice::Current&) override { return _calls; }

    void shutdown(const Ice::Current& current) override { current.adapter->getCommunicator()->shutdown(); }

private:
    template<class T> T counted(T v)
    {
        ++_calls;
        return v;
    }

    atomic<int> _calls{0};
};

int server(int argc, char* argv[])
{
    Ice::CommunicatorHolder ich(argc, argv);
    addHookedFactory(ich.communicator());
    auto adapter = ich->createObjectAdapterWithEndpoints("Fidelity", "tcp -h 127.0.0.1 -p 0");
    adapter->add(make_shared<DirectoryI>(), Ice::stringToIdentity("directory"));
    adapter->add(make_shared<NamedCounterI>(), Ice::stringToIdentity("counter"));
    adapter->activate();
    auto info = dynamic_pointer_cast<Ice::TCPEndpointInfo>(adapter->getEndpoints()[0]->getInfo());
    cout << info->port << endl;
    ich->waitForShutdown();
    return 0;
}

// ---- client ------------------------------------------------------------

void check(const string& name, bool cond)
{
    if(!cond)
    {
        cout << "FAIL " << name << endl;
        exit(1);
    }
    cout << "ok " << name << endl;
}

/// A SipEndpoint whose peer (an Endpoint) shares its owner (a Resource).
shared_ptr<SipEndpoint> sip(const string& name, int port)
{
    auto owner = make_shared<Resource>("owner-" + name, string("res"), 7, nullptr);
    auto fallback = make_shared<Endpoint>("fb", Ice::nullopt, 1, nullptr, "sip:fallback", nullptr);
    auto peer = make_shared<Endpoint>("peer-" + name, Ice::nullopt, 200, owner, "sip:peer", nullptr);
    return make_shared<SipEndpoint>("sip-" + name, "label-" + name, 100, owner, "sip:" + name, peer, port,
                                    shared_ptr<Endpoint>(fallback));
}

bool isSip(const shared_ptr<Entity>& e, const string& name, int port, bool e10)
{
    auto s = dynamic_pointer_cast<SipEndpoint>(e);
    if(!s || s->ice_id() != SipEndpoint::ice_staticId() || !s->peer || !s->owner)
    {
        return false;
    }
    bool opts = e10 ? (!s->label && !s->fallback)
                    : (s->label && *s->label == "label-" + name && s->fallback && *s->fallback &&
                       (*s->fallback)->uri == "sip:fallback");
    return s->id == "sip-" + name && s->uri == "sip:" + name && s->port == port && s->created == 100 &&
           s->peer->owner == s->owner && dynamic_pointer_cast<Resource>(s->owner) != nullptr && opts;
}

int client(const string& proxy, const string& encoding)
{
    const bool e10 = encoding == "1.0";
    Ice::InitializationData init;
    init.properties = Ice::createProperties();
    init.properties->setProperty("Ice.Default.EncodingVersion", encoding);
    Ice::CommunicatorHolder ich(init);
    addHookedFactory(ich.communicator());
    auto d = Ice::checkedCast<DirectoryPrx>(ich->stringToProxy(proxy));
    check("checkedCast Directory", d != nullptr);

    check("echo SipEndpoint", isSip(d->echo(sip("a", 5060)), "a", 5060, e10));
    check("echoSliced SipEndpoint", isSip(d->echoSliced(sip("a", 5060)), "a", 5060, e10));
    check("echo null", d->echo(nullptr) == nullptr);

    auto shared = make_shared<Endpoint>("shared", Ice::nullopt, 1, nullptr, "sip:shared", nullptr);
    EntitySeq seq{shared, sip("b", 1), nullptr, shared, make_shared<Entity>("plain", string("l"))};
    EntityMap m{{"x", shared}, {"y", seq[1]}, {"z", nullptr}};
    EntityMap mout;
    auto rs = d->echoSeq(seq, m, mout);
    check("echoSeq", rs.size() == 5 && rs[0] == rs[3] && !rs[2] && isSip(rs[1], "b", 1, e10) &&
                         rs[4]->id == "plain" && mout["x"] == rs[0] && mout["y"] == rs[1] && !mout["z"]);

    auto snap = d->echoSnapshot(make_shared<Snapshot>(seq, m, shared, shared));
    check("echoSnapshot", snap && snap->first == snap->second && snap->items[0] == snap->first &&
                              snap->byId["y"] == snap->items[1] && isSip(snap->items[1], "b", 1, e10));

    // An interface by value (Listener): a NamedCounter instance.
    auto lv = d->echoListener(make_shared<NamedCounter>(3, "byvalue"));
    auto lnc = dynamic_pointer_cast<NamedCounter>(lv);
    check("echoListener", lnc && lnc->count == 3 && lnc->name == "byvalue");

    auto h = d->echoHooked(make_shared<HookedI>(false, "from cpp"));
    check("echoHooked sent", h && h->note.find("received preMarshaled=True") == 0);
    check("echoHooked post-unmarshal", h && h->note.find("post=True") != string::npos);
    check("echoHooked received", h && h->preMarshaled);

    auto c = d->makeCounter();
    auto nc = Ice::checkedCast<NamedCounterPrx>(c);
    check("checkedCast NamedCounter", nc != nullptr);
    check("ice_ids", c->ice_ids() == vector<string>{"::Fidelity::Counter", "::Fidelity::Listener",
                                                     "::Fidelity::NamedCounter", "::Ice::Object"});
    int before = c->increment(0);
    check("increment", c->increment(5) == before + 5);
    nc->rename("renamed");
    check("describe", nc->describe() == "renamed=" + to_string(before + 5));
    check("notify", nc->notify("hi").find("heard hi") != string::npos);
    check("callCounter", d->callCounter(c, 2) == before + 7);
    auto hs = d->echoHandles(Handles{c, nc, nc});
    check("echoHandles", Ice::targetEqualTo(hs.counter, c) && Ice::targetEqualTo(hs.named, nc) &&
                             Ice::targetEqualTo(hs.listener, nc));

    for(int sliced = 0; sliced < 2; ++sliced)
    {
        for(int level = 1; level <= 3; ++level)
        {
            string name = string(sliced ? "failSliced(" : "fail(") + to_string(level) + ")";
            try
            {
                sliced ? d->failSliced(level) : d->fail(level);
                check(name + " raised", false);
            }
            catch(const CodecError& ex)
            {
                check(name, level == 3 && ex.code == 3 && ex.codec == "opus" &&
                                (e10 ? !ex.rate : (ex.rate && *ex.rate == 48000)));
            }
            catch(const MediaError& ex)
            {
                check(name, level == 2 && ex.code == 2 && ex.reason == "media");
            }
            catch(const SessionError& ex)
            {
                check(name, level == 1 && ex.reason == "session");
            }
        }
    }
    d->shutdown();
    cout << "ALL OK" << endl;
    return 0;
}

/// Through a relay built from FidelityOld.ice: a SipEndpoint and a
/// CodecError come back whole in 1.1 under the sliced format, are refused
/// under the compact format, and are sliced to the known base in 1.0.
int relayClient(const string& proxy, const string& encoding)
{
    const bool e10 = encoding == "1.0";
    Ice::CommunicatorHolder ich(Ice::initialize());
    auto d = Ice::uncheckedCast<DirectoryPrx>(ich->stringToProxy(proxy))
                 ->ice_encodingVersion(Ice::stringToEncodingVersion(encoding));

    auto r = d->echoSliced(sip("r", 5070));
    if(e10)
    {
        check("relay echoSliced 1.0 sliced to Endpoint",
              r && r->ice_id() == Endpoint::ice_staticId() && dynamic_pointer_cast<Endpoint>(r)->uri == "sip:r");
    }
    else
    {
        check("relay echoSliced preserved", isSip(r, "r", 5070, false));
    }
    try
    {
        auto c = d->echo(sip("c", 5080));
        check("relay echo 1.0 sliced to Endpoint", e10 && c && c->ice_id() == Endpoint::ice_staticId());
    }
    catch(const Ice::UnknownLocalException& ex)
    {
        check("relay echo compact refused",
              !e10 && ex.unknown.find("compact format prevents slicing") != string::npos);
    }
    try
    {
        d->failSliced(3);
        check("relay failSliced raised", false);
    }
    catch(const CodecError& ex)
    {
        check("relay failSliced preserved",
              !e10 && ex.code == 3 && ex.codec == "opus" && ex.rate && *ex.rate == 48000);
    }
    catch(const MediaError& ex)
    {
        check("relay failSliced 1.0 sliced to MediaError",
              e10 && ex.ice_id() == MediaError::ice_staticId() && ex.code == 3);
    }
    try
    {
        d->fail(3);
        check("relay fail raised", false);
    }
    catch(const CodecError&)
    {
        check("relay fail not preserved in the compact format", false);
    }
    catch(const MediaError& ex)
    {
        check("relay fail 1.0 sliced to MediaError",
              e10 && ex.ice_id() == MediaError::ice_staticId() && ex.code == 3);
    }
    catch(const Ice::UnknownUserException& ex)
    {
        check("relay fail compact unknown", !e10 && ex.unknown.find("CodecError") != string::npos);
    }
    d->shutdown();
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
        if(argc >= 4 && string(argv[1]) == "client")
        {
            return client(argv[2], argv[3]);
        }
        if(argc >= 4 && string(argv[1]) == "relay-client")
        {
            return relayClient(argv[2], argv[3]);
        }
        cerr << "usage: fidelity_peer server | fidelity_peer (client|relay-client) <proxy> <encoding>" << endl;
        return 2;
    }
    catch(const std::exception& e)
    {
        cout << "FAIL exception: " << e.what() << endl;
        return 1;
    }
}
