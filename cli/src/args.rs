//! The command line (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringmq_sockets::SocketType;

/// ZeroMQ sockets from the shell, on ringmq.
///
/// Sending sockets read messages from stdin, receiving sockets print them on stdout:
/// one message per line, frames separated by `|` (see --delimiter), or with --raw
/// binary frames (per frame: 1 flag byte, 1 = more frames follow, 0 = last; a 4-byte
/// big-endian length; the bytes). REQ, REP, DEALER, ROUTER, PAIR, XPUB, XSUB,
/// STREAM, CLIENT, SERVER, PEER and CHANNEL do both. ROUTER and STREAM print the peer's
/// routing id (hex) as the first frame and take a hex routing id as the first frame of
/// what they send; so do the draft types SERVER and PEER, whose routing id is a u32 (8
/// hex digits; 4 bytes big endian with --raw). The draft types carry single-part
/// messages only; RADIO takes, and DISH prints, the group as the first field
/// (`GROUP|body`). When stdin ends, PUSH, PUB, SCATTER, RADIO, REQ and REP exit (after
/// lingering); the other types keep receiving until --count, --timeout or Ctrl-C.
///
/// Exit codes: 0 done, 1 error (bad endpoint, address in use, bad key, ...), 2 bad
/// usage, 3 --timeout expired, 130 Ctrl-C (after lingering; a second Ctrl-C exits
/// at once).
#[derive(Debug, Parser)]
#[command(name = "ringmq", version, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// REQ: each stdin message is a request; prints each reply.
    Req(SocketArgs),
    /// REP: prints each request, then replies with the next stdin message (or the
    /// request itself with --echo).
    Rep(SocketArgs),
    /// DEALER: sends stdin messages round-robin, prints what arrives.
    Dealer(SocketArgs),
    /// ROUTER: prints `ROUTING-ID-HEX|frames...`, sends stdin messages to the peer
    /// named (in hex) by their first frame.
    Router(SocketArgs),
    /// PUB: publishes stdin messages (the first frame is the topic).
    Pub(SocketArgs),
    /// SUB: prints the messages of the --subscribe topics (all when none is given).
    Sub(SocketArgs),
    /// XPUB: publishes stdin messages, prints subscription notices (byte 1 or 0 + topic).
    Xpub(SocketArgs),
    /// XSUB: prints published messages; --subscribe sends subscriptions, stdin
    /// messages go to the publishers as they are.
    Xsub(SocketArgs),
    /// PUSH: sends stdin messages round-robin.
    Push(SocketArgs),
    /// PULL: prints what arrives.
    Pull(SocketArgs),
    /// PAIR: sends stdin messages to its one peer, prints what arrives.
    Pair(SocketArgs),
    /// STREAM: raw TCP peers, no ZMTP. Prints `ROUTING-ID-HEX|bytes` for what a peer
    /// sends (`ROUTING-ID-HEX|` alone when it connects and when it goes away); sends
    /// `ROUTING-ID-HEX|bytes` to that peer, and `ROUTING-ID-HEX|` closes it. Use --raw
    /// for binary data (the line format adds no newline to what it sends).
    Stream(SocketArgs),
    /// CLIENT (draft): sends stdin messages round-robin to SERVERs, prints what
    /// arrives. Single-part: a line with the delimiter in it is skipped.
    Client(SocketArgs),
    /// SERVER (draft): prints `ROUTING-ID-HEX|body` (the u32 routing id, 8 hex
    /// digits), sends each stdin `ROUTING-ID-HEX|body` to that peer.
    Server(SocketArgs),
    /// SCATTER (draft): sends stdin messages round-robin to GATHERs.
    Scatter(SocketArgs),
    /// GATHER (draft): prints what arrives from SCATTERs.
    Gather(SocketArgs),
    /// PEER (draft): like SERVER, among PEERs; each --connect reports the peer's
    /// routing id on stderr (`ringmq: peer ROUTING-ID-HEX at EP`) so that stdin can
    /// speak first.
    Peer(SocketArgs),
    /// CHANNEL (draft): PAIR with single-part messages.
    Channel(SocketArgs),
    /// RADIO (draft): sends each stdin `GROUP|body` to the DISHes that joined GROUP
    /// (tcp://, ipc://, or udp:// to a DISH's address or multicast group).
    Radio(SocketArgs),
    /// DISH (draft): prints `GROUP|body` for the messages of the --join groups (bind
    /// udp://HOST:PORT, a multicast address joins that group).
    Dish(SocketArgs),
    /// Prints a new CURVE key pair in Z85 (like libzmq's curve_keygen).
    Keygen,
    /// Forwards between two sockets like zmq_proxy_steerable.
    ///
    /// Each socket is `TYPE:EP`, EP prefixed with `@` to bind or `>` to connect (bind
    /// when neither); several endpoints separated by `,`. Forwarder: `--frontend
    /// xsub:>tcp://pubhost:5556 --backend xpub:@tcp://*:5557`; broker: `--frontend
    /// router:tcp://*:5559 --backend dealer:tcp://*:5560`.
    ///
    /// The control socket takes PAUSE, RESUME, TERMINATE and STATISTICS (answered with
    /// 8 frames of 8-byte native-endian counters, like zmq_proxy_steerable: frontend
    /// messages in, bytes in, messages out, bytes out, then the same for the backend).
    /// A REP control socket answers every command (PAUSE, RESUME, TERMINATE with the
    /// command itself). Ctrl-C or TERMINATE stops the proxy.
    Proxy(ProxyArgs),
}

impl Command {
    /// The socket type and its arguments, for the socket subcommands.
    pub fn into_socket(self) -> Option<(SocketType, SocketArgs)> {
        Some(match self {
            Command::Req(a) => (SocketType::Req, a),
            Command::Rep(a) => (SocketType::Rep, a),
            Command::Dealer(a) => (SocketType::Dealer, a),
            Command::Router(a) => (SocketType::Router, a),
            Command::Pub(a) => (SocketType::Pub, a),
            Command::Sub(a) => (SocketType::Sub, a),
            Command::Xpub(a) => (SocketType::XPub, a),
            Command::Xsub(a) => (SocketType::XSub, a),
            Command::Push(a) => (SocketType::Push, a),
            Command::Pull(a) => (SocketType::Pull, a),
            Command::Pair(a) => (SocketType::Pair, a),
            Command::Stream(a) => (SocketType::Stream, a),
            Command::Client(a) => (SocketType::Client, a),
            Command::Server(a) => (SocketType::Server, a),
            Command::Scatter(a) => (SocketType::Scatter, a),
            Command::Gather(a) => (SocketType::Gather, a),
            Command::Peer(a) => (SocketType::Peer, a),
            Command::Channel(a) => (SocketType::Channel, a),
            Command::Radio(a) => (SocketType::Radio, a),
            Command::Dish(a) => (SocketType::Dish, a),
            Command::Keygen | Command::Proxy(_) => return None,
        })
    }
}

/// The I/O engine.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Backend {
    /// io_uring where available, else epoll.
    #[default]
    Auto,
    /// The built-in io_uring driver.
    Uring,
    /// The built-in epoll driver.
    Epoll,
    /// The compio runtime.
    Compio,
    /// The monoio runtime.
    Monoio,
}

/// Options of the socket subcommands.
#[derive(Debug, Args)]
pub struct SocketArgs {
    /// Bind to this endpoint (tcp://HOST:PORT, tcp://*:*, ipc:///path); repeatable.
    #[arg(long, value_name = "EP")]
    pub bind: Vec<String>,
    /// Connect to this endpoint; repeatable.
    #[arg(long, value_name = "EP")]
    pub connect: Vec<String>,
    /// SUB/XSUB: subscribe to this topic prefix; repeatable. A SUB without any
    /// subscribes to everything ("").
    #[arg(long, value_name = "TOPIC")]
    pub subscribe: Vec<String>,
    /// DISH: join this group (at most 255 bytes); repeatable.
    #[arg(long, value_name = "GROUP")]
    pub join: Vec<String>,
    /// REQ/DEALER/ROUTER: the routing id sent to peers (ZMQ_ROUTING_ID), as text.
    #[arg(long, value_name = "ID")]
    pub identity: Option<String>,
    /// Messages queued per peer for sending (0 = unlimited; default 1000).
    #[arg(long, value_name = "N")]
    pub sndhwm: Option<usize>,
    /// Messages queued per peer on receipt (0 = unlimited; default 1000).
    #[arg(long, value_name = "N")]
    pub rcvhwm: Option<usize>,
    /// How long to keep delivering queued messages when exiting (default: until
    /// delivered, like libzmq).
    #[arg(long, value_name = "MS")]
    pub linger: Option<u64>,
    /// Send ZMTP PINGs this often and drop peers silent for as long
    /// (ZMQ_HEARTBEAT_IVL).
    #[arg(long, value_name = "MS")]
    pub heartbeat: Option<u64>,
    /// The TTL announced in our PINGs: the peer drops us when silent for longer
    /// (ZMQ_HEARTBEAT_TTL).
    #[arg(long, value_name = "MS", help_heading = "Limits")]
    pub heartbeat_ttl: Option<u64>,
    /// How long a peer may stay silent after a PING (ZMQ_HEARTBEAT_TIMEOUT; default:
    /// the --heartbeat interval).
    #[arg(long, value_name = "MS", help_heading = "Limits")]
    pub heartbeat_timeout: Option<u64>,
    /// Largest message accepted from a peer, all frames together (ZMQ_MAXMSGSIZE;
    /// default unlimited). A peer sending more is disconnected.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub maxmsgsize: Option<u64>,
    /// Most frames in one message accepted from a peer (default 65536; 0 =
    /// unlimited). ringmq-specific.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_frames: Option<u32>,
    /// Deadline for a peer's ZMTP handshake (ZMQ_HANDSHAKE_IVL; default 30000; 0 =
    /// none).
    #[arg(long, value_name = "MS", help_heading = "Limits")]
    pub handshake_ivl: Option<u64>,
    /// Most connections accepted on the bound endpoints at once; more are closed at
    /// accept (default and 0: unlimited). ringmq-specific.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_peers: Option<usize>,
    /// Drop a peer that takes longer than this to finish a message it started
    /// (default and 0: never). ringmq-specific.
    #[arg(long, value_name = "MS", help_heading = "Limits")]
    pub partial_msg_timeout: Option<u64>,
    /// Drop a peer that sends no message for this long (default and 0: never).
    /// ringmq-specific.
    #[arg(long, value_name = "MS", help_heading = "Limits")]
    pub idle_timeout: Option<u64>,
    /// Exit after N messages: sent for PUSH/PUB, replies sent for REP, received for
    /// the others (REQ: replies).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit with code 3 when no message arrives for MS milliseconds (for PUSH/PUB:
    /// when a send cannot proceed for that long).
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,
    /// Wait this long after binding/connecting before sending the first message
    /// (lets subscribers join a PUB).
    #[arg(long, value_name = "MS")]
    pub delay: Option<u64>,
    /// REP: reply with the request itself instead of reading replies from stdin.
    #[arg(long)]
    pub echo: bool,
    /// Frame separator of the line format.
    #[arg(long, short = 'd', value_name = "TEXT", default_value = "|")]
    pub delimiter: String,
    /// Binary framing on stdin and stdout: per frame 1 flag byte (1 = more frames
    /// follow, 0 = last), 4-byte big-endian length, the bytes.
    #[arg(long)]
    pub raw: bool,
    /// Print the socket's monitor events to stderr as JSON lines.
    #[arg(long)]
    pub monitor: bool,
    /// The I/O engine.
    #[arg(long, value_enum, default_value_t = Backend::Auto, alias = "runtime")]
    pub backend: Backend,
    /// libzmq socket options.
    #[command(flatten)]
    pub options: OptionArgs,
    /// Security options.
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// libzmq socket options a shell user reaches for.
#[derive(Debug, Args, Clone, Default)]
pub struct OptionArgs {
    /// ROUTER/STREAM: the routing id of the peer of the first --connect
    /// (ZMQ_CONNECT_ROUTING_ID), as text.
    #[arg(long, value_name = "ID", help_heading = "Socket options")]
    pub connect_routing_id: Option<String>,
    /// ROUTER/DEALER/REQ: send an empty message to each peer on connect
    /// (ZMQ_PROBE_ROUTER).
    #[arg(long, help_heading = "Socket options")]
    pub probe_router: bool,
    /// XPUB: pass subscriptions through the application (ZMQ_XPUB_MANUAL): each
    /// notice is printed, then granted as it asks.
    #[arg(long, help_heading = "Socket options")]
    pub xpub_manual: bool,
    /// XPUB: a message sent to each subscriber when it connects (ZMQ_XPUB_WELCOME_MSG).
    #[arg(long, value_name = "TEXT", help_heading = "Socket options")]
    pub xpub_welcome: Option<String>,
    /// XPUB: print every subscribe (ZMQ_XPUB_VERBOSE).
    #[arg(long, help_heading = "Socket options")]
    pub xpub_verbose: bool,
    /// XPUB: print every subscribe and unsubscribe (ZMQ_XPUB_VERBOSER).
    #[arg(long, help_heading = "Socket options")]
    pub xpub_verboser: bool,
    /// Kernel send buffer of each TCP connection, bytes (ZMQ_SNDBUF).
    #[arg(long, value_name = "BYTES", help_heading = "Socket options")]
    pub sndbuf: Option<u32>,
    /// Kernel receive buffer of each TCP connection, bytes (ZMQ_RCVBUF).
    #[arg(long, value_name = "BYTES", help_heading = "Socket options")]
    pub rcvbuf: Option<u32>,
    /// tcp://*:PORT binds IPv4 and IPv6 (ZMQ_IPV6).
    #[arg(long, help_heading = "Socket options")]
    pub ipv6: bool,
    /// Connect through this SOCKS5 proxy, HOST:PORT (ZMQ_SOCKS_PROXY).
    #[arg(long, value_name = "HOST:PORT", help_heading = "Socket options")]
    pub socks_proxy: Option<String>,
    /// SOCKS5 username (ZMQ_SOCKS_USERNAME); with --socks-password.
    #[arg(long, value_name = "USER", help_heading = "Socket options")]
    pub socks_username: Option<String>,
    /// SOCKS5 password (ZMQ_SOCKS_PASSWORD).
    #[arg(long, value_name = "PASS", help_heading = "Socket options")]
    pub socks_password: Option<String>,
}

/// PLAIN / CURVE / ZAP options.
#[derive(Debug, Args, Clone, Default)]
pub struct SecurityArgs {
    /// Be a CURVE server with this Z85 secret key.
    #[arg(
        long,
        value_name = "SECRETKEY",
        help_heading = "Security",
        allow_hyphen_values = true
    )]
    pub curve_server: Option<String>,
    /// Be a CURVE client (needs --server-key).
    #[arg(long, requires = "server_key", help_heading = "Security")]
    pub curve_client: bool,
    /// CURVE client: the server's Z85 public key.
    #[arg(
        long,
        value_name = "KEY",
        help_heading = "Security",
        allow_hyphen_values = true
    )]
    pub server_key: Option<String>,
    /// CURVE client: our Z85 secret key (default: a new key pair, whose public key
    /// is printed on stderr).
    #[arg(
        long,
        value_name = "KEY",
        help_heading = "Security",
        allow_hyphen_values = true
    )]
    pub secret_key: Option<String>,
    /// Be a PLAIN server; accepts the --plain USER:PASS pairs.
    #[arg(long, help_heading = "Security")]
    pub plain_server: bool,
    /// PLAIN client credentials, or with --plain-server an accepted user (repeatable).
    #[arg(long, value_name = "USER:PASS", help_heading = "Security")]
    pub plain: Vec<String>,
    /// ZAP: accept only clients from this IP address (repeatable).
    #[arg(long, value_name = "ADDR", help_heading = "Security")]
    pub zap_allow: Vec<String>,
    /// ZAP for a CURVE server: accept only the client keys in this directory (`*.key`
    /// files with `public-key = "..."` lines, as zmq.auth / czmq write them).
    #[arg(long, value_name = "DIR", help_heading = "Security")]
    pub zap_curve_keys: Option<PathBuf>,
}

/// Options of `ringmq proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The frontend socket, TYPE:EP.
    #[arg(long, value_name = "TYPE:EP")]
    pub frontend: String,
    /// The backend socket, TYPE:EP.
    #[arg(long, value_name = "TYPE:EP")]
    pub backend: String,
    /// Also send every forwarded message to this socket (e.g. pub:@tcp://*:5999).
    #[arg(long, value_name = "TYPE:EP")]
    pub capture: Option<String>,
    /// The control socket (e.g. rep:@tcp://127.0.0.1:5998).
    #[arg(long, value_name = "TYPE:EP")]
    pub control: Option<String>,
    /// Print the proxy sockets' monitor events to stderr as JSON lines.
    #[arg(long)]
    pub monitor: bool,
    /// The I/O engine.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub runtime: Backend,
}
