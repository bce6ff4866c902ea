// scf-cpp-listener: a standalone standby listener, written with ZeroC Ice 3.7
// (C++11 mapping), that records every push of a ChannelServiceXStateReplicator
// in arrival order.
//
// Adapter `Listener` (endpoints from properties, default
// `tcp -h 127.0.0.1 -p 0`, one thread), identity `ChannelServiceXListener`
// unless `Listener.Identity` says otherwise. `Listener.StateReplicatorName`
// (a stringified proxy) is the replicator it registers with at start-up;
// without it the listener only serves (a test registers it by hand).
// `Listener.CatchUp=1` also calls getAllStateItems after registering and
// prints the snapshot as a dump (ITEM lines, END) before READY.
//
// stdout: `READY\t<listener proxy>`, then one line per pushed item or key, as
// the pushes arrive: `SET ...` / `REMOVED <key>` (formats in peer_common.h).
// stdin commands:
//   dump     the store built from the pushes, as dump lines, then END
//   encodings  `ENCODINGS <v>...`: the encodings of the pushes received so far
//   count    `COUNT <pushes received> <lines printed>`
//   pause    pushes block (the listener stops answering) until `resume`
//   resume   pushes are answered again
//   quit     exit (as does the end of stdin)

#include "peer_common.h"

#include <condition_variable>

using namespace AsteriskSCF::ChannelServiceX::V1;

namespace
{

class RecorderI : public ChannelServiceXStateReplicatorListener
{
public:
    void stateItemsSet(ChannelServiceXStateItemSeq items, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        waitUnpaused();
        std::lock_guard<std::mutex> lock(_mutex);
        auto lines = peer::setLines(items);
        peer::applySet(_store, items);
        record(lines);
    }

    void stateItemsRemoved(ChannelServiceXStateItemKeySeq keys, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        waitUnpaused();
        std::lock_guard<std::mutex> lock(_mutex);
        auto lines = peer::removedLines(keys);
        peer::applyRemove(_store, keys);
        record(lines);
    }

    void snapshot(const ChannelServiceXStateItemSeq& items)
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _store = peer::fromSeq(items);
    }

    std::vector<std::string> dump()
    {
        std::lock_guard<std::mutex> lock(_mutex);
        return peer::dumpLines(_store);
    }

    std::string count()
    {
        std::lock_guard<std::mutex> lock(_mutex);
        return "COUNT " + std::to_string(_pushes) + " " + std::to_string(_lines);
    }

    void setPaused(bool paused)
    {
        {
            std::lock_guard<std::mutex> lock(_pauseMutex);
            _paused = paused;
        }
        _pauseCv.notify_all();
    }

private:
    void record(const std::vector<std::string>& lines)
    {
        ++_pushes;
        _lines += lines.size();
        peer::printLines(lines);
    }

    void waitUnpaused()
    {
        std::unique_lock<std::mutex> lock(_pauseMutex);
        _pauseCv.wait(lock, [this] { return !_paused; });
    }

    std::mutex _mutex;
    peer::ItemMap _store;
    size_t _pushes = 0;
    size_t _lines = 0;
    std::mutex _pauseMutex;
    std::condition_variable _pauseCv;
    bool _paused = false;
};

} // namespace

int main(int argc, char* argv[])
{
    try
    {
        Ice::CommunicatorHolder ich(peer::initData(argc, argv));
        auto communicator = ich.communicator();
        auto props = communicator->getProperties();
        peer::defaultEndpoints(communicator, "Listener");
        auto adapter = communicator->createObjectAdapter("Listener");
        auto servant = std::make_shared<RecorderI>();
        auto prx = Ice::uncheckedCast<ChannelServiceXStateReplicatorListenerPrx>(adapter->add(
            servant, Ice::stringToIdentity(props->getPropertyWithDefault("Listener.Identity", "ChannelServiceXListener"))));
        adapter->activate();

        auto name = props->getProperty("Listener.StateReplicatorName");
        if(!name.empty())
        {
            try
            {
                auto replicator = Ice::uncheckedCast<ChannelServiceXStateReplicatorPrx>(
                    communicator->stringToProxy(name)->ice_invocationTimeout(5000));
                replicator->addListener(prx);
                if(props->getPropertyAsInt("Listener.CatchUp") > 0)
                {
                    servant->snapshot(replicator->getAllStateItems());
                    peer::printLines(servant->dump());
                }
            }
            catch(const Ice::Exception& e)
            {
                std::cerr << "scf-cpp-listener: Listener.StateReplicatorName=" << name
                          << ": the replicator cannot be reached: " << e.what() << std::endl;
                return 1;
            }
        }
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
            else if(line == "count")
            {
                peer::printLine(servant->count());
            }
            else if(line == "pause")
            {
                servant->setPaused(true);
                peer::printLine("PAUSED");
            }
            else if(line == "resume")
            {
                servant->setPaused(false);
                peer::printLine("RESUMED");
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
        servant->setPaused(false);
        std::fflush(stdout);
        std::_Exit(0);
    }
    catch(const std::exception& e)
    {
        std::cerr << "scf-cpp-listener: " << e.what() << std::endl;
        return 1;
    }
}
