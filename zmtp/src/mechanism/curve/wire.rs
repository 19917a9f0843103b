//! Command-body helpers shared by the CURVE client and server.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::CurveError;
use crate::error::Error;

/// The command name of a body (`1-byte length, name, data`), length-checked.
pub(crate) fn command_name(body: &[u8]) -> Result<&[u8], CurveError> {
    let len = *body.first().ok_or(CurveError::MalformedCommand)? as usize;
    body.get(1..1 + len).ok_or(CurveError::MalformedCommand)
}

/// Fails with [`CurveError::UnexpectedCommand`] unless `body` is the command `name`.
pub(crate) fn expect(body: &[u8], name: &'static str) -> Result<(), CurveError> {
    if command_name(body)? == name.as_bytes() {
        Ok(())
    } else {
        Err(CurveError::UnexpectedCommand { expected: name })
    }
}

/// True when `body` is an ERROR command.
pub(crate) fn is_error(body: &[u8]) -> bool {
    command_name(body).is_ok_and(|n| n == b"ERROR")
}

/// The error an ERROR command from the peer turns into: [`Error::PeerError`] with its
/// reason, or [`CurveError::MalformedError`] when the reason runs past the end.
pub(crate) fn error_received(body: &[u8]) -> Error {
    // `\x05ERROR`, 1-byte reason length, reason.
    let Some(&len) = body.get(6) else {
        return CurveError::MalformedError.into();
    };
    match body.get(7..7 + len as usize) {
        Some(reason) => Error::PeerError {
            reason: String::from_utf8_lossy(reason).into_owned(),
        },
        None => CurveError::MalformedError.into(),
    }
}

/// An ERROR command carrying a ZAP status code, as libzmq sends it after a denial.
pub(crate) fn error_command(status: u16) -> Bytes {
    let code = status.to_string();
    let mut out = BytesMut::with_capacity(7 + code.len());
    out.put_slice(b"\x05ERROR");
    out.put_u8(code.len() as u8);
    out.put_slice(code.as_bytes());
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_errors() {
        assert_eq!(command_name(b"\x05HELLOxx"), Ok(&b"HELLO"[..]));
        assert_eq!(command_name(b""), Err(CurveError::MalformedCommand));
        assert_eq!(
            command_name(b"\x09HELLO"),
            Err(CurveError::MalformedCommand)
        );
        assert_eq!(
            expect(b"\x05READY", "HELLO"),
            Err(CurveError::UnexpectedCommand { expected: "HELLO" })
        );
        assert_eq!(&error_command(400)[..], b"\x05ERROR\x03400");
        assert!(is_error(&error_command(500)));
        assert_eq!(
            error_received(&error_command(500)),
            Error::PeerError {
                reason: "500".into()
            }
        );
        assert_eq!(
            error_received(b"\x05ERROR"),
            CurveError::MalformedError.into()
        );
        assert_eq!(
            error_received(b"\x05ERROR\x04400"),
            CurveError::MalformedError.into()
        );
    }
}
