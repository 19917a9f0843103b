//! One in-flight io_uring operation as a future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::cqueue::more;
use io_uring::squeue::Entry;

use super::{Driver, Slot};

/// What an operation owns while the kernel works (buffers, descriptors, addresses), and
/// what happens to it if its future is dropped first.
pub(crate) trait Orphan: 'static {
    /// The future was dropped while the operation is still in the kernel.
    fn orphaned(&mut self) {}
    /// The operation completed with `res` but no future will collect it.
    fn finish(self, res: i32)
    where
        Self: Sized,
    {
        let _ = res;
    }
    /// The operation completed with `IORING_CQE_F_MORE` (a zero-copy send: a
    /// notification follows when the kernel no longer reads the pages): what must stay
    /// alive until then. The rest goes back to the future's caller.
    fn until_notification(&mut self) -> Box<dyn OrphanDyn> {
        Box::new(())
    }
}

impl Orphan for () {}

/// Object-safe form of [`Orphan::finish`], for data parked in the slab.
pub(crate) trait OrphanDyn {
    fn finish_boxed(self: Box<Self>, res: i32);
}

impl<T: Orphan> OrphanDyn for T {
    fn finish_boxed(self: Box<Self>, res: i32) {
        (*self).finish(res);
    }
}

/// A submitted operation; resolves to the raw result (`-errno` on failure), the CQE
/// flags and its data.
pub(crate) struct Op<'a, T: Orphan> {
    driver: &'a Driver,
    key: usize,
    data: Option<T>,
}

impl<'a, T: Orphan> Op<'a, T> {
    /// Queues the SQE that `build` makes from the operation's data. The data is moved
    /// into the future first, so pointers into heap storage it owns stay valid.
    pub(crate) fn submit(
        driver: &'a Driver,
        mut data: T,
        build: impl FnOnce(&mut T) -> Entry,
    ) -> Self {
        let key = driver.ops.borrow_mut().insert(Slot::Waiting(None));
        let sqe = build(&mut data).user_data(key as u64);
        driver.push(sqe);
        Op {
            driver,
            key,
            data: Some(data),
        }
    }
}

// The data is never pinned in place: the kernel points into its heap storage.
impl<T: Orphan> Unpin for Op<'_, T> {}

impl<T: Orphan> Future for Op<'_, T> {
    type Output = (i32, u32, T);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(i32, u32, T)> {
        let this = &mut *self;
        let mut ops = this.driver.ops.borrow_mut();
        match ops.get_mut(this.key) {
            Some(slot @ Slot::Done(..)) => {
                let Slot::Done(res, flags) = *slot else {
                    unreachable!()
                };
                let mut data = this
                    .data
                    .take()
                    .expect("an Op is not polled after it completed");
                if more(flags) {
                    // A notification follows with this key: the slot stays taken, and
                    // holds what the kernel may still read.
                    *slot = Slot::Orphan(data.until_notification());
                } else {
                    ops.remove(this.key);
                }
                drop(ops);
                Poll::Ready((res, flags, data))
            }
            Some(Slot::Waiting(w)) => {
                match w {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            _ => unreachable!("an Op's slot is owned by the Op until it completes"),
        }
    }
}

impl<T: Orphan> Drop for Op<'_, T> {
    fn drop(&mut self) {
        let Some(mut data) = self.data.take() else {
            return;
        };
        let mut ops = self.driver.ops.borrow_mut();
        match ops.get_mut(self.key) {
            Some(slot @ Slot::Done(..)) => {
                let Slot::Done(res, flags) = *slot else {
                    unreachable!()
                };
                if more(flags) {
                    // Completed, but its notification is still to come.
                    *slot = Slot::Orphan(Box::new(data));
                    return;
                }
                ops.remove(self.key);
                drop(ops);
                data.finish(res);
            }
            Some(slot) => {
                data.orphaned();
                *slot = Slot::Orphan(Box::new(data));
                drop(ops);
                self.driver.cancel(self.key);
            }
            None => {}
        }
    }
}
