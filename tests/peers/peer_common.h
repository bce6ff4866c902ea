// Shared helpers of the C++ peers (scf-cpp-replicator, scf-cpp-component,
// scf-cpp-listener): printing state items as text lines, the READY line,
// default loopback endpoints, and a stdout that several threads share.
//
// Line formats (one item or key per line, fields separated by one space):
//   ITEM <key> <channelId> <endpoint> <state> <createdAt>   a channel item in a dump
//   BRIDGE <key> <bridgeId> <channelId,channelId,...>       a bridge item in a dump
//   BASE <key>                                              an item of the base class only
//   SET <key> <channelId> <endpoint> <state> <createdAt>    one item of a set (push or change)
//   SETBRIDGE <key> <bridgeId> <channelIds>                 a bridge item of a set
//   SETBASE <key>                                           a base-class item of a set
//   REMOVED <key>                                           one key of a removal
// A dump is its ITEM/BRIDGE/BASE lines sorted by key, then `END`.
// <state> is the enumerator name (Idle, Ringing, Up, Held, Down).

#pragma once

#include <Ice/Ice.h>
#include <AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace peer
{

using namespace AsteriskSCF::ChannelServiceX::V1;

/// Items by key, sorted: the store of a replicator, a component or a listener.
using ItemMap = std::map<std::string, std::shared_ptr<ChannelServiceXStateItem>>;

inline std::mutex& outMutex()
{
    static std::mutex m;
    return m;
}

/// Prints lines on stdout as one block, flushed, safe from any thread.
inline void printLines(const std::vector<std::string>& lines)
{
    std::lock_guard<std::mutex> lock(outMutex());
    for(const auto& l : lines)
    {
        std::fputs(l.c_str(), stdout);
        std::fputc('\n', stdout);
    }
    std::fflush(stdout);
}

inline void printLine(const std::string& line)
{
    printLines({line});
}

inline const char* stateName(ChannelState s)
{
    switch(s)
    {
    case ChannelState::Idle: return "Idle";
    case ChannelState::Ringing: return "Ringing";
    case ChannelState::Up: return "Up";
    case ChannelState::Held: return "Held";
    case ChannelState::Down: return "Down";
    }
    return "?";
}

inline std::string joinIds(const ChannelIdSeq& ids)
{
    std::string s;
    for(size_t i = 0; i < ids.size(); ++i)
    {
        if(i)
        {
            s += ',';
        }
        s += ids[i];
    }
    return s.empty() ? "-" : s;
}

/// The fields of an item after its line tag: `<key> ...`, and the tag suffix
/// ("" for channels, "BRIDGE" for bridges, "BASE" for the base class).
inline std::string itemFields(const std::shared_ptr<ChannelServiceXStateItem>& item, std::string& kind)
{
    std::ostringstream os;
    if(!item)
    {
        kind = "BASE";
        os << "<null>";
        return os.str();
    }
    if(auto ch = std::dynamic_pointer_cast<ChannelServiceXChannelStateItem>(item))
    {
        kind = "";
        os << ch->key << ' ' << ch->channelId << ' ' << ch->endpoint << ' ' << stateName(ch->state) << ' '
           << ch->createdAt;
    }
    else if(auto br = std::dynamic_pointer_cast<ChannelServiceXBridgeStateItem>(item))
    {
        kind = "BRIDGE";
        os << br->key << ' ' << br->bridgeId << ' ' << joinIds(br->channelIds);
    }
    else
    {
        kind = "BASE";
        os << item->key;
    }
    return os.str();
}

/// `ITEM ...`, `BRIDGE ...` or `BASE ...`: an item as a dump line.
inline std::string dumpLine(const std::shared_ptr<ChannelServiceXStateItem>& item)
{
    std::string kind;
    std::string fields = itemFields(item, kind);
    return (kind.empty() ? std::string("ITEM") : kind) + " " + fields;
}

/// `SET ...`, `SETBRIDGE ...` or `SETBASE ...`: an item of a set as a line.
inline std::string setLine(const std::shared_ptr<ChannelServiceXStateItem>& item)
{
    std::string kind;
    std::string fields = itemFields(item, kind);
    return "SET" + kind + " " + fields;
}

/// The lines of a whole store: sorted dump lines, then `END`.
inline std::vector<std::string> dumpLines(const ItemMap& items)
{
    std::vector<std::string> lines;
    for(const auto& kv : items)
    {
        lines.push_back(dumpLine(kv.second));
    }
    lines.push_back("END");
    return lines;
}

/// Lines of one set change (one per item, in order).
inline std::vector<std::string> setLines(const ChannelServiceXStateItemSeq& items)
{
    std::vector<std::string> lines;
    for(const auto& i : items)
    {
        lines.push_back(setLine(i));
    }
    return lines;
}

/// Lines of one removal (one per key, in order).
inline std::vector<std::string> removedLines(const ChannelServiceXStateItemKeySeq& keys)
{
    std::vector<std::string> lines;
    for(const auto& k : keys)
    {
        lines.push_back("REMOVED " + k);
    }
    return lines;
}

/// Applies a set to a store (items without a key object are skipped).
inline void applySet(ItemMap& store, const ChannelServiceXStateItemSeq& items)
{
    for(const auto& i : items)
    {
        if(i)
        {
            store[i->key] = i;
        }
    }
}

/// Applies a removal to a store.
inline void applyRemove(ItemMap& store, const ChannelServiceXStateItemKeySeq& keys)
{
    for(const auto& k : keys)
    {
        store.erase(k);
    }
}

/// Gives adapter `name` loopback endpoints on a free port unless configured.
inline void defaultEndpoints(const std::shared_ptr<Ice::Communicator>& communicator, const std::string& name)
{
    auto props = communicator->getProperties();
    if(props->getProperty(name + ".Endpoints").empty())
    {
        props->setProperty(name + ".Endpoints", "tcp -h 127.0.0.1 -p 0");
    }
}

/// Communicator settings from the command line: `--Ice.Config=FILE` and
/// every `--Name=value` argument become properties (not only `Ice.*` ones).
inline Ice::InitializationData initData(int& argc, char* argv[])
{
    Ice::InitializationData init;
    init.properties = Ice::createProperties(argc, argv);
    Ice::StringSeq args = Ice::argsToStringSeq(argc, argv);
    args = init.properties->parseCommandLineOptions("", args);
    // <Adapter>.StateReplicatorName and <Adapter>.Standalone are ours, not Ice's.
    if(init.properties->getProperty("Ice.Warn.UnknownProperties").empty())
    {
        init.properties->setProperty("Ice.Warn.UnknownProperties", "0");
    }
    return init;
}

/// The encodings of the requests a peer dispatched, for the `encodings`
/// command: `ENCODINGS <v> <v>...` (sorted, e.g. `ENCODINGS 1.0`).
class EncodingLog
{
public:
    void note(const Ice::Current& current)
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _seen.insert(Ice::encodingVersionToString(current.encoding));
    }

    std::string line()
    {
        std::lock_guard<std::mutex> lock(_mutex);
        std::string s = "ENCODINGS";
        for(const auto& e : _seen)
        {
            s += " " + e;
        }
        return s;
    }

private:
    std::mutex _mutex;
    std::set<std::string> _seen;
};

/// The log every servant of this process notes its requests in.
inline EncodingLog& encodings()
{
    static EncodingLog log;
    return log;
}

/// Replaces the store with a snapshot of items.
inline ItemMap fromSeq(const ChannelServiceXStateItemSeq& items)
{
    ItemMap m;
    applySet(m, items);
    return m;
}

} // namespace peer
