//! The 64-byte ZMTP 3.x greeting.
//!
//! Like libzmq we send it in two parts: the 10-byte signature first, then the other 54
//! bytes once the peer's signature has shown it is a ZMTP 3 peer. The decoder is
//! incremental and reports a ZMTP 1.0 or 2.0 peer as soon as the bytes that betray it
//! have arrived.

use bytes::{BufMut, BytesMut};

use crate::error::{Error, PeerMisbehaved};

/// Length of the signature (`FF`, 8 padding bytes, `7F`).
pub const SIGNATURE_LEN: usize = 10;
/// Length of the whole greeting.
pub const GREETING_LEN: usize = 64;
/// Length of the NUL-padded mechanism field.
pub const MECHANISM_LEN: usize = 20;

/// A mechanism name as carried in a greeting: 1 to 20 bytes of `A-Z a-z 0-9 - _ . +`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MechanismName {
    bytes: [u8; MECHANISM_LEN],
    len: u8,
}

impl MechanismName {
    /// Validates a name.
    pub fn new(name: &[u8]) -> Result<Self, PeerMisbehaved> {
        let valid = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'+');
        if name.is_empty() || name.len() > MECHANISM_LEN || !name.iter().all(valid) {
            return Err(PeerMisbehaved::InvalidMechanismName);
        }
        let mut bytes = [0u8; MECHANISM_LEN];
        bytes[..name.len()].copy_from_slice(name);
        Ok(MechanismName {
            bytes,
            len: name.len() as u8,
        })
    }

    /// Parses the 20-byte NUL-padded field: the name ends at the first NUL.
    fn from_field(field: &[u8]) -> Result<Self, PeerMisbehaved> {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        Self::new(&field[..end])
    }

    /// The name without padding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name, lossily decoded.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

impl std::fmt::Debug for MechanismName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

/// A parsed or to-be-sent greeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// Major version (3 for us; any value >= 3 accepted from a peer).
    pub major: u8,
    /// Minor version: 1 for ZMTP 3.1, 0 for 3.0.
    pub minor: u8,
    /// Security mechanism.
    pub mechanism: MechanismName,
    /// The as-server bit.
    pub as_server: bool,
}

impl Greeting {
    /// Appends the 10-byte signature.
    pub fn encode_signature(out: &mut BytesMut) {
        out.put_u8(0xFF);
        out.put_bytes(0, 8);
        out.put_u8(0x7F);
    }

    /// Appends the 54 bytes after the signature.
    pub fn encode_rest(&self, out: &mut BytesMut) {
        out.put_u8(self.major);
        out.put_u8(self.minor);
        out.put_slice(&self.mechanism.bytes);
        out.put_u8(u8::from(self.as_server));
        out.put_bytes(0, 31);
    }

    /// Appends all 64 bytes.
    pub fn encode(&self, out: &mut BytesMut) {
        Self::encode_signature(out);
        self.encode_rest(out);
    }
}

/// Where the incremental decode stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GreetingProgress {
    /// More bytes are needed and the signature is not complete yet.
    NeedSignature,
    /// The peer's signature is valid (a ZMTP 2.0 or later peer); more bytes are needed.
    /// This is when the rest of our own greeting may be sent.
    SignatureReceived,
    /// The whole greeting was received and is acceptable.
    Done(Greeting),
}

/// Incremental greeting parser. Never reads past the 64 greeting bytes.
#[derive(Clone, Debug)]
pub struct GreetingDecoder {
    buf: [u8; GREETING_LEN],
    filled: usize,
}

impl Default for GreetingDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl GreetingDecoder {
    /// A decoder that has seen nothing yet.
    pub fn new() -> Self {
        GreetingDecoder {
            buf: [0; GREETING_LEN],
            filled: 0,
        }
    }

    /// Feeds bytes; returns how many were consumed (at most what completes the
    /// greeting) and the progress. Errors are fatal.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, GreetingProgress), Error> {
        let take = input.len().min(GREETING_LEN - self.filled);
        self.buf[self.filled..self.filled + take].copy_from_slice(&input[..take]);
        self.filled += take;
        let b = &self.buf[..self.filled];
        // ZMTP 1.0 starts with a length byte, not FF; its 10th byte (the flags) has
        // bit 0 clear where a 2.0+ signature has 7F.
        if b.first().is_some_and(|&x| x != 0xFF) || b.get(9).is_some_and(|&x| x & 1 == 0) {
            return Err(PeerMisbehaved::Zmtp10Peer.into());
        }
        if let Some(&major) = b.get(10) {
            if major < 3 {
                return Err(PeerMisbehaved::UnsupportedVersion { major }.into());
            }
        }
        if self.filled < SIGNATURE_LEN {
            return Ok((take, GreetingProgress::NeedSignature));
        }
        if self.filled < GREETING_LEN {
            return Ok((take, GreetingProgress::SignatureReceived));
        }
        let mechanism = MechanismName::from_field(&self.buf[12..12 + MECHANISM_LEN])?;
        let greeting = Greeting {
            major: self.buf[10],
            minor: self.buf[11],
            mechanism,
            as_server: self.buf[32] != 0,
        };
        Ok((take, GreetingProgress::Done(greeting)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn null_3_0() -> Vec<u8> {
        let mut v = vec![0xFF];
        v.extend([0; 8]);
        v.extend([0x7F, 3, 0]);
        v.extend(b"NULL");
        v.extend([0; 16]);
        v.push(0);
        v.extend([0; 31]);
        v
    }

    #[test]
    fn golden_null_greeting_3_0() {
        let g = Greeting {
            major: 3,
            minor: 0,
            mechanism: MechanismName::new(b"NULL").unwrap(),
            as_server: false,
        };
        let mut out = BytesMut::new();
        g.encode(&mut out);
        assert_eq!(&out[..], &null_3_0()[..]);
        let mut d = GreetingDecoder::new();
        assert_eq!(d.feed(&out).unwrap(), (64, GreetingProgress::Done(g)));
    }

    #[test]
    fn byte_by_byte_with_libzmq_padding_and_trailing_data() {
        let mut wire = null_3_0();
        wire[1..9].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        wire[11] = 1;
        wire.extend(b"extra");
        let mut d = GreetingDecoder::new();
        let mut at = 0;
        loop {
            let (n, p) = d.feed(&wire[at..at + 1]).unwrap();
            at += n;
            match p {
                GreetingProgress::NeedSignature => assert!(at < 10),
                GreetingProgress::SignatureReceived => assert!((10..64).contains(&at)),
                GreetingProgress::Done(g) => {
                    assert_eq!(at, 64);
                    assert_eq!((g.major, g.minor), (3, 1));
                    assert_eq!(g.mechanism.as_bytes(), b"NULL");
                    break;
                }
            }
        }
    }

    #[test]
    fn future_major_and_unusual_names_are_accepted() {
        let mut wire = null_3_0();
        wire[10] = 4;
        wire[12..12 + 9].copy_from_slice(b"X-a_b.c+1");
        let (_, p) = GreetingDecoder::new().feed(&wire).unwrap();
        let GreetingProgress::Done(g) = p else {
            panic!("not done: {p:?}")
        };
        assert_eq!(g.major, 4);
        assert_eq!(g.mechanism.as_bytes(), b"X-a_b.c+1");
    }

    #[test]
    fn old_versions_are_refused_early() {
        // ZMTP 1.0: a short length-prefixed identity.
        assert_eq!(
            GreetingDecoder::new().feed(&[0x01, 0x00]).unwrap_err(),
            Error::PeerMisbehaved(PeerMisbehaved::Zmtp10Peer)
        );
        // ZMTP 1.0 with a long identity: FF, 8-byte length, flags 0.
        let long10 = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x00];
        assert_eq!(
            GreetingDecoder::new().feed(&long10).unwrap_err(),
            Error::PeerMisbehaved(PeerMisbehaved::Zmtp10Peer)
        );
        // ZMTP 2.0: revision byte 01, detected at byte 11.
        let mut v20 = null_3_0();
        v20[10] = 1;
        assert_eq!(
            GreetingDecoder::new().feed(&v20[..11]).unwrap_err(),
            Error::PeerMisbehaved(PeerMisbehaved::UnsupportedVersion { major: 1 })
        );
    }

    #[test]
    fn bad_mechanism_names_are_refused() {
        for name in [&b""[..], b"NU L", b"N\xffL"] {
            let mut wire = null_3_0();
            wire[12..32].fill(0);
            wire[12..12 + name.len()].copy_from_slice(name);
            assert_eq!(
                GreetingDecoder::new().feed(&wire).unwrap_err(),
                Error::PeerMisbehaved(PeerMisbehaved::InvalidMechanismName)
            );
        }
    }
}
