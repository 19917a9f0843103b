//! The frames of one message: [`Frame`] (a payload held inline when small, as shared
//! [`Bytes`] otherwise) and [`Parts`] (the frames of one whole message).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// The largest payload a [`Frame`] holds inline: what fits beside the two bytes of tag
/// and length in the 72 bytes of a frame (libzmq keeps up to 33 bytes inside its
/// 64-byte `zmq_msg_t`; 64-byte messages, the common benchmark, fit here).
pub const FRAME_INLINE_MAX: usize = 70;

/// The payload of one message frame. Derefs to `[u8]`.
///
/// A frame of up to [`FRAME_INLINE_MAX`] bytes built from a slice, a `Vec`, a `String`
/// or received from a peer is held inline: creating, cloning, moving and dropping it
/// costs no allocation and no atomic reference count (a [`Bytes`] view of a receive
/// buffer costs two, one when split off and one when dropped). A larger frame, or any
/// frame built from a [`Bytes`], is held as that [`Bytes`] (zero-copy; a clone is a
/// reference count increment).
///
/// Frames compare, order and hash by content, however they are held. [`Frame::to_bytes`]
/// and `Bytes::from(frame)` give a [`Bytes`] (no copy for a frame held as one).
///
/// Not to be confused with [`crate::frame::Frame`], a decoded wire frame with its flags.
#[derive(Clone)]
pub struct Frame(Body);

#[derive(Clone)]
enum Body {
    Inline(u8, [u8; FRAME_INLINE_MAX]),
    Shared(Bytes),
}

impl Default for Frame {
    fn default() -> Self {
        Frame::new()
    }
}

impl Frame {
    /// An empty frame.
    #[inline]
    pub const fn new() -> Self {
        Frame(Body::Inline(0, [0; FRAME_INLINE_MAX]))
    }

    /// A copy of `data`: inline when it fits, else a new [`Bytes`].
    #[inline]
    pub fn copy_from_slice(data: &[u8]) -> Self {
        if data.len() <= FRAME_INLINE_MAX {
            let mut buf = [0; FRAME_INLINE_MAX];
            buf[..data.len()].copy_from_slice(data);
            Frame(Body::Inline(data.len() as u8, buf))
        } else {
            Frame(Body::Shared(Bytes::copy_from_slice(data)))
        }
    }

    /// The first `len` bytes of `window` as an inline frame: a copy of fixed size (no
    /// length-dependent copy, no zeroing); the bytes of `window` past `len` are held
    /// but never shown.
    #[inline]
    pub(crate) fn from_window(window: &[u8; FRAME_INLINE_MAX], len: usize) -> Self {
        assert!(len <= FRAME_INLINE_MAX);
        Frame(Body::Inline(len as u8, *window))
    }

    /// A frame of static data: inline when it fits, else a [`Bytes::from_static`] (no
    /// copy, no reference count).
    #[inline]
    pub fn from_static(data: &'static [u8]) -> Self {
        if data.len() <= FRAME_INLINE_MAX {
            Frame::copy_from_slice(data)
        } else {
            Frame(Body::Shared(Bytes::from_static(data)))
        }
    }

    /// True when the payload is held inline (see [`FRAME_INLINE_MAX`]).
    #[inline]
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Body::Inline(..))
    }

    /// The payload.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Body::Inline(len, buf) => &buf[..*len as usize],
            Body::Shared(b) => b,
        }
    }

    /// The payload as [`Bytes`]: a clone (reference count increment) of a frame held as
    /// one, a copy of an inline frame.
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Body::Inline(..) => Bytes::copy_from_slice(self.as_slice()),
            Body::Shared(b) => b.clone(),
        }
    }

    /// The payload as [`Bytes`], without a copy for a frame held as one (an inline frame
    /// is copied into a new one).
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Body::Inline(..) => Bytes::copy_from_slice(self.as_slice()),
            Body::Shared(b) => b,
        }
    }

    /// The [`Bytes`] this frame is held as, if it is not inline.
    pub fn as_shared(&self) -> Option<&Bytes> {
        match &self.0 {
            Body::Inline(..) => None,
            Body::Shared(b) => Some(b),
        }
    }

    /// The frame without its first `n` bytes (`n` at most its length).
    pub fn split_off_front(&mut self, n: usize) {
        assert!(n <= self.len(), "split_off_front: {n} > {}", self.len());
        match &mut self.0 {
            Body::Inline(len, buf) => {
                buf.copy_within(n..*len as usize, 0);
                *len -= n as u8;
            }
            Body::Shared(b) => {
                let _ = b.split_to(n);
            }
        }
    }
}

impl Deref for Frame {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Frame {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Frame {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<Bytes> for Frame {
    /// Held as the given [`Bytes`] whatever its size (no copy).
    #[inline]
    fn from(b: Bytes) -> Self {
        Frame(Body::Shared(b))
    }
}

impl From<&Bytes> for Frame {
    /// Copied inline when small (no reference count), else a clone (one increment):
    /// the cheapest frame of a payload the caller keeps, such as one sent repeatedly.
    #[inline]
    fn from(b: &Bytes) -> Self {
        if b.len() <= FRAME_INLINE_MAX {
            Frame::copy_from_slice(b)
        } else {
            Frame(Body::Shared(b.clone()))
        }
    }
}

impl From<Vec<u8>> for Frame {
    /// Copied inline when small (the vector is freed), else the vector's buffer.
    #[inline]
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= FRAME_INLINE_MAX {
            Frame::copy_from_slice(&v)
        } else {
            Frame(Body::Shared(Bytes::from(v)))
        }
    }
}

impl From<String> for Frame {
    fn from(s: String) -> Self {
        s.into_bytes().into()
    }
}

impl From<&[u8]> for Frame {
    #[inline]
    fn from(s: &[u8]) -> Self {
        Frame::copy_from_slice(s)
    }
}

impl<const N: usize> From<&[u8; N]> for Frame {
    #[inline]
    fn from(s: &[u8; N]) -> Self {
        Frame::copy_from_slice(s)
    }
}

impl From<&str> for Frame {
    #[inline]
    fn from(s: &str) -> Self {
        Frame::copy_from_slice(s.as_bytes())
    }
}

impl From<&Frame> for Frame {
    fn from(f: &Frame) -> Self {
        f.clone()
    }
}

impl From<Frame> for Bytes {
    fn from(f: Frame) -> Self {
        f.into_bytes()
    }
}

impl From<Frame> for Vec<u8> {
    fn from(f: Frame) -> Self {
        f.as_slice().to_vec()
    }
}

impl fmt::Debug for Frame {
    /// Like [`Bytes`]: `b"..."` with escapes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"")?;
        for &b in self.as_slice() {
            match b {
                b'\n' => write!(f, "\\n")?,
                b'\r' => write!(f, "\\r")?,
                b'\t' => write!(f, "\\t")?,
                b'\\' | b'"' => write!(f, "\\{}", b as char)?,
                b'\0' => write!(f, "\\0")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        write!(f, "\"")
    }
}

impl PartialEq for Frame {
    #[inline]
    fn eq(&self, other: &Frame) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Frame {}

impl PartialOrd for Frame {
    fn partial_cmp(&self, other: &Frame) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Frame {
    fn cmp(&self, other: &Frame) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for Frame {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// `Frame == T` and `T == Frame` by content.
macro_rules! eq_by_content {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Frame {
            fn eq(&self, other: &$t) -> bool {
                self.as_slice() == AsRef::<[u8]>::as_ref(other)
            }
        }
        impl PartialEq<Frame> for $t {
            fn eq(&self, other: &Frame) -> bool {
                AsRef::<[u8]>::as_ref(self) == other.as_slice()
            }
        }
    )*};
}

eq_by_content!([u8], &[u8], str, &str, Vec<u8>, String, Bytes);

impl<const N: usize> PartialEq<[u8; N]> for Frame {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Frame {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<Frame> for [u8; N] {
    fn eq(&self, other: &Frame) -> bool {
        self[..] == *other.as_slice()
    }
}

impl<const N: usize> PartialEq<Frame> for &[u8; N] {
    fn eq(&self, other: &Frame) -> bool {
        self[..] == *other.as_slice()
    }
}

/// What [`crate::Session::send`] takes as a frame body: [`Frame`] or [`Bytes`].
pub trait FrameBody: Deref<Target = [u8]> {
    /// The body as [`Bytes`] without a copy, for a body large enough to be written from
    /// its own buffer (a [`Bytes`] or a frame held as one); `None` for an inline frame.
    fn shared(&self) -> Option<Bytes>;
}

impl FrameBody for Bytes {
    fn shared(&self) -> Option<Bytes> {
        Some(self.clone())
    }
}

impl FrameBody for Frame {
    fn shared(&self) -> Option<Bytes> {
        self.as_shared().cloned()
    }
}

/// The frames of one whole message, in order. A single-frame message (the common case)
/// is held without a heap allocation of its own; several frames are a `Vec`.
///
/// Derefs to `[Frame]`; [`Parts::into_vec`] and the `From` conversions move between
/// it and `Vec<Frame>`.
#[derive(Clone, Default)]
pub struct Parts(Repr);

#[derive(Clone)]
enum Repr {
    One(Frame),
    Many(Vec<Frame>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Many(Vec::new())
    }
}

impl Parts {
    /// A one-frame message.
    #[inline]
    pub fn one(frame: Frame) -> Self {
        Parts(Repr::One(frame))
    }

    /// The frames as a vector (allocates for a single frame).
    pub fn into_vec(self) -> Vec<Frame> {
        match self.0 {
            Repr::One(b) => vec![b],
            Repr::Many(v) => v,
        }
    }

    /// The single frame of a one-frame message; the parts back otherwise.
    #[inline]
    pub fn into_single(self) -> Result<Frame, Parts> {
        match self.0 {
            Repr::One(b) => Ok(b),
            Repr::Many(mut v) if v.len() == 1 => Ok(v.pop().expect("one frame")),
            repr => Err(Parts(repr)),
        }
    }
}

impl Deref for Parts {
    type Target = [Frame];

    #[inline]
    fn deref(&self) -> &[Frame] {
        match &self.0 {
            Repr::One(b) => std::slice::from_ref(b),
            Repr::Many(v) => v,
        }
    }
}

impl From<Vec<Frame>> for Parts {
    fn from(v: Vec<Frame>) -> Self {
        Parts(Repr::Many(v))
    }
}

/// Each [`Bytes`] becomes a frame held as it is (see [`Frame`]).
impl From<Vec<Bytes>> for Parts {
    fn from(v: Vec<Bytes>) -> Self {
        Parts(Repr::Many(v.into_iter().map(Frame::from).collect()))
    }
}

impl From<Parts> for Vec<Frame> {
    fn from(p: Parts) -> Self {
        p.into_vec()
    }
}

impl fmt::Debug for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when the frames are, however they are held.
impl PartialEq for Parts {
    fn eq(&self, other: &Parts) -> bool {
        **self == **other
    }
}

impl Eq for Parts {}

impl Hash for Parts {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialEq<Vec<Bytes>> for Parts {
    fn eq(&self, other: &Vec<Bytes>) -> bool {
        **self == other[..]
    }
}

impl PartialEq<[Bytes]> for Parts {
    fn eq(&self, other: &[Bytes]) -> bool {
        **self == *other
    }
}

impl IntoIterator for Parts {
    type Item = Frame;
    type IntoIter = std::vec::IntoIter<Frame>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_many_compare_by_frames() {
        let one = Parts::one(Frame::from("a"));
        let many = Parts::from(vec![Bytes::from_static(b"a")]);
        assert_eq!(one, many, "equal however held");
        assert_eq!(one, vec![Bytes::from_static(b"a")]);
        assert_eq!(one.len(), 1);
        assert_eq!(one.clone().into_vec(), many.clone().into_vec());
        assert_eq!(many.into_single(), Ok(Frame::from("a")));
        let two = Parts::from(vec![Frame::new(), Frame::from("b")]);
        assert_eq!(two.len(), 2);
        assert_eq!(two.clone().into_single(), Err(two));
        assert!(Parts::default().is_empty());
    }

    #[test]
    fn small_frames_are_inline_and_large_ones_shared() {
        let small = Frame::from(vec![7u8; FRAME_INLINE_MAX]);
        assert!(small.is_inline());
        assert_eq!(small, [7u8; FRAME_INLINE_MAX]);
        let large = Frame::from(vec![7u8; FRAME_INLINE_MAX + 1]);
        assert!(!large.is_inline());
        let buf = large.as_shared().unwrap().as_ptr();
        assert_eq!(large.clone().into_bytes().as_ptr(), buf, "no copy");
        // A Bytes stays as it is, even a small one (zero-copy as asked).
        let given = Bytes::from_static(b"hi");
        let f = Frame::from(given.clone());
        assert!(!f.is_inline());
        assert_eq!(f, Frame::from("hi"), "equal however held");
        assert_eq!(Frame::from_static(b"hi"), "hi");
        assert!(Frame::from_static(b"hi").is_inline());
        assert_eq!(Bytes::from(Frame::from("hi")), given);
        assert!(
            Frame::from(&given).is_inline(),
            "a borrowed small Bytes is copied"
        );
        let big = Bytes::from(vec![1u8; 100]);
        assert_eq!(
            Frame::from(&big).as_ptr(),
            big.as_ptr(),
            "a large one shared"
        );
        assert_eq!(Frame::new().len(), 0);
        assert_eq!(
            format!("{:?}", Frame::from(&b"a\"\n\x01"[..])),
            format!("{:?}", Bytes::from_static(b"a\"\n\x01"))
        );
        let mut h1 = std::collections::hash_map::DefaultHasher::new();
        let mut h2 = std::collections::hash_map::DefaultHasher::new();
        f.hash(&mut h1);
        Frame::from("hi").hash(&mut h2);
        assert_eq!(h1.finish(), h2.finish());
        let (a, b) = (Frame::from("a"), Frame::from(Bytes::from_static(b"b")));
        assert_eq!(a.cmp(&b), Ordering::Less, "by content");
    }

    #[test]
    fn split_off_front_either_way() {
        let mut small = Frame::from("hello");
        small.split_off_front(2);
        assert_eq!(small, "llo");
        let mut large = Frame::from(vec![1u8; 100]);
        large.split_off_front(99);
        assert_eq!(large, [1u8]);
    }

    /// A frame is 72 bytes: what moves with every message.
    #[test]
    fn a_frame_is_72_bytes() {
        assert_eq!(std::mem::size_of::<Frame>(), 72);
    }
}
