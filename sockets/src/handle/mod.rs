//! Sockets for multi-threaded programs: [`SocketHandle`] (`Send + Sync + Clone`, async
//! on any executor) and [`BlockingSocket`] (plain blocking calls, like rust-zmq).
//!
//! A [`Socket`] is single-threaded: it lives on the thread of its proactor. A handle's
//! socket lives on a [`RuntimeThread`], a named thread running ringmq's built-in
//! runtime (io_uring or epoll), and the handle talks to it through queues whose
//! wake-ups cross threads:
//!
//! - **Streaming types** (PUSH, PULL, PUB, SUB, XPUB, XSUB, DEALER, PAIR, and ROUTER's
//!   receiving side): a pump task on the runtime thread moves messages between the
//!   socket and a bounded pipe of [`RuntimeThreadBuilder::queue`] messages (default
//!   1,024) per direction, a batch at a time. `send` completes once the message is in
//!   the pipe; when the socket is at its SNDHWM the pump waits, the pipe fills and
//!   `send` waits too, so back-pressure reaches the caller and memory stays bounded by
//!   the HWM plus the pipe. The pump of a receiving socket stops taking messages when
//!   the pipe is full, and the socket's RCVHWM then stops TCP.
//! - **Request / reply** (REQ, REP, and ROUTER's `send`, whose errors matter per
//!   message: `InvalidState`, `HostUnreachable`): each call runs on the runtime thread
//!   and its result comes back, so errors and the socket's SNDTIMEO / RCVTIMEO apply as
//!   on a [`Socket`].
//!
//! Calls that change the socket (`bind`, `connect`, `set_option`, ...) are synchronous:
//! they run on the runtime thread and wait for its answer (microseconds).
//!
//! The futures of a handle need no particular executor: tokio (multi-thread or not),
//! smol, async-std or a bare `block_on` all work, because the runtime thread drives
//! the I/O. Timers are the caller's: an async `recv` waits as long as it takes (wrap it
//! in your executor's timeout), while [`BlockingSocket`] honours SNDTIMEO / RCVTIMEO
//! and has `*_timeout` variants.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use ringmq_proactor::{Backend, BackendChoice, Native, Proactor, Runtime};
use ringmq_zmtp::SocketType;
use tokio::sync::{mpsc, oneshot};

use crate::context::{Context, ContextHandle};
use crate::core::Drops;
use crate::error::Error;
use crate::message::Message;
use crate::monitor::MonitorEvent;
use crate::options::{SocketOption, SocketOptions};
use crate::socket::{Events, Socket};
use crate::stats::SocketStats;
use crate::util::{select, with_deadline, yield_now, Either, Notify, Stop};

mod pipe;
use crate::zap::ZapHandler;
use pipe::{Key, Pipe, PushError};

/// Commands a socket's task runs in a row before letting the runtime thread's other
/// tasks run.
const CMD_BURST: u32 = 32;

/// Messages a pump keeps in flight per direction unless the builder says otherwise.
pub const DEFAULT_HANDLE_QUEUE: usize = 1024;

/// Work for the runtime thread, run with its context.
type RtCmd = Box<dyn FnOnce(&RtState) + Send>;

/// What the runtime thread's command loop owns.
struct RtState {
    ctx: Context<Native>,
    /// Sockets whose task has not finished (closing included).
    live: Rc<Cell<usize>>,
    /// Notified when `live` drops.
    gone: Rc<Notify>,
}

/// A thread running ringmq's built-in runtime, hosting the sockets of
/// [`SocketHandle`]s. `Send + Sync + Clone`; the thread ends when the last clone and
/// the last handle of its sockets are gone and those sockets have closed (LINGER).
#[derive(Clone)]
pub struct RuntimeThread {
    inner: Arc<RtInner>,
}

struct RtInner {
    tx: mpsc::UnboundedSender<RtCmd>,
    name: String,
    backend: Backend,
    queue: usize,
}

impl fmt::Debug for RuntimeThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeThread")
            .field("name", &self.inner.name)
            .field("backend", &self.inner.backend)
            .finish()
    }
}

/// Builds a [`RuntimeThread`]: its name, backend and pipe size.
#[derive(Debug, Clone)]
pub struct RuntimeThreadBuilder {
    name: String,
    backend: Option<BackendChoice>,
    queue: usize,
    context: Option<ContextHandle>,
}

impl Default for RuntimeThreadBuilder {
    fn default() -> Self {
        RuntimeThreadBuilder {
            name: "ringmq-runtime".to_owned(),
            backend: None,
            queue: DEFAULT_HANDLE_QUEUE,
            context: None,
        }
    }
}

impl RuntimeThreadBuilder {
    /// The thread's name (default `ringmq-runtime`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The backend (default: `RINGMQ_BACKEND`, else io_uring with epoll as fallback).
    pub fn backend(mut self, choice: BackendChoice) -> Self {
        self.backend = Some(choice);
        self
    }

    /// Messages in flight between a handle and its socket per direction (default
    /// [`DEFAULT_HANDLE_QUEUE`], at least 1).
    pub fn queue(mut self, messages: usize) -> Self {
        self.queue = messages.max(1);
        self
    }

    /// Joins `handle`: the thread's sockets share its inproc names (and its
    /// termination) with the Contexts of other threads made from it (default: a
    /// fresh one of its own).
    pub fn context(mut self, handle: &ContextHandle) -> Self {
        self.context = Some(handle.clone());
        self
    }

    /// Starts the thread and its runtime.
    pub fn spawn(self) -> io::Result<RuntimeThread> {
        let (tx, mut rx) = mpsc::unbounded_channel::<RtCmd>();
        let (ready_tx, ready_rx) = std_mpsc::channel::<io::Result<Backend>>();
        let choice = self.backend;
        let shared = self.context.unwrap_or_default();
        std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || {
                let rt = match choice.map_or_else(Runtime::new, Runtime::with_backend) {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(rt.backend()));
                let state = RtState {
                    ctx: Context::with_handle(rt.proactor(), &shared),
                    live: Rc::new(Cell::new(0)),
                    gone: Rc::new(Notify::default()),
                };
                rt.block_on(async {
                    while let Some(cmd) = rx.recv().await {
                        cmd(&state);
                    }
                    // Every handle is gone: let the sockets finish closing (LINGER).
                    while state.live.get() > 0 {
                        let gone = state.gone.notified();
                        if state.live.get() == 0 {
                            break;
                        }
                        gone.await;
                    }
                });
            })?;
        let backend = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the ringmq runtime thread ended at start"))??;
        Ok(RuntimeThread {
            inner: Arc::new(RtInner {
                tx,
                name: self.name,
                backend,
                queue: self.queue,
            }),
        })
    }
}

impl RuntimeThread {
    /// A builder with the defaults.
    pub fn builder() -> RuntimeThreadBuilder {
        RuntimeThreadBuilder::default()
    }

    /// Starts a runtime thread with the defaults.
    pub fn spawn() -> io::Result<RuntimeThread> {
        Self::builder().spawn()
    }

    /// The backend the thread runs.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The thread's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Sets the ZAP handler of the thread's context (see [`Context::set_zap_handler`]).
    pub fn set_zap_handler(&self, handler: impl ZapHandler + Send + 'static) -> Result<(), Error> {
        self.call(move |st| st.ctx.set_zap_handler(handler))
    }

    /// Runs `f` on the runtime thread and waits for its answer.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&RtState) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let (tx, rx) = std_mpsc::sync_channel(1);
        let cmd: RtCmd = Box::new(move |st| {
            let _ = tx.send(f(st));
        });
        self.inner.tx.send(cmd).map_err(|_| Error::Closed)?;
        rx.recv().map_err(|_| Error::Closed)
    }

    /// A new socket of type `kind` on this thread.
    pub fn socket(&self, kind: SocketType) -> Result<SocketHandle, Error> {
        let mode = Mode::of(kind);
        let queue = self.inner.queue;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel::<SockCmd>();
        let send_pipe = mode.pumped_send.then(|| Arc::new(Pipe::new(queue)));
        let recv_pipe = mode.pumped_recv.then(|| Arc::new(Pipe::new(queue)));
        let (sp, rp) = (send_pipe.clone(), recv_pipe.clone());
        self.call(move |st| {
            let sock = Rc::new(st.ctx.socket(kind));
            let p = st.ctx.proactor().clone();
            let pumps = Rc::new(Pumps {
                send: sp,
                recv: rp,
                ..Pumps::default()
            });
            if let Some(pipe) = pumps.send.clone() {
                pumps.start(true);
                let pumps = pumps.clone();
                let sock = sock.clone();
                p.spawn_local(async move {
                    send_pump(&sock, &pipe, &pumps.stop).await;
                    pumps.finished(true);
                });
            }
            if let Some(pipe) = pumps.recv.clone() {
                pumps.start(false);
                let pumps = pumps.clone();
                let sock = sock.clone();
                p.spawn_local(async move {
                    recv_pump(&sock, &pipe).await;
                    pumps.finished(false);
                });
            }
            st.live.set(st.live.get() + 1);
            let (live, gone) = (st.live.clone(), st.gone.clone());
            p.clone().spawn_local(async move {
                socket_task(&p, sock, cmd_rx, &pumps).await;
                live.set(live.get() - 1);
                gone.notify();
            });
        })?;
        Ok(SocketHandle {
            polling: HandlePolling::default(),
            inner: Arc::new(HandleInner {
                kind,
                rt: self.clone(),
                cmd: cmd_tx,
                send: send_pipe,
                recv: recv_pipe,
                returned: Mutex::new(VecDeque::new()),
                pending_recv: Mutex::new(VecDeque::new()),
                sndtimeo: AtomicTimeout::default(),
                rcvtimeo: AtomicTimeout::default(),
            }),
        })
    }
}

/// Which directions go through pumps for a socket type.
#[derive(Clone, Copy)]
struct Mode {
    pumped_send: bool,
    pumped_recv: bool,
}

impl Mode {
    fn of(kind: SocketType) -> Mode {
        use SocketType::*;
        match kind {
            Req | Rep => Mode {
                pumped_send: false,
                pumped_recv: false,
            },
            // ROUTER's send can fail per message (ROUTER_MANDATORY), and SERVER's and
            // PEER's (an unknown routing id); SUB and GATHER cannot send.
            Router | Sub | Server | Peer => Mode {
                pumped_send: false,
                pumped_recv: true,
            },
            // PUSH, PUB, SCATTER and RADIO cannot receive.
            Push | Pub | Scatter | Radio => Mode {
                pumped_send: true,
                pumped_recv: false,
            },
            Pull | Gather | Dish => Mode {
                pumped_send: false,
                pumped_recv: true,
            },
            _ => Mode {
                pumped_send: true,
                pumped_recv: true,
            },
        }
    }
}

/// A call made on the runtime thread with the socket.
type SyncCall = Box<dyn FnOnce(&Socket<Native>) + Send>;
/// A local task's future, made on the runtime thread with the socket.
type LocalTask = Pin<Box<dyn Future<Output = ()>>>;
/// Makes a [`LocalTask`].
type AsyncCall = Box<dyn FnOnce(Rc<Socket<Native>>) -> LocalTask + Send>;

/// A command for one socket's task.
enum SockCmd {
    /// Runs on the runtime thread with the socket.
    Sync(SyncCall),
    /// Spawned as a local task with the socket.
    Async(AsyncCall),
    /// Closes the socket (LINGER applies), then answers.
    Close(oneshot::Sender<()>),
}

/// The pump tasks of one socket and their pipes.
#[derive(Default)]
struct Pumps {
    send: Option<Arc<Pipe<Message>>>,
    recv: Option<Arc<Pipe<Result<Message, Error>>>>,
    /// Stops the send pump (LINGER expired).
    stop: Stop,
    sending: Cell<bool>,
    receiving: Cell<bool>,
    done: Notify,
}

impl Pumps {
    fn start(&self, send: bool) {
        if send {
            self.sending.set(true);
        } else {
            self.receiving.set(true);
        }
    }

    fn finished(&self, send: bool) {
        if send {
            self.sending.set(false);
        } else {
            self.receiving.set(false);
        }
        self.done.notify();
    }

    async fn until(&self, running: impl Fn(&Pumps) -> bool) {
        loop {
            let done = self.done.notified();
            if !running(self) {
                return;
            }
            done.await;
        }
    }
}

/// Runs a socket's commands until its handles are gone or one closes it; then closes:
/// the send pump hands what the handles already sent to the socket (for up to
/// LINGER), the socket closes (LINGER again for its own queues), and a `close` is
/// answered once the pumps have seen it, so every clone's next call fails with
/// `Closed`.
async fn socket_task(
    p: &Native,
    sock: Rc<Socket<Native>>,
    mut cmds: mpsc::UnboundedReceiver<SockCmd>,
    pumps: &Pumps,
) {
    let mut done = None;
    let mut run = 0u32;
    while let Some(cmd) = cmds.recv().await {
        // The channel is ready for as long as handles keep sending: yield now and then
        // so that the tasks these commands start (and every other socket on the
        // thread) get to run.
        run += 1;
        if run % CMD_BURST == 0 {
            yield_now(p).await;
        }
        match cmd {
            SockCmd::Sync(f) => f(&sock),
            SockCmd::Async(f) => p.spawn_local(f(sock.clone())),
            SockCmd::Close(tx) => {
                done = Some(tx);
                break;
            }
        }
    }
    cmds.close();
    if let Some(pipe) = &pumps.send {
        pipe.close();
    }
    let deadline = sock.linger().map(|d| p.now() + d);
    with_deadline(p, deadline, pumps.until(|p| p.sending.get())).await;
    pumps.stop.stop();
    sock.close_in_place().await;
    if let Some(pipe) = &pumps.recv {
        pipe.close();
    }
    pumps.until(|p| p.sending.get() || p.receiving.get()).await;
    if let Some(tx) = done {
        let _ = tx.send(());
    }
    // Commands that arrived meanwhile see a closed socket.
    while let Ok(cmd) = cmds.try_recv() {
        match cmd {
            SockCmd::Sync(f) => f(&sock),
            SockCmd::Async(f) => p.spawn_local(f(sock.clone())),
            SockCmd::Close(tx) => {
                let _ = tx.send(());
            }
        }
    }
}

/// Moves messages from the handles' pipe into the socket, in order, a batch at a time.
async fn send_pump(sock: &Socket<Native>, pipe: &Pipe<Message>, stop: &Stop) {
    let mut batch = VecDeque::new();
    let mut key = Key::new(pipe);
    'pump: loop {
        let more = poll_fn(|cx| pipe.poll_take_all(cx, &mut key.key, &mut batch));
        match select(more, stop.wait()).await {
            Either::Left(true) => {}
            Either::Left(false) | Either::Right(()) => break,
        }
        while let Some(msg) = batch.pop_front() {
            match select(sock.send_untimed(msg), stop.wait()).await {
                Either::Left(Ok(())) => {}
                _ => break 'pump,
            }
        }
    }
    // Closed or stopped: the handles' next send fails with `Closed`.
    pipe.close();
}

/// Moves received messages from the socket into the handles' pipe, taking from the
/// socket only what the pipe has room for (RCVHWM keeps applying to the rest).
async fn recv_pump(sock: &Socket<Native>, pipe: &Pipe<Result<Message, Error>>) {
    let mut batch = Vec::new();
    let mut key = Key::new(pipe);
    loop {
        if !poll_fn(|cx| pipe.poll_room(cx, &mut key.key)).await {
            break;
        }
        let mut ended = false;
        match sock.recv_untimed().await {
            Ok(m) => batch.push(Ok(m)),
            Err(e) => {
                batch.push(Err(e));
                ended = true;
            }
        }
        let room = pipe.room().min(64);
        while !ended && batch.len() < room {
            match sock.try_recv() {
                Ok(m) => batch.push(Ok(m)),
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    batch.push(Err(e));
                    ended = true;
                }
            }
        }
        if !pipe.push_all(&mut batch) || ended {
            break;
        }
    }
    pipe.close();
}

/// An optional timeout readable from any thread (`u64::MAX` nanoseconds = none).
#[derive(Debug)]
struct AtomicTimeout(AtomicU64);

impl Default for AtomicTimeout {
    fn default() -> Self {
        AtomicTimeout(AtomicU64::new(u64::MAX))
    }
}

impl AtomicTimeout {
    fn set(&self, d: Option<Duration>) {
        let v = d.map_or(u64::MAX, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
        });
        self.0.store(v, Ordering::Relaxed);
    }
    fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(Duration::from_nanos(n)),
        }
    }
}

/// A socket usable from any thread and any executor: `Send + Sync + Clone`.
///
/// Made by [`RuntimeThread::socket`] (or [`SocketHandle::new`], which starts a
/// runtime thread for it). Clones share the socket; the socket closes (honouring
/// LINGER) when the last clone is dropped, or at once for every clone with
/// [`close`](SocketHandle::close). See the [module docs](crate::handle) for how
/// messages travel and where back-pressure applies.
pub struct SocketHandle {
    inner: Arc<HandleInner>,
    /// This clone's state of the poll API (`poll_recv`, `poll_flush`, `Stream`,
    /// `Sink`); a clone starts with none.
    polling: HandlePolling,
}

type Answer<T> = oneshot::Receiver<Result<T, Error>>;

#[derive(Default)]
struct HandlePolling {
    recv_key: Option<u64>,
    recv_answer: Option<Answer<Message>>,
    send_key: Option<u64>,
    /// A message given to `start_send` that is not in the pipe / sent yet.
    pending: Option<Message>,
    send_answer: Option<Answer<()>>,
}

impl Clone for SocketHandle {
    fn clone(&self) -> Self {
        SocketHandle {
            inner: self.inner.clone(),
            polling: HandlePolling::default(),
        }
    }
}

impl Drop for SocketHandle {
    fn drop(&mut self) {
        if let Some(p) = &self.inner.send {
            p.forget(self.polling.send_key.take());
        }
        if let Some(p) = &self.inner.recv {
            p.forget(self.polling.recv_key.take());
        }
    }
}

struct HandleInner {
    kind: SocketType,
    rt: RuntimeThread,
    cmd: mpsc::UnboundedSender<SockCmd>,
    send: Option<Arc<Pipe<Message>>>,
    recv: Option<Arc<Pipe<Result<Message, Error>>>>,
    /// Messages a request/reply `recv` took from the socket after its caller had gone
    /// (a race with cancellation); the next `recv` returns them first.
    returned: Mutex<VecDeque<Message>>,
    /// Request/reply receives asked of the runtime thread whose `recv` was dropped
    /// before the answer came: the next `recv` waits on the oldest instead of asking
    /// again, so dropped receives never pile up on the runtime thread (at most one per
    /// `recv` in progress at once). An answer is never dropped with a message in it.
    pending_recv: Mutex<VecDeque<Answer<Message>>>,
    sndtimeo: AtomicTimeout,
    rcvtimeo: AtomicTimeout,
}

impl Drop for HandleInner {
    /// The last clone is gone: the pumps finish (what was sent is still delivered)
    /// and the socket task closes the socket.
    fn drop(&mut self) {
        if let Some(p) = &self.send {
            p.close();
        }
        if let Some(p) = &self.recv {
            p.close();
        }
    }
}

impl fmt::Debug for SocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketHandle")
            .field("type", &self.inner.kind)
            .field("runtime", &self.inner.rt)
            .finish()
    }
}

impl SocketHandle {
    /// A socket of type `kind` on a new runtime thread of its own (defaults of
    /// [`RuntimeThread::builder`]). Use [`RuntimeThread::socket`] to put several
    /// sockets on one thread.
    pub fn new(kind: SocketType) -> Result<SocketHandle, Error> {
        RuntimeThread::spawn().map_err(Error::Io)?.socket(kind)
    }

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.inner.kind
    }

    /// The runtime thread the socket lives on.
    pub fn runtime(&self) -> &RuntimeThread {
        &self.inner.rt
    }

    /// Runs `f` with the socket on the runtime thread and waits for its answer.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Socket<Native>) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let (tx, rx) = std_mpsc::sync_channel(1);
        let cmd = SockCmd::Sync(Box::new(move |s| {
            let _ = tx.send(f(s));
        }));
        self.inner.cmd.send(cmd).map_err(|_| Error::Closed)?;
        rx.recv().map_err(|_| Error::Closed)
    }

    /// Binds (see [`Socket::bind`]); returns the endpoint actually bound.
    pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
        let ep = endpoint.to_owned();
        self.call(move |s| s.bind(&ep))?
    }

    /// Connects (see [`Socket::connect`]).
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        let ep = endpoint.to_owned();
        self.call(move |s| s.connect(&ep))?
    }

    /// Stops listening on a bound endpoint (see [`Socket::unbind`]).
    pub fn unbind(&self, endpoint: &str) -> Result<(), Error> {
        let ep = endpoint.to_owned();
        self.call(move |s| s.unbind(&ep))?
    }

    /// Drops a connect (see [`Socket::disconnect`]).
    pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        let ep = endpoint.to_owned();
        self.call(move |s| s.disconnect(&ep))?
    }

    /// The last endpoint bound.
    pub fn last_endpoint(&self) -> Option<String> {
        self.call(|s| s.last_endpoint()).ok().flatten()
    }

    /// Sets an option (see [`Socket::set_option`]). SNDTIMEO and RCVTIMEO are also
    /// remembered here for [`BlockingSocket`].
    pub fn set_option(&self, opt: SocketOption) -> Result<(), Error> {
        let timeouts = match &opt {
            SocketOption::SndTimeo(d) => Some((true, *d)),
            SocketOption::RcvTimeo(d) => Some((false, *d)),
            _ => None,
        };
        self.call(move |s| s.set_option(opt))??;
        match timeouts {
            Some((true, d)) => self.inner.sndtimeo.set(d),
            Some((false, d)) => self.inner.rcvtimeo.set(d),
            None => {}
        }
        Ok(())
    }

    /// Subscribes (SUB; see [`Socket::subscribe`]). On an XPUB with XPUB_MANUAL it
    /// applies to the peer of the last notice the socket's thread handed to the
    /// handle, which may be ahead of the one the application read (the handle receives
    /// ahead): use XPUB_MANUAL on a `Socket` when notices from several peers
    /// interleave.
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        let t = topic.to_vec();
        self.call(move |s| s.subscribe(&t))?
    }

    /// Drops one subscription (SUB; see [`Socket::unsubscribe`]).
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<(), Error> {
        let t = topic.to_vec();
        self.call(move |s| s.unsubscribe(&t))?
    }

    /// Joins a group (DISH; see [`Socket::join`]).
    pub fn join(&self, group: &[u8]) -> Result<(), Error> {
        let g = group.to_vec();
        self.call(move |s| s.join(&g))?
    }

    /// Leaves a group (DISH; see [`Socket::leave`]).
    pub fn leave(&self, group: &[u8]) -> Result<(), Error> {
        let g = group.to_vec();
        self.call(move |s| s.leave(&g))?
    }

    /// The messages dropped by design so far, by cause (see [`Socket::drops`]).
    pub fn drops(&self) -> Result<Drops, Error> {
        self.call(|s| s.drops())
    }

    /// The current value of every option (see [`Socket::options`]).
    pub fn options(&self) -> Result<SocketOptions, Error> {
        self.call(|s| s.options())
    }

    /// What `send` and `recv` would do now without waiting (libzmq's ZMQ_EVENTS; see
    /// [`Events`]). Streaming directions answer from the handle's pipes: readable
    /// when a message is in the receive pipe, writable when the send pipe has room.
    /// REQ / REP / ROUTER / SERVER / PEER sends, and REQ / REP receives, ask the
    /// socket on its runtime thread (a synchronous call).
    pub fn events(&self) -> Result<Events, Error> {
        // A message taken for a `recv` that was dropped (kept, or in a parked answer)
        // is the next one `recv` returns.
        let queued = !self.inner.returned.lock().expect("returned").is_empty()
            || self
                .inner
                .pending_recv
                .lock()
                .expect("pending")
                .front()
                .is_some_and(|a| !a.is_empty());
        let readable = match &self.inner.recv {
            Some(pipe) => Some(queued || pipe.ready_to_take()),
            None if queued => Some(true),
            None => None,
        };
        let writable = self.inner.send.as_ref().map(|pipe| pipe.room() > 0);
        if let (Some(readable), Some(writable)) = (readable, writable) {
            return Ok(Events { readable, writable });
        }
        let on_socket = self.call(|s| s.events())?;
        Ok(Events {
            readable: readable.unwrap_or(on_socket.readable),
            writable: writable.unwrap_or(on_socket.writable),
        })
    }

    /// Traffic, queue depths and drops, in total and per peer (see
    /// [`Socket::stats`]). Messages in the handle's pipes are not counted.
    pub fn stats(&self) -> Result<SocketStats, Error> {
        self.call(|s| s.stats())
    }

    /// A receiver of the socket's monitor events from now on (see [`Socket::monitor`]).
    pub fn monitor(&self) -> Result<HandleMonitor, Error> {
        let (tx, rx) = mpsc::channel(crate::MONITOR_CAPACITY);
        let cmd = SockCmd::Async(Box::new(move |s| {
            let m = s.monitor();
            drop(s);
            Box::pin(async move {
                while let Some(e) = m.recv().await {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
            })
        }));
        self.inner.cmd.send(cmd).map_err(|_| Error::Closed)?;
        Ok(HandleMonitor {
            rx: tokio::sync::Mutex::new(rx),
        })
    }

    /// Sends a message. Streaming types: completes once the message is in the
    /// handle's pipe, waiting while the pipe is full (the socket is at its
    /// SNDHWM). REQ, REP, ROUTER: completes with the socket's own result.
    ///
    /// Cancel safety: a streaming `send` dropped before it completes did not send its
    /// message (it is lost with the future). On REQ, REP, ROUTER, SERVER and PEER the
    /// socket's send runs on the runtime thread: dropped, it is abandoned unless that
    /// thread sent the message in the same instant.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        if msg.frames().is_empty() {
            return Err(Error::EmptyMessage);
        }
        match &self.inner.send {
            Some(pipe) => {
                let mut msg = Some(msg);
                let mut key = Key::new(pipe);
                poll_fn(|cx| loop {
                    let m = msg.take().expect("polled after completion");
                    match pipe.try_push(m) {
                        Ok(()) => return Poll::Ready(Ok(())),
                        Err(PushError::Closed(_)) => return Poll::Ready(Err(Error::Closed)),
                        Err(PushError::Full(m)) => {
                            msg = Some(m);
                            match pipe.poll_room(cx, &mut key.key) {
                                Poll::Ready(true) => continue,
                                Poll::Ready(false) => return Poll::Ready(Err(Error::Closed)),
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                    }
                })
                .await
            }
            None => self.ask_send(msg)?.await.map_err(|_| Error::Closed)?,
        }
    }

    /// Starts a send on the runtime thread (REQ, REP, ROUTER); the answer comes back.
    fn ask_send(&self, msg: Message) -> Result<Answer<()>, Error> {
        let (tx, rx) = oneshot::channel();
        let cmd = SockCmd::Async(Box::new(move |s| {
            Box::pin(async move {
                let mut tx = tx;
                // Stop sending if the caller went away: a dropped `send` must not
                // deliver its message later (whether it is gone is looked at first).
                let r = match select(tx.closed(), s.send(msg)).await {
                    Either::Left(()) => return,
                    Either::Right(r) => r,
                };
                let _ = tx.send(r);
            })
        }));
        self.inner.cmd.send(cmd).map_err(|_| Error::Closed)?;
        Ok(rx)
    }

    /// Starts a receive on the runtime thread (REQ, REP); the answer comes back.
    fn ask_recv(&self) -> Result<Answer<Message>, Error> {
        let (tx, rx) = oneshot::channel();
        let me = Arc::downgrade(&self.inner);
        let cmd = SockCmd::Async(Box::new(move |s| {
            Box::pin(async move {
                let mut tx = tx;
                let r = match select(s.recv(), tx.closed()).await {
                    Either::Left(r) => r,
                    Either::Right(()) => return,
                };
                if let Err(Ok(m)) = tx.send(r) {
                    // The caller left after the message was taken: keep it.
                    if let Some(h) = me.upgrade() {
                        h.returned.lock().expect("returned").push_back(m);
                    }
                }
            })
        }));
        self.inner.cmd.send(cmd).map_err(|_| Error::Closed)?;
        Ok(rx)
    }

    fn take_returned(&self) -> Option<Message> {
        self.inner.returned.lock().expect("returned").pop_front()
    }

    /// Polls for the next message (the poll form of [`recv`](Self::recv), for
    /// `Stream` and hand-written pollers); this clone keeps its registration.
    pub fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<Message, Error>> {
        match &self.inner.recv {
            Some(pipe) => pipe
                .poll_take(cx, &mut self.polling.recv_key)
                .map(|r| r.unwrap_or(Err(Error::Closed))),
            None => {
                if let Some(m) = self.take_returned() {
                    return Poll::Ready(Ok(m));
                }
                if self.polling.recv_answer.is_none() {
                    // A receive parked by a dropped `recv` first.
                    let parked = self.inner.pending_recv.lock().expect("pending").pop_front();
                    self.polling.recv_answer = Some(match parked {
                        Some(a) => a,
                        None => self.ask_recv()?,
                    });
                }
                let answer = self.polling.recv_answer.as_mut().expect("just set");
                let r = std::task::ready!(Pin::new(answer).poll(cx));
                self.polling.recv_answer = None;
                Poll::Ready(r.unwrap_or(Err(Error::Closed)))
            }
        }
    }

    /// Hands `msg` over, or keeps it until [`poll_flush`](Self::poll_flush) can (the
    /// `Sink` protocol: `poll_flush` until ready first).
    pub fn start_send(&mut self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        if msg.frames().is_empty() {
            return Err(Error::EmptyMessage);
        }
        match &self.inner.send {
            Some(pipe) => match pipe.try_push(msg) {
                Ok(()) => Ok(()),
                Err(PushError::Full(m)) => {
                    self.polling.pending = Some(m);
                    Ok(())
                }
                Err(PushError::Closed(_)) => Err(Error::Closed),
            },
            None => {
                self.polling.pending = Some(msg);
                Ok(())
            }
        }
    }

    /// Finishes the send started by [`start_send`](Self::start_send): `Ready(Ok)` once
    /// the message is in the pipe (streaming types) or sent (REQ, REP, ROUTER).
    pub fn poll_flush(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        match &self.inner.send {
            Some(pipe) => loop {
                let Some(m) = self.polling.pending.take() else {
                    return Poll::Ready(Ok(()));
                };
                match pipe.try_push(m) {
                    Ok(()) => return Poll::Ready(Ok(())),
                    Err(PushError::Closed(_)) => return Poll::Ready(Err(Error::Closed)),
                    Err(PushError::Full(m)) => {
                        self.polling.pending = Some(m);
                        match pipe.poll_room(cx, &mut self.polling.send_key) {
                            Poll::Ready(true) => continue,
                            Poll::Ready(false) => return Poll::Ready(Err(Error::Closed)),
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                }
            },
            None => {
                if self.polling.send_answer.is_none() {
                    let Some(m) = self.polling.pending.take() else {
                        return Poll::Ready(Ok(()));
                    };
                    self.polling.send_answer = Some(self.ask_send(m)?);
                }
                let answer = self.polling.send_answer.as_mut().expect("just set");
                let r = std::task::ready!(Pin::new(answer).poll(cx));
                self.polling.send_answer = None;
                Poll::Ready(r.unwrap_or(Err(Error::Closed)))
            }
        }
    }

    /// Sends without waiting: [`Error::WouldBlock`] when the pipe (streaming types)
    /// or the socket (REQ, REP, ROUTER; a synchronous call to the runtime thread) has
    /// no room.
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        if msg.frames().is_empty() {
            return Err(Error::EmptyMessage);
        }
        match &self.inner.send {
            Some(pipe) => pipe.try_push(msg).map_err(|e| match e {
                PushError::Full(_) => Error::WouldBlock,
                PushError::Closed(_) => Error::Closed,
            }),
            None => self.call(move |s| s.try_send(msg))?,
        }
    }

    /// Receives a message, waiting for one.
    ///
    /// Cancel safety: `recv` is cancel-safe. A dropped `recv` took no message: on
    /// streaming types it waits on the pipe; on REQ / REP the receive it asked of the
    /// runtime thread stays asked, and the next `recv` takes it over, so a `recv`
    /// dropped in every turn of a `select!` loop costs one receive on that thread, not
    /// one per turn.
    pub async fn recv(&self) -> Result<Message, Error> {
        match &self.inner.recv {
            Some(pipe) => {
                let mut key = Key::new(pipe);
                let r = poll_fn(|cx| pipe.poll_take(cx, &mut key.key)).await;
                r.unwrap_or(Err(Error::Closed))
            }
            None => {
                // Only request / reply receives keep messages aside (the streaming
                // types' pipe is their queue).
                if let Some(m) = self.take_returned() {
                    return Ok(m);
                }
                let pending = self.inner.pending_recv.lock().expect("pending").pop_front();
                let answer = match pending {
                    Some(a) => a,
                    None => self.ask_recv()?,
                };
                let mut parked = ParkOnDrop {
                    inner: &self.inner,
                    answer: Some(answer),
                };
                let r = parked.answer.as_mut().expect("set above").await;
                parked.answer = None;
                r.map_err(|_| Error::Closed)?
            }
        }
    }

    /// Receives a message if one is ready ([`Error::WouldBlock`] otherwise). Needs no
    /// executor: the runtime thread keeps receiving meanwhile. (REQ / REP / ROUTER...
    /// ask the runtime thread synchronously.)
    pub fn try_recv(&self) -> Result<Message, Error> {
        match &self.inner.recv {
            Some(pipe) => match pipe.try_take() {
                Ok(Some(r)) => r,
                Ok(None) => Err(Error::WouldBlock),
                Err(()) => Err(Error::Closed),
            },
            None => {
                if let Some(m) = self.take_returned() {
                    return Ok(m);
                }
                // A receive parked by a dropped `recv` comes first: it may hold the
                // message already; while it waits, it would take the next one.
                let mut pending = self.inner.pending_recv.lock().expect("pending");
                if let Some(answer) = pending.front_mut() {
                    return match answer.try_recv() {
                        Ok(r) => {
                            pending.pop_front();
                            r
                        }
                        Err(oneshot::error::TryRecvError::Empty) => Err(Error::WouldBlock),
                        Err(oneshot::error::TryRecvError::Closed) => {
                            pending.pop_front();
                            Err(Error::Closed)
                        }
                    };
                }
                drop(pending);
                self.call(|s| s.try_recv())?
            }
        }
    }

    /// Closes the socket for every clone: stops listening at once, waits up to LINGER
    /// for queued messages to be written, then stops every connection.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.cmd.send(SockCmd::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// A request/reply receive in flight; dropped before its answer came, it parks the
/// answer for the next `recv` (see `HandleInner::pending_recv`).
struct ParkOnDrop<'a> {
    inner: &'a HandleInner,
    answer: Option<Answer<Message>>,
}

impl Drop for ParkOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(a) = self.answer.take() {
            self.inner
                .pending_recv
                .lock()
                .expect("pending")
                .push_back(a);
        }
    }
}

/// Monitor events of a [`SocketHandle`]'s socket (see [`Monitor`](crate::Monitor)).
#[derive(Debug)]
pub struct HandleMonitor {
    rx: tokio::sync::Mutex<mpsc::Receiver<MonitorEvent>>,
}

impl HandleMonitor {
    /// The next event; `None` once the socket is closed and every event was read.
    pub async fn recv(&self) -> Option<MonitorEvent> {
        self.rx.lock().await.recv().await
    }

    /// The next event if one is there.
    pub fn try_recv(&self) -> Option<MonitorEvent> {
        self.rx.try_lock().ok()?.try_recv().ok()
    }
}

/// A socket with blocking calls, for synchronous programs (like rust-zmq's): built on
/// a [`SocketHandle`], so it is `Send + Sync + Clone` too and needs no async code.
///
/// `send` and `recv` block, honouring SNDTIMEO / RCVTIMEO set through
/// [`set_option`](BlockingSocket::set_option) (zero: [`Error::WouldBlock`], longer:
/// [`Error::TimedOut`]); `send_timeout` / `recv_timeout` take a timeout per call.
#[derive(Clone, Debug)]
pub struct BlockingSocket {
    handle: SocketHandle,
}

impl From<SocketHandle> for BlockingSocket {
    fn from(handle: SocketHandle) -> Self {
        BlockingSocket { handle }
    }
}

impl BlockingSocket {
    /// A socket of type `kind` on a new runtime thread of its own.
    pub fn new(kind: SocketType) -> Result<BlockingSocket, Error> {
        SocketHandle::new(kind).map(Self::from)
    }

    /// The async handle of the same socket.
    pub fn handle(&self) -> &SocketHandle {
        &self.handle
    }

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.handle.socket_type()
    }

    /// Binds; returns the endpoint actually bound.
    pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
        self.handle.bind(endpoint)
    }

    /// Connects.
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        self.handle.connect(endpoint)
    }

    /// Stops listening on a bound endpoint.
    pub fn unbind(&self, endpoint: &str) -> Result<(), Error> {
        self.handle.unbind(endpoint)
    }

    /// Drops a connect.
    pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        self.handle.disconnect(endpoint)
    }

    /// Sets an option.
    pub fn set_option(&self, opt: SocketOption) -> Result<(), Error> {
        self.handle.set_option(opt)
    }

    /// Subscribes (SUB).
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.handle.subscribe(topic)
    }

    /// Drops one subscription (SUB).
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.handle.unsubscribe(topic)
    }

    /// Joins a group (DISH).
    pub fn join(&self, group: &[u8]) -> Result<(), Error> {
        self.handle.join(group)
    }

    /// Leaves a group (DISH).
    pub fn leave(&self, group: &[u8]) -> Result<(), Error> {
        self.handle.leave(group)
    }

    /// The last endpoint bound.
    pub fn last_endpoint(&self) -> Option<String> {
        self.handle.last_endpoint()
    }

    /// The messages dropped by design so far.
    pub fn drops(&self) -> Result<Drops, Error> {
        self.handle.drops()
    }

    /// Traffic, queue depths and drops, in total and per peer.
    pub fn stats(&self) -> Result<SocketStats, Error> {
        self.handle.stats()
    }

    /// The current value of every option.
    pub fn options(&self) -> Result<SocketOptions, Error> {
        self.handle.options()
    }

    /// Sends, blocking as long as SNDTIMEO allows.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.send_timeout(msg, self.handle.inner.sndtimeo.get())
    }

    /// Sends, blocking up to `timeout` (`None`: as long as it takes). A message not
    /// sent in time is dropped.
    pub fn send_timeout(
        &self,
        msg: impl Into<Message>,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let msg = msg.into();
        if timeout == Some(Duration::ZERO) {
            return self.handle.try_send(msg);
        }
        block_on_timeout(self.handle.send(msg), timeout)
    }

    /// Sends without blocking ([`Error::WouldBlock`] when there is no room).
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.handle.try_send(msg)
    }

    /// Receives, blocking as long as RCVTIMEO allows.
    pub fn recv(&self) -> Result<Message, Error> {
        self.recv_timeout(self.handle.inner.rcvtimeo.get())
    }

    /// Receives, blocking up to `timeout` (`None`: as long as it takes).
    pub fn recv_timeout(&self, timeout: Option<Duration>) -> Result<Message, Error> {
        if timeout == Some(Duration::ZERO) {
            return self.handle.try_recv();
        }
        block_on_timeout(self.handle.recv(), timeout)
    }

    /// Receives a message if one is ready ([`Error::WouldBlock`] otherwise).
    pub fn try_recv(&self) -> Result<Message, Error> {
        self.handle.try_recv()
    }

    /// Closes the socket for every clone (LINGER applies) and waits until it is.
    pub fn close(&self) {
        block_on(self.handle.close());
    }
}

/// Wakes a thread parked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` on the calling thread, parking between polls.
fn block_on<F: Future>(fut: F) -> F::Output {
    block_on_deadline(fut, None).expect("no deadline")
}

/// Runs `fut` until it completes (`Some`) or `deadline` passes (`None`, the future is
/// dropped).
fn block_on_deadline<F: Future>(fut: F, deadline: Option<Instant>) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    loop {
        if let Poll::Ready(x) = fut.as_mut().poll(&mut cx) {
            return Some(x);
        }
        match deadline {
            None => std::thread::park(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return None;
                }
                std::thread::park_timeout(d - now);
            }
        }
    }
}

/// `block_on_deadline` with a timeout that maps to [`Error::TimedOut`].
fn block_on_timeout<T>(
    fut: impl Future<Output = Result<T, Error>>,
    timeout: Option<Duration>,
) -> Result<T, Error> {
    let deadline = timeout.map(|d| Instant::now() + d);
    block_on_deadline(fut, deadline).unwrap_or(Err(Error::TimedOut))
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Waker;

    use super::*;

    /// A REP handle's receives dropped while pending, 10,000 times over: they share one
    /// receive asked of the runtime thread instead of queueing one each there.
    #[test]
    fn dropped_receives_reuse_one_request() {
        let h = SocketHandle::new(SocketType::Rep).unwrap();
        let mut cx = TaskContext::from_waker(Waker::noop());
        for _ in 0..10_000 {
            let mut f = pin!(h.recv());
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(h.inner.pending_recv.lock().unwrap().len(), 1);
    }
}
