//! Bad peers against a bound ROUTER that keeps serving a well-behaved DEALER.
//!
//! Each raw TCP client misbehaves in one way (garbage after the greeting, a truncated
//! greeting, an oversized frame, a wrong socket type, a ZMTP 1.0 or 2.0 greeting, a
//! stall mid-handshake): it loses its connection, the monitor says why in words that
//! name the problem, and the DEALER exchanges requests and replies with the ROUTER
//! before, while and after the bad client is connected. `faults.rs` covers the cases
//! driven by ringmq peers (oversized message, incompatible type, mute peer, heartbeats).
//!
//! Also here: heartbeats run on the socket's timers, so a silent peer is dropped while
//! the application is not calling `send` / `recv` at all (it sleeps), and a live peer
//! connected at the same time is kept.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{
    Context, DealerSocket, DisconnectReason, Monitor, MonitorEventKind, RouterSocket, SocketOption,
    SocketType,
};
use ringmq_zmtp::{Error as ZmtpError, PeerMisbehaved};

/// A protocol violation, as the monitor reports it.
fn misbehaved(p: PeerMisbehaved) -> DisconnectReason {
    DisconnectReason::Zmtp(ZmtpError::PeerMisbehaved(p))
}

/// MAXMSGSIZE of the served socket.
const MAX_MSG: usize = 1000;

/// A ZMTP 3.1 greeting for NULL as a client.
fn greeting(major: u8) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, major, 1];
    let mut mechanism = b"NULL".to_vec();
    mechanism.resize(20, 0);
    g.extend(mechanism);
    g.push(0); // as-server
    g.extend([0; 31]);
    g
}

/// A READY command announcing `socket_type`.
fn ready(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5];
    body.extend(b"READY");
    body.push(11);
    body.extend(b"Socket-Type");
    body.extend((socket_type.len() as u32).to_be_bytes());
    body.extend(socket_type.as_bytes());
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend(body);
    frame
}

/// The served side: a ROUTER with MAXMSGSIZE and a short handshake interval, and a
/// DEALER peer that checks it is served.
struct Served<P: Proactor> {
    p: P,
    router: RouterSocket<P>,
    dealer: DealerSocket<P>,
    mon: Monitor,
    ep: String,
    round: std::cell::Cell<usize>,
}

impl<P: Proactor> Served<P> {
    async fn new(ctx: &Context<P>) -> Self {
        let p = ctx.proactor().clone();
        let router = ctx.router();
        router
            .set_option(SocketOption::MaxMsgSize(Some(MAX_MSG as u64)))
            .unwrap();
        router
            .set_option(SocketOption::HandshakeIvl(Duration::from_millis(300)))
            .unwrap();
        let mon = router.monitor();
        let ep = router.bind("tcp://127.0.0.1:*").unwrap();
        let dealer = ctx.dealer();
        dealer
            .set_option(SocketOption::RoutingId(Bytes::from_static(b"good")))
            .unwrap();
        dealer.connect(&ep).unwrap();
        wait_handshakes(&p, &mon, 1).await;
        let served = Served {
            p,
            router,
            dealer,
            mon,
            ep,
            round: Default::default(),
        };
        served.exchange(10).await;
        served
    }

    /// `n` request/reply round trips between the DEALER and the ROUTER.
    async fn exchange(&self, n: usize) {
        for _ in 0..n {
            let i = self.round.get();
            self.round.set(i + 1);
            self.dealer.send(format!("request {i}")).await.unwrap();
            let got = timeout(&self.p, Duration::from_secs(5), self.router.recv())
                .await
                .expect("the ROUTER still receives from the good peer")
                .unwrap();
            assert_eq!(got.frames()[0], "good");
            assert_eq!(got.frames()[1], format!("request {i}").as_bytes());
            self.router
                .send(vec![
                    Bytes::from_static(b"good"),
                    Bytes::from(format!("reply {i}")),
                ])
                .await
                .unwrap();
            let reply = timeout(&self.p, Duration::from_secs(5), self.dealer.recv())
                .await
                .expect("the good peer still gets replies")
                .unwrap();
            assert_eq!(reply.frames()[0], format!("reply {i}").as_bytes());
        }
    }

    /// Runs one bad client: it connects, `misbehave` writes what it writes, the good
    /// peer is served meanwhile; then the monitor must report the bad connection's end
    /// (`HandshakeFailed` unless `after_handshake`) with one of the reasons `why`, the bad
    /// stream must be closed, and the good peer still served.
    async fn bad_client(
        &self,
        misbehave: Vec<u8>,
        close_after: bool,
        after_handshake: bool,
        why: &[DisconnectReason],
    ) {
        let p = &self.p;
        let stream = p.connect(&self.ep.parse().unwrap()).await.unwrap();
        let (mut r, mut w) = p.split(stream);
        wait_event(p, &self.mon, |e| e.kind == MonitorEventKind::Accepted).await;
        write_all(p, &mut w, misbehave).await;
        if close_after {
            drop(w);
            drop(r);
            let reason = self.wait_end(after_handshake).await;
            assert!(why.contains(&reason), "{reason:?} is none of {why:?}");
            self.exchange(10).await;
            return;
        }
        // During: the good peer is served while the bad connection is open.
        self.exchange(10).await;
        let reason = self.wait_end(after_handshake).await;
        assert!(why.contains(&reason), "{reason:?} is none of {why:?}");
        // The bad connection is closed (after our greeting, maybe READY, arrive).
        let closed = timeout(p, Duration::from_secs(5), async {
            loop {
                let BufResult(n, _) = p.recv(&mut r, Vec::with_capacity(4096)).await;
                if !matches!(n, Ok(n) if n > 0) {
                    break;
                }
            }
        })
        .await;
        assert!(closed.is_some(), "the bad peer's connection was not closed");
        // After.
        self.exchange(10).await;
    }

    /// The reason of the next connection end reported by the monitor.
    async fn wait_end(&self, after_handshake: bool) -> DisconnectReason {
        let e = wait_event(&self.p, &self.mon, |e| {
            matches!(
                e.kind,
                MonitorEventKind::HandshakeFailed { .. } | MonitorEventKind::Disconnected { .. }
            )
        })
        .await;
        match e.kind {
            MonitorEventKind::HandshakeFailed { .. } if !after_handshake => {}
            MonitorEventKind::Disconnected { .. } if after_handshake => {}
            ref other => panic!("unexpected end event {other:?}"),
        }
        end_reason(&e.kind).expect("an end event")
    }
}

async fn garbage_after_greeting<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    let mut bytes = greeting(3);
    // A frame whose flags byte has reserved bits set, then noise.
    bytes.extend([0xF8, 0x05, 1, 2, 3, 4, 5]);
    bytes.extend((0..200u32).map(|i| (i * 37 % 251) as u8));
    let why = misbehaved(PeerMisbehaved::ReservedFlags { flags: 0xF8 });
    s.bad_client(bytes, false, false, &[why]).await;
}

async fn truncated_greeting_then_close<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    let bytes = greeting(3)[..20].to_vec();
    // "connection closed by peer", or "reset by peer" when our close finds the
    // ROUTER's greeting unread.
    s.bad_client(
        bytes,
        true,
        false,
        &[
            // The peer closed with our greeting unread: a FIN, or a reset.
            DisconnectReason::ClosedByPeer,
            DisconnectReason::RecvFailed(std::io::Error::from_raw_os_error(104).into()),
            // The reset seen by the writer first: an engine that writes the rest of
            // the greeting directly (compio, monoio) may try it before its pending
            // receive completes.
            DisconnectReason::SendFailed(std::io::Error::from_raw_os_error(32).into()),
            DisconnectReason::SendFailed(std::io::Error::from_raw_os_error(104).into()),
        ],
    )
    .await;
}

async fn oversized_frame_after_handshake<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    let mut bytes = greeting(3);
    bytes.extend(ready("DEALER"));
    // A long data frame announcing 1 MB, far above MAXMSGSIZE (a whole-message
    // limit: refused at the header); a few bytes of it.
    bytes.push(0x02);
    bytes.extend(1_000_000u64.to_be_bytes());
    bytes.extend([0u8; 100]);
    // MAXMSGSIZE bounds the message (the sum of its frames): refused from the header.
    let why = misbehaved(PeerMisbehaved::MessageTooLarge {
        size: 1_000_000,
        max: MAX_MSG as u64,
    });
    s.bad_client(bytes, false, true, &[why]).await;
}

async fn wrong_socket_type<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    let mut bytes = greeting(3);
    bytes.extend(ready("PUB"));
    let why = ZmtpError::IncompatibleSocketType {
        local: SocketType::Router,
        peer: SocketType::Pub,
    };
    s.bad_client(bytes, false, false, &[DisconnectReason::Zmtp(why)])
        .await;
}

async fn unknown_socket_type<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    let mut bytes = greeting(3);
    bytes.extend(ready("BOGUS"));
    let why = misbehaved(PeerMisbehaved::UnknownSocketType {
        name: "BOGUS".into(),
    });
    s.bad_client(bytes, false, false, &[why]).await;
}

async fn zmtp_1_0_greeting<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    // ZMTP 1.0: a length-prefixed identity frame (length 1, flags 0, empty identity).
    let why = misbehaved(PeerMisbehaved::Zmtp10Peer);
    s.bad_client(vec![0x01, 0x00], false, false, &[why]).await;
}

async fn zmtp_2_0_greeting<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    // ZMTP 2.0: the signature, revision 1, socket type 5 (DEALER), an empty identity.
    let bytes = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x05, 0x00, 0x00];
    let why = misbehaved(PeerMisbehaved::UnsupportedVersion { major: 1 });
    s.bad_client(bytes, false, false, &[why]).await;
}

async fn stall_mid_handshake<P: Proactor>(ctx: Context<P>) {
    let s = Served::new(&ctx).await;
    let t0 = std::time::Instant::now();
    // The greeting, then silence instead of READY: HANDSHAKE_IVL (300 ms) ends it.
    let why = DisconnectReason::Zmtp(ZmtpError::HandshakeTimeout);
    s.bad_client(greeting(3), false, false, &[why]).await;
    assert!(t0.elapsed() >= Duration::from_millis(300));
}

/// Heartbeats are driven by the connection's own timers: while the application only
/// sleeps (no `send`, no `recv`, no monitor wait), the PULL socket PINGs both peers,
/// drops the silent one and keeps the one that answers.
async fn heartbeat_runs_while_application_sleeps<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::HeartbeatIvl(Duration::from_millis(50)))
        .unwrap();
    pull.set_option(SocketOption::HeartbeatTimeout(Duration::from_millis(200)))
        .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let live = ctx.push();
    live.connect(&ep).unwrap();
    live.send("hello").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "hello");
    // Completes the handshake, then never reads or writes again: it answers no PING.
    let (mut silent_r, _silent_w, _session) = raw_push_peer(&p, &ep).await;
    wait_handshakes(&p, &mon, 2).await;
    // A timing test: the application does something else entirely for 5 heartbeat
    // timeouts (no socket call, no monitor wait), long enough for both verdicts.
    sleep(&p, Duration::from_millis(1000)).await;
    let ends: Vec<DisconnectReason> = std::iter::from_fn(|| mon.try_recv())
        .filter(|e| matches!(e.kind, MonitorEventKind::Disconnected { .. }))
        .filter_map(|e| end_reason(&e.kind))
        .collect();
    assert_eq!(
        ends.len(),
        1,
        "exactly the silent peer was dropped: {ends:?}"
    );
    assert_eq!(ends[0], DisconnectReason::Zmtp(ZmtpError::HeartbeatTimeout));
    // The silent peer's connection is closed (after the PINGs it never read).
    let closed = timeout(&p, Duration::from_secs(1), async {
        loop {
            let BufResult(n, _) = p.recv(&mut silent_r, Vec::with_capacity(4096)).await;
            if !matches!(n, Ok(n) if n > 0) {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_some(), "the silent peer's connection is closed");
    // The live peer is still connected.
    live.send("still here").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "still here");
}

backend_tests!(
    garbage_after_greeting,
    truncated_greeting_then_close,
    oversized_frame_after_handshake,
    wrong_socket_type,
    unknown_socket_type,
    zmtp_1_0_greeting,
    zmtp_2_0_greeting,
    stall_mid_handshake,
    heartbeat_runs_while_application_sleeps,
);
