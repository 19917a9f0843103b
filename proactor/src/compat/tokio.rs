//! Receiving into ringmq buffers through tokio's [`ReadBuf`].
//!
//! tokio's readiness-based streams read into a `ReadBuf`, which tracks which bytes are
//! initialised with safe code. [`read_into_spare`] lends the spare capacity of an
//! [`IoBufMut`] as such a `ReadBuf` and extends the buffer by what was filled, so the
//! `ringmq-tokio` adapter needs no `unsafe`.

use std::mem::MaybeUninit;

use tokio::io::ReadBuf;

use crate::IoBufMut;

/// Calls `read` with a [`ReadBuf`] over the spare capacity `[len, capacity)` of `buf`,
/// then appends the bytes it filled to `buf`'s initialised length. Returns what `read`
/// returned.
///
/// If `read` replaces the `ReadBuf` with one over other memory, nothing is appended.
pub fn read_into_spare<B: IoBufMut, R>(buf: &mut B, read: impl FnOnce(&mut ReadBuf<'_>) -> R) -> R {
    let len = buf.buf_len();
    let cap = buf.buf_capacity();
    let spare_len = cap.saturating_sub(len);
    let base = buf.as_buf_mut_ptr();
    // SAFETY: `IoBufMut` guarantees `cap` bytes of storage at `base`, valid and unmoved
    // while `buf` is borrowed (we hold `&mut buf` for the whole function, and nothing
    // else touches it); `len <= cap` (checked by `saturating_sub`, which makes the view
    // empty otherwise) keeps `[len, cap)` inside the storage. `MaybeUninit<u8>` has the
    // layout of `u8` and no validity requirement, so viewing any bytes as it is sound,
    // and the view is dropped before `buf` is used again.
    let spare: &mut [MaybeUninit<u8>] = unsafe {
        std::slice::from_raw_parts_mut(base.add(len.min(cap)).cast::<MaybeUninit<u8>>(), spare_len)
    };
    let spare_ptr = spare.as_ptr().cast::<u8>();
    let mut rb = ReadBuf::uninit(spare);
    let out = read(&mut rb);
    let filled = rb.filled();
    // `ReadBuf` only lets safe code mark bytes filled after writing them; check that
    // `read` did not swap in a `ReadBuf` over other memory before trusting the count.
    if filled.as_ptr() == spare_ptr && rb.capacity() == spare_len {
        let n = filled.len();
        // SAFETY: the first `n` bytes of the spare capacity were filled (the `ReadBuf`
        // invariant, over the memory we lent it, as checked above), and
        // `len + n <= len + spare_len = cap`, so the first `len + n` bytes of `buf`
        // are initialised.
        unsafe { buf.set_buf_len(len + n) };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_what_was_filled() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"ab");
        let spare = v.capacity() - 2;
        let r = read_into_spare(&mut v, |rb| {
            assert_eq!(rb.remaining(), spare);
            rb.put_slice(b"cde");
            7
        });
        assert_eq!(r, 7);
        assert_eq!(v, b"abcde");
    }

    #[test]
    fn a_swapped_readbuf_appends_nothing() {
        let mut v = Vec::with_capacity(8);
        let other: &'static mut [u8] = Box::leak(vec![0u8; 8].into_boxed_slice());
        read_into_spare(&mut v, |rb| {
            let mut o = ReadBuf::new(other);
            o.put_slice(b"xyz");
            std::mem::swap(rb, &mut o);
        });
        assert!(v.is_empty());
    }
}
