//! Endpoint strings as ZeroMQ users write them: `tcp://host:port`, `ipc:///path`,
//! `ipc://@abstract-name`, `inproc://name`.
//!
//! Parsing follows libzmq: `*` as host means every interface (bind only), `*` or `0` as
//! port asks for an ephemeral port, IPv6 literals are bracketed (`tcp://[::1]:5555`), and
//! an IPC address starting with `@` names a socket in Linux's abstract namespace.
//! [`Display`](fmt::Display) prints the same form back, so `ep.to_string().parse()`
//! gives `ep` again.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net as unix;
use std::path::PathBuf;
use std::str::FromStr;

/// The longest IPC address the kernel accepts (`sun_path` is 108 bytes, one is kept for
/// the terminating NUL of paths or the leading NUL of abstract names).
pub const MAX_IPC_ADDR_LEN: usize = 107;

/// A parsed endpoint. More transports may join, so matches need a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `tcp://host:port`; port 0 (written `*` or `0`) asks for an ephemeral port on bind.
    Tcp {
        /// Where to bind or connect.
        host: Host,
        /// The port; 0 for ephemeral.
        port: u16,
    },
    /// `ipc://...`.
    Ipc(IpcAddr),
    /// `inproc://name`: a name inside one process, handled by the socket layer (engines
    /// refuse it with [`Endpoint::unsupported`]).
    Inproc(String),
    /// `udp://host:port` or `udp://iface;group:port`: RADIO / DISH datagrams, handled
    /// by the socket layer over
    /// [`Proactor::adopt_datagram`](crate::Proactor::adopt_datagram) (engines refuse it
    /// in `listen` / `connect`). The host may be a multicast group.
    Udp {
        /// The multicast interface, libzmq's `iface;` prefix: `*`, an IP address (the
        /// interface's, `127.0.0.1;239.0.0.1:5555`) or a network interface name
        /// (`eth0;239.0.0.1:5555`). Only before a multicast group.
        interface: Option<Host>,
        /// The address to bind (`*`, a unicast or multicast address, an interface name)
        /// or send to (an address or a host name).
        host: Host,
        /// The port; 0 for ephemeral (bind only).
        port: u16,
    },
}

/// The host part of a TCP endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// `*`: every interface (bind only).
    Wildcard,
    /// A literal address, `127.0.0.1` or `[::1]`.
    Ip(IpAddr),
    /// A name to resolve, such as `localhost`.
    Name(String),
}

/// The address of an IPC (Unix domain) socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IpcAddr {
    /// A filesystem path.
    Path(PathBuf),
    /// A name in Linux's abstract namespace (`ipc://@name`), without the leading NUL.
    Abstract(Vec<u8>),
}

/// The address of an accepted peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAddr {
    /// A TCP peer.
    Tcp(SocketAddr),
    /// An IPC peer (Unix peers are usually unnamed).
    Ipc,
}

impl Endpoint {
    /// The error an engine gives for an endpoint whose transport it cannot open as a
    /// stream.
    pub fn unsupported(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{self}: not a stream transport this engine opens"),
        )
    }
}

/// Why an endpoint string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// The string has no `scheme://`.
    MissingScheme,
    /// The scheme is not `tcp`, `ipc`, `inproc` or `udp` (the scheme is given).
    UnknownScheme(String),
    /// `tcp://` address without `:port`.
    MissingPort,
    /// The port is not `*` or a number in 0..=65535 (the text is given).
    InvalidPort(String),
    /// `tcp://:port`: nothing before the port.
    EmptyHost,
    /// An IPv6 literal opened with `[` but not closed with `]`.
    UnclosedBracket,
    /// The text between `[` and `]` is not an IPv6 address (the text is given).
    InvalidIpv6(String),
    /// Something other than `:port` follows `]`.
    TrailingAfterBracket,
    /// An IPv6 address written without brackets, such as `tcp://::1:5555`.
    UnbracketedIpv6,
    /// The host contains characters no address or host name can hold (the host is given).
    InvalidHost(String),
    /// `ipc://` or `ipc://@` with nothing after it.
    EmptyIpcPath,
    /// The IPC address contains a NUL byte.
    NulInIpcPath,
    /// The IPC address is longer than [`MAX_IPC_ADDR_LEN`] bytes (the length is given).
    IpcPathTooLong(usize),
    /// `inproc://` with nothing after it.
    EmptyInprocName,
    /// The interface before `;` in a `udp://` endpoint is empty, a multicast address
    /// or not an interface name (the text is given).
    InvalidInterface(String),
    /// A `udp://` endpoint names an interface (`iface;`) but its address is not a
    /// multicast group.
    InterfaceWithoutMulticast,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::MissingScheme => {
                f.write_str("endpoint has no scheme (tcp://, ipc:// or inproc://)")
            }
            EndpointError::UnknownScheme(s) => write!(f, "unknown endpoint scheme {s:?}"),
            EndpointError::MissingPort => f.write_str("tcp endpoint has no port"),
            EndpointError::InvalidPort(p) => write!(f, "invalid tcp port {p:?}"),
            EndpointError::EmptyHost => f.write_str("tcp endpoint has an empty host"),
            EndpointError::UnclosedBracket => f.write_str("IPv6 address lacks its closing ']'"),
            EndpointError::InvalidIpv6(s) => write!(f, "invalid IPv6 address {s:?}"),
            EndpointError::TrailingAfterBracket => {
                f.write_str("expected ':port' after the bracketed IPv6 address")
            }
            EndpointError::UnbracketedIpv6 => {
                f.write_str("IPv6 addresses must be bracketed, as in tcp://[::1]:5555")
            }
            EndpointError::InvalidHost(h) => write!(f, "invalid host {h:?}"),
            EndpointError::EmptyIpcPath => f.write_str("ipc endpoint has an empty path"),
            EndpointError::NulInIpcPath => f.write_str("ipc path contains a NUL byte"),
            EndpointError::IpcPathTooLong(n) => {
                write!(f, "ipc path is {n} bytes, the limit is {MAX_IPC_ADDR_LEN}")
            }
            EndpointError::EmptyInprocName => f.write_str("inproc endpoint has an empty name"),
            EndpointError::InvalidInterface(i) => write!(
                f,
                "invalid udp interface {i:?} (expected *, a unicast address or an interface name)"
            ),
            EndpointError::InterfaceWithoutMulticast => {
                f.write_str("a udp interface (iface;) goes only before a multicast group address")
            }
        }
    }
}

impl std::error::Error for EndpointError {}

impl From<EndpointError> for std::io::Error {
    fn from(e: EndpointError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = s.split_once("://").ok_or(EndpointError::MissingScheme)?;
        match scheme {
            "tcp" => parse_host_port(rest).map(|(host, port)| Endpoint::Tcp { host, port }),
            "udp" => parse_udp(rest),
            "ipc" => parse_ipc(rest).map(Endpoint::Ipc),
            "inproc" if rest.is_empty() => Err(EndpointError::EmptyInprocName),
            "inproc" => Ok(Endpoint::Inproc(rest.to_owned())),
            "" => Err(EndpointError::MissingScheme),
            other => Err(EndpointError::UnknownScheme(other.to_owned())),
        }
    }
}

fn parse_host_port(rest: &str) -> Result<(Host, u16), EndpointError> {
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or(EndpointError::UnclosedBracket)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => return Err(EndpointError::MissingPort),
            None => return Err(EndpointError::TrailingAfterBracket),
        };
        let ip: std::net::Ipv6Addr = addr
            .parse()
            .map_err(|_| EndpointError::InvalidIpv6(addr.to_owned()))?;
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = rest.rsplit_once(':').ok_or(EndpointError::MissingPort)?;
        if host.contains(':') {
            return Err(EndpointError::UnbracketedIpv6);
        }
        (parse_host(host)?, port)
    };
    let port = parse_port(port)?;
    Ok((host, port))
}

/// `udp://[iface;]host:port`. As in libzmq, the last `;` ends the interface, and an
/// interface is allowed only before a multicast group.
fn parse_udp(rest: &str) -> Result<Endpoint, EndpointError> {
    let (interface, target) = match rest.rsplit_once(';') {
        Some((iface, target)) => (Some(parse_interface(iface)?), target),
        None => (None, rest),
    };
    let (host, port) = parse_host_port(target)?;
    if interface.is_some() && !matches!(host, Host::Ip(ip) if ip.is_multicast()) {
        return Err(EndpointError::InterfaceWithoutMulticast);
    }
    Ok(Endpoint::Udp {
        interface,
        host,
        port,
    })
}

/// The interface of a `udp://` endpoint: `*`, a unicast address (IPv6 bracketed or
/// not) or an interface name (Linux allows at most 15 bytes; no DNS here).
fn parse_interface(iface: &str) -> Result<Host, EndpointError> {
    let invalid = || EndpointError::InvalidInterface(iface.to_owned());
    if iface == "*" {
        return Ok(Host::Wildcard);
    }
    let bare = iface
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(iface);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return if ip.is_multicast() {
            Err(invalid())
        } else {
            Ok(Host::Ip(ip))
        };
    }
    let valid_name = !iface.is_empty()
        && iface.len() <= 15
        && iface
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b':' | b';' | b'[' | b']'));
    if valid_name {
        Ok(Host::Name(iface.to_owned()))
    } else {
        Err(invalid())
    }
}

fn parse_host(host: &str) -> Result<Host, EndpointError> {
    if host.is_empty() {
        return Err(EndpointError::EmptyHost);
    }
    if host == "*" {
        return Ok(Host::Wildcard);
    }
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let valid_name = host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if valid_name {
        Ok(Host::Name(host.to_owned()))
    } else {
        Err(EndpointError::InvalidHost(host.to_owned()))
    }
}

fn parse_port(port: &str) -> Result<u16, EndpointError> {
    if port.is_empty() {
        return Err(EndpointError::MissingPort);
    }
    if port == "*" {
        return Ok(0);
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EndpointError::InvalidPort(port.to_owned()));
    }
    port.parse()
        .map_err(|_| EndpointError::InvalidPort(port.to_owned()))
}

fn parse_ipc(rest: &str) -> Result<IpcAddr, EndpointError> {
    if rest.contains('\0') {
        return Err(EndpointError::NulInIpcPath);
    }
    if let Some(name) = rest.strip_prefix('@') {
        if name.is_empty() {
            return Err(EndpointError::EmptyIpcPath);
        }
        if name.len() > MAX_IPC_ADDR_LEN {
            return Err(EndpointError::IpcPathTooLong(name.len()));
        }
        return Ok(IpcAddr::Abstract(name.as_bytes().to_vec()));
    }
    if rest.is_empty() {
        return Err(EndpointError::EmptyIpcPath);
    }
    if rest.len() > MAX_IPC_ADDR_LEN {
        return Err(EndpointError::IpcPathTooLong(rest.len()));
    }
    Ok(IpcAddr::Path(PathBuf::from(rest)))
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Ipc(addr) => write!(f, "ipc://{addr}"),
            Endpoint::Inproc(name) => write!(f, "inproc://{name}"),
            Endpoint::Udp {
                interface: Some(iface),
                host,
                port,
            } => write!(f, "udp://{iface};{host}:{port}"),
            Endpoint::Udp {
                interface: None,
                host,
                port,
            } => write!(f, "udp://{host}:{port}"),
        }
    }
}

impl Host {
    /// The socket addresses of this host at `port`, for runtimes that take std addresses:
    /// `*` is every IPv4 interface, a name is resolved (blocking).
    pub fn socket_addrs(&self, port: u16) -> io::Result<Vec<SocketAddr>> {
        match self {
            Host::Wildcard => Ok(vec![SocketAddr::from(([0, 0, 0, 0], port))]),
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
            Host::Name(name) => Ok((name.as_str(), port).to_socket_addrs()?.collect()),
        }
    }
}

/// Tries `connect` on each address in turn: the first connection made, or the last
/// error (`InvalidInput` when there was no address). The engines' TCP connects and
/// the sockets' resolved host names go through it.
pub async fn connect_first<A, T, F, Fut>(
    addrs: impl IntoIterator<Item = A>,
    mut connect: F,
) -> io::Result<T>
where
    F: FnMut(A) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match connect(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to")))
}

impl IpcAddr {
    /// The std Unix socket address (a path, or a name in the abstract namespace).
    pub fn to_unix_addr(&self) -> io::Result<unix::SocketAddr> {
        match self {
            IpcAddr::Path(path) => unix::SocketAddr::from_pathname(path),
            IpcAddr::Abstract(name) => unix::SocketAddr::from_abstract_name(name),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Wildcard => f.write_str("*"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for IpcAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcAddr::Path(p) => write!(f, "{}", p.display()),
            IpcAddr::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Self {
        Endpoint::Tcp {
            host: Host::Ip(a.ip()),
            port: a.port(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ok(s: &str) -> Endpoint {
        let ep: Endpoint = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        // Display prints a form that parses back to the same value.
        assert_eq!(ep.to_string().parse::<Endpoint>(), Ok(ep.clone()), "{s}");
        ep
    }

    fn err(s: &str) -> EndpointError {
        s.parse::<Endpoint>().expect_err(s)
    }

    #[test]
    fn tcp_forms() {
        let v4 = ok("tcp://127.0.0.1:5555");
        assert_eq!(
            v4,
            Endpoint::Tcp {
                host: Host::Ip(Ipv4Addr::LOCALHOST.into()),
                port: 5555
            }
        );
        assert_eq!(v4.to_string(), "tcp://127.0.0.1:5555");
        assert_eq!(
            ok("tcp://*:5555"),
            Endpoint::Tcp {
                host: Host::Wildcard,
                port: 5555
            }
        );
        let v6 = ok("tcp://[::1]:5555");
        assert_eq!(
            v6,
            Endpoint::Tcp {
                host: Host::Ip(Ipv6Addr::LOCALHOST.into()),
                port: 5555
            }
        );
        assert_eq!(v6.to_string(), "tcp://[::1]:5555");
        assert_eq!(
            ok("tcp://localhost:5555"),
            Endpoint::Tcp {
                host: Host::Name("localhost".into()),
                port: 5555
            }
        );
        assert_eq!(
            ok("tcp://*:*"),
            Endpoint::Tcp {
                host: Host::Wildcard,
                port: 0
            }
        );
        assert_eq!(ok("tcp://*:*").to_string(), "tcp://*:0");
        assert_eq!(
            ok("tcp://10.0.0.1:0"),
            Endpoint::Tcp {
                host: Host::Ip(Ipv4Addr::new(10, 0, 0, 1).into()),
                port: 0
            }
        );
        assert_eq!(ok("tcp://[::]:65535").to_string(), "tcp://[::]:65535");
    }

    #[test]
    fn udp_forms() {
        let m = ok("udp://239.0.0.1:5556");
        assert_eq!(
            m,
            Endpoint::Udp {
                interface: None,
                host: Host::Ip(Ipv4Addr::new(239, 0, 0, 1).into()),
                port: 5556
            }
        );
        assert_eq!(m.to_string(), "udp://239.0.0.1:5556");
        assert_eq!(ok("udp://*:*").to_string(), "udp://*:0");
        assert_eq!(ok("udp://[::1]:7").to_string(), "udp://[::1]:7");
        assert_eq!(err("udp://127.0.0.1"), EndpointError::MissingPort);
        assert_eq!(
            ok("udp://example.org:9"),
            Endpoint::Udp {
                interface: None,
                host: Host::Name("example.org".into()),
                port: 9
            }
        );
    }

    #[test]
    fn udp_interface_prefix() {
        let group = Host::Ip(Ipv4Addr::new(239, 0, 0, 1).into());
        let with = |iface: Host| Endpoint::Udp {
            interface: Some(iface),
            host: group.clone(),
            port: 5555,
        };
        let cases = [
            ("udp://eth0;239.0.0.1:5555", with(Host::Name("eth0".into()))),
            (
                "udp://127.0.0.1;239.0.0.1:5555",
                with(Host::Ip(Ipv4Addr::LOCALHOST.into())),
            ),
            ("udp://*;239.0.0.1:5555", with(Host::Wildcard)),
            (
                "udp://[::1];239.0.0.1:5555",
                with(Host::Ip(Ipv6Addr::LOCALHOST.into())),
            ),
        ];
        for (text, want) in cases {
            let got = ok(text);
            assert_eq!(got, want, "{text}");
            // Display gives the same endpoint back.
            assert_eq!(ok(&got.to_string()), got, "{text}");
        }
        assert_eq!(
            ok("udp://127.0.0.1;239.0.0.1:5555").to_string(),
            "udp://127.0.0.1;239.0.0.1:5555"
        );
        // A bare IPv6 interface is unambiguous before `;`; printed bracketed.
        let v6 = ok("udp://fe80::1;[ff02::1]:5555");
        assert_eq!(v6.to_string(), "udp://[fe80::1];[ff02::1]:5555");
        // The last `;` ends the interface (libzmq's strrchr).
        assert_eq!(
            err("udp://a;b;239.0.0.1:1"),
            EndpointError::InvalidInterface("a;b".into())
        );
        assert_eq!(
            err("udp://;239.0.0.1:1"),
            EndpointError::InvalidInterface("".into())
        );
        assert_eq!(
            err("udp://239.1.1.1;239.0.0.1:1"),
            EndpointError::InvalidInterface("239.1.1.1".into())
        );
        assert_eq!(
            err("udp://averyveryverylongname;239.0.0.1:1"),
            EndpointError::InvalidInterface("averyveryverylongname".into())
        );
        assert_eq!(
            err("udp://eth0;127.0.0.1:1"),
            EndpointError::InterfaceWithoutMulticast
        );
        assert_eq!(
            err("udp://eth0;*:1"),
            EndpointError::InterfaceWithoutMulticast
        );
        assert_eq!(
            err("udp://eth0;example.org:1"),
            EndpointError::InterfaceWithoutMulticast
        );
        assert_eq!(err("udp://eth0;239.0.0.1"), EndpointError::MissingPort);
        // Not in tcp:// (libzmq's tcp `source;` form is not supported).
        assert!(matches!(
            err("tcp://eth0;127.0.0.1:1"),
            EndpointError::InvalidHost(_)
        ));
    }

    #[test]
    fn ipc_forms() {
        let p = ok("ipc:///tmp/x.sock");
        assert_eq!(p, Endpoint::Ipc(IpcAddr::Path("/tmp/x.sock".into())));
        assert_eq!(p.to_string(), "ipc:///tmp/x.sock");
        let rel = ok("ipc://relative.sock");
        assert_eq!(rel, Endpoint::Ipc(IpcAddr::Path("relative.sock".into())));
        let a = ok("ipc://@name");
        assert_eq!(a, Endpoint::Ipc(IpcAddr::Abstract(b"name".to_vec())));
        assert_eq!(a.to_string(), "ipc://@name");
    }

    #[test]
    fn inproc_forms() {
        let n = ok("inproc://workers");
        assert_eq!(n, Endpoint::Inproc("workers".into()));
        assert_eq!(n.to_string(), "inproc://workers");
        // Any text is a name, as in libzmq.
        assert_eq!(ok("inproc://a:b/c"), Endpoint::Inproc("a:b/c".into()));
        assert_eq!(err("inproc://"), EndpointError::EmptyInprocName);
        let e = Endpoint::Inproc("x".into()).unsupported();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn errors() {
        assert_eq!(err("127.0.0.1:5555"), EndpointError::MissingScheme);
        assert_eq!(err("://x:1"), EndpointError::MissingScheme);
        assert_eq!(
            err("pgm://1.2.3.4:5"),
            EndpointError::UnknownScheme("pgm".into())
        );
        assert_eq!(err("tcp://127.0.0.1"), EndpointError::MissingPort);
        assert_eq!(err("tcp://127.0.0.1:"), EndpointError::MissingPort);
        assert_eq!(err("tcp://[::1]"), EndpointError::MissingPort);
        assert_eq!(
            err("tcp://1.2.3.4:65536"),
            EndpointError::InvalidPort("65536".into())
        );
        assert_eq!(
            err("tcp://1.2.3.4:abc"),
            EndpointError::InvalidPort("abc".into())
        );
        assert_eq!(
            err("tcp://1.2.3.4:+1"),
            EndpointError::InvalidPort("+1".into())
        );
        assert_eq!(err("tcp://:5555"), EndpointError::EmptyHost);
        assert_eq!(err("tcp://[::1:5555"), EndpointError::UnclosedBracket);
        assert_eq!(err("tcp://[zz]:1"), EndpointError::InvalidIpv6("zz".into()));
        assert_eq!(
            err("tcp://[1.2.3.4]:1"),
            EndpointError::InvalidIpv6("1.2.3.4".into())
        );
        assert_eq!(err("tcp://[::1]x:1"), EndpointError::TrailingAfterBracket);
        assert_eq!(err("tcp://::1:5555"), EndpointError::UnbracketedIpv6);
        assert_eq!(err("tcp://a b:1"), EndpointError::InvalidHost("a b".into()));
        assert_eq!(err("tcp://a/b:1"), EndpointError::InvalidHost("a/b".into()));
        assert_eq!(err("ipc://"), EndpointError::EmptyIpcPath);
        assert_eq!(err("ipc://@"), EndpointError::EmptyIpcPath);
        assert_eq!(err("ipc:///a\0b"), EndpointError::NulInIpcPath);
        let long = format!("ipc:///{}", "x".repeat(200));
        assert_eq!(err(&long), EndpointError::IpcPathTooLong(201));
        let long_abs = format!("ipc://@{}", "x".repeat(108));
        assert_eq!(err(&long_abs), EndpointError::IpcPathTooLong(108));
        // Every error has a message.
        assert!(!EndpointError::MissingPort.to_string().is_empty());
    }
}
