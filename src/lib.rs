//! ringmq: ZeroMQ-compatible messaging (ZMTP 3.1) in Rust.
//!
//! This facade re-exports the layers: [`proactor`] (the I/O trait and built-in io_uring /
//! epoll drivers), [`zmtp`] (the sans-IO protocol) and [`sockets`] (the ZeroMQ socket
//! types, also re-exported at the root: [`Context`], [`Message`], [`SocketOption`], ...).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ringmq_proactor as proactor;
pub use ringmq_sockets as sockets;
pub use ringmq_zmtp as zmtp;

pub use ringmq_sockets::handle;
pub use ringmq_sockets::{
    curve_keypair, curve_public, z85_decode, z85_encode, zap, Authenticator, CurveKey, InvalidKey,
    Metadata, Z85Error, ZapHandler, ZapReply, ZapRequest,
};
pub use ringmq_sockets::{proxy, proxy_steerable, ProxyStats, SideStats};
pub use ringmq_sockets::{
    BlockingSocket, Bytes, Context, ContextHandle, DealerSocket, DisconnectReason, DishSocket,
    Drops, Error, Events, IoError, Message, Monitor, MonitorEvent, MonitorEventKind, PairSocket,
    PeerStats, PubSocket, PullSocket, PushSocket, RadioSocket, Refusal, RepSocket, ReqSocket,
    RouterSocket, RuntimeThread, SecurityConfigError, Socket, SocketHandle, SocketOption,
    SocketOptions, SocketStats, SocketType, StreamSocket, SubSocket, XPubSocket, XSubSocket,
};
// libzmq's draft types.
pub use ringmq_sockets::{
    ChannelSocket, ClientSocket, GatherSocket, PeerSocket, ScatterSocket, ServerSocket,
};

/// The compio adapter.
#[cfg(feature = "compio")]
pub use ringmq_compio as compio;
/// The monoio adapter.
#[cfg(feature = "monoio")]
pub use ringmq_monoio as monoio;
/// The tokio adapter (current-thread runtime with a `LocalSet`).
#[cfg(feature = "tokio")]
pub use ringmq_tokio as tokio;
