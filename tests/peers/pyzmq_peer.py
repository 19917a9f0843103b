#!/usr/bin/env python3
"""A libzmq peer (through pyzmq) for ringmq's interop tests.

It binds or connects one socket, optionally secured with PLAIN or CURVE, prints
`READY <endpoint>` on stdout once bound/connected, then runs one scenario:

  echo    receive multipart messages and send each one back unchanged, until a
          message whose first or last frame is b"END" arrives (echoed too), then exit 0.
          `echo forever` does not stop at END: a worker shared by several clients
          behind a load balancer, stopped by killing it.
  recv N  receive N messages, print `GOT <count> <total bytes>` and exit 0.
  send N  send N numbered messages, then exit 0 (lingering until delivered).
  count   receive until a message whose first or last frame is b"END", ignoring sync
          probes (first frame ending in b"-SYNC"; prints `SYNCED` once probes matching
          every --subscribe topic arrived, after cancelling the --unsubscribe topics),
          print `GOT <count> <total bytes>`.
  publish N  send sync probes (b"<topic>-SYNC" for each of TOPICS and END) every
          10 ms until a line arrives on stdin, then N messages [TOPIC-i, b""] over
          TOPICS, then [b"END"]. With --await-cancel (XPUB), it first waits, after the
          go-ahead, for an unsubscription message.
  ask     send PAYLOADS one by one and check each reply is identical (--route-to ID
          prefixes a routing id, retrying while a ROUTER does not know the peer yet;
          --delimiter prefixes an empty frame, for DEALER to REP), print `OK`.
  pipeline N  (DEALER to a REP) send N requests [b"", b"<i>"] without reading, then
          read replies until none arrives for 1 s; print `GOT <count>` (pyzmq only:
          the drop comparison of sockets/tests/rep_pipelining.rs).
  stream  (STREAM) echo each data frame to the peer it came from; print `CONNECTED`
          at the first peer's connect notification (a zero-length frame) and `CLOSED`
          at its disconnect notification, then exit 0 (pyzmq only).
In echo, a ROUTER prints `FROM <routing id>` for the first message; with --echo-meta
NAME (repeatable) each echoed message gets one more frame per NAME: the value of that
message property (zmq_msg_gets, e.g. User-Id or X-Name), or b"<none>".

ZAP (pyzmq's zmq.auth ThreadAuthenticator, or a fixed-status handler):
  --zap-plain USER:PASS     accept these PLAIN users
  --zap-curve-allow Z85KEY  accept these CURVE client keys (repeatable)
Z85 keys may start with '-': pass them as --public-key=KEY (with '=').
  --zap-curve-any           accept any CURVE client key
  --zap-deny-all            deny 127.0.0.1 (the deny list wins)
  --zap-status CODE         instead of zmq.auth, a raw handler answering every request
                            with CODE (200, 300, 400, 500) and user id "fixed-user"
  --zap-domain DOMAIN       the socket's ZMQ_ZAP_DOMAIN
  --metadata X-NAME:VALUE   ZMQ_METADATA of the socket (repeatable)
tests/peers/libzmq_peer.c implements the same interface for the system's libzmq.

Exit status 0 means the scenario completed; a timeout (--timeout ms) exits 3.
"""
import argparse
import select
import sys
import time

import zmq

TOPICS = [b"alpha", b"beta", b"gamma", b"delta"]
BIG = 16 << 20
# The payloads of `ask` (the same in libzmq_peer.c).
PAYLOADS = [
    [b"hello"],
    [b""],
    [b"", b"a", b"", b""],
    [(bytes(range(251)) * (BIG // 251 + 1))[:BIG]],
    [b"x" * 255, b"y" * 256],
    [b"END"],
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--type", required=True, help="socket type, e.g. DEALER")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--bind")
    g.add_argument("--connect")
    p.add_argument("--mechanism", choices=["null", "plain", "curve"], default="null")
    p.add_argument("--plain-server", action="store_true")
    p.add_argument("--username", default="")
    p.add_argument("--password", default="")
    p.add_argument("--curve-server", action="store_true")
    p.add_argument("--public-key", help="Z85 public key of this socket")
    p.add_argument("--secret-key", help="Z85 secret key of this socket")
    p.add_argument("--server-key", help="Z85 public key of the CURVE server")
    p.add_argument("--zap-plain", action="append", default=[], metavar="USER:PASS",
                   help="run pyzmq's ZAP authenticator accepting these PLAIN users")
    p.add_argument("--zap-curve-allow", action="append", default=[], metavar="Z85KEY")
    p.add_argument("--zap-curve-any", action="store_true")
    p.add_argument("--zap-deny-all", action="store_true")
    p.add_argument("--zap-status", type=int)
    p.add_argument("--zap-domain")
    p.add_argument("--metadata", action="append", default=[], metavar="X-NAME:VALUE")
    p.add_argument("--echo-meta", action="append", default=[], metavar="NAME")
    p.add_argument("--identity")
    p.add_argument("--subscribe", action="append", default=[])
    p.add_argument("--heartbeat-ivl", type=int, default=0)
    p.add_argument("--heartbeat-ttl", type=int, default=0)
    p.add_argument("--heartbeat-timeout", type=int, default=0)
    p.add_argument("--timeout", type=int, default=20000)
    p.add_argument("--route-to", help="ask: routing id to prefix (ROUTER)")
    p.add_argument("--delimiter", action="store_true", help="ask: prefix an empty frame")
    p.add_argument("--unsubscribe", action="append", default=[],
                   help="count: cancel these topics once synced, before saying SYNCED")
    p.add_argument("--await-cancel", action="store_true",
                   help="publish (XPUB): after the go-ahead, wait for a cancel message")
    p.add_argument("scenario", nargs="+")
    a = p.parse_args()

    ctx = zmq.Context.instance()
    auth = None
    if a.zap_status is not None:
        auth = FixedZap(ctx, a.zap_status)
    elif a.zap_plain or a.zap_curve_allow or a.zap_curve_any or a.zap_deny_all:
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(ctx)
        auth.start()
        if a.zap_deny_all:
            auth.deny("127.0.0.1")
        if a.zap_plain:
            auth.configure_plain(
                domain="*", passwords=dict(u.split(":", 1) for u in a.zap_plain)
            )
        if a.zap_curve_any:
            auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        elif a.zap_curve_allow:
            auth.configure_curve_callback(
                domain="*", credentials_provider=KeyList(a.zap_curve_allow)
            )
    s = ctx.socket(getattr(zmq, a.type))
    s.linger = 5000
    s.rcvtimeo = a.timeout
    s.sndtimeo = a.timeout
    if a.identity is not None:
        s.identity = a.identity.encode()
    if a.zap_domain is not None:
        s.zap_domain = a.zap_domain.encode()
    for m in a.metadata:
        s.setsockopt(zmq.METADATA, m.encode())
    if a.heartbeat_ivl:
        s.heartbeat_ivl = a.heartbeat_ivl
    if a.heartbeat_ttl:
        s.heartbeat_ttl = a.heartbeat_ttl
    if a.heartbeat_timeout:
        s.heartbeat_timeout = a.heartbeat_timeout
    if a.mechanism == "plain":
        if a.plain_server:
            s.plain_server = True
        else:
            s.plain_username = a.username.encode()
            s.plain_password = a.password.encode()
    elif a.mechanism == "curve":
        s.curve_secretkey = a.secret_key.encode()
        s.curve_publickey = a.public_key.encode()
        if a.curve_server:
            s.curve_server = True
        else:
            s.curve_serverkey = a.server_key.encode()
    if a.type == "SUB":
        for topic in a.subscribe:
            s.setsockopt(zmq.SUBSCRIBE, topic.encode())
    if a.route_to is not None:
        s.router_mandatory = True

    if a.bind:
        s.bind(a.bind)
        endpoint = s.getsockopt_string(zmq.LAST_ENDPOINT)
    else:
        s.connect(a.connect)
        endpoint = a.connect
    if a.type == "XSUB":
        for topic in a.subscribe:
            s.send(b"\x01" + topic.encode())
    print("READY", endpoint, flush=True)

    try:
        run(s, a.scenario, a)
    except zmq.Again:
        print("TIMEOUT", flush=True)
        sys.exit(3)
    s.close()
    if auth is not None:
        auth.stop()
    ctx.term()


class KeyList:
    """configure_curve_callback's provider: accepts the listed Z85 keys."""

    def __init__(self, keys):
        self.keys = {k.encode() for k in keys}

    def callback(self, domain, key):
        # pyzmq passes the key in Z85.
        return key in self.keys


class FixedZap:
    """A raw ZAP handler (RFC 27) answering every request with one status code."""

    def __init__(self, ctx, status):
        import threading

        self.sock = ctx.socket(zmq.REP)
        self.sock.linger = 0
        self.sock.bind("inproc://zeromq.zap.01")
        self.status = str(status).encode()
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self.done:
            if not poller.poll(50):
                continue
            req = self.sock.recv_multipart()
            user = b"fixed-user" if self.status == b"200" else b""
            self.sock.send_multipart([b"1.0", req[1], self.status, b"fixed", user, b""])

    def stop(self):
        self.done = True
        self.thread.join()
        self.sock.close()


def run(s, scenario, a):
    kind = scenario[0]
    if kind == "echo":
        first = True
        while True:
            frames = s.recv_multipart(copy=False)
            msg = [f.bytes for f in frames]
            if first and a.type == "ROUTER":
                print("FROM", msg[0].decode(errors="replace"), flush=True)
            first = False
            end = (
                len(scenario) < 2
                and msg
                and (msg[0] == b"END" or msg[-1] == b"END")
            )
            for name in a.echo_meta:
                try:
                    value = frames[-1].get(name)
                except zmq.ZMQError:
                    value = None
                if isinstance(value, str):
                    value = value.encode()
                msg.append(value if value is not None else b"<none>")
            s.send_multipart(msg)
            if end:
                return
    elif kind == "recv":
        n = int(scenario[1])
        total = 0
        for _ in range(n):
            total += sum(len(f) for f in s.recv_multipart())
        print("GOT", n, total, flush=True)
    elif kind == "send":
        n = int(scenario[1])
        for i in range(n):
            s.send(b"%d" % i)
    elif kind == "count":
        subs = [t.encode() for t in a.subscribe]
        seen = set()
        synced = False
        count = total = 0
        while True:
            msg = s.recv_multipart()
            if msg[0].endswith(b"-SYNC"):
                seen.update(t for t in subs if msg[0].startswith(t))
                if not synced and len(seen) == len(subs):
                    synced = True
                    for t in a.unsubscribe:
                        if a.type == "SUB":
                            s.setsockopt(zmq.UNSUBSCRIBE, t.encode())
                        else:
                            s.send(b"\x00" + t.encode())
                    print("SYNCED", flush=True)
                continue
            if msg[0] == b"END" or msg[-1] == b"END":
                break
            count += 1
            total += sum(len(f) for f in msg)
        print("GOT", count, total, flush=True)
    elif kind == "publish":
        n = int(scenario[1])
        while not select.select([sys.stdin], [], [], 0.01)[0]:
            for t in TOPICS + [b"END"]:
                s.send(t + b"-SYNC")
        while a.await_cancel and not s.recv().startswith(b"\x00"):
            pass
        for i in range(n):
            s.send_multipart([TOPICS[i % 4] + b"-%d" % i, b""])
        s.send(b"END")
    elif kind == "pipeline":
        n = int(scenario[1])
        for i in range(n):
            s.send_multipart([b"", b"%d" % i])
        s.rcvtimeo = 1000
        count = 0
        while True:
            try:
                s.recv_multipart()
            except zmq.Again:
                break
            count += 1
        print("GOT", count, flush=True)
    elif kind == "stream":
        peer = None
        while True:
            rid, data = s.recv_multipart()
            if data == b"":
                if peer is None:
                    peer = rid
                    print("CONNECTED", flush=True)
                elif rid == peer:
                    print("CLOSED", flush=True)
                    return
                continue
            s.send_multipart([rid, data])
    elif kind == "ask":
        prefix = []
        if a.route_to is not None:
            prefix.append(a.route_to.encode())
        if a.delimiter:
            prefix.append(b"")
        for payload in PAYLOADS:
            while True:
                try:
                    s.send_multipart(prefix + payload)
                    break
                except zmq.ZMQError as e:
                    if e.errno != zmq.EHOSTUNREACH:
                        raise
                    time.sleep(0.01)
            reply = s.recv_multipart()
            if reply != prefix + payload:
                print("MISMATCH", [len(f) for f in reply], flush=True)
                sys.exit(4)
        print("OK", flush=True)
    else:
        raise SystemExit("unknown scenario %r" % kind)


if __name__ == "__main__":
    main()
