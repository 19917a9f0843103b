//! Poly1305 (RFC 8439 section 2.5), portable: the accumulator in three 64-bit limbs
//! (radix 2^64, the top limb holding the bits above 128), products in `u128`.
//! This is the structure of OpenSSL's and poly1305-donna's 64-bit code: clamping makes
//! the second limb of `r` a multiple of 4, so `2^128 r1 = 5/4 r1 (mod 2^130 - 5)` is
//! exact and a block costs five multiplications.

/// Bytes per Poly1305 block.
const BLOCK: usize = 16;

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// `r` (clamped) and its `5/4` multiple for the reduction.
#[derive(Clone, Copy)]
struct R {
    r0: u64,
    r1: u64,
    s1: u64,
}

impl R {
    fn new(r0: u64, r1: u64) -> Self {
        // r1 is a multiple of 4 (clamped), so r1 + r1/4 = 5 r1 / 4 exactly.
        R {
            r0,
            r1,
            s1: r1 + (r1 >> 2),
        }
    }
}

/// A Poly1305 computation under one 32-byte one-time key.
pub(crate) struct Poly1305 {
    r: R,
    s: [u64; 2],
    h: [u64; 3],
}

/// `(h0, h1, h2) * r`, partially reduced mod 2^130 - 5 (h2 stays small).
#[inline(always)]
fn mul(h: [u64; 3], r: R) -> [u64; 3] {
    let [h0, h1, h2] = h;
    let d0 = u128::from(h0) * u128::from(r.r0) + u128::from(h1) * u128::from(r.s1);
    let d1 = u128::from(h0) * u128::from(r.r1)
        + u128::from(h1) * u128::from(r.r0)
        + u128::from(h2 * r.s1);
    let d2 = h2 * r.r0;
    reduce(d0, d1, d2)
}

/// `d2 << 128 + d1 << 64 + d0`, with the bits from 130 up folded back times 5.
#[inline(always)]
fn reduce(d0: u128, d1: u128, d2: u64) -> [u64; 3] {
    let h0 = d0 as u64;
    let d1 = d1 + (d0 >> 64);
    let h1 = d1 as u64;
    let h2 = d2 + (d1 >> 64) as u64;
    let c = (h2 >> 2) + (h2 & !3);
    let (h0, carry) = h0.overflowing_add(c);
    let (h1, carry) = h1.overflowing_add(u64::from(carry));
    [h0, h1, (h2 & 3) + u64::from(carry)]
}

/// `h + m`, with `hibit` the 2^128 bit of the padded block.
#[inline(always)]
fn add(h: [u64; 3], m: &[u8], hibit: u64) -> [u64; 3] {
    let (h0, c) = h[0].overflowing_add(le64(&m[0..]));
    let (h1, c1) = h[1].overflowing_add(le64(&m[8..]));
    let (h1, c2) = h1.overflowing_add(u64::from(c));
    [h0, h1, h[2] + u64::from(c1) + u64::from(c2) + hibit]
}

impl Poly1305 {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let r = R::new(
            le64(&key[0..]) & 0x0FFF_FFFC_0FFF_FFFF,
            le64(&key[8..]) & 0x0FFF_FFFC_0FFF_FFFC,
        );
        Poly1305 {
            r,
            s: [le64(&key[16..]), le64(&key[24..])],
            h: [0; 3],
        }
    }

    /// Absorbs `data` and returns the tag (the message is given whole).
    pub(crate) fn mac(mut self, data: &[u8]) -> [u8; 16] {
        let mut blocks = data.chunks_exact(BLOCK);
        for block in &mut blocks {
            self.h = mul(add(self.h, block, 1), self.r);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; BLOCK];
            last[..rest.len()].copy_from_slice(rest);
            last[rest.len()] = 1;
            self.h = mul(add(self.h, &last, 0), self.r);
        }
        self.finish()
    }

    fn finish(self) -> [u8; 16] {
        let [h0, h1, h2] = self.h;
        // Fully reduce: subtract p when h >= p (add 5 and look at bit 130).
        let (g0, c) = h0.overflowing_add(5);
        let (g1, c) = h1.overflowing_add(u64::from(c));
        let g2 = h2 + u64::from(c);
        let mask = 0u64.wrapping_sub(g2 >> 2);
        let h0 = (h0 & !mask) | (g0 & mask);
        let h1 = (h1 & !mask) | (g1 & mask);
        let (t0, c) = h0.overflowing_add(self.s[0]);
        let t1 = h1.wrapping_add(self.s[1]).wrapping_add(u64::from(c));
        let mut tag = [0u8; 16];
        tag[..8].copy_from_slice(&t0.to_le_bytes());
        tag[8..].copy_from_slice(&t1.to_le_bytes());
        tag
    }
}
