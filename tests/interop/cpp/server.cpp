// ZeroC C++ Ice server for the runtime interop tests (C++11 mapping).
//
// Serves Test::Tester as identity `tester` (and facet `extra`) on
// 127.0.0.1 at a free port, prints the port on stdout, and runs until a
// client calls `shutdown`. Ice properties come from the command line.
// Behaves as tests/interop/server.py does.

#include <Ice/Ice.h>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>

#include "Test.h"

namespace
{

class TesterI : public Test::Tester
{
public:
    std::string echo(std::string s, const Ice::Current& current) override
    {
        seen(current);
        return s;
    }

    int add(int a, int b, int& product, const Ice::Current& current) override
    {
        seen(current);
        product = a * b;
        return a + b;
    }

    void record(std::string msg, const Ice::Current& current) override
    {
        seen(current);
        std::lock_guard<std::mutex> lock(_mutex);
        _recorded.push_back(msg);
    }

    Test::StringSeq takeRecorded(const Ice::Current& current) override
    {
        seen(current);
        std::lock_guard<std::mutex> lock(_mutex);
        Test::StringSeq out;
        out.swap(_recorded);
        std::string encs;
        for(const auto& e : _encodings)
        {
            encs += (encs.empty() ? "" : ",") + e;
        }
        out.push_back("enc=" + encs);
        return out;
    }

    std::string getContext(std::string key, const Ice::Current& current) override
    {
        seen(current);
        auto p = current.ctx.find(key);
        return p == current.ctx.end() ? std::string("<none>") : p->second;
    }

    void fail(std::string reason, int code, const Ice::Current& current) override
    {
        seen(current);
        throw Test::Boom(reason, code);
    }

    void crash(const Ice::Current&) override
    {
        throw std::runtime_error("crash requested");
    }

    void callBackAsync(std::string name,
                       std::function<void(const std::string&)> response,
                       std::function<void(std::exception_ptr)> exception,
                       const Ice::Current& current) override
    {
        // Asynchronous: the server thread must stay free to read the
        // callback's reply on the same connection.
        current.con->createProxy(Ice::stringToIdentity(name))->ice_idAsync(response, exception);
    }

    void shutdown(const Ice::Current& current) override
    {
        current.adapter->getCommunicator()->shutdown();
    }

private:
    void seen(const Ice::Current& current)
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _encodings.insert(Ice::encodingVersionToString(current.encoding));
    }

    std::mutex _mutex;
    Test::StringSeq _recorded;
    std::set<std::string> _encodings;
};

}

int
main(int argc, char* argv[])
{
    try
    {
        Ice::InitializationData init;
        init.properties = Ice::createProperties(argc, argv);
        // Test.* properties on the command line too (Ice reads only its own).
        init.properties->parseCommandLineOptions("Test", Ice::argsToStringSeq(argc, argv));
        Ice::CommunicatorHolder ich(argc, argv, init);
        // tcp unless Test.Endpoints names another transport (ssl, ws, wss).
        auto endpoints = ich->getProperties()->getPropertyWithDefault("Test.Endpoints", "tcp -h 127.0.0.1 -p 0");
        auto adapter = ich->createObjectAdapterWithEndpoints("TestAdapter", endpoints);
        auto servant = std::make_shared<TesterI>();
        adapter->add(servant, Ice::stringToIdentity("tester"));
        adapter->addFacet(servant, Ice::stringToIdentity("tester"), "extra");
        adapter->activate();
        // An ssl or ws endpoint's information holds the tcp one's.
        auto info = adapter->getEndpoints().at(0)->getInfo();
        while(info && !std::dynamic_pointer_cast<Ice::IPEndpointInfo>(info))
        {
            info = info->underlying;
        }
        auto ip = std::dynamic_pointer_cast<Ice::IPEndpointInfo>(info);
        if(!ip)
        {
            std::cerr << "no IP endpoint" << std::endl;
            return 1;
        }
        std::cout << ip->port << std::endl;
        ich->waitForShutdown();
    }
    catch(const std::exception& ex)
    {
        std::cerr << ex.what() << std::endl;
        return 1;
    }
    return 0;
}
