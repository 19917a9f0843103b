//! The client side of a SOCKS5 handshake (RFC 1928, with RFC 1929's username and
//! password), sans-IO: [`Socks5`] says what to write ([`Socks5::take_output`]) and how
//! many bytes it needs next ([`Socks5::wants`]), and is fed exactly those
//! ([`Socks5::input`]), so that nothing after the proxy's reply is read (the ZMTP
//! greeting of the peer may follow it at once). libzmq's `ZMQ_SOCKS_PROXY`: one
//! method is offered (none, or username/password when a username is set), the
//! request is a CONNECT, and a host name is passed to the proxy unresolved.

use std::fmt;
use std::net::IpAddr;

use ringmq_proactor::Host;

/// Why the handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SocksError {
    /// The proxy does not speak SOCKS5 or sent something malformed.
    Protocol(&'static str),
    /// The proxy accepts none of the methods offered.
    NoAcceptableMethod,
    /// The proxy refused the username and password.
    AuthFailed,
    /// The proxy could not connect to the target (the RFC 1928 reply code).
    Refused(u8),
    /// The target cannot be expressed (a wildcard, a name over 255 bytes).
    BadTarget,
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksError::Protocol(what) => write!(f, "SOCKS5 proxy: {what}"),
            SocksError::NoAcceptableMethod => {
                f.write_str("SOCKS5 proxy: no acceptable authentication method")
            }
            SocksError::AuthFailed => f.write_str("SOCKS5 proxy: authentication failed"),
            SocksError::Refused(code) => {
                let why = match code {
                    1 => "general failure",
                    2 => "connection not allowed by ruleset",
                    3 => "network unreachable",
                    4 => "host unreachable",
                    5 => "connection refused",
                    6 => "TTL expired",
                    7 => "command not supported",
                    8 => "address type not supported",
                    _ => "unknown error",
                };
                write!(f, "SOCKS5 proxy: {why} (reply {code})")
            }
            SocksError::BadTarget => f.write_str("SOCKS5: the target cannot be requested"),
        }
    }
}

impl std::error::Error for SocksError {}

impl From<SocksError> for std::io::Error {
    fn from(e: SocksError) -> Self {
        use std::io::ErrorKind;
        let kind = match e {
            SocksError::Refused(5) => ErrorKind::ConnectionRefused,
            SocksError::Refused(3) => ErrorKind::NetworkUnreachable,
            SocksError::Refused(4) => ErrorKind::HostUnreachable,
            SocksError::AuthFailed | SocksError::NoAcceptableMethod => ErrorKind::PermissionDenied,
            SocksError::BadTarget => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the method choice (2 bytes).
    Choice,
    /// Waiting for the username / password verdict (2 bytes).
    Auth,
    /// Waiting for the head of the CONNECT reply (5 bytes: through the first byte of
    /// the bound address).
    ReplyHead,
    /// Waiting for the rest of the reply (this many bytes).
    ReplyRest(usize),
    Done,
}

/// One SOCKS5 CONNECT handshake (see the module documentation).
pub(crate) struct Socks5 {
    state: State,
    out: Vec<u8>,
    /// The CONNECT request, written once the method is settled.
    request: Vec<u8>,
    /// The username / password message, when that method is offered.
    auth: Option<Vec<u8>>,
}

impl Socks5 {
    /// A handshake asking the proxy to connect to `host:port`, with username /
    /// password authentication when `username` is not empty (each at most 255 bytes).
    pub(crate) fn new(
        host: &Host,
        port: u16,
        username: &[u8],
        password: &[u8],
    ) -> Result<Socks5, SocksError> {
        let mut request = vec![5, 1, 0];
        match host {
            Host::Ip(IpAddr::V4(a)) => {
                request.push(1);
                request.extend_from_slice(&a.octets());
            }
            Host::Ip(IpAddr::V6(a)) => {
                request.push(4);
                request.extend_from_slice(&a.octets());
            }
            Host::Name(name) => {
                let len = u8::try_from(name.len()).map_err(|_| SocksError::BadTarget)?;
                if len == 0 {
                    return Err(SocksError::BadTarget);
                }
                request.push(3);
                request.push(len);
                request.extend_from_slice(name.as_bytes());
            }
            Host::Wildcard => return Err(SocksError::BadTarget),
        }
        request.extend_from_slice(&port.to_be_bytes());
        let auth = if username.is_empty() {
            None
        } else {
            let ulen = u8::try_from(username.len()).map_err(|_| SocksError::BadTarget)?;
            let plen = u8::try_from(password.len()).map_err(|_| SocksError::BadTarget)?;
            let mut m = vec![1, ulen];
            m.extend_from_slice(username);
            m.push(plen);
            m.extend_from_slice(password);
            Some(m)
        };
        let method = if auth.is_some() { 2 } else { 0 };
        Ok(Socks5 {
            state: State::Choice,
            out: vec![5, 1, method],
            request,
            auth,
        })
    }

    /// The bytes to write now (empty when there are none).
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// How many bytes the handshake needs next (0 when it is done): read exactly that
    /// many, no more.
    pub(crate) fn wants(&self) -> usize {
        match self.state {
            State::Choice | State::Auth => 2,
            State::ReplyHead => 5,
            State::ReplyRest(n) => n,
            State::Done => 0,
        }
    }

    /// Whether the proxy has connected us to the target.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes exactly [`Socks5::wants`] bytes.
    pub(crate) fn input(&mut self, data: &[u8]) -> Result<(), SocksError> {
        if data.len() != self.wants() {
            return Err(SocksError::Protocol("fed the wrong number of bytes"));
        }
        match self.state {
            State::Choice => {
                if data[0] != 5 {
                    return Err(SocksError::Protocol("not a SOCKS5 proxy"));
                }
                match (data[1], &mut self.auth) {
                    (0, None) => self.send_request(),
                    (2, auth @ Some(_)) => {
                        self.out = auth.take().unwrap_or_default();
                        self.state = State::Auth;
                    }
                    (0xff, _) => return Err(SocksError::NoAcceptableMethod),
                    _ => return Err(SocksError::Protocol("chose a method not offered")),
                }
            }
            State::Auth => {
                if data[0] != 1 {
                    return Err(SocksError::Protocol("bad authentication reply"));
                }
                if data[1] != 0 {
                    return Err(SocksError::AuthFailed);
                }
                self.send_request();
            }
            State::ReplyHead => {
                if data[0] != 5 || data[2] != 0 {
                    return Err(SocksError::Protocol("bad CONNECT reply"));
                }
                if data[1] != 0 {
                    return Err(SocksError::Refused(data[1]));
                }
                // The bound address (its first byte is in `data[4]`) and port.
                let rest = match data[3] {
                    1 => 3 + 2,
                    4 => 15 + 2,
                    3 => usize::from(data[4]) + 2,
                    _ => return Err(SocksError::Protocol("bad address type in reply")),
                };
                self.state = State::ReplyRest(rest);
            }
            State::ReplyRest(_) => self.state = State::Done,
            State::Done => {}
        }
        Ok(())
    }

    fn send_request(&mut self) {
        self.out = std::mem::take(&mut self.request);
        self.state = State::ReplyHead;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut Socks5, replies: &[&[u8]]) -> Result<Vec<Vec<u8>>, SocksError> {
        let mut written = vec![s.take_output()];
        for r in replies {
            s.input(r)?;
            let out = s.take_output();
            if !out.is_empty() {
                written.push(out);
            }
        }
        Ok(written)
    }

    #[test]
    fn connect_without_authentication_to_a_name() {
        let host = Host::Name("example.org".into());
        let mut s = Socks5::new(&host, 5555, b"", b"").unwrap();
        assert_eq!(s.wants(), 2);
        let w = run(&mut s, &[&[5, 0], &[5, 0, 0, 3, 4], b"abcd\x12\x34"]).unwrap();
        assert_eq!(w[0], [5, 1, 0]);
        let mut req = vec![5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.org");
        req.extend_from_slice(&5555u16.to_be_bytes());
        assert_eq!(w[1], req);
        assert!(s.is_done());
        assert_eq!(s.wants(), 0);
    }

    #[test]
    fn connect_with_username_and_password_to_addresses() {
        let v4 = Host::Ip("10.1.2.3".parse().unwrap());
        let mut s = Socks5::new(&v4, 80, b"user", b"pw").unwrap();
        let w = run(
            &mut s,
            &[&[5, 2], &[1, 0], &[5, 0, 0, 1, 127], &[0, 0, 1, 0, 80]],
        )
        .unwrap();
        assert_eq!(w[0], [5, 1, 2]);
        assert_eq!(w[1], b"\x01\x04user\x02pw");
        assert_eq!(w[2], [5, 1, 0, 1, 10, 1, 2, 3, 0, 80]);
        assert!(s.is_done());
        let v6 = Host::Ip("::1".parse().unwrap());
        let mut s = Socks5::new(&v6, 1, b"", b"").unwrap();
        let w = run(&mut s, &[&[5, 0], &[5, 0, 0, 4, 0], &[0; 17]]).unwrap();
        assert_eq!(&w[1][..4], [5, 1, 0, 4]);
        assert_eq!(w[1].len(), 4 + 16 + 2);
        assert!(s.is_done());
    }

    #[test]
    fn failures_are_typed() {
        let h = Host::Name("h".into());
        let mut s = Socks5::new(&h, 1, b"", b"").unwrap();
        assert_eq!(
            run(&mut s, &[&[4, 0]]),
            Err(SocksError::Protocol("not a SOCKS5 proxy"))
        );
        let mut s = Socks5::new(&h, 1, b"", b"").unwrap();
        assert_eq!(
            run(&mut s, &[&[5, 0xff]]),
            Err(SocksError::NoAcceptableMethod)
        );
        let mut s = Socks5::new(&h, 1, b"", b"").unwrap();
        assert!(matches!(
            run(&mut s, &[&[5, 2]]),
            Err(SocksError::Protocol(_))
        ));
        let mut s = Socks5::new(&h, 1, b"u", b"p").unwrap();
        assert_eq!(
            run(&mut s, &[&[5, 2], &[1, 1]]),
            Err(SocksError::AuthFailed)
        );
        let mut s = Socks5::new(&h, 1, b"", b"").unwrap();
        let e = run(&mut s, &[&[5, 0], &[5, 5, 0, 1, 0]]).unwrap_err();
        assert_eq!(e, SocksError::Refused(5));
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(Socks5::new(&Host::Wildcard, 1, b"", b"").is_err());
        assert!(Socks5::new(&Host::Name("x".repeat(256)), 1, b"", b"").is_err());
        let mut s = Socks5::new(&h, 1, b"", b"").unwrap();
        assert!(s.input(&[5, 0, 0]).is_err(), "more than it wants");
    }
}
