//! Security at the socket level, ringmq to ringmq on every backend: CURVE and PLAIN
//! options, ZAP handlers and their verdicts, peer metadata on messages, monitor events
//! for failed authentication, limits before authentication, and replays through a
//! recording relay.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{
    Authenticator, Bytes, Context, CurveKey, Error, Message, Monitor, MonitorEventKind, Socket,
    SocketOption, SocketType, ZapReply, ZapRequest,
};

fn set(s: &Socket<impl Proactor>, opts: Vec<SocketOption>) {
    for o in opts {
        s.set_option(o).unwrap();
    }
}

fn curve_server(secret: &CurveKey) -> Vec<SocketOption> {
    vec![
        SocketOption::CurveServer(true),
        SocketOption::CurveSecretKey(secret.clone()),
    ]
}

fn curve_client(public: &CurveKey, secret: &CurveKey, server: &CurveKey) -> Vec<SocketOption> {
    vec![
        SocketOption::CurvePublicKey(public.clone()),
        SocketOption::CurveSecretKey(secret.clone()),
        SocketOption::CurveServerKey(server.clone()),
    ]
}

fn plain_client(user: &str, pass: &str) -> Vec<SocketOption> {
    vec![
        SocketOption::PlainUsername(Bytes::copy_from_slice(user.as_bytes())),
        SocketOption::PlainPassword(Bytes::copy_from_slice(pass.as_bytes())),
    ]
}

fn prop<'a>(m: &'a Message, name: &str) -> Option<&'a [u8]> {
    m.peer_property(name).map(|b| &b[..])
}

/// Waits for the first handshake outcome on a monitor (success or failure).
async fn outcome<P: Proactor>(p: &P, m: &Monitor) -> MonitorEventKind {
    wait_event(p, m, |e| {
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

/// Asserts nothing arrives on `s` for 300 ms.
async fn nothing_arrives<P: Proactor>(s: &Socket<P>) {
    s.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(300))))
        .unwrap();
    match s.recv().await {
        Err(Error::TimedOut) => {}
        other => panic!("expected nothing, got {other:?}"),
    }
}

async fn curve_reqrep_with_allow_list_and_metadata<P: Proactor>(ctx: Context<P>) {
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    let auth = Rc::new(Authenticator::new());
    auth.allow_curve_key(&cpub);
    ctx.set_zap_handler(auth.clone());
    let rep = ctx.socket(SocketType::Rep);
    rep.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&rep, curve_server(&ssec));
    rep.set_option(SocketOption::Metadata("X-Role".into(), "server".into()))
        .unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = ctx.socket(SocketType::Req);
    req.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&req, curve_client(&cpub, &csec, &spub));
    req.set_option(SocketOption::Metadata("X-Name".into(), "alice".into()))
        .unwrap();
    req.connect(&ep).unwrap();
    for i in 0..3 {
        req.send(format!("ping {i}")).await.unwrap();
        let m = rep.recv().await.unwrap();
        assert_eq!(m.frames()[0], format!("ping {i}").as_bytes());
        assert_eq!(prop(&m, "User-Id"), Some(cpub.to_z85().as_bytes()));
        assert_eq!(prop(&m, "X-Name"), Some(&b"alice"[..]));
        assert_eq!(prop(&m, "socket-type"), Some(&b"REQ"[..]));
        assert_eq!(prop(&m, "Peer-Address"), Some(&b"127.0.0.1"[..]));
        rep.send("pong").await.unwrap();
        let r = req.recv().await.unwrap();
        assert_eq!(r.frames()[0], "pong");
        assert_eq!(prop(&r, "X-Role"), Some(&b"server"[..]));
        assert_eq!(prop(&r, "User-Id"), None, "clients are not authenticated");
    }
}

/// A fan-out under CURVE: each subscriber's copy is sealed with its own keys (the
/// publisher's encode-once path leaves encrypted links to the per-peer encoding), so
/// every subscriber reads every message, single- and multi-frame.
async fn curve_fan_out_seals_each_subscribers_copy<P: Proactor>(ctx: Context<P>) {
    let (spub, ssec) = CurveKey::generate_pair();
    let xpub = ctx.socket(SocketType::XPub);
    set(&xpub, curve_server(&ssec));
    xpub.set_option(SocketOption::XpubVerbose(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let mut subs = Vec::new();
    for _ in 0..3 {
        let (cpub, csec) = CurveKey::generate_pair();
        let sub = ctx.socket(SocketType::Sub);
        set(&sub, curve_client(&cpub, &csec, &spub));
        sub.subscribe(b"").unwrap();
        sub.connect(&ep).unwrap();
        subs.push(sub);
    }
    for _ in 0..3 {
        let notice = xpub.recv().await.unwrap();
        assert_eq!(notice.frames()[0], &b"\x01"[..]);
    }
    let sent: Vec<Vec<Vec<u8>>> = (0..20u8)
        .map(|i| match i % 3 {
            0 => vec![vec![i; 64]],
            1 => vec![b"topic".to_vec(), vec![i; 300]],
            _ => vec![vec![i; 1]],
        })
        .collect();
    for m in &sent {
        let frames: Vec<Bytes> = m.iter().map(|f| Bytes::from(f.clone())).collect();
        xpub.send(Message::from(frames)).await.unwrap();
    }
    for sub in &subs {
        for m in &sent {
            let got = sub.recv().await.unwrap();
            let got: Vec<Vec<u8>> = got.frames().iter().map(|f| f.to_vec()).collect();
            assert_eq!(&got, m);
        }
    }
}

async fn curve_unknown_client_key_is_denied<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    let (other, _) = CurveKey::generate_pair();
    let auth = Authenticator::new();
    auth.allow_curve_key(&other);
    ctx.set_zap_handler(auth);
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&cpub, &csec, &spub));
    let cmon = push.monitor();
    push.connect(&ep).unwrap();
    push.send("must not arrive").await.unwrap();
    let s = outcome(&p, &smon).await;
    assert!(
        matches!(s, MonitorEventKind::HandshakeFailedAuth { status: 400, .. }),
        "{s:?}"
    );
    let c = outcome(&p, &cmon).await;
    assert!(
        matches!(c, MonitorEventKind::HandshakeFailedAuth { status: 400, .. }),
        "{c:?}"
    );
    nothing_arrives(&pull).await;
}

async fn curve_wrong_server_key_fails<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (_spub, ssec) = CurveKey::generate_pair();
    let (wrong, _) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&cpub, &csec, &wrong));
    let cmon = push.monitor();
    push.connect(&ep).unwrap();
    push.send("must not arrive").await.unwrap();
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("HELLO"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcome(&p, &cmon).await,
        MonitorEventKind::HandshakeFailed { .. }
    ));
    nothing_arrives(&pull).await;
}

async fn curve_without_handler_accepts_any_key_unless_enforced<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    assert!(!ctx.has_zap_handler());
    let pull = ctx.socket(SocketType::Pull);
    pull.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&pull, curve_server(&ssec));
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&cpub, &csec, &spub));
    push.connect(&ep).unwrap();
    push.send("open door").await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.frames()[0], "open door");
    assert_eq!(prop(&m, "User-Id"), None);
    assert_eq!(
        prop(&m, "Socket-Type"),
        Some(&b"PUSH"[..]),
        "metadata attached"
    );

    let strict = ctx.socket(SocketType::Pull);
    set(&strict, curve_server(&ssec));
    strict
        .set_option(SocketOption::ZapEnforceDomain(true))
        .unwrap();
    let smon = strict.monitor();
    let ep2 = strict.bind("tcp://127.0.0.1:*").unwrap();
    push.connect(&ep2).unwrap();
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("no ZAP handler"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

async fn plain_with_zap_accepts_and_refuses<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let auth = Rc::new(Authenticator::new());
    auth.add_plain_user("admin", "secret");
    ctx.set_zap_handler(auth);
    let router = ctx.socket(SocketType::Router);
    router.set_option(SocketOption::PeerMetadata(true)).unwrap();
    router.set_option(SocketOption::PlainServer(true)).unwrap();
    let smon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();

    let good = ctx.socket(SocketType::Dealer);
    set(&good, plain_client("admin", "secret"));
    good.set_option(SocketOption::RoutingId(Bytes::from_static(b"good")))
        .unwrap();
    good.connect(&ep).unwrap();
    good.send("hello").await.unwrap();
    let m = router.recv().await.unwrap();
    assert_eq!(m.frames(), [Bytes::from_static(b"good"), "hello".into()]);
    assert_eq!(prop(&m, "User-Id"), Some(&b"admin"[..]));
    assert_eq!(prop(&m, "Identity"), Some(&b"good"[..]));
    assert_eq!(
        outcome(&p, &smon).await,
        MonitorEventKind::HandshakeSucceeded
    );

    let bad = ctx.socket(SocketType::Dealer);
    set(&bad, plain_client("admin", "guess"));
    let cmon = bad.monitor();
    bad.connect(&ep).unwrap();
    bad.send("intruder").await.unwrap();
    let s = outcome(&p, &smon).await;
    assert!(
        matches!(s, MonitorEventKind::HandshakeFailedAuth { status: 400, .. }),
        "{s:?}"
    );
    let c = outcome(&p, &cmon).await;
    assert!(
        matches!(c, MonitorEventKind::HandshakeFailedAuth { status: 400, .. }),
        "{c:?}"
    );
    nothing_arrives(&router).await;
}

async fn plain_server_without_handler_refuses<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.socket(SocketType::Pull);
    pull.set_option(SocketOption::PlainServer(true)).unwrap();
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    set(&push, plain_client("admin", "secret"));
    push.connect(&ep).unwrap();
    push.send("x").await.unwrap();
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("PLAIN server refuses"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    nothing_arrives(&pull).await;
}

/// A handler answering every request with the status in `status`, counting calls.
fn fixed_status(
    status: Rc<Cell<u16>>,
    calls: Rc<RefCell<Vec<ZapRequest>>>,
) -> impl Fn(ZapRequest) -> std::future::Ready<ZapReply> {
    move |req| {
        calls.borrow_mut().push(req);
        let s = status.get();
        std::future::ready(if s == 200 {
            ZapReply::allow("fixed").with_property("X-Tier", "gold")
        } else {
            ZapReply::deny(s, "no")
        })
    }
}

async fn zap_status_codes_300_and_500<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let status = Rc::new(Cell::new(300));
    let calls = Rc::new(RefCell::new(Vec::new()));
    ctx.set_zap_handler(fixed_status(status.clone(), calls.clone()));
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    pull.set_option(SocketOption::PeerMetadata(true)).unwrap();
    set(&pull, curve_server(&ssec));
    pull.set_option(SocketOption::ZapDomain("test".into()))
        .unwrap();
    pull.set_option(SocketOption::RoutingId(Bytes::from_static(b"srv")))
        .unwrap_err(); // PULL has no routing id: the ZAP request carries an empty one
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();

    // 300: refused, nothing sent: the client only sees the connection close.
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&cpub, &csec, &spub));
    push.set_option(SocketOption::ReconnectIvl(Duration::from_secs(60)))
        .unwrap();
    let cmon = push.monitor();
    push.connect(&ep).unwrap();
    let s = outcome(&p, &smon).await;
    assert!(
        matches!(s, MonitorEventKind::HandshakeFailedAuth { status: 300, .. }),
        "{s:?}"
    );
    match outcome(&p, &cmon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("closed"), "{reason}")
        }
        other => panic!("300 must send nothing, client saw {other:?}"),
    }
    {
        let calls = calls.borrow();
        assert_eq!(calls.len(), 1);
        let r = &calls[0];
        assert_eq!(
            (r.domain.as_str(), r.mechanism, r.address.as_str()),
            ("test", "CURVE", "127.0.0.1")
        );
        assert_eq!(
            r.credentials,
            ringmq_sockets::zap::Credentials::Curve {
                public_key: *cpub.as_bytes()
            }
        );
        assert!(r.routing_id.is_empty());
    }

    // 500: refused with an ERROR carrying the code.
    status.set(500);
    let push2 = ctx.socket(SocketType::Push);
    set(&push2, curve_client(&cpub, &csec, &spub));
    let cmon2 = push2.monitor();
    push2.connect(&ep).unwrap();
    let s = outcome(&p, &smon).await;
    assert!(
        matches!(s, MonitorEventKind::HandshakeFailedAuth { status: 500, .. }),
        "{s:?}"
    );
    let c = outcome(&p, &cmon2).await;
    assert!(
        matches!(c, MonitorEventKind::HandshakeFailedAuth { status: 500, .. }),
        "{c:?}"
    );

    // 200: accepted, the reply's user id and metadata reach the messages.
    status.set(200);
    let push3 = ctx.socket(SocketType::Push);
    set(&push3, curve_client(&cpub, &csec, &spub));
    push3.connect(&ep).unwrap();
    push3.send("in").await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(prop(&m, "User-Id"), Some(&b"fixed"[..]));
    assert_eq!(prop(&m, "X-Tier"), Some(&b"gold"[..]));
}

async fn null_asks_zap_only_with_a_domain<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let status = Rc::new(Cell::new(400));
    let calls = Rc::new(RefCell::new(Vec::new()));
    ctx.set_zap_handler(fixed_status(status, calls.clone()));
    let open = ctx.socket(SocketType::Pull);
    let ep = open.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("no zap").await.unwrap();
    assert_eq!(open.recv().await.unwrap().frames()[0], "no zap");
    assert!(
        calls.borrow().is_empty(),
        "NULL without ZAP_DOMAIN skips ZAP"
    );

    let guarded = ctx.socket(SocketType::Pull);
    guarded
        .set_option(SocketOption::ZapDomain("guarded".into()))
        .unwrap();
    let smon = guarded.monitor();
    let ep2 = guarded.bind("tcp://127.0.0.1:*").unwrap();
    let push2 = ctx.socket(SocketType::Push);
    let cmon = push2.monitor();
    push2.connect(&ep2).unwrap();
    push2.send("denied").await.unwrap();
    let s = outcome(&p, &smon).await;
    assert!(
        matches!(s, MonitorEventKind::HandshakeFailedAuth { status: 400, .. }),
        "{s:?}"
    );
    let c = outcome(&p, &cmon).await;
    assert!(
        matches!(c, MonitorEventKind::HandshakeFailedAuth { status: 400, .. }),
        "{c:?}"
    );
    let calls = calls.borrow();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].domain.as_str(), calls[0].mechanism),
        ("guarded", "NULL")
    );
    assert_eq!(calls[0].credentials, ringmq_sockets::zap::Credentials::Null);
}

async fn mechanism_mismatch_fails_both_sides<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (_, ssec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    let cmon = push.monitor();
    push.connect(&ep).unwrap();
    for m in [&smon, &cmon] {
        match outcome(&p, m).await {
            MonitorEventKind::HandshakeFailed { reason } => {
                let reason = reason.to_string();
                assert!(reason.contains("mechanism mismatch"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Our side of a raw TCP connection that speaks only what the test writes.
async fn raw_connect<P: Proactor>(p: &P, ep: &str) -> (P::Reader, P::Writer) {
    let stream = p.connect(&ep.parse().unwrap()).await.expect("raw connect");
    p.split(stream)
}

/// Reads until the peer closes; returns how many bytes came.
async fn read_to_close<P: Proactor>(p: &P, r: &mut P::Reader) -> usize {
    let mut total = 0;
    loop {
        let BufResult(n, _) = p.recv(r, Vec::with_capacity(4096)).await;
        match n {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

fn curve_greeting() -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    let mut name = b"CURVE".to_vec();
    name.resize(20, 0);
    g.extend(name);
    g.push(0);
    g.extend([0u8; 31]);
    g
}

async fn unauthenticated_stall_is_dropped_after_handshake_ivl<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (_, ssec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    pull.set_option(SocketOption::HandshakeIvl(Duration::from_millis(300)))
        .unwrap();
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    // Greeting and half a HELLO, then silence.
    let (mut r, mut w) = raw_connect(&p, &ep).await;
    let mut bytes = curve_greeting();
    bytes.extend([0x04, 200, 5]);
    bytes.extend(b"HEL");
    write_all(&p, &mut w, bytes).await;
    let started = p.now();
    let closed = timeout(&p, Duration::from_secs(5), read_to_close(&p, &mut r)).await;
    assert!(closed.is_some(), "the stalled peer was not dropped");
    let waited = p.now() - started;
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            assert_eq!(
                reason.to_string(),
                ringmq_zmtp::Error::HandshakeTimeout.to_string()
            )
        }
        other => panic!("{other:?}"),
    }
}

async fn slow_zap_handler_is_bounded_by_handshake_ivl<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    // A handler that never answers.
    let asked = Rc::new(Cell::new(false));
    let flag = asked.clone();
    ctx.set_zap_handler(move |_req: ZapRequest| {
        flag.set(true);
        std::future::pending::<ZapReply>()
    });
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    pull.set_option(SocketOption::HandshakeIvl(Duration::from_millis(300)))
        .unwrap();
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&cpub, &csec, &spub));
    push.connect(&ep).unwrap();
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            assert_eq!(
                reason.to_string(),
                ringmq_zmtp::Error::HandshakeTimeout.to_string()
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(asked.get(), "the deadline ended a pending ZAP request");
}

async fn oversized_frame_before_authentication_is_refused<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (_, ssec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let (mut r, mut w) = raw_connect(&p, &ep).await;
    let mut bytes = curve_greeting();
    // A long command frame announcing 1 GiB: refused from its header, nothing buffered.
    bytes.push(0x06);
    bytes.extend((1u64 << 30).to_be_bytes());
    bytes.extend([0u8; 1024]);
    write_all(&p, &mut w, bytes).await;
    let closed = timeout(&p, Duration::from_secs(5), read_to_close(&p, &mut r)).await;
    assert!(closed.is_some(), "the connection stayed open");
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("exceeds the limit of 65536"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

async fn nothing_is_read_while_zap_decides<P: Proactor>(ctx: Context<P>) {
    use ringmq_zmtp::mechanism::curve::{CurveClient, CurveKeyPair};
    use ringmq_zmtp::{Session, SessionConfig};
    let p = ctx.proactor().clone();
    let asked = Rc::new(Cell::new(false));
    let flag = asked.clone();
    ctx.set_zap_handler(move |_req: ZapRequest| {
        flag.set(true);
        std::future::pending::<ZapReply>()
    });
    let (spub, ssec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    pull.set_option(SocketOption::HandshakeIvl(Duration::from_millis(500)))
        .unwrap();
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    // A hand-driven CURVE client: greeting, HELLO, then INITIATE after WELCOME.
    let (mut r, mut w) = raw_connect(&p, &ep).await;
    let mut s = Session::new(
        SessionConfig::new(SocketType::Push),
        Box::new(CurveClient::new(CurveKeyPair::generate(), *spub.as_bytes())),
        p.now(),
    )
    .unwrap();
    let mut received = 0;
    // Greeting (64) + WELCOME frame (2 + 168).
    while received < 64 + 170 {
        if let Some(t) = s.poll_transmit() {
            write_all(&p, &mut w, t.to_vec()).await;
        }
        let BufResult(n, buf) = p.recv(&mut r, Vec::with_capacity(4096)).await;
        let n = n.expect("raw read");
        assert!(n > 0, "server closed during the handshake");
        received += n;
        s.handle_input(p.now(), &buf[..n]);
    }
    let initiate = s.poll_transmit().expect("INITIATE to send").to_vec();
    write_all(&p, &mut w, initiate).await;
    // The ZAP handler now decides forever. Bytes that would break the protocol
    // (invalid frame flags) are not read meanwhile: the connection ends by the
    // handshake deadline, not by a protocol error.
    wait_until(&p, WAIT, "the ZAP handler is asked", || asked.get()).await;
    write_all(&p, &mut w, vec![0xFF; 16 * 1024]).await;
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            assert_eq!(
                reason.to_string(),
                ringmq_zmtp::Error::HandshakeTimeout.to_string()
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A TCP relay in front of `target` for one connection: records what the client sends
/// and, when `dup_next` is set, forwards the next chunk from the client twice. `busy`
/// is set from reading a chunk until it was forwarded (and `dup_next` checked).
struct Relay {
    endpoint: String,
    recorded: Rc<RefCell<Vec<u8>>>,
    dup_next: Rc<Cell<bool>>,
    busy: Rc<Cell<bool>>,
}

fn relay<P: Proactor>(p: &P, target: String) -> Relay {
    let listener = p
        .listen(&"tcp://127.0.0.1:0".parse().unwrap())
        .expect("relay listen");
    let endpoint = p.listener_endpoint(&listener).unwrap().to_string();
    let recorded = Rc::new(RefCell::new(Vec::new()));
    let dup_next = Rc::new(Cell::new(false));
    let busy = Rc::new(Cell::new(false));
    let (rec, dup, q) = (recorded.clone(), dup_next.clone(), p.clone());
    let working = busy.clone();
    p.spawn_local(async move {
        let (client, _) = q.accept(&listener).await.expect("relay accept");
        let server = q
            .connect(&target.parse().unwrap())
            .await
            .expect("relay connect");
        let (mut cr, mut cw) = q.split(client);
        let (mut sr, mut sw) = q.split(server);
        let q2 = q.clone();
        q.spawn_local(async move {
            // Server to client.
            loop {
                let BufResult(n, buf) = q2.recv(&mut sr, Vec::with_capacity(8192)).await;
                match n {
                    Ok(n) if n > 0 => write_all(&q2, &mut cw, buf[..n].to_vec()).await,
                    _ => return,
                }
            }
        });
        loop {
            let BufResult(n, buf) = q.recv(&mut cr, Vec::with_capacity(8192)).await;
            let chunk = match n {
                Ok(n) if n > 0 => buf[..n].to_vec(),
                _ => return,
            };
            working.set(true);
            rec.borrow_mut().extend_from_slice(&chunk);
            write_all(&q, &mut sw, chunk.clone()).await;
            if dup.replace(false) {
                write_all(&q, &mut sw, chunk).await;
            }
            working.set(false);
        }
    });
    Relay {
        endpoint,
        recorded,
        dup_next,
        busy,
    }
}

async fn replayed_initiate_is_refused<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let relay = relay(&p, ep.clone());
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&cpub, &csec, &spub));
    push.connect(&relay.endpoint).unwrap();
    push.send("secret-1").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "secret-1");
    assert_eq!(
        outcome(&p, &smon).await,
        MonitorEventKind::HandshakeSucceeded
    );
    // (the relay recorded the message before forwarding it: the capture is complete)
    // Replay the whole captured client stream (greeting, HELLO, INITIATE, MESSAGE) on
    // a new connection: the server answers the HELLO with a new cookie key, so the old
    // INITIATE's cookie does not open.
    let captured = relay.recorded.borrow().clone();
    assert!(
        captured.len() > 64 + 200,
        "captured {} bytes",
        captured.len()
    );
    let (mut r, mut w) = raw_connect(&p, &ep).await;
    write_all(&p, &mut w, captured).await;
    let closed = timeout(&p, Duration::from_secs(5), read_to_close(&p, &mut r)).await;
    assert!(closed.is_some(), "the replaying connection stayed open");
    match outcome(&p, &smon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("cookie"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    nothing_arrives(&pull).await;
}

async fn replayed_message_is_refused<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (spub, ssec) = CurveKey::generate_pair();
    let (cpub, csec) = CurveKey::generate_pair();
    let pull = ctx.socket(SocketType::Pull);
    set(&pull, curve_server(&ssec));
    let smon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let relay = relay(&p, ep);
    let push = ctx.socket(SocketType::Push);
    set(&push, curve_client(&cpub, &csec, &spub));
    push.set_option(SocketOption::ReconnectIvl(Duration::from_secs(60)))
        .unwrap();
    push.connect(&relay.endpoint).unwrap();
    push.send("one").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "one");
    // The relay is done with the chunk that carried "one": the next one is "two".
    wait_until(&p, WAIT, "the relay forwarded the first message", || {
        !relay.busy.get()
    })
    .await;
    relay.dup_next.set(true);
    push.send("two").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "two");
    let e = wait_event(&p, &smon, |e| {
        matches!(e.kind, MonitorEventKind::Disconnected { .. })
    })
    .await;
    match e.kind {
        MonitorEventKind::Disconnected { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("replayed"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    nothing_arrives(&pull).await;
}

async fn curve_options_are_checked<P: Proactor>(ctx: Context<P>) {
    let s = ctx.socket(SocketType::Push);
    let bad = CurveKey::try_from(&b"short"[..]).unwrap_err();
    assert!(bad.to_string().contains("32 bytes or 40"), "{bad}");
    let e = s
        .set_option(SocketOption::Metadata("Name".into(), "v".into()))
        .unwrap_err();
    assert!(e.to_string().contains("ZMQ_METADATA"), "{e}");
    s.set_option(SocketOption::Metadata("X-Ok".into(), "v".into()))
        .unwrap();
    // A client without a secret key cannot connect: the monitor says why.
    let p = ctx.proactor().clone();
    let (spub, _) = CurveKey::generate_pair();
    s.set_option(SocketOption::CurveServerKey(spub)).unwrap();
    let mon = s.monitor();
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    s.connect(&ep).unwrap();
    match outcome(&p, &mon).await {
        MonitorEventKind::HandshakeFailed { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("ZMQ_CURVE_SECRETKEY"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// Peer metadata is attached to received messages only while `PeerMetadata` is set
/// (an atomic reference count per message otherwise saved).
async fn peer_metadata_only_when_asked<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.socket(SocketType::Pull);
    assert!(!pull.options().peer_metadata(), "off by default");
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push);
    push.set_option(SocketOption::Metadata("X-Who".into(), "me".into()))
        .unwrap();
    push.connect(&ep).unwrap();
    push.send("a").await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.frames()[0], "a");
    assert!(m.peer_metadata().is_none(), "not asked for");
    pull.set_option(SocketOption::PeerMetadata(true)).unwrap();
    assert!(pull.options().peer_metadata());
    push.send("b").await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.frames()[0], "b");
    assert_eq!(prop(&m, "X-Who"), Some(&b"me"[..]));
    assert_eq!(prop(&m, "Socket-Type"), Some(&b"PUSH"[..]));
    pull.set_option(SocketOption::PeerMetadata(false)).unwrap();
    push.send("c").await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.frames()[0], "c");
    assert!(m.peer_metadata().is_none(), "off again");
}

backend_tests!(
    peer_metadata_only_when_asked,
    curve_reqrep_with_allow_list_and_metadata,
    curve_fan_out_seals_each_subscribers_copy,
    curve_unknown_client_key_is_denied,
    curve_wrong_server_key_fails,
    curve_without_handler_accepts_any_key_unless_enforced,
    plain_with_zap_accepts_and_refuses,
    plain_server_without_handler_refuses,
    zap_status_codes_300_and_500,
    null_asks_zap_only_with_a_domain,
    mechanism_mismatch_fails_both_sides,
    unauthenticated_stall_is_dropped_after_handshake_ivl,
    slow_zap_handler_is_bounded_by_handshake_ivl,
    oversized_frame_before_authentication_is_refused,
    nothing_is_read_while_zap_decides,
    replayed_initiate_is_refused,
    replayed_message_is_refused,
    curve_options_are_checked,
);
