//! The CURVE server: WELCOME on HELLO, asks for a verdict on INITIATE, READY on allow.

use std::mem;

use bytes::{BufMut, Bytes, BytesMut};

use super::cipher::{self, PeerBox, TAG_LEN};
use super::cookie::{CookieKey, COOKIE_LEN};
use super::error::CurveError;
use super::keys::CurveKeyPair;
use super::message::MessageCodec;
use super::nonce::{self, PeerCounter, SendCounter};
use super::wire;
use crate::error::Error;
use crate::frame::FrameEncoder;
use crate::mechanism::{AuthVerdict, Credentials, FrameParts, HandshakeStatus, Mechanism};
use crate::metadata::{Metadata, USER_ID};

/// The most metadata an INITIATE may carry. The client is not authenticated yet, so
/// this bounds what it can make us decrypt and parse; libzmq's own INITIATE carries
/// tens of bytes (Socket-Type, Identity of at most 255 bytes, a few user properties).
pub const MAX_INITIATE_METADATA: usize = 64 * 1024;

/// INITIATE without metadata: name (9), cookie (96), short nonce (8), box of C + vouch.
const INITIATE_MIN: usize = 9 + COOKIE_LEN + 8 + TAG_LEN + 128;

/// The server side of CURVE: knows its permanent key pair.
///
/// Drive it through [`Mechanism`]: `start` records this side's metadata and sends
/// nothing; HELLO is answered with WELCOME; a valid INITIATE returns
/// [`HandshakeStatus::NeedsAuth`] with the client's permanent key; then
/// [`Mechanism::auth_result`] sends READY (allow) or ERROR (deny 400 / 500; nothing
/// for 300) and then fails with [`Error::AuthDenied`].
#[derive(Debug)]
pub struct CurveServer {
    state: State,
}

#[derive(Debug)]
enum State {
    Start(CurveKeyPair),
    ExpectHello(ExpectHello),
    ExpectInitiate(ExpectInitiate),
    AwaitAuth(AwaitAuth),
    Done(MessageCodec),
    Failed,
}

#[derive(Debug)]
struct ExpectHello {
    permanent: CurveKeyPair,
    metadata: Bytes,
}

#[derive(Debug)]
struct ExpectInitiate {
    permanent_public: [u8; 32],
    client_short: [u8; 32],
    short: CurveKeyPair,
    cookie_key: CookieKey,
    recv: PeerCounter,
    metadata: Bytes,
}

#[derive(Debug)]
struct AwaitAuth {
    shared: PeerBox,
    recv: PeerCounter,
    client_metadata: Metadata,
    metadata: Bytes,
}

impl CurveServer {
    /// A server with permanent keys `server`.
    pub fn new(server: CurveKeyPair) -> Self {
        CurveServer {
            state: State::Start(server),
        }
    }
}

impl ExpectHello {
    fn hello(self, body: &[u8], out: &mut Vec<Bytes>) -> Result<ExpectInitiate, CurveError> {
        wire::expect(body, "HELLO")?;
        if body.len() != 200 {
            return Err(CurveError::HelloSize { len: body.len() });
        }
        if body[6..8] != [1, 0] {
            return Err(CurveError::HelloVersion {
                major: body[6],
                minor: body[7],
            });
        }
        let mut client_short = [0u8; 32];
        client_short.copy_from_slice(&body[80..112]);
        let n = nonce::read_short(body, 112);
        let mut recv = PeerCounter::default();
        recv.check(n)?;
        let to_client = PeerBox::new(&client_short, self.permanent.secret());
        let mut signature = [0u8; TAG_LEN + 64];
        signature.copy_from_slice(&body[120..]);
        if !to_client.open(&nonce::short(nonce::HELLO, n), &mut signature) {
            return Err(CurveError::HelloOpenFailed);
        }
        recv.accept(n);

        let short = CurveKeyPair::generate();
        let cookie_key = CookieKey::generate();
        let cookie = cookie_key.seal(&client_short, short.secret());
        let mut random = [0u8; 16];
        cipher::random_bytes(&mut random);
        let mut welcome = BytesMut::with_capacity(168);
        welcome.put_slice(b"\x07WELCOME");
        welcome.put_slice(&random);
        welcome.put_bytes(0, TAG_LEN);
        welcome.put_slice(short.public());
        welcome.put_slice(&cookie);
        to_client.seal(&nonce::long(nonce::WELCOME, &random), &mut welcome[24..]);
        debug_assert_eq!(welcome.len(), 168);
        out.push(welcome.freeze());

        Ok(ExpectInitiate {
            permanent_public: *self.permanent.public(),
            client_short,
            short,
            cookie_key,
            recv,
            metadata: self.metadata,
        })
    }
}

impl ExpectInitiate {
    fn initiate(mut self, body: &[u8]) -> Result<(AwaitAuth, [u8; 32]), Error> {
        wire::expect(body, "INITIATE")?;
        if body.len() < INITIATE_MIN {
            return Err(CurveError::InitiateTooShort { len: body.len() }.into());
        }
        if body.len() > INITIATE_MIN + MAX_INITIATE_METADATA {
            return Err(CurveError::InitiateTooLong { len: body.len() }.into());
        }
        // The cookie key is consumed here, whatever the outcome.
        self.cookie_key.open(
            &body[9..9 + COOKIE_LEN],
            &self.client_short,
            self.short.secret(),
        )?;

        let n = nonce::read_short(body, 105);
        self.recv.check(n)?;
        let shared = PeerBox::new(&self.client_short, self.short.secret());
        let mut boxed = BytesMut::from(&body[113..]);
        if !shared.open(&nonce::short(nonce::INITIATE, n), &mut boxed) {
            return Err(CurveError::InitiateOpenFailed.into());
        }
        self.recv.accept(n);
        let plain = boxed.freeze().slice(TAG_LEN..);

        let mut client_permanent = [0u8; 32];
        client_permanent.copy_from_slice(&plain[..32]);
        let mut vouch_random = [0u8; 16];
        vouch_random.copy_from_slice(&plain[32..48]);
        let mut vouch = [0u8; TAG_LEN + 64];
        vouch.copy_from_slice(&plain[48..128]);
        if !PeerBox::new(&client_permanent, self.short.secret())
            .open(&nonce::long(nonce::VOUCH, &vouch_random), &mut vouch)
        {
            return Err(CurveError::VouchOpenFailed.into());
        }
        if vouch[TAG_LEN..TAG_LEN + 32] != self.client_short {
            return Err(CurveError::VouchClientKeyMismatch.into());
        }
        // libzmq only checks C'; checking S too costs nothing, and a libzmq client always
        // names the key it opened WELCOME with, which is ours.
        if vouch[TAG_LEN + 32..] != self.permanent_public {
            return Err(CurveError::VouchServerKeyMismatch.into());
        }
        let client_metadata = Metadata::decode(&plain.slice(128..))?;
        Ok((
            AwaitAuth {
                shared,
                recv: self.recv,
                client_metadata,
                metadata: self.metadata,
            },
            client_permanent,
        ))
    }
}

impl AwaitAuth {
    fn allow(
        self,
        user_id: Bytes,
        zap_metadata: Metadata,
        out: &mut Vec<Bytes>,
    ) -> Result<(MessageCodec, Metadata), CurveError> {
        let mut send = SendCounter::new();
        let n = send.take()?;
        let mut ready = BytesMut::with_capacity(14 + TAG_LEN + self.metadata.len());
        ready.put_slice(b"\x05READY");
        ready.put_u64(n);
        ready.put_bytes(0, TAG_LEN);
        ready.put_slice(&self.metadata);
        self.shared
            .seal(&nonce::short(nonce::READY, n), &mut ready[14..]);
        out.push(ready.freeze());

        // User-Id only ever comes from the authenticator: drop one the client sent.
        let mut peer = Metadata::new();
        for (name, value) in self.client_metadata.iter() {
            if !name.eq_ignore_ascii_case(USER_ID) {
                peer.insert(name, value.clone());
            }
        }
        for (name, value) in zap_metadata.iter() {
            peer.insert(name, value.clone());
        }
        if !user_id.is_empty() {
            peer.insert(USER_ID, user_id);
        }
        Ok((MessageCodec::new(self.shared, false, send, self.recv), peer))
    }
}

impl Mechanism for CurveServer {
    fn name(&self) -> &'static [u8] {
        b"CURVE"
    }

    fn as_server(&self) -> bool {
        true
    }

    fn start(&mut self, local: &Metadata, _out: &mut Vec<Bytes>) -> Result<HandshakeStatus, Error> {
        match mem::replace(&mut self.state, State::Failed) {
            State::Start(permanent) => {
                let mut metadata = BytesMut::with_capacity(local.encoded_len());
                local.encode(&mut metadata);
                self.state = State::ExpectHello(ExpectHello {
                    permanent,
                    metadata: metadata.freeze(),
                });
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
        match mem::replace(&mut self.state, State::Failed) {
            State::ExpectHello(s) => {
                self.state = State::ExpectInitiate(s.hello(&body, out)?);
                Ok(HandshakeStatus::InProgress)
            }
            State::ExpectInitiate(s) => {
                let (next, public_key) = s.initiate(&body)?;
                self.state = State::AwaitAuth(next);
                Ok(HandshakeStatus::NeedsAuth(Credentials::Curve {
                    public_key,
                }))
            }
            State::Start(_) => Err(CurveError::InvalidState {
                call: "handle_command",
            }
            .into()),
            State::AwaitAuth(_) => Err(CurveError::UnexpectedCommand {
                expected: "no command while authenticating",
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
        verdict: AuthVerdict,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        let s = match mem::replace(&mut self.state, State::Failed) {
            State::AwaitAuth(s) => s,
            other => {
                self.state = other;
                return Err(CurveError::InvalidState {
                    call: "auth_result",
                }
                .into());
            }
        };
        match verdict {
            AuthVerdict::Allow { user_id, metadata } => {
                let (codec, peer) = s.allow(user_id, metadata, out)?;
                self.state = State::Done(codec);
                Ok(HandshakeStatus::Complete(peer))
            }
            AuthVerdict::Deny { status } => match status {
                300 => Err(Error::AuthDenied { status }),
                400 | 500 => {
                    out.push(wire::error_command(status));
                    Err(Error::AuthDenied { status })
                }
                _ => Err(CurveError::InvalidAuthStatus { status }.into()),
            },
        }
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
