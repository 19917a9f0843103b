//! The limit options of the `ringmq` binary, each against a raw peer (a Python script
//! speaking ZMTP by hand over a TCP socket) that crosses it: the binary's monitor
//! (`--monitor`, JSON on stderr) must report the typed reason, and the peer must see
//! its connection closed.

mod common;

use common::Proc;

/// A raw ZMTP 3.1 NULL peer: `RAW ENDPOINT MODE [N]`.
const RAW: &str = r#"
import socket, sys, time
host, port = sys.argv[1][len("tcp://"):].rsplit(":", 1)
mode = sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 0

def connect():
    return socket.create_connection((host, int(port)))

def greet(s):
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x01NULL" + b"\x00" * 16 + b"\x00" * 32)
    body = b"\x05READY\x0bSocket-Type" + (4).to_bytes(4, "big") + b"PUSH"
    s.sendall(b"\x04" + bytes([len(body)]) + body)

def frame(more, body):
    flags = 1 if more else 0
    if len(body) > 255:
        return bytes([flags | 2]) + len(body).to_bytes(8, "big") + body
    return bytes([flags, len(body)]) + body

def wait_closed(s, limit=20):
    # Reads (discarding) until the server closes; prints CLOSED with the time taken.
    start = time.time()
    s.settimeout(limit)
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    print("CLOSED %.3f" % (time.time() - start), flush=True)

def frames_of(s):
    # Yields (command, body) after the 64-byte greeting.
    buf = b""
    def need(k):
        nonlocal buf
        while len(buf) < k:
            d = s.recv(65536)
            if not d:
                raise EOFError
            buf += d
    need(64)
    buf = buf[64:]
    while True:
        need(2)
        flags = buf[0]
        if flags & 2:
            need(9)
            size = int.from_bytes(buf[1:9], "big")
            head = 9
        else:
            size = buf[1]
            head = 2
        need(head + size)
        yield flags & 4 != 0, buf[head:head + size]
        buf = buf[head + size:]

s = connect()
if mode == "silent":
    wait_closed(s)
elif mode == "cap":
    greet(s)
    t = connect()
    try:
        greet(t)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the greeting was out
    wait_closed(t)
    # The first is still served: it is open after the second was refused.
    s.settimeout(0.5)
    try:
        print("FIRST OPEN" if s.recv(65536) else "FIRST CLOSED", flush=True)
    except socket.timeout:
        print("FIRST OPEN", flush=True)
else:
    greet(s)
    if mode == "big":
        s.sendall(frame(False, b"x" * n))
    elif mode == "frames":
        for i in range(n):
            s.sendall(frame(i + 1 < n, b"f"))
    elif mode == "partial":
        s.sendall(b"\x00\x64" + b"y" * 10)
    elif mode == "ping":
        start = None
        try:
            for command, body in frames_of(s):
                if command and body.startswith(b"\x04PING"):
                    if start is None:
                        start = time.time()
                        print("PING", int.from_bytes(body[5:7], "big"), flush=True)
        except (EOFError, ConnectionResetError):
            pass
        print("CLOSED %.3f" % (time.time() - start), flush=True)
        sys.exit(0)
    wait_closed(s)
"#;

/// A ringmq PULL bound on loopback with `limits` and `--monitor`; its endpoint.
fn pull(limits: &[&str]) -> (Proc, String) {
    let mut args = vec!["pull", "--bind", "tcp://127.0.0.1:*", "--monitor"];
    args.extend_from_slice(limits);
    let p = Proc::ringmq(&args);
    let ep = p.listening();
    (p, ep)
}

/// Runs the raw peer in `mode` against `ep` and returns its stdout lines.
fn raw(ep: &str, mode: &[&str]) -> Vec<String> {
    let mut args = vec![ep];
    args.extend_from_slice(mode);
    let peer = Proc::python(RAW, &args);
    String::from_utf8_lossy(&peer.success())
        .lines()
        .map(str::to_owned)
        .collect()
}

fn closed(lines: &[String]) -> f64 {
    let line = lines
        .iter()
        .find(|l| l.starts_with("CLOSED"))
        .unwrap_or_else(|| panic!("the peer was not closed: {lines:?}"));
    line[7..].parse().expect("seconds")
}

#[test]
fn maxmsgsize_drops_a_peer_whose_message_is_too_large() {
    let (p, ep) = pull(&["--maxmsgsize", "100"]);
    closed(&raw(&ep, &["big", "200"]));
    let e = p.err_line("\"disconnected\"");
    assert!(
        e.contains("message of at least 200 bytes exceeds the limit of 100"),
        "{e}"
    );
}

#[test]
fn max_frames_drops_a_peer_with_too_many_frames() {
    let (p, ep) = pull(&["--max-frames", "2"]);
    closed(&raw(&ep, &["frames", "3"]));
    let e = p.err_line("\"disconnected\"");
    assert!(e.contains("more than 2 frames"), "{e}");
}

#[test]
fn handshake_ivl_drops_a_peer_that_never_greets() {
    let (p, ep) = pull(&["--handshake-ivl", "300"]);
    let took = closed(&raw(&ep, &["silent"]));
    let e = p.err_line("\"handshake_failed\"");
    assert!(e.contains("handshake timed out"), "{e}");
    assert!(took >= 0.25, "closed after {took} s, before the interval");
}

#[test]
fn heartbeat_ttl_and_timeout_are_sent_and_enforced() {
    let (p, ep) = pull(&[
        "--heartbeat",
        "100",
        "--heartbeat-ttl",
        "2500",
        "--heartbeat-timeout",
        "1500",
    ]);
    let lines = raw(&ep, &["ping"]);
    // The TTL travels in deciseconds.
    assert!(lines.iter().any(|l| l == "PING 25"), "{lines:?}");
    // Dropped for not answering, after the timeout rather than the interval.
    let took = closed(&lines);
    assert!(took >= 1.4, "closed {took} s after the first PING");
    let e = p.err_line("\"disconnected\"");
    assert!(e.contains("did not answer heartbeats in time"), "{e}");
}

#[test]
fn max_peers_refuses_connections_over_the_cap() {
    let (p, ep) = pull(&["--max-peers", "1"]);
    let lines = raw(&ep, &["cap"]);
    closed(&lines);
    assert!(lines.iter().any(|l| l == "FIRST OPEN"), "{lines:?}");
    let e = p.err_line("\"accept_refused\"");
    assert!(e.contains("cap of 1 accepted connections"), "{e}");
}

#[test]
fn partial_msg_timeout_drops_a_peer_that_never_finishes_a_message() {
    let (p, ep) = pull(&["--partial-msg-timeout", "200"]);
    closed(&raw(&ep, &["partial"]));
    let e = p.err_line("\"disconnected\"");
    assert!(e.contains("did not finish its message"), "{e}");
}

#[test]
fn idle_timeout_drops_a_silent_peer() {
    let (p, ep) = pull(&["--idle-timeout", "200"]);
    closed(&raw(&ep, &["idle"]));
    let e = p.err_line("\"disconnected\"");
    assert!(e.contains("sent no message within the idle timeout"), "{e}");
}
