//! The raw link of STREAM sockets: a byte stream with no ZMTP (libzmq's raw engine).
//! [`RawConn`] is its [`Link`]; one task reads, the connection's own task writes.
//!
//! - The peer is attached as soon as the stream exists (there is no handshake); the
//!   socket receives a zero-length message from it then, and another when the peer
//!   closes the stream or it fails (STREAM's connect and disconnect notifications,
//!   unless STREAM_NOTIFY is off), after the data before it. A connect that took a
//!   CONNECT_ROUTING_ID attaches its peer under that id.
//! - The reader hands each read to the socket as one message, up to 64 KiB, and stops
//!   reading at the RCVHWM like the ZMTP reader.
//! - The writer writes the data of the messages queued for the peer; a zero-length one
//!   closes the stream once what was queued before it is written.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use ringmq_proactor::{BufResult, Proactor};

use crate::connection::{write_all, Outcome, BATCH_BYTES};
use crate::core::PeerId;
use crate::link::{Link, Origin};
use crate::message::Message;
use crate::monitor::MonitorEventKind;
use crate::reason::DisconnectReason;
use crate::socket::shared::Shared;
use crate::util::{select, Either, Notify};

/// Bytes asked for per read.
const READ_SIZE: usize = 64 * 1024;

/// One raw connection: the socket's link on it.
pub(crate) struct RawConn {
    id: u64,
    endpoint: String,
    origin: Origin,
    peer: Cell<Option<PeerId>>,
    wake_writer: Notify,
    wake_reader: Notify,
    done: Cell<bool>,
    done_notify: Notify,
    reason: RefCell<Option<DisconnectReason>>,
    /// A write is in flight (for LINGER).
    writing: Cell<bool>,
    /// Bytes read and written so far (`Link::traffic`).
    bytes_in: Cell<u64>,
    bytes_out: Cell<u64>,
}

impl RawConn {
    fn end(&self, reason: DisconnectReason) {
        if self.done.replace(true) {
            return;
        }
        *self.reason.borrow_mut() = Some(reason);
        self.done_notify.notify();
        self.wake_writer.notify();
        self.wake_reader.notify();
    }

    async fn wait_done(&self) {
        while !self.done.get() {
            self.done_notify.notified().await;
        }
    }
}

impl Link for RawConn {
    fn origin(&self) -> Origin {
        self.origin
    }

    /// Everything goes through the socket's queue: the writer takes it in order, so a
    /// zero-length message closes the stream after what came before it.
    fn offer(&self, msg: Message, _write_through: bool) -> Result<(), Message> {
        Err(msg)
    }

    fn offer_shared(&self, _msg: &Message) -> bool {
        false
    }

    fn wake_output(&self) {
        self.wake_writer.notify();
    }

    fn resume_input(&self) {
        self.wake_reader.notify();
    }

    /// STREAM has no subscriptions.
    fn send_subscription(&self, _topic: &[u8], _subscribe: bool) {}

    fn close(&self, reason: DisconnectReason) {
        self.end(reason);
    }

    fn is_flushed(&self) -> bool {
        self.done.get() || !self.writing.get()
    }

    fn traffic(&self) -> (u64, u64) {
        (self.bytes_in.get(), self.bytes_out.get())
    }
}

/// The STREAM notification: a zero-length data frame.
fn notification() -> Message {
    Message::from(Bytes::new())
}

/// Runs one raw connection until it ends, on its halves (split by the caller: a
/// connect through a SOCKS5 proxy used them for the proxy's handshake).
pub(crate) async fn run<P: Proactor>(
    shared: Rc<Shared<P>>,
    reader: P::Reader,
    mut writer: P::Writer,
    endpoint: String,
    origin: Origin,
) -> Outcome {
    let p = shared.proactor.clone();
    if shared.io.borrow().terminated {
        return Outcome { established: false };
    }
    let id = shared.io.borrow_mut().next_id();
    let conn = Rc::new(RawConn {
        id,
        endpoint,
        origin,
        peer: Cell::new(None),
        wake_writer: Notify::default(),
        wake_reader: Notify::default(),
        done: Cell::new(false),
        done_notify: Notify::default(),
        reason: RefCell::new(None),
        writing: Cell::new(false),
        bytes_in: Cell::new(0),
        bytes_out: Cell::new(0),
    });
    shared.io.borrow_mut().conns.insert(id, conn.clone());
    let assigned = shared.identity_for(origin, None);
    match shared.attach(conn.clone(), None, assigned) {
        Ok((peer, rid)) => {
            conn.peer.set(Some(peer));
            shared.emit(MonitorEventKind::HandshakeSucceeded, &conn.endpoint, rid);
            let mut core = shared.core.borrow_mut();
            if core.opts.stream_notify {
                core.on_message(peer, notification());
            }
            drop(core);
            shared.run_core_output();
        }
        Err(refusal) => conn.end(refusal.into()),
    }
    p.spawn_local(read_loop(shared.clone(), conn.clone(), reader));
    write_loop(&shared, &conn, &mut writer).await;
    finish(&shared, &conn)
}

fn finish<P: Proactor>(shared: &Shared<P>, conn: &RawConn) -> Outcome {
    let reason = conn
        .reason
        .borrow_mut()
        .take()
        .unwrap_or(DisconnectReason::SocketClosed);
    let peer = conn.peer.get();
    shared.io.borrow_mut().conns.remove(&conn.id);
    let routing_id = peer.and_then(|p| shared.core.borrow().routing_id(p));
    if let Some(peer) = peer {
        // After the data that came before it, the application learns that the peer
        // went away (not when it closed the stream itself, nor at unbind or close: as
        // libzmq's raw engine, which notifies on errors only).
        let lost = matches!(
            reason,
            DisconnectReason::ClosedByPeer
                | DisconnectReason::RecvFailed(_)
                | DisconnectReason::SendFailed(_)
        );
        let mut core = shared.core.borrow_mut();
        if lost && core.opts.stream_notify {
            core.on_message(peer, notification());
        }
        drop(core);
        shared.detach(peer, conn.origin);
    }
    let kind = if peer.is_some() {
        MonitorEventKind::Disconnected { reason }
    } else {
        MonitorEventKind::HandshakeFailed { reason }
    };
    shared.emit(kind, &conn.endpoint, routing_id);
    shared.send_ready.notify();
    shared.recv_ready.notify();
    shared.progress.notify();
    Outcome {
        established: peer.is_some(),
    }
}

async fn read_loop<P: Proactor>(shared: Rc<Shared<P>>, conn: Rc<RawConn>, mut reader: P::Reader) {
    let p = shared.proactor.clone();
    let mut buf = BytesMut::new();
    while !conn.done.get() {
        let Some(peer) = conn.peer.get() else { break };
        if shared.core.borrow_mut().input_full(peer) {
            select(conn.wake_reader.notified(), conn.wait_done()).await;
            continue;
        }
        // Reuses the buffer once the messages cut from it were dropped.
        buf.reserve(READ_SIZE);
        let BufResult(res, back) = match select(p.recv(&mut reader, buf), conn.wait_done()).await {
            Either::Left(r) => r,
            Either::Right(()) => break,
        };
        buf = back;
        match res {
            Ok(0) => conn.end(DisconnectReason::ClosedByPeer),
            Ok(n) => {
                conn.bytes_in.set(conn.bytes_in.get() + n as u64);
                let data = buf.split_to(n).freeze();
                shared
                    .core
                    .borrow_mut()
                    .on_message(peer, Message::from(data));
                shared.run_core_output();
            }
            Err(e) => conn.end(DisconnectReason::RecvFailed(e.into())),
        }
    }
}

/// Writes the data queued for the peer until the connection ends or a zero-length
/// message asks it to close.
async fn write_loop<P: Proactor>(
    shared: &Rc<Shared<P>>,
    conn: &Rc<RawConn>,
    writer: &mut P::Writer,
) {
    let p = &shared.proactor;
    while !conn.done.get() {
        let Some(peer) = conn.peer.get() else { break };
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut close = false;
        {
            let mut core = shared.core.borrow_mut();
            if core.has_queued_output(peer) {
                let mut bytes = 0;
                core.take_output(peer, |mut msg| {
                    let Some(data) = msg.pop_front().filter(|d| !d.is_empty()) else {
                        close = true;
                        return false;
                    };
                    bytes += data.len();
                    chunks.push(data);
                    bytes < BATCH_BYTES
                });
            }
        }
        if chunks.is_empty() && !close {
            let woken = conn.wake_writer.notified();
            if shared.core.borrow().has_queued_output(peer) {
                continue;
            }
            select(woken, conn.wait_done()).await;
            continue;
        }
        // Taken from the queue: room below the SNDHWM once handed to the kernel.
        conn.writing.set(true);
        let len: usize = chunks.iter().map(Bytes::len).sum();
        let r = select(write_all(p, writer, chunks), conn.wait_done()).await;
        conn.writing.set(false);
        shared.flushed(peer);
        shared.progress.notify();
        match r {
            Either::Left(Ok(_)) => conn.bytes_out.set(conn.bytes_out.get() + len as u64),
            Either::Left(Err(e)) => conn.end(DisconnectReason::SendFailed(e.into())),
            Either::Right(()) => break,
        }
        if close {
            let _ = p.shutdown(writer).await;
            conn.end(DisconnectReason::ClosedByApplication);
        }
    }
}
