//! ZMTP metadata: the property lists carried by READY and INITIATE.
//!
//! Wire form of each property: 1-byte name length, name, 4-byte big-endian value length,
//! value. libzmq compares names exactly; the RFC says case-insensitively. We emit the
//! canonical spelling and look names up ignoring ASCII case.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::PeerMisbehaved;

/// Canonical property name of the socket type.
pub const SOCKET_TYPE: &str = "Socket-Type";
/// Canonical property name of the routing id.
pub const IDENTITY: &str = "Identity";
/// Property name the ZAP handler's user id is exposed under.
pub const USER_ID: &str = "User-Id";

/// An ordered list of `(name, value)` properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    props: Vec<(String, Bytes)>,
}

impl Metadata {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a property (names longer than 255 bytes are truncated at encode time
    /// would be wrong, so they are rejected by the caller's option checks).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Bytes>) {
        let name = name.into();
        let value = value.into();
        if let Some(slot) = self
            .props
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            slot.1 = value;
        } else {
            self.props.push((name, value));
        }
    }

    /// The value of `name`, ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// All properties in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.props.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.props.len()
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.props.is_empty()
    }

    /// Number of bytes [`Metadata::encode`] appends.
    pub fn encoded_len(&self) -> usize {
        self.props
            .iter()
            .map(|(n, v)| 1 + n.len() + 4 + v.len())
            .sum()
    }

    /// Appends the wire form.
    pub fn encode(&self, out: &mut BytesMut) {
        for (name, value) in &self.props {
            debug_assert!(name.len() <= 255, "property names are at most 255 bytes");
            out.put_u8(name.len() as u8);
            out.put_slice(name.as_bytes());
            out.put_u32(value.len() as u32);
            out.put_slice(value);
        }
    }

    /// Parses a property list that fills `data` exactly. Values are zero-copy slices.
    pub fn decode(data: &Bytes) -> Result<Self, PeerMisbehaved> {
        let mut props = Vec::new();
        let mut at = 0usize;
        while at < data.len() {
            let name_len = data[at] as usize;
            at += 1;
            if name_len == 0 || data.len() - at < name_len + 4 {
                return Err(PeerMisbehaved::MalformedMetadata);
            }
            let name = std::str::from_utf8(&data[at..at + name_len])
                .map_err(|_| PeerMisbehaved::MalformedMetadata)?
                .to_owned();
            at += name_len;
            let value_len =
                u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
            at += 4;
            if data.len() - at < value_len {
                return Err(PeerMisbehaved::MalformedMetadata);
            }
            props.push((name, data.slice(at..at + value_len)));
            at += value_len;
        }
        // Held for the life of the connection: no spare room.
        props.shrink_to_fit();
        Ok(Metadata { props })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_case_insensitive_lookup() {
        let mut m = Metadata::new();
        m.insert(SOCKET_TYPE, Bytes::from_static(b"DEALER"));
        m.insert(IDENTITY, Bytes::new());
        let mut out = BytesMut::new();
        m.encode(&mut out);
        assert_eq!(
            &out[..],
            b"\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00"
        );
        let back = Metadata::decode(&out.freeze()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.get("socket-type").unwrap(), &b"DEALER"[..]);
    }

    #[test]
    fn truncated_lists_are_rejected() {
        let full = Bytes::from_static(b"\x0bSocket-Type\x00\x00\x00\x06DEALER");
        for cut in 1..full.len() {
            assert_eq!(
                Metadata::decode(&full.slice(..cut)),
                Err(PeerMisbehaved::MalformedMetadata),
                "cut at {cut}"
            );
        }
    }
}
