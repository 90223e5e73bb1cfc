//! One open WebSocket: frames in, messages assembled, requests answered in order, and the
//! close handshake with the code RFC 6455 asks for.
//!
//! The frame header is parsed and checked by tungstenite's [`FrameHeader`]; buffers, timers
//! and message assembly are this module's own, because a server facing hostile clients
//! must control them:
//! - the read buffer grows only to fit the frame being read (at most the message limit)
//!   and shrinks back as soon as that frame is answered, so a connection that once
//!   received a large message does not keep its peak memory while idle;
//! - a message whose bytes or fragments stop arriving is dropped after
//!   [`Limits::message_timeout`], and a silent connection is pinged, then closed after
//!   [`Limits::idle_timeout`];
//! - each answer is written straight from the text the formatter produced, within
//!   [`Limits::write_timeout`], so a client that stops reading holds one answer at most.

use std::future::Future;
use std::io::{Cursor, IoSlice};
use std::ops::Range;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

use crate::context::ConnectionInfo;
use crate::database::Database;
use crate::error::ApiError;
use crate::limits::Limits;
use crate::live::{Hub, LiveConnection, Outbox};
use crate::router::Endpoint;

/// Serves one upgraded connection until it closes, fails, or the server shuts down.
///
/// Requests are answered one at a time, in the order they arrive, so a client's `create`
/// is always visible to its next `retrieve`; pipelined requests wait in the socket's
/// buffer meanwhile. On shutdown the request being answered is finished first, then the
/// connection is closed with 1001.
///
/// The server passes its TCP sockets; any byte stream will do (the fuzz targets pass an
/// in-memory one).
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    rest: Vec<u8>,
    served: Served<'_>,
    mut stopped: watch::Receiver<bool>,
) {
    let Served {
        endpoint,
        info,
        db,
        limits,
        hub,
    } = served;
    let live = hub
        .filter(|_| endpoint.live)
        .map(|hub| LiveConnection::new(hub, limits.max_queued_events, limits.max_queued_bytes));
    let mut socket = Socket::new(stream, rest, limits, live.as_ref().map(|l| l.outbox()));
    let mut rate = limits.requests_per_second.map(RateLimit::new);
    // Registered once for the connection's life: polling a fresh `changed()` per message
    // would take the channel's shared lock twice per request, across all connections.
    let shutdown = stopped.changed();
    tokio::pin!(shutdown);
    loop {
        // Shutdown is heard only while waiting for bytes, so a frame being written
        // (an answer, an event, a pong) is never cut short.
        let incoming = socket.next(shutdown.as_mut()).await;
        let mut out = String::with_capacity(256);
        let sent = match incoming {
            Ok(Incoming::Text(at)) => match socket.text(&at) {
                Some(text) if endpoint.echo => {
                    let text = text.to_owned();
                    socket.send(OpCode::Data(Data::Text), text.as_bytes()).await
                }
                Some(text) => {
                    match rate.as_mut().map(RateLimit::take) {
                        Some(Err(wait)) => endpoint.refuse(text, limits, &too_many(wait), &mut out),
                        _ => {
                            endpoint
                                .handle(text, db, info, limits, live.as_ref(), &mut out)
                                .await
                        }
                    }
                    socket.send(OpCode::Data(Data::Text), out.as_bytes()).await
                }
                None => {
                    socket
                        .close(CloseCode::Invalid, "text frame is not valid UTF-8")
                        .await;
                    break;
                }
            },
            Ok(Incoming::Binary(at)) if endpoint.echo => {
                let bytes = socket.bytes(&at).to_vec();
                socket.send(OpCode::Data(Data::Binary), &bytes).await
            }
            Ok(Incoming::Binary(_)) => {
                let error = ApiError::bad_request(
                    "binary frames are not supported: send each request as a JSON text frame",
                );
                endpoint.format_error(&error, &mut out);
                socket.send(OpCode::Data(Data::Text), out.as_bytes()).await
            }
            Err(Stop::Close(code, reason)) => {
                tracing::debug!(peer = %info.peer, %code, reason, "closing");
                socket.close(code, reason).await;
                break;
            }
            Err(Stop::Done) => break,
        };
        if sent.is_err() {
            break;
        }
    }
}

/// What a connection is served with: its path's endpoint, who it is, and the server's
/// database, limits and live-data hub.
#[derive(Clone, Copy)]
pub(crate) struct Served<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) info: &'a ConnectionInfo,
    pub(crate) db: &'a Database,
    pub(crate) limits: &'a Limits,
    pub(crate) hub: Option<&'a Hub>,
}

/// A connection's request budget: a token bucket holding up to a second's worth of
/// requests, refilled at the rate.
#[derive(Debug)]
struct RateLimit {
    rate: f64,
    tokens: f64,
    refilled: Instant,
}

impl RateLimit {
    fn new(rate: u32) -> Self {
        RateLimit {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            refilled: Instant::now(),
        }
    }

    /// Takes one request from the budget, or says how long until one is there.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// The 429 for a request past the connection's rate.
fn too_many(wait: Duration) -> ApiError {
    let ms = wait.as_millis().max(1);
    ApiError::new(429, format!("too many requests: retry in {ms} ms"))
}

/// A complete message, by where its payload lies.
#[derive(Debug)]
enum Incoming {
    /// A text message: unmasked bytes, not yet checked to be UTF-8.
    Text(Payload),
    /// A binary message.
    Binary(Payload),
}

/// What one look at the read buffer found.
#[derive(Debug)]
enum Step {
    /// A complete data message.
    Message(Incoming),
    /// A control frame or a fragment, dealt with: look again.
    Again,
    /// An incomplete frame: read more.
    More,
}

/// Where a message's bytes are.
#[derive(Debug)]
enum Payload {
    /// In one frame, inside the read buffer.
    Frame(Range<usize>),
    /// Assembled from fragments.
    Assembled,
}

/// Why the connection ends.
#[derive(Debug)]
enum Stop {
    /// Close with this code and reason.
    Close(CloseCode, &'static str),
    /// Closed already (the close handshake is done, or the socket failed).
    Done,
}

/// The socket with its read buffer and the state of the message being received.
struct Socket<'l, S> {
    stream: S,
    limits: &'l Limits,
    /// Bytes read; those before `start` are consumed.
    read: Vec<u8>,
    start: usize,
    /// Where `start` moves when the last message returned has been used.
    consumed: usize,
    /// The fragments of a message still arriving, and whether it is text.
    message: Vec<u8>,
    fragmented: Option<bool>,
    /// How much of a fragmented text message is known to be valid UTF-8.
    message_checked: usize,
    /// Since when a message has been arriving: from its first bytes, across fragments
    /// and the control frames between them, until it is complete.
    incomplete_since: Option<Instant>,
    /// When bytes last arrived, and whether a ping went out since.
    last_read: Instant,
    pinged: bool,
    /// Whether the client sent a close frame (valid or not): the server's close then
    /// answers it, and nothing more is read.
    peer_closed: bool,
    /// The connection's queued events, written while it waits for requests.
    outbox: Option<&'l Outbox>,
}

impl<'l, S: AsyncRead + AsyncWrite + Unpin> Socket<'l, S> {
    fn new(stream: S, rest: Vec<u8>, limits: &'l Limits, outbox: Option<&'l Outbox>) -> Self {
        let mut read = rest;
        read.reserve(limits.read_buffer_size.saturating_sub(read.len()));
        Socket {
            stream,
            limits,
            read,
            start: 0,
            consumed: 0,
            message: Vec::new(),
            fragmented: None,
            message_checked: 0,
            incomplete_since: None,
            last_read: Instant::now(),
            pinged: false,
            peer_closed: false,
            outbox,
        }
    }

    /// The bytes of a message [`Socket::next`] returned.
    fn bytes(&self, at: &Payload) -> &[u8] {
        match at {
            Payload::Frame(range) => &self.read[range.clone()],
            Payload::Assembled => &self.message,
        }
    }

    /// The text of a message [`Socket::next`] returned, if it is valid UTF-8.
    fn text(&self, at: &Payload) -> Option<&str> {
        std::str::from_utf8(self.bytes(at)).ok()
    }

    /// The next complete data message. Control frames are handled here: pings are
    /// answered, pongs keep the connection alive, a close is answered and ends it.
    async fn next<F: Future>(&mut self, mut shutdown: Pin<&mut F>) -> Result<Incoming, Stop> {
        self.release();
        loop {
            match self.frame().await? {
                Step::Message(incoming) => return Ok(incoming),
                Step::Again => {}
                Step::More => self.fill(shutdown.as_mut()).await?,
            }
        }
    }

    /// Writes the events queued for this connection.
    async fn flush_events(&mut self) -> Result<(), Stop> {
        let Some(outbox) = self.outbox else {
            return Ok(());
        };
        while let Some(event) = outbox.pop() {
            self.send(OpCode::Data(Data::Text), event.as_bytes())
                .await
                .map_err(|_| Stop::Done)?;
        }
        Ok(())
    }

    /// Frees what the previous message held: moves past its frame, and gives back
    /// buffers that grew for it.
    fn release(&mut self) {
        self.start = self.consumed;
        if self.fragmented.is_none() && self.message.capacity() > 0 {
            self.message = Vec::new();
        }
        let pending = self.read.len() - self.start;
        if pending == 0 {
            self.read.clear();
            self.start = 0;
            self.consumed = 0;
        }
        let base = self.limits.read_buffer_size;
        if self.read.capacity() > base * 2 && pending <= base {
            let mut smaller = Vec::with_capacity(base);
            smaller.extend_from_slice(&self.read[self.start..]);
            self.read = smaller;
            self.start = 0;
            self.consumed = 0;
        }
    }

    /// Takes one whole frame from the buffer, if there is one.
    async fn frame(&mut self) -> Result<Step, Stop> {
        let available = &self.read[self.start..];
        let mut cursor = Cursor::new(available);
        let (header, length) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(self.wait_for(FrameHeader::default().len(0))),
            Err(_) => return Err(protocol_error("malformed frame header")),
        };
        let header_len = cursor.position() as usize;
        check_header(&header, length)?;
        let max = self.limits.max_message_size as u64;
        if length > max {
            return Err(Stop::Close(CloseCode::Size, "message too big"));
        }
        let total = header_len + length as usize;
        if available.len() < total {
            return Ok(self.wait_for(total));
        }
        let payload = self.start + header_len..self.start + total;
        if let Some(mask) = header.mask {
            unmask(&mut self.read[payload.clone()], mask);
        }
        self.consumed = self.start + total;
        match header.opcode {
            OpCode::Control(control) => {
                self.control(control, payload).await?;
                self.start = self.consumed;
                if self.fragmented.is_none() {
                    self.incomplete_since = None;
                }
                Ok(Step::Again)
            }
            OpCode::Data(data) => {
                let text = match (data, self.fragmented) {
                    (Data::Text, None) => true,
                    (Data::Binary, None) => false,
                    (Data::Continue, Some(text)) => text,
                    (Data::Continue, None) => {
                        return Err(protocol_error("continuation frame without a message"));
                    }
                    (Data::Text | Data::Binary, Some(_)) => {
                        return Err(protocol_error("new message inside a fragmented message"));
                    }
                    (Data::Reserved(_), _) => return Err(protocol_error("reserved opcode")),
                };
                if self.fragmented.is_none() && header.is_final {
                    self.incomplete_since = None;
                    return Ok(Step::Message(if text {
                        Incoming::Text(Payload::Frame(payload))
                    } else {
                        Incoming::Binary(Payload::Frame(payload))
                    }));
                }
                if self.message.len() + payload.len() > self.limits.max_message_size {
                    return Err(Stop::Close(CloseCode::Size, "message too big"));
                }
                if self.fragmented.is_none() {
                    self.message_checked = 0;
                }
                self.message.extend_from_slice(&self.read[payload]);
                self.start = self.consumed;
                // A text message fails as soon as a fragment makes it invalid, not at its
                // end; an incomplete character at the end is checked at the message's end.
                if text && !check_utf8(&self.message, &mut self.message_checked) {
                    return Err(Stop::Close(
                        CloseCode::Invalid,
                        "text frame is not valid UTF-8",
                    ));
                }
                if header.is_final {
                    self.fragmented = None;
                    self.incomplete_since = None;
                    return Ok(Step::Message(if text {
                        Incoming::Text(Payload::Assembled)
                    } else {
                        Incoming::Binary(Payload::Assembled)
                    }));
                }
                self.fragmented = Some(text);
                self.incomplete_since.get_or_insert_with(Instant::now);
                Ok(Step::Again)
            }
        }
    }

    /// Notes that `needed` bytes from `start` are needed, making room for them.
    fn wait_for(&mut self, needed: usize) -> Step {
        if self.incomplete_since.is_none() && self.read.len() > self.start {
            self.incomplete_since = Some(Instant::now());
        }
        if self.start > 0 {
            self.read.drain(..self.start);
            self.consumed -= self.start;
            self.start = 0;
        }
        self.read.reserve(needed.saturating_sub(self.read.len()));
        Step::More
    }

    /// Answers a control frame whose payload is at `payload`.
    async fn control(&mut self, control: Control, payload: Range<usize>) -> Result<(), Stop> {
        match control {
            Control::Ping => {
                let data = self.read[payload].to_vec();
                self.send(OpCode::Control(Control::Pong), &data)
                    .await
                    .map_err(|_| Stop::Done)
            }
            Control::Pong => Ok(()),
            Control::Close => {
                self.peer_closed = true;
                let body = &self.read[payload];
                let code = match body.len() {
                    0 => None,
                    1 => return Err(protocol_error("close frame with a one-byte body")),
                    _ => Some(CloseCode::from(u16::from_be_bytes([body[0], body[1]]))),
                };
                if let Some(code) = code
                    && !code.is_allowed()
                {
                    return Err(protocol_error("close code not allowed"));
                }
                if body.len() > 2 && std::str::from_utf8(&body[2..]).is_err() {
                    return Err(Stop::Close(CloseCode::Invalid, "close reason is not UTF-8"));
                }
                let echo = u16::from(code.unwrap_or(CloseCode::Normal)).to_be_bytes();
                let _ = self.send(OpCode::Control(Control::Close), &echo).await;
                let _ = self.stream.shutdown().await;
                Err(Stop::Done)
            }
            Control::Reserved(_) => Err(protocol_error("reserved opcode")),
        }
    }

    /// Reads more bytes, within the time the connection's state allows, writing queued
    /// events meanwhile.
    async fn fill<F: Future>(&mut self, mut shutdown: Pin<&mut F>) -> Result<(), Stop> {
        loop {
            self.flush_events().await?;
            let now = Instant::now();
            let (deadline, on_expiry) = match self.incomplete_since {
                Some(since) => (
                    since + self.limits.message_timeout,
                    Expiry::Close(CloseCode::Policy, "message not completed in time"),
                ),
                None if !self.pinged => {
                    (self.last_read + self.limits.idle_timeout / 2, Expiry::Ping)
                }
                None => (
                    self.last_read + self.limits.idle_timeout,
                    Expiry::Close(CloseCode::Away, "idle timeout"),
                ),
            };
            if deadline <= now {
                match on_expiry {
                    Expiry::Ping => {
                        self.pinged = true;
                        self.send(OpCode::Control(Control::Ping), b"")
                            .await
                            .map_err(|_| Stop::Done)?;
                        continue;
                    }
                    Expiry::Close(code, reason) => return Err(Stop::Close(code, reason)),
                }
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.read));
            let outbox = self.outbox;
            let queued = async {
                match outbox {
                    Some(outbox) => outbox.ready().await,
                    None => std::future::pending().await,
                }
            };
            let read = tokio::select! {
                biased;
                _ = shutdown.as_mut() => {
                    return Err(Stop::Close(CloseCode::Away, "server shutting down"));
                }
                read = read => read,
                () = queued => continue,
            };
            match read {
                Err(_) => continue,
                Ok(Ok(0) | Err(_)) => return Err(Stop::Done),
                Ok(Ok(_)) => {
                    self.last_read = Instant::now();
                    self.pinged = false;
                    return Ok(());
                }
            }
        }
    }

    /// Writes one unmasked, final frame, within the write timeout.
    async fn send(&mut self, opcode: OpCode, payload: &[u8]) -> std::io::Result<()> {
        let mut head = [0u8; 10];
        let head_len = frame_head(opcode, payload.len(), &mut head);
        let write = write_two(&mut self.stream, &head[..head_len], payload);
        match tokio::time::timeout(self.limits.write_timeout, write).await {
            Ok(result) => result,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// Sends a close frame and completes the close handshake: when the client's close
    /// came first (this frame answers it), closes the TCP connection at once; otherwise
    /// reads (and drops) what the client still sends until its own close frame arrives,
    /// then closes. Either way the server closes TCP first, as RFC 6455 (section 7.1.1)
    /// prefers, and the client sees the code instead of a reset. The wait is bounded by a
    /// second and by twice the message limit in bytes.
    async fn close(&mut self, code: CloseCode, reason: &str) {
        let mut body = u16::from(code).to_be_bytes().to_vec();
        body.extend_from_slice(reason.as_bytes());
        if self
            .send(OpCode::Control(Control::Close), &body)
            .await
            .is_err()
        {
            return;
        }
        if !self.peer_closed {
            let budget = self.limits.max_message_size.saturating_mul(2);
            let _ = tokio::time::timeout(Duration::from_secs(1), self.await_close(budget)).await;
        }
        let _ = self.stream.shutdown().await;
    }

    /// Reads the client's frames and drops them until a close frame begins, the stream
    /// ends or fails, `budget` bytes have been read, or the bytes no longer parse as frames.
    ///
    /// Parsing resumes after the last frame read whole; a frame cut short (the one that
    /// was too big, say) is parsed again from its header and its payload skipped.
    async fn await_close(&mut self, budget: usize) {
        let from = self.consumed.max(self.start).min(self.read.len());
        self.read.drain(..from);
        self.start = 0;
        self.consumed = 0;
        let mut skip = 0u64;
        let mut total = 0usize;
        loop {
            loop {
                if skip > 0 {
                    let dropped = usize::try_from(skip)
                        .unwrap_or(usize::MAX)
                        .min(self.read.len());
                    self.read.drain(..dropped);
                    skip -= dropped as u64;
                    if skip > 0 {
                        break;
                    }
                }
                let mut cursor = Cursor::new(&self.read[..]);
                match FrameHeader::parse(&mut cursor) {
                    Ok(Some((header, _))) if header.opcode == OpCode::Control(Control::Close) => {
                        return;
                    }
                    Ok(Some((_, length))) => {
                        let header_len = cursor.position() as usize;
                        self.read.drain(..header_len);
                        skip = length;
                    }
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
            if total >= budget {
                return;
            }
            if self.read.capacity() - self.read.len() < 1024 {
                self.read.reserve(8192);
            }
            match self.stream.read_buf(&mut self.read).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n,
            }
        }
    }
}

/// What happens when a wait for bytes runs out.
enum Expiry {
    Ping,
    Close(CloseCode, &'static str),
}

fn protocol_error(reason: &'static str) -> Stop {
    Stop::Close(CloseCode::Protocol, reason)
}

/// The rules of RFC 6455 a client's frame header must follow; no extension is
/// negotiated, so reserved bits must be clear.
fn check_header(header: &FrameHeader, length: u64) -> Result<(), Stop> {
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return Err(protocol_error("reserved bits set"));
    }
    if header.mask.is_none() {
        return Err(protocol_error("client frames must be masked"));
    }
    match header.opcode {
        OpCode::Data(Data::Reserved(_)) => Err(protocol_error("reserved opcode")),
        OpCode::Control(Control::Reserved(_)) => Err(protocol_error("reserved opcode")),
        OpCode::Control(_) if !header.is_final => {
            Err(protocol_error("control frames may not be fragmented"))
        }
        OpCode::Control(_) if length > 125 => Err(protocol_error("control frame too long")),
        _ => Ok(()),
    }
}

/// Checks `message` for UTF-8 from `checked` on and moves `checked` past what is valid;
/// false if it holds a byte sequence no further bytes can make valid.
fn check_utf8(message: &[u8], checked: &mut usize) -> bool {
    let rest = message.get(*checked..).unwrap_or_default();
    match std::str::from_utf8(rest) {
        Ok(_) => {
            *checked = message.len();
            true
        }
        Err(error) if error.error_len().is_none() => {
            *checked += error.valid_up_to();
            true
        }
        Err(_) => false,
    }
}

fn unmask(bytes: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// Writes a server frame's head for a final frame of `len` bytes into `out`; returns its
/// length.
fn frame_head(opcode: OpCode, len: usize, out: &mut [u8; 10]) -> usize {
    out[0] = 0x80 | u8::from(opcode);
    if len < 126 {
        out[1] = len as u8;
        2
    } else if len <= usize::from(u16::MAX) {
        out[1] = 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

/// Writes `head` then `body` with as few system calls as the socket allows.
async fn write_two<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() {
        let written = stream
            .write_vectored(&[IoSlice::new(head), IoSlice::new(body)])
            .await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        if written < head.len() {
            head = &head[written..];
        } else {
            body = &body[written - head.len()..];
            head = &[];
        }
    }
    stream.write_all(body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut bytes = vec![(u8::from(fin) << 7) | opcode, 0x80 | 127];
        bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        bytes
    }

    /// A connection that received a large message gives its memory back once the
    /// message is answered, whether it came in one frame or in fragments.
    #[tokio::test]
    async fn buffers_shrink_after_a_large_message() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let limits = Limits::default();
        let base = limits.read_buffer_size;
        let mut socket = Socket::new(stream, Vec::new(), &limits, None);
        let mut never = std::pin::pin!(std::future::pending::<()>());
        let big = vec![b'a'; 900 * 1024];
        let writer = tokio::spawn(async move {
            client
                .write_all(&client_frame(true, 0x1, &big))
                .await
                .unwrap();
            client
                .write_all(&client_frame(false, 0x1, &big[..400_000]))
                .await
                .unwrap();
            client
                .write_all(&client_frame(true, 0x0, &big[..400_000]))
                .await
                .unwrap();
            client
                .write_all(&client_frame(true, 0x1, b"{}"))
                .await
                .unwrap();
            client
        });
        let Ok(Incoming::Text(at)) = socket.next(never.as_mut()).await else {
            panic!("expected a text message");
        };
        assert_eq!(socket.text(&at).map(str::len), Some(900 * 1024));
        assert!(socket.read.capacity() >= 900 * 1024);
        let Ok(Incoming::Text(at)) = socket.next(never.as_mut()).await else {
            panic!("expected the fragmented message");
        };
        assert_eq!(socket.text(&at).map(str::len), Some(800_000));
        let Ok(Incoming::Text(at)) = socket.next(never.as_mut()).await else {
            panic!("expected the small message");
        };
        assert_eq!(socket.text(&at), Some("{}"));
        assert!(
            socket.read.capacity() <= 2 * base,
            "{}",
            socket.read.capacity()
        );
        assert_eq!(socket.message.capacity(), 0);
        drop(writer.await.unwrap());
    }

    #[test]
    fn utf8_is_checked_across_fragments() {
        // "κόσμε", cut inside characters.
        let text = "κόσμε".as_bytes();
        let mut message = Vec::new();
        let mut checked = 0;
        for piece in [&text[..3], &text[3..4], &text[4..]] {
            message.extend_from_slice(piece);
            assert!(check_utf8(&message, &mut checked));
        }
        assert_eq!(checked, text.len());
        // Cut inside a character: valid so far, checked up to the cut.
        let mut checked = 0;
        assert!(check_utf8(&text[..3], &mut checked));
        assert_eq!(checked, 2);
        // A byte that can never be valid fails at once.
        let mut checked = 0;
        assert!(!check_utf8(&[b'a', 0xce, 0xff], &mut checked));
        let mut checked = 0;
        assert!(
            !check_utf8(&[0xed, 0xa0, 0x80], &mut checked),
            "a surrogate"
        );
    }

    #[test]
    fn frame_heads_follow_the_length() {
        let mut head = [0u8; 10];
        assert_eq!(frame_head(OpCode::Data(Data::Text), 5, &mut head), 2);
        assert_eq!(&head[..2], &[0x81, 5]);
        assert_eq!(frame_head(OpCode::Data(Data::Text), 300, &mut head), 4);
        assert_eq!(&head[..4], &[0x81, 126, 1, 44]);
        assert_eq!(
            frame_head(OpCode::Control(Control::Close), 70_000, &mut head),
            10
        );
        assert_eq!(head[0], 0x88);
        assert_eq!(&head[2..10], &70_000u64.to_be_bytes());
    }
}
