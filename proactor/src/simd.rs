//! SIMD kernels chosen at run time by CPU detection.
//!
//! Calling a function compiled for a CPU feature the build does not assume takes an
//! `unsafe` call, and this crate is the project's one home for `unsafe`. So the kernel
//! that needs it lives here, behind a safe function that hands it out only on a CPU
//! that has the feature: eight Salsa20 blocks at once with AVX2, for the CURVE
//! mechanism of `ringmq-zmtp` (its portable and SSE2 paths stay there). It computes
//! blocks only; keys, nonces and the box construction stay in the protocol crate,
//! which also checks this kernel against its portable Salsa20 in its property tests.

/// Bytes of keystream [`salsa20_x8`]'s kernel produces per call: eight 64-byte blocks.
pub const SALSA20_X8_BYTES: usize = 512;

/// Salsa20's double round: the eight quarter rounds, column round then row round, as
/// calls `$quarter($x, a, b, c, d)` with constant word indices. The one schedule of
/// every Salsa20 path (this module's kernel, and `ringmq-zmtp`'s SSE2 and portable
/// ones); a macro, so each path keeps constant indices and its own `quarter`.
#[macro_export]
macro_rules! salsa20_double_round {
    ($quarter:ident, $x:expr) => {
        $quarter($x, 0, 4, 8, 12);
        $quarter($x, 5, 9, 13, 1);
        $quarter($x, 10, 14, 2, 6);
        $quarter($x, 15, 3, 7, 11);
        $quarter($x, 0, 1, 2, 3);
        $quarter($x, 5, 6, 7, 4);
        $quarter($x, 10, 11, 8, 9);
        $quarter($x, 15, 12, 13, 14);
    };
}

/// A kernel computing keystream blocks `counter` to `counter + 7` of a Salsa20 input
/// matrix (words 8 and 9 hold the 64-bit block counter), in block order.
pub type Salsa20X8 = fn(&[u32; 16]) -> [u8; SALSA20_X8_BYTES];

/// The AVX2 Salsa20 kernel when this CPU has AVX2, else `None` (the caller keeps its
/// own path). Detection is cached by the standard library; call this once and keep
/// the pointer.
pub fn salsa20_x8() -> Option<Salsa20X8> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return Some(avx2::checked_blocks8);
    }
    None
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_add_epi32, _mm256_castsi256_si128, _mm256_extracti128_si256,
        _mm256_or_si256, _mm256_set1_epi32, _mm256_setr_epi32, _mm256_slli_epi32,
        _mm256_srli_epi32, _mm256_unpackhi_epi32, _mm256_unpackhi_epi64, _mm256_unpacklo_epi32,
        _mm256_unpacklo_epi64, _mm256_xor_si256, _mm_storeu_si128,
    };

    use super::SALSA20_X8_BYTES;

    /// [`blocks8`] for callers that cannot name the CPU feature. Private: the only way
    /// to reach it is through [`super::salsa20_x8`], which returns it after detecting
    /// AVX2.
    pub(super) fn checked_blocks8(input: &[u32; 16]) -> [u8; SALSA20_X8_BYTES] {
        // SAFETY: `blocks8` needs AVX2, and this function is only handed out by
        // `salsa20_x8` once `is_x86_feature_detected!("avx2")` returned true.
        unsafe { blocks8(input) }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn step<const L: i32, const R: i32>(x: __m256i, y: __m256i, z: __m256i) -> __m256i {
        let t = _mm256_add_epi32(y, z);
        _mm256_xor_si256(
            x,
            _mm256_or_si256(_mm256_slli_epi32::<L>(t), _mm256_srli_epi32::<R>(t)),
        )
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn quarter(x: &mut [__m256i; 16], a: usize, b: usize, c: usize, d: usize) {
        x[b] = step::<7, 25>(x[b], x[a], x[d]);
        x[c] = step::<9, 23>(x[c], x[b], x[a]);
        x[d] = step::<13, 19>(x[d], x[c], x[b]);
        x[a] = step::<18, 14>(x[a], x[d], x[c]);
    }

    /// Eight blocks, one per 32-bit lane of each state word (lane i is block
    /// counter + i), then transposed back to block order.
    #[target_feature(enable = "avx2")]
    unsafe fn blocks8(input: &[u32; 16]) -> [u8; SALSA20_X8_BYTES] {
        let counter = u64::from(input[8]) | u64::from(input[9]) << 32;
        let lane = |i: u64| counter.wrapping_add(i);
        let lo = |i: u64| lane(i) as u32 as i32;
        let hi = |i: u64| (lane(i) >> 32) as u32 as i32;
        let mut start = [_mm256_set1_epi32(0); 16];
        for (s, &w) in start.iter_mut().zip(input) {
            *s = _mm256_set1_epi32(w as i32);
        }
        start[8] = _mm256_setr_epi32(lo(0), lo(1), lo(2), lo(3), lo(4), lo(5), lo(6), lo(7));
        start[9] = _mm256_setr_epi32(hi(0), hi(1), hi(2), hi(3), hi(4), hi(5), hi(6), hi(7));
        let mut x = start;
        for _ in 0..10 {
            crate::salsa20_double_round!(quarter, &mut x);
        }
        let mut out = [0u8; SALSA20_X8_BYTES];
        for group in 0..4 {
            let w = 4 * group;
            let a: [__m256i; 4] = std::array::from_fn(|i| _mm256_add_epi32(x[w + i], start[w + i]));
            // 4x4 transposes inside each 128-bit half: the low halves hold blocks 0-3,
            // the high halves blocks 4-7.
            let t0 = _mm256_unpacklo_epi32(a[0], a[1]);
            let t1 = _mm256_unpacklo_epi32(a[2], a[3]);
            let t2 = _mm256_unpackhi_epi32(a[0], a[1]);
            let t3 = _mm256_unpackhi_epi32(a[2], a[3]);
            let rows = [
                _mm256_unpacklo_epi64(t0, t1),
                _mm256_unpackhi_epi64(t0, t1),
                _mm256_unpacklo_epi64(t2, t3),
                _mm256_unpackhi_epi64(t2, t3),
            ];
            for (block, row) in rows.into_iter().enumerate() {
                let halves: [__m128i; 2] = [
                    _mm256_castsi256_si128(row),
                    _mm256_extracti128_si256::<1>(row),
                ];
                for (half, part) in halves.into_iter().enumerate() {
                    let at = (block + 4 * half) * 64 + group * 16;
                    let dst = &mut out[at..at + 16];
                    // SAFETY: `dst` is 16 writable bytes, what an unaligned 128-bit
                    // store writes.
                    unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), part) };
                }
            }
        }
        out
    }
}
