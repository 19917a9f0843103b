//! The local executor: a task slab, a run queue that any thread can push to, and a timer
//! heap. It owns no I/O; [`run`] drives it together with a [`Park`] implementation (one
//! of the drivers) on the calling thread.
//!
//! Wakers are plain `std::task::Waker`s over an `Arc<TaskWaker>` and may be called from
//! any thread: a wake pushes the task id on a lock-free queue, and only when the
//! executor is parked in the kernel does it also poke the driver's unparker (an eventfd
//! or the poller's notifier). A task is queued at most once between two polls, so a
//! burst of wakes costs one poll. No thread-locals: several runtimes can live on the
//! same thread.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
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
    queue: SegQueue<usize>,
    parked: AtomicBool,
    unpark: Box<dyn Unpark>,
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
        self.shared.queue.push(entry.key());
        entry.insert(Task {
            future: Some(future),
            waker: Some(Waker::from(waker.clone())),
            state: waker,
        });
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
        let queue = &self.shared.queue;
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
                match queue.pop() {
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
            let mut timeout = if queue.is_empty() {
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
                if !queue.is_empty() {
                    timeout = Some(Duration::ZERO);
                }
            }
            let res = driver.park(timeout, &self.shared.parked);
            self.shared.parked.store(false, Ordering::SeqCst);
            if let Err(e) = res {
                // The driver cannot make progress: a bug or an exhausted kernel resource.
                // Back off instead of spinning, and let timers keep firing.
                eprintln!("ringmq: driver wait failed: {e}");
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
