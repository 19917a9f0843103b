//! The epoll driver: completion emulated over readiness.
//!
//! Every operation first tries its non-blocking system call. Only on `WouldBlock` is the
//! descriptor registered with the poller (once, edge-triggered, for both directions),
//! and the operation's waker joins the FIFO of that descriptor's readers or writers. An
//! edge wakes the whole FIFO in order; each operation retries its call. Because the
//! call happens inside `poll`, a dropped future never loses data: nothing was done.

mod ops;

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use polling::{Event, Events, PollMode, Poller};
use slab::Slab;

use crate::executor::{Park, Unpark};
use crate::net::Socket;

#[derive(Default)]
struct Waiters {
    read: Vec<Waker>,
    write: Vec<Waker>,
}

struct Inner {
    poller: Arc<Poller>,
    regs: RefCell<Slab<Waiters>>,
}

/// The epoll driver of one runtime.
pub(crate) struct Driver {
    inner: Rc<Inner>,
    events: RefCell<Events>,
    /// Wakers collected from one wait, reused from turn to turn.
    woken: RefCell<Vec<Waker>>,
}

/// A descriptor's membership in the poller; removed on drop (before the descriptor is
/// closed, see [`Socket`]).
pub(crate) struct Registration {
    key: usize,
    fd: RawFd,
    inner: Rc<Inner>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `Socket` drops its registration before closing the descriptor, so `fd`
        // is still open here.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = self.inner.poller.delete(fd);
        let waiters = self.inner.regs.borrow_mut().try_remove(self.key);
        // Any task still waiting retries its call and sees the error (EBADF cannot
        // happen: the operation holds the socket).
        if let Some(w) = waiters {
            w.read.into_iter().chain(w.write).for_each(Waker::wake);
        }
    }
}

impl Unpark for Arc<Poller> {
    fn unpark(&self) {
        let _ = self.notify();
    }
}

impl Driver {
    pub(crate) fn new() -> io::Result<(Driver, Box<dyn Unpark>)> {
        let poller = Arc::new(Poller::new()?);
        let driver = Driver {
            inner: Rc::new(Inner {
                poller: poller.clone(),
                regs: RefCell::new(Slab::new()),
            }),
            events: RefCell::new(Events::new()),
            woken: RefCell::new(Vec::new()),
        };
        Ok((driver, Box::new(poller)))
    }

    /// Waits until `sock` may be ready for reading (`write == false`) or writing. May
    /// return spuriously; the caller retries its call in a loop.
    fn ready<'a>(&'a self, sock: &'a Socket, write: bool) -> Ready<'a> {
        Ready {
            driver: self,
            sock,
            write,
            queued: false,
        }
    }

    fn register(&self, sock: &Socket) -> io::Result<usize> {
        if let Some(r) = &*sock.reg.borrow() {
            return Ok(r.key);
        }
        let key = self.inner.regs.borrow_mut().insert(Waiters::default());
        // SAFETY: the registration is stored in the socket and removed (`Registration`'s
        // drop) before the socket closes the descriptor.
        let added = unsafe {
            self.inner
                .poller
                .add_with_mode(sock.raw(), Event::all(key), PollMode::Edge)
        };
        if let Err(e) = added {
            self.inner.regs.borrow_mut().remove(key);
            return Err(e);
        }
        *sock.reg.borrow_mut() = Some(Registration {
            key,
            fd: sock.raw(),
            inner: self.inner.clone(),
        });
        Ok(key)
    }
}

struct Ready<'a> {
    driver: &'a Driver,
    sock: &'a Socket,
    write: bool,
    queued: bool,
}

impl Future for Ready<'_> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.queued {
            return Poll::Ready(Ok(()));
        }
        let key = self.driver.register(self.sock)?;
        let mut regs = self.driver.inner.regs.borrow_mut();
        let w = &mut regs[key];
        let fifo = if self.write {
            &mut w.write
        } else {
            &mut w.read
        };
        if !fifo.iter().any(|w| w.will_wake(cx.waker())) {
            fifo.push(cx.waker().clone());
        }
        drop(regs);
        self.queued = true;
        Poll::Pending
    }
}

impl Park for Driver {
    fn park(&self, timeout: Option<Duration>, parked: &AtomicBool) -> io::Result<()> {
        let mut events = self.events.borrow_mut();
        events.clear();
        let waited = self.inner.poller.wait(&mut events, timeout);
        parked.store(false, Ordering::SeqCst);
        match waited {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut woken = std::mem::take(&mut *self.woken.borrow_mut());
        {
            let mut regs = self.inner.regs.borrow_mut();
            for ev in events.iter() {
                if let Some(w) = regs.get_mut(ev.key) {
                    if ev.readable {
                        woken.append(&mut w.read);
                    }
                    if ev.writable {
                        woken.append(&mut w.write);
                    }
                }
            }
        }
        woken.drain(..).for_each(Waker::wake);
        *self.woken.borrow_mut() = woken;
        Ok(())
    }
}
