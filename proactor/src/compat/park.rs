//! Cancel safety for runtimes whose operation futures are not cancel-safe.
//!
//! compio and monoio cancel an in-flight operation when its future is dropped, and a
//! receive or accept that the kernel had already completed is then lost: the bytes go
//! down with the buffer, the accepted descriptor is never seen. ringmq's contract is
//! that a dropped `recv` loses no bytes and a dropped `accept` leaks nothing, so the
//! adapters keep the operation alive instead: its future is parked in the reader (or
//! listener) and the next call finishes it first.

use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;

use crate::{BufResult, IoBufMut};

type Parked<T> = Pin<Box<dyn Future<Output = T>>>;

/// In-flight operations producing `T` that outlived the futures that started them.
/// Used for `accept`: a dropped accept stays pending, and a later accept returns its
/// connection instead of leaking it. Concurrent callers are fine: no borrow is held
/// across an await.
pub struct Park<T> {
    parked: RefCell<Vec<Parked<T>>>,
}

impl<T> Default for Park<T> {
    fn default() -> Self {
        Park {
            parked: RefCell::new(Vec::new()),
        }
    }
}

impl<T> fmt::Debug for Park<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parked = self.parked.try_borrow().map(|p| p.len()).unwrap_or(0);
        f.debug_struct("Park").field("parked", &parked).finish()
    }
}

/// Drop guard of an operation in flight: parks it if the caller goes away.
struct ParkGuard<'a, T> {
    park: &'a Park<T>,
    op: Option<Parked<T>>,
}

impl<T> Drop for ParkGuard<'_, T> {
    fn drop(&mut self) {
        if let (Some(op), Ok(mut parked)) = (self.op.take(), self.park.parked.try_borrow_mut()) {
            parked.push(op);
        }
    }
}

impl<T: 'static> Park<T> {
    /// Completes a parked operation if there is one, otherwise starts `start()`.
    /// Dropping the returned future parks the operation here.
    pub async fn run<F>(&self, start: impl FnOnce() -> F) -> T
    where
        F: Future<Output = T> + 'static,
    {
        let parked = self.parked.borrow_mut().pop();
        let op = parked.unwrap_or_else(|| Box::pin(start()));
        let mut guard = ParkGuard {
            park: self,
            op: Some(op),
        };
        let out = poll_fn(|cx| match guard.op.as_mut() {
            Some(op) => op.as_mut().poll(cx),
            None => unreachable!("the operation is only taken out once it completed"),
        })
        .await;
        guard.op = None;
        out
    }
}

/// The receive side of an adapter: a receive whose future was dropped in flight is
/// parked, and the bytes it brings are handed to the next `recv`.
#[derive(Default)]
pub struct RecvPark {
    parked: Option<Parked<io::Result<Vec<u8>>>>,
    /// Bytes of a parked receive that did not fit the caller's buffer yet.
    leftover: Vec<u8>,
    taken: usize,
    /// The parked receive saw end of stream; report it once the leftover is drained.
    eof: bool,
}

impl fmt::Debug for RecvPark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvPark")
            .field("parked", &self.parked.is_some())
            .field("leftover", &(self.leftover.len() - self.taken))
            .field("eof", &self.eof)
            .finish()
    }
}

/// Drop guard of a receive in flight: parks the operation if the caller goes away.
struct InFlight<'a, B, F>
where
    B: IoBufMut,
    F: Future<Output = BufResult<usize, B>> + 'static,
{
    slot: &'a mut Option<Parked<io::Result<Vec<u8>>>>,
    op: Option<Pin<Box<F>>>,
    base: usize,
}

impl<B, F> Drop for InFlight<'_, B, F>
where
    B: IoBufMut,
    F: Future<Output = BufResult<usize, B>> + 'static,
{
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            let base = self.base;
            *self.slot = Some(Box::pin(async move {
                let BufResult(res, buf) = op.await;
                res.map(|n| buf.as_slice()[base..base + n].to_vec())
            }));
        }
    }
}

impl RecvPark {
    /// Receives into the spare capacity of `buf` with `start`, which must append into
    /// that spare capacity (the compat `RecvBuf` wrappers do). Bytes of an earlier
    /// receive whose future was dropped are delivered first.
    pub async fn recv<B, F>(
        &mut self,
        mut buf: B,
        start: impl FnOnce(B) -> F,
    ) -> BufResult<usize, B>
    where
        B: IoBufMut,
        F: Future<Output = BufResult<usize, B>> + 'static,
    {
        if buf.buf_capacity() <= buf.buf_len() {
            let err = io::Error::new(
                io::ErrorKind::InvalidInput,
                "recv buffer has no spare capacity",
            );
            return BufResult(Err(err), buf);
        }
        if let Some(op) = self.parked.as_mut() {
            let res = poll_fn(|cx| op.as_mut().poll(cx)).await;
            self.parked = None;
            match res {
                Ok(bytes) if bytes.is_empty() => self.eof = true,
                Ok(bytes) => {
                    self.leftover = bytes;
                    self.taken = 0;
                }
                Err(e) => return BufResult(Err(e), buf),
            }
        }
        if self.taken < self.leftover.len() {
            let n = append(&mut buf, &self.leftover[self.taken..]);
            self.taken += n;
            if self.taken == self.leftover.len() {
                self.leftover = Vec::new();
                self.taken = 0;
            }
            return BufResult(Ok(n), buf);
        }
        if self.eof {
            return BufResult(Ok(0), buf);
        }
        let base = buf.buf_len();
        let mut guard = InFlight {
            slot: &mut self.parked,
            op: Some(Box::pin(start(buf))),
            base,
        };
        let out = poll_fn(|cx| match guard.op.as_mut() {
            Some(op) => op.as_mut().poll(cx),
            None => unreachable!("the operation is only taken out once it completed"),
        })
        .await;
        guard.op = None;
        out
    }
}

/// Copies as much of `src` as fits into the spare capacity of `buf`; returns how much.
fn append<B: IoBufMut>(buf: &mut B, src: &[u8]) -> usize {
    let len = buf.buf_len();
    let n = src.len().min(buf.buf_capacity() - len);
    // SAFETY: `IoBufMut` guarantees `buf_capacity()` bytes of storage at
    // `as_buf_mut_ptr()`; `len + n <= capacity`, so the copy stays inside it, and `src`
    // is a distinct allocation (our own leftover vector), so the ranges do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), buf.as_buf_mut_ptr().add(len), n) };
    // SAFETY: the bytes `[len, len + n)` were just written and `len + n <= capacity`.
    unsafe { buf.set_buf_len(len + n) };
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    fn poll<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn dropped_recv_hands_its_bytes_to_the_next() {
        let mut park = RecvPark::default();
        let gate = Rc::new(Cell::new(false));
        // A receive that stays pending until the gate opens, then "receives" 5 bytes.
        let op = |gate: Rc<Cell<bool>>| {
            move |mut buf: Vec<u8>| {
                poll_fn(move |_| {
                    if !gate.get() {
                        return Poll::Pending;
                    }
                    buf.extend_from_slice(b"hello");
                    Poll::Ready(BufResult(Ok(5), std::mem::take(&mut buf)))
                })
            }
        };
        {
            let mut fut = std::pin::pin!(park.recv(Vec::with_capacity(8), op(gate.clone())));
            assert!(poll(fut.as_mut()).is_pending());
        }
        gate.set(true);
        // The next receive gets the parked bytes, three at a time.
        {
            let mut fut = std::pin::pin!(park.recv(Vec::with_capacity(3), |_| async {
                unreachable!("the parked receive is finished first")
            }));
            let Poll::Ready(BufResult(Ok(3), buf)) = poll(fut.as_mut()) else {
                panic!("parked bytes not delivered");
            };
            assert_eq!(buf, b"hel");
        }
        let mut fut = std::pin::pin!(park.recv(Vec::with_capacity(8), |_| async {
            unreachable!("leftover bytes come first")
        }));
        let Poll::Ready(BufResult(Ok(2), buf)) = poll(fut.as_mut()) else {
            panic!("leftover bytes not delivered");
        };
        assert_eq!(buf, b"lo");
    }

    #[test]
    fn full_buffer_is_invalid_input() {
        let mut park = RecvPark::default();
        let mut fut = std::pin::pin!(park.recv(Vec::new(), |_| async {
            unreachable!("no receive without spare capacity")
        }));
        let Poll::Ready(BufResult(Err(e), _)) = poll(fut.as_mut()) else {
            panic!("expected an error");
        };
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn dropped_accept_is_finished_by_the_next() {
        let park: Park<u32> = Park::default();
        let gate = Rc::new(Cell::new(false));
        {
            let g = gate.clone();
            let mut fut = std::pin::pin!(park.run(move || poll_fn(move |_| {
                if g.get() {
                    Poll::Ready(7)
                } else {
                    Poll::Pending
                }
            })));
            assert!(poll(fut.as_mut()).is_pending());
        }
        gate.set(true);
        let mut fut = std::pin::pin!(park.run(|| async { 9 }));
        assert_eq!(poll(fut.as_mut()), Poll::Ready(7));
    }
}
