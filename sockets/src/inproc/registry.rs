//! The inproc names of a context: which name is bound by which socket, and the connects
//! waiting for a name to be bound. Shared by every thread whose `Context` joined the
//! same [`ContextHandle`](crate::ContextHandle).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::pipe::{lock, Item, Pipe, Side, Signal};

/// A connection offered to a bound socket: the pipe and what the connecting socket
/// tells about itself (its handshake).
pub(crate) struct PipeEnd {
    pub pipe: Arc<Pipe>,
    pub kind: SocketType,
    /// The connecting socket's ROUTING_ID (REQ, DEALER, ROUTER only).
    pub identity: Option<Bytes>,
}

/// The receiving end of a bound name: connections wait here until the bound socket's
/// accept task (on its own thread) takes them.
pub(crate) struct Acceptor {
    /// The bound socket's type, for the connecting side's compatibility check.
    pub kind: SocketType,
    state: Mutex<AcceptState>,
    signal: Signal,
}

#[derive(Default)]
struct AcceptState {
    pending: Vec<PipeEnd>,
    closed: bool,
}

impl Acceptor {
    pub(crate) fn new(kind: SocketType) -> Acceptor {
        Acceptor {
            kind,
            state: Mutex::default(),
            signal: Signal::default(),
        }
    }

    /// Hands a connection to the bound socket; gives it back when the name was unbound
    /// meanwhile.
    pub(crate) fn offer(&self, end: PipeEnd) -> Result<(), PipeEnd> {
        {
            let mut s = lock(&self.state);
            if s.closed {
                return Err(end);
            }
            s.pending.push(end);
        }
        self.signal.raise();
        Ok(())
    }

    /// The connections offered since the last call.
    pub(crate) fn take(&self, into: &mut Vec<PipeEnd>) {
        into.append(&mut lock(&self.state).pending);
    }

    /// Waits until a connection is offered.
    pub(crate) async fn wait(&self) {
        self.signal.wait().await
    }

    /// Refuses further connections; those not yet taken are closed (their connecting
    /// side sees the pipe end and tries again).
    pub(crate) fn close(&self) {
        let pending = {
            let mut s = lock(&self.state);
            s.closed = true;
            std::mem::take(&mut s.pending)
        };
        for end in pending {
            end.pipe.push_one(Side::Connect, Item::Close);
        }
    }
}

/// One name: its bound socket, and the connects waiting for one.
#[derive(Default)]
struct Name {
    bound: Option<Arc<Acceptor>>,
    waiters: Vec<(u64, Waker)>,
}

/// The inproc names of one context (see the module documentation).
#[derive(Default)]
pub(crate) struct Registry {
    names: Mutex<HashMap<String, Name>>,
    next_waiter: AtomicU64,
}

impl Registry {
    /// Binds `name`; false when it is already bound (`AddrInUse`). Connects waiting for
    /// the name are woken.
    pub(crate) fn bind(&self, name: &str, acceptor: Arc<Acceptor>) -> bool {
        let waiters = {
            let mut names = lock(&self.names);
            let entry = names.entry(name.to_owned()).or_default();
            if entry.bound.is_some() {
                return false;
            }
            entry.bound = Some(acceptor);
            std::mem::take(&mut entry.waiters)
        };
        for (_, w) in waiters {
            w.wake();
        }
        true
    }

    /// Unbinds `name` if `acceptor` is what is bound there.
    pub(crate) fn unbind(&self, name: &str, acceptor: &Arc<Acceptor>) {
        let mut names = lock(&self.names);
        let Some(entry) = names.get_mut(name) else {
            return;
        };
        if entry
            .bound
            .as_ref()
            .is_some_and(|a| Arc::ptr_eq(a, acceptor))
        {
            entry.bound = None;
            if entry.waiters.is_empty() {
                names.remove(name);
            }
        }
    }

    /// Completes with the bound socket's acceptor once `name` is bound (at once if it
    /// is): a connect to a name nobody bound yet waits, as in libzmq.
    pub(crate) fn bound(&self, name: &str) -> WaitBound<'_> {
        WaitBound {
            registry: self,
            name: name.to_owned(),
            key: None,
        }
    }

    fn poll_bound(
        &self,
        name: &str,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<Arc<Acceptor>> {
        let mut names = lock(&self.names);
        let entry = names.entry(name.to_owned()).or_default();
        if let Some(a) = &entry.bound {
            let a = a.clone();
            if let Some(k) = key.take() {
                entry.waiters.retain(|(id, _)| *id != k);
            }
            return Poll::Ready(a);
        }
        let k = *key.get_or_insert_with(|| self.next_waiter.fetch_add(1, Ordering::Relaxed));
        match entry.waiters.iter_mut().find(|(id, _)| *id == k) {
            Some((_, w)) if w.will_wake(cx.waker()) => {}
            Some((_, w)) => *w = cx.waker().clone(),
            None => entry.waiters.push((k, cx.waker().clone())),
        }
        Poll::Pending
    }

    fn forget_waiter(&self, name: &str, key: u64) {
        let mut names = lock(&self.names);
        if let Some(entry) = names.get_mut(name) {
            entry.waiters.retain(|(id, _)| *id != key);
            if entry.bound.is_none() && entry.waiters.is_empty() {
                names.remove(name);
            }
        }
    }

    /// Whether `name` is bound (for tests).
    #[cfg(test)]
    pub(crate) fn is_bound(&self, name: &str) -> bool {
        lock(&self.names)
            .get(name)
            .is_some_and(|n| n.bound.is_some())
    }

    /// How many names have an entry (for tests: none is left behind).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        lock(&self.names).len()
    }
}

/// See [`Registry::bound`]; dropping it forgets the waiter.
pub(crate) struct WaitBound<'a> {
    registry: &'a Registry,
    name: String,
    key: Option<u64>,
}

impl Future for WaitBound<'_> {
    type Output = Arc<Acceptor>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Arc<Acceptor>> {
        let this = self.get_mut();
        this.registry.poll_bound(&this.name, &mut this.key, cx)
    }
}

impl Drop for WaitBound<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.registry.forget_waiter(&self.name, k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_wait_completes_when_the_name_is_bound_and_leaves_nothing_behind() {
        let r = Registry::default();
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        {
            let mut w = pin!(r.bound("a"));
            assert!(w.as_mut().poll(&mut cx).is_pending());
            assert!(w.as_mut().poll(&mut cx).is_pending());
            let acceptor = Arc::new(Acceptor::new(SocketType::Pull));
            assert!(r.bind("a", acceptor.clone()));
            assert!(flag.0.load(Ordering::SeqCst), "the waiter was woken");
            let Poll::Ready(got) = w.as_mut().poll(&mut cx) else {
                panic!("bound")
            };
            assert!(Arc::ptr_eq(&got, &acceptor));
            assert!(
                !r.bind("a", Arc::new(Acceptor::new(SocketType::Pull))),
                "in use"
            );
            // Unbinding someone else's acceptor changes nothing.
            r.unbind("a", &Arc::new(Acceptor::new(SocketType::Pull)));
            assert!(r.is_bound("a"));
            r.unbind("a", &acceptor);
            assert!(!r.is_bound("a"));
        }
        assert_eq!(r.entries(), 0);
        // A waiter dropped before the bind is forgotten.
        {
            let mut w = pin!(r.bound("b"));
            assert!(w.as_mut().poll(&mut cx).is_pending());
            assert_eq!(r.entries(), 1);
        }
        assert_eq!(r.entries(), 0);
    }

    #[test]
    fn a_closed_acceptor_refuses_and_closes_what_was_pending() {
        let a = Acceptor::new(SocketType::Rep);
        let pipe = Arc::new(Pipe::default());
        let end = |pipe: &Arc<Pipe>| PipeEnd {
            pipe: pipe.clone(),
            kind: SocketType::Req,
            identity: None,
        };
        assert!(a.offer(end(&pipe)).is_ok());
        a.close();
        assert!(a.offer(end(&pipe)).is_err());
        let mut got = Vec::new();
        a.take(&mut got);
        assert!(got.is_empty());
        let mut inbox = super::super::pipe::Inbox::default();
        pipe.take(Side::Connect, &mut inbox, &mut Default::default());
        assert!(matches!(inbox.items.pop_front(), Some(Item::Close)));
    }
}
