//! MESSAGE boxes: how every frame travels once the handshake is complete.
//!
//! Outer frame body: `\x07MESSAGE`, 8-byte short nonce, box(flags + payload) under the
//! precomputed C'/S' key with nonce prefix `CurveZMQMESSAGEC` (client to server) or
//! `CurveZMQMESSAGES` (server to client). In the boxed flags byte bit 0 is MORE and bit 1
//! is COMMAND (libzmq copies its `msg_t` flags `more | command`), so PING, PONG,
//! SUBSCRIBE and CANCEL travel encrypted too.
//!
//! **Outer frame flags.** libzmq's `curve_encoding_t::encode` builds the MESSAGE in a
//! fresh `msg_t` (`init_size`) and moves it over the original, so the frame that goes
//! on the wire has no flags at all: not MORE, not COMMAND, even for the frames of a
//! multipart message or for an encrypted PING. [`MessageCodec::wrap`] does the same.
//! On receive libzmq ORs the boxed flags into whatever the outer frame had; we ignore
//! the outer flags entirely and trust only the authenticated boxed ones, so a
//! man in the middle cannot flip MORE or COMMAND.

use bytes::{Buf, BufMut, BytesMut};

use super::cipher::{PeerBox, TAG_LEN};
use super::error::CurveError;
use super::nonce::{self, PeerCounter, SendCounter};
use crate::mechanism::FrameParts;

const NAME: &[u8] = b"\x07MESSAGE";
const HEADER_LEN: usize = NAME.len() + 8;
const FLAG_MORE: u8 = 0x01;
const FLAG_COMMAND: u8 = 0x02;

/// Wraps and unwraps frames after the handshake, for one side of one connection.
#[derive(Debug)]
pub(crate) struct MessageCodec {
    shared: PeerBox,
    send_prefix: &'static [u8; 16],
    recv_prefix: &'static [u8; 16],
    send: SendCounter,
    recv: PeerCounter,
}

impl MessageCodec {
    /// `send` and `recv` continue the counters of the handshake (libzmq shares them
    /// with HELLO/INITIATE and READY).
    pub(crate) fn new(
        shared: PeerBox,
        is_client: bool,
        send: SendCounter,
        recv: PeerCounter,
    ) -> Self {
        let (send_prefix, recv_prefix) = if is_client {
            (nonce::MESSAGE_FROM_CLIENT, nonce::MESSAGE_FROM_SERVER)
        } else {
            (nonce::MESSAGE_FROM_SERVER, nonce::MESSAGE_FROM_CLIENT)
        };
        MessageCodec {
            shared,
            send_prefix,
            recv_prefix,
            send,
            recv,
        }
    }

    /// Boxes one frame into a MESSAGE; the returned outer frame has no flags.
    pub(crate) fn wrap(&mut self, frame: FrameParts) -> Result<FrameParts, CurveError> {
        let n = self.send.take()?;
        let mut out = BytesMut::with_capacity(HEADER_LEN + TAG_LEN + 1 + frame.body.len());
        out.put_slice(NAME);
        out.put_u64(n);
        out.put_bytes(0, TAG_LEN);
        let mut flags = 0;
        if frame.more {
            flags |= FLAG_MORE;
        }
        if frame.command {
            flags |= FLAG_COMMAND;
        }
        out.put_u8(flags);
        out.put_slice(&frame.body);
        self.shared
            .seal(&nonce::short(self.send_prefix, n), &mut out[HEADER_LEN..]);
        Ok(FrameParts {
            more: false,
            command: false,
            body: out.freeze(),
        })
    }

    /// Opens one MESSAGE; returns the frame it carried with its boxed flags.
    pub(crate) fn unwrap(&mut self, frame: FrameParts) -> Result<FrameParts, CurveError> {
        let body = &frame.body;
        if !body.starts_with(NAME) {
            return Err(CurveError::NotAMessage);
        }
        if body.len() < HEADER_LEN + TAG_LEN + 1 {
            return Err(CurveError::MessageTooShort { len: body.len() });
        }
        let n = nonce::read_short(body, NAME.len());
        self.recv.check(n)?;
        let mut boxed = BytesMut::from(&body[HEADER_LEN..]);
        if !self
            .shared
            .open(&nonce::short(self.recv_prefix, n), &mut boxed)
        {
            return Err(CurveError::MessageOpenFailed);
        }
        self.recv.accept(n);
        boxed.advance(TAG_LEN);
        let flags = boxed[0];
        boxed.advance(1);
        Ok(FrameParts {
            more: flags & FLAG_MORE != 0,
            command: flags & FLAG_COMMAND != 0,
            body: boxed.freeze(),
        })
    }
}
