//! Socket monitoring: a stream of connection events per [`Monitor`].

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::Bytes;

use crate::core::Refusal;
use crate::reason::{DisconnectReason, IoError};
use crate::util::Notify;

/// Events kept per monitor before the oldest are dropped (a monitor nobody reads must
/// not grow without bound).
pub const MONITOR_CAPACITY: usize = 1024;

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorEventKind {
    /// `bind` succeeded.
    Listening,
    /// `bind` failed.
    BindFailed {
        /// The error.
        error: IoError,
    },
    /// A connection was accepted on a bound endpoint.
    Accepted,
    /// Accepting a connection failed (for example EMFILE, out of descriptors); the
    /// listener backs off for 100 ms before it accepts again.
    AcceptFailed {
        /// The error.
        error: IoError,
    },
    /// A connection was accepted and closed at once, without a handshake: the socket
    /// holds its cap of accepted connections (`RINGMQ_MAX_PEERS`). No `Accepted` event
    /// precedes it.
    AcceptRefused {
        /// Why ([`Refusal::TooManyPeers`](crate::Refusal::TooManyPeers)).
        reason: Refusal,
    },
    /// An outgoing connection was established (before the ZMTP handshake).
    Connected,
    /// An outgoing connection attempt failed; it will be retried.
    ConnectFailed {
        /// The error (for example connection refused, or a host name that does not
        /// resolve).
        error: IoError,
    },
    /// The next connection attempt starts after `interval`.
    ConnectRetried {
        /// The delay before the attempt.
        interval: Duration,
    },
    /// The ZMTP handshake succeeded.
    HandshakeSucceeded,
    /// The ZMTP handshake failed (or the socket refused the peer after it); the
    /// connection was closed.
    HandshakeFailed {
        /// Why.
        reason: DisconnectReason,
    },
    /// Authentication failed (libzmq's `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`): on a server,
    /// the ZAP handler refused the client; on a client, the server sent an ERROR with
    /// a ZAP status code. The connection was closed.
    HandshakeFailedAuth {
        /// The ZAP status code (300, 400 or 500).
        status: u16,
        /// The failure.
        reason: DisconnectReason,
    },
    /// An established connection ended.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// A bound endpoint was closed (unbind or socket close).
    Closed,
}

/// One monitor event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorEvent {
    /// What happened.
    pub kind: MonitorEventKind,
    /// The endpoint concerned (as bound or connected).
    pub endpoint: String,
    /// The peer's routing id, where known (after the handshake, for peers that send one
    /// or on ROUTER sockets).
    pub peer_routing_id: Option<Bytes>,
}

#[derive(Default)]
pub(crate) struct MonitorQueue {
    events: RefCell<VecDeque<MonitorEvent>>,
    ready: Notify,
    closed: Cell<bool>,
}

/// Receives a socket's events (from the moment it was created). Each monitor keeps
/// up to [`MONITOR_CAPACITY`] unread events and drops the oldest beyond that.
pub struct Monitor {
    queue: Rc<MonitorQueue>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("pending", &self.queue.events.borrow().len())
            .finish()
    }
}

impl Monitor {
    /// The next event; `None` once the socket is closed and every event was read.
    pub async fn recv(&self) -> Option<MonitorEvent> {
        loop {
            if let Some(e) = self.try_recv() {
                return Some(e);
            }
            if self.queue.closed.get() {
                return None;
            }
            self.queue.ready.notified().await;
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<MonitorEvent> {
        self.queue.events.borrow_mut().pop_front()
    }
}

/// The monitors of one socket.
#[derive(Default)]
pub(crate) struct Monitors {
    queues: Vec<Weak<MonitorQueue>>,
}

impl Monitors {
    pub(crate) fn add(&mut self) -> Monitor {
        let queue = Rc::new(MonitorQueue::default());
        self.queues.push(Rc::downgrade(&queue));
        Monitor { queue }
    }

    pub(crate) fn emit(
        &mut self,
        kind: MonitorEventKind,
        endpoint: &str,
        peer_routing_id: Option<Bytes>,
    ) {
        crate::trace::monitor_event(&kind, endpoint);
        self.queues.retain(|q| q.strong_count() > 0);
        for q in &self.queues {
            let Some(q) = q.upgrade() else { continue };
            let mut events = q.events.borrow_mut();
            if events.len() >= MONITOR_CAPACITY {
                events.pop_front();
            }
            events.push_back(MonitorEvent {
                kind: kind.clone(),
                endpoint: endpoint.to_owned(),
                peer_routing_id: peer_routing_id.clone(),
            });
            drop(events);
            q.ready.notify();
        }
    }

    /// The socket is gone: monitors return `None` once drained.
    pub(crate) fn close(&mut self) {
        for q in self.queues.drain(..) {
            if let Some(q) = q.upgrade() {
                q.closed.set(true);
                q.ready.notify();
            }
        }
    }
}
