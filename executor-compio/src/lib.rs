//! ringmq on compio: [`CompioProactor`] implements [`Proactor`] with compio's own TCP
//! and Unix streams, so ringmq sockets run inside a compio runtime next to other
//! compio code.
//!
//! The adapter is thin. Buffers are lent to compio through the newtypes of
//! `ringmq_proactor::compat::compio`; the one thing added on top is cancel safety: a
//! `recv` or `accept` whose future is dropped while the operation is in flight is
//! parked and finished by the next call, so no received bytes or accepted connections
//! are lost (compio itself would cancel them).
//!
//! ```
//! use ringmq_compio::{block_on, CompioProactor};
//! use ringmq_proactor::Proactor;
//!
//! block_on(async {
//!     let p = CompioProactor::new();
//!     p.sleep_until(p.now()).await;
//! })
//! .unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net as unix;
use std::time::Instant;

use compio::io::{AsyncRead, AsyncWrite};
use compio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};
use ringmq_proactor::compat::compio::{RecvBuf, SendBuf, SendVec};
use ringmq_proactor::compat::{Park, RecvPark};
use ringmq_proactor::{
    connect_first, BufResult, Endpoint, Host, IoBuf, IoBufMut, IpcAddr, PeerAddr, Proactor,
};

/// Runs `fut` to completion on a new compio runtime on this thread (io_uring, or
/// polling where io_uring is unavailable).
pub fn block_on<F: Future>(fut: F) -> io::Result<F::Output> {
    let rt = compio::runtime::Runtime::new()?;
    Ok(rt.block_on(fut))
}

/// The [`Proactor`] of the compio runtime running on the current thread.
///
/// Every method must be called from inside that runtime (`block_on` or a task).
#[derive(Clone, Copy, Debug, Default)]
pub struct CompioProactor {
    _private: (),
}

impl CompioProactor {
    /// A handle on the current thread's compio runtime.
    pub fn new() -> Self {
        CompioProactor { _private: () }
    }
}

#[derive(Clone, Debug)]
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connected TCP or IPC stream on compio.
#[derive(Debug)]
pub struct Stream(Conn);

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd()
    }
}

#[derive(Clone, Debug)]
enum Acceptor {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A listening TCP or IPC socket on compio.
#[derive(Debug)]
pub struct Listener {
    acceptor: Acceptor,
    ipc: Option<IpcAddr>,
    park: Park<io::Result<(Stream, PeerAddr)>>,
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
    /// Stops listening and removes the socket file of an IPC listener bound to a
    /// path, as the built-in drivers do, so the endpoint can be bound again at once.
    fn drop(&mut self) {
        // An accept in flight (io_uring, or parked by a dropped future) keeps the
        // socket alive: stop listening now so that the address is free at once and no
        // later connection is queued on a listener nobody accepts from.
        let _ = match &self.acceptor {
            Acceptor::Tcp(t) => ringmq_proactor::sockopt::stop_listening(t),
            Acceptor::Unix(u) => ringmq_proactor::sockopt::stop_listening(u),
        };
        if let Some(IpcAddr::Path(path)) = &self.ipc {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The receiving half of a [`Stream`].
#[derive(Debug)]
pub struct Reader {
    conn: Conn,
    park: RecvPark,
}

/// The sending half of a [`Stream`].
#[derive(Debug)]
pub struct Writer {
    conn: Conn,
    /// An asynchronous send is in flight, or was abandoned in flight (its future
    /// dropped: compio may still complete it). The direct write of
    /// [`Proactor::try_send_vectored`] stays off then, so it never overtakes bytes.
    busy: bool,
}

impl Conn {
    fn fd(&self) -> RawFd {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// compio panics when its sockets are created outside a runtime; say so as an error.
fn in_runtime() -> io::Result<()> {
    compio::runtime::Runtime::try_with_current(|_| ()).map_err(|_| {
        io::Error::other(
            "CompioProactor used outside a compio runtime (use ringmq_compio::block_on)",
        )
    })
}

impl Proactor for CompioProactor {
    type Listener = Listener;
    type Stream = Stream;
    type Reader = Reader;
    type Writer = Writer;

    fn listen(&self, ep: &Endpoint) -> io::Result<Listener> {
        in_runtime()?;
        let (acceptor, ipc) = match ep {
            Endpoint::Tcp { host, port } => {
                let l = std::net::TcpListener::bind(&host.socket_addrs(*port)?[..])?;
                (Acceptor::Tcp(TcpListener::from_std(l)?), None)
            }
            Endpoint::Ipc(addr) => {
                let l = unix::UnixListener::bind_addr(&addr.to_unix_addr()?)?;
                (
                    Acceptor::Unix(UnixListener::from_std(l)?),
                    Some(addr.clone()),
                )
            }
            other => return Err(other.unsupported()),
        };
        Ok(Listener {
            acceptor,
            ipc,
            park: Park::default(),
        })
    }

    fn listener_endpoint(&self, l: &Listener) -> io::Result<Endpoint> {
        match (&l.acceptor, &l.ipc) {
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
        let acceptor = l.acceptor.clone();
        l.park.run(move || async move {
            match acceptor {
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
                        TcpSocket::new_v4().await?
                    } else {
                        TcpSocket::new_v6().await?
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
        let reader = Reader {
            conn: s.0.clone(),
            park: RecvPark::default(),
        };
        (
            reader,
            Writer {
                conn: s.0,
                busy: false,
            },
        )
    }

    fn recv<B: IoBufMut>(
        &self,
        r: &mut Reader,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> {
        let conn = r.conn.clone();
        r.park.recv(buf, move |buf| async move {
            let compio::BufResult(res, buf) = match conn {
                Conn::Tcp(mut s) => s.read(RecvBuf::new(buf)).await,
                Conn::Unix(mut s) => s.read(RecvBuf::new(buf)).await,
            };
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
        let compio::BufResult(res, buf) = match &mut w.conn {
            Conn::Tcp(s) => s.write(SendBuf(buf)).await,
            Conn::Unix(s) => s.write(SendBuf(buf)).await,
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
        let compio::BufResult(res, bufs) = match &mut w.conn {
            Conn::Tcp(s) => s.write_vectored(SendVec(bufs)).await,
            Conn::Unix(s) => s.write_vectored(SendVec(bufs)).await,
        };
        w.busy = false;
        BufResult(res, bufs.0)
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
        ringmq_proactor::compat::try_send_vectored(&w.conn.fd(), bufs)
    }

    async fn shutdown(&self, w: &mut Writer) -> io::Result<()> {
        match &mut w.conn {
            Conn::Tcp(s) => s.shutdown().await,
            Conn::Unix(s) => s.shutdown().await,
        }
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        compio::time::sleep_until(deadline)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn spawn_local<F: Future<Output = ()> + 'static>(&self, f: F) {
        compio::runtime::spawn(f).detach();
    }
}
