// scf-cpp-component: the example component ChannelServiceX as a member of a
// replica group, written with ZeroC Ice 3.7 (C++11 mapping).
//
// Adapters (endpoints from properties, default `tcp -h 127.0.0.1 -p 0`; each
// has its own one-thread pool, so a push never waits behind a management call):
//   ChannelServiceX            serves ChannelService, identity `ChannelService`
//   ChannelServiceXManagement  serves Replica, identity `ChannelServiceXReplica`
//   ChannelServiceXListener    serves ChannelServiceXStateReplicatorListener,
//                              identity `ChannelServiceXListener`
// Properties:
//   ChannelServiceX.StateReplicatorName  stringified proxy of the replicator
//   ChannelServiceX.Standalone           1: alone and active, no replicator (default 0)
//   Driver.Changes=N                     after the first activation, make N changes
//                                        (as the `changes N` command)
//   Driver.DumpOnExit=1                  print a dump on quit, end of stdin, SIGTERM/SIGINT
//   Driver.Quiet=1                       `changes` prints only its DONE line
//
// Lifecycle: starts in standby (unless standalone): registers its listener
// with the replicator, then catches up with getAllStateItems. Pushes received
// while catching up are buffered and replayed over the snapshot, so nothing
// pushed after registration is lost. activate() unregisters, catches up with
// getAllStateItems and becomes active; standby() registers and catches up.
// ReplicaListeners are told (oneway-style, asynchronously) after each change.
// An active member applies each ChannelService change to its store and calls
// setStateItems/removeStateItems on the replicator before answering.
//
// stdout: `READY\t<service proxy>\t<management proxy>` when serving, then the
// answers to stdin commands (one per line):
//   dump        the store as dump lines (see peer_common.h), then END
//   status      ACTIVE or STANDBY
//   encodings   `ENCODINGS <v>...`: the encodings of the requests its servants
//               dispatched so far (service, Replica and listener)
//   changes N   (active only) N deterministic changes (sets, updates, removals;
//               keys ch<i>), each sent to the replicator before the next; prints
//               each change as SET/REMOVED lines once the replicator has
//               acknowledged it (so after a SIGKILL, every printed change is one
//               the replicator acknowledged), then `DONE <N> <total so far>`;
//               `ERROR not active` on standby
//   quit        exit (as does the end of stdin)
// A replicator that cannot be reached at start-up is an error naming
// ChannelServiceX.StateReplicatorName (exit 1).

#include "peer_common.h"

#include <AsteriskSCF/ChannelServiceX/ChannelServiceXIf.h>
#include <AsteriskSCF/System/Component/ReplicaIf.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>

using namespace AsteriskSCF::ChannelServiceX::V1;
using namespace AsteriskSCF::System::Component::V1;

namespace
{

const char* const PROP_REPLICATOR = "ChannelServiceX.StateReplicatorName";

struct StartupError : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

/// A change buffered while catching up: a set (items) or a removal (keys).
struct Pending
{
    bool isSet;
    ChannelServiceXStateItemSeq items;
    ChannelServiceXStateItemKeySeq keys;
};

class Member
{
public:
    Member(std::shared_ptr<ChannelServiceXStateReplicatorPrx> replicator, bool standalone) :
        _replicator(std::move(replicator)), _standalone(standalone)
    {
    }

    void setSelf(std::shared_ptr<ChannelServiceXStateReplicatorListenerPrx> listener, std::shared_ptr<ReplicaPrx> replica)
    {
        _listenerPrx = std::move(listener);
        _replicaPrx = std::move(replica);
    }

    /// Start-up: standalone members are active at once; others listen.
    void start()
    {
        if(_standalone)
        {
            std::lock_guard<std::mutex> lock(_state);
            _active = true;
            return;
        }
        std::lock_guard<std::mutex> op(_op);
        listenAndCatchUp();
    }

    // --- pushes from the replicator (listener adapter, one thread) ---

    void pushed(Pending change)
    {
        std::lock_guard<std::mutex> lock(_state);
        if(_active)
        {
            return; // Not listening any more; a late push is ignored.
        }
        if(_catchingUp)
        {
            _buffer.push_back(std::move(change));
            return;
        }
        apply(change);
    }

    // --- Replica ---

    bool isActive()
    {
        std::lock_guard<std::mutex> lock(_state);
        return _active;
    }

    bool activate()
    {
        {
            std::lock_guard<std::mutex> op(_op);
            if(isActive())
            {
                return true;
            }
            if(!_standalone)
            {
                try
                {
                    _replicator->removeListener(_listenerPrx);
                    auto snapshot = _replicator->getAllStateItems();
                    std::lock_guard<std::mutex> lock(_state);
                    _store = peer::fromSeq(snapshot);
                    _catchingUp = false;
                    _buffer.clear();
                    _active = true;
                }
                catch(const Ice::Exception& e)
                {
                    std::cerr << "scf-cpp-component: activate failed: " << e.what() << std::endl;
                    return false;
                }
            }
            else
            {
                std::lock_guard<std::mutex> lock(_state);
                _active = true;
            }
        }
        _activatedCv.notify_all();
        notify(true);
        return true;
    }

    void standby()
    {
        {
            std::lock_guard<std::mutex> op(_op);
            if(!isActive())
            {
                return;
            }
            if(_standalone)
            {
                std::lock_guard<std::mutex> lock(_state);
                _active = false;
            }
            else
            {
                listenAndCatchUp();
            }
        }
        notify(false);
    }

    void addReplicaListener(const std::shared_ptr<ReplicaListenerPrx>& l)
    {
        if(!l)
        {
            return;
        }
        std::lock_guard<std::mutex> lock(_state);
        for(const auto& x : _replicaListeners)
        {
            if(x->ice_toString() == l->ice_toString())
            {
                return;
            }
        }
        _replicaListeners.push_back(l);
    }

    void removeReplicaListener(const std::shared_ptr<ReplicaListenerPrx>& l)
    {
        if(!l)
        {
            return;
        }
        std::lock_guard<std::mutex> lock(_state);
        auto key = l->ice_toString();
        _replicaListeners.erase(std::remove_if(_replicaListeners.begin(), _replicaListeners.end(),
                                               [&](const auto& x) { return x->ice_toString() == key; }),
                                _replicaListeners.end());
    }

    // --- ChannelService (service adapter) and the driver ---

    /// Sets items: in the store, then on the replicator. Throws NotActive.
    void set(const ChannelServiceXStateItemSeq& items)
    {
        std::lock_guard<std::mutex> op(_op);
        requireActive();
        {
            std::lock_guard<std::mutex> lock(_state);
            peer::applySet(_store, items);
        }
        if(!_standalone)
        {
            _replicator->setStateItems(items);
        }
    }

    /// Removes keys: from the store, then on the replicator. Throws NotActive.
    void remove(const ChannelServiceXStateItemKeySeq& keys)
    {
        std::lock_guard<std::mutex> op(_op);
        requireActive();
        {
            std::lock_guard<std::mutex> lock(_state);
            peer::applyRemove(_store, keys);
        }
        if(!_standalone)
        {
            _replicator->removeStateItems(keys);
        }
    }

    /// The item under a key, or null. Throws NotActive.
    std::shared_ptr<ChannelServiceXStateItem> get(const std::string& key)
    {
        std::lock_guard<std::mutex> lock(_state);
        if(!_active)
        {
            throw NotActive();
        }
        auto p = _store.find(key);
        return p == _store.end() ? nullptr : p->second;
    }

    /// The keys of all channel items. Throws NotActive.
    ChannelIdSeq channelIds()
    {
        std::lock_guard<std::mutex> lock(_state);
        if(!_active)
        {
            throw NotActive();
        }
        ChannelIdSeq ids;
        for(const auto& kv : _store)
        {
            if(auto ch = std::dynamic_pointer_cast<ChannelServiceXChannelStateItem>(kv.second))
            {
                ids.push_back(ch->channelId);
            }
        }
        return ids;
    }

    std::vector<std::string> dump()
    {
        std::lock_guard<std::mutex> lock(_state);
        return peer::dumpLines(_store);
    }

    /// Blocks until the member is active.
    void waitActive()
    {
        std::unique_lock<std::mutex> lock(_state);
        _activatedCv.wait(lock, [this] { return _active; });
    }

    /// `changes N`: N deterministic changes, each replicated before the next.
    void drive(int n, bool quiet)
    {
        const long K = 97;
        for(int i = 0; i < n; ++i)
        {
            long c = _driven++;
            long k = (c * 7919) % K;
            std::string key = "ch" + std::to_string(k);
            auto cur = std::dynamic_pointer_cast<ChannelServiceXChannelStateItem>(peekItem(key));
            std::vector<std::string> lines;
            if(!cur)
            {
                auto item = std::make_shared<ChannelServiceXChannelStateItem>(
                    key, key, "sip:" + key + "@10.0." + std::to_string(c % 256) + ".1", ChannelState::Idle,
                    1700000000000LL + c);
                ChannelServiceXStateItemSeq items{item};
                set(items);
                lines = peer::setLines(items);
            }
            else if(c % 10 == 3 || c % 10 == 7)
            {
                ChannelServiceXStateItemKeySeq keys{key};
                remove(keys);
                lines = peer::removedLines(keys);
            }
            else
            {
                auto next = std::make_shared<ChannelServiceXChannelStateItem>(*cur);
                next->state = static_cast<ChannelState>((static_cast<int>(cur->state) + 1) % 5);
                ChannelServiceXStateItemSeq items{next};
                if(c % 10 == 9)
                {
                    // Two items in one call.
                    std::string key2 = "ch" + std::to_string((k + 1) % K);
                    items.push_back(std::make_shared<ChannelServiceXChannelStateItem>(
                        key2, key2, "sip:" + key2 + "@batch", ChannelState::Up, 1700000000000LL + c));
                }
                set(items);
                lines = peer::setLines(items);
            }
            if(!quiet)
            {
                peer::printLines(lines);
            }
        }
    }

    long driven() const
    {
        return _driven;
    }

private:
    std::shared_ptr<ChannelServiceXStateItem> peekItem(const std::string& key)
    {
        std::lock_guard<std::mutex> lock(_state);
        auto p = _store.find(key);
        return p == _store.end() ? nullptr : p->second;
    }

    void requireActive()
    {
        std::lock_guard<std::mutex> lock(_state);
        if(!_active)
        {
            throw NotActive();
        }
    }

    void apply(const Pending& change)
    {
        if(change.isSet)
        {
            peer::applySet(_store, change.items);
        }
        else
        {
            peer::applyRemove(_store, change.keys);
        }
    }

    /// Registers the listener and catches up (caller holds _op).
    void listenAndCatchUp()
    {
        {
            std::lock_guard<std::mutex> lock(_state);
            _active = false;
            _catchingUp = true;
            _buffer.clear();
        }
        try
        {
            _replicator->addListener(_listenerPrx);
            auto snapshot = _replicator->getAllStateItems();
            std::lock_guard<std::mutex> lock(_state);
            _store = peer::fromSeq(snapshot);
            for(const auto& change : _buffer)
            {
                apply(change);
            }
            _buffer.clear();
            _catchingUp = false;
        }
        catch(...)
        {
            std::lock_guard<std::mutex> lock(_state);
            _catchingUp = false;
            _buffer.clear();
            throw;
        }
    }

    void notify(bool activated)
    {
        std::vector<std::shared_ptr<ReplicaListenerPrx>> listeners;
        {
            std::lock_guard<std::mutex> lock(_state);
            listeners = _replicaListeners;
        }
        for(const auto& l : listeners)
        {
            auto onError = [l](std::exception_ptr) {
                std::cerr << "scf-cpp-component: replica listener "
                          << l->ice_getCommunicator()->identityToString(l->ice_getIdentity()) << " failed" << std::endl;
            };
            if(activated)
            {
                l->activatedAsync(_replicaPrx, nullptr, onError);
            }
            else
            {
                l->onStandbyAsync(_replicaPrx, nullptr, onError);
            }
        }
    }

    std::shared_ptr<ChannelServiceXStateReplicatorPrx> _replicator;
    bool _standalone;
    std::shared_ptr<ChannelServiceXStateReplicatorListenerPrx> _listenerPrx;
    std::shared_ptr<ReplicaPrx> _replicaPrx;

    std::mutex _op;    // serialises lifecycle changes and service changes
    std::mutex _state; // guards everything below
    std::condition_variable _activatedCv;
    bool _active = false;
    bool _catchingUp = false;
    std::vector<Pending> _buffer;
    peer::ItemMap _store;
    std::vector<std::shared_ptr<ReplicaListenerPrx>> _replicaListeners;
    long _driven = 0;
};

class ListenerI : public ChannelServiceXStateReplicatorListener
{
public:
    explicit ListenerI(std::shared_ptr<Member> m) : _m(std::move(m)) {}

    void stateItemsSet(ChannelServiceXStateItemSeq items, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        _m->pushed(Pending{true, std::move(items), {}});
    }

    void stateItemsRemoved(ChannelServiceXStateItemKeySeq keys, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        _m->pushed(Pending{false, {}, std::move(keys)});
    }

private:
    std::shared_ptr<Member> _m;
};

class ReplicaI : public Replica
{
public:
    explicit ReplicaI(std::shared_ptr<Member> m) : _m(std::move(m)) {}

    bool isActive(const Ice::Current& current) override { peer::encodings().note(current); return _m->isActive(); }
    bool activate(const Ice::Current& current) override { peer::encodings().note(current); return _m->activate(); }
    void standby(const Ice::Current& current) override { peer::encodings().note(current); _m->standby(); }
    void addListener(std::shared_ptr<ReplicaListenerPrx> l, const Ice::Current& current) override { peer::encodings().note(current); _m->addReplicaListener(l); }
    void removeListener(std::shared_ptr<ReplicaListenerPrx> l, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        _m->removeReplicaListener(l);
    }

private:
    std::shared_ptr<Member> _m;
};

long long nowMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class ChannelServiceI : public ChannelService
{
public:
    explicit ChannelServiceI(std::shared_ptr<Member> m) : _m(std::move(m)) {}

    void createChannel(std::string channelId, std::string endpoint, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        auto item = std::make_shared<ChannelServiceXChannelStateItem>(channelId, channelId, endpoint, ChannelState::Idle,
                                                                      nowMs());
        _m->set({item});
    }

    void setChannelState(std::string channelId, ChannelState state, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        auto next = std::make_shared<ChannelServiceXChannelStateItem>(*channel(channelId));
        next->state = state;
        _m->set({next});
    }

    void destroyChannel(std::string channelId, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        channel(channelId);
        _m->remove({channelId});
    }

    std::shared_ptr<ChannelServiceXChannelStateItem> getChannel(std::string channelId, const Ice::Current& current) override
    {
        peer::encodings().note(current);
        return channel(channelId);
    }

    ChannelIdSeq listChannels(const Ice::Current& current) override { peer::encodings().note(current); return _m->channelIds(); }

private:
    std::shared_ptr<ChannelServiceXChannelStateItem> channel(const std::string& id)
    {
        auto ch = std::dynamic_pointer_cast<ChannelServiceXChannelStateItem>(_m->get(id));
        if(!ch)
        {
            throw ChannelNotFound(id);
        }
        return ch;
    }

    std::shared_ptr<Member> _m;
};

std::shared_ptr<Member> g_member;
bool g_dumpOnExit = false;

void finish()
{
    if(g_dumpOnExit && g_member)
    {
        peer::printLines(g_member->dump());
    }
}

} // namespace

int main(int argc, char* argv[])
{
    try
    {
        Ice::CtrlCHandler ctrlC;
        Ice::CommunicatorHolder ich(peer::initData(argc, argv));
        auto communicator = ich.communicator();
        auto props = communicator->getProperties();
        g_dumpOnExit = props->getPropertyAsInt("Driver.DumpOnExit") > 0;
        const bool quiet = props->getPropertyAsInt("Driver.Quiet") > 0;
        ctrlC.setCallback([](int) {
            finish();
            std::_Exit(0);
        });

        const bool standalone = props->getPropertyAsInt("ChannelServiceX.Standalone") > 0;
        std::shared_ptr<ChannelServiceXStateReplicatorPrx> replicator;
        if(!standalone)
        {
            auto name = props->getProperty(PROP_REPLICATOR);
            if(name.empty())
            {
                throw StartupError(std::string(PROP_REPLICATOR) + " is not set (and ChannelServiceX.Standalone is not 1)");
            }
            try
            {
                auto base = communicator->stringToProxy(name);
                replicator = Ice::uncheckedCast<ChannelServiceXStateReplicatorPrx>(
                    base->ice_invocationTimeout(props->getPropertyAsIntWithDefault("Driver.ReplicatorTimeout", 5000)));
            }
            catch(const Ice::Exception& e)
            {
                throw StartupError(std::string(PROP_REPLICATOR) + "=" + name + ": " + e.what());
            }
        }

        for(const char* a : {"ChannelServiceX", "ChannelServiceXManagement", "ChannelServiceXListener"})
        {
            peer::defaultEndpoints(communicator, a);
            std::string pool = std::string(a) + ".ThreadPool.Size";
            if(props->getProperty(pool).empty())
            {
                props->setProperty(pool, "1");
            }
        }
        auto service = communicator->createObjectAdapter("ChannelServiceX");
        auto management = communicator->createObjectAdapter("ChannelServiceXManagement");
        auto listening = communicator->createObjectAdapter("ChannelServiceXListener");

        auto member = std::make_shared<Member>(replicator, standalone);
        g_member = member;
        auto servicePrx = service->add(std::make_shared<ChannelServiceI>(member), Ice::stringToIdentity("ChannelService"));
        auto replicaPrx = Ice::uncheckedCast<ReplicaPrx>(
            management->add(std::make_shared<ReplicaI>(member), Ice::stringToIdentity("ChannelServiceXReplica")));
        auto listenerPrx = Ice::uncheckedCast<ChannelServiceXStateReplicatorListenerPrx>(
            listening->add(std::make_shared<ListenerI>(member), Ice::stringToIdentity("ChannelServiceXListener")));
        member->setSelf(listenerPrx, replicaPrx);
        listening->activate();
        try
        {
            member->start();
        }
        catch(const Ice::Exception& e)
        {
            throw StartupError(std::string(PROP_REPLICATOR) + "=" + props->getProperty(PROP_REPLICATOR) +
                               ": the replicator cannot be reached: " + e.what());
        }
        service->activate();
        management->activate();
        peer::printLine("READY\t" + communicator->proxyToString(servicePrx) + "\t" +
                        communicator->proxyToString(replicaPrx));

        const int autoChanges = props->getPropertyAsInt("Driver.Changes");
        std::thread driver;
        if(autoChanges > 0)
        {
            driver = std::thread([member, autoChanges, quiet] {
                member->waitActive();
                try
                {
                    member->drive(autoChanges, quiet);
                    peer::printLine("DONE " + std::to_string(autoChanges) + " " + std::to_string(member->driven()));
                }
                catch(const std::exception& e)
                {
                    peer::printLine(std::string("ERROR ") + e.what());
                }
            });
            driver.detach();
        }

        std::string line;
        while(std::getline(std::cin, line))
        {
            std::istringstream words(line);
            std::string cmd;
            words >> cmd;
            if(cmd == "dump")
            {
                peer::printLines(member->dump());
            }
            else if(cmd == "encodings")
            {
                peer::printLine(peer::encodings().line());
            }
            else if(cmd == "status")
            {
                peer::printLine(member->isActive() ? "ACTIVE" : "STANDBY");
            }
            else if(cmd == "changes")
            {
                int n = 0;
                words >> n;
                try
                {
                    member->drive(n, quiet);
                    peer::printLine("DONE " + std::to_string(n) + " " + std::to_string(member->driven()));
                }
                catch(const NotActive&)
                {
                    peer::printLine("ERROR not active");
                }
                catch(const std::exception& e)
                {
                    peer::printLine(std::string("ERROR ") + e.what());
                }
            }
            else if(cmd == "quit")
            {
                break;
            }
            else if(!cmd.empty())
            {
                peer::printLine("ERROR unknown command: " + line);
            }
        }
        finish();
        std::fflush(stdout);
        // Exit without waiting for in-flight dispatches or a detached driver.
        std::_Exit(0);
    }
    catch(const StartupError& e)
    {
        std::cerr << "scf-cpp-component: " << e.what() << std::endl;
        return 1;
    }
    catch(const std::exception& e)
    {
        std::cerr << "scf-cpp-component: " << e.what() << std::endl;
        return 1;
    }
}
