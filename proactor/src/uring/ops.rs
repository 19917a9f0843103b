//! The socket operations of the io_uring driver.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::task::Poll;

use io_uring::{opcode, types};

use super::op::{Op, Orphan, OrphanDyn};
use super::{Driver, SEND_ZC_REPORT_USAGE};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::net::Socket;
use crate::sys::{cvt_res, own_fd, MsgBuf, SockAddr};
use crate::MAX_IO_LEN;

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

/// Counts a send in [`Socket::sends_in_flight`] from its submission until its data is
/// released (completion collected, or orphan finished).
struct SendGuard(Rc<Socket>);

impl SendGuard {
    fn new(sock: &Rc<Socket>) -> SendGuard {
        sock.sends_in_flight.set(sock.sends_in_flight.get() + 1);
        SendGuard(sock.clone())
    }
}

impl Drop for SendGuard {
    fn drop(&mut self) {
        self.0.sends_in_flight.set(self.0.sends_in_flight.get() - 1);
    }
}

struct SendData<B> {
    buf: B,
    #[allow(dead_code)]
    guard: SendGuard,
}
impl<B: IoBuf> Orphan for SendData<B> {}

struct SendMsgData<B> {
    bufs: Vec<B>,
    msg: Box<MsgBuf>,
    #[allow(dead_code)]
    guard: SendGuard,
}
impl<B: IoBuf> Orphan for SendMsgData<B> {}

/// A zero-copy vectored send: `keep` holds second handles ([`IoBuf::share`]) of `bufs`,
/// parked in the slot from the result until the notification, while `bufs` go back to
/// the caller with the result.
struct SendMsgZcData<B> {
    bufs: Vec<B>,
    keep: Vec<B>,
    msg: Box<MsgBuf>,
    #[allow(dead_code)]
    guard: SendGuard,
}

impl<B: IoBuf> Orphan for SendMsgZcData<B> {
    fn until_notification(&mut self) -> Box<dyn OrphanDyn> {
        Box::new(Kept(std::mem::take(&mut self.keep)))
    }
}

/// Second handles of the buffers one vectored send passes to the kernel, if they all
/// have one.
fn share_all<B: IoBuf>(bufs: &[B]) -> Option<Vec<B>> {
    bufs.iter()
        .take(crate::MAX_IOVECS)
        .map(IoBuf::share)
        .collect()
}

/// Buffers the kernel may still read, released by the notification.
struct Kept<B>(#[allow(dead_code)] Vec<B>);
impl<B: IoBuf> Orphan for Kept<B> {}

/// What a direct, non-blocking send attempt decided.
enum Direct {
    /// The call finished (bytes written or a hard error).
    Done(io::Result<usize>),
    /// Go through the ring.
    Ring,
}

/// Tries `call` (a send with `MSG_DONTWAIT`) when no ring send is in flight on `sock` and
/// the socket buffer was not found full last time.
fn try_direct(sock: &Socket, mut call: impl FnMut() -> isize) -> Direct {
    if sock.sends_in_flight.get() != 0 || sock.send_blocked.get() {
        return Direct::Ring;
    }
    loop {
        let r = call();
        if r >= 0 {
            return Direct::Done(Ok(r as usize));
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => {
                sock.send_blocked.set(true);
                return Direct::Ring;
            }
            _ => return Direct::Done(Err(e)),
        }
    }
}

/// After a ring send: a complete write means the socket has room again (the kernel
/// moves at most [`MAX_IO_LEN`] bytes per call, so that much is complete too).
fn note_ring_send(sock: &Socket, res: &io::Result<usize>, len: usize) {
    if matches!(res, Ok(n) if *n == len.min(MAX_IO_LEN)) {
        sock.send_blocked.set(false);
    }
}

/// `IORING_RECVSEND_POLL_FIRST` (kernel 5.19; older kernels reject it with EINVAL, see
/// `Driver::poll_first`).
const RECVSEND_POLL_FIRST: u16 = 1;

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
        let (res, _, _) = op.await;
        let fd = cvt_res(res)?;
        // SAFETY: a successful accept returned a new descriptor that nobody owns yet.
        Ok(unsafe { own_fd(fd as i32) })
    }

    /// Connects `fd`, a new socket of `addr`'s family.
    pub(crate) async fn connect(&self, fd: OwnedFd, addr: &SockAddr) -> io::Result<OwnedFd> {
        let raw = fd.as_raw_fd();
        let data = ConnectData {
            fd,
            addr: Box::new(*addr),
        };
        let (res, _, data) = Op::submit(self, data, |d| {
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
        let spare = (buf.buf_capacity() - start).min(MAX_IO_LEN);
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
        if sock.recv_nonempty.get() {
            // The last receive left bytes in the socket: read them with one system call
            // instead of SQE -> enter -> CQE -> wake -> poll. Nothing stays in flight.
            // SAFETY: `start <= capacity`, so the pointer stays inside the allocation.
            let ptr = unsafe { buf.as_buf_mut_ptr().add(start) };
            let r = loop {
                // SAFETY: `ptr` points to `spare` writable bytes owned by `buf`.
                let r = unsafe { libc::recv(fd, ptr.cast(), spare, libc::MSG_DONTWAIT) };
                if r >= 0 {
                    break Ok(r as usize);
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    break Err(e);
                }
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sock.recv_nonempty.set(false);
                }
                Ok(n) => {
                    // A full buffer suggests more is waiting; a short read drained it.
                    sock.recv_nonempty.set(n == spare);
                    // SAFETY: recv initialised `n <= spare` bytes after `start`.
                    unsafe { buf.set_buf_len(start + n) };
                    return BufResult(Ok(n), buf);
                }
                Err(e) => return BufResult(Err(e), buf),
            }
        }
        let len = u32::try_from(spare).expect("MAX_IO_LEN fits in u32");
        let mut data = RecvData {
            buf,
            start,
            sock: sock.clone(),
        };
        let (res, flags, mut data) = loop {
            let poll_first = self.poll_first.get();
            let (res, flags, d) = Op::submit(self, data, |d| {
                // SAFETY: `start <= capacity`, so the pointer stays inside the allocation.
                let ptr = unsafe { d.buf.as_buf_mut_ptr().add(start) };
                // The socket was found empty (or its state is unknown): arm the poll
                // first instead of trying a receive that would fail (an armed poll on a
                // readable socket completes at once anyway).
                let ioprio = if poll_first { RECVSEND_POLL_FIRST } else { 0 };
                opcode::Recv::new(types::Fd(fd), ptr, len)
                    .ioprio(ioprio)
                    .build()
            })
            .await;
            if poll_first && res == -libc::EINVAL {
                // A kernel older than 5.19 rejects the flag; nothing was received.
                self.poll_first.set(false);
                data = d;
                continue;
            }
            break (res, flags, d);
        };
        let r = cvt_res(res);
        if let Ok(n) = r {
            sock.recv_nonempty
                .set(n > 0 && io_uring::cqueue::sock_nonempty(flags));
            // SAFETY: the kernel initialised `n` bytes after `start`, within capacity.
            unsafe { data.buf.set_buf_len(start + n) };
        }
        BufResult(r, data.buf)
    }

    pub(crate) async fn send<B: IoBuf>(&self, sock: &Rc<Socket>, buf: B) -> BufResult<usize, B> {
        let fd = sock.raw();
        // Fast path: a send that fits in the socket buffer completes at once, and one
        // system call is cheaper than SQE -> enter -> CQE -> wake -> poll. Nothing is
        // left in flight, so dropping this future afterwards is trivially safe.
        let direct = try_direct(sock, || {
            // SAFETY: the pointer and length describe initialised bytes owned by `buf`,
            // which outlives the call.
            unsafe {
                libc::send(
                    fd,
                    buf.as_buf_ptr().cast(),
                    buf.buf_len().min(MAX_IO_LEN),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            }
        });
        if let Direct::Done(r) = direct {
            return BufResult(r, buf);
        }
        let len = u32::try_from(buf.buf_len().min(MAX_IO_LEN)).expect("MAX_IO_LEN fits in u32");
        let data = SendData {
            buf,
            guard: SendGuard::new(sock),
        };
        let (res, _, data) = Op::submit(self, data, |d| {
            opcode::Send::new(types::Fd(fd), d.buf.as_buf_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        })
        .await;
        let res = cvt_res(res);
        note_ring_send(sock, &res, len as usize);
        BufResult(res, data.buf)
    }

    /// [`crate::Proactor::try_send_vectored`]: the direct path of `send_vectored`
    /// alone (same ordering guard: never while a ring send is in flight).
    pub(crate) fn try_send_vectored<B: IoBuf>(
        &self,
        sock: &Rc<Socket>,
        cache: &mut Option<Box<MsgBuf>>,
        bufs: &[B],
    ) -> Option<io::Result<usize>> {
        if self.zero_copy(sock, bufs) {
            // Only through the ring: a direct send copies.
            return None;
        }
        let fd = sock.raw();
        let direct = MsgBuf::with_filled(cache, bufs, |msg| {
            try_direct(sock, || {
                // SAFETY: the header points at iovecs describing buffers borrowed from
                // `bufs` for the duration of the call.
                unsafe { libc::sendmsg(fd, msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) }
            })
        });
        match direct {
            Direct::Done(r) => Some(r),
            Direct::Ring => None,
        }
    }

    pub(crate) async fn send_vectored<B: IoBuf>(
        &self,
        sock: &Rc<Socket>,
        cache: &mut Option<Box<MsgBuf>>,
        mut bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        let mut msg = cache.take().unwrap_or_default();
        msg.fill(&bufs);
        let fd = sock.raw();
        if self.zero_copy(sock, &bufs) {
            if let Some(keep) = share_all(&bufs) {
                match self.send_msg_zc(sock, msg, bufs, keep).await {
                    Ok((r, msg)) => {
                        *cache = Some(msg);
                        return r;
                    }
                    // Refused: copy instead.
                    Err((m, b)) => {
                        msg = m;
                        bufs = b;
                    }
                }
            }
        }
        let direct = try_direct(sock, || {
            // SAFETY: the header points at iovecs describing buffers owned by `bufs`,
            // which outlive the call.
            unsafe { libc::sendmsg(fd, &msg.msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) }
        });
        if let Direct::Done(r) = direct {
            *cache = Some(msg);
            return BufResult(r, bufs);
        }
        let total = msg.total_len();
        let data = SendMsgData {
            bufs,
            msg,
            guard: SendGuard::new(sock),
        };
        let (res, _, data) = Op::submit(self, data, |d| {
            opcode::SendMsg::new(types::Fd(fd), &d.msg.msg)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
        })
        .await;
        let res = cvt_res(res);
        note_ring_send(sock, &res, total);
        *cache = Some(data.msg);
        BufResult(res, data.bufs)
    }

    /// Whether a vectored send of `bufs` on `sock` goes zero-copy: the switch is on, the
    /// kernel has the operation and did not refuse it on this socket, and one buffer
    /// reaches the threshold.
    fn zero_copy<B: IoBuf>(&self, sock: &Socket, bufs: &[B]) -> bool {
        match self.zc.threshold() {
            Some(t) if !sock.zc_refused.get() => bufs
                .iter()
                .take(crate::MAX_IOVECS)
                .any(|b| b.buf_len() >= t),
            _ => false,
        }
    }

    /// One `IORING_OP_SENDMSG_ZC`; its result comes back as soon as the kernel has
    /// queued the data, while `keep` waits in the op slot for the notification. A
    /// refusal (`EOPNOTSUPP`, `EINVAL`: nothing was sent) marks the socket and gives the
    /// header and buffers back for a copying send.
    #[allow(clippy::type_complexity)]
    async fn send_msg_zc<B: IoBuf>(
        &self,
        sock: &Rc<Socket>,
        msg: Box<MsgBuf>,
        bufs: Vec<B>,
        keep: Vec<B>,
    ) -> Result<(BufResult<usize, Vec<B>>, Box<MsgBuf>), (Box<MsgBuf>, Vec<B>)> {
        let fd = sock.raw();
        let total = msg.total_len();
        let mut data = SendMsgZcData {
            bufs,
            keep,
            msg,
            guard: SendGuard::new(sock),
        };
        loop {
            let report = self.zc.report_usage.get();
            self.zc.count(|s| s.sends += 1);
            let (res, _, mut d) = Op::submit(self, data, |d| {
                opcode::SendMsgZc::new(types::Fd(fd), &d.msg.msg)
                    .flags(libc::MSG_NOSIGNAL as u32)
                    .ioprio(if report { SEND_ZC_REPORT_USAGE } else { 0 })
                    .build()
            })
            .await;
            match res {
                // A kernel before 6.2 does not know the usage report.
                e if e == -libc::EINVAL && report => {
                    self.zc.report_usage.set(false);
                    self.zc.count(|s| s.sends -= 1);
                    if d.keep.is_empty() {
                        // Parked for a notification: share again.
                        match share_all(&d.bufs) {
                            Some(k) => d.keep = k,
                            None => return Err((d.msg, d.bufs)),
                        }
                    }
                    data = d;
                }
                e if e == -libc::EINVAL || e == -libc::EOPNOTSUPP => {
                    sock.zc_refused.set(true);
                    self.zc.count(|s| {
                        s.sends -= 1;
                        s.refused += 1;
                    });
                    return Err((d.msg, d.bufs));
                }
                _ => {
                    let res = cvt_res(res);
                    note_ring_send(sock, &res, total);
                    return Ok((BufResult(res, d.bufs), d.msg));
                }
            }
        }
    }
}
