//! The NaCl primitives CURVE is built from, behind one narrow face.
//!
//! Boxes travel as libzmq puts them on the wire: the 16-byte Poly1305 tag, then the
//! XSalsa20 ciphertext (NaCl's `crypto_box` output without its 16 leading zero bytes).
//! Callers lay out `[16 bytes for the tag][plaintext]` and seal or open in place.
//! X25519 is curve25519-dalek's; XSalsa20-Poly1305 is [`super::nacl`].
//!
//! Under `cfg(fuzzing)` sealing leaves the plaintext as it is and writes an all-zero
//! tag, opening checks that the tag is all zero, and "random" bytes are a fixed
//! pattern, so a fuzzer can craft inputs that get past every MAC check (the idea of
//! rustls' fuzzing crypto provider). Normal builds never compile that code.

use zeroize::Zeroizing;

#[cfg(not(fuzzing))]
use super::nacl;

/// Length of the Poly1305 tag in front of every box.
pub(crate) const TAG_LEN: usize = 16;

/// Fills `buf` with random bytes.
#[cfg(not(fuzzing))]
pub(crate) fn random_bytes(buf: &mut [u8]) {
    getrandom::getrandom(buf).expect("the operating system's random number generator failed");
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
    curve25519_dalek::MontgomeryPoint::mul_base_clamped(*secret).to_bytes()
}

/// `crypto_box_beforenm`: HSalsa20 of the X25519 shared secret, with a zero nonce.
#[cfg(not(fuzzing))]
fn beforenm(their_public: &[u8; 32], our_secret: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let shared =
        Zeroizing::new(curve25519_dalek::MontgomeryPoint(*their_public).mul_clamped(*our_secret));
    Zeroizing::new(nacl::hsalsa20(&shared.0, &[0; 16]))
}

/// Splits `[tag][message]`; None when too short for a tag.
fn split_box(buf: &mut [u8]) -> Option<(&mut [u8; TAG_LEN], &mut [u8])> {
    if buf.len() < TAG_LEN {
        return None;
    }
    let (tag, msg) = buf.split_at_mut(TAG_LEN);
    Some((tag.try_into().expect("TAG_LEN bytes"), msg))
}

/// A `crypto_box` between one of our secret keys and one of the peer's public keys,
/// with the shared key computed once (`crypto_box_beforenm`).
pub(crate) struct PeerBox {
    key: Zeroizing<[u8; 32]>,
}

impl PeerBox {
    pub(crate) fn new(their_public: &[u8; 32], our_secret: &[u8; 32]) -> Self {
        #[cfg(not(fuzzing))]
        let key = beforenm(their_public, our_secret);
        #[cfg(fuzzing)]
        let key = {
            let _ = (their_public, our_secret);
            Zeroizing::new([0; 32])
        };
        PeerBox { key }
    }

    /// Seals `buf[TAG_LEN..]` in place and writes the tag into `buf[..TAG_LEN]`.
    pub(crate) fn seal(&self, nonce: &[u8; 24], buf: &mut [u8]) {
        SecretBox::with_key(&self.key).seal(nonce, buf);
    }

    /// Opens `buf` (tag, then ciphertext) in place: on success `buf[TAG_LEN..]` holds
    /// the plaintext. Returns false when the box does not open or is too short.
    #[must_use]
    pub(crate) fn open(&self, nonce: &[u8; 24], buf: &mut [u8]) -> bool {
        SecretBox::with_key(&self.key).open(nonce, buf)
    }

    /// The box for MESSAGE nonces starting with `prefix`, under the same key.
    pub(crate) fn message_box(&self, prefix: &'static [u8; 16]) -> MessageBox {
        #[cfg(not(fuzzing))]
        return MessageBox {
            inner: nacl::PrefixBox::new(&self.key, prefix),
        };
        #[cfg(fuzzing)]
        {
            let _ = prefix;
            MessageBox {}
        }
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
    inner: nacl::SecretBox,
}

impl SecretBox {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self::with_key(key)
    }

    fn with_key(key: &[u8; 32]) -> Self {
        #[cfg(not(fuzzing))]
        return SecretBox {
            inner: nacl::SecretBox::new(key),
        };
        #[cfg(fuzzing)]
        {
            let _ = key;
            SecretBox {}
        }
    }

    /// Like [`PeerBox::seal`].
    pub(crate) fn seal(&self, nonce: &[u8; 24], buf: &mut [u8]) {
        let (tag, msg) = split_box(buf).expect("the caller left room for the tag");
        #[cfg(not(fuzzing))]
        {
            *tag = self.inner.seal_in_place(nonce, msg);
        }
        #[cfg(fuzzing)]
        null_seal(nonce, tag, msg);
    }

    /// Like [`PeerBox::open`].
    #[must_use]
    pub(crate) fn open(&self, nonce: &[u8; 24], buf: &mut [u8]) -> bool {
        let Some((tag, msg)) = split_box(buf) else {
            return false;
        };
        #[cfg(not(fuzzing))]
        return self.inner.open_in_place(nonce, msg, tag);
        #[cfg(fuzzing)]
        return null_open(nonce, tag, msg);
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

/// The MESSAGE box of one direction: nonce = a fixed 16-byte prefix + the 8-byte
/// counter, so the XSalsa20 subkey is derived once per connection and direction.
pub(crate) struct MessageBox {
    #[cfg(not(fuzzing))]
    inner: nacl::PrefixBox,
}

impl MessageBox {
    /// Seals `buf[TAG_LEN..]` in place under short nonce `counter`, tag in front.
    pub(crate) fn seal(&self, counter: u64, buf: &mut [u8]) {
        let (tag, msg) = split_box(buf).expect("the caller left room for the tag");
        #[cfg(not(fuzzing))]
        {
            *tag = self.inner.seal_in_place(counter, msg);
        }
        #[cfg(fuzzing)]
        null_seal(&counter, tag, msg);
    }

    /// Opens `buf` (tag, then ciphertext) in place under short nonce `counter`.
    #[must_use]
    pub(crate) fn open(&self, counter: u64, buf: &mut [u8]) -> bool {
        let Some((tag, msg)) = split_box(buf) else {
            return false;
        };
        #[cfg(not(fuzzing))]
        return self.inner.open_in_place(counter, msg, tag);
        #[cfg(fuzzing)]
        return null_open(&counter, tag, msg);
    }
}

impl std::fmt::Debug for MessageBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageBox(<key>)")
    }
}

#[cfg(fuzzing)]
fn null_seal<N: ?Sized>(_nonce: &N, tag: &mut [u8; TAG_LEN], _msg: &mut [u8]) {
    tag.fill(0);
}

#[cfg(fuzzing)]
fn null_open<N: ?Sized>(_nonce: &N, tag: &[u8; TAG_LEN], _msg: &mut [u8]) -> bool {
    tag.iter().all(|&b| b == 0)
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
