//! The local executor: a task slab, a run queue that any thread can push to, and a timer
//! heap. It owns no I/O; [`run`] drives it together with a [`Park`] implementation (one
//! of the drivers) on the calling thread.
//!
//! Wakers are plain `std::task::Waker`s over an `Arc<TaskWaker>` and may be called from
//! any thread: a wake pushes the task id on a lock-free queue (or, when made on the
//! runtime's own thread, on a plain local queue without fences), and only when the
//! executor is parked in the kernel does it also poke the driver's unparker (an
//! eventfd, for both drivers). A task is queued at most once between two polls, so a
//! burst of wakes costs one poll. No thread-local state (a thread-local marker only
//! identifies the runtime's thread): several runtimes can live on the same thread.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crossbeam_queue::SegQueue;
use slab::Slab;

/// The id the `block_on` future is woken with.
const MAIN: usize = usize::MAX;

/// How many queued tasks run before the driver is polled for I/O again.
const BUDGET: usize = 128;

/// Wakes a parked driver from another thread.
pub(crate) trait Unpark: Send + Sync + 'static {
    /// Makes the driver's current or next blocking wait return.
    fn unpark(&self);
}

/// What a driver offers the run loop.
pub(crate) trait Park {
    /// Submits queued work, waits for I/O at most `timeout` (forever if `None`), and
    /// wakes the tasks whose operations completed. `parked` is true while the executor
    /// may be blocked; the driver clears it as soon as its wait returns, so the wakes it
    /// then makes on this thread do not poke the unparker.
    fn park(&self, timeout: Option<Duration>, parked: &AtomicBool) -> io::Result<()>;
}

/// State shared with wakers on any thread.
pub(crate) struct Shared {
    /// Wakes made on other threads.
    queue: SegQueue<usize>,
    /// Wakes made on the runtime's own thread (the common case: the driver's completions
    /// and tasks waking each other).
    local: LocalQueue,
    /// [`thread_mark`] of the runtime's thread.
    owner: usize,
    parked: AtomicBool,
    unpark: Box<dyn Unpark>,
}

std::thread_local! {
    static THREAD_MARK: u8 = const { 0 };
}

/// An address unique to the calling thread among the live threads (its thread-local
/// marker), read without the reference counting of `thread::current()`.
fn thread_mark() -> usize {
    THREAD_MARK.with(|m| m as *const u8 as usize)
}

/// The run queue of wakes made on the owner thread.
struct LocalQueue(RefCell<VecDeque<usize>>);

// SAFETY: the cell is accessed only (a) by wakers through `Shared::local_queue`, which
// returns it only to the thread whose marker equals `Shared::owner`, and (b) by the
// `Executor` that created the `Shared`, which is `!Send` and so stays on the thread
// that recorded `owner`. Markers of live threads are distinct, so only one thread can
// access the cell (if the owner exits and a new thread reuses its marker address, the
// owner no longer accesses it). Accesses are short and call no user code, so the
// `RefCell` borrows never overlap.
unsafe impl Sync for LocalQueue {}

impl Shared {
    /// The local run queue, if called on the owner thread.
    fn local_queue(&self) -> Option<&RefCell<VecDeque<usize>>> {
        (thread_mark() == self.owner).then_some(&self.local.0)
    }
}

struct TaskWaker {
    id: usize,
    scheduled: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            if let Some(local) = self.shared.local_queue() {
                // On the runtime's thread the executor is not blocked in the kernel (it
                // is running this code, or will look at the queue before it parks).
                local.borrow_mut().push_back(self.id);
                return;
            }
            self.shared.queue.push(self.id);
            // Pairs with the fence after `parked` is set in `block_on`: either the
            // executor sees our push before it blocks, or we see `parked` and unpark it.
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.shared.parked.load(Ordering::SeqCst) {
                self.shared.unpark.unpark();
            }
        }
    }
}

struct Task {
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// Made once at spawn; lent to each poll (no reference-count traffic per poll).
    waker: Option<Waker>,
    /// The same allocation as `waker`, for its `scheduled` flag.
    state: Arc<TaskWaker>,
}

/// Tasks and timers of one runtime.
pub(crate) struct Executor {
    shared: Arc<Shared>,
    tasks: RefCell<Slab<Task>>,
    timers: RefCell<BTreeMap<(Instant, u64), Waker>>,
    timer_seq: Cell<u64>,
    running: Cell<bool>,
}

impl Executor {
    pub(crate) fn new(unpark: Box<dyn Unpark>) -> Executor {
        Executor {
            shared: Arc::new(Shared {
                queue: SegQueue::new(),
                local: LocalQueue(RefCell::new(VecDeque::new())),
                owner: thread_mark(),
                parked: AtomicBool::new(false),
                unpark,
            }),
            tasks: RefCell::new(Slab::new()),
            timers: RefCell::new(BTreeMap::new()),
            timer_seq: Cell::new(0),
            running: Cell::new(false),
        }
    }

    /// Adds a task; it first runs on the next turn of the loop.
    pub(crate) fn spawn(&self, future: Pin<Box<dyn Future<Output = ()>>>) {
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let waker = Arc::new(TaskWaker {
            id: entry.key(),
            scheduled: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        self.local().borrow_mut().push_back(entry.key());
        entry.insert(Task {
            future: Some(future),
            waker: Some(Waker::from(waker.clone())),
            state: waker,
        });
    }

    /// The local run queue; the executor is only used on its owner thread (it is
    /// `!Send`).
    fn local(&self) -> &RefCell<VecDeque<usize>> {
        &self.shared.local.0
    }

    /// Pops the next task id: local wakes first, then wakes from other threads.
    fn pop(&self) -> Option<usize> {
        let next = self.local().borrow_mut().pop_front();
        next.or_else(|| self.shared.queue.pop())
    }

    fn queue_is_empty(&self) -> bool {
        self.local().borrow().is_empty() && self.shared.queue.is_empty()
    }

    /// Drops every task (used when the runtime is dropped: tasks hold handles to it).
    pub(crate) fn clear(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        drop(tasks);
        self.timers.borrow_mut().clear();
    }

    fn run_task(&self, id: usize) {
        let (mut future, waker) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(task) = tasks.get_mut(id) else {
                return;
            };
            // Taken out so the task can spawn (borrow the slab) while it runs.
            let Some(future) = task.future.take() else {
                return;
            };
            task.state.scheduled.store(false, Ordering::Release);
            let waker = task
                .waker
                .take()
                .expect("a task's waker is home between polls");
            (future, waker)
        };
        let done = future
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready();
        let mut tasks = self.tasks.borrow_mut();
        if done {
            if tasks.contains(id) {
                tasks.remove(id);
            }
            drop(tasks);
            drop(future);
        } else if let Some(task) = tasks.get_mut(id) {
            task.future = Some(future);
            task.waker = Some(waker);
        }
    }

    /// Wakes the timers whose deadline passed; returns the next deadline.
    fn fire_timers(&self, now: Instant) -> Option<Instant> {
        let mut timers = self.timers.borrow_mut();
        while let Some(entry) = timers.first_entry() {
            if entry.key().0 > now {
                return Some(entry.key().0);
            }
            entry.remove().wake();
        }
        None
    }

    #[cfg(test)]
    pub(crate) fn timers_empty(&self) -> bool {
        self.timers.borrow().is_empty()
    }

    /// A future completing at `deadline`.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> Sleep<'_> {
        Sleep {
            exec: self,
            deadline,
            key: None,
        }
    }

    /// Runs `future` to completion, running spawned tasks and the driver meanwhile.
    /// Inside `block_on` (on the owning thread: the executor is not `Send`).
    pub(crate) fn is_running(&self) -> bool {
        self.running.get()
    }

    pub(crate) fn block_on<F: Future>(&self, driver: &dyn Park, future: F) -> F::Output {
        assert!(
            !self.running.replace(true),
            "ringmq: Runtime::block_on called while the same runtime is already running"
        );
        struct Reset<'a>(&'a Cell<bool>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _reset = Reset(&self.running);

        let mut future = pin!(future);
        let main = Arc::new(TaskWaker {
            id: MAIN,
            scheduled: AtomicBool::new(false),
            shared: self.shared.clone(),
        });
        let main_waker = Waker::from(main.clone());
        let mut poll_main = || {
            main.scheduled.store(false, Ordering::Release);
            future.as_mut().poll(&mut Context::from_waker(&main_waker))
        };
        if let Poll::Ready(v) = poll_main() {
            return v;
        }
        // Tasks polled since the driver last looked for I/O.
        let mut ran = 0;
        loop {
            while ran < BUDGET {
                match self.pop() {
                    None => break,
                    Some(MAIN) => {
                        if let Poll::Ready(v) = poll_main() {
                            return v;
                        }
                    }
                    Some(id) => self.run_task(id),
                }
                ran += 1;
            }
            // No clock read while no timer is set (the common case on a busy socket).
            let (now, next) = if self.timers.borrow().is_empty() {
                (None, None)
            } else {
                let now = Instant::now();
                (Some(now), self.fire_timers(now))
            };
            let mut timeout = if self.queue_is_empty() {
                next.zip(now)
                    .map(|(d, now)| d.saturating_duration_since(now))
            } else if ran < BUDGET {
                // Fired timers made work: run it before paying for a system call.
                continue;
            } else {
                Some(Duration::ZERO)
            };
            ran = 0;
            if timeout != Some(Duration::ZERO) {
                self.shared.parked.store(true, Ordering::SeqCst);
                std::sync::atomic::fence(Ordering::SeqCst);
                if !self.queue_is_empty() {
                    timeout = Some(Duration::ZERO);
                }
            }
            let res = driver.park(timeout, &self.shared.parked);
            self.shared.parked.store(false, Ordering::SeqCst);
            if let Err(e) = res {
                // The driver cannot make progress: a bug or an exhausted kernel resource.
                // Back off instead of spinning, and let timers keep firing.
                park_failed(&e);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// The future of [`Executor::sleep_until`].
pub(crate) struct Sleep<'a> {
    exec: &'a Executor,
    deadline: Instant,
    key: Option<(Instant, u64)>,
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(key) = self.key.take() {
                self.exec.timers.borrow_mut().remove(&key);
            }
            return Poll::Ready(());
        }
        let mut timers = self.exec.timers.borrow_mut();
        match self.key.and_then(|k| timers.get_mut(&k)) {
            Some(w) => {
                if !w.will_wake(cx.waker()) {
                    w.clone_from(cx.waker());
                }
            }
            None => {
                let seq = self.exec.timer_seq.get();
                self.exec.timer_seq.set(seq + 1);
                let key = (self.deadline, seq);
                timers.insert(key, cx.waker().clone());
                drop(timers);
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            if let Ok(mut timers) = self.exec.timers.try_borrow_mut() {
                timers.remove(&key);
            }
        }
    }
}

/// Logs a failed driver wait (kept out of line: `block_on`'s loop stays as lean as
/// without logging).
#[cold]
#[inline(never)]
fn park_failed(e: &std::io::Error) {
    #[cfg(feature = "tracing")]
    tracing::error!(error = %e, "driver wait failed; backing off 1 ms");
    #[cfg(not(feature = "tracing"))]
    let _ = e;
}
