//! One socket between stdin/stdout and the network.

use std::time::Duration;

use ringmq_proactor::Proactor;
use ringmq_sockets::{Bytes, Context, Error, Message, Socket, SocketOption, SocketType};

use crate::args::SocketArgs;
use crate::frames::{write_message, Format, Input, StdinReader};
use crate::util::{hex, race, unhex, BoxFut, Interrupt};
use crate::{monitor, security, Failure, Outcome};

/// A usage error found after parsing (exit code 2, like clap's).
fn usage(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 2,
    }
}

/// Applies an option, naming it in the error.
fn opt<P: Proactor>(s: &Socket<P>, flag: &str, o: SocketOption) -> Result<(), Failure> {
    s.set_option(o)
        .map_err(|e| Failure::new(format!("{flag}: {e}")))
}

/// The `OptionArgs` flags as socket options (CONNECT_ROUTING_ID applies to the first
/// `--connect`).
fn apply_options<P: Proactor>(s: &Socket<P>, o: &crate::args::OptionArgs) -> Result<(), Failure> {
    let text = |t: &String| Bytes::copy_from_slice(t.as_bytes());
    if let Some(id) = &o.connect_routing_id {
        opt(
            s,
            "--connect-routing-id",
            SocketOption::ConnectRoutingId(text(id)),
        )?;
    }
    if o.probe_router {
        opt(s, "--probe-router", SocketOption::ProbeRouter(true))?;
    }
    if o.xpub_manual {
        opt(s, "--xpub-manual", SocketOption::XpubManual(true))?;
    }
    if let Some(w) = &o.xpub_welcome {
        opt(s, "--xpub-welcome", SocketOption::XpubWelcomeMsg(text(w)))?;
    }
    if o.xpub_verbose {
        opt(s, "--xpub-verbose", SocketOption::XpubVerbose(true))?;
    }
    if o.xpub_verboser {
        opt(s, "--xpub-verboser", SocketOption::XpubVerboser(true))?;
    }
    if let Some(n) = o.sndbuf {
        opt(s, "--sndbuf", SocketOption::SndBuf(Some(n)))?;
    }
    if let Some(n) = o.rcvbuf {
        opt(s, "--rcvbuf", SocketOption::RcvBuf(Some(n)))?;
    }
    if o.ipv6 {
        opt(s, "--ipv6", SocketOption::Ipv6(true))?;
    }
    if let Some(p) = &o.socks_proxy {
        opt(s, "--socks-proxy", SocketOption::SocksProxy(p.clone()))?;
    }
    if let Some(u) = &o.socks_username {
        opt(
            s,
            "--socks-username",
            SocketOption::SocksUsername(u.clone()),
        )?;
    }
    if let Some(p) = &o.socks_password {
        opt(
            s,
            "--socks-password",
            SocketOption::SocksPassword(p.clone()),
        )?;
    }
    Ok(())
}

/// Binds and connects `s`; a wildcard port is reported on stderr
/// (`ringmq: listening on tcp://127.0.0.1:PORT`).
pub fn attach<P: Proactor>(
    s: &Socket<P>,
    bind: &[String],
    connect: &[String],
) -> Result<(), Failure> {
    for ep in bind {
        let actual = s
            .bind(ep)
            .map_err(|e| Failure::new(format!("cannot bind {ep}: {e}")))?;
        if &actual != ep {
            eprintln!("ringmq: listening on {actual}");
        }
    }
    for ep in connect {
        let fail = |e: Error| Failure::new(format!("cannot connect to {ep}: {e}"));
        if s.socket_type() == SocketType::Peer {
            // The id lets stdin speak first (libzmq's zmq_connect_peer).
            let id = s.connect_peer(ep).map_err(fail)?;
            eprintln!("ringmq: peer {id:08x} at {ep}");
        } else {
            s.connect(ep).map_err(fail)?;
        }
    }
    Ok(())
}

enum Ev {
    Interrupted,
    TimedOut,
    Recv(Result<Message, Error>),
    Input(Input),
}

/// The limit options: heartbeat TTL and timeout, MAXMSGSIZE, the frame cap, the
/// handshake interval, the peer cap, the partial-message and idle timeouts.
fn limits<P: Proactor>(s: &Socket<P>, a: &SocketArgs) -> Result<(), Failure> {
    let ms = Duration::from_millis;
    // Zero means "none" where the option says so.
    let nonzero = |v: u64| (v > 0).then(|| ms(v));
    let opts = [
        (
            "--heartbeat-ttl",
            a.heartbeat_ttl.map(|v| SocketOption::HeartbeatTtl(ms(v))),
        ),
        (
            "--heartbeat-timeout",
            a.heartbeat_timeout
                .map(|v| SocketOption::HeartbeatTimeout(ms(v))),
        ),
        (
            "--maxmsgsize",
            a.maxmsgsize.map(|v| SocketOption::MaxMsgSize(Some(v))),
        ),
        (
            "--max-frames",
            a.max_frames
                .map(|v| SocketOption::MaxFramesPerMsg((v > 0).then_some(v))),
        ),
        (
            "--handshake-ivl",
            a.handshake_ivl.map(|v| SocketOption::HandshakeIvl(ms(v))),
        ),
        (
            "--max-peers",
            a.max_peers
                .map(|v| SocketOption::MaxPeers((v > 0).then_some(v))),
        ),
        (
            "--partial-msg-timeout",
            a.partial_msg_timeout
                .map(|v| SocketOption::PartialMsgTimeout(nonzero(v))),
        ),
        (
            "--idle-timeout",
            a.idle_timeout
                .map(|v| SocketOption::IdleTimeout(nonzero(v))),
        ),
    ];
    for (name, o) in opts {
        if let Some(o) = o {
            opt(s, name, o)?;
        }
    }
    Ok(())
}

/// Creates, configures and runs the socket, then closes it (lingering).
pub async fn run<P: Proactor>(
    ctx: Context<P>,
    kind: SocketType,
    a: SocketArgs,
    interrupt: Interrupt,
) -> Result<Outcome, Failure> {
    if a.bind.is_empty() && a.connect.is_empty() {
        return Err(usage("give at least one --bind or --connect endpoint"));
    }
    if !a.subscribe.is_empty() && !matches!(kind, SocketType::Sub | SocketType::XSub) {
        return Err(usage("--subscribe applies to sub and xsub"));
    }
    if !a.join.is_empty() && kind != SocketType::Dish {
        return Err(usage("--join applies to dish"));
    }
    if a.echo && kind != SocketType::Rep {
        return Err(usage("--echo applies to rep"));
    }
    let p = ctx.proactor().clone();
    let s = ctx.socket(kind);
    if let Some(n) = a.sndhwm {
        opt(&s, "--sndhwm", SocketOption::SndHwm(n))?;
    }
    if let Some(n) = a.rcvhwm {
        opt(&s, "--rcvhwm", SocketOption::RcvHwm(n))?;
    }
    if let Some(ms) = a.linger {
        opt(
            &s,
            "--linger",
            SocketOption::Linger(Some(Duration::from_millis(ms))),
        )?;
    }
    if let Some(ms) = a.heartbeat {
        opt(
            &s,
            "--heartbeat",
            SocketOption::HeartbeatIvl(Duration::from_millis(ms)),
        )?;
    }
    limits(&s, &a)?;
    let timeout = a.timeout.map(Duration::from_millis);
    if let Some(t) = timeout {
        opt(&s, "--timeout", SocketOption::SndTimeo(Some(t)))?;
    }
    if let Some(id) = &a.identity {
        opt(
            &s,
            "--identity",
            SocketOption::RoutingId(id.clone().into_bytes().into()),
        )?;
    }
    apply_options(&s, &a.options)?;
    security::apply(&ctx, &s, &a.security)?;
    if a.monitor {
        monitor::spawn(&p, s.monitor(), None);
    }
    if kind == SocketType::Sub {
        if a.subscribe.is_empty() {
            s.subscribe(b"").map_err(|e| Failure::new(e.to_string()))?;
        }
        for t in &a.subscribe {
            s.subscribe(t.as_bytes())
                .map_err(|e| Failure::new(e.to_string()))?;
        }
    }
    for g in &a.join {
        s.join(g)
            .map_err(|e| Failure::new(format!("cannot join {g:?}: {e}")))?;
    }
    attach(&s, &a.bind, &a.connect)?;
    if kind == SocketType::XSub {
        for t in &a.subscribe {
            let mut m = vec![1u8];
            m.extend_from_slice(t.as_bytes());
            s.send(m)
                .await
                .map_err(|e| Failure::new(format!("cannot subscribe: {e}")))?;
        }
    }
    let outcome = session(&p, &s, kind, &a, &interrupt).await;
    // Lingers as --linger says (a second Ctrl-C exits at once).
    s.close().await;
    match outcome {
        // A Ctrl-C that raced with the end (stdin closing, say) still counts.
        Ok(Outcome::Done) if interrupt.is_set() => Ok(Outcome::Interrupted),
        other => other,
    }
}

/// The message loop.
async fn session<P: Proactor>(
    p: &P,
    s: &Socket<P>,
    kind: SocketType,
    a: &SocketArgs,
    interrupt: &Interrupt,
) -> Result<Outcome, Failure> {
    use SocketType::*;
    let format = if a.raw {
        Format::Raw
    } else {
        Format::Lines(a.delimiter.clone().into_bytes())
    };
    // The line format shows routing ids in hex; raw keeps them as bytes.
    let hex_ids = matches!(kind, Router | Stream) && !a.raw;
    // SERVER / PEER: the u32 routing id travels out of band; it is the first field.
    let routed = matches!(kind, Server | Peer);
    // RADIO / DISH: the group travels out of band; it is the first field.
    let grouped = matches!(kind, Radio | Dish);
    let receives = !matches!(kind, Push | Pub | Scatter | Radio);
    let sends = !matches!(kind, Pull | Sub | Gather | Dish);
    let reads_stdin = sends && !(kind == Rep && a.echo);
    let counts_sent = matches!(kind, Push | Pub | Scatter | Radio | Rep);
    let timeout = a.timeout.map(Duration::from_millis);

    if let Some(ms) = a.delay {
        let until = p.now() + Duration::from_millis(ms);
        let sleep: BoxFut<'_, bool> = Box::pin(async move {
            p.sleep_until(until).await;
            false
        });
        let stop: BoxFut<'_, bool> = Box::pin(async {
            interrupt.wait(p).await;
            true
        });
        if race(vec![stop, sleep]).await {
            return Ok(Outcome::Interrupted);
        }
    }

    let mut stdin = reads_stdin.then(|| StdinReader::spawn(format.clone()));
    let mut stdin_open = reads_stdin;
    let mut done = 0u64; // messages counted for --count
    let mut awaiting_reply = false; // REQ: a request is out
    let mut owe_reply = false; // REP: a request is in
    let mut deadline = timeout.map(|t| p.now() + t);
    if a.count == Some(0) {
        return Ok(Outcome::Done);
    }
    loop {
        if kind == Rep && reads_stdin && !stdin_open {
            return Ok(Outcome::Done); // no more replies to give
        }
        let want_input = stdin_open
            && match kind {
                Req => !awaiting_reply,
                Rep => owe_reply,
                _ => true,
            };
        let want_recv = receives
            && match kind {
                Req => awaiting_reply,
                Rep => !owe_reply,
                _ => true,
            };
        if !want_input && !want_recv {
            return Ok(Outcome::Done);
        }
        let ev = {
            let mut futs: Vec<BoxFut<'_, Ev>> = vec![Box::pin(async {
                interrupt.wait(p).await;
                Ev::Interrupted
            })];
            if want_recv {
                futs.push(Box::pin(async { Ev::Recv(s.recv().await) }));
                if let Some(d) = deadline {
                    futs.push(Box::pin(async move {
                        p.sleep_until(d).await;
                        Ev::TimedOut
                    }));
                }
            }
            if want_input {
                if let Some(reader) = stdin.as_mut() {
                    futs.push(Box::pin(async move { Ev::Input(reader.next(p).await) }));
                }
            }
            race(futs).await
        };
        match ev {
            Ev::Interrupted => return Ok(Outcome::Interrupted),
            Ev::TimedOut => {
                eprintln!(
                    "ringmq: timed out: no message within {} ms",
                    timeout.unwrap_or_default().as_millis()
                );
                return Ok(Outcome::TimedOut);
            }
            Ev::Recv(Err(e)) => return Err(Failure::new(format!("receive failed: {e}"))),
            Ev::Recv(Ok(msg)) => {
                deadline = timeout.map(|t| p.now() + t);
                let frames = msg.frames();
                let id_hex = if hex_ids {
                    frames.first().map(|f| hex(f))
                } else {
                    None
                };
                let mut parts: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
                if let (Some(h), Some(first)) = (&id_hex, parts.first_mut()) {
                    *first = h.as_bytes();
                }
                let id_field = routed.then(|| {
                    let id = msg.routing_id().unwrap_or(0);
                    if a.raw {
                        id.to_be_bytes().to_vec()
                    } else {
                        format!("{id:08x}").into_bytes()
                    }
                });
                if let Some(f) = &id_field {
                    parts.insert(0, f);
                }
                if grouped {
                    parts.insert(0, msg.group());
                }
                match write_message(&format, parts) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                        return Ok(Outcome::Done)
                    }
                    Err(e) => return Err(Failure::new(format!("cannot write stdout: {e}"))),
                }
                match kind {
                    Req => awaiting_reply = false,
                    Rep => owe_reply = true,
                    // --xpub-manual: the notice was printed; grant what it asks.
                    XPub if a.options.xpub_manual => {
                        if let Some((&kind, topic)) = frames.first().and_then(|f| f.split_first()) {
                            let granted = match kind {
                                1 => s.subscribe(topic),
                                0 => s.unsubscribe(topic),
                                _ => Ok(()),
                            };
                            granted.map_err(|e| Failure::new(format!("--xpub-manual: {e}")))?;
                        }
                    }
                    _ => {}
                }
                if kind == Rep && a.echo {
                    if let Some(o) = send(p, s, msg, interrupt).await? {
                        return Ok(o);
                    }
                    owe_reply = false;
                }
                if !counts_sent || (kind == Rep && a.echo) {
                    done += 1;
                    if a.count.is_some_and(|n| done >= n) {
                        return Ok(Outcome::Done);
                    }
                }
            }
            Ev::Input(Input::Eof) => stdin_open = false,
            Ev::Input(Input::Error(e)) => return Err(Failure::new(e)),
            Ev::Input(Input::Msg(mut frames)) => {
                if hex_ids {
                    match unhex(&frames[0]) {
                        Some(id) if !id.is_empty() => frames[0] = id,
                        _ => {
                            eprintln!(
                                "ringmq: skipped a message: its first frame {:?} is not a hex routing id",
                                String::from_utf8_lossy(&frames[0])
                            );
                            continue;
                        }
                    }
                }
                let mut to = None;
                if routed {
                    let first = frames.remove(0);
                    match routing_id_field(&first, a.raw) {
                        Some(id) => to = Some(id),
                        None => {
                            eprintln!(
                                "ringmq: skipped a message: its first frame {:?} is not a routing id (8 hex digits at most, not 0)",
                                String::from_utf8_lossy(&first)
                            );
                            continue;
                        }
                    }
                }
                let mut group = None;
                if grouped {
                    if frames.len() != 2 {
                        eprintln!(
                            "ringmq: skipped a message of {} frames: RADIO takes GROUP|body",
                            frames.len()
                        );
                        continue;
                    }
                    group = Some(frames.remove(0));
                }
                if kind.is_single_part() && frames.len() != 1 {
                    eprintln!(
                        "ringmq: skipped a message of {} frames: {kind} messages are single-part",
                        frames.len()
                    );
                    continue;
                }
                let mut msg: Message = frames.into_iter().collect();
                if let Some(id) = to {
                    msg.set_routing_id(id);
                }
                if let Some(g) = group {
                    if let Err(e) = msg.set_group(&g) {
                        eprintln!("ringmq: skipped a message: {e}");
                        continue;
                    }
                }
                if let Some(o) = send(p, s, msg, interrupt).await? {
                    return Ok(o);
                }
                match kind {
                    Req => awaiting_reply = true,
                    Rep => owe_reply = false,
                    _ => {}
                }
                if counts_sent {
                    done += 1;
                    if a.count.is_some_and(|n| done >= n) {
                        return Ok(Outcome::Done);
                    }
                }
            }
        }
    }
}

/// Sends `msg` unless interrupted; `Some(outcome)` ends the session.
async fn send<P: Proactor>(
    p: &P,
    s: &Socket<P>,
    msg: Message,
    interrupt: &Interrupt,
) -> Result<Option<Outcome>, Failure> {
    let result = race(vec![
        Box::pin(async { Some(s.send(msg).await) }) as BoxFut<'_, _>,
        Box::pin(async {
            interrupt.wait(p).await;
            None
        }),
    ])
    .await;
    match result {
        None => Ok(Some(Outcome::Interrupted)),
        Some(Ok(())) => Ok(None),
        Some(Err(Error::TimedOut)) => {
            eprintln!("ringmq: timed out: the message could not be sent");
            Ok(Some(Outcome::TimedOut))
        }
        Some(Err(e)) => Err(Failure::new(format!("send failed: {e}"))),
    }
}

/// A SERVER / PEER routing id as given on stdin: hex (8 digits at most) in the line
/// format, 4 bytes big endian in the raw one; never 0.
fn routing_id_field(field: &[u8], raw: bool) -> Option<u32> {
    let id = if raw {
        u32::from_be_bytes(field.try_into().ok()?)
    } else {
        let text = std::str::from_utf8(field).ok()?;
        if text.is_empty() || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()?
    };
    (id != 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::routing_id_field;

    #[test]
    fn routing_id_fields() {
        assert_eq!(routing_id_field(b"6b8b4567", false), Some(0x6b8b_4567));
        assert_eq!(routing_id_field(b"1F", false), Some(0x1f));
        assert_eq!(routing_id_field(b"0", false), None);
        assert_eq!(routing_id_field(b"", false), None);
        assert_eq!(routing_id_field(b"123456789", false), None);
        assert_eq!(routing_id_field(b"+1", false), None);
        assert_eq!(routing_id_field(b"xyz", false), None);
        assert_eq!(routing_id_field(&[0, 0, 1, 2], true), Some(0x102));
        assert_eq!(routing_id_field(&[1, 2], true), None);
    }
}
