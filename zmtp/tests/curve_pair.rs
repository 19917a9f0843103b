//! CURVE through the session: handshake, encrypted traffic (messages, heartbeats and
//! subscriptions all travel inside MESSAGE boxes), and a client with the wrong server key.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{config, msg, Pair};
use ringmq_zmtp::mechanism::curve::{CurveClient, CurveError, CurveKeyPair, CurveServer};
use ringmq_zmtp::mechanism::Credentials;
use ringmq_zmtp::{Error, SocketType};

fn keys() -> (CurveKeyPair, CurveKeyPair) {
    (
        CurveKeyPair::from_secret([1; 32]),
        CurveKeyPair::from_secret([2; 32]),
    )
}

fn curve_pair(
    client_type: SocketType,
    server_type: SocketType,
    server_key: Option<[u8; 32]>,
) -> Pair {
    let (client, server) = keys();
    let trusted = server_key.unwrap_or(*server.public());
    let mut cc = config(client_type);
    cc.heartbeat_ivl = Some(Duration::from_secs(1));
    cc.handshake_ivl = Some(Duration::from_secs(5));
    Pair::new(
        cc,
        Box::new(CurveClient::new(client, trusted)),
        config(server_type),
        Box::new(CurveServer::new(server)),
    )
}

#[test]
fn curve_handshake_and_encrypted_traffic() {
    let mut p = curve_pair(SocketType::Dealer, SocketType::Router, None);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let seen2 = seen.clone();
    p.server.auth = Some(Box::new(move |c: &Credentials| {
        *seen2.borrow_mut() = Some(c.clone());
        common::allow_all()(c)
    }));
    p.connect();
    assert_eq!(
        seen.borrow().clone(),
        Some(Credentials::Curve {
            public_key: *keys().0.public()
        })
    );
    assert_eq!(
        p.server
            .peer_metadata()
            .unwrap()
            .get("Socket-Type")
            .unwrap(),
        &b"DEALER"[..]
    );
    let secret = b"attack at dawn, bring the good biscuits";
    let big = Bytes::from(vec![0x5A; 100_000]);
    p.client
        .session
        .send(&[Bytes::from_static(secret), Bytes::new(), big.clone()])
        .unwrap();
    p.server.session.send(&msg(&[b"reply"])).unwrap();
    let before = p.client.wire.len();
    p.drive();
    assert_eq!(
        p.server.messages(),
        vec![vec![Bytes::from_static(secret), Bytes::new(), big]]
    );
    assert_eq!(p.client.messages(), vec![msg(&[b"reply"])]);
    // Encrypted on the wire: the plaintext never appears; frames are MESSAGE boxes
    // without flags.
    let sent = &p.client.wire[before..];
    assert!(!sent.windows(secret.len()).any(|w| w == secret));
    assert_eq!(&sent[..2], &[0x00, 8 + 8 + 16 + 1 + secret.len() as u8]);
    assert_eq!(&sent[2..10], b"\x07MESSAGE");
    // Heartbeats run inside the boxes too.
    p.advance(Duration::from_secs(10));
    assert_eq!(p.client.error(), None);
    assert_eq!(p.server.error(), None);
    assert!(!p.client.wire.windows(5).any(|w| w == b"\x04PING"));
}

#[test]
fn curve_subscriptions_are_encrypted() {
    let mut p = curve_pair(SocketType::Sub, SocketType::Pub, None);
    p.connect();
    p.client.session.subscribe(b"weather").unwrap();
    p.drive();
    assert!(p
        .server
        .events
        .contains(&ringmq_zmtp::Event::Subscribe(Bytes::from_static(
            b"weather"
        ))));
    assert!(!p.client.wire.windows(7).any(|w| w == b"weather"));
}

#[test]
fn curve_wrong_server_key_fails_the_handshake() {
    let wrong = *CurveKeyPair::from_secret([3; 32]).public();
    let mut p = curve_pair(SocketType::Dealer, SocketType::Router, Some(wrong));
    p.drive();
    assert_eq!(
        p.server.error(),
        Some(&Error::Curve(CurveError::HelloOpenFailed))
    );
    assert!(!p.client.session.is_established());
    p.advance(Duration::from_secs(5));
    assert_eq!(p.client.error(), Some(&Error::HandshakeTimeout));
}

#[test]
fn curve_denied_client_sees_error_400() {
    let mut p = curve_pair(SocketType::Dealer, SocketType::Router, None);
    p.server.auth = Some(Box::new(|_| ringmq_zmtp::AuthVerdict::Deny { status: 400 }));
    p.drive();
    assert_eq!(p.server.error(), Some(&Error::AuthDenied { status: 400 }));
    assert_eq!(
        p.client.error(),
        Some(&Error::PeerError {
            reason: "400".into()
        })
    );
}

/// Sealed frames are written into the output batch (no chunk per frame, large frames
/// included), and opened frames are views of the buffer they were received in.
#[test]
fn curve_frames_are_sealed_into_the_batch_and_opened_in_place() {
    let mut p = curve_pair(SocketType::Push, SocketType::Pull, None);
    p.connect();
    let small = Bytes::from(vec![7u8; 64]);
    let large = Bytes::from(vec![9u8; 20_000]);
    for _ in 0..100 {
        p.client.session.send(std::slice::from_ref(&small)).unwrap();
    }
    p.client
        .session
        .send_parts(vec![small.clone(), large.clone()].into())
        .unwrap();
    let t = p.client.session.poll_transmit().unwrap();
    // 101 boxes of 64 B and one of 20,000 B fit in a single 64 KiB batch buffer: one
    // chunk, where an unencrypted 20,000-byte frame would travel as its own.
    assert_eq!(t.chunks.len(), 1, "{} chunks", t.chunks.len());
    let mut wire = bytes::BytesMut::new();
    wire.extend_from_slice(&t.chunks[0]);
    let range = wire.as_ptr() as usize..wire.as_ptr() as usize + wire.len();
    let now = p.now;
    p.server.session.handle_input_buf(now, wire);
    let mut got = Vec::new();
    while let Some(e) = p.server.session.poll_event() {
        if let ringmq_zmtp::Event::Message(m) = e {
            got.push(m.into_vec());
        }
    }
    assert_eq!(got.len(), 101);
    assert!(got[..100].iter().all(|m| m == &vec![small.clone()]));
    assert_eq!(got[100], vec![small, large]);
    for part in got.iter().flatten() {
        let at = part.as_ptr() as usize;
        assert!(
            range.contains(&at),
            "a plaintext frame is a view of the receive buffer, not a copy"
        );
    }
}
