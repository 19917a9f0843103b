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
use std::time::Duration;

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
use crate::util::{select, Either, Notify, Stop};

/// A RADIO / DISH may use `udp://` only as a RADIO `connect` or a DISH `bind`.
fn check_role(kind: SocketType, bind: bool) -> Result<(), Error> {
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
    match wrong_use {
        Some(operation) => Err(Error::NotSupported {
            operation,
            socket_type: kind,
        }),
        None => Ok(()),
    }
}

fn io_error(e: io::Error, ep: &Endpoint) -> Error {
    match e.kind() {
        io::ErrorKind::AddrInUse => Error::AddrInUse(ep.to_string()),
        _ => Error::Io(e),
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The interface, host and port of a `udp://` endpoint (`bind` and `connect` are called
/// for those only).
fn udp_parts(ep: &Endpoint) -> (&Option<Host>, &Host, &u16) {
    let Endpoint::Udp {
        interface,
        host,
        port,
    } = ep
    else {
        unreachable!("udp::bind and udp::connect are called for udp:// endpoints only")
    };
    (interface, host, port)
}

/// The socket of a DISH's `bind`: on the address (joining it when it is a multicast
/// group, on the endpoint's interface if it names one), on every interface for `*`, or
/// on the address of a network interface named as the host (`udp://lo:5555`, as
/// libzmq allows; host names are not looked up for a bind, as in libzmq).
pub(crate) fn bind(ep: &Endpoint, kind: SocketType) -> Result<UdpSocket, Error> {
    let (interface, host, port) = udp_parts(ep);
    check_role(kind, true)?;
    let ip = match host {
        Host::Wildcard => None,
        Host::Ip(ip) => Some(*ip),
        Host::Name(name) => Some(nic_address(name).map_err(Error::Io)?),
    };
    bind_dish(ip, *port, interface.as_ref()).map_err(|e| io_error(e, ep))
}

/// The first address of network interface `name` (IPv4 first).
fn nic_address(name: &str) -> io::Result<IpAddr> {
    let addrs = ringmq_proactor::sockopt::interface_addresses(name)?;
    addrs.first().copied().ok_or_else(|| {
        invalid(format!(
            "udp:// bind: {name:?} is not a network interface (a bind takes an IP \
             address, an interface name or *; host names are not looked up)"
        ))
    })
}

/// The IPv4 address standing for the interface of `iface;` (`*`: the kernel's choice).
fn interface_v4(iface: Option<&Host>) -> io::Result<Ipv4Addr> {
    match iface {
        None | Some(Host::Wildcard) => Ok(Ipv4Addr::UNSPECIFIED),
        Some(Host::Ip(IpAddr::V4(a))) => Ok(*a),
        Some(Host::Ip(IpAddr::V6(a))) => Err(invalid(format!(
            "udp:// interface {a} is IPv6 but the group is IPv4"
        ))),
        Some(Host::Name(name)) => ringmq_proactor::sockopt::interface_addresses(name)?
            .into_iter()
            .find_map(|a| match a {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no network interface {name:?} with an IPv4 address"),
                )
            }),
    }
}

/// The interface index of `iface;` for an IPv6 group (`*`: 0, the kernel's choice).
/// As in libzmq, IPv6 multicast names its interface (an address cannot say which).
fn interface_v6(iface: Option<&Host>) -> io::Result<u32> {
    match iface {
        None | Some(Host::Wildcard) => Ok(0),
        Some(Host::Name(name)) => ringmq_proactor::sockopt::interface_index(name),
        Some(Host::Ip(a)) => Err(invalid(format!(
            "udp://: an IPv6 group needs an interface name or * before ';', not the \
             address {a}"
        ))),
    }
}

fn bind_dish(ip: Option<IpAddr>, port: u16, iface: Option<&Host>) -> io::Result<UdpSocket> {
    match ip {
        None => UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)),
        // Bound to the group's address, the socket receives that group's datagrams
        // only, not unicast ones to the same port.
        Some(IpAddr::V4(g)) if g.is_multicast() => {
            let on = interface_v4(iface)?;
            let s = UdpSocket::bind((g, port))?;
            s.join_multicast_v4(&g, &on)?;
            Ok(s)
        }
        Some(IpAddr::V6(g)) if g.is_multicast() => {
            let on = interface_v6(iface)?;
            let s = UdpSocket::bind((g, port))?;
            s.join_multicast_v6(&g, on)?;
            Ok(s)
        }
        Some(ip) => UdpSocket::bind((ip, port)),
    }
}

/// What a RADIO's `connect` to `udp://` found.
pub(crate) enum Radio {
    /// The socket, connected to the address.
    Ready(UdpSocket),
    /// A host name, to look up off the event loop ([`resolve_and_start`]).
    Resolve {
        /// The name.
        name: String,
        /// The port.
        port: u16,
    },
}

/// The RADIO's side of `connect`: its socket for an address (`*` is refused), or the
/// name to look up first.
pub(crate) fn connect(ep: &Endpoint, kind: SocketType, hops: u32) -> Result<Radio, Error> {
    let (interface, host, port) = udp_parts(ep);
    check_role(kind, false)?;
    match host {
        Host::Ip(ip) => connect_radio(SocketAddr::new(*ip, *port), interface.as_ref(), hops)
            .map(Radio::Ready)
            .map_err(|e| io_error(e, ep)),
        Host::Name(name) => Ok(Radio::Resolve {
            name: name.clone(),
            port: *port,
        }),
        Host::Wildcard => Err(Error::Io(invalid(
            "udp://: a RADIO connects to an address or a host name, not *".into(),
        ))),
    }
}

fn connect_radio(mut to: SocketAddr, iface: Option<&Host>, hops: u32) -> io::Result<UdpSocket> {
    let local: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let s = UdpSocket::bind((local, 0))?;
    if to.ip().is_multicast() {
        // As libzmq: ZMQ_MULTICAST_HOPS, the host's own members hear it, and the
        // interface of `iface;` sends it.
        match to {
            SocketAddr::V4(_) => {
                s.set_multicast_ttl_v4(hops)?;
                s.set_multicast_loop_v4(true)?;
                let on = interface_v4(iface)?;
                if !on.is_unspecified() {
                    ringmq_proactor::sockopt::set_multicast_interface_v4(&s, on)?;
                }
            }
            SocketAddr::V6(_) => {
                ringmq_proactor::sockopt::set_multicast_hops_v6(&s, hops)?;
                s.set_multicast_loop_v6(true)?;
                let on = interface_v6(iface)?;
                if on != 0 {
                    ringmq_proactor::sockopt::set_multicast_interface_v6(&s, on)?;
                    // A link-local group (ff02::) is reached through that interface.
                    if let SocketAddr::V6(a) = &mut to {
                        a.set_scope_id(on);
                    }
                }
            }
        }
    }
    s.connect(to)?;
    Ok(s)
}

/// A RADIO `connect` to `udp://name:port`: the name is looked up on the resolver
/// threads (never on the event loop; IPv4 addresses only unless IPV6), then the link
/// starts as for an address. A failed lookup is reported (`ConnectFailed`) and tried
/// again after the reconnect interval, until `disconnect` or close. Until the link
/// starts, the RADIO drops what it sends (its peer receives every group only once
/// attached, as a libzmq UDP pipe).
pub(crate) async fn resolve_and_start<P: Proactor>(
    shared: Rc<Shared<P>>,
    name: String,
    port: u16,
    interface: Option<Host>,
    endpoint: String,
    origin: Origin,
    stop: Rc<Stop>,
) {
    let p = shared.proactor.clone();
    loop {
        let lookup = crate::resolve::lookup(&name, port);
        let found = match select(lookup, stop.wait()).await {
            Either::Left(r) => r,
            Either::Right(()) => return,
        };
        let (hops, ipv6, ivl) = {
            let core = shared.core.borrow();
            let o = &core.opts;
            (o.multicast_hops, o.ipv6, o.reconnect_ivl)
        };
        let opened = found.and_then(|addrs| {
            let mut last = io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: no IPv4 address (set IPV6 for IPv6 ones)"),
            );
            for a in addrs.into_iter().filter(|a| ipv6 || a.is_ipv4()) {
                match connect_radio(a, interface.as_ref(), hops) {
                    Ok(s) => return p.adopt_datagram(s),
                    Err(e) => last = e,
                }
            }
            Err(last)
        });
        match opened {
            Ok(stream) => {
                if !stop.is_stopped() {
                    start(&shared, stream, origin, endpoint);
                }
                return;
            }
            Err(e) => {
                let kind = MonitorEventKind::ConnectFailed { error: e.into() };
                shared.emit(kind, &endpoint, None);
                let ivl = ivl.max(Duration::from_millis(1));
                if !crate::connector::retry_after(&shared, &endpoint, ivl, &stop).await {
                    return;
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        s.parse().unwrap()
    }

    fn radio(s: &str, hops: u32) -> Result<UdpSocket, Error> {
        match connect(&ep(s), SocketType::Radio, hops)? {
            Radio::Ready(s) => Ok(s),
            Radio::Resolve { name, .. } => panic!("{name} is looked up later"),
        }
    }

    #[test]
    fn radio_socket_takes_hops_and_interface() {
        let s = radio("udp://239.255.0.9:5555", 7).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 7);
        assert!(s.multicast_loop_v4().unwrap());
        let none = ringmq_proactor::sockopt::multicast_interface_v4(&s).unwrap();
        assert!(
            none.is_unspecified(),
            "no interface named: the kernel's choice"
        );
        let s = radio("udp://127.0.0.1;239.255.0.9:5555", 1).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 1);
        let on = ringmq_proactor::sockopt::multicast_interface_v4(&s).unwrap();
        assert_eq!(on, Ipv4Addr::LOCALHOST);
        // An interface name stands for its IPv4 address.
        let s = radio("udp://lo;239.255.0.9:5555", 1).unwrap();
        let on = ringmq_proactor::sockopt::multicast_interface_v4(&s).unwrap();
        assert_eq!(on, Ipv4Addr::LOCALHOST);
        // `*` leaves the choice to the kernel.
        let s = radio("udp://*;239.255.0.9:5555", 1).unwrap();
        let on = ringmq_proactor::sockopt::multicast_interface_v4(&s).unwrap();
        assert!(on.is_unspecified());
        // A unicast destination gets none of it.
        let s = radio("udp://127.0.0.1:5555", 9).unwrap();
        assert_eq!(s.peer_addr().unwrap(), "127.0.0.1:5555".parse().unwrap());
    }

    #[test]
    fn ipv6_radio_takes_hops_and_interface_index() {
        // Site-local scope: a link-local group (ff02::) needs an interface to connect.
        let s = radio("udp://[ff05::1:7]:5555", 5).unwrap();
        assert_eq!(ringmq_proactor::sockopt::multicast_hops_v6(&s).unwrap(), 5);
        let e = radio("udp://[ff02::1:7]:5555", 1).unwrap_err();
        assert!(matches!(e, Error::Io(ref e) if e.kind() == io::ErrorKind::InvalidInput));
        // An interface name is its index; `*` the kernel's choice.
        let lo = ringmq_proactor::sockopt::interface_index("lo").unwrap();
        assert_eq!(interface_v6(Some(&Host::Name("lo".into()))).unwrap(), lo);
        assert_eq!(interface_v6(Some(&Host::Wildcard)).unwrap(), 0);
        // libzmq refuses an address as an IPv6 group's interface too.
        let e = radio("udp://[::1];[ff05::1:7]:5555", 1).unwrap_err();
        assert!(e.to_string().contains("interface name"), "{e}");
        let e = radio("udp://127.0.0.1;[ff05::1:7]:5555", 1).unwrap_err();
        assert!(e.to_string().contains("IPv6"), "{e}");
    }

    #[test]
    fn bad_interfaces_and_hosts_are_refused() {
        let e = radio("udp://no-such-nic0;239.255.0.9:5555", 1).unwrap_err();
        assert!(e.to_string().contains("no-such-nic0"), "{e}");
        let Err(Error::Io(e)) = radio("udp://*:5555", 1) else {
            panic!("a RADIO cannot connect to *")
        };
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // A host name is looked up later, off the event loop.
        let Radio::Resolve { name, port } =
            connect(&ep("udp://localhost:5555"), SocketType::Radio, 1).unwrap()
        else {
            panic!("a name is resolved in the background")
        };
        assert_eq!((name.as_str(), port), ("localhost", 5555));
        // A bind takes no host name (as in libzmq), only an interface's.
        let Err(Error::Io(e)) = bind(&ep("udp://localhost:0"), SocketType::Dish) else {
            panic!("no lookup for a bind")
        };
        assert!(e.to_string().contains("not a network interface"), "{e}");
        let s = bind(&ep("udp://lo:0"), SocketType::Dish).unwrap();
        assert_eq!(s.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
        // Roles.
        assert!(matches!(
            connect(&ep("udp://127.0.0.1:5555"), SocketType::Dish, 1),
            Err(Error::NotSupported { .. })
        ));
        assert!(matches!(
            bind(&ep("udp://127.0.0.1:0"), SocketType::Radio),
            Err(Error::NotSupported { .. })
        ));
    }
}
