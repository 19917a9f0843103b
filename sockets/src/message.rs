//! Multipart messages over [`Bytes`].

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use ringmq_zmtp::group::MAX_GROUP_LEN;
use ringmq_zmtp::Metadata;

use crate::error::Error;

/// A multipart message: one or more frames, each a [`Bytes`] (so cloning a message for
/// PUB fan-out copies no payload). A single-frame message needs no allocation besides
/// its payload.
///
/// Received messages carry their peer's properties only when the receiving socket has
/// [`SocketOption::PeerMetadata`](crate::SocketOption::PeerMetadata) set (see
/// [`Message::peer_metadata`]): attaching them costs an atomic reference count
/// increment and decrement per message.
#[derive(Clone)]
pub struct Message {
    frames: Frames,
    /// The sending peer's properties, on messages received with
    /// `SocketOption::PeerMetadata` set.
    peer: Option<Arc<Metadata>>,
    /// RADIO / DISH: the group, out of band (none set: the empty group). Boxed so that
    /// messages of the other types stay one pointer larger, not a `Bytes` larger.
    group: Option<Box<Bytes>>,
    /// SERVER / PEER: the peer's routing id (0: none), out of band.
    routing_id: u32,
}

#[derive(Clone)]
enum Frames {
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Default for Message {
    fn default() -> Self {
        Message {
            frames: Frames::Many(Vec::new()),
            peer: None,
            group: None,
            routing_id: 0,
        }
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.frames() == other.frames() && self.group() == other.group()
    }
}

impl Eq for Message {}

impl Hash for Message {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.frames().hash(state);
        self.group().hash(state);
    }
}

impl Message {
    /// An empty message (no frames; add some before sending).
    pub fn new() -> Self {
        Message::default()
    }

    /// The properties of the peer this message came from, like libzmq's
    /// `zmq_msg_gets`: its READY / INITIATE properties (`Socket-Type`, `Identity`, the
    /// `X-` properties it set with `ZMQ_METADATA`), `Peer-Address` (TCP, bind side:
    /// the IP address), and on an authenticating server `User-Id` plus the ZAP reply's
    /// metadata.
    ///
    /// `None` unless the receiving socket had
    /// [`SocketOption::PeerMetadata`](crate::SocketOption::PeerMetadata) set when the
    /// message arrived (off by default: each message would hold a reference to its
    /// connection's properties, an atomic increment and decrement per message), and on
    /// messages not received from a TCP / IPC peer (built ones, inproc).
    pub fn peer_metadata(&self) -> Option<&Metadata> {
        self.peer.as_deref()
    }

    /// One peer property by name (ASCII case ignored), e.g. `"User-Id"`; see
    /// [`Message::peer_metadata`].
    pub fn peer_property(&self, name: &str) -> Option<&Bytes> {
        self.peer.as_deref()?.get(name)
    }

    /// Attaches the sending peer's properties (shared by all its messages).
    pub(crate) fn set_peer(&mut self, peer: Option<Arc<Metadata>>) {
        self.peer = peer;
    }

    /// The RADIO / DISH group of the message, like libzmq's `zmq_msg_group`: empty
    /// when none was set (a RADIO sends such a message to the group `""`).
    pub fn group(&self) -> &[u8] {
        self.group.as_deref().map_or(&[], |g| &g[..])
    }

    /// Sets the group a RADIO sends the message to, like libzmq's `zmq_msg_set_group`;
    /// at most 255 bytes ([`Error::GroupTooLong`] otherwise, and the message keeps its
    /// group; libzmq 4.3.4 reads the first 255 bytes of a longer string instead).
    pub fn set_group(&mut self, group: impl AsRef<[u8]>) -> Result<(), Error> {
        let group = group.as_ref();
        if group.len() > MAX_GROUP_LEN {
            return Err(Error::GroupTooLong { len: group.len() });
        }
        self.group = (!group.is_empty()).then(|| Box::new(Bytes::copy_from_slice(group)));
        Ok(())
    }

    /// The frame of a one-frame message that carries nothing else (no peer properties,
    /// group or routing id), or the message back: such a message is its frame, so the
    /// inproc pipe moves it as a `Bytes` (32 B, half a cache line) rather than whole.
    #[inline]
    pub(crate) fn into_lone_frame(self) -> Result<Bytes, Message> {
        match self {
            Message {
                frames: Frames::One(frame),
                peer: None,
                group: None,
                routing_id: 0,
            } => Ok(frame),
            msg => Err(msg),
        }
    }

    /// Takes the group out (a RADIO puts it in a frame of its own).
    pub(crate) fn take_group(&mut self) -> Bytes {
        self.group.take().map(|g| *g).unwrap_or_default()
    }

    /// Sets a received group without a copy (the DISH's group frame).
    pub(crate) fn set_group_bytes(&mut self, group: Bytes) {
        debug_assert!(group.len() <= MAX_GROUP_LEN);
        self.group = (!group.is_empty()).then(|| Box::new(group));
    }

    /// Builder form of [`Message::set_group`].
    pub fn with_group(mut self, group: impl AsRef<[u8]>) -> Result<Self, Error> {
        self.set_group(group)?;
        Ok(self)
    }

    /// SERVER and PEER: the routing id of the peer a received message came from, and
    /// the peer a sent one goes to, like libzmq's `zmq_msg_routing_id` (a `u32`, never
    /// 0). `None` when unset.
    pub fn routing_id(&self) -> Option<u32> {
        (self.routing_id != 0).then_some(self.routing_id)
    }

    /// Sets the routing id a SERVER or PEER sends this message to (see
    /// [`Message::routing_id`]); 0 clears it.
    pub fn set_routing_id(&mut self, id: u32) {
        self.routing_id = id;
    }

    /// The message with its routing id set (see [`Message::set_routing_id`]).
    pub fn with_routing_id(mut self, id: u32) -> Self {
        self.routing_id = id;
        self
    }

    /// The frames, in order.
    pub fn frames(&self) -> &[Bytes] {
        match &self.frames {
            Frames::One(b) => std::slice::from_ref(b),
            Frames::Many(v) => v,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames().len()
    }

    /// True when the message has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames().is_empty()
    }

    /// The frame at `index`.
    pub fn get(&self, index: usize) -> Option<&Bytes> {
        self.frames().get(index)
    }

    /// The frames as a vector, for editing.
    fn vec_mut(&mut self) -> &mut Vec<Bytes> {
        if let Frames::One(b) = &mut self.frames {
            let b = std::mem::take(b);
            self.frames = Frames::Many(vec![b]);
        }
        match &mut self.frames {
            Frames::Many(v) => v,
            Frames::One(_) => unreachable!("converted above"),
        }
    }

    /// Appends a frame.
    pub fn push_back(&mut self, frame: impl Into<Bytes>) {
        match &mut self.frames {
            Frames::Many(v) if v.is_empty() => self.frames = Frames::One(frame.into()),
            _ => self.vec_mut().push(frame.into()),
        }
    }

    /// Prepends a frame.
    pub fn push_front(&mut self, frame: impl Into<Bytes>) {
        self.vec_mut().insert(0, frame.into());
    }

    /// Removes and returns the first frame.
    pub fn pop_front(&mut self) -> Option<Bytes> {
        let v = self.vec_mut();
        if v.is_empty() {
            None
        } else {
            Some(v.remove(0))
        }
    }

    /// Removes and returns the last frame.
    pub fn pop_back(&mut self) -> Option<Bytes> {
        self.vec_mut().pop()
    }

    /// Total payload bytes over all frames.
    #[inline]
    pub fn byte_len(&self) -> usize {
        match &self.frames {
            Frames::One(b) => b.len(),
            Frames::Many(v) => v.iter().map(Bytes::len).sum(),
        }
    }

    /// The frames as a vector.
    pub fn into_frames(self) -> Vec<Bytes> {
        match self.frames {
            Frames::One(b) => vec![b],
            Frames::Many(v) => v,
        }
    }

    /// The frames by value as the session takes them, without allocating for a
    /// single-frame message.
    pub(crate) fn into_parts(self) -> ringmq_zmtp::Parts {
        match self.frames {
            Frames::One(b) => ringmq_zmtp::Parts::one(b),
            Frames::Many(v) => v.into(),
        }
    }

    /// Keeps the frames from `at` on, returning the ones before. When one frame is
    /// left (a REQ / REP envelope split off a body) the vector stays with the returned
    /// frames and nothing is allocated.
    pub(crate) fn split_front(&mut self, at: usize) -> Vec<Bytes> {
        let v = self.vec_mut();
        if at + 1 == v.len() {
            let last = v.pop().expect("at + 1 frames");
            let front = std::mem::take(v);
            self.frames = Frames::One(last);
            return front;
        }
        let rest = v.split_off(at);
        std::mem::replace(v, rest)
    }

    /// Takes out the frames for which `pred` holds, in order, keeping the others (and
    /// the peer's properties) in place.
    pub(crate) fn take_frames(&mut self, mut pred: impl FnMut(&Bytes) -> bool) -> Vec<Bytes> {
        let v = self.vec_mut();
        let mut taken = Vec::new();
        let mut kept = Vec::with_capacity(v.len());
        for f in v.drain(..) {
            if pred(&f) {
                taken.push(f);
            } else {
                kept.push(f);
            }
        }
        *v = kept;
        taken
    }

    /// Prepends `front`, reusing its vector (one allocation at most, none when it has
    /// room: an envelope returned by [`Message::split_front`] has room for one frame).
    pub(crate) fn prepend_owned(&mut self, mut front: Vec<Bytes>) {
        match std::mem::replace(&mut self.frames, Frames::Many(Vec::new())) {
            Frames::One(b) => front.push(b),
            Frames::Many(mut v) => front.append(&mut v),
        }
        self.frames = Frames::Many(front);
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for frame in self.frames() {
            if frame.len() <= 64 {
                l.entry(&String::from_utf8_lossy(frame));
            } else {
                l.entry(&format_args!("<{} bytes>", frame.len()));
            }
        }
        l.finish()
    }
}

impl From<Bytes> for Message {
    #[inline]
    fn from(b: Bytes) -> Self {
        Message {
            frames: Frames::One(b),
            peer: None,
            routing_id: 0,
            group: None,
        }
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Bytes::copy_from_slice(s.as_bytes()).into()
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&[u8]> for Message {
    fn from(s: &[u8]) -> Self {
        Bytes::copy_from_slice(s).into()
    }
}

impl<const N: usize> From<&[u8; N]> for Message {
    fn from(s: &[u8; N]) -> Self {
        Bytes::copy_from_slice(s).into()
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<Vec<Bytes>> for Message {
    fn from(frames: Vec<Bytes>) -> Self {
        Message {
            frames: Frames::Many(frames),
            peer: None,
            routing_id: 0,
            group: None,
        }
    }
}

impl From<ringmq_zmtp::Parts> for Message {
    #[inline]
    fn from(parts: ringmq_zmtp::Parts) -> Self {
        let frames = match parts.into_single() {
            Ok(b) => Frames::One(b),
            Err(parts) => Frames::Many(parts.into_vec()),
        };
        Message {
            frames,
            peer: None,
            routing_id: 0,
            group: None,
        }
    }
}

impl<T: Into<Bytes>> FromIterator<T> for Message {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Message {
            frames: Frames::Many(iter.into_iter().map(Into::into).collect()),
            peer: None,
            routing_id: 0,
            group: None,
        }
    }
}

impl IntoIterator for Message {
    type Item = Bytes;
    type IntoIter = std::vec::IntoIter<Bytes>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_frames().into_iter()
    }
}

impl<'a> IntoIterator for &'a Message {
    type Item = &'a Bytes;
    type IntoIter = std::slice::Iter<'a, Bytes>;
    fn into_iter(self) -> Self::IntoIter {
        self.frames().iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_and_splitting() {
        let mut m: Message = ["a", "b"]
            .into_iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        m.push_front(Bytes::from_static(b"id"));
        m.push_back("c".as_bytes().to_vec());
        assert_eq!(m.len(), 4);
        let front = m.split_front(1);
        assert_eq!(front, vec![Bytes::from_static(b"id")]);
        assert_eq!(m.frames()[0], "a");
        m.prepend_owned(front);
        assert_eq!(m.pop_front().unwrap(), "id");
        assert_eq!(m.pop_back().unwrap(), "c");
        assert_eq!(m.byte_len(), 2);
        assert_eq!(format!("{m:?}"), r#"["a", "b"]"#);
    }

    /// Out-of-band fields cost every message: the group is boxed (one pointer), the
    /// routing id a `u32`.
    #[test]
    fn a_message_stays_small() {
        assert!(
            std::mem::size_of::<Message>() <= 56,
            "{}",
            std::mem::size_of::<Message>()
        );
    }

    #[test]
    fn single_frame_and_conversions() {
        let mut m = Message::new();
        assert!(m.is_empty());
        m.push_back("x".as_bytes().to_vec());
        assert_eq!(m.frames(), [Bytes::from_static(b"x")]);
        assert_eq!(m, Message::from("x"));
        m.push_front(Bytes::from_static(b"w"));
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.clone().into_frames(),
            [Bytes::from_static(b"w"), Bytes::from_static(b"x")]
        );
        let mut one = Message::from("only");
        assert_eq!(one.pop_back().unwrap(), "only");
        assert!(one.is_empty());
        assert_eq!(one.pop_front(), None);
        let mut routed = Message::from("to").with_routing_id(7);
        assert_eq!(routed.routing_id(), Some(7));
        routed.set_routing_id(0);
        assert_eq!(routed.routing_id(), None);
        assert_eq!(Message::from("x").routing_id(), None);
        let collected: Vec<Bytes> = Message::from("it").into_iter().collect();
        assert_eq!(collected, [Bytes::from_static(b"it")]);
    }
}
