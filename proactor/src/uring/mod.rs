//! The io_uring driver.
//!
//! Operations push their SQE when first polled and are submitted together, once per turn
//! of the executor, by [`Driver::park`], which also reaps every available completion in
//! the same `io_uring_enter`. Each operation owns a slot in an op slab; the kernel's
//! `user_data` is the slot index. A future dropped while its operation is in flight moves
//! its buffers and descriptors into the slot ([`Slot::Orphan`]) and asks the kernel to
//! cancel; they are released only when the completion arrives.
//!
//! A zero-copy send completes twice: its result (with `IORING_CQE_F_MORE`), then a
//! notification (`IORING_CQE_F_NOTIF`) once the kernel no longer reads its pages. The
//! slot keeps its key in between, holding what the kernel may still read
//! ([`op::Orphan::until_notification`]), so no other operation reuses the key.

mod op;
mod ops;

use std::cell::{Cell, RefCell, UnsafeCell};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use io_uring::{cqueue, opcode, types, IoUring};
use slab::Slab;

use crate::executor::{Park, Unpark};
use crate::runtime::SendZcStats;
use crate::sys::{cvt, own_fd};

/// `user_data` of the eventfd read that wakes a parked driver.
const WAKE: u64 = u64::MAX;
/// `user_data` of completions nobody waits for (cancel requests).
const IGNORE: u64 = u64::MAX - 1;

const ENTRIES: u32 = 256;

/// `IORING_ENTER_GETEVENTS` (the io-uring crate keeps its copy private).
const ENTER_GETEVENTS: u32 = 1;

/// `IORING_CQE_F_MORE`: another completion with the same `user_data` follows (the
/// io-uring crate tests it with `cqueue::more` but keeps the bit private).
const CQE_F_MORE: u32 = 1 << 1;

/// `IORING_NOTIF_USAGE_ZC_COPIED`: in a zero-copy notification's result, the kernel
/// copied the data after all (asked for with [`SEND_ZC_REPORT_USAGE`]).
const NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;

/// `IORING_SEND_ZC_REPORT_USAGE` (kernel 6.2): notifications say whether the data was
/// copied.
const SEND_ZC_REPORT_USAGE: u16 = 1 << 3;

/// Zero-copy sends of a driver: the switch, what the kernel allows, and the counts.
pub(crate) struct SendZc {
    /// Vectored sends holding a buffer of at least this many bytes go through
    /// `IORING_OP_SENDMSG_ZC`; `None`: never.
    threshold: Cell<Option<usize>>,
    /// The kernel knows `IORING_OP_SENDMSG_ZC` (6.1; probed once).
    supported: bool,
    /// Sends ask for [`SEND_ZC_REPORT_USAGE`] (cleared when a kernel refuses it).
    report_usage: Cell<bool>,
    stats: Cell<SendZcStats>,
}

impl SendZc {
    fn note_notification(&self, res: i32) {
        let mut s = self.stats.get();
        s.notifications += 1;
        if res as u32 & NOTIF_USAGE_ZC_COPIED != 0 {
            s.copied += 1;
        }
        self.stats.set(s);
    }

    fn count(&self, f: impl FnOnce(&mut SendZcStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// The threshold, when zero-copy sends are on and possible.
    fn threshold(&self) -> Option<usize> {
        self.threshold.get().filter(|_| self.supported)
    }
}

/// The state of one operation in the op slab.
enum Slot {
    /// Submitted; the future waits (with its latest waker, once polled).
    Waiting(Option<Waker>),
    /// Completed with this result and these CQE flags; the future has not collected it
    /// yet. `IORING_CQE_F_MORE` in the flags: a notification is still to come (cleared
    /// when it arrives first).
    Done(i32, u32),
    /// The future was dropped; its buffers and descriptors wait here for the completion.
    /// Also what a zero-copy send keeps alive between its result and its notification.
    Orphan(Box<dyn op::OrphanDyn>),
}

/// Wakes the driver through an eventfd.
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: plain system call with no pointer arguments.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `fd` was just created and is owned by nobody else.
        Ok(EventFd(unsafe { own_fd(fd) }))
    }

    pub(crate) fn raw(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }

    /// Resets the counter (non-blocking; nothing to read is fine).
    pub(crate) fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64.
        let _ = unsafe { libc::read(self.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

impl Unpark for Arc<EventFd> {
    fn unpark(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64. A full counter (EAGAIN) already means
        // "wake up", so the result can be ignored.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

/// The io_uring driver of one runtime.
pub(crate) struct Driver {
    ring: RefCell<IoUring>,
    ops: RefCell<Slab<Slot>>,
    eventfd: Arc<EventFd>,
    /// Target of the eventfd read; written by the kernel only.
    wake_buf: Box<UnsafeCell<u64>>,
    wake_armed: Cell<bool>,
    /// Receives are submitted with `IORING_RECVSEND_POLL_FIRST` (cleared if the kernel
    /// rejects it).
    poll_first: Cell<bool>,
    zc: SendZc,
}

impl Driver {
    /// Creates a ring (with the cheapest task-run mode the kernel accepts) and checks that
    /// it works with a NOP.
    pub(crate) fn new() -> io::Result<(Driver, Box<dyn Unpark>)> {
        let ring = build_ring()?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring lacks IORING_FEAT_EXT_ARG (kernel older than 5.11)",
            ));
        }
        let eventfd = Arc::new(EventFd::new()?);
        let mut probe = io_uring::Probe::new();
        // A kernel that cannot say (before 5.6) has no zero-copy sends either.
        let zc_supported = ring.submitter().register_probe(&mut probe).is_ok()
            && probe.is_supported(opcode::SendMsgZc::CODE);
        let driver = Driver {
            ring: RefCell::new(ring),
            ops: RefCell::new(Slab::with_capacity(64)),
            eventfd: eventfd.clone(),
            wake_buf: Box::new(UnsafeCell::new(0)),
            wake_armed: Cell::new(false),
            poll_first: Cell::new(true),
            zc: SendZc {
                threshold: Cell::new(None),
                supported: zc_supported,
                report_usage: Cell::new(true),
                stats: Cell::new(SendZcStats::default()),
            },
        };
        driver.probe()?;
        Ok((driver, Box::new(eventfd)))
    }

    /// Turns zero-copy vectored sends on (for sends holding a buffer of at least
    /// `threshold` bytes) or off; whether the kernel has them.
    pub(crate) fn set_send_zc(&self, threshold: Option<usize>) -> bool {
        self.zc.threshold.set(threshold);
        self.zc.supported
    }

    pub(crate) fn send_zc_stats(&self) -> SendZcStats {
        self.zc.stats.get()
    }

    fn probe(&self) -> io::Result<()> {
        self.push(opcode::Nop::new().build().user_data(IGNORE));
        let mut ring = self.ring.borrow_mut();
        ring.submit_and_wait(1)?;
        let cqe = ring.completion().next();
        match cqe {
            Some(c) if c.result() >= 0 => Ok(()),
            Some(c) => Err(io::Error::from_raw_os_error(-c.result())),
            None => Err(io::Error::other("io_uring NOP did not complete")),
        }
    }

    /// Queues an SQE; it is submitted at the next `park` (or now if the queue is full).
    fn push(&self, sqe: io_uring::squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        loop {
            // SAFETY: every SQE built by this driver points into memory owned by its op
            // slot (or the driver), which stays alive until the completion is reaped;
            // a zero-copy send's buffers stay alive (second handles parked in its slot)
            // until its notification is reaped.
            if unsafe { ring.submission().push(&sqe) }.is_ok() {
                return;
            }
            // Full: hand the queue to the kernel and retry.
            match ring.submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // The completion queue overflowed; reap, then retry.
                    drop(ring);
                    self.reap();
                    ring = self.ring.borrow_mut();
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINTR | libc::EAGAIN | libc::ENOMEM)
                    ) =>
                {
                    // Transient: try again.
                }
                // EBADF / EFAULT / EINVAL mean the ring itself is broken: a bug here,
                // not something a caller could handle.
                Err(e) => panic!("ringmq: io_uring submit failed: {e}"),
            }
        }
    }

    /// Moves every available completion into its slot and wakes the waiting futures.
    fn reap(&self) {
        let mut ring = self.ring.borrow_mut();
        let mut ops = self.ops.borrow_mut();
        let mut orphans = Vec::new();
        for cqe in ring.completion() {
            let res = cqe.result();
            let flags = cqe.flags();
            match cqe.user_data() {
                WAKE => self.wake_armed.set(false),
                IGNORE => {}
                key => {
                    let key = key as usize;
                    if cqueue::notif(flags) {
                        self.zc.note_notification(res);
                    }
                    let Some(slot) = ops.get_mut(key) else {
                        continue;
                    };
                    match slot {
                        Slot::Waiting(w) => {
                            let w = w.take();
                            *slot = Slot::Done(res, flags);
                            if let Some(w) = w {
                                w.wake();
                            }
                        }
                        Slot::Done(_, first) => {
                            // The notification of a zero-copy send whose result the
                            // future has not collected yet: nothing more follows.
                            if cqueue::notif(flags) {
                                *first &= !CQE_F_MORE;
                            }
                        }
                        Slot::Orphan(_) if cqueue::more(flags) => {
                            // A zero-copy send's result: its data stays parked until
                            // the notification.
                        }
                        Slot::Orphan(_) => {
                            if let Slot::Orphan(data) = ops.remove(key) {
                                orphans.push((data, res));
                            }
                        }
                    }
                }
            }
        }
        drop(ops);
        drop(ring);
        // Released outside the borrows: closing a descriptor or waking may do anything.
        for (data, res) in orphans {
            data.finish_boxed(res);
        }
    }

    fn arm_wake(&self) {
        if !self.wake_armed.get() {
            self.wake_armed.set(true);
            let sqe = opcode::Read::new(
                types::Fd(self.eventfd.0.as_raw_fd()),
                self.wake_buf.get().cast(),
                8,
            )
            .build()
            .user_data(WAKE);
            self.push(sqe);
        }
    }

    fn cancel(&self, key: usize) {
        self.push(
            opcode::AsyncCancel::new(key as u64)
                .build()
                .user_data(IGNORE),
        );
    }
}

fn build_ring() -> io::Result<IoUring> {
    // DEFER_TASKRUN runs completions only inside our io_uring_enter (no interrupts of the
    // thread); it needs SINGLE_ISSUER (kernel 6.1). Fall back step by step.
    let mut b = IoUring::builder();
    b.setup_single_issuer().setup_defer_taskrun();
    if let Ok(r) = b.build(ENTRIES) {
        return Ok(r);
    }
    let mut b = IoUring::builder();
    b.setup_coop_taskrun();
    if let Ok(r) = b.build(ENTRIES) {
        return Ok(r);
    }
    IoUring::builder().build(ENTRIES)
}

impl Park for Driver {
    fn park(&self, timeout: Option<Duration>, parked: &AtomicBool) -> io::Result<()> {
        let blocking = timeout != Some(Duration::ZERO);
        if blocking {
            self.arm_wake();
        }
        let res = {
            let mut ring = self.ring.borrow_mut();
            // What is really in the queue, including entries a failed enter left behind.
            let to_submit = ring.submission().len() as u32;
            let submitter = ring.submitter();
            match timeout {
                Some(Duration::ZERO) => {
                    // SAFETY: no argument pointer is passed; GETEVENTS with min_complete 0
                    // only runs pending task work and returns.
                    unsafe {
                        submitter.enter::<libc::sigset_t>(to_submit, 0, ENTER_GETEVENTS, None)
                    }
                }
                Some(t) => {
                    let ts = types::Timespec::from(t);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    submitter.submit_with_args(1, &args)
                }
                None => submitter.submit_and_wait(1),
            }
        };
        parked.store(false, Ordering::SeqCst);
        self.reap();
        match res {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                    Ok(())
                }
                _ => Err(e),
            },
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Buffers parked in the slab must outlive the kernel's use of them: cancel
        // everything and wait (bounded) for the completions.
        let keys: Vec<usize> = self.ops.borrow().iter().map(|(k, _)| k).collect();
        for k in keys {
            self.cancel(k);
        }
        if self.wake_armed.get() {
            self.push(opcode::AsyncCancel::new(WAKE).build().user_data(IGNORE));
        }
        for _ in 0..100 {
            if self.ops.borrow().is_empty() && !self.wake_armed.get() {
                return;
            }
            let _ = self.park(Some(Duration::from_millis(10)), &AtomicBool::new(false));
            // Orphans only leave the slab on completion; collected results may linger.
            self.ops
                .borrow_mut()
                .retain(|_, s| !matches!(s, Slot::Done(..)));
        }
        // The kernel still holds some operation: leak its memory rather than free it
        // under the kernel's feet.
        for slot in self.ops.get_mut().drain() {
            std::mem::forget(slot);
        }
        std::mem::forget(std::mem::replace(
            &mut self.wake_buf,
            Box::new(UnsafeCell::new(0)),
        ));
    }
}
