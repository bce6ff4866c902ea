// The ZeroC Ice C++ benchmark server: serves ::Bench::Throughput as
// "throughput" on 127.0.0.1, any port (printed on the first line of
// stdout), with Ice's default server thread pool (one thread).
#include "common.h"
#include <Ice/Ice.h>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>

namespace
{

class ThroughputI : public Bench::Throughput
{
public:
    void noop(const Ice::Current&) override {}

    void small(int, const Ice::Current&) override { ++_count; }

    int count(const Ice::Current&) override { return _count.exchange(0); }

    void sendBytes(Bench::ByteSeq, const Ice::Current&) override {}

    Bench::ByteSeq recvBytes(int size, const Ice::Current&) override
    {
        return cached(_bytes, size, benchdata::bytes);
    }

    Bench::ByteSeq echoBytes(Bench::ByteSeq seq, const Ice::Current&) override { return seq; }

    void sendStrings(Bench::StringSeq, const Ice::Current&) override {}

    Bench::StringSeq recvStrings(int size, const Ice::Current&) override
    {
        return cached(_strings, size, benchdata::strings);
    }

    Bench::StringSeq echoStrings(Bench::StringSeq seq, const Ice::Current&) override { return seq; }

    void sendSmall(Bench::SmallSeq, const Ice::Current&) override {}

    Bench::SmallSeq recvSmall(int size, const Ice::Current&) override
    {
        return cached(_small, size, benchdata::small);
    }

    Bench::SmallSeq echoSmall(Bench::SmallSeq seq, const Ice::Current&) override { return seq; }

    void sendFixed(Bench::FixedSeq, const Ice::Current&) override {}

    Bench::FixedSeq recvFixed(int size, const Ice::Current&) override
    {
        return cached(_fixed, size, benchdata::fixed);
    }

    Bench::FixedSeq echoFixed(Bench::FixedSeq seq, const Ice::Current&) override { return seq; }

    void shutdown(const Ice::Current& current) override { current.adapter->getCommunicator()->shutdown(); }

private:
    template<typename T, typename F>
    T cached(std::map<int, T>& cache, int size, F make)
    {
        std::lock_guard<std::mutex> lock(_mutex);
        auto p = cache.find(size);
        if(p == cache.end())
        {
            p = cache.emplace(size, make(size)).first;
        }
        return p->second;
    }

    std::atomic<int> _count{0};
    std::mutex _mutex;
    std::map<int, Bench::ByteSeq> _bytes;
    std::map<int, Bench::StringSeq> _strings;
    std::map<int, Bench::SmallSeq> _small;
    std::map<int, Bench::FixedSeq> _fixed;
};

}

int main(int argc, char* argv[])
{
    try
    {
        Ice::InitializationData init;
        init.properties = Ice::createProperties(argc, argv);
        init.properties->setProperty("Ice.MessageSizeMax", "102400");
        Ice::CommunicatorHolder ich(argc, argv, init);
        auto adapter = ich->createObjectAdapterWithEndpoints("Bench", "tcp -h 127.0.0.1 -p 0");
        adapter->add(std::make_shared<ThroughputI>(), Ice::stringToIdentity("throughput"));
        adapter->activate();
        auto info = std::dynamic_pointer_cast<Ice::TCPEndpointInfo>(adapter->getEndpoints().at(0)->getInfo());
        if(!info)
        {
            std::cerr << "no TCP endpoint" << std::endl;
            return 1;
        }
        std::cout << info->port << std::endl;
        ich->waitForShutdown();
    }
    catch(const std::exception& ex)
    {
        std::cerr << ex.what() << std::endl;
        return 1;
    }
    return 0;
}
