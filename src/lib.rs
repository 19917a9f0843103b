//! ringmq: ZeroMQ-compatible messaging (ZMTP 3.1) in Rust.
//!
//! This facade re-exports the layers: [`proactor`] (the I/O trait and built-in io_uring /
//! epoll drivers) and [`zmtp`] (the sans-IO protocol). The socket types arrive in
//! `ringmq-sockets`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ringmq_proactor as proactor;
pub use ringmq_zmtp as zmtp;

/// The compio adapter.
#[cfg(feature = "compio")]
pub use ringmq_compio as compio;
/// The monoio adapter.
#[cfg(feature = "monoio")]
pub use ringmq_monoio as monoio;
