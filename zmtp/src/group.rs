//! RADIO / DISH groups (RFC 48, libzmq's draft types): the JOIN and LEAVE commands and
//! the `udp://` datagram of libzmq's UDP engine.
//!
//! Over a ZMTP connection a DISH sends `JOIN` / `LEAVE` command frames whose data is the
//! group, whatever the peer's ZMTP minor version (libzmq's `dish_session_t` builds them
//! as command frames for 3.0 peers too; there is no data-frame form like the 3.0
//! subscription), and a RADIO sends each message as two frames, the group (with MORE)
//! then the body.
//!
//! Over UDP a message is one datagram: one byte with the group's length, the group,
//! then the body; at most [`MAX_DATAGRAM`] bytes in all.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::PeerMisbehaved;

/// The longest group, in bytes: libzmq's `ZMQ_GROUP_MAX_LENGTH` since 4.3.3, RFC 48's
/// limit (it was 15 in libzmq 4.2 to 4.3.2), and what the datagram's length byte can
/// say.
pub const MAX_GROUP_LEN: usize = 255;

/// The largest datagram libzmq's UDP engine sends or reads (`MAX_UDP_MSG`): the length
/// byte, the group and the body together.
pub const MAX_DATAGRAM: usize = 8192;

/// Checks a group received from a peer (a JOIN, a LEAVE, a group frame, a datagram).
pub fn check_group(group: &[u8]) -> Result<(), PeerMisbehaved> {
    if group.len() > MAX_GROUP_LEN {
        return Err(PeerMisbehaved::GroupTooLong { len: group.len() });
    }
    Ok(())
}

/// The body of a JOIN (`join`) or LEAVE command for `group`.
pub fn membership_command(join: bool, group: &[u8]) -> Bytes {
    let name: &[u8] = if join { b"JOIN" } else { b"LEAVE" };
    let mut out = BytesMut::with_capacity(1 + name.len() + group.len());
    out.put_u8(name.len() as u8);
    out.put_slice(name);
    out.put_slice(group);
    out.freeze()
}

/// A datagram did not hold a RADIO message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatagramError {
    /// The datagram was empty (no group length byte).
    Empty,
    /// The group length byte announced more bytes than the datagram holds.
    Truncated {
        /// The group length announced.
        group_len: usize,
        /// The bytes after the length byte.
        available: usize,
    },
}

impl std::fmt::Display for DatagramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatagramError::Empty => f.write_str("empty datagram"),
            DatagramError::Truncated {
                group_len,
                available,
            } => write!(
                f,
                "datagram announces a {group_len}-byte group but holds {available} bytes"
            ),
        }
    }
}

impl std::error::Error for DatagramError {}

/// Splits a received datagram into group and body, both views of `datagram`.
pub fn decode_datagram(datagram: &Bytes) -> Result<(Bytes, Bytes), DatagramError> {
    let Some(&len) = datagram.first() else {
        return Err(DatagramError::Empty);
    };
    let group_len = usize::from(len);
    let available = datagram.len() - 1;
    if group_len > available {
        return Err(DatagramError::Truncated {
            group_len,
            available,
        });
    }
    Ok((
        datagram.slice(1..1 + group_len),
        datagram.slice(1 + group_len..),
    ))
}

/// The length of the datagram for `group` and `body`, or `None` when it would exceed
/// [`MAX_DATAGRAM`] (libzmq drops such messages) or the group is too long.
pub fn datagram_len(group: &[u8], body: &[u8]) -> Option<usize> {
    let len = 1 + group.len() + body.len();
    (group.len() <= MAX_GROUP_LEN && len <= MAX_DATAGRAM).then_some(len)
}

/// Appends the datagram for `group` and `body` to `out`; false (nothing written) when
/// [`datagram_len`] refuses it.
pub fn encode_datagram(group: &[u8], body: &[u8], out: &mut BytesMut) -> bool {
    if datagram_len(group, body).is_none() {
        return false;
    }
    out.put_u8(group.len() as u8);
    out.put_slice(group);
    out.put_slice(body);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;

    #[test]
    fn join_and_leave_wire_form() {
        // libzmq's dish_session_t: "\4JOIN" / "\5LEAVE" then the group.
        assert_eq!(&membership_command(true, b"tv")[..], b"\x04JOINtv");
        assert_eq!(&membership_command(false, b"tv")[..], b"\x05LEAVEtv");
        assert_eq!(
            Command::decode(&membership_command(true, b"tv")).unwrap(),
            Command::Join(Bytes::from_static(b"tv"))
        );
        assert_eq!(
            Command::decode(&membership_command(false, b"")).unwrap(),
            Command::Leave(Bytes::new())
        );
        assert_eq!(check_group(&[b'g'; 255]), Ok(()));
        assert_eq!(
            check_group(&[b'g'; 256]),
            Err(PeerMisbehaved::GroupTooLong { len: 256 })
        );
    }

    #[test]
    fn datagrams() {
        let mut out = BytesMut::new();
        assert!(encode_datagram(b"tv", b"hello", &mut out));
        assert_eq!(&out[..], b"\x02tvhello");
        let (g, b) = decode_datagram(&out.clone().freeze()).unwrap();
        assert_eq!((&g[..], &b[..]), (&b"tv"[..], &b"hello"[..]));
        // An empty group and an empty body are both allowed.
        let (g, b) = decode_datagram(&Bytes::from_static(b"\x00")).unwrap();
        assert!(g.is_empty() && b.is_empty());
        assert_eq!(decode_datagram(&Bytes::new()), Err(DatagramError::Empty));
        assert_eq!(
            decode_datagram(&Bytes::from_static(b"\x05abc")),
            Err(DatagramError::Truncated {
                group_len: 5,
                available: 3
            })
        );
        // The longest group the length byte can say.
        let mut long = vec![255u8];
        long.extend_from_slice(&[b'x'; 256]);
        let (g, b) = decode_datagram(&Bytes::from(long)).unwrap();
        assert_eq!((g.len(), &b[..]), (255, &b"x"[..]));
        // Size limits: the whole datagram fits in MAX_DATAGRAM, groups in 255 bytes.
        let mut out = BytesMut::new();
        assert!(encode_datagram(b"g", &vec![0; MAX_DATAGRAM - 2], &mut out));
        assert_eq!(out.len(), MAX_DATAGRAM);
        let mut out = BytesMut::new();
        assert!(!encode_datagram(b"g", &vec![0; MAX_DATAGRAM - 1], &mut out));
        assert!(!encode_datagram(&[b'g'; 256], b"", &mut out));
        assert!(out.is_empty());
    }
}
