//! Salsa20/20 and HSalsa20, the stream cipher of NaCl's boxes (XSalsa20 = HSalsa20 to
//! derive a subkey from the first 16 nonce bytes, then Salsa20 with the last 8).
//!
//! Keystream comes one 64-byte block at a time from portable scalar code, four blocks
//! at a time from [`super::sse2`] on x86_64, where SSE2 is part of the baseline, and
//! eight at a time from the AVX2 kernel of `ringmq_proactor::simd` when the CPU has
//! AVX2 (detected at run time; the kernel lives there because calling it takes
//! `unsafe`, which this crate does not allow itself).

use std::sync::OnceLock;

use ringmq_proactor::simd::{Salsa20X8, SALSA20_X8_BYTES};

/// "expand 32-byte k"
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Bytes per Salsa20 block.
pub(crate) const BLOCK: usize = 64;

/// Bytes the wide keystream function of this crate produces per call: four blocks
/// (SSE2 on x86_64, one block at a time elsewhere).
pub(crate) const WIDE: usize = 4 * BLOCK;

/// The AVX2 kernel when this CPU has it (looked up once).
pub(crate) fn kernel_x8() -> Option<Salsa20X8> {
    static KERNEL: OnceLock<Option<Salsa20X8>> = OnceLock::new();
    *KERNEL.get_or_init(ringmq_proactor::simd::salsa20_x8)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The Salsa20 input matrix for `key` and `nonce` (counter words 8 and 9 left at 0).
fn matrix(key: &[u8; 32], nonce: &[u8]) -> [u32; 16] {
    let k = |i: usize| le32(&key[4 * i..]);
    [
        SIGMA[0],
        k(0),
        k(1),
        k(2),
        k(3),
        SIGMA[1],
        le32(&nonce[0..]),
        le32(&nonce[4..]),
        if nonce.len() > 8 {
            le32(&nonce[8..])
        } else {
            0
        },
        if nonce.len() > 8 {
            le32(&nonce[12..])
        } else {
            0
        },
        SIGMA[2],
        k(4),
        k(5),
        k(6),
        k(7),
        SIGMA[3],
    ]
}

#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
    x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
    x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
    x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
}

/// The 20 rounds (10 double rounds), without the final addition.
#[inline(always)]
fn rounds(x: &mut [u32; 16]) {
    for _ in 0..10 {
        ringmq_proactor::salsa20_double_round!(quarter, x);
    }
}

/// HSalsa20: a 32-byte subkey from `key` and a 16-byte nonce (`crypto_core_hsalsa20`).
pub(crate) fn hsalsa20(key: &[u8; 32], nonce: &[u8; 16]) -> [u8; 32] {
    let mut x = matrix(key, nonce);
    rounds(&mut x);
    let mut out = [0u8; 32];
    for (o, i) in out.chunks_exact_mut(4).zip([0, 5, 10, 15, 6, 7, 8, 9]) {
        o.copy_from_slice(&x[i].to_le_bytes());
    }
    out
}

/// A Salsa20 keystream under one key and 8-byte nonce.
#[derive(Clone)]
pub(crate) struct Salsa20 {
    input: [u32; 16],
}

impl Salsa20 {
    /// Salsa20 with an 8-byte nonce.
    pub(crate) fn new(key: &[u8; 32], nonce: &[u8; 8]) -> Self {
        Salsa20 {
            input: matrix(key, nonce),
        }
    }

    /// XSalsa20 with a 24-byte nonce: HSalsa20 subkey, then Salsa20.
    pub(crate) fn xsalsa20(key: &[u8; 32], nonce: &[u8; 24]) -> Self {
        let mut first = [0u8; 16];
        first.copy_from_slice(&nonce[..16]);
        let mut last = [0u8; 8];
        last.copy_from_slice(&nonce[16..]);
        Salsa20::new(&hsalsa20(key, &first), &last)
    }

    /// The input matrix with the block counter set.
    fn at(&self, counter: u64) -> [u32; 16] {
        let mut x = self.input;
        x[8] = counter as u32;
        x[9] = (counter >> 32) as u32;
        x
    }

    /// Keystream block number `counter`.
    pub(crate) fn block(&self, counter: u64) -> [u8; BLOCK] {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        return super::sse2::blocks([&self.at(counter)])[0];
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        return self.block_scalar(counter);
    }

    /// Keystream blocks `counter` and `counter + 1`.
    pub(crate) fn pair(&self, counter: u64) -> [u8; 2 * BLOCK] {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        let [a, b] = super::sse2::blocks([&self.at(counter), &self.at(counter.wrapping_add(1))]);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        let (a, b) = (
            self.block_scalar(counter),
            self.block_scalar(counter.wrapping_add(1)),
        );
        let mut out = [0u8; 2 * BLOCK];
        out[..BLOCK].copy_from_slice(&a);
        out[BLOCK..].copy_from_slice(&b);
        out
    }

    /// [`Salsa20::block`] in portable scalar code (the path off x86_64, and the
    /// reference of the SIMD ones).
    #[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
    pub(crate) fn block_scalar(&self, counter: u64) -> [u8; BLOCK] {
        let input = self.at(counter);
        let mut x = input;
        rounds(&mut x);
        let mut out = [0u8; BLOCK];
        for ((o, a), b) in out.chunks_exact_mut(4).zip(x).zip(input) {
            o.copy_from_slice(&a.wrapping_add(b).to_le_bytes());
        }
        out
    }

    /// Keystream blocks `counter` to `counter + 3` (at once with SSE2).
    pub(crate) fn wide(&self, counter: u64) -> [u8; WIDE] {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        return super::sse2::blocks4(&self.at(counter));
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        return self.wide_scalar(counter);
    }

    /// Keystream blocks `counter` to `counter + 7` from `kernel`.
    pub(crate) fn wide_x8(&self, kernel: Salsa20X8, counter: u64) -> [u8; SALSA20_X8_BYTES] {
        kernel(&self.at(counter))
    }

    /// [`Salsa20::wide`] one block at a time (the portable path, and its reference).
    #[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
    pub(crate) fn wide_scalar(&self, counter: u64) -> [u8; WIDE] {
        let mut out = [0u8; WIDE];
        for (i, o) in out.chunks_exact_mut(BLOCK).enumerate() {
            o.copy_from_slice(&self.block_scalar(counter.wrapping_add(i as u64)));
        }
        out
    }

    /// XORs the keystream from the start of block `counter` into `data`.
    pub(crate) fn xor(&self, counter: u64, data: &mut [u8]) {
        self.xor_with(kernel_x8(), counter, data);
    }

    /// [`Salsa20::xor`] with the AVX2 kernel given (or none: SSE2 / portable only).
    pub(crate) fn xor_with(&self, x8: Option<Salsa20X8>, mut counter: u64, data: &mut [u8]) {
        let mut data = data;
        if data.len() >= SALSA20_X8_BYTES {
            if let Some(kernel) = x8 {
                let mut x8 = data.chunks_exact_mut(SALSA20_X8_BYTES);
                for chunk in &mut x8 {
                    xor_into(chunk, &self.wide_x8(kernel, counter));
                    counter = counter.wrapping_add((SALSA20_X8_BYTES / BLOCK) as u64);
                }
                data = x8.into_remainder();
            }
        }
        let mut wide = data.chunks_exact_mut(WIDE);
        for chunk in &mut wide {
            xor_into(chunk, &self.wide(counter));
            counter = counter.wrapping_add((WIDE / BLOCK) as u64);
        }
        for chunk in wide.into_remainder().chunks_mut(2 * BLOCK) {
            if chunk.len() > BLOCK {
                xor_into(chunk, &self.pair(counter));
            } else {
                xor_into(chunk, &self.block(counter));
            }
            counter = counter.wrapping_add(2);
        }
    }
}

/// `data ^= keystream` (keystream at least as long).
#[inline(always)]
pub(crate) fn xor_into(data: &mut [u8], keystream: &[u8]) {
    for (d, k) in data.iter_mut().zip(keystream) {
        *d ^= k;
    }
}
