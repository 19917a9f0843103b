//! monoio 0.2 trait implementations for ringmq buffers.

use crate::{IoBuf, IoBufMut, MAX_IOVECS, MAX_IO_LEN};

/// A ringmq buffer to send through monoio: its initialised bytes, at most
/// [`MAX_IO_LEN`] of them (monoio cuts a longer length to 32 bits).
#[derive(Debug)]
pub struct SendBuf<B>(pub B);

// SAFETY: `crate::IoBuf` guarantees `buf_len` initialised bytes at `as_buf_ptr` that
// stay valid and unmoved while the value lives, even when it is moved, which is what
// monoio requires of `read_ptr`/`bytes_init`.
unsafe impl<B: IoBuf> monoio::buf::IoBuf for SendBuf<B> {
    fn read_ptr(&self) -> *const u8 {
        self.0.as_buf_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.0.buf_len().min(MAX_IO_LEN)
    }
}

/// A ringmq buffer to receive into through monoio: the view is the spare capacity
/// `[len, capacity)` of the wrapped buffer, so received bytes are appended; at most
/// [`MAX_IO_LEN`] bytes of it (monoio cuts a longer length to 32 bits).
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

// SAFETY: the pointer is `base` bytes into storage of `capacity` bytes that
// `crate::IoBufMut` guarantees valid and unmoved while the value lives; `bytes_total`
// is at most the rest of that storage; `set_init` forwards a length that monoio guarantees was
// written, offset by `base`, so it stays within capacity.
unsafe impl<B: IoBufMut> monoio::buf::IoBufMut for RecvBuf<B> {
    fn write_ptr(&mut self) -> *mut u8 {
        let base = self.base.min(self.buf.buf_capacity());
        // `wrapping_add` keeps this safe code; `base <= capacity` keeps it in bounds.
        self.buf.as_buf_mut_ptr().wrapping_add(base)
    }
    fn bytes_total(&mut self) -> usize {
        self.buf
            .buf_capacity()
            .saturating_sub(self.base)
            .min(MAX_IO_LEN)
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: monoio calls this with `pos <= bytes_total()` after the kernel wrote
        // `pos` bytes at `write_ptr()`, so the first `base + pos <= capacity` bytes of
        // the wrapped buffer are initialised.
        unsafe { self.buf.set_buf_len(self.base + pos) }
    }
}

/// Many ringmq buffers to send with one `writev` through monoio. At most
/// [`MAX_IOVECS`] of them are offered to the kernel per call.
#[derive(Debug)]
pub struct SendVec<B> {
    bufs: Vec<B>,
    iovecs: Vec<libc::iovec>,
}

impl<B: IoBuf> SendVec<B> {
    /// Builds the iovec array for `bufs` (the first [`MAX_IOVECS`] of them).
    pub fn new(bufs: Vec<B>) -> Self {
        let iovecs = bufs
            .iter()
            .take(MAX_IOVECS)
            .map(|b| libc::iovec {
                iov_base: b.as_buf_ptr().cast_mut().cast(),
                iov_len: b.buf_len(),
            })
            .collect();
        SendVec { bufs, iovecs }
    }

    /// The buffers back.
    pub fn into_inner(self) -> Vec<B> {
        self.bufs
    }
}

// SAFETY: `iovecs` is a heap array that is not modified after `new`, so its address is
// stable while the value lives, even when moved; every entry points at the initialised
// bytes of a buffer in `bufs`, which `crate::IoBuf` keeps valid and unmoved while the
// value lives (the buffers are never accessed mutably).
unsafe impl<B: IoBuf> monoio::buf::IoVecBuf for SendVec<B> {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iovecs.as_ptr()
    }
    fn read_iovec_len(&self) -> usize {
        self.iovecs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monoio::buf::{IoBufMut as _, IoVecBuf as _};

    #[test]
    fn recv_buf_appends_after_existing_bytes() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"abc");
        let start = v.as_ptr();
        let mut b = RecvBuf::new(v);
        assert_eq!(b.bytes_total(), 13);
        assert_eq!(b.write_ptr().cast_const(), start.wrapping_add(3));
        // SAFETY: nothing was written, and 0 bytes are declared.
        unsafe { b.set_init(0) };
        assert_eq!(b.into_inner(), b"abc");
    }

    #[test]
    fn views_are_clamped_to_max_io_len() {
        use monoio::buf::IoBuf as _;
        // Reserved, never touched: no memory becomes resident.
        let mut b = RecvBuf::new(Vec::<u8>::with_capacity(MAX_IO_LEN + 4096));
        assert_eq!(b.bytes_total(), MAX_IO_LEN);
        assert_eq!(RecvBuf::new(Vec::<u8>::with_capacity(10)).bytes_total(), 10);
        let zeros = vec![0u8; MAX_IO_LEN + 1];
        assert_eq!(SendBuf(zeros).bytes_init(), MAX_IO_LEN);
        assert_eq!(SendBuf(vec![1u8; 3]).bytes_init(), 3);
    }

    #[test]
    fn send_vec_offers_at_most_max_iovecs() {
        let v = SendVec::new(vec![&b"xy"[..]; MAX_IOVECS + 5]);
        assert_eq!(v.read_iovec_len(), MAX_IOVECS);
        assert_eq!(v.into_inner().len(), MAX_IOVECS + 5);
    }
}
