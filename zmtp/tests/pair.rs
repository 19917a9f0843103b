//! Two sessions back to back: handshakes, traffic, subscriptions, heartbeats and the
//! failure paths that involve both ends.

mod common;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{config, msg, Pair};
use proptest::prelude::*;
use ringmq_zmtp::mechanism::{AuthVerdict, Credentials, Null, PlainClient, PlainServer};
use ringmq_zmtp::{Error, Event, Metadata, PeerMisbehaved, SocketType};

#[test]
fn null_handshake_reports_peer_type_version_and_metadata() {
    let mut cc = config(SocketType::Dealer);
    cc.identity = Bytes::from_static(b"client-1");
    cc.metadata.insert("X-Color", Bytes::from_static(b"blue"));
    let mut p = Pair::null_of(cc, config(SocketType::Router));
    p.connect();
    let Some(Event::HandshakeSucceeded {
        metadata,
        socket_type,
        peer_minor,
    }) = p.server.events.first()
    else {
        panic!("{:?}", p.server.events)
    };
    assert_eq!(*socket_type, SocketType::Dealer);
    assert_eq!(*peer_minor, 1);
    assert_eq!(metadata.get("identity").unwrap(), &b"client-1"[..]);
    assert_eq!(metadata.get("X-Color").unwrap(), &b"blue"[..]);
    assert_eq!(
        p.client.session.peer_socket_type(),
        Some(SocketType::Router)
    );
    // The greeting went out in two parts, the second only after the peer's signature:
    // the client's first transmit is exactly the 10-byte signature.
    assert_eq!(&p.client.wire[..10], b"\xff\0\0\0\0\0\0\0\0\x7f");
    assert_eq!(&p.client.wire[10..12], b"\x03\x01");
}

#[test]
fn multipart_traffic_both_ways_with_empty_and_large_frames() {
    for chunk in [usize::MAX, 1, 7, 300] {
        let mut p = Pair::null();
        p.chunk = chunk;
        p.connect();
        let large = Bytes::from(vec![0xAB; 200_000]);
        let sent_c = vec![
            msg(&[b"hello"]),
            msg(&[b""]),
            msg(&[b"", b"a", b""]),
            vec![Bytes::from_static(b"head"), large.clone()],
        ];
        let sent_s = vec![msg(&[b"x", b"y", b"z"]), vec![large.clone()], msg(&[b""])];
        for m in &sent_c {
            p.client.session.send(m).unwrap();
        }
        for m in &sent_s {
            p.server.session.send(m).unwrap();
        }
        p.drive();
        assert_eq!(p.server.messages(), sent_c, "chunk {chunk}");
        assert_eq!(p.client.messages(), sent_s, "chunk {chunk}");
        assert!(p.client.error().is_none() && p.server.error().is_none());
    }
}

#[test]
fn batched_output_keeps_large_payloads_as_separate_chunks() {
    let mut p = Pair::null();
    p.connect();
    let large = Bytes::from(vec![1u8; 10_000]);
    p.client.session.send(&msg(&[b"a"])).unwrap();
    p.client.session.send(std::slice::from_ref(&large)).unwrap();
    p.client.session.send(&msg(&[b"b"])).unwrap();
    let t = p.client.session.poll_transmit().unwrap();
    assert_eq!(t.chunks.len(), 3);
    assert_eq!(t.chunks[1].as_ptr(), large.as_ptr(), "payload not copied");
    assert_eq!(&t.chunks[0][..], b"\x00\x01a\x02\0\0\0\0\0\0\x27\x10");
    assert_eq!(&t.chunks[2][..], b"\x00\x01b");
}

#[test]
fn plain_handshake_passes_credentials_and_user_id() {
    let mut p = Pair::with(
        Box::new(PlainClient::new("admin", "secret").unwrap()),
        Box::new(PlainServer::new()),
    );
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let seen2 = seen.clone();
    p.server.auth = Some(Box::new(move |c: &Credentials| {
        *seen2.borrow_mut() = Some(c.clone());
        let mut extra = Metadata::new();
        extra.insert("X-Role", Bytes::from_static(b"boss"));
        AuthVerdict::Allow {
            user_id: Bytes::from_static(b"admin-id"),
            metadata: extra,
        }
    }));
    p.connect();
    assert_eq!(
        seen.borrow().clone(),
        Some(Credentials::Plain {
            username: Bytes::from_static(b"admin"),
            password: Bytes::from_static(b"secret"),
        })
    );
    let meta = p.server.peer_metadata().unwrap();
    assert_eq!(meta.get("User-Id").unwrap(), &b"admin-id"[..]);
    assert_eq!(meta.get("X-Role").unwrap(), &b"boss"[..]);
    assert_eq!(meta.get("Socket-Type").unwrap(), &b"DEALER"[..]);
    assert_eq!(
        p.client
            .peer_metadata()
            .unwrap()
            .get("Socket-Type")
            .unwrap(),
        &b"ROUTER"[..]
    );
    // The PLAIN server greets with as-server = 1 (greeting byte 32).
    assert_eq!(p.server.wire[32], 1);
    assert_eq!(p.client.wire[32], 0);
    p.client.session.send(&msg(&[b"ping"])).unwrap();
    p.drive();
    assert_eq!(p.server.messages(), vec![msg(&[b"ping"])]);
}

fn deny(status: u16) -> common::Authenticator {
    Box::new(move |_| AuthVerdict::Deny { status })
}

#[test]
fn plain_wrong_password_is_refused_with_error_400() {
    let mut p = Pair::with(
        Box::new(PlainClient::new("admin", "wrong").unwrap()),
        Box::new(PlainServer::new()),
    );
    p.server.auth = Some(Box::new(|c: &Credentials| match c {
        Credentials::Plain { password, .. } if &password[..] == b"secret" => AuthVerdict::Allow {
            user_id: Bytes::new(),
            metadata: Metadata::new(),
        },
        _ => AuthVerdict::Deny { status: 400 },
    }));
    p.drive();
    assert_eq!(p.server.error(), Some(&Error::AuthDenied { status: 400 }));
    assert_eq!(
        p.client.error(),
        Some(&Error::PeerError {
            reason: "400".into()
        })
    );
    // The server's last bytes on the wire are the golden ERROR command.
    assert!(p.server.wire.ends_with(b"\x04\x0a\x05ERROR\x03400"));
    assert!(p.client.session.is_failed() && p.server.session.is_failed());
}

#[test]
fn zap_300_sends_nothing_and_the_client_times_out() {
    let mut cc = config(SocketType::Dealer);
    cc.handshake_ivl = Some(Duration::from_secs(5));
    let mut p = Pair::new(
        cc,
        Box::new(PlainClient::new("u", "p").unwrap()),
        config(SocketType::Router),
        Box::new(PlainServer::new()),
    );
    p.server.auth = Some(deny(300));
    p.drive();
    assert_eq!(p.server.error(), Some(&Error::AuthDenied { status: 300 }));
    assert!(!p.server.wire.windows(5).any(|w| w == b"ERROR"));
    assert_eq!(p.client.error(), None);
    p.advance(Duration::from_secs(5));
    assert_eq!(p.client.error(), Some(&Error::HandshakeTimeout));
}

#[test]
fn null_with_auth_allows_and_denies() {
    let mut p = Pair::with(Box::new(Null::new()), Box::new(Null::with_auth()));
    p.connect();
    assert_eq!(
        p.server.peer_metadata().unwrap().get("User-Id").unwrap(),
        &b"user"[..]
    );
    assert!(p
        .server
        .events
        .iter()
        .any(|e| *e == Event::NeedsAuth(Credentials::Null)));

    let mut p = Pair::with(Box::new(Null::new()), Box::new(Null::with_auth()));
    p.server.auth = Some(deny(500));
    p.drive();
    assert_eq!(p.server.error(), Some(&Error::AuthDenied { status: 500 }));
    assert_eq!(
        p.client.error(),
        Some(&Error::PeerError {
            reason: "500".into()
        })
    );
}

#[test]
fn auth_decided_later_completes_the_handshake() {
    let mut p = Pair::with(Box::new(Null::new()), Box::new(Null::with_auth()));
    p.server.auth = None;
    p.drive();
    assert!(!p.server.session.is_established());
    assert_eq!(
        p.client.session.send(&msg(&[b"early"])),
        Err(Error::HandshakeIncomplete)
    );
    let now = p.now;
    p.server
        .session
        .auth_result(
            now,
            AuthVerdict::Allow {
                user_id: Bytes::new(),
                metadata: Metadata::new(),
            },
        )
        .unwrap();
    p.connect();
    assert_eq!(
        p.server
            .session
            .auth_result(now, AuthVerdict::Deny { status: 400 }),
        Err(Error::NoAuthPending)
    );
}

#[test]
fn mechanism_mismatch_fails_both_sides() {
    let mut p = Pair::with(Box::new(Null::new()), Box::new(PlainServer::new()));
    p.drive();
    assert_eq!(
        p.client.error(),
        Some(&Error::MechanismMismatch {
            local: "NULL".into(),
            peer: "PLAIN".into()
        })
    );
    assert_eq!(
        p.server.error(),
        Some(&Error::MechanismMismatch {
            local: "PLAIN".into(),
            peer: "NULL".into()
        })
    );
}

#[test]
fn incompatible_socket_types_send_error_and_fail() {
    let mut p = Pair::null_of(config(SocketType::Push), config(SocketType::Pub));
    p.drive();
    assert_eq!(
        p.client.error(),
        Some(&Error::IncompatibleSocketType {
            local: SocketType::Push,
            peer: SocketType::Pub
        })
    );
    assert_eq!(
        p.server.error(),
        Some(&Error::IncompatibleSocketType {
            local: SocketType::Pub,
            peer: SocketType::Push
        })
    );
    assert!(p.client.wire.windows(6).any(|w| w == b"\x05ERROR"));
    assert_eq!(
        p.client.session.send(&msg(&[b"x"])),
        Err(Error::SessionFailed)
    );
}

#[test]
fn every_compatible_pair_connects() {
    for a in SocketType::ALL {
        for b in SocketType::ALL {
            let mut p = Pair::null_of(config(a), config(b));
            p.drive();
            assert_eq!(
                p.client.session.is_established(),
                a.is_compatible(b),
                "{a}-{b}"
            );
        }
    }
}

fn pub_sub(sub_minor: u8) -> Pair {
    let mut sc = config(SocketType::Sub);
    sc.zmtp_minor = sub_minor;
    let mut p = Pair::null_of(sc, config(SocketType::Pub));
    p.connect();
    p
}

#[test]
fn subscriptions_3_1_travel_as_commands() {
    let mut p = pub_sub(1);
    let before = p.client.wire.len();
    p.client.session.subscribe(b"A").unwrap();
    p.client.session.cancel(b"A").unwrap();
    p.drive();
    assert_eq!(
        &p.client.wire[before..],
        b"\x04\x0b\x09SUBSCRIBEA\x04\x08\x06CANCELA"
    );
    let subs: Vec<_> = p.server.take_events().into_iter().skip(1).collect();
    assert_eq!(
        subs,
        vec![
            Event::Subscribe(Bytes::from_static(b"A")),
            Event::Cancel(Bytes::from_static(b"A"))
        ]
    );
}

#[test]
fn subscriptions_to_a_3_0_peer_travel_as_data_frames() {
    let mut p = pub_sub(0);
    let Some(Event::HandshakeSucceeded { peer_minor, .. }) = p.server.events.first() else {
        panic!()
    };
    assert_eq!(*peer_minor, 0);
    let before = p.client.wire.len();
    p.client.session.subscribe(b"A").unwrap();
    p.client.session.cancel(b"").unwrap();
    p.drive();
    assert_eq!(&p.client.wire[before..], b"\x00\x02\x01A\x00\x01\x00");
    let subs: Vec<_> = p.server.take_events().into_iter().skip(1).collect();
    assert_eq!(
        subs,
        vec![
            Event::Subscribe(Bytes::from_static(b"A")),
            Event::Cancel(Bytes::new())
        ]
    );
}

#[test]
fn pub_accepts_the_3_0_form_from_a_3_1_peer_and_xpub_passes_other_messages() {
    let mut p = Pair::null_of(config(SocketType::XSub), config(SocketType::XPub));
    p.connect();
    p.client.session.send(&msg(&[b"\x01news"])).unwrap();
    p.client.session.send(&msg(&[b"\x02other"])).unwrap();
    p.client.session.send(&msg(&[b"\x01a", b"b"])).unwrap();
    p.drive();
    let evs: Vec<_> = p.server.take_events().into_iter().skip(1).collect();
    assert_eq!(
        evs,
        vec![
            Event::Subscribe(Bytes::from_static(b"news")),
            Event::Message(msg(&[b"\x02other"]).into()),
            Event::Message(msg(&[b"\x01a", b"b"]).into()),
        ]
    );
    // A non-PUB receiver takes 01-prefixed messages as data.
    p.server.session.send(&msg(&[b"\x01data"])).unwrap();
    p.drive();
    assert_eq!(p.client.messages(), vec![msg(&[b"\x01data"])]);
}

fn heartbeat_pair(ivl: u64, ttl: Option<u64>, client_minor: u8) -> Pair {
    let mut cc = config(SocketType::Dealer);
    cc.heartbeat_ivl = Some(Duration::from_secs(ivl));
    cc.heartbeat_ttl = ttl.map(Duration::from_secs);
    cc.zmtp_minor = client_minor;
    let mut p = Pair::null_of(cc, config(SocketType::Router));
    p.connect();
    p
}

#[test]
fn heartbeat_ping_pong_keeps_the_session_alive() {
    let mut p = heartbeat_pair(1, Some(3), 1);
    let (c0, s0) = (p.client.wire.len(), p.server.wire.len());
    p.advance(Duration::from_secs(1));
    // PING with TTL 30 deciseconds, no context; PONG with empty context.
    assert_eq!(&p.client.wire[c0..], b"\x04\x07\x04PING\x00\x1e");
    assert_eq!(&p.server.wire[s0..], b"\x04\x05\x04PONG");
    p.advance(Duration::from_secs(30));
    assert!(p.client.error().is_none() && p.server.error().is_none());
    assert!(p.client.session.is_established());
}

#[test]
fn a_3_0_peer_gets_its_ping_answered() {
    let mut p = heartbeat_pair(1, None, 0);
    let s0 = p.server.wire.len();
    p.advance(Duration::from_secs(10));
    assert!(p.client.error().is_none());
    assert!(p.server.wire[s0..].starts_with(b"\x04\x05\x04PONG"));
}

#[test]
fn heartbeat_timeout_when_the_peer_goes_silent() {
    let mut p = heartbeat_pair(1, None, 1);
    p.server.silent = true;
    p.advance(Duration::from_millis(1999));
    assert_eq!(p.client.error(), None);
    p.advance(Duration::from_millis(1));
    assert_eq!(p.client.error(), Some(&Error::HeartbeatTimeout));
    assert_eq!(p.client.session.poll_timeout(), None);
}

#[test]
fn heartbeat_timeout_option_overrides_the_interval() {
    let mut cc = config(SocketType::Dealer);
    cc.heartbeat_ivl = Some(Duration::from_secs(1));
    cc.heartbeat_timeout = Some(Duration::from_secs(5));
    let mut p = Pair::null_of(cc, config(SocketType::Router));
    p.connect();
    p.server.silent = true;
    p.advance(Duration::from_millis(5999));
    assert_eq!(p.client.error(), None);
    p.advance(Duration::from_millis(1));
    assert_eq!(p.client.error(), Some(&Error::HeartbeatTimeout));
}

#[test]
fn any_traffic_counts_as_liveness() {
    let mut p = heartbeat_pair(1, None, 1);
    // The server's PONGs are lost, but data from it keeps arriving.
    p.server.silent = true;
    for _ in 0..10 {
        p.advance(Duration::from_millis(500));
        let now = p.now;
        p.client.session.handle_input(now, b"\x00\x04tick");
        p.drive();
    }
    assert_eq!(p.client.error(), None);
    assert_eq!(p.client.messages().len(), 10);
    // Once the data stops, the PING goes unanswered and the timeout fires.
    p.advance(Duration::from_secs(2));
    assert_eq!(p.client.error(), Some(&Error::HeartbeatTimeout));
}

#[test]
fn the_peers_ttl_is_honoured() {
    let mut p = heartbeat_pair(1, Some(3), 1);
    p.advance(Duration::from_secs(1)); // first PING (TTL 3 s) reaches the server
    p.client.silent = true;
    p.advance(Duration::from_millis(2999));
    assert_eq!(p.server.error(), None);
    p.advance(Duration::from_millis(1));
    assert_eq!(p.server.error(), Some(&Error::PeerTtlExpired));
}

#[test]
fn handshake_timeout() {
    let mut sc = config(SocketType::Router);
    sc.handshake_ivl = Some(Duration::from_secs(2));
    let mut p = Pair::null_of(config(SocketType::Dealer), sc);
    p.client.silent = true;
    p.drive();
    assert_eq!(
        p.server.session.poll_timeout(),
        Some(p.now + Duration::from_secs(2))
    );
    p.advance(Duration::from_secs(2));
    assert_eq!(p.server.error(), Some(&Error::HandshakeTimeout));
    // A completed handshake disarms the deadline.
    let mut p = Pair::null();
    p.connect();
    assert_eq!(p.client.session.poll_timeout(), None);
    p.advance(Duration::from_secs(3600));
    assert_eq!(p.client.error(), None);
}

fn limited_pair(max_size: Option<u64>, max_frames: Option<u32>, chunk: usize) -> Pair {
    let mut sc = config(SocketType::Router);
    sc.max_message_size = max_size;
    sc.max_message_frames = max_frames;
    let mut p = Pair::null_of(config(SocketType::Dealer), sc);
    p.chunk = chunk;
    p.connect();
    p
}

fn misbehaved(p: PeerMisbehaved) -> Option<Error> {
    Some(Error::PeerMisbehaved(p))
}

/// MAXMSGSIZE bounds the whole message, the sum of its frames (libzmq: each frame).
#[test]
fn max_message_size_applies_to_the_whole_message() {
    for chunk in [usize::MAX, 1, 100] {
        let mut p = limited_pair(Some(1000), None, chunk);
        let half = Bytes::from(vec![1u8; 500]);
        let exact = Bytes::from(vec![2u8; 1000]);
        let ok = [
            vec![half.clone(), half.clone()],
            vec![exact.clone()],
            vec![Bytes::new(), exact.clone(), Bytes::new()],
        ];
        for m in &ok {
            p.client.session.send(m).unwrap();
        }
        p.drive();
        assert_eq!(p.server.messages(), ok.to_vec(), "chunk {chunk}");
        assert_eq!(p.server.error(), None);
        // Two frames under the limit each, over it together.
        p.client
            .session
            .send(&[Bytes::from(vec![3u8; 600]), Bytes::from(vec![4u8; 401])])
            .unwrap();
        p.drive();
        assert_eq!(
            p.server.error().cloned(),
            misbehaved(PeerMisbehaved::MessageTooLarge {
                size: 1001,
                max: 1000
            }),
            "chunk {chunk}"
        );
        assert_eq!(p.server.messages().len(), 3, "nothing of the last message");
    }
    // A single frame over the limit is the same error.
    let mut p = limited_pair(Some(1000), None, usize::MAX);
    p.client
        .session
        .send(&[Bytes::from(vec![1u8; 1001])])
        .unwrap();
    p.drive();
    assert_eq!(
        p.server.error().cloned(),
        misbehaved(PeerMisbehaved::MessageTooLarge {
            size: 1001,
            max: 1000
        })
    );
}

/// The budget starts afresh with every message, and commands between messages do not
/// count against it.
#[test]
fn max_message_size_budget_is_per_message() {
    let mut p = limited_pair(Some(100), None, 7);
    let m = vec![Bytes::from(vec![9u8; 60]), Bytes::from(vec![8u8; 40])];
    for _ in 0..20 {
        p.client.session.send(&m).unwrap();
        p.client.session.subscribe(&[0u8; 90]).ok();
    }
    p.drive();
    assert_eq!(p.server.error(), None);
    assert_eq!(p.server.messages(), vec![m; 20]);
}

#[test]
fn frame_count_is_capped_per_message() {
    for chunk in [usize::MAX, 1, 5] {
        let mut p = limited_pair(None, Some(3), chunk);
        let three = msg(&[b"a", b"", b"c"]);
        p.client.session.send(&three).unwrap();
        p.client.session.send(&msg(&[b"x"])).unwrap();
        p.drive();
        assert_eq!(p.server.messages(), vec![three.clone(), msg(&[b"x"])]);
        p.client
            .session
            .send(&msg(&[b"a", b"b", b"c", b"d"]))
            .unwrap();
        p.drive();
        assert_eq!(
            p.server.error().cloned(),
            misbehaved(PeerMisbehaved::TooManyFrames { max: 3 }),
            "chunk {chunk}"
        );
        assert_eq!(p.server.messages().len(), 2);
    }
    // Unlimited, and the default, let far more frames through than applications use.
    for max in [None, Some(ringmq_zmtp::DEFAULT_MAX_MESSAGE_FRAMES)] {
        let mut p = limited_pair(None, max, usize::MAX);
        let many = vec![Bytes::from_static(b"f"); 10_000];
        p.client.session.send(&many).unwrap();
        p.drive();
        assert_eq!(p.server.messages(), vec![many]);
    }
    assert_eq!(
        config(SocketType::Pull).max_message_frames,
        Some(ringmq_zmtp::DEFAULT_MAX_MESSAGE_FRAMES)
    );
}

/// Frames of a message that spans inputs are packed as they wait; the message comes
/// out the same whatever the split, with small frames in any order of sizes.
#[test]
fn messages_spanning_inputs_arrive_whole() {
    let large = Bytes::from(vec![0xEE; 40_000]);
    let m: Vec<Bytes> = vec![
        Bytes::from_static(b"id"),
        Bytes::new(),
        large.clone(),
        Bytes::from(vec![1u8; 300]),
        large,
        Bytes::from_static(b"end"),
    ];
    let mut many = vec![Bytes::new(); 700];
    many.push(Bytes::from_static(b"last"));
    for chunk in [usize::MAX, 1, 3, 1000, 4096] {
        let mut p = limited_pair(Some(1 << 20), Some(1000), chunk);
        for _ in 0..3 {
            p.client.session.send(&m).unwrap();
            p.client.session.send(&many).unwrap();
        }
        p.drive();
        assert_eq!(p.server.error(), None, "chunk {chunk}");
        let got = p.server.messages();
        assert_eq!(got.len(), 6);
        for pair in got.chunks(2) {
            assert_eq!(pair[0], m, "chunk {chunk}");
            assert_eq!(pair[1], many, "chunk {chunk}");
        }
    }
}

#[test]
fn api_misuse_is_reported() {
    let mut p = Pair::null();
    assert_eq!(
        p.client.session.subscribe(b"x"),
        Err(Error::HandshakeIncomplete)
    );
    let now = p.now;
    assert_eq!(
        p.client
            .session
            .auth_result(now, AuthVerdict::Deny { status: 400 }),
        Err(Error::NoAuthPending)
    );
    p.connect();
    assert_eq!(p.client.session.send(&[]), Err(Error::EmptyMessage));
}

#[test]
fn peer_error_after_the_handshake() {
    let mut p = Pair::null();
    p.connect();
    // Inject a raw ERROR command as if the server had sent it.
    let now = p.now;
    p.client
        .session
        .handle_input(now, b"\x04\x0b\x05ERROR\x04gone");
    p.drive();
    assert_eq!(
        p.client.error(),
        Some(&Error::PeerError {
            reason: "gone".into()
        })
    );
    // Failed sessions ignore further input without panicking.
    p.client.session.handle_input(now, b"\xff\xff\xff");
    p.client
        .session
        .handle_timeout(now + Duration::from_secs(99));
    assert!(p.client.session.poll_event().is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn messages_survive_any_chunking(
        chunk in 1usize..600,
        msgs in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..700), 1..4), 0..6),
    ) {
        let mut p = Pair::null();
        p.chunk = chunk;
        p.connect();
        let msgs: Vec<Vec<Bytes>> = msgs
            .into_iter()
            .map(|m| m.into_iter().map(Bytes::from).collect())
            .collect();
        for m in &msgs {
            p.client.session.send(m).unwrap();
        }
        p.drive();
        prop_assert_eq!(p.server.messages(), msgs);
    }

    /// Against a model of the limits: every message before the first one over a limit
    /// is delivered whole, that one fails the session with the reason of the first
    /// frame that crosses a limit, and nothing of it is delivered.
    #[test]
    fn message_limits_match_the_model(
        chunk in 1usize..600,
        max_size in prop::option::of(0u64..1500),
        max_frames in prop::option::of(1u32..6),
        msgs in prop::collection::vec(
            prop::collection::vec(0usize..400, 1..8), 1..8),
    ) {
        let mut p = limited_pair(max_size, max_frames, chunk);
        let msgs: Vec<Vec<Bytes>> = msgs
            .iter()
            .map(|m| m.iter().map(|&n| Bytes::from(vec![n as u8; n])).collect())
            .collect();
        let mut expected = Vec::new();
        let mut error = None;
        'model: for m in &msgs {
            let mut held = 0u64;
            for (k, f) in m.iter().enumerate() {
                if max_frames.is_some_and(|max| k >= max as usize) {
                    error = misbehaved(PeerMisbehaved::TooManyFrames { max: max_frames.unwrap() });
                    break 'model;
                }
                let size = held + f.len() as u64;
                if let Some(max) = max_size.filter(|&max| size > max) {
                    error = misbehaved(PeerMisbehaved::MessageTooLarge { size, max });
                    break 'model;
                }
                held = size;
            }
            expected.push(m.clone());
        }
        for m in &msgs {
            p.client.session.send(m).unwrap();
        }
        p.drive();
        prop_assert_eq!(p.server.messages(), expected);
        prop_assert_eq!(p.server.error().cloned(), error);
    }
}

#[test]
fn huge_durations_mean_never_instead_of_overflowing() {
    let mut cc = config(SocketType::Dealer);
    cc.heartbeat_ivl = Some(Duration::MAX);
    cc.heartbeat_ttl = Some(Duration::MAX);
    cc.handshake_ivl = Some(Duration::MAX);
    let mut p = Pair::null_of(cc, config(SocketType::Router));
    p.connect();
    p.advance(Duration::from_secs(1_000_000));
    assert_eq!(p.client.error(), None);
}

fn dish_radio(minor: u8) -> Pair {
    let mut dish = config(SocketType::Dish);
    dish.zmtp_minor = minor;
    let mut p = Pair::null_of(dish, config(SocketType::Radio));
    p.connect();
    p
}

#[test]
fn join_and_leave_travel_as_commands_to_3_0_and_3_1_peers() {
    for minor in [1, 0] {
        let mut p = dish_radio(minor);
        let before = p.client.wire.len();
        p.client.session.subscribe(b"tv").unwrap();
        p.client.session.cancel(b"tv").unwrap();
        p.drive();
        // libzmq's dish_session_t: command frames "\4JOIN" / "\5LEAVE" + group, for
        // ZMTP 3.0 peers as well.
        assert_eq!(
            &p.client.wire[before..],
            b"\x04\x07\x04JOINtv\x04\x08\x05LEAVEtv",
            "minor {minor}"
        );
        let evs: Vec<_> = p.server.take_events().into_iter().skip(1).collect();
        assert_eq!(
            evs,
            vec![
                Event::Subscribe(Bytes::from_static(b"tv")),
                Event::Cancel(Bytes::from_static(b"tv"))
            ]
        );
    }
}

#[test]
fn a_join_for_a_group_over_255_bytes_fails_the_radio_session() {
    let mut p = dish_radio(1);
    p.client.session.subscribe(&[b'g'; 255]).unwrap();
    p.client.session.subscribe(&[b'g'; 256]).unwrap();
    p.drive();
    let evs = p.server.take_events();
    assert_eq!(evs[1], Event::Subscribe(Bytes::from(vec![b'g'; 255])));
    assert_eq!(
        evs[2],
        Event::Error(PeerMisbehaved::GroupTooLong { len: 256 }.into())
    );
}

#[test]
fn a_dish_accepts_only_group_and_body() {
    // RADIO -> DISH: the server side here is the RADIO.
    let mut p = dish_radio(1);
    p.server.session.send(&msg(&[b"tv", b"news"])).unwrap();
    p.drive();
    assert_eq!(p.client.messages(), vec![msg(&[b"tv", b"news"])]);
    assert!(p.client.error().is_none());
    p.server.session.send(&msg(&[b"tv", b"a", b"b"])).unwrap();
    p.drive();
    assert_eq!(
        p.client.error(),
        Some(&Error::PeerMisbehaved(
            PeerMisbehaved::MalformedGroupMessage { frames: 3 }
        ))
    );
    let mut p = dish_radio(1);
    p.server
        .session
        .send(&[Bytes::from(vec![b'g'; 256]), Bytes::from_static(b"x")])
        .unwrap();
    p.drive();
    assert_eq!(
        p.client.error(),
        Some(&Error::PeerMisbehaved(PeerMisbehaved::GroupTooLong {
            len: 256
        }))
    );
}

#[test]
fn a_message_encoded_once_arrives_like_a_sent_one() {
    let mut p = Pair::null();
    p.connect();
    let m = msg(&[b"topic", b"", b"body"]);
    let mut wire = Vec::new();
    assert!(ringmq_zmtp::frame::encode_message(&m, &mut wire));
    assert_eq!(p.client.session.send_encoded(&wire), Ok(true));
    p.client.session.send(&m).unwrap();
    assert_eq!(p.client.session.send_encoded(&wire), Ok(true));
    p.drive();
    assert_eq!(p.server.messages(), vec![m.clone(), m.clone(), m]);
    assert!(p.server.error().is_none());
}

/// Everything the client transmitted since it connected, fed to the server in one
/// `handle_input_buf_with`: the messages handed over directly, then the events.
fn feed_direct(p: &mut Pair) -> (Vec<Vec<Bytes>>, Vec<Event>) {
    let wire = p.client.session.poll_transmit().expect("output").to_vec();
    let mut direct = Vec::new();
    p.server
        .session
        .handle_input_buf_with(p.now, BytesMut::from(&wire[..]), |m| {
            direct.push(m.to_vec())
        });
    let mut events = Vec::new();
    while let Some(e) = p.server.session.poll_event() {
        events.push(e);
    }
    (direct, events)
}

#[test]
fn messages_handed_over_directly_keep_their_order_with_other_frames() {
    let mut p = Pair::null();
    p.connect();
    let large = Bytes::from(vec![7u8; 300]);
    let sent = vec![
        msg(&[b"a"]),
        msg(&[b"b", b"c"]),
        vec![large.clone()],
        msg(&[b""]),
        vec![Bytes::from_static(b"d"), large],
        msg(&[b"e"]),
    ];
    for m in &sent {
        p.client.session.send(m).unwrap();
    }
    let (direct, events) = feed_direct(&mut p);
    assert_eq!(direct, sent);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn messages_after_an_event_are_queued_behind_it() {
    let mut p = Pair::null_of(config(SocketType::XSub), config(SocketType::XPub));
    p.connect();
    p.server.take_events();
    p.client.session.send(&msg(&[b"first"])).unwrap();
    p.client.session.subscribe(b"news").unwrap();
    p.client.session.send(&msg(&[b"second"])).unwrap();
    p.client.session.send(&msg(&[b"third", b"part"])).unwrap();
    let (direct, events) = feed_direct(&mut p);
    assert_eq!(direct, vec![msg(&[b"first"])]);
    assert_eq!(
        events,
        vec![
            Event::Subscribe(Bytes::from_static(b"news")),
            Event::Message(msg(&[b"second"]).into()),
            Event::Message(msg(&[b"third", b"part"]).into()),
        ]
    );
}

#[test]
fn the_single_frame_fast_path_keeps_the_message_size_limit() {
    let mut sc = config(SocketType::Router);
    sc.max_message_size = Some(10);
    let mut p = Pair::null_of(config(SocketType::Dealer), sc);
    p.connect();
    p.server.take_events();
    p.client.session.send(&msg(&[b"0123456789"])).unwrap();
    p.client.session.send(&msg(&[b"0123456789A"])).unwrap();
    p.client.session.send(&msg(&[b"never"])).unwrap();
    let (direct, events) = feed_direct(&mut p);
    assert_eq!(direct, vec![msg(&[b"0123456789"])]);
    assert!(
        matches!(
            events.as_slice(),
            [Event::Error(Error::PeerMisbehaved(
                PeerMisbehaved::MessageTooLarge { size: 11, max: 10 }
            ))]
        ),
        "{events:?}"
    );
}

#[test]
fn an_event_queue_lent_and_returned_unused_comes_back_with_its_allocation() {
    let mut p = Pair::null();
    p.connect();
    let s = &mut p.server.session;
    while s.poll_event().is_some() {}
    let mut q = std::collections::VecDeque::with_capacity(32);
    let cap = q.capacity();
    // Lent and given back with nothing reported: back as it went, and the session is
    // left without an allocation of its own.
    let _ = s.take_event_queue();
    s.lend_event_queue(&mut q);
    assert_eq!(q.capacity(), 0);
    assert!(!s.has_events());
    s.return_event_queue(&mut q);
    assert_eq!(q.capacity(), cap);
    assert_eq!(s.take_event_queue().map(|e| e.capacity()), Some(0));
    // A session holding a larger queue of its own hands it over.
    s.lend_event_queue(&mut q);
    let mut small = std::collections::VecDeque::with_capacity(1);
    s.return_event_queue(&mut small);
    assert_eq!(small.capacity(), cap);
    assert_eq!(s.take_event_queue().map(|e| e.capacity()), Some(0));
    // A queue that events were reported into stays with the session.
    s.lend_event_queue(&mut q);
    p.client.session.send(&msg(&[b"m"])).unwrap();
    let wire = p.client.session.poll_transmit().unwrap().to_vec();
    let now = p.now;
    let s = &mut p.server.session;
    s.handle_input(now, &wire);
    assert!(s.has_events());
    s.return_event_queue(&mut q);
    assert_eq!(q.capacity(), 0);
    assert!(matches!(s.poll_event(), Some(Event::Message(_))));
}
