//! The listener and stream types of the built-in drivers.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::Waker;

use crate::epoll::Registration;
use crate::sys::{Bound, MsgBuf};

/// A socket descriptor shared by the halves of a stream and by the operations in flight
/// on it: it is closed when the last of them lets go.
pub(crate) struct Socket {
    /// The epoll registration, removed before the descriptor closes (declared first so
    /// it is dropped first).
    pub(crate) reg: RefCell<Option<Registration>>,
    pub(crate) fd: OwnedFd,
    pub(crate) tcp: bool,
    /// Bytes that an io_uring `recv` received after its future was dropped; the next
    /// `recv` returns them first.
    pub(crate) pending: RefCell<Vec<u8>>,
    /// An io_uring `recv` whose future was dropped is still in the kernel.
    pub(crate) orphan_recv: Cell<bool>,
    /// The `recv` waiting for that orphan to complete.
    pub(crate) orphan_waiter: RefCell<Option<Waker>>,
    /// io_uring sends (and vectored sends) in the kernel, dropped futures included. The
    /// driver writes directly with a non-blocking system call only when this is zero, so
    /// bytes never overtake an earlier send.
    pub(crate) sends_in_flight: Cell<u32>,
    /// The last direct send found the socket buffer full: go through the ring until a
    /// send completes in full again (saves a failing system call per send while a
    /// stream is throttled by the peer).
    pub(crate) send_blocked: Cell<bool>,
    /// The last io_uring `recv` left bytes in the socket (`IORING_CQE_F_SOCK_NONEMPTY`,
    /// or a direct read that filled the buffer): the next one reads directly.
    pub(crate) recv_nonempty: Cell<bool>,
    /// The kernel refused a zero-copy send on this socket (`EOPNOTSUPP`: a Unix
    /// socket, `EINVAL`): its sends copy from now on.
    pub(crate) zc_refused: Cell<bool>,
    /// A `udp://` socket (`adopt_datagram`): a short `recv` is a small datagram, not
    /// an emptied stream.
    pub(crate) datagram: Cell<bool>,
}

impl Socket {
    pub(crate) fn new(fd: OwnedFd, tcp: bool) -> Rc<Socket> {
        Rc::new(Socket {
            reg: RefCell::new(None),
            fd,
            tcp,
            pending: RefCell::new(Vec::new()),
            orphan_recv: Cell::new(false),
            orphan_waiter: RefCell::new(None),
            sends_in_flight: Cell::new(0),
            send_blocked: Cell::new(false),
            recv_nonempty: Cell::new(false),
            zc_refused: Cell::new(false),
            datagram: Cell::new(false),
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A bound TCP or IPC listening socket of the built-in drivers.
///
/// An IPC listener bound to a path removes its socket file when dropped.
pub struct Listener {
    pub(crate) sock: Rc<Socket>,
    pub(crate) bound: Bound,
}

/// A connected TCP or IPC stream of the built-in drivers.
pub struct Stream {
    pub(crate) sock: Rc<Socket>,
}

/// The receiving half of a [`Stream`].
pub struct Reader {
    pub(crate) sock: Rc<Socket>,
}

/// The sending half of a [`Stream`].
pub struct Writer {
    pub(crate) sock: Rc<Socket>,
    pub(crate) shut: bool,
    /// The vectored-send header, reused from one send to the next.
    pub(crate) msg: Option<Box<MsgBuf>>,
}

impl Stream {
    /// Whether this is a TCP (rather than IPC) stream.
    pub fn is_tcp(&self) -> bool {
        self.sock.tcp
    }
}

impl Reader {
    /// The descriptor shared with the [`Writer`] half.
    pub fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

impl Writer {
    /// The descriptor shared with the [`Reader`] half.
    pub fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }
}

impl Drop for Listener {
    /// An io_uring accept in flight keeps the socket open until its cancellation
    /// completes; stopping it here frees the address synchronously.
    fn drop(&mut self) {
        let _ = crate::sockopt::stop_listening(self);
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.raw()
    }
}

macro_rules! debug_fd {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t)).field("fd", &self.sock.raw()).finish()
            }
        }
    )*};
}
debug_fd!(Listener, Stream, Reader, Writer);
