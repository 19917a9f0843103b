//! The [`Context`]: a socket factory bound to one proactor, and the [`ContextHandle`]
//! that Contexts on several threads share (their inproc names and their termination).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

use ringmq_proactor::Proactor;
use ringmq_zmtp::SocketType;

use crate::inproc::Registry;
use crate::socket::{
    ChannelSocket, ClientSocket, DishSocket, GatherSocket, PeerSocket, RadioSocket, ScatterSocket,
    ServerSocket,
};
use crate::socket::{
    DealerSocket, PairSocket, PubSocket, PullSocket, PushSocket, RepSocket, ReqSocket,
    RouterSocket, Socket, StreamSocket, SubSocket, XPubSocket, XSubSocket,
};
use crate::zap::{ZapHandler, ZapSlot};

/// Creates sockets on one proactor (one thread). Cheap to clone (clones share the
/// ZAP handler); holds no global state and no threads.
///
/// Sockets are `!Send` and each thread runs its own runtime, so a program with
/// several threads makes one `Context` per thread. What libzmq's context shares between
/// threads, the `inproc://` names, lives in a [`ContextHandle`]: a Context made with
/// [`Context::new`] starts a fresh one, [`Context::handle`] gives it out (it is `Send +
/// Sync`), and [`Context::with_handle`] makes another thread's Context join it. Sockets
/// of Contexts that share a handle reach each other's inproc binds; other Contexts do
/// not see them (names are per handle, not per process, as they are per context in
/// libzmq).
///
/// Terminating the context ([`ContextHandle::terminate`], from any thread) ends every
/// socket of every Context sharing its handle: see [`ContextHandle::terminate`].
#[derive(Clone)]
pub struct Context<P: Proactor> {
    proactor: P,
    zap: ZapSlot,
    hub: Arc<Hub>,
    local: Rc<LocalCtx>,
}

/// What the Contexts of one [`ContextHandle`] share, across threads.
#[derive(Default)]
pub(crate) struct Hub {
    /// The inproc names.
    pub(crate) inproc: Registry,
    terminated: AtomicBool,
    /// The tasks (one per Context that has a socket at work) to wake on termination.
    watchers: Mutex<Watchers>,
}

#[derive(Default)]
struct Watchers {
    next: u64,
    list: Vec<(u64, Waker)>,
}

impl Hub {
    /// Whether the context was terminated.
    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    fn terminate(&self) {
        if self.terminated.swap(true, Ordering::AcqRel) {
            return;
        }
        let list = std::mem::take(&mut crate::inproc::lock(&self.watchers).list);
        for (_, w) in list {
            w.wake();
        }
    }

    /// Completes once the context is terminated.
    fn terminated(&self) -> WaitTerminated<'_> {
        WaitTerminated {
            hub: self,
            key: None,
        }
    }
}

/// See [`Hub::terminated`]; dropping it forgets its waker.
struct WaitTerminated<'a> {
    hub: &'a Hub,
    key: Option<u64>,
}

impl Future for WaitTerminated<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.hub.is_terminated() {
            return Poll::Ready(());
        }
        let mut w = crate::inproc::lock(&this.hub.watchers);
        let key = *this.key.get_or_insert_with(|| {
            w.next += 1;
            w.next
        });
        match w.list.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) if old.will_wake(cx.waker()) => {}
            Some((_, old)) => *old = cx.waker().clone(),
            None => w.list.push((key, cx.waker().clone())),
        }
        drop(w);
        // A termination between the first check and the registration found no waker.
        if this.hub.is_terminated() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for WaitTerminated<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            crate::inproc::lock(&self.hub.watchers)
                .list
                .retain(|(k, _)| *k != key);
        }
    }
}

/// A socket as its Context's termination sees it.
pub(crate) trait Terminable {
    /// The context was terminated: stop (honouring LINGER, see
    /// [`ContextHandle::terminate`]).
    fn context_terminated(self: Rc<Self>);
}

/// The part of a [`Context`] on its own thread: its sockets (weakly), and whether its
/// termination watcher runs.
#[derive(Default)]
pub(crate) struct LocalCtx {
    sockets: RefCell<Vec<Weak<dyn Terminable>>>,
    watching: Cell<bool>,
}

impl LocalCtx {
    /// Lists a socket for termination.
    pub(crate) fn register(&self, socket: Weak<dyn Terminable>) {
        let mut list = self.sockets.borrow_mut();
        if list.len() == list.capacity() {
            // Forget the sockets that are gone before growing: amortised O(1).
            list.retain(|w| w.strong_count() > 0);
        }
        list.push(socket);
    }

    /// Spawns the task that terminates this Context's sockets when the handle is
    /// terminated, once (lazily: the first time a socket binds, connects, waits or
    /// lingers, which all happen inside the runtime).
    pub(crate) fn watch<P: Proactor>(self: &Rc<Self>, p: &P, hub: &Arc<Hub>) {
        if self.watching.replace(true) {
            return;
        }
        let hub = hub.clone();
        let local = Rc::downgrade(self);
        p.spawn_local(async move {
            hub.terminated().await;
            let Some(local) = local.upgrade() else { return };
            let sockets = std::mem::take(&mut *local.sockets.borrow_mut());
            for s in sockets.iter().filter_map(Weak::upgrade) {
                s.context_terminated();
            }
        });
    }
}

/// The thread-safe part of a [`Context`], shared by the Contexts of several threads:
/// the `inproc://` names and the termination. Obtained with [`Context::handle`],
/// joined with [`Context::with_handle`]; cheap to clone, `Send + Sync`.
#[derive(Clone, Default)]
pub struct ContextHandle {
    hub: Arc<Hub>,
}

impl fmt::Debug for ContextHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextHandle").finish_non_exhaustive()
    }
}

impl ContextHandle {
    /// A new handle with no names bound (what [`Context::new`] starts with).
    pub fn new() -> ContextHandle {
        ContextHandle::default()
    }

    /// Terminates the context, like libzmq's `zmq_ctx_term` without the wait; any
    /// thread may call it, any number of times. For every socket of every Context
    /// sharing this handle:
    /// - pending and future calls (`send`, `recv`, `bind`, `connect`, ...) return
    ///   [`Error::Terminated`](crate::Error::Terminated), also on sockets created
    ///   afterwards;
    /// - the socket stops listening, then delivers what it has queued for up to its
    ///   LINGER; what is left then is dropped and counted in
    ///   [`Drops::disconnected`](crate::Drops). An infinite LINGER (the default) does
    ///   not hold a terminated context: those sockets stop at once (where libzmq's
    ///   `zmq_ctx_term` would wait forever);
    /// - sockets dropped earlier that are still delivering in the background (LINGER)
    ///   stop likewise: at once with an infinite LINGER, when theirs expires otherwise;
    ///   their reconnect attempts end then;
    /// - monitors end once their socket has stopped.
    ///
    /// The effect reaches each thread through its runtime: a thread whose runtime does
    /// not run (blocked elsewhere, or gone) acts on it when it runs again.
    pub fn terminate(&self) {
        self.hub.terminate();
    }

    /// Whether [`ContextHandle::terminate`] was called.
    pub fn is_terminated(&self) -> bool {
        self.hub.is_terminated()
    }
}

/// What a socket takes from its Context.
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) zap: ZapSlot,
    pub(crate) hub: Arc<Hub>,
    pub(crate) local: Rc<LocalCtx>,
}

impl<P: Proactor> fmt::Debug for Context<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl<P: Proactor> Context<P> {
    /// A context whose sockets run on `proactor`, with a fresh [`ContextHandle`] (its
    /// own inproc names).
    pub fn new(proactor: P) -> Self {
        Context::with_handle(proactor, &ContextHandle::new())
    }

    /// A context whose sockets run on `proactor` and share `handle`'s inproc names with
    /// the other Contexts made from it (on any thread). The ZAP handler is not shared:
    /// each Context installs its own.
    pub fn with_handle(proactor: P, handle: &ContextHandle) -> Self {
        Context {
            proactor,
            zap: ZapSlot::default(),
            hub: handle.hub.clone(),
            local: Rc::default(),
        }
    }

    /// The thread-safe handle of this context, for [`Context::with_handle`] on other
    /// threads, and to terminate it from any thread.
    pub fn handle(&self) -> ContextHandle {
        ContextHandle {
            hub: self.hub.clone(),
        }
    }

    /// Terminates the context: [`ContextHandle::terminate`].
    pub fn terminate(&self) {
        self.hub.terminate();
    }

    fn scope(&self) -> Scope {
        Scope {
            zap: self.zap.clone(),
            hub: self.hub.clone(),
            local: self.local.clone(),
        }
    }

    /// Installs the ZAP handler (RFC 27) that servers of this context's sockets ask,
    /// replacing any earlier one; like libzmq's handler on `inproc://zeromq.zap.01`.
    /// It applies to handshakes that start afterwards. See [`crate::zap`] for when it
    /// is asked and what happens without one.
    pub fn set_zap_handler(&self, handler: impl ZapHandler + 'static) {
        self.zap.set(Some(Rc::new(handler)));
    }

    /// Removes the ZAP handler.
    pub fn clear_zap_handler(&self) {
        self.zap.set(None);
    }

    /// True when a ZAP handler is installed.
    pub fn has_zap_handler(&self) -> bool {
        self.zap.get().is_some()
    }

    /// The proactor.
    pub fn proactor(&self) -> &P {
        &self.proactor
    }

    /// An untyped socket of `kind`, like `zmq_socket`.
    pub fn socket(&self, kind: SocketType) -> Socket<P> {
        Socket::new(self.proactor.clone(), kind, self.scope())
    }

    /// A REQ socket.
    pub fn req(&self) -> ReqSocket<P> {
        ReqSocket::new(self.proactor.clone(), self.scope())
    }

    /// A REP socket.
    pub fn rep(&self) -> RepSocket<P> {
        RepSocket::new(self.proactor.clone(), self.scope())
    }

    /// A DEALER socket.
    pub fn dealer(&self) -> DealerSocket<P> {
        DealerSocket::new(self.proactor.clone(), self.scope())
    }

    /// A ROUTER socket.
    pub fn router(&self) -> RouterSocket<P> {
        RouterSocket::new(self.proactor.clone(), self.scope())
    }

    /// A PUB socket.
    pub fn publisher(&self) -> PubSocket<P> {
        PubSocket::new(self.proactor.clone(), self.scope())
    }

    /// A SUB socket.
    pub fn subscriber(&self) -> SubSocket<P> {
        SubSocket::new(self.proactor.clone(), self.scope())
    }

    /// An XPUB socket.
    pub fn xpub(&self) -> XPubSocket<P> {
        XPubSocket::new(self.proactor.clone(), self.scope())
    }

    /// An XSUB socket.
    pub fn xsub(&self) -> XSubSocket<P> {
        XSubSocket::new(self.proactor.clone(), self.scope())
    }

    /// A PUSH socket.
    pub fn push(&self) -> PushSocket<P> {
        PushSocket::new(self.proactor.clone(), self.scope())
    }

    /// A PULL socket.
    pub fn pull(&self) -> PullSocket<P> {
        PullSocket::new(self.proactor.clone(), self.scope())
    }

    /// A PAIR socket.
    pub fn pair(&self) -> PairSocket<P> {
        PairSocket::new(self.proactor.clone(), self.scope())
    }

    /// A STREAM socket (raw TCP peers, no ZMTP).
    pub fn stream(&self) -> StreamSocket<P> {
        StreamSocket::new(self.proactor.clone(), self.scope())
    }

    /// A SERVER socket (libzmq draft): replies go to the routing id of a request.
    pub fn server(&self) -> ServerSocket<P> {
        ServerSocket::new(self.proactor.clone(), self.scope())
    }

    /// A CLIENT socket (libzmq draft).
    pub fn client(&self) -> ClientSocket<P> {
        ClientSocket::new(self.proactor.clone(), self.scope())
    }

    /// A SCATTER socket (libzmq draft).
    pub fn scatter(&self) -> ScatterSocket<P> {
        ScatterSocket::new(self.proactor.clone(), self.scope())
    }

    /// A GATHER socket (libzmq draft).
    pub fn gather(&self) -> GatherSocket<P> {
        GatherSocket::new(self.proactor.clone(), self.scope())
    }

    /// A PEER socket (libzmq draft).
    pub fn peer(&self) -> PeerSocket<P> {
        PeerSocket::new(self.proactor.clone(), self.scope())
    }

    /// A CHANNEL socket (libzmq draft).
    pub fn channel(&self) -> ChannelSocket<P> {
        ChannelSocket::new(self.proactor.clone(), self.scope())
    }

    /// A RADIO socket (libzmq draft).
    pub fn radio(&self) -> RadioSocket<P> {
        RadioSocket::new(self.proactor.clone(), self.scope())
    }

    /// A DISH socket (libzmq draft).
    pub fn dish(&self) -> DishSocket<P> {
        DishSocket::new(self.proactor.clone(), self.scope())
    }
}
