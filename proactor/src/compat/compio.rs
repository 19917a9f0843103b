//! compio-buf 0.8 trait implementations for ringmq buffers.

use std::mem::MaybeUninit;

use crate::{IoBuf, IoBufMut, MAX_IOVECS, MAX_IO_LEN};

/// A ringmq buffer to send through compio: its initialised bytes, at most
/// [`MAX_IO_LEN`] of them (compio cuts a longer length to 32 bits).
#[derive(Debug)]
pub struct SendBuf<B>(pub B);

impl<B: IoBuf> compio_buf::IoBuf for SendBuf<B> {
    fn as_init(&self) -> &[u8] {
        let s = self.0.as_slice();
        &s[..s.len().min(MAX_IO_LEN)]
    }
}

/// A ringmq buffer to receive into through compio: the view is the spare capacity
/// `[len, capacity)` of the wrapped buffer, so received bytes are appended; at most
/// [`MAX_IO_LEN`] bytes of it (io_uring refuses a longer receive).
#[derive(Debug)]
pub struct RecvBuf<B> {
    buf: B,
    base: usize,
}

impl<B: IoBufMut> RecvBuf<B> {
    /// Wraps `buf`; the bytes it already holds are kept.
    pub fn new(buf: B) -> Self {
        let base = buf.buf_len();
        RecvBuf { buf, base }
    }

    /// The wrapped buffer, with any received bytes appended.
    pub fn into_inner(self) -> B {
        self.buf
    }
}

impl<B: IoBufMut> compio_buf::IoBuf for RecvBuf<B> {
    fn as_init(&self) -> &[u8] {
        &self.buf.as_slice()[self.base..]
    }
}

impl<B: IoBufMut> compio_buf::SetLen for RecvBuf<B> {
    unsafe fn set_len(&mut self, len: usize) {
        // SAFETY: compio's contract on `set_len` is that `len <= as_uninit().len()`, which
        // is `capacity - base`, and that the bytes up to `len` of the view were written;
        // so `base + len <= capacity` and the first `base + len` bytes are initialised.
        unsafe { self.buf.set_buf_len(self.base + len) }
    }
}

impl<B: IoBufMut> compio_buf::IoBufMut for RecvBuf<B> {
    fn as_uninit(&mut self) -> &mut [MaybeUninit<u8>] {
        let cap = self.buf.buf_capacity();
        let base = self.base.min(cap);
        let len = (cap - base).min(MAX_IO_LEN);
        let ptr = self.buf.as_buf_mut_ptr();
        // SAFETY: `IoBufMut` guarantees `capacity` bytes of storage at `ptr`, valid while
        // `self` is borrowed; `base + len <= cap` keeps the view inside it.
        // `MaybeUninit<u8>` has the layout of `u8` and no validity requirement, so
        // viewing initialised or uninitialised bytes through it is sound, and the
        // `&mut self` borrow makes the slice the only access.
        unsafe { std::slice::from_raw_parts_mut(ptr.add(base).cast::<MaybeUninit<u8>>(), len) }
    }
}

/// Many ringmq buffers to send with one vectored write through compio. At most
/// [`MAX_IOVECS`] of them are offered to the kernel per call.
#[derive(Debug)]
pub struct SendVec<B>(pub Vec<B>);

impl<B: IoBuf> compio_buf::IoVectoredBuf for SendVec<B> {
    fn iter_slice(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().take(MAX_IOVECS).map(IoBuf::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compio_buf::{IoBuf as _, IoBufMut as _, SetLen as _};

    #[test]
    fn recv_buf_appends_after_existing_bytes() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"abc");
        let mut b = RecvBuf::new(v);
        assert_eq!(b.as_init(), b"");
        let spare = b.as_uninit();
        assert_eq!(spare.len(), 13);
        spare[0].write(b'd');
        spare[1].write(b'e');
        // SAFETY: two bytes of the view were just written.
        unsafe { b.set_len(2) };
        assert_eq!(b.as_init(), b"de");
        assert_eq!(b.into_inner(), b"abcde");
    }

    #[test]
    fn views_are_clamped_to_max_io_len() {
        // Reserved, never touched: no memory becomes resident.
        let mut b = RecvBuf::new(Vec::<u8>::with_capacity(MAX_IO_LEN + 4096));
        assert_eq!(b.as_uninit().len(), MAX_IO_LEN);
        let mut small = RecvBuf::new(Vec::<u8>::with_capacity(10));
        assert_eq!(small.as_uninit().len(), 10);
        let zeros = vec![0u8; MAX_IO_LEN + 1];
        assert_eq!(SendBuf(zeros).as_init().len(), MAX_IO_LEN);
        assert_eq!(SendBuf(vec![1u8; 3]).as_init(), [1, 1, 1]);
    }

    #[test]
    fn send_vec_offers_at_most_max_iovecs() {
        use compio_buf::IoVectoredBuf as _;
        let v = SendVec(vec![&b"x"[..]; MAX_IOVECS + 5]);
        assert_eq!(v.iter_slice().count(), MAX_IOVECS);
    }
}
