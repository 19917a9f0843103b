//! ringmq on monoio: [`MonoioProactor`] implements [`Proactor`] with monoio's own TCP
//! and Unix streams, so ringmq sockets run inside a monoio runtime next to other
//! monoio code.
//!
//! The adapter is thin. Buffers are lent to monoio through the newtypes of
//! `ringmq_proactor::compat::monoio`; the one thing added on top is cancel safety: a
//! `recv` or `accept` whose future is dropped while the operation is in flight is
//! parked and finished by the next call, so no received bytes or accepted connections
//! are lost.
//!
//! ```
//! use ringmq_monoio::{block_on, MonoioProactor};
//! use ringmq_proactor::Proactor;
//!
//! block_on(async {
//!     let p = MonoioProactor::new();
//!     p.sleep_until(p.now()).await;
//! })
//! .unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net as unix;
use std::rc::Rc;
use std::time::Instant;

use monoio::io::{AsyncReadRent, AsyncWriteRent, OwnedReadHalf, OwnedWriteHalf, Splitable};
use monoio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use ringmq_proactor::compat::monoio::{RecvBuf, SendBuf, SendVec};
use ringmq_proactor::compat::{Park, RecvPark};
use ringmq_proactor::{
    connect_first, BufResult, Endpoint, Host, IoBuf, IoBufMut, IpcAddr, PeerAddr, Proactor,
};

/// Runs `fut` to completion on a new monoio runtime on this thread: the fusion driver
/// (io_uring, or the legacy epoll driver where io_uring is unavailable) with timers.
pub fn block_on<F: Future>(fut: F) -> io::Result<F::Output> {
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()?;
    Ok(rt.block_on(fut))
}

/// The [`Proactor`] of the monoio runtime running on the current thread.
///
/// Every method must be called from inside that runtime (`block_on` or a task).
#[derive(Clone, Copy, Debug, Default)]
pub struct MonoioProactor {
    _private: (),
}

impl MonoioProactor {
    /// A handle on the current thread's monoio runtime.
    pub fn new() -> Self {
        MonoioProactor { _private: () }
    }
}

#[derive(Debug)]
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connected TCP or IPC stream on monoio.
#[derive(Debug)]
pub struct Stream(Conn);

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match &self.0 {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }
}

#[derive(Debug)]
enum Acceptor {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A listening TCP or IPC socket on monoio.
#[derive(Debug)]
pub struct Listener {
    acceptor: Rc<Acceptor>,
    ipc: Option<IpcAddr>,
    park: Park<io::Result<(Stream, PeerAddr)>>,
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match &*self.acceptor {
            Acceptor::Tcp(l) => l.as_raw_fd(),
            Acceptor::Unix(l) => l.as_raw_fd(),
        }
    }
}

enum ReadHalf {
    Tcp(OwnedReadHalf<TcpStream>),
    Unix(OwnedReadHalf<UnixStream>),
}

enum WriteHalf {
    Tcp(OwnedWriteHalf<TcpStream>),
    Unix(OwnedWriteHalf<UnixStream>),
}

impl Drop for Listener {
    /// Stops listening and removes the socket file of an IPC listener bound to a
    /// path, as the built-in drivers do, so the endpoint can be bound again at once.
    fn drop(&mut self) {
        // An accept in flight (io_uring, or parked by a dropped future) keeps the
        // socket alive: stop listening now so that the address is free at once and no
        // later connection is queued on a listener nobody accepts from.
        let _ = match &*self.acceptor {
            Acceptor::Tcp(t) => ringmq_proactor::sockopt::stop_listening(t),
            Acceptor::Unix(u) => ringmq_proactor::sockopt::stop_listening(u),
        };
        if let Some(IpcAddr::Path(path)) = &self.ipc {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The receiving half of a [`Stream`].
///
/// The half sits in a shared cell so that a receive parked by a dropped future can own
/// it until it completes; it is put back after every receive.
pub struct Reader {
    half: Rc<Cell<Option<ReadHalf>>>,
    park: RecvPark,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("park", &self.park)
            .finish_non_exhaustive()
    }
}

/// The sending half of a [`Stream`].
pub struct Writer {
    half: WriteHalf,
    /// The stream's descriptor, for the direct write of
    /// [`Proactor::try_send_vectored`]. It stays open as long as `half`, which shares
    /// the stream (monoio closes it when the last half is dropped).
    fd: RawFd,
    /// An asynchronous send is in flight, or was abandoned in flight (its future
    /// dropped: the operation may still complete). The direct write stays off then,
    /// so it never overtakes bytes.
    busy: bool,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

async fn connect_tcp(addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
    connect_first(addrs, TcpStream::connect_addr).await
}

impl Proactor for MonoioProactor {
    type Listener = Listener;
    type Stream = Stream;
    type Reader = Reader;
    type Writer = Writer;

    fn listen(&self, ep: &Endpoint) -> io::Result<Listener> {
        let (acceptor, ipc) = match ep {
            Endpoint::Tcp { host, port } => {
                let l = std::net::TcpListener::bind(&host.socket_addrs(*port)?[..])?;
                l.set_nonblocking(true)?;
                (Acceptor::Tcp(TcpListener::from_std(l)?), None)
            }
            Endpoint::Ipc(addr) => {
                let l = unix::UnixListener::bind_addr(&addr.to_unix_addr()?)?;
                l.set_nonblocking(true)?;
                (
                    Acceptor::Unix(UnixListener::from_std(l)?),
                    Some(addr.clone()),
                )
            }
            other => return Err(other.unsupported()),
        };
        Ok(Listener {
            acceptor: Rc::new(acceptor),
            ipc,
            park: Park::default(),
        })
    }

    fn listener_endpoint(&self, l: &Listener) -> io::Result<Endpoint> {
        match (&*l.acceptor, &l.ipc) {
            (Acceptor::Tcp(t), _) => {
                let a = t.local_addr()?;
                Ok(Endpoint::Tcp {
                    host: Host::Ip(a.ip()),
                    port: a.port(),
                })
            }
            (Acceptor::Unix(_), Some(addr)) => Ok(Endpoint::Ipc(addr.clone())),
            (Acceptor::Unix(_), None) => Err(io::Error::other("IPC listener without address")),
        }
    }

    fn accept(&self, l: &Listener) -> impl Future<Output = io::Result<(Stream, PeerAddr)>> {
        let acceptor = Rc::clone(&l.acceptor);
        l.park.run(move || async move {
            match &*acceptor {
                Acceptor::Tcp(t) => {
                    let (s, peer) = t.accept().await?;
                    s.set_nodelay(true)?;
                    Ok((Stream(Conn::Tcp(s)), PeerAddr::Tcp(peer)))
                }
                Acceptor::Unix(u) => {
                    let (s, _) = u.accept().await?;
                    Ok((Stream(Conn::Unix(s)), PeerAddr::Ipc))
                }
            }
        })
    }

    async fn connect(&self, ep: &Endpoint) -> io::Result<Stream> {
        match ep {
            Endpoint::Tcp { host, port } => {
                let s = connect_tcp(host.socket_addrs(*port)?).await?;
                s.set_nodelay(true)?;
                Ok(Stream(Conn::Tcp(s)))
            }
            Endpoint::Ipc(IpcAddr::Path(path)) => {
                Ok(Stream(Conn::Unix(UnixStream::connect(path).await?)))
            }
            Endpoint::Ipc(addr @ IpcAddr::Abstract(_)) => {
                // A local connect completes at once (or fails), so the blocking call
                // does not stall the thread.
                let s = unix::UnixStream::connect_addr(&addr.to_unix_addr()?)?;
                s.set_nonblocking(true)?;
                Ok(Stream(Conn::Unix(UnixStream::from_std(s)?)))
            }
            other => Err(other.unsupported()),
        }
    }

    /// The datagram socket becomes the runtime's Unix stream type: its reads and
    /// writes (read(2) / write(2), or their io_uring forms) move one datagram each on a
    /// UDP socket, whatever the socket family.
    fn adopt_datagram(&self, socket: std::net::UdpSocket) -> io::Result<Stream> {
        socket.set_nonblocking(true)?;
        let fd = std::os::fd::OwnedFd::from(socket);
        let s = std::os::unix::net::UnixStream::from(fd);
        Ok(Stream(Conn::Unix(UnixStream::from_std(s)?)))
    }

    fn split(&self, s: Stream) -> (Reader, Writer) {
        let fd = s.as_raw_fd();
        let (r, w) = match s.0 {
            Conn::Tcp(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            Conn::Unix(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Unix(r), WriteHalf::Unix(w))
            }
        };
        let reader = Reader {
            half: Rc::new(Cell::new(Some(r))),
            park: RecvPark::default(),
        };
        (
            reader,
            Writer {
                half: w,
                fd,
                busy: false,
            },
        )
    }

    fn recv<B: IoBufMut>(
        &self,
        r: &mut Reader,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> {
        let cell = Rc::clone(&r.half);
        r.park.recv(buf, move |buf| async move {
            let Some(mut half) = cell.take() else {
                let err = io::Error::other("receive half busy (concurrent recv)");
                return BufResult(Err(err), buf);
            };
            let (res, buf) = match &mut half {
                ReadHalf::Tcp(h) => h.read(RecvBuf::new(buf)).await,
                ReadHalf::Unix(h) => h.read(RecvBuf::new(buf)).await,
            };
            cell.set(Some(half));
            BufResult(res, buf.into_inner())
        })
    }

    /// Writes directly when the socket can take bytes at once (see
    /// [`Proactor::send_vectored`] below); otherwise through the runtime.
    async fn send<B: IoBuf>(&self, w: &mut Writer, buf: B) -> BufResult<usize, B> {
        if let Some(res) = self.try_send_vectored(w, std::slice::from_ref(&buf)) {
            return BufResult(res, buf);
        }
        w.busy = true;
        let (res, buf) = match &mut w.half {
            WriteHalf::Tcp(h) => h.write(SendBuf(buf)).await,
            WriteHalf::Unix(h) => h.write(SendBuf(buf)).await,
        };
        w.busy = false;
        BufResult(res, buf.0)
    }

    async fn send_vectored<B: IoBuf>(
        &self,
        w: &mut Writer,
        bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        // A non-blocking `sendmsg` first, as the built-in drivers do: a socket that can
        // take the bytes costs no operation of the runtime and no wake-up of this task.
        // It completes within this poll, so a dropped future leaves nothing in flight.
        if let Some(res) = self.try_send_vectored(w, &bufs) {
            return BufResult(res, bufs);
        }
        w.busy = true;
        let (res, bufs) = match &mut w.half {
            WriteHalf::Tcp(h) => h.writev(SendVec::new(bufs)).await,
            WriteHalf::Unix(h) => h.writev(SendVec::new(bufs)).await,
        };
        w.busy = false;
        BufResult(res, bufs.into_inner())
    }

    /// One non-blocking `sendmsg` on the stream's descriptor, unless an asynchronous
    /// send is (or may still be) in flight on this writer.
    fn try_send_vectored<B: IoBuf>(&self, w: &mut Writer, bufs: &[B]) -> Option<io::Result<usize>> {
        if w.busy {
            return None;
        }
        if bufs.is_empty() {
            return Some(Ok(0));
        }
        ringmq_proactor::compat::try_send_vectored(&w.fd, bufs)
    }

    async fn shutdown(&self, w: &mut Writer) -> io::Result<()> {
        match &mut w.half {
            WriteHalf::Tcp(h) => h.shutdown().await,
            WriteHalf::Unix(h) => h.shutdown().await,
        }
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        monoio::time::sleep_until(monoio::time::Instant::from_std(deadline))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn spawn_local<F: Future<Output = ()> + 'static>(&self, f: F) {
        // Dropping a monoio JoinHandle detaches the task.
        drop(monoio::spawn(f));
    }

    /// monoio runs a task that woke itself while being polled again at once, ahead of
    /// the tasks already queued (its scheduler puts it at the front), so the default
    /// yield would not let the others run. Here the task is woken by a task spawned
    /// behind them instead.
    fn yield_now(&self) -> impl Future<Output = ()> {
        let mut spawned = false;
        std::future::poll_fn(move |cx| {
            if spawned {
                return std::task::Poll::Ready(());
            }
            spawned = true;
            let waker = cx.waker().clone();
            drop(monoio::spawn(async move { waker.wake() }));
            std::task::Poll::Pending
        })
    }
}
