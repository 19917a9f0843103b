//! The epoll driver: completion emulated over readiness.
//!
//! Every operation first tries its non-blocking system call. Only on `WouldBlock` is the
//! descriptor registered with epoll (once, edge-triggered, for both directions), and the
//! operation's waker joins the FIFO of that descriptor's readers or writers. An edge
//! wakes the whole FIFO in order; each operation retries its call. Because the call
//! happens inside `poll`, a dropped future never loses data: nothing was done.
//!
//! epoll is used directly (not through a portability crate) so that a wait is exactly
//! one system call: the timeout goes to `epoll_pwait2` (nanoseconds; `epoll_wait` with
//! the timeout rounded up to milliseconds where that is missing) instead of a timerfd
//! re-armed every wait, and the unparker's eventfd is registered edge-triggered once, so
//! it needs neither a re-arm nor a read after an ordinary wait.
//!
//! A stream `recv` that returned fewer bytes than it asked for emptied the socket, so
//! the next one waits for the next edge instead of trying first: in a ping-pong that
//! try would fail with EAGAIN every time (a fourth system call per message where a
//! blocking peer makes two). Any edge that reports the socket readable, closed or in
//! error clears that state, and once the peer's close was reported the driver always
//! tries first (a later end of stream raises no new edge).

mod ops;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use slab::Slab;

use crate::executor::{Park, Unpark};
use crate::net::Socket;
use crate::sys::{cvt, own_fd};
use crate::uring::EventFd;

/// Event key of the unparker's eventfd.
const WAKE: u64 = u64::MAX;

/// Events collected per wait.
const EVENTS: usize = 256;

/// Interest of every registered socket: both directions, edge-triggered.
const INTEREST: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
const READABLE: u32 =
    (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI) as u32;
const WRITABLE: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
/// Events after which a short read no longer means "wait for the next edge".
const CLOSED: u32 = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;

#[derive(Default)]
struct Waiters {
    read: Vec<Waker>,
    write: Vec<Waker>,
    /// A short stream read emptied the socket and no readable edge came since.
    drained: bool,
    /// An edge reported the peer's close (or an error or hang-up): never `drained`.
    closed: bool,
}

struct Inner {
    epfd: OwnedFd,
    regs: RefCell<Slab<Waiters>>,
}

impl Inner {
    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, key: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: key };
        // SAFETY: `ev` is a live epoll_event; the kernel only reads it.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }
}

/// The epoll driver of one runtime.
pub(crate) struct Driver {
    inner: Rc<Inner>,
    eventfd: Arc<EventFd>,
    events: RefCell<Vec<libc::epoll_event>>,
    /// Wakers collected from one wait, reused from turn to turn.
    woken: RefCell<Vec<Waker>>,
    /// `epoll_pwait2` failed with ENOSYS (or a filter's EPERM): use `epoll_wait`.
    no_pwait2: Cell<bool>,
    /// Reads that failed with `WouldBlock` (tests check that short reads avoid them).
    #[cfg(test)]
    pub(crate) read_would_block: Cell<u64>,
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
        // `Socket` drops its registration before closing the descriptor, so `fd` is
        // still open (and still ours) here.
        let _ = self.inner.ctl(libc::EPOLL_CTL_DEL, self.fd, 0, 0);
        let waiters = self.inner.regs.borrow_mut().try_remove(self.key);
        // Any task still waiting retries its call and sees the error (EBADF cannot
        // happen: the operation holds the socket).
        if let Some(w) = waiters {
            w.read.into_iter().chain(w.write).for_each(Waker::wake);
        }
    }
}

impl Driver {
    pub(crate) fn new() -> io::Result<(Driver, Box<dyn Unpark>)> {
        // SAFETY: plain system call with no pointer arguments.
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        let inner = Inner {
            // SAFETY: `epfd` was just created and is owned by nobody else.
            epfd: unsafe { own_fd(epfd) },
            regs: RefCell::new(Slab::new()),
        };
        let eventfd = Arc::new(EventFd::new()?);
        // Edge-triggered: every write to the eventfd is a new edge, so the counter never
        // has to be drained for the next unpark to be seen.
        inner.ctl(
            libc::EPOLL_CTL_ADD,
            eventfd.raw(),
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            WAKE,
        )?;
        let driver = Driver {
            inner: Rc::new(inner),
            eventfd: eventfd.clone(),
            events: RefCell::new(Vec::with_capacity(EVENTS)),
            woken: RefCell::new(Vec::new()),
            no_pwait2: Cell::new(false),
            #[cfg(test)]
            read_would_block: Cell::new(0),
        };
        Ok((driver, Box::new(eventfd)))
    }

    /// One `epoll_pwait2` (or `epoll_wait`); fills `events`.
    fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.clear();
        let epfd = self.inner.epfd.as_raw_fd();
        let ptr = events.as_mut_ptr();
        let max = events.capacity().min(i32::MAX as usize) as libc::c_int;
        let n = loop {
            let r = match timeout {
                Some(t) if !t.is_zero() && !self.no_pwait2.get() => {
                    let ts = libc::timespec {
                        tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                        tv_nsec: t.subsec_nanos() as _,
                    };
                    // SAFETY: `ptr` has room for `max` events; `ts` is a live timespec;
                    // a null signal mask means "leave it unchanged".
                    let r = unsafe {
                        libc::syscall(
                            libc::SYS_epoll_pwait2,
                            epfd,
                            ptr,
                            max,
                            &ts as *const libc::timespec,
                            std::ptr::null::<libc::sigset_t>(),
                            0usize,
                        )
                    };
                    if r < 0 {
                        let e = io::Error::last_os_error();
                        if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
                            self.no_pwait2.set(true);
                            continue;
                        }
                        return Err(e);
                    }
                    r as libc::c_int
                }
                _ => {
                    let ms = match timeout {
                        None => -1,
                        // Rounded up: a timer never fires early.
                        Some(t) => {
                            t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int
                        }
                    };
                    // SAFETY: `ptr` has room for `max` events.
                    unsafe { libc::epoll_wait(epfd, ptr, max, ms) }
                }
            };
            if r >= 0 {
                break r as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
            // Interrupted: report as an empty wait (the executor re-checks timers).
            break 0;
        };
        // SAFETY: the kernel initialised the first `n <= max` events.
        unsafe { events.set_len(n) };
        Ok(())
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

    /// A stream read of `sock` returned fewer bytes than asked: it emptied the socket.
    /// Only a registered socket is marked (its edges clear the mark); an unregistered
    /// one is tried first as before.
    fn mark_drained(&self, sock: &Socket) {
        self.waiters_of(sock, |w| w.drained = !w.closed);
    }

    /// Whether the last stream read of `sock` emptied it and no edge came since.
    fn is_drained(&self, sock: &Socket) -> bool {
        self.waiters_of(sock, |w| w.drained).unwrap_or(false)
    }

    /// `f` on the poller's state of `sock`, if it is registered.
    fn waiters_of<R>(&self, sock: &Socket, f: impl FnOnce(&mut Waiters) -> R) -> Option<R> {
        let reg = sock.reg.borrow();
        let key = reg.as_ref()?.key;
        self.inner.regs.borrow_mut().get_mut(key).map(f)
    }

    fn register(&self, sock: &Socket) -> io::Result<usize> {
        if let Some(r) = &*sock.reg.borrow() {
            return Ok(r.key);
        }
        let key = self.inner.regs.borrow_mut().insert(Waiters::default());
        // The registration is stored in the socket and removed (`Registration`'s drop)
        // before the socket closes the descriptor.
        let added = self
            .inner
            .ctl(libc::EPOLL_CTL_ADD, sock.raw(), INTEREST, key as u64);
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
        let waited = self.wait(&mut events, timeout);
        parked.store(false, Ordering::SeqCst);
        waited?;
        let mut woken = std::mem::take(&mut *self.woken.borrow_mut());
        {
            let mut regs = self.inner.regs.borrow_mut();
            for ev in events.iter() {
                let (key, bits) = (ev.u64, ev.events);
                if key == WAKE {
                    // Only reached after another thread unparked us. Draining keeps the
                    // counter far from its limit; EAGAIN (already drained) is fine.
                    self.eventfd.drain();
                    continue;
                }
                if let Some(w) = regs.get_mut(key as usize) {
                    if bits & READABLE != 0 {
                        w.drained = false;
                        w.closed |= bits & CLOSED != 0;
                        woken.append(&mut w.read);
                    }
                    if bits & WRITABLE != 0 {
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
