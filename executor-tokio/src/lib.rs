//! ringmq on tokio: [`TokioProactor`] implements [`Proactor`] with tokio's own TCP and
//! Unix streams and timers, so ringmq sockets run inside a tokio current-thread runtime
//! (in a [`LocalSet`](tokio::task::LocalSet)) next to other tokio code.
//!
//! ringmq's sockets are single-threaded (`!Send`): they spawn their connection tasks
//! with [`tokio::task::spawn_local`], so they must live inside a `LocalSet` (or tokio's
//! local runtime). [`block_on`] builds both. For a multi-threaded tokio runtime, use
//! the `Send` socket handle of `ringmq-sockets` instead.
//!
//! tokio's streams are readiness-based and its reads and accepts are cancel-safe by
//! themselves (a dropped read has read nothing), so unlike the compio and monoio
//! adapters nothing needs parking. A receive fills the spare capacity of the caller's
//! buffer through `ringmq_proactor::compat::tokio`.
//!
//! ```
//! use ringmq_proactor::Proactor;
//! use ringmq_tokio::{block_on, TokioProactor};
//!
//! block_on(async {
//!     let p = TokioProactor::new();
//!     p.sleep_until(p.now()).await;
//! })
//! .unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net as unix;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use ringmq_proactor::compat::tokio::read_into_spare;
use ringmq_proactor::{
    connect_first, BufResult, Endpoint, Host, IoBuf, IoBufMut, IpcAddr, PeerAddr, Proactor,
    MAX_IOVECS,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{tcp, unix as tunix, TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

/// Runs `fut` to completion on a new tokio current-thread runtime (I/O and timers
/// enabled) inside a [`LocalSet`](tokio::task::LocalSet) on this thread.
pub fn block_on<F: Future>(fut: F) -> io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    Ok(local.block_on(&rt, fut))
}

/// The [`Proactor`] of the tokio runtime running on the current thread.
///
/// Every method must be called from inside a tokio runtime, and tasks are spawned with
/// [`tokio::task::spawn_local`], so sockets need a `LocalSet` (see [`block_on`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioProactor {
    _private: (),
}

impl TokioProactor {
    /// A handle on the current thread's tokio runtime.
    pub fn new() -> Self {
        TokioProactor { _private: () }
    }
}

#[derive(Debug)]
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
    Udp(Datagram),
}

/// A UDP socket (`udp://`) shared by its two halves: each read receives one datagram,
/// each write sends one. (Not a Unix stream over the descriptor: tokio's stream reads
/// take a short read for "drained" and wait for the next edge, which would strand
/// the datagrams already queued.)
#[derive(Clone, Debug)]
struct Datagram(Rc<tokio::net::UdpSocket>);

impl AsyncRead for Datagram {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.poll_recv(cx, buf)
    }
}

impl AsyncWrite for Datagram {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_send(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A connected TCP or IPC stream on tokio.
#[derive(Debug)]
pub struct Stream(Conn);

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match &self.0 {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
            Conn::Udp(s) => s.0.as_raw_fd(),
        }
    }
}

#[derive(Debug)]
enum Acceptor {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A listening TCP or IPC socket on tokio.
#[derive(Debug)]
pub struct Listener {
    acceptor: Acceptor,
    ipc: Option<IpcAddr>,
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match &self.acceptor {
            Acceptor::Tcp(l) => l.as_raw_fd(),
            Acceptor::Unix(l) => l.as_raw_fd(),
        }
    }
}

impl Drop for Listener {
    /// Removes the socket file of an IPC listener bound to a path, as the built-in
    /// drivers do, so the endpoint can be bound again at once. (The descriptor itself
    /// closes with the listener: tokio has no operation in flight that could hold it.)
    fn drop(&mut self) {
        if let Some(IpcAddr::Path(path)) = &self.ipc {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[derive(Debug)]
enum ReadHalf {
    Tcp(tcp::OwnedReadHalf),
    Unix(tunix::OwnedReadHalf),
    Udp(Datagram),
}

#[derive(Debug)]
enum WriteHalf {
    Tcp(tcp::OwnedWriteHalf),
    Unix(tunix::OwnedWriteHalf),
    Udp(Datagram),
}

/// The receiving half of a [`Stream`].
#[derive(Debug)]
pub struct Reader(ReadHalf);

/// The sending half of a [`Stream`].
///
/// Unlike tokio's own write half, dropping it does not shut the stream down: the
/// descriptor stays open until both halves are dropped, as with the other engines.
#[derive(Debug)]
pub struct Writer(Option<WriteHalf>);

impl Drop for Writer {
    fn drop(&mut self) {
        match self.0.take() {
            Some(WriteHalf::Tcp(w)) => w.forget(),
            Some(WriteHalf::Unix(w)) => w.forget(),
            Some(WriteHalf::Udp(_)) | None => {}
        }
    }
}

impl Writer {
    fn half(&mut self) -> Pin<&mut (dyn AsyncWrite + Unpin)> {
        match self.0.as_mut().expect("write half present until drop") {
            WriteHalf::Tcp(w) => Pin::new(w),
            WriteHalf::Unix(w) => Pin::new(w),
            WriteHalf::Udp(w) => Pin::new(w),
        }
    }
}

/// tokio panics when its sockets are created outside a runtime; say so as an error.
fn in_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|_| {
            io::Error::other(
                "TokioProactor used outside a tokio runtime (use ringmq_tokio::block_on, or a \
             current-thread runtime with a LocalSet)",
            )
        })
}

/// Calls `f` with `IoSlice`s over the first [`MAX_IOVECS`] buffers, without allocating
/// for up to 64 of them.
fn with_iovecs<B: IoBuf, R>(bufs: &[B], f: impl FnOnce(&[IoSlice<'_>]) -> R) -> R {
    let bufs = &bufs[..bufs.len().min(MAX_IOVECS)];
    if bufs.len() <= 64 {
        let mut arr = [IoSlice::new(&[]); 64];
        for (slot, b) in arr.iter_mut().zip(bufs) {
            *slot = IoSlice::new(b.as_slice());
        }
        f(&arr[..bufs.len()])
    } else {
        let v: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b.as_slice())).collect();
        f(&v)
    }
}

fn tcp_endpoint(a: std::net::SocketAddr) -> Endpoint {
    Endpoint::Tcp {
        host: Host::Ip(a.ip()),
        port: a.port(),
    }
}

impl Proactor for TokioProactor {
    type Listener = Listener;
    type Stream = Stream;
    type Reader = Reader;
    type Writer = Writer;

    fn listen(&self, ep: &Endpoint) -> io::Result<Listener> {
        in_runtime()?;
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
        Ok(Listener { acceptor, ipc })
    }

    fn listener_endpoint(&self, l: &Listener) -> io::Result<Endpoint> {
        match (&l.acceptor, &l.ipc) {
            (Acceptor::Tcp(t), _) => Ok(tcp_endpoint(t.local_addr()?)),
            (Acceptor::Unix(_), Some(addr)) => Ok(Endpoint::Ipc(addr.clone())),
            (Acceptor::Unix(_), None) => Err(io::Error::other("IPC listener without address")),
        }
    }

    async fn accept(&self, l: &Listener) -> io::Result<(Stream, PeerAddr)> {
        // tokio's accepts are cancel-safe: a dropped one has accepted nothing.
        match &l.acceptor {
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
    }

    async fn connect(&self, ep: &Endpoint) -> io::Result<Stream> {
        self.connect_prepared(ep, &|_| Ok(())).await
    }

    const PREPARES_BEFORE_CONNECT: bool = true;

    async fn connect_prepared(
        &self,
        ep: &Endpoint,
        prepare: &dyn Fn(BorrowedFd<'_>) -> io::Result<()>,
    ) -> io::Result<Stream> {
        in_runtime()?;
        match ep {
            Endpoint::Tcp { host, port } => {
                let addrs = host.socket_addrs(*port)?;
                let s = connect_first(addrs, |addr| async move {
                    let sock = if addr.is_ipv4() {
                        TcpSocket::new_v4()?
                    } else {
                        TcpSocket::new_v6()?
                    };
                    prepare(sock.as_fd())?;
                    sock.connect(addr).await
                })
                .await?;
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

    fn adopt_datagram(&self, socket: std::net::UdpSocket) -> io::Result<Stream> {
        in_runtime()?;
        socket.set_nonblocking(true)?;
        let s = tokio::net::UdpSocket::from_std(socket)?;
        Ok(Stream(Conn::Udp(Datagram(Rc::new(s)))))
    }

    fn split(&self, s: Stream) -> (Reader, Writer) {
        match s.0 {
            Conn::Tcp(s) => {
                let (r, w) = s.into_split();
                (Reader(ReadHalf::Tcp(r)), Writer(Some(WriteHalf::Tcp(w))))
            }
            Conn::Unix(s) => {
                let (r, w) = s.into_split();
                (Reader(ReadHalf::Unix(r)), Writer(Some(WriteHalf::Unix(w))))
            }
            Conn::Udp(s) => (
                Reader(ReadHalf::Udp(s.clone())),
                Writer(Some(WriteHalf::Udp(s))),
            ),
        }
    }

    async fn recv<B: IoBufMut>(&self, r: &mut Reader, mut buf: B) -> BufResult<usize, B> {
        if buf.buf_len() >= buf.buf_capacity() {
            let e = io::Error::new(io::ErrorKind::InvalidInput, "recv into a full buffer");
            return BufResult(Err(e), buf);
        }
        // A read happens inside one poll, so a dropped future has read nothing.
        let res = poll_fn(|cx| {
            read_into_spare(&mut buf, |rb| {
                let half: Pin<&mut (dyn AsyncRead + Unpin)> = match &mut r.0 {
                    ReadHalf::Tcp(h) => Pin::new(h),
                    ReadHalf::Unix(h) => Pin::new(h),
                    ReadHalf::Udp(h) => Pin::new(h),
                };
                match half.poll_read(cx, rb) {
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            })
        })
        .await;
        BufResult(res, buf)
    }

    async fn send<B: IoBuf>(&self, w: &mut Writer, buf: B) -> BufResult<usize, B> {
        let res = poll_fn(|cx| w.half().poll_write(cx, buf.as_slice())).await;
        BufResult(res, buf)
    }

    async fn send_vectored<B: IoBuf>(
        &self,
        w: &mut Writer,
        bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        let res = poll_fn(|cx| with_iovecs(&bufs, |io| w.half().poll_write_vectored(cx, io))).await;
        BufResult(res, bufs)
    }

    fn try_send_vectored<B: IoBuf>(&self, w: &mut Writer, bufs: &[B]) -> Option<io::Result<usize>> {
        let res = with_iovecs(bufs, |io| match w.0.as_ref()? {
            WriteHalf::Tcp(h) => Some(h.try_write_vectored(io)),
            WriteHalf::Unix(h) => Some(h.try_write_vectored(io)),
            WriteHalf::Udp(_) => None,
        })?;
        match res {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            other => Some(other),
        }
    }

    async fn shutdown(&self, w: &mut Writer) -> io::Result<()> {
        poll_fn(|cx| w.half().poll_shutdown(cx)).await
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn spawn_local<F: Future<Output = ()> + 'static>(&self, f: F) {
        drop(tokio::task::spawn_local(f));
    }

    fn is_driving(&self) -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }

    /// tokio's own yield: the wake-up is deferred until the scheduler has run the
    /// others. (A `LocalSet` polls a task that merely woke itself again in the same
    /// tick, before the future it runs under: the reader would then read on before
    /// the application took the messages, and a large message's receive buffer could
    /// not be reused, which cost 4-8x at 64 KiB.)
    fn yield_now(&self) -> impl Future<Output = ()> {
        tokio::task::yield_now()
    }
}
