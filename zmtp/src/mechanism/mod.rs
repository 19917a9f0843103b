//! Security mechanisms: NULL, PLAIN and CURVE, client and server each.
//!
//! Each mechanism is a typestate machine internally (a handshake state is a type that
//! consumes itself and returns the next one); the [`Mechanism`] trait is the uniform
//! face the [`Session`](crate::session::Session) drives after the greetings are
//! exchanged:
//!
//! 1. [`Mechanism::start`] once, which may queue the first commands;
//! 2. [`Mechanism::handle_command`] for every command frame the peer sends, until it
//!    returns [`HandshakeStatus::Complete`];
//! 3. when a server returns [`HandshakeStatus::NeedsAuth`], the caller (the socket's
//!    ZAP client, or a test) decides and calls [`Mechanism::auth_result`];
//! 4. after completion, mechanisms that encrypt (CURVE) wrap and unwrap every frame.
//!
//! Commands are exchanged as *command bodies*: the bytes after the frame header, that is
//! the 1-byte name length, the name and the data. The session adds and strips the frame
//! headers.

use bytes::{Bytes, BytesMut};

use crate::command;
use crate::error::{Error, PeerMisbehaved};
use crate::frame::FrameEncoder;
use crate::metadata::{Metadata, USER_ID};

pub mod curve;
pub mod null;
pub mod plain;

pub use null::Null;
pub use plain::{PlainClient, PlainServer};

/// Where a handshake stands after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeStatus {
    /// More commands are to be exchanged.
    InProgress,
    /// A server needs the application's verdict on the client's credentials before it
    /// may answer. Call [`Mechanism::auth_result`].
    NeedsAuth(Credentials),
    /// The handshake is complete; the peer's metadata (its READY / INITIATE properties).
    Complete(Metadata),
}

/// Credentials a client presented, as a ZAP request carries them (RFC 27).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// NULL: no credentials.
    Null,
    /// PLAIN: username and password.
    Plain {
        /// The username.
        username: Bytes,
        /// The password.
        password: Bytes,
    },
    /// CURVE: the client's long-term public key.
    Curve {
        /// The client's permanent public key.
        public_key: [u8; 32],
    },
}

/// The application's verdict on [`Credentials`], mirroring a ZAP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthVerdict {
    /// `200`: accepted; the user id and metadata are added to the peer's metadata.
    Allow {
        /// The ZAP user id (may be empty).
        user_id: Bytes,
        /// Extra properties from the ZAP reply.
        metadata: Metadata,
    },
    /// `300`, `400` or `500`: refused. For 400 and 500 an ERROR command carrying the code
    /// is sent to the peer before the session fails; for 300 nothing is sent.
    Deny {
        /// The ZAP status code (300, 400 or 500).
        status: u16,
    },
}

/// A frame as it travels inside a session: flags and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameParts {
    /// More frames of the same message follow.
    pub more: bool,
    /// This is a command frame (PING, SUBSCRIBE, ...), not message data.
    pub command: bool,
    /// The frame body.
    pub body: Bytes,
}

/// The uniform face of NULL, PLAIN and CURVE, client or server.
pub trait Mechanism {
    /// The mechanism name as it appears in the greeting (`b"NULL"`, `b"PLAIN"`, `b"CURVE"`).
    fn name(&self) -> &'static [u8];

    /// The as-server bit this side puts in its greeting.
    fn as_server(&self) -> bool;

    /// Called once after both greetings were exchanged. `local` is this side's metadata
    /// (Socket-Type, Identity, user properties) for READY / INITIATE. Pushes the
    /// commands to send first (command bodies) onto `out`.
    fn start(&mut self, local: &Metadata, out: &mut Vec<Bytes>) -> Result<HandshakeStatus, Error>;

    /// Feeds one command body received during the handshake; pushes replies onto `out`.
    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error>;

    /// Supplies the verdict asked for by [`HandshakeStatus::NeedsAuth`]; pushes replies
    /// (READY / WELCOME, or ERROR) onto `out`. A denial returns the error the session
    /// fails with, after the ERROR command was queued.
    fn auth_result(
        &mut self,
        verdict: AuthVerdict,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error>;

    /// True when traffic after the handshake is wrapped (CURVE MESSAGE boxes).
    fn encrypts(&self) -> bool {
        false
    }

    /// Wraps one outgoing frame after the handshake. Only called when
    /// [`Mechanism::encrypts`]; the result is sent as the frame to transmit.
    fn wrap(&mut self, frame: FrameParts) -> Result<FrameParts, Error> {
        Ok(frame)
    }

    /// Unwraps one received frame after the handshake. Only called when
    /// [`Mechanism::encrypts`].
    fn unwrap(&mut self, frame: FrameParts) -> Result<FrameParts, Error> {
        Ok(frame)
    }

    /// Wraps one outgoing frame straight into the output batch `out` (what the
    /// session calls; the default goes through [`Mechanism::wrap`]). Only called when
    /// [`Mechanism::encrypts`].
    fn wrap_into(
        &mut self,
        more: bool,
        command: bool,
        body: &[u8],
        out: &mut FrameEncoder,
    ) -> Result<(), Error> {
        let frame = FrameParts {
            more,
            command,
            body: Bytes::copy_from_slice(body),
        };
        out.push_owned(self.wrap(frame)?);
        Ok(())
    }

    /// Unwraps one received frame whose body the caller owns alone, so it can be
    /// decrypted where it lies (what the session calls; the default goes through
    /// [`Mechanism::unwrap`]). Only called when [`Mechanism::encrypts`].
    fn unwrap_in_place(
        &mut self,
        more: bool,
        command: bool,
        body: BytesMut,
    ) -> Result<FrameParts, Error> {
        self.unwrap(FrameParts {
            more,
            command,
            body: body.freeze(),
        })
    }
}

/// Checks that a command body is named `name` and returns its data. A peer ERROR
/// becomes [`Error::PeerError`]; any other name is an unexpected command.
pub fn expect_command(body: &Bytes, name: &str) -> Result<Bytes, Error> {
    let (got, data) = command::split(body)?;
    if &got[..] == name.as_bytes() {
        return Ok(data);
    }
    if &got[..] == b"ERROR" {
        let reason = command::parse_error(&data)?;
        return Err(Error::PeerError {
            reason: String::from_utf8_lossy(&reason).into_owned(),
        });
    }
    Err(PeerMisbehaved::UnexpectedCommand {
        name: String::from_utf8_lossy(&got).into_owned(),
    }
    .into())
}

/// The error for a command that is not valid in the current state.
pub(crate) fn unexpected(body: &Bytes) -> Error {
    match command::split(body) {
        Ok((name, _)) => PeerMisbehaved::UnexpectedCommand {
            name: String::from_utf8_lossy(&name).into_owned(),
        }
        .into(),
        Err(e) => e.into(),
    }
}

/// A ZAP-style denial: queues ERROR with the status code as reason for 400 and 500
/// (libzmq), nothing for 300, and returns the error the handshake fails with.
pub fn deny(status: u16, out: &mut Vec<Bytes>) -> Error {
    if status != 300 {
        out.push(command::error_body(status.to_string().as_bytes()));
    }
    Error::AuthDenied { status }
}

/// The peer's metadata with what the authenticator added: `User-Id` (when not empty)
/// and the properties of the ZAP reply.
pub fn merge_auth(mut peer: Metadata, extra: Option<(Bytes, Metadata)>) -> Metadata {
    if let Some((user_id, metadata)) = extra {
        if !user_id.is_empty() {
            peer.insert(USER_ID, user_id);
        }
        for (name, value) in metadata.iter() {
            peer.insert(name, value.clone());
        }
    }
    peer
}
