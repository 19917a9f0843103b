//! No input may make a session panic: replay real client transcripts (NULL, PLAIN,
//! CURVE) into fresh servers with bytes flipped, inserted or cut, in random chunks.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{config, msg, Pair};
use proptest::prelude::*;
use ringmq_zmtp::mechanism::curve::{CurveClient, CurveKeyPair, CurveServer};
use ringmq_zmtp::mechanism::{AuthVerdict, Mechanism, Null, PlainClient, PlainServer};
use ringmq_zmtp::{Event, Metadata, Session, SocketType};

fn server_mech(kind: usize) -> Box<dyn Mechanism> {
    match kind {
        0 => Box::new(Null::with_auth()),
        1 => Box::new(PlainServer::new()),
        _ => Box::new(CurveServer::new(CurveKeyPair::from_secret([2; 32]))),
    }
}

fn client_mech(kind: usize) -> Box<dyn Mechanism> {
    match kind {
        0 => Box::new(Null::new()),
        1 => Box::new(PlainClient::new("user", "pass").unwrap()),
        _ => Box::new(CurveClient::new(
            CurveKeyPair::from_secret([1; 32]),
            *CurveKeyPair::from_secret([2; 32]).public(),
        )),
    }
}

/// What a real client sends: greeting, handshake, messages, subscriptions, PINGs.
fn transcript(kind: usize) -> Vec<u8> {
    let mut cc = config(SocketType::Dealer);
    cc.heartbeat_ivl = Some(Duration::from_secs(1));
    let mut p = Pair::new(
        cc,
        client_mech(kind),
        config(SocketType::Router),
        server_mech(kind),
    );
    p.connect();
    p.client.session.send(&msg(&[b"a", b"", b"ccc"])).unwrap();
    p.client
        .session
        .send(&[Bytes::from(vec![9u8; 700])])
        .unwrap();
    p.client.session.subscribe(b"topic").unwrap();
    p.advance(Duration::from_secs(2));
    assert_eq!(p.server.messages().len(), 2);
    p.client.wire.clone()
}

/// Feeds `input` to a fresh server in `chunk`-byte pieces, granting authentication as
/// soon as it is asked for. Returns the number of messages and the error, if any.
fn run_server(kind: usize, input: &[u8], chunk: usize, max: u64) -> (usize, Option<String>) {
    let mut c = config(SocketType::Router);
    c.max_message_size = Some(max);
    c.heartbeat_ivl = Some(Duration::from_millis(300));
    let mut now = Instant::now();
    let mut s = Session::new(c, server_mech(kind), now).unwrap();
    let (mut msgs, mut error) = (0, None);
    for piece in input.chunks(chunk.max(1)) {
        s.handle_input(now, piece);
        while let Some(e) = s.poll_event() {
            match e {
                Event::NeedsAuth(_) => {
                    let allow = AuthVerdict::Allow {
                        user_id: Bytes::new(),
                        metadata: Metadata::new(),
                    };
                    // The same input may already have failed the session.
                    let r = s.auth_result(now, allow);
                    assert!(r.is_ok() || s.is_failed(), "{r:?}");
                }
                Event::Message(_) => msgs += 1,
                Event::Error(e) => error = Some(e.to_string()),
                _ => {}
            }
        }
        let _ = s.poll_transmit();
        now += Duration::from_millis(1);
        s.handle_timeout(now);
    }
    (msgs, error)
}

#[test]
fn unmodified_transcripts_replay_cleanly_for_null_and_plain() {
    // CURVE transcripts cannot be replayed: the server's short-term keys differ.
    for kind in 0..2 {
        let wire = transcript(kind);
        assert_eq!(run_server(kind, &wire, 1, 1024), (2, None), "kind {kind}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn mutated_transcripts_never_panic(
        kind in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        cut in any::<prop::sample::Index>(),
        chunk in 1usize..200,
    ) {
        let mut wire = transcript(kind);
        for (at, byte, op) in edits {
            let i = at.index(wire.len());
            match op {
                0 => wire[i] = byte,
                1 => wire.insert(i, byte),
                _ => { wire.remove(i); }
            }
        }
        let keep = cut.index(wire.len() + 1);
        wire.truncate(keep.max(wire.len() / 2));
        run_server(kind, &wire, chunk, 512);
    }

    #[test]
    fn random_bytes_after_a_valid_greeting_never_panic(
        kind in 0usize..3,
        tail in prop::collection::vec(any::<u8>(), 0..400),
        chunk in 1usize..64,
    ) {
        let mut wire = transcript(kind)[..64].to_vec();
        wire.extend(tail);
        run_server(kind, &wire, chunk, 512);
    }
}
