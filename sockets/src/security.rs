//! CURVE keys and the Z85 helpers of the public API (`zmq_curve_keypair`,
//! `zmq_curve_public`, `zmq_z85_encode`, `zmq_z85_decode`).

use std::fmt;
use std::str::FromStr;

use ringmq_zmtp::mechanism::curve::CurveKeyPair;
use ringmq_zmtp::z85;
pub use ringmq_zmtp::z85::Z85Error;
use zeroize::Zeroizing;

use crate::error::Error;

/// A 32-byte CURVE key (public or secret), given as raw bytes or as 40 characters of
/// Z85. The bytes are wiped from memory when the key is dropped, and `Debug` never
/// prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKey(Zeroizing<[u8; 32]>);

impl CurveKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CurveKey(Zeroizing::new(bytes))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 40-character Z85 form.
    pub fn to_z85(&self) -> String {
        z85::encode(&self.0[..]).expect("32 is a multiple of 4")
    }

    /// A fresh random key pair `(public, secret)`.
    pub fn generate_pair() -> (CurveKey, CurveKey) {
        let pair = CurveKeyPair::generate();
        (
            CurveKey::from_bytes(*pair.public()),
            CurveKey::from_bytes(*pair.secret()),
        )
    }

    /// The public key belonging to this secret key.
    pub fn public_of(&self) -> CurveKey {
        CurveKey::from_bytes(*CurveKeyPair::from_secret(*self.0).public())
    }
}

impl fmt::Debug for CurveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurveKey(<32 bytes>)")
    }
}

/// Why bytes or text are not a CURVE key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidKey(String);

impl fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidKey {}

impl From<InvalidKey> for Error {
    fn from(e: InvalidKey) -> Error {
        Error::InvalidOption {
            option: "CURVE key",
            reason: e.0,
        }
    }
}

impl TryFrom<&[u8]> for CurveKey {
    type Error = InvalidKey;

    /// 32 raw bytes, or 40 bytes of Z85 text.
    fn try_from(data: &[u8]) -> Result<Self, InvalidKey> {
        match data.len() {
            32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(data);
                Ok(CurveKey::from_bytes(k))
            }
            40 => {
                let text = std::str::from_utf8(data)
                    .map_err(|_| InvalidKey("a 40-byte key must be Z85 text".into()))?;
                text.parse()
            }
            n => Err(InvalidKey(format!(
                "a CURVE key is 32 bytes or 40 Z85 characters, not {n} bytes"
            ))),
        }
    }
}

impl TryFrom<&str> for CurveKey {
    type Error = InvalidKey;

    fn try_from(text: &str) -> Result<Self, InvalidKey> {
        text.parse()
    }
}

impl FromStr for CurveKey {
    type Err = InvalidKey;

    /// 40 characters of Z85.
    fn from_str(text: &str) -> Result<Self, InvalidKey> {
        z85::decode_key(text)
            .map(CurveKey::from_bytes)
            .map_err(|e| InvalidKey(format!("not a Z85 CURVE key: {e}")))
    }
}

impl From<[u8; 32]> for CurveKey {
    fn from(bytes: [u8; 32]) -> Self {
        CurveKey::from_bytes(bytes)
    }
}

/// A new CURVE key pair as Z85 text `(public, secret)`, like `zmq_curve_keypair`. Prefer
/// [`CurveKey::generate_pair`] to keep the secret in memory that is wiped on drop.
pub fn curve_keypair() -> (String, String) {
    z85::curve_keypair()
}

/// The Z85 public key of a Z85 secret key, like `zmq_curve_public`.
pub fn curve_public(secret_z85: &str) -> Result<String, Z85Error> {
    z85::curve_public(secret_z85)
}

/// Encodes bytes (a multiple of 4 long) as Z85, like `zmq_z85_encode`.
pub fn z85_encode(data: &[u8]) -> Result<String, Z85Error> {
    z85::encode(data)
}

/// Decodes Z85 text (a multiple of 5 long), like `zmq_z85_decode`.
pub fn z85_decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    z85::decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_raw_bytes_and_z85() {
        let (public, secret) = curve_keypair();
        let k: CurveKey = public.parse().unwrap();
        assert_eq!(k.to_z85(), public);
        let raw = CurveKey::try_from(&k.as_bytes()[..]).unwrap();
        assert_eq!(raw, k);
        let s = CurveKey::try_from(secret.as_bytes()).unwrap();
        assert_eq!(s.public_of(), k);
        assert_eq!(curve_public(&secret).unwrap(), public);
        assert!(format!("{s:?}").contains("<32 bytes>"));
        assert!(!format!("{s:?}").contains(&secret));
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        let e = CurveKey::try_from(&[0u8; 31][..]).unwrap_err();
        assert!(e.to_string().contains("31 bytes"), "{e}");
        let e = "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"
            .parse::<CurveKey>()
            .unwrap_err();
        assert!(e.to_string().contains("Z85"), "{e}");
        let e = CurveKey::try_from(&[0xFFu8; 40][..]).unwrap_err();
        assert!(e.to_string().contains("Z85"), "{e}");
        assert_eq!(z85_decode(&z85_encode(b"abcd").unwrap()).unwrap(), b"abcd");
        assert!(z85_encode(b"abc").is_err());
    }
}
