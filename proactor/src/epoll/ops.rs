//! The socket operations of the epoll driver: try, and wait for readiness on
//! `WouldBlock`.

use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use super::Driver;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::net::Socket;
use crate::sys::{self, cvt, own_fd, MsgBuf, SockAddr};
use crate::MAX_IO_LEN;

fn ssize(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

impl Driver {
    /// Runs `call` until it does not block, waiting for readiness in between.
    async fn retry<T>(
        &self,
        sock: &Socket,
        write: bool,
        mut call: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            match call() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    #[cfg(test)]
                    if !write {
                        self.read_would_block.set(self.read_would_block.get() + 1);
                    }
                    self.ready(sock, write).await?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    pub(crate) async fn accept(&self, listener: &Rc<Socket>) -> io::Result<Rc<Socket>> {
        let lfd = listener.raw();
        let fd = self
            .retry(listener, false, || {
                // SAFETY: null address pointers are allowed; the flags are valid.
                cvt(unsafe {
                    libc::accept4(
                        lfd,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                    )
                })
            })
            .await?;
        // SAFETY: accept4 returned a new descriptor that nobody owns yet.
        Ok(Socket::new(unsafe { own_fd(fd) }, listener.tcp))
    }

    /// Connects `fd`, a new non-blocking socket of `addr`'s family.
    pub(crate) async fn connect(
        &self,
        fd: OwnedFd,
        addr: &SockAddr,
        tcp: bool,
    ) -> io::Result<Rc<Socket>> {
        let sock = Socket::new(fd, tcp);
        // SAFETY: the pointer and length describe an initialised socket address.
        let r = cvt(unsafe { libc::connect(sock.raw(), addr.as_ptr(), addr.len) });
        match r {
            Ok(_) => return Ok(sock),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        loop {
            self.ready(&sock, true).await?;
            if let Some(e) = sys::take_error(sock.raw())? {
                return Err(e);
            }
            // Writable without an error means connected, unless the wake was spurious.
            let mut sa = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: the pointers describe writable storage and its length.
            let r = unsafe { libc::getpeername(sock.raw(), sa.as_mut_ptr().cast(), &mut len) };
            if r == 0 {
                return Ok(sock);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOTCONN) {
                return Err(e);
            }
        }
    }

    pub(crate) async fn recv<B: IoBufMut>(&self, sock: &Socket, mut buf: B) -> BufResult<usize, B> {
        let start = buf.buf_len();
        let spare = (buf.buf_capacity() - start).min(MAX_IO_LEN);
        if spare == 0 {
            let e = io::Error::new(
                io::ErrorKind::InvalidInput,
                "recv buffer has no spare capacity",
            );
            return BufResult(Err(e), buf);
        }
        // SAFETY: `start <= capacity`, so the pointer stays inside the allocation.
        let ptr = unsafe { buf.as_buf_mut_ptr().add(start) };
        let fd = sock.raw();
        // The last read emptied the stream: the data this one wants comes with an edge.
        if self.is_drained(sock) {
            if let Err(e) = self.ready(sock, false).await {
                return BufResult(Err(e), buf);
            }
        }
        let r = self
            .retry(sock, false, || {
                // SAFETY: `ptr` points to `spare` writable bytes owned by `buf`, which
                // this future owns.
                ssize(unsafe { libc::recv(fd, ptr.cast(), spare, 0) })
            })
            .await;
        if let Ok(n) = r {
            // SAFETY: recv initialised `n <= spare` bytes after `start`.
            unsafe { buf.set_buf_len(start + n) };
            // A datagram is short by nature; a stream read short emptied the socket.
            if n > 0 && n < spare && !sock.datagram.get() {
                self.mark_drained(sock);
            }
        }
        BufResult(r, buf)
    }

    pub(crate) async fn send<B: IoBuf>(&self, sock: &Socket, buf: B) -> BufResult<usize, B> {
        let fd = sock.raw();
        let (ptr, len) = (buf.as_buf_ptr(), buf.buf_len().min(MAX_IO_LEN));
        let r = self
            .retry(sock, true, || {
                // SAFETY: `ptr` points to `len` initialised bytes owned by `buf`.
                ssize(unsafe { libc::send(fd, ptr.cast(), len, libc::MSG_NOSIGNAL) })
            })
            .await;
        BufResult(r, buf)
    }

    /// [`crate::Proactor::try_send_vectored`]: one non-blocking `sendmsg`.
    pub(crate) fn try_send_vectored<B: IoBuf>(
        &self,
        sock: &Socket,
        cache: &mut Option<Box<MsgBuf>>,
        bufs: &[B],
    ) -> Option<io::Result<usize>> {
        let fd = sock.raw();
        MsgBuf::with_filled(cache, bufs, |msg| loop {
            // SAFETY: the header points at iovecs describing buffers borrowed from
            // `bufs` for the duration of the call.
            match ssize(unsafe { libc::sendmsg(fd, msg, libc::MSG_NOSIGNAL) }) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break None,
                r => break Some(r),
            }
        })
    }

    pub(crate) async fn send_vectored<B: IoBuf>(
        &self,
        sock: &Socket,
        cache: &mut Option<Box<MsgBuf>>,
        bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        let mut msg = cache.take().unwrap_or_default();
        msg.fill(&bufs);
        let fd = sock.raw();
        let r = self
            .retry(sock, true, || {
                // SAFETY: the header points at iovecs describing buffers owned by `bufs`.
                ssize(unsafe { libc::sendmsg(fd, &msg.msg, libc::MSG_NOSIGNAL) })
            })
            .await;
        *cache = Some(msg);
        BufResult(r, bufs)
    }
}
