//! Eight Salsa20 blocks at once with AVX2, compiled only when the build enables AVX2
//! (`-C target-cpu=x86-64-v3` or `native`): like [`super::sse2::blocks4`] with 256-bit
//! vectors, which is how libsodium reaches its large-message speed. Choosing it at run
//! time instead would take an `unsafe` call to a `#[target_feature]` function, which
//! this crate does not allow itself.

use safe_arch::{
    add_i32_m256i, bitor_m256i, bitxor_m256i, extract_m128i_m256i, m256i, shl_imm_u32_m256i,
    shr_imm_u32_m256i, store_unaligned_m128i, unpack_high_i32_m256i, unpack_high_i64_m256i,
    unpack_low_i32_m256i, unpack_low_i64_m256i,
};

use super::salsa20::WIDE;

#[inline(always)]
fn step<const L: i32, const R: i32>(x: m256i, y: m256i, z: m256i) -> m256i {
    let t = add_i32_m256i(y, z);
    bitxor_m256i(
        x,
        bitor_m256i(shl_imm_u32_m256i::<L>(t), shr_imm_u32_m256i::<R>(t)),
    )
}

#[inline(always)]
fn quarter(x: &mut [m256i; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] = step::<7, 25>(x[b], x[a], x[d]);
    x[c] = step::<9, 23>(x[c], x[b], x[a]);
    x[d] = step::<13, 19>(x[d], x[c], x[b]);
    x[a] = step::<18, 14>(x[a], x[d], x[c]);
}

/// Blocks counter to counter + 7 of the keystream of `input` (a Salsa20 input matrix
/// with its counter set), in block order.
pub(crate) fn blocks8(input: &[u32; 16]) -> [u8; WIDE] {
    let counter = u64::from(input[8]) | u64::from(input[9]) << 32;
    let mut start = [m256i::default(); 16];
    for (s, &w) in start.iter_mut().zip(input) {
        *s = m256i::from([w; 8]);
    }
    let lane = |i: usize| counter.wrapping_add(i as u64);
    start[8] = m256i::from(std::array::from_fn::<u32, 8, _>(|i| lane(i) as u32));
    start[9] = m256i::from(std::array::from_fn::<u32, 8, _>(|i| (lane(i) >> 32) as u32));
    let mut x = start;
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 5, 9, 13, 1);
        quarter(&mut x, 10, 14, 2, 6);
        quarter(&mut x, 15, 3, 7, 11);
        quarter(&mut x, 0, 1, 2, 3);
        quarter(&mut x, 5, 6, 7, 4);
        quarter(&mut x, 10, 11, 8, 9);
        quarter(&mut x, 15, 12, 13, 14);
    }
    let mut out = [0u8; WIDE];
    for group in 0..4 {
        let w = 4 * group;
        let a: [m256i; 4] = std::array::from_fn(|i| add_i32_m256i(x[w + i], start[w + i]));
        // 4x4 transposes inside each 128-bit half: the low halves hold blocks 0-3,
        // the high halves blocks 4-7.
        let t0 = unpack_low_i32_m256i(a[0], a[1]);
        let t1 = unpack_low_i32_m256i(a[2], a[3]);
        let t2 = unpack_high_i32_m256i(a[0], a[1]);
        let t3 = unpack_high_i32_m256i(a[2], a[3]);
        let rows = [
            unpack_low_i64_m256i(t0, t1),
            unpack_high_i64_m256i(t0, t1),
            unpack_low_i64_m256i(t2, t3),
            unpack_high_i64_m256i(t2, t3),
        ];
        for (block, row) in rows.into_iter().enumerate() {
            for (half, part) in [extract_m128i_m256i::<0>(row), extract_m128i_m256i::<1>(row)]
                .into_iter()
                .enumerate()
            {
                let at = (block + 4 * half) * 64 + group * 16;
                let dst: &mut [u8; 16] = (&mut out[at..at + 16])
                    .try_into()
                    .expect("16-byte slice of the output");
                store_unaligned_m128i(dst, part);
            }
        }
    }
    out
}
