//! XSalsa20-Poly1305, the box of NaCl and libsodium (`crypto_secretbox`, and
//! `crypto_box` after `crypto_box_beforenm`), written for CURVE's MESSAGE path.
//!
//! Public for the benchmarks and cross-checks only; CURVE uses it through
//! `cipher.rs`. Boxes are detached: the caller keeps the 16-byte tag where the wire
//! format wants it, and the ciphertext has the plaintext's length.
//!
//! - Salsa20 runs eight blocks at once with AVX2 where the CPU has it (detected at run
//!   time; the kernel is `ringmq_proactor::simd`'s, the crate that holds the project's
//!   `unsafe`), four with SSE2 on other x86_64 CPUs (`safe_arch`, no `unsafe` here;
//!   single blocks along the diagonals), and one block at a time in portable code
//!   elsewhere; Poly1305 is portable 64-bit code.
//! - [`PrefixBox`] caches the HSalsa20 subkey of a 16-byte nonce prefix: CURVE's
//!   MESSAGE nonces are a fixed prefix per direction plus an 8-byte counter, so a
//!   connection derives its subkeys once instead of once per message (libsodium's
//!   `crypto_box_afternm` derives it on every call).

mod poly1305;
mod salsa20;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2;
#[cfg(test)]
mod tests;

use zeroize::Zeroizing;

use poly1305::Poly1305;
#[cfg(not(fuzzing))]
pub(crate) use salsa20::hsalsa20;
use salsa20::{xor_into, Salsa20, BLOCK};

/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// Message bytes covered by the first keystream block (its first 32 bytes are the
/// Poly1305 key).
const FIRST: usize = BLOCK - 32;

/// XSalsa20-Poly1305 under a 32-byte key with full 24-byte nonces.
pub struct SecretBox {
    key: Zeroizing<[u8; 32]>,
}

impl SecretBox {
    /// A box under `key` (for `crypto_box`, the `crypto_box_beforenm` key).
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox {
            key: Zeroizing::new(*key),
        }
    }

    /// Encrypts `buf` in place; returns the tag.
    pub fn seal_in_place(&self, nonce: &[u8; 24], buf: &mut [u8]) -> [u8; TAG_LEN] {
        seal(&Salsa20::xsalsa20(&self.key, nonce), buf)
    }

    /// Checks `tag` and decrypts `buf` in place. On false `buf` is left as it was.
    #[must_use]
    pub fn open_in_place(&self, nonce: &[u8; 24], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        open(&Salsa20::xsalsa20(&self.key, nonce), buf, tag)
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

/// XSalsa20-Poly1305 for nonces that share their first 16 bytes: the same boxes as
/// [`SecretBox`] with nonce `prefix + counter`, the subkey derived once.
pub struct PrefixBox {
    subkey: Zeroizing<[u8; 32]>,
}

impl PrefixBox {
    /// A box under `key` for nonces starting with `prefix`.
    pub fn new(key: &[u8; 32], prefix: &[u8; 16]) -> Self {
        PrefixBox {
            subkey: Zeroizing::new(salsa20::hsalsa20(key, prefix)),
        }
    }

    fn stream(&self, counter: u64) -> Salsa20 {
        Salsa20::new(&self.subkey, &counter.to_be_bytes())
    }

    /// Encrypts `buf` in place under nonce `prefix + counter` (big-endian, as CURVE's
    /// short nonces); returns the tag.
    pub fn seal_in_place(&self, counter: u64, buf: &mut [u8]) -> [u8; TAG_LEN] {
        seal(&self.stream(counter), buf)
    }

    /// Checks `tag` and decrypts `buf` in place. On false `buf` is left as it was.
    #[must_use]
    pub fn open_in_place(&self, counter: u64, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        open(&self.stream(counter), buf, tag)
    }
}

impl std::fmt::Debug for PrefixBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrefixBox(<key>)")
    }
}

/// The NaCl secretbox construction: keystream block 0 gives the Poly1305 key and
/// covers the first 32 message bytes, blocks 1.. the rest; the tag is over the
/// ciphertext. Blocks 0 and 1 are made together when the message reaches block 1.
fn seal(stream: &Salsa20, buf: &mut [u8]) -> [u8; TAG_LEN] {
    let head = Head::new(stream, buf.len());
    head.apply(stream, buf);
    mac(head.block0(), buf)
}

fn open(stream: &Salsa20, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
    let head = Head::new(stream, buf.len());
    if !tags_equal(&mac(head.block0(), buf), tag) {
        return false;
    }
    head.apply(stream, buf);
    true
}

/// The first keystream block, and the second when the message needs it.
enum Head {
    One([u8; BLOCK]),
    Two([u8; 2 * BLOCK]),
}

impl Head {
    fn new(stream: &Salsa20, len: usize) -> Self {
        if len > FIRST {
            Head::Two(stream.pair(0))
        } else {
            Head::One(stream.block(0))
        }
    }

    fn block0(&self) -> &[u8; BLOCK] {
        match self {
            Head::One(b) => b,
            Head::Two(b) => b[..BLOCK].try_into().expect("two blocks"),
        }
    }

    /// XORs the message with the keystream from byte 32 of block 0 on.
    fn apply(&self, stream: &Salsa20, buf: &mut [u8]) {
        let keystream: &[u8] = match self {
            Head::One(b) => &b[32..],
            Head::Two(b) => &b[32..],
        };
        let first = buf.len().min(keystream.len());
        let (head, rest) = buf.split_at_mut(first);
        xor_into(head, keystream);
        stream.xor(2, rest);
    }
}

fn mac(block0: &[u8; BLOCK], ciphertext: &[u8]) -> [u8; TAG_LEN] {
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&block0[..32]);
    Poly1305::new(&key).mac(ciphertext)
}

/// Constant-time tag comparison.
fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}
