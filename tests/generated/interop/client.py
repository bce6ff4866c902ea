#!/usr/bin/python3
# ZeroC Python client for Codegen.ice: calls a (Rust, generated) Echo server.
# Usage: client.py <proxy> <encoding 1.0|1.1>. Prints "ok <check>" lines and
# "ALL OK"; exits 1 on the first failed check.
import os
import sys
import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "slice", "Codegen.ice"))
import CodegenTest  # noqa: E402


def show(*xs):
    # Ice.Unset's repr is broken under Python 3; print it by name.
    return ", ".join("Unset" if x is Ice.Unset else repr(x) for x in xs)


def check(name, cond, detail=""):
    if not cond:
        print("FAIL %s %s" % (name, detail))
        sys.stdout.flush()
        sys.exit(1)
    print("ok " + name)


def main():
    proxy, encoding = sys.argv[1], sys.argv[2]
    init = Ice.InitializationData()
    init.properties = Ice.createProperties()
    init.properties.setProperty("Ice.Default.EncodingVersion", encoding)
    with Ice.initialize(init) as ic:
        echo = CodegenTest.EchoPrx.checkedCast(ic.stringToProxy(proxy))
        check("checked_cast", echo is not None)
        check("ice_ids", echo.ice_ids() == ["::CodegenTest::Base", "::CodegenTest::Echo", "::Ice::Object"], str(echo.ice_ids()))
        check("ice_isA_base", echo.ice_isA("::CodegenTest::Base"))
        check("twice", echo.twice(21) == 42)
        r, back = echo.swap(CodegenTest.Point(1, 2), CodegenTest.Color.Blue)
        check("point", r == CodegenTest.Point(2, 1) and back == CodegenTest.Color.Blue, show(r, back))
        d = echo.index([CodegenTest.Point(1, 2), CodegenTest.Point(-3, 4)])
        check("index", d == {"1,2": CodegenTest.Point(1, 2), "-3,4": CodegenTest.Point(-3, 4)}, str(d))
        c = CodegenTest.Circle("c", 1, 2.5, None)
        c.next = c
        got = echo.echoShape(c)
        sides = Ice.Unset if encoding == "1.0" else 1
        check("shape_cycle", isinstance(got, CodegenTest.Circle) and got.next is got
              and got.name == "c" and got.radius == 2.5 and got.sides == sides, show(got))
        ret, flag = echo.opt("abcd")
        if encoding == "1.0":
            check("opt_set", ret is Ice.Unset and flag is Ice.Unset, show(ret, flag))
        else:
            check("opt_set", ret == 4 and flag is True, show(ret, flag))
        ret, flag = echo.opt(Ice.Unset)
        check("opt_unset", ret is Ice.Unset and flag is Ice.Unset, show(ret, flag))
        try:
            echo.fail(0)
            check("fail_base", False, "no exception")
        except CodegenTest.BadInput as e:
            check("fail_base", False, "got BadInput " + str(e))
        except CodegenTest.Failure as e:
            check("fail_base", e.reason == "plain", e.reason)
        try:
            echo.fail(7)
            check("fail_derived", False, "no exception")
        except CodegenTest.BadInput as e:
            check("fail_derived", e.reason == "bad" and e.code == 7, str(e))
        check("ctx", echo.ctx("k", {"k": "v"}) == "v")
        check("ctx_none", echo.ctx("k") == "<none>")
    print("ALL OK")


if __name__ == "__main__":
    main()
