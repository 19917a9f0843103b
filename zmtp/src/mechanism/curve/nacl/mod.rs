//! XSalsa20-Poly1305, the box of NaCl and libsodium (`crypto_secretbox`, and
//! `crypto_box` after `crypto_box_beforenm`), written for CURVE's MESSAGE path.
//!
//! Public for the benchmarks and cross-checks only; CURVE uses it through
//! `cipher.rs`. Boxes are detached: the caller keeps the 16-byte tag where the wire
//! format wants it, and the ciphertext has the plaintext's length.
//!
//! - Salsa20 runs four blocks at once with SSE2 on x86_64 (`safe_arch`, no `unsafe`
//!   here; single blocks along the diagonals), eight with AVX2 when the build enables
//!   it, and one block at a time in portable code elsewhere; Poly1305 is portable
//!   64-bit code.
//! - [`PrefixBox`] caches the HSalsa20 subkey of a 16-byte nonce prefix: CURVE's
//!   MESSAGE nonces are a fixed prefix per direction plus an 8-byte counter, so a
//!   connection derives its subkeys once instead of once per message (libsodium's
//!   `crypto_box_afternm` derives it on every call).

#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
mod avx2;
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
/// ciphertext.
fn seal(stream: &Salsa20, buf: &mut [u8]) -> [u8; TAG_LEN] {
    let block0 = stream.block(0);
    apply(stream, &block0, buf);
    mac(&block0, buf)
}

fn open(stream: &Salsa20, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
    let block0 = stream.block(0);
    if !tags_equal(&mac(&block0, buf), tag) {
        return false;
    }
    apply(stream, &block0, buf);
    true
}

fn apply(stream: &Salsa20, block0: &[u8; BLOCK], buf: &mut [u8]) {
    let first = buf.len().min(FIRST);
    let (head, rest) = buf.split_at_mut(first);
    xor_into(head, &block0[32..]);
    stream.xor(1, rest);
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
