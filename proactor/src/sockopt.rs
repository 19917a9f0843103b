//! Socket options the socket layer sets on streams, as safe functions over any
//! `&impl AsRawFd` (the streams of every [`Proactor`](crate::Proactor) implement it).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::sys::{cvt, setsockopt_int};

/// TCP keepalive settings, as libzmq's `ZMQ_TCP_KEEPALIVE*` options describe them.
/// `None` leaves the system default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpKeepalive {
    /// Whether keepalive probes are sent at all (`SO_KEEPALIVE`).
    pub enabled: bool,
    /// Idle time before the first probe (`TCP_KEEPIDLE`), whole seconds, at least 1.
    pub idle: Option<Duration>,
    /// Time between probes (`TCP_KEEPINTVL`), whole seconds, at least 1.
    pub interval: Option<Duration>,
    /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`).
    pub count: Option<u32>,
}

fn secs(d: Duration) -> libc::c_int {
    // The kernel counts whole seconds from 1 to 32767; round up, clamp.
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.clamp(1, 32767) as libc::c_int
}

/// Applies `ka` to a TCP socket.
pub fn set_tcp_keepalive(fd: &impl AsRawFd, ka: &TcpKeepalive) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    setsockopt_int(
        fd,
        libc::SOL_SOCKET,
        libc::SO_KEEPALIVE,
        libc::c_int::from(ka.enabled),
    )?;
    if let Some(idle) = ka.idle {
        setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs(idle))?;
    }
    if let Some(interval) = ka.interval {
        setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs(interval))?;
    }
    if let Some(count) = ka.count {
        let count = libc::c_int::try_from(count.clamp(1, 127)).unwrap_or(127);
        setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, count)?;
    }
    Ok(())
}

/// Reads the keepalive settings of a TCP socket back.
pub fn tcp_keepalive(fd: &impl AsRawFd) -> io::Result<TcpKeepalive> {
    let fd = fd.as_raw_fd();
    let get = |level, name| -> io::Result<libc::c_int> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the pointers describe a writable c_int and its length.
        cvt(unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        })?;
        Ok(v)
    };
    let to_dur = |v: libc::c_int| Some(Duration::from_secs(u64::try_from(v).unwrap_or(0)));
    Ok(TcpKeepalive {
        enabled: get(libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0,
        idle: to_dur(get(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)?),
        interval: to_dur(get(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL)?),
        count: u32::try_from(get(libc::IPPROTO_TCP, libc::TCP_KEEPCNT)?).ok(),
    })
}

/// Turns Nagle's algorithm off (`true`) or on for a TCP socket.
pub fn set_tcp_nodelay(fd: &impl AsRawFd, nodelay: bool) -> io::Result<()> {
    setsockopt_int(
        fd.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        libc::c_int::from(nodelay),
    )
}

/// Stops a listening socket at once (`shutdown(fd, SHUT_RD)`): accepts in flight
/// complete with an error and the address can be bound again right away, even while a
/// completion-based driver (io_uring) still holds a reference to the socket until its
/// cancelled accept completes. Listeners call this when they are dropped.
pub fn stop_listening(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: plain system call with no pointer arguments; `fd` is borrowed, so it is
    // open for the duration of the call.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RD) }).map(drop)
}
