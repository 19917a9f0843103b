//! `ringmq proxy`: zmq_proxy_steerable between two sockets.

use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, Error, Message, Socket, SocketType};

use crate::args::ProxyArgs;
use crate::run::attach;
use crate::util::{race, BoxFut, Interrupt};
use crate::{monitor, Failure, Outcome};

/// A socket type by its name (any case).
pub fn socket_type(name: &str) -> Option<SocketType> {
    use SocketType::*;
    Some(match name.to_ascii_lowercase().as_str() {
        "req" => Req,
        "rep" => Rep,
        "dealer" => Dealer,
        "router" => Router,
        "pub" => Pub,
        "sub" => Sub,
        "xpub" => XPub,
        "xsub" => XSub,
        "push" => Push,
        "pull" => Pull,
        "pair" => Pair,
        _ => return None,
    })
}

/// A parsed `TYPE:EP[,EP...]` with its binds and connects.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    /// The socket type.
    pub kind: SocketType,
    /// Endpoints to bind (`@EP` or plain `EP`).
    pub bind: Vec<String>,
    /// Endpoints to connect (`>EP`).
    pub connect: Vec<String>,
}

/// Parses `TYPE:EP[,EP...]`; EP prefixed with `@` binds, with `>` connects, and binds
/// without a prefix.
pub fn parse_spec(flag: &str, text: &str) -> Result<Spec, Failure> {
    let (name, eps) = text.split_once(':').ok_or_else(|| {
        Failure::new(format!(
            "{flag} wants TYPE:ENDPOINT (e.g. xsub:@tcp://*:5556), got {text:?}"
        ))
    })?;
    let kind = socket_type(name)
        .ok_or_else(|| Failure::new(format!("{flag}: unknown socket type {name:?}")))?;
    let mut spec = Spec {
        kind,
        bind: Vec::new(),
        connect: Vec::new(),
    };
    for ep in eps.split(',').map(str::trim) {
        if let Some(ep) = ep.strip_prefix('>') {
            spec.connect.push(ep.to_owned());
        } else {
            spec.bind
                .push(ep.strip_prefix('@').unwrap_or(ep).to_owned());
        }
    }
    Ok(spec)
}

fn open<P: Proactor>(ctx: &Context<P>, flag: &str, text: &str) -> Result<Socket<P>, Failure> {
    let spec = parse_spec(flag, text)?;
    let s = ctx.socket(spec.kind);
    if spec.kind == SocketType::Sub {
        s.subscribe(b"").map_err(|e| Failure::new(e.to_string()))?;
    }
    attach(&s, &spec.bind, &spec.connect)
        .map_err(|f| Failure::new(format!("{flag}: {}", f.message)))?;
    Ok(s)
}

fn can_recv(kind: SocketType) -> bool {
    !matches!(kind, SocketType::Pub | SocketType::Push)
}

enum Ev {
    Interrupted,
    Front(Result<Message, Error>),
    Back(Result<Message, Error>),
    Control(Result<Message, Error>),
}

/// Counters like zmq_proxy_steerable's STATISTICS: per side messages in, bytes in,
/// messages out, bytes out.
#[derive(Default, Debug)]
struct Stats([u64; 8]);

impl Stats {
    fn add(&mut self, base: usize, msg: &Message) {
        self.0[base] += 1;
        self.0[base + 1] += msg.byte_len() as u64;
    }
}

/// Runs the proxy until TERMINATE or Ctrl-C.
pub async fn run<P: Proactor>(
    ctx: Context<P>,
    a: ProxyArgs,
    interrupt: Interrupt,
) -> Result<Outcome, Failure> {
    let p = ctx.proactor().clone();
    let front = open(&ctx, "--frontend", &a.frontend)?;
    let back = open(&ctx, "--backend", &a.backend)?;
    let capture = a
        .capture
        .as_deref()
        .map(|c| open(&ctx, "--capture", c))
        .transpose()?;
    let control = a
        .control
        .as_deref()
        .map(|c| open(&ctx, "--control", c))
        .transpose()?;
    if a.monitor {
        monitor::spawn(&p, front.monitor(), Some("frontend"));
        monitor::spawn(&p, back.monitor(), Some("backend"));
        if let Some(c) = &capture {
            monitor::spawn(&p, c.monitor(), Some("capture"));
        }
        if let Some(c) = &control {
            monitor::spawn(&p, c.monitor(), Some("control"));
        }
    }
    let (front_in, back_in) = (can_recv(front.socket_type()), can_recv(back.socket_type()));
    let mut stats = Stats::default();
    let mut paused = false;
    let outcome = loop {
        let ev = {
            let mut futs: Vec<BoxFut<'_, Ev>> = vec![Box::pin(async {
                interrupt.wait(&p).await;
                Ev::Interrupted
            })];
            if let Some(c) = &control {
                futs.push(Box::pin(async { Ev::Control(c.recv().await) }));
            }
            if !paused {
                if front_in {
                    futs.push(Box::pin(async { Ev::Front(front.recv().await) }));
                }
                if back_in {
                    futs.push(Box::pin(async { Ev::Back(back.recv().await) }));
                }
            }
            race(futs).await
        };
        let (msg, from_front) = match ev {
            Ev::Interrupted => break Outcome::Interrupted,
            Ev::Front(r) => (r, true),
            Ev::Back(r) => (r, false),
            Ev::Control(r) => {
                let msg = r.map_err(|e| Failure::new(format!("control socket: {e}")))?;
                let cmd = msg.frames().first().cloned().unwrap_or_default();
                let mut reply: Option<Message> = None;
                match &cmd[..] {
                    b"PAUSE" => paused = true,
                    b"RESUME" => paused = false,
                    b"TERMINATE" => {}
                    b"STATISTICS" => {
                        reply = Some(stats.0.iter().map(|v| v.to_ne_bytes().to_vec()).collect());
                    }
                    other => eprintln!(
                        "ringmq: proxy: unknown control command {:?}",
                        String::from_utf8_lossy(other)
                    ),
                }
                let ctl = control
                    .as_ref()
                    .expect("control event from a control socket");
                if reply.is_none() && ctl.socket_type() == SocketType::Rep {
                    reply = Some(Message::from(cmd.clone()));
                }
                if let Some(r) = reply {
                    if let Err(e) = ctl.try_send(r) {
                        eprintln!("ringmq: proxy: cannot answer on the control socket: {e}");
                    }
                }
                if &cmd[..] == b"TERMINATE" {
                    break Outcome::Done;
                }
                continue;
            }
        };
        let msg = msg.map_err(|e| Failure::new(format!("proxy receive failed: {e}")))?;
        let (to, base_in, base_out) = if from_front {
            (&back, 0, 6)
        } else {
            (&front, 4, 2)
        };
        stats.add(base_in, &msg);
        if let Some(c) = &capture {
            let _ = c.try_send(msg.clone());
        }
        let size_msg = msg.clone();
        let sent = race(vec![
            Box::pin(async { Some(to.send(msg).await) }) as BoxFut<'_, _>,
            Box::pin(async {
                interrupt.wait(&p).await;
                None
            }),
        ])
        .await;
        match sent {
            None => break Outcome::Interrupted,
            Some(Ok(())) => stats.add(base_out, &size_msg),
            Some(Err(e)) => {
                return Err(Failure::new(format!("proxy send failed: {e}")));
            }
        }
    };
    front.close().await;
    back.close().await;
    if let Some(c) = capture {
        c.close().await;
    }
    if let Some(c) = control {
        c.close().await;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = parse_spec("--frontend", "XSUB:>tcp://a:1,@ipc:///x,tcp://*:2").unwrap();
        assert_eq!(s.kind, SocketType::XSub);
        assert_eq!(s.connect, vec!["tcp://a:1"]);
        assert_eq!(s.bind, vec!["ipc:///x", "tcp://*:2"]);
        assert!(parse_spec("--frontend", "tcp://x").is_err());
        let e = parse_spec("--backend", "nope:tcp://*:1").unwrap_err();
        assert!(e.message.contains("unknown socket type"), "{}", e.message);
    }
}
