//! PLAIN (RFC 24, as libzmq speaks it): client HELLO(username, password), server
//! WELCOME, client INITIATE(metadata), server READY(metadata). The server asks for a
//! verdict on the credentials ([`HandshakeStatus::NeedsAuth`]) before its WELCOME.

use bytes::Bytes;

use super::{
    deny, expect_command, merge_auth, AuthVerdict, Credentials, HandshakeStatus, Mechanism,
};
use crate::command;
use crate::error::{Error, PeerMisbehaved};
use crate::metadata::Metadata;

/// PLAIN client.
#[derive(Debug)]
pub struct PlainClient {
    state: ClientState,
}

#[derive(Debug)]
enum ClientState {
    Init(ClientInit),
    ExpectWelcome(ExpectWelcome),
    ExpectReady(ExpectReady),
    Done,
    Failed,
}

#[derive(Debug)]
struct ClientInit {
    username: Bytes,
    password: Bytes,
}

#[derive(Debug)]
struct ExpectWelcome {
    local: Metadata,
}

#[derive(Debug)]
struct ExpectReady;

impl ClientInit {
    fn start(self, local: &Metadata, out: &mut Vec<Bytes>) -> ClientState {
        let (u, p) = (&self.username[..], &self.password[..]);
        out.push(command::build(
            "HELLO",
            &[&[u.len() as u8], u, &[p.len() as u8], p],
        ));
        ClientState::ExpectWelcome(ExpectWelcome {
            local: local.clone(),
        })
    }
}

impl ExpectWelcome {
    fn welcome(self, body: &Bytes, out: &mut Vec<Bytes>) -> Result<ClientState, Error> {
        let data = expect_command(body, "WELCOME")?;
        if !data.is_empty() {
            return Err(PeerMisbehaved::MalformedCommand { command: "WELCOME" }.into());
        }
        out.push(command::with_metadata("INITIATE", &self.local));
        Ok(ClientState::ExpectReady(ExpectReady))
    }
}

impl ExpectReady {
    fn ready(self, body: &Bytes) -> Result<(ClientState, HandshakeStatus), Error> {
        let data = expect_command(body, "READY")?;
        let peer = Metadata::decode(&data)?;
        Ok((ClientState::Done, HandshakeStatus::Complete(peer)))
    }
}

impl PlainClient {
    /// A client presenting these credentials (each at most 255 bytes).
    pub fn new(username: impl Into<Bytes>, password: impl Into<Bytes>) -> Result<Self, Error> {
        let (username, password) = (username.into(), password.into());
        if username.len() > 255 || password.len() > 255 {
            return Err(Error::CredentialTooLong);
        }
        Ok(PlainClient {
            state: ClientState::Init(ClientInit { username, password }),
        })
    }
}

impl Mechanism for PlainClient {
    fn name(&self) -> &'static [u8] {
        b"PLAIN"
    }

    fn as_server(&self) -> bool {
        false
    }

    fn start(&mut self, local: &Metadata, out: &mut Vec<Bytes>) -> Result<HandshakeStatus, Error> {
        match std::mem::replace(&mut self.state, ClientState::Failed) {
            ClientState::Init(init) => {
                self.state = init.start(local, out);
                Ok(HandshakeStatus::InProgress)
            }
            _ => Err(Error::SessionFailed),
        }
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        match std::mem::replace(&mut self.state, ClientState::Failed) {
            ClientState::ExpectWelcome(st) => {
                self.state = st.welcome(&body, out)?;
                Ok(HandshakeStatus::InProgress)
            }
            ClientState::ExpectReady(st) => {
                let (next, status) = st.ready(&body)?;
                self.state = next;
                Ok(status)
            }
            _ => Err(super::unexpected(&body)),
        }
    }

    fn auth_result(
        &mut self,
        _verdict: AuthVerdict,
        _out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        Err(Error::NoAuthPending)
    }
}

/// PLAIN server.
#[derive(Debug)]
pub struct PlainServer {
    state: ServerState,
}

#[derive(Debug)]
enum ServerState {
    Init,
    ExpectHello(ExpectHello),
    AwaitAuth(AwaitAuth),
    ExpectInitiate(ExpectInitiate),
    Done,
    Failed,
}

#[derive(Debug)]
struct ExpectHello {
    local: Metadata,
}

#[derive(Debug)]
struct AwaitAuth {
    local: Metadata,
}

#[derive(Debug)]
struct ExpectInitiate {
    local: Metadata,
    user_id: Bytes,
    extra: Metadata,
}

impl ExpectHello {
    fn hello(self, body: &Bytes) -> Result<(ServerState, HandshakeStatus), Error> {
        let data = expect_command(body, "HELLO")?;
        let malformed = || Error::from(PeerMisbehaved::MalformedCommand { command: "HELLO" });
        let ulen = usize::from(*data.first().ok_or_else(malformed)?);
        let plen_at = 1 + ulen;
        let plen = usize::from(*data.get(plen_at).ok_or_else(malformed)?);
        if data.len() != plen_at + 1 + plen {
            return Err(malformed());
        }
        let credentials = Credentials::Plain {
            username: data.slice(1..plen_at),
            password: data.slice(plen_at + 1..),
        };
        Ok((
            ServerState::AwaitAuth(AwaitAuth { local: self.local }),
            HandshakeStatus::NeedsAuth(credentials),
        ))
    }
}

impl AwaitAuth {
    fn verdict(self, verdict: AuthVerdict, out: &mut Vec<Bytes>) -> Result<ServerState, Error> {
        match verdict {
            AuthVerdict::Allow { user_id, metadata } => {
                out.push(command::build("WELCOME", &[]));
                Ok(ServerState::ExpectInitiate(ExpectInitiate {
                    local: self.local,
                    user_id,
                    extra: metadata,
                }))
            }
            AuthVerdict::Deny { status } => Err(deny(status, out)),
        }
    }
}

impl ExpectInitiate {
    fn initiate(
        self,
        body: &Bytes,
        out: &mut Vec<Bytes>,
    ) -> Result<(ServerState, HandshakeStatus), Error> {
        let data = expect_command(body, "INITIATE")?;
        let peer = Metadata::decode(&data)?;
        out.push(command::with_metadata("READY", &self.local));
        let peer = merge_auth(peer, Some((self.user_id, self.extra)));
        Ok((ServerState::Done, HandshakeStatus::Complete(peer)))
    }
}

impl PlainServer {
    /// A PLAIN server.
    pub fn new() -> Self {
        PlainServer {
            state: ServerState::Init,
        }
    }
}

impl Default for PlainServer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mechanism for PlainServer {
    fn name(&self) -> &'static [u8] {
        b"PLAIN"
    }

    fn as_server(&self) -> bool {
        true
    }

    fn start(&mut self, local: &Metadata, _out: &mut Vec<Bytes>) -> Result<HandshakeStatus, Error> {
        match std::mem::replace(&mut self.state, ServerState::Failed) {
            ServerState::Init => {
                self.state = ServerState::ExpectHello(ExpectHello {
                    local: local.clone(),
                });
                Ok(HandshakeStatus::InProgress)
            }
            _ => Err(Error::SessionFailed),
        }
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        let (next, status) = match std::mem::replace(&mut self.state, ServerState::Failed) {
            ServerState::ExpectHello(st) => st.hello(&body)?,
            ServerState::ExpectInitiate(st) => st.initiate(&body, out)?,
            _ => return Err(super::unexpected(&body)),
        };
        self.state = next;
        Ok(status)
    }

    fn auth_result(
        &mut self,
        verdict: AuthVerdict,
        out: &mut Vec<Bytes>,
    ) -> Result<HandshakeStatus, Error> {
        match std::mem::replace(&mut self.state, ServerState::Failed) {
            ServerState::AwaitAuth(st) => {
                self.state = st.verdict(verdict, out)?;
                Ok(HandshakeStatus::InProgress)
            }
            other => {
                self.state = other;
                Err(Error::NoAuthPending)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> AuthVerdict {
        AuthVerdict::Allow {
            user_id: Bytes::from_static(b"alice"),
            metadata: Metadata::new(),
        }
    }

    #[test]
    fn full_exchange_by_hand() {
        let mut local = Metadata::new();
        local.insert("Socket-Type", Bytes::from_static(b"REQ"));
        let mut c = PlainClient::new("admin", "secret").unwrap();
        let mut s = PlainServer::new();
        let (mut to_s, mut to_c) = (Vec::new(), Vec::new());
        assert_eq!(
            c.start(&local, &mut to_s).unwrap(),
            HandshakeStatus::InProgress
        );
        assert_eq!(
            s.start(&local, &mut to_c).unwrap(),
            HandshakeStatus::InProgress
        );
        assert_eq!(&to_s[0][..], b"\x05HELLO\x05admin\x06secret");
        let st = s.handle_command(to_s.remove(0), &mut to_c).unwrap();
        assert_eq!(
            st,
            HandshakeStatus::NeedsAuth(Credentials::Plain {
                username: Bytes::from_static(b"admin"),
                password: Bytes::from_static(b"secret"),
            })
        );
        assert_eq!(
            s.auth_result(allow(), &mut to_c).unwrap(),
            HandshakeStatus::InProgress
        );
        assert_eq!(&to_c[0][..], b"\x07WELCOME");
        c.handle_command(to_c.remove(0), &mut to_s).unwrap();
        assert!(to_s[0].starts_with(b"\x08INITIATE"));
        let HandshakeStatus::Complete(peer) = s.handle_command(to_s.remove(0), &mut to_c).unwrap()
        else {
            panic!("server not complete")
        };
        assert_eq!(peer.get("User-Id").unwrap(), &b"alice"[..]);
        let HandshakeStatus::Complete(_) = c.handle_command(to_c.remove(0), &mut to_s).unwrap()
        else {
            panic!("client not complete")
        };
    }

    #[test]
    fn malformed_hello_and_denials() {
        let local = Metadata::new();
        for bad in [
            &b"\x05HELLO"[..],
            b"\x05HELLO\x05adm",
            b"\x05HELLO\x01a\x01bc",
        ] {
            let mut s = PlainServer::new();
            s.start(&local, &mut Vec::new()).unwrap();
            assert_eq!(
                s.handle_command(Bytes::copy_from_slice(bad), &mut Vec::new()),
                Err(PeerMisbehaved::MalformedCommand { command: "HELLO" }.into())
            );
        }
        for (status, sent) in [
            (300u16, None),
            (400, Some(&b"\x05ERROR\x03400"[..])),
            (500, Some(b"\x05ERROR\x03500")),
        ] {
            let mut s = PlainServer::new();
            s.start(&local, &mut Vec::new()).unwrap();
            s.handle_command(Bytes::from_static(b"\x05HELLO\x00\x00"), &mut Vec::new())
                .unwrap();
            let mut out = Vec::new();
            assert_eq!(
                s.auth_result(AuthVerdict::Deny { status }, &mut out),
                Err(Error::AuthDenied { status })
            );
            assert_eq!(out.first().map(|b| &b[..]), sent);
        }
        assert!(PlainClient::new(vec![0u8; 256], "").is_err());
    }
}
