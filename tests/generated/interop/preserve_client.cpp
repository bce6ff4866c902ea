// ZeroC C++ (C++11 mapping) client for Preserve.ice + PreserveHidden.ice:
// calls the Rust relay, which knows neither HiddenItem nor HiddenError.
// Usage: preserve_client <proxy> <encoding 1.0|1.1>.
// Prints "ok <check>" lines and "ALL OK"; exits 1 on the first failure.
#include <Ice/Ice.h>
#include <PreserveHidden.h>
#include <iostream>

using namespace std;
using namespace Preserve;

static void check(const char* name, bool cond)
{
    if(!cond)
    {
        cout << "FAIL " << name << endl;
        exit(1);
    }
    cout << "ok " << name << endl;
}

// A HiddenItem "a" linking to a HiddenItem "b" (ZeroC C++ refuses cycles).
static shared_ptr<HiddenItem> hiddenChain()
{
    auto b = make_shared<HiddenItem>("b", "secret-b", nullptr, IntList{}, Ice::nullopt);
    return make_shared<HiddenItem>("a", "secret-a", b, IntList{1, 2, 3}, string("note-a"));
}

static bool isChain(const shared_ptr<Item>& item)
{
    auto a = dynamic_pointer_cast<HiddenItem>(item);
    if(!a)
    {
        return false;
    }
    auto b = dynamic_pointer_cast<HiddenItem>(a->link);
    return a->key == "a" && a->secret == "secret-a" && a->numbers == IntList{1, 2, 3} && a->note &&
        *a->note == "note-a" && b && b->key == "b" && b->secret == "secret-b" && !b->note && !b->link;
}

int main(int argc, char* argv[])
{
    if(argc < 3)
    {
        cerr << "usage: preserve_client <proxy> <encoding>" << endl;
        return 2;
    }
    const string encoding = argv[2];
    const bool e11 = encoding == "1.1";
    try
    {
        Ice::InitializationData init;
        init.properties = Ice::createProperties();
        init.properties->setProperty("Ice.Default.EncodingVersion", encoding);
        Ice::CommunicatorHolder ich(init);
        auto relay = Ice::checkedCast<RelayPrx>(ich->stringToProxy(argv[1]));
        check("checked_cast", relay != nullptr);

        try
        {
            relay->fail("preserved-chain");
            check("fail(preserved-chain) raises", false);
        }
        catch(const HiddenError& e)
        {
            check("fail keeps HiddenError (1.1)", e11 && e.reason == "why" && e.secret == "secret-e" &&
                  e.code && *e.code == 42 && isChain(e.item));
        }
        catch(const BaseError& e)
        {
            check("fail sliced to BaseError (1.0)", !e11 && e.reason == "why");
        }

        try
        {
            relay->fail("plain");
            check("fail(plain) raises", false);
        }
        catch(const HiddenPlainError&)
        {
            check("fail(plain) sliced to PlainError", false);
        }
        catch(const PlainError& e)
        {
            check("fail(plain) sliced to PlainError", e.reason == "plain why");
        }

        auto got = relay->echoItem(hiddenChain());
        if(e11)
        {
            check("echoItem keeps HiddenItem", isChain(got));
        }
        else
        {
            check("echoItem sliced to Item (1.0)", got && got->ice_id() == Item::ice_staticId() && got->key == "a");
        }

        auto plain = relay->echoPlain(make_shared<HiddenPlain>("k", "s"));
        check("echoPlain sliced to PlainItem", plain && plain->ice_id() == PlainItem::ice_staticId() && plain->key == "k");

        auto made = relay->makeItem();
        check("makeItem (sliced) slices RustItem to Item",
              made && made->ice_id() == Item::ice_staticId() && made->key == "rust");
        try
        {
            auto compact = relay->makeItemCompact();
            check("makeItemCompact sliced in 1.0", !e11 && compact && compact->key == "rust");
        }
        catch(const Ice::NoValueFactoryException&)
        {
            check("makeItemCompact (compact) cannot be sliced", e11);
        }

        try
        {
            relay->failUnknown();
            check("failUnknown raises", false);
        }
        catch(const BaseError& e)
        {
            check("failUnknown (sliced) slices RustError to BaseError",
                  e.ice_id() == BaseError::ice_staticId() && e.reason == "rust");
        }
        try
        {
            relay->failUnknownCompact();
            check("failUnknownCompact raises", false);
        }
        catch(const Ice::UnknownUserException& e)
        {
            check("failUnknownCompact (compact) cannot be sliced", e11 && e.unknown == "::Preserve::RustError");
        }
        catch(const BaseError& e)
        {
            check("failUnknownCompact sliced in 1.0", !e11 && e.reason == "rust");
        }
    }
    catch(const std::exception& ex)
    {
        cout << "FAIL exception: " << ex.what() << endl;
        return 1;
    }
    cout << "ALL OK" << endl;
    return 0;
}
