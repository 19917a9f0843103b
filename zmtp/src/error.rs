//! Errors of the protocol layer. Every failure a peer can cause has its own variant, so
//! the sockets can say exactly why a connection was dropped.

use std::fmt;

use crate::mechanism::curve::CurveError;

/// Why a ZMTP session failed. Fatal: the connection is to be closed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol.
    PeerMisbehaved(PeerMisbehaved),
    /// A CURVE handshake or message failed.
    Curve(CurveError),
}

/// What exactly a peer did wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// A property list (READY / INITIATE metadata) was truncated or had an empty name.
    MalformedMetadata,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PeerMisbehaved(p) => write!(f, "peer misbehaved: {p}"),
            Error::Curve(c) => write!(f, "CURVE: {c}"),
        }
    }
}

impl fmt::Display for PeerMisbehaved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerMisbehaved::MalformedMetadata => f.write_str("malformed metadata property list"),
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
