//! The NaCl primitives CURVE is built from, behind one narrow face.
//!
//! Boxes travel as libzmq puts them on the wire: the 16-byte Poly1305 tag, then the
//! XSalsa20 ciphertext (NaCl's `crypto_box` output without its 16 leading zero bytes).
//! Callers lay out `[16 bytes for the tag][plaintext]` and seal or open in place.
//!
//! Under `cfg(fuzzing)` sealing copies the plaintext and writes an all-zero tag,
//! opening checks that the tag is all zero, and "random" bytes are a fixed pattern, so
//! a fuzzer can craft inputs that get past every MAC check (the idea of rustls'
//! fuzzing crypto provider). Normal builds never compile that code.

/// Length of the Poly1305 tag in front of every box.
pub(crate) const TAG_LEN: usize = 16;

/// Fills `buf` with random bytes.
#[cfg(not(fuzzing))]
pub(crate) fn random_bytes(buf: &mut [u8]) {
    use crypto_box::aead::rand_core::RngCore;
    crypto_box::aead::OsRng.fill_bytes(buf);
}

/// Fills `buf` with a fixed pattern: fuzzing runs must be reproducible.
#[cfg(fuzzing)]
pub(crate) fn random_bytes(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i as u8) ^ 0xA5;
    }
}

/// The X25519 public key of `secret` (`crypto_scalarmult_base`).
pub(crate) fn public_key(secret: &[u8; 32]) -> [u8; 32] {
    crypto_box::SecretKey::from_bytes(*secret)
        .public_key()
        .to_bytes()
}

/// A `crypto_box` between one of our secret keys and one of the peer's public keys,
/// with the shared key computed once (`crypto_box_beforenm`).
pub(crate) struct PeerBox {
    #[cfg(not(fuzzing))]
    inner: crypto_box::SalsaBox,
}

impl PeerBox {
    pub(crate) fn new(their_public: &[u8; 32], our_secret: &[u8; 32]) -> Self {
        #[cfg(not(fuzzing))]
        {
            let secret = crypto_box::SecretKey::from_bytes(*our_secret);
            let public = crypto_box::PublicKey::from_bytes(*their_public);
            PeerBox {
                inner: crypto_box::SalsaBox::new(&public, &secret),
            }
        }
        #[cfg(fuzzing)]
        {
            let _ = (their_public, our_secret);
            PeerBox {}
        }
    }

    /// Seals `buf[TAG_LEN..]` in place and writes the tag into `buf[..TAG_LEN]`.
    pub(crate) fn seal(&self, nonce: &[u8; 24], buf: &mut [u8]) {
        #[cfg(not(fuzzing))]
        aead_seal(&self.inner, nonce, buf);
        #[cfg(fuzzing)]
        null_seal(nonce, buf);
    }

    /// Opens `buf` (tag, then ciphertext) in place: on success `buf[TAG_LEN..]` holds
    /// the plaintext. Returns false when the box does not open or is too short.
    #[must_use]
    pub(crate) fn open(&self, nonce: &[u8; 24], buf: &mut [u8]) -> bool {
        #[cfg(not(fuzzing))]
        return aead_open(&self.inner, nonce, buf);
        #[cfg(fuzzing)]
        return null_open(nonce, buf);
    }
}

impl std::fmt::Debug for PeerBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerBox(<shared key>)")
    }
}

/// A `crypto_secretbox` under a symmetric key (the server's per-connection cookie key).
pub(crate) struct SecretBox {
    #[cfg(not(fuzzing))]
    inner: crypto_secretbox::XSalsa20Poly1305,
}

impl SecretBox {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        #[cfg(not(fuzzing))]
        {
            use crypto_secretbox::KeyInit;
            SecretBox {
                inner: crypto_secretbox::XSalsa20Poly1305::new(key.into()),
            }
        }
        #[cfg(fuzzing)]
        {
            let _ = key;
            SecretBox {}
        }
    }

    /// Like [`PeerBox::seal`].
    pub(crate) fn seal(&self, nonce: &[u8; 24], buf: &mut [u8]) {
        #[cfg(not(fuzzing))]
        aead_seal(&self.inner, nonce, buf);
        #[cfg(fuzzing)]
        null_seal(nonce, buf);
    }

    /// Like [`PeerBox::open`].
    #[must_use]
    pub(crate) fn open(&self, nonce: &[u8; 24], buf: &mut [u8]) -> bool {
        #[cfg(not(fuzzing))]
        return aead_open(&self.inner, nonce, buf);
        #[cfg(fuzzing)]
        return null_open(nonce, buf);
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

#[cfg(not(fuzzing))]
fn aead_seal<A>(aead: &A, nonce: &[u8; 24], buf: &mut [u8])
where
    A: crypto_box::aead::AeadInPlace<NonceSize = crypto_box::aead::consts::U24>,
{
    let (tag, msg) = buf.split_at_mut(TAG_LEN);
    let t = aead
        .encrypt_in_place_detached(nonce.into(), b"", msg)
        .expect("XSalsa20Poly1305 only fails with associated data, and we pass none");
    tag.copy_from_slice(&t);
}

#[cfg(not(fuzzing))]
fn aead_open<A>(aead: &A, nonce: &[u8; 24], buf: &mut [u8]) -> bool
where
    A: crypto_box::aead::AeadInPlace<
        NonceSize = crypto_box::aead::consts::U24,
        TagSize = crypto_box::aead::consts::U16,
    >,
{
    if buf.len() < TAG_LEN {
        return false;
    }
    let (tag, msg) = buf.split_at_mut(TAG_LEN);
    let tag = crypto_box::aead::generic_array::GenericArray::from_slice(tag);
    aead.decrypt_in_place_detached(nonce.into(), b"", msg, tag)
        .is_ok()
}

#[cfg(fuzzing)]
fn null_seal(_nonce: &[u8; 24], buf: &mut [u8]) {
    buf[..TAG_LEN].fill(0);
}

#[cfg(fuzzing)]
fn null_open(_nonce: &[u8; 24], buf: &mut [u8]) -> bool {
    buf.len() >= TAG_LEN && buf[..TAG_LEN].iter().all(|&b| b == 0)
}

#[cfg(all(test, not(fuzzing)))]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const ALICE_SK: [u8; 32] = [
        0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66,
        0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9,
        0x2c, 0x2a,
    ];
    const BOB_PK: [u8; 32] = [
        0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2, 0xec, 0xe4, 0x35,
        0x37, 0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88,
        0x2b, 0x4f,
    ];

    /// Known answer from an independent implementation: libsodium's `crypto_box_easy`
    /// (the copy bundled with pyzmq 27.3, called through ctypes) on NaCl's `box.c` keys,
    /// a MESSAGE nonce and a flags byte + payload, as libzmq would box it.
    #[test]
    fn box_matches_libsodium() {
        let nonce = super::super::nonce::short(super::super::nonce::MESSAGE_FROM_CLIENT, 3);
        let plain = b"\x01ringmq libsodium cross-check";
        let mut buf = vec![0u8; TAG_LEN];
        buf.extend_from_slice(plain);
        let b = PeerBox::new(&BOB_PK, &ALICE_SK);
        b.seal(&nonce, &mut buf);
        assert_eq!(
            buf,
            unhex(
                "e5c937c7efb44bf6e396fa3186e802d999e18ef57e38cd453c40439068c705a2fe467f647e6e44\
                 428aa6680331"
            )
        );
        assert!(b.open(&nonce, &mut buf));
        assert_eq!(&buf[TAG_LEN..], plain);
        assert_eq!(
            public_key(&ALICE_SK).to_vec(),
            unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
    }

    /// `crypto_secretbox_easy` from the same libsodium, for the cookie box.
    #[test]
    fn secretbox_matches_libsodium() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let random: [u8; 16] = std::array::from_fn(|i| 100 + i as u8);
        let nonce = super::super::nonce::long(super::super::nonce::COOKIE, &random);
        let mut buf = vec![0u8; TAG_LEN];
        buf.extend((0..64).map(|i| i as u8));
        SecretBox::new(&key).seal(&nonce, &mut buf);
        assert_eq!(
            buf,
            unhex(
                "b6ed812cd0a5e726f74fd6ee5b52355112896d60ae2bc647b022bc5e7af90d5ed1041e632d5d2e\
                 41253dcdac31185266152d22e179e276c6b708548e25805175e0dc1e590d83dce90df31207e75ab010"
            )
        );
    }

    #[test]
    fn tampering_is_detected() {
        let a = crate::mechanism::curve::CurveKeyPair::generate();
        let b = crate::mechanism::curve::CurveKeyPair::generate();
        let ab = PeerBox::new(b.public(), a.secret());
        let ba = PeerBox::new(a.public(), b.secret());
        let nonce = [3u8; 24];
        let mut buf = vec![0u8; TAG_LEN + 5];
        buf[TAG_LEN..].copy_from_slice(b"hello");
        ab.seal(&nonce, &mut buf);
        for i in 0..buf.len() {
            let mut t = buf.clone();
            t[i] ^= 1;
            assert!(!ba.open(&nonce, &mut t), "flip at {i} not detected");
        }
        assert!(!ba.open(&[4u8; 24], &mut buf.clone()));
        assert!(!ba.open(&nonce, &mut [0u8; 3]));
        assert!(ba.open(&nonce, &mut buf));
        assert_eq!(&buf[TAG_LEN..], b"hello");
    }
}
