//! Salsa20 blocks with SSE2 (baseline on x86_64), through `safe_arch`,
//! which exposes the intrinsics as safe functions where the target feature is enabled
//! at compile time: calling `core::arch` intrinsics directly needs `unsafe`, even for a
//! feature every x86_64 CPU has.
//!
//! - [`blocks4`]: four blocks at once. Vector `x[i]` holds word `i` of the four blocks
//!   (one block per lane), so a round is the scalar round with every operation four
//!   lanes wide; the lanes differ only in the block counter (words 8 and 9). The output
//!   is transposed back to block order.
//! - [`blocks`]: one or two blocks, each as four vectors along its diagonals, so the
//!   four quarter-rounds of a column round run as one, and three lane shuffles turn
//!   the columns into rows and back (about 1.5 times fewer instructions than scalar).

use safe_arch::{
    add_i32_m128i, bitor_m128i, bitxor_m128i, m128i, shl_imm_u32_m128i, shr_imm_u32_m128i,
    shuffle_ai_f32_all_m128i, store_unaligned_m128i, unpack_high_i32_m128i, unpack_high_i64_m128i,
    unpack_low_i32_m128i, unpack_low_i64_m128i,
};

use super::salsa20::BLOCK;

#[inline(always)]
fn splat(w: u32) -> m128i {
    m128i::from([w; 4])
}

#[inline(always)]
fn step<const L: i32, const R: i32>(x: m128i, y: m128i, z: m128i) -> m128i {
    let t = add_i32_m128i(y, z);
    bitxor_m128i(
        x,
        bitor_m128i(shl_imm_u32_m128i::<L>(t), shr_imm_u32_m128i::<R>(t)),
    )
}

#[inline(always)]
fn quarter(x: &mut [m128i; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] = step::<7, 25>(x[b], x[a], x[d]);
    x[c] = step::<9, 23>(x[c], x[b], x[a]);
    x[d] = step::<13, 19>(x[d], x[c], x[b]);
    x[a] = step::<18, 14>(x[a], x[d], x[c]);
}

/// Blocks `input`'s counter to counter + 3 of the keystream of `input` (a Salsa20 input
/// matrix), in block order.
pub(crate) fn blocks4(input: &[u32; 16]) -> [u8; 4 * BLOCK] {
    let counter = u64::from(input[8]) | u64::from(input[9]) << 32;
    let mut start = [m128i::default(); 16];
    for (s, &w) in start.iter_mut().zip(input) {
        *s = splat(w);
    }
    // Per-lane 64-bit counters, split into their low and high words.
    let lane = |i: u64| counter.wrapping_add(i);
    let lo: [u32; 4] = std::array::from_fn(|i| lane(i as u64) as u32);
    let hi: [u32; 4] = std::array::from_fn(|i| (lane(i as u64) >> 32) as u32);
    start[8] = m128i::from(lo);
    start[9] = m128i::from(hi);
    let mut x = start;
    for _ in 0..10 {
        ringmq_proactor::salsa20_double_round!(quarter, &mut x);
    }
    let mut out = [0u8; 4 * BLOCK];
    for group in 0..4 {
        let w = 4 * group;
        let a0 = add_i32_m128i(x[w], start[w]);
        let a1 = add_i32_m128i(x[w + 1], start[w + 1]);
        let a2 = add_i32_m128i(x[w + 2], start[w + 2]);
        let a3 = add_i32_m128i(x[w + 3], start[w + 3]);
        // 4x4 transpose: lanes (blocks) become rows.
        let t0 = unpack_low_i32_m128i(a0, a1);
        let t1 = unpack_low_i32_m128i(a2, a3);
        let t2 = unpack_high_i32_m128i(a0, a1);
        let t3 = unpack_high_i32_m128i(a2, a3);
        let rows = [
            unpack_low_i64_m128i(t0, t1),
            unpack_high_i64_m128i(t0, t1),
            unpack_low_i64_m128i(t2, t3),
            unpack_high_i64_m128i(t2, t3),
        ];
        for (block, row) in rows.into_iter().enumerate() {
            let at = block * 64 + group * 16;
            let dst: &mut [u8; 16] = (&mut out[at..at + 16])
                .try_into()
                .expect("16-byte slice of a 256-byte array");
            store_unaligned_m128i(dst, row);
        }
    }
    out
}

/// Word indices of the diagonal vectors `a`, `b`, `c`, `d` (lane order).
const DIAGONALS: [[usize; 4]; 4] = [[0, 5, 10, 15], [4, 9, 14, 3], [8, 13, 2, 7], [12, 1, 6, 11]];

/// Keystream blocks of `inputs` (Salsa20 input matrices with their counters set),
/// computed side by side: one block's steps depend on each other, so a second block
/// fills the wait (two blocks cost about the time of one).
pub(crate) fn blocks<const N: usize>(inputs: [&[u32; 16]; N]) -> [[u8; BLOCK]; N] {
    let start: [[m128i; 4]; N] =
        inputs.map(|input| DIAGONALS.map(|d| m128i::from(d.map(|i| input[i]))));
    let mut x = start;
    for _ in 0..20 {
        // A column round on the diagonal layout, or a row round after the shuffles.
        for [a, b, _, d] in &mut x {
            *b = step::<7, 25>(*b, *a, *d);
        }
        for [a, b, c, _] in &mut x {
            *c = step::<9, 23>(*c, *b, *a);
        }
        for [_, b, c, d] in &mut x {
            *d = step::<13, 19>(*d, *c, *b);
        }
        for [a, _, c, d] in &mut x {
            *a = step::<18, 14>(*a, *d, *c);
        }
        // Columns to rows (and rows back to columns): the same three lane rotations.
        for [_, b, c, d] in &mut x {
            (*b, *c, *d) = (
                shuffle_ai_f32_all_m128i::<0x39>(*d),
                shuffle_ai_f32_all_m128i::<0x4E>(*c),
                shuffle_ai_f32_all_m128i::<0x93>(*b),
            );
        }
    }
    let mut out = [[0u8; BLOCK]; N];
    for ((o, v), s) in out.iter_mut().zip(x).zip(start) {
        let mut words = [0u32; 16];
        for ((v, s), idx) in v.into_iter().zip(s).zip(DIAGONALS) {
            let lanes: [u32; 4] = add_i32_m128i(v, s).into();
            for (w, i) in lanes.into_iter().zip(idx) {
                words[i] = w;
            }
        }
        for (o, w) in o.chunks_exact_mut(4).zip(words) {
            o.copy_from_slice(&w.to_le_bytes());
        }
    }
    out
}
