//! Permanent CURVE key pairs (X25519, as `crypto_box_keypair` makes them).

use std::fmt;

use zeroize::Zeroizing;

use super::cipher;

/// A CURVE key pair: 32-byte X25519 public and secret keys.
///
/// The secret is wiped from memory when the pair is dropped and never printed by
/// `Debug`. The secret bytes are kept as given (unclamped, like libsodium's), so
/// [`CurveKeyPair::secret`] round-trips through Z85 exactly as `zmq_curve_keypair`'s.
#[derive(Clone)]
pub struct CurveKeyPair {
    public: [u8; 32],
    secret: Zeroizing<[u8; 32]>,
}

impl CurveKeyPair {
    /// A fresh random key pair from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        cipher::random_bytes(&mut secret[..]);
        Self::from_secret(*secret)
    }

    /// The pair whose secret key is `secret`; the public key is derived from it.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let secret = Zeroizing::new(secret);
        let public = cipher::public_key(&secret);
        CurveKeyPair { public, secret }
    }

    /// The public key.
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// The secret key.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }
}

impl fmt::Debug for CurveKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurveKeyPair")
            .field(
                "public",
                &crate::z85::encode(&self.public).unwrap_or_default(),
            )
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let pair = CurveKeyPair::from_secret([7u8; 32]);
        let shown = format!("{pair:?}");
        let secret_z85 = crate::z85::encode(pair.secret()).unwrap();
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains(&secret_z85), "{shown}");
        assert!(!shown.contains("7, 7"), "{shown}");
        assert!(shown.contains(&crate::z85::encode(pair.public()).unwrap()));
    }

    #[test]
    #[cfg(not(fuzzing))]
    fn generated_pairs_differ_and_derive_their_public_key() {
        let a = CurveKeyPair::generate();
        let b = CurveKeyPair::generate();
        assert_ne!(a.secret(), b.secret());
        assert_eq!(CurveKeyPair::from_secret(*a.secret()).public(), a.public());
    }
}
