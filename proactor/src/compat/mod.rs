//! Newtypes that lend ringmq's owned buffers to other runtimes' buffer traits.
//!
//! The `ringmq-compio` and `ringmq-monoio` adapters call those runtimes' own streams,
//! which take buffers implementing *their* traits. Implementing a foreign trait for
//! [`IoBuf`](crate::IoBuf) types needs a local type, and the monoio traits are
//! `unsafe`, so the wrappers live here, in the only crate that may contain `unsafe`.
//!
//! Receive wrappers expose only the spare capacity of the wrapped buffer, so a runtime
//! that reads "into the buffer from its start" appends after the bytes already there,
//! which is what [`Proactor::recv`](crate::Proactor::recv) promises.

#[cfg(feature = "compio-buf")]
pub mod compio;
#[cfg(feature = "monoio-buf")]
pub mod monoio;
#[cfg(feature = "tokio-buf")]
pub mod tokio;

mod direct;
mod park;

pub use direct::try_send_vectored;
pub use park::{Park, RecvPark};
