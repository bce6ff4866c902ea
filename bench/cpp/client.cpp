// The ZeroC Ice C++ benchmark client: the figures of bench/src/client.rs,
// same names, same counts, same output ("figure <name> <us per call>
// <MB/s or ->"), against any ::Bench::Throughput server.
//
//   client PORT [--latency N] [--oneway N] [--callers N] [--byte-size N]
//          [--seq-size N] [--byte-calls N] [--seq-calls N] [--only a,b] [--shutdown]
#include "common.h"
#include <Ice/Ice.h>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

using namespace std;
using Clock = chrono::steady_clock;

namespace
{

struct Config
{
    int latency = 5000;
    int oneway = 50000;
    int callers = 8;
    int byteSize = 500000;
    int seqSize = 50000;
    int byteCalls = 100;
    int seqCalls = 20;
    vector<string> only;
    bool shutdown = false;

    bool wants(const string& name) const
    {
        if(only.empty())
        {
            return true;
        }
        for(const auto& p : only)
        {
            if(name.compare(0, p.size(), p) == 0)
            {
                return true;
            }
        }
        return false;
    }

    // Whether any figure of the group prefix ("bytes", ...) is wanted.
    bool wantsGroup(const string& prefix) const
    {
        if(wants(prefix))
        {
            return true;
        }
        for(const auto& p : only)
        {
            if(p.compare(0, prefix.size(), prefix) == 0)
            {
                return true;
            }
        }
        return false;
    }
};

void print(const string& name, Clock::time_point start, long calls, long bytesPerCall)
{
    double secs = chrono::duration<double>(Clock::now() - start).count();
    double n = calls > 0 ? static_cast<double>(calls) : 1.0;
    if(bytesPerCall > 0)
    {
        printf("figure %s %.3f %.1f\n", name.c_str(), secs * 1e6 / n, bytesPerCall * n / secs / 1e6);
    }
    else
    {
        printf("figure %s %.3f -\n", name.c_str(), secs * 1e6 / n);
    }
    fflush(stdout);
}

// Runs call n times (after n / 10 warm-up calls) and returns the start.
Clock::time_point serial(int n, const function<void()>& call)
{
    for(int i = 0; i < max(n / 10, 1); ++i)
    {
        call();
    }
    auto start = Clock::now();
    for(int i = 0; i < n; ++i)
    {
        call();
    }
    return start;
}

// Runs callers threads each calling call n / callers times at once.
long concurrent(int n, int callers, const function<void()>& call, Clock::time_point& start)
{
    callers = max(callers, 1);
    int each = max(n / callers, 1);
    auto runAll = [&](int count) {
        vector<thread> threads;
        for(int t = 0; t < callers; ++t)
        {
            threads.emplace_back([&] {
                for(int i = 0; i < count; ++i)
                {
                    call();
                }
            });
        }
        for(auto& t : threads)
        {
            t.join();
        }
    };
    runAll(max(each / 10, 1));
    start = Clock::now();
    runAll(each);
    return static_cast<long>(each) * callers;
}

long oneway(const shared_ptr<Bench::ThroughputPrx>& prx, int n, int callers, Clock::time_point& start)
{
    auto one = prx->ice_oneway();
    for(int i = 0; i < max(n / 10, 1); ++i)
    {
        one->small(i);
    }
    prx->count();
    callers = max(callers, 1);
    int each = max(n / callers, 1);
    start = Clock::now();
    if(callers == 1)
    {
        for(int i = 0; i < each; ++i)
        {
            one->small(i);
        }
    }
    else
    {
        vector<thread> threads;
        for(int t = 0; t < callers; ++t)
        {
            threads.emplace_back([&] {
                for(int i = 0; i < each; ++i)
                {
                    one->small(i);
                }
            });
        }
        for(auto& t : threads)
        {
            t.join();
        }
    }
    int got = prx->count();
    long sent = static_cast<long>(each) * callers;
    if(got != sent)
    {
        ostringstream os;
        os << "server counted " << got << " oneway requests, " << sent << " sent";
        throw runtime_error(os.str());
    }
    return sent;
}

template<typename Seq, typename Make, typename Send, typename Recv, typename Echo>
void sequenceFigures(const Config& config, const string& prefix, Make make, int size, int calls, long bytes,
                     Send send, Recv recv, Echo echo)
{
    if(!config.wantsGroup(prefix))
    {
        return;
    }
    Seq seq = make(size);
    if(config.wants(prefix + "-send"))
    {
        auto start = serial(calls, [&] { send(seq); });
        print(prefix + "-send", start, calls, bytes);
    }
    if(config.wants(prefix + "-recv"))
    {
        if(!benchdata::sameSeq(recv(size), seq))
        {
            throw runtime_error(prefix + ": received sequence differs");
        }
        auto start = serial(calls, [&] {
            if(static_cast<int>(recv(size).size()) != size)
            {
                throw runtime_error(prefix + ": received a sequence of another size");
            }
        });
        print(prefix + "-recv", start, calls, bytes);
    }
    if(config.wants(prefix + "-echo"))
    {
        if(!benchdata::sameSeq(echo(seq), seq))
        {
            throw runtime_error(prefix + ": echoed sequence differs");
        }
        auto start = serial(calls, [&] {
            if(static_cast<int>(echo(seq).size()) != size)
            {
                throw runtime_error(prefix + ": echoed a sequence of another size");
            }
        });
        print(prefix + "-echo", start, calls, 2 * bytes);
    }
}

void run(const shared_ptr<Bench::ThroughputPrx>& prx, const Config& c)
{
    int n = c.latency;
    int k = c.callers;
    string x = "-x" + to_string(k);
    if(c.wants("twoway-noop"))
    {
        auto start = serial(n, [&] { prx->noop(); });
        print("twoway-noop", start, n, 0);
    }
    if(c.wants("twoway-ping"))
    {
        auto start = serial(n, [&] { prx->ice_ping(); });
        print("twoway-ping", start, n, 0);
    }
    if(c.wants("oneway-small"))
    {
        Clock::time_point start;
        long sent = oneway(prx, c.oneway, 1, start);
        print("oneway-small", start, sent, 0);
    }
    if(c.wants("twoway-noop-x"))
    {
        Clock::time_point start;
        long calls = concurrent(n, k, [&] { prx->noop(); }, start);
        print("twoway-noop" + x, start, calls, 0);
    }
    if(c.wants("twoway-ping-x"))
    {
        Clock::time_point start;
        long calls = concurrent(n, k, [&] { prx->ice_ping(); }, start);
        print("twoway-ping" + x, start, calls, 0);
    }
    if(c.wants("oneway-small-x"))
    {
        Clock::time_point start;
        long sent = oneway(prx, c.oneway, k, start);
        print("oneway-small" + x, start, sent, 0);
    }
    sequenceFigures<Bench::ByteSeq>(
        c, "bytes", benchdata::bytes, c.byteSize, c.byteCalls, c.byteSize,
        [&](const Bench::ByteSeq& s) { prx->sendBytes(s); }, [&](int size) { return prx->recvBytes(size); },
        [&](const Bench::ByteSeq& s) { return prx->echoBytes(s); });
    sequenceFigures<Bench::StringSeq>(
        c, "strings", benchdata::strings, c.seqSize, c.seqCalls, 0,
        [&](const Bench::StringSeq& s) { prx->sendStrings(s); }, [&](int size) { return prx->recvStrings(size); },
        [&](const Bench::StringSeq& s) { return prx->echoStrings(s); });
    sequenceFigures<Bench::SmallSeq>(
        c, "small", benchdata::small, c.seqSize, c.seqCalls, 0,
        [&](const Bench::SmallSeq& s) { prx->sendSmall(s); }, [&](int size) { return prx->recvSmall(size); },
        [&](const Bench::SmallSeq& s) { return prx->echoSmall(s); });
    sequenceFigures<Bench::FixedSeq>(
        c, "fixed", benchdata::fixed, c.seqSize, c.seqCalls, 0,
        [&](const Bench::FixedSeq& s) { prx->sendFixed(s); }, [&](int size) { return prx->recvFixed(size); },
        [&](const Bench::FixedSeq& s) { return prx->echoFixed(s); });
}

}

int main(int argc, char* argv[])
{
    if(argc < 2)
    {
        cerr << "usage: " << argv[0] << " PORT [options]" << endl;
        return 2;
    }
    string port = argv[1];
    Config c;
    for(int i = 2; i < argc; ++i)
    {
        string a = argv[i];
        auto next = [&]() -> string {
            if(i + 1 >= argc)
            {
                throw invalid_argument(a + " needs a value");
            }
            return argv[++i];
        };
        try
        {
            if(a == "--latency") c.latency = stoi(next());
            else if(a == "--oneway") c.oneway = stoi(next());
            else if(a == "--callers") c.callers = stoi(next());
            else if(a == "--byte-size") c.byteSize = stoi(next());
            else if(a == "--seq-size") c.seqSize = stoi(next());
            else if(a == "--byte-calls") c.byteCalls = stoi(next());
            else if(a == "--seq-calls") c.seqCalls = stoi(next());
            else if(a == "--shutdown") c.shutdown = true;
            else if(a == "--only")
            {
                istringstream is(next());
                string p;
                while(getline(is, p, ','))
                {
                    c.only.push_back(p);
                }
            }
            else
            {
                cerr << "unknown option " << a << endl;
                return 2;
            }
        }
        catch(const exception& ex)
        {
            cerr << a << ": " << ex.what() << endl;
            return 2;
        }
    }
    try
    {
        Ice::InitializationData init;
        init.properties = Ice::createProperties();
        init.properties->setProperty("Ice.MessageSizeMax", "102400");
        Ice::CommunicatorHolder ich(init);
        auto prx = Ice::checkedCast<Bench::ThroughputPrx>(
            ich->stringToProxy("throughput:tcp -h 127.0.0.1 -p " + port));
        if(!prx)
        {
            cerr << "not a ::Bench::Throughput" << endl;
            return 1;
        }
        run(prx, c);
        if(c.shutdown)
        {
            prx->shutdown();
        }
    }
    catch(const std::exception& ex)
    {
        cerr << ex.what() << endl;
        return 1;
    }
    return 0;
}
