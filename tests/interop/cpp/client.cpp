// ZeroC C++ Ice client for the runtime interop tests (C++11 mapping).
//
// Usage: client PROXY [--Ice.Default.EncodingVersion=1.0 ...]
// Runs the same checks as tests/interop/client.py, printing `ok NAME` or
// `FAIL NAME: detail` per check; exits 1 if any failed.

#include <Ice/Ice.h>
#include <functional>
#include <iostream>
#include <stdexcept>

#include "Test.h"

namespace
{

int failures = 0;

// The object the server calls back over the client's connection.
class CallbackI : public Test::Tester
{
public:
    std::string echo(std::string s, const Ice::Current&) override { return s; }
    int add(int, int, int&, const Ice::Current&) override { return 0; }
    void record(std::string, const Ice::Current&) override {}
    Test::StringSeq takeRecorded(const Ice::Current&) override { return {}; }
    std::string getContext(std::string, const Ice::Current&) override { return ""; }
    void fail(std::string, int, const Ice::Current&) override {}
    void crash(const Ice::Current&) override {}
    void callBackAsync(std::string,
                       std::function<void(const std::string&)> response,
                       std::function<void(std::exception_ptr)>,
                       const Ice::Current&) override
    {
        response("");
    }
    void shutdown(const Ice::Current&) override {}
};

void
check(const std::string& name, const std::function<void()>& f)
{
    try
    {
        f();
        std::cout << "ok " << name << std::endl;
    }
    catch(const std::exception& ex)
    {
        ++failures;
        std::cout << "FAIL " << name << ": " << ex.what() << std::endl;
    }
}

void
expect(bool cond, const std::string& what)
{
    if(!cond)
    {
        throw std::runtime_error(what);
    }
}

}

int
main(int argc, char* argv[])
{
    Ice::CommunicatorHolder ich(argc, argv);
    if(argc < 2)
    {
        std::cerr << "usage: client PROXY" << std::endl;
        return 2;
    }
    auto communicator = ich.communicator();
    auto base = communicator->stringToProxy(argv[1]);
    auto prx = Ice::checkedCast<Test::TesterPrx>(base);
    if(!prx)
    {
        std::cout << "FAIL checkedCast" << std::endl;
        return 1;
    }
    std::cout << "ok checkedCast" << std::endl;

    check("ice_ping", [&] { prx->ice_ping(); });
    check("ice_isA", [&] {
        expect(prx->ice_isA("::Test::Tester"), "isA Tester");
        expect(!prx->ice_isA("::Test::Other"), "isA Other");
    });
    check("ice_id", [&] { expect(prx->ice_id() == "::Test::Tester", prx->ice_id()); });
    check("ice_ids", [&] {
        expect(prx->ice_ids() == std::vector<std::string>{"::Ice::Object", "::Test::Tester"}, "ids");
    });
    check("echo", [&] {
        std::string s = "h\xc3\xa9llo w\xc3\xb6rld";
        expect(prx->echo(s) == s, "echo");
    });
    check("echo_long", [&] {
        std::string s(100000, 'x');
        expect(prx->echo(s) == s, "long echo");
    });
    check("add_out_param", [&] {
        int product = 0;
        int sum = prx->add(3, 4, product);
        expect(sum == 7 && product == 12, "add");
    });
    check("user_exception", [&] {
        try
        {
            prx->fail("bad thing", 42);
        }
        catch(const Test::Boom& b)
        {
            expect(b.reason == "bad thing" && b.code == 42, "Boom members");
            return;
        }
        throw std::runtime_error("no exception");
    });
    check("unknown_exception", [&] {
        try
        {
            prx->crash();
        }
        catch(const Ice::UnknownException&)
        {
            return;
        }
        throw std::runtime_error("no exception");
    });
    check("per_call_context", [&] {
        expect(prx->getContext("k", Ice::Context{{"k", "v1"}}) == "v1", "ctx");
    });
    check("per_proxy_context", [&] {
        expect(prx->ice_context(Ice::Context{{"k", "v2"}})->getContext("k") == "v2", "proxy ctx");
    });
    check("no_context", [&] { expect(prx->getContext("k") == "<none>", "no ctx"); });
    check("oneway", [&] {
        prx->takeRecorded();
        auto o = prx->ice_oneway();
        o->record("o1");
        o->record("o2");
        auto got = prx->takeRecorded();
        got.pop_back();
        expect(got == Test::StringSeq{"o1", "o2"}, "oneway order");
    });
    check("batch_oneway", [&] {
        prx->takeRecorded();
        auto b = prx->ice_batchOneway();
        b->record("b1");
        b->record("b2");
        b->record("b3");
        b->ice_flushBatchRequests();
        auto got = prx->takeRecorded();
        got.pop_back();
        expect(got == Test::StringSeq{"b1", "b2", "b3"}, "batch order");
    });
    check("object_not_exist", [&] {
        try
        {
            prx->ice_identity(Ice::stringToIdentity("missing"))->ice_ping();
        }
        catch(const Ice::ObjectNotExistException& e)
        {
            expect(e.id.name == "missing", "identity in exception");
            return;
        }
        throw std::runtime_error("no exception");
    });
    check("facet_not_exist", [&] {
        try
        {
            prx->ice_facet("nope")->ice_ping();
            throw std::runtime_error("no exception");
        }
        catch(const Ice::FacetNotExistException&)
        {
        }
        expect(Ice::checkedCast<Test::TesterPrx>(base, "nope") == nullptr, "checkedCast to missing facet");
    });
    check("facet_exists", [&] {
        auto f = Ice::checkedCast<Test::TesterPrx>(base, "extra");
        expect(f && f->echo("f") == "f", "facet echo");
    });
    check("operation_not_exist", [&] {
        std::vector<Ice::Byte> out;
        try
        {
            prx->ice_invoke("noSuchOperation", Ice::OperationMode::Normal, std::vector<Ice::Byte>(), out);
        }
        catch(const Ice::OperationNotExistException&)
        {
            return;
        }
        throw std::runtime_error("no exception");
    });
    check("bidir_callback", [&] {
        auto adapter = communicator->createObjectAdapter("");
        adapter->add(std::make_shared<CallbackI>(), Ice::stringToIdentity("cb"));
        adapter->activate();
        prx->ice_getConnection()->setAdapter(adapter);
        auto got = prx->callBack("cb");
        expect(got == "::Test::Tester", "callback answered " + got);
    });
    check("server_saw_only_our_encoding", [&] {
        auto want = communicator->getProperties()->getPropertyWithDefault("Ice.Default.EncodingVersion", "1.1");
        auto got = prx->takeRecorded();
        expect(got == Test::StringSeq{"enc=" + want}, "encodings seen: " + (got.empty() ? "" : got.back()));
    });
    return failures == 0 ? 0 : 1;
}
