//! The errors of the socket API.

use std::fmt;
use std::io;

use ringmq_proactor::EndpointError;
use ringmq_zmtp::SocketType;

/// Why a socket call failed. Peer misbehaviour never shows up here: it costs only that
/// peer's connection and is reported through the [`Monitor`](crate::Monitor).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint string could not be parsed.
    InvalidEndpoint(EndpointError),
    /// `bind` found the address in use.
    AddrInUse(String),
    /// Another I/O error from `bind`.
    Io(io::Error),
    /// The option does not apply to this socket type, or its value is out of range.
    InvalidOption {
        /// The option's name, as libzmq spells it (`ZMQ_SUBSCRIBE`).
        option: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The operation does not exist for this socket type (for example `recv` on PUB).
    NotSupported {
        /// The operation (`send`, `recv`, `subscribe`).
        operation: &'static str,
        /// The socket type.
        socket_type: SocketType,
    },
    /// The operation is not allowed in the socket's current state (REQ sending twice).
    InvalidState {
        /// What was wrong.
        reason: &'static str,
    },
    /// Non-blocking call (or a zero timeout) that would have had to wait.
    WouldBlock,
    /// The send or receive timeout expired.
    TimedOut,
    /// ROUTER with ROUTER_MANDATORY: no peer has this routing id.
    HostUnreachable,
    /// The socket is closed.
    Closed,
    /// The socket's context was terminated (libzmq's ETERM): see
    /// [`ContextHandle::terminate`](crate::ContextHandle::terminate).
    Terminated,
    /// A message must have at least one frame.
    EmptyMessage,
    /// `unbind` / `disconnect` of an endpoint that is not bound / connected.
    UnknownEndpoint(String),
    /// The socket would have to wait, but nothing drives its engine on this thread: a
    /// socket of the built-in runtime polled outside `Runtime::block_on` (for example
    /// from a tokio `LocalSet` or another executor) would never make progress.
    NotDriven,
    /// A RADIO / DISH group longer than 255 bytes (libzmq's EINVAL from `zmq_join`).
    GroupTooLong {
        /// Its length.
        len: usize,
    },
    /// DISH: `join` of a group already joined, or `leave` of a group not joined
    /// (libzmq's EINVAL).
    GroupMembership {
        /// True for `join`, false for `leave`.
        join: bool,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidEndpoint(e) => write!(f, "invalid endpoint: {e}"),
            Error::AddrInUse(ep) => write!(f, "address in use: {ep}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::InvalidOption { option, reason } => {
                write!(f, "invalid option {option}: {reason}")
            }
            Error::NotSupported {
                operation,
                socket_type,
            } => write!(f, "{operation} is not supported on a {socket_type} socket"),
            Error::InvalidState { reason } => write!(f, "invalid socket state: {reason}"),
            Error::WouldBlock => f.write_str("operation would block"),
            Error::TimedOut => f.write_str("operation timed out"),
            Error::HostUnreachable => f.write_str("no peer with this routing id"),
            Error::Closed => f.write_str("socket is closed"),
            Error::Terminated => f.write_str("the socket's context was terminated"),
            Error::EmptyMessage => f.write_str("a message needs at least one frame"),
            Error::UnknownEndpoint(ep) => write!(f, "endpoint not bound or connected: {ep}"),
            Error::NotDriven => f.write_str(
                "the socket's runtime is not running on this thread, so nothing drives its \
                 I/O and waiting would hang: poll sockets of the built-in runtime inside \
                 `Runtime::block_on` (not from a tokio LocalSet or another executor); on \
                 tokio use the `ringmq-tokio` engine or a `SocketHandle`",
            ),
            Error::GroupTooLong { len } => write!(
                f,
                "group of {len} bytes: groups are at most {} bytes",
                ringmq_zmtp::group::MAX_GROUP_LEN
            ),
            Error::GroupMembership { join: true } => f.write_str("group already joined"),
            Error::GroupMembership { join: false } => f.write_str("group not joined"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InvalidEndpoint(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<EndpointError> for Error {
    fn from(e: EndpointError) -> Self {
        Error::InvalidEndpoint(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Io(inner) => return io::Error::new(inner.kind(), e.to_string()),
            Error::InvalidEndpoint(_) | Error::InvalidOption { .. } => io::ErrorKind::InvalidInput,
            Error::AddrInUse(_) => io::ErrorKind::AddrInUse,
            Error::NotSupported { .. } => io::ErrorKind::Unsupported,
            Error::InvalidState { .. }
            | Error::EmptyMessage
            | Error::GroupTooLong { .. }
            | Error::GroupMembership { .. } => io::ErrorKind::InvalidInput,
            Error::WouldBlock => io::ErrorKind::WouldBlock,
            Error::TimedOut => io::ErrorKind::TimedOut,
            Error::HostUnreachable => io::ErrorKind::HostUnreachable,
            Error::Closed => io::ErrorKind::NotConnected,
            Error::Terminated => io::ErrorKind::ConnectionAborted,
            Error::UnknownEndpoint(_) => io::ErrorKind::NotFound,
            Error::NotDriven => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
