//! CURVE (RFC 26 CurveZMQ over ZMTP, as libzmq speaks it). Placeholder: replaced by the
//! real client and server state machines.

use std::fmt;

/// Why a CURVE handshake or message failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CurveError {
    /// A box did not open (wrong key, tampered data).
    BoxOpenFailed,
}

impl fmt::Display for CurveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurveError::BoxOpenFailed => f.write_str("a box did not open"),
        }
    }
}
