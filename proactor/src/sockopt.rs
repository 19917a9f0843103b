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

fn getsockopt_int(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the pointers describe a writable c_int and its length.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(v)
}

fn clamp_int(v: u64) -> libc::c_int {
    libc::c_int::try_from(v).unwrap_or(libc::c_int::MAX)
}

/// Sets the kernel send buffer (`SO_SNDBUF`, libzmq's `ZMQ_SNDBUF`), in bytes. Linux
/// doubles the value for its bookkeeping and reads it back doubled.
pub fn set_send_buffer(fd: &impl AsRawFd, bytes: u32) -> io::Result<()> {
    let v = clamp_int(u64::from(bytes));
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, v)
}

/// Sets the kernel receive buffer (`SO_RCVBUF`, libzmq's `ZMQ_RCVBUF`), in bytes.
pub fn set_recv_buffer(fd: &impl AsRawFd, bytes: u32) -> io::Result<()> {
    let v = clamp_int(u64::from(bytes));
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, v)
}

/// The kernel send buffer size (`SO_SNDBUF` as the kernel reports it).
pub fn send_buffer(fd: &impl AsRawFd) -> io::Result<u32> {
    Ok(u32::try_from(getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?).unwrap_or(0))
}

/// The kernel receive buffer size (`SO_RCVBUF` as the kernel reports it).
pub fn recv_buffer(fd: &impl AsRawFd) -> io::Result<u32> {
    Ok(u32::try_from(getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF)?).unwrap_or(0))
}

/// Sets the IP type-of-service byte (`IP_TOS`; on an IPv6 socket `IPV6_TCLASS` as
/// well, best effort), like libzmq's `ZMQ_TOS`.
pub fn set_tos(fd: &impl AsRawFd, tos: u8) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    let v = libc::c_int::from(tos);
    let v4 = setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_TOS, v);
    let v6 = setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, v);
    v4.or(v6)
}

/// The IP type-of-service byte (`IP_TOS`, or `IPV6_TCLASS` on an IPv6 socket).
pub fn tos(fd: &impl AsRawFd) -> io::Result<u8> {
    let v = getsockopt_int(fd, libc::IPPROTO_IP, libc::IP_TOS)
        .or_else(|_| getsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_TCLASS))?;
    Ok(u8::try_from(v).unwrap_or(0))
}

/// Sets how long transmitted data may stay unacknowledged before the connection is
/// dropped (`TCP_USER_TIMEOUT`, what libzmq's `ZMQ_TCP_MAXRT` sets on Linux), in whole
/// milliseconds.
pub fn set_tcp_user_timeout(fd: &impl AsRawFd, timeout: Duration) -> io::Result<()> {
    let ms = clamp_int(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    setsockopt_int(
        fd.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_USER_TIMEOUT,
        ms,
    )
}

/// `TCP_USER_TIMEOUT` (zero: the system default).
pub fn tcp_user_timeout(fd: &impl AsRawFd) -> io::Result<Duration> {
    let ms = getsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT)?;
    Ok(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// Binds the socket to a network device (`SO_BINDTODEVICE`, libzmq's
/// `ZMQ_BINDTODEVICE`): only packets of that interface (or VRF) are processed. Needs
/// `CAP_NET_RAW` (else `PermissionDenied`); the name is at most 15 bytes.
pub fn set_bind_to_device(fd: &impl AsRawFd, device: &[u8]) -> io::Result<()> {
    if device.len() >= libc::IFNAMSIZ || device.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a device name is 1 to 15 bytes without NUL",
        ));
    }
    // SAFETY: the pointer and length describe the bytes of `device`, alive during the
    // call; the kernel copies them.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            device.as_ptr().cast(),
            device.len() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// The device the socket is bound to (`SO_BINDTODEVICE`; empty when none).
pub fn bind_to_device(fd: &impl AsRawFd) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; libc::IFNAMSIZ];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: the pointers describe a writable buffer of `len` bytes and its length.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    let name = &buf[..(len as usize).min(buf.len())];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(name[..end].to_vec())
}

/// Whether the socket has a peer (`getpeername` succeeds): false on a socket that is
/// not connected yet.
pub fn is_connected(fd: &impl AsRawFd) -> bool {
    let mut sa = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the pointers describe writable storage and its length; `fd` is borrowed,
    // so it is open for the duration of the call.
    unsafe { libc::getpeername(fd.as_raw_fd(), sa.as_mut_ptr().cast(), &mut len) == 0 }
}

/// Sets the accept queue length of a listening socket (`listen(fd, backlog)` again,
/// which Linux allows on a listening socket: libzmq's `ZMQ_BACKLOG`).
pub fn set_backlog(fd: &impl AsRawFd, backlog: u32) -> io::Result<()> {
    let n = clamp_int(u64::from(backlog));
    // SAFETY: plain system call with no pointer arguments; `fd` is borrowed, so it is
    // open for the duration of the call.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), n) }).map(drop)
}

/// The addresses of the network interface `name` (`getifaddrs`), IPv4 first; empty
/// when no interface has that name. For endpoints such as `tcp://lo:5555`.
pub fn interface_addresses(name: &str) -> io::Result<Vec<std::net::IpAddr>> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out-pointer; on success the list is freed below.
    cvt(unsafe { libc::getifaddrs(&mut head) })?;
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() || ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: `ifa_name` is a NUL-terminated string owned by the list.
        let ifname = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifname.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: `ifa_addr` points to a sockaddr whose family says its real type.
        let family = libc::c_int::from(unsafe { (*ifa.ifa_addr).sa_family });
        if family == libc::AF_INET {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in>() };
            v4.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))));
        } else if family == libc::AF_INET6 {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let sin6 = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in6>() };
            v6.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once; no reference into the
    // list outlives this point.
    unsafe { libc::freeifaddrs(head) };
    v4.extend(v6);
    Ok(v4)
}

/// The index of the network interface `name` (`if_nametoindex`); `NotFound` when no
/// interface has that name. For IPv6 multicast, which names interfaces by index.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: `c` is a NUL-terminated string alive for the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface named {name:?}"),
        )),
        i => Ok(i),
    }
}

/// Sends the socket's IPv4 multicast datagrams through the interface with address
/// `iface` (`IP_MULTICAST_IF`, as libzmq does for `udp://iface;group:port`).
pub fn set_multicast_interface_v4(fd: &impl AsRawFd, iface: std::net::Ipv4Addr) -> io::Result<()> {
    let addr = libc::in_addr {
        s_addr: u32::from(iface).to_be(),
    };
    // SAFETY: the pointer and length describe a live in_addr.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&addr as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Sends the socket's IPv6 multicast datagrams through interface `index`
/// (`IPV6_MULTICAST_IF`; 0: the kernel's choice).
pub fn set_multicast_interface_v6(fd: &impl AsRawFd, index: u32) -> io::Result<()> {
    let v = clamp_int(u64::from(index));
    setsockopt_int(
        fd.as_raw_fd(),
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_IF,
        v,
    )
}

/// The hop limit of the socket's IPv6 multicast datagrams (`IPV6_MULTICAST_HOPS`,
/// libzmq's `ZMQ_MULTICAST_HOPS` on IPv6; IPv4 has std's `set_multicast_ttl_v4`).
pub fn set_multicast_hops_v6(fd: &impl AsRawFd, hops: u32) -> io::Result<()> {
    let v = clamp_int(u64::from(hops));
    setsockopt_int(
        fd.as_raw_fd(),
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_HOPS,
        v,
    )
}

/// The hop limit of the socket's IPv6 multicast datagrams.
pub fn multicast_hops_v6(fd: &impl AsRawFd) -> io::Result<u32> {
    Ok(u32::try_from(getsockopt_int(
        fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_HOPS,
    )?)
    .unwrap_or(0))
}

/// The address set by [`set_multicast_interface_v4`] (`0.0.0.0`: none).
pub fn multicast_interface_v4(fd: &impl AsRawFd) -> io::Result<std::net::Ipv4Addr> {
    let mut addr = libc::in_addr { s_addr: 0 };
    let mut len = std::mem::size_of::<libc::in_addr>() as libc::socklen_t;
    // SAFETY: the pointers describe a writable in_addr and its length.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&mut addr as *mut libc::in_addr).cast(),
            &mut len,
        )
    })?;
    Ok(std::net::Ipv4Addr::from(u32::from_be(addr.s_addr)))
}

/// Sets the priority of the socket's packets (`SO_PRIORITY`, libzmq's
/// `ZMQ_PRIORITY`); above 6 needs `CAP_NET_ADMIN`.
pub fn set_priority(fd: &impl AsRawFd, priority: u32) -> io::Result<()> {
    let v = clamp_int(u64::from(priority));
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PRIORITY, v)
}

/// `SO_PRIORITY`.
pub fn priority(fd: &impl AsRawFd) -> io::Result<u32> {
    Ok(u32::try_from(getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PRIORITY)?).unwrap_or(0))
}

/// Sets busy polling on receive (`SO_BUSY_POLL`, microseconds; libzmq's
/// `ZMQ_BUSY_POLL` passes its value as is). Raising it needs `CAP_NET_ADMIN`.
pub fn set_busy_poll(fd: &impl AsRawFd, micros: u32) -> io::Result<()> {
    let v = clamp_int(u64::from(micros));
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_BUSY_POLL, v)
}

/// `SO_BUSY_POLL` (microseconds).
pub fn busy_poll(fd: &impl AsRawFd) -> io::Result<u32> {
    Ok(u32::try_from(getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_BUSY_POLL)?).unwrap_or(0))
}
