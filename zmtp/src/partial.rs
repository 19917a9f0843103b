//! The frames received so far of a message whose last frame has not arrived.
//!
//! Decoded frames are views of the receive buffer. A message that completes within
//! one input keeps them that way (no copy). A message still incomplete when the input
//! runs out is *packed*: its small frames are copied into one buffer of records, so
//! that they do not keep a receive buffer alive, and each costs about as many bytes as
//! it took on the wire, instead of a 32-byte `Bytes` handle (an empty frame is two
//! bytes on the wire). So what a peer makes us hold for a message it never finishes
//! stays within twice what it sent (a buffer grows by doubling), plus a constant.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::parts::Parts;

/// Frames smaller than this are copied when packed; larger ones stay views. A frame of
/// at least this size is at least half of a 64 KiB receive buffer, and a buffer grown
/// for a larger frame is at most about twice that frame, so a view never holds more
/// than twice its own size.
pub(crate) const COPY_MAX: usize = 32 * 1024;

/// Frames kept as views before the older ones are packed even within one input: a
/// peer cannot make us hold a handle per two-byte frame for a whole receive buffer.
const FRESH_MAX: usize = 256;

/// The largest frame vector (by capacity) [`Partial::recycle`] keeps: 256 bytes.
const RECYCLE_MAX: usize = 8;

/// A record of `packed` is a LEB128 varint of `len << 1 | is_view`, followed by `len`
/// body bytes when it is not a view. A view record stands for the next frame of
/// `views`. A record is never longer than the frame was on the wire (a 2-byte header
/// for up to 255 bytes, 9 bytes above).
const VIEW: u64 = 1;

#[derive(Debug, Default)]
pub(crate) struct Partial {
    /// The latest frames, in order, as decoded.
    fresh: Vec<Bytes>,
    /// The frames before `fresh`, as records.
    packed: BytesMut,
    /// The large frames referred to by view records, in order.
    views: Vec<Bytes>,
    frames: usize,
    bytes: u64,
}

impl Partial {
    /// Frames held.
    pub(crate) fn frames(&self) -> usize {
        self.frames
    }

    /// Body bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Adds a frame that has MORE set.
    pub(crate) fn push(&mut self, body: Bytes) {
        self.frames += 1;
        self.bytes += body.len() as u64;
        self.fresh.push(body);
        if self.fresh.len() >= FRESH_MAX {
            self.pack();
        }
    }

    /// Copies the small frames of `fresh` into `packed` and moves the large ones to
    /// `views`, so no small frame keeps its receive buffer alive.
    #[inline]
    pub(crate) fn pack(&mut self) {
        if !self.fresh.is_empty() {
            self.pack_fresh();
        }
    }

    fn pack_fresh(&mut self) {
        let need: usize = self
            .fresh
            .iter()
            .map(|b| if b.len() < COPY_MAX { b.len() + 3 } else { 1 })
            .sum();
        self.packed.reserve(need);
        for body in self.fresh.drain(..) {
            if body.len() < COPY_MAX {
                put_varint(&mut self.packed, (body.len() as u64) << 1);
                self.packed.put_slice(&body);
            } else {
                put_varint(&mut self.packed, VIEW);
                self.views.push(body);
            }
        }
        if self.fresh.capacity() > FRESH_MAX {
            self.fresh = Vec::new();
        }
    }

    /// Completes the message with its last frame and leaves `self` empty.
    pub(crate) fn finish(&mut self, last: Bytes) -> Parts {
        if self.packed.is_empty() {
            // All frames arrived in one input: hand the views over as they are.
            self.fresh.push(last);
            self.frames = 0;
            self.bytes = 0;
            return std::mem::take(&mut self.fresh).into();
        }
        let mut out = Vec::with_capacity(self.frames + 1);
        let store = std::mem::take(&mut self.packed).freeze();
        let mut views = std::mem::take(&mut self.views).into_iter();
        let mut at = 0;
        while at < store.len() {
            let record = get_varint(&store, &mut at);
            if record & VIEW != 0 {
                out.push(views.next().expect("a view record has its frame"));
            } else {
                let len = (record >> 1) as usize;
                // An empty slice is `Bytes::new()`: it keeps nothing alive.
                out.push(store.slice(at..at + len));
                at += len;
            }
        }
        out.append(&mut self.fresh);
        out.push(last);
        self.frames = 0;
        self.bytes = 0;
        out.into()
    }

    /// Bytes held, by capacity; a large frame kept as a view by its length (the buffer
    /// it keeps alive is at most about twice that, see [`COPY_MAX`]).
    pub(crate) fn held_bytes(&self) -> usize {
        self.packed.capacity()
            + (self.fresh.capacity() + self.views.capacity()) * std::mem::size_of::<Bytes>()
            + self
                .fresh
                .iter()
                .chain(&self.views)
                .map(Bytes::len)
                .sum::<usize>()
    }

    /// Takes an emptied frame vector (a sent message's) for the next message to fill,
    /// when none is at hand and it is small: a connection that sends and receives
    /// multipart messages in turn (REQ / REP) allocates no vector per message.
    pub(crate) fn recycle(&mut self, mut frames: Vec<Bytes>) {
        if self.fresh.capacity() == 0 && frames.capacity() <= RECYCLE_MAX {
            frames.clear();
            self.fresh = frames;
        }
    }

    /// Drops everything (the session failed).
    pub(crate) fn clear(&mut self) {
        *self = Partial::default();
    }
}

fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8(v as u8 | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Reads a varint written by [`put_varint`] at `*at` and moves past it.
fn get_varint(buf: &Bytes, at: &mut usize) -> u64 {
    let mut rest = &buf[*at..];
    let start = rest.len();
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = rest.get_u8();
        v |= u64::from(b & 0x7F) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    *at += start - rest.len();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(p: Parts) -> Vec<Vec<u8>> {
        p.iter().map(|b| b.to_vec()).collect()
    }

    #[test]
    fn a_recycled_vector_carries_the_next_message() {
        let mut sent = Vec::with_capacity(4);
        sent.push(Bytes::from_static(b"left over"));
        let ptr = sent.as_ptr();
        let mut p = Partial::default();
        p.recycle(sent);
        assert!(p.is_empty());
        p.push(Bytes::new());
        let m = p.finish(Bytes::from_static(b"body")).into_vec();
        assert_eq!(m.as_ptr(), ptr);
        assert_eq!(m, [&b""[..], b"body"]);
        // One at hand already, or a large one: not kept.
        p.push(Bytes::new());
        let held = p.held_bytes();
        p.recycle(Vec::with_capacity(4));
        assert_eq!(p.held_bytes(), held);
        let mut q = Partial::default();
        q.recycle(Vec::with_capacity(RECYCLE_MAX + 1));
        assert_eq!(q.held_bytes(), 0);
    }

    #[test]
    fn unpacked_message_is_handed_over_as_views() {
        let buf = Bytes::from_static(b"abcdef");
        let mut p = Partial::default();
        p.push(buf.slice(0..2));
        p.push(buf.slice(2..2));
        assert_eq!((p.frames(), p.bytes()), (2, 2));
        let m = p.finish(buf.slice(3..6));
        assert_eq!(m[0].as_ptr(), buf.as_ptr());
        assert_eq!(frames(m), [&b"ab"[..], b"", b"def"]);
        assert!(p.is_empty() && p.bytes() == 0);
    }

    #[test]
    fn packed_frames_come_back_in_order_with_large_ones_as_views() {
        let large = Bytes::from(vec![7u8; COPY_MAX]);
        let mid = Bytes::from(vec![5u8; 300]);
        let mut p = Partial::default();
        p.push(Bytes::from_static(b"a"));
        p.push(Bytes::new());
        p.push(large.clone());
        p.pack();
        p.push(mid.clone());
        p.pack();
        p.push(Bytes::from_static(b"fresh"));
        assert_eq!(p.frames(), 5);
        assert_eq!(p.bytes(), (1 + COPY_MAX + 300 + 5) as u64);
        let m = p.finish(Bytes::from_static(b"end"));
        assert_eq!(m.len(), 6);
        assert_eq!(m[2].as_ptr(), large.as_ptr(), "large frame not copied");
        assert_ne!(m[3].as_ptr(), mid.as_ptr(), "small frame copied");
        assert_eq!(
            frames(m),
            [
                b"a".to_vec(),
                vec![],
                large.to_vec(),
                mid.to_vec(),
                b"fresh".to_vec(),
                b"end".to_vec()
            ]
        );
        assert!(p.is_empty());
        // Reusable after finishing.
        p.push(Bytes::from_static(b"x"));
        p.pack();
        assert_eq!(frames(p.finish(Bytes::new())), [b"x".to_vec(), vec![]]);
    }

    #[test]
    fn packed_frames_do_not_keep_the_receive_buffer() {
        let recv = Bytes::from(vec![1u8; 1000]);
        let weak = recv.clone();
        let mut p = Partial::default();
        p.push(recv.slice(0..0));
        p.push(recv.slice(10..20));
        drop(recv);
        p.pack();
        // Only `weak` still refers to the receive buffer.
        assert!(weak.is_unique());
        let m = p.finish(Bytes::new());
        assert_eq!(frames(m), [vec![], vec![1u8; 10], vec![]]);
    }

    #[test]
    fn many_frames_are_packed_without_waiting_for_the_end_of_input() {
        let mut p = Partial::default();
        for _ in 0..FRESH_MAX * 3 + 1 {
            p.push(Bytes::new());
        }
        assert!(p.fresh.len() < FRESH_MAX);
        // One byte per empty frame: half its size on the wire.
        assert_eq!(p.packed.len(), FRESH_MAX * 3);
        let m = p.finish(Bytes::from_static(b"z"));
        assert_eq!(m.len(), FRESH_MAX * 3 + 2);
        assert!(m[..FRESH_MAX * 3 + 1].iter().all(Bytes::is_empty));
    }

    #[test]
    fn varints_round_trip() {
        let mut b = BytesMut::new();
        let values = [0u64, 1, 127, 128, 300, 1 << 20, u64::MAX];
        for v in values {
            put_varint(&mut b, v);
        }
        let b = b.freeze();
        let mut at = 0;
        for v in values {
            assert_eq!(get_varint(&b, &mut at), v);
        }
        assert_eq!(at, b.len());
    }
}
