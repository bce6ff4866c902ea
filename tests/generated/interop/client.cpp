// ZeroC C++ (C++11 mapping) client for Codegen.ice: calls a (Rust,
// generated) Echo server. Usage: client <proxy> <encoding 1.0|1.1>.
// Prints "ok <check>" lines and "ALL OK"; exits 1 on the first failure.
#include <Ice/Ice.h>
#include <Codegen.h>
#include <iostream>

using namespace std;
using namespace CodegenTest;

static void check(const char* name, bool cond)
{
    if(!cond)
    {
        cout << "FAIL " << name << endl;
        exit(1);
    }
    cout << "ok " << name << endl;
}

int main(int argc, char* argv[])
{
    if(argc < 3)
    {
        cerr << "usage: client <proxy> <encoding>" << endl;
        return 2;
    }
    const string encoding = argv[2];
    const bool e10 = encoding == "1.0";
    try
    {
        Ice::InitializationData init;
        init.properties = Ice::createProperties();
        init.properties->setProperty("Ice.Default.EncodingVersion", encoding);
        Ice::CommunicatorHolder ich(init);
        auto echo = Ice::checkedCast<EchoPrx>(ich->stringToProxy(argv[1]));
        check("checked_cast", echo != nullptr);
        check("ice_ids", echo->ice_ids() ==
              vector<string>{"::CodegenTest::Base", "::CodegenTest::Echo", "::Ice::Object"});
        check("twice", echo->twice(21) == 42);

        Color back;
        Point r = echo->swap(Point{1, 2}, Color::Blue, back);
        check("swap", r.x == 2 && r.y == 1 && back == Color::Blue);

        auto d = echo->index(PointSeq{Point{1, 2}, Point{-3, 4}});
        check("index", d.size() == 2 && d["-3,4"].x == -3 && d["-3,4"].y == 4 && d["1,2"].x == 1);

        // ZeroC C++ refuses to unmarshal a cycle ("cycle detected during
        // Value unmarshaling", also from a ZeroC server), so C++ sends a chain.
        auto tail = make_shared<Circle>("tail", Ice::nullopt, 0.5, nullptr);
        auto c = make_shared<Circle>("c", 1, 2.5, tail);
        auto got = dynamic_pointer_cast<Circle>(echo->echoShape(c));
        bool sidesOk = e10 ? !got->sides : (got->sides && *got->sides == 1);
        auto gotTail = got ? dynamic_pointer_cast<Circle>(got->next) : nullptr;
        check("shape_chain", got && got->radius == 2.5 && got->name == "c" && sidesOk && gotTail &&
              gotTail->name == "tail" && gotTail->radius == 0.5 && !gotTail->sides && !gotTail->next);

        Ice::optional<bool> flag;
        auto ret = echo->opt(string("abcd"), flag);
        check("opt_set", e10 ? (!ret && !flag) : (ret && *ret == 4 && flag && *flag));
        ret = echo->opt(Ice::nullopt, flag);
        check("opt_unset", !ret && !flag);

        try
        {
            echo->fail(0);
            check("fail_base", false);
        }
        catch(const BadInput&)
        {
            check("fail_base", false);
        }
        catch(const Failure& e)
        {
            check("fail_base", e.reason == "plain");
        }
        try
        {
            echo->fail(7);
            check("fail_derived", false);
        }
        catch(const BadInput& e)
        {
            check("fail_derived", e.reason == "bad" && e.code == 7);
        }

        check("ctx", echo->ctx("k", Ice::Context{{"k", "v"}}) == "v");
        check("ctx_none", echo->ctx("k") == "<none>");
    }
    catch(const std::exception& e)
    {
        cout << "FAIL exception: " << e.what() << endl;
        return 1;
    }
    cout << "ALL OK" << endl;
    return 0;
}
