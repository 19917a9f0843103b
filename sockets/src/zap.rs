//! ZAP (RFC 27): the application's authenticator, installed on a
//! [`Context`](crate::Context) with [`Context::set_zap_handler`](crate::Context::set_zap_handler).
//!
//! libzmq talks to its handler over `inproc://zeromq.zap.01`; ringmq calls an async
//! [`ZapHandler`] directly with the same request fields and takes the same reply. The
//! semantics follow libzmq 4.3:
//!
//! - NULL servers ask the handler only when `ZMQ_ZAP_DOMAIN` is set and a handler is
//!   installed (with `ZMQ_ZAP_ENFORCE_DOMAIN` and no handler they refuse);
//! - PLAIN servers always ask; with no handler installed they refuse every client;
//! - CURVE servers ask when a handler is installed; with none they accept any client
//!   key (unless `ZMQ_ZAP_ENFORCE_DOMAIN`);
//! - status `200` accepts (the reply's user id and metadata become the peer's
//!   `User-Id` and properties, see [`Message::peer_property`](crate::Message::peer_property)),
//!   `400` and `500` refuse with an ERROR carrying the code, `300` refuses sending
//!   nothing. Any other code counts as `500`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;
pub use ringmq_zmtp::{Credentials, Metadata};

/// A boxed, single-threaded future, as [`ZapHandler::authenticate`] returns.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// One ZAP request (RFC 27 fields).
#[derive(Clone, PartialEq, Eq)]
pub struct ZapRequest {
    /// `ZMQ_ZAP_DOMAIN` of the server socket (may be empty).
    pub domain: String,
    /// The client's IP address without port (`"127.0.0.1"`), or empty for IPC, as libzmq
    /// sends it.
    pub address: String,
    /// The server socket's own `ZMQ_ROUTING_ID` (libzmq sends this, not the client's).
    pub routing_id: Bytes,
    /// `"NULL"`, `"PLAIN"` or `"CURVE"`.
    pub mechanism: &'static str,
    /// What the client presented.
    pub credentials: Credentials,
}

impl fmt::Debug for ZapRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let creds = match &self.credentials {
            Credentials::Plain { username, .. } => {
                format!("Plain {{ username: {username:?}, password: <redacted> }}")
            }
            other => format!("{other:?}"),
        };
        f.debug_struct("ZapRequest")
            .field("domain", &self.domain)
            .field("address", &self.address)
            .field("routing_id", &self.routing_id)
            .field("mechanism", &self.mechanism)
            .field("credentials", &creds)
            .finish()
    }
}

/// A ZAP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZapReply {
    /// `200` (accepted), `300` (temporary failure), `400` (refused) or `500` (internal
    /// error).
    pub status: u16,
    /// Free text (not sent to the peer, as in libzmq).
    pub status_text: String,
    /// The user id, exposed as the peer's `User-Id` property when not empty.
    pub user_id: Bytes,
    /// Extra properties exposed as the peer's metadata.
    pub metadata: Metadata,
}

impl ZapReply {
    /// `200 OK` with a user id.
    pub fn allow(user_id: impl Into<Bytes>) -> Self {
        ZapReply {
            status: 200,
            status_text: "OK".into(),
            user_id: user_id.into(),
            metadata: Metadata::new(),
        }
    }

    /// A refusal with `status` (300, 400 or 500) and a reason.
    pub fn deny(status: u16, reason: impl Into<String>) -> Self {
        ZapReply {
            status,
            status_text: reason.into(),
            user_id: Bytes::new(),
            metadata: Metadata::new(),
        }
    }

    /// Adds a metadata property to the reply.
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.metadata.insert(name, value);
        self
    }
}

/// An authenticator: answers ZAP requests, possibly asynchronously (it runs on the
/// socket's thread, like everything else in a context). While it has not answered, the
/// client's connection stays in its handshake (bounded by `ZMQ_HANDSHAKE_IVL`) and no
/// more bytes are read from it.
///
/// Closures `Fn(ZapRequest) -> impl Future<Output = ZapReply>` implement it.
pub trait ZapHandler {
    /// Decides on one request.
    fn authenticate(&self, request: ZapRequest) -> LocalBoxFuture<'_, ZapReply>;
}

impl<F, Fut> ZapHandler for F
where
    F: Fn(ZapRequest) -> Fut,
    Fut: Future<Output = ZapReply> + 'static,
{
    fn authenticate(&self, request: ZapRequest) -> LocalBoxFuture<'_, ZapReply> {
        Box::pin(self(request))
    }
}

impl<H: ZapHandler + ?Sized> ZapHandler for Rc<H> {
    fn authenticate(&self, request: ZapRequest) -> LocalBoxFuture<'_, ZapReply> {
        (**self).authenticate(request)
    }
}

/// The handler slot shared by a context and its sockets.
#[derive(Clone, Default)]
pub(crate) struct ZapSlot(Rc<RefCell<Option<Rc<dyn ZapHandler>>>>);

impl ZapSlot {
    pub(crate) fn set(&self, handler: Option<Rc<dyn ZapHandler>>) {
        *self.0.borrow_mut() = handler;
    }

    pub(crate) fn get(&self) -> Option<Rc<dyn ZapHandler>> {
        self.0.borrow().clone()
    }
}

impl fmt::Debug for ZapSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.borrow().is_some() {
            "ZapSlot(handler)"
        } else {
            "ZapSlot(none)"
        })
    }
}

/// A ready-made [`ZapHandler`] like pyzmq's `zmq.auth`: address allow / deny lists,
/// PLAIN passwords and CURVE public keys. Share it as `Rc<Authenticator>` to change the
/// lists while sockets run.
///
/// Decision, in order:
/// 1. an address on the deny list is refused (the deny list wins);
/// 2. when the allow list is not empty, an address not on it is refused;
/// 3. NULL is then accepted; PLAIN needs a known username with its password (the user
///    id is the username); CURVE needs an allowed public key (or "allow any"; the user
///    id is the key in Z85).
///
/// Refusals answer `400`. Domains are not distinguished: one set of lists serves all.
#[derive(Default)]
pub struct Authenticator {
    lists: RefCell<Lists>,
}

#[derive(Default)]
struct Lists {
    allow: HashSet<String>,
    deny: HashSet<String>,
    passwords: HashMap<Bytes, Bytes>,
    curve_keys: HashSet<[u8; 32]>,
    curve_any: bool,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.lists.borrow();
        f.debug_struct("Authenticator")
            .field("allow", &l.allow)
            .field("deny", &l.deny)
            .field("plain_users", &l.passwords.len())
            .field("curve_keys", &l.curve_keys.len())
            .field("curve_any", &l.curve_any)
            .finish()
    }
}

impl Authenticator {
    /// An authenticator with empty lists: accepts NULL, refuses PLAIN and CURVE.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows an IP address (as text, `"127.0.0.1"`); once one is allowed, all others
    /// are refused.
    pub fn allow(&self, address: impl Into<String>) -> &Self {
        self.lists.borrow_mut().allow.insert(address.into());
        self
    }

    /// Refuses an IP address, whatever else applies.
    pub fn deny(&self, address: impl Into<String>) -> &Self {
        self.lists.borrow_mut().deny.insert(address.into());
        self
    }

    /// Accepts PLAIN `username` with `password` (replacing an earlier password).
    pub fn add_plain_user(&self, username: impl Into<Bytes>, password: impl Into<Bytes>) -> &Self {
        self.lists
            .borrow_mut()
            .passwords
            .insert(username.into(), password.into());
        self
    }

    /// Stops accepting PLAIN `username`.
    pub fn remove_plain_user(&self, username: &[u8]) -> &Self {
        self.lists.borrow_mut().passwords.remove(username);
        self
    }

    /// Accepts CURVE clients with this public key.
    pub fn allow_curve_key(&self, key: &crate::CurveKey) -> &Self {
        self.lists.borrow_mut().curve_keys.insert(*key.as_bytes());
        self
    }

    /// Stops accepting this CURVE public key.
    pub fn remove_curve_key(&self, key: &crate::CurveKey) -> &Self {
        self.lists.borrow_mut().curve_keys.remove(key.as_bytes());
        self
    }

    /// Accepts any CURVE client key (pyzmq's `CURVE_ALLOW_ANY`): the client must still
    /// know the server's public key.
    pub fn allow_any_curve_key(&self, any: bool) -> &Self {
        self.lists.borrow_mut().curve_any = any;
        self
    }

    /// The decision for one request.
    pub fn decide(&self, request: &ZapRequest) -> ZapReply {
        let l = self.lists.borrow();
        if l.deny.contains(&request.address) {
            return ZapReply::deny(400, "address is denied");
        }
        if !l.allow.is_empty() && !l.allow.contains(&request.address) {
            return ZapReply::deny(400, "address not in the allow list");
        }
        match &request.credentials {
            Credentials::Null => ZapReply::allow(Bytes::new()),
            Credentials::Plain { username, password } => match l.passwords.get(username) {
                Some(p) if p == password => ZapReply::allow(username.clone()),
                _ => ZapReply::deny(400, "invalid username or password"),
            },
            Credentials::Curve { public_key } => {
                if l.curve_any || l.curve_keys.contains(public_key) {
                    let id = crate::CurveKey::from_bytes(*public_key).to_z85();
                    ZapReply::allow(id)
                } else {
                    ZapReply::deny(400, "unknown public key")
                }
            }
        }
    }
}

impl ZapHandler for Authenticator {
    fn authenticate(&self, request: ZapRequest) -> LocalBoxFuture<'_, ZapReply> {
        let reply = self.decide(&request);
        Box::pin(async move { reply })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CurveKey;

    fn req(address: &str, credentials: Credentials) -> ZapRequest {
        ZapRequest {
            domain: String::new(),
            address: address.into(),
            routing_id: Bytes::new(),
            mechanism: "PLAIN",
            credentials,
        }
    }

    fn plain(u: &'static str, p: &'static str) -> Credentials {
        Credentials::Plain {
            username: Bytes::from_static(u.as_bytes()),
            password: Bytes::from_static(p.as_bytes()),
        }
    }

    #[test]
    fn lists_decide_like_zmq_auth() {
        let a = Authenticator::new();
        assert_eq!(a.decide(&req("1.2.3.4", Credentials::Null)).status, 200);
        assert_eq!(a.decide(&req("1.2.3.4", plain("u", "p"))).status, 400);
        a.add_plain_user("u", "p");
        let ok = a.decide(&req("1.2.3.4", plain("u", "p")));
        assert_eq!((ok.status, &ok.user_id[..]), (200, &b"u"[..]));
        assert_eq!(a.decide(&req("1.2.3.4", plain("u", "x"))).status, 400);
        a.deny("1.2.3.4");
        assert_eq!(a.decide(&req("1.2.3.4", plain("u", "p"))).status, 400);
        a.allow("1.2.3.4").allow("5.6.7.8");
        // The deny list wins over the allow list.
        assert_eq!(a.decide(&req("1.2.3.4", Credentials::Null)).status, 400);
        assert_eq!(a.decide(&req("5.6.7.8", Credentials::Null)).status, 200);
        assert_eq!(a.decide(&req("9.9.9.9", Credentials::Null)).status, 400);
        let (public, _) = CurveKey::generate_pair();
        let curve = Credentials::Curve {
            public_key: *public.as_bytes(),
        };
        assert_eq!(a.decide(&req("5.6.7.8", curve.clone())).status, 400);
        a.allow_curve_key(&public);
        let ok = a.decide(&req("5.6.7.8", curve.clone()));
        assert_eq!(ok.user_id, public.to_z85());
        a.remove_curve_key(&public);
        assert_eq!(a.decide(&req("5.6.7.8", curve.clone())).status, 400);
        a.allow_any_curve_key(true);
        assert_eq!(a.decide(&req("5.6.7.8", curve)).status, 200);
        let shown = format!("{:?}", req("x", plain("u", "secret")));
        assert!(!shown.contains("secret"), "{shown}");
    }
}
