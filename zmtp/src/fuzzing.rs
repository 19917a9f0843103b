//! Entry points for the cargo-fuzz targets. None of them may panic on any input.
//!
//! Built always (it is small) but hidden from the docs; under `cfg(fuzzing)` CURVE uses
//! a null cipher so the fuzzer can get past the MAC checks.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::command::Command;
use crate::error::PeerMisbehaved;
use crate::frame::FrameDecoder;
use crate::greeting::{Greeting, GreetingDecoder, GreetingProgress, MechanismName};
use crate::mechanism::curve::{CurveClient, CurveKeyPair, CurveServer};
use crate::mechanism::{AuthVerdict, Mechanism, Null, PlainClient, PlainServer};
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

/// Parses `data` as a command body, as a property list and as a mechanism name, and
/// checks each parser against a reference model of the ZMTP 3.1 grammar written
/// independently below. Panics when they disagree, on success or failure:
///
/// - `Command::decode` succeeds exactly when the model does, with the same command, and
///   fails with the same typed [`PeerMisbehaved`] otherwise;
/// - a decoded command encodes to `data` itself, except that PING and PONG contexts are
///   cut at 16 bytes (as the model predicts), and that encoding decodes to the same
///   command;
/// - every command we would send with `data` as its content decodes to itself;
/// - a property list parses exactly when the model says so, with the same properties
///   in order, and re-encodes to exactly `data`;
/// - a mechanism name is accepted exactly when it is 1 to 20 characters of
///   `A-Z a-z 0-9 - _ . +`.
pub fn fuzz_command(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let decoded = Command::decode(&body);
    let expected = model::command(data);
    assert_eq!(
        decoded.as_ref().map(model::Cmd::of).map_err(Clone::clone),
        expected,
        "decoder and model disagree on {data:?}"
    );
    match (&decoded, &expected) {
        (Ok(cmd), Ok(want)) => {
            let once = cmd.encode();
            assert_eq!(&once[..], &want.encode()[..], "{cmd:?} encodes differently");
            match Command::decode(&once) {
                Ok(again) => assert_eq!(model::Cmd::of(&again), want.normalized()),
                Err(e) => panic!("encoded {cmd:?} does not decode: {e:?}"),
            }
        }
        (Err(e), _) => {
            // A typed protocol violation, reported as such to the socket layer.
            let error = crate::Error::from(e.clone());
            assert!(matches!(error, crate::Error::PeerMisbehaved(_)));
            assert!(
                error.to_string().starts_with("peer misbehaved: "),
                "{error}"
            );
        }
        (Ok(_), Err(_)) => unreachable!("compared above"),
    }
    for cmd in model::commands_carrying(data) {
        let wire = cmd.encode();
        assert_eq!(Command::decode(&wire).as_ref(), Ok(&cmd), "{wire:?}");
    }
    let meta = Metadata::decode(&body);
    assert_eq!(
        meta.as_ref().map(model::props).map_err(Clone::clone),
        model::metadata(data),
        "metadata decoder and model disagree on {data:?}"
    );
    if let Ok(meta) = meta {
        let mut out = BytesMut::new();
        meta.encode(&mut out);
        assert_eq!(&out[..], data, "metadata re-encoding differs");
        assert_eq!(meta.encoded_len(), data.len());
    }
    match MechanismName::new(data) {
        Ok(name) => {
            assert!(model::mechanism_name_ok(data), "accepted {data:?}");
            assert_eq!(name.as_bytes(), data);
        }
        Err(e) => {
            assert!(!model::mechanism_name_ok(data), "refused {data:?}");
            assert_eq!(e, PeerMisbehaved::InvalidMechanismName);
        }
    }
}

/// JOIN / LEAVE, two ways. `data` as a command body: a JOIN or LEAVE decodes to its
/// group, encodes back to `data`, and the group check agrees with the 255-byte limit.
/// Then `data` as the frames a DISH sends to a RADIO session after the handshake (a
/// NULL greeting and a DISH's READY are prepended unless `data` starts with `FF`, fed
/// in pieces of 7 bytes): every group the session reports is within the limit, and a
/// JOIN or LEAVE over it fails the session with `GroupTooLong`.
pub fn fuzz_group_commands(data: &[u8]) {
    use crate::group::{check_group, membership_command, MAX_GROUP_LEN};
    let body = Bytes::copy_from_slice(data);
    match Command::decode(&body) {
        Ok(Command::Join(g)) => {
            assert_eq!(membership_command(true, &g), body);
            assert_eq!(check_group(&g).is_ok(), g.len() <= MAX_GROUP_LEN);
        }
        Ok(Command::Leave(g)) => {
            assert_eq!(membership_command(false, &g), body);
            assert_eq!(check_group(&g).is_ok(), g.len() <= MAX_GROUP_LEN);
        }
        _ => {}
    }
    let now = Instant::now();
    let config = SessionConfig::new(SocketType::Radio);
    let Ok(mut radio) = Session::new(config, Box::new(Null::new()), now) else {
        return;
    };
    let mut input = Vec::with_capacity(128 + data.len());
    if data.first() != Some(&0xFF) {
        input.extend_from_slice(&dish_handshake());
    }
    input.extend_from_slice(data);
    for piece in input.chunks(7) {
        radio.handle_input(now, piece);
        while let Some(event) = radio.poll_event() {
            match event {
                Event::Subscribe(g) | Event::Cancel(g) => assert!(g.len() <= MAX_GROUP_LEN),
                Event::Error(crate::Error::PeerMisbehaved(PeerMisbehaved::GroupTooLong {
                    len,
                })) => assert!(len > MAX_GROUP_LEN),
                _ => {}
            }
        }
        let _ = radio.poll_transmit();
    }
}

/// What a DISH sends first: a ZMTP 3.1 NULL greeting and its READY.
pub fn dish_handshake() -> Vec<u8> {
    let mut out = BytesMut::new();
    Greeting {
        major: 3,
        minor: 1,
        mechanism: MechanismName::new(b"NULL").expect("a valid name"),
        as_server: false,
    }
    .encode(&mut out);
    let mut meta = Metadata::new();
    meta.insert(crate::metadata::SOCKET_TYPE, Bytes::from_static(b"DISH"));
    let ready = crate::command::with_metadata("READY", &meta);
    let mut frames = crate::frame::FrameEncoder::new();
    frames.push_frame(false, true, &ready);
    let mut v = out.to_vec();
    while let Some(t) = frames.take() {
        v.extend_from_slice(&t.to_vec());
    }
    v
}

/// The UDP datagram decoder of RADIO / DISH: a datagram that parses re-encodes to
/// itself (when within the 8,192-byte limit), and a refusal says exactly why.
pub fn fuzz_datagram(data: &[u8]) {
    use crate::group::{decode_datagram, encode_datagram, DatagramError, MAX_DATAGRAM};
    let datagram = Bytes::copy_from_slice(data);
    match decode_datagram(&datagram) {
        Ok((group, body)) => {
            assert_eq!(1 + group.len() + body.len(), data.len());
            let mut out = BytesMut::new();
            let fits = encode_datagram(&group, &body, &mut out);
            assert_eq!(fits, data.len() <= MAX_DATAGRAM);
            if fits {
                assert_eq!(&out[..], data);
            }
        }
        Err(DatagramError::Empty) => assert!(data.is_empty()),
        Err(DatagramError::Truncated {
            group_len,
            available,
        }) => {
            assert_eq!(available, data.len() - 1);
            assert!(group_len > available);
        }
    }
}

/// The reference model of [`fuzz_command`]: the ZMTP 3.1 command grammar (RFC 37 and
/// RFC 23's property lists) on plain byte slices, sharing no code with the decoders.
mod model {
    use bytes::Bytes;

    use crate::command::Command;
    use crate::error::PeerMisbehaved;
    use crate::metadata::Metadata;

    /// A property list as `(name, value)` pairs in wire order (duplicates kept).
    pub(super) type Props = Vec<(String, Vec<u8>)>;

    /// A command as the model sees it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(super) enum Cmd {
        Ready(Props),
        Error(Vec<u8>),
        Subscribe(Vec<u8>),
        Cancel(Vec<u8>),
        Ping { ttl: u16, context: Vec<u8> },
        Pong(Vec<u8>),
        Join(Vec<u8>),
        Leave(Vec<u8>),
        Other { name: Vec<u8>, data: Vec<u8> },
    }

    /// Longest PING context a PONG (or our PING) carries.
    const CONTEXT: usize = 16;

    impl Cmd {
        /// What the decoder's command says, in the model's terms.
        pub(super) fn of(cmd: &Command) -> Cmd {
            match cmd {
                Command::Ready(meta) => Cmd::Ready(props(meta)),
                Command::Error(r) => Cmd::Error(r.to_vec()),
                Command::Subscribe(t) => Cmd::Subscribe(t.to_vec()),
                Command::Cancel(t) => Cmd::Cancel(t.to_vec()),
                Command::Ping { ttl, context } => Cmd::Ping {
                    ttl: *ttl,
                    context: context.to_vec(),
                },
                Command::Pong(c) => Cmd::Pong(c.to_vec()),
                Command::Join(g) => Cmd::Join(g.to_vec()),
                Command::Leave(g) => Cmd::Leave(g.to_vec()),
                Command::Other { name, data } => Cmd::Other {
                    name: name.to_vec(),
                    data: data.to_vec(),
                },
            }
        }

        /// The command as sent: contexts cut at 16 bytes, the rest unchanged.
        pub(super) fn normalized(&self) -> Cmd {
            match self {
                Cmd::Ping { ttl, context } => Cmd::Ping {
                    ttl: *ttl,
                    context: context[..context.len().min(CONTEXT)].to_vec(),
                },
                Cmd::Pong(c) => Cmd::Pong(c[..c.len().min(CONTEXT)].to_vec()),
                other => other.clone(),
            }
        }

        /// The body of the normalized command.
        pub(super) fn encode(&self) -> Vec<u8> {
            let (name, data): (&[u8], Vec<u8>) = match self.normalized() {
                Cmd::Ready(props) => {
                    let mut data = Vec::new();
                    for (n, v) in props {
                        data.push(n.len() as u8);
                        data.extend(n.as_bytes());
                        data.extend((v.len() as u32).to_be_bytes());
                        data.extend(v);
                    }
                    (b"READY", data)
                }
                Cmd::Error(r) => (b"ERROR", [&[r.len() as u8][..], &r].concat()),
                Cmd::Subscribe(t) => (b"SUBSCRIBE", t),
                Cmd::Cancel(t) => (b"CANCEL", t),
                Cmd::Ping { ttl, context } => {
                    (b"PING", [&ttl.to_be_bytes()[..], &context].concat())
                }
                Cmd::Pong(c) => (b"PONG", c),
                Cmd::Join(g) => (b"JOIN", g),
                Cmd::Leave(g) => (b"LEAVE", g),
                Cmd::Other { name, data } => {
                    return [&[name.len() as u8][..], &name, &data].concat();
                }
            };
            [&[name.len() as u8][..], name, &data].concat()
        }
    }

    /// The properties of `meta` in order.
    pub(super) fn props(meta: &Metadata) -> Props {
        meta.iter()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect()
    }

    /// A command body: name length (1 to 255), name, data; the data of READY, ERROR
    /// and PING must have their layout, any other command's data is opaque.
    pub(super) fn command(body: &[u8]) -> Result<Cmd, PeerMisbehaved> {
        let truncated = PeerMisbehaved::TruncatedCommand;
        let (&n, rest) = body.split_first().ok_or(truncated.clone())?;
        let n = usize::from(n);
        if n == 0 || n > rest.len() {
            return Err(truncated);
        }
        let (name, data) = rest.split_at(n);
        Ok(match name {
            b"READY" => Cmd::Ready(metadata(data)?),
            b"ERROR" => match data.split_first() {
                Some((&len, reason)) if usize::from(len) == reason.len() => {
                    Cmd::Error(reason.to_vec())
                }
                _ => return Err(PeerMisbehaved::MalformedCommand { command: "ERROR" }),
            },
            b"SUBSCRIBE" => Cmd::Subscribe(data.to_vec()),
            b"CANCEL" => Cmd::Cancel(data.to_vec()),
            // libzmq accepts a context over 16 bytes (and truncates it in the PONG).
            b"PING" => match data {
                [hi, lo, context @ ..] => Cmd::Ping {
                    ttl: u16::from_be_bytes([*hi, *lo]),
                    context: context.to_vec(),
                },
                _ => return Err(PeerMisbehaved::MalformedCommand { command: "PING" }),
            },
            b"PONG" => Cmd::Pong(data.to_vec()),
            // Any length: the RADIO's session checks the group against its limit.
            b"JOIN" => Cmd::Join(data.to_vec()),
            b"LEAVE" => Cmd::Leave(data.to_vec()),
            _ => Cmd::Other {
                name: name.to_vec(),
                data: data.to_vec(),
            },
        })
    }

    /// A property list filling `data` exactly: per property a name length (1 to 255),
    /// a UTF-8 name (libzmq does not restrict its characters), a 4-byte big-endian value
    /// length and the value.
    pub(super) fn metadata(mut data: &[u8]) -> Result<Props, PeerMisbehaved> {
        let bad = PeerMisbehaved::MalformedMetadata;
        let mut props = Vec::new();
        while let Some((&n, rest)) = data.split_first() {
            let n = usize::from(n);
            if n == 0 || rest.len() < n + 4 {
                return Err(bad);
            }
            let (name, rest) = rest.split_at(n);
            let name = String::from_utf8(name.to_vec()).map_err(|_| bad.clone())?;
            let (len, rest) = rest.split_at(4);
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            let len = usize::try_from(len).map_err(|_| bad.clone())?;
            if rest.len() < len {
                return Err(bad);
            }
            let (value, rest) = rest.split_at(len);
            props.push((name, value.to_vec()));
            data = rest;
        }
        Ok(props)
    }

    /// RFC 23: 1 to 20 characters of `A-Z a-z 0-9 - _ . +`.
    pub(super) fn mechanism_name_ok(name: &[u8]) -> bool {
        (1..=20).contains(&name.len())
            && name
                .iter()
                .all(|&c| matches!(c, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'+'))
    }

    /// The commands we send, with content taken from `data`: each must decode to
    /// itself.
    pub(super) fn commands_carrying(data: &[u8]) -> Vec<Command> {
        let bytes = |b: &[u8]| Bytes::copy_from_slice(b);
        let mut out = vec![
            Command::Subscribe(bytes(data)),
            Command::Cancel(bytes(data)),
            Command::Error(bytes(&data[..data.len().min(255)])),
            Command::Pong(bytes(&data[..data.len().min(CONTEXT)])),
            Command::Join(bytes(data)),
            Command::Leave(bytes(data)),
        ];
        if let [hi, lo, context @ ..] = data {
            out.push(Command::Ping {
                ttl: u16::from_be_bytes([*hi, *lo]),
                context: bytes(&context[..context.len().min(CONTEXT)]),
            });
        }
        // A property list of one property named after `data`, valued `data`.
        if let Ok(name) = std::str::from_utf8(data) {
            if (1..=255).contains(&name.len()) {
                let mut meta = Metadata::new();
                meta.insert(name, bytes(data));
                out.push(Command::Ready(meta));
            }
        }
        out
    }
}

/// Secret key of the CURVE server the session targets talk to.
const SERVER_SECRET: [u8; 32] = [7; 32];
/// Secret key of the CURVE client.
const CLIENT_SECRET: [u8; 32] = [9; 32];
/// PLAIN credentials the client presents (the server grants everything).
const PLAIN_USER: &[u8] = b"admin";
const PLAIN_PASSWORD: &[u8] = b"password";
/// The limits of the session under test.
pub const MAX_MESSAGE_SIZE: u64 = 4096;
/// See [`MAX_MESSAGE_SIZE`].
pub const MAX_MESSAGE_FRAMES: u32 = 16;
/// Input is fed in pieces of this size once the session is established; time advances
/// by [`TICK`] per piece.
const PIECE: usize = 97;
const TICK: Duration = Duration::from_millis(30);

/// How far a session run got: lets seed generators and tests check that an input
/// reaches the interesting states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The handshake completed.
    pub established: bool,
    /// Messages, subscriptions and cancels delivered.
    pub delivered: usize,
    /// The session failed (peer misbehaviour, timeout, ...).
    pub failed: bool,
}

fn keys(secret: &'static [u8; 32], cell: &'static OnceLock<CurveKeyPair>) -> CurveKeyPair {
    cell.get_or_init(|| CurveKeyPair::from_secret(*secret))
        .clone()
}

fn server_keys() -> CurveKeyPair {
    static CELL: OnceLock<CurveKeyPair> = OnceLock::new();
    keys(&SERVER_SECRET, &CELL)
}

fn client_keys() -> CurveKeyPair {
    static CELL: OnceLock<CurveKeyPair> = OnceLock::new();
    keys(&CLIENT_SECRET, &CELL)
}

/// Mechanism number to name: 0 NULL, 1 PLAIN, 2 CURVE (others modulo 3).
fn mechanism_name(mechanism: u8) -> &'static [u8] {
    match mechanism % 3 {
        0 => b"NULL",
        1 => b"PLAIN",
        _ => b"CURVE",
    }
}

/// The server side of `mechanism` (NULL asks for a verdict, like libzmq with ZAP).
fn server_mechanism(mechanism: u8) -> Option<Box<dyn Mechanism>> {
    Some(match mechanism % 3 {
        0 => Box::new(Null::with_auth()),
        1 => Box::new(PlainServer::new()),
        _ => Box::new(CurveServer::new(server_keys())),
    })
}

/// The client side of `mechanism`.
fn client_mechanism(mechanism: u8) -> Option<Box<dyn Mechanism>> {
    Some(match mechanism % 3 {
        0 => Box::new(Null::new()),
        1 => Box::new(PlainClient::new(PLAIN_USER, PLAIN_PASSWORD).ok()?),
        _ => Box::new(CurveClient::new(client_keys(), *server_keys().public())),
    })
}

/// The session under test: a ROUTER server or a DEALER client, heartbeats on.
fn new_session(server: bool, mechanism: u8, now: Instant) -> Option<Session> {
    let (mech, socket_type) = if server {
        (server_mechanism(mechanism)?, SocketType::Router)
    } else {
        (client_mechanism(mechanism)?, SocketType::Dealer)
    };
    let mut config = SessionConfig::new(socket_type);
    // Small limits, so that inputs of a few kilobytes reach them.
    config.max_message_size = Some(MAX_MESSAGE_SIZE);
    config.max_message_frames = Some(MAX_MESSAGE_FRAMES);
    config.heartbeat_ivl = Some(Duration::from_millis(100));
    config.heartbeat_ttl = Some(Duration::from_secs(1));
    Session::new(config, mech, now).ok()
}

/// The peer of the session under test, as a real implementation would behave.
fn new_peer(server_under_test: bool, mechanism: u8, now: Instant) -> Option<Session> {
    let (mech, socket_type) = if server_under_test {
        (client_mechanism(mechanism)?, SocketType::Dealer)
    } else {
        (server_mechanism(mechanism)?, SocketType::Router)
    };
    let mut config = SessionConfig::new(socket_type);
    config.identity = Bytes::from_static(b"peer");
    config.heartbeat_ivl = Some(Duration::from_millis(40));
    config.heartbeat_ttl = Some(Duration::from_secs(2));
    Session::new(config, mech, now).ok()
}

/// Drains events, granting authentication requests; counts deliveries.
fn drain(session: &mut Session, now: Instant, outcome: &mut Outcome) {
    while let Some(event) = session.poll_event() {
        match event {
            Event::NeedsAuth(_) => {
                let allow = AuthVerdict::Allow {
                    user_id: Bytes::from_static(b"fuzz"),
                    metadata: Metadata::new(),
                };
                let _ = session.auth_result(now, allow);
            }
            Event::HandshakeSucceeded { .. } => outcome.established = true,
            Event::Message(_) | Event::Subscribe(_) | Event::Cancel(_) => outcome.delivered += 1,
            Event::Error(_) => outcome.failed = true,
        }
    }
}

/// Runs a server session (mechanism 0 NULL with a verdict asked for, 1 PLAIN, 2 CURVE;
/// others map onto these) on `data` as the bytes from its client. Same input
/// conventions as [`fuzz_session`].
pub fn fuzz_session_server(mechanism: u8, data: &[u8]) -> Outcome {
    fuzz_session(true, mechanism, data)
}

/// Runs a client session (DEALER; mechanism as for [`fuzz_session_server`]) on `data` as
/// the bytes from its server.
pub fn fuzz_session_client(mechanism: u8, data: &[u8]) -> Outcome {
    fuzz_session(false, mechanism, data)
}

/// Runs a session on `data` as the bytes from its peer.
///
/// - When `data` does not start with `FF`, a valid peer greeting is prepended (so the
///   fuzzer reaches the handshake and framing) and the input is fed one byte at a time
///   until the handshake completes (every partial greeting and command is seen), with
///   authentication requests granted as soon as they are raised.
/// - When `data` starts with `FF`, it is the raw stream including the greeting, fed in
///   pieces of 97 bytes throughout, so several commands can arrive in one piece (for
///   example while a verdict is pending).
///
/// A recorded transcript (see [`peer_transcript`]) replays in both forms: with its
/// greeting, or without it.
///
/// Authentication is always granted; time advances 30 ms per 97 bytes; once
/// established the session also sends a message and a subscription per piece.
pub fn fuzz_session(server: bool, mechanism: u8, data: &[u8]) -> Outcome {
    let mut outcome = Outcome::default();
    let mut now = Instant::now();
    let Some(mut session) = new_session(server, mechanism, now) else {
        return outcome;
    };
    let patient = data.first() != Some(&0xFF);
    let mut input = Vec::with_capacity(64 + data.len());
    if patient {
        if let Ok(mechanism) = MechanismName::new(mechanism_name(mechanism)) {
            let mut g = BytesMut::new();
            Greeting {
                major: 3,
                minor: 1,
                mechanism,
                // The server side of PLAIN and CURVE says so; NULL has no roles.
                as_server: !server && mechanism.as_bytes() != b"NULL",
            }
            .encode(&mut g);
            input.extend_from_slice(&g);
        }
    }
    input.extend_from_slice(data);
    for (i, piece) in input.chunks(PIECE).enumerate() {
        let mut rest = piece;
        while patient && !rest.is_empty() && !session.is_established() && !session.is_failed() {
            session.handle_input(now, &rest[..1]);
            drain(&mut session, now, &mut outcome);
            rest = &rest[1..];
        }
        // Every other piece through the path that hands messages over directly.
        if i % 2 == 1 && !rest.is_empty() {
            let delivered = &mut outcome.delivered;
            session.handle_input_buf_with(now, BytesMut::from(rest), |_| *delivered += 1);
        } else {
            session.handle_input(now, rest);
        }
        drain(&mut session, now, &mut outcome);
        let _ = session.poll_transmit();
        if session.is_established() {
            let _ = session.send(&[Bytes::from_static(b"x"), Bytes::new()]);
            let _ = session.subscribe(b"t");
        }
        now += TICK;
        session.handle_timeout(now);
        drain(&mut session, now, &mut outcome);
    }
    outcome
}

/// The bytes a well-behaved peer sends to the session of [`fuzz_session`] (`server`
/// and `mechanism` as there), greeting first: a session of the other role runs the
/// handshake against it, then sends a single-part and a multipart message (one part
/// over 255 bytes), a subscribe and a cancel, heartbeats and PONGs. Used to make seed
/// corpora. With CURVE it replays only under `cfg(fuzzing)` (the null cipher and fixed
/// "random" bytes make both sides deterministic); NULL and PLAIN replay always.
pub fn peer_transcript(server: bool, mechanism: u8) -> Vec<u8> {
    let mut now = Instant::now();
    let mut sent = Vec::new();
    let (Some(mut target), Some(mut peer)) = (
        new_session(server, mechanism, now),
        new_peer(server, mechanism, now),
    ) else {
        return sent;
    };
    let mut target_outcome = Outcome::default();
    let mut peer_outcome = Outcome::default();
    let mut step = |target: &mut Session, peer: &mut Session, now: Instant, sent: &mut Vec<u8>| {
        for _ in 0..64 {
            drain(peer, now, &mut peer_outcome);
            drain(target, now, &mut target_outcome);
            let from_peer = peer.poll_transmit().map(|t| t.to_vec());
            let from_target = target.poll_transmit().map(|t| t.to_vec());
            if from_peer.is_none() && from_target.is_none() {
                break;
            }
            if let Some(bytes) = from_peer {
                sent.extend_from_slice(&bytes);
                target.handle_input(now, &bytes);
            }
            if let Some(bytes) = from_target {
                peer.handle_input(now, &bytes);
            }
        }
    };
    step(&mut target, &mut peer, now, &mut sent);
    if !peer.is_established() {
        return sent;
    }
    let big = Bytes::from(vec![0x5A; 300]);
    let _ = peer.send(&[Bytes::from_static(b"hello")]);
    let _ = peer.send(&[Bytes::from_static(b"id"), Bytes::new(), big]);
    let _ = peer.subscribe(b"topic");
    let _ = peer.cancel(b"topic");
    step(&mut target, &mut peer, now, &mut sent);
    // Let both sides PING once and answer.
    now += Duration::from_millis(45);
    peer.handle_timeout(now);
    step(&mut target, &mut peer, now, &mut sent);
    let _ = peer.send(&[Bytes::from_static(b"bye")]);
    step(&mut target, &mut peer, now, &mut sent);
    sent
}

/// Data the peer may append to a NULL transcript to cross each limit of the session
/// under test (for seed corpora): too many frames, a message over the size limit made
/// of frames under it, and a frame of 2^64 - 1 bytes.
pub fn limit_tails() -> Vec<(&'static str, Vec<u8>)> {
    let frames = [0x01, 0x00].repeat(MAX_MESSAGE_FRAMES as usize + 1);
    let half = MAX_MESSAGE_SIZE / 2 + 1;
    let mut size = Vec::new();
    for more in [true, false] {
        size.push(u8::from(more) | 0x02);
        size.extend_from_slice(&half.to_be_bytes());
        size.resize(size.len() + half as usize, 0x33);
    }
    let mut huge = vec![0x02];
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    vec![("frames", frames), ("size", size), ("huge", huge)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group seeds: a JOIN and LEAVE after `dish_handshake` reach the RADIO
    /// session's events; a JOIN over 255 bytes fails it.
    #[test]
    fn group_inputs_reach_the_radio_session() {
        let now = Instant::now();
        let frame = |body: &Bytes| {
            let mut e = crate::frame::FrameEncoder::new();
            e.push_frame(false, true, body);
            e.take().unwrap().to_vec()
        };
        let mut input = dish_handshake();
        input.extend(frame(&crate::group::membership_command(true, b"tv")));
        input.extend(frame(&crate::group::membership_command(false, b"tv")));
        input.extend(frame(&crate::group::membership_command(true, &[b'g'; 256])));
        let config = SessionConfig::new(SocketType::Radio);
        let mut radio = Session::new(config, Box::new(Null::new()), now).unwrap();
        radio.handle_input(now, &input);
        let events: Vec<_> = std::iter::from_fn(|| radio.poll_event()).skip(1).collect();
        assert_eq!(
            events,
            [
                Event::Subscribe(Bytes::from_static(b"tv")),
                Event::Cancel(Bytes::from_static(b"tv")),
                Event::Error(PeerMisbehaved::GroupTooLong { len: 256 }.into()),
            ]
        );
        for sample in [
            &input[..],
            &input[64..],
            b"\x04JOINtv",
            b"\x02tvbody",
            b"\x09x",
            b"",
        ] {
            fuzz_group_commands(sample);
            fuzz_datagram(sample);
        }
    }

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
                assert!(!fuzz_session_server(m, s).established);
                assert!(!fuzz_session_client(m, s).established);
            }
        }
    }

    /// Recorded peer transcripts replay to an established session that delivers all
    /// five messages, both roles; CURVE only with the null cipher of `cfg(fuzzing)`
    /// (with real crypto the fresh ephemeral keys make a replay fail, as they should).
    #[test]
    fn transcripts_replay_to_established() {
        for server in [true, false] {
            for m in 0..3u8 {
                let t = peer_transcript(server, m);
                assert!(t.len() > 64 && t[0] == 0xFF, "server {server} mech {m}");
                let replays = m != 2 || cfg!(fuzzing);
                for input in [&t[64..], &t[..]] {
                    let out = fuzz_session(server, m, input);
                    assert_eq!(out.established, replays, "server {server} mech {m}");
                    assert_eq!(out.failed, !replays, "server {server} mech {m}");
                    if replays {
                        assert_eq!(out.delivered, 5, "server {server} mech {m}");
                    }
                }
            }
        }
    }

    /// The oracle's error paths: each body is refused by both the decoder and the model,
    /// with the same typed reason (and one that both accept, to compare contents).
    #[test]
    fn command_oracle_agrees_on_refusals() {
        let refused: [(&[u8], PeerMisbehaved); 7] = [
            (b"", PeerMisbehaved::TruncatedCommand),
            (b"\x00", PeerMisbehaved::TruncatedCommand),
            (b"\x05READ", PeerMisbehaved::TruncatedCommand),
            (
                b"\x04PING\x00",
                PeerMisbehaved::MalformedCommand { command: "PING" },
            ),
            (
                b"\x05ERROR\x04400",
                PeerMisbehaved::MalformedCommand { command: "ERROR" },
            ),
            (
                b"\x05READY\x0bSocket-Type\x00\x00\x00\x09SUB",
                PeerMisbehaved::MalformedMetadata,
            ),
            (
                b"\x05READY\x01\xff\x00\x00\x00\x00",
                PeerMisbehaved::MalformedMetadata,
            ),
        ];
        for (body, why) in refused {
            assert_eq!(model::command(body), Err(why.clone()), "{body:?}");
            assert_eq!(Command::decode(&Bytes::copy_from_slice(body)), Err(why));
            fuzz_command(body);
        }
        // A PING context over 16 bytes is accepted and cut when encoded.
        let long = b"\x04PING\x00\x0a0123456789abcdefXYZ";
        assert_eq!(
            model::command(long).unwrap().encode(),
            b"\x04PING\x00\x0a0123456789abcdef"
        );
        fuzz_command(long);
        assert!(model::mechanism_name_ok(b"CURVE"));
        assert!(!model::mechanism_name_ok(b"CUR VE"));
        assert!(!model::mechanism_name_ok(&[b'A'; 21]));
    }

    /// The limit seeds of `gen_seeds`: a transcript followed by a message over one of
    /// the limits ends in a failed session after the five messages.
    #[test]
    fn limit_tails_fail_the_session() {
        use crate::error::{Error, PeerMisbehaved};
        let expected = [
            PeerMisbehaved::TooManyFrames {
                max: MAX_MESSAGE_FRAMES,
            },
            PeerMisbehaved::MessageTooLarge {
                size: 2 * (MAX_MESSAGE_SIZE / 2 + 1),
                max: MAX_MESSAGE_SIZE,
            },
            PeerMisbehaved::MessageTooLarge {
                size: u64::MAX,
                max: MAX_MESSAGE_SIZE,
            },
        ];
        for ((name, tail), why) in limit_tails().into_iter().zip(expected) {
            let mut input = peer_transcript(true, 0);
            input.extend_from_slice(&tail);
            let out = fuzz_session(true, 0, &input);
            assert!(out.established && out.failed, "{name}: {out:?}");
            assert_eq!(out.delivered, 5, "{name}");
            // The reason: the transcript first (granting authentication), then the tail.
            let now = Instant::now();
            let mut s = new_session(true, 0, now).expect("session");
            let mut outcome = Outcome::default();
            for b in peer_transcript(true, 0) {
                s.handle_input(now, &[b]);
                drain(&mut s, now, &mut outcome);
            }
            assert!(outcome.established && !outcome.failed, "{name}");
            s.handle_input(now, &tail);
            let error = std::iter::from_fn(|| s.poll_event()).find_map(|e| match e {
                Event::NeedsAuth(_) => None,
                Event::Error(e) => Some(e),
                _ => None,
            });
            assert_eq!(error, Some(Error::PeerMisbehaved(why)), "{name}");
        }
    }

    #[test]
    fn command_oracle_accepts_golden_vectors() {
        // READY from DEALER, PING with context, SUBSCRIBE, ERROR (bodies, no header).
        fuzz_command(b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00");
        fuzz_command(b"\x04PING\x00\x00LOL0123456789abcdefgh");
        fuzz_command(b"\x09SUBSCRIBEA");
        fuzz_command(b"\x05ERROR\x03400");
    }
}
