//! NULL (RFC 37): both sides send READY with their metadata. A server may be told to
//! ask the application for a verdict first (ZAP on NULL), in which case its READY waits
//! for [`Mechanism::auth_result`].

use bytes::Bytes;

use super::{
    deny, expect_command, merge_auth, AuthVerdict, Credentials, HandshakeStatus, Mechanism,
};
use crate::command;
use crate::error::Error;
use crate::metadata::Metadata;

/// The NULL mechanism, client or server.
#[derive(Debug)]
pub struct Null {
    state: State,
}

#[derive(Debug)]
enum State {
    Init(Init),
    AwaitAuth(AwaitAuth),
    AwaitReady(AwaitReady),
    Done,
    Failed,
}

/// Before `start`.
#[derive(Debug)]
struct Init {
    ask_auth: bool,
}

/// Server asked for a verdict; the peer's READY may already be here.
#[derive(Debug)]
struct AwaitAuth {
    local: Metadata,
    peer: Option<Metadata>,
}

/// Our READY is out; waiting for the peer's.
#[derive(Debug)]
struct AwaitReady {
    extra: Option<(Bytes, Metadata)>,
}

impl Init {
    fn start(self, local: &Metadata, out: &mut Vec<Bytes>) -> (State, HandshakeStatus) {
        if self.ask_auth {
            let next = AwaitAuth {
                local: local.clone(),
                peer: None,
            };
            (
                State::AwaitAuth(next),
                HandshakeStatus::NeedsAuth(Credentials::Null),
            )
        } else {
            out.push(command::with_metadata("READY", local));
            (
                State::AwaitReady(AwaitReady { extra: None }),
                HandshakeStatus::InProgress,
            )
        }
    }
}

impl AwaitAuth {
    fn peer_ready(mut self, body: Bytes) -> Result<(State, HandshakeStatus), Error> {
        if self.peer.is_some() {
            return Err(unexpected(&body));
        }
        self.peer = Some(parse_ready(&body)?);
        Ok((State::AwaitAuth(self), HandshakeStatus::InProgress))
    }

    fn verdict(
        self,
        verdict: AuthVerdict,
        out: &mut Vec<Bytes>,
    ) -> Result<(State, HandshakeStatus), Error> {
        let (user_id, metadata) = match verdict {
            AuthVerdict::Allow { user_id, metadata } => (user_id, metadata),
            AuthVerdict::Deny { status } => return Err(deny(status, out)),
        };
        out.push(command::with_metadata("READY", &self.local));
        match self.peer {
            Some(peer) => Ok((
                State::Done,
                HandshakeStatus::Complete(merge_auth(peer, Some((user_id, metadata)))),
            )),
            None => Ok((
                State::AwaitReady(AwaitReady {
                    extra: Some((user_id, metadata)),
                }),
                HandshakeStatus::InProgress,
            )),
        }
    }
}

impl AwaitReady {
    fn peer_ready(self, body: Bytes) -> Result<(State, HandshakeStatus), Error> {
        let peer = parse_ready(&body)?;
        Ok((
            State::Done,
            HandshakeStatus::Complete(merge_auth(peer, self.extra)),
        ))
    }
}

fn parse_ready(body: &Bytes) -> Result<Metadata, Error> {
    let data = expect_command(body, "READY")?;
    Ok(Metadata::decode(&data)?)
}

fn unexpected(body: &Bytes) -> Error {
    super::unexpected(body)
}

impl Null {
    /// NULL for a client, or a server that accepts every peer without asking.
    pub fn new() -> Self {
        Null {
            state: State::Init(Init { ask_auth: false }),
        }
    }

    /// NULL for a server that reports [`HandshakeStatus::NeedsAuth`] with
    /// [`Credentials::Null`] before sending READY (libzmq's ZAP on NULL).
    pub fn with_auth() -> Self {
        Null {
            state: State::Init(Init { ask_auth: true }),
        }
    }

    fn step(
        &mut self,
        f: impl FnOnce(State) -> Result<(State, HandshakeStatus), Error>,
    ) -> Result<HandshakeStatus, Error> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let (next, status) = f(state)?;
        self.state = next;
        Ok(status)
    }
}

impl Default for Null {
    fn default() -> Self {
        Self::new()
    }
}

impl Mechanism for Null {
    fn name(&self) -> &'static [u8] {
        b"NULL"
    }

    fn as_server(&self) -> bool {
        false
    }

    fn start(&mut self, local: &Metadata, out: &mut Vec<Bytes>) -> Result<HandshakeStatus, Error> {
        self.step(|s| match s {
            State::Init(init) => Ok(init.start(local, out)),
            _ => Err(Error::SessionFailed),
        })
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        _out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        self.step(|s| match s {
            State::AwaitAuth(st) => st.peer_ready(body),
            State::AwaitReady(st) => st.peer_ready(body),
            _ => Err(unexpected(&body)),
        })
    }

    fn auth_result(
        &mut self,
        verdict: AuthVerdict,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        match state {
            State::AwaitAuth(st) => {
                let (next, status) = st.verdict(verdict, out)?;
                self.state = next;
                Ok(status)
            }
            other => {
                self.state = other;
                Err(Error::NoAuthPending)
            }
        }
    }
}
