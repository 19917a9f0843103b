//! The built-in runtime: an executor plus the io_uring or epoll driver, chosen at run time.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::endpoint::{Endpoint, PeerAddr};
use crate::executor::{Executor, Park};
use crate::net::{Listener, Reader, Socket, Stream, Writer};
use crate::{epoll, sys, uring, Proactor};

/// The environment variable that [`Runtime::new`] reads: `uring`, `epoll` or `auto`.
pub const BACKEND_ENV: &str = "RINGMQ_BACKEND";

/// The environment variable that sets the zero-copy sends of each new io_uring
/// [`Runtime`] (see [`Native::set_send_zc`]): `off` (or `0`, or unset: the default),
/// `on` (buffers of [`SEND_ZC_DEFAULT_THRESHOLD`] bytes and up), or a threshold in
/// bytes.
pub const SEND_ZC_ENV: &str = "RINGMQ_SEND_ZC";

/// The threshold `RINGMQ_SEND_ZC=on` means: 16 KiB.
pub const SEND_ZC_DEFAULT_THRESHOLD: usize = 16 * 1024;

/// The zero-copy threshold named by the value of `RINGMQ_SEND_ZC` (absent: off).
fn send_zc_from_env(value: Option<std::ffi::OsString>) -> io::Result<Option<usize>> {
    let Some(v) = value else {
        return Ok(None);
    };
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{SEND_ZC_ENV}={v:?} is not one of on, off or a size in bytes"),
        )
    };
    match v
        .to_str()
        .ok_or_else(bad)?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "off" | "0" => Ok(None),
        "on" => Ok(Some(SEND_ZC_DEFAULT_THRESHOLD)),
        n => n.parse().map(Some).map_err(|_| bad()),
    }
}

/// What the zero-copy sends of a runtime did ([`Native::send_zc_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendZcStats {
    /// `IORING_OP_SENDMSG_ZC` operations submitted and not refused (dropped ones
    /// included).
    pub sends: u64,
    /// Notifications received: the kernel released the pages of a send.
    pub notifications: u64,
    /// Notifications saying that the kernel copied the data after all (loopback does;
    /// counted where the kernel reports it, 6.2 and later).
    pub copied: u64,
    /// Sends refused by the kernel (`EOPNOTSUPP` on Unix sockets, `EINVAL`) and made
    /// again with a copy; the socket copies from then on.
    pub refused: u64,
}

/// Which driver a [`Runtime`] should use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring if the kernel allows it, else epoll (with one warning on stderr).
    #[default]
    Auto,
    /// io_uring, or an error.
    Uring,
    /// epoll.
    Epoll,
}

impl FromStr for BackendChoice {
    type Err = io::Error;

    fn from_str(s: &str) -> io::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(BackendChoice::Auto),
            "uring" | "io_uring" | "io-uring" => Ok(BackendChoice::Uring),
            "epoll" => Ok(BackendChoice::Epoll),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{BACKEND_ENV}={s:?} is not one of uring, epoll, auto"),
            )),
        }
    }
}

/// The driver a [`Runtime`] actually uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The io_uring driver.
    Uring,
    /// The epoll driver.
    Epoll,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Uring => "uring",
            Backend::Epoll => "epoll",
        })
    }
}

// Allocated once per runtime inside an `Rc`; boxing the ring would add an indirection
// to every operation.
#[allow(clippy::large_enum_variant)]
enum Driver {
    Uring(uring::Driver),
    Epoll(epoll::Driver),
}

impl Park for Driver {
    fn park(&self, timeout: Option<Duration>, parked: &AtomicBool) -> io::Result<()> {
        match self {
            Driver::Uring(d) => d.park(timeout, parked),
            Driver::Epoll(d) => d.park(timeout, parked),
        }
    }
}

struct Core {
    // Dropped before the driver: tasks may hold operations parked in it.
    exec: Executor,
    driver: Driver,
}

/// The built-in single-threaded runtime: a local executor driving io_uring or epoll on
/// the calling thread.
///
/// ```
/// use ringmq_proactor::{Proactor, Runtime};
/// let rt = Runtime::new()?;
/// let p = rt.proactor();
/// let ep = rt.block_on(async {
///     let l = p.listen(&"tcp://127.0.0.1:*".parse().unwrap())?;
///     p.listener_endpoint(&l)
/// })?;
/// assert!(ep.to_string().starts_with("tcp://127.0.0.1:"));
/// # std::io::Result::Ok(())
/// ```
pub struct Runtime {
    native: Native,
}

/// A handle to a [`Runtime`]: cheap to clone, implements [`Proactor`], usable only on the
/// runtime's thread (it is `!Send`).
#[derive(Clone)]
pub struct Native {
    core: Rc<Core>,
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// The choice named by the value of `RINGMQ_BACKEND` (absent means `Auto`).
fn choice_from_env(value: Option<std::ffi::OsString>) -> io::Result<BackendChoice> {
    match value {
        None => Ok(BackendChoice::Auto),
        Some(v) => match v.to_str() {
            Some(s) => s.parse(),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{BACKEND_ENV}={v:?} is not one of uring, epoll, auto"),
            )),
        },
    }
}

impl Runtime {
    /// A runtime with the backend named by the `RINGMQ_BACKEND` environment variable
    /// (`uring`, `epoll` or `auto`, the default). A bad value is an `InvalidInput` error.
    pub fn new() -> io::Result<Runtime> {
        Runtime::with_backend(choice_from_env(std::env::var_os(BACKEND_ENV))?)
    }

    /// A runtime with the given backend. `Auto` falls back to epoll when io_uring cannot be
    /// used, and says why through `tracing` (feature `tracing`; once per process).
    ///
    /// The io_uring driver's zero-copy sends start as `RINGMQ_SEND_ZC` says (off when it
    /// is unset; a bad value is an `InvalidInput` error); see [`Native::set_send_zc`].
    pub fn with_backend(choice: BackendChoice) -> io::Result<Runtime> {
        let send_zc = send_zc_from_env(std::env::var_os(SEND_ZC_ENV))?;
        let (driver, unpark) = match choice {
            BackendChoice::Uring => {
                let (d, u) = uring::Driver::new()
                    .map_err(|e| io::Error::new(e.kind(), format!("io_uring unavailable: {e}")))?;
                (Driver::Uring(d), u)
            }
            BackendChoice::Epoll => {
                let (d, u) = epoll::Driver::new()?;
                (Driver::Epoll(d), u)
            }
            BackendChoice::Auto => match uring::Driver::new() {
                Ok((d, u)) => (Driver::Uring(d), u),
                Err(e) => {
                    if !WARNED.swap(true, Ordering::Relaxed) {
                        #[cfg(feature = "tracing")]
                        tracing::warn!(error = %e, "io_uring unavailable, using epoll");
                    }
                    #[cfg(not(feature = "tracing"))]
                    let _ = e;
                    let (d, u) = epoll::Driver::new()?;
                    (Driver::Epoll(d), u)
                }
            },
        };
        #[cfg(feature = "tracing")]
        tracing::debug!(backend = ?match driver {
            Driver::Uring(_) => Backend::Uring,
            Driver::Epoll(_) => Backend::Epoll,
        }, ?choice, "runtime started");
        if let Driver::Uring(d) = &driver {
            d.set_send_zc(send_zc);
        }
        let core = Rc::new(Core {
            exec: Executor::new(unpark),
            driver,
        });
        Ok(Runtime {
            native: Native { core },
        })
    }

    /// The driver in use.
    pub fn backend(&self) -> Backend {
        self.native.backend()
    }

    /// A handle implementing [`Proactor`] for this runtime.
    pub fn proactor(&self) -> Native {
        self.native.clone()
    }

    /// Runs `f` to completion on this thread, together with the spawned tasks and I/O.
    ///
    /// # Panics
    ///
    /// If called from inside `block_on` of the same runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        let core = &self.native.core;
        core.exec.block_on(&core.driver, f)
    }

    /// Spawns a task; it runs while some `block_on` of this runtime runs.
    pub fn spawn_local<F: Future<Output = ()> + 'static>(&self, f: F) {
        self.native.core.exec.spawn(Box::pin(f));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Tasks hold `Native` handles; dropping them breaks the cycle.
        self.native.core.exec.clear();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("backend", &self.backend())
            .finish()
    }
}

impl fmt::Debug for Native {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Native")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Native {
    /// The driver in use.
    pub fn backend(&self) -> Backend {
        match self.core.driver {
            Driver::Uring(_) => Backend::Uring,
            Driver::Epoll(_) => Backend::Epoll,
        }
    }

    /// Zero-copy sends (io_uring only; off unless `RINGMQ_SEND_ZC` says otherwise): a
    /// vectored send holding a buffer of at least `threshold` bytes goes through
    /// `IORING_OP_SENDMSG_ZC` (kernel 6.1), so the kernel sends from the buffers' own
    /// pages instead of copying them into the socket; `None` turns it off. The send
    /// completes when the data is queued; the buffers stay alive (a second handle, see
    /// [`IoBuf::share`]) until the kernel's notification says it no longer reads them,
    /// after the peer acknowledged the data. Buffers that cannot be shared, and sockets
    /// where the kernel refuses (Unix sockets), are copied as usual. Only the built-in
    /// io_uring driver has the option.
    ///
    /// Returns whether zero-copy sends are available: `false` on epoll and on kernels
    /// without the operation, where the setting has no effect. On loopback the kernel
    /// copies the data on delivery anyway (see docs/PERFORMANCE.md for what it measured).
    pub fn set_send_zc(&self, threshold: Option<usize>) -> bool {
        match &self.core.driver {
            Driver::Uring(d) => d.set_send_zc(threshold),
            Driver::Epoll(_) => false,
        }
    }

    /// What zero-copy sends did so far on this runtime (all zero on epoll).
    pub fn send_zc_stats(&self) -> SendZcStats {
        match &self.core.driver {
            Driver::Uring(d) => d.send_zc_stats(),
            Driver::Epoll(_) => SendZcStats::default(),
        }
    }

    /// epoll: reads that failed with `WouldBlock` so far (`None` on io_uring).
    #[cfg(test)]
    pub(crate) fn epoll_read_would_block(&self) -> Option<u64> {
        match &self.core.driver {
            Driver::Epoll(d) => Some(d.read_would_block.get()),
            Driver::Uring(_) => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn core_timers_empty(&self) -> bool {
        self.core.exec.timers_empty()
    }

    async fn connect_one(
        &self,
        addr: &sys::SockAddr,
        tcp: bool,
        prepare: &dyn Fn(BorrowedFd<'_>) -> io::Result<()>,
    ) -> io::Result<Rc<Socket>> {
        loop {
            let uring = matches!(self.core.driver, Driver::Uring(_));
            // epoll needs a non-blocking descriptor; io_uring's operations do not.
            let fd = sys::socket(addr.family(), !uring)?;
            prepare(fd.as_fd())?;
            let r = match &self.core.driver {
                Driver::Uring(d) => d.connect(fd, addr).await.map(|fd| Socket::new(fd, tcp)),
                Driver::Epoll(d) => d.connect(fd, addr, tcp).await,
            };
            match r {
                Ok(sock) => {
                    sys::tune_stream(&sock.fd, tcp)?;
                    return Ok(sock);
                }
                // A Unix listener with a full backlog refuses non-blocking connects with
                // EAGAIN; a TCP SYN would be retried by the kernel, so retry likewise.
                Err(e) if !tcp && e.kind() == io::ErrorKind::WouldBlock => {
                    self.core
                        .exec
                        .sleep_until(Instant::now() + Duration::from_millis(1))
                        .await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn broken_pipe() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "send after shutdown")
}

impl Proactor for Native {
    type Listener = Listener;
    type Stream = Stream;
    type Reader = Reader;
    type Writer = Writer;

    fn listen(&self, ep: &Endpoint) -> io::Result<Listener> {
        let nonblocking = matches!(self.core.driver, Driver::Epoll(_));
        let (fd, bound) = sys::listen(ep, nonblocking)?;
        Ok(Listener {
            sock: Socket::new(fd, bound.tcp),
            bound,
        })
    }

    fn listener_endpoint(&self, l: &Listener) -> io::Result<Endpoint> {
        sys::bound_endpoint(&l.bound, l.sock.raw())
    }

    async fn accept(&self, l: &Listener) -> io::Result<(Stream, PeerAddr)> {
        let sock = match &self.core.driver {
            Driver::Uring(d) => Socket::new(d.accept(&l.sock).await?, l.sock.tcp),
            Driver::Epoll(d) => d.accept(&l.sock).await?,
        };
        sys::tune_stream(&sock.fd, sock.tcp)?;
        let peer = sys::peer_addr(sock.raw(), sock.tcp);
        Ok((Stream { sock }, peer))
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
        let addrs = sys::resolve(ep)?;
        let tcp = matches!(ep, Endpoint::Tcp { .. });
        let sock = crate::connect_first(&addrs, |a| self.connect_one(a, tcp, prepare)).await?;
        Ok(Stream { sock })
    }

    fn adopt_datagram(&self, socket: std::net::UdpSocket) -> io::Result<Stream> {
        // epoll needs non-blocking descriptors; io_uring's direct sends and receives
        // pass MSG_DONTWAIT themselves, like on the streams it connects.
        socket.set_nonblocking(matches!(self.core.driver, Driver::Epoll(_)))?;
        let sock = Socket::new(std::os::fd::OwnedFd::from(socket), false);
        sock.datagram.set(true);
        Ok(Stream { sock })
    }

    fn split(&self, s: Stream) -> (Reader, Writer) {
        (
            Reader {
                sock: s.sock.clone(),
            },
            Writer {
                sock: s.sock,
                shut: false,
                msg: None,
            },
        )
    }

    async fn recv<B: IoBufMut>(&self, r: &mut Reader, buf: B) -> BufResult<usize, B> {
        match &self.core.driver {
            Driver::Uring(d) => d.recv(&r.sock, buf).await,
            Driver::Epoll(d) => d.recv(&r.sock, buf).await,
        }
    }

    async fn send<B: IoBuf>(&self, w: &mut Writer, buf: B) -> BufResult<usize, B> {
        if w.shut {
            return BufResult(Err(broken_pipe()), buf);
        }
        match &self.core.driver {
            Driver::Uring(d) => d.send(&w.sock, buf).await,
            Driver::Epoll(d) => d.send(&w.sock, buf).await,
        }
    }

    async fn send_vectored<B: IoBuf>(
        &self,
        w: &mut Writer,
        bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        if w.shut {
            return BufResult(Err(broken_pipe()), bufs);
        }
        if bufs.is_empty() {
            return BufResult(Ok(0), bufs);
        }
        match &self.core.driver {
            Driver::Uring(d) => d.send_vectored(&w.sock, &mut w.msg, bufs).await,
            Driver::Epoll(d) => d.send_vectored(&w.sock, &mut w.msg, bufs).await,
        }
    }

    fn try_send_vectored<B: IoBuf>(&self, w: &mut Writer, bufs: &[B]) -> Option<io::Result<usize>> {
        if w.shut {
            return Some(Err(broken_pipe()));
        }
        if bufs.is_empty() {
            return Some(Ok(0));
        }
        match &self.core.driver {
            Driver::Uring(d) => d.try_send_vectored(&w.sock, &mut w.msg, bufs),
            Driver::Epoll(d) => d.try_send_vectored(&w.sock, &mut w.msg, bufs),
        }
    }

    async fn shutdown(&self, w: &mut Writer) -> io::Result<()> {
        w.shut = true;
        sys::shutdown_write(w.sock.raw())
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        self.core.exec.sleep_until(deadline)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn spawn_local<F: Future<Output = ()> + 'static>(&self, f: F) {
        self.core.exec.spawn(Box::pin(f));
    }

    fn is_driving(&self) -> bool {
        self.core.exec.is_running()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        assert_eq!(choice_from_env(None).unwrap(), BackendChoice::Auto);
        assert_eq!(
            choice_from_env(Some("epoll".into())).unwrap(),
            BackendChoice::Epoll
        );
        assert_eq!(
            choice_from_env(Some("uring".into())).unwrap(),
            BackendChoice::Uring
        );
        let e = choice_from_env(Some("poll".into())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("RINGMQ_BACKEND=\"poll\""), "{e}");
    }

    #[test]
    fn send_zc_env_values() {
        assert_eq!(send_zc_from_env(None).unwrap(), None);
        for off in ["", "off", "OFF", "0"] {
            assert_eq!(send_zc_from_env(Some(off.into())).unwrap(), None, "{off}");
        }
        assert_eq!(
            send_zc_from_env(Some("on".into())).unwrap(),
            Some(SEND_ZC_DEFAULT_THRESHOLD)
        );
        assert_eq!(
            send_zc_from_env(Some(" 65536 ".into())).unwrap(),
            Some(65536)
        );
        let e = send_zc_from_env(Some("16k".into())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("RINGMQ_SEND_ZC=\"16k\""), "{e}");
    }
}
