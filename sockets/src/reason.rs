//! Why a connection ended or a handshake failed, typed up to the monitor events.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::core::Refusal;

/// An I/O error as monitor events carry it: cheap to clone, compared by kind and OS
/// error code, and still the original [`io::Error`] underneath.
#[derive(Clone, Debug)]
pub struct IoError(Arc<io::Error>);

impl IoError {
    /// The error's kind.
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }

    /// The OS error code (`errno`), when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.raw_os_error()
    }

    /// The original error.
    pub fn as_io_error(&self) -> &io::Error {
        &self.0
    }
}

impl From<io::Error> for IoError {
    fn from(e: io::Error) -> Self {
        IoError(Arc::new(e))
    }
}

impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.raw_os_error() == other.raw_os_error()
    }
}

impl Eq for IoError {}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The security options cannot make a mechanism for a new connection (the connection
/// is refused before its handshake).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityConfigError {
    /// A CURVE server or client without `ZMQ_CURVE_SECRETKEY`.
    MissingSecretKey {
        /// Server (true) or client.
        server: bool,
    },
    /// A CURVE client without `ZMQ_CURVE_SERVERKEY`.
    MissingServerKey,
    /// `ZMQ_CURVE_PUBLICKEY` is not the public key of `ZMQ_CURVE_SECRETKEY`.
    PublicKeyMismatch,
    /// The PLAIN client's credentials were refused by the protocol layer.
    Plain(ringmq_zmtp::Error),
}

impl fmt::Display for SecurityConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecurityConfigError::MissingSecretKey { server } => write!(
                f,
                "CURVE {} needs ZMQ_CURVE_SECRETKEY",
                if *server { "server" } else { "client" }
            ),
            SecurityConfigError::MissingServerKey => {
                f.write_str("CURVE client needs ZMQ_CURVE_SERVERKEY")
            }
            SecurityConfigError::PublicKeyMismatch => {
                f.write_str("ZMQ_CURVE_PUBLICKEY does not belong to ZMQ_CURVE_SECRETKEY")
            }
            SecurityConfigError::Plain(e) => write!(f, "PLAIN client: {e}"),
        }
    }
}

/// Why a connection ended, or why its handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The ZMTP session failed: the peer broke the protocol, sent an ERROR, stopped
    /// answering heartbeats, did not finish its handshake in time, or was refused by our
    /// authenticator ([`ringmq_zmtp::Error`] says which).
    Zmtp(ringmq_zmtp::Error),
    /// The peer closed the connection.
    ClosedByPeer,
    /// Receiving failed.
    RecvFailed(IoError),
    /// Sending failed.
    SendFailed(IoError),
    /// The socket refused the peer after its handshake, or dropped it for another
    /// (ROUTER_HANDOVER).
    Refused(Refusal),
    /// A server needs a ZAP handler (PLAIN always, NULL / CURVE with
    /// ZAP_ENFORCE_DOMAIN) and none is installed: the client is refused without an
    /// ERROR, like libzmq.
    NoZapHandler {
        /// `"NULL"`, `"PLAIN"` or `"CURVE"`.
        mechanism: &'static str,
    },
    /// The socket's security options cannot make a mechanism.
    Misconfigured(SecurityConfigError),
    /// `unbind` closed the endpoint the connection was accepted on.
    Unbound,
    /// `disconnect` of the endpoint the connection was made to.
    EndpointDisconnected,
    /// The socket was closed.
    SocketClosed,
    /// STREAM: the application closed the connection by sending a zero-length frame
    /// to it.
    ClosedByApplication,
}

impl DisconnectReason {
    /// The ZAP status code when this is an authentication failure: our authenticator's
    /// refusal, or the peer's ERROR carrying a status code (libzmq sends the code as
    /// the ERROR's reason text).
    pub fn zap_status(&self) -> Option<u16> {
        match self {
            DisconnectReason::Zmtp(ringmq_zmtp::Error::AuthDenied { status }) => Some(*status),
            DisconnectReason::Zmtp(ringmq_zmtp::Error::PeerError { reason }) => {
                match reason.as_str() {
                    "300" | "400" | "500" => reason.parse().ok(),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Zmtp(e) => e.fmt(f),
            DisconnectReason::ClosedByPeer => f.write_str("connection closed by peer"),
            DisconnectReason::RecvFailed(e) => write!(f, "receive failed: {e}"),
            DisconnectReason::SendFailed(e) => write!(f, "send failed: {e}"),
            DisconnectReason::Refused(r) => r.fmt(f),
            DisconnectReason::NoZapHandler { mechanism } => write!(
                f,
                "no ZAP handler installed: a {mechanism} server refuses every client \
                 (like libzmq{})",
                if *mechanism == "PLAIN" {
                    ""
                } else {
                    " with ZAP_ENFORCE_DOMAIN"
                }
            ),
            DisconnectReason::Misconfigured(e) => e.fmt(f),
            DisconnectReason::Unbound => f.write_str("endpoint unbound"),
            DisconnectReason::EndpointDisconnected => f.write_str("endpoint disconnected"),
            DisconnectReason::SocketClosed => f.write_str("socket closed"),
            DisconnectReason::ClosedByApplication => {
                f.write_str("closed by the application (zero-length STREAM frame)")
            }
        }
    }
}

impl From<ringmq_zmtp::Error> for DisconnectReason {
    fn from(e: ringmq_zmtp::Error) -> Self {
        DisconnectReason::Zmtp(e)
    }
}

impl From<Refusal> for DisconnectReason {
    fn from(r: Refusal) -> Self {
        DisconnectReason::Refused(r)
    }
}

impl From<SecurityConfigError> for DisconnectReason {
    fn from(e: SecurityConfigError) -> Self {
        DisconnectReason::Misconfigured(e)
    }
}
