//! The direct write of [`Proactor::try_send_vectored`](crate::Proactor::try_send_vectored)
//! for adapters whose runtime has no synchronous write of its own (compio, monoio):
//! one non-blocking `sendmsg` on the stream's descriptor.

use std::io;
use std::os::fd::AsRawFd;

use crate::{IoBuf, MAX_IOVECS};

/// Buffers passed without allocating; more go through a vector.
const STACK_IOVECS: usize = 64;

/// One non-blocking `sendmsg` of `bufs` (at most [`MAX_IOVECS`] of them) on the
/// connected socket `fd`, with `MSG_DONTWAIT | MSG_NOSIGNAL`, so the descriptor's own
/// blocking mode does not matter and a closed peer is an `EPIPE` error, not a signal.
///
/// Returns what [`Proactor::try_send_vectored`](crate::Proactor::try_send_vectored)
/// returns: `Some(Ok(n))` when `n` bytes went out, `Some(Err(_))` when the send failed,
/// `None` when the socket is full (nothing written). The caller must make sure no
/// asynchronous send is in flight on the same socket, or the bytes could overtake it.
pub fn try_send_vectored<B: IoBuf>(fd: &impl AsRawFd, bufs: &[B]) -> Option<io::Result<usize>> {
    let bufs = &bufs[..bufs.len().min(MAX_IOVECS)];
    let iov = |b: &B| libc::iovec {
        iov_base: b.as_buf_ptr().cast_mut().cast(),
        iov_len: b.buf_len(),
    };
    let empty = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let fd = fd.as_raw_fd();
    if bufs.len() <= STACK_IOVECS {
        let mut arr = [empty; STACK_IOVECS];
        for (slot, b) in arr.iter_mut().zip(bufs) {
            *slot = iov(b);
        }
        sendmsg(fd, &arr[..bufs.len()])
    } else {
        let v: Vec<libc::iovec> = bufs.iter().map(iov).collect();
        sendmsg(fd, &v)
    }
}

fn sendmsg(fd: libc::c_int, iovs: &[libc::iovec]) -> Option<io::Result<usize>> {
    // SAFETY: an all-zero msghdr is valid (no address, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iovs.as_ptr().cast_mut();
    msg.msg_iovlen = iovs.len() as _;
    loop {
        // SAFETY: the header points at `iovs`, whose entries describe initialised bytes
        // of buffers borrowed by the caller for the duration of this call; the kernel
        // only reads them. A descriptor that is not a socket is an error, not UB.
        let r = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Some(Ok(r as usize));
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => return None,
            _ => return Some(Err(e)),
        }
    }
}
