//! One session against hand-written peer bytes: old protocol versions, malformed and
//! oversized frames and commands. Each case asserts the exact error.

use std::time::Instant;

use bytes::Bytes;
use ringmq_zmtp::mechanism::{Mechanism, Null, PlainServer};
use ringmq_zmtp::{Error, Event, Parts, PeerMisbehaved, Session, SessionConfig, SocketType};

fn greeting(mechanism: &[u8], minor: u8) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, minor];
    let mut name = [0u8; 20];
    name[..mechanism.len()].copy_from_slice(mechanism);
    g.extend_from_slice(&name);
    g.push(0);
    g.extend_from_slice(&[0; 31]);
    g
}

fn command(body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x04];
    if body.len() > 255 {
        f[0] |= 0x02;
        f.extend_from_slice(&(body.len() as u64).to_be_bytes());
    } else {
        f.push(body.len() as u8);
    }
    f.extend_from_slice(body);
    f
}

/// A NULL DEALER peer's greeting and READY.
fn null_dealer_hello() -> Vec<u8> {
    let mut v = greeting(b"NULL", 1);
    v.extend(command(
        b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00",
    ));
    v
}

fn server(mechanism: Box<dyn Mechanism>) -> Session {
    let mut c = SessionConfig::new(SocketType::Router);
    c.max_message_size = Some(100);
    Session::new(c, mechanism, Instant::now()).unwrap()
}

/// Feeds `input` and returns the error the session reported.
fn error_for(input: &[u8]) -> Error {
    error_for_with(Box::new(Null::new()), input)
}

fn error_for_with(mechanism: Box<dyn Mechanism>, input: &[u8]) -> Error {
    let mut s = server(mechanism);
    s.handle_input(Instant::now(), input);
    let mut error = None;
    while let Some(e) = s.poll_event() {
        if let Event::Error(e) = e {
            assert!(error.is_none(), "one error only");
            error = Some(e);
        }
    }
    assert!(s.is_failed());
    // Further input is ignored without panicking.
    s.handle_input(Instant::now(), input);
    assert!(s.poll_event().is_none());
    error.expect("no error reported")
}

fn pm(p: PeerMisbehaved) -> Error {
    Error::PeerMisbehaved(p)
}

#[test]
fn raw_null_peer_connects_and_golden_ready_is_sent() {
    let mut s = Session::new(
        SessionConfig::new(SocketType::Dealer),
        Box::new(Null::new()),
        Instant::now(),
    )
    .unwrap();
    let now = Instant::now();
    // Before the peer's signature only our signature goes out.
    assert_eq!(
        s.poll_transmit().unwrap().to_vec(),
        b"\xff\0\0\0\0\0\0\0\0\x7f"
    );
    assert!(s.poll_transmit().is_none());
    let peer = null_dealer_hello();
    s.handle_input(now, &peer[..10]);
    assert_eq!(
        s.poll_transmit().unwrap().to_vec(),
        &greeting(b"NULL", 1)[10..]
    );
    s.handle_input(now, &peer[10..]);
    assert_eq!(
        s.poll_transmit().unwrap().to_vec(),
        b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00"
    );
    assert!(matches!(
        s.poll_event(),
        Some(Event::HandshakeSucceeded {
            socket_type: SocketType::Dealer,
            ..
        })
    ));
    // PING with a context longer than 16 bytes: the PONG carries the first 16.
    s.handle_input(now, &command(b"\x04PING\x00\x000123456789abcdefXYZ"));
    assert_eq!(
        s.poll_transmit().unwrap().to_vec(),
        command(b"\x04PONG0123456789abcdef")
    );
    // Golden PING "LOL" gets the golden PONG.
    s.handle_input(now, b"\x04\x0a\x04PING\x00\x00LOL");
    assert_eq!(s.poll_transmit().unwrap().to_vec(), b"\x04\x08\x04PONGLOL");
    // Unknown commands after the handshake are ignored.
    s.handle_input(now, &command(b"\x07X-THING\x01\x02"));
    assert!(!s.is_failed());
    assert!(s.poll_event().is_none());
}

#[test]
fn zmtp_1_0_and_2_0_peers_are_refused() {
    // ZMTP 1.0: length byte, flags, identity.
    assert_eq!(error_for(b"\x01\x00"), pm(PeerMisbehaved::Zmtp10Peer));
    // ZMTP 1.0 with an 8-byte length: FF, length, flags byte 00 at index 9.
    assert_eq!(
        error_for(b"\xff\x00\x00\x00\x00\x00\x00\x01\x00\x00"),
        pm(PeerMisbehaved::Zmtp10Peer)
    );
    // ZMTP 2.0: revision 01 after the signature.
    let mut v2 = greeting(b"NULL", 0);
    v2[10] = 1;
    assert_eq!(
        error_for(&v2[..12]),
        pm(PeerMisbehaved::UnsupportedVersion { major: 1 })
    );
}

#[test]
fn mechanism_name_errors() {
    let mut g = greeting(b"NULL", 1);
    g[13] = b' ';
    assert_eq!(error_for(&g), pm(PeerMisbehaved::InvalidMechanismName));
    assert_eq!(
        error_for(&greeting(b"CURVE", 1)),
        Error::MechanismMismatch {
            local: "NULL".into(),
            peer: "CURVE".into()
        }
    );
}

#[test]
fn handshake_frame_errors() {
    let g = greeting(b"NULL", 1);
    let with = |tail: &[u8]| {
        let mut v = g.clone();
        v.extend_from_slice(tail);
        error_for(&v)
    };
    assert_eq!(
        with(b"\x04\x03\x05RE"),
        pm(PeerMisbehaved::TruncatedCommand)
    );
    assert_eq!(with(b"\x04\x00"), pm(PeerMisbehaved::TruncatedCommand));
    assert_eq!(
        with(b"\x00\x05READY"),
        pm(PeerMisbehaved::UnexpectedDataFrame)
    );
    assert_eq!(with(b"\x05\x05READY"), pm(PeerMisbehaved::CommandWithMore));
    assert_eq!(
        with(b"\x14\x00"),
        pm(PeerMisbehaved::ReservedFlags { flags: 0x14 })
    );
    // Oversized command: refused from its header, before the body arrives.
    assert_eq!(
        with(b"\x06\x00\x00\x00\x00\x00\x01\x00\x01"),
        pm(PeerMisbehaved::FrameTooLarge {
            size: 65537,
            max: 65536
        })
    );
    assert_eq!(
        with(&command(b"\x05READY\x0bSocket-Type\x00\x00\x00\x09DEALER")),
        pm(PeerMisbehaved::MalformedMetadata)
    );
    assert_eq!(
        with(&command(b"\x05READY")),
        pm(PeerMisbehaved::MissingSocketType)
    );
    assert_eq!(
        with(&command(b"\x05READY\x0bSocket-Type\x00\x00\x00\x04NOPE")),
        pm(PeerMisbehaved::UnknownSocketType {
            name: "NOPE".into()
        })
    );
    assert_eq!(
        with(&command(b"\x05HELLO\x00\x00")),
        pm(PeerMisbehaved::UnexpectedCommand {
            name: "HELLO".into()
        })
    );
    assert_eq!(
        with(&command(b"\x05ERROR\x03400")),
        Error::PeerError {
            reason: "400".into()
        }
    );
    assert_eq!(
        with(&command(b"\x05ERROR\x09400")),
        pm(PeerMisbehaved::MalformedCommand { command: "ERROR" })
    );
}

#[test]
fn plain_server_refuses_bad_hello() {
    let mut v = greeting(b"PLAIN", 1);
    v.extend(command(b"\x05HELLO\x05adm"));
    assert_eq!(
        error_for_with(Box::new(PlainServer::new()), &v),
        pm(PeerMisbehaved::MalformedCommand { command: "HELLO" })
    );
    let mut v = greeting(b"PLAIN", 1);
    v.extend(command(b"\x08INITIATE"));
    assert_eq!(
        error_for_with(Box::new(PlainServer::new()), &v),
        pm(PeerMisbehaved::UnexpectedCommand {
            name: "INITIATE".into()
        })
    );
}

#[test]
fn established_frame_errors() {
    let with = |tail: &[u8]| {
        let mut v = null_dealer_hello();
        v.extend_from_slice(tail);
        error_for(&v)
    };
    assert_eq!(
        with(b"\x08\x01x"),
        pm(PeerMisbehaved::ReservedFlags { flags: 0x08 })
    );
    assert_eq!(
        with(b"\x80\x01x"),
        pm(PeerMisbehaved::ReservedFlags { flags: 0x80 })
    );
    assert_eq!(
        with(b"\x05\x06\x04PING\x00\x00"),
        pm(PeerMisbehaved::CommandWithMore)
    );
    // Refused from the header alone: no body follows in these inputs.
    assert_eq!(
        with(b"\x00\x65"),
        pm(PeerMisbehaved::MessageTooLarge {
            size: 101,
            max: 100
        })
    );
    assert_eq!(
        with(b"\x02\x7f\xff\xff\xff\xff\xff\xff\xff"),
        pm(PeerMisbehaved::MessageTooLarge {
            size: i64::MAX as u64,
            max: 100
        })
    );
    // The frame that crosses the limit of the whole message, from its header: 60
    // bytes held, then a header announcing 41 more.
    let mut crossing = vec![0x01, 60];
    crossing.extend_from_slice(&[0; 60]);
    crossing.extend_from_slice(&[0x01, 41]);
    assert_eq!(
        with(&crossing),
        pm(PeerMisbehaved::MessageTooLarge {
            size: 101,
            max: 100
        })
    );
    // A command after the handshake is held to the limit on its own.
    let mut ping = b"\x04\x65\x04PING\x00\x00".to_vec();
    ping.resize(2 + 101, b'x');
    assert_eq!(
        with(&ping),
        pm(PeerMisbehaved::FrameTooLarge {
            size: 101,
            max: 100
        })
    );
    assert_eq!(
        with(&command(b"\x04PING\x00")),
        pm(PeerMisbehaved::MalformedCommand { command: "PING" })
    );
    assert_eq!(
        with(&command(b"\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB")),
        pm(PeerMisbehaved::UnexpectedCommand {
            name: "READY".into()
        })
    );
    assert_eq!(
        with(&command(b"\x09SUBSCR")),
        pm(PeerMisbehaved::TruncatedCommand)
    );
}

#[test]
fn partial_multipart_is_not_delivered() {
    let mut s = server(Box::new(Null::new()));
    let now = Instant::now();
    s.handle_input(now, &null_dealer_hello());
    while s.poll_event().is_some() {}
    s.handle_input(now, b"\x01\x01a\x01\x01b");
    assert!(s.poll_event().is_none());
    s.handle_input(now, b"\x00\x00");
    assert_eq!(
        s.poll_event(),
        Some(Event::Message(
            vec![
                Bytes::from_static(b"a"),
                Bytes::from_static(b"b"),
                Bytes::new()
            ]
            .into()
        ))
    );
}

#[test]
fn take_events_hands_over_everything_in_order() {
    let mut s = server(Box::new(Null::new()));
    let now = Instant::now();
    s.handle_input(now, &null_dealer_hello());
    let mut batch = std::collections::VecDeque::new();
    s.take_events(&mut batch);
    assert!(matches!(
        batch.pop_front(),
        Some(Event::HandshakeSucceeded { .. })
    ));
    assert!(batch.is_empty());
    // One single-frame message, one multipart, one more single frame, in one input.
    s.handle_input(now, b"\x00\x01x\x01\x01a\x00\x01b\x00\x02yz");
    s.take_events(&mut batch);
    assert!(s.poll_event().is_none(), "the session kept nothing");
    let got: Vec<Event> = batch.drain(..).collect();
    assert_eq!(
        got,
        [
            Event::Message(vec![Bytes::from_static(b"x")].into()),
            Event::Message(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")].into()),
            Event::Message(Parts::one(Bytes::from_static(b"yz"))),
        ]
    );
    // The emptied queue goes back in and the next events land in order again.
    s.take_events(&mut batch);
    assert!(batch.is_empty());
    s.handle_input(now, b"\x00\x01q");
    assert_eq!(
        s.poll_event(),
        Some(Event::Message(vec![Bytes::from_static(b"q")].into()))
    );
}

/// Without MAXMSGSIZE, a size no buffer can hold is still refused from the header, with
/// a reason that says so.
#[test]
fn unholdable_frame_size_is_refused_without_a_limit() {
    for size in [i64::MAX as u64, u64::MAX] {
        let mut c = SessionConfig::new(SocketType::Router);
        c.max_message_size = None;
        let mut s = Session::new(c, Box::new(Null::new()), Instant::now()).unwrap();
        let mut input = null_dealer_hello();
        input.push(0x02);
        input.extend_from_slice(&size.to_be_bytes());
        s.handle_input(Instant::now(), &input);
        let error = std::iter::from_fn(|| s.poll_event()).find_map(|e| match e {
            Event::Error(e) => Some(e),
            _ => None,
        });
        assert_eq!(
            error,
            Some(pm(PeerMisbehaved::FrameTooLargeToHold { size }))
        );
        assert!(error
            .unwrap()
            .to_string()
            .contains("larger than any buffer can hold"));
    }
}
