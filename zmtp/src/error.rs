//! Errors of the protocol layer. Every failure a peer can cause has its own variant, so
//! the sockets can say exactly why a connection was dropped.

use std::fmt;

use crate::mechanism::curve::CurveError;
use crate::socket_type::SocketType;

/// Why a ZMTP session failed, or why a call was refused. Session failures are fatal:
/// the connection is to be closed (after flushing any queued ERROR command).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol.
    PeerMisbehaved(PeerMisbehaved),
    /// A CURVE handshake or message failed.
    Curve(CurveError),
    /// The peer greeted with another security mechanism than ours.
    MechanismMismatch {
        /// Our mechanism name.
        local: String,
        /// The name the peer announced.
        peer: String,
    },
    /// The peer's socket type may not talk to ours (for example PUB with PUSH).
    IncompatibleSocketType {
        /// Our socket type.
        local: SocketType,
        /// The peer's socket type.
        peer: SocketType,
    },
    /// The peer sent an ERROR command (for example after refusing our credentials).
    PeerError {
        /// The reason text the peer gave (libzmq sends the ZAP status code, "400").
        reason: String,
    },
    /// Our authenticator refused the peer's credentials with this ZAP status code.
    AuthDenied {
        /// 300, 400 or 500.
        status: u16,
    },
    /// The handshake did not finish within the handshake interval.
    HandshakeTimeout,
    /// Nothing arrived from the peer within the heartbeat timeout after our PING.
    HeartbeatTimeout,
    /// Nothing arrived from the peer within the TTL its last PING announced.
    PeerTtlExpired,
    /// A message the peer started (a frame, or a multipart message) did not arrive
    /// whole within the partial-message timeout.
    PartialMessageTimeout,
    /// The peer sent no message within the idle timeout.
    IdleTimeout,
    /// API misuse: a message or subscription was sent before the handshake completed.
    HandshakeIncomplete,
    /// API misuse: the session has already failed.
    SessionFailed,
    /// API misuse: a message must have at least one frame.
    EmptyMessage,
    /// API misuse: [`Session::auth_result`](crate::session::Session::auth_result) was
    /// called while no authentication was pending.
    NoAuthPending,
    /// API misuse: a PLAIN username or password longer than 255 bytes.
    CredentialTooLong,
    /// API misuse: a configuration value is out of range; names the option.
    InvalidOption(&'static str),
}

/// What exactly a peer did wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// A property list (READY / INITIATE metadata) was truncated or had an empty name.
    MalformedMetadata,
    /// The peer greeted like ZMTP 1.0 (no `FF ... 7F` signature). Not supported.
    Zmtp10Peer,
    /// The peer announced a ZMTP major version below 3 (1 means ZMTP 2.0). Not supported.
    UnsupportedVersion {
        /// The major version byte of the peer's greeting.
        major: u8,
    },
    /// The mechanism name in the greeting was empty or had characters other than
    /// `A-Z a-z 0-9 - _ . +`.
    InvalidMechanismName,
    /// A frame had one of the reserved flag bits (3 to 7) set.
    ReservedFlags {
        /// The flags byte as received.
        flags: u8,
    },
    /// A command frame had the MORE flag.
    CommandWithMore,
    /// A command frame was larger than the limit in force: the handshake command limit
    /// before the handshake completes, the maximum message size after. Detected from
    /// the header, before the body is held.
    FrameTooLarge {
        /// The size announced in the frame header.
        size: u64,
        /// The limit in force.
        max: u64,
    },
    /// A frame header announced more bytes than any buffer can hold
    /// ([`MAX_HOLDABLE`](crate::frame::MAX_HOLDABLE)), whatever the limits.
    FrameTooLargeToHold {
        /// The size announced in the frame header.
        size: u64,
    },
    /// A message was larger than the maximum message size (`ZMQ_MAXMSGSIZE`), which
    /// applies to the sum of its frames. Detected from the header of the frame that
    /// crosses the limit, before its body is held.
    MessageTooLarge {
        /// The bytes of the message held so far plus the size the crossing frame
        /// announced (with CURVE, its size on the wire, box overhead included).
        size: u64,
        /// The limit in force.
        max: u64,
    },
    /// A message had more frames than the limit in force
    /// ([`SessionConfig::max_message_frames`](crate::SessionConfig::max_message_frames)). Detected from
    /// the header of the first frame too many.
    TooManyFrames {
        /// The limit in force.
        max: u32,
    },
    /// A command body was empty or its name length ran past the end of the frame.
    TruncatedCommand,
    /// A command's data did not have the layout its name requires.
    MalformedCommand {
        /// The command name.
        command: &'static str,
    },
    /// A command arrived that is not valid at this point of the exchange.
    UnexpectedCommand {
        /// The command name, lossily decoded.
        name: String,
    },
    /// A data frame arrived during the handshake.
    UnexpectedDataFrame,
    /// The peer's READY / INITIATE metadata had no `Socket-Type` property.
    MissingSocketType,
    /// The peer's `Socket-Type` is not one of the eleven ZMTP socket types.
    UnknownSocketType {
        /// The value, lossily decoded.
        name: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PeerMisbehaved(p) => write!(f, "peer misbehaved: {p}"),
            Error::Curve(c) => write!(f, "CURVE: {c}"),
            Error::MechanismMismatch { local, peer } => {
                write!(
                    f,
                    "security mechanism mismatch: we use {local}, peer uses {peer}"
                )
            }
            Error::IncompatibleSocketType { local, peer } => {
                write!(f, "socket type {local} cannot talk to a {peer} peer")
            }
            Error::PeerError { reason } => write!(f, "peer sent ERROR: {reason}"),
            Error::AuthDenied { status } => {
                write!(f, "authentication denied the peer (status {status})")
            }
            Error::HandshakeTimeout => f.write_str("handshake timed out"),
            Error::HeartbeatTimeout => f.write_str("peer did not answer heartbeats in time"),
            Error::PeerTtlExpired => f.write_str("peer went silent past its heartbeat TTL"),
            Error::PartialMessageTimeout => {
                f.write_str("peer did not finish its message within the partial-message timeout")
            }
            Error::IdleTimeout => f.write_str("peer sent no message within the idle timeout"),
            Error::HandshakeIncomplete => f.write_str("handshake not complete yet"),
            Error::SessionFailed => f.write_str("session already failed"),
            Error::EmptyMessage => f.write_str("a message needs at least one frame"),
            Error::NoAuthPending => f.write_str("no authentication is pending"),
            Error::CredentialTooLong => {
                f.write_str("PLAIN username and password are at most 255 bytes")
            }
            Error::InvalidOption(name) => write!(f, "invalid option: {name}"),
        }
    }
}

impl fmt::Display for PeerMisbehaved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerMisbehaved::MalformedMetadata => f.write_str("malformed metadata property list"),
            PeerMisbehaved::Zmtp10Peer => f.write_str("ZMTP 1.0 peer (unsupported)"),
            PeerMisbehaved::UnsupportedVersion { major } => {
                write!(
                    f,
                    "unsupported ZMTP major version {major} (need 3 or later)"
                )
            }
            PeerMisbehaved::InvalidMechanismName => f.write_str("invalid mechanism name"),
            PeerMisbehaved::ReservedFlags { flags } => {
                write!(f, "reserved frame flag bits set ({flags:#04x})")
            }
            PeerMisbehaved::CommandWithMore => f.write_str("command frame with MORE flag"),
            PeerMisbehaved::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds the limit of {max}")
            }
            PeerMisbehaved::FrameTooLargeToHold { size } => {
                write!(
                    f,
                    "frame of {size} bytes is larger than any buffer can hold"
                )
            }
            PeerMisbehaved::MessageTooLarge { size, max } => {
                write!(
                    f,
                    "message of at least {size} bytes exceeds the limit of {max}"
                )
            }
            PeerMisbehaved::TooManyFrames { max } => {
                write!(f, "message of more than {max} frames exceeds the limit")
            }
            PeerMisbehaved::TruncatedCommand => f.write_str("truncated command"),
            PeerMisbehaved::MalformedCommand { command } => {
                write!(f, "malformed {command} command")
            }
            PeerMisbehaved::UnexpectedCommand { name } => {
                write!(f, "unexpected command {name:?}")
            }
            PeerMisbehaved::UnexpectedDataFrame => f.write_str("data frame during handshake"),
            PeerMisbehaved::MissingSocketType => f.write_str("no Socket-Type in metadata"),
            PeerMisbehaved::UnknownSocketType { name } => {
                write!(f, "unknown socket type {name:?}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<PeerMisbehaved> for Error {
    fn from(p: PeerMisbehaved) -> Self {
        Error::PeerMisbehaved(p)
    }
}

impl From<CurveError> for Error {
    fn from(c: CurveError) -> Self {
        Error::Curve(c)
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::HandshakeTimeout
            | Error::HeartbeatTimeout
            | Error::PeerTtlExpired
            | Error::PartialMessageTimeout
            | Error::IdleTimeout => std::io::ErrorKind::TimedOut,
            Error::AuthDenied { .. } | Error::PeerError { .. } => {
                std::io::ErrorKind::PermissionDenied
            }
            Error::HandshakeIncomplete
            | Error::SessionFailed
            | Error::EmptyMessage
            | Error::NoAuthPending
            | Error::CredentialTooLong
            | Error::InvalidOption(_) => std::io::ErrorKind::InvalidInput,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}
