#!/usr/bin/python3
"""ZeroC Python Ice server of the servant-locator program, the model the
Rust server of `tests/tests/runtime_locator_servant.rs` is compared with.

Serves on 127.0.0.1 at a free port and prints the port on stdout:
- `asm` and `loc/asm` in the active servant map (echo answers `asm:` and
  `loc-asm:`), a default servant of category `both` (`default-both:`);
- a locator of category `loc`: `loc/missing` is not found, `loc/userex`
  throws `Test::Boom`, `loc/notexist` throws `ObjectNotExistException`,
  `loc/crash` throws a non-Ice exception, `loc/finerr` is found but its
  `finished` throws `Test::Boom`; any other `loc/N` is a servant answering
  `loc:N:`, with `N` as its cookie;
- a locator of category `both` (never reached while the default servant
  is there) and one of category `""` answering `any:`;
- `log` (in the map): `takeRecorded` returns and clears the `finished`
  calls seen (`finished <category>/<name> <operation> <cookie>`) and the
  `deactivate` calls.
"""
import os
import sys

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "Test.ice"))
import Test  # noqa: E402

LOG = []


class Named(Test.Tester):
    def __init__(self, name):
        self.name = name

    def echo(self, s, current):
        return self.name + ":" + s

    def takeRecorded(self, current):
        out = list(LOG)
        del LOG[:]
        return out

    def getContext(self, key, current):
        return current.ctx.get(key, "<none>")


class Locator(Ice.ServantLocator):
    def __init__(self, prefix):
        self.prefix = prefix

    def locate(self, current):
        name = current.id.name
        if name == "missing":
            return None
        if name == "userex":
            raise Test.Boom("locate", 1)
        if name == "notexist":
            raise Ice.ObjectNotExistException()
        if name == "crash":
            raise RuntimeError("locate crashed")
        return (Named(self.prefix + ":" + name), name)

    def finished(self, current, servant, cookie):
        LOG.append("finished %s/%s %s %s" % (current.id.category, current.id.name, current.operation, cookie))
        if current.id.name == "finerr":
            raise Test.Boom("finished", 2)

    def deactivate(self, category):
        LOG.append("deactivate " + category)


def main():
    with Ice.initialize(sys.argv) as communicator:
        adapter = communicator.createObjectAdapterWithEndpoints("Loc", "tcp -h 127.0.0.1 -p 0")
        adapter.add(Named("asm"), Ice.stringToIdentity("asm"))
        adapter.add(Named("loc-asm"), Ice.stringToIdentity("loc/asm"))
        adapter.add(Named("log"), Ice.stringToIdentity("log"))
        adapter.addDefaultServant(Named("default-both"), "both")
        adapter.addServantLocator(Locator("loc"), "loc")
        adapter.addServantLocator(Locator("locator-both"), "both")
        adapter.addServantLocator(Locator("any"), "")
        adapter.activate()
        print(adapter.getEndpoints()[0].getInfo().port, flush=True)
        communicator.waitForShutdown()


if __name__ == "__main__":
    main()
