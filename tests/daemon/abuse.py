#!/usr/bin/env python3
"""abuse.py — what an abusive client does to a node's ports, for
tests/daemon/abuse_test.sh (issue 16). Each command holds its connections
for SECS seconds (bounded), watching which ones the node closes, and prints
one line of key=value results.

  abuse.py conns HOST PORT N SECS [SRC]    N silent TCP connections
  abuse.py hellos HOST PORT N SECS [SRC]   N stalled TLS ClientHellos
  abuse.py op-stall HOST PORT CA CERT KEY NAME N BYTES SECS
        N operator connections (certificate CN NAME): TLS, a hello, then
        the first BYTES of a frame announced as 4 MiB - 1, and nothing more
  abuse.py http-hold HOST PORT N SECS SRC...
        N silent connections to the metrics port, spread over the source
        addresses SRC (127.0.0.x), while /healthz is probed from 127.0.0.1
        every 200 ms

Results: opened (connections made), closed (the node closed them within
SECS), first_close_s / last_close_s (when), and for http-hold probes and
probes_ok.
"""
import os
import select
import socket
import ssl
import struct
import sys
import time


def dial(host, port, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(5)
    s.connect((host, port))
    s.setblocking(False)
    return s


def watch(socks, secs, tick=None):
    """Holds socks for secs seconds; returns the times (s) the node closed
    each one it closed. tick() runs about every 200 ms."""
    t0 = time.monotonic()
    open_ = {s.fileno(): s for s in socks}
    closed = []
    next_tick = t0
    while time.monotonic() - t0 < secs:
        now = time.monotonic()
        if tick and now >= next_tick:
            tick()
            next_tick = now + 0.2
        if not open_:
            time.sleep(0.05)
            continue
        r, _, _ = select.select(list(open_), [], [], 0.05)
        for fd in r:
            s = open_[fd]
            try:
                data = s.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                closed.append(time.monotonic() - t0)
                del open_[fd]
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    return closed


def report(opened, closed, **extra):
    fields = {"opened": opened, "closed": len(closed),
              "first_close_s": "%.2f" % (min(closed) if closed else -1),
              "last_close_s": "%.2f" % (max(closed) if closed else -1)}
    fields.update(extra)
    print(" ".join("%s=%s" % kv for kv in fields.items()), flush=True)


def cmd_conns(host, port, n, secs, src=None, payload=None):
    socks = []
    for _ in range(n):
        try:
            s = dial(host, port, src)
            if payload:
                s.send(payload)
            socks.append(s)
        except OSError:
            pass
    report(len(socks), watch(socks, secs))


# A TLS record header announcing a 512-byte handshake record, and the
# first bytes of a ClientHello: the rest never comes.
STALLED_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def hello_frame(node):
    name = node.encode()
    body = (b"\x08\x01" + b"\x12" + varint(len(name)) + name +
            b"\x18" + varint(int(time.time() * 1000)) +
            b"\x20" + varint(int.from_bytes(os.urandom(7), "big") | 1) +
            b"\x38" + varint(4 << 20))
    return struct.pack(">IB", len(body) + 1, 1) + body


def cmd_op_stall(host, port, ca, cert, key, name, n, nbytes, secs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    socks = []
    for i in range(n):
        try:
            raw = socket.create_connection((host, port), timeout=5)
            s = ctx.wrap_socket(raw)
            s.sendall(hello_frame("%s#%d%d" % (name, os.getpid(), i)))
            # A frame of kind 19 (operator request) announced as 4 MiB - 1.
            s.sendall(struct.pack(">IB", (4 << 20) - 1, 19))
            chunk = b"\x00" * 65536
            left = nbytes
            while left > 0:
                s.sendall(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))
            s.setblocking(False)
            socks.append(s)
        except (OSError, ssl.SSLError):
            pass
    report(len(socks), watch(socks, secs))


def cmd_http_hold(host, port, n, secs, srcs):
    socks = []
    for i in range(n):
        try:
            socks.append(dial(host, port, srcs[i % len(srcs)]))
        except OSError:
            pass
    probes = [0, 0]

    def probe():
        probes[0] += 1
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
                data = b""
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    data += b
            if data.startswith(b"HTTP/1.1 200"):
                probes[1] += 1
        except OSError:
            pass

    closed = watch(socks, secs, probe)
    report(len(socks), closed, probes=probes[0], probes_ok=probes[1])


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, a = argv[1], argv[2:]
    if cmd in ("conns", "hellos") and len(a) in (4, 5):
        cmd_conns(a[0], int(a[1]), int(a[2]), float(a[3]),
                  a[4] if len(a) == 5 else None,
                  STALLED_HELLO if cmd == "hellos" else None)
    elif cmd == "op-stall" and len(a) == 9:
        cmd_op_stall(a[0], int(a[1]), a[2], a[3], a[4], a[5], int(a[6]),
                     int(a[7]), float(a[8]))
    elif cmd == "http-hold" and len(a) >= 5:
        cmd_http_hold(a[0], int(a[1]), int(a[2]), float(a[3]), a[4:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
