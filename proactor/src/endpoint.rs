//! Endpoint strings as ZeroMQ users write them: `tcp://host:port`, `ipc:///path`,
//! `ipc://@abstract-name`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// A parsed endpoint. (Placeholder definitions; parsing lands with the driver work.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `tcp://host:port`; port 0 (or `*`) asks for an ephemeral port on bind.
    Tcp {
        /// Where to bind or connect.
        host: Host,
        /// The port; 0 for ephemeral.
        port: u16,
    },
    /// `ipc://...`.
    Ipc(IpcAddr),
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

/// Why an endpoint string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// The string has no `scheme://`.
    MissingScheme,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::MissingScheme => f.write_str("endpoint has no scheme"),
        }
    }
}

impl std::error::Error for EndpointError {}
