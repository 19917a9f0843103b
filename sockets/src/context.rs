//! The [`Context`]: a socket factory bound to one proactor, and the [`ContextHandle`]
//! that Contexts on several threads share (their inproc names).

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use ringmq_proactor::Proactor;
use ringmq_zmtp::SocketType;

use crate::inproc::Registry;
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
#[derive(Clone)]
pub struct Context<P: Proactor> {
    proactor: P,
    zap: ZapSlot,
    hub: Arc<Hub>,
}

/// What the Contexts of one [`ContextHandle`] share, across threads.
#[derive(Default)]
pub(crate) struct Hub {
    /// The inproc names.
    pub(crate) inproc: Registry,
}

/// The thread-safe part of a [`Context`], shared by the Contexts of several threads:
/// the `inproc://` names. Obtained with [`Context::handle`], joined with
/// [`Context::with_handle`]; cheap to clone, `Send + Sync`.
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
}

/// What a socket takes from its Context.
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) zap: ZapSlot,
    pub(crate) hub: Arc<Hub>,
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
        }
    }

    /// The thread-safe handle of this context, for [`Context::with_handle`] on other
    /// threads.
    pub fn handle(&self) -> ContextHandle {
        ContextHandle {
            hub: self.hub.clone(),
        }
    }

    fn scope(&self) -> Scope {
        Scope {
            zap: self.zap.clone(),
            hub: self.hub.clone(),
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
}
