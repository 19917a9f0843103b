#!/usr/bin/env python3
"""A libzmq peer (through pyzmq) for ringmq's interop tests.

It binds or connects one socket, optionally secured with PLAIN or CURVE, prints
`READY <endpoint>` on stdout once bound/connected, then runs one scenario:

  echo    receive multipart messages and send each one back unchanged, until a
          message whose first or last frame is b"END" arrives (echoed too), then exit 0.
  recv N  receive N messages, print `GOT <count> <total bytes>` and exit 0.
  send N  send N numbered messages, then exit 0 (lingering until delivered).

Exit status 0 means the scenario completed; a timeout (--timeout ms) exits 3.
"""
import argparse
import sys

import zmq


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
    p.add_argument("--identity")
    p.add_argument("--subscribe", action="append", default=[])
    p.add_argument("--heartbeat-ivl", type=int, default=0)
    p.add_argument("--timeout", type=int, default=20000)
    p.add_argument("scenario", nargs="+")
    a = p.parse_args()

    ctx = zmq.Context.instance()
    auth = None
    if a.zap_plain:
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_plain(domain="*", passwords=dict(u.split(":", 1) for u in a.zap_plain))
    s = ctx.socket(getattr(zmq, a.type))
    s.linger = 5000
    s.rcvtimeo = a.timeout
    s.sndtimeo = a.timeout
    if a.identity is not None:
        s.identity = a.identity.encode()
    if a.heartbeat_ivl:
        s.heartbeat_ivl = a.heartbeat_ivl
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
    for topic in a.subscribe:
        s.setsockopt(zmq.SUBSCRIBE, topic.encode())

    if a.bind:
        s.bind(a.bind)
        endpoint = s.getsockopt_string(zmq.LAST_ENDPOINT)
    else:
        s.connect(a.connect)
        endpoint = a.connect
    print("READY", endpoint, flush=True)

    try:
        run(s, a.scenario)
    except zmq.Again:
        print("TIMEOUT", flush=True)
        sys.exit(3)
    s.close()
    if auth is not None:
        auth.stop()
    ctx.term()


def run(s, scenario):
    kind = scenario[0]
    if kind == "echo":
        while True:
            msg = s.recv_multipart()
            s.send_multipart(msg)
            if msg and (msg[0] == b"END" or msg[-1] == b"END"):
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
    else:
        raise SystemExit("unknown scenario %r" % kind)


if __name__ == "__main__":
    main()
