//! Typed sockets: thin wrappers over [`Socket`] that expose only the calls that apply
//! to their type (no `recv` on PUB, no `send` on SUB, `subscribe` only on SUB and XPUB).

use std::fmt;

use ringmq_proactor::Proactor;
use ringmq_zmtp::SocketType;

use super::Socket;
use crate::context::Scope;
use crate::core::Drops;
use crate::error::Error;
use crate::message::Message;
use crate::monitor::Monitor;
use crate::options::{SocketOption, SocketOptions};
use crate::stats::SocketStats;

macro_rules! typed_socket {
    ($(#[$doc:meta])* $name:ident, $kind:ident, [$($group:ident),*]) => {
        $(#[$doc])*
        pub struct $name<P: Proactor> {
            inner: Socket<P>,
        }

        impl<P: Proactor> fmt::Debug for $name<P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.inner.fmt(f)
            }
        }

        impl<P: Proactor> $name<P> {
            /// The socket type of this wrapper.
            pub const TYPE: SocketType = SocketType::$kind;

            pub(crate) fn new(proactor: P, scope: Scope) -> Self {
                $name { inner: Socket::new(proactor, SocketType::$kind, scope) }
            }

            /// See [`Socket::bind`].
            pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
                self.inner.bind(endpoint)
            }

            /// See [`Socket::connect`].
            pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
                self.inner.connect(endpoint)
            }

            /// See [`Socket::unbind`].
            pub fn unbind(&self, endpoint: &str) -> Result<(), Error> {
                self.inner.unbind(endpoint)
            }

            /// See [`Socket::disconnect`].
            pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
                self.inner.disconnect(endpoint)
            }

            /// See [`Socket::last_endpoint`].
            pub fn last_endpoint(&self) -> Option<String> {
                self.inner.last_endpoint()
            }

            /// See [`Socket::set_option`].
            pub fn set_option(&self, opt: SocketOption) -> Result<(), Error> {
                self.inner.set_option(opt)
            }

            /// See [`Socket::monitor`].
            pub fn monitor(&self) -> Monitor {
                self.inner.monitor()
            }

            /// See [`Socket::options`].
            pub fn options(&self) -> SocketOptions {
                self.inner.options()
            }

            /// See [`Socket::topics_count`].
            pub fn topics_count(&self) -> Result<usize, Error> {
                self.inner.topics_count()
            }

            /// See [`Socket::stats`].
            pub fn stats(&self) -> SocketStats {
                self.inner.stats()
            }

            /// See [`Socket::events`].
            pub fn events(&self) -> crate::Events {
                self.inner.events()
            }

            /// See [`Socket::drops`].
            pub fn drops(&self) -> Drops {
                self.inner.drops()
            }

            /// See [`Socket::peers_refused`].
            pub fn peers_refused(&self) -> u64 {
                self.inner.peers_refused()
            }

            /// See [`Socket::close`].
            pub async fn close(self) {
                self.inner.close().await
            }

            /// The untyped socket.
            pub fn into_socket(self) -> Socket<P> {
                self.inner
            }

            /// The untyped socket, borrowed (for [`proxy`](crate::proxy)).
            pub fn as_socket(&self) -> &Socket<P> {
                &self.inner
            }
        }

        impl<P: Proactor> AsRef<Socket<P>> for $name<P> {
            fn as_ref(&self) -> &Socket<P> {
                &self.inner
            }
        }

        $(typed_socket!(@$group $name);)*
    };
    (@send $name:ident) => {
        #[cfg(feature = "futures")]
        impl<P: Proactor> futures_sink::Sink<Message> for $name<P> {
            type Error = Error;

            fn poll_ready(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Error>> {
                self.inner.poll_flush(cx)
            }

            fn start_send(self: std::pin::Pin<&mut Self>, msg: Message) -> Result<(), Error> {
                self.inner.start_send(msg)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Error>> {
                self.inner.poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Error>> {
                self.inner.poll_flush(cx)
            }
        }

        impl<P: Proactor> $name<P> {
            /// See [`Socket::start_send`].
            pub fn start_send(&self, msg: impl Into<Message>) -> Result<(), Error> {
                self.inner.start_send(msg)
            }

            /// See [`Socket::poll_flush`].
            pub fn poll_flush(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Error>> {
                self.inner.poll_flush(cx)
            }

            /// See [`Socket::send`]. (Returns `Socket::send`'s future itself: an
            /// `async fn` wrapper would add a state machine per message.)
            pub fn send(
                &self,
                msg: impl Into<Message>,
            ) -> impl std::future::Future<Output = Result<(), Error>> + '_ {
                self.inner.send(msg.into())
            }

            /// See [`Socket::try_send`].
            pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), Error> {
                self.inner.try_send(msg)
            }

            /// See [`Socket::send_batch`].
            pub async fn send_batch(&self, msgs: &mut Vec<Message>) -> Result<(), Error> {
                self.inner.send_batch(msgs).await
            }

            /// See [`Socket::try_send_batch`].
            pub fn try_send_batch(&self, msgs: &mut Vec<Message>) -> Result<usize, Error> {
                self.inner.try_send_batch(msgs)
            }
        }
    };
    (@recv $name:ident) => {
        #[cfg(feature = "futures")]
        impl<P: Proactor> futures_core::Stream for $name<P> {
            type Item = Result<Message, Error>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                crate::streams::item(self.inner.poll_recv(cx))
            }
        }

        impl<P: Proactor> $name<P> {
            /// See [`Socket::poll_recv`].
            pub fn poll_recv(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<Message, Error>> {
                self.inner.poll_recv(cx)
            }

            /// See [`Socket::recv`]. (Returns `Socket::recv`'s future itself, as
            /// `send` does.)
            pub fn recv(&self) -> impl std::future::Future<Output = Result<Message, Error>> + '_ {
                self.inner.recv()
            }

            /// See [`Socket::try_recv`].
            pub fn try_recv(&self) -> Result<Message, Error> {
                self.inner.try_recv()
            }

            /// See [`Socket::recv_many`].
            pub async fn recv_many(
                &self,
                out: &mut Vec<Message>,
                max: usize,
            ) -> Result<usize, Error> {
                self.inner.recv_many(out, max).await
            }

            /// See [`Socket::try_recv_many`].
            pub fn try_recv_many(&self, out: &mut Vec<Message>, max: usize) -> Result<usize, Error> {
                self.inner.try_recv_many(out, max)
            }
        }
    };
    (@join $name:ident) => {
        impl<P: Proactor> $name<P> {
            /// See [`Socket::join`].
            pub fn join(&self, group: impl AsRef<[u8]>) -> Result<(), Error> {
                self.inner.join(group)
            }

            /// See [`Socket::leave`].
            pub fn leave(&self, group: impl AsRef<[u8]>) -> Result<(), Error> {
                self.inner.leave(group)
            }
        }
    };
    (@connect_peer $name:ident) => {
        impl<P: Proactor> $name<P> {
            /// See [`Socket::connect_peer`].
            pub fn connect_peer(&self, endpoint: &str) -> Result<u32, Error> {
                self.inner.connect_peer(endpoint)
            }
        }
    };
    (@subscribe $name:ident) => {
        impl<P: Proactor> $name<P> {
            /// See [`Socket::subscribe`].
            pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
                self.inner.subscribe(topic)
            }

            /// See [`Socket::unsubscribe`].
            pub fn unsubscribe(&self, topic: &[u8]) -> Result<(), Error> {
                self.inner.unsubscribe(topic)
            }
        }
    };
}

typed_socket!(
    /// REQ: sends requests round-robin and receives each reply, strictly alternating.
    ReqSocket, Req, [send, recv]
);
typed_socket!(
    /// REP: receives requests fair-queued and sends each reply to its requester.
    RepSocket, Rep, [send, recv]
);
typed_socket!(
    /// DEALER: round-robin out, fair-queue in, no envelopes.
    DealerSocket, Dealer, [send, recv]
);
typed_socket!(
    /// ROUTER: received messages start with the peer's routing id; the first frame of
    /// a sent message picks the peer.
    RouterSocket, Router, [send, recv]
);
typed_socket!(
    /// PUB: sends each message to every matching subscriber; never blocks (unless
    /// XPUB_NODROP).
    PubSocket, Pub, [send]
);
typed_socket!(
    /// SUB: receives the messages matching its subscriptions.
    SubSocket, Sub, [recv, subscribe]
);
typed_socket!(
    /// XPUB: PUB that also receives the subscriptions (`\x01topic` / `\x00topic`);
    /// with XPUB_MANUAL, `subscribe` applies them.
    XPubSocket, XPub, [send, recv, subscribe]
);
typed_socket!(
    /// XSUB: SUB whose subscriptions are sent as messages (`\x01topic` / `\x00topic`).
    XSubSocket, XSub, [send, recv]
);
typed_socket!(
    /// PUSH: sends round-robin to the peers that can take a message.
    PushSocket, Push, [send]
);
typed_socket!(
    /// PULL: receives fair-queued from all peers.
    PullSocket, Pull, [recv]
);
typed_socket!(
    /// PAIR: exactly one peer at a time.
    PairSocket, Pair, [send, recv]
);
typed_socket!(
    /// STREAM: raw TCP peers without ZMTP. Received messages are `[routing id, bytes]`
    /// (a zero-length frame when a peer connects and when it goes away); a sent
    /// message is `[routing id, bytes]`, and `[routing id, ""]` closes that peer.
    StreamSocket, Stream, [send, recv]
);

// libzmq's draft types: single-part messages only (a multipart send is refused).
typed_socket!(
    /// SERVER (draft): each received message carries its peer's routing id
    /// ([`Message::routing_id`]); a reply names the peer with
    /// [`Message::with_routing_id`].
    ServerSocket, Server, [send, recv]
);
typed_socket!(
    /// CLIENT (draft): round-robin out to SERVERs, fair-queue in.
    ClientSocket, Client, [send, recv]
);
typed_socket!(
    /// SCATTER (draft): sends round-robin to GATHERs.
    ScatterSocket, Scatter, [send]
);
typed_socket!(
    /// GATHER (draft): receives fair-queued from SCATTERs.
    GatherSocket, Gather, [recv]
);
typed_socket!(
    /// PEER (draft): routes by routing id like SERVER, among PEERs;
    /// [`PeerSocket::connect_peer`] gives the id of a peer it connects to.
    PeerSocket, Peer, [send, recv, connect_peer]
);
typed_socket!(
    /// CHANNEL (draft): PAIR with single-part messages.
    ChannelSocket, Channel, [send, recv]
);
typed_socket!(
    /// RADIO (draft): sends each single-part message to the DISHes that joined its
    /// group ([`Message::set_group`]); never blocks, drops at the SNDHWM.
    RadioSocket, Radio, [send]
);
typed_socket!(
    /// DISH (draft): receives the messages of the groups it joined, the group out of
    /// band ([`Message::group`]).
    DishSocket, Dish, [recv, join]
);
