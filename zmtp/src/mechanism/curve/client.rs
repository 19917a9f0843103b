//! The CURVE client: HELLO, then INITIATE on WELCOME, then READY completes.

use std::mem;

use bytes::{BufMut, Bytes, BytesMut};

use super::cipher::{self, PeerBox, TAG_LEN};
use super::cookie::COOKIE_LEN;
use super::error::CurveError;
use super::keys::CurveKeyPair;
use super::message::MessageCodec;
use super::nonce::{self, PeerCounter, SendCounter};
use super::wire;
use crate::error::Error;
use crate::frame::FrameEncoder;
use crate::mechanism::{AuthVerdict, FrameParts, HandshakeStatus, Mechanism};
use crate::metadata::Metadata;

/// The client side of CURVE: knows its permanent key pair and the server's public key.
///
/// Drive it through [`Mechanism`]: `start` queues HELLO; WELCOME is answered with
/// INITIATE; READY completes the handshake with the server's metadata. An ERROR from
/// the server at any point fails with [`Error::PeerError`] carrying its reason.
#[derive(Debug)]
pub struct CurveClient {
    state: State,
}

#[derive(Debug)]
enum State {
    Start(Start),
    ExpectWelcome(ExpectWelcome),
    ExpectReady(ExpectReady),
    Done(MessageCodec),
    Failed,
}

#[derive(Debug)]
struct Start {
    permanent: CurveKeyPair,
    server_public: [u8; 32],
    /// The server key the vouch names: always `server_public` outside of tests.
    vouch_server_key: [u8; 32],
}

#[derive(Debug)]
struct ExpectWelcome {
    permanent: CurveKeyPair,
    vouch_server_key: [u8; 32],
    short: CurveKeyPair,
    /// `C'` with `S`: HELLO's signature box and WELCOME's box.
    to_server: PeerBox,
    send: SendCounter,
    metadata: Bytes,
}

#[derive(Debug)]
struct ExpectReady {
    shared: PeerBox,
    send: SendCounter,
}

impl CurveClient {
    /// A client with permanent keys `client` that trusts the server key `server_public`.
    pub fn new(client: CurveKeyPair, server_public: [u8; 32]) -> Self {
        CurveClient {
            state: State::Start(Start {
                permanent: client,
                server_public,
                vouch_server_key: server_public,
            }),
        }
    }

    /// Test hook: make the vouch name another server key.
    #[cfg(all(test, not(fuzzing)))]
    pub(crate) fn vouch_for(&mut self, key: [u8; 32]) {
        if let State::Start(s) = &mut self.state {
            s.vouch_server_key = key;
        }
    }

    /// Test hook: send these raw bytes as INITIATE metadata.
    #[cfg(all(test, not(fuzzing)))]
    pub(crate) fn raw_metadata(&mut self, raw: Bytes) {
        if let State::ExpectWelcome(s) = &mut self.state {
            s.metadata = raw;
        }
    }
}

impl Start {
    fn hello(self, local: &Metadata, out: &mut Vec<Bytes>) -> Result<ExpectWelcome, CurveError> {
        let short = CurveKeyPair::generate();
        let to_server = PeerBox::new(&self.server_public, short.secret());
        let mut send = SendCounter::new();
        let n = send.take()?;

        let mut body = BytesMut::with_capacity(200);
        body.put_slice(b"\x05HELLO");
        body.put_slice(&[1, 0]);
        body.put_bytes(0, 72);
        body.put_slice(short.public());
        body.put_u64(n);
        body.put_bytes(0, TAG_LEN + 64);
        to_server.seal(&nonce::short(nonce::HELLO, n), &mut body[120..]);
        debug_assert_eq!(body.len(), 200);
        out.push(body.freeze());

        let mut metadata = BytesMut::with_capacity(local.encoded_len());
        local.encode(&mut metadata);
        Ok(ExpectWelcome {
            permanent: self.permanent,
            vouch_server_key: self.vouch_server_key,
            short,
            to_server,
            send,
            metadata: metadata.freeze(),
        })
    }
}

impl ExpectWelcome {
    fn welcome(mut self, body: &[u8], out: &mut Vec<Bytes>) -> Result<ExpectReady, CurveError> {
        wire::expect(body, "WELCOME")?;
        if body.len() != 168 {
            return Err(CurveError::WelcomeSize { len: body.len() });
        }
        let mut random = [0u8; 16];
        random.copy_from_slice(&body[8..24]);
        let mut boxed = [0u8; 144];
        boxed.copy_from_slice(&body[24..]);
        if !self
            .to_server
            .open(&nonce::long(nonce::WELCOME, &random), &mut boxed)
        {
            return Err(CurveError::WelcomeOpenFailed);
        }
        let plain = &boxed[TAG_LEN..];
        let mut server_short = [0u8; 32];
        server_short.copy_from_slice(&plain[..32]);
        let cookie = &plain[32..32 + COOKIE_LEN];

        // vouch = Box[C' + S](C -> S'), under a long nonce.
        let mut vouch_random = [0u8; 16];
        cipher::random_bytes(&mut vouch_random);
        let mut vouch = [0u8; TAG_LEN + 64];
        vouch[TAG_LEN..TAG_LEN + 32].copy_from_slice(self.short.public());
        vouch[TAG_LEN + 32..].copy_from_slice(&self.vouch_server_key);
        PeerBox::new(&server_short, self.permanent.secret())
            .seal(&nonce::long(nonce::VOUCH, &vouch_random), &mut vouch);

        let shared = PeerBox::new(&server_short, self.short.secret());
        let n = self.send.take()?;
        let mut initiate = BytesMut::with_capacity(113 + TAG_LEN + 128 + self.metadata.len());
        initiate.put_slice(b"\x08INITIATE");
        initiate.put_slice(cookie);
        initiate.put_u64(n);
        initiate.put_bytes(0, TAG_LEN);
        initiate.put_slice(self.permanent.public());
        initiate.put_slice(&vouch_random);
        initiate.put_slice(&vouch);
        initiate.put_slice(&self.metadata);
        shared.seal(&nonce::short(nonce::INITIATE, n), &mut initiate[113..]);
        out.push(initiate.freeze());
        Ok(ExpectReady {
            shared,
            send: self.send,
        })
    }
}

impl ExpectReady {
    fn ready(self, body: &[u8]) -> Result<(MessageCodec, Metadata), Error> {
        wire::expect(body, "READY")?;
        if body.len() < 14 + TAG_LEN {
            return Err(CurveError::ReadyTooShort { len: body.len() }.into());
        }
        let n = nonce::read_short(body, 6);
        let mut recv = PeerCounter::default();
        recv.check(n)?;
        let mut boxed = BytesMut::from(&body[14..]);
        if !self.shared.open(&nonce::short(nonce::READY, n), &mut boxed) {
            return Err(CurveError::ReadyOpenFailed.into());
        }
        recv.accept(n);
        let props = boxed.freeze().slice(TAG_LEN..);
        let metadata = Metadata::decode(&props)?;
        Ok((
            MessageCodec::new(self.shared, true, self.send, recv),
            metadata,
        ))
    }
}

impl Mechanism for CurveClient {
    fn name(&self) -> &'static [u8] {
        b"CURVE"
    }

    fn as_server(&self) -> bool {
        false
    }

    fn start(&mut self, local: &Metadata, out: &mut Vec<Bytes>) -> Result<HandshakeStatus, Error> {
        match mem::replace(&mut self.state, State::Failed) {
            State::Start(s) => {
                self.state = State::ExpectWelcome(s.hello(local, out)?);
                Ok(HandshakeStatus::InProgress)
            }
            other => {
                self.state = other;
                Err(CurveError::InvalidState { call: "start" }.into())
            }
        }
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        let state = mem::replace(&mut self.state, State::Failed);
        if wire::is_error(&body) && matches!(state, State::ExpectWelcome(_) | State::ExpectReady(_))
        {
            return Err(wire::error_received(&body));
        }
        match state {
            State::ExpectWelcome(s) => {
                self.state = State::ExpectReady(s.welcome(&body, out)?);
                Ok(HandshakeStatus::InProgress)
            }
            State::ExpectReady(s) => {
                let (codec, metadata) = s.ready(&body)?;
                self.state = State::Done(codec);
                Ok(HandshakeStatus::Complete(metadata))
            }
            State::Start(_) => Err(CurveError::InvalidState {
                call: "handle_command",
            }
            .into()),
            State::Done(_) | State::Failed => Err(CurveError::UnexpectedCommand {
                expected: "MESSAGE",
            }
            .into()),
        }
    }

    fn auth_result(
        &mut self,
        _verdict: AuthVerdict,
        _out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        Err(CurveError::InvalidState {
            call: "auth_result",
        }
        .into())
    }

    fn encrypts(&self) -> bool {
        true
    }

    fn wrap(&mut self, frame: FrameParts) -> Result<FrameParts, Error> {
        match &mut self.state {
            State::Done(codec) => Ok(codec.wrap(frame)?),
            _ => Err(CurveError::InvalidState { call: "wrap" }.into()),
        }
    }

    fn unwrap(&mut self, frame: FrameParts) -> Result<FrameParts, Error> {
        match &mut self.state {
            State::Done(codec) => Ok(codec.unwrap(frame)?),
            _ => Err(CurveError::InvalidState { call: "unwrap" }.into()),
        }
    }

    fn wrap_into(
        &mut self,
        more: bool,
        command: bool,
        body: &[u8],
        out: &mut FrameEncoder,
    ) -> Result<(), Error> {
        match &mut self.state {
            State::Done(codec) => Ok(codec.wrap_into(more, command, body, out)?),
            _ => Err(CurveError::InvalidState { call: "wrap" }.into()),
        }
    }

    fn unwrap_in_place(
        &mut self,
        _more: bool,
        _command: bool,
        body: BytesMut,
    ) -> Result<FrameParts, Error> {
        match &mut self.state {
            State::Done(codec) => Ok(codec.unwrap_in_place(body)?),
            _ => Err(CurveError::InvalidState { call: "unwrap" }.into()),
        }
    }
}
