#!/usr/bin/python3
"""Regenerates proxies.jsonl: how ZeroC Ice (Python, 3.7) parses and prints
each stringified proxy of the table below, or which exception it raises.

Run with the distribution's interpreter: /usr/bin/python3 gen_proxies.py
"""

import json
import os
import sys

import Ice

CASES = [
    # identities
    "hello",
    "hello:tcp -h 127.0.0.1 -p 10000",
    "cat/name:tcp -h 127.0.0.1 -p 10000",
    "\"a b\":tcp -h 127.0.0.1 -p 10000",
    "'single quoted':tcp -p 1",
    "a\\/b/c",
    "a/b/c",
    "\\x41bc",
    "\\101bc",
    "\\u00e9t\\u00e9",
    "\\t\\n\\r",
    "\"\\\"quoted\\\"\"",
    "caf\u00e9",
    "/name",
    "cat/",
    "",
    "   ",
    "\"\"",
    "id with\ttab",
    "a\\\\b",
    # options
    "hello -f facet",
    "hello -f \"my facet\"",
    "hello -f",
    "hello -t",
    "hello -o",
    "hello -O",
    "hello -d",
    "hello -D",
    "hello -s",
    "hello -e 1.0",
    "hello -e 1.1",
    "hello -e 2.0",
    "hello -e x",
    "hello -p 1.0",
    "hello -p 2.5",
    "hello -o -t",
    "hello -x",
    "hello -t extra",
    "hello -s -f f -D -e 1.0",
    # endpoints
    "hello:tcp",
    "hello:tcp -p 10000",
    "hello:tcp -h localhost -p 10000 -t 500",
    "hello:tcp -h localhost -p 10000 -t infinite",
    "hello:tcp -h localhost -p 10000 -z",
    "hello:tcp -h localhost -p 10000 -t -1",
    "hello:tcp -h localhost -p 70000",
    "hello:tcp -h localhost -p -1",
    "hello:tcp -h localhost -p abc",
    "hello:tcp -h \"::1\" -p 10000",
    "hello:tcp -h ::1 -p 10000",
    "hello:tcp -h * -p 10000",
    "hello:tcp -h localhost -p 1 --sourceAddress 127.0.0.1",
    "hello:tcp -h localhost -p 1 -q",
    "hello:udp -h 239.255.1.1 -p 10000",
    "hello:udp -h 239.255.1.1 -p 10000 --ttl 5 --interface eth0",
    "hello:udp -h localhost -p 10000 -c",
    "hello:ssl -h localhost -p 10001",
    "hello:ws -h localhost -p 10002 -r /path",
    "hello:wss -h localhost -p 10003",
    "hello:wss -h localhost -p 10003 -r /ws -t 1000",
    "hello:ssl -h 127.0.0.1 -p 10001 -t 2000 -z",
    "hello:tcp -h 127.0.0.1 -p 1:ssl -h 127.0.0.1 -p 2",
    "hello:default -h localhost -p 10000",
    "hello:tcp -h a -p 1:tcp -h b -p 2",
    "hello:tcp -h a -p 1:udp -h b -p 2:ssl -h c -p 3",
    "hello:opaque -t 99 -e 1.1 -v abcd",
    "hello:opaque -t 99 -e 1.0 -v AQIDBA==",
    "hello:opaque -t 1 -e 1.1 -v CTEyNy4wLjAuMREnAAD/////AA==",
    "hello:opaque -t 99 -v abcd",
    "hello:opaque -e 1.1 -v abcd",
    "hello:opaque -t 99 -e 1.1 -v a",
    "hello:opaque -t -1 -e 1.1 -v abcd",
    "hello:foo -h localhost",
    "hello:",
    "hello: ",
    "hello:tcp -h",
    "hello:tcp -h localhost -p",
    # indirect
    "hello@adapter",
    "hello @ adapter",
    "hello@\"my adapter\"",
    "hello@",
    "hello@adapter:tcp -p 1",
    "hello -f f @ adapter",
    "hello -e 1.0 @ replicated",
    "cat/id@a",
    # quoting and escapes around separators
    "\"hello:world\"",
    "\"hello@world\"",
    "hello\\:world",
    "\"unterminated",
    "a\\x4",
    "a\\u12",
    "a\\q",
    "a\\0",
    "a\\x00",
]


def main():
    init = Ice.InitializationData()
    init.properties = Ice.createProperties()
    # Ice's built-in defaults, plus the IceSSL plugin so that ssl and wss
    # endpoints parse as they do in a deployment that uses them.
    init.properties.setProperty("Ice.Plugin.IceSSL", "IceSSL:createIceSSL")
    with Ice.initialize(init) as communicator:
        out = []
        for text in CASES:
            row = {"input": text}
            try:
                proxy = communicator.stringToProxy(text)
                if proxy is None:
                    row["null"] = True
                else:
                    row["printed"] = communicator.proxyToString(proxy)
                    row["identity"] = {
                        "name": proxy.ice_getIdentity().name,
                        "category": proxy.ice_getIdentity().category,
                    }
                    row["facet"] = proxy.ice_getFacet()
                    row["adapter_id"] = proxy.ice_getAdapterId()
                    row["endpoints"] = [e.toString() for e in proxy.ice_getEndpoints()]
            except Ice.Exception as ex:
                row["error"] = type(ex).__name__
            out.append(row)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proxies.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for row in out:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {len(out)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
