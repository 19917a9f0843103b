//! CURVE (RFC 26 CurveZMQ over ZMTP, RFC 25), exactly as libzmq 4.3 speaks it.
//!
//! | command | body | nonce |
//! |---|---|---|
//! | HELLO (200 B) | `\x05HELLO`, `01 00`, 72 zero bytes, C', short nonce, box(64 zeros) C'->S | `CurveZMQHELLO---` |
//! | WELCOME (168 B) | `\x07WELCOME`, long nonce, box(S' + cookie) S->C' | `WELCOME-` |
//! | INITIATE | `\x08INITIATE`, cookie, short nonce, box(C + vouch + metadata) C'->S' | `CurveZMQINITIATE` |
//! | READY | `\x05READY`, short nonce, box(metadata) S'->C' | `CurveZMQREADY---` |
//! | MESSAGE | `\x07MESSAGE`, short nonce, box(flags + payload) | `CurveZMQMESSAGEC` / `...S` |
//!
//! Boxes are NaCl `crypto_box` (X25519 + XSalsa20-Poly1305) without the leading zero
//! padding: tag, then ciphertext. Short nonces count up from 1 per direction and must
//! strictly increase; the handshake commands share the counters with MESSAGE like in
//! libzmq (a client's first MESSAGE carries nonce 3, a server's nonce 2). After the
//! handshake the connection uses the precomputed C'/S' key only.
//!
//! [`Mechanism::wrap`](crate::mechanism::Mechanism::wrap) returns the outer frame with
//! neither MORE nor COMMAND set: libzmq's `curve_encoding_t::encode` builds the MESSAGE
//! in a fresh `msg_t` and moves it over the original, so its wire frames carry no flags;
//! the real MORE (bit 0) and COMMAND (bit 1) travel in the boxed flags byte.
//! [`Mechanism::unwrap`](crate::mechanism::Mechanism::unwrap) ignores the outer flags and
//! returns the authenticated inner ones.

mod cipher;
mod client;
mod cookie;
mod error;
#[cfg(all(test, fuzzing))]
mod fuzz_tests;
mod keys;
mod message;
pub mod nacl;
mod nonce;
mod server;
#[cfg(test)]
mod tests;
mod wire;

pub use client::CurveClient;
pub use error::CurveError;
pub use keys::CurveKeyPair;
pub use server::{CurveServer, MAX_INITIATE_METADATA};
