// scf-cpp-replicator: a ChannelServiceXStateReplicator server written the
// obvious way with ZeroC Ice 3.7 (C++11 mapping).
//
// Adapter `ChannelServiceXReplicator` (endpoints from properties, default
// `tcp -h 127.0.0.1 -p 0`), object identity `ChannelServiceXStateReplicator`.
//
// Pushes are TWOWAY and SYNCHRONOUS: setStateItems/removeStateItems apply the
// change to the store, then call every listener in registration order and
// return only when every listener has answered (or failed). The server thread
// pool has one thread (Ice's default), so requests are dispatched one at a
// time, in arrival order, and every listener receives every change in the
// order it happened. A listener whose push fails (exception or
// `Replicator.ListenerTimeout` ms, default 5000) is dropped: the replicator
// prints `DROPPED <listener proxy>` on stdout and a log line on stderr.
//
// stdout: `READY\t<stringified proxy>` when serving, then `DROPPED ...` lines
// and command answers. stdin commands (one per line):
//   dump       the store as dump lines (see peer_common.h), then END
//   listeners  `LISTENERS <n>`
//   encodings  `ENCODINGS <v>...`: the encodings of the requests dispatched so far
//   quit       exit (as does the end of stdin)

#include "peer_common.h"

#include <algorithm>

using namespace AsteriskSCF::ChannelServiceX::V1;

namespace
{

// Listeners are told apart by their whole stringified proxy (identity and
// endpoints), since every component may use the same identity.
class ReplicatorI : public ChannelServiceXStateReplicator
{
public:
    explicit ReplicatorI(int listenerTimeoutMs) : _timeout(listenerTimeoutMs) {}

    void addListener(std::shared_ptr<ChannelServiceXStateReplicatorListenerPrx> listener, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        if(!listener)
        {
            return;
        }
        auto key = listener->ice_toString();
        std::lock_guard<std::mutex> lock(_mutex);
        for(const auto& l : _listeners)
        {
            if(l.first == key)
            {
                return;
            }
        }
        _listeners.emplace_back(key, listener->ice_invocationTimeout(_timeout));
    }

    void removeListener(std::shared_ptr<ChannelServiceXStateReplicatorListenerPrx> listener, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        if(!listener)
        {
            return;
        }
        auto key = listener->ice_toString();
        std::lock_guard<std::mutex> lock(_mutex);
        _listeners.erase(std::remove_if(_listeners.begin(), _listeners.end(),
                                        [&](const auto& l) { return l.first == key; }),
                         _listeners.end());
    }

    void setStateItems(ChannelServiceXStateItemSeq items, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        std::lock_guard<std::mutex> lock(_mutex);
        peer::applySet(_store, items);
        push([&](const auto& l) { l->stateItemsSet(items); });
    }

    void removeStateItems(ChannelServiceXStateItemKeySeq keys, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        std::lock_guard<std::mutex> lock(_mutex);
        peer::applyRemove(_store, keys);
        push([&](const auto& l) { l->stateItemsRemoved(keys); });
    }

    ChannelServiceXStateItemSeq getStateItems(ChannelServiceXStateItemKeySeq keys, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        std::lock_guard<std::mutex> lock(_mutex);
        ChannelServiceXStateItemSeq out;
        for(const auto& k : keys)
        {
            auto p = _store.find(k);
            if(p != _store.end())
            {
                out.push_back(p->second);
            }
        }
        return out;
    }

    ChannelServiceXStateItemSeq getAllStateItems(const Ice::Current& current) override
    {
        peer::encodings().note(current);
        std::lock_guard<std::mutex> lock(_mutex);
        ChannelServiceXStateItemSeq out;
        for(const auto& kv : _store)
        {
            out.push_back(kv.second);
        }
        return out;
    }

    std::vector<std::string> dump()
    {
        std::lock_guard<std::mutex> lock(_mutex);
        return peer::dumpLines(_store);
    }

    size_t listenerCount()
    {
        std::lock_guard<std::mutex> lock(_mutex);
        return _listeners.size();
    }

private:
    template<typename F> void push(F call)
    {
        std::vector<Listener> kept;
        for(const auto& l : _listeners)
        {
            try
            {
                call(l.second);
                kept.push_back(l);
            }
            catch(const Ice::Exception& e)
            {
                std::cerr << "scf-cpp-replicator: dropping listener " << l.first << ": " << e.what() << std::endl;
                peer::printLine("DROPPED " + l.first);
            }
        }
        _listeners.swap(kept);
    }

    int _timeout;
    std::mutex _mutex;
    peer::ItemMap _store;
    // Listeners by stringified proxy (identity and endpoints), in registration order.
    using Listener = std::pair<std::string, std::shared_ptr<ChannelServiceXStateReplicatorListenerPrx>>;
    std::vector<Listener> _listeners;
};

} // namespace

int main(int argc, char* argv[])
{
    try
    {
        Ice::CommunicatorHolder ich(peer::initData(argc, argv));
        auto communicator = ich.communicator();
        auto props = communicator->getProperties();
        peer::defaultEndpoints(communicator, "ChannelServiceXReplicator");
        auto adapter = communicator->createObjectAdapter("ChannelServiceXReplicator");
        auto servant = std::make_shared<ReplicatorI>(props->getPropertyAsIntWithDefault("Replicator.ListenerTimeout", 5000));
        auto prx = adapter->add(servant, Ice::stringToIdentity("ChannelServiceXStateReplicator"));
        adapter->activate();
        peer::printLine("READY\t" + communicator->proxyToString(prx));

        std::string line;
        while(std::getline(std::cin, line))
        {
            if(line == "dump")
            {
                peer::printLines(servant->dump());
            }
            else if(line == "encodings")
            {
                peer::printLine(peer::encodings().line());
            }
            else if(line == "listeners")
            {
                peer::printLine("LISTENERS " + std::to_string(servant->listenerCount()));
            }
            else if(line == "quit")
            {
                break;
            }
            else if(!line.empty())
            {
                peer::printLine("ERROR unknown command: " + line);
            }
        }
        communicator->shutdown();
    }
    catch(const std::exception& e)
    {
        std::cerr << "scf-cpp-replicator: " << e.what() << std::endl;
        return 1;
    }
    return 0;
}
