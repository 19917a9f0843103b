//! ZMTP commands. A command body is a 1-byte name length, the name, then the data.
//!
//! Names are compared exactly, as libzmq does.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::PeerMisbehaved;
use crate::metadata::Metadata;

/// Largest PING context; longer contexts are truncated in the PONG, like libzmq.
pub const MAX_PING_CONTEXT: usize = 16;

/// A command the session itself understands (mechanisms parse their own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `READY` + metadata.
    Ready(Metadata),
    /// `ERROR` + 1-byte length + reason.
    Error(Bytes),
    /// `SUBSCRIBE` + topic (ZMTP 3.1).
    Subscribe(Bytes),
    /// `CANCEL` + topic (ZMTP 3.1).
    Cancel(Bytes),
    /// `PING` + TTL in deciseconds + context (0 to 16 bytes).
    Ping {
        /// Time to live, in tenths of a second (0: none).
        ttl: u16,
        /// Opaque context echoed by the PONG.
        context: Bytes,
    },
    /// `PONG` + the PING's context.
    Pong(Bytes),
    /// `JOIN` + group (DISH to RADIO; the length is checked by the RADIO's session).
    Join(Bytes),
    /// `LEAVE` + group (DISH to RADIO).
    Leave(Bytes),
    /// Any other command (mechanism commands, or unknown ones).
    Other {
        /// The name.
        name: Bytes,
        /// The data after the name.
        data: Bytes,
    },
}

/// Splits a command body into name and data, without copying.
pub fn split(body: &Bytes) -> Result<(Bytes, Bytes), PeerMisbehaved> {
    let Some(&n) = body.first() else {
        return Err(PeerMisbehaved::TruncatedCommand);
    };
    let n = usize::from(n);
    if n == 0 || body.len() < 1 + n {
        return Err(PeerMisbehaved::TruncatedCommand);
    }
    Ok((body.slice(1..1 + n), body.slice(1 + n..)))
}

/// Builds a command body from a name and data parts.
pub fn build(name: &str, parts: &[&[u8]]) -> Bytes {
    debug_assert!(name.len() <= 255 && !name.is_empty());
    let len = 1 + name.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = BytesMut::with_capacity(len);
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    for p in parts {
        out.put_slice(p);
    }
    out.freeze()
}

/// Body of a READY (or INITIATE, with `name = "INITIATE"`) command.
pub fn with_metadata(name: &str, meta: &Metadata) -> Bytes {
    let mut out = BytesMut::with_capacity(1 + name.len() + meta.encoded_len());
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    meta.encode(&mut out);
    out.freeze()
}

/// Body of an ERROR command; the reason is cut at 255 bytes.
pub fn error_body(reason: &[u8]) -> Bytes {
    let reason = &reason[..reason.len().min(255)];
    build("ERROR", &[&[reason.len() as u8], reason])
}

/// Parses the data of an ERROR command.
pub fn parse_error(data: &Bytes) -> Result<Bytes, PeerMisbehaved> {
    let malformed = PeerMisbehaved::MalformedCommand { command: "ERROR" };
    let Some(&n) = data.first() else {
        return Err(malformed);
    };
    if data.len() != 1 + usize::from(n) {
        return Err(malformed);
    }
    Ok(data.slice(1..))
}

impl Command {
    /// Parses a command body.
    pub fn decode(body: &Bytes) -> Result<Command, PeerMisbehaved> {
        let (name, data) = split(body)?;
        Ok(match &name[..] {
            b"READY" => Command::Ready(Metadata::decode(&data)?),
            b"ERROR" => Command::Error(parse_error(&data)?),
            b"SUBSCRIBE" => Command::Subscribe(data),
            b"CANCEL" => Command::Cancel(data),
            b"PING" => {
                let Some(ttl) = data.get(..2) else {
                    return Err(PeerMisbehaved::MalformedCommand { command: "PING" });
                };
                let ttl = u16::from_be_bytes([ttl[0], ttl[1]]);
                // libzmq accepts and truncates longer contexts; so do we.
                Command::Ping {
                    ttl,
                    context: data.slice(2..),
                }
            }
            b"PONG" => Command::Pong(data),
            b"JOIN" => Command::Join(data),
            b"LEAVE" => Command::Leave(data),
            _ => Command::Other { name, data },
        })
    }

    /// The command body.
    pub fn encode(&self) -> Bytes {
        match self {
            Command::Ready(meta) => with_metadata("READY", meta),
            Command::Error(reason) => error_body(reason),
            Command::Subscribe(topic) => build("SUBSCRIBE", &[topic]),
            Command::Cancel(topic) => build("CANCEL", &[topic]),
            Command::Ping { ttl, context } => {
                let ctx = &context[..context.len().min(MAX_PING_CONTEXT)];
                build("PING", &[&ttl.to_be_bytes(), ctx])
            }
            Command::Pong(context) => {
                build("PONG", &[&context[..context.len().min(MAX_PING_CONTEXT)]])
            }
            Command::Join(group) => crate::group::membership_command(true, group),
            Command::Leave(group) => crate::group::membership_command(false, group),
            Command::Other { name, data } => {
                let n = &name[..name.len().min(255)];
                let mut out = BytesMut::with_capacity(1 + n.len() + data.len());
                out.put_u8(n.len() as u8);
                out.put_slice(n);
                out.put_slice(data);
                out.freeze()
            }
        }
    }
}

/// The ZMTP 3.0 data-frame form of a subscription: `01` (subscribe) or `00` (cancel)
/// followed by the topic.
pub fn legacy_subscription(subscribe: bool, topic: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(1 + topic.len());
    out.put_u8(u8::from(subscribe));
    out.put_slice(topic);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameEncoder;
    use crate::metadata::{IDENTITY, SOCKET_TYPE};

    fn frame(cmd: &Command) -> Vec<u8> {
        let mut e = FrameEncoder::new();
        e.push_frame(false, true, &cmd.encode());
        e.take().unwrap().to_vec()
    }

    fn ready(socket: &'static [u8], identity: bool) -> Command {
        let mut m = Metadata::new();
        m.insert(SOCKET_TYPE, Bytes::from_static(socket));
        if identity {
            m.insert(IDENTITY, Bytes::new());
        }
        Command::Ready(m)
    }

    #[test]
    fn golden_vectors() {
        let cases: Vec<(Command, &[u8])> = vec![
            (
                ready(b"DEALER", true),
                b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00",
            ),
            (
                ready(b"XPUB", false),
                b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04XPUB",
            ),
            (
                ready(b"SUB", false),
                b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB",
            ),
            (
                Command::Subscribe(Bytes::from_static(b"A")),
                b"\x04\x0b\x09SUBSCRIBE\x41",
            ),
            (
                Command::Ping {
                    ttl: 0,
                    context: Bytes::from_static(b"LOL"),
                },
                b"\x04\x0a\x04PING\x00\x00LOL",
            ),
            (
                Command::Pong(Bytes::from_static(b"LOL")),
                b"\x04\x08\x04PONGLOL",
            ),
            (
                Command::Error(Bytes::from_static(b"400")),
                b"\x04\x0a\x05ERROR\x03400",
            ),
        ];
        for (cmd, wire) in cases {
            assert_eq!(frame(&cmd), wire, "{cmd:?}");
            let body = Bytes::copy_from_slice(&wire[2..]);
            assert_eq!(Command::decode(&body).unwrap(), cmd);
        }
        // 3.0 subscription as a data frame.
        let mut e = FrameEncoder::new();
        e.push_frame(false, false, &legacy_subscription(true, b"A"));
        assert_eq!(e.take().unwrap().to_vec(), b"\x00\x02\x01A");
    }

    #[test]
    fn metadata_names_any_case_in() {
        let body = Bytes::from_static(b"\x05READY\x0bSOCKET-TYPE\x00\x00\x00\x03SUB");
        let Command::Ready(m) = Command::decode(&body).unwrap() else {
            panic!("not READY")
        };
        assert_eq!(m.get(SOCKET_TYPE).unwrap(), &b"SUB"[..]);
    }

    #[test]
    fn truncated_and_malformed() {
        let dec = |b: &'static [u8]| Command::decode(&Bytes::from_static(b));
        assert_eq!(dec(b""), Err(PeerMisbehaved::TruncatedCommand));
        assert_eq!(dec(b"\x00"), Err(PeerMisbehaved::TruncatedCommand));
        assert_eq!(dec(b"\x05READ"), Err(PeerMisbehaved::TruncatedCommand));
        assert_eq!(
            dec(b"\x04PING\x00"),
            Err(PeerMisbehaved::MalformedCommand { command: "PING" })
        );
        assert_eq!(
            dec(b"\x05ERROR\x04400"),
            Err(PeerMisbehaved::MalformedCommand { command: "ERROR" })
        );
        assert_eq!(
            dec(b"\x05READY\x0bSocket-Type\x00\x00\x00\x09SUB"),
            Err(PeerMisbehaved::MalformedMetadata)
        );
        // A long PING context is accepted; our PONG truncates it to 16 bytes.
        let Command::Ping { context, .. } = dec(b"\x04PING\x00\x0a0123456789abcdefXYZ").unwrap()
        else {
            panic!("not PING")
        };
        assert_eq!(
            Command::Pong(context).encode(),
            Bytes::from_static(b"\x04PONG0123456789abcdef")
        );
    }
}
