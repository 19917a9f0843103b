//! The I/O foundation of ringmq: one small completion-style trait, [`Proactor`], and the
//! built-in drivers that implement it.
//!
//! A proactor *submits* an operation together with an owned buffer and later hands back
//! the result with the buffer ([`BufResult`]). Everything above this crate (the ZMTP
//! sockets) is written against the trait, so the same socket code runs on:
//!
//! - the built-in io_uring driver (primary),
//! - the built-in epoll driver (fallback; completion emulated over readiness),
//! - compio's, monoio's or tokio's runtime, through the `ringmq-compio` /
//!   `ringmq-monoio` / `ringmq-tokio` adapters.
//!
//! There is no global runtime and there are no hidden threads: every engine is
//! thread-per-core, so nothing here is `Send`. The built-in [`Runtime`] drives futures
//! and the kernel on the calling thread with `block_on`.
//!
//! [`Runtime::new`] uses io_uring when the kernel allows it and falls back to epoll
//! (saying why, once, on stderr); the environment variable `RINGMQ_BACKEND=uring|epoll|auto`
//! or [`Runtime::with_backend`] forces a choice.
//!
//! This is the only crate of ringmq that contains `unsafe` code; every block says why it
//! is sound in a `// SAFETY:` comment.
#![warn(missing_docs)]

mod buf;
#[cfg(any(feature = "compio-buf", feature = "monoio-buf", feature = "tokio-buf"))]
pub mod compat;
mod endpoint;
mod epoll;
mod executor;
mod net;
mod runtime;
pub mod simd;
pub mod sockopt;
mod sys;
#[cfg(feature = "test-util")]
pub mod test_util;
#[cfg(test)]
mod tests;
mod uring;

pub use buf::{BufResult, IoBuf, IoBufMut, Slice};
pub use endpoint::{
    connect_first, Endpoint, EndpointError, Host, IpcAddr, PeerAddr, MAX_IPC_ADDR_LEN,
};
pub use net::{Listener, Reader, Stream, Writer};
pub use runtime::{
    Backend, BackendChoice, Native, Runtime, SendZcStats, BACKEND_ENV, SEND_ZC_DEFAULT_THRESHOLD,
    SEND_ZC_ENV,
};

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Instant;

/// A completion-based I/O engine for one thread.
///
/// All futures returned here are cancel-safe in the sense the conformance suite checks:
/// dropping one mid-flight leaks no file descriptor and no buffer, and a `recv` whose
/// future is dropped loses no bytes that the application could have read (either the
/// operation had not completed, or the driver keeps the bytes for the next `recv`).
pub trait Proactor: Clone + 'static {
    /// A bound TCP or IPC listening socket (its descriptor for [`sockopt`]).
    type Listener: AsRawFd + 'static;
    /// A connected TCP or IPC stream, before it is split.
    type Stream: AsRawFd + 'static;
    /// The receiving half of a stream.
    type Reader: 'static;
    /// The sending half of a stream.
    type Writer: 'static;

    /// Binds and listens on `ep` (TCP or IPC). Wildcard hosts and port 0 are allowed.
    fn listen(&self, ep: &Endpoint) -> io::Result<Self::Listener>;

    /// The address the listener is actually bound to, with the ephemeral port filled in.
    fn listener_endpoint(&self, l: &Self::Listener) -> io::Result<Endpoint>;

    /// Accepts one connection.
    fn accept(
        &self,
        l: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, PeerAddr)>>;

    /// Connects to `ep`. TCP streams get `TCP_NODELAY`, as libzmq sets it.
    fn connect(&self, ep: &Endpoint) -> impl Future<Output = io::Result<Self::Stream>>;

    /// Whether [`Proactor::connect_prepared`] runs its `prepare` before the
    /// connection starts (true for the built-in drivers, compio and tokio) or after
    /// it is made (the default, for engines whose connect has no such hook: monoio).
    const PREPARES_BEFORE_CONNECT: bool = false;

    /// Connects like [`Proactor::connect`], running `prepare` on each new socket
    /// first: the socket options that must come before the SYN (SO_BINDTODEVICE
    /// picks the route, SO_RCVBUF the window scale, IP_TOS the SYN's own class), as
    /// libzmq sets them. An error from `prepare` fails that attempt. The default
    /// connects, then runs `prepare` on the connected stream (see
    /// [`Proactor::PREPARES_BEFORE_CONNECT`]).
    fn connect_prepared(
        &self,
        ep: &Endpoint,
        prepare: &dyn Fn(BorrowedFd<'_>) -> io::Result<()>,
    ) -> impl Future<Output = io::Result<Self::Stream>> {
        async move {
            let s = self.connect(ep).await?;
            // SAFETY: the descriptor belongs to `s`, which outlives the borrow (it is
            // only used during the call).
            let fd = unsafe { BorrowedFd::borrow_raw(s.as_raw_fd()) };
            prepare(fd)?;
            Ok(s)
        }
    }

    /// Splits a stream into halves that can be used by two tasks at once. The
    /// descriptor is closed when both halves are dropped.
    fn split(&self, s: Self::Stream) -> (Self::Reader, Self::Writer);

    /// Receives into the spare capacity of `buf` (appending after its initialised
    /// bytes). `Ok(0)` means the peer closed; a buffer without spare capacity is an
    /// `InvalidInput` error.
    fn recv<B: IoBufMut>(
        &self,
        r: &mut Self::Reader,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>>;

    /// Sends the initialised bytes of `buf`; may write fewer (partial write).
    fn send<B: IoBuf>(
        &self,
        w: &mut Self::Writer,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>>;

    /// Sends many buffers with one system call (writev / one SQE); may write fewer
    /// bytes than the total. At most [`MAX_IOVECS`] buffers are sent per call.
    fn send_vectored<B: IoBuf>(
        &self,
        w: &mut Self::Writer,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>>;

    /// Sends `bufs` at once if the socket can take bytes without waiting (one
    /// non-blocking `sendmsg`), without a future. `Some(Ok(n))`: `n` bytes went out
    /// (possibly fewer than all); `Some(Err(_))`: the send failed; `None`: nothing was
    /// written and the caller should use [`Proactor::send_vectored`] (the socket is
    /// full, a send is already in flight on this writer, or the engine has no
    /// synchronous path, which is what the default does). At most [`MAX_IOVECS`]
    /// buffers are sent. Lets a request / reply protocol write from the task that
    /// produced the bytes instead of waking a writer task.
    fn try_send_vectored<B: IoBuf>(
        &self,
        w: &mut Self::Writer,
        bufs: &[B],
    ) -> Option<io::Result<usize>> {
        let _ = (w, bufs);
        None
    }

    /// Adopts a bound (and, to send, connected) UDP socket as a stream whose
    /// [`Proactor::recv`] receives one datagram at a time and whose [`Proactor::send`]
    /// sends one datagram per call: the `udp://` transport of RADIO / DISH. Unlike a
    /// stream, `Ok(0)` from `recv` is an empty datagram, not the end. Engines that
    /// cannot drive datagram sockets refuse with [`io::ErrorKind::Unsupported`], which
    /// is what the default does.
    fn adopt_datagram(&self, socket: std::net::UdpSocket) -> io::Result<Self::Stream> {
        drop(socket);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this engine does not drive datagram (udp://) sockets",
        ))
    }

    /// Shuts down the sending direction; later sends on this writer fail.
    fn shutdown(&self, w: &mut Self::Writer) -> impl Future<Output = io::Result<()>>;

    /// Completes at `deadline` (immediately if it has passed).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;

    /// The current time, as this engine's timers see it.
    fn now(&self) -> Instant;

    /// Runs `f` as a task on this thread's executor.
    fn spawn_local<F: Future<Output = ()> + 'static>(&self, f: F);

    /// Whether this engine is driving its tasks and I/O on the calling thread now.
    /// Sockets ask before they wait, so that a socket polled where nothing drives its
    /// engine (the built-in runtime's socket polled outside `Runtime::block_on`, for
    /// example inside another executor) fails with an error that says so instead of
    /// waiting forever. The default says yes.
    fn is_driving(&self) -> bool {
        true
    }

    /// Lets the other tasks that are ready run before the caller goes on (a reader
    /// yields after a large read so that the application takes the messages first).
    /// The default wakes the task and returns `Pending` once, which puts it behind the
    /// tasks already queued; an engine whose scheduler would poll it again before the
    /// others (tokio's `LocalSet`) overrides it.
    fn yield_now(&self) -> impl Future<Output = ()> {
        YieldNow(false)
    }
}

/// The default [`Proactor::yield_now`]: pending once, with the task woken.
#[derive(Debug)]
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// The most buffers one vectored send passes to the kernel (`IOV_MAX` on Linux).
pub const MAX_IOVECS: usize = 1024;

/// The most bytes one receive or send asks the kernel to move: Linux's `MAX_RW_COUNT`
/// (`INT_MAX` rounded down to a page), the most any read or write transfers anyway.
///
/// Every engine clamps the length it passes to this. io_uring refuses a receive longer
/// than `INT_MAX` with `EINVAL` instead of shortening it, and the compio and monoio
/// runtimes cut lengths to 32 bits, so a buffer with 2 GiB or more of spare capacity
/// (a large frame being received in place) would otherwise fail or be misread.
pub const MAX_IO_LEN: usize = 0x7fff_f000;
