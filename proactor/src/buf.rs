//! Owned buffers handed to the kernel for the duration of an operation.
//!
//! A completion-based driver (io_uring) lets the kernel write into a buffer long after
//! the call that submitted the operation returned, and possibly after the future that
//! awaited it was dropped. So operations take buffers *by value* and hand them back in
//! a [`BufResult`] when the kernel is done; a cancelled operation keeps its buffer parked
//! inside the driver until the kernel completes it.

use std::io;

/// The result of an operation that owned a buffer: the I/O result and the buffer back.
#[must_use]
#[derive(Debug)]
pub struct BufResult<T, B>(pub io::Result<T>, pub B);

impl<T, B> BufResult<T, B> {
    /// Maps the success value, keeping the buffer.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> BufResult<U, B> {
        BufResult(self.0.map(f), self.1)
    }
}

/// A buffer whose initialised bytes `[0, buf_len)` can be read by the kernel.
///
/// # Safety
///
/// `as_buf_ptr` must point to at least `buf_len()` initialised bytes that stay valid and
/// unmoved while the value is alive and not accessed mutably, even when the value itself
/// is moved (heap storage, or `'static` memory). Drivers rely on this to hand the pointer
/// to the kernel.
pub unsafe trait IoBuf: Unpin + 'static {
    /// Start of the initialised bytes.
    fn as_buf_ptr(&self) -> *const u8;
    /// Number of initialised bytes.
    fn buf_len(&self) -> usize;
    /// The initialised bytes as a slice.
    fn as_slice(&self) -> &[u8] {
        // SAFETY: the trait contract guarantees `buf_len` initialised bytes at the pointer,
        // valid for as long as `self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.as_buf_ptr(), self.buf_len()) }
    }
    /// A view of `range` of this buffer that can itself be sent (for partial writes).
    fn slice(self, range: std::ops::Range<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        Slice::new(self, range)
    }
    /// A second handle to the same bytes that keeps them alive and unchanged for as long
    /// as it lives (a reference-counted or static buffer), or `None` when the buffer
    /// cannot be shared, which is what the default says.
    ///
    /// Zero-copy sends need it: the kernel reads the pages of such a send until its
    /// notification arrives, after the send itself has completed and handed the buffer
    /// back (see `Native::set_send_zc`). Implementations must return a handle whose
    /// bytes nobody can modify while either handle lives.
    fn share(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// A buffer the kernel can fill: receives *append* into the spare capacity
/// `[buf_len, buf_capacity)` and then extend the initialised length.
///
/// # Safety
///
/// `as_buf_mut_ptr` must point to `buf_capacity()` bytes of storage, valid and unmoved as
/// for [`IoBuf`]; `set_buf_len` must accept any length up to `buf_capacity()` once those
/// bytes were written.
pub unsafe trait IoBufMut: IoBuf {
    /// Start of the storage (the same address as [`IoBuf::as_buf_ptr`]).
    fn as_buf_mut_ptr(&mut self) -> *mut u8;
    /// Total bytes of storage, initialised or not.
    fn buf_capacity(&self) -> usize;
    /// Declares the first `len` bytes initialised.
    ///
    /// # Safety
    ///
    /// The first `len` bytes must have been written, and `len <= buf_capacity()`.
    unsafe fn set_buf_len(&mut self, len: usize);
}

/// A sub-range of an owned buffer, itself an [`IoBuf`]; `into_inner` returns the buffer.
#[derive(Debug)]
pub struct Slice<B> {
    buf: B,
    begin: usize,
    end: usize,
}

impl<B: IoBuf> Slice<B> {
    /// A view of `range` of `buf`; the range is clamped to the initialised bytes.
    pub fn new(buf: B, range: std::ops::Range<usize>) -> Self {
        let len = buf.buf_len();
        let end = range.end.min(len);
        let begin = range.start.min(end);
        Slice { buf, begin, end }
    }
    /// The whole underlying buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }
    /// Offset of this view in the underlying buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }
}

// SAFETY: the view stays within the initialised bytes of `buf` (clamped in `new`), and
// inherits the stability guarantee of `B`.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn as_buf_ptr(&self) -> *const u8 {
        // `begin <= buf_len`, so the offset stays inside (or one past) the allocation.
        self.buf.as_slice()[self.begin..].as_ptr()
    }
    fn buf_len(&self) -> usize {
        self.end - self.begin
    }
    fn share(&self) -> Option<Self> {
        Some(Slice {
            buf: self.buf.share()?,
            begin: self.begin,
            end: self.end,
        })
    }
}

// SAFETY: a Vec's heap storage does not move when the Vec is moved.
unsafe impl IoBuf for Vec<u8> {
    fn as_buf_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn buf_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `IoBuf`; `set_len` is only called under the caller's guarantee.
unsafe impl IoBufMut for Vec<u8> {
    fn as_buf_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn buf_capacity(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_buf_len(&mut self, len: usize) {
        // SAFETY: the caller guarantees `len <= capacity` and the bytes are initialised.
        unsafe { self.set_len(len) }
    }
}

// SAFETY: boxed storage does not move when the box is moved.
unsafe impl IoBuf for Box<[u8]> {
    fn as_buf_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn buf_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: `Bytes` points at reference-counted heap or static memory that never moves.
unsafe impl IoBuf for bytes::Bytes {
    fn as_buf_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn buf_len(&self) -> usize {
        self.len()
    }
    /// A clone: `Bytes` are immutable, and shared storage is never handed out as
    /// mutable (`try_into_mut` needs the only handle).
    fn share(&self) -> Option<Self> {
        Some(self.clone())
    }
}

// SAFETY: `BytesMut` storage is on the heap and does not move with the handle.
unsafe impl IoBuf for bytes::BytesMut {
    fn as_buf_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn buf_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `IoBuf`; `set_len` is only called under the caller's guarantee.
unsafe impl IoBufMut for bytes::BytesMut {
    fn as_buf_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn buf_capacity(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_buf_len(&mut self, len: usize) {
        // SAFETY: the caller guarantees `len <= capacity` and the bytes are initialised.
        unsafe { self.set_len(len) }
    }
}

// SAFETY: static memory lives forever and never moves.
unsafe impl IoBuf for &'static [u8] {
    fn as_buf_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn buf_len(&self) -> usize {
        self.len()
    }
    fn share(&self) -> Option<Self> {
        Some(*self)
    }
}
