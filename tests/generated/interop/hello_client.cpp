// A ZeroC C++ client of the "hello" demo's Slice
// (ice-proto/examples/hello/Hello.ice), for the Rust hello server example:
// hello_client PROXY COMMAND...; t: twoway sayHello, o: oneway sayHello,
// d: sayHello with a 500 ms delay, s: shutdown. Prints "<command>: done"
// after each.
#include <Ice/Ice.h>
#include <Hello.h>
#include <iostream>

int main(int argc, char* argv[])
{
    try
    {
        Ice::CommunicatorHolder ich(argc, argv);
        if(argc < 2)
        {
            std::cerr << "usage: " << argv[0] << " PROXY [t|o|d|s]..." << std::endl;
            return 2;
        }
        auto hello = Ice::checkedCast<Demo::HelloPrx>(ich->stringToProxy(argv[1]));
        if(!hello)
        {
            std::cerr << "invalid proxy" << std::endl;
            return 1;
        }
        for(int i = 2; i < argc; ++i)
        {
            std::string c = argv[i];
            if(c == "t")
            {
                hello->sayHello(0);
            }
            else if(c == "o")
            {
                hello->ice_oneway()->sayHello(0);
            }
            else if(c == "d")
            {
                hello->sayHello(500);
            }
            else if(c == "s")
            {
                hello->shutdown();
            }
            else
            {
                std::cerr << "unknown command " << c << std::endl;
                return 2;
            }
            std::cout << c << ": done" << std::endl;
        }
    }
    catch(const std::exception& e)
    {
        std::cerr << e.what() << std::endl;
        return 1;
    }
    return 0;
}
