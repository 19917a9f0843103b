//! The ZeroMQ socket types of ringmq, with libzmq's semantics, on any
//! [`Proactor`](ringmq_proactor::Proactor).
//!
//! A [`Context`] makes sockets; each socket can `bind` and `connect` to several
//! endpoints at once, and keeps a queue per peer bounded by its high-water marks.
//! Every connection runs as two local tasks (reader and writer) around a sans-IO
//! [`ringmq_zmtp::Session`]; `send` puts a message on a peer's queue and wakes its
//! writer, which writes everything queued with vectored writes. Nothing here spawns a
//! thread: sockets run on the thread of their proactor and are `!Send`. Sockets on
//! several threads talk over `inproc://` when their Contexts share a
//! [`ContextHandle`] (see [`Context`]).
//!
//! ```
//! use ringmq_proactor::Runtime;
//! use ringmq_sockets::Context;
//!
//! let rt = Runtime::new()?;
//! rt.block_on(async {
//!     let ctx = Context::new(rt.proactor());
//!     let pull = ctx.pull();
//!     let endpoint = pull.bind("tcp://127.0.0.1:*")?;
//!     let push = ctx.push();
//!     push.connect(&endpoint)?;
//!     push.send("hello").await?;
//!     let msg = pull.recv().await?;
//!     assert_eq!(msg.frames()[0], "hello");
//!     Ok::<_, ringmq_sockets::Error>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/SOCKETS.md` for the architecture.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connection;
mod connector;
mod context;
mod core;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod handle;
mod inproc;
mod link;
mod listener;
mod message;
mod monitor;
mod options;
mod proxy;
mod raw;
mod reason;
mod resolve;
mod security;
mod socket;
mod socks;
mod stats;
#[cfg(feature = "futures")]
mod streams;
mod trace;
mod udp;
mod util;
pub mod zap;

pub use bytes::Bytes;
pub use context::{Context, ContextHandle};
pub use core::{Drops, Refusal};
pub use error::Error;
pub use handle::{BlockingSocket, HandleMonitor, RuntimeThread, SocketHandle};
pub use message::Message;
pub use monitor::{Monitor, MonitorEvent, MonitorEventKind, MONITOR_CAPACITY};
pub use options::{
    SocketOption, SocketOptions, NOTIFY_CONNECT, NOTIFY_DISCONNECT,
    RECONNECT_STOP_AFTER_DISCONNECT, RECONNECT_STOP_CONN_REFUSED, RECONNECT_STOP_HANDSHAKE_FAILED,
};
pub use proxy::{proxy, proxy_steerable, ProxyStats, SideStats};
pub use reason::{DisconnectReason, IoError, SecurityConfigError};
pub use ringmq_zmtp::Metadata;
pub use ringmq_zmtp::SocketType;
pub use security::{
    curve_keypair, curve_public, z85_decode, z85_encode, CurveKey, InvalidKey, Z85Error,
};
pub use socket::{
    DealerSocket, DishSocket, Events, PairSocket, PubSocket, PullSocket, PushSocket, RadioSocket,
    RepSocket, ReqSocket, RouterSocket, Socket, StreamSocket, SubSocket, XPubSocket, XSubSocket,
};
// libzmq's draft types.
pub use socket::{
    ChannelSocket, ClientSocket, GatherSocket, PeerSocket, ScatterSocket, ServerSocket,
};
pub use stats::{PeerStats, SocketStats};
pub use zap::{Authenticator, ZapHandler, ZapReply, ZapRequest};
