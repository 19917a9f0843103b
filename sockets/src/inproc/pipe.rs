//! The in-process pipe: two lanes of [`Item`]s between the two sides of one inproc
//! connection, which may run on different threads, and a [`Signal`] per side that wakes
//! its task through the executor's (`Send`) waker.
//!
//! A lane is a vector behind a mutex: the writing side appends a batch under one lock,
//! the reading side swaps the whole vector out under one lock, so a busy pipe costs a
//! few atomic operations per batch, not per message. Messages move (their `Bytes`), they
//! are never encoded or copied.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::message::Message;

/// What travels through a lane, in order.
pub(crate) enum Item {
    /// A message. `counted`: it counts against the sender's SNDHWM until the receiving
    /// side has taken it into its socket (so the HWM of a pipe is the sender's SNDHWM
    /// plus the receiver's RCVHWM, as in libzmq).
    Msg(Message, bool),
    /// A SUBSCRIBE (`true`) or CANCEL for a topic.
    Subscription(Bytes, bool),
    /// The bind side admitted the connection; its routing id (REQ, DEALER, ROUTER).
    Hello(Option<Bytes>),
    /// The sending side ended; nothing follows.
    Close,
}

/// Which side of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Bind = 0,
    Connect = 1,
}

impl Side {
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Bind => Side::Connect,
            Side::Connect => Side::Bind,
        }
    }
}

/// Locks a mutex, ignoring poisoning (nothing here panics while holding a lock, and a
/// panicking socket task must not take the other side down with it).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A wake-up for one task that other threads raise: [`Signal::raise`] wakes the task
/// waiting in [`Signal::wait`] (or makes its next wait return at once).
#[derive(Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    /// Wakes the waiting task. Cheap when already raised and not yet seen.
    pub(crate) fn raise(&self) {
        if self.raised.swap(true, Ordering::AcqRel) {
            return;
        }
        let waker = lock(&self.waker).take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.raised.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        {
            let mut slot = lock(&self.waker);
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        // A raise between the first check and the registration found no waker: it
        // left the flag set for this second check.
        if self.raised.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Completes once [`Signal::raise`] ran since the last wait completed.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| self.poll_wait(cx)).await
    }
}

/// Items flowing to one side.
#[derive(Default)]
struct Lane {
    items: Mutex<Vec<Item>>,
    /// Counted messages the receiving side took into its socket so far.
    consumed: AtomicU64,
}

/// One inproc connection: a lane and a signal per side.
#[derive(Default)]
pub(crate) struct Pipe {
    lanes: [Lane; 2],
    signals: [Signal; 2],
}

impl Pipe {
    /// Appends `items` (emptied) to the lane towards `to` and wakes that side.
    pub(crate) fn push(&self, to: Side, items: &mut Vec<Item>) {
        if items.is_empty() {
            return;
        }
        {
            let mut lane = lock(&self.lanes[to as usize].items);
            if lane.is_empty() {
                std::mem::swap(&mut *lane, items);
            } else {
                lane.append(items);
            }
        }
        self.signals[to as usize].raise();
    }

    /// Lets `fill` append to the lane towards `to` under its lock, then wakes that side
    /// if anything was added: items written straight into the lane's vector, with no
    /// batch of the writer's own to move them from.
    pub(crate) fn push_with(&self, to: Side, fill: impl FnOnce(&mut Vec<Item>)) {
        let added = {
            let mut lane = lock(&self.lanes[to as usize].items);
            let before = lane.len();
            fill(&mut lane);
            lane.len() != before
        };
        if added {
            self.signals[to as usize].raise();
        }
    }

    /// Appends one item to the lane towards `to` and wakes that side.
    pub(crate) fn push_one(&self, to: Side, item: Item) {
        lock(&self.lanes[to as usize].items).push(item);
        self.signals[to as usize].raise();
    }

    /// Moves everything waiting for `side` to the back of `into`; `spare` is an empty
    /// vector whose allocation is swapped into the lane. When `into` is empty (the
    /// usual case: the last batch was delivered whole) the lane's vector becomes `into`
    /// as it is (`VecDeque::from(Vec)` keeps the buffer), and `into`'s empty buffer
    /// goes back to the lane: no item is moved one by one.
    pub(crate) fn take(&self, side: Side, into: &mut VecDeque<Item>, spare: &mut Vec<Item>) {
        if into.is_empty() {
            // Empty, so the conversion moves nothing and keeps the allocation.
            let mut swapped: Vec<Item> = std::mem::take(into).into();
            {
                let mut lane = lock(&self.lanes[side as usize].items);
                std::mem::swap(&mut *lane, &mut swapped);
            }
            *into = VecDeque::from(swapped);
            return;
        }
        {
            let mut lane = lock(&self.lanes[side as usize].items);
            if lane.is_empty() {
                return;
            }
            std::mem::swap(&mut *lane, spare);
        }
        into.extend(spare.drain(..));
    }

    /// `side` took `n` more counted messages into its socket; the other side is woken
    /// to give its sender the room.
    pub(crate) fn consumed(&self, side: Side, n: u64) {
        self.lanes[side as usize]
            .consumed
            .fetch_add(n, Ordering::AcqRel);
        self.signals[side.other() as usize].raise();
    }

    /// How many counted messages `side` has taken into its socket so far.
    pub(crate) fn consumed_by(&self, side: Side) -> u64 {
        self.lanes[side as usize].consumed.load(Ordering::Acquire)
    }

    /// Waits until something was pushed to `side`, or its messages were consumed, or
    /// it was otherwise woken.
    pub(crate) async fn wait(&self, side: Side) {
        self.signals[side as usize].wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_raise_wakes_the_waiter_once_and_is_not_lost_before_the_wait() {
        let s = Signal::default();
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        // Raised before anyone waits: the first wait completes at once.
        s.raise();
        assert!(pin!(s.wait()).poll(&mut cx).is_ready());
        // Not raised: pending, then one wake for two raises.
        let mut w = pin!(s.wait());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        s.raise();
        s.raise();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(w.as_mut().poll(&mut cx).is_ready());
        // Consumed: the next wait is pending again.
        assert!(pin!(s.wait()).poll(&mut cx).is_pending());
    }

    #[test]
    fn items_keep_their_order_across_batches_and_threads() {
        let pipe = Arc::new(Pipe::default());
        let writer = {
            let pipe = pipe.clone();
            std::thread::spawn(move || {
                for batch in 0..100u32 {
                    let mut items: Vec<Item> = (0..10u32)
                        .map(|i| {
                            Item::Msg(Message::from((batch * 10 + i).to_be_bytes().to_vec()), true)
                        })
                        .collect();
                    pipe.push(Side::Connect, &mut items);
                    assert!(items.is_empty());
                }
            })
        };
        let mut got = VecDeque::new();
        let mut spare = Vec::new();
        let mut next = 0u32;
        while next < 1000 {
            pipe.take(Side::Connect, &mut got, &mut spare);
            while let Some(item) = got.pop_front() {
                let Item::Msg(m, true) = item else {
                    panic!("a counted message")
                };
                assert_eq!(m.frames()[0][..], next.to_be_bytes());
                next += 1;
            }
        }
        writer.join().unwrap();
        pipe.consumed(Side::Connect, 1000);
        assert_eq!(pipe.consumed_by(Side::Connect), 1000);
        assert_eq!(pipe.consumed_by(Side::Bind), 0);
    }
}
