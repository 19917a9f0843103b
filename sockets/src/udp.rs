//! The `udp://` transport of RADIO and DISH, with libzmq's datagram format (one byte of
//! group length, the group, the body; see `ringmq_zmtp::group`).
//!
//! There is no connection and no handshake: a RADIO `connect`s to a unicast or
//! multicast address and sends every message of every group there (the DISH filters,
//! as in libzmq, whose RADIO treats UDP pipes as joined to everything); a DISH `bind`s
//! a port (joining the multicast group when the address is one) and receives from any
//! sender through one peer. JOIN / LEAVE do not travel over UDP. Datagrams that do not
//! parse (empty, or a group longer than the rest) are dropped, as libzmq drops them;
//! messages whose datagram would exceed 8,192 bytes are not sent (libzmq's limit).
//!
//! The socket is a std `UdpSocket` made and bound here with safe std calls, then
//! adopted by the engine ([`Proactor::adopt_datagram`]): every receive is one datagram,
//! every send one datagram. Engines that cannot drive datagram sockets make `bind` /
//! `connect` fail with `Unsupported`.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use ringmq_proactor::{BufResult, Endpoint, Host, Proactor};
use ringmq_zmtp::group::{decode_datagram, encode_datagram, MAX_DATAGRAM};
use ringmq_zmtp::SocketType;

use crate::core::PeerId;
use crate::error::Error;
use crate::link::{Link, Origin};
use crate::message::Message;
use crate::monitor::MonitorEventKind;
use crate::reason::DisconnectReason;
use crate::socket::shared::Shared;
use crate::util::{select, Either, Notify};

/// The socket a `udp://` endpoint needs: a DISH binds (joining a multicast group), a
/// RADIO connects from an ephemeral port. Also checks the socket type.
pub(crate) fn open(ep: &Endpoint, kind: SocketType, bind: bool) -> Result<UdpSocket, Error> {
    let Endpoint::Udp { host, port } = ep else {
        unreachable!("udp::open is called for udp:// endpoints only")
    };
    let wrong_use = match (kind, bind) {
        (SocketType::Dish, true) | (SocketType::Radio, false) => None,
        (SocketType::Dish, false) => Some("connect (udp://: a DISH binds)"),
        (SocketType::Radio, true) => Some("bind (udp://: a RADIO connects)"),
        _ => Some(if bind {
            "bind udp://"
        } else {
            "connect udp://"
        }),
    };
    if let Some(operation) = wrong_use {
        return Err(Error::NotSupported {
            operation,
            socket_type: kind,
        });
    }
    let ip = match host {
        Host::Ip(ip) => Some(*ip),
        Host::Wildcard if bind => None,
        _ => {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "udp:// needs an IP address (or * to bind)",
            )))
        }
    };
    if bind {
        bind_dish(ip, *port)
    } else {
        connect_radio(SocketAddr::new(
            ip.expect("a connect has an IP: `*` is refused above"),
            *port,
        ))
    }
    .map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => Error::AddrInUse(ep.to_string()),
        _ => Error::Io(e),
    })
}

fn bind_dish(ip: Option<IpAddr>, port: u16) -> io::Result<UdpSocket> {
    match ip {
        None => UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)),
        // Bound to the group's address, the socket receives that group's datagrams
        // only, not unicast ones to the same port.
        Some(IpAddr::V4(g)) if g.is_multicast() => {
            let s = UdpSocket::bind((g, port))?;
            s.join_multicast_v4(&g, &Ipv4Addr::UNSPECIFIED)?;
            Ok(s)
        }
        Some(IpAddr::V6(g)) if g.is_multicast() => {
            let s = UdpSocket::bind((g, port))?;
            s.join_multicast_v6(&g, 0)?;
            Ok(s)
        }
        Some(ip) => UdpSocket::bind((ip, port)),
    }
}

fn connect_radio(to: SocketAddr) -> io::Result<UdpSocket> {
    let local: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let s = UdpSocket::bind((local, 0))?;
    if to.ip().is_multicast() {
        // libzmq's defaults: ZMQ_MULTICAST_HOPS 1, and the host's own members hear it.
        match to {
            SocketAddr::V4(_) => {
                s.set_multicast_ttl_v4(1)?;
                s.set_multicast_loop_v4(true)?;
            }
            SocketAddr::V6(_) => s.set_multicast_loop_v6(true)?,
        }
    }
    s.connect(to)?;
    Ok(s)
}

/// The link of a `udp://` endpoint: one peer of the socket.
pub(crate) struct UdpLink {
    id: u64,
    origin: Origin,
    endpoint: String,
    peer: Cell<Option<PeerId>>,
    done: Cell<bool>,
    reason: RefCell<Option<DisconnectReason>>,
    /// Wakes the link's task (output, room to read, the end).
    wake: Notify,
    /// RADIO: messages handed over directly, not yet sent.
    outbox: RefCell<Vec<Message>>,
    /// RADIO: a batch is being sent.
    sending: Cell<bool>,
    traffic: Cell<(u64, u64)>,
}

impl UdpLink {
    fn end(&self, reason: DisconnectReason) {
        if !self.done.replace(true) {
            *self.reason.borrow_mut() = Some(reason);
            self.wake.notify();
        }
    }
}

impl Link for UdpLink {
    fn origin(&self) -> Origin {
        self.origin
    }

    fn offer(&self, msg: Message, _write_through: bool) -> Result<(), Message> {
        if self.done.get() {
            return Err(msg);
        }
        self.outbox.borrow_mut().push(msg);
        self.wake.notify();
        Ok(())
    }

    fn offer_shared(&self, msg: &Message) -> bool {
        self.offer(msg.clone(), false).is_ok()
    }

    fn wake_output(&self) {
        self.wake.notify();
    }

    fn resume_input(&self) {
        self.wake.notify();
    }

    /// Groups are not announced over UDP: the DISH filters what it receives.
    fn send_subscription(&self, _: &[u8], _: bool) {}

    fn close(&self, reason: DisconnectReason) {
        self.end(reason);
    }

    fn is_flushed(&self) -> bool {
        self.outbox.borrow().is_empty() && !self.sending.get()
    }

    fn traffic(&self) -> (u64, u64) {
        self.traffic.get()
    }
}

/// Starts the link of `stream` (a datagram socket the engine adopted) and its task.
pub(crate) fn start<P: Proactor>(
    shared: &Rc<Shared<P>>,
    stream: P::Stream,
    origin: Origin,
    endpoint: String,
) {
    let p = shared.proactor.clone();
    let id = shared.io.borrow_mut().next_id();
    let link = Rc::new(UdpLink {
        id,
        origin,
        endpoint,
        peer: Cell::new(None),
        done: Cell::new(false),
        reason: RefCell::new(None),
        wake: Notify::default(),
        outbox: RefCell::new(Vec::new()),
        sending: Cell::new(false),
        traffic: Cell::new((0, 0)),
    });
    shared.io.borrow_mut().conns.insert(id, link.clone());
    let existing = match origin {
        Origin::Connect { peer, .. } => peer,
        Origin::Bind(_) => None,
    };
    let kind = shared.core.borrow().kind();
    match shared.attach(link.clone(), existing, None) {
        Ok((peer, _)) => {
            link.peer.set(Some(peer));
            if kind == SocketType::Radio {
                shared.core.borrow_mut().receives_everything(peer);
                shared.run_core_output();
            }
            shared.emit(MonitorEventKind::HandshakeSucceeded, &link.endpoint, None);
        }
        Err(refusal) => link.end(refusal.into()),
    }
    let (reader, writer) = p.split(stream);
    let shared = shared.clone();
    p.spawn_local(async move {
        if kind == SocketType::Radio {
            send_loop(&shared, &link, writer).await;
        } else {
            recv_loop(&shared, &link, reader).await;
        }
        finish(&shared, &link);
    });
}

/// RADIO: sends what the socket hands over or queues, one datagram per message.
async fn send_loop<P: Proactor>(shared: &Rc<Shared<P>>, link: &Rc<UdpLink>, mut w: P::Writer) {
    let p = shared.proactor.clone();
    let mut batch = Vec::new();
    let mut buf = BytesMut::new();
    loop {
        let woken = link.wake.notified();
        if link.done.get() {
            return;
        }
        let Some(peer) = link.peer.get() else { return };
        batch.append(&mut link.outbox.borrow_mut());
        shared.core.borrow_mut().take_output(peer, |m| {
            batch.push(m);
            true
        });
        if batch.is_empty() {
            woken.await;
            continue;
        }
        link.sending.set(true);
        shared.flushed(peer);
        for msg in batch.drain(..) {
            buf.clear();
            // [group, body] as the RADIO pattern routes it; anything else, or a
            // datagram over libzmq's limit, is not sent (libzmq drops it too).
            let [group, body] = msg.frames() else {
                continue;
            };
            if !encode_datagram(group, body, &mut buf) {
                continue;
            }
            let datagram = buf.split().freeze();
            let len = datagram.len() as u64;
            let BufResult(r, _) = p.send(&mut w, datagram).await;
            // A datagram is lost or not; an ICMP error from an earlier one
            // (ECONNREFUSED: nobody listens yet) must not stop the sender.
            if r.is_ok() {
                let (i, o) = link.traffic.get();
                link.traffic.set((i, o + len));
            }
        }
        link.sending.set(false);
        shared.progress.notify();
    }
}

/// DISH: receives datagrams and delivers those that parse as `[group, body]`.
async fn recv_loop<P: Proactor>(shared: &Rc<Shared<P>>, link: &Rc<UdpLink>, mut r: P::Reader) {
    let p = shared.proactor.clone();
    loop {
        let woken = link.wake.notified();
        if link.done.get() {
            return;
        }
        let Some(peer) = link.peer.get() else { return };
        if shared.core.borrow_mut().input_full(peer) {
            woken.await;
            continue;
        }
        // One byte more than the largest datagram libzmq sends: a longer one shows.
        let buf = Vec::with_capacity(MAX_DATAGRAM + 1);
        let (n, buf) = match select(p.recv(&mut r, buf), woken).await {
            Either::Left(BufResult(Ok(n), buf)) => (n, buf),
            Either::Left(BufResult(Err(e), _)) => {
                link.end(DisconnectReason::RecvFailed(e.into()));
                return;
            }
            Either::Right(()) => continue,
        };
        let (i, o) = link.traffic.get();
        link.traffic.set((i + n as u64, o));
        if n > MAX_DATAGRAM {
            continue;
        }
        let Ok((group, body)) = decode_datagram(&Bytes::from(buf)) else {
            continue;
        };
        shared
            .core
            .borrow_mut()
            .on_message(peer, Message::from(vec![group, body]));
        shared.run_core_output();
    }
}

fn finish<P: Proactor>(shared: &Shared<P>, link: &UdpLink) {
    link.done.set(true);
    link.outbox.borrow_mut().clear();
    let reason = link
        .reason
        .borrow_mut()
        .take()
        .unwrap_or(DisconnectReason::SocketClosed);
    shared.io.borrow_mut().conns.remove(&link.id);
    if let Some(peer) = link.peer.get() {
        shared.detach(peer, link.origin);
        shared.emit(
            MonitorEventKind::Disconnected { reason },
            &link.endpoint,
            None,
        );
    }
    shared.send_ready.notify();
    shared.recv_ready.notify();
    shared.progress.notify();
}
