// Data shared by the C++ benchmark server and client: the same values the
// Rust side builds (bench/src/lib.rs), so either client checks either server.
#pragma once

#include "Bench.h"
#include <cstdio>
#include <string>

namespace benchdata
{

inline Bench::ByteSeq bytes(int size)
{
    Bench::ByteSeq seq(static_cast<size_t>(size));
    for(int i = 0; i < size; ++i)
    {
        seq[static_cast<size_t>(i)] = static_cast<Ice::Byte>(i % 251);
    }
    return seq;
}

inline Bench::StringSeq strings(int size)
{
    Bench::StringSeq seq;
    seq.reserve(static_cast<size_t>(size));
    char buf[32];
    for(int i = 0; i < size; ++i)
    {
        std::snprintf(buf, sizeof(buf), "s-%05d", i);
        seq.emplace_back(buf);
    }
    return seq;
}

inline Bench::SmallSeq small(int size)
{
    Bench::SmallSeq seq;
    seq.reserve(static_cast<size_t>(size));
    for(int i = 0; i < size; ++i)
    {
        seq.push_back(Bench::Small{"small-" + std::to_string(i % 1000), i * 0.5});
    }
    return seq;
}

inline Bench::FixedSeq fixed(int size)
{
    Bench::FixedSeq seq;
    seq.reserve(static_cast<size_t>(size));
    for(int i = 0; i < size; ++i)
    {
        // Wrapping multiplication, as on the Rust side.
        int j = static_cast<int>(static_cast<unsigned>(i) * 7u);
        seq.push_back(Bench::Fixed{i, j, i * 0.25});
    }
    return seq;
}

inline bool same(const Bench::Small& a, const Bench::Small& b)
{
    return a.s == b.s && a.d == b.d;
}

inline bool same(const Bench::Fixed& a, const Bench::Fixed& b)
{
    return a.i == b.i && a.j == b.j && a.d == b.d;
}

template<typename T>
bool same(const T& a, const T& b)
{
    return a == b;
}

template<typename T>
bool sameSeq(const std::vector<T>& a, const std::vector<T>& b)
{
    if(a.size() != b.size())
    {
        return false;
    }
    for(size_t i = 0; i < a.size(); ++i)
    {
        if(!same(a[i], b[i]))
        {
            return false;
        }
    }
    return true;
}

}
