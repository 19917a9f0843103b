//! Sans-IO ZMTP 3.1 (and 3.0 peers): greeting, frames, commands, the NULL, PLAIN and
//! CURVE security mechanisms, heartbeats, and a [`Session`] that combines them; the
//! RADIO / DISH groups and their UDP datagrams ([`group`]).
//!
//! Nothing here does I/O, reads a clock or spawns a thread. A [`Session`] is fed the
//! bytes received from the peer and the current time, and hands back the bytes to
//! write, the events to act on, and the next deadline. The socket layer owns the
//! connection and drives one session per peer.
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use ringmq_zmtp::mechanism::Null;
//! use ringmq_zmtp::{Event, Session, SessionConfig, SocketType};
//!
//! let now = Instant::now();
//! let mut push = Session::new(SessionConfig::new(SocketType::Push), Box::new(Null::new()), now)?;
//! let mut pull = Session::new(SessionConfig::new(SocketType::Pull), Box::new(Null::new()), now)?;
//! // Shuttle bytes both ways until neither side has anything to say.
//! let mut moved = true;
//! while moved {
//!     moved = false;
//!     if let Some(t) = push.poll_transmit() { pull.handle_input(now, &t.to_vec()); moved = true; }
//!     if let Some(t) = pull.poll_transmit() { push.handle_input(now, &t.to_vec()); moved = true; }
//! }
//! assert!(matches!(push.poll_event(), Some(Event::HandshakeSucceeded { .. })));
//! assert!(matches!(pull.poll_event(), Some(Event::HandshakeSucceeded { .. })));
//! push.send(&[Bytes::from_static(b"hello")])?;
//! pull.handle_input(now, &push.poll_transmit().unwrap().to_vec());
//! assert_eq!(pull.poll_event(), Some(Event::Message(vec![Bytes::from_static(b"hello")].into())));
//! # Ok::<(), ringmq_zmtp::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod error;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod greeting;
pub mod group;
pub mod heartbeat;
pub mod mechanism;
pub mod metadata;
mod partial;
mod parts;
pub mod session;
pub mod socket_type;
pub mod z85;

pub use error::{Error, PeerMisbehaved};
pub use frame::Transmit;
pub use mechanism::{AuthVerdict, Credentials, Mechanism};
pub use metadata::Metadata;
pub use parts::Parts;
pub use session::{Event, Session, SessionConfig, DEFAULT_MAX_MESSAGE_FRAMES};
pub use socket_type::SocketType;
