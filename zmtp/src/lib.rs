//! Sans-IO ZMTP 3.1 (and 3.0 peers).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod mechanism;
pub mod metadata;

pub use error::{Error, PeerMisbehaved};
pub use metadata::Metadata;
