//! A CURVE client and server wired back to back through the [`Mechanism`] trait.

#![cfg(not(fuzzing))]

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::error::{Error, PeerMisbehaved};
use crate::mechanism::{AuthVerdict, Credentials, FrameParts, HandshakeStatus, Mechanism};
use crate::metadata::{Metadata, IDENTITY, SOCKET_TYPE, USER_ID};

fn curve(r: Result<HandshakeStatus, Error>) -> CurveError {
    match r {
        Err(Error::Curve(e)) => e,
        other => panic!("expected a CURVE error, got {other:?}"),
    }
}

fn client_md() -> Metadata {
    let mut m = Metadata::new();
    m.insert(SOCKET_TYPE, Bytes::from_static(b"DEALER"));
    m.insert(IDENTITY, Bytes::from_static(b"peer-7"));
    m.insert("X-Colour", Bytes::from_static(b"blue"));
    m
}

fn server_md() -> Metadata {
    let mut m = Metadata::new();
    m.insert(SOCKET_TYPE, Bytes::from_static(b"ROUTER"));
    m
}

fn allow() -> AuthVerdict {
    AuthVerdict::Allow {
        user_id: Bytes::new(),
        metadata: Metadata::new(),
    }
}

/// Both sides and the commands exchanged so far.
struct Pair {
    client: CurveClient,
    server: CurveServer,
    server_keys: CurveKeyPair,
    client_keys: CurveKeyPair,
    hello: Bytes,
    welcome: Bytes,
}

fn started(client_md: &Metadata) -> Pair {
    let server_keys = CurveKeyPair::generate();
    let client_keys = CurveKeyPair::generate();
    let mut client = CurveClient::new(client_keys.clone(), *server_keys.public());
    let mut server = CurveServer::new(server_keys.clone());
    let mut out = Vec::new();
    assert_eq!(
        server.start(&server_md(), &mut out),
        Ok(HandshakeStatus::InProgress)
    );
    assert!(out.is_empty(), "a CURVE server speaks second");
    assert_eq!(
        client.start(client_md, &mut out),
        Ok(HandshakeStatus::InProgress)
    );
    let hello = out.pop().expect("HELLO");
    assert!(out.is_empty());
    assert_eq!(
        server.handle_command(hello.clone(), &mut out),
        Ok(HandshakeStatus::InProgress)
    );
    let welcome = out.pop().expect("WELCOME");
    Pair {
        client,
        server,
        server_keys,
        client_keys,
        hello,
        welcome,
    }
}

/// Runs the pair up to the server's NeedsAuth; returns the INITIATE body.
fn to_auth(p: &mut Pair) -> Bytes {
    let mut out = Vec::new();
    assert_eq!(
        p.client.handle_command(p.welcome.clone(), &mut out),
        Ok(HandshakeStatus::InProgress)
    );
    let initiate = out.pop().expect("INITIATE");
    assert_eq!(
        p.server.handle_command(initiate.clone(), &mut out),
        Ok(HandshakeStatus::NeedsAuth(Credentials::Curve {
            public_key: *p.client_keys.public()
        }))
    );
    assert!(out.is_empty(), "nothing is sent before the verdict");
    initiate
}

/// A completed pair; returns (metadata the server saw, metadata the client saw).
fn completed() -> (Pair, Metadata, Metadata) {
    let mut p = started(&client_md());
    to_auth(&mut p);
    let mut out = Vec::new();
    let server_saw = match p.server.auth_result(allow(), &mut out) {
        Ok(HandshakeStatus::Complete(m)) => m,
        other => panic!("{other:?}"),
    };
    let ready = out.pop().expect("READY");
    let client_saw = match p.client.handle_command(ready, &mut out) {
        Ok(HandshakeStatus::Complete(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(out.is_empty());
    (p, server_saw, client_saw)
}

fn frame(more: bool, command: bool, body: &'static [u8]) -> FrameParts {
    FrameParts {
        more,
        command,
        body: Bytes::from_static(body),
    }
}

#[test]
fn handshake_wire_layout_and_metadata_both_ways() {
    let mut p = started(&client_md());
    let hello = &p.hello;
    assert_eq!(hello.len(), 200);
    assert_eq!(&hello[..8], b"\x05HELLO\x01\x00");
    assert!(hello[8..80].iter().all(|&b| b == 0), "72 bytes of padding");
    assert_eq!(&hello[112..120], &1u64.to_be_bytes(), "HELLO takes nonce 1");
    assert_eq!(p.welcome.len(), 168);
    assert_eq!(&p.welcome[..8], b"\x07WELCOME");

    let initiate = to_auth(&mut p);
    let md_len = client_md().encoded_len();
    assert_eq!(&initiate[..9], b"\x08INITIATE");
    assert_eq!(initiate.len(), 9 + 96 + 8 + 16 + 128 + md_len);
    assert_eq!(
        &initiate[105..113],
        &2u64.to_be_bytes(),
        "INITIATE takes nonce 2"
    );

    let mut out = Vec::new();
    let server_saw = match p.server.auth_result(allow(), &mut out) {
        Ok(HandshakeStatus::Complete(m)) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(server_saw, client_md());
    let ready = out.pop().unwrap();
    assert_eq!(&ready[..6], b"\x05READY");
    assert_eq!(&ready[6..14], &1u64.to_be_bytes());
    assert_eq!(ready.len(), 14 + 16 + server_md().encoded_len());
    assert_eq!(
        p.client.handle_command(ready, &mut out),
        Ok(HandshakeStatus::Complete(server_md()))
    );
    assert!(p.client.encrypts() && p.server.encrypts());
    assert_eq!(p.client.name(), b"CURVE");
    assert!(p.server.as_server() && !p.client.as_server());
    // Plaintext metadata never appears on the wire.
    assert!(!initiate.windows(6).any(|w| w == b"DEALER"));
}

#[test]
fn verdict_metadata_and_user_id_are_merged_and_cannot_be_spoofed() {
    let mut md = client_md();
    md.insert(USER_ID, Bytes::from_static(b"root"));
    for (user_id, expect) in [(&b""[..], None), (&b"alice"[..], Some(&b"alice"[..]))] {
        let mut p = started(&md);
        to_auth(&mut p);
        let mut zap = Metadata::new();
        zap.insert("X-Role", Bytes::from_static(b"admin"));
        let verdict = AuthVerdict::Allow {
            user_id: Bytes::copy_from_slice(user_id),
            metadata: zap,
        };
        let seen = match p.server.auth_result(verdict, &mut Vec::new()) {
            Ok(HandshakeStatus::Complete(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(seen.get(USER_ID).map(|v| &v[..]), expect);
        assert_eq!(seen.get("X-Role").unwrap(), &b"admin"[..]);
        assert_eq!(seen.get("x-colour").unwrap(), &b"blue"[..]);
    }
}

#[test]
fn messages_both_directions_keep_more_and_command_bits() {
    let (mut p, _, _) = completed();
    let sent = [
        frame(true, false, b"part one"),
        frame(false, false, b""),
        frame(false, true, b"\x04PING\x00\x0a"),
        frame(true, true, b"odd but representable"),
    ];
    for (i, f) in sent.iter().enumerate() {
        let outer = p.client.wrap(f.clone()).unwrap();
        assert!(
            !outer.more && !outer.command,
            "libzmq sends MESSAGE frames without flags"
        );
        assert_eq!(&outer.body[..8], b"\x07MESSAGE");
        assert_eq!(&outer.body[8..16], &(3 + i as u64).to_be_bytes());
        assert_eq!(outer.body.len(), 16 + 16 + 1 + f.body.len());
        assert_eq!(p.server.unwrap(outer).unwrap(), *f);

        let outer = p.server.wrap(f.clone()).unwrap();
        assert_eq!(&outer.body[8..16], &(2 + i as u64).to_be_bytes());
        assert_eq!(p.client.unwrap(outer).unwrap(), *f);
    }
    // Outer flags are ignored: only the boxed ones count.
    let mut outer = p.client.wrap(frame(false, false, b"x")).unwrap();
    outer.more = true;
    outer.command = true;
    assert_eq!(p.server.unwrap(outer).unwrap(), frame(false, false, b"x"));
}

#[test]
fn a_client_with_the_wrong_server_key_is_refused_at_hello() {
    let server_keys = CurveKeyPair::generate();
    let imposter = CurveKeyPair::generate();
    let mut client = CurveClient::new(CurveKeyPair::generate(), *imposter.public());
    let mut server = CurveServer::new(server_keys);
    let mut out = Vec::new();
    server.start(&server_md(), &mut out).unwrap();
    client.start(&client_md(), &mut out).unwrap();
    let hello = out.pop().unwrap();
    assert_eq!(
        curve(server.handle_command(hello, &mut out)),
        CurveError::HelloOpenFailed
    );
    assert!(out.is_empty(), "no WELCOME for a HELLO that does not open");
}

#[test]
fn tampered_welcome_fails() {
    for at in [8, 23, 24, 100, 167] {
        let mut p = started(&client_md());
        let mut w = p.welcome.to_vec();
        w[at] ^= 0x10;
        assert_eq!(
            curve(p.client.handle_command(w.into(), &mut Vec::new())),
            CurveError::WelcomeOpenFailed,
            "flip at {at}"
        );
    }
    let mut p = started(&client_md());
    let mut w = p.welcome.to_vec();
    w[1] = b'X';
    assert_eq!(
        curve(p.client.handle_command(w.into(), &mut Vec::new())),
        CurveError::UnexpectedCommand {
            expected: "WELCOME"
        }
    );
}

#[test]
fn tampered_initiate_fails() {
    let cases = [
        (9, CurveError::CookieOpenFailed),
        (60, CurveError::CookieOpenFailed),
        (104, CurveError::CookieOpenFailed),
        (112, CurveError::InitiateOpenFailed),
        (113, CurveError::InitiateOpenFailed),
        (200, CurveError::InitiateOpenFailed),
    ];
    for (at, want) in cases {
        let mut p = started(&client_md());
        let mut out = Vec::new();
        p.client
            .handle_command(p.welcome.clone(), &mut out)
            .unwrap();
        let mut i = out.pop().unwrap().to_vec();
        let last = i.len() - 1;
        i[at.min(last)] ^= 0x01;
        assert_eq!(
            curve(p.server.handle_command(i.into(), &mut out)),
            want,
            "flip at {at}"
        );
    }
}

#[test]
fn tampered_ready_fails() {
    let mut p = started(&client_md());
    to_auth(&mut p);
    let mut out = Vec::new();
    p.server.auth_result(allow(), &mut out).unwrap();
    let mut r = out.pop().unwrap().to_vec();
    r[20] ^= 1;
    assert_eq!(
        curve(p.client.handle_command(r.into(), &mut out)),
        CurveError::ReadyOpenFailed
    );
}

#[test]
fn tampered_replayed_and_reordered_messages_fail() {
    let (mut p, _, _) = completed();
    let first = p.client.wrap(frame(false, false, b"one")).unwrap();
    let second = p.client.wrap(frame(false, false, b"two")).unwrap();

    let mut forged = first.clone();
    let mut b = forged.body.to_vec();
    *b.last_mut().unwrap() ^= 1;
    forged.body = b.into();
    assert_eq!(
        p.server.unwrap(forged).unwrap_err(),
        Error::Curve(CurveError::MessageOpenFailed)
    );
    // A forged message must not advance the nonce window.
    let mut forged = second.clone();
    let mut b = forged.body.to_vec();
    b[15] = 0xFF; // nonce 0x..FF
    forged.body = b.into();
    assert!(p.server.unwrap(forged).is_err());

    assert_eq!(p.server.unwrap(first.clone()).unwrap().body, &b"one"[..]);
    assert_eq!(
        p.server.unwrap(first).unwrap_err(),
        Error::Curve(CurveError::NonceReplayed { nonce: 3, last: 3 })
    );
    let third = p.client.wrap(frame(false, false, b"three")).unwrap();
    assert_eq!(p.server.unwrap(third).unwrap().body, &b"three"[..]);
    assert_eq!(
        p.server.unwrap(second).unwrap_err(),
        Error::Curve(CurveError::NonceReplayed { nonce: 4, last: 5 })
    );
    // Server to client too.
    let m = p.server.wrap(frame(false, false, b"s")).unwrap();
    p.client.unwrap(m.clone()).unwrap();
    assert_eq!(
        p.client.unwrap(m).unwrap_err(),
        Error::Curve(CurveError::NonceReplayed { nonce: 2, last: 2 })
    );
    // A message boxed for the other direction does not open (distinct prefixes).
    let c = p.client.wrap(frame(false, false, b"mirror")).unwrap();
    assert_eq!(
        p.client.unwrap(c).unwrap_err(),
        Error::Curve(CurveError::MessageOpenFailed)
    );
}

#[test]
fn replayed_initiate_fails() {
    // Twice on the same connection.
    let mut p = started(&client_md());
    let initiate = to_auth(&mut p);
    assert_eq!(
        curve(p.server.handle_command(initiate.clone(), &mut Vec::new())),
        CurveError::UnexpectedCommand {
            expected: "no command while authenticating"
        }
    );
    // Recorded HELLO + INITIATE replayed to a new connection of the same server: the new
    // connection's cookie key does not open the old cookie.
    let mut server = CurveServer::new(p.server_keys.clone());
    let mut out = Vec::new();
    server.start(&server_md(), &mut out).unwrap();
    server.handle_command(p.hello.clone(), &mut out).unwrap();
    assert_eq!(out.len(), 1, "the replayed HELLO itself gets a WELCOME");
    assert_eq!(
        curve(server.handle_command(initiate, &mut out)),
        CurveError::CookieOpenFailed
    );
}

#[test]
fn a_vouch_for_another_server_key_is_refused() {
    let server_keys = CurveKeyPair::generate();
    let mut client = CurveClient::new(CurveKeyPair::generate(), *server_keys.public());
    client.vouch_for(*CurveKeyPair::generate().public());
    let mut server = CurveServer::new(server_keys);
    let mut out = Vec::new();
    server.start(&server_md(), &mut out).unwrap();
    client.start(&client_md(), &mut out).unwrap();
    let hello = out.pop().unwrap();
    server.handle_command(hello, &mut out).unwrap();
    let welcome = out.pop().unwrap();
    client.handle_command(welcome, &mut out).unwrap();
    let initiate = out.pop().unwrap();
    assert_eq!(
        curve(server.handle_command(initiate, &mut out)),
        CurveError::VouchServerKeyMismatch
    );
}

#[test]
fn denials() {
    for (status, sent) in [
        (400, Some(&b"\x05ERROR\x03400"[..])),
        (500, Some(&b"\x05ERROR\x03500"[..])),
        (300, None),
    ] {
        let mut p = started(&client_md());
        to_auth(&mut p);
        let mut out = Vec::new();
        assert_eq!(
            p.server.auth_result(AuthVerdict::Deny { status }, &mut out),
            Err(Error::AuthDenied { status })
        );
        assert_eq!(out.first().map(|b| &b[..]), sent);
        assert!(out.len() <= 1);
        if let Some(err) = out.pop() {
            // The client reports the reason.
            assert_eq!(
                p.client.handle_command(err, &mut out),
                Err(Error::PeerError {
                    reason: status.to_string()
                })
            );
        }
        assert!(p.server.wrap(frame(false, false, b"x")).is_err());
    }
    let mut p = started(&client_md());
    to_auth(&mut p);
    let mut out = Vec::new();
    assert_eq!(
        curve(
            p.server
                .auth_result(AuthVerdict::Deny { status: 200 }, &mut out)
        ),
        CurveError::InvalidAuthStatus { status: 200 }
    );
    assert!(out.is_empty());
}

#[test]
fn error_instead_of_welcome_or_ready_and_malformed_error() {
    let mut p = started(&client_md());
    assert_eq!(
        p.client
            .handle_command(Bytes::from_static(b"\x05ERROR\x03400"), &mut Vec::new()),
        Err(Error::PeerError {
            reason: "400".into()
        })
    );
    let mut p = started(&client_md());
    let mut out = Vec::new();
    p.client
        .handle_command(p.welcome.clone(), &mut out)
        .unwrap();
    assert_eq!(
        p.client
            .handle_command(Bytes::from_static(b"\x05ERROR\x03500"), &mut out),
        Err(Error::PeerError {
            reason: "500".into()
        })
    );
    let mut p = started(&client_md());
    assert_eq!(
        curve(
            p.client
                .handle_command(Bytes::from_static(b"\x05ERROR\x09400"), &mut Vec::new())
        ),
        CurveError::MalformedError
    );
}

#[test]
fn truncated_oversized_and_unexpected_commands() {
    let mut p = started(&client_md());
    let mut out = Vec::new();
    p.client
        .handle_command(p.welcome.clone(), &mut out)
        .unwrap();
    let initiate = out.pop().unwrap();

    let fresh_server = |keys: &CurveKeyPair| {
        let mut s = CurveServer::new(keys.clone());
        s.start(&server_md(), &mut Vec::new()).unwrap();
        s
    };
    let hello_err = |body: Vec<u8>| {
        curve(fresh_server(&p.server_keys).handle_command(body.into(), &mut Vec::new()))
    };
    assert_eq!(
        hello_err(p.hello[..199].to_vec()),
        CurveError::HelloSize { len: 199 }
    );
    let mut long = p.hello.to_vec();
    long.push(0);
    assert_eq!(hello_err(long), CurveError::HelloSize { len: 201 });
    let mut v2 = p.hello.to_vec();
    v2[6] = 2;
    assert_eq!(
        hello_err(v2),
        CurveError::HelloVersion { major: 2, minor: 0 }
    );
    assert_eq!(hello_err(vec![]), CurveError::MalformedCommand);
    assert_eq!(
        hello_err(b"\x09HELLO".to_vec()),
        CurveError::MalformedCommand
    );
    assert_eq!(
        hello_err(b"\x05READY".to_vec()),
        CurveError::UnexpectedCommand { expected: "HELLO" }
    );
    // Every truncation of every handshake command is an error, never a panic.
    for cut in 0..p.hello.len() {
        assert!(fresh_server(&p.server_keys)
            .handle_command(p.hello.slice(..cut), &mut Vec::new())
            .is_err());
    }

    let welcome_err = |body: Bytes| {
        let mut c = CurveClient::new(CurveKeyPair::generate(), *p.server_keys.public());
        c.start(&client_md(), &mut Vec::new()).unwrap();
        curve(c.handle_command(body, &mut Vec::new()))
    };
    assert_eq!(
        welcome_err(p.welcome.slice(..167)),
        CurveError::WelcomeSize { len: 167 }
    );
    let mut long = p.welcome.to_vec();
    long.push(0);
    assert_eq!(
        welcome_err(long.into()),
        CurveError::WelcomeSize { len: 169 }
    );
    assert_eq!(
        welcome_err(p.hello.clone()),
        CurveError::UnexpectedCommand {
            expected: "WELCOME"
        }
    );
    for cut in 0..p.welcome.len() {
        let _ = welcome_err(p.welcome.slice(..cut));
    }

    let initiate_err = |body: Bytes| {
        let mut s = fresh_server(&p.server_keys);
        s.handle_command(p.hello.clone(), &mut Vec::new()).unwrap();
        curve(s.handle_command(body, &mut Vec::new()))
    };
    assert_eq!(
        initiate_err(initiate.slice(..256)),
        CurveError::InitiateTooShort { len: 256 }
    );
    let mut huge = initiate.to_vec();
    huge.resize(257 + MAX_INITIATE_METADATA + 1, 0);
    assert_eq!(
        initiate_err(huge.into()),
        CurveError::InitiateTooLong {
            len: 257 + MAX_INITIATE_METADATA + 1
        }
    );
    for cut in 0..initiate.len() {
        let _ = initiate_err(initiate.slice(..cut));
    }

    // READY: too short, then every truncation.
    let mut p = started(&client_md());
    to_auth(&mut p);
    let mut out = Vec::new();
    p.server.auth_result(allow(), &mut out).unwrap();
    let ready = out.pop().unwrap();
    for cut in 0..ready.len() {
        let mut c = started(&client_md());
        c.client
            .handle_command(c.welcome.clone(), &mut Vec::new())
            .unwrap();
        let e = curve(c.client.handle_command(ready.slice(..cut), &mut Vec::new()));
        if (6..30).contains(&cut) {
            assert_eq!(e, CurveError::ReadyTooShort { len: cut });
        }
    }

    // MESSAGE: too short, not a MESSAGE, and every truncation.
    let (mut p, _, _) = completed();
    let m = p.client.wrap(frame(false, false, b"payload")).unwrap();
    for cut in 0..m.body.len() {
        let mut t = m.clone();
        t.body = m.body.slice(..cut);
        let e = p.server.unwrap(t).unwrap_err();
        if cut < 8 {
            assert_eq!(e, Error::Curve(CurveError::NotAMessage));
        } else if cut < 33 {
            assert_eq!(e, Error::Curve(CurveError::MessageTooShort { len: cut }));
        } else {
            assert_eq!(e, Error::Curve(CurveError::MessageOpenFailed));
        }
    }
    assert_eq!(
        p.server
            .unwrap(frame(false, true, b"\x04PING\x00\x00"))
            .unwrap_err(),
        Error::Curve(CurveError::NotAMessage)
    );
    assert_eq!(p.server.unwrap(m).unwrap().body, &b"payload"[..]);
}

#[test]
fn malformed_initiate_metadata_is_a_peer_error() {
    let mut p = started(&client_md());
    // A value length that runs past the end of the list.
    p.client
        .raw_metadata(Bytes::from_static(b"\x03X-A\x00\x00\x00\x09v"));
    let mut out = Vec::new();
    p.client
        .handle_command(p.welcome.clone(), &mut out)
        .unwrap();
    let initiate = out.pop().unwrap();
    assert_eq!(
        p.server.handle_command(initiate, &mut out),
        Err(Error::PeerMisbehaved(PeerMisbehaved::MalformedMetadata))
    );
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let keys = CurveKeyPair::generate();
    let mut client = CurveClient::new(CurveKeyPair::generate(), *keys.public());
    let mut out = Vec::new();
    assert_eq!(
        curve(client.handle_command(Bytes::from_static(b"\x07WELCOME"), &mut out)),
        CurveError::InvalidState {
            call: "handle_command"
        }
    );
    let mut client = CurveClient::new(CurveKeyPair::generate(), *keys.public());
    assert!(client.wrap(frame(false, false, b"x")).is_err());
    assert!(client.unwrap(frame(false, false, b"x")).is_err());
    assert_eq!(
        curve(client.auth_result(allow(), &mut out)),
        CurveError::InvalidState {
            call: "auth_result"
        }
    );
    client.start(&client_md(), &mut out).unwrap();
    assert_eq!(
        curve(client.start(&client_md(), &mut out)),
        CurveError::InvalidState { call: "start" }
    );
    let mut server = CurveServer::new(keys);
    assert_eq!(
        curve(server.auth_result(allow(), &mut out)),
        CurveError::InvalidState {
            call: "auth_result"
        }
    );
    let (mut p, _, _) = completed();
    assert_eq!(
        curve(
            p.client
                .handle_command(Bytes::from_static(b"\x05READY"), &mut out)
        ),
        CurveError::UnexpectedCommand {
            expected: "MESSAGE"
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn message_boxes_round_trip(
        frames in proptest::collection::vec(
            (any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)),
            1..12,
        )
    ) {
        let (mut p, _, _) = completed();
        for (more, command, body) in frames {
            let f = FrameParts { more, command, body: Bytes::from(body) };
            let up = p.client.wrap(f.clone()).unwrap();
            prop_assert_eq!(p.server.unwrap(up).unwrap(), f.clone());
            let down = p.server.wrap(f.clone()).unwrap();
            prop_assert_eq!(p.client.unwrap(down).unwrap(), f);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let body = Bytes::from(body);
        let (mut p, _, _) = completed();
        let _ = p.server.unwrap(FrameParts { more: false, command: false, body: body.clone() });
        let mut q = started(&client_md());
        let _ = q.client.handle_command(body.clone(), &mut Vec::new());
        let _ = q.server.handle_command(body, &mut Vec::new());
    }
}
