//! Entry points for the cargo-fuzz targets. None of them may panic on any input.
//!
//! Built always (it is small) but hidden from the docs; under `cfg(fuzzing)` CURVE uses
//! a null cipher so the fuzzer can get past the MAC checks.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::command::Command;
use crate::frame::FrameDecoder;
use crate::greeting::{Greeting, GreetingDecoder, GreetingProgress, MechanismName};
use crate::mechanism::curve::{CurveKeyPair, CurveServer};
use crate::mechanism::{AuthVerdict, Mechanism, Null, PlainServer};
use crate::metadata::Metadata;
use crate::session::{Event, Session, SessionConfig};
use crate::socket_type::SocketType;

/// Feeds `data` to a greeting decoder in pieces of 1, 3 and then the rest.
pub fn fuzz_greeting(data: &[u8]) {
    let mut dec = GreetingDecoder::new();
    let mut rest = data;
    for piece in [1usize, 3, usize::MAX] {
        let take = piece.min(rest.len());
        match dec.feed(&rest[..take]) {
            Ok((_, GreetingProgress::Done(g))) => {
                let mut out = BytesMut::new();
                g.encode(&mut out);
                return;
            }
            Ok((used, _)) => rest = &rest[used.min(rest.len())..],
            Err(_) => return,
        }
    }
}

/// Decodes frames from `data` (first byte: chunk size) with a 4 KiB limit.
pub fn fuzz_frames(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let dec = FrameDecoder::new(Some(4096));
    let mut buf = BytesMut::new();
    for piece in data.chunks(usize::from(chunk).max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Parses `data` as a command body and as a property list; re-encodes what parses.
pub fn fuzz_command(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    if let Ok(cmd) = Command::decode(&body) {
        let again = cmd.encode();
        let _ = Command::decode(&again);
    }
    let _ = Metadata::decode(&body);
    let _ = MechanismName::new(data);
}

/// Runs a server session (mechanism 0 NULL, 1 PLAIN, 2 CURVE; others map onto these)
/// on `data` as the bytes from its peer. A valid client greeting is prepended when the
/// input does not start with `FF`, so the fuzzer reaches the handshake and framing.
/// Authentication requests are granted; time advances between chunks.
pub fn fuzz_session_server(mechanism: u8, data: &[u8]) {
    let (mech, name): (Box<dyn Mechanism>, &[u8]) = match mechanism % 3 {
        0 => (Box::new(Null::with_auth()), b"NULL"),
        1 => (Box::new(PlainServer::new()), b"PLAIN"),
        _ => (
            Box::new(CurveServer::new(CurveKeyPair::from_secret([7; 32]))),
            b"CURVE",
        ),
    };
    let mut config = SessionConfig::new(SocketType::Router);
    config.max_message_size = Some(1 << 16);
    config.heartbeat_ivl = Some(Duration::from_millis(100));
    config.heartbeat_ttl = Some(Duration::from_secs(1));
    let mut now = Instant::now();
    let Ok(mut session) = Session::new(config, mech, now) else {
        return;
    };
    let mut input = Vec::with_capacity(64 + data.len());
    if data.first() != Some(&0xFF) {
        if let Ok(mechanism) = MechanismName::new(name) {
            let mut g = BytesMut::new();
            Greeting {
                major: 3,
                minor: 1,
                mechanism,
                as_server: false,
            }
            .encode(&mut g);
            input.extend_from_slice(&g);
        }
    }
    input.extend_from_slice(data);
    for piece in input.chunks(97) {
        session.handle_input(now, piece);
        while let Some(event) = session.poll_event() {
            if let Event::NeedsAuth(_) = event {
                let allow = AuthVerdict::Allow {
                    user_id: Bytes::from_static(b"fuzz"),
                    metadata: Metadata::new(),
                };
                let _ = session.auth_result(now, allow);
            }
        }
        let _ = session.poll_transmit();
        if session.is_established() {
            let _ = session.send(&[Bytes::from_static(b"x"), Bytes::new()]);
            let _ = session.subscribe(b"t");
        }
        now += Duration::from_millis(30);
        session.handle_timeout(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_survive_garbage() {
        let samples: [&[u8]; 6] = [
            b"",
            b"\xff",
            b"\x04\x05\x05READY",
            b"\x00\x02\x01A\x04\x0a\x04PING\x00\x01LOL\x01\x00\x00\x00",
            b"\xff\x00\x00\x00\x00\x00\x00\x00\x00\x7f\x03\x01NULL",
            b"\x02\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for s in samples {
            fuzz_greeting(s);
            fuzz_frames(s);
            fuzz_command(s);
            for m in 0..3 {
                fuzz_session_server(m, s);
            }
        }
    }
}
