#!/usr/bin/python3
"""Regenerates properties.jsonl: the properties ZeroC Ice (Python, 3.7) reads
from each config-file text and each command line of the table below.

Run with the distribution's interpreter: /usr/bin/python3 gen_properties.py
"""

import json
import os
import sys
import tempfile

import Ice

FILES = {
    "simple": "A=1\nB = two\n",
    "spaces_around": "   Key.Name   =   value with  inner  spaces   \n",
    "comment_lines": "# a comment\n  # indented comment\nA=1 # trailing comment\nB=2#no space\n",
    "escaped_hash": "A=value \\# not a comment\nB=\\#start\n",
    "escaped_equals_in_key": "Key\\=Part=value\n",
    "equals_in_value": "A=b=c=d\n",
    "escaped_spaces": "A=\\ \\ leading kept\nB=trailing kept\\ \\ \nC\\ D=key with space\n",
    "backslashes": "A=C:\\dir\\file\nB=a\\\\b\nC=end\\\n",
    "redefinition": "A=1\nA=2\nB=x\nB=\n",
    "empty_value_removes": "A=\nB=   \n",
    "no_equals": "JustAKey\nA=1\n",
    "empty_key": "=value\nA=1\n",
    "crlf": "A=1\r\nB=2\r\n",
    "tabs": "A\t=\tvalue\t\n",
    "unicode": "Name=caf\u00e9 \u65e5\u672c\n",
    "blank_lines": "\n\n   \nA=1\n\n",
    "hash_in_key": "A#b=1\nC=2\n",
    "ice_props": "Ice.Default.Host=127.0.0.1\nIce.MessageSizeMax=2048\nAdapter.Endpoints=tcp -h 127.0.0.1 -p 0\n",
    "dots_and_case": "a.B.c=1\nA.b.C=2\n",
    "value_only_spaces_escaped": "A=\\ \n",
    "double_backslash_hash": "A=x\\\\#y\n",
    "trailing_backslash_space": "A=x\\ \n",
}

ARGS = {
    "plain": ["--A=1", "--B.C=two"],
    "no_value": ["--A"],
    "empty_value": ["--A="],
    "spaces": ["--A= spaced value "],
    "equals_in_value": ["--A=b=c"],
    "not_a_property": ["A=1", "-A=1", "--", "plain"],
    "redefinition": ["--A=1", "--A=2"],
    "ice_config_like": ["--Ice.Trace.Network=2", "--Ice.Warn.Connections=1"],
    "hash_value": ["--A=x#y"],
}


def dump(props):
    return dict(sorted(props.getPropertiesForPrefix("").items()))


def main():
    rows = []
    for name, text in FILES.items():
        with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False, encoding="utf-8", newline="") as f:
            f.write(text)
            path = f.name
        try:
            props = Ice.createProperties()
            props.load(path)
            rows.append({"kind": "file", "name": name, "text": text, "properties": dump(props)})
        except Ice.Exception as ex:
            rows.append({"kind": "file", "name": name, "text": text, "error": type(ex).__name__})
        finally:
            os.unlink(path)
    for name, args in ARGS.items():
        # As a program does: reserved prefixes (Ice.*) from argv after the
        # program name, then every --Name=value through parseCommandLineOptions.
        props = Ice.createProperties(["prog"] + list(args))
        ice_only = dump(props)
        props = Ice.createProperties()
        remaining = props.parseCommandLineOptions("", list(args))
        rows.append(
            {
                "kind": "args",
                "name": name,
                "args": args,
                "reserved_only": ice_only,
                "properties": dump(props),
                "remaining": list(remaining),
            }
        )
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "properties.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {len(rows)} cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
