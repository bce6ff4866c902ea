// Golden encoding fixtures: generator, checker and benchmark, written against
// ZeroC Ice 3.7 (C++11 mapping). See README.md in this folder.
//
//   golden gen OUTDIR    write OUTDIR/<case>.e10.bin / .e11.bin and MANIFEST.tsv
//   golden check DIR     decode every <case>.eNN.bin found in DIR with Ice and
//                        compare with the case's value
//   golden bench         time Ice::OutputStream / Ice::InputStream (1.1)
//
// Every case is defined once (its values), and both the writer and the
// checker are derived from that definition, so gen and check cannot disagree
// about what a case means. Values are compared through a canonical printer
// (the same text goes into the manifest's `value` column): class graphs are
// printed with instance numbers (`#1 ::Golden::Node{...}`, back references
// `@1`), so shared instances and cycles are part of the comparison.

#include <Ice/Ice.h>
#include <Ice/RegisterPlugins.h>

#include "Fixtures.h"
#include "GoldenHidden.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

using namespace Golden;
using std::make_shared;
using std::shared_ptr;
using std::string;
using std::vector;

namespace
{

Ice::CommunicatorPtr g_comm;

const Ice::EncodingVersion E10{1, 0};
const Ice::EncodingVersion E11{1, 1};

// ------------------------------------------------------------------ wrappers
// Extra "value kinds" that are written with a special stream call.

/// An optional parameter: written with `write(tag, optional)`.
template<class T> struct Tagged
{
    int tag;
    Ice::optional<T> v;
};

/// A size written with writeSize / readSize.
struct Size
{
    Ice::Int n;
};

/// A user exception written with writeException / read with throwException.
struct Exc
{
    shared_ptr<Ice::UserException> e;
};

/// A nested encapsulation holding an int and a string.
struct Nest
{
    Ice::EncodingVersion v;
    Ice::Int a;
    string s;
};

/// An empty encapsulation.
struct EmptyEncaps
{
    Ice::EncodingVersion v;
};

// ------------------------------------------------------------------- printer

template<class T, class = void> struct HasTuple : std::false_type
{
};
template<class T> struct HasTuple<T, std::void_t<decltype(std::declval<const T&>().ice_tuple())>> : std::true_type
{
};

/// OptDerived as written by a newer peer: extra optional members (tags 0, 3
/// and 10) that our Slice definition does not have. Readers skip them.
class NewerOptDerived : public OptDerived
{
public:
    using OptDerived::OptDerived;
    Ice::optional<int> extra0;
    Ice::optional<int> extra3;
    Ice::optional<string> extra10;

protected:
    void _iceWriteImpl(Ice::OutputStream* os) const override
    {
        os->startSlice(OptDerived::ice_staticId(), -1, false);
        os->write(0, extra0);
        os->write(1, note);
        os->write(2, count);
        os->write(3, extra3);
        os->write(10, extra10);
        os->endSlice();
        Base::_iceWriteImpl(os);
    }
};

template<class T> struct IsHidden : std::false_type
{
};
template<> struct IsHidden<HiddenDerived> : std::true_type
{
};
template<> struct IsHidden<HiddenPreserved> : std::true_type
{
};
template<> struct IsHidden<HiddenCompact> : std::true_type
{
};
template<> struct IsHidden<HiddenError> : std::true_type
{
};

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool validUtf8(const string& s)
{
    size_t k = 0;
    while(k < s.size())
    {
        unsigned char c = static_cast<unsigned char>(s[k]);
        size_t n;
        unsigned int cp;
        if(c < 0x80)
        {
            ++k;
            continue;
        }
        else if(c >= 0xc2 && c <= 0xdf)
        {
            n = 1;
            cp = c & 0x1f;
        }
        else if(c >= 0xe0 && c <= 0xef)
        {
            n = 2;
            cp = c & 0x0f;
        }
        else if(c >= 0xf0 && c <= 0xf4)
        {
            n = 3;
            cp = c & 0x07;
        }
        else
        {
            return false;
        }
        if(k + n >= s.size())
        {
            return false;
        }
        for(size_t j = 1; j <= n; ++j)
        {
            unsigned char d = static_cast<unsigned char>(s[k + j]);
            if((d & 0xc0) != 0x80)
            {
                return false;
            }
            cp = (cp << 6) | (d & 0x3f);
        }
        if((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        {
            return false;
        }
        k += n + 1;
    }
    return true;
}

struct Printer
{
    bool e10;
    // Print what a reader without GoldenHidden.ice sees: hidden types as their
    // most-derived known base (`[sliced from ::Golden::X]`), hidden members omitted.
    bool rust = false;
    // Show optional members a newer writer added (readers skip them, so they are
    // left out when comparing values).
    bool showUnknown = false;
    std::map<const void*, int> seen;
    int next = 0;
    std::ostringstream os;

    explicit Printer(bool e) : e10(e) {}

    void p(bool v) { os << (v ? "true" : "false"); }
    void p(Ice::Byte v) { os << static_cast<int>(v); }
    void p(short v) { os << v; }
    void p(int v) { os << v; }
    void p(long long v) { os << v; }
    void p(float v)
    {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
        os << buf << "f";
    }
    void p(double v)
    {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        os << buf;
    }
    void p(const string& s)
    {
        const bool valid = validUtf8(s);
        os << '"';
        for(unsigned char c : s)
        {
            if(c == '"' || c == '\\')
            {
                os << '\\' << c;
            }
            else if(c < 0x20 || c == 0x7f || (c >= 0x80 && !valid))
            {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                os << buf;
            }
            else
            {
                os << c; // UTF-8 passes through
            }
        }
        os << '"';
    }
    void p(Color v)
    {
        static const char* n[] = {"Red", "Green", "Blue"};
        int i = static_cast<int>(v);
        os << "Color::" << (i >= 0 && i < 3 ? n[i] : "?") << "(" << i << ")";
    }
    void p(Sparse v) { os << "Sparse(" << static_cast<int>(v) << ")"; }
    void p(Max126 v) { os << "Max126(" << static_cast<int>(v) << ")"; }
    void p(Max127 v) { os << "Max127(" << static_cast<int>(v) << ")"; }
    void p(Max32766 v) { os << "Max32766(" << static_cast<int>(v) << ")"; }
    void p(Max32767 v) { os << "Max32767(" << static_cast<int>(v) << ")"; }
    void p(BigEnum v) { os << "BigEnum(" << static_cast<int>(v) << ")"; }

    void p(const vector<bool>& v)
    {
        os << "[";
        for(size_t k = 0; k < v.size(); ++k)
        {
            os << (k ? ", " : "") << (v[k] ? "true" : "false");
        }
        os << "]";
    }
    void p(const vector<Ice::Byte>& v)
    {
        os << "bytes(" << v.size() << "):";
        for(auto c : v)
        {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%02x", c);
            os << buf;
        }
    }
    template<class T> void p(const vector<T>& v)
    {
        os << "[";
        for(size_t k = 0; k < v.size(); ++k)
        {
            if(k)
            {
                os << ", ";
            }
            p(v[k]);
        }
        os << "]";
    }
    template<class K, class V> void p(const std::map<K, V>& m)
    {
        os << "{";
        bool first = true;
        for(const auto& kv : m)
        {
            if(!first)
            {
                os << ", ";
            }
            first = false;
            p(kv.first);
            os << ": ";
            p(kv.second);
        }
        os << "}";
    }
    template<class T> void p(const Ice::optional<T>& v)
    {
        // Encoding 1.0 has no optionals: a 1.0 reader always sees them unset.
        if(!v || e10)
        {
            os << "unset";
        }
        else
        {
            p(*v);
        }
    }
    template<class Tup> void tuple(const Tup& t)
    {
        os << "{";
        bool first = true;
        std::apply(
            [&](const auto&... x) {
                auto one = [&](const auto& y) {
                    if(!first)
                    {
                        os << ", ";
                    }
                    first = false;
                    p(y);
                };
                (one(x), ...);
            },
            t);
        os << "}";
    }
    template<class T> std::enable_if_t<HasTuple<T>::value> p(const T& v) { tuple(v.ice_tuple()); }

    void p(const shared_ptr<Ice::ObjectPrx>& v)
    {
        if(!v)
        {
            os << "null-proxy";
        }
        else
        {
            // Encoding 1.0 has no protocol/encoding versions in proxy data: a 1.0
            // reader gets a proxy with encoding 1.0.
            os << "proxy(";
            p(g_comm->proxyToString(e10 ? v->ice_encodingVersion(E10) : v));
            os << ")";
        }
    }

    template<class T> std::enable_if_t<std::is_base_of<Ice::Value, T>::value> p(const shared_ptr<T>& v)
    {
        value(std::static_pointer_cast<Ice::Value>(v));
    }

    template<class T> bool tryClass(const shared_ptr<Ice::Value>& v)
    {
        auto d = std::dynamic_pointer_cast<T>(v);
        if(!d || (rust && IsHidden<T>::value))
        {
            return false;
        }
        typeId(v->ice_id(), T::ice_staticId());
        tuple(d->ice_tuple());
        return true;
    }

    void typeId(const string& dynamicId, const string& staticId)
    {
        if(rust && dynamicId != staticId)
        {
            os << staticId << "[sliced from " << dynamicId << "]";
        }
        else
        {
            os << dynamicId;
        }
    }

    bool tryNewer(const shared_ptr<Ice::Value>& v)
    {
        auto d = std::dynamic_pointer_cast<NewerOptDerived>(v);
        if(!d)
        {
            return false;
        }
        os << v->ice_id();
        tuple(static_cast<const OptDerived&>(*d).ice_tuple());
        if(showUnknown && !e10)
        {
            os << "+unknown-tags{tag0=";
            p(d->extra0);
            os << ", tag3=";
            p(d->extra3);
            os << ", tag10=";
            p(d->extra10);
            os << "}";
        }
        return true;
    }

    // When set, class references are collected here (not printed, not followed).
    vector<shared_ptr<Ice::Value>>* collect = nullptr;

    void value(const shared_ptr<Ice::Value>& v)
    {
        if(collect)
        {
            if(v)
            {
                collect->push_back(v);
            }
            return;
        }
        if(!v)
        {
            os << "null";
            return;
        }
        auto it = seen.find(v.get());
        if(it != seen.end())
        {
            os << "@" << it->second;
            return;
        }
        int id = ++next;
        seen[v.get()] = id;
        os << "#" << id << " ";
        body(v);
    }

    /// The type id and members of one instance.
    void body(const shared_ptr<Ice::Value>& v)
    {
        // Most derived first.
        tryNewer(v) || tryClass<HiddenDerived>(v) || tryClass<MoreDerived>(v) || tryClass<Derived>(v) || tryClass<OptDerived>(v) ||
            tryClass<Base>(v) || tryClass<Pair>(v) || tryClass<Node>(v) || tryClass<Optionals>(v) ||
            tryClass<CompactDerived>(v) || tryClass<HiddenCompact>(v) || tryClass<Compact>(v) ||
            tryClass<HiddenPreserved>(v) || tryClass<PreservedKnown>(v) || tryClass<Preserved>(v) ||
            tryClass<Empty>(v) || (os << "{?}", true);
    }

    template<class T> bool tryExc(const Ice::UserException* e)
    {
        auto d = dynamic_cast<const T*>(e);
        if(!d || (rust && IsHidden<T>::value))
        {
            return false;
        }
        typeId(e->ice_id(), T::ice_staticId());
        tuple(d->ice_tuple());
        return true;
    }

    void p(const Exc& x)
    {
        if(!x.e)
        {
            os << "no-exception";
            return;
        }
        const Ice::UserException* e = x.e.get();
        os << "exception ";
        tryExc<HiddenError>(e) || tryExc<DerivedError>(e) || tryExc<OptError>(e) || tryExc<BaseError>(e) ||
            (os << "{?}", true);
    }

    template<class T> void p(const Tagged<T>& t)
    {
        os << "tag" << t.tag << "=";
        p(t.v);
    }
    void p(const Size& s) { os << "size(" << s.n << ")"; }
    void p(const Nest& n)
    {
        os << "encaps(" << static_cast<int>(n.v.major) << "." << static_cast<int>(n.v.minor) << "){" << n.a << ", ";
        p(n.s);
        os << "}";
    }
    void p(const EmptyEncaps& n)
    {
        os << "empty-encaps(" << static_cast<int>(n.v.major) << "." << static_cast<int>(n.v.minor) << ")";
    }

    template<class Tup> void params(const Tup& t)
    {
        bool first = true;
        std::apply(
            [&](const auto&... x) {
                auto one = [&](const auto& y) {
                    if(!first)
                    {
                        os << "; ";
                    }
                    first = false;
                    p(y);
                };
                (one(x), ...);
            },
            t);
    }
};

/// The class instances referenced directly by the members of V.
vector<shared_ptr<Ice::Value>> childrenOf(const shared_ptr<Ice::Value>& v)
{
    vector<shared_ptr<Ice::Value>> out;
    Printer pr(true);
    pr.collect = &out;
    pr.body(v);
    return out;
}

/// Encoding 1.0 writes pending instances in batches (the instances referenced
/// by the parameters, then the instances first referenced by that batch, ...).
/// Ice orders a batch by memory address, so a batch of two or more distinct
/// instances makes the bytes depend on the allocator: not canonical.
template<class Tup> bool canonicalIn10(const Tup& t)
{
    vector<shared_ptr<Ice::Value>> refs;
    Printer pr(true);
    pr.collect = &refs;
    pr.params(t);
    std::set<const Ice::Value*> marshaled;
    vector<shared_ptr<Ice::Value>> batch;
    std::set<const Ice::Value*> inBatch;
    for(const auto& r : refs)
    {
        if(inBatch.insert(r.get()).second)
        {
            batch.push_back(r);
        }
    }
    while(!batch.empty())
    {
        if(batch.size() >= 2)
        {
            return false;
        }
        for(const auto& b : batch)
        {
            marshaled.insert(b.get());
        }
        vector<shared_ptr<Ice::Value>> next;
        std::set<const Ice::Value*> inNext;
        for(const auto& b : batch)
        {
            for(const auto& c : childrenOf(b))
            {
                if(!marshaled.count(c.get()) && inNext.insert(c.get()).second)
                {
                    next.push_back(c);
                }
            }
        }
        batch = std::move(next);
    }
    return true;
}

template<class Tup> string printParams(const Tup& t, bool e10, bool rust = false, bool showUnknown = false)
{
    Printer pr(e10);
    pr.rust = rust;
    pr.showUnknown = showUnknown;
    pr.params(t);
    return pr.os.str();
}

// ------------------------------------------------------------ write / read one

template<class T> void writeOne(Ice::OutputStream& o, const T& v) { o.write(v); }
template<class T> void writeOne(Ice::OutputStream& o, const Tagged<T>& v) { o.write(v.tag, v.v); }
void writeOne(Ice::OutputStream& o, const Size& v) { o.writeSize(v.n); }
void writeOne(Ice::OutputStream& o, const Exc& v) { o.writeException(*v.e); }
void writeOne(Ice::OutputStream& o, const Nest& v)
{
    o.startEncapsulation(v.v, Ice::FormatType::DefaultFormat);
    o.write(v.a);
    o.write(v.s);
    o.endEncapsulation();
}
void writeOne(Ice::OutputStream& o, const EmptyEncaps& v) { o.writeEmptyEncapsulation(v.v); }

template<class T> void readOne(Ice::InputStream& i, T& v)
{
    v = T();
    i.read(v);
}
template<class T> void readOne(Ice::InputStream& i, Tagged<T>& v)
{
    v.v = Ice::nullopt;
    i.read(v.tag, v.v);
}
void readOne(Ice::InputStream& i, Size& v) { v.n = i.readSize(); }
void readOne(Ice::InputStream& i, Exc& v)
{
    v.e = nullptr;
    try
    {
        i.throwException();
    }
    catch(const Ice::UserException& ex)
    {
        v.e = shared_ptr<Ice::UserException>(ex.ice_clone());
    }
}
void readOne(Ice::InputStream& i, Nest& v)
{
    v.v = i.startEncapsulation();
    i.read(v.a);
    i.read(v.s);
    i.endEncapsulation();
}
void readOne(Ice::InputStream& i, EmptyEncaps& v) { v.v = i.skipEmptyEncapsulation(); }

// --------------------------------------------------------------------- cases

enum EncSet
{
    OnlyE10 = 1,
    OnlyE11 = 2,
    Both = 3
};

struct Case
{
    string name;
    int encs = Both;
    bool encaps = false;
    Ice::FormatType format = Ice::FormatType::DefaultFormat;
    bool pending = false; // writePendingValues / readPendingValues (classes as parameters)
    bool canonical = true;
    bool canonical10 = true; // encoding 1.0 only (see canonicalIn10)
    std::function<void(Ice::OutputStream&)> write;
    // Reads the value; the returned function prints it (called after pending values are read).
    std::function<std::function<string(bool)>(Ice::InputStream&)> read;
    std::function<string(bool)> expected;
    // The value as a reader without GoldenHidden.ice sees it.
    std::function<string(bool)> rustView;
    // The value as written, including members unknown to every reader.
    std::function<string(bool)> written;
    // 1.1 compact format with a type unknown to Rust: Rust must fail to decode.
    bool compactUnknown = false;
    // When not empty: Ice must refuse to decode the case, with an error containing this text.
    string expectError;
    // When not empty: ZeroC C++ accepts the bytes, but a checking decoder (ours) must reject them.
    string mustReject;
};

vector<Case> g_cases;

struct Opts
{
    int encs = Both;
    bool encaps = false;
    Ice::FormatType format = Ice::FormatType::DefaultFormat;
    bool pending = false;
    bool canonical = true;
};

/// Registers a case that writes the tuple W and whose reader reads the tuple R
/// (R = W except where the reader declares fewer optionals than the writer).
template<class W, class R> void addWR(const string& name, const Opts& o, W w, R r)
{
    for(const auto& c : g_cases)
    {
        if(c.name == name)
        {
            std::cerr << "duplicate case " << name << std::endl;
            std::exit(3);
        }
    }
    Case c;
    c.name = name;
    c.encs = o.encs;
    c.encaps = o.encaps;
    c.format = o.format;
    c.pending = o.pending;
    c.canonical = o.canonical;
    c.canonical10 = canonicalIn10(w);
    c.write = [w](Ice::OutputStream& out) {
        std::apply([&](const auto&... x) { (writeOne(out, x), ...); }, w);
    };
    c.read = [r](Ice::InputStream& in) {
        auto got = make_shared<R>(r);
        std::apply([&](auto&... x) { (readOne(in, x), ...); }, *got);
        return std::function<string(bool)>([got](bool e10) { return printParams(*got, e10); });
    };
    c.expected = [r](bool e10) { return printParams(r, e10); };
    c.rustView = [r](bool e10) { return printParams(r, e10, true); };
    c.written = [w](bool e10) { return printParams(w, e10, false, true); };
    g_cases.push_back(std::move(c));
}

template<class... Ts> void add(const string& name, const Opts& o, Ts... vs)
{
    auto t = std::make_tuple(vs...);
    addWR(name, o, t, t);
}

/// Raw (no encapsulation) value in both encodings.
template<class... Ts> void raw(const string& name, Ts... vs) { add(name, Opts{}, vs...); }

Opts encaps(bool pending, Ice::FormatType f = Ice::FormatType::DefaultFormat, int encs = Both)
{
    Opts o;
    o.encaps = true;
    o.pending = pending;
    o.format = f;
    o.encs = encs;
    return o;
}

const Ice::FormatType Sliced = Ice::FormatType::SlicedFormat;
const Ice::FormatType CompactF = Ice::FormatType::CompactFormat;

/// A class-graph case in both formats: NAME_sliced and NAME_compact.
template<class... Ts> void classCase(const string& name, Ts... vs)
{
    add(name + "_sliced", encaps(true, Sliced), vs...);
    add(name + "_compact", encaps(true, CompactF), vs...);
}

string rep(char c, size_t n) { return string(n, c); }

shared_ptr<Ice::ObjectPrx> prx(const string& s) { return g_comm->stringToProxy(s); }

shared_ptr<Base> mkBase(int id, const string& n) { return make_shared<Base>(id, n); }
shared_ptr<Derived> mkDerived(int id, const string& n, double w, IntSeq v)
{
    return make_shared<Derived>(id, n, w, v);
}
shared_ptr<MoreDerived> mkMore(int id, const string& n, double w, IntSeq v, const string& e)
{
    return make_shared<MoreDerived>(id, n, w, v, e);
}

void defineCases()
{
    // ---- primitives
    raw("bool_true", true);
    raw("bool_false", false);
    raw("byte_0", Ice::Byte(0));
    raw("byte_255", Ice::Byte(255));
    raw("byte_127", Ice::Byte(127));
    raw("short_0", short(0));
    raw("short_neg1", short(-1));
    raw("short_min", std::numeric_limits<short>::min());
    raw("short_max", std::numeric_limits<short>::max());
    raw("int_0", 0);
    raw("int_1", 1);
    raw("int_neg1", -1);
    raw("int_min", std::numeric_limits<int>::min());
    raw("int_max", std::numeric_limits<int>::max());
    raw("int_0x01020304", 0x01020304);
    raw("long_0", 0LL);
    raw("long_neg1", -1LL);
    raw("long_min", std::numeric_limits<long long>::min());
    raw("long_max", std::numeric_limits<long long>::max());
    raw("long_0x0102030405060708", 0x0102030405060708LL);
    raw("float_0", 0.0f);
    raw("float_neg0", -0.0f);
    raw("float_1_5", 1.5f);
    raw("float_neg_pi", -3.14159274f);
    raw("float_max", std::numeric_limits<float>::max());
    raw("float_min_positive", std::numeric_limits<float>::min());
    raw("float_inf", std::numeric_limits<float>::infinity());
    raw("double_0", 0.0);
    raw("double_neg0", -0.0);
    raw("double_1_5", 1.5);
    raw("double_neg_e", -2.718281828459045);
    raw("double_max", std::numeric_limits<double>::max());
    raw("double_denorm_min", std::numeric_limits<double>::denorm_min());
    raw("double_neg_inf", -std::numeric_limits<double>::infinity());
    raw("primitives_all", true, Ice::Byte(0xab), short(-2), -3, -4LL, 0.25f, -0.125);

    // ---- sizes
    raw("size_0", Size{0});
    raw("size_1", Size{1});
    raw("size_254", Size{254});
    raw("size_255", Size{255});
    raw("size_256", Size{256});
    raw("size_65536", Size{65536});
    raw("size_max", Size{std::numeric_limits<int>::max()});

    // ---- strings
    raw("string_empty", string());
    raw("string_ascii", string("hello, world"));
    raw("string_utf8", string("h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9d\x84\x9e \xe6\x97\xa5\xe6\x9c\xac"));
    raw("string_nul_inside", string("a\0b", 3));
    raw("string_254", rep('x', 254));
    raw("string_255", rep('y', 255));
    raw("string_256", rep('z', 256));
    raw("string_1000", rep('q', 1000));
    raw("string_two", string("first"), string("second"));
    // Ice C++ writes and reads std::string bytes unchecked (no string converter);
    // the Rust side checks UTF-8 and must refuse these.
    raw("string_invalid_utf8_byte", string("ab\xff\xfe" "cd"));
    g_cases.back().mustReject = "invalid UTF-8 (a 0xff byte)";
    raw("string_invalid_utf8_overlong", string("\xc0\xaf"));
    g_cases.back().mustReject = "invalid UTF-8 (overlong encoding of '/')";
    raw("string_invalid_utf8_surrogate", string("\xed\xa0\x80"));
    g_cases.back().mustReject = "invalid UTF-8 (UTF-16 surrogate U+D800)";
    raw("string_invalid_utf8_truncated", string("ok\xe2\x82"));
    g_cases.back().mustReject = "invalid UTF-8 (sequence cut short)";

    // ---- structs
    raw("struct_small", Small{"small", 1.5});
    raw("struct_small_empty", Small{"", 0.0});
    raw("struct_fixed", Fixed{true, 0xfe, -300, -70000, -5000000000LL, 3.5f, -1.0e300});
    raw("struct_point", Point{-1, 2147483647});
    raw("struct_nested",
        Nested{Small{"inner", -0.5},
               Point{3, 4},
               Color::Blue,
               IntSeq{1, -1, 65536},
               IntStringDict{{1, "one"}, {-7, "minus seven"}, {100, "hundred"}},
               "nested \xe2\x9c\x93"});
    raw("struct_nested_empty", Nested{Small{"", 0}, Point{0, 0}, Color::Red, IntSeq{}, IntStringDict{}, ""});

    // ---- enums (1.0: byte / short / int by the largest enumerator; 1.1: size)
    raw("enum_color_red", Color::Red);
    raw("enum_color_blue", Color::Blue);
    raw("enum_sparse_100", Sparse::SparseHundred);
    raw("enum_sparse_5", Sparse::SparseFive);
    raw("enum_max126_hi", Max126::Hi126);
    raw("enum_max127_hi", Max127::Hi127);
    raw("enum_max127_lo", Max127::Lo127);
    raw("enum_max32766_hi", Max32766::Hi32766);
    raw("enum_max32767_hi", Max32767::Hi32767);
    raw("enum_max32767_lo", Max32767::Lo32767);
    raw("enum_big_mid", BigEnum::BigMid);
    raw("enum_big_max", BigEnum::BigMax);
    raw("enum_big_zero", BigEnum::BigZero);

    // ---- sequences
    raw("seq_bool", BoolSeq{true, false, true, true});
    raw("seq_byte_empty", ByteSeq{});
    {
        ByteSeq b254, b255, b1000;
        for(int k = 0; k < 254; ++k)
        {
            b254.push_back(static_cast<Ice::Byte>(k));
        }
        for(int k = 0; k < 255; ++k)
        {
            b255.push_back(static_cast<Ice::Byte>(255 - k));
        }
        for(int k = 0; k < 1000; ++k)
        {
            b1000.push_back(static_cast<Ice::Byte>((k * 7) & 0xff));
        }
        raw("seq_byte_254", b254);
        raw("seq_byte_255", b255);
        raw("seq_byte_1000", b1000);
    }
    raw("seq_short", ShortSeq{0, -1, 32767, -32768});
    raw("seq_int", IntSeq{0, 1, -1, 2147483647, -2147483647 - 1});
    raw("seq_int_empty", IntSeq{});
    {
        IntSeq i255;
        for(int k = 0; k < 255; ++k)
        {
            i255.push_back(k * 1000 - 3);
        }
        raw("seq_int_255", i255);
    }
    raw("seq_long", LongSeq{0, -1, 1LL << 40, std::numeric_limits<long long>::min()});
    raw("seq_float", FloatSeq{0.0f, -1.25f, 1e10f});
    raw("seq_double", DoubleSeq{0.0, -1.25, 1e100, 5e-324});
    raw("seq_string", StringSeq{"", "a", "\xc3\xa9t\xc3\xa9", rep('s', 300)});
    raw("seq_string_empty", StringSeq{});
    {
        StringSeq s254;
        for(int k = 0; k < 254; ++k)
        {
            s254.push_back(std::to_string(k));
        }
        raw("seq_string_254", s254);
    }
    raw("seq_small", SmallSeq{Small{"a", 1}, Small{"", -2.5}, Small{"\xe2\x82\xac", 1e-3}});
    raw("seq_fixed", FixedSeq{Fixed{false, 1, 2, 3, 4, 5, 6}, Fixed{true, 255, -2, -3, -4, -5, -6}});
    raw("seq_point", PointSeq{Point{1, 2}, Point{-3, -4}});
    raw("seq_color", ColorSeq{Color::Blue, Color::Red, Color::Green, Color::Blue});
    raw("seq_int_seq", IntSeqSeq{IntSeq{}, IntSeq{1}, IntSeq{2, 3}});
    raw("seq_string_seq", StringSeqSeq{StringSeq{"x"}, StringSeq{}, StringSeq{"y", "z"}});

    // ---- dictionaries (C++ std::map: written in key order, canonical)
    raw("dict_int_string", IntStringDict{{-5, "minus five"}, {0, ""}, {42, "forty-two"}, {2147483647, "max"}});
    raw("dict_int_string_empty", IntStringDict{});
    raw("dict_string_small", StringSmallDict{{"alpha", Small{"a", 1}}, {"beta", Small{"b", -1}}, {"", Small{"", 0}}});
    raw("dict_string_int_seq", StringIntSeqDict{{"empty", IntSeq{}}, {"three", IntSeq{1, 2, 3}}});

    // ---- proxies as data
    raw("proxy_null", shared_ptr<Ice::ObjectPrx>());
    raw("proxy_tcp", prx("hello:tcp -h 127.0.0.1 -p 10000"));
    raw("proxy_tcp_timeout_compress", prx("hello:tcp -h example.com -p 4061 -t 15000 -z"));
    raw("proxy_tcp_ipv6", prx("hello:tcp -h \"::1\" -p 10001 -t infinite"));
    raw("proxy_ssl", prx("secure:ssl -h 10.0.0.1 -p 10002 -t 60000"));
    raw("proxy_udp", prx("dgram:udp -h 239.255.1.1 -p 10003"));
    raw("proxy_udp_datagram", prx("dgram -d:udp -h 127.0.0.1 -p 10004 -z"));
    raw("proxy_ws", prx("web:ws -h localhost -p 8080 -r /path/to"));
    raw("proxy_wss", prx("websec:wss -h localhost -p 8443 -r /secure -t 5000"));
    raw("proxy_opaque", prx("other:opaque -t 99 -e 1.1 -v CTCIQTRiVGVzdA=="));
    raw("proxy_opaque_e10", prx("other:opaque -t 42 -e 1.0 -v AQIDBA=="));
    raw("proxy_multi_endpoints",
        prx("multi:tcp -h 127.0.0.1 -p 1:udp -h 127.0.0.1 -p 2:ssl -h 127.0.0.1 -p 3:ws -h 127.0.0.1 -p 4 -r "
            "/x:opaque -t 77 -e 1.1 -v AA=="));
    raw("proxy_indirect_adapter", prx("object@MyAdapter"));
    raw("proxy_well_known", prx("wellknown"));
    raw("proxy_category", prx("cat/name:tcp -h 127.0.0.1 -p 5"));
    raw("proxy_identity_utf8", prx("\"c\xc3\xa4t/n\xc3\xa4me with space\"@Adapter.Name"));
    raw("proxy_facet", prx("obj -f myfacet:tcp -h 127.0.0.1 -p 6"));
    raw("proxy_oneway", prx("obj -o:tcp -h 127.0.0.1 -p 7"));
    raw("proxy_batch_oneway", prx("obj -O:tcp -h 127.0.0.1 -p 7"));
    raw("proxy_datagram", prx("obj -d:udp -h 127.0.0.1 -p 8"));
    raw("proxy_batch_datagram", prx("obj -D:udp -h 127.0.0.1 -p 8"));
    raw("proxy_secure", prx("obj -s:ssl -h 127.0.0.1 -p 9"));
    raw("proxy_encoding_10", prx("obj -e 1.0:tcp -h 127.0.0.1 -p 10"));
    raw("proxy_protocol_10", prx("obj -p 1.0 -e 1.0 -f f:tcp -h 127.0.0.1 -p 11"));
    raw("proxy_in_struct", ProxyBox{prx("boxed:tcp -h 127.0.0.1 -p 12"), "tag"});
    raw("proxy_in_struct_null", ProxyBox{nullptr, "none"});

    // ---- encapsulations
    add("encaps_empty", encaps(false));
    add("encaps_int", encaps(false), 7);
    add("encaps_nested_e10", encaps(false), 1, Nest{E10, 2, "inner 1.0"}, 3);
    add("encaps_nested_e11", encaps(false), 1, Nest{E11, 2, "inner 1.1"}, 3);
    add("encaps_empty_inner_e10", encaps(false), EmptyEncaps{E10});
    add("encaps_empty_inner_e11", encaps(false), EmptyEncaps{E11});

    // ---- classes (as parameters: encapsulation + writePendingValues)
    classCase("class_null", shared_ptr<Base>());
    classCase("class_base", shared_ptr<Base>(mkBase(1, "base")));
    classCase("class_derived", shared_ptr<Base>(mkDerived(2, "derived", 2.5, IntSeq{1, 2, 3})));
    classCase("class_more_derived", shared_ptr<Base>(mkMore(3, "more", -1.0, IntSeq{}, "extra")));
    classCase("class_empty", shared_ptr<Empty>(make_shared<Empty>()));
    {
        auto shared = mkBase(10, "shared");
        classCase("class_pair_shared", shared_ptr<Pair>(make_shared<Pair>(shared, shared, "same twice")));
        classCase("class_pair_distinct",
                  shared_ptr<Pair>(make_shared<Pair>(mkBase(11, "first"), mkDerived(12, "second", 0.5, IntSeq{9}),
                                                     "two")));
        classCase("class_pair_nulls", shared_ptr<Pair>(make_shared<Pair>(nullptr, nullptr, "none")));
        // Two parameters referring to one instance.
        auto p1 = mkDerived(13, "param", 1.0, IntSeq{4});
        classCase("class_two_params_shared", shared_ptr<Base>(p1), shared_ptr<Base>(p1));
        classCase("class_three_params", shared_ptr<Base>(mkBase(14, "a")), 99, shared_ptr<Base>(mkBase(15, "b")));
    }
    {
        auto c = make_shared<Node>(3, nullptr);
        auto b = make_shared<Node>(2, c);
        auto a = make_shared<Node>(1, b);
        classCase("class_node_chain", shared_ptr<Node>(a));
        shared_ptr<Node> head;
        for(int k = 50; k >= 1; --k)
        {
            head = make_shared<Node>(k, head);
        }
        classCase("class_node_chain_50", head);
        // Ice's default Ice.ClassGraphDepthMax is 100: a chain of 100 decodes, 101 does not.
        head = nullptr;
        for(int k = 100; k >= 1; --k)
        {
            head = make_shared<Node>(k, head);
        }
        classCase("class_node_chain_100", head);
        auto longer = make_shared<Node>(0, head);
        add("class_node_chain_101_rejected_sliced", encaps(true, Sliced), longer);
        g_cases.back().expectError = "maximum class graph depth reached";
        add("class_node_chain_101_rejected_compact", encaps(true, CompactF), longer);
        g_cases.back().expectError = "maximum class graph depth reached";
    }
    {
        auto b = make_shared<Node>(2, nullptr);
        auto a = make_shared<Node>(1, b);
        b->next = a;
        classCase("class_node_cycle", shared_ptr<Node>(a));
        // Break the cycle only after every writer has run: cases keep their values
        // for the program's lifetime (that leak is intended).
    }
    {
        auto a = make_shared<Node>(7, nullptr);
        a->next = a;
        classCase("class_node_self", shared_ptr<Node>(a));
    }
    {
        auto s = mkBase(20, "twice");
        classCase("class_seq",
                  BaseSeq{mkBase(21, "b"), mkDerived(22, "d", 3.0, IntSeq{5, 6}), nullptr, s,
                          mkMore(23, "m", 4.0, IntSeq{7}, "x"), s});
        classCase("class_dict", StringBaseDict{{"a", s}, {"b", mkDerived(24, "d", 0, IntSeq{})}, {"c", s}, {"n", nullptr}});
        classCase("class_in_struct", BaseBox{s, 5});
    }
    {
        auto all = make_shared<Optionals>();
        all->req = 1;
        all->ob = Ice::Byte(0x7f);
        all->obool = true;
        all->os = short(-2);
        all->oi = 3;
        all->of = 4.5f;
        all->ol = -5LL;
        all->od = 6.25;
        all->oe = Color::Green;
        all->ostr = string("opt \xc3\xa9");
        all->obytes = ByteSeq{1, 2, 3};
        all->opoint = Point{7, -8};
        all->oints = IntSeq{9, 10};
        all->osmall = Small{"s", 11.5};
        all->ostrs = StringSeq{"p", "q"};
        all->odict = IntStringDict{{1, "i"}, {2, "ii"}};
        all->ocls = shared_ptr<Base>(mkBase(12, "optional class"));
        all->ofar = 300;
        classCase("class_optionals_all", shared_ptr<Optionals>(all));

        auto none = make_shared<Optionals>();
        none->req = -1;
        classCase("class_optionals_none", shared_ptr<Optionals>(none));

        auto some = make_shared<Optionals>();
        some->req = 2;
        some->oi = -1;
        some->ostr = string("");
        some->obytes = ByteSeq{};
        some->ostrs = StringSeq{};
        some->ocls = shared_ptr<Base>(nullptr);
        classCase("class_optionals_some", shared_ptr<Optionals>(some));

        auto od = make_shared<OptDerived>();
        od->id = 30;
        od->name = "optderived";
        od->note = string("note");
        classCase("class_opt_derived", shared_ptr<Base>(od));
    }
    classCase("class_compact_id", shared_ptr<Compact>(make_shared<Compact>(77)));
    classCase("class_compact_derived", shared_ptr<Compact>(make_shared<CompactDerived>(78, "cd")));
    {
        // Same compact-id class twice (type id/compact id written once or twice).
        classCase("class_compact_seq_twice",
                  shared_ptr<Pair>(nullptr),
                  shared_ptr<Compact>(make_shared<Compact>(1)), shared_ptr<Compact>(make_shared<Compact>(2)));
        classCase("class_type_id_twice", shared_ptr<Base>(mkDerived(40, "x", 0, IntSeq{})),
                  shared_ptr<Base>(mkDerived(41, "y", 0, IntSeq{})));
    }
    classCase("class_preserved_base", shared_ptr<Preserved>(make_shared<Preserved>(50)));
    classCase("class_preserved_known", shared_ptr<Preserved>(make_shared<PreservedKnown>(51, "known")));

    // ---- slicing: types from GoldenHidden.ice, unknown to the Rust side (sliced format only)
    add("class_hidden_derived_sliced", encaps(true, Sliced),
        shared_ptr<Base>(make_shared<HiddenDerived>(60, "hidden", 1.5, IntSeq{1}, "extra", "secret",
                                                    mkBase(61, "linked"))));
    {
        auto h = make_shared<HiddenDerived>(62, "hidden cycle", 0, IntSeq{}, "", "s", nullptr);
        h->link = h;
        add("class_hidden_derived_cycle_sliced", encaps(true, Sliced), shared_ptr<Base>(h));
    }
    add("class_hidden_preserved_sliced", encaps(true, Sliced),
        shared_ptr<Preserved>(make_shared<HiddenPreserved>(63, "known part", "secret part", IntSeq{1, 2})));
    add("class_hidden_preserved_compact", encaps(true, CompactF),
        shared_ptr<Preserved>(make_shared<HiddenPreserved>(64, "known part", "secret part", IntSeq{3})));
    g_cases.back().compactUnknown = true;
    {
        auto hp = make_shared<HiddenPreserved>(69, "shared", "hidden shared", IntSeq{});
        add("class_hidden_preserved_shared_sliced", encaps(true, Sliced), shared_ptr<Preserved>(hp),
            shared_ptr<Preserved>(hp), shared_ptr<Preserved>(make_shared<PreservedKnown>(70, "plain")));
    }
    {
        auto n = make_shared<NewerOptDerived>(80, "newer", string("note"), 81);
        n->extra0 = 0;
        n->extra3 = 3;
        n->extra10 = string("ten");
        classCase("class_hidden_tags_opt_derived", shared_ptr<Base>(n));
        auto m = make_shared<NewerOptDerived>(82, "newer, only unknown tags", Ice::nullopt, Ice::nullopt);
        m->extra3 = -3;
        classCase("class_hidden_tags_only_unknown", shared_ptr<Base>(m));
    }
    add("class_hidden_compact_id_sliced", encaps(true, Sliced),
        shared_ptr<Compact>(make_shared<HiddenCompact>(65, -1LL)));
    add("class_hidden_in_seq_sliced", encaps(true, Sliced),
        BaseSeq{mkBase(66, "known"), make_shared<HiddenDerived>(67, "h", 2, IntSeq{}, "e", "s", nullptr), mkBase(68, "k")});

    // ---- exceptions (1.0: usesClasses flag + slices; 1.1: slices, always sliced)
    add("exc_base_sliced", encaps(false, Sliced), Exc{make_shared<BaseError>(1, "base error")});
    add("exc_base_compact", encaps(false, CompactF), Exc{make_shared<BaseError>(1, "base error")});
    add("exc_derived_sliced", encaps(false, Sliced),
        Exc{make_shared<DerivedError>(2, "derived", mkDerived(3, "member", 1.0, IntSeq{1}), 9.5)});
    add("exc_derived_compact", encaps(false, CompactF),
        Exc{make_shared<DerivedError>(2, "derived", mkDerived(3, "member", 1.0, IntSeq{1}), 9.5)});
    add("exc_derived_null_member_sliced", encaps(false, Sliced), Exc{make_shared<DerivedError>(4, "null", nullptr, 0.0)});
    add("exc_opt_set_sliced", encaps(false, Sliced), Exc{make_shared<OptError>(5, "opt", 6, string("six"))});
    add("exc_opt_unset_sliced", encaps(false, Sliced), Exc{make_shared<OptError>(7, "opt", Ice::nullopt, Ice::nullopt)});
    add("exc_hidden_sliced", encaps(false, Sliced),
        Exc{make_shared<HiddenError>(8, "hidden", mkBase(9, "m"), 1.25, "secret")});
    {
        auto shared = mkBase(10, "shared by member");
        add("exc_hidden_other_sliced", encaps(false, Sliced),
            Exc{make_shared<HiddenError>(11, "hidden2", shared, 2.5, "s2")});
    }

    // ---- optional parameters (1.0 writes none of them)
    add("optparams_all_formats", encaps(false), 1, Tagged<Ice::Byte>{1, Ice::Byte(2)}, Tagged<bool>{2, false},
        Tagged<short>{3, short(3)}, Tagged<int>{4, 4}, Tagged<float>{5, 5.5f}, Tagged<long long>{6, 6LL},
        Tagged<double>{7, 7.5}, Tagged<Color>{8, Color::Blue}, Tagged<string>{9, string("nine")},
        Tagged<ByteSeq>{10, ByteSeq{10}}, Tagged<Point>{11, Point{11, 11}}, Tagged<IntSeq>{12, IntSeq{12}},
        Tagged<Small>{13, Small{"thirteen", 13}}, Tagged<StringSeq>{14, StringSeq{"fourteen"}},
        Tagged<IntStringDict>{15, IntStringDict{{15, "fifteen"}}}, Tagged<FixedSeq>{16, FixedSeq{Fixed{}}},
        Tagged<StringSmallDict>{17, StringSmallDict{{"k", Small{"v", 17}}}});
    add("optparams_unset", encaps(false), 1, Tagged<int>{1, Ice::nullopt}, Tagged<string>{2, Ice::nullopt});
    add("optparams_large_tags", encaps(false), Tagged<int>{29, 29}, Tagged<int>{30, 30}, Tagged<int>{254, 254},
        Tagged<int>{255, 255}, Tagged<string>{100000, string("big tag")});
    add("optparams_class", encaps(true), 1, Tagged<shared_ptr<Base>>{1, shared_ptr<Base>(mkBase(2, "opt"))});
    addWR("optparams_unknown_skipped", encaps(false),
          std::make_tuple(5, Tagged<int>{1, 1}, Tagged<string>{2, string("kept")}, Tagged<Small>{3, Small{"x", 3}},
                          Tagged<ByteSeq>{4, ByteSeq{4, 4}}, Tagged<long long>{5, 5LL}, Tagged<Point>{6, Point{6, 6}},
                          Tagged<IntStringDict>{7, IntStringDict{{7, "7"}}}, Tagged<double>{8, 8.0}),
          std::make_tuple(5, Tagged<string>{2, string("kept")}, Tagged<Point>{6, Point{6, 6}}));
}

// ------------------------------------------------------------------- driver

string fileName(const string& dir, const string& name, bool e10)
{
    return dir + "/" + name + (e10 ? ".e10.bin" : ".e11.bin");
}

vector<Ice::Byte> encode(const Case& c, bool e10)
{
    const Ice::EncodingVersion& enc = e10 ? E10 : E11;
    Ice::OutputStream out(g_comm, enc);
    if(c.encaps)
    {
        out.startEncapsulation(enc, c.format);
        c.write(out);
        if(c.pending)
        {
            out.writePendingValues();
        }
        out.endEncapsulation();
    }
    else
    {
        c.write(out);
    }
    vector<Ice::Byte> bytes;
    out.finished(bytes);
    return bytes;
}

/// Decodes BYTES as case C; returns "" when the value matches, else the reason.
string decodeAndCompare(const Case& c, bool e10, const vector<Ice::Byte>& bytes)
{
    const Ice::EncodingVersion& enc = e10 ? E10 : E11;
    try
    {
        Ice::InputStream in(g_comm, enc, bytes);
        std::function<string(bool)> got;
        if(c.encaps)
        {
            Ice::EncodingVersion v = in.startEncapsulation();
            if(v != enc)
            {
                return "encapsulation has encoding " + std::to_string(v.major) + "." + std::to_string(v.minor);
            }
            got = c.read(in);
            if(c.pending)
            {
                in.readPendingValues();
            }
            in.endEncapsulation();
        }
        else
        {
            got = c.read(in);
        }
        if(in.i != in.b.end())
        {
            return std::to_string(in.b.end() - in.i) + " trailing bytes";
        }
        if(!c.expectError.empty())
        {
            return "Ice decoded it but must reject it (" + c.expectError + ")";
        }
        string g = got(e10);
        string x = c.expected(e10);
        if(g != x)
        {
            return "got " + g + " expected " + x;
        }
        return "";
    }
    catch(const std::exception& ex)
    {
        string what = ex.what();
        if(!c.expectError.empty() && what.find(c.expectError) != string::npos)
        {
            return "";
        }
        return "Ice raised " + what;
    }
}

string tsvSafe(string s)
{
    for(auto& ch : s)
    {
        if(ch == '\t' || ch == '\n' || ch == '\r')
        {
            ch = ' ';
        }
    }
    return s;
}

string manifestValue(const Case& c, bool e10)
{
    string v = c.written(e10);
    if(!c.expectError.empty())
    {
        v += " ==> Ice rejects: " + c.expectError;
    }
    else if(!c.mustReject.empty())
    {
        v += " ==> must be rejected: " + c.mustReject + "; ZeroC C++ passes the bytes through";
    }
    else if(v != c.expected(e10))
    {
        v += " ==> read back as: " + c.expected(e10);
    }
    if(c.name.find("hidden") != string::npos)
    {
        v += " ==> without GoldenHidden.ice: ";
        if(c.compactUnknown && !e10)
        {
            v += "decoding fails (compact format: an unknown type cannot be sliced)";
        }
        else
        {
            v += c.rustView(e10);
        }
    }
    return v;
}

int gen(const string& dir)
{
    std::ofstream manifest(dir + "/MANIFEST.tsv", std::ios::binary);
    manifest << "# case\tencoding\tframing\tcanonical\tvalue\n";
    int files = 0;
    for(const auto& c : g_cases)
    {
        for(int e = 0; e < 2; ++e)
        {
            bool e10 = (e == 0);
            if(!(c.encs & (e10 ? OnlyE10 : OnlyE11)))
            {
                continue;
            }
            auto bytes = encode(c, e10);
            // Self-check before writing anything: the fixture must decode to its value.
            string why = decodeAndCompare(c, e10, bytes);
            if(!why.empty())
            {
                std::cerr << "self-check FAIL " << c.name << " " << (e10 ? "1.0" : "1.1") << ": " << why << std::endl;
                return 1;
            }
            std::ofstream f(fileName(dir, c.name, e10), std::ios::binary);
            f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
            if(!f)
            {
                std::cerr << "cannot write " << fileName(dir, c.name, e10) << std::endl;
                return 1;
            }
            manifest << c.name << "\t" << (e10 ? "1.0" : "1.1") << "\t" << (c.encaps ? "encaps" : "raw") << "\t"
                     << (c.canonical && (c.canonical10 || !e10) ? "yes" : "no") << "\t" << tsvSafe(manifestValue(c, e10)) << "\n";
            ++files;
        }
    }
    std::cout << "wrote " << files << " files for " << g_cases.size() << " cases to " << dir << std::endl;
    return manifest ? 0 : 1;
}

int check(const string& dir)
{
    int checked = 0;
    int failed = 0;
    for(const auto& c : g_cases)
    {
        for(int e = 0; e < 2; ++e)
        {
            bool e10 = (e == 0);
            if(!(c.encs & (e10 ? OnlyE10 : OnlyE11)))
            {
                continue;
            }
            std::ifstream f(fileName(dir, c.name, e10), std::ios::binary);
            if(!f)
            {
                continue;
            }
            vector<Ice::Byte> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            ++checked;
            string why = decodeAndCompare(c, e10, bytes);
            if(why.empty())
            {
                std::cout << "ok " << c.name << " " << (e10 ? "1.0" : "1.1") << "\n";
            }
            else
            {
                ++failed;
                std::cout << "FAIL " << c.name << " " << (e10 ? "1.0" : "1.1") << ": " << tsvSafe(why) << "\n";
            }
        }
    }
    std::cout << "checked " << checked << " failed " << failed << std::endl;
    if(checked == 0)
    {
        return 2;
    }
    return failed ? 1 : 0;
}

// -------------------------------------------------------------------- bench

template<class F> long long bestNs(int runs, F f)
{
    long long best = std::numeric_limits<long long>::max();
    for(int r = 0; r < runs; ++r)
    {
        auto t0 = std::chrono::steady_clock::now();
        f();
        auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
    return best;
}

template<class T> long long benchOne(const string& name, const T& value, int runs)
{
    vector<Ice::Byte> bytes;
    size_t sink = 0;
    long long enc = bestNs(runs, [&] {
        Ice::OutputStream out(g_comm, E11);
        out.write(value);
        sink += out.b.size();
        if(bytes.empty())
        {
            out.finished(bytes);
        }
    });
    long long dec = bestNs(runs, [&] {
        Ice::InputStream in(g_comm, E11, bytes);
        T r;
        in.read(r);
        sink += r.size();
    });
    std::cout << "bench " << name << " encode_ns " << enc << " decode_ns " << dec << " bytes " << bytes.size()
              << " sink " << sink % 7 << std::endl;
    return enc;
}

int bench(int runs)
{
    // Data (the Rust benchmark must use the same):
    //   small:   50,000 Small{name = "item-<i>", value = i * 0.5}, i = 0..49999
    //   strings: 50,000 strings "string-<i>"
    //   bytes:   500,000 bytes, byte k = (k * 31) & 0xff
    SmallSeq smalls;
    StringSeq strings;
    ByteSeq bytes;
    for(int k = 0; k < 50000; ++k)
    {
        smalls.push_back(Small{"item-" + std::to_string(k), k * 0.5});
        strings.push_back("string-" + std::to_string(k));
    }
    for(int k = 0; k < 500000; ++k)
    {
        bytes.push_back(static_cast<Ice::Byte>((k * 31) & 0xff));
    }
    benchOne("small_structs_50000", smalls, runs);
    benchOne("strings_50000", strings, runs);
    long long bytesEnc = benchOne("bytes_500000", bytes, runs);
    // Zero-copy decode of the byte sequence (C++ ["cpp:array"] style pair of
    // pointers); encoding is the same operation as bytes_500000, its time is repeated.
    {
        Ice::OutputStream out(g_comm, E11);
        out.write(bytes);
        vector<Ice::Byte> enc;
        out.finished(enc);
        size_t sink = 0;
        long long dec = bestNs(runs, [&] {
            Ice::InputStream in(g_comm, E11, enc);
            std::pair<const Ice::Byte*, const Ice::Byte*> r;
            in.read(r);
            sink += static_cast<size_t>(r.second - r.first);
        });
        std::cout << "bench bytes_500000_zerocopy encode_ns " << bytesEnc << " decode_ns " << dec << " sink " << sink % 7 << std::endl;
    }
    return 0;
}

} // namespace

int main(int argc, char* argv[])
{
    Ice::registerIceSSL(true);
    Ice::registerIceWS(true);
    Ice::registerIceUDP(true);
    if(argc < 2)
    {
        std::cerr << "usage: golden gen OUTDIR | golden check DIR | golden bench [RUNS] | golden list" << std::endl;
        return 64;
    }
    int rc = 0;
    try
    {
        Ice::InitializationData init;
        init.properties = Ice::createProperties();
        init.properties->setProperty("Ice.Default.EncodingVersion", "1.1");
        // Ice 3.7.5+ C++ refuses class cycles when reading unless told otherwise.
        init.properties->setProperty("Ice.AcceptClassCycles", "1");
        Ice::CommunicatorHolder holder(init);
        g_comm = holder.communicator();
        defineCases();
        string mode = argv[1];
        if(mode == "gen" && argc == 3)
        {
            rc = gen(argv[2]);
        }
        else if(mode == "check" && argc == 3)
        {
            rc = check(argv[2]);
        }
        else if(mode == "bench")
        {
            rc = bench(argc >= 3 ? std::atoi(argv[2]) : 15);
        }
        else if(mode == "list")
        {
            for(const auto& c : g_cases)
            {
                std::cout << c.name << "\n";
            }
        }
        else
        {
            std::cerr << "unknown mode" << std::endl;
            rc = 64;
        }
        g_cases.clear();
        g_comm = nullptr;
    }
    catch(const std::exception& ex)
    {
        std::cerr << "golden: " << ex.what() << std::endl;
        return 1;
    }
    return rc;
}
