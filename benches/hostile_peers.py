#!/usr/bin/env python3
"""What a hostile peer costs a server: ringmq (the `ringmq pull` CLI) against libzmq
(a pyzmq PULL), measured the same way in the same run. Not a test: it prints a table
for docs/RELIABILITY.md.

Usage: benches/hostile_peers.py RINGMQ_BINARY [PYTHON_WITH_PYZMQ]

Each scenario starts a fresh server process (bound on loopback), plays raw ZMTP 3.1
NULL peers against it over TCP, and reads the server's RSS (VmRSS) and descriptor count
from /proc; `dropped` says whether the server closed the hostile connection.

- endless: one peer sends 8 MiB of empty MORE frames (a message that never ends);
- idle: 500 peers complete the handshake and say nothing for 3 s;
- partial: 50 peers send the header of a 1 MiB frame and 1 KiB of it, then stall 3 s;
- flood: 2,000 connections that never greet, held 3 s.
"""
import os
import socket
import subprocess
import sys
import time

RINGMQ = sys.argv[1]
PYTHON = sys.argv[2] if len(sys.argv) > 2 else sys.executable

LIBZMQ_SERVER = r"""
import sys, zmq
ctx = zmq.Context.instance()
ctx.set(zmq.MAX_SOCKETS, 8192)
s = ctx.socket(zmq.PULL)
for name, value in [a.split("=") for a in sys.argv[1:]]:
    s.setsockopt(getattr(zmq, name), int(value))
port = s.bind_to_random_port("tcp://127.0.0.1")
print("tcp://127.0.0.1:%d" % port, flush=True)
while True:
    s.recv_multipart()
"""


def start_libzmq(opts):
    p = subprocess.Popen([PYTHON, "-c", LIBZMQ_SERVER] + opts, stdout=subprocess.PIPE,
                         text=True)
    return p, p.stdout.readline().strip()


def start_ringmq(opts):
    p = subprocess.Popen([RINGMQ, "pull", "--bind", "tcp://127.0.0.1:*"] + opts,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "listening on" in line:
            return p, line.split()[-1]
    raise RuntimeError("ringmq did not start")


def rss_fds(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return rss / 1024.0, len(os.listdir("/proc/%d/fd" % pid))


def connect(ep):
    host, port = ep[len("tcp://"):].rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    return s


def greet(s):
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x01NULL" + b"\x00" * 16 + b"\x00" * 32)
    body = b"\x05READY\x0bSocket-Type" + (4).to_bytes(4, "big") + b"PUSH"
    s.sendall(b"\x04" + bytes([len(body)]) + body)
    s.settimeout(5)
    got = b""
    while len(got) < 64 + 2:
        d = s.recv(4096)
        if not d:
            break
        got += d


def closed(s, wait=0.2):
    # wait=0: only what already arrived (a non-blocking check).
    if wait:
        s.settimeout(wait)
    else:
        s.setblocking(False)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (socket.timeout, BlockingIOError):
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def endless(ep, pid):
    s = connect(ep)
    greet(s)
    base, _ = rss_fds(pid)
    chunk = b"\x01\x00" * 65536  # 128 KiB of empty MORE frames
    sent = 0
    try:
        while sent < 8 << 20:
            s.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    time.sleep(1.0)
    rss, _ = rss_fds(pid)
    return "%.1f MiB after %d KiB sent" % (rss - base, sent >> 10), closed(s)


def many(ep, pid, n, setup, hold):
    base, base_fds = rss_fds(pid)
    socks = []
    for _ in range(n):
        s = connect(ep)
        setup(s)
        socks.append(s)
    time.sleep(0.5)
    rss, fds = rss_fds(pid)
    time.sleep(hold)
    dropped = sum(closed(s, 0) for s in socks)
    _, fds_after = rss_fds(pid)
    for s in socks:
        s.close()
    return ("+%.1f MiB, +%d fds; %d dropped by %.1f s, +%d fds then"
            % (rss - base, fds - base_fds, dropped, hold + 0.5, fds_after - base_fds),
            dropped == n)


def idle(ep, pid):
    return many(ep, pid, 500, greet, 2.5)


def partial(ep, pid):
    def setup(s):
        greet(s)
        s.sendall(b"\x02" + (1 << 20).to_bytes(8, "big") + b"z" * 1024)
    return many(ep, pid, 50, setup, 2.5)


def flood(ep, pid):
    return many(ep, pid, 2000, lambda s: None, 2.5)


# name, scenario, ringmq options without the limit, ringmq options with it.
SCENARIOS = [
    ("endless multipart (8 MiB of empty MORE frames)", endless,
     ["--max-frames", "0"], []),
    ("500 idle handshaken peers, 3 s", idle, [], ["--idle-timeout", "1000"]),
    ("50 peers stalled inside a 1 MiB frame, 3 s", partial,
     [], ["--partial-msg-timeout", "1000"]),
    ("2,000 connections that never greet, 3 s", flood, [], ["--max-peers", "100"]),
]


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    print("| scenario | libzmq 4.3.5 (pyzmq), defaults | ringmq without the limit "
          "| ringmq with the limit |")
    print("|---|---|---|---|")
    for name, fn, without, with_limit in SCENARIOS:
        cells = []
        for start, opts in [(start_libzmq, []), (start_ringmq, without),
                            (start_ringmq, with_limit)]:
            p, ep = start(opts)
            try:
                time.sleep(0.3)
                what, dropped = fn(ep, p.pid)
                label = " ".join(opts) if opts else "defaults"
                cells.append("%s; %s (%s)" % (what, "dropped" if dropped else "kept", label))
            finally:
                p.kill()
                p.wait()
        print("| %s | %s |" % (name, " | ".join(cells)), flush=True)


main()
