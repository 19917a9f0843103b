//! Z85 (RFC 32): the ZeroMQ base-85 text form of binary data, used for CURVE keys.
//!
//! Every 4 bytes (big-endian) become 5 characters of an 85-character alphabet that is
//! safe in source code and config files. A 32-byte key becomes 40 characters.

use std::fmt;

use crate::mechanism::curve::CurveKeyPair;

const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Character to digit, 0xFF for characters outside the alphabet.
const DECODER: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 85 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why Z85 encoding or decoding failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Z85Error {
    /// Binary input to [`encode`] must be a multiple of 4 bytes long.
    BinaryLength {
        /// The length given.
        len: usize,
    },
    /// Text input to [`decode`] must be a multiple of 5 characters long.
    TextLength {
        /// The length given.
        len: usize,
    },
    /// A character outside the Z85 alphabet.
    InvalidCharacter {
        /// Byte offset in the text.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// A 5-character group whose value does not fit in 32 bits (e.g. `%%%%%`).
    GroupOverflow {
        /// Byte offset of the group in the text.
        position: usize,
    },
    /// A CURVE key must be 40 characters (32 bytes).
    KeyLength {
        /// The length given.
        len: usize,
    },
}

impl fmt::Display for Z85Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Z85Error::BinaryLength { len } => {
                write!(f, "Z85 input is {len} bytes, not a multiple of 4")
            }
            Z85Error::TextLength { len } => {
                write!(f, "Z85 text is {len} characters, not a multiple of 5")
            }
            Z85Error::InvalidCharacter { position, byte } => {
                write!(f, "byte {byte:#04x} at {position} is not Z85")
            }
            Z85Error::GroupOverflow { position } => {
                write!(f, "Z85 group at {position} exceeds 32 bits")
            }
            Z85Error::KeyLength { len } => {
                write!(f, "a CURVE key is 40 Z85 characters, not {len}")
            }
        }
    }
}

impl std::error::Error for Z85Error {}

/// Encodes `data` (length a multiple of 4) as Z85 text.
pub fn encode(data: &[u8]) -> Result<String, Z85Error> {
    if data.len() % 4 != 0 {
        return Err(Z85Error::BinaryLength { len: data.len() });
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for chunk in data.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut group = [0u8; 5];
        for slot in group.iter_mut().rev() {
            *slot = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        // The alphabet is ASCII.
        out.extend(group.iter().map(|&b| b as char));
    }
    Ok(out)
}

/// Decodes Z85 `text` (length a multiple of 5); every character is checked.
pub fn decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    let bytes = text.as_bytes();
    if bytes.len() % 5 != 0 {
        return Err(Z85Error::TextLength { len: bytes.len() });
    }
    let mut out = Vec::with_capacity(bytes.len() / 5 * 4);
    for (g, group) in bytes.chunks_exact(5).enumerate() {
        let mut value: u64 = 0;
        for (i, &b) in group.iter().enumerate() {
            let digit = DECODER[b as usize];
            if digit == 0xFF {
                return Err(Z85Error::InvalidCharacter {
                    position: g * 5 + i,
                    byte: b,
                });
            }
            value = value * 85 + u64::from(digit);
        }
        let value =
            u32::try_from(value).map_err(|_| Z85Error::GroupOverflow { position: g * 5 })?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

/// A new CURVE key pair as Z85 text `(public, secret)`, like `zmq_curve_keypair`.
pub fn curve_keypair() -> (String, String) {
    let pair = CurveKeyPair::generate();
    (
        encode(pair.public()).expect("32 is a multiple of 4"),
        encode(pair.secret()).expect("32 is a multiple of 4"),
    )
}

/// The Z85 public key of a Z85 secret key, like `zmq_curve_public`.
pub fn curve_public(secret_z85: &str) -> Result<String, Z85Error> {
    let secret = zeroize::Zeroizing::new(decode_key(secret_z85)?);
    let pair = CurveKeyPair::from_secret(*secret);
    Ok(encode(pair.public()).expect("32 is a multiple of 4"))
}

/// Decodes a 40-character Z85 CURVE key into its 32 bytes.
pub fn decode_key(text: &str) -> Result<[u8; 32], Z85Error> {
    if text.len() != 40 {
        return Err(Z85Error::KeyLength { len: text.len() });
    }
    let bytes = zeroize::Zeroizing::new(decode(text)?);
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc32_test_vector() {
        let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&bytes).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), bytes);
        assert_eq!(encode(&[]).unwrap(), "");
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
        assert_eq!(encode(&[0, 0, 0, 0]).unwrap(), "00000");
        assert_eq!(encode(&[0xFF; 4]).unwrap(), "%nSc0");
        assert_eq!(decode("%nSc0").unwrap(), [0xFF; 4]);
    }

    /// The key pairs from libzmq's `zmq_curve` man page and test suite: the secret must
    /// derive the published public key (X25519 and Z85 together).
    #[test]
    fn libzmq_man_page_keys() {
        let pairs = [
            (
                "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
                "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
            ),
            (
                "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
            ),
        ];
        for (public, secret) in pairs {
            assert_eq!(curve_public(secret).unwrap(), public);
            assert_eq!(encode(&decode_key(public).unwrap()).unwrap(), public);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(encode(&[1, 2, 3]), Err(Z85Error::BinaryLength { len: 3 }));
        assert_eq!(decode("Hello!"), Err(Z85Error::TextLength { len: 6 }));
        assert_eq!(
            decode("Hel o"),
            Err(Z85Error::InvalidCharacter {
                position: 3,
                byte: b' '
            })
        );
        assert_eq!(
            decode("HelloWor\"d"),
            Err(Z85Error::InvalidCharacter {
                position: 8,
                byte: b'"'
            })
        );
        // Multi-byte UTF-8 is rejected byte by byte, never panics on a char boundary.
        assert!(matches!(
            decode("Helé"),
            Err(Z85Error::InvalidCharacter { position: 3, .. })
        ));
        assert_eq!(
            decode("%nSc1"),
            Err(Z85Error::GroupOverflow { position: 0 })
        );
        assert_eq!(
            decode("00000%%%%%"),
            Err(Z85Error::GroupOverflow { position: 5 })
        );
        assert_eq!(curve_public("short"), Err(Z85Error::KeyLength { len: 5 }));
        assert_eq!(
            curve_public("D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%c~"),
            Err(Z85Error::InvalidCharacter {
                position: 39,
                byte: b'~'
            })
        );
    }

    #[test]
    #[cfg(not(fuzzing))]
    fn keypair_is_consistent() {
        let (public, secret) = curve_keypair();
        assert_eq!(public.len(), 40);
        assert_eq!(secret.len(), 40);
        assert_eq!(curve_public(&secret).unwrap(), public);
        assert_ne!(curve_keypair().1, secret);
    }

    proptest! {
        #[test]
        fn round_trip(words in proptest::collection::vec(any::<[u8; 4]>(), 0..64)) {
            let data: Vec<u8> = words.concat();
            let text = encode(&data).unwrap();
            prop_assert_eq!(text.len(), data.len() / 4 * 5);
            prop_assert!(text.bytes().all(|b| ALPHABET.contains(&b)));
            prop_assert_eq!(decode(&text).unwrap(), data);
        }

        #[test]
        fn decode_never_panics(text in ".{0,50}") {
            let _ = decode(&text);
        }
    }
}
