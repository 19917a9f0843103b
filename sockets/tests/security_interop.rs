//! Security interop with libzmq 4.3.5 through pyzmq (`tests/peers/pyzmq_peer.py`), on
//! every backend (`uring`, `epoll`, `compio`, `monoio`, `tokio` modules): CURVE and PLAIN in both roles over REQ/REP, DEALER/ROUTER,
//! PUB/SUB and PUSH/PULL, with ZAP on either side (pyzmq's `zmq.auth` on the libzmq
//! side, [`Authenticator`] on ours), metadata both ways, and the rejection cases with
//! the monitor event each produces. A missing peer FAILS these tests with instructions.

mod common;
#[path = "interop/peer.rs"]
mod peer;

use std::rc::Rc;
use std::time::Duration;

use peer::{Impl, Peer};
use ringmq_proactor::Proactor;
use ringmq_sockets::{
    Authenticator, Bytes, Context, CurveKey, Error, Message, Monitor, MonitorEventKind, Socket,
    SocketOption, SocketType,
};

/// Starts a pyzmq peer with `args` and waits for its READY line without blocking the
/// runtime: Python starts on a helper thread while `p` keeps serving our sockets (a
/// peer that connects to us is handshaking meanwhile).
async fn spawn_args<P: Proactor>(p: &P, args: Vec<String>) -> Peer {
    let starter = std::thread::spawn(move || Peer::spawn(Impl::Pyzmq, &args));
    // (Peer::spawn itself gives up after 30 s without READY)
    common::wait_until(p, Duration::from_secs(60), "the peer's READY", || {
        starter.is_finished()
    })
    .await;
    match starter.join() {
        Ok(peer) => peer,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

async fn spawn<P: Proactor>(p: &P, args: &[&str]) -> Peer {
    spawn_args(p, args.iter().map(|s| s.to_string()).collect()).await
}

struct Keys {
    spub: CurveKey,
    ssec: CurveKey,
    cpub: CurveKey,
    csec: CurveKey,
}

fn keys() -> Keys {
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    Keys {
        spub,
        ssec,
        cpub,
        csec,
    }
}

fn set(s: &Socket<impl Proactor>, opts: Vec<SocketOption>) {
    for o in opts {
        s.set_option(o).unwrap();
    }
}

fn curve_server(k: &Keys) -> Vec<SocketOption> {
    vec![
        SocketOption::CurveServer(true),
        SocketOption::CurveSecretKey(k.ssec.clone()),
    ]
}

fn curve_client(k: &Keys) -> Vec<SocketOption> {
    vec![
        SocketOption::CurvePublicKey(k.cpub.clone()),
        SocketOption::CurveSecretKey(k.csec.clone()),
        SocketOption::CurveServerKey(k.spub.clone()),
    ]
}

fn plain_client(user: &str, pass: &str) -> Vec<SocketOption> {
    vec![
        SocketOption::PlainUsername(Bytes::copy_from_slice(user.as_bytes())),
        SocketOption::PlainPassword(Bytes::copy_from_slice(pass.as_bytes())),
    ]
}

/// The pyzmq arguments of a CURVE server with the keys of `k`.
/// (Z85 keys may start with '-': they are passed as `--flag=KEY`.)
fn py_curve_server(k: &Keys) -> Vec<String> {
    vec![
        "--mechanism".into(),
        "curve".into(),
        "--curve-server".into(),
        format!("--public-key={}", k.spub.to_z85()),
        format!("--secret-key={}", k.ssec.to_z85()),
    ]
}

/// The pyzmq arguments of a CURVE client with the keys of `k`.
fn py_curve_client(k: &Keys) -> Vec<String> {
    py_curve_client_of(k, &k.spub)
}

/// A pyzmq CURVE client of `server` (maybe not the key the server has).
fn py_curve_client_of(k: &Keys, server: &CurveKey) -> Vec<String> {
    vec![
        "--mechanism".into(),
        "curve".into(),
        format!("--public-key={}", k.cpub.to_z85()),
        format!("--secret-key={}", k.csec.to_z85()),
        format!("--server-key={}", server.to_z85()),
    ]
}

async fn spawn_with<P: Proactor>(p: &P, base: Vec<String>, rest: &[&str]) -> Peer {
    let mut args = base;
    args.extend(rest.iter().map(|s| s.to_string()));
    spawn_args(p, args).await
}

fn prop<'a>(m: &'a Message, name: &str) -> Option<&'a [u8]> {
    m.peer_property(name).map(|b| &b[..])
}

async fn outcome<P: Proactor>(p: &P, m: &Monitor) -> MonitorEventKind {
    common::wait_event(p, m, |e| {
        matches!(
            e.kind,
            MonitorEventKind::HandshakeSucceeded
                | MonitorEventKind::HandshakeFailed { .. }
                | MonitorEventKind::HandshakeFailedAuth { .. }
        )
    })
    .await
    .kind
}

fn assert_auth_failed(kind: &MonitorEventKind, code: u16) {
    assert!(
        matches!(kind, MonitorEventKind::HandshakeFailedAuth { status, .. } if *status == code),
        "expected an authentication failure {code}, got {kind:?}"
    );
}

// ---- CURVE -------------------------------------------------------------------------

async fn curve_req_to_libzmq_rep_with_zap_allow_list<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let cpub = format!("--zap-curve-allow={}", k.cpub.to_z85());
    let peer = spawn_with(
        &p,
        py_curve_server(&k),
        &[
            "--type",
            "REP",
            "--bind",
            "tcp://127.0.0.1:*",
            &cpub,
            "--metadata",
            "X-Py:yes",
            "--echo-meta",
            "User-Id",
            "--echo-meta",
            "X-Name",
            "echo",
        ],
    )
    .await;
    let req = ctx.socket(SocketType::Req);
    req.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&req, curve_client(&k));
    req.set_option(SocketOption::Metadata("X-Name".into(), "alice".into()))
        .unwrap();
    req.connect(&peer.endpoint).unwrap();
    req.send("hi").await.unwrap();
    let r = req.recv().await.unwrap();
    // libzmq saw pyzmq's user id for the key and our X-Name property.
    assert_eq!(r.frames()[0], "hi");
    assert_ne!(r.frames()[1], "<none>", "no User-Id on the libzmq side");
    assert_eq!(r.frames()[2], "alice");
    assert_eq!(prop(&r, "X-Py"), Some(&b"yes"[..]));
    assert_eq!(prop(&r, "Socket-Type"), Some(&b"REP"[..]));
    req.send("END").await.unwrap();
    req.recv().await.unwrap();
    peer.finish(&p).await;
}

async fn curve_libzmq_dealer_to_ringmq_router_with_our_zap<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let auth = Rc::new(Authenticator::new());
    auth.allow_curve_key(&k.cpub);
    ctx.set_zap_handler(auth);
    let router = ctx.socket(SocketType::Router);
    router.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&router, curve_server(&k));
    // The monitor exists before the peer starts: the runtime keeps running (and may
    // finish the handshake) while the peer starts.
    let mon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let peer = spawn_with(
        &p,
        py_curve_client(&k),
        &[
            "--type",
            "DEALER",
            "--connect",
            &ep,
            "--identity",
            "py",
            "--metadata",
            "X-Py:dealer",
            "echo",
        ],
    )
    .await;
    assert_eq!(
        outcome(&p, &mon).await,
        MonitorEventKind::HandshakeSucceeded
    );
    router
        .send(Message::from_iter(["py", "x", "y"]))
        .await
        .unwrap();
    let m = router.recv().await.unwrap();
    assert_eq!(m.frames(), [Bytes::from("py"), "x".into(), "y".into()]);
    assert_eq!(prop(&m, "User-Id"), Some(k.cpub.to_z85().as_bytes()));
    assert_eq!(prop(&m, "X-Py"), Some(&b"dealer"[..]));
    assert_eq!(prop(&m, "Identity"), Some(&b"py"[..]));
    router
        .send(Message::from_iter(["py", "END"]))
        .await
        .unwrap();
    router.recv().await.unwrap();
    peer.finish(&p).await;
}

/// Subscribes to `alpha` and `END` on a SUB connected to a libzmq publisher running
/// `publish 40`; counts the alpha messages (10 of the 40).
async fn count_alpha_from<P: Proactor>(sub: &Socket<P>, peer: &mut Peer) {
    sub.subscribe(b"alpha").unwrap();
    sub.subscribe(b"END").unwrap();
    loop {
        let m = sub.recv().await.unwrap();
        if m.frames()[0].ends_with(b"-SYNC") {
            break;
        }
    }
    peer.go();
    let mut n = 0;
    loop {
        let m = sub.recv().await.unwrap();
        let f = &m.frames()[0];
        if f.ends_with(b"-SYNC") {
            continue;
        }
        if f == "END" {
            break;
        }
        assert!(f.starts_with(b"alpha-"), "{m:?}");
        n += 1;
    }
    assert_eq!(n, 10);
}

/// Publishes probes until the libzmq subscriber (`count`, subscribed to alpha and END) says
/// SYNCED, then 40 messages over four topics and END; the peer must count 10.
async fn publish_to<P: Proactor>(p: &P, pubs: &Socket<P>, mut peer: Peer) {
    let topics = ["alpha", "beta", "gamma", "delta"];
    // Each round of probes waits at most 10 ms for SYNCED.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        pubs.send("alpha-SYNC").await.unwrap();
        pubs.send("END-SYNC").await.unwrap();
        let round = Duration::from_millis(10);
        if peer.line_within(p, "SYNCED", round).await.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the peer did not sync"
        );
    }
    let mut bytes = 0;
    for i in 0..40 {
        let t = format!("{}-{i}", topics[i % 4]);
        if i % 4 == 0 {
            bytes += t.len();
        }
        let m = Message::from_iter([Bytes::from(t), Bytes::new()]);
        pubs.send(m).await.unwrap();
    }
    pubs.send("END").await.unwrap();
    let got = peer.line(p, "GOT").await;
    assert_eq!(got, format!("GOT 10 {bytes}"));
    peer.finish(p).await;
}

async fn curve_pub_sub_both_ways<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let cpub = format!("--zap-curve-allow={}", k.cpub.to_z85());
    // libzmq publishes (CURVE server with zmq.auth), we subscribe.
    let mut peer = spawn_with(
        &p,
        py_curve_server(&k),
        &[
            "--type",
            "PUB",
            "--bind",
            "tcp://127.0.0.1:*",
            &cpub,
            "publish",
            "40",
        ],
    )
    .await;
    let sub = ctx.socket(SocketType::Sub);
    set(&sub, curve_client(&k));
    sub.connect(&peer.endpoint).unwrap();
    count_alpha_from(&sub, &mut peer).await;
    peer.finish(&p).await;

    // We publish (CURVE server with our authenticator), libzmq subscribes.
    let auth = Authenticator::new();
    auth.allow_curve_key(&k.cpub);
    ctx.set_zap_handler(auth);
    let pubs = ctx.socket(SocketType::Pub);
    set(&pubs, curve_server(&k));
    let ep = pubs.bind("tcp://127.0.0.1:*").unwrap();
    let peer = spawn_with(
        &p,
        py_curve_client(&k),
        &[
            "--type",
            "SUB",
            "--connect",
            &ep,
            "--subscribe",
            "alpha",
            "--subscribe",
            "END",
            "count",
        ],
    )
    .await;
    publish_to(&p, &pubs, peer).await;
}

async fn curve_push_pull_both_ways<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let mut peer = spawn_with(
        &p,
        py_curve_server(&k),
        &[
            "--type",
            "PULL",
            "--bind",
            "tcp://127.0.0.1:*",
            "recv",
            "100",
        ],
    )
    .await;
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&k));
    push.connect(&peer.endpoint).unwrap();
    for i in 0..100 {
        push.send(format!("{i:03}")).await.unwrap();
    }
    assert_eq!(peer.line(&p, "GOT").await, "GOT 100 300");
    peer.finish(&p).await;

    let auth = Authenticator::new();
    auth.allow_curve_key(&k.cpub);
    ctx.set_zap_handler(auth);
    let pull = ctx.socket(SocketType::Pull);
    pull.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&pull, curve_server(&k));
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let peer = spawn_with(
        &p,
        py_curve_client(&k),
        &["--type", "PUSH", "--connect", &ep, "send", "100"],
    )
    .await;
    for i in 0..100 {
        let m = pull.recv().await.unwrap();
        assert_eq!(m.frames()[0], format!("{i}").as_bytes());
        assert_eq!(prop(&m, "User-Id"), Some(k.cpub.to_z85().as_bytes()));
    }
    peer.finish(&p).await;
}

// ---- PLAIN -------------------------------------------------------------------------

async fn plain_req_to_libzmq_rep_with_zmq_auth<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let peer = spawn(
        &p,
        &[
            "--type",
            "REP",
            "--bind",
            "tcp://127.0.0.1:*",
            "--mechanism",
            "plain",
            "--plain-server",
            "--zap-plain",
            "admin:secret",
            "--echo-meta",
            "User-Id",
            "echo",
        ],
    )
    .await;
    let req = ctx.socket(SocketType::Req);
    set(&req, plain_client("admin", "secret"));
    req.connect(&peer.endpoint).unwrap();
    req.send("hi").await.unwrap();
    let r = req.recv().await.unwrap();
    assert_eq!(r.frames(), [Bytes::from("hi"), "admin".into()]);
    req.send("END").await.unwrap();
    req.recv().await.unwrap();
    peer.finish(&p).await;
}

async fn plain_libzmq_dealer_to_ringmq_router_with_our_zap<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let auth = Authenticator::new();
    auth.add_plain_user("admin", "secret");
    ctx.set_zap_handler(auth);
    let router = ctx.socket(SocketType::Router);
    router.set_option(SocketOption::PeerMetadata(true)).unwrap();
    router.set_option(SocketOption::PlainServer(true)).unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let mon = router.monitor();
    let peer = spawn(
        &p,
        &[
            "--type",
            "DEALER",
            "--connect",
            &ep,
            "--identity",
            "py",
            "--mechanism",
            "plain",
            "--username",
            "admin",
            "--password",
            "secret",
            "echo",
        ],
    )
    .await;
    assert_eq!(
        outcome(&p, &mon).await,
        MonitorEventKind::HandshakeSucceeded
    );
    router.send(Message::from_iter(["py", "x"])).await.unwrap();
    let m = router.recv().await.unwrap();
    assert_eq!(m.frames(), [Bytes::from("py"), "x".into()]);
    assert_eq!(prop(&m, "User-Id"), Some(&b"admin"[..]));
    router
        .send(Message::from_iter(["py", "END"]))
        .await
        .unwrap();
    router.recv().await.unwrap();
    peer.finish(&p).await;
}

async fn plain_pub_sub_and_push_pull<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let auth = Authenticator::new();
    auth.add_plain_user("admin", "secret");
    ctx.set_zap_handler(auth);
    // We publish as PLAIN server, libzmq subscribes as PLAIN client.
    let pubs = ctx.socket(SocketType::Pub);
    pubs.set_option(SocketOption::PlainServer(true)).unwrap();
    let ep = pubs.bind("tcp://127.0.0.1:*").unwrap();
    let peer = spawn(
        &p,
        &[
            "--type",
            "SUB",
            "--connect",
            &ep,
            "--subscribe",
            "alpha",
            "--subscribe",
            "END",
            "--mechanism",
            "plain",
            "--username",
            "admin",
            "--password",
            "secret",
            "count",
        ],
    )
    .await;
    publish_to(&p, &pubs, peer).await;

    // libzmq pushes as PLAIN client into our PLAIN server.
    let pull = ctx.socket(SocketType::Pull);
    pull.set_option(SocketOption::PeerMetadata(true)).unwrap();
    pull.set_option(SocketOption::PlainServer(true)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let peer = spawn(
        &p,
        &[
            "--type",
            "PUSH",
            "--connect",
            &ep,
            "--mechanism",
            "plain",
            "--username",
            "admin",
            "--password",
            "secret",
            "send",
            "50",
        ],
    )
    .await;
    for i in 0..50 {
        let m = pull.recv().await.unwrap();
        assert_eq!(m.frames()[0], format!("{i}").as_bytes());
        assert_eq!(prop(&m, "User-Id"), Some(&b"admin"[..]));
    }
    peer.finish(&p).await;

    // We push as PLAIN client into a libzmq PULL with zmq.auth.
    let mut peer = spawn(
        &p,
        &[
            "--type",
            "PULL",
            "--bind",
            "tcp://127.0.0.1:*",
            "--mechanism",
            "plain",
            "--plain-server",
            "--zap-plain",
            "admin:secret",
            "recv",
            "20",
        ],
    )
    .await;
    let push = ctx.socket(SocketType::Push);
    set(&push, plain_client("admin", "secret"));
    push.connect(&peer.endpoint).unwrap();
    for _ in 0..20 {
        push.send("abcd").await.unwrap();
    }
    assert_eq!(peer.line(&p, "GOT").await, "GOT 20 80");
    peer.finish(&p).await;
}

async fn plain_sub_from_libzmq_pub<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let mut peer = spawn(
        &p,
        &[
            "--type",
            "PUB",
            "--bind",
            "tcp://127.0.0.1:*",
            "--mechanism",
            "plain",
            "--plain-server",
            "--zap-plain",
            "admin:secret",
            "publish",
            "40",
        ],
    )
    .await;
    let sub = ctx.socket(SocketType::Sub);
    set(&sub, plain_client("admin", "secret"));
    sub.connect(&peer.endpoint).unwrap();
    count_alpha_from(&sub, &mut peer).await;
    peer.finish(&p).await;
}

// ---- rejections --------------------------------------------------------------------

async fn libzmq_zap_denies_unknown_curve_key<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let (other, _) = CurveKey::generate_pair();
    let other = format!("--zap-curve-allow={}", other.to_z85());
    let peer = spawn_with(
        &p,
        py_curve_server(&k),
        &[
            "--type",
            "PULL",
            "--bind",
            "tcp://127.0.0.1:*",
            &other,
            "recv",
            "1",
        ],
    )
    .await;
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&k));
    let mon = push.monitor();
    push.connect(&peer.endpoint).unwrap();
    assert_auth_failed(&outcome(&p, &mon).await, 400);
}

async fn our_zap_denies_unknown_libzmq_curve_key<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    ctx.set_zap_handler(Authenticator::new());
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&k));
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let _peer = spawn_with(
        &p,
        py_curve_client(&k),
        &["--type", "PUSH", "--connect", &ep, "send", "1"],
    )
    .await;
    assert_auth_failed(&outcome(&p, &mon).await, 400);
    pull.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(300))))
        .unwrap();
    assert!(matches!(pull.recv().await, Err(Error::TimedOut)));
}

async fn libzmq_zap_status_300_and_500<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    for (code, sends_error) in [(300, false), (500, true)] {
        let code_text = code.to_string();
        let peer = spawn_with(
            &p,
            py_curve_server(&k),
            &[
                "--type",
                "PULL",
                "--bind",
                "tcp://127.0.0.1:*",
                "--zap-status",
                &code_text,
                "recv",
                "1",
            ],
        )
        .await;
        let push = ctx.socket(SocketType::Push);
        set(&push, curve_client(&k));
        push.set_option(SocketOption::HandshakeIvl(Duration::from_millis(1500)))
            .unwrap();
        let mon = push.monitor();
        push.connect(&peer.endpoint).unwrap();
        let kind = outcome(&p, &mon).await;
        if sends_error {
            assert_auth_failed(&kind, code);
        } else {
            // 300: libzmq sends no ERROR; the handshake stalls until our deadline
            // (or libzmq's) ends it.
            match kind {
                MonitorEventKind::HandshakeFailed { reason } => {
                    let reason = reason.to_string();
                    assert!(
                        reason.contains("timed out") || reason.contains("closed by peer"),
                        "{reason}"
                    )
                }
                other => panic!("300 must send nothing: {other:?}"),
            }
        }
    }
}

async fn wrong_server_key_with_libzmq_both_ways<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let (wrong, _) = CurveKey::generate_pair();
    let peer = spawn_with(
        &p,
        py_curve_server(&k),
        &["--type", "PULL", "--bind", "tcp://127.0.0.1:*", "recv", "1"],
    )
    .await;
    // Our client with the wrong server key: libzmq cannot open HELLO and closes.
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&k));
    push.set_option(SocketOption::CurveServerKey(wrong.clone()))
        .unwrap();
    let mon = push.monitor();
    push.connect(&peer.endpoint).unwrap();
    let kind = outcome(&p, &mon).await;
    assert!(
        matches!(kind, MonitorEventKind::HandshakeFailed { .. }),
        "{kind:?}"
    );
    drop(peer);

    // libzmq's client with the wrong server key: we cannot open HELLO.
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&k));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let args = py_curve_client_of(&k, &wrong);
    let _peer = spawn_with(&p, args, &["--type", "PUSH", "--connect", &ep, "send", "1"]).await;
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("HELLO"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

async fn wrong_plain_password_with_libzmq_both_ways<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let peer = spawn(
        &p,
        &[
            "--type",
            "PULL",
            "--bind",
            "tcp://127.0.0.1:*",
            "--mechanism",
            "plain",
            "--plain-server",
            "--zap-plain",
            "admin:secret",
            "recv",
            "1",
        ],
    )
    .await;
    let push = ctx.socket(SocketType::Push);
    set(&push, plain_client("admin", "guess"));
    let mon = push.monitor();
    push.connect(&peer.endpoint).unwrap();
    // libzmq 4.3.5's PLAIN server sends a malformed ERROR after a ZAP denial
    // (`04 09 "^RROR" 03 "400"`: the name length byte is wrong), so our client
    // reports a protocol failure rather than the status code.
    match outcome(&p, &mon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("truncated command"), "{reason}")
        }
        other => assert_auth_failed(&other, 400),
    }

    let auth = Authenticator::new();
    auth.add_plain_user("admin", "secret");
    ctx.set_zap_handler(auth);
    let pull = ctx.socket(SocketType::Pull);
    pull.set_option(SocketOption::PlainServer(true)).unwrap();
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let _peer = spawn(
        &p,
        &[
            "--type",
            "PUSH",
            "--connect",
            &ep,
            "--mechanism",
            "plain",
            "--username",
            "admin",
            "--password",
            "guess",
            "send",
            "1",
        ],
    )
    .await;
    assert_auth_failed(&outcome(&p, &smon).await, 400);
}

async fn mechanism_mismatch_with_libzmq<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&k));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    // libzmq sends only the first 11 greeting bytes, reads ours, and closes on
    // a mechanism mismatch without ever naming its own mechanism.
    let _peer = spawn(&p, &["--type", "PUSH", "--connect", &ep, "send", "1"]).await;
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("closed by peer"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    pull.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(300))))
        .unwrap();
    assert!(matches!(pull.recv().await, Err(Error::TimedOut)));
}

async fn libzmq_plain_server_without_zap_refuses<P: Proactor>(ctx: Context<P>) {
    // Documents the libzmq behaviour ringmq copies: no handler, no PLAIN client.
    let p = ctx.proactor().clone();
    let peer = spawn(
        &p,
        &[
            "--type",
            "PULL",
            "--bind",
            "tcp://127.0.0.1:*",
            "--mechanism",
            "plain",
            "--plain-server",
            "recv",
            "1",
        ],
    )
    .await;
    let push = ctx.socket(SocketType::Push);
    set(&push, plain_client("admin", "secret"));
    let mon = push.monitor();
    push.connect(&peer.endpoint).unwrap();
    // libzmq closes the connection without an ERROR. (The handshake must end: a stall,
    // or no connection at all, would not show the refusal.)
    match outcome(&p, &mon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("closed by peer"), "{reason}")
        }
        other => panic!("libzmq did not refuse a PLAIN client without a ZAP handler: {other:?}"),
    }
}

async fn libzmq_null_with_zap_domain_denies<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let peer = spawn(
        &p,
        &[
            "--type",
            "PULL",
            "--bind",
            "tcp://127.0.0.1:*",
            "--zap-domain",
            "global",
            "--zap-deny-all",
            "recv",
            "1",
        ],
    )
    .await;
    let push = ctx.socket(SocketType::Push);
    let mon = push.monitor();
    push.connect(&peer.endpoint).unwrap();
    assert_auth_failed(&outcome(&p, &mon).await, 400);
}

// ---- the other roles of REQ/REP and DEALER/ROUTER -----------------------------------

/// Echoes on a ringmq REP until END, checking every request's User-Id.
async fn rep_echo<P: Proactor>(rep: &Socket<P>, user_id: &[u8]) {
    loop {
        let m = rep.recv().await.unwrap();
        assert_eq!(prop(&m, "User-Id"), Some(user_id));
        let end = m.frames().last().is_some_and(|f| f == "END");
        rep.send(m).await.unwrap();
        if end {
            return;
        }
    }
}

/// A ringmq DEALER asking a libzmq ROUTER (`echo`): two round trips, then END.
async fn dealer_asks<P: Proactor>(dealer: &Socket<P>) {
    for body in ["x", "y"] {
        dealer.send(body).await.unwrap();
        let r = dealer.recv().await.unwrap();
        assert_eq!(r.frames(), [Bytes::from(body)]);
        assert_eq!(prop(&r, "Socket-Type"), Some(&b"ROUTER"[..]));
    }
    dealer.send("END").await.unwrap();
    dealer.recv().await.unwrap();
}

async fn curve_libzmq_req_to_ringmq_rep_and_dealer_to_libzmq_router<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let k = keys();
    let auth = Authenticator::new();
    auth.allow_curve_key(&k.cpub);
    ctx.set_zap_handler(auth);
    let rep = ctx.socket(SocketType::Rep);
    rep.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&rep, curve_server(&k));
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    // `ask` sends the standard payloads (up to 16 MiB) and checks each echo.
    let mut peer = spawn_with(
        &p,
        py_curve_client(&k),
        &["--type", "REQ", "--connect", &ep, "ask"],
    )
    .await;
    rep_echo(&rep, k.cpub.to_z85().as_bytes()).await;
    assert_eq!(peer.line(&p, "OK").await, "OK");
    peer.finish(&p).await;

    let allow = format!("--zap-curve-allow={}", k.cpub.to_z85());
    let peer = spawn_with(
        &p,
        py_curve_server(&k),
        &[
            "--type",
            "ROUTER",
            "--bind",
            "tcp://127.0.0.1:*",
            &allow,
            "echo",
        ],
    )
    .await;
    let dealer = ctx.socket(SocketType::Dealer);
    dealer.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&dealer, curve_client(&k));
    dealer.connect(&peer.endpoint).unwrap();
    dealer_asks(&dealer).await;
    peer.finish(&p).await;
}

async fn plain_libzmq_req_to_ringmq_rep_and_dealer_to_libzmq_router<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let auth = Authenticator::new();
    auth.add_plain_user("admin", "secret");
    ctx.set_zap_handler(auth);
    let rep = ctx.socket(SocketType::Rep);
    rep.set_option(SocketOption::PeerMetadata(true)).unwrap();
    rep.set_option(SocketOption::PlainServer(true)).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let mut peer = spawn(
        &p,
        &[
            "--type",
            "REQ",
            "--connect",
            &ep,
            "--mechanism",
            "plain",
            "--username",
            "admin",
            "--password",
            "secret",
            "ask",
        ],
    )
    .await;
    rep_echo(&rep, b"admin").await;
    assert_eq!(peer.line(&p, "OK").await, "OK");
    peer.finish(&p).await;

    let peer = spawn(
        &p,
        &[
            "--type",
            "ROUTER",
            "--bind",
            "tcp://127.0.0.1:*",
            "--mechanism",
            "plain",
            "--plain-server",
            "--zap-plain",
            "admin:secret",
            "echo",
        ],
    )
    .await;
    let dealer = ctx.socket(SocketType::Dealer);
    dealer.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&dealer, plain_client("admin", "secret"));
    dealer.connect(&peer.endpoint).unwrap();
    dealer_asks(&dealer).await;
    peer.finish(&p).await;
}

backend_tests!(
    curve_req_to_libzmq_rep_with_zap_allow_list,
    curve_libzmq_dealer_to_ringmq_router_with_our_zap,
    curve_pub_sub_both_ways,
    curve_push_pull_both_ways,
    plain_req_to_libzmq_rep_with_zmq_auth,
    plain_libzmq_dealer_to_ringmq_router_with_our_zap,
    plain_pub_sub_and_push_pull,
    plain_sub_from_libzmq_pub,
    libzmq_zap_denies_unknown_curve_key,
    our_zap_denies_unknown_libzmq_curve_key,
    libzmq_zap_status_300_and_500,
    wrong_server_key_with_libzmq_both_ways,
    wrong_plain_password_with_libzmq_both_ways,
    mechanism_mismatch_with_libzmq,
    libzmq_plain_server_without_zap_refuses,
    libzmq_null_with_zap_domain_denies,
    curve_libzmq_req_to_ringmq_rep_and_dealer_to_libzmq_router,
    plain_libzmq_req_to_ringmq_rep_and_dealer_to_libzmq_router,
);
