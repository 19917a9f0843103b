//! The `ringmq` binary against pyzmq (libzmq 4.3.5) peers, and its errors.

mod common;

use common::{raw, run_ringmq, Proc};

/// Reads the peer's `READY <endpoint>` line.
fn ready(p: &Proc) -> String {
    let line = p.text_line();
    line.strip_prefix("READY ")
        .unwrap_or_else(|| panic!("peer said {line:?}"))
        .to_owned()
}

fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ringmq-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

const PUBLISHER: &str = r#"
import time, zmq
s = zmq.Context.instance().socket(zmq.PUB)
port = s.bind_to_random_port("tcp://127.0.0.1")
print("READY tcp://127.0.0.1:%d" % port, flush=True)
end = time.time() + 30
i = 0
while time.time() < end:
    s.send_multipart([b"news", b"%d" % i])
    s.send_multipart([b"weather", b"%d" % i])
    s.send(b"weatherman")
    i += 1
    time.sleep(0.01)
"#;

#[test]
fn sub_filters_topics_from_a_libzmq_publisher() {
    let publisher = Proc::python(PUBLISHER, &[]);
    let ep = ready(&publisher);
    let sub = Proc::ringmq(&[
        "sub",
        "--connect",
        &ep,
        "--subscribe",
        "weather",
        "--count",
        "8",
    ]);
    let got = lines(&sub.success());
    assert_eq!(got.len(), 8, "{got:?}");
    assert!(got.iter().all(|l| l.starts_with("weather")), "{got:?}");
    assert!(got.iter().any(|l| l.starts_with("weather|")), "{got:?}");
    assert!(got.iter().any(|l| l == "weatherman"), "{got:?}");
    // Without --subscribe a SUB takes everything.
    let all = Proc::ringmq(&["sub", "--connect", &ep, "--count", "12"]);
    let got = lines(&all.success());
    assert!(got.iter().any(|l| l.starts_with("news|")), "{got:?}");
}

const PUSHER: &str = r#"
import sys, zmq
s = zmq.Context.instance().socket(zmq.PUSH)
s.linger = -1  # until delivered (the test bounds the time)
port = s.bind_to_random_port("tcp://127.0.0.1")
print("READY tcp://127.0.0.1:%d" % port, flush=True)
for i in range(int(sys.argv[1])):
    s.send(b"%d" % i)
s.close()
"#;

#[test]
fn pull_counts_messages_from_libzmq_on_every_backend() {
    for backend in ["uring", "epoll", "compio", "monoio"] {
        let pusher = Proc::python(PUSHER, &["100"]);
        let ep = ready(&pusher);
        let pull = Proc::ringmq(&[
            "pull",
            "--connect",
            &ep,
            "--count",
            "100",
            "--backend",
            backend,
            "--monitor",
        ]);
        let got = lines(&pull.success());
        let want: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(got, want, "backend {backend}");
        pusher.success();
    }
}

const PULLER: &str = r#"
import sys, zmq
s = zmq.Context.instance().socket(zmq.PULL)
s.rcvtimeo = 20000
port = s.bind_to_random_port("tcp://127.0.0.1")
print("READY tcp://127.0.0.1:%d" % port, flush=True)
n = int(sys.argv[1])
frames = [s.recv_multipart() for _ in range(n)]
print("GOT", n, sum(len(f) for m in frames for f in m), flush=True)
for m in frames:
    print(",".join(f.hex() for f in m), flush=True)
"#;

#[test]
fn push_sends_stdin_lines_to_libzmq() {
    let puller = Proc::python(PULLER, &["50"]);
    let ep = ready(&puller);
    let input: String = (0..50).map(|i| format!("m{i}|x\n")).collect();
    let (code, _, err) = run_ringmq(&["push", "--connect", &ep], input.as_bytes());
    assert_eq!(code, Some(0), "{err}");
    let total: usize = (0..50).map(|i| format!("m{i}").len() + 1).sum();
    assert_eq!(puller.text_line(), format!("GOT 50 {total}"));
    // Two frames each.
    assert_eq!(puller.text_line(), "6d30,78");
}

#[test]
fn req_and_rep_talk_to_libzmq() {
    let rep = Proc::python(
        r#"
import zmq
s = zmq.Context.instance().socket(zmq.REP)
port = s.bind_to_random_port("tcp://127.0.0.1")
print("READY tcp://127.0.0.1:%d" % port, flush=True)
for _ in range(2):
    m = s.recv_multipart()
    s.send_multipart([b"ok"] + m)
"#,
        &[],
    );
    let ep = ready(&rep);
    let (code, out, err) = run_ringmq(&["req", "--connect", &ep, "--monitor"], b"a\nb|c\n");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lines(&out), ["ok|a", "ok|b|c"]);
    rep.success();

    // ringmq REP: prints each request, answers with the next stdin line.
    let mut ours = Proc::ringmq(&["rep", "--bind", "tcp://127.0.0.1:*", "--count", "2"]);
    let ep = ours.listening();
    let req = Proc::python(
        r#"
import sys, zmq
s = zmq.Context.instance().socket(zmq.REQ)
s.rcvtimeo = 20000
s.connect(sys.argv[1])
for q in ([b"q1"], [b"q2", b"x"]):
    s.send_multipart(q)
    print("|".join(f.decode() for f in s.recv_multipart()), flush=True)
"#,
        &[&ep],
    );
    assert_eq!(ours.text_line(), "q1");
    ours.write(b"a1\n");
    assert_eq!(req.text_line(), "a1");
    assert_eq!(ours.text_line(), "q2|x");
    ours.write(b"a2|y\n");
    assert_eq!(req.text_line(), "a2|y");
    ours.success();
    req.success();
}

#[test]
fn router_and_dealer_use_identities_with_libzmq() {
    // ringmq ROUTER, libzmq DEALER "alice".
    let mut router = Proc::ringmq(&["router", "--bind", "tcp://127.0.0.1:*"]);
    let ep = router.listening();
    let dealer = Proc::python(
        r#"
import sys, zmq
s = zmq.Context.instance().socket(zmq.DEALER)
s.identity = b"alice"
s.rcvtimeo = 20000
s.connect(sys.argv[1])
s.send_multipart([b"hello", b"there"])
print("|".join(f.decode() for f in s.recv_multipart()), flush=True)
"#,
        &[&ep],
    );
    assert_eq!(router.text_line(), "616c696365|hello|there");
    router.write(b"616c696365|world\n");
    assert_eq!(dealer.text_line(), "world");
    dealer.success();
    // Ctrl-C closes cleanly with exit code 130.
    router.interrupt();
    let (status, _) = router.wait();
    assert_eq!(status.code(), Some(130));

    // ringmq DEALER "bob", libzmq ROUTER.
    let lib_router = Proc::python(
        r#"
import zmq
s = zmq.Context.instance().socket(zmq.ROUTER)
s.rcvtimeo = 20000
port = s.bind_to_random_port("tcp://127.0.0.1")
print("READY tcp://127.0.0.1:%d" % port, flush=True)
m = s.recv_multipart()
print("FROM", m[0].decode(), m[1].decode(), flush=True)
s.send_multipart([m[0], b"back", b"2"])
"#,
        &[],
    );
    let ep = ready(&lib_router);
    let mut dealer = Proc::ringmq(&[
        "dealer",
        "--connect",
        &ep,
        "--identity",
        "bob",
        "--count",
        "1",
    ]);
    dealer.write(b"hi\n");
    assert_eq!(lib_router.text_line(), "FROM bob hi");
    assert_eq!(lines(&dealer.success()), ["back|2"]);
}

#[test]
fn curve_server_accepts_only_keys_from_the_directory() {
    let allowed = temp_dir("allowed");
    let other = temp_dir("other");
    let (code, out, err) = run_ringmq(&["keygen"], b"");
    assert_eq!(code, Some(0), "{err}");
    let keygen = lines(&out);
    assert_eq!(keygen[0], "== CURVE PUBLIC KEY ==");
    assert_eq!(keygen[2], "== CURVE SECRET KEY ==");
    let (server_public, server_secret) = (keygen[1].clone(), keygen[3].clone());
    assert_eq!((server_public.len(), server_secret.len()), (40, 40));
    // zmq.auth writes NAME.key (public) and NAME.key_secret.
    let certs = Proc::python(
        r#"
import sys, zmq.auth
zmq.auth.create_certificates(sys.argv[1], "client")
zmq.auth.create_certificates(sys.argv[2], "intruder")
print("DONE", flush=True)
"#,
        &[allowed.to_str().unwrap(), other.to_str().unwrap()],
    );
    assert_eq!(certs.text_line(), "DONE");
    certs.success();

    let server_flag = format!("--curve-server={server_secret}");
    let pull = Proc::ringmq(&[
        "pull",
        "--bind",
        "tcp://127.0.0.1:*",
        &server_flag,
        "--zap-curve-keys",
        allowed.to_str().unwrap(),
        "--count",
        "1",
        "--monitor",
    ]);
    let ep = pull.listening();
    let mut clients = Proc::python(
        r#"
import sys, zmq, zmq.auth
allowed, other, server, ep = sys.argv[1:5]
ctx = zmq.Context.instance()
def push(cert, msg):
    public, secret = zmq.auth.load_certificate(cert)
    s = ctx.socket(zmq.PUSH)
    s.curve_publickey, s.curve_secretkey = public, secret
    s.curve_serverkey = server.encode()
    s.linger = 0
    s.connect(ep)
    s.send(msg)
    return s
i = push(other + "/intruder.key_secret", b"intruder")
print("INTRUDER", flush=True)
sys.stdin.readline()
c = push(allowed + "/client.key_secret", b"welcome")
sys.stdin.readline()
"#,
        &[
            allowed.to_str().unwrap(),
            other.to_str().unwrap(),
            &server_public,
            &ep,
        ],
    );
    assert_eq!(clients.text_line(), "INTRUDER");
    let refused = pull.err_line("handshake_failed_auth");
    assert!(refused.contains("\"status\":400"), "{refused}");
    clients.write(b"go\n");
    assert_eq!(lines(&pull.success()), ["welcome"]);
    clients.write(b"done\n");
    clients.success();
    let _ = std::fs::remove_dir_all(allowed);
    let _ = std::fs::remove_dir_all(other);
}

#[test]
fn proxy_forwards_between_libzmq_publishers_and_subscribers() {
    let proxy = Proc::ringmq(&[
        "proxy",
        "--frontend",
        "xsub:@tcp://127.0.0.1:*",
        "--backend",
        "xpub:tcp://127.0.0.1:*",
        "--control",
        "rep:@tcp://127.0.0.1:*",
    ]);
    let (fe, be, ctl) = (proxy.listening(), proxy.listening(), proxy.listening());
    let peers = Proc::python(
        r#"
import sys, time, zmq
fe, be, ctl = sys.argv[1:4]
ctx = zmq.Context.instance()
pub = ctx.socket(zmq.PUB); pub.connect(fe)
sub = ctx.socket(zmq.SUB); sub.setsockopt(zmq.SUBSCRIBE, b"a"); sub.connect(be)
got = []
end = time.time() + 30
i = 0
while len(got) < 5 and time.time() < end:
    pub.send(b"a-%d" % i); pub.send(b"b-%d" % i); i += 1
    while sub.poll(10):
        got.append(sub.recv())
assert len(got) >= 5, got
assert all(m.startswith(b"a-") for m in got), got
c = ctx.socket(zmq.REQ); c.rcvtimeo = 10000; c.connect(ctl)
c.send(b"STATISTICS")
st = c.recv_multipart()
print("STATS", *[int.from_bytes(f, sys.byteorder) for f in st], flush=True)
c.send(b"TERMINATE")
print("TERM", c.recv().decode(), flush=True)
"#,
        &[&fe, &be, &ctl],
    );
    let stats: Vec<u64> = peers
        .text_line()
        .strip_prefix("STATS ")
        .expect("STATS line")
        .split(' ')
        .map(|v| v.parse().expect("number"))
        .collect();
    assert_eq!(stats.len(), 8, "{stats:?}");
    // Frontend in = backend out (all forwarded), at least the 5 seen; the subscription
    // went the other way.
    assert!(stats[0] >= 5 && stats[6] == stats[0], "{stats:?}");
    assert!(stats[4] >= 1 && stats[2] == stats[4], "{stats:?}");
    assert_eq!(peers.text_line(), "TERM TERMINATE");
    peers.success();
    proxy.success();
}

#[test]
fn raw_mode_round_trips_arbitrary_bytes() {
    let all: Vec<u8> = (0..=255).collect();
    let frames: [&[u8]; 3] = [&all, b"", b"\n|\r\0"];
    // libzmq PUSH -> ringmq PULL --raw.
    let pull = Proc::ringmq(&[
        "pull",
        "--raw",
        "--bind",
        "tcp://127.0.0.1:*",
        "--count",
        "2",
        "--monitor",
    ]);
    let ep = pull.listening();
    let pusher = Proc::python(
        r#"
import sys, zmq
s = zmq.Context.instance().socket(zmq.PUSH)
s.linger = -1  # until delivered (the test bounds the time)
s.connect(sys.argv[1])
s.send_multipart([bytes(range(256)), b"", b"\n|\r\0"])
s.send(b"x")
s.close()
"#,
        &[&ep],
    );
    let out = pull.success();
    pusher.success();
    let mut want = raw(&frames);
    want.extend(raw(&[b"x"]));
    assert_eq!(out, want);

    // ringmq PUSH --raw -> libzmq PULL.
    let puller = Proc::python(PULLER, &["1"]);
    let ep = ready(&puller);
    let (code, _, err) = run_ringmq(&["push", "--raw", "--connect", &ep], &raw(&frames));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(puller.text_line(), "GOT 1 260");
    let hex: Vec<String> = frames
        .iter()
        .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    assert_eq!(puller.text_line(), hex.join(","));
}

/// Runs a failing command: asserts the exit code and a single stderr line containing
/// `needle`.
fn fails(args: &[&str], code: i32, needle: &str) {
    let (got, _, err) = run_ringmq(args, b"");
    assert_eq!(got, Some(code), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    if code != 2 {
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ringmq: "), "{err}");
    }
}

#[test]
fn errors_name_the_problem_and_exit_non_zero() {
    fails(
        &["pull", "--bind", "tcp://127.0.0.1:notaport"],
        1,
        "cannot bind tcp://127.0.0.1:notaport: invalid endpoint",
    );
    fails(
        &["push", "--connect", "bogus://x"],
        1,
        "cannot connect to bogus://x: invalid endpoint",
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let ep = format!("tcp://{}", taken.local_addr().unwrap());
    fails(
        &["pull", "--bind", &ep],
        1,
        &format!("cannot bind {ep}: address in use"),
    );
    fails(
        &[
            "sub",
            "--connect",
            "tcp://127.0.0.1:1",
            "--curve-client",
            "--server-key",
            "short",
        ],
        1,
        "bad --server-key: not a Z85 CURVE key",
    );
    fails(
        &["pull", "--bind", "tcp://127.0.0.1:*", "--curve-server", "x"],
        1,
        "bad --curve-server secret key",
    );
    fails(
        &[
            "pull",
            "--bind",
            "tcp://127.0.0.1:*",
            "--curve-server",
            "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
            "--zap-curve-keys",
            "/nonexistent/keys",
        ],
        1,
        "cannot read key directory /nonexistent/keys",
    );
    fails(&["pull", "--bogus"], 2, "unexpected argument '--bogus'");
    fails(&["pull"], 2, "give at least one --bind or --connect");
    fails(
        &["push", "--connect", &ep, "--subscribe", "x"],
        2,
        "--subscribe applies to sub",
    );
    // --timeout: nothing arrives.
    fails(
        &["pull", "--connect", &ep, "--timeout", "300"],
        3,
        "timed out: no message within 300 ms",
    );
}

#[test]
fn ctrl_c_closes_after_lingering_and_twice_exits_at_once() {
    // Nobody listens: the message stays queued, so close lingers.
    // (An IPC path nobody binds: a freed TCP port could be taken by another test's peer.)
    let ep = format!(
        "ipc://{}/ringmq-cli-{}-nobody",
        std::env::temp_dir().display(),
        std::process::id()
    );
    let mut push = Proc::ringmq(&["push", "--connect", &ep, "--linger", "700"]);
    push.write(b"queued\n");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let start = std::time::Instant::now();
    push.interrupt();
    let (status, _) = push.wait();
    let took = start.elapsed();
    assert_eq!(status.code(), Some(130));
    assert!(took >= std::time::Duration::from_millis(600), "{took:?}");

    // Default linger (forever): the second Ctrl-C ends the wait.
    let mut push = Proc::ringmq(&["push", "--connect", &ep]);
    push.write(b"queued\n");
    std::thread::sleep(std::time::Duration::from_millis(300));
    push.interrupt();
    std::thread::sleep(std::time::Duration::from_millis(300));
    push.interrupt();
    let (status, _) = push.wait();
    assert_eq!(status.code(), Some(130));
}

#[test]
fn plain_server_checks_passwords_of_libzmq_clients() {
    let pull = Proc::ringmq(&[
        "pull",
        "--bind",
        "tcp://127.0.0.1:*",
        "--plain-server",
        "--plain",
        "alice:secret",
        "--count",
        "1",
        "--monitor",
    ]);
    let ep = pull.listening();
    let mut clients = Proc::python(
        r#"
import sys, zmq
ctx = zmq.Context.instance()
def push(user, password, msg):
    s = ctx.socket(zmq.PUSH)
    s.plain_username, s.plain_password = user, password
    s.linger = 0
    s.connect(sys.argv[1])
    s.send(msg)
    return s
w = push(b"alice", b"wrong", b"intruder")
print("WRONG", flush=True)
sys.stdin.readline()
g = push(b"alice", b"secret", b"welcome")
sys.stdin.readline()
"#,
        &[&ep],
    );
    assert_eq!(clients.text_line(), "WRONG");
    let refused = pull.err_line("handshake_failed_auth");
    assert!(refused.contains("\"status\":400"), "{refused}");
    clients.write(b"go\n");
    assert_eq!(lines(&pull.success()), ["welcome"]);
    clients.write(b"done\n");
    clients.success();
}

#[test]
fn stream_talks_to_a_plain_tcp_client_with_hex_ids() {
    let mut stream = Proc::ringmq(&["stream", "--bind", "tcp://127.0.0.1:*"]);
    let ep = stream.listening();
    let client = Proc::python(
        r#"
import socket, sys
host, port = sys.argv[1].rsplit("//", 1)[1].rsplit(":", 1)
c = socket.create_connection((host, int(port)), timeout=20)
c.sendall(b"hello")
got = b""
while True:
    data = c.recv(100)
    if not data:
        break
    got += data
print("GOT", got.decode(), flush=True)
"#,
        &[&ep],
    );
    // The connect notification, then the client's bytes, both with the peer's id.
    let connected = stream.text_line();
    let id = connected
        .strip_suffix('|')
        .unwrap_or_else(|| panic!("a notification: {connected:?}"))
        .to_owned();
    assert_eq!(id.len(), 10, "5 bytes in hex: {id}");
    assert_eq!(stream.text_line(), format!("{id}|hello"));
    // Bytes to that peer, then a zero-length frame closes it.
    stream.write(format!("{id}|world\n{id}|\n").as_bytes());
    assert_eq!(client.text_line(), "GOT world");
    client.success();
    stream.interrupt();
    let (status, _) = stream.wait();
    assert_eq!(status.code(), Some(130));
}

/// The draft types: SERVER prints and takes the u32 routing id (8 hex digits) as the
/// first field; CLIENT is single-part; PEER reports `connect_peer`'s id on stderr and
/// speaks first to it.
#[test]
fn server_and_peer_route_by_hex_ids() {
    let mut server = Proc::ringmq(&["server", "--bind", "tcp://127.0.0.1:*"]);
    let ep = server.listening();
    let mut client = Proc::ringmq(&["client", "--connect", &ep, "--count", "1"]);
    client.write(b"two|frames\nhello\n");
    client.err_line("single-part");
    let (id, body) = {
        let line = server.text_line();
        let (id, body) = line.split_once('|').expect("ID|body");
        (id.to_owned(), body.to_owned())
    };
    assert_eq!(body, "hello", "the multipart line was skipped");
    assert_eq!(id.len(), 8, "a u32 in hex: {id}");
    server.write(format!("zz|not an id\n{id}|world\n").as_bytes());
    server.err_line("not a routing id");
    assert_eq!(client.text_line(), "world");
    client.success();
    server.interrupt();
    assert_eq!(server.wait().0.code(), Some(130));

    let mut listener = Proc::ringmq(&["peer", "--bind", "tcp://127.0.0.1:*"]);
    let ep = listener.listening();
    let mut dialer = Proc::ringmq(&["peer", "--connect", &ep, "--count", "1"]);
    let said = dialer.err_line("ringmq: peer ");
    let to = said
        .strip_prefix("ringmq: peer ")
        .and_then(|r| r.split(' ').next())
        .expect("ringmq: peer ID at EP")
        .to_owned();
    dialer.write(format!("{to}|ping\n").as_bytes());
    let line = listener.text_line();
    let (back, body) = line.split_once('|').expect("ID|body");
    assert_eq!(body, "ping");
    listener.write(format!("{back}|pong\n").as_bytes());
    assert_eq!(dialer.text_line(), format!("{to}|pong"));
    dialer.success();
    listener.interrupt();
    assert_eq!(listener.wait().0.code(), Some(130));
}

/// SCATTER sends stdin lines to a GATHER, which prints them; GATHER takes no stdin and
/// SCATTER prints nothing.
#[test]
fn scatter_to_gather() {
    let gather = Proc::ringmq(&["gather", "--bind", "tcp://127.0.0.1:*", "--count", "3"]);
    let ep = gather.listening();
    let (code, out, err) = run_ringmq(&["scatter", "--connect", &ep], b"one\ntwo\nthree\n");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.is_empty());
    let out = gather.success();
    assert_eq!(lines(&out), ["one", "two", "three"]);
}

/// RADIO / DISH over udp://: RADIO takes `GROUP|body`, DISH prints it for the groups
/// it joined only; lines that are not `GROUP|body` (or whose group is over 255 bytes)
/// are skipped with a message.
#[test]
fn radio_and_dish_carry_the_group_as_the_first_field() {
    let dish = Proc::ringmq(&[
        "dish",
        "--bind",
        "udp://127.0.0.1:*",
        "--join",
        "tv",
        "--join",
        "radio",
        "--count",
        "3",
    ]);
    let ep = dish.listening();
    assert!(ep.starts_with("udp://127.0.0.1:"), "{ep}");
    let mut radio = Proc::ringmq(&["radio", "--connect", &ep]);
    let long = "g".repeat(256);
    radio.write(format!("no group\n{long}|too long\nnews|never\ntv|one\n").as_bytes());
    radio.err_line("RADIO takes GROUP|body");
    radio.err_line("255 bytes");
    radio.write(b"radio|two\ntv|three\n");
    radio.close_stdin();
    radio.success();
    let out = dish.success();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "tv|one\nradio|two\ntv|three\n"
    );
}

#[test]
fn xpub_manual_and_welcome_flags_with_a_libzmq_subscriber() {
    let mut xpub = Proc::ringmq(&[
        "xpub",
        "--bind",
        "tcp://127.0.0.1:*",
        "--xpub-manual",
        "--xpub-welcome",
        "tHELLO",
        "--sndbuf",
        "65536",
    ]);
    let ep = xpub.listening();
    let sub = Proc::python(
        r#"
import sys, zmq
s = zmq.Context.instance().socket(zmq.SUB)
s.rcvtimeo = 20000
s.setsockopt(zmq.SUBSCRIBE, b"t")
s.connect(sys.argv[1])
print(s.recv().decode(), flush=True)
print(s.recv().decode(), flush=True)
"#,
        &[&ep],
    );
    // The notice is printed, then granted by the CLI (XPUB_MANUAL).
    assert_eq!(xpub.line(), b"\x01t");
    xpub.write(b"t1\n");
    assert_eq!(sub.text_line(), "tHELLO", "the welcome message first");
    assert_eq!(sub.text_line(), "t1");
    sub.success();
    xpub.interrupt();
    let _ = xpub.wait();
}
