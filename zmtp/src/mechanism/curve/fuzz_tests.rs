//! Under `cfg(fuzzing)` the null cipher must let a handshake and hand-made MESSAGEs
//! through, so a fuzzer reaches the code behind the MAC checks.

use bytes::Bytes;

use super::*;
use crate::mechanism::{AuthVerdict, FrameParts, HandshakeStatus, Mechanism};
use crate::metadata::Metadata;

#[test]
fn null_cipher_handshake_and_forged_message() {
    let server_keys = CurveKeyPair::generate();
    let mut client = CurveClient::new(CurveKeyPair::generate(), *server_keys.public());
    let mut server = CurveServer::new(server_keys);
    let mut out = Vec::new();
    server.start(&Metadata::new(), &mut out).unwrap();
    client.start(&Metadata::new(), &mut out).unwrap();
    let hello = out.pop().unwrap();
    // The "box" of 64 zero bytes is a zero tag and the plaintext itself.
    assert!(hello[120..].iter().all(|&b| b == 0));
    server.handle_command(hello, &mut out).unwrap();
    client.handle_command(out.pop().unwrap(), &mut out).unwrap();
    server.handle_command(out.pop().unwrap(), &mut out).unwrap();
    let verdict = AuthVerdict::Allow {
        user_id: Bytes::new(),
        metadata: Metadata::new(),
    };
    assert!(matches!(
        server.auth_result(verdict, &mut out),
        Ok(HandshakeStatus::Complete(_))
    ));
    assert!(matches!(
        client.handle_command(out.pop().unwrap(), &mut out),
        Ok(HandshakeStatus::Complete(_))
    ));
    // A MESSAGE a fuzzer could write by hand: nonce 3, zero tag, flags, payload.
    let mut body = b"\x07MESSAGE".to_vec();
    body.extend_from_slice(&3u64.to_be_bytes());
    body.extend_from_slice(&[0; 16]);
    body.extend_from_slice(b"\x01hi");
    let f = server
        .unwrap(FrameParts {
            more: false,
            command: false,
            body: body.into(),
        })
        .unwrap();
    assert!(f.more && !f.command);
    assert_eq!(&f.body[..], b"hi");
}
