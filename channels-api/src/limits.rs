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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 1 << 20,
            max_json_depth: 64,
            handshake_timeout: Duration::from_secs(10),
            read_buffer_size: 4 * 1024,
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

    /// The size of each connection's read buffer, in bytes (default 4 KiB). It is
    /// allocated for every open connection, so it sets most of what an idle connection
    /// costs; messages larger than it are still read whole.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(256);
        self
    }

    /// The WebSocket library's settings these limits give: the read buffer, no write
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
