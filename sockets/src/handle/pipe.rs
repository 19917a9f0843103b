//! A bounded queue between threads with batched hand-over and hysteresis.
//!
//! One side of a [`Pipe`] runs on the ringmq runtime thread (a pump), the other on any
//! thread (the handles). What makes it cheaper than a general channel for streaming:
//! the pump takes everything queued under one lock ([`Pipe::take_all`]) or adds a batch
//! under one lock ([`Pipe::push_all`]), a waiting consumer is woken only when the queue
//! goes from empty to non-empty, and a waiting producer only when the queue has drained
//! to half its capacity, so a producer that is faster than its consumer is woken once
//! per half a queue instead of once per message.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

/// Tasks waiting on one side, by key (a future re-registers under its key).
#[derive(Default)]
struct Waiters {
    list: Vec<(u64, Waker)>,
}

impl Waiters {
    /// Registers `waker` under `key`, or under a new key from `next` when `key` is not
    /// listed here (none yet, or its registration was taken by a wake).
    fn register(&mut self, key: &mut Option<u64>, waker: &Waker, next: &mut u64) {
        if let Some(k) = *key {
            if let Some(e) = self.list.iter_mut().find(|(x, _)| *x == k) {
                if !e.1.will_wake(waker) {
                    e.1 = waker.clone();
                }
                return;
            }
        }
        let k = *next;
        *next += 1;
        self.list.push((k, waker.clone()));
        *key = Some(k);
    }

    fn remove(&mut self, key: Option<u64>) {
        if let Some(k) = key {
            if let Some(pos) = self.list.iter().position(|(x, _)| *x == k) {
                self.list.swap_remove(pos);
            }
        }
    }

    /// Takes every waker (to be woken once the lock is released).
    fn take(&mut self) -> Vec<(u64, Waker)> {
        std::mem::take(&mut self.list)
    }
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// Tasks waiting for an item.
    takers: Waiters,
    /// Tasks waiting for room.
    givers: Waiters,
    /// The next key of either list. One counter for both: a key names one
    /// registration, so [`Pipe::forget`] may look for it in both lists. (With a
    /// counter per list, a producer's `send` dropped holding the key of a registration
    /// already woken removed the consumer's registration of the same number, and the
    /// consumer then waited with items queued: the handle's send pump stalled.)
    next_key: u64,
}

/// A bounded multi-producer multi-consumer queue (see the module docs).
pub(crate) struct Pipe<T> {
    state: Mutex<State<T>>,
    cap: usize,
}

fn wake(list: Vec<(u64, Waker)>) {
    for (_, w) in list {
        w.wake();
    }
}

impl<T> Pipe<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Pipe {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                takers: Waiters::default(),
                givers: Waiters::default(),
                next_key: 0,
            }),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the queue consistent (every method
        // changes it in one step), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the pipe: pushes fail from now on, takes return what is left and then
    /// `Closed`. Wakes every waiting task.
    pub(crate) fn close(&self) {
        let (a, b) = {
            let mut s = self.lock();
            s.closed = true;
            (s.takers.take(), s.givers.take())
        };
        wake(a);
        wake(b);
    }

    /// Adds `item` if there is room.
    pub(crate) fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        let takers = {
            let mut s = self.lock();
            if s.closed {
                return Err(PushError::Closed(item));
            }
            if s.items.len() >= self.cap {
                return Err(PushError::Full(item));
            }
            s.items.push_back(item);
            if s.items.len() == 1 {
                s.takers.take()
            } else {
                Vec::new()
            }
        };
        wake(takers);
        Ok(())
    }

    /// Moves items from the front of `batch`, at most `limit`, into the free places
    /// under one lock (the handles' `send_batch`): how many; `None` when closed
    /// (nothing moved).
    pub(crate) fn push_some(&self, batch: &mut Vec<T>, limit: usize) -> Option<usize> {
        let (n, takers) = {
            let mut s = self.lock();
            if s.closed {
                return None;
            }
            let n = self
                .cap
                .saturating_sub(s.items.len())
                .min(limit)
                .min(batch.len());
            let was_empty = s.items.is_empty();
            s.items.extend(batch.drain(..n));
            let takers = if was_empty && n > 0 {
                s.takers.take()
            } else {
                Vec::new()
            };
            (n, takers)
        };
        wake(takers);
        Some(n)
    }

    /// Adds every item of `batch` (the queue may exceed its capacity by this batch);
    /// `false` if the pipe is closed (the batch is dropped).
    pub(crate) fn push_all(&self, batch: &mut Vec<T>) -> bool {
        let takers = {
            let mut s = self.lock();
            if s.closed {
                batch.clear();
                return false;
            }
            let was_empty = s.items.is_empty();
            s.items.extend(batch.drain(..));
            if was_empty && !s.items.is_empty() {
                s.takers.take()
            } else {
                Vec::new()
            }
        };
        wake(takers);
        true
    }

    /// Room for at least one item: `Ready(true)`; closed: `Ready(false)`.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>, key: &mut Option<u64>) -> Poll<bool> {
        let mut s = self.lock();
        if s.closed {
            s.givers.remove(key.take());
            return Poll::Ready(false);
        }
        if s.items.len() < self.cap {
            s.givers.remove(key.take());
            return Poll::Ready(true);
        }
        let s = &mut *s;
        s.givers.register(key, cx.waker(), &mut s.next_key);
        Poll::Pending
    }

    /// Whether an item is waiting (a take would not wait; closed counts too, since a
    /// take then returns at once).
    pub(crate) fn ready_to_take(&self) -> bool {
        let s = self.lock();
        !s.items.is_empty() || s.closed
    }

    /// Free places now (0 when full or closed).
    pub(crate) fn room(&self) -> usize {
        let s = self.lock();
        if s.closed {
            0
        } else {
            self.cap.saturating_sub(s.items.len())
        }
    }

    /// Takes one item: `Ready(Some)`, or `Ready(None)` when closed and empty.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, key: &mut Option<u64>) -> Poll<Option<T>> {
        let (item, givers) = {
            let mut s = self.lock();
            match s.items.pop_front() {
                Some(item) => {
                    s.takers.remove(key.take());
                    let givers = if s.items.len() <= self.cap / 2 {
                        s.givers.take()
                    } else {
                        Vec::new()
                    };
                    (Some(item), givers)
                }
                None if s.closed => {
                    s.takers.remove(key.take());
                    return Poll::Ready(None);
                }
                None => {
                    let s = &mut *s;
                    s.takers.register(key, cx.waker(), &mut s.next_key);
                    return Poll::Pending;
                }
            }
        };
        wake(givers);
        Poll::Ready(item)
    }

    /// Takes up to `max` items (at least one), each given to `put`, under one lock, stopping
    /// before an item `stop` says must come alone unless it is the first (an error the
    /// next take returns): `Ready(Some(n))`, or `Ready(None)` when closed and empty.
    /// `cx` `None`: never registers, `Ready(Some(0))` when empty.
    pub(crate) fn poll_take_many(
        &self,
        cx: Option<&mut Context<'_>>,
        key: &mut Option<u64>,
        max: usize,
        stop: impl Fn(&T) -> bool,
        mut put: impl FnMut(T),
    ) -> Poll<Option<usize>> {
        let (n, givers) = {
            let mut s = self.lock();
            if s.items.is_empty() {
                if s.closed {
                    s.takers.remove(key.take());
                    return Poll::Ready(None);
                }
                return match cx {
                    Some(cx) => {
                        let s = &mut *s;
                        s.takers.register(key, cx.waker(), &mut s.next_key);
                        Poll::Pending
                    }
                    None => Poll::Ready(Some(0)),
                };
            }
            s.takers.remove(key.take());
            let mut n = 0;
            while n < max {
                match s.items.front() {
                    Some(item) if n > 0 && stop(item) => break,
                    Some(_) => {}
                    None => break,
                }
                let item = s.items.pop_front().expect("front seen");
                let alone = stop(&item);
                put(item);
                n += 1;
                if alone {
                    break;
                }
            }
            let givers = if s.items.len() <= self.cap / 2 {
                s.givers.take()
            } else {
                Vec::new()
            };
            (n, givers)
        };
        wake(givers);
        Poll::Ready(Some(n))
    }

    /// Takes one item if there is one: `Ok(Some)`, `Ok(None)` (empty), `Err(())`
    /// (closed and empty).
    pub(crate) fn try_take(&self) -> Result<Option<T>, ()> {
        let (item, givers) = {
            let mut s = self.lock();
            match s.items.pop_front() {
                Some(item) => {
                    let givers = if s.items.len() <= self.cap / 2 {
                        s.givers.take()
                    } else {
                        Vec::new()
                    };
                    (item, givers)
                }
                None if s.closed => return Err(()),
                None => return Ok(None),
            }
        };
        wake(givers);
        Ok(Some(item))
    }

    /// Moves everything queued into `out` (which should be empty: the queues are
    /// swapped): `Ready(true)` with at least one item, `Ready(false)` when closed and
    /// empty.
    pub(crate) fn poll_take_all(
        &self,
        cx: &mut Context<'_>,
        key: &mut Option<u64>,
        out: &mut VecDeque<T>,
    ) -> Poll<bool> {
        let givers = {
            let mut s = self.lock();
            if s.items.is_empty() {
                if s.closed {
                    s.takers.remove(key.take());
                    return Poll::Ready(false);
                }
                let s = &mut *s;
                s.takers.register(key, cx.waker(), &mut s.next_key);
                return Poll::Pending;
            }
            s.takers.remove(key.take());
            std::mem::swap(&mut s.items, out);
            s.givers.take()
        };
        wake(givers);
        Poll::Ready(true)
    }

    /// Forgets a waiting future's registration (its future was dropped), in whichever
    /// list holds it (a key is never in both, see `State::next_key`). A key whose
    /// registration was already taken by a wake names nothing.
    pub(crate) fn forget(&self, key: Option<u64>) {
        if key.is_some() {
            let mut s = self.lock();
            s.takers.remove(key);
            s.givers.remove(key);
        }
    }
}

/// Why [`Pipe::try_push`] refused an item (here it is back).
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

/// A registration key that is forgotten when the waiting future is dropped.
pub(crate) struct Key<'a, T> {
    pub(crate) pipe: &'a Pipe<T>,
    pub(crate) key: Option<u64>,
}

impl<'a, T> Key<'a, T> {
    pub(crate) fn new(pipe: &'a Pipe<T>) -> Self {
        Key { pipe, key: None }
    }
}

impl<T> Drop for Key<'_, T> {
    fn drop(&mut self) {
        self.pipe.forget(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn a_full_pipe_wakes_its_producer_at_half() {
        let p = Pipe::new(8);
        for i in 0..8 {
            assert!(p.try_push(i).is_ok());
        }
        assert!(matches!(p.try_push(8), Err(PushError::Full(8))));
        let (c, w) = counter();
        let mut key = None;
        assert!(p
            .poll_room(&mut Context::from_waker(&w), &mut key)
            .is_pending());
        for want in 0..3 {
            assert_eq!(p.try_take(), Ok(Some(want)));
        }
        assert_eq!(c.0.load(Ordering::SeqCst), 0, "5 left: not yet half");
        assert_eq!(p.try_take(), Ok(Some(3)));
        assert_eq!(c.0.load(Ordering::SeqCst), 1, "4 left: woken once");
        assert_eq!(p.try_take(), Ok(Some(4)));
        assert_eq!(c.0.load(Ordering::SeqCst), 1, "not again");
        assert_eq!(p.room(), 5);
    }

    #[test]
    fn the_consumer_is_woken_on_the_first_item_only() {
        let p = Pipe::new(8);
        let (c, w) = counter();
        let mut key = None;
        let mut out = VecDeque::new();
        assert!(p
            .poll_take_all(&mut Context::from_waker(&w), &mut key, &mut out)
            .is_pending());
        p.try_push(1).ok().unwrap();
        p.try_push(2).ok().unwrap();
        p.push_all(&mut vec![3, 4]);
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            p.poll_take_all(&mut Context::from_waker(&w), &mut key, &mut out),
            Poll::Ready(true)
        );
        assert_eq!(out, [1, 2, 3, 4]);
    }

    #[test]
    fn close_ends_both_sides_after_what_is_left() {
        let p = Pipe::new(2);
        p.try_push(1).ok().unwrap();
        let (c, w) = counter();
        let mut key = None;
        let mut k2 = None;
        p.try_push(2).ok().unwrap();
        assert!(p
            .poll_room(&mut Context::from_waker(&w), &mut key)
            .is_pending());
        p.close();
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert!(matches!(p.try_push(3), Err(PushError::Closed(3))));
        assert_eq!(
            p.poll_room(&mut Context::from_waker(&w), &mut key),
            Poll::Ready(false)
        );
        assert_eq!(
            p.poll_take(&mut Context::from_waker(&w), &mut k2),
            Poll::Ready(Some(1))
        );
        assert_eq!(p.try_take(), Ok(Some(2)));
        assert_eq!(p.try_take(), Err(()));
        assert!(!p.push_all(&mut vec![5]));
    }

    /// The stall of the handle's send pump: a producer's `send` that waited for room
    /// ends holding the key of its registration (the consumer's take already removed
    /// it), and dropping it must not remove the consumer's registration as a taker,
    /// made meanwhile under a key of the same number.
    #[test]
    fn a_dropped_giver_key_leaves_a_waiting_taker_registered() {
        let p = Pipe::new(1);
        p.try_push(1).ok().unwrap();
        let (_pc, pw) = counter();
        let (cc, cw) = counter();
        let mut giver = Key::new(&p);
        // The producer waits for room (registered as a giver).
        assert!(p
            .poll_room(&mut Context::from_waker(&pw), &mut giver.key)
            .is_pending());
        // The consumer takes everything (waking the producer) and waits for more.
        let mut taker = Key::new(&p);
        let mut out = VecDeque::new();
        assert_eq!(
            p.poll_take_all(&mut Context::from_waker(&cw), &mut taker.key, &mut out),
            Poll::Ready(true)
        );
        assert!(p
            .poll_take_all(&mut Context::from_waker(&cw), &mut taker.key, &mut out)
            .is_pending());
        // The producer's send completes and its future (with its key) is dropped.
        drop(giver);
        p.try_push(2).ok().unwrap();
        assert_eq!(cc.0.load(Ordering::SeqCst), 1, "the consumer is woken");
    }

    #[test]
    fn a_dropped_waiter_is_forgotten() {
        let p: Pipe<u8> = Pipe::new(1);
        let (_c, w) = counter();
        {
            let mut k = Key::new(&p);
            assert!(p
                .poll_take(&mut Context::from_waker(&w), &mut k.key)
                .is_pending());
            assert_eq!(p.lock().takers.list.len(), 1);
        }
        assert!(p.lock().takers.list.is_empty());
    }
}
