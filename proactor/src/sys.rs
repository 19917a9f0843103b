//! Socket plumbing shared by both drivers: address conversion, socket creation,
//! bind/listen, and the blocking-free system calls wrapped safely.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use crate::endpoint::{Endpoint, Host, IpcAddr, PeerAddr};

/// libzmq's default `ZMQ_BACKLOG`.
const BACKLOG: libc::c_int = 100;

/// A socket address in the form the kernel takes.
#[derive(Clone, Copy)]
pub(crate) struct SockAddr {
    pub(crate) storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

impl SockAddr {
    fn zeroed() -> SockAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid (AF_UNSPEC) value.
        let storage = unsafe { MaybeUninit::<libc::sockaddr_storage>::zeroed().assume_init() };
        SockAddr {
            storage,
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    pub(crate) fn family(&self) -> libc::c_int {
        libc::c_int::from(self.storage.ss_family)
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    pub(crate) fn from_inet(addr: SocketAddr) -> SockAddr {
        let mut sa = SockAddr::zeroed();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
                unsafe { sa.as_mut_ptr().cast::<libc::sockaddr_in>().write(sin) };
                sa.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
                unsafe { sa.as_mut_ptr().cast::<libc::sockaddr_in6>().write(sin6) };
                sa.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        sa
    }

    pub(crate) fn from_ipc(addr: &IpcAddr) -> io::Result<SockAddr> {
        let mut sa = SockAddr::zeroed();
        // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_un,
        // and the zeroed storage is a valid sockaddr_un.
        let un = unsafe { &mut *sa.as_mut_ptr().cast::<libc::sockaddr_un>() };
        un.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let (bytes, skip) = match addr {
            IpcAddr::Path(p) => (p.as_os_str().as_bytes(), 0),
            // The abstract namespace is marked by a leading NUL.
            IpcAddr::Abstract(name) => (&name[..], 1),
        };
        if bytes.is_empty() || bytes.len() + 1 > un.sun_path.len() || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid ipc address",
            ));
        }
        for (dst, &src) in un.sun_path[skip..].iter_mut().zip(bytes) {
            *dst = src as libc::c_char;
        }
        let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
        // Paths include their terminating NUL; abstract names are exactly their bytes.
        sa.len = (base + bytes.len() + 1) as libc::socklen_t;
        Ok(sa)
    }

    pub(crate) fn to_inet(self) -> Option<SocketAddr> {
        match self.family() {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { *self.as_ptr().cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { *self.as_ptr().cast::<libc::sockaddr_in6>() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    sin6.sin6_addr.s6_addr.into(),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Converts a `-1`-on-error return value into a result.
pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Converts a `-errno`-on-error completion result (io_uring style) into a result.
pub(crate) fn cvt_res(res: i32) -> io::Result<usize> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}

/// A new close-on-exec stream socket.
pub(crate) fn socket(family: libc::c_int, nonblocking: bool) -> io::Result<OwnedFd> {
    let flags =
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain system call with no pointer arguments.
    let fd = cvt(unsafe { libc::socket(family, flags, 0) })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live c_int.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

pub(crate) fn set_nodelay(fd: RawFd) -> io::Result<()> {
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
}

pub(crate) fn local_addr(fd: RawFd) -> io::Result<SockAddr> {
    let mut sa = SockAddr::zeroed();
    // SAFETY: the pointers describe a writable sockaddr_storage and its length.
    cvt(unsafe { libc::getsockname(fd, sa.as_mut_ptr(), &mut sa.len) })?;
    Ok(sa)
}

pub(crate) fn peer_addr(fd: RawFd, tcp: bool) -> PeerAddr {
    if !tcp {
        return PeerAddr::Ipc;
    }
    let mut sa = SockAddr::zeroed();
    // SAFETY: the pointers describe a writable sockaddr_storage and its length.
    let r = unsafe { libc::getpeername(fd, sa.as_mut_ptr(), &mut sa.len) };
    match (r, sa.to_inet()) {
        (0, Some(a)) => PeerAddr::Tcp(a),
        _ => PeerAddr::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)),
    }
}

/// The pending error of a socket (`SO_ERROR`), for non-blocking connects.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut err: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the pointers describe a writable c_int and its length.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// `shutdown(fd, SHUT_WR)`.
pub(crate) fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain system call with no pointer arguments.
    cvt(unsafe { libc::shutdown(fd, libc::SHUT_WR) }).map(drop)
}

/// Where an endpoint can be connected to, in order of preference.
pub(crate) fn resolve(ep: &Endpoint) -> io::Result<Vec<SockAddr>> {
    match ep {
        Endpoint::Tcp { host, port } => {
            if *port == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot connect to port 0",
                ));
            }
            let addrs: Vec<SocketAddr> = match host {
                Host::Wildcard => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "cannot connect to the wildcard host '*'",
                    ))
                }
                Host::Ip(ip) => vec![SocketAddr::new(*ip, *port)],
                Host::Name(name) => (name.as_str(), *port).to_socket_addrs()?.collect(),
            };
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{ep}: no address found"),
                ));
            }
            Ok(addrs.into_iter().map(SockAddr::from_inet).collect())
        }
        Endpoint::Ipc(addr) => Ok(vec![SockAddr::from_ipc(addr)?]),
        other => Err(other.unsupported()),
    }
}

/// A bound, listening socket and what is needed to describe and clean it up.
pub(crate) struct Bound {
    pub(crate) tcp: bool,
    pub(crate) ipc: Option<IpcAddr>,
    /// The socket file to remove on drop, with its device and inode (so a file that
    /// another process bound since is left alone).
    pub(crate) unlink: Option<(PathBuf, u64, u64)>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Some((path, dev, ino)) = &self.unlink {
            if let Ok(m) = std::fs::symlink_metadata(path) {
                if m.dev() == *dev && m.ino() == *ino {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

/// Binds and listens on `ep`.
pub(crate) fn listen(ep: &Endpoint, nonblocking: bool) -> io::Result<(OwnedFd, Bound)> {
    match ep {
        Endpoint::Tcp { host, port } => {
            let ip = match host {
                // libzmq binds IPv4 for `*` unless told otherwise.
                Host::Wildcard => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Host::Ip(ip) => *ip,
                Host::Name(name) => (name.as_str(), *port)
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| {
                        io::Error::new(io::ErrorKind::NotFound, format!("{ep}: no address found"))
                    })?
                    .ip(),
            };
            let sa = SockAddr::from_inet(SocketAddr::new(ip, *port));
            let fd = socket(sa.family(), nonblocking)?;
            setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
            bind_listen(&fd, &sa)?;
            Ok((
                fd,
                Bound {
                    tcp: true,
                    ipc: None,
                    unlink: None,
                },
            ))
        }
        Endpoint::Ipc(addr) => {
            let sa = SockAddr::from_ipc(addr)?;
            if let IpcAddr::Path(path) = addr {
                // A socket file left behind by an earlier run would make bind fail.
                if let Ok(m) = std::fs::symlink_metadata(path) {
                    if m.file_type().is_socket() {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
            let fd = socket(libc::AF_UNIX, nonblocking)?;
            bind_listen(&fd, &sa)?;
            let unlink = match addr {
                IpcAddr::Path(path) => {
                    let m = std::fs::symlink_metadata(path)?;
                    Some((path.clone(), m.dev(), m.ino()))
                }
                IpcAddr::Abstract(_) => None,
            };
            Ok((
                fd,
                Bound {
                    tcp: false,
                    ipc: Some(addr.clone()),
                    unlink,
                },
            ))
        }
        other => Err(other.unsupported()),
    }
}

fn bind_listen(fd: &OwnedFd, sa: &SockAddr) -> io::Result<()> {
    // SAFETY: the pointer and length describe an initialised socket address.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), sa.as_ptr(), sa.len) })?;
    // SAFETY: plain system call with no pointer arguments.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) })?;
    Ok(())
}

/// The endpoint a listener is bound to, with the real port.
pub(crate) fn bound_endpoint(b: &Bound, fd: RawFd) -> io::Result<Endpoint> {
    match &b.ipc {
        Some(addr) => Ok(Endpoint::Ipc(addr.clone())),
        None => local_addr(fd)?
            .to_inet()
            .map(Endpoint::from)
            .ok_or_else(|| io::Error::other("listener has no inet address")),
    }
}

/// Wraps a descriptor returned by accept/connect: sets `TCP_NODELAY` on TCP streams.
pub(crate) fn tune_stream(fd: &OwnedFd, tcp: bool) -> io::Result<()> {
    if tcp {
        set_nodelay(fd.as_raw_fd())?;
    }
    Ok(())
}

/// Takes ownership of a descriptor returned by the kernel.
///
/// # Safety
///
/// `fd` must be an open descriptor that nothing else owns.
pub(crate) unsafe fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The `msghdr` and iovec array of a vectored send, kept by the writer for reuse.
pub(crate) struct MsgBuf {
    pub(crate) msg: libc::msghdr,
    iov: Vec<libc::iovec>,
}

impl Default for MsgBuf {
    fn default() -> Self {
        MsgBuf {
            // SAFETY: msghdr is plain old data; all-zero is a valid value.
            msg: unsafe { std::mem::zeroed() },
            iov: Vec::new(),
        }
    }
}

impl MsgBuf {
    /// Points the header at the first [`MAX_IOVECS`](crate::MAX_IOVECS) buffers.
    pub(crate) fn fill<B: crate::IoBuf>(&mut self, bufs: &[B]) {
        self.iov.clear();
        self.iov
            .extend(bufs.iter().take(crate::MAX_IOVECS).map(|b| libc::iovec {
                iov_base: b.as_buf_ptr() as *mut libc::c_void,
                iov_len: b.buf_len(),
            }));
        self.msg.msg_iov = self.iov.as_mut_ptr();
        self.msg.msg_iovlen = self.iov.len() as _;
    }

    /// Runs `f` with the writer's cached header pointed at `bufs` (synchronous sends:
    /// the header is only used during the call), then puts the header back.
    pub(crate) fn with_filled<B: crate::IoBuf, R>(
        cache: &mut Option<Box<MsgBuf>>,
        bufs: &[B],
        f: impl FnOnce(&libc::msghdr) -> R,
    ) -> R {
        let mut msg = cache.take().unwrap_or_default();
        msg.fill(bufs);
        let r = f(&msg.msg);
        *cache = Some(msg);
        r
    }

    /// The bytes the header describes.
    pub(crate) fn total_len(&self) -> usize {
        self.iov.iter().map(|v| v.iov_len).sum()
    }
}
