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
//!
//! **In place.** [`MessageCodec::wrap_into`] writes the frame header, name, nonce, tag
//! room, flags byte and payload straight into the connection's output batch and seals
//! them there; [`MessageCodec::unwrap_in_place`] opens the box inside the receive
//! buffer and hands out the plaintext as a view of it. Neither allocates per frame nor
//! copies the payload more than once (into the batch when sending, not at all when
//! receiving).

use bytes::{Buf, BufMut, BytesMut};

use super::cipher::{MessageBox, PeerBox, TAG_LEN};
use super::error::CurveError;
use super::nonce::{self, PeerCounter, SendCounter};
use crate::frame::FrameEncoder;
use crate::mechanism::FrameParts;

const NAME: &[u8] = b"\x07MESSAGE";
const HEADER_LEN: usize = NAME.len() + 8;
/// What a MESSAGE adds to a frame body: name, nonce, tag and the boxed flags byte.
const OVERHEAD: usize = HEADER_LEN + TAG_LEN + 1;
const FLAG_MORE: u8 = 0x01;
const FLAG_COMMAND: u8 = 0x02;

/// Wraps and unwraps frames after the handshake, for one side of one connection.
#[derive(Debug)]
pub(crate) struct MessageCodec {
    send_box: MessageBox,
    recv_box: MessageBox,
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
            send_box: shared.message_box(send_prefix),
            recv_box: shared.message_box(recv_prefix),
            send,
            recv,
        }
    }

    /// Boxes one frame into a MESSAGE appended to `out`, as a frame with no flags.
    pub(crate) fn wrap_into(
        &mut self,
        more: bool,
        command: bool,
        body: &[u8],
        out: &mut FrameEncoder,
    ) -> Result<(), CurveError> {
        let n = self.send.take()?;
        let send_box = &self.send_box;
        out.push_frame_with(false, false, OVERHEAD + body.len(), |buf| {
            seal_message(send_box, n, flags(more, command), body, buf);
        });
        Ok(())
    }

    /// Boxes one frame into a MESSAGE; the returned outer frame has no flags.
    pub(crate) fn wrap(&mut self, frame: FrameParts) -> Result<FrameParts, CurveError> {
        let n = self.send.take()?;
        let mut out = BytesMut::with_capacity(OVERHEAD + frame.body.len());
        let flags = flags(frame.more, frame.command);
        seal_message(&self.send_box, n, flags, &frame.body, &mut out);
        Ok(FrameParts {
            more: false,
            command: false,
            body: out.freeze(),
        })
    }

    /// Opens one MESSAGE whose body the caller owns: the box is opened where it lies
    /// and the frame it carried (with its boxed flags) is a view of the same memory.
    pub(crate) fn unwrap_in_place(&mut self, mut body: BytesMut) -> Result<FrameParts, CurveError> {
        if !body.starts_with(NAME) {
            return Err(CurveError::NotAMessage);
        }
        if body.len() < OVERHEAD {
            return Err(CurveError::MessageTooShort { len: body.len() });
        }
        let n = nonce::read_short(&body, NAME.len());
        self.recv.check(n)?;
        if !self.recv_box.open(n, &mut body[HEADER_LEN..]) {
            return Err(CurveError::MessageOpenFailed);
        }
        self.recv.accept(n);
        let flags = body[HEADER_LEN + TAG_LEN];
        body.advance(OVERHEAD);
        Ok(FrameParts {
            more: flags & FLAG_MORE != 0,
            command: flags & FLAG_COMMAND != 0,
            body: body.freeze(),
        })
    }

    /// Opens one MESSAGE held in shared memory (a copy is opened).
    pub(crate) fn unwrap(&mut self, frame: FrameParts) -> Result<FrameParts, CurveError> {
        self.unwrap_in_place(BytesMut::from(&frame.body[..]))
    }
}

fn flags(more: bool, command: bool) -> u8 {
    (if more { FLAG_MORE } else { 0 }) | (if command { FLAG_COMMAND } else { 0 })
}

/// Appends the body of MESSAGE number `n` to `buf`: name, nonce, then the box (tag,
/// flags, payload) sealed where it lies.
fn seal_message(send_box: &MessageBox, n: u64, flags: u8, body: &[u8], buf: &mut BytesMut) {
    buf.put_slice(NAME);
    buf.put_u64(n);
    let at = buf.len();
    buf.put_bytes(0, TAG_LEN);
    buf.put_u8(flags);
    buf.put_slice(body);
    send_box.seal(n, &mut buf[at..]);
}
