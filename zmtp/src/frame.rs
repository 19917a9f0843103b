//! ZMTP frames: an incremental zero-copy decoder and a batching encoder.
//!
//! Wire form: a flags byte (bit 0 MORE, bit 1 LONG, bit 2 COMMAND, bits 3-7 zero), then
//! the size (1 byte, or 8 bytes big-endian when LONG), then the body.

use std::cell::RefCell;

use bytes::{Buf, Bytes, BytesMut};

pub use crate::mechanism::FrameParts as Frame;

use crate::error::{Error, PeerMisbehaved};

/// MORE flag bit.
pub const FLAG_MORE: u8 = 0x01;
/// LONG flag bit (8-byte size).
pub const FLAG_LONG: u8 = 0x02;
/// COMMAND flag bit.
pub const FLAG_COMMAND: u8 = 0x04;
const RESERVED: u8 = !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND);

/// Payloads up to this size are copied into the batch buffer; larger ones travel as
/// their own chunk of the vectored write. Copying up to 8 KiB measured faster than an
/// iovec per payload (PUSH/PULL 4 KiB: 1.8 M against 1.45 M msg/s with a 2 KiB
/// threshold, pinned A/B; 1 KiB and 16 KiB unchanged); a 16 KiB threshold gained
/// nothing more.
pub const INLINE_THRESHOLD: usize = 8192;

/// Largest batch buffer the encoder copies headers and small payloads into. A full
/// buffer becomes a chunk of the pending [`Transmit`] and a fresh one is started, so
/// queued bytes are never copied again when the batch grows.
const BATCH_BUF: usize = 65536;

/// The first batch buffer after the output was idle; each full one doubles the next,
/// up to [`BATCH_BUF`]. A buffer this small is kept while idle (a request / reply
/// connection reuses it without allocating); a larger one is released.
const BATCH_MIN: usize = 4096;

/// The first batch buffer of an encoder that holds none (new, or released by
/// [`FrameEncoder::release_idle`]): small enough for the allocator's per-thread cache,
/// so a connection that writes now and then allocates it cheaply each time.
const BATCH_FIRST: usize = 1024;

/// Most buffers kept in a thread's pool of released batch buffers (see
/// [`FrameEncoder::release_idle`]): at most this many times [`BATCH_MIN`] bytes.
const POOLED: usize = 16;

thread_local! {
    /// Batch buffers (with a chunk vector) given up by encoders of this thread whose
    /// output went idle, for the next encoder that needs one: a connection that writes
    /// now and then (a ROUTER's peer answered one at a time) reuses a buffer already
    /// set up for sharing instead of allocating one, and its chunk vector, each time.
    static IDLE_BUFFERS: RefCell<Vec<(BytesMut, Vec<Bytes>)>> = const { RefCell::new(Vec::new()) };
}

/// A recycled chunk vector larger than this is dropped rather than kept.
const MAX_RECYCLED: usize = 4096;

/// Chunk vectors kept while the output is idle hold at most this many entries.
const IDLE_CHUNKS: usize = 16;

/// The largest frame body that can ever be held: a buffer holds at most `isize::MAX`
/// bytes, and the frame's header shares the buffer with it.
pub const MAX_HOLDABLE: u64 = isize::MAX as u64 - 9;

/// Room reserved at least for the rest of a partial frame; beyond it, the buffer grows
/// with what arrived (doubling), so a peer announcing a huge frame makes us hold about
/// twice what it actually sent, not what it announced.
const RESERVE_MIN: usize = 64 * 1024;

/// What a frame header announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// MORE flag.
    pub more: bool,
    /// COMMAND flag.
    pub command: bool,
    /// LONG flag: the size took 8 bytes (else 1).
    pub long: bool,
    /// Body size in bytes.
    pub size: u64,
}

impl FrameHeader {
    /// Bytes of the header on the wire.
    #[inline]
    pub fn len(&self) -> usize {
        if self.long {
            9
        } else {
            2
        }
    }

    /// Never true: a header has at least two bytes (for clippy's `len` convention).
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Incremental frame decoder over a receive buffer the caller fills.
///
/// A complete frame is split off the front of the buffer and frozen, so its body is a
/// `Bytes` view of the received bytes (no copy). An incomplete frame stays in the
/// buffer; once its size passed the limit check, room is reserved for it (growing with
/// what arrived) so that the rest arrives contiguously.
///
/// [`FrameDecoder::decode`] checks each frame against one size limit. A caller with
/// other limits (the session: a budget per message) reads the header first with
/// [`FrameDecoder::peek_header`], decides, and then takes the frame with
/// [`FrameDecoder::take_frame`].
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    max_size: Option<u64>,
}

impl FrameDecoder {
    /// A decoder refusing frames larger than `max_size` bytes (`None`: unlimited, like
    /// `ZMQ_MAXMSGSIZE = -1`, except for sizes above [`MAX_HOLDABLE`], which are always
    /// refused).
    pub fn new(max_size: Option<u64>) -> Self {
        FrameDecoder { max_size }
    }

    /// Changes the limit.
    pub fn set_max_size(&mut self, max_size: Option<u64>) {
        self.max_size = max_size;
    }

    /// The limit in force.
    pub fn max_size(&self) -> Option<u64> {
        self.max_size
    }

    /// Takes the next whole frame off the front of `buf`, or returns `Ok(None)` when more
    /// bytes are needed. Errors are fatal for the connection.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        let Some(h) = Self::peek_header(buf)? else {
            return Ok(None);
        };
        self.check(h)?;
        Self::take_frame(buf, h)
    }

    /// Like [`FrameDecoder::decode`], with the body still mutable and owned by the
    /// caller alone (for decrypting in place): `(more, command, body)`. The header is
    /// checked the same way before anything of the body is held.
    pub fn decode_mut(&self, buf: &mut BytesMut) -> Result<Option<(bool, bool, BytesMut)>, Error> {
        let Some(h) = Self::peek_header(buf)? else {
            return Ok(None);
        };
        self.check(h)?;
        Ok(Self::take_frame_mut(buf, h)?.map(|body| (h.more, h.command, body)))
    }

    /// Refuses a frame larger than this decoder's limit.
    #[inline]
    fn check(&self, h: FrameHeader) -> Result<(), Error> {
        match self.max_size {
            Some(max) if h.size > max => {
                Err(PeerMisbehaved::FrameTooLarge { size: h.size, max }.into())
            }
            _ => Ok(()),
        }
    }

    /// The header at the front of `buf`, once complete (`Ok(None)` before), without
    /// consuming anything. Refuses reserved flags and commands with MORE.
    #[inline]
    pub fn peek_header(buf: &[u8]) -> Result<Option<FrameHeader>, Error> {
        let Some(&flags) = buf.first() else {
            return Ok(None);
        };
        if flags & RESERVED != 0 {
            return Err(PeerMisbehaved::ReservedFlags { flags }.into());
        }
        let more = flags & FLAG_MORE != 0;
        let command = flags & FLAG_COMMAND != 0;
        if more && command {
            return Err(PeerMisbehaved::CommandWithMore.into());
        }
        let long = flags & FLAG_LONG != 0;
        let size = if long {
            let Some(raw) = buf.get(1..9) else {
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(raw);
            u64::from_be_bytes(be)
        } else {
            let Some(&s) = buf.get(1) else {
                return Ok(None);
            };
            u64::from(s)
        };
        Ok(Some(FrameHeader {
            more,
            command,
            long,
            size,
        }))
    }

    /// Takes the frame whose header `h` ([`FrameDecoder::peek_header`] of the same
    /// bytes) is at the front of `buf`, or returns `Ok(None)` and reserves room for the
    /// rest when the body is incomplete. A size above [`MAX_HOLDABLE`] is refused.
    #[inline(always)]
    pub fn take_frame(buf: &mut BytesMut, h: FrameHeader) -> Result<Option<Frame>, Error> {
        if h.size == 0 && buf.len() >= h.len() {
            // An empty frame (a REQ / REP delimiter) views nothing: the header is
            // skipped without a split, so no reference count is taken and dropped.
            buf.advance(h.len());
            return Ok(Some(Frame {
                more: h.more,
                command: h.command,
                body: Bytes::new(),
            }));
        }
        let Some(frame) = Self::split_frame(buf, h)? else {
            return Ok(None);
        };
        // The header is skipped on the frozen view (cheap: splitting it off as well
        // would cost a reference count increment and decrement on the shared buffer
        // per frame).
        let mut body = frame.freeze();
        body.advance(h.len());
        Ok(Some(Frame {
            more: h.more,
            command: h.command,
            body,
        }))
    }

    /// Like [`FrameDecoder::take_frame`], with the body still mutable and owned by the
    /// caller alone (for decrypting in place), header skipped.
    #[inline]
    pub fn take_frame_mut(buf: &mut BytesMut, h: FrameHeader) -> Result<Option<BytesMut>, Error> {
        let Some(mut frame) = Self::split_frame(buf, h)? else {
            return Ok(None);
        };
        frame.advance(h.len());
        Ok(Some(frame))
    }

    /// Splits the whole frame of header `h` (header included, once: one split per
    /// frame) off the front of `buf`, or reserves room for the rest and returns
    /// `Ok(None)` when the body is incomplete. A size above [`MAX_HOLDABLE`] is refused.
    #[inline(always)]
    fn split_frame(buf: &mut BytesMut, h: FrameHeader) -> Result<Option<BytesMut>, Error> {
        if h.size > MAX_HOLDABLE {
            return Err(PeerMisbehaved::FrameTooLargeToHold { size: h.size }.into());
        }
        let header = h.len();
        // Cannot overflow: the size is at most `isize::MAX - 9`.
        let total = h.size as usize + header;
        if buf.len() < total {
            // Room for the rest of this frame, so it lands contiguously; growing with
            // what arrived, because the size is the peer's word only.
            let missing = (total - buf.len()).min(buf.len().max(RESERVE_MIN));
            buf.reserve(missing);
            return Ok(None);
        }
        Ok(Some(buf.split_to(total)))
    }
}

/// Bytes ready to be written: a list of chunks for one vectored write, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transmit {
    /// The chunks, to be written in order (for example with `send_vectored`).
    pub chunks: Vec<Bytes>,
}

impl Transmit {
    /// Total number of bytes.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(Bytes::is_empty)
    }

    /// All chunks concatenated (one copy; for tests and simple writers).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for c in &self.chunks {
            v.extend_from_slice(c);
        }
        v
    }
}

/// Length of the header of a frame of `len` bytes: the short form up to 255 bytes, the
/// long one above.
#[inline(always)]
fn header_len(len: usize) -> usize {
    if len <= 255 {
        2
    } else {
        9
    }
}

/// The header of a frame of `len` bytes with `flags` (MORE, COMMAND; LONG is added
/// when needed): its bytes, of which the first [`header_len`] are used.
#[inline(always)]
fn header(flags: u8, len: usize) -> [u8; 9] {
    let mut header = [flags, len as u8, 0, 0, 0, 0, 0, 0, 0];
    if len > 255 {
        header[0] |= FLAG_LONG;
        header[1..].copy_from_slice(&(len as u64).to_be_bytes());
    }
    header
}

/// The most bytes [`encode_message`] encodes: larger messages are not worth encoding
/// once for several peers (each peer's batch copies them all the same, and a frame
/// above [`INLINE_THRESHOLD`] travels as its own chunk instead).
pub const ENCODE_ONCE_MAX: usize = 16 * 1024;

/// Encodes one message's frames (MORE on all but the last), headers and bodies, into
/// `out` (cleared first) exactly as [`FrameEncoder`] writes them unencrypted, for
/// [`FrameEncoder::push_encoded`]: a publisher encodes a small message once and copies
/// the same bytes into each subscriber's batch. False (and `out` left empty) when the
/// message is empty, has a frame above [`INLINE_THRESHOLD`] or would take more than
/// [`ENCODE_ONCE_MAX`] bytes.
pub fn encode_message<B: std::ops::Deref<Target = [u8]>>(parts: &[B], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut total = 0usize;
    for body in parts {
        if body.len() > INLINE_THRESHOLD {
            return false;
        }
        total += header_len(body.len()) + body.len();
    }
    if parts.is_empty() || total > ENCODE_ONCE_MAX {
        return false;
    }
    out.reserve(total);
    let last = parts.len() - 1;
    for (i, body) in parts.iter().enumerate() {
        let flags = if i < last { FLAG_MORE } else { 0 };
        out.extend_from_slice(&header(flags, body.len())[..header_len(body.len())]);
        out.extend_from_slice(body);
    }
    true
}

/// Batching frame encoder: headers and small payloads are appended to one buffer, large
/// payloads are kept as their own `Bytes` chunk.
///
/// While busy it reuses its buffers; when a written batch is given back
/// ([`FrameEncoder::recycle`]) and nothing was queued meanwhile, the output is idle and
/// the encoder keeps at most a small buffer.
#[derive(Clone, Debug, Default)]
pub struct FrameEncoder {
    inline: BytesMut,
    chunks: Vec<Bytes>,
    /// An emptied chunk vector given back by [`FrameEncoder::recycle`].
    spare: Vec<Bytes>,
    pending: usize,
    /// Size of the next batch buffer (0 stands for [`BATCH_FIRST`]).
    batch: usize,
    /// Capacity of the current batch buffer when it was reserved.
    alloc: usize,
}

impl FrameEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends raw bytes (the greeting).
    pub fn push_raw(&mut self, bytes: &[u8]) {
        self.inline.extend_from_slice(bytes);
        self.pending += bytes.len();
    }

    /// Appends one frame.
    pub fn push_frame(&mut self, more: bool, command: bool, body: &Bytes) {
        if self.push_header(more, command, body.len()) {
            self.inline.extend_from_slice(body);
        } else {
            self.chunks.push(body.clone());
        }
    }

    /// Appends one frame, taking its body: a large body becomes a chunk without a
    /// reference count increment (and decrement when the caller drops its copy).
    pub fn push_frame_owned(&mut self, more: bool, command: bool, body: Bytes) {
        if self.push_header(more, command, body.len()) {
            self.inline.extend_from_slice(&body);
        } else {
            self.chunks.push(body);
        }
    }

    /// Appends frames already encoded by [`encode_message`], copied into the batch
    /// buffer as they are.
    #[inline]
    pub fn push_encoded(&mut self, wire: &[u8]) {
        self.make_room(wire.len());
        self.inline.extend_from_slice(wire);
        self.pending += wire.len();
    }

    /// Appends a frame whose `len`-byte body `fill` writes into the batch buffer
    /// (always inline, whatever its size): for bodies produced in place, such as
    /// encrypted ones. `fill` must append exactly `len` bytes.
    pub fn push_frame_with(
        &mut self,
        more: bool,
        command: bool,
        len: usize,
        fill: impl FnOnce(&mut BytesMut),
    ) {
        self.make_room(9 + len);
        self.write_header(more, command, len);
        let start = self.inline.len();
        fill(&mut self.inline);
        assert_eq!(
            self.inline.len() - start,
            len,
            "push_frame_with: fill appended the wrong number of bytes"
        );
    }

    /// Appends the header of a frame with a `len`-byte body; true when the body is to
    /// be copied inline, false when it is to be pushed as its own chunk (the inline
    /// buffer was sealed before it).
    fn push_header(&mut self, more: bool, command: bool, len: usize) -> bool {
        let inline = len <= INLINE_THRESHOLD;
        self.make_room(9 + if inline { len } else { 0 });
        self.write_header(more, command, len);
        if inline {
            return true;
        }
        if !self.inline.is_empty() {
            self.chunks.push(self.inline.split().freeze());
        }
        false
    }

    /// Makes room for `need` more bytes in the batch buffer. When they do not fit, the
    /// buffer is sealed as a chunk rather than grown (growing would copy everything
    /// queued so far into a bigger allocation each time) and the next one is reserved:
    /// the current batch size (doubling while busy, up to [`BATCH_BUF`]) or `need` if
    /// larger.
    ///
    /// Inlined into every push: a call per frame costs more than the check (callgrind:
    /// "encode 64 B" +33 % with this and [`FrameEncoder::write_header`] out of line).
    #[inline(always)]
    fn make_room(&mut self, need: usize) {
        if self.inline.capacity() - self.inline.len() < need {
            self.next_batch(need);
        }
    }

    /// Seals the batch buffer as a chunk and reserves the next one (once per batch).
    #[cold]
    #[inline(never)]
    fn next_batch(&mut self, need: usize) {
        if self.alloc == 0 && self.inline.is_empty() {
            self.adopt_pooled();
        }
        if !self.inline.is_empty() {
            self.chunks.push(self.inline.split().freeze());
        }
        let size = if self.batch == 0 {
            BATCH_FIRST
        } else {
            self.batch
        };
        self.inline.reserve(size.max(need));
        self.alloc = self.inline.capacity();
        self.batch = (size * 2).min(BATCH_BUF);
    }

    /// Writes the header into the inline buffer and counts the frame as pending.
    #[inline(always)]
    fn write_header(&mut self, more: bool, command: bool, len: usize) {
        let mut flags = 0u8;
        if more {
            flags |= FLAG_MORE;
        }
        if command {
            flags |= FLAG_COMMAND;
        }
        if len <= 255 {
            self.inline.extend_from_slice(&header(flags, len)[..2]);
        } else {
            self.inline.extend_from_slice(&header(flags, len));
        }
        self.pending += header_len(len) + len;
    }

    /// Appends a frame given as parts.
    pub fn push(&mut self, frame: &Frame) {
        self.push_frame(frame.more, frame.command, &frame.body);
    }

    /// Appends a frame, taking it (see [`FrameEncoder::push_frame_owned`]).
    pub fn push_owned(&mut self, frame: Frame) {
        self.push_frame_owned(frame.more, frame.command, frame.body);
    }

    /// Number of bytes waiting.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Takes everything queued so far.
    pub fn take(&mut self) -> Option<Transmit> {
        if self.pending == 0 {
            return None;
        }
        if !self.inline.is_empty() {
            self.chunks.push(self.inline.split().freeze());
        }
        self.pending = 0;
        let spare = std::mem::take(&mut self.spare);
        Some(Transmit {
            chunks: std::mem::replace(&mut self.chunks, spare),
        })
    }

    /// Gives back the vector of a written [`Transmit`] so the next one reuses its
    /// allocation (its chunks are dropped here). When nothing was queued since that
    /// `Transmit` was taken, the output is idle: buffers larger than needed for a
    /// request or a reply are released.
    pub fn recycle(&mut self, mut chunks: Vec<Bytes>) {
        chunks.clear();
        let idle = self.pending == 0;
        let keep = if idle { IDLE_CHUNKS } else { MAX_RECYCLED };
        if chunks.capacity() > self.spare.capacity() && chunks.capacity() <= keep {
            self.spare = chunks;
        }
        if idle {
            self.batch = BATCH_MIN;
            if self.alloc > BATCH_MIN
                || self.spare.capacity() > IDLE_CHUNKS
                || self.chunks.capacity() > IDLE_CHUNKS
            {
                self.release();
            }
        }
    }

    /// Drops every buffer when nothing is queued, for an output that went quiet (its
    /// owner found nothing more to write and waits): an idle connection then holds no
    /// output buffer at all. The next frame starts again from a 1 KiB buffer.
    /// A connection under load does not get here between its batches.
    ///
    /// A buffer of at most 4 KiB goes to this thread's pool (up to 16 of them), so
    /// that connections that write now and then pass a few buffers around instead of
    /// allocating one for every message.
    pub fn release_idle(&mut self) {
        if self.pending != 0 || (self.alloc == 0 && self.spare.capacity() == 0) {
            return;
        }
        let inline = std::mem::take(&mut self.inline);
        let mut chunks = std::mem::take(&mut self.spare);
        if chunks.capacity() < self.chunks.capacity() {
            chunks = std::mem::take(&mut self.chunks);
        }
        self.chunks = Vec::new();
        let pooled = self.alloc > 0 && self.alloc <= BATCH_MIN && chunks.capacity() <= IDLE_CHUNKS;
        self.alloc = 0;
        self.batch = 0;
        if pooled {
            chunks.clear();
            IDLE_BUFFERS.with(|pool| {
                let mut pool = pool.borrow_mut();
                if pool.len() < POOLED {
                    pool.push((inline, chunks));
                }
            });
        }
    }

    /// Takes a released buffer from this thread's pool, if any (it is reused by the
    /// `reserve` that follows when no frame cut from it is still alive).
    fn adopt_pooled(&mut self) {
        let Some((inline, chunks)) = IDLE_BUFFERS.with(|pool| pool.borrow_mut().pop()) else {
            return;
        };
        self.inline = inline;
        if self.chunks.capacity() == 0 {
            self.chunks = chunks;
        }
    }

    /// Drops the buffers an idle output does not need.
    #[cold]
    fn release(&mut self) {
        if self.alloc > BATCH_MIN {
            self.inline = BytesMut::new();
            self.alloc = 0;
        }
        for v in [&mut self.spare, &mut self.chunks] {
            if v.capacity() > IDLE_CHUNKS {
                *v = Vec::new();
            }
        }
    }

    /// Bytes held: the batch buffer, the chunk vectors (by capacity) and the bytes
    /// queued.
    pub fn held_bytes(&self) -> usize {
        self.alloc.max(self.inline.capacity())
            + (self.chunks.capacity() + self.spare.capacity()) * std::mem::size_of::<Bytes>()
            + self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use proptest::prelude::*;

    fn decode_all(dec: &FrameDecoder, wire: &[u8], chunk: usize) -> Result<Vec<Frame>, Error> {
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for piece in wire.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(f) = dec.decode(&mut buf)? {
                frames.push(f);
            }
        }
        assert!(buf.is_empty(), "leftover bytes");
        Ok(frames)
    }

    #[test]
    fn a_message_encoded_once_is_what_the_encoder_writes() {
        let parts = [
            Bytes::from_static(b"topic"),
            Bytes::from(vec![7u8; 300]),
            Bytes::new(),
            Bytes::from(vec![9u8; 64]),
        ];
        let mut wire = Vec::new();
        assert!(encode_message(&parts, &mut wire));
        let mut e = FrameEncoder::new();
        for (i, p) in parts.iter().enumerate() {
            e.push_frame(i + 1 < parts.len(), false, p);
        }
        assert_eq!(wire, e.take().unwrap().to_vec());
        let mut copied = FrameEncoder::new();
        copied.push_encoded(&wire);
        copied.push_encoded(&wire);
        assert_eq!(copied.pending(), 2 * wire.len());
        assert_eq!(
            copied.take().unwrap().to_vec(),
            [&wire[..], &wire[..]].concat()
        );
        // Too large, or nothing: left to the per-peer encoding.
        let big = [Bytes::from(vec![1u8; INLINE_THRESHOLD + 1])];
        assert!(!encode_message(&big, &mut wire) && wire.is_empty());
        let many = vec![Bytes::from(vec![1u8; 4096]); 5];
        assert!(!encode_message(&many, &mut wire));
        assert!(!encode_message::<Bytes>(&[], &mut wire));
    }

    #[test]
    fn short_and_long_forms() {
        let mut e = FrameEncoder::new();
        e.push_frame(true, false, &Bytes::from(vec![7u8; 255]));
        e.push_frame(false, false, &Bytes::from(vec![8u8; 256]));
        let wire = e.take().unwrap().to_vec();
        assert_eq!(&wire[..2], &[0x01, 0xFF]);
        assert_eq!(&wire[257..266], &[0x02, 0, 0, 0, 0, 0, 0, 1, 0]);
        let frames = decode_all(&FrameDecoder::new(None), &wire, 1000).unwrap();
        assert_eq!(frames.len(), 2);
        assert!(frames[0].more && !frames[1].more);
    }

    #[test]
    fn large_payload_is_a_separate_chunk_sharing_memory() {
        let big = Bytes::from(vec![1u8; INLINE_THRESHOLD + 1]);
        let mut e = FrameEncoder::new();
        e.push_frame(false, false, &Bytes::from_static(b"hi"));
        e.push_frame(false, false, &big);
        e.push_frame(false, false, &Bytes::from_static(b"yo"));
        let t = e.take().unwrap();
        assert_eq!(t.chunks.len(), 3);
        assert_eq!(t.chunks[1].as_ptr(), big.as_ptr());
        assert_eq!(t.len(), 4 + 9 + INLINE_THRESHOLD + 1 + 4);
        assert!(e.take().is_none());
    }

    #[test]
    fn owned_push_matches_borrowed_push_and_moves_large_bodies() {
        let bodies = [
            Bytes::from_static(b"hi"),
            Bytes::from(vec![5u8; INLINE_THRESHOLD + 1]),
            Bytes::from(vec![6u8; 300]),
        ];
        let mut borrowed = FrameEncoder::new();
        let mut owned = FrameEncoder::new();
        for (i, b) in bodies.iter().enumerate() {
            borrowed.push_frame(i < 2, false, b);
            owned.push_owned(Frame {
                more: i < 2,
                command: false,
                body: b.clone(),
            });
        }
        assert_eq!(owned.pending(), borrowed.pending());
        let (o, b) = (owned.take().unwrap(), borrowed.take().unwrap());
        assert_eq!(o.to_vec(), b.to_vec());
        assert!(o.chunks.iter().any(|c| c.as_ptr() == bodies[1].as_ptr()));
    }

    #[test]
    fn recycled_chunk_vectors_are_reused() {
        let big = Bytes::from(vec![1u8; INLINE_THRESHOLD + 1]);
        let mut e = FrameEncoder::new();
        let mut seen = Vec::new();
        for _ in 0..6 {
            e.push_frame(false, false, &Bytes::from_static(b"x"));
            e.push_frame(false, false, &big);
            let t = e.take().unwrap();
            assert_eq!(t.len(), 2 + 1 + 9 + INLINE_THRESHOLD + 1);
            if !seen.contains(&t.chunks.as_ptr()) {
                seen.push(t.chunks.as_ptr());
            }
            e.recycle(t.chunks);
        }
        // Two vectors alternate (one being filled while the other is written).
        assert!(seen.len() <= 2, "{} distinct chunk vectors", seen.len());
        // A vector recycled while the output is busy (recognisable by its capacity)
        // comes back within two takes.
        e.push_frame(false, false, &big);
        e.recycle(Vec::with_capacity(37));
        let caps: Vec<usize> = (0..2)
            .map(|_| {
                let t = e.take().unwrap();
                e.push_frame(false, false, &big);
                let cap = t.chunks.capacity();
                drop(t);
                cap
            })
            .collect();
        assert!(caps.contains(&37), "capacities {caps:?}");
        // An oversized vector is not kept, nor a large one when idle.
        for (busy, cap) in [(true, MAX_RECYCLED + 1), (false, IDLE_CHUNKS + 1)] {
            let mut e = FrameEncoder::new();
            if busy {
                e.push_frame(false, false, &Bytes::from_static(b"y"));
            }
            e.recycle(Vec::with_capacity(cap));
            for _ in 0..2 {
                e.push_frame(false, false, &Bytes::from_static(b"y"));
                assert!(e.take().unwrap().chunks.capacity() < cap);
            }
        }
    }

    #[test]
    fn idle_output_keeps_only_a_small_buffer() {
        let body = Bytes::from(vec![3u8; 100]);
        let mut e = FrameEncoder::new();
        // Busy: batches of 2,000 frames, the next queued before the last is given back.
        for _ in 0..2000 {
            e.push_frame(false, false, &body);
        }
        let mut t = e.take().unwrap();
        for _ in 0..5 {
            for _ in 0..2000 {
                e.push_frame(false, false, &body);
            }
            e.recycle(t.chunks);
            t = e.take().unwrap();
        }
        assert!(t.chunks.len() > 1);
        let busy = e.held_bytes();
        assert!(busy >= BATCH_BUF, "{busy}");
        // The last batch written with nothing queued meanwhile: idle.
        e.recycle(t.chunks);
        let idle = e.held_bytes();
        assert!(
            idle <= BATCH_MIN + 2 * IDLE_CHUNKS * 32,
            "{idle} bytes held while idle"
        );
        // Requests and replies: one small buffer, reused, nothing allocated per message.
        let mut ptrs = Vec::new();
        for _ in 0..50 {
            e.push_frame(false, false, &body);
            let t = e.take().unwrap();
            ptrs.push(t.chunks[0].as_ptr() as usize);
            e.recycle(t.chunks);
            assert!(e.held_bytes() <= BATCH_MIN + 2 * IDLE_CHUNKS * 32);
        }
        let span = ptrs.iter().max().unwrap() - ptrs.iter().min().unwrap();
        assert!(span < BATCH_MIN, "messages were written from one buffer");
        // A large inline frame while idle gets a buffer of its size, released again.
        e.push_frame(false, false, &Bytes::from(vec![1u8; INLINE_THRESHOLD]));
        let t = e.take().unwrap();
        assert_eq!(t.len(), 9 + INLINE_THRESHOLD);
        e.recycle(t.chunks);
        assert!(e.held_bytes() <= 2 * IDLE_CHUNKS * 32, "{}", e.held_bytes());
    }

    #[test]
    fn a_released_idle_output_holds_nothing_and_starts_small_again() {
        let body = Bytes::from(vec![3u8; 100]);
        let mut e = FrameEncoder::new();
        // Not released while something waits to be written.
        e.push_frame(false, false, &body);
        e.release_idle();
        assert_eq!(e.pending(), 102);
        let t = e.take().unwrap();
        assert_eq!(t.to_vec()[2..], body[..]);
        e.recycle(t.chunks);
        assert!(e.held_bytes() > 0);
        // Idle: nothing held.
        e.release_idle();
        assert_eq!(e.held_bytes(), 0);
        // The next message gets a first-size buffer, and the output works as before.
        e.push_frame(true, false, &body);
        e.push_frame(false, false, &Bytes::from(vec![4u8; 5000]));
        assert!(e.held_bytes() >= 5009);
        let t = e.take().unwrap();
        let frames = decode_all(&FrameDecoder::new(None), &t.to_vec(), 4096).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].body, body);
        assert_eq!(frames[1].body[..], [4u8; 5000]);
        assert_eq!(
            t.chunks[0].len(),
            102,
            "the first buffer was sealed, not grown"
        );
    }

    #[test]
    fn released_buffers_pass_between_encoders_of_a_thread() {
        let body = Bytes::from(vec![5u8; 64]);
        let mut a = FrameEncoder::new();
        let mut b = FrameEncoder::new();
        a.push_frame(false, false, &body);
        let t = a.take().unwrap();
        let first = t.chunks[0].as_ptr();
        a.recycle(t.chunks);
        a.release_idle();
        assert_eq!(a.held_bytes(), 0);
        // Another encoder writes from the buffer `a` gave up, from its start.
        b.push_frame(false, false, &body);
        let t = b.take().unwrap();
        assert_eq!(t.chunks[0].as_ptr(), first);
        assert_eq!(t.to_vec()[2..], body[..]);
        // While a frame cut from it is alive, a pooled buffer is not written over.
        b.release_idle();
        a.push_frame(false, false, &Bytes::from(vec![6u8; 64]));
        let u = a.take().unwrap();
        assert_ne!(u.chunks[0].as_ptr(), first);
        assert_eq!(t.to_vec()[2..], body[..]);
        assert_eq!(u.to_vec()[2..], [6u8; 64]);
        // A large buffer is not pooled.
        let mut c = FrameEncoder::new();
        c.push_frame(false, false, &Bytes::from(vec![7u8; INLINE_THRESHOLD]));
        let big = c.take().unwrap();
        let big_ptr = big.chunks[0].as_ptr();
        c.recycle(big.chunks);
        c.release_idle();
        let pooled = IDLE_BUFFERS.with(|p| {
            p.borrow().iter().any(|(buf, _)| {
                buf.as_ptr() <= big_ptr && big_ptr < buf.as_ptr().wrapping_add(INLINE_THRESHOLD + 9)
            })
        });
        assert!(!pooled);
    }

    #[test]
    fn small_frames_fill_fixed_size_batch_buffers() {
        let body = Bytes::from(vec![3u8; 64]);
        let mut e = FrameEncoder::new();
        for i in 0..1000 {
            e.push_frame(i % 2 == 0, false, &body);
        }
        let t = e.take().unwrap();
        assert_eq!(t.len(), 1000 * 66);
        // Sealed buffers, none grown past its size (growing would copy the batch).
        assert!(
            t.chunks.len() >= 66_000 / BATCH_BUF,
            "{} chunks",
            t.chunks.len()
        );
        assert!(t.chunks.iter().all(|c| c.len() <= BATCH_BUF));
        let frames = decode_all(&FrameDecoder::new(None), &t.to_vec(), 4096).unwrap();
        assert_eq!(frames.len(), 1000);
        assert!(frames
            .iter()
            .enumerate()
            .all(|(i, f)| f.more == (i % 2 == 0) && f.body == body));
    }

    #[test]
    fn bodies_filled_in_place_share_the_adaptive_batch_buffer() {
        let fill = |len: usize, byte: u8| move |b: &mut BytesMut| b.put_bytes(byte, len);
        let mut e = FrameEncoder::new();
        // New: the first buffer is BATCH_FIRST, then each full one doubles.
        for _ in 0..100 {
            e.push_frame_with(false, false, 100, fill(100, 1));
        }
        assert!(e.held_bytes() < BATCH_BUF, "{}", e.held_bytes());
        // A body larger than the next batch size gets a buffer of its own size, inline
        // like the rest (no chunk of its own before the batch is sealed).
        e.push_frame_with(true, false, 40_000, fill(40_000, 2));
        e.push_frame_with(false, false, 10, fill(10, 3));
        let t = e.take().unwrap();
        // 1, 2, 4 and 8 KiB for the small ones, one of its size for the large body,
        // the next batch size for the last frame.
        assert!(t.chunks.len() <= 6, "{} chunks", t.chunks.len());
        let frames = decode_all(&FrameDecoder::new(None), &t.to_vec(), 4096).unwrap();
        assert_eq!(frames.len(), 102);
        assert!(frames[..100].iter().all(|f| f.body[..] == [1; 100]));
        assert!(frames[100].more && frames[100].body.len() == 40_000);
        assert_eq!(&frames[101].body[..], &[3; 10]);
        // Written back with nothing queued: idle, the large buffer is released.
        e.recycle(t.chunks);
        assert!(
            e.held_bytes() <= BATCH_MIN + 2 * IDLE_CHUNKS * 32,
            "{}",
            e.held_bytes()
        );
        // Requests and replies sealed in place reuse the small buffer.
        let mut ptrs = Vec::new();
        for _ in 0..50 {
            e.push_frame_with(false, false, 1057, fill(1057, 4));
            let t = e.take().unwrap();
            assert_eq!(t.chunks.len(), 1);
            ptrs.push(t.chunks[0].as_ptr() as usize);
            e.recycle(t.chunks);
        }
        let span = ptrs.iter().max().unwrap() - ptrs.iter().min().unwrap();
        assert!(span < BATCH_MIN, "messages were written from one buffer");
    }

    #[test]
    #[should_panic(expected = "fill appended the wrong number of bytes")]
    fn a_fill_of_the_wrong_length_is_caught() {
        FrameEncoder::new().push_frame_with(false, false, 3, |b| b.put_bytes(0, 2));
    }

    #[test]
    fn in_place_decoding_checks_the_header_first() {
        // The same limits as `decode`, from the header, before the body is held.
        let dec = FrameDecoder::new(Some(100));
        let mut over = BytesMut::from(&b"\x00\x65"[..]);
        assert_eq!(
            dec.decode_mut(&mut over),
            Err(PeerMisbehaved::FrameTooLarge {
                size: 101,
                max: 100
            }
            .into())
        );
        let unlimited = FrameDecoder::new(None);
        for size in [MAX_HOLDABLE + 1, u64::MAX] {
            let mut b = BytesMut::from(&b"\x02"[..]);
            b.extend_from_slice(&size.to_be_bytes());
            assert_eq!(
                unlimited.decode_mut(&mut b),
                Err(PeerMisbehaved::FrameTooLargeToHold { size }.into())
            );
            let h = FrameDecoder::peek_header(&b).unwrap().unwrap();
            assert_eq!(
                FrameDecoder::take_frame_mut(&mut b, h),
                Err(PeerMisbehaved::FrameTooLargeToHold { size }.into())
            );
        }
        // A huge announced size reserves room growing with what arrived.
        let mut huge = BytesMut::from(&b"\x02"[..]);
        huge.extend_from_slice(&MAX_HOLDABLE.to_be_bytes());
        assert_eq!(unlimited.decode_mut(&mut huge), Ok(None));
        assert!(huge.capacity() < 2 * RESERVE_MIN, "{}", huge.capacity());
        // A whole frame: the body alone, mutable, a view of the receive buffer.
        let mut buf = BytesMut::from(&b"\x01\x03abc\x00"[..]);
        let base = buf.as_ptr();
        let (more, command, mut body) = unlimited.decode_mut(&mut buf).unwrap().unwrap();
        assert!(more && !command);
        assert_eq!(
            (&body[..], body.as_ptr()),
            (&b"abc"[..], base.wrapping_add(2))
        );
        body[0] = b'x';
        assert_eq!(&buf[..], b"\x00", "the rest stays");
        // Incomplete: nothing consumed.
        let mut part = BytesMut::from(&b"\x00\x05he"[..]);
        assert_eq!(unlimited.decode_mut(&mut part), Ok(None));
        assert_eq!(part.len(), 4);
    }

    #[test]
    fn decoded_body_is_a_view_of_the_receive_buffer() {
        let mut buf = BytesMut::from(&b"\x00\x05hello\x00\x01"[..]);
        let base = buf.as_ptr();
        let f = FrameDecoder::new(None).decode(&mut buf).unwrap().unwrap();
        assert_eq!(&f.body[..], b"hello");
        assert_eq!(f.body.as_ptr(), base.wrapping_add(2));
        assert_eq!(&buf[..], b"\x00\x01");
    }

    #[test]
    fn bad_headers() {
        let dec = FrameDecoder::new(Some(100));
        let err = |bytes: &[u8]| dec.decode(&mut BytesMut::from(bytes)).unwrap_err();
        assert_eq!(
            err(b"\x08\x00"),
            Error::PeerMisbehaved(PeerMisbehaved::ReservedFlags { flags: 8 })
        );
        assert_eq!(
            err(b"\x05\x00"),
            Error::PeerMisbehaved(PeerMisbehaved::CommandWithMore)
        );
        // Refused from the header alone: no body bytes present, nothing reserved.
        assert_eq!(
            err(b"\x02\xff\xff\xff\xff\xff\xff\xff\xff"),
            Error::PeerMisbehaved(PeerMisbehaved::FrameTooLarge {
                size: u64::MAX,
                max: 100
            })
        );
        assert_eq!(
            err(b"\x00\x65"),
            Error::PeerMisbehaved(PeerMisbehaved::FrameTooLarge {
                size: 101,
                max: 100
            })
        );
        // Exactly at the limit is fine.
        let mut ok = BytesMut::from(&b"\x00\x64"[..]);
        ok.extend_from_slice(&[0; 100]);
        assert_eq!(dec.decode(&mut ok).unwrap().unwrap().body.len(), 100);
        // Unlimited: a size that can be held waits for bytes, with room reserved for
        // what may come next, not for what was announced.
        let unlimited = FrameDecoder::new(None);
        let mut huge = BytesMut::from(&b"\x02"[..]);
        huge.extend_from_slice(&MAX_HOLDABLE.to_be_bytes());
        assert_eq!(unlimited.decode(&mut huge), Ok(None));
        assert!(huge.capacity() < 2 * RESERVE_MIN, "{}", huge.capacity());
        // A size no buffer can hold is refused from the header, with a reason that says
        // so (not "exceeds the limit of 18446744073709551615").
        for size in [MAX_HOLDABLE + 1, i64::MAX as u64, u64::MAX] {
            let mut b = BytesMut::from(&b"\x02"[..]);
            b.extend_from_slice(&size.to_be_bytes());
            let e = unlimited.decode(&mut b).unwrap_err();
            assert_eq!(
                e,
                Error::PeerMisbehaved(PeerMisbehaved::FrameTooLargeToHold { size })
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "peer misbehaved: frame of {size} bytes is larger than any buffer can hold"
                )
            );
        }
    }

    #[test]
    fn reserved_room_grows_with_what_arrived() {
        // A frame announcing 1 GiB: the buffer grows about as fast as bytes arrive.
        let dec = FrameDecoder::new(None);
        let mut buf = BytesMut::from(&b"\x02"[..]);
        buf.extend_from_slice(&(1u64 << 30).to_be_bytes());
        let mut received = 9;
        while received < 8 << 20 {
            assert_eq!(dec.decode(&mut buf), Ok(None));
            assert!(
                buf.capacity() <= 2 * received + 2 * RESERVE_MIN,
                "{} bytes reserved after {received} received",
                buf.capacity()
            );
            // Fill what was reserved, as a reader would.
            let spare = buf.capacity() - buf.len();
            buf.resize(buf.len() + spare, 0);
            received += spare;
        }
        // A header and body that arrive together are decoded without waiting.
        let mut whole = BytesMut::from(&b"\x02\0\0\0\0\0\0\x01\0"[..]);
        whole.extend_from_slice(&[3; 256]);
        assert_eq!(dec.decode(&mut whole).unwrap().unwrap().body.len(), 256);
    }

    #[test]
    fn peek_then_take() {
        let mut buf = BytesMut::from(&b"\x01\x03ab"[..]);
        let h = FrameDecoder::peek_header(&buf).unwrap().unwrap();
        assert_eq!(
            h,
            FrameHeader {
                more: true,
                command: false,
                long: false,
                size: 3
            }
        );
        assert_eq!(FrameDecoder::take_frame(&mut buf, h), Ok(None));
        assert_eq!(buf.len(), 4, "nothing consumed");
        buf.extend_from_slice(b"c");
        let f = FrameDecoder::take_frame(&mut buf, h).unwrap().unwrap();
        assert_eq!((&f.body[..], f.more), (&b"abc"[..], true));
        assert!(buf.is_empty());
        let long = FrameDecoder::peek_header(b"\x06\0\0\0\0\0\0\0\x10")
            .unwrap()
            .unwrap();
        assert!(long.command && long.long && long.size == 16 && long.len() == 9);
        assert_eq!(FrameDecoder::peek_header(b"\x02\0\0"), Ok(None));
    }

    #[test]
    fn an_empty_frame_is_skipped_with_its_header() {
        let mut buf = BytesMut::from(&b"\x01\x00\x00\x02hi"[..]);
        let h = FrameDecoder::peek_header(&buf).unwrap().unwrap();
        let f = FrameDecoder::take_frame(&mut buf, h).unwrap().unwrap();
        assert!(f.body.is_empty() && f.more);
        assert_eq!(&buf[..], b"\x00\x02hi");
        let h = FrameDecoder::peek_header(&buf).unwrap().unwrap();
        let last = FrameDecoder::take_frame(&mut buf, h).unwrap().unwrap();
        assert_eq!((&last.body[..], last.more), (&b"hi"[..], false));
        assert!(buf.is_empty());
    }

    fn arb_frames() -> impl Strategy<Value = Vec<(bool, bool, Vec<u8>)>> {
        prop::collection::vec(
            (
                any::<bool>(),
                any::<bool>(),
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..300),
                    prop::collection::vec(any::<u8>(), 500..1500),
                ],
            )
                .prop_map(|(m, c, b)| (m && !c, c, b)),
            0..12,
        )
    }

    proptest! {
        #[test]
        fn round_trip_whatever_the_split(frames in arb_frames(), chunk in 1usize..700) {
            let mut e = FrameEncoder::new();
            for (m, c, b) in &frames {
                e.push_frame(*m, *c, &Bytes::from(b.clone()));
            }
            let wire = e.take().map(|t| t.to_vec()).unwrap_or_default();
            let whole = decode_all(&FrameDecoder::new(None), &wire, wire.len().max(1)).unwrap();
            let split = decode_all(&FrameDecoder::new(None), &wire, chunk).unwrap();
            prop_assert_eq!(&whole, &split);
            let back: Vec<_> = whole.into_iter().map(|f| (f.more, f.command, f.body.to_vec())).collect();
            prop_assert_eq!(back, frames);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64), chunk in 1usize..16) {
            let _ = decode_all_lossy(&data, chunk);
        }
    }

    fn decode_all_lossy(wire: &[u8], chunk: usize) -> Result<usize, Error> {
        let dec = FrameDecoder::new(Some(1000));
        let mut buf = BytesMut::new();
        let mut n = 0;
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while dec.decode(&mut buf)?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}
