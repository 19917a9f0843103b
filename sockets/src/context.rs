//! The [`Context`]: a socket factory bound to one proactor.

use std::fmt;
use std::rc::Rc;

use ringmq_proactor::Proactor;
use ringmq_zmtp::SocketType;

use crate::socket::{
    DealerSocket, PairSocket, PubSocket, PullSocket, PushSocket, RepSocket, ReqSocket,
    RouterSocket, Socket, SubSocket, XPubSocket, XSubSocket,
};
use crate::zap::{ZapHandler, ZapSlot};

/// Creates sockets on one proactor (one thread). Cheap to clone (clones share the
/// ZAP handler); holds no global state and no threads.
#[derive(Clone)]
pub struct Context<P: Proactor> {
    proactor: P,
    zap: ZapSlot,
}

impl<P: Proactor> fmt::Debug for Context<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl<P: Proactor> Context<P> {
    /// A context whose sockets run on `proactor`.
    pub fn new(proactor: P) -> Self {
        Context {
            proactor,
            zap: ZapSlot::default(),
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
        Socket::new(self.proactor.clone(), kind, self.zap.clone())
    }

    /// A REQ socket.
    pub fn req(&self) -> ReqSocket<P> {
        ReqSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A REP socket.
    pub fn rep(&self) -> RepSocket<P> {
        RepSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A DEALER socket.
    pub fn dealer(&self) -> DealerSocket<P> {
        DealerSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A ROUTER socket.
    pub fn router(&self) -> RouterSocket<P> {
        RouterSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A PUB socket.
    pub fn publisher(&self) -> PubSocket<P> {
        PubSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A SUB socket.
    pub fn subscriber(&self) -> SubSocket<P> {
        SubSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// An XPUB socket.
    pub fn xpub(&self) -> XPubSocket<P> {
        XPubSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// An XSUB socket.
    pub fn xsub(&self) -> XSubSocket<P> {
        XSubSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A PUSH socket.
    pub fn push(&self) -> PushSocket<P> {
        PushSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A PULL socket.
    pub fn pull(&self) -> PullSocket<P> {
        PullSocket::new(self.proactor.clone(), self.zap.clone())
    }

    /// A PAIR socket.
    pub fn pair(&self) -> PairSocket<P> {
        PairSocket::new(self.proactor.clone(), self.zap.clone())
    }
}
