//! Socket options of libzmq 4.3 observed by libzmq 4.3.5 peers through pyzmq (inline
//! scripts). A missing pyzmq FAILS these tests with instructions (see
//! `pyzmq::python`).

mod common;
#[path = "../../zmtp/tests/pyzmq/mod.rs"]
mod pyzmq;

use std::time::Duration;

use ringmq_sockets::{Bytes, Context, SocketOption};

fn run<F: std::future::Future<Output = ()>>(f: impl FnOnce(Context<ringmq_proactor::Native>) -> F) {
    common::run_for(Duration::from_secs(30), f)
}

/// Runs an inline pyzmq script with `endpoint` as its argument (stdin and stdout
/// piped: [`step`] lets it go on).
fn run_script(script: &str, endpoint: &str) -> std::process::Child {
    std::process::Command::new(pyzmq::python())
        .args(["-c", script, endpoint])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn python")
}

/// Writes a line to the script's stdin: it waits for one between steps.
fn step(child: &mut std::process::Child) {
    use std::io::Write;
    let stdin = child.stdin.as_mut().expect("piped stdin");
    stdin
        .write_all(b"go\n")
        .and_then(|()| stdin.flush())
        .expect("script alive");
}

/// The stdout of a script started by [`run_script`], after asserting it exited 0.
fn finish_script(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("wait for python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "pyzmq script failed: {stdout}");
    stdout
}

const MANUAL_SUB: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.rcvtimeo = 10000
s.setsockopt(zmq.SUBSCRIBE, b"W")
s.setsockopt(zmq.SUBSCRIBE, b"news")
s.connect(sys.argv[1])
got = [s.recv() for _ in range(3)]
assert got == [b"WELCOME", b"news.1", b"news.2"], got
print("OK", flush=True)
"#;

/// XPUB_MANUAL and XPUB_WELCOME_MSG: the libzmq SUB asks for `W` and `news`; the
/// application grants `news` only, so `W2` never reaches it (the welcome message does,
/// sent whatever the subscriptions).
#[test]
fn xpub_manual_and_welcome_with_libzmq_sub() {
    run(|ctx| async move {
        let xpub = ctx.xpub();
        xpub.set_option(SocketOption::XpubManual(true)).unwrap();
        xpub.set_option(SocketOption::XpubWelcomeMsg(Bytes::from_static(b"WELCOME")))
            .unwrap();
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let child = run_script(MANUAL_SUB, &ep);
        for _ in 0..2 {
            let n = xpub.recv().await.unwrap();
            if n.frames()[0] == b"\x01news"[..] {
                xpub.subscribe(b"news").unwrap();
            } else {
                assert_eq!(n.frames()[0], &b"\x01W"[..]);
            }
        }
        for m in ["news.1", "W2", "news.2"] {
            xpub.send(m).await.unwrap();
        }
        xpub.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

const VERBOSER_SUBS: &str = r#"
import sys, zmq
ctx = zmq.Context()
a, b = ctx.socket(zmq.SUB), ctx.socket(zmq.SUB)
for s in (a, b):
    s.connect(sys.argv[1])
a.setsockopt(zmq.SUBSCRIBE, b"t")
sys.stdin.readline()
b.setsockopt(zmq.SUBSCRIBE, b"t")
sys.stdin.readline()
a.setsockopt(zmq.UNSUBSCRIBE, b"t")
sys.stdin.readline()
b.close(linger=0)
print("OK", flush=True)
"#;

/// XPUB_VERBOSER: both libzmq SUBs' subscribes, a's cancel while b still subscribes
/// (without VERBOSER it is not reported and this test times out), and b's topic when
/// it leaves are all reported.
#[test]
fn xpub_verboser_with_libzmq_subs() {
    run(|ctx| async move {
        let xpub = ctx.xpub();
        xpub.set_option(SocketOption::XpubVerboser(true)).unwrap();
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let mut child = run_script(VERBOSER_SUBS, &ep);
        let mut got = Vec::new();
        for i in 0..4 {
            got.push(xpub.recv().await.unwrap().frames()[0].clone());
            if i < 3 {
                step(&mut child);
            }
        }
        assert_eq!(got, [&b"\x01t"[..], b"\x01t", b"\x00t", b"\x00t"]);
        xpub.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

const INVERT_SUB: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.rcvtimeo = 10000
s.setsockopt(zmq.INVERT_MATCHING, 1)
s.setsockopt(zmq.SUBSCRIBE, b"a")
s.connect(sys.argv[1])
got = [s.recv() for _ in range(3)]
assert all(m.startswith(b"b") for m in got), got
print("OK", flush=True)
"#;

/// INVERT_MATCHING on both ends: our PUB sends the `a` messages to the peers that did
/// not subscribe to `a` only, and the libzmq SUB takes what does not match.
#[test]
fn invert_matching_with_libzmq_sub() {
    run(|ctx| async move {
        let xpub = ctx.xpub();
        xpub.set_option(SocketOption::InvertMatching(true)).unwrap();
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let child = run_script(INVERT_SUB, &ep);
        // The subscription arrived: from now on the SUB is known to want `a`.
        assert_eq!(xpub.recv().await.unwrap().frames()[0], &b"\x01a"[..]);
        for i in 0..3 {
            // Without INVERT_MATCHING on our side the SUB would get `a` first and
            // drop it, then `b`s never arrive: it would time out.
            xpub.send(format!("a{i}")).await.unwrap();
            xpub.send(format!("b{i}")).await.unwrap();
        }
        xpub.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

const LAST_VALUE_SUBS: &str = r#"
import sys, zmq
ctx = zmq.Context()
one = ctx.socket(zmq.SUB)
one.rcvtimeo = 10000
one.setsockopt(zmq.SUBSCRIBE, b"t")
one.connect(sys.argv[1])
assert one.recv() == b"t v1"
two = ctx.socket(zmq.SUB)
two.rcvtimeo = 10000
two.setsockopt(zmq.SUBSCRIBE, b"t")
two.connect(sys.argv[1])
assert two.recv() == b"t v1"
assert two.recv() == b"t v2"
got = one.recv()
assert got == b"t v2", got
print("OK", flush=True)
"#;

/// XPUB_MANUAL_LAST_VALUE: the cached value answers the new libzmq subscriber alone;
/// the first subscriber does not get it twice.
#[test]
fn xpub_manual_last_value_with_libzmq_subs() {
    run(|ctx| async move {
        let xpub = ctx.xpub();
        xpub.set_option(SocketOption::XpubManualLastValue(true))
            .unwrap();
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let child = run_script(LAST_VALUE_SUBS, &ep);
        for _ in 0..2 {
            assert_eq!(xpub.recv().await.unwrap().frames()[0], &b"\x01t"[..]);
            xpub.subscribe(b"t").unwrap();
            xpub.send("t v1").await.unwrap();
        }
        xpub.send("t v2").await.unwrap();
        xpub.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

const MULTIPART_XSUB: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.XSUB)
s.connect(sys.argv[1])
s.send_multipart([b"\x01a", b"data"])
s.send_multipart([b"\x01b", b"\x01c"])
s.rcvtimeo = 10000
assert s.recv() == b"adone"
print("OK", flush=True)
"#;

/// Subscriptions inside multi-part messages from a libzmq XSUB, parsed frame by frame
/// as libzmq's XPUB does (ONLY_FIRST_SUBSCRIBE off, the default).
#[test]
fn xpub_parses_multipart_subscriptions_from_libzmq_xsub() {
    run(|ctx| async move {
        let xpub = ctx.xpub();
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let child = run_script(MULTIPART_XSUB, &ep);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(xpub.recv().await.unwrap().frames().to_vec());
        }
        let want: [&[&[u8]]; 4] = [&[b"\x01a"], &[b"\x01b"], &[b"\x01c"], &[b"data"]];
        // Notices are read before data: `data` may come before b and c were read.
        let mut sorted = got.clone();
        sorted.sort();
        let mut w: Vec<Vec<Bytes>> = want
            .iter()
            .map(|m| m.iter().map(|f| Bytes::copy_from_slice(f)).collect())
            .collect();
        w.sort();
        assert_eq!(sorted, w, "{got:?}");
        xpub.send("adone").await.unwrap();
        xpub.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

const BOUND_ROUTER: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.ROUTER)
s.rcvtimeo = 10000
s.bind("tcp://127.0.0.1:*")
print(s.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
got = s.recv_multipart()
assert got == [b"rmq", b"ping"], got
s.send_multipart([b"rmq", b"pong"])
s.linger = 2000
s.close()
print("OK", flush=True)
"#;

/// ROUTER to a libzmq ROUTER: CONNECT_ROUTING_ID names the libzmq peer, so our side
/// can address it first.
#[test]
fn connect_routing_id_to_libzmq_router() {
    use std::io::BufRead;
    let mut child = run_script(BOUND_ROUTER, "-");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut ep = String::new();
    out.read_line(&mut ep).expect("the script's endpoint");
    run(|ctx| async move {
        let router = ctx.router();
        router
            .set_option(SocketOption::RoutingId(Bytes::from_static(b"rmq")))
            .unwrap();
        router
            .set_option(SocketOption::ConnectRoutingId(Bytes::from_static(b"py")))
            .unwrap();
        router
            .set_option(SocketOption::RouterMandatory(true))
            .unwrap();
        let mon = router.monitor();
        router.connect(ep.trim()).unwrap();
        common::wait_handshakes(ctx.proactor(), &mon, 1).await;
        let ping: ringmq_sockets::Message =
            vec![Bytes::from_static(b"py"), Bytes::from_static(b"ping")].into();
        router.send(ping).await.unwrap();
        let got = router.recv().await.unwrap();
        assert_eq!(got.frames(), [&b"py"[..], b"pong"]);
        router.close().await;
    });
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        child.wait().unwrap().success() && rest.contains("OK"),
        "{rest}"
    );
}

const PROBED_DEALER: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.DEALER)
s.rcvtimeo = 10000
s.setsockopt(zmq.ROUTING_ID, b"py")
s.connect(sys.argv[1])
got = s.recv()
assert got == b"", got
s.send(b"hi")
assert s.recv() == b"bye"
s.close(linger=0)
print("OK", flush=True)
"#;

/// PROBE_ROUTER seen by a libzmq DEALER (an empty message first), and ROUTER_NOTIFY
/// reporting its connection and its departure.
#[test]
fn probe_router_and_notify_with_libzmq_dealer() {
    run(|ctx| async move {
        let router = ctx.router();
        router.set_option(SocketOption::ProbeRouter(true)).unwrap();
        router
            .set_option(SocketOption::RouterNotify(
                ringmq_sockets::NOTIFY_CONNECT | ringmq_sockets::NOTIFY_DISCONNECT,
            ))
            .unwrap();
        let ep = router.bind("tcp://127.0.0.1:*").unwrap();
        let child = run_script(PROBED_DEALER, &ep);
        let py = Bytes::from_static(b"py");
        assert_eq!(
            router.recv().await.unwrap().frames(),
            [py.clone(), Bytes::new()]
        );
        assert_eq!(
            router.recv().await.unwrap().frames(),
            [py.clone(), Bytes::from_static(b"hi")]
        );
        let bye: ringmq_sockets::Message = vec![py.clone(), Bytes::from_static(b"bye")].into();
        router.send(bye).await.unwrap();
        assert_eq!(router.recv().await.unwrap().frames(), [py, Bytes::new()]);
        router.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

const HELLO_DEALER: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.DEALER)
s.rcvtimeo = 10000
s.connect(sys.argv[1])
got = s.recv()
assert got == b"HELLO", got
s.send(b"thanks")
print("OK", flush=True)
"#;

/// HELLO_MSG reaches a libzmq DEALER as its first message.
#[test]
fn hello_msg_to_libzmq_dealer() {
    run(|ctx| async move {
        let router = ctx.router();
        router
            .set_option(SocketOption::HelloMsg(Bytes::from_static(b"HELLO")))
            .unwrap();
        let ep = router.bind("tcp://127.0.0.1:*").unwrap();
        let child = run_script(HELLO_DEALER, &ep);
        let got = router.recv().await.unwrap();
        assert_eq!(got.frames()[1], &b"thanks"[..]);
        router.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

const INVERT_PUB: &str = r#"
import select, sys, time, zmq
s = zmq.Context().socket(zmq.PUB)
s.setsockopt(zmq.INVERT_MATCHING, 1)
s.connect(sys.argv[1])
end = time.time() + 20
while not select.select([sys.stdin], [], [], 0.005)[0]:
    assert time.time() < end, "no STOP on stdin"
    s.send(b"a-skip")
    s.send(b"b-keep")
print("OK", flush=True)
"#;

/// INVERT_MATCHING on our SUB, fed by an inverted libzmq PUB: only what matches no
/// subscription arrives.
#[test]
fn inverted_sub_with_libzmq_pub() {
    run(|ctx| async move {
        let sub = ctx.subscriber();
        sub.set_option(SocketOption::InvertMatching(true)).unwrap();
        sub.subscribe(b"a").unwrap();
        let ep = sub.bind("tcp://127.0.0.1:*").unwrap();
        let mut child = run_script(INVERT_PUB, &ep);
        for _ in 0..10 {
            assert_eq!(sub.recv().await.unwrap().frames()[0], &b"b-keep"[..]);
        }
        sub.close().await;
        step(&mut child);
        assert!(finish_script(child).contains("OK"));
    });
}

const CLOSING_ROUTER: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.ROUTER)
s.rcvtimeo = 10000
s.bind("tcp://127.0.0.1:*")
print(s.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
m = s.recv_multipart()
s.send_multipart([m[0], b"bye"])
s.close(linger=1000)
print("OK", flush=True)
"#;

/// HICCUP_MSG: our DEALER's connection to a libzmq ROUTER that closes breaks, and the
/// DEALER receives the hiccup message (after the ROUTER's last reply, when the close
/// left it readable).
#[test]
fn hiccup_msg_when_a_libzmq_router_goes() {
    use std::io::BufRead;
    let mut child = run_script(CLOSING_ROUTER, "-");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut ep = String::new();
    out.read_line(&mut ep).expect("the script's endpoint");
    run(|ctx| async move {
        let dealer = ctx.dealer();
        dealer
            .set_option(SocketOption::HiccupMsg(Bytes::from_static(b"HICCUP")))
            .unwrap();
        // It must not reconnect to the port once freed: another test running at the
        // same time may be listening there by then.
        dealer
            .set_option(SocketOption::ReconnectIvl(Duration::from_secs(60)))
            .unwrap();
        dealer.connect(ep.trim()).unwrap();
        dealer.send("hi").await.unwrap();
        // "bye" first, unless the close reset the connection before it was read.
        let mut m = dealer.recv().await.unwrap();
        if m.frames()[0] == b"bye"[..] {
            m = dealer.recv().await.unwrap();
        }
        assert_eq!(m.frames()[0], &b"HICCUP"[..]);
        dealer.close().await;
    });
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        child.wait().unwrap().success() && rest.contains("OK"),
        "{rest}"
    );
}
