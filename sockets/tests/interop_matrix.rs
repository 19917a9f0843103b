//! The interop matrix: ringmq against real libzmq, both directions, every valid socket
//! pairing, over TCP, IPC (path) and abstract IPC, each row run against BOTH libzmq
//! peers (pyzmq's libzmq 4.3.5 in `pyzmq::*`, the system's libzmq 4.3.4 through
//! `libzmq_peer.c` in `libzmq::*`); a few rows again on the epoll backend (`epoll_*`).
//! See `interop/peer.rs` for the peers (a missing peer FAILS the test with
//! instructions).
//!
//! Rows (one `#[test]` each, named `<pairing>_<who is ringmq>_<transport>_<who binds>`):
//! - request/reply pairings (REQ-REP, REQ-ROUTER, DEALER-REP, DEALER-DEALER,
//!   DEALER-ROUTER, ROUTER-ROUTER, PAIR-PAIR), ringmq asking and ringmq serving: the
//!   standard payloads (`hello`, one 0-byte frame, `["", "a", "", ""]`, 16 MiB, frames
//!   of 255 and 256 bytes, END) each come back identical; ROUTERs use explicit routing
//!   ids both ways and check the id they saw; a ROUTER addresses two peers by id;
//! - PUB-SUB, PUB-XSUB, XPUB-SUB, XPUB-XSUB, ringmq publishing and ringmq
//!   subscribing: four topics, subscriptions to two of them (one by prefix), exact
//!   filtered counts and byte totals, after a sync handshake of probe messages; XPUB
//!   notices of subscribes and of the cancels when the subscriber leaves; unsubscribing
//!   mid-stream in both directions;
//! - PUSH-PULL both ways, bursts of 100,000 messages counted exactly, connecting before
//!   the peer binds, a queue kept across a peer restart;
//! - HEARTBEAT_IVL (and TTL) on the libzmq side, HEARTBEAT_IVL on ours: the connection
//!   survives idle periods of many intervals and still carries messages.

mod common;
#[path = "interop/peer.rs"]
mod peer;

use std::time::Duration;

use peer::{Impl, Peer};
use ringmq_proactor::{BackendChoice, Native};
use ringmq_sockets::SocketType::{
    self, Dealer, Pair, Pub, Pull, Push, Rep, Req, Router, Sub, XPub, XSub,
};
use ringmq_sockets::{Bytes, Context, Message, MonitorEventKind, Socket, SocketOption};

/// Where a row runs.
#[derive(Clone, Copy, Debug)]
struct Cfg {
    peer: Impl,
    backend: BackendChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tr {
    Tcp,
    Ipc,
    /// Linux abstract IPC (`ipc://@name`).
    Abstract,
}

/// Who binds; the other side connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binds {
    Ringmq,
    Peer,
    /// ringmq connects first, to an endpoint nobody listens on yet; the peer binds it
    /// a few reconnect intervals later.
    PeerLater,
}

fn run<F, Fut>(cfg: Cfg, body: F)
where
    F: FnOnce(Context<Native>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    match cfg.backend {
        BackendChoice::Epoll => common::epoll(body),
        _ => common::uring(body),
    }
}

fn bind_endpoint(tr: Tr, name: &str) -> String {
    match tr {
        Tr::Tcp => "tcp://127.0.0.1:*".to_owned(),
        Tr::Ipc => common::ipc_endpoint(name),
        Tr::Abstract => abstract_endpoint(name),
    }
}

fn abstract_endpoint(name: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("ipc://@ringmq-interop-{}-{name}-{n}", std::process::id())
}

/// An endpoint with a known port/path that nobody listens on yet.
fn fixed_endpoint(tr: Tr) -> String {
    match tr {
        Tr::Tcp => format!("tcp://127.0.0.1:{}", common::free_port()),
        Tr::Ipc => common::ipc_endpoint("later"),
        Tr::Abstract => abstract_endpoint("later"),
    }
}

/// Starts the peer as `peer_type` with `opts` and `scenario`, binding or connecting as
/// `binds` says, and connects or binds `s` accordingly.
#[allow(clippy::too_many_arguments)] // one call shape for every row
async fn attach(
    cfg: Cfg,
    p: &Native,
    s: &Socket<Native>,
    peer_type: SocketType,
    opts: &[&str],
    scenario: &[&str],
    tr: Tr,
    binds: Binds,
) -> Peer {
    let mut args: Vec<String> = vec!["--type".into(), SocketType::as_str(peer_type).into()];
    args.extend(opts.iter().map(|o| o.to_string()));
    let peer = match binds {
        Binds::Ringmq => {
            let ep = s.bind(&bind_endpoint(tr, "ringmq")).expect("bind");
            args.extend(["--connect".to_owned(), ep]);
            args.extend(scenario.iter().map(|o| o.to_string()));
            Peer::spawn(cfg.peer, &args)
        }
        Binds::PeerLater => {
            let ep = fixed_endpoint(tr);
            let mon = s.monitor();
            s.connect(&ep).expect("connect");
            // A few connection attempts fail first.
            for _ in 0..2 {
                common::wait_event(p, &mon, |e| {
                    matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
                })
                .await;
            }
            args.extend(["--bind".to_owned(), ep]);
            args.extend(scenario.iter().map(|o| o.to_string()));
            Peer::spawn(cfg.peer, &args)
        }
        Binds::Peer => {
            args.extend(["--bind".to_owned(), bind_endpoint(tr, "peer")]);
            args.extend(scenario.iter().map(|o| o.to_string()));
            let peer = Peer::spawn(cfg.peer, &args);
            s.connect(&peer.endpoint).expect("connect");
            peer
        }
    };
    peer
}

const BIG: usize = 16 << 20;

/// The payloads of the peers' `ask` scenario (the same in both peer programs).
fn payloads() -> Vec<Vec<Bytes>> {
    let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    vec![
        vec![Bytes::from_static(b"hello")],
        vec![Bytes::new()],
        vec![
            Bytes::new(),
            Bytes::from_static(b"a"),
            Bytes::new(),
            Bytes::new(),
        ],
        vec![Bytes::from(big)],
        // The largest short frame and the smallest long one.
        vec![Bytes::from(vec![b'x'; 255]), Bytes::from(vec![b'y'; 256])],
        vec![Bytes::from_static(b"END")],
    ]
}

/// Frame lengths and equality, without printing 16 MiB on failure.
fn assert_frames(got: &Message, want: &[Bytes], what: &str) {
    let lens = |f: &[Bytes]| f.iter().map(Bytes::len).collect::<Vec<_>>();
    assert_eq!(lens(got.frames()), lens(want), "{what}: frame lengths");
    for (i, (g, w)) in got.frames().iter().zip(want).enumerate() {
        if g.len() <= 64 {
            assert_eq!(g, w, "{what}: frame {i}");
        } else {
            assert!(g == w, "{what}: frame {i} ({} bytes) differs", g.len());
        }
    }
}

const RINGMQ_ID: &str = "ringmq";
const PEER_ID: &str = "peer";

fn is_end(m: &Message) -> bool {
    let f = m.frames();
    f.first().is_some_and(|f| f == "END") || f.last().is_some_and(|f| f == "END")
}

/// ringmq `asker` sends the standard payloads to an echoing libzmq `server`.
fn ringmq_asks(cfg: Cfg, asker: SocketType, server: SocketType, tr: Tr, binds: Binds) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(asker);
        let mon = s.monitor();
        if matches!(asker, Req | Dealer | Router) {
            s.set_option(SocketOption::RoutingId(Bytes::from_static(
                RINGMQ_ID.as_bytes(),
            )))
            .unwrap();
        }
        let opts: &[&str] = if server == Router {
            &["--identity", PEER_ID]
        } else {
            &[]
        };
        let mut peer = attach(cfg, &p, &s, server, opts, &["echo"], tr, binds).await;
        let mut prefix = Vec::new();
        if asker == Router {
            // A ROUTER can only address a peer it knows: wait for the handshake.
            common::wait_handshakes(&p, &mon, 1).await;
            prefix.push(Bytes::from_static(PEER_ID.as_bytes()));
        }
        if asker == Dealer && server == Rep {
            prefix.push(Bytes::new());
        }
        for payload in payloads() {
            // One connection carried everything (until END, after which the peer exits).
            assert_no_disconnect(&mon);
            let want: Vec<Bytes> = prefix.iter().chain(&payload).cloned().collect();
            s.send(want.clone()).await.unwrap();
            let got = s.recv().await.unwrap();
            assert_frames(&got, &want, "echoed reply");
        }
        if server == Router {
            assert_eq!(peer.line(&p, "FROM").await, format!("FROM {RINGMQ_ID}"));
        }
        peer.finish(&p).await;
    });
}

/// A libzmq `asker` sends the standard payloads to ringmq `server`, which echoes.
fn peer_asks(cfg: Cfg, asker: SocketType, server: SocketType, tr: Tr, binds: Binds) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(server);
        let mon = s.monitor();
        if server == Router {
            s.set_option(SocketOption::RoutingId(Bytes::from_static(
                RINGMQ_ID.as_bytes(),
            )))
            .unwrap();
        }
        let mut opts = vec![];
        if matches!(asker, Req | Dealer | Router) {
            opts.extend(["--identity", PEER_ID]);
        }
        if asker == Router {
            opts.extend(["--route-to", RINGMQ_ID]);
        }
        if asker == Dealer && server == Rep {
            opts.push("--delimiter");
        }
        let mut peer = attach(cfg, &p, &s, asker, &opts, &["ask"], tr, binds).await;
        loop {
            let m = s.recv().await.unwrap();
            if server == Router {
                assert_eq!(m.frames()[0], PEER_ID, "the routing id the ROUTER saw");
            }
            let end = is_end(&m);
            assert_no_disconnect(&mon);
            s.send(m).await.unwrap();
            if end {
                break;
            }
        }
        peer.line(&p, "OK").await;
        peer.finish(&p).await;
    });
}

fn assert_no_disconnect(mon: &ringmq_sockets::Monitor) {
    while let Some(e) = mon.try_recv() {
        assert!(
            !matches!(
                e.kind,
                MonitorEventKind::Disconnected { .. } | MonitorEventKind::HandshakeFailed { .. }
            ),
            "unexpected {e:?}"
        );
    }
}

const TOPICS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
/// What the subscriber subscribes to: a prefix, a whole topic, and the end marker.
const SUBS: [&str; 3] = ["alp", "gamma", "END"];
const PUBLISHED: usize = 400;

/// The messages of `publish` that pass `SUBS`, and their total size.
fn expected_filtered() -> (usize, usize) {
    expected_for(&SUBS)
}

/// The messages of `publish` that pass `subs`, and their total size.
fn expected_for(subs: &[&str]) -> (usize, usize) {
    (0..PUBLISHED)
        .map(|i| format!("{}-{i}", TOPICS[i % 4]))
        .filter(|t| subs.iter().any(|s| t.starts_with(s)))
        .fold((0, 0), |(n, b), t| (n + 1, b + t.len()))
}

/// ringmq `publisher` to a counting libzmq `subscriber`.
fn ringmq_publishes(cfg: Cfg, publisher: SocketType, subscriber: SocketType, tr: Tr, binds: Binds) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(publisher);
        let mut opts = vec![];
        for t in SUBS {
            opts.extend(["--subscribe", t]);
        }
        let mut peer = attach(cfg, &p, &s, subscriber, &opts, &["count"], tr, binds).await;
        // Probe every topic until the peer saw probes matching all its subscriptions:
        // from then on it receives everything it subscribed to.
        probe_until_synced(&p, &s, &mut peer).await;
        if publisher == XPub {
            // XPUB reports each subscription of the libzmq subscriber once.
            let mut notices = Vec::new();
            while let Ok(m) = s.try_recv() {
                notices.push(m.frames()[0].clone());
            }
            notices.sort();
            let mut want: Vec<Bytes> = SUBS
                .iter()
                .map(|t| Bytes::from(format!("\x01{t}")))
                .collect();
            want.sort();
            assert_eq!(notices, want, "XPUB subscription notices");
        }
        for i in 0..PUBLISHED {
            s.send(vec![
                Bytes::from(format!("{}-{i}", TOPICS[i % 4])),
                Bytes::new(),
            ])
            .await
            .unwrap();
        }
        s.send("END").await.unwrap();
        let (n, bytes) = expected_filtered();
        assert_eq!(peer.line(&p, "GOT").await, format!("GOT {n} {bytes}"));
        peer.finish(&p).await;
        if publisher == XPub {
            // The subscriber left: XPUB reports the cancel of each of its topics.
            let mut notices = Vec::new();
            for _ in SUBS {
                notices.push(s.recv().await.unwrap().frames()[0].clone());
            }
            notices.sort();
            let mut want: Vec<Bytes> = SUBS
                .iter()
                .map(|t| Bytes::from(format!("\x00{t}")))
                .collect();
            want.sort();
            assert_eq!(notices, want, "XPUB cancel notices");
        }
    });
}

/// Publishes a probe on every topic (and END), round after round, until the counting
/// peer says SYNCED (it waits for the next round at most 10 ms).
async fn probe_until_synced(p: &Native, s: &Socket<Native>, peer: &mut Peer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        for t in TOPICS.iter().chain(&["END"]) {
            s.send(format!("{t}-SYNC")).await.unwrap();
        }
        let round = Duration::from_millis(10);
        if peer.line_within(p, "SYNCED", round).await.is_some() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the {:?} peer did not sync",
            peer.imp
        );
    }
}

/// The libzmq `subscriber` cancels `gamma` once synced: ringmq XPUB reports the cancel
/// (and only then publishes), stops sending `gamma`, and reports the cancels of the
/// remaining topics when the subscriber leaves.
fn xpub_sees_unsubscribe(cfg: Cfg, subscriber: SocketType, tr: Tr) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(XPub);
        let mut opts = vec!["--unsubscribe", "gamma"];
        for t in SUBS {
            opts.extend(["--subscribe", t]);
        }
        let mut peer = attach(
            cfg,
            &p,
            &s,
            subscriber,
            &opts,
            &["count"],
            tr,
            Binds::Ringmq,
        )
        .await;
        probe_until_synced(&p, &s, &mut peer).await;
        let mut notices = Vec::new();
        while notices.last() != Some(&Bytes::from_static(b"\x00gamma")) {
            notices.push(s.recv().await.unwrap().frames()[0].clone());
        }
        assert_eq!(notices.len(), SUBS.len() + 1, "{notices:?}");
        for i in 0..PUBLISHED {
            s.send(vec![
                Bytes::from(format!("{}-{i}", TOPICS[i % 4])),
                Bytes::new(),
            ])
            .await
            .unwrap();
        }
        s.send("END").await.unwrap();
        let (n, bytes) = expected_for(&["alp", "END"]);
        assert_eq!(peer.line(&p, "GOT").await, format!("GOT {n} {bytes}"));
        peer.finish(&p).await;
        let mut left = vec![
            s.recv().await.unwrap().frames()[0].clone(),
            s.recv().await.unwrap().frames()[0].clone(),
        ];
        left.sort();
        assert_eq!(left, [&b"\x00END"[..], &b"\x00alp"[..]]);
    });
}

/// ringmq `subscriber` cancels `gamma` once synced; the libzmq XPUB publishes only
/// after it received the cancel (so the cancel travelled), and no `gamma` arrives.
fn sub_unsubscribes(cfg: Cfg, subscriber: SocketType, tr: Tr) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(subscriber);
        for t in SUBS {
            if subscriber == Sub {
                s.subscribe(t.as_bytes()).unwrap();
            } else {
                s.send(format!("\x01{t}")).await.unwrap();
            }
        }
        let n = PUBLISHED.to_string();
        let scenario = ["--await-cancel", "publish", &n];
        let mut peer = attach(cfg, &p, &s, XPub, &[], &scenario, tr, Binds::Peer).await;
        let mut seen = [false; SUBS.len()];
        let mut synced = false;
        let (mut count, mut bytes) = (0, 0);
        loop {
            let m = s.recv().await.unwrap();
            let first = &m.frames()[0];
            if first.ends_with(b"-SYNC") {
                for (i, t) in SUBS.iter().enumerate() {
                    seen[i] |= first.starts_with(t.as_bytes());
                }
                if !synced && seen.iter().all(|s| *s) {
                    synced = true;
                    if subscriber == Sub {
                        s.unsubscribe(b"gamma").unwrap();
                    } else {
                        s.send("\x00gamma").await.unwrap();
                    }
                    peer.go();
                }
                continue;
            }
            if first == "END" {
                break;
            }
            assert!(first.starts_with(b"alp"), "not subscribed: {m:?}");
            count += 1;
            bytes += m.byte_len();
        }
        assert_eq!((count, bytes), expected_for(&["alp", "END"]));
        peer.finish(&p).await;
    });
}

/// ringmq ROUTER addresses two libzmq DEALERs by their explicit routing ids; each
/// echoes, and the reply must come back from the addressed one.
fn router_addresses_two_peers(cfg: Cfg, tr: Tr) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(Router);
        let mon = s.monitor();
        let ep = s.bind(&bind_endpoint(tr, "router")).unwrap();
        let ids = ["peer-a", "peer-b"];
        let peers: Vec<Peer> = ids
            .iter()
            .map(|id| {
                let args = [
                    "--type",
                    "DEALER",
                    "--identity",
                    id,
                    "--connect",
                    &ep,
                    "echo",
                ];
                Peer::spawn(cfg.peer, &args.map(String::from))
            })
            .collect();
        common::wait_handshakes(&p, &mon, 2).await;
        for round in 0..10 {
            for id in ids.iter().rev() {
                let body = Bytes::from(format!("to {id} #{round}"));
                s.send(vec![Bytes::from(*id), body.clone()]).await.unwrap();
                let m = s.recv().await.unwrap();
                assert_eq!(m.frames(), [Bytes::from(*id), body]);
            }
        }
        for id in ids {
            s.send(vec![Bytes::from(id), Bytes::from_static(b"END")])
                .await
                .unwrap();
            assert_eq!(s.recv().await.unwrap().frames()[0], id);
        }
        for peer in peers {
            peer.finish(&p).await;
        }
    });
}

/// A libzmq ROUTER routes by the explicit routing ids of two ringmq DEALERs: each
/// gets back exactly its own messages.
fn peer_router_addresses_two_dealers(cfg: Cfg, tr: Tr) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let args = [
            "--type",
            "ROUTER",
            "--bind",
            &bind_endpoint(tr, "peer"),
            "echo",
        ];
        let peer = Peer::spawn(cfg.peer, &args.map(String::from));
        let ids = ["dealer-a", "dealer-b"];
        let dealers: Vec<_> = ids
            .iter()
            .map(|id| {
                let d = ctx.socket(Dealer);
                d.set_option(SocketOption::RoutingId(Bytes::from(*id)))
                    .unwrap();
                d.connect(&peer.endpoint).unwrap();
                d
            })
            .collect();
        for round in 0..10 {
            for (d, id) in dealers.iter().zip(ids) {
                d.send(format!("{id} #{round}")).await.unwrap();
            }
            for (d, id) in dealers.iter().zip(ids) {
                let m = d.recv().await.unwrap();
                assert_eq!(m.frames(), [Bytes::from(format!("{id} #{round}"))]);
            }
        }
        dealers[0].send("END").await.unwrap();
        assert_eq!(dealers[0].recv().await.unwrap().frames()[0], "END");
        peer.finish(&p).await;
    });
}

/// A libzmq `publisher` to ringmq `subscriber`, counting exactly.
fn peer_publishes(cfg: Cfg, publisher: SocketType, subscriber: SocketType, tr: Tr, binds: Binds) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(subscriber);
        for t in SUBS {
            if subscriber == Sub {
                s.subscribe(t.as_bytes()).unwrap();
            } else {
                s.send(format!("\x01{t}")).await.unwrap();
            }
        }
        let n = PUBLISHED.to_string();
        let mut peer = attach(cfg, &p, &s, publisher, &[], &["publish", &n], tr, binds).await;
        let mut seen = [false; SUBS.len()];
        let mut synced = false;
        let (mut count, mut bytes) = (0, 0);
        loop {
            let m = s.recv().await.unwrap();
            let first = &m.frames()[0];
            if first.ends_with(b"-SYNC") {
                for (i, t) in SUBS.iter().enumerate() {
                    seen[i] |= first.starts_with(t.as_bytes());
                }
                if !synced && seen.iter().all(|s| *s) {
                    synced = true;
                    peer.go();
                }
                continue;
            }
            if first == "END" {
                break;
            }
            assert!(synced, "data before the go-ahead: {m:?}");
            assert!(
                SUBS.iter().any(|t| first.starts_with(t.as_bytes())),
                "not subscribed: {m:?}"
            );
            assert_eq!(m.frames().len(), 2, "{m:?}");
            assert!(m.frames()[1].is_empty(), "{m:?}");
            count += 1;
            bytes += m.byte_len();
        }
        assert_eq!((count, bytes), expected_filtered());
        peer.finish(&p).await;
    });
}

/// ringmq PUSH sends `n` messages (then END) to a counting libzmq PULL.
fn ringmq_pushes(cfg: Cfg, n: usize, tr: Tr, binds: Binds) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(Push);
        let mut peer = attach(cfg, &p, &s, Pull, &[], &["count"], tr, binds).await;
        let mut bytes = 0;
        for i in 0..n {
            let body = i.to_string();
            bytes += body.len();
            s.send(body).await.unwrap();
        }
        s.send("END").await.unwrap();
        assert_eq!(peer.line(&p, "GOT").await, format!("GOT {n} {bytes}"));
        peer.finish(&p).await;
    });
}

/// ringmq PUSH keeps its connect-side queue across a peer restart: a libzmq PULL
/// counts a first batch and exits, messages sent meanwhile wait, and a new PULL bound
/// on the same endpoint receives them and a second batch; ringmq reconnected by itself.
fn push_across_peer_restart(cfg: Cfg, tr: Tr) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(Push);
        let mon = s.monitor();
        let ep = fixed_endpoint(tr);
        let spawn = |ep: &str| {
            let args = ["--type", "PULL", "--bind", ep, "count"];
            Peer::spawn(cfg.peer, &args.map(String::from))
        };
        let mut first = spawn(&ep);
        s.connect(&ep).unwrap();
        for i in 0..100 {
            s.send(format!("a{i}")).await.unwrap();
        }
        s.send("END").await.unwrap();
        assert!(first.line(&p, "GOT").await.starts_with("GOT 100 "));
        first.finish(&p).await;
        // No peer now: these wait in the queue of the connect-side peer, which
        // survives refused reconnects.
        common::wait_event(&p, &mon, |e| {
            matches!(e.kind, MonitorEventKind::Disconnected { .. })
        })
        .await;
        for i in 0..50 {
            s.send(format!("b{i}")).await.unwrap();
        }
        common::wait_event(&p, &mon, |e| {
            matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
        })
        .await;
        let mut second = spawn(&ep);
        for i in 0..50 {
            s.send(format!("c{i}")).await.unwrap();
        }
        s.send("END").await.unwrap();
        assert!(second.line(&p, "GOT").await.starts_with("GOT 100 "));
        second.finish(&p).await;
    });
}

/// A libzmq PUSH sends `n` numbered messages to ringmq PULL: all arrive, in order,
/// and nothing more.
fn peer_pushes(cfg: Cfg, n: usize, tr: Tr, binds: Binds) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(Pull);
        let count = n.to_string();
        let peer = attach(cfg, &p, &s, Push, &[], &["send", &count], tr, binds).await;
        for i in 0..n {
            let m = s.recv().await.unwrap();
            assert_eq!(m.frames(), [Bytes::from(i.to_string())], "message {i}");
        }
        peer.finish(&p).await;
        let extra = common::timeout(&p, Duration::from_millis(200), s.recv()).await;
        assert!(extra.is_none(), "more than {n} messages: {extra:?}");
    });
}

/// The connection survives idle periods of many heartbeat intervals (100 ms) with
/// HEARTBEAT_IVL set on the libzmq side or on ours, and still carries messages: libzmq
/// drops a connection whose peer does not answer its PINGs within HEARTBEAT_TIMEOUT
/// (= the interval), and so does ringmq. With HEARTBEAT_TTL set, libzmq's PINGs carry
/// a TTL (in deciseconds on the wire) that ringmq must apply as its receive timeout:
/// 1 s is plenty with a PING every 100 ms, a unit mix-up (10 ms) is not.
/// `theirs` are the peer's heartbeat options; without any, ringmq sets HEARTBEAT_IVL.
fn heartbeat(cfg: Cfg, theirs: &'static [&'static str], tr: Tr) {
    run(cfg, |ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.socket(Req);
        let mon = s.monitor();
        let opts = theirs;
        if theirs.is_empty() {
            s.set_option(SocketOption::HeartbeatIvl(Duration::from_millis(100)))
                .unwrap();
        }
        let peer = attach(cfg, &p, &s, Rep, opts, &["echo"], tr, Binds::Peer).await;
        common::wait_handshakes(&p, &mon, 1).await;
        for round in 0..3 {
            let body = format!("round {round}");
            s.send(body.clone()).await.unwrap();
            assert_eq!(s.recv().await.unwrap().frames(), [Bytes::from(body)]);
            // A timing test: idle for 8 intervals, only heartbeats keep the connection.
            common::sleep(&p, Duration::from_millis(800)).await;
            assert_no_disconnect(&mon);
        }
        s.send("END").await.unwrap();
        s.recv().await.unwrap();
        peer.finish(&p).await;
    });
}

const HB_IVL: &[&str] = &["--heartbeat-ivl", "100"];
const HB_IVL_TTL: &[&str] = &["--heartbeat-ivl", "100", "--heartbeat-ttl", "1000"];

/// Instantiates rows once per peer (`mod pyzmq`, `mod libzmq`) on `backend`.
macro_rules! rows {
    ($backend:expr; $py:ident, $lz:ident; $($name:ident => $f:ident($($arg:expr),*);)*) => {
        mod $py {
            use super::*;
            $( #[test] fn $name() {
                $f(Cfg { peer: Impl::Pyzmq, backend: $backend }, $($arg),*)
            } )*
        }
        mod $lz {
            use super::*;
            $( #[test] fn $name() {
                $f(Cfg { peer: Impl::Libzmq, backend: $backend }, $($arg),*)
            } )*
        }
    };
}

use Binds::{Peer as PB, Ringmq as RB};
use Tr::{Abstract, Ipc, Tcp};

rows! { BackendChoice::Uring; pyzmq, libzmq;
    // REQ-REP
    req_rep_ringmq_req_tcp_peer_binds => ringmq_asks(Req, Rep, Tcp, PB);
    req_rep_ringmq_req_tcp_ringmq_binds => ringmq_asks(Req, Rep, Tcp, RB);
    req_rep_ringmq_req_ipc => ringmq_asks(Req, Rep, Ipc, PB);
    req_rep_ringmq_rep_tcp_ringmq_binds => peer_asks(Req, Rep, Tcp, RB);
    req_rep_ringmq_rep_tcp_peer_binds => peer_asks(Req, Rep, Tcp, PB);
    req_rep_ringmq_rep_ipc => peer_asks(Req, Rep, Ipc, RB);
    req_rep_ringmq_req_abstract_peer_binds => ringmq_asks(Req, Rep, Abstract, PB);
    req_rep_ringmq_rep_abstract_ringmq_binds => peer_asks(Req, Rep, Abstract, RB);
    // REQ-ROUTER
    req_router_ringmq_req_tcp_peer_binds => ringmq_asks(Req, Router, Tcp, PB);
    req_router_ringmq_req_tcp_ringmq_binds => ringmq_asks(Req, Router, Tcp, RB);
    req_router_ringmq_req_ipc => ringmq_asks(Req, Router, Ipc, PB);
    req_router_ringmq_router_tcp_ringmq_binds => peer_asks(Req, Router, Tcp, RB);
    req_router_ringmq_router_tcp_peer_binds => peer_asks(Req, Router, Tcp, PB);
    req_router_ringmq_router_ipc => peer_asks(Req, Router, Ipc, RB);
    // DEALER-REP
    dealer_rep_ringmq_dealer_tcp_peer_binds => ringmq_asks(Dealer, Rep, Tcp, PB);
    dealer_rep_ringmq_dealer_tcp_ringmq_binds => ringmq_asks(Dealer, Rep, Tcp, RB);
    dealer_rep_ringmq_dealer_ipc => ringmq_asks(Dealer, Rep, Ipc, PB);
    dealer_rep_ringmq_rep_tcp_ringmq_binds => peer_asks(Dealer, Rep, Tcp, RB);
    dealer_rep_ringmq_rep_tcp_peer_binds => peer_asks(Dealer, Rep, Tcp, PB);
    dealer_rep_ringmq_rep_ipc => peer_asks(Dealer, Rep, Ipc, RB);
    // DEALER-DEALER
    dealer_dealer_ringmq_asks_tcp_peer_binds => ringmq_asks(Dealer, Dealer, Tcp, PB);
    dealer_dealer_ringmq_asks_tcp_ringmq_binds => ringmq_asks(Dealer, Dealer, Tcp, RB);
    dealer_dealer_ringmq_asks_ipc => ringmq_asks(Dealer, Dealer, Ipc, PB);
    dealer_dealer_ringmq_echoes_tcp_ringmq_binds => peer_asks(Dealer, Dealer, Tcp, RB);
    dealer_dealer_ringmq_echoes_ipc => peer_asks(Dealer, Dealer, Ipc, PB);
    // DEALER-ROUTER
    dealer_router_ringmq_dealer_tcp_peer_binds => ringmq_asks(Dealer, Router, Tcp, PB);
    dealer_router_ringmq_dealer_tcp_ringmq_binds => ringmq_asks(Dealer, Router, Tcp, RB);
    dealer_router_ringmq_dealer_ipc => ringmq_asks(Dealer, Router, Ipc, PB);
    dealer_router_ringmq_router_tcp_ringmq_binds => peer_asks(Dealer, Router, Tcp, RB);
    dealer_router_ringmq_router_tcp_peer_binds => peer_asks(Dealer, Router, Tcp, PB);
    dealer_router_ringmq_router_ipc => peer_asks(Dealer, Router, Ipc, RB);
    // ROUTER-ROUTER, explicit identities on both sides
    router_router_ringmq_asks_tcp_peer_binds => ringmq_asks(Router, Router, Tcp, PB);
    router_router_ringmq_asks_tcp_ringmq_binds => ringmq_asks(Router, Router, Tcp, RB);
    router_router_ringmq_asks_ipc => ringmq_asks(Router, Router, Ipc, PB);
    router_router_ringmq_echoes_tcp_ringmq_binds => peer_asks(Router, Router, Tcp, RB);
    router_router_ringmq_echoes_tcp_peer_binds => peer_asks(Router, Router, Tcp, PB);
    router_router_ringmq_echoes_ipc => peer_asks(Router, Router, Ipc, RB);
    // ROUTER addressing two peers by explicit routing ids, both ways
    router_two_identities_ringmq_router_tcp => router_addresses_two_peers(Tcp);
    router_two_identities_ringmq_router_ipc => router_addresses_two_peers(Ipc);
    router_two_identities_ringmq_dealers_tcp => peer_router_addresses_two_dealers(Tcp);
    router_two_identities_ringmq_dealers_ipc => peer_router_addresses_two_dealers(Ipc);
    // PAIR-PAIR
    pair_pair_ringmq_asks_tcp_peer_binds => ringmq_asks(Pair, Pair, Tcp, PB);
    pair_pair_ringmq_asks_tcp_ringmq_binds => ringmq_asks(Pair, Pair, Tcp, RB);
    pair_pair_ringmq_asks_ipc => ringmq_asks(Pair, Pair, Ipc, RB);
    pair_pair_ringmq_echoes_tcp_ringmq_binds => peer_asks(Pair, Pair, Tcp, RB);
    pair_pair_ringmq_echoes_ipc => peer_asks(Pair, Pair, Ipc, PB);
    // PUB-SUB family
    pub_sub_ringmq_pub_tcp_ringmq_binds => ringmq_publishes(Pub, Sub, Tcp, RB);
    pub_sub_ringmq_pub_tcp_peer_binds => ringmq_publishes(Pub, Sub, Tcp, PB);
    pub_sub_ringmq_pub_ipc => ringmq_publishes(Pub, Sub, Ipc, RB);
    pub_sub_ringmq_sub_tcp_peer_binds => peer_publishes(Pub, Sub, Tcp, PB);
    pub_sub_ringmq_sub_tcp_ringmq_binds => peer_publishes(Pub, Sub, Tcp, RB);
    pub_sub_ringmq_sub_ipc => peer_publishes(Pub, Sub, Ipc, PB);
    pub_xsub_ringmq_pub_tcp => ringmq_publishes(Pub, XSub, Tcp, RB);
    pub_xsub_ringmq_pub_ipc => ringmq_publishes(Pub, XSub, Ipc, PB);
    pub_xsub_ringmq_xsub_tcp => peer_publishes(Pub, XSub, Tcp, PB);
    pub_xsub_ringmq_xsub_ipc => peer_publishes(Pub, XSub, Ipc, RB);
    xpub_sub_ringmq_xpub_tcp => ringmq_publishes(XPub, Sub, Tcp, RB);
    xpub_sub_ringmq_xpub_ipc => ringmq_publishes(XPub, Sub, Ipc, PB);
    xpub_sub_ringmq_sub_tcp => peer_publishes(XPub, Sub, Tcp, PB);
    xpub_sub_ringmq_sub_ipc => peer_publishes(XPub, Sub, Ipc, RB);
    xpub_xsub_ringmq_xpub_tcp => ringmq_publishes(XPub, XSub, Tcp, PB);
    xpub_xsub_ringmq_xpub_ipc => ringmq_publishes(XPub, XSub, Ipc, RB);
    xpub_xsub_ringmq_xsub_tcp => peer_publishes(XPub, XSub, Tcp, RB);
    xpub_xsub_ringmq_xsub_ipc => peer_publishes(XPub, XSub, Ipc, PB);
    unsubscribe_ringmq_xpub_libzmq_sub_tcp => xpub_sees_unsubscribe(Sub, Tcp);
    unsubscribe_ringmq_xpub_libzmq_xsub_ipc => xpub_sees_unsubscribe(XSub, Ipc);
    unsubscribe_ringmq_sub_libzmq_xpub_tcp => sub_unsubscribes(Sub, Tcp);
    unsubscribe_ringmq_xsub_libzmq_xpub_ipc => sub_unsubscribes(XSub, Ipc);
    // PUSH-PULL
    push_pull_ringmq_push_tcp_peer_binds => ringmq_pushes(1000, Tcp, PB);
    push_pull_ringmq_push_ipc => ringmq_pushes(1000, Ipc, RB);
    push_pull_ringmq_pull_tcp_ringmq_binds => peer_pushes(1000, Tcp, RB);
    push_pull_ringmq_pull_ipc => peer_pushes(1000, Ipc, PB);
    push_pull_ringmq_push_connects_first_tcp => ringmq_pushes(1000, Tcp, Binds::PeerLater);
    push_pull_ringmq_pull_connects_first_ipc => peer_pushes(1000, Ipc, Binds::PeerLater);
    push_across_peer_restart_tcp => push_across_peer_restart(Tcp);
    push_across_peer_restart_ipc => push_across_peer_restart(Ipc);
    push_pull_ringmq_push_abstract_connects_first => ringmq_pushes(1000, Abstract, Binds::PeerLater);
    pub_sub_ringmq_sub_abstract => peer_publishes(Pub, Sub, Abstract, RB);
    burst_100k_ringmq_push_tcp => ringmq_pushes(100_000, Tcp, RB);
    burst_100k_ringmq_pull_tcp => peer_pushes(100_000, Tcp, PB);
    burst_100k_ringmq_push_ipc => ringmq_pushes(100_000, Ipc, PB);
    burst_100k_ringmq_pull_ipc => peer_pushes(100_000, Ipc, RB);
    // HEARTBEAT_IVL
    heartbeat_ivl_on_libzmq_tcp => heartbeat(HB_IVL, Tcp);
    heartbeat_ivl_on_libzmq_ipc => heartbeat(HB_IVL, Ipc);
    heartbeat_ivl_ttl_on_libzmq_tcp => heartbeat(HB_IVL_TTL, Tcp);
    heartbeat_ivl_on_ringmq_tcp => heartbeat(&[], Tcp);
}

// The epoll fallback interoperates too.
rows! { BackendChoice::Epoll; epoll_pyzmq, epoll_libzmq;
    req_rep_ringmq_req_tcp => ringmq_asks(Req, Rep, Tcp, PB);
    router_router_ringmq_echoes_ipc => peer_asks(Router, Router, Ipc, RB);
    pub_sub_ringmq_sub_tcp => peer_publishes(Pub, Sub, Tcp, RB);
    xpub_xsub_ringmq_xpub_ipc => ringmq_publishes(XPub, XSub, Ipc, PB);
    burst_100k_ringmq_pull_tcp => peer_pushes(100_000, Tcp, PB);
    heartbeat_ivl_on_libzmq_tcp => heartbeat(HB_IVL, Tcp);
}
