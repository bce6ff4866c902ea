#!/usr/bin/python3
"""Peers for the robustness tests of a server: ZeroC Python Ice clients and
raw-socket clients that do what Ice clients do not (hostile or careless
peers), written from the Ice protocol's message layout.

Usage:
  robustness.py burst PROXY N
      ZeroC Ice client: opens N connections to PROXY at once (one
      connection id each) and prints `connected N SECONDS` once every one
      is validated.
  robustness.py latency PROXY COUNT
      ZeroC Ice client: pings PROXY COUNT times after a warm-up and prints
      `median_ms MS max_ms MS over_10ms N` (N round trips above 10 ms).
  robustness.py close-after-request PORT
      Raw: sends a twoway `echo("hi")` to `tester` and a close connection
      message in one write, then prints each message the server sends back
      (`reply ID STATUS` or `message TYPE`) and `eof` when it closes.
  robustness.py bomb PORT TOTAL
      Raw: sends a compressed request to `nobody` whose bzip2 stream
      inflates to exactly the TOTAL bytes it announces, then prints
      `reply ID STATUS` or `closed`.
  robustness.py flood PORT COUNT SIZE SECONDS
      Raw: sends COUNT twoway `echo` requests with SIZE-byte strings and
      never reads; after SECONDS prints `sent N` (requests the server took)
      and exits.
"""
import bz2
import socket
import struct
import sys
import threading
import time

REQUEST, REPLY, VALIDATE, CLOSE = 0, 2, 3, 4


def size_bytes(n):
    return bytes([n]) if n < 255 else b"\xff" + struct.pack("<i", n)


def string(s):
    b = s.encode()
    return size_bytes(len(b)) + b


def header(msg_type, size, compress=0):
    return b"IceP" + bytes([1, 0, 1, 0, msg_type, compress]) + struct.pack("<i", size)


def request_body(request_id, name, operation, params):
    encaps = struct.pack("<i", len(params) + 6) + b"\x01\x01" + params
    return (
        struct.pack("<i", request_id)
        + string(name)
        + string("")
        + b"\x00"  # facet: empty sequence
        + string(operation)
        + b"\x00"  # mode: normal
        + b"\x00"  # context: empty
        + encaps
    )


def message(msg_type, body):
    return header(msg_type, 14 + len(body)) + body


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_message(sock):
    head = read_exact(sock, 14)
    if head is None:
        return None
    size = struct.unpack("<i", head[10:14])[0]
    body = read_exact(sock, size - 14) if size > 14 else b""
    return head[8], body


def connect(port):
    sock = socket.create_connection(("127.0.0.1", int(port)))
    msg = read_message(sock)
    assert msg is not None and msg[0] == VALIDATE, "no validate connection"
    return sock


def describe(msg):
    msg_type, body = msg
    if msg_type == REPLY:
        request_id = struct.unpack("<i", body[:4])[0]
        return "reply %d %d" % (request_id, body[4])
    return "message %d" % msg_type


def close_after_request(port):
    sock = connect(port)
    req = message(REQUEST, request_body(7, "tester", "echo", string("hi")))
    sock.sendall(req + header(CLOSE, 14))
    while True:
        msg = read_message(sock)
        if msg is None:
            print("eof", flush=True)
            return
        print(describe(msg), flush=True)


def bomb(port, total):
    sock = connect(port)
    head = request_body(1, "nobody", "ice_ping", b"")[:-6]
    encaps_size = total - 14 - len(head)
    plain = head + struct.pack("<i", encaps_size) + b"\x01\x01" + bytes(encaps_size - 6)
    assert 14 + len(plain) == total
    packed = struct.pack("<i", total) + bz2.compress(plain, 1)
    sock.sendall(header(REQUEST, 14 + len(packed), compress=2) + packed)
    msg = read_message(sock)
    print(describe(msg) if msg else "closed", flush=True)


def flood(port, count, size, seconds):
    sock = connect(port)
    sent = [0]
    payload = string("x" * size)

    def send():
        try:
            for i in range(count):
                sock.sendall(message(REQUEST, request_body(i + 1, "tester", "echo", payload)))
                sent[0] += 1
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    time.sleep(seconds)
    print("sent %d" % sent[0], flush=True)


def burst(proxy, n):
    import Ice

    init = Ice.InitializationData()
    init.properties = Ice.createProperties()
    init.properties.setProperty("Ice.ThreadPool.Client.SizeMax", "4")
    with Ice.initialize(init) as communicator:
        base = communicator.stringToProxy(proxy)
        start = time.monotonic()
        futures = [base.ice_connectionId("c%d" % i).ice_getConnectionAsync() for i in range(n)]
        for f in futures:
            f.result()
        print("connected %d %.3f" % (n, time.monotonic() - start), flush=True)


def latency(proxy, count):
    import Ice

    with Ice.initialize() as communicator:
        prx = communicator.stringToProxy(proxy)
        for _ in range(5):
            prx.ice_ping()
        times = []
        for _ in range(count):
            start = time.monotonic()
            prx.ice_ping()
            times.append((time.monotonic() - start) * 1000)
        times.sort()
        print(
            "median_ms %.3f max_ms %.3f over_10ms %d"
            % (times[len(times) // 2], times[-1], sum(1 for t in times if t > 10)),
            flush=True,
        )


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "burst":
        burst(args[0], int(args[1]))
    elif cmd == "latency":
        latency(args[0], int(args[1]))
    elif cmd == "close-after-request":
        close_after_request(args[0])
    elif cmd == "bomb":
        bomb(args[0], int(args[1]))
    elif cmd == "flood":
        flood(args[0], int(args[1]), int(args[2]), float(args[3]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
