//! The socket operations of the io_uring driver.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::task::Poll;

use io_uring::{opcode, types};

use super::op::{Op, Orphan};
use super::Driver;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::net::Socket;
use crate::sys::{self, cvt_res, own_fd, MsgBuf, SockAddr};

struct AcceptData(#[allow(dead_code)] Rc<Socket>);
impl Orphan for AcceptData {
    fn finish(self, res: i32) {
        if res >= 0 {
            // SAFETY: a successful accept returned a new descriptor that nobody owns yet;
            // owning it closes it.
            drop(unsafe { own_fd(res) });
        }
    }
}

struct ConnectData {
    #[allow(dead_code)]
    fd: OwnedFd,
    addr: Box<SockAddr>,
}
impl Orphan for ConnectData {}

struct RecvData<B> {
    buf: B,
    start: usize,
    sock: Rc<Socket>,
}

impl<B: IoBufMut> Orphan for RecvData<B> {
    fn orphaned(&mut self) {
        self.sock.orphan_recv.set(true);
    }

    fn finish(self, res: i32) {
        if res > 0 {
            // SAFETY: the kernel wrote `res` bytes at `start` of the spare capacity, which
            // the buffer still owns.
            let got = unsafe {
                std::slice::from_raw_parts(self.buf.as_buf_ptr().add(self.start), res as usize)
            };
            self.sock.pending.borrow_mut().extend_from_slice(got);
        }
        if self.sock.orphan_recv.replace(false) {
            if let Some(w) = self.sock.orphan_waiter.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

struct SendData<B> {
    buf: B,
    #[allow(dead_code)]
    sock: Rc<Socket>,
}
impl<B: IoBuf> Orphan for SendData<B> {}

struct SendMsgData<B> {
    bufs: Vec<B>,
    msg: Box<MsgBuf>,
    #[allow(dead_code)]
    sock: Rc<Socket>,
}
impl<B: IoBuf> Orphan for SendMsgData<B> {}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Driver {
    pub(crate) async fn accept(&self, listener: &Rc<Socket>) -> io::Result<OwnedFd> {
        let fd = listener.raw();
        let op = Op::submit(self, AcceptData(listener.clone()), |_| {
            opcode::Accept::new(types::Fd(fd), std::ptr::null_mut(), std::ptr::null_mut())
                .flags(libc::SOCK_CLOEXEC)
                .build()
        });
        let (res, _) = op.await;
        let fd = cvt_res(res)?;
        // SAFETY: a successful accept returned a new descriptor that nobody owns yet.
        Ok(unsafe { own_fd(fd as i32) })
    }

    pub(crate) async fn connect(&self, addr: &SockAddr) -> io::Result<OwnedFd> {
        let fd = sys::socket(addr.family(), false)?;
        let raw = fd.as_raw_fd();
        let data = ConnectData {
            fd,
            addr: Box::new(*addr),
        };
        let (res, data) = Op::submit(self, data, |d| {
            opcode::Connect::new(types::Fd(raw), d.addr.as_ptr(), d.addr.len).build()
        })
        .await;
        cvt_res(res)?;
        Ok(data.fd)
    }

    pub(crate) async fn recv<B: IoBufMut>(
        &self,
        sock: &Rc<Socket>,
        mut buf: B,
    ) -> BufResult<usize, B> {
        let start = buf.buf_len();
        let spare = buf.buf_capacity() - start;
        if spare == 0 {
            return BufResult(Err(invalid("recv buffer has no spare capacity")), buf);
        }
        if sock.orphan_recv.get() {
            // A dropped recv is still in the kernel; its bytes come before any new ones.
            poll_fn(|cx| {
                if sock.orphan_recv.get() {
                    *sock.orphan_waiter.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
        }
        {
            let mut pending = sock.pending.borrow_mut();
            if !pending.is_empty() {
                let n = spare.min(pending.len());
                // SAFETY: `n` bytes fit in the spare capacity after `start`, and the
                // source is a distinct allocation.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        pending.as_ptr(),
                        buf.as_buf_mut_ptr().add(start),
                        n,
                    );
                    buf.set_buf_len(start + n);
                }
                pending.drain(..n);
                return BufResult(Ok(n), buf);
            }
        }
        let fd = sock.raw();
        let len = u32::try_from(spare).unwrap_or(u32::MAX);
        let data = RecvData {
            buf,
            start,
            sock: sock.clone(),
        };
        let (res, mut data) = Op::submit(self, data, |d| {
            // SAFETY: `start <= capacity`, so the pointer stays inside the allocation.
            let ptr = unsafe { d.buf.as_buf_mut_ptr().add(start) };
            opcode::Recv::new(types::Fd(fd), ptr, len).build()
        })
        .await;
        let r = cvt_res(res);
        if let Ok(n) = r {
            // SAFETY: the kernel initialised `n` bytes after `start`, within capacity.
            unsafe { data.buf.set_buf_len(start + n) };
        }
        BufResult(r, data.buf)
    }

    pub(crate) async fn send<B: IoBuf>(&self, sock: &Rc<Socket>, buf: B) -> BufResult<usize, B> {
        let fd = sock.raw();
        let len = u32::try_from(buf.buf_len()).unwrap_or(u32::MAX);
        let data = SendData {
            buf,
            sock: sock.clone(),
        };
        let (res, data) = Op::submit(self, data, |d| {
            opcode::Send::new(types::Fd(fd), d.buf.as_buf_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        })
        .await;
        BufResult(cvt_res(res), data.buf)
    }

    pub(crate) async fn send_vectored<B: IoBuf>(
        &self,
        sock: &Rc<Socket>,
        cache: &mut Option<Box<MsgBuf>>,
        bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        let mut msg = cache.take().unwrap_or_default();
        msg.fill(&bufs);
        let fd = sock.raw();
        let data = SendMsgData {
            bufs,
            msg,
            sock: sock.clone(),
        };
        let (res, data) = Op::submit(self, data, |d| {
            opcode::SendMsg::new(types::Fd(fd), &d.msg.msg)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
        })
        .await;
        *cache = Some(data.msg);
        BufResult(cvt_res(res), data.bufs)
    }
}
