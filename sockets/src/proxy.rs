//! The built-in proxy, like libzmq's `zmq_proxy` and `zmq_proxy_steerable`: forwards
//! every message from the frontend to the backend and back, optionally copying each to
//! a capture socket, optionally steered through a control socket.
//!
//! Typical pairs: XSUB / XPUB (a forwarder: subscriptions travel from the XPUB's
//! subscribers up through the XSUB to the publishers), ROUTER / DEALER (a broker:
//! requests go to workers round-robin, replies find their way back by the routing
//! envelope), PULL / PUSH (a streamer).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use ringmq_proactor::Proactor;
use ringmq_zmtp::SocketType;

use crate::error::Error;
use crate::message::Message;
use crate::socket::Socket;

/// Counters of one side of a proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideStats {
    /// Messages received on this socket.
    pub msg_in: u64,
    /// Bytes (all frames) received on this socket.
    pub bytes_in: u64,
    /// Messages sent through this socket.
    pub msg_out: u64,
    /// Bytes sent through this socket.
    pub bytes_out: u64,
}

impl SideStats {
    fn received(&mut self, msg: &Message) {
        self.msg_in += 1;
        self.bytes_in += msg.byte_len() as u64;
    }

    fn sent(&mut self, bytes: usize) {
        self.msg_out += 1;
        self.bytes_out += bytes as u64;
    }
}

/// What a proxy forwarded so far (libzmq's `zmq_proxy_steerable` STATISTICS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// The frontend socket's counters.
    pub frontend: SideStats,
    /// The backend socket's counters.
    pub backend: SideStats,
}

impl ProxyStats {
    /// The STATISTICS reply in libzmq's layout: eight frames, each a `u64` in native
    /// byte order: frontend messages in, bytes in, messages out, bytes out, then the
    /// same four for the backend.
    pub fn to_message(&self) -> Message {
        let (f, b) = (&self.frontend, &self.backend);
        [
            f.msg_in,
            f.bytes_in,
            f.msg_out,
            f.bytes_out,
            b.msg_in,
            b.bytes_in,
            b.msg_out,
            b.bytes_out,
        ]
        .iter()
        .map(|v| v.to_ne_bytes().to_vec())
        .collect()
    }

    /// Reads a STATISTICS reply ([`ProxyStats::to_message`]); `None` when it is not
    /// eight 8-byte frames.
    pub fn from_message(msg: &Message) -> Option<ProxyStats> {
        let frames = msg.frames();
        if frames.len() != 8 {
            return None;
        }
        let mut v = [0u64; 8];
        for (slot, f) in v.iter_mut().zip(frames) {
            *slot = u64::from_ne_bytes(f[..].try_into().ok()?);
        }
        let side = |i: usize| SideStats {
            msg_in: v[i],
            bytes_in: v[i + 1],
            msg_out: v[i + 2],
            bytes_out: v[i + 3],
        };
        Some(ProxyStats {
            frontend: side(0),
            backend: side(4),
        })
    }
}

/// Forwards between `frontend` and `backend` (each way where the types allow: a PUB
/// or PUSH frontend is not read, for example), copying every message to `capture`
/// first when given, until a socket call fails: with [`Error::Terminated`] once the
/// sockets' context is terminated (libzmq's `zmq_proxy` returns ETERM then), or
/// [`Error::Closed`]. Sends wait for room as the socket types say (a full DEALER
/// backend holds the proxy, as in libzmq).
///
/// The sockets stay the caller's: the proxy only borrows them.
pub async fn proxy<P: Proactor>(
    frontend: &Socket<P>,
    backend: &Socket<P>,
    capture: Option<&Socket<P>>,
) -> Result<(), Error> {
    run(frontend, backend, capture, None).await.map(drop)
}

/// [`proxy`] steered through `control`, like libzmq's `zmq_proxy_steerable`: a message
/// whose first frame is `PAUSE` stops forwarding (messages wait in the sockets' queues),
/// `RESUME` resumes, `STATISTICS` is answered with the counters
/// ([`ProxyStats::to_message`]), and `TERMINATE` ends the proxy, which then returns the
/// counters. A REP control socket gets an answer to every command (the command
/// itself, or the statistics), so it can take the next one; other types get an answer
/// to STATISTICS only. Unknown commands are ignored (answered with themselves on REP).
pub async fn proxy_steerable<P: Proactor>(
    frontend: &Socket<P>,
    backend: &Socket<P>,
    capture: Option<&Socket<P>>,
    control: &Socket<P>,
) -> Result<ProxyStats, Error> {
    run(frontend, backend, capture, Some(control)).await
}

/// Whether the proxy reads from a socket of this type.
fn receives(kind: SocketType) -> bool {
    !matches!(
        kind,
        SocketType::Pub | SocketType::Push | SocketType::Scatter | SocketType::Radio
    )
}

/// What the proxy waits for.
enum Event {
    Control(Result<Message, Error>),
    Front(Result<Message, Error>),
    Back(Result<Message, Error>),
}

async fn run<P: Proactor>(
    frontend: &Socket<P>,
    backend: &Socket<P>,
    capture: Option<&Socket<P>>,
    control: Option<&Socket<P>>,
) -> Result<ProxyStats, Error> {
    let read_front = receives(frontend.socket_type());
    let read_back = receives(backend.socket_type());
    let mut stats = ProxyStats::default();
    let mut paused = false;
    // Which side is looked at first; alternates so that a busy side cannot starve the
    // other.
    let mut back_first = false;
    loop {
        let event = {
            let mut ctl = pin!(async {
                match control {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            });
            let mut front = pin!(async {
                if read_front && !paused {
                    frontend.recv().await
                } else {
                    std::future::pending().await
                }
            });
            let mut back = pin!(async {
                if read_back && !paused {
                    backend.recv().await
                } else {
                    std::future::pending().await
                }
            });
            // Dropping a `recv` that did not finish loses nothing: the message stays in
            // the socket's queue for the next one.
            poll_fn(|cx| {
                if let Poll::Ready(r) = ctl.as_mut().poll(cx) {
                    return Poll::Ready(Event::Control(r));
                }
                for back_now in [back_first, !back_first] {
                    let polled = if back_now {
                        back.as_mut().poll(cx).map(Event::Back)
                    } else {
                        front.as_mut().poll(cx).map(Event::Front)
                    };
                    if polled.is_ready() {
                        return polled;
                    }
                }
                Poll::Pending
            })
            .await
        };
        back_first = !back_first;
        let (msg, from_front) = match event {
            Event::Control(r) => {
                let control = control.expect("a control event comes from the control socket");
                if steer(control, r?, &mut paused, &stats)? {
                    return Ok(stats);
                }
                continue;
            }
            Event::Front(r) => (r?, true),
            Event::Back(r) => (r?, false),
        };
        let (to, from_stats) = if from_front {
            (backend, &mut stats.frontend)
        } else {
            (frontend, &mut stats.backend)
        };
        from_stats.received(&msg);
        if let Some(c) = capture {
            c.send(msg.clone()).await?;
        }
        let bytes = msg.byte_len();
        to.send(msg).await?;
        if from_front {
            stats.backend.sent(bytes);
        } else {
            stats.frontend.sent(bytes);
        }
    }
}

/// Carries out one control command; true on TERMINATE.
fn steer<P: Proactor>(
    control: &Socket<P>,
    cmd: Message,
    paused: &mut bool,
    stats: &ProxyStats,
) -> Result<bool, Error> {
    let word = cmd.frames().first().cloned().unwrap_or_default();
    let mut reply = None;
    match &word[..] {
        b"PAUSE" => *paused = true,
        b"RESUME" => *paused = false,
        b"STATISTICS" => reply = Some(stats.to_message()),
        _ => {}
    }
    if reply.is_none() && control.socket_type() == SocketType::Rep {
        reply = Some(cmd);
    }
    if let Some(r) = reply {
        // A control peer that cannot take the answer now does not hold the proxy.
        match control.try_send(r) {
            Ok(()) | Err(Error::WouldBlock) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(&word[..] == b"TERMINATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_round_trip_in_libzmqs_layout() {
        let stats = ProxyStats {
            frontend: SideStats {
                msg_in: 1,
                bytes_in: 2,
                msg_out: 3,
                bytes_out: 4,
            },
            backend: SideStats {
                msg_in: 5,
                bytes_in: 6,
                msg_out: 7,
                bytes_out: 8,
            },
        };
        let m = stats.to_message();
        assert_eq!(m.len(), 8);
        for (i, f) in m.frames().iter().enumerate() {
            assert_eq!(f[..], (i as u64 + 1).to_ne_bytes());
        }
        assert_eq!(ProxyStats::from_message(&m), Some(stats));
        assert_eq!(ProxyStats::from_message(&Message::from("x")), None);
    }
}
