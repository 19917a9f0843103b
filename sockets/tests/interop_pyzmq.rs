//! Interop with libzmq 4.3.5 through pyzmq (`tests/peers/pyzmq_peer.py`). A missing
//! peer FAILS these tests with instructions (see `pyzmq::python`).

mod common;
#[path = "../../zmtp/tests/pyzmq/mod.rs"]
mod pyzmq;

use std::io::Write;
use std::time::Duration;

use pyzmq::Peer;
use ringmq_sockets::{Bytes, Context, Message, MonitorEventKind};

fn run<F: std::future::Future<Output = ()>>(f: impl FnOnce(Context<ringmq_proactor::Native>) -> F) {
    common::run_for(Duration::from_secs(30), f)
}

async fn wait_handshake(m: &ringmq_sockets::Monitor) {
    loop {
        let e = m.recv().await.expect("monitor open");
        if e.kind == MonitorEventKind::HandshakeSucceeded {
            return;
        }
    }
}

#[test]
fn req_to_libzmq_rep() {
    let peer = Peer::spawn(&["--type", "REP", "--bind", "tcp://127.0.0.1:*", "echo"]);
    run(|ctx| async move {
        let req = ctx.req();
        req.connect(&peer.endpoint).unwrap();
        for i in 0..10 {
            let body = format!("request {i}");
            req.send(body.clone()).await.unwrap();
            assert_eq!(req.recv().await.unwrap().frames()[0], body.as_bytes());
        }
        req.send("END").await.unwrap();
        assert_eq!(req.recv().await.unwrap().frames()[0], "END");
        peer.wait_success();
    });
}

#[test]
fn router_with_libzmq_dealer_identity() {
    run(|ctx| async move {
        let router = ctx.router();
        let mon = router.monitor();
        let ep = router.bind("tcp://127.0.0.1:*").unwrap();
        let peer = Peer::spawn(&[
            "--type",
            "DEALER",
            "--connect",
            &ep,
            "--identity",
            "py",
            "echo",
        ]);
        wait_handshake(&mon).await;
        let py = Bytes::from_static(b"py");
        router
            .send(vec![
                py.clone(),
                Bytes::from_static(b"a"),
                Bytes::from_static(b"b"),
            ])
            .await
            .unwrap();
        let m = router.recv().await.unwrap();
        assert_eq!(
            m.frames(),
            [
                py.clone(),
                Bytes::from_static(b"a"),
                Bytes::from_static(b"b")
            ]
        );
        router
            .send(vec![py, Bytes::from_static(b"END")])
            .await
            .unwrap();
        let m = router.recv().await.unwrap();
        assert_eq!(m.frames()[1], "END");
        peer.wait_success();
    });
}

#[test]
fn dealer_to_libzmq_router() {
    let peer = Peer::spawn(&["--type", "ROUTER", "--bind", "tcp://127.0.0.1:*", "echo"]);
    run(|ctx| async move {
        let dealer = ctx.dealer();
        dealer
            .set_option(ringmq_sockets::SocketOption::RoutingId(Bytes::from_static(
                b"rust",
            )))
            .unwrap();
        dealer.connect(&peer.endpoint).unwrap();
        // The echoing ROUTER sends [our id, ...] back to our id: we get the rest.
        dealer.send(Message::from_iter(["x", "y"])).await.unwrap();
        let m = dealer.recv().await.unwrap();
        assert_eq!(
            m.frames(),
            [Bytes::from_static(b"x"), Bytes::from_static(b"y")]
        );
        dealer.send("END").await.unwrap();
        assert_eq!(dealer.recv().await.unwrap().frames()[0], "END");
        peer.wait_success();
    });
}

#[test]
fn pull_from_libzmq_push() {
    run(|ctx| async move {
        let pull = ctx.pull();
        let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
        let peer = Peer::spawn(&["--type", "PUSH", "--connect", &ep, "send", "1000"]);
        for i in 0..1000 {
            assert_eq!(
                pull.recv().await.unwrap().frames()[0],
                format!("{i}").as_bytes()
            );
        }
        peer.wait_success();
    });
}

#[test]
fn push_to_libzmq_pull() {
    let peer = Peer::spawn(&[
        "--type",
        "PULL",
        "--bind",
        "tcp://127.0.0.1:*",
        "recv",
        "1000",
    ]);
    run(|ctx| async move {
        let push = ctx.push();
        push.connect(&peer.endpoint).unwrap();
        for i in 0..1000 {
            push.send(format!("{i}")).await.unwrap();
        }
        push.close().await;
        peer.wait_success();
    });
}

#[test]
fn xpub_with_libzmq_sub() {
    run(|ctx| async move {
        let xpub = ctx.xpub();
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let peer = Peer::spawn(&[
            "--type",
            "SUB",
            "--connect",
            &ep,
            "--subscribe",
            "a",
            "recv",
            "5",
        ]);
        let sub = xpub.recv().await.unwrap();
        assert_eq!(sub.frames()[0], &b"\x01a"[..]);
        for i in 0..5 {
            xpub.send(format!("b{i}")).await.unwrap();
            xpub.send(format!("a{i}")).await.unwrap();
        }
        // The blocking wait below stops our runtime: close first, which writes
        // everything queued before it returns.
        xpub.close().await;
        peer.wait_success();
    });
}

/// Runs an inline pyzmq script with `endpoint` as its argument (its stdin and stdout
/// piped).
fn run_script(script: &str, endpoint: &str) -> std::process::Child {
    std::process::Command::new(pyzmq::python())
        .args(["-c", script, endpoint])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn python")
}

/// Returns the stdout of a script started by [`run_script`] after asserting it exited 0.
fn finish_script(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("wait for python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "pyzmq script failed: {stdout}");
    stdout
}

const REQ_SCRIPT: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.rcvtimeo = 10000
s.connect(sys.argv[1])
for i in range(5):
    s.send_multipart([b"q%d" % i, b"part"])
    assert s.recv_multipart() == [b"re", b"q%d" % i, b"part"]
print("OK", flush=True)
"#;

#[test]
fn rep_serves_libzmq_req() {
    run(|ctx| async move {
        let rep = ctx.rep();
        let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
        let child = run_script(REQ_SCRIPT, &ep);
        for _ in 0..5 {
            let mut m = rep.recv().await.unwrap();
            m.push_front(Bytes::from_static(b"re"));
            rep.send(m).await.unwrap();
        }
        rep.close().await;
        assert!(finish_script(child).contains("OK"));
    });
}

/// Publishes `b<i>` and `a<i>` pairs every 5 ms (our subscription arrives at some
/// point) until a line arrives on stdin, for at most 20 s.
const PUB_SCRIPT: &str = r#"
import select, sys, time, zmq
s = zmq.Context().socket(zmq.PUB)
s.connect(sys.argv[1])
end = time.time() + 20
i = 0
while not select.select([sys.stdin], [], [], 0.005)[0]:
    assert time.time() < end, "no STOP on stdin"
    s.send(b"b%d" % i)
    s.send(b"a%d" % i)
    i += 1
print("SENT", i, flush=True)
"#;

#[test]
fn sub_filters_libzmq_pub() {
    run(|ctx| async move {
        let sub = ctx.subscriber();
        let ep = sub.bind("tcp://127.0.0.1:*").unwrap();
        sub.subscribe(b"a").unwrap();
        let mut child = run_script(PUB_SCRIPT, &ep);
        for _ in 0..20 {
            let m = sub.recv().await.unwrap();
            assert_eq!(m.frames()[0][0], b'a', "{m:?}");
        }
        sub.close().await;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(b"STOP\n")
            .expect("tell the publisher to stop");
        drop(stdin);
        assert!(finish_script(child).starts_with("SENT "));
    });
}

#[test]
fn pair_with_libzmq_pair() {
    let peer = Peer::spawn(&["--type", "PAIR", "--bind", "tcp://127.0.0.1:*", "echo"]);
    run(|ctx| async move {
        let pair = ctx.pair();
        pair.connect(&peer.endpoint).unwrap();
        pair.send("hi").await.unwrap();
        assert_eq!(pair.recv().await.unwrap().frames()[0], "hi");
        pair.send("END").await.unwrap();
        assert_eq!(pair.recv().await.unwrap().frames()[0], "END");
        peer.wait_success();
    });
}
