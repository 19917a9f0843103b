//! One ZMTP connection as a sans-IO state machine: greeting, security handshake,
//! framing and heartbeats.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use crate::command::{self, Command};
use crate::error::{Error, PeerMisbehaved};
use crate::frame::{Frame, FrameDecoder, FrameEncoder, FrameHeader, Transmit};
use crate::greeting::{Greeting, GreetingDecoder, GreetingProgress, MechanismName};
use crate::heartbeat::Heartbeat;
use crate::mechanism::{AuthVerdict, Credentials, HandshakeStatus, Mechanism};
use crate::metadata::{Metadata, IDENTITY, SOCKET_TYPE};
use crate::partial::Partial;
use crate::parts::Parts;
use crate::socket_type::SocketType;

/// Largest command frame accepted before the handshake completes: bounds the memory an
/// unauthenticated peer can make us hold.
pub const HANDSHAKE_MAX_FRAME: u64 = 64 * 1024;

/// Smallest receive-buffer growth, so small reads do not each allocate.
const RECV_CHUNK: usize = 8 * 1024;

/// Extra room allowed on the wire around each frame for mechanisms that encrypt (CURVE
/// adds 33 bytes: name, nonce, MAC and the inner flags byte).
const ENCRYPTION_SLACK: u64 = 64;

/// Default of [`SessionConfig::max_message_frames`]. Real messages have a handful of
/// frames (a ROUTER envelope adds one or two per hop); even applications that batch
/// records as frames stay far below this. At the limit, a message of empty frames is
/// 128 KiB on the wire and about 2 MiB once delivered (a 32-byte handle per frame).
pub const DEFAULT_MAX_MESSAGE_FRAMES: u32 = 65_536;

/// Session options (the subset of socket options the protocol layer needs).
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Our socket type; sent as `Socket-Type` and checked against the peer's.
    pub socket_type: SocketType,
    /// Our routing id, sent as `Identity` by REQ, DEALER and ROUTER (at most 255 bytes,
    /// not starting with byte 0).
    pub identity: Bytes,
    /// Extra READY properties (names conventionally start with `X-`).
    pub metadata: Metadata,
    /// Largest message accepted from the peer, in bytes: the sum of its frames
    /// (`ZMQ_MAXMSGSIZE`; libzmq checks each frame alone). Also the limit of each
    /// command frame after the handshake. `None` is unlimited.
    pub max_message_size: Option<u64>,
    /// Most frames in one message accepted from the peer (ringmq-specific, ZMQ has no
    /// such option); [`DEFAULT_MAX_MESSAGE_FRAMES`] by default, `None` is unlimited.
    pub max_message_frames: Option<u32>,
    /// PING interval (`ZMQ_HEARTBEAT_IVL`); `None` disables PINGs.
    pub heartbeat_ivl: Option<Duration>,
    /// TTL announced in our PINGs (`ZMQ_HEARTBEAT_TTL`).
    pub heartbeat_ttl: Option<Duration>,
    /// Silence tolerated after a PING (`ZMQ_HEARTBEAT_TIMEOUT`); defaults to the
    /// interval.
    pub heartbeat_timeout: Option<Duration>,
    /// Deadline for the whole handshake (`ZMQ_HANDSHAKE_IVL`); `None` disables it.
    pub handshake_ivl: Option<Duration>,
    /// Longest a message may take to arrive once its first bytes did (ringmq-specific):
    /// a peer that starts a frame or a multipart message and does not finish it in
    /// time fails the session with [`Error::PartialMessageTimeout`]. `None` (the
    /// default, like libzmq) waits forever. Heartbeats do not cover this: a peer can
    /// keep a connection alive by trickling a frame one byte at a time.
    pub partial_message_timeout: Option<Duration>,
    /// Longest a handshaken peer may go without sending a message (ringmq-specific):
    /// data messages, subscriptions and cancels count, PINGs and PONGs do not. A peer
    /// silent for longer fails the session with [`Error::IdleTimeout`]. `None` (the
    /// default, like libzmq) keeps idle peers forever.
    pub idle_timeout: Option<Duration>,
    /// The ZMTP minor version we announce: 1 (3.1, default) or 0 (3.0).
    pub zmtp_minor: u8,
}

impl SessionConfig {
    /// Defaults like libzmq's: no size limit, no heartbeats, 30 s handshake, ZMTP 3.1;
    /// and at most [`DEFAULT_MAX_MESSAGE_FRAMES`] frames per message.
    pub fn new(socket_type: SocketType) -> Self {
        SessionConfig {
            socket_type,
            identity: Bytes::new(),
            metadata: Metadata::new(),
            max_message_size: None,
            max_message_frames: Some(DEFAULT_MAX_MESSAGE_FRAMES),
            heartbeat_ivl: None,
            heartbeat_ttl: None,
            heartbeat_timeout: None,
            handshake_ivl: Some(Duration::from_secs(30)),
            partial_message_timeout: None,
            idle_timeout: None,
            zmtp_minor: 1,
        }
    }
}

/// What a session reports to its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed; messages may flow.
    HandshakeSucceeded {
        /// The peer's READY / INITIATE properties, plus `User-Id` and ZAP metadata on a
        /// server that authenticated the peer.
        metadata: Metadata,
        /// The peer's socket type (already checked to be compatible with ours).
        socket_type: SocketType,
        /// The minor version of the peer's greeting (0: a ZMTP 3.0 peer).
        peer_minor: u8,
    },
    /// A whole multipart message (never partial).
    Message(Parts),
    /// The peer subscribed to a topic (3.1 command or 3.0 `01` data message; the latter
    /// only recognised when we are PUB or XPUB), or, when we are RADIO, joined a group
    /// (JOIN command, group checked against its 15-byte limit).
    Subscribe(Bytes),
    /// The peer cancelled a subscription (RADIO: left a group with LEAVE).
    Cancel(Bytes),
    /// A server needs a verdict on these credentials: call [`Session::auth_result`].
    NeedsAuth(Credentials),
    /// The session failed; it stays failed. Flush [`Session::poll_transmit`] (it may
    /// hold an ERROR command for the peer), then close the connection.
    Error(Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Greeting,
    Handshake,
    Established,
    Failed,
}

/// A ZMTP 3.x connection without I/O, in the style of quinn-proto's `Connection`.
///
/// Call order:
/// 1. [`Session::new`] with the current time; it queues our greeting's signature.
/// 2. Whenever bytes arrive: [`Session::handle_input`] (or [`Session::handle_input_buf`]
///    to hand over a filled `BytesMut` without a copy, or
///    [`Session::handle_input_buf_with`] to also take the messages as they are decoded
///    instead of as [`Event::Message`]).
/// 3. When the deadline from [`Session::poll_timeout`] passes:
///    [`Session::handle_timeout`].
/// 4. After each of these calls (and after `send`, `subscribe`, `cancel`,
///    `auth_result`): drain [`Session::poll_event`] until `None`, answer any
///    [`Event::NeedsAuth`] with [`Session::auth_result`], then write everything from
///    [`Session::poll_transmit`] (one vectored write per `Transmit`), and re-read
///    [`Session::poll_timeout`].
/// 5. After [`Event::HandshakeSucceeded`]: [`Session::send`], [`Session::subscribe`],
///    [`Session::cancel`].
/// 6. After [`Event::Error`]: flush `poll_transmit` and close; further input is ignored.
pub struct Session {
    config: SessionConfig,
    mechanism: Box<dyn Mechanism>,
    local_meta: Metadata,
    phase: Phase,
    greeting: GreetingDecoder,
    our_greeting: Greeting,
    sent_greeting_rest: bool,
    negotiated_minor: u8,
    auth_pending: bool,
    recv: BytesMut,
    decoder: FrameDecoder,
    out: FrameEncoder,
    events: VecDeque<Event>,
    handshake_deadline: Option<Instant>,
    heartbeat: Heartbeat,
    /// The frames so far of a message whose last frame has not arrived.
    partial: Partial,
    /// When the message being received must be complete
    /// ([`SessionConfig::partial_message_timeout`]).
    partial_deadline: Option<Instant>,
    /// When the peer must have sent its next message ([`SessionConfig::idle_timeout`]).
    idle_deadline: Option<Instant>,
    /// The input deadlines are suspended: the owner stopped reading
    /// ([`Session::hold_input_deadlines`]).
    input_held: bool,
    peer_socket_type: Option<SocketType>,
    peer_minor: Option<u8>,
    scratch: Vec<Bytes>,
    /// Established with a mechanism that encrypts: frames go through `wrap`.
    wraps: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("socket_type", &self.config.socket_type)
            .field("mechanism", &String::from_utf8_lossy(self.mechanism.name()))
            .field("phase", &self.phase)
            .field("peer_socket_type", &self.peer_socket_type)
            .field("peer_minor", &self.peer_minor)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new session. Fails only on a bad configuration (identity longer than 255 bytes
    /// or starting with byte 0, metadata names longer than 255 bytes or empty, an invalid
    /// mechanism name).
    pub fn new(
        config: SessionConfig,
        mechanism: Box<dyn Mechanism>,
        now: Instant,
    ) -> Result<Session, Error> {
        if config.identity.len() > 255 || config.identity.first() == Some(&0) {
            return Err(Error::InvalidOption("identity"));
        }
        if config
            .metadata
            .iter()
            .any(|(n, _)| n.is_empty() || n.len() > 255)
        {
            return Err(Error::InvalidOption("metadata"));
        }
        let name = MechanismName::new(mechanism.name())
            .map_err(|_| Error::InvalidOption("mechanism name"))?;
        let mut local_meta = Metadata::new();
        local_meta.insert(
            SOCKET_TYPE,
            Bytes::from_static(config.socket_type.as_str().as_bytes()),
        );
        if config.socket_type.sends_identity() {
            local_meta.insert(IDENTITY, config.identity.clone());
        }
        for (n, v) in config.metadata.iter() {
            local_meta.insert(n, v.clone());
        }
        let our_greeting = Greeting {
            major: 3,
            minor: config.zmtp_minor.min(1),
            mechanism: name,
            as_server: mechanism.as_server(),
        };
        let mut out = FrameEncoder::new();
        let mut sig = BytesMut::new();
        Greeting::encode_signature(&mut sig);
        out.push_raw(&sig);
        let heartbeat = Heartbeat::new(
            config.heartbeat_ivl,
            config.heartbeat_ttl,
            config.heartbeat_timeout,
        );
        Ok(Session {
            handshake_deadline: config.handshake_ivl.and_then(|d| now.checked_add(d)),
            decoder: FrameDecoder::new(Some(HANDSHAKE_MAX_FRAME)),
            config,
            mechanism,
            local_meta,
            phase: Phase::Greeting,
            greeting: GreetingDecoder::new(),
            our_greeting,
            sent_greeting_rest: false,
            negotiated_minor: 1,
            auth_pending: false,
            recv: BytesMut::new(),
            out,
            events: VecDeque::new(),
            heartbeat,
            partial: Partial::default(),
            partial_deadline: None,
            idle_deadline: None,
            input_held: false,
            peer_socket_type: None,
            peer_minor: None,
            scratch: Vec::new(),
            wraps: false,
        })
    }

    /// Feeds bytes received from the peer (copied into the receive buffer).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.phase == Phase::Failed || data.is_empty() {
            return;
        }
        self.heartbeat.on_traffic();
        if self.recv.capacity() - self.recv.len() < data.len() {
            self.recv.reserve(data.len().max(RECV_CHUNK));
        }
        self.recv.extend_from_slice(data);
        self.process(now, &mut Queue);
        if self.recv.is_empty() {
            // Nothing of a frame pending: keep no buffer while the peer is quiet.
            self.recv = BytesMut::new();
        }
    }

    /// Feeds a buffer of received bytes. When nothing is left over from earlier input the
    /// buffer is adopted as is, so frames are handed out as views of it without a copy.
    /// What is left of it (the start of a frame, and the spare capacity) stays in the
    /// session until the caller takes it back with [`Session::take_recv_buf`].
    pub fn handle_input_buf(&mut self, now: Instant, data: BytesMut) {
        self.feed(now, data, &mut Queue);
    }

    /// [`Session::handle_input_buf`] that hands each whole message to `on_message` as
    /// soon as it is decoded, instead of queueing an [`Event::Message`], while no other
    /// event waits: the order of messages and events is the same as through
    /// [`Session::poll_event`] (once an event is queued, the messages after it are
    /// queued behind it). For an owner that acts on messages at once: each skips the
    /// event queue's push and pop.
    pub fn handle_input_buf_with(
        &mut self,
        now: Instant,
        data: BytesMut,
        on_message: impl FnMut(Parts),
    ) {
        self.feed(now, data, &mut Direct(on_message));
    }

    /// Appends `data` to what is left of earlier input (adopting it when nothing is)
    /// and decodes, handing messages to `sink`.
    #[inline]
    fn feed(&mut self, now: Instant, data: BytesMut, sink: &mut impl Deliver) {
        if self.phase == Phase::Failed || data.is_empty() {
            return;
        }
        self.heartbeat.on_traffic();
        if self.recv.is_empty() {
            self.recv = data;
        } else {
            self.recv.unsplit(data);
        }
        self.process(now, sink);
    }

    /// Takes the input the session could not use yet (the start of a frame) out of it,
    /// with its buffer. A reader that receives into the spare capacity of this buffer
    /// and hands it back with [`Session::handle_input_buf`] keeps every frame
    /// contiguous without copying: the decoder reserves room for the rest of a partial
    /// frame, and once all frames handed out from the buffer are dropped its storage can
    /// be reclaimed in place (`BytesMut::reserve`) instead of allocating anew.
    pub fn take_recv_buf(&mut self) -> BytesMut {
        std::mem::take(&mut self.recv)
    }

    /// Runs the timers: handshake deadline, PING interval, heartbeat timeout, peer TTL,
    /// and the partial-message and idle deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Failed => {}
            Phase::Greeting | Phase::Handshake => {
                if self.handshake_deadline.is_some_and(|d| d <= now) {
                    self.fail(Error::HandshakeTimeout);
                }
            }
            Phase::Established if self.partial_deadline.is_some_and(|d| d <= now) => {
                self.fail(Error::PartialMessageTimeout);
            }
            Phase::Established if self.idle_deadline.is_some_and(|d| d <= now) => {
                self.fail(Error::IdleTimeout);
            }
            Phase::Established => match self.heartbeat.poll(now) {
                Err(e) => self.fail(e),
                Ok(Some(ttl)) => {
                    let ping = Command::Ping {
                        ttl,
                        context: Bytes::new(),
                    };
                    if let Err(e) = self.send_command(ping.encode()) {
                        self.fail(e);
                    }
                }
                Ok(None) => {}
            },
        }
    }

    /// The next instant at which [`Session::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Failed => None,
            Phase::Greeting | Phase::Handshake => self.handshake_deadline,
            Phase::Established => {
                let hb = self.heartbeat.next_deadline();
                if self.partial_deadline.is_none() && self.idle_deadline.is_none() {
                    return hb;
                }
                [hb, self.partial_deadline, self.idle_deadline]
                    .into_iter()
                    .flatten()
                    .min()
            }
        }
    }

    /// The owner stops reading (its receive queue is full): the partial-message and
    /// idle deadlines are suspended, since the peer cannot make progress while nothing
    /// is read. [`Session::release_input_deadlines`] restarts them.
    pub fn hold_input_deadlines(&mut self) {
        self.input_held = true;
        self.partial_deadline = None;
        self.idle_deadline = None;
    }

    /// The owner reads again: the partial-message deadline (if a message is under way)
    /// and the idle deadline start over from `now`.
    pub fn release_input_deadlines(&mut self, now: Instant) {
        if !self.input_held {
            return;
        }
        self.input_held = false;
        if self.phase != Phase::Established {
            return;
        }
        if self.inside_message() {
            self.partial_deadline = after(now, self.config.partial_message_timeout);
        }
        self.idle_deadline = after(now, self.config.idle_timeout);
    }

    /// Input ended inside a frame or a multipart message.
    fn inside_message(&self) -> bool {
        !self.recv.is_empty() || !self.partial.is_empty()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Every pending event at once, in order, swapped with `into` (which must be empty
    /// and whose allocation the session keeps): the same as calling
    /// [`Session::poll_event`] until `None`, for callers that want to act on a batch
    /// without borrowing the session for each event.
    pub fn take_events(&mut self, into: &mut VecDeque<Event>) {
        debug_assert!(into.is_empty(), "take_events needs an empty queue");
        std::mem::swap(&mut self.events, into);
    }

    /// Lends the session an empty queue to report its next events into, when its own
    /// is empty (else nothing happens): with [`Session::take_event_queue`], an owner of
    /// many sessions shares one queue's allocation among them instead of each session
    /// holding one.
    pub fn lend_event_queue(&mut self, queue: &mut VecDeque<Event>) {
        if self.events.is_empty() && queue.is_empty() {
            std::mem::swap(&mut self.events, queue);
        }
    }

    /// Whether events wait to be taken ([`Session::poll_event`],
    /// [`Session::take_events`]).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Gives back a queue lent with [`Session::lend_event_queue`] that nothing was
    /// reported into: when the session's own queue is empty and holds a larger
    /// allocation than `queue`, `queue` takes it and the session is left with no
    /// allocation (as after [`Session::take_event_queue`]). The common case, a lent
    /// queue coming back to an owner left with an unallocated one, is a swap.
    pub fn return_event_queue(&mut self, queue: &mut VecDeque<Event>) {
        if self.events.is_empty() && self.events.capacity() > queue.capacity() {
            if queue.capacity() == 0 {
                std::mem::swap(&mut self.events, queue);
            } else {
                *queue = std::mem::take(&mut self.events);
            }
        }
    }

    /// The session's own event queue when it is empty (for its allocation), leaving
    /// it an unallocated one: a later event allocates again unless a queue is lent
    /// first. `None` while events wait to be taken.
    pub fn take_event_queue(&mut self) -> Option<VecDeque<Event>> {
        self.events
            .is_empty()
            .then(|| std::mem::take(&mut self.events))
    }

    /// Everything queued for the peer, as chunks for one vectored write. The caller
    /// writes all of it, in order (finishing a partial write before the next
    /// `Transmit`); the session does not track how much of it was written.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.take()
    }

    /// Gives back the chunk vector of a [`Transmit`] once written, so the next one
    /// reuses its allocation (optional).
    pub fn recycle_transmit(&mut self, chunks: Vec<Bytes>) {
        self.out.recycle(chunks);
    }

    /// Releases the output buffers while nothing waits to be written (see
    /// [`FrameEncoder::release_idle`]): for an owner whose writer found nothing to send
    /// and goes to sleep, so that an idle connection holds none.
    pub fn release_idle_output(&mut self) {
        self.out.release_idle();
    }

    /// Number of bytes waiting in [`Session::poll_transmit`].
    pub fn pending_transmit(&self) -> usize {
        self.out.pending()
    }

    /// Sends one message (one or more frames, MORE set on all but the last). Small
    /// frames are copied into the output batch; a frame is cloned (a reference count
    /// increment) only when it is large enough to be written from its own buffer. When
    /// the mechanism encrypts, every frame is sealed straight into the batch.
    pub fn send(&mut self, parts: &[Bytes]) -> Result<(), Error> {
        self.check_established()?;
        let Some((last, rest)) = parts.split_last() else {
            return Err(Error::EmptyMessage);
        };
        if self.wraps {
            // Each frame is sealed straight from the caller's buffer into the batch: no
            // clone, no intermediate copy (PUB fan-out seals one message per subscriber
            // this way).
            for (i, body) in parts.iter().enumerate() {
                let more = i + 1 < parts.len();
                if let Err(e) = self.mechanism.wrap_into(more, false, body, &mut self.out) {
                    self.fail(e.clone());
                    return Err(e);
                }
            }
            return Ok(());
        }
        for body in rest {
            self.out.push_frame(true, false, body);
        }
        self.out.push_frame(false, false, last);
        Ok(())
    }

    /// Sends one message already encoded by [`crate::frame::encode_message`]: its bytes
    /// are copied into the output batch as they are (a publisher encodes a small
    /// message once for all its subscribers). `Ok(false)`, nothing sent, when the
    /// mechanism encrypts: each peer seals with its own keys, use [`Session::send`].
    #[inline]
    pub fn send_encoded(&mut self, wire: &[u8]) -> Result<bool, Error> {
        self.check_established()?;
        if self.wraps {
            return Ok(false);
        }
        self.out.push_encoded(wire);
        Ok(true)
    }

    /// Like [`Session::send`], taking the frames: saves a reference count increment
    /// and decrement per frame when the caller has no further use for them.
    pub fn send_owned(&mut self, parts: impl IntoIterator<Item = Bytes>) -> Result<(), Error> {
        self.check_established()?;
        let mut parts = parts.into_iter().peekable();
        if parts.peek().is_none() {
            return Err(Error::EmptyMessage);
        }
        while let Some(body) = parts.next() {
            let more = parts.peek().is_some();
            self.push_data_frame(more, body)?;
        }
        Ok(())
    }

    /// Like [`Session::send_owned`] for frames already gathered as [`Parts`]: the
    /// common single-frame message is one push, without iterator adapters.
    pub fn send_parts(&mut self, parts: Parts) -> Result<(), Error> {
        let body = match parts.into_single() {
            Ok(body) => body,
            Err(parts) => {
                // The emptied vector goes to the decoder, whose next multipart message
                // then needs no allocation (a REQ / REP round trip allocates none).
                let mut frames = parts.into_vec();
                let sent = self.send_drained(&mut frames);
                self.partial.recycle(frames);
                return sent;
            }
        };
        self.check_established()?;
        self.push_data_frame(false, body)
    }

    /// [`Session::send_owned`] for a vector of frames, left empty.
    fn send_drained(&mut self, frames: &mut Vec<Bytes>) -> Result<(), Error> {
        self.check_established()?;
        let Some(last) = frames.len().checked_sub(1) else {
            return Err(Error::EmptyMessage);
        };
        for (i, body) in frames.drain(..).enumerate() {
            self.push_data_frame(i < last, body)?;
        }
        Ok(())
    }

    /// Queues one data frame for the peer; an error fails the session.
    #[inline]
    fn push_data_frame(&mut self, more: bool, body: Bytes) -> Result<(), Error> {
        let frame = Frame {
            more,
            command: false,
            body,
        };
        if let Err(e) = self.push_frame(frame) {
            self.fail(e.clone());
            return Err(e);
        }
        Ok(())
    }

    /// Subscribes to `topic` on the peer (a SUBSCRIBE command to a ZMTP 3.1 peer, a
    /// `01` + topic message to a 3.0 peer). On a DISH session `topic` is a group and
    /// this sends a JOIN command (to 3.0 peers too, as libzmq does).
    pub fn subscribe(&mut self, topic: &[u8]) -> Result<(), Error> {
        self.subscription(true, topic)
    }

    /// Cancels one subscription to `topic` (subscriptions are counted); a LEAVE command
    /// on a DISH session.
    pub fn cancel(&mut self, topic: &[u8]) -> Result<(), Error> {
        self.subscription(false, topic)
    }

    /// Supplies the verdict asked for by [`Event::NeedsAuth`]. A denial fails the
    /// session with [`Error::AuthDenied`] (reported as [`Event::Error`]) after queuing
    /// ERROR for status 400 / 500. Errors returned here are API misuse only.
    pub fn auth_result(&mut self, now: Instant, verdict: AuthVerdict) -> Result<(), Error> {
        if self.phase == Phase::Failed {
            return Err(Error::SessionFailed);
        }
        if !self.auth_pending {
            return Err(Error::NoAuthPending);
        }
        self.auth_pending = false;
        let mut cmds = std::mem::take(&mut self.scratch);
        let result = self.mechanism.auth_result(verdict, &mut cmds);
        self.after_mechanism(now, result, cmds);
        if self.phase != Phase::Failed {
            self.process(now, &mut Queue);
        }
        Ok(())
    }

    /// True once the handshake succeeded and until the session fails.
    pub fn is_established(&self) -> bool {
        self.phase == Phase::Established
    }

    /// True after a fatal error.
    pub fn is_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// The peer's socket type, once the handshake succeeded.
    pub fn peer_socket_type(&self) -> Option<SocketType> {
        self.peer_socket_type
    }

    /// The minor version of the peer's greeting, once received.
    pub fn peer_minor(&self) -> Option<u8> {
        self.peer_minor
    }

    /// The bytes this session holds in its buffers, by capacity: the receive buffer
    /// (the start of a frame and room reserved for the rest), the frames of a message
    /// not yet complete, and the output batch with what is queued in it. A large frame
    /// of an incomplete message, kept as a view of its receive buffer, counts by its
    /// length. For tests and diagnostics: what a peer costs.
    pub fn held_bytes(&self) -> usize {
        self.recv.capacity() + self.partial.held_bytes() + self.out.held_bytes()
    }

    /// Our configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    fn check_established(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Established => Ok(()),
            Phase::Failed => Err(Error::SessionFailed),
            Phase::Greeting | Phase::Handshake => Err(Error::HandshakeIncomplete),
        }
    }

    fn subscription(&mut self, subscribe: bool, topic: &[u8]) -> Result<(), Error> {
        self.check_established()?;
        let result = if self.config.socket_type == SocketType::Dish {
            self.send_command(crate::group::membership_command(subscribe, topic))
        } else if self.negotiated_minor == 0 {
            self.push_frame(Frame {
                more: false,
                command: false,
                body: command::legacy_subscription(subscribe, topic),
            })
        } else {
            let topic = Bytes::copy_from_slice(topic);
            let cmd = if subscribe {
                Command::Subscribe(topic)
            } else {
                Command::Cancel(topic)
            };
            self.send_command(cmd.encode())
        };
        if let Err(e) = &result {
            self.fail(e.clone());
        }
        result
    }

    /// Queues a frame, through the mechanism's wrapping once established.
    fn push_frame(&mut self, frame: Frame) -> Result<(), Error> {
        if self.wraps && self.phase == Phase::Established {
            self.mechanism
                .wrap_into(frame.more, frame.command, &frame.body, &mut self.out)?;
        } else {
            self.out.push_owned(frame);
        }
        Ok(())
    }

    fn send_command(&mut self, body: Bytes) -> Result<(), Error> {
        self.push_frame(Frame {
            more: false,
            command: true,
            body,
        })
    }

    fn fail(&mut self, error: Error) {
        if self.phase == Phase::Failed {
            return;
        }
        self.phase = Phase::Failed;
        self.recv = BytesMut::new();
        self.partial.clear();
        self.heartbeat.stop();
        self.handshake_deadline = None;
        self.partial_deadline = None;
        self.idle_deadline = None;
        self.events.push_back(Event::Error(error));
    }

    fn process(&mut self, now: Instant, sink: &mut impl Deliver) {
        let events_before = self.events.len();
        let mut delivered = false;
        loop {
            let step = match self.phase {
                Phase::Failed => return,
                Phase::Greeting => self.step_greeting(now),
                Phase::Handshake => self.step_handshake(now),
                Phase::Established => self.step_established(now, sink, &mut delivered),
            };
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        // The input ran out inside a message: its small frames must not keep the
        // receive buffer alive while the rest is awaited.
        self.partial.pack();
        if self.phase == Phase::Established
            && !self.input_held
            && (self.config.partial_message_timeout.is_some() || self.config.idle_timeout.is_some())
        {
            self.input_deadlines(now, delivered || self.events.len() > events_before);
        }
    }

    /// After input: a message under way must complete by its deadline, counted from
    /// the input where it began (a message delivered by this input ends the previous
    /// one); a delivered message (or subscription) moves the idle deadline.
    fn input_deadlines(&mut self, now: Instant, delivered: bool) {
        if self.config.partial_message_timeout.is_some() {
            if !self.inside_message() {
                self.partial_deadline = None;
            } else if delivered || self.partial_deadline.is_none() {
                self.partial_deadline = after(now, self.config.partial_message_timeout);
            }
        }
        if delivered && self.config.idle_timeout.is_some() {
            self.idle_deadline = after(now, self.config.idle_timeout);
        }
    }

    /// Each step returns `Ok(true)` when it made progress and may be called again.
    fn step_greeting(&mut self, now: Instant) -> Result<bool, Error> {
        if self.recv.is_empty() {
            return Ok(false);
        }
        let (used, progress) = self.greeting.feed(&self.recv)?;
        self.recv.advance(used);
        if progress != GreetingProgress::NeedSignature && !self.sent_greeting_rest {
            self.sent_greeting_rest = true;
            let mut rest = BytesMut::new();
            self.our_greeting.encode_rest(&mut rest);
            self.out.push_raw(&rest);
        }
        let GreetingProgress::Done(peer) = progress else {
            return Ok(false);
        };
        if peer.mechanism.as_bytes() != self.mechanism.name() {
            return Err(Error::MechanismMismatch {
                local: String::from_utf8_lossy(self.mechanism.name()).into_owned(),
                peer: peer.mechanism.to_string_lossy(),
            });
        }
        self.peer_minor = Some(peer.minor);
        self.negotiated_minor = if peer.major > 3 {
            self.our_greeting.minor
        } else {
            peer.minor.min(self.our_greeting.minor)
        };
        self.phase = Phase::Handshake;
        let mut cmds = std::mem::take(&mut self.scratch);
        // Our properties are needed only here (a mechanism keeps what it sends later):
        // not held for the life of the connection.
        let local_meta = std::mem::take(&mut self.local_meta);
        let result = self.mechanism.start(&local_meta, &mut cmds);
        self.after_mechanism(now, result, cmds);
        Ok(true)
    }

    fn step_handshake(&mut self, now: Instant) -> Result<bool, Error> {
        let Some(frame) = self.decoder.decode(&mut self.recv)? else {
            return Ok(false);
        };
        if !frame.command {
            return Err(PeerMisbehaved::UnexpectedDataFrame.into());
        }
        let (name, data) = command::split(&frame.body)?;
        if &name[..] == b"ERROR" {
            let reason = command::parse_error(&data)?;
            return Err(Error::PeerError {
                reason: String::from_utf8_lossy(&reason).into_owned(),
            });
        }
        let mut cmds = std::mem::take(&mut self.scratch);
        let result = self.mechanism.handle_command(frame.body, &mut cmds);
        self.after_mechanism(now, result, cmds);
        Ok(true)
    }

    /// Sends what the mechanism queued (even when it then failed: a denial queues ERROR)
    /// and acts on its status.
    fn after_mechanism(
        &mut self,
        now: Instant,
        result: Result<HandshakeStatus, Error>,
        mut cmds: Vec<Bytes>,
    ) {
        for body in cmds.drain(..) {
            self.out.push_frame(false, true, &body);
        }
        self.scratch = cmds;
        match result {
            Err(e) => self.fail(e),
            Ok(HandshakeStatus::InProgress) => {}
            Ok(HandshakeStatus::NeedsAuth(credentials)) => {
                self.auth_pending = true;
                self.events.push_back(Event::NeedsAuth(credentials));
            }
            Ok(HandshakeStatus::Complete(metadata)) => self.complete(now, metadata),
        }
    }

    fn complete(&mut self, now: Instant, metadata: Metadata) {
        let peer_type = match metadata.get(SOCKET_TYPE) {
            None => return self.fail(PeerMisbehaved::MissingSocketType.into()),
            Some(name) => match SocketType::from_wire(name) {
                Some(t) => t,
                None => {
                    let name = String::from_utf8_lossy(name).into_owned();
                    return self.fail(PeerMisbehaved::UnknownSocketType { name }.into());
                }
            },
        };
        let local = self.config.socket_type;
        if !local.is_compatible(peer_type) {
            self.out
                .push_frame(false, true, &command::error_body(b"Invalid socket type"));
            return self.fail(Error::IncompatibleSocketType {
                local,
                peer: peer_type,
            });
        }
        self.phase = Phase::Established;
        // The handshake's command list is not needed any more (an established session
        // queues its few commands without it).
        self.scratch = Vec::new();
        self.wraps = self.mechanism.encrypts();
        self.peer_socket_type = Some(peer_type);
        self.handshake_deadline = None;
        self.heartbeat.start(now);
        self.idle_deadline = after(now, self.config.idle_timeout);
        self.events.push_back(Event::HandshakeSucceeded {
            metadata,
            socket_type: peer_type,
            peer_minor: self.peer_minor.unwrap_or(0),
        });
    }

    fn step_established(
        &mut self,
        now: Instant,
        sink: &mut impl Deliver,
        delivered: &mut bool,
    ) -> Result<bool, Error> {
        if !self.wraps && self.partial.is_empty() {
            self.single_frames(sink, delivered)?;
        }
        let Some(h) = FrameDecoder::peek_header(&self.recv)? else {
            return Ok(false);
        };
        let frame = if self.wraps {
            // Every frame is a MESSAGE box, whose content is known only once opened:
            // it may carry the rest of the message's budget.
            if let Some(max) = self.config.max_message_size {
                let held = self.partial.bytes();
                if h.size > max.saturating_sub(held).saturating_add(ENCRYPTION_SLACK) {
                    let size = held.saturating_add(h.size);
                    return Err(PeerMisbehaved::MessageTooLarge { size, max }.into());
                }
            }
            // Opened in place in the receive buffer: the payload is handed out as a
            // view of it, like an unencrypted frame's.
            let Some(body) = FrameDecoder::take_frame_mut(&mut self.recv, h)? else {
                return Ok(false);
            };
            let frame = self.mechanism.unwrap_in_place(h.more, h.command, body)?;
            if frame.command && frame.more {
                return Err(PeerMisbehaved::CommandWithMore.into());
            }
            admit(
                &self.config,
                &self.partial,
                FrameHeader {
                    more: frame.more,
                    command: frame.command,
                    long: false,
                    size: frame.body.len() as u64,
                },
            )?;
            frame
        } else {
            admit(&self.config, &self.partial, h)?;
            let Some(frame) = FrameDecoder::take_frame(&mut self.recv, h)? else {
                return Ok(false);
            };
            frame
        };
        if frame.command {
            self.handle_command(now, &frame.body)?;
            return Ok(true);
        }
        if frame.more {
            self.partial.push(frame.body);
        } else if self.partial.is_empty() {
            // A single-frame message: no vector to allocate.
            self.deliver(Parts::one(frame.body), sink, delivered)?;
        } else {
            let msg = self.partial.finish(frame.body);
            self.deliver(msg, sink, delivered)?;
        }
        Ok(true)
    }

    /// The fast path of [`Session::step_established`] for what a stream of small
    /// messages is made of: whole single-frame data messages with a short header
    /// (flags byte 0), taken in one loop, under the same limits (`admit`). Stops at
    /// anything else (a command, MORE, a long frame, an incomplete frame), which the
    /// general path takes. Not for the types whose messages `deliver` looks into
    /// (DISH; PUB, XPUB: subscriptions as messages).
    #[inline]
    fn single_frames(
        &mut self,
        sink: &mut impl Deliver,
        delivered: &mut bool,
    ) -> Result<(), Error> {
        let kind = self.config.socket_type;
        if kind == SocketType::Dish || kind.receives_subscriptions() {
            return Ok(());
        }
        while let [0, size, ..] = self.recv[..] {
            let h = FrameHeader {
                more: false,
                command: false,
                long: false,
                size: u64::from(size),
            };
            let total = h.len() + usize::from(size);
            if self.recv.len() < total {
                break;
            }
            admit(&self.config, &self.partial, h)?;
            // Whole (checked above) and far below `MAX_HOLDABLE`: split off as
            // `FrameDecoder::take_frame` would, header skipped on the frozen view.
            let mut body = self.recv.split_to(total).freeze();
            body.advance(h.len());
            *delivered = true;
            sink.deliver(&mut self.events, Parts::one(body));
        }
        Ok(())
    }

    #[inline]
    fn deliver(
        &mut self,
        msg: Parts,
        sink: &mut impl Deliver,
        delivered: &mut bool,
    ) -> Result<(), Error> {
        if self.config.socket_type == SocketType::Dish {
            // libzmq's dish_session_t refuses anything but a group frame (at most 15
            // bytes) followed by one body frame, and so do we.
            if msg.len() != 2 {
                return Err(PeerMisbehaved::MalformedGroupMessage { frames: msg.len() }.into());
            }
            crate::group::check_group(&msg[0])?;
        }
        if self.config.socket_type.receives_subscriptions() && msg.len() == 1 {
            if let Some(&kind @ (0 | 1)) = msg[0].first() {
                let mut topic = msg.into_single().unwrap_or_default();
                topic.advance(1);
                self.events.push_back(if kind == 1 {
                    Event::Subscribe(topic)
                } else {
                    Event::Cancel(topic)
                });
                return Ok(());
            }
        }
        *delivered = true;
        sink.deliver(&mut self.events, msg);
        Ok(())
    }

    fn handle_command(&mut self, now: Instant, body: &Bytes) -> Result<(), Error> {
        match Command::decode(body)? {
            Command::Ping { ttl, context } => {
                self.heartbeat.on_ping(now, ttl);
                self.send_command(Command::Pong(context).encode())?;
            }
            Command::Pong(_) => {}
            Command::Subscribe(topic) => self.events.push_back(Event::Subscribe(topic)),
            Command::Cancel(topic) => self.events.push_back(Event::Cancel(topic)),
            // A DISH joining or leaving a group: only a RADIO listens (libzmq's
            // radio_session_t), and refuses a group over 15 bytes.
            Command::Join(group) if self.config.socket_type == SocketType::Radio => {
                crate::group::check_group(&group)?;
                self.events.push_back(Event::Subscribe(group));
            }
            Command::Leave(group) if self.config.socket_type == SocketType::Radio => {
                crate::group::check_group(&group)?;
                self.events.push_back(Event::Cancel(group));
            }
            Command::Join(_) | Command::Leave(_) => {}
            Command::Error(reason) => {
                return Err(Error::PeerError {
                    reason: String::from_utf8_lossy(&reason).into_owned(),
                })
            }
            Command::Ready(_) => {
                return Err(PeerMisbehaved::UnexpectedCommand {
                    name: "READY".into(),
                }
                .into())
            }
            // Unknown commands are ignored, for forward compatibility.
            Command::Other { .. } => {}
        }
        Ok(())
    }
}

/// Where an established session puts a decoded message.
trait Deliver {
    fn deliver(&mut self, events: &mut VecDeque<Event>, msg: Parts);
}

/// Into the event queue.
struct Queue;

impl Deliver for Queue {
    #[inline]
    fn deliver(&mut self, events: &mut VecDeque<Event>, msg: Parts) {
        events.push_back(Event::Message(msg));
    }
}

/// Straight to the owner while no event waits before it (see
/// [`Session::handle_input_buf_with`]).
struct Direct<F>(F);

impl<F: FnMut(Parts)> Deliver for Direct<F> {
    #[inline]
    fn deliver(&mut self, events: &mut VecDeque<Event>, msg: Parts) {
        if events.is_empty() {
            (self.0)(msg);
        } else {
            events.push_back(Event::Message(msg));
        }
    }
}

/// `now + d`; `None` without a duration or past the end of time.
fn after(now: Instant, d: Option<Duration>) -> Option<Instant> {
    d.and_then(|d| now.checked_add(d))
}

/// Whether a frame of the size `h` announces may be held after the handshake: a command
/// up to the maximum message size, a data frame if the message stays within the
/// maximum message size and frame count.
#[inline]
fn admit(config: &SessionConfig, partial: &Partial, h: FrameHeader) -> Result<(), Error> {
    if h.command {
        return match config.max_message_size {
            Some(max) if h.size > max => {
                Err(PeerMisbehaved::FrameTooLarge { size: h.size, max }.into())
            }
            _ => Ok(()),
        };
    }
    if let Some(max) = config.max_message_frames {
        if partial.frames() >= max as usize {
            return Err(PeerMisbehaved::TooManyFrames { max }.into());
        }
    }
    if let Some(max) = config.max_message_size {
        let size = partial.bytes().saturating_add(h.size);
        if size > max {
            return Err(PeerMisbehaved::MessageTooLarge { size, max }.into());
        }
    }
    Ok(())
}
