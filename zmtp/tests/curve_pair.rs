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

/// Inside CURVE boxes the message limits hold the same way: MAXMSGSIZE on the sum of
/// the frames, the frame cap per message; a box too large for what remains of the
/// budget is refused from its header.
#[test]
fn curve_message_limits() {
    use ringmq_zmtp::PeerMisbehaved;
    let limited = |max_size: Option<u64>, max_frames: Option<u32>| {
        let (client, server) = keys();
        let mut sc = config(SocketType::Router);
        sc.max_message_size = max_size;
        sc.max_message_frames = max_frames;
        let mut p = Pair::new(
            config(SocketType::Dealer),
            Box::new(CurveClient::new(client, *server.public())),
            sc,
            Box::new(CurveServer::new(server)),
        );
        p.connect();
        p
    };
    let mut p = limited(Some(1000), None);
    let ok = vec![Bytes::from(vec![1u8; 500]), Bytes::from(vec![2u8; 500])];
    p.client.session.send(&ok).unwrap();
    p.drive();
    assert_eq!(p.server.messages(), vec![ok]);
    // Under the limit each, over it together: seen once the second box is opened.
    p.client
        .session
        .send(&[Bytes::from(vec![3u8; 600]), Bytes::from(vec![4u8; 401])])
        .unwrap();
    p.drive();
    assert_eq!(
        p.server.error(),
        Some(&Error::PeerMisbehaved(PeerMisbehaved::MessageTooLarge {
            size: 1001,
            max: 1000
        }))
    );
    // A box far larger than the budget: refused from its header, with its wire size.
    let mut p = limited(Some(1000), None);
    p.client
        .session
        .send(&[Bytes::from(vec![3u8; 900]), Bytes::from(vec![4u8; 5000])])
        .unwrap();
    p.drive();
    assert_eq!(
        p.server.error(),
        Some(&Error::PeerMisbehaved(PeerMisbehaved::MessageTooLarge {
            size: 900 + 5000 + 33,
            max: 1000
        }))
    );
    // The largest limit there is: no overflow adding the box overhead.
    let mut p = limited(Some(u64::MAX), None);
    p.client.session.send(&msg(&[b"a", b"b"])).unwrap();
    p.drive();
    assert_eq!(p.server.messages(), vec![msg(&[b"a", b"b"])]);
    let mut p = limited(None, Some(2));
    p.client.session.send(&msg(&[b"a", b"b"])).unwrap();
    p.client.session.send(&msg(&[b"a", b"b", b"c"])).unwrap();
    p.drive();
    assert_eq!(p.server.messages(), vec![msg(&[b"a", b"b"])]);
    assert_eq!(
        p.server.error(),
        Some(&Error::PeerMisbehaved(PeerMisbehaved::TooManyFrames {
            max: 2
        }))
    );
}

/// Sealed frames are written into the output batch (no chunk per frame, large frames
/// included), and opened frames are views of the buffer they were received in. The
/// batch buffer is the adaptive one: small after idle, doubling while busy, given back
/// once the output is idle again.
#[test]
fn curve_frames_are_sealed_into_the_batch_and_opened_in_place() {
    let mut p = curve_pair(SocketType::Push, SocketType::Pull, None);
    p.connect();
    // The handshake's batches were written (the pair does not give them back): the
    // output is idle.
    p.client.session.recycle_transmit(Vec::new());
    let small = Bytes::from(vec![7u8; 64]);
    let large = Bytes::from(vec![9u8; 20_000]);
    let burst = |p: &mut Pair| {
        for _ in 0..100 {
            p.client.session.send(std::slice::from_ref(&small)).unwrap();
        }
        p.client
            .session
            .send_parts(vec![small.clone(), large.clone()].into())
            .unwrap();
        p.client.session.poll_transmit().unwrap()
    };
    // From idle the batch buffer is at most 4 KiB and each next one doubles (101 boxes
    // of 99 bytes on the wire fill the rest of the handshake's 4 KiB, one of 4 KiB and
    // part of one of 8 KiB), and the 20,000-byte box is sealed into a buffer of its
    // size: a few chunks for 102 frames, not one per frame.
    let first = burst(&mut p);
    assert!(first.chunks.len() <= 4, "{} chunks", first.chunks.len());
    // While busy (the first batch not yet written back) the buffer has grown: all of
    // it in one chunk, where an unencrypted 20,000-byte frame would travel as its own.
    let t = burst(&mut p);
    assert_eq!(t.chunks.len(), 1, "{} chunks", t.chunks.len());
    let mut wire = bytes::BytesMut::new();
    wire.extend_from_slice(&first.to_vec());
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
    assert_eq!(got.len(), 202);
    for round in got.chunks(101) {
        assert!(round[..100].iter().all(|m| m == &vec![small.clone()]));
        assert_eq!(round[100], vec![small.clone(), large.clone()]);
    }
    for part in got.iter().flatten() {
        let at = part.as_ptr() as usize;
        assert!(
            range.contains(&at),
            "a plaintext frame is a view of the receive buffer, not a copy"
        );
    }
    // Both batches written, nothing queued since: the sealing buffers are released.
    p.client.session.recycle_transmit(first.chunks);
    p.client.session.recycle_transmit(t.chunks);
    let idle = p.client.session.held_bytes();
    assert!(
        idle <= 4096 + 1024,
        "{idle} bytes held by an idle CURVE session"
    );
}

#[test]
fn curve_takes_no_message_encoded_once() {
    let mut p = curve_pair(SocketType::Pub, SocketType::Sub, None);
    p.connect();
    let m = msg(&[b"news", b"body"]);
    let mut wire = Vec::new();
    assert!(ringmq_zmtp::frame::encode_message(&m, &mut wire));
    let before = p.client.session.pending_transmit();
    assert_eq!(
        p.client.session.send_encoded(&wire),
        Ok(false),
        "each peer seals with its own keys"
    );
    assert_eq!(p.client.session.pending_transmit(), before);
    p.client.session.send(&m).unwrap();
    p.drive();
    assert_eq!(p.server.messages(), vec![m]);
}
