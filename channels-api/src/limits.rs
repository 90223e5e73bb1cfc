//! Limits of each connection, with safe defaults.

use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// What one connection may cost the server. Every limit has a safe default; raise one only
/// for a client you trust.
///
/// ```
/// use channels_api::Limits;
/// let limits = Limits::default().max_message_size(64 * 1024);
/// assert_eq!(limits.get_max_message_size(), 64 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct Limits {
    pub(crate) max_message_size: usize,
    pub(crate) max_json_depth: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) read_buffer_size: usize,
    pub(crate) message_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) requests_per_second: Option<u32>,
    pub(crate) max_keys: usize,
    pub(crate) max_filters: usize,
    pub(crate) max_list_items: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) max_queued_events: usize,
    pub(crate) max_queued_bytes: usize,
    pub(crate) max_replay: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 1 << 20,
            max_json_depth: 64,
            handshake_timeout: Duration::from_secs(10),
            read_buffer_size: 4 * 1024,
            message_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(10),
            requests_per_second: None,
            max_keys: 64,
            max_filters: 16,
            max_list_items: 500,
            max_subscriptions: 100,
            max_queued_events: 1000,
            max_queued_bytes: 1 << 20,
            max_replay: 10_000,
        }
    }
}

impl Limits {
    /// The largest message a client may send, in bytes (default 1 MiB). A larger one
    /// closes the connection with code 1009 (message too big).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1);
        self
    }

    /// The limit set by [`Limits::max_message_size`].
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// How deep arrays and objects may nest in a request (default 64). A deeper request is
    /// answered with status 400.
    pub fn max_json_depth(mut self, depth: usize) -> Self {
        self.max_json_depth = depth.max(1);
        self
    }

    /// How long a client may take to complete the WebSocket handshake (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a message may take to arrive, from its first byte to its last fragment
    /// (default 30 s). A message still incomplete then closes the connection with code
    /// 1008, and the memory its fragments held is freed.
    pub fn message_timeout(mut self, timeout: Duration) -> Self {
        self.message_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a connection may stay silent (default 120 s). Halfway through, the
    /// server sends a ping, which every WebSocket client answers by itself; a connection
    /// that stays silent past the timeout is closed with code 1001.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout.max(Duration::from_millis(2));
        self
    }

    /// How long writing one answer may take (default 30 s). A client that stops reading
    /// blocks its own answers only; past this time its connection is dropped.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many connections may be open at once, handshakes under way included
    /// (default 10,000). Past it, a new client is refused with HTTP 503 and a
    /// `Retry-After` header.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long a shutdown waits for requests being answered to finish and for clients
    /// to acknowledge the 1001 close (default 10 s); then the server returns anyway.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The size of each connection's read buffer, in bytes (default 4 KiB). It is
    /// allocated for every open connection, so it sets most of what an idle connection
    /// costs; a larger message grows it for as long as that message is answered, then it
    /// shrinks back.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(256);
        self
    }

    /// How many requests one connection may send per second, on average (default: no
    /// limit). A connection may send up to a second's worth at once; past that, each
    /// request is answered with status 429 and a message that says when to retry,
    /// without running it. The connection stays open.
    pub fn requests_per_second(mut self, rate: u32) -> Self {
        self.requests_per_second = Some(rate.max(1));
        self
    }

    /// How many keys one request may carry besides `method` and `request_id` (default
    /// 64). A request with more is answered with status 400 before any of them is read.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys.max(1);
        self
    }

    /// How many filters one `list` request may combine (default 16), the consumer's own
    /// scope not counted. More is a 400 before any query is built.
    pub fn max_filters(mut self, filters: usize) -> Self {
        self.max_filters = filters.max(1);
        self
    }

    /// How many values one list-valued filter (`id__in`) may carry (default 500). More is
    /// a 400 naming the filter.
    pub fn max_list_items(mut self, items: usize) -> Self {
        self.max_list_items = items.max(1);
        self
    }

    /// Subscriptions one connection may hold at once; one more is a 429. Default: 100.
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.max_subscriptions = subscriptions.max(1);
        self
    }

    /// Events that may wait for one connection's socket. An event that does not fit ends
    /// its subscription, with the position to resume after (see [`crate::live`]).
    /// Default: 1,000.
    pub fn max_queued_events(mut self, events: usize) -> Self {
        self.max_queued_events = events.max(1);
        self
    }

    /// Changes a resuming `subscribe` (`"after"`) may ask to replay: one further behind
    /// is answered 410 at once, like a position past the history, so that one request
    /// never costs more than this many changes read. Default: 10,000.
    pub fn max_replay(mut self, changes: u64) -> Self {
        self.max_replay = changes.max(1);
        self
    }

    /// Bytes of events that may wait for one connection's socket, as
    /// [`Limits::max_queued_events`] counts events. Default: 1 MiB.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes.max(1);
        self
    }

    /// The same limits as settings of the `tungstenite` WebSocket library, for a client
    /// or a hand-written server that should match this server: the read buffer, no write
    /// buffer (each answer is written at once), and the message size limit for messages
    /// and frames alike.
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            // Each response is flushed as soon as it is written; nothing waits in a buffer.
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_message_size))
    }
}
