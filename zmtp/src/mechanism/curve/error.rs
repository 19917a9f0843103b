//! Every way a CURVE handshake or message can fail.

use std::fmt;

/// Why a CURVE handshake or message failed. All of them are fatal for the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CurveError {
    /// A command body was empty or its name length ran past its end.
    MalformedCommand,
    /// The peer sent a command this side did not expect at this point.
    UnexpectedCommand {
        /// The command that was expected.
        expected: &'static str,
    },
    /// HELLO was not exactly 200 bytes.
    HelloSize {
        /// The length received.
        len: usize,
    },
    /// HELLO announced a CurveZMQ version other than 1.0.
    HelloVersion {
        /// Major version received.
        major: u8,
        /// Minor version received.
        minor: u8,
    },
    /// The HELLO signature box did not open: the client used another server key.
    HelloOpenFailed,
    /// WELCOME was not exactly 168 bytes.
    WelcomeSize {
        /// The length received.
        len: usize,
    },
    /// The WELCOME box did not open (wrong server key or tampering).
    WelcomeOpenFailed,
    /// INITIATE was shorter than its 257-byte minimum.
    InitiateTooShort {
        /// The length received.
        len: usize,
    },
    /// INITIATE carried more metadata than we accept before authentication.
    InitiateTooLong {
        /// The length received.
        len: usize,
    },
    /// The cookie in INITIATE did not open under this connection's cookie key.
    CookieOpenFailed,
    /// The cookie opened but does not hold this connection's short-term keys.
    CookieMismatch,
    /// The INITIATE box did not open.
    InitiateOpenFailed,
    /// The vouch inside INITIATE did not open with the client's permanent key.
    VouchOpenFailed,
    /// The vouch does not name the client's short-term key.
    VouchClientKeyMismatch,
    /// The vouch names another server's permanent key.
    VouchServerKeyMismatch,
    /// READY was shorter than its 30-byte minimum.
    ReadyTooShort {
        /// The length received.
        len: usize,
    },
    /// The READY box did not open.
    ReadyOpenFailed,
    /// A frame after the handshake was not a MESSAGE command.
    NotAMessage,
    /// MESSAGE was shorter than its 33-byte minimum.
    MessageTooShort {
        /// The length received.
        len: usize,
    },
    /// A MESSAGE box did not open (tampering or wrong key).
    MessageOpenFailed,
    /// A short nonce was not greater than the previous one from the same peer (replay).
    NonceReplayed {
        /// The nonce received.
        nonce: u64,
        /// The highest nonce accepted before it.
        last: u64,
    },
    /// This side used up its 2^64 short nonces; the connection must be re-established.
    NonceExhausted,
    /// The peer's ERROR command was truncated. (A well-formed one fails the handshake
    /// with [`Error::PeerError`](crate::Error::PeerError).)
    MalformedError,
    /// A denial carried a status code other than 300, 400 or 500 (caller bug).
    InvalidAuthStatus {
        /// The status code given.
        status: u16,
    },
    /// A method was called in a state where it makes no sense (caller bug): for
    /// example `wrap` before the handshake completed, or `auth_result` on a client.
    InvalidState {
        /// The method that was called.
        call: &'static str,
    },
}

impl fmt::Display for CurveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CurveError::*;
        match self {
            MalformedCommand => f.write_str("malformed command (bad name length)"),
            UnexpectedCommand { expected } => write!(f, "unexpected command, expected {expected}"),
            HelloSize { len } => write!(f, "HELLO is {len} bytes, not 200"),
            HelloVersion { major, minor } => {
                write!(f, "HELLO has unsupported CurveZMQ version {major}.{minor}")
            }
            HelloOpenFailed => {
                f.write_str("cannot open HELLO box (client uses a wrong server key?)")
            }
            WelcomeSize { len } => write!(f, "WELCOME is {len} bytes, not 168"),
            WelcomeOpenFailed => f.write_str("cannot open WELCOME box (wrong server key?)"),
            InitiateTooShort { len } => write!(f, "INITIATE is {len} bytes, under 257"),
            InitiateTooLong { len } => write!(f, "INITIATE is {len} bytes, too long"),
            CookieOpenFailed => f.write_str("cannot open the INITIATE cookie"),
            CookieMismatch => f.write_str("INITIATE cookie is not this connection's"),
            InitiateOpenFailed => f.write_str("cannot open INITIATE box"),
            VouchOpenFailed => f.write_str("cannot open INITIATE vouch"),
            VouchClientKeyMismatch => {
                f.write_str("vouch does not match the client's short-term key")
            }
            VouchServerKeyMismatch => f.write_str("vouch was made for another server key"),
            ReadyTooShort { len } => write!(f, "READY is {len} bytes, under 30"),
            ReadyOpenFailed => f.write_str("cannot open READY box"),
            NotAMessage => f.write_str("frame after the handshake is not a MESSAGE"),
            MessageTooShort { len } => write!(f, "MESSAGE is {len} bytes, under 33"),
            MessageOpenFailed => f.write_str("cannot open MESSAGE box"),
            NonceReplayed { nonce, last } => {
                write!(f, "short nonce {nonce} replayed (not above {last})")
            }
            NonceExhausted => f.write_str("short nonces exhausted"),
            MalformedError => f.write_str("malformed ERROR command"),
            InvalidAuthStatus { status } => write!(f, "invalid denial status {status}"),
            InvalidState { call } => write!(f, "{call} called in the wrong handshake state"),
        }
    }
}

impl std::error::Error for CurveError {}
