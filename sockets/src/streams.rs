//! `Stream` and `Sink` (feature `futures`) for [`Socket`], the typed sockets and
//! [`SocketHandle`].
//!
//! A stream yields `Ok(message)` or a socket error, and ends when the socket is closed
//! (`Error::Closed` ends it instead of being yielded). A sink takes [`Message`]s;
//! `poll_ready` / `poll_flush` wait while the socket (or a handle's pipe) has no room,
//! and `poll_close` flushes without closing the socket.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use ringmq_proactor::Proactor;

use crate::error::Error;
use crate::handle::SocketHandle;
use crate::message::Message;
use crate::socket::Socket;

/// A received item as a stream yields it: `Closed` ends the stream.
pub(crate) fn item(r: Poll<Result<Message, Error>>) -> Poll<Option<Result<Message, Error>>> {
    r.map(|r| match r {
        Err(Error::Closed) => None,
        other => Some(other),
    })
}

impl<P: Proactor> Stream for Socket<P> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        item(self.poll_recv(cx))
    }
}

impl<P: Proactor> Sink<Message> for Socket<P> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Socket::poll_flush(&self, cx)
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), Error> {
        Socket::start_send(&self, msg)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Socket::poll_flush(&self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Socket::poll_flush(&self, cx)
    }
}

impl Stream for SocketHandle {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        item(self.poll_recv(cx))
    }
}

impl Sink<Message> for SocketHandle {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        SocketHandle::poll_flush(&mut self, cx)
    }

    fn start_send(mut self: Pin<&mut Self>, msg: Message) -> Result<(), Error> {
        SocketHandle::start_send(&mut self, msg)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        SocketHandle::poll_flush(&mut self, cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        SocketHandle::poll_flush(&mut self, cx)
    }
}
