//! Small single-threaded helpers: a wake-up list, a two-way select, and a map keyed by
//! the socket's own ids.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use ringmq_proactor::Proactor;

/// Hashes the socket's own ids (sequential, never chosen by a peer) with one
/// multiplication instead of SipHash.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by the socket's own ids (connections, binds, connects).
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A list of waiting tasks, woken all at once by [`Notify::notify`].
///
/// A [`Notified`] future completes once `notify` was called after the future was
/// created. On one thread, checking a condition and then creating the future (with no
/// `.await` in between) therefore never misses a wake-up.
#[derive(Default)]
pub(crate) struct Notify {
    generation: Cell<u64>,
    next_key: Cell<u64>,
    waiters: RefCell<Waiters>,
}

/// The registered wakers of a [`Notify`] by key. Most have one waiter at a time (a
/// connection's reader or writer): held inline, no allocation. A list, once needed,
/// is kept (emptied) for reuse.
#[derive(Default)]
enum Waiters {
    #[default]
    None,
    One(u64, Waker),
    Many(Vec<(u64, Waker)>),
}

impl Waiters {
    /// The waker registered under `key`.
    fn get_mut(&mut self, key: u64) -> Option<&mut Waker> {
        match self {
            Waiters::One(k, w) if *k == key => Some(w),
            Waiters::Many(v) => v.iter_mut().find(|(k, _)| *k == key).map(|(_, w)| w),
            _ => None,
        }
    }

    fn push(&mut self, key: u64, waker: Waker) {
        match self {
            Waiters::None => *self = Waiters::One(key, waker),
            Waiters::Many(v) => v.push((key, waker)),
            Waiters::One(..) => {
                let Waiters::One(k, w) = std::mem::take(self) else {
                    unreachable!()
                };
                *self = Waiters::Many(vec![(k, w), (key, waker)]);
            }
        }
    }

    fn remove(&mut self, key: u64) {
        match self {
            Waiters::One(k, _) if *k == key => *self = Waiters::None,
            Waiters::Many(v) => {
                if let Some(pos) = v.iter().position(|(k, _)| *k == key) {
                    v.swap_remove(pos);
                }
            }
            _ => {}
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        match self {
            Waiters::None => 0,
            Waiters::One(..) => 1,
            Waiters::Many(v) => v.len(),
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers `waker` under `key`, or updates the one registered.
    fn register(&mut self, key: u64, waker: &Waker) {
        match self.get_mut(key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
            }
            None => self.push(key, waker.clone()),
        }
    }
}

impl Notify {
    pub(crate) fn notify(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        // Woken outside the borrow: a waker may register again at once.
        let taken = {
            let mut waiters = self.waiters.borrow_mut();
            match &mut *waiters {
                Waiters::None => return,
                Waiters::Many(v) if v.is_empty() => return,
                Waiters::One(..) => std::mem::take(&mut *waiters),
                Waiters::Many(v) => Waiters::Many(std::mem::take(v)),
            }
        };
        match taken {
            Waiters::One(_, w) => w.wake(),
            Waiters::Many(mut v) => {
                for (_, w) in v.drain(..) {
                    w.wake();
                }
                // Kept for its allocation unless waiters registered meanwhile.
                let mut waiters = self.waiters.borrow_mut();
                if let Waiters::Many(now) = &mut *waiters {
                    if now.is_empty() {
                        *now = v;
                    }
                }
            }
            Waiters::None => {}
        }
    }

    /// The poll form of `notified()` for a poller that keeps its registration in
    /// `slot` between polls (a `Stream` or `Sink` cannot hold a `Notified`): the first
    /// call registers and is `Pending`; a later call is `Ready` once `notify` ran since
    /// the registration (and clears `slot`), else it updates the waker.
    pub(crate) fn poll_wait(
        &self,
        slot: &Cell<Option<(u64, u64)>>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let generation = self.generation.get();
        match slot.get() {
            Some((g, _)) if g != generation => {
                slot.set(None);
                Poll::Ready(())
            }
            Some((_, k)) => {
                self.waiters.borrow_mut().register(k, cx.waker());
                Poll::Pending
            }
            None => {
                let k = self.next_key.get();
                self.next_key.set(k.wrapping_add(1));
                self.waiters.borrow_mut().push(k, cx.waker().clone());
                slot.set(Some((generation, k)));
                Poll::Pending
            }
        }
    }

    /// Drops a registration made by `poll_wait`.
    pub(crate) fn forget(&self, slot: &Cell<Option<(u64, u64)>>) {
        if let Some((_, k)) = slot.take() {
            self.waiters.borrow_mut().remove(k);
        }
    }

    /// How many wakers are registered.
    #[cfg(test)]
    pub(crate) fn waiter_count(&self) -> usize {
        self.waiters.borrow().len()
    }

    pub(crate) fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.get(),
            key: None,
        }
    }
}

/// Completes when its [`Notify`] is notified.
pub(crate) struct Notified<'a> {
    notify: &'a Notify,
    generation: u64,
    key: Option<u64>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.generation.get() != self.generation {
            self.key = None;
            return Poll::Ready(());
        }
        let mut waiters = self.notify.waiters.borrow_mut();
        if let Some(k) = self.key {
            if let Some(w) = waiters.get_mut(k) {
                if !w.will_wake(cx.waker()) {
                    *w = cx.waker().clone();
                }
                return Poll::Pending;
            }
        }
        let k = self.notify.next_key.get();
        self.notify.next_key.set(k.wrapping_add(1));
        waiters.push(k, cx.waker().clone());
        drop(waiters);
        self.key = Some(k);
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key {
            self.notify.waiters.borrow_mut().remove(k);
        }
    }
}

/// A one-way stop signal: once stopped, [`Stop::wait`] completes at once.
#[derive(Default)]
pub(crate) struct Stop {
    stopped: Cell<bool>,
    notify: Notify,
}

impl Stop {
    pub(crate) fn stop(&self) {
        if !self.stopped.replace(true) {
            self.notify.notify();
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.get()
    }

    pub(crate) async fn wait(&self) {
        while !self.stopped.get() {
            self.notify.notified().await;
        }
    }
}

/// A future that can be dropped from outside its task: [`abortable`] wraps it, the
/// task polls the wrapper, and [`AbortHandle::abort`] drops the inner future at once
/// (closing whatever it owns, e.g. a listener) and lets the task finish.
#[derive(Clone)]
pub(crate) struct AbortHandle {
    slot: Rc<RefCell<AbortSlot>>,
}

type BoxedTask = Pin<Box<dyn Future<Output = ()>>>;

struct AbortSlot {
    fut: Option<BoxedTask>,
    waker: Option<Waker>,
    aborted: bool,
}

/// Wraps `fut` so that it can be aborted; spawn the returned future.
pub(crate) fn abortable(
    fut: impl Future<Output = ()> + 'static,
) -> (impl Future<Output = ()>, AbortHandle) {
    let slot = Rc::new(RefCell::new(AbortSlot {
        fut: Some(Box::pin(fut)),
        waker: None,
        aborted: false,
    }));
    let task_slot = slot.clone();
    let task = poll_fn(move |cx| {
        // Taken out while polled, so `abort` from inside the future (or a re-entrant
        // poll) never meets a borrowed cell.
        let Some(mut fut) = task_slot.borrow_mut().fut.take() else {
            return Poll::Ready(());
        };
        let poll = fut.as_mut().poll(cx);
        let mut s = task_slot.borrow_mut();
        if poll.is_pending() && !s.aborted {
            s.fut = Some(fut);
            s.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        drop(s);
        drop(fut);
        Poll::Ready(())
    });
    (task, AbortHandle { slot })
}

impl AbortHandle {
    /// Drops the future now (unless it is being polled: then right after that poll)
    /// and wakes its task so that it completes.
    pub(crate) fn abort(&self) {
        let (fut, waker) = {
            let mut s = self.slot.borrow_mut();
            s.aborted = true;
            (s.fut.take(), s.waker.take())
        };
        // Dropped outside the borrow: the future's destructors may run anything.
        drop(fut);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Which of two futures finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures (the left one first) until one finishes; drops the other.
pub(crate) async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    })
    .await
}

/// [`select`] over two futures the caller pinned in place ([`select_in_place!`]): it
/// holds two pointers. `select` itself, an `async fn`, stores each future twice in the
/// task (as its argument and pinned), which costs a long-lived connection task hundreds
/// of bytes for each select it waits in.
pub(crate) struct Select<'a, A, B> {
    pub(crate) a: Pin<&'a mut A>,
    pub(crate) b: Pin<&'a mut B>,
}

impl<A: Future, B: Future> Future for Select<'_, A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(x) = self.a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = self.b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    }
}

/// `select_in_place!(a, b).await` is `select(a, b).await` with both futures built in
/// the caller's own state, each stored once (see [`Select`]).
macro_rules! select_in_place {
    ($a:expr, $b:expr $(,)?) => {
        $crate::util::Select {
            a: ::std::pin::pin!($a),
            b: ::std::pin::pin!($b),
        }
    };
}
pub(crate) use select_in_place;

/// Sleeps until `deadline`, or forever when there is none.
///
/// The timer is boxed: this waits in every connection's writer, whose state would
/// otherwise be sized by the engine's timer (768 bytes, aligned to 128, on monoio)
/// for the life of the connection, while an idle connection usually has no deadline.
pub(crate) async fn sleep_until_opt<P: Proactor>(p: &P, deadline: Option<Instant>) {
    match deadline {
        Some(d) => Box::pin(p.sleep_until(d)).await,
        None => std::future::pending().await,
    }
}

/// Runs `f` until `deadline`; `None` when the deadline passed first.
pub(crate) async fn with_deadline<P: Proactor, F: Future>(
    p: &P,
    deadline: Option<Instant>,
    f: F,
) -> Option<F::Output> {
    let Some(deadline) = deadline else {
        return Some(f.await);
    };
    match select(f, p.sleep_until(deadline)).await {
        Either::Left(x) => Some(x),
        Either::Right(()) => None,
    }
}

/// Lets every other task that is ready run before continuing (the current task is
/// woken at once and queued behind them).
pub(crate) async fn yield_now<P: Proactor>(p: &P) {
    p.yield_now().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn notified_completes_only_after_a_later_notify() {
        let n = Notify::default();
        n.notify();
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut f = pin!(n.notified());
        assert!(f.as_mut().poll(&mut cx).is_pending());
        assert!(f.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            n.waiters.borrow().len(),
            1,
            "re-polling does not pile up wakers"
        );
        n.notify();
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(f.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn several_waiters_are_all_woken_and_each_forgotten_alone() {
        let n = Notify::default();
        let flags: Vec<_> = (0..3).map(|_| Arc::new(Flag(false.into()))).collect();
        let wakers: Vec<_> = flags.iter().map(|f| Waker::from(f.clone())).collect();
        let mut a = pin!(n.notified());
        let mut b = pin!(n.notified());
        let mut c = pin!(n.notified());
        for (f, w) in [a.as_mut(), b.as_mut(), c.as_mut()]
            .into_iter()
            .zip(&wakers)
        {
            assert!(f.poll(&mut Context::from_waker(w)).is_pending());
        }
        assert_eq!(n.waiters.borrow().len(), 3);
        // The middle one goes away; the others stay registered.
        assert!(b
            .as_mut()
            .poll(&mut Context::from_waker(&wakers[1]))
            .is_pending());
        n.waiters.borrow_mut().remove(1);
        assert_eq!(n.waiters.borrow().len(), 2);
        n.notify();
        let woken: Vec<bool> = flags
            .iter()
            .map(|f| f.0.load(std::sync::atomic::Ordering::SeqCst))
            .collect();
        assert_eq!(woken, [true, false, true]);
        assert!(n.waiters.borrow().is_empty());
        assert!(a
            .as_mut()
            .poll(&mut Context::from_waker(&wakers[0]))
            .is_ready());
        assert!(c
            .as_mut()
            .poll(&mut Context::from_waker(&wakers[2]))
            .is_ready());
        // A single waiter after a list: registered and woken as well.
        let mut d = pin!(n.notified());
        assert!(d
            .as_mut()
            .poll(&mut Context::from_waker(&wakers[1]))
            .is_pending());
        assert_eq!(n.waiters.borrow().len(), 1);
        n.notify();
        assert!(flags[1].0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(d
            .as_mut()
            .poll(&mut Context::from_waker(&wakers[1]))
            .is_ready());
    }

    #[test]
    fn dropped_waiter_is_forgotten() {
        let n = Notify::default();
        let waker = Waker::from(Arc::new(Flag(false.into())));
        let mut cx = Context::from_waker(&waker);
        {
            let mut f = pin!(n.notified());
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        assert!(n.waiters.borrow().is_empty());
    }

    #[test]
    fn abort_drops_the_future_at_once_and_ends_the_task() {
        struct SetOnDrop(Rc<Cell<bool>>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let guard = SetOnDrop(dropped.clone());
        let (task, handle) = abortable(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut task = pin!(task);
        assert!(task.as_mut().poll(&mut cx).is_pending());
        assert!(!dropped.get());
        handle.abort();
        assert!(dropped.get(), "abort drops the future synchronously");
        assert!(
            flag.0.load(std::sync::atomic::Ordering::SeqCst),
            "and wakes the task"
        );
        assert!(task.as_mut().poll(&mut cx).is_ready());
    }
}
