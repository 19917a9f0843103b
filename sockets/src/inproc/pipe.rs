//! The in-process pipe: two lanes of [`Item`]s between the two sides of one inproc
//! connection, which may run on different threads, and a [`Signal`] per side that wakes
//! its task through the executor's (`Send`) waker.
//!
//! A lane is a [`Batch`] behind a mutex: the writing side appends a batch under one
//! lock, the reading side swaps the whole batch out under one lock, so a busy pipe costs
//! a few atomic operations per batch, not per message. Messages move (their `Bytes`),
//! they are never encoded or copied.
//!
//! Between two threads what costs is the cache lines: each line the writer fills was
//! last read by the reader's core (the vectors go back and forth), so each one is a
//! transfer of ownership between the cores. A one-frame message with nothing else set
//! (the common case) travels as its frame alone, 32 B in [`Batch::frames`], instead of
//! a 64 B [`Item`]: half the lines per message.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::message::Message;

/// What travels through a lane, in order.
pub(crate) enum Item {
    /// A message. `counted`: it counts against the sender's SNDHWM until the receiving
    /// side has taken it into its socket (so the HWM of a pipe is the sender's SNDHWM
    /// plus the receiver's RCVHWM, as in libzmq).
    Msg(Message, bool),
    /// The next `n` frames of the batch's [`Batch::frames`]: as many counted messages of
    /// one frame each, with nothing else set.
    Frames(usize),
    /// A SUBSCRIBE (`true`) or CANCEL for a topic.
    Subscription(Bytes, bool),
    /// The bind side admitted the connection; its routing id (REQ, DEALER, ROUTER).
    Hello(Option<Bytes>),
    /// The sending side ended; nothing follows.
    Close,
}

/// Makes the vector `from` the (empty) deque `into`, and `into`'s buffer the empty
/// `from`: no element moves.
fn swap_into<T>(from: &mut Vec<T>, into: &mut VecDeque<T>) {
    let empty = Vec::from(std::mem::take(into));
    *into = VecDeque::from(std::mem::replace(from, empty));
}

/// Items in order, as one side sends them in one go: each [`Item::Frames`] stands for
/// the next frames of `frames` (so `frames` holds as many as those items count).
#[derive(Default)]
pub(crate) struct Batch {
    items: Vec<Item>,
    frames: Vec<Bytes>,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends an item (not [`Item::Frames`], which [`Batch::extend_counted`] adds).
    pub(crate) fn push(&mut self, item: Item) {
        debug_assert!(!matches!(item, Item::Frames(_)));
        self.items.push(item);
    }

    /// Appends counted messages (see [`Item::Msg`]): a message that is one frame and
    /// nothing else goes into `frames`.
    pub(crate) fn extend_counted(&mut self, msgs: impl ExactSizeIterator<Item = Message>) {
        self.frames.reserve(msgs.len());
        let mut run = 0;
        for msg in msgs {
            match msg.into_lone_frame() {
                Ok(frame) => {
                    self.frames.push(frame);
                    run += 1;
                }
                Err(msg) => {
                    self.count_frames(run);
                    run = 0;
                    self.items.push(Item::Msg(msg, true));
                }
            }
        }
        self.count_frames(run);
    }

    /// Appends one counted message.
    #[inline]
    pub(crate) fn push_counted(&mut self, msg: Message) {
        match msg.into_lone_frame() {
            Ok(frame) => {
                self.frames.push(frame);
                self.count_frames(1);
            }
            Err(msg) => self.items.push(Item::Msg(msg, true)),
        }
    }

    /// Counts `n` frames just added: one more [`Item::Frames`], or a longer last one.
    #[inline]
    fn count_frames(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self.items.last_mut() {
            Some(Item::Frames(k)) => *k += n,
            _ => self.items.push(Item::Frames(n)),
        }
    }

    /// Moves everything of `other` to the back of this batch.
    pub(crate) fn append(&mut self, other: &mut Batch) {
        self.items.append(&mut other.items);
        self.frames.append(&mut other.frames);
    }
}

/// The items a side took from its lane and has not delivered yet, in order (the
/// frames of its [`Item::Frames`] in `frames`, as in a [`Batch`]).
#[derive(Default)]
pub(crate) struct Inbox {
    pub(crate) items: VecDeque<Item>,
    pub(crate) frames: VecDeque<Bytes>,
}

impl Inbox {
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.frames.clear();
    }
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
    /// When a raise last woke a registered waker ([`clock`]), for [`Waits`] ...
    stamp: AtomicU64,
    /// ... if an adaptive wait (a peer on another thread) registered one: waits on one
    /// thread do not pay for the clock.
    stamped: AtomicBool,
}

impl Signal {
    /// Wakes the waiting task. Cheap when already raised and not yet seen.
    pub(crate) fn raise(&self) {
        if self.raised.swap(true, Ordering::AcqRel) {
            return;
        }
        let waker = lock(&self.waker).take();
        if let Some(w) = waker {
            if self.stamped.load(Ordering::Relaxed) {
                // Before the wake, which orders it before the woken task's reading.
                self.stamp.store(clock(), Ordering::Relaxed);
            }
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

    /// Consumes a raise if there is one, without registering anything: a plain load
    /// first, so polling an unraised signal leaves its cache line shared.
    fn try_take(&self) -> bool {
        self.raised.load(Ordering::Relaxed) && self.raised.swap(false, Ordering::AcqRel)
    }
}

/// The longest a waiting side polls its [`Signal`] before it parks (see [`Waits`]):
/// about what waking a parked thread costs on an idle VM (15-20 us here), so a spin
/// that fails costs about as much as the wake-up it tried to avoid.
pub(crate) const SPIN_WINDOW: Duration = Duration::from_micros(50);

/// A wake-up of a parked side that took less than this (from the raise to the side's
/// next poll) is cheap enough: spinning would only burn CPU (and, on a busy machine,
/// take it from the peer).
pub(crate) const CHEAP_WAKE: Duration = Duration::from_micros(5);

/// Nanoseconds on a process-wide monotonic clock (shared by all threads, so a stamp
/// taken on one thread compares with a reading on another).
fn clock() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// How one wait of a side ended, for [`Waits::learn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The spin saw the raise.
    Caught,
    /// The wait spun for the whole window, then parked.
    RanOut,
    /// The side parked without spinning; the peer raised `response` after the wait
    /// began and the side ran `wake` after the raise (`None`: not known, e.g. no
    /// stamped raise).
    Parked {
        response: Option<Duration>,
        wake: Option<Duration>,
    },
}

/// The most waits a side parks at once after spins that ran out (`2^MAX_PENALTY`).
const MAX_PENALTY: u32 = 10;

/// One side's record of its waits on the pipe, for a bounded, adaptive spin. A wait
/// spins (polls the signal, yielding to the side's executor between polls so its
/// other tasks run, for at most `window`) only when the last wait showed that it
/// pays: the peer answered within the window and waking the parked side was
/// expensive ([`CHEAP_WAKE`] or more). A spin that sees the raise keeps spinning on. A
/// spin that runs out parks, and the side then parks at once for its next 2, 4, 8, ...
/// waits (up to `2^MAX_PENALTY`: each spin that runs out doubles the count, each spin
/// that catches halves it), so where spins keep failing (the peer's thread does not
/// get a CPU) almost no wait spins. So an idle socket spins at most one window after
/// its last message, and on a machine whose CPUs are busy (where waking a thread is
/// cheap, and a thread that spins competes with the one it waits for) nothing spins.
pub(crate) struct Waits {
    window: Duration,
    spin: Cell<bool>,
    /// Spins that ran out, less those that caught since (the exponent of the count).
    penalty: Cell<u32>,
    /// Waits still to park at once.
    skip: Cell<u32>,
    /// The clock, in [`clock`]'s nanoseconds (a virtual one in tests).
    now: fn() -> u64,
}

impl Waits {
    pub(crate) fn new(window: Duration) -> Waits {
        Waits::with_clock(window, clock)
    }

    fn with_clock(window: Duration, now: fn() -> u64) -> Waits {
        Waits {
            window,
            spin: Cell::new(false),
            penalty: Cell::new(0),
            skip: Cell::new(0),
            now,
        }
    }

    /// Whether the next wait spins (when its peer is on another thread).
    pub(crate) fn spins(&self) -> bool {
        self.spin.get()
    }

    /// Learns from how a wait ended whether the next one should spin.
    pub(crate) fn learn(&self, ended: Ended) {
        let spin = match ended {
            Ended::Caught => {
                self.penalty.set(self.penalty.get().saturating_sub(1));
                true
            }
            Ended::RanOut => {
                let penalty = (self.penalty.get() + 1).min(MAX_PENALTY);
                self.penalty.set(penalty);
                self.skip.set(1 << penalty);
                false
            }
            Ended::Parked { .. } if self.skip.get() > 0 => {
                self.skip.set(self.skip.get() - 1);
                false
            }
            Ended::Parked {
                response: Some(response),
                wake: Some(wake),
            } => response <= self.window && wake >= CHEAP_WAKE,
            Ended::Parked { .. } => false,
        };
        self.spin.set(spin);
    }
}

/// Whether this process may run on more than one CPU: with one, a spin only delays
/// the peer it waits for.
fn parallel() -> bool {
    static PARALLEL: OnceLock<bool> = OnceLock::new();
    *PARALLEL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

std::thread_local! {
    static THREAD_MARK: u8 = const { 0 };
}

/// An address unique to the calling thread among the live threads (never 0).
fn thread_mark() -> usize {
    THREAD_MARK.with(|m| m as *const u8 as usize)
}

/// What a [`Wait`] does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The signal was raised: the wait is over.
    Raised,
    /// Spin: let the executor's other ready tasks run (`Proactor::yield_now`), then
    /// step again.
    Yield,
    /// Park: [`Wait::poll_parked`] until it completes.
    Park,
}

/// One wait of a side on its signal ([`Pipe::wait`]): the side steps it, yielding
/// while it spins, then polls it parked.
pub(crate) struct Wait<'a> {
    signal: &'a Signal,
    waits: &'a Waits,
    /// Spinning may be worth it: the peer runs on another thread, there are CPUs for
    /// both, and the spin window is not zero.
    adaptive: bool,
    /// When the first step found nothing (measured only when `adaptive`).
    since: Option<u64>,
    /// The wait registered its waker (it spun out, or did not spin).
    parked: bool,
    /// The wait spun.
    spun: bool,
}

impl Wait<'_> {
    /// Whether the wait may spin (its peer is on another thread); if not, it only
    /// parks, as [`Pipe::wait_parked`].
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive
    }

    /// Checks the signal; tells whether to spin on or park.
    pub(crate) fn step(&mut self) -> Step {
        if !self.adaptive {
            return Step::Park;
        }
        if self.signal.try_take() {
            self.learn();
            return Step::Raised;
        }
        let now = (self.waits.now)();
        let since = *self.since.get_or_insert(now);
        let window = u64::try_from(self.waits.window.as_nanos()).unwrap_or(u64::MAX);
        if self.waits.spins() && now.saturating_sub(since) < window {
            self.spun = true;
            return Step::Yield;
        }
        Step::Park
    }

    /// Waits parked: the waker registered, woken by the raise.
    pub(crate) fn poll_parked(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.adaptive {
            return self.signal.poll_wait(cx);
        }
        if !self.parked {
            self.parked = true;
            // Before the registration, so the raise that takes the waker sees it.
            self.signal.stamped.store(true, Ordering::Relaxed);
        }
        let ready = self.signal.poll_wait(cx);
        if ready.is_ready() {
            self.learn();
        }
        ready
    }

    /// The wait completed: learn from it whether the next one spins.
    fn learn(&mut self) {
        let Some(since) = self.since else {
            // Raised at the first step: nothing to learn.
            return;
        };
        let ended = if self.parked && self.spun {
            Ended::RanOut
        } else if self.parked {
            let now = (self.waits.now)();
            // A stamp older than the wait is not this wait's raise (the flag was seen
            // before the raise that stamped it got to its waker).
            let raised = self.signal.stamp.load(Ordering::Relaxed);
            let known = (since..=now).contains(&raised);
            Ended::Parked {
                response: known.then(|| Duration::from_nanos(raised - since)),
                wake: known.then(|| Duration::from_nanos(now - raised)),
            }
        } else {
            Ended::Caught
        };
        self.waits.learn(ended);
    }
}

/// A value on cache lines of its own (two: a line and the one the adjacent-line
/// prefetcher pairs it with), so that writes to it do not take the line from a thread
/// that reads something else, and the other way round. Between a writer and a reader
/// that spins, a shared line costs a transfer of the line between the cores for each
/// write.
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Items flowing to one side.
#[derive(Default)]
struct Lane {
    /// Written by the sending side, swapped out by the receiving side.
    items: Padded<Mutex<Batch>>,
    /// Counted messages the receiving side took into its socket so far (written by the
    /// receiving side, read by the sending side).
    consumed: Padded<AtomicU64>,
}

/// One inproc connection: a lane and a signal per side.
#[derive(Default)]
pub(crate) struct Pipe {
    lanes: [Lane; 2],
    signals: [Padded<Signal>; 2],
    /// The thread of each side ([`thread_mark`]; 0 until the side is set up).
    threads: [AtomicUsize; 2],
}

impl Pipe {
    /// Records that `side` runs on the calling thread (sides are `!Send`, so they stay).
    pub(crate) fn set_thread(&self, side: Side) {
        self.threads[side as usize].store(thread_mark(), Ordering::Relaxed);
    }

    /// Whether the other side is known to run on another thread than `side`.
    fn across_threads(&self, side: Side) -> bool {
        let peer = self.threads[side.other() as usize].load(Ordering::Relaxed);
        peer != 0 && peer != self.threads[side as usize].load(Ordering::Relaxed)
    }

    /// Appends `items` (emptied) to the lane towards `to` and wakes that side.
    pub(crate) fn push(&self, to: Side, items: &mut Batch) {
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
    /// if anything was added: items written straight into the lane's vectors, with no
    /// batch of the writer's own to move them from.
    pub(crate) fn push_with(&self, to: Side, fill: impl FnOnce(&mut Batch)) {
        let added = {
            let mut lane = lock(&self.lanes[to as usize].items);
            let before = lane.items.len();
            fill(&mut lane);
            lane.items.len() != before
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
    /// batch whose allocations are swapped into the lane. When `into` is empty (the
    /// usual case: the last batch was delivered whole) the lane's vectors become
    /// `into`'s as they are (`VecDeque::from(Vec)` keeps the buffer), and `into`'s
    /// empty buffers go back to the lane: no item is moved one by one.
    pub(crate) fn take(&self, side: Side, into: &mut Inbox, spare: &mut Batch) {
        let mut lane = lock(&self.lanes[side as usize].items);
        if lane.is_empty() {
            return;
        }
        if into.items.is_empty() {
            debug_assert!(into.frames.is_empty());
            // Empty, so the conversions move nothing and keep the allocations.
            swap_into(&mut lane.items, &mut into.items);
            if !lane.frames.is_empty() {
                swap_into(&mut lane.frames, &mut into.frames);
            }
            return;
        }
        std::mem::swap(&mut *lane, spare);
        drop(lane);
        into.items.extend(spare.items.drain(..));
        into.frames.extend(spare.frames.drain(..));
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
    /// it was otherwise woken; spinning first as [`Waits`] tells.
    pub(crate) fn wait<'a>(&'a self, side: Side, waits: &'a Waits) -> Wait<'a> {
        Wait {
            signal: &self.signals[side as usize],
            waits,
            adaptive: !waits.window.is_zero() && self.across_threads(side) && parallel(),
            since: None,
            parked: false,
            spun: false,
        }
    }

    /// [`Pipe::wait`] parked at once, for a side whose peer is on its thread.
    pub(crate) async fn wait_parked(&self, side: Side) {
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

    std::thread_local! {
        static VIRTUAL_NOW: Cell<u64> = const { Cell::new(0) };
    }

    /// A clock the test moves, far from [`clock`]'s readings (so a raise's real stamp
    /// is never taken for one of this clock's).
    fn virtual_now() -> u64 {
        VIRTUAL_NOW.with(Cell::get)
    }

    fn set_virtual_now(ns: u64) {
        VIRTUAL_NOW.with(|c| c.set(u64::MAX / 2 + ns));
    }

    /// A signal and the wait state of a side that spins (a wait was caught), with the
    /// virtual clock at 0 and a 20 us window.
    fn spinning_at_zero() -> (Signal, Waits) {
        set_virtual_now(0);
        let waits = Waits::with_clock(Duration::from_micros(20), virtual_now);
        waits.learn(Ended::Caught);
        (Signal::default(), waits)
    }

    /// A wait on `signal` as [`Pipe::wait`] makes it for a peer on another thread.
    fn adaptive<'a>(signal: &'a Signal, waits: &'a Waits) -> Wait<'a> {
        Wait {
            signal,
            waits,
            adaptive: true,
            since: None,
            parked: false,
            spun: false,
        }
    }

    #[test]
    fn a_wait_spins_only_after_a_wait_showed_that_it_pays() {
        let window = Duration::from_micros(20);
        let waits = Waits::with_clock(window, virtual_now);
        assert!(!waits.spins(), "nothing learned yet: no spin");
        let us = Duration::from_micros;
        let parked = |response, wake| Ended::Parked {
            response: Some(response),
            wake: Some(wake),
        };
        // A quick answer and an expensive wake-up: spinning would have saved the wake.
        waits.learn(parked(us(3), us(15)));
        assert!(waits.spins());
        waits.learn(Ended::Caught);
        assert!(waits.spins(), "a caught raise keeps the spin on");
        // A cheap wake-up (busy CPUs): parking costs little.
        waits.learn(parked(us(3), CHEAP_WAKE - Duration::from_nanos(1)));
        assert!(!waits.spins());
        waits.learn(parked(us(3), CHEAP_WAKE));
        assert!(waits.spins());
        // An answer later than the window: a spin would have run out anyway.
        waits.learn(parked(window + Duration::from_nanos(1), us(15)));
        assert!(!waits.spins());
        waits.learn(parked(window, us(15)));
        assert!(waits.spins());
        // Not known (no stamped raise): no spin.
        waits.learn(Ended::Parked {
            response: None,
            wake: None,
        });
        assert!(!waits.spins());
    }

    #[test]
    fn spins_that_run_out_make_the_side_park_for_twice_as_many_waits_each_time() {
        let waits = Waits::with_clock(Duration::from_micros(20), virtual_now);
        let pays = Ended::Parked {
            response: Some(Duration::from_micros(3)),
            wake: Some(Duration::from_micros(15)),
        };
        // Parks at once for `n` waits that would have turned the spin on, then spins.
        let parks_for = |n: usize| {
            for i in 0..n {
                waits.learn(pays);
                assert!(!waits.spins(), "wait {i} of {n} parks");
            }
            waits.learn(pays);
            assert!(waits.spins(), "then spins");
        };
        waits.learn(Ended::RanOut);
        assert!(!waits.spins());
        parks_for(2);
        waits.learn(Ended::RanOut);
        parks_for(4);
        waits.learn(Ended::RanOut);
        parks_for(8);
        // A caught raise halves the count.
        waits.learn(Ended::Caught);
        waits.learn(Ended::RanOut);
        parks_for(8);
        // Up to 2^MAX_PENALTY.
        for _ in 0..2 * MAX_PENALTY {
            waits.learn(Ended::RanOut);
        }
        parks_for(1 << MAX_PENALTY);
    }

    #[test]
    fn a_spinning_wait_registers_nothing_and_sees_the_raise() {
        let (s, waits) = spinning_at_zero();
        let mut w = adaptive(&s, &waits);
        // Within the window: spin.
        assert_eq!(w.step(), Step::Yield);
        set_virtual_now(19_999);
        assert_eq!(w.step(), Step::Yield);
        // A raise meanwhile finds no waker (the raising side wakes nobody), and the
        // next step of the spin sees it.
        s.raise();
        assert!(lock(&s.waker).is_none());
        assert_eq!(w.step(), Step::Raised);
        assert!(waits.spins(), "caught: the next wait spins too");
        // Consumed: a new wait does not complete at once.
        let mut w = adaptive(&s, &waits);
        assert_eq!(w.step(), Step::Yield);
    }

    #[test]
    fn a_spin_that_runs_out_parks_and_is_woken_by_the_raise() {
        let (s, waits) = spinning_at_zero();
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut w = adaptive(&s, &waits);
        assert_eq!(w.step(), Step::Yield);
        // The window passed: park; registered, pending, not woken.
        set_virtual_now(20_000);
        assert_eq!(w.step(), Step::Park);
        assert!(w.poll_parked(&mut cx).is_pending());
        assert!(w.poll_parked(&mut cx).is_pending(), "a spurious poll");
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        // The raise wakes it once; it completes and learns not to spin (the raise's
        // stamp is not on this clock: not known).
        s.raise();
        s.raise();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(w.poll_parked(&mut cx).is_ready());
        assert!(!waits.spins());
        // Not spinning: the next wait parks at its first step, and is woken.
        let mut w = adaptive(&s, &waits);
        assert_eq!(w.step(), Step::Park);
        assert!(w.poll_parked(&mut cx).is_pending());
        s.raise();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(w.poll_parked(&mut cx).is_ready());
    }

    #[test]
    fn a_raise_between_the_spin_and_the_registration_is_not_lost() {
        let (s, waits) = spinning_at_zero();
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut w = adaptive(&s, &waits);
        assert_eq!(w.step(), Step::Yield);
        set_virtual_now(30_000);
        assert_eq!(w.step(), Step::Park);
        s.raise();
        assert!(w.poll_parked(&mut cx).is_ready());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_raise_before_the_first_step_ends_the_wait_without_learning() {
        let s = Signal::default();
        let waits = Waits::with_clock(Duration::from_micros(20), virtual_now);
        waits.learn(Ended::Caught);
        s.raise();
        assert_eq!(adaptive(&s, &waits).step(), Step::Raised);
        assert!(waits.spins());
    }

    #[test]
    fn a_wait_on_one_thread_neither_spins_nor_reads_the_clock() {
        let waits = Waits::with_clock(Duration::from_micros(20), || -> u64 {
            panic!("the clock is not read")
        });
        let pipe = Pipe::default();
        pipe.set_thread(Side::Bind);
        pipe.set_thread(Side::Connect);
        let mut w = pipe.wait(Side::Bind, &waits);
        assert!(!w.adaptive);
        assert_eq!(w.step(), Step::Park);
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(w.poll_parked(&mut cx).is_pending());
        pipe.push_one(Side::Bind, Item::Close);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(w.poll_parked(&mut cx).is_ready());
        assert_eq!(
            pipe.signals[Side::Bind as usize]
                .stamp
                .load(Ordering::Relaxed),
            0
        );
    }

    /// Waker of a thread blocked in [`block_on`].
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Steps `w` as the pump does, with the thread's yield for the executor's.
    fn wait_here(mut w: Wait<'_>) {
        loop {
            match w.step() {
                Step::Raised => return,
                Step::Yield => std::thread::yield_now(),
                Step::Park => return block_on(poll_fn(|cx| w.poll_parked(cx))),
            }
        }
    }

    /// Polls `f` on this thread, parking the thread while it is pending.
    fn block_on<F: Future>(f: F) -> F::Output {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    #[test]
    fn a_spinning_side_whose_peer_goes_quiet_parks_instead_of_burning_cpu() {
        let pipe = Arc::new(Pipe::default());
        pipe.set_thread(Side::Connect);
        let (ready, set) = std::sync::mpsc::channel();
        let peer = {
            let pipe = pipe.clone();
            std::thread::spawn(move || {
                pipe.set_thread(Side::Bind);
                ready.send(()).unwrap();
                // Quiet for 300 ms, then one item.
                std::thread::sleep(Duration::from_millis(300));
                pipe.push_one(Side::Connect, Item::Close);
            })
        };
        set.recv().unwrap();
        let waits = Waits::new(SPIN_WINDOW);
        waits.learn(Ended::Caught);
        let before = ringmq_proactor::test_util::thread_cpu_ticks();
        wait_here(pipe.wait(Side::Connect, &waits));
        let used = ringmq_proactor::test_util::thread_cpu_ticks() - before;
        // A spin through the 300 ms would be about 30 ticks (USER_HZ 100); parked
        // after 20 us, the thread uses next to nothing.
        assert!(used <= 2, "{used} ticks of CPU while waiting 300 ms");
        assert!(!waits.spins(), "a long wait turns the spin off");
        peer.join().unwrap();
    }

    #[test]
    fn a_ping_pong_across_threads_loses_no_wake_up_whether_waits_spin_or_park() {
        // Windows from "spin out at once" to "always catch": every mix of spinning,
        // running out and parking between the two threads.
        for window in [1, 2_000, 50_000, 1_000_000_000] {
            let pipe = Arc::new(Pipe::default());
            let window = Duration::from_nanos(window);
            let rounds = 2_000u32;
            let peer = {
                let pipe = pipe.clone();
                std::thread::spawn(move || {
                    pipe.set_thread(Side::Bind);
                    let waits = Waits::new(window);
                    let (mut inbox, mut spare) = (Inbox::default(), Batch::default());
                    for i in 0..rounds {
                        while inbox.items.is_empty() {
                            wait_here(pipe.wait(Side::Bind, &waits));
                            pipe.take(Side::Bind, &mut inbox, &mut spare);
                        }
                        let Some(Item::Msg(m, _)) = inbox.items.pop_front() else {
                            panic!("a message")
                        };
                        assert_eq!(m.frames()[0][..], i.to_be_bytes());
                        pipe.push_one(Side::Connect, Item::Msg(m, false));
                    }
                })
            };
            pipe.set_thread(Side::Connect);
            let waits = Waits::new(window);
            let (mut inbox, mut spare) = (Inbox::default(), Batch::default());
            for i in 0..rounds {
                let msg = Message::from(i.to_be_bytes().to_vec());
                pipe.push_one(Side::Bind, Item::Msg(msg, false));
                while inbox.items.is_empty() {
                    wait_here(pipe.wait(Side::Connect, &waits));
                    pipe.take(Side::Connect, &mut inbox, &mut spare);
                }
                let Some(Item::Msg(m, _)) = inbox.items.pop_front() else {
                    panic!("a message")
                };
                assert_eq!(m.frames()[0][..], i.to_be_bytes());
            }
            peer.join().unwrap();
        }
    }

    /// Message `i` of [`mixed`]: most are a lone frame, every 7th has two frames,
    /// every 11th a group, every 13th goes uncounted, every 17th is preceded by a
    /// subscription.
    fn mixed(i: u32) -> Vec<Item> {
        let mut items = Vec::new();
        if i % 17 == 0 {
            items.push(Item::Subscription(
                Bytes::from(i.to_be_bytes().to_vec()),
                true,
            ));
        }
        let mut msg = Message::from(i.to_be_bytes().to_vec());
        if i % 7 == 0 {
            msg.push_back(Bytes::from_static(b"second"));
        }
        if i % 11 == 0 {
            msg.set_group("g").unwrap();
        }
        items.push(Item::Msg(msg, i % 13 != 0));
        items
    }

    /// Adds the items of [`mixed`] to `batch` the way the links do: counted messages
    /// through [`Batch::extend_counted`] (in runs) or [`Batch::push_counted`].
    fn fill(batch: &mut Batch, range: std::ops::Range<u32>, runs: bool) {
        let mut run = Vec::new();
        for item in range.flat_map(mixed) {
            match item {
                Item::Msg(msg, true) if runs => run.push(msg),
                Item::Msg(msg, true) => batch.push_counted(msg),
                other => {
                    batch.extend_counted(run.drain(..));
                    batch.push(other);
                }
            }
        }
        batch.extend_counted(run.drain(..));
    }

    /// Takes what `inbox` holds in order, as (message number, counted) and subscriptions
    /// (`u32::MAX - topic`), checking that the frames match their markers.
    fn drain(inbox: &mut Inbox, out: &mut Vec<(u32, bool)>) {
        let number = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
        while let Some(item) = inbox.items.pop_front() {
            match item {
                Item::Frames(n) => {
                    assert!(n > 0 && n <= inbox.frames.len(), "{n} frames marked");
                    for f in inbox.frames.drain(..n) {
                        out.push((number(&f), true));
                    }
                }
                Item::Msg(m, counted) => {
                    let i = number(&m.frames()[0]);
                    assert_eq!(m.frames().len(), if i % 7 == 0 { 2 } else { 1 });
                    assert_eq!(m.group(), if i % 11 == 0 { &b"g"[..] } else { b"" });
                    // Only what cannot travel as a lone frame travels whole.
                    assert!(!counted || i % 7 == 0 || i % 11 == 0, "{i} travelled whole");
                    out.push((i, counted));
                }
                Item::Subscription(t, true) => out.push((u32::MAX - number(&t), false)),
                _ => panic!("an unexpected item"),
            }
        }
        assert!(inbox.frames.is_empty(), "frames without a marker");
    }

    /// What [`drain`] gives for the messages `range` of [`mixed`].
    fn expected(range: std::ops::Range<u32>) -> Vec<(u32, bool)> {
        range
            .flat_map(|i| {
                let sub = (i % 17 == 0).then_some((u32::MAX - i, false));
                sub.into_iter().chain([(i, i % 13 != 0)])
            })
            .collect()
    }

    #[test]
    fn lone_frames_travel_apart_and_keep_their_place_among_the_items() {
        let pipe = Pipe::default();
        let (mut inbox, mut spare) = (Inbox::default(), Batch::default());
        let mut got = Vec::new();
        // A batch pushed whole, one filled in the lane, one message at a time.
        let mut batch = Batch::default();
        fill(&mut batch, 0..40, true);
        assert!(batch.frames.len() > 20, "lone frames went apart");
        pipe.push(Side::Bind, &mut batch);
        assert!(batch.is_empty() && batch.frames.is_empty());
        pipe.push_with(Side::Bind, |lane| fill(lane, 40..80, true));
        let mut one = Batch::default();
        fill(&mut one, 80..100, false);
        pipe.push(Side::Bind, &mut one);
        // Taken into an empty inbox (swapped), then behind what is still there.
        pipe.take(Side::Bind, &mut inbox, &mut spare);
        let left = inbox.items.split_off(5);
        let marked: usize = left
            .iter()
            .map(|i| if let Item::Frames(n) = i { *n } else { 0 })
            .sum();
        let left_frames = inbox.frames.split_off(inbox.frames.len() - marked);
        drain(&mut inbox, &mut got);
        inbox.items = left;
        inbox.frames = left_frames;
        pipe.push_with(Side::Bind, |lane| fill(lane, 100..150, true));
        pipe.take(Side::Bind, &mut inbox, &mut spare);
        drain(&mut inbox, &mut got);
        assert_eq!(got, expected(0..150));
        // Nothing left, and the lane towards the other side was never used.
        pipe.take(Side::Bind, &mut inbox, &mut spare);
        assert!(inbox.items.is_empty() && inbox.frames.is_empty());
        pipe.take(Side::Connect, &mut inbox, &mut spare);
        assert!(inbox.items.is_empty());
    }

    #[test]
    fn items_keep_their_order_across_batches_and_threads() {
        let pipe = Arc::new(Pipe::default());
        let writer = {
            let pipe = pipe.clone();
            std::thread::spawn(move || {
                for batch in 0..100u32 {
                    let range = batch * 10..batch * 10 + 10;
                    if batch % 2 == 0 {
                        let mut items = Batch::default();
                        fill(&mut items, range, batch % 4 == 0);
                        pipe.push(Side::Connect, &mut items);
                        assert!(items.is_empty());
                    } else {
                        pipe.push_with(Side::Connect, |lane| fill(lane, range, true));
                    }
                }
            })
        };
        let (mut inbox, mut spare) = (Inbox::default(), Batch::default());
        let mut got = Vec::new();
        let want = expected(0..1000);
        while got.len() < want.len() {
            pipe.take(Side::Connect, &mut inbox, &mut spare);
            drain(&mut inbox, &mut got);
        }
        writer.join().unwrap();
        assert_eq!(got, want);
        pipe.consumed(Side::Connect, 1000);
        assert_eq!(pipe.consumed_by(Side::Connect), 1000);
        assert_eq!(pipe.consumed_by(Side::Bind), 0);
    }
}
