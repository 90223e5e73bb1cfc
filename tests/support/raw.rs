//! A WebSocket client that writes frames byte by byte, for what a well-behaved library
//! refuses to send: continuation frames without a start, bad close codes, half frames.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::ANSWER_TIMEOUT;

/// Opcodes of RFC 6455.
pub mod op {
    /// A continuation frame.
    pub const CONTINUATION: u8 = 0x0;
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A binary frame.
    pub const BINARY: u8 = 0x2;
    /// A close frame.
    pub const CLOSE: u8 = 0x8;
    /// A ping.
    pub const PING: u8 = 0x9;
}

/// A frame the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Whether it ends its message.
    pub fin: bool,
    /// Its opcode.
    pub opcode: u8,
    /// Its payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == op::CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// An open WebSocket over a plain TCP stream.
#[derive(Debug)]
pub struct RawClient {
    /// The socket, for writing arbitrary bytes.
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    /// Connects to `/` on `addr` and completes the handshake.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        match Self::try_connect(addr).await {
            Some(client) => client,
            None => panic!("the handshake with {addr} was refused"),
        }
    }

    /// Connects to `/` on `addr`; `None` when the server refuses the handshake.
    pub async fn try_connect(addr: SocketAddr) -> Option<RawClient> {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 1024];
        let end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = tokio::time::timeout(ANSWER_TIMEOUT, stream.read(&mut chunk))
                .await
                .expect("handshake answer in time")
                .expect("read");
            assert!(n > 0, "closed during the handshake");
            buffer.extend_from_slice(&chunk[..n]);
        };
        if !buffer.starts_with(b"HTTP/1.1 101") {
            return None;
        }
        buffer.drain(..end);
        Some(RawClient { stream, buffer })
    }

    /// Writes one masked frame.
    pub async fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let bytes = frame_bytes(fin, opcode, payload);
        self.stream.write_all(&bytes).await.expect("write frame");
    }

    /// Writes arbitrary bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write bytes");
    }

    /// The next frame, or `None` when the server closed the TCP connection.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        self.next_frame_within(ANSWER_TIMEOUT).await
    }

    /// The next frame within `limit`; panics when none comes in time.
    pub async fn next_frame_within(&mut self, limit: Duration) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buffer) {
                self.buffer.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout(limit, self.stream.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("no frame within {limit:?}"));
            match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads frames until a close frame arrives and returns its code; `None` if the
    /// connection ended without one.
    pub async fn close_code(&mut self) -> Option<u16> {
        while let Some(frame) = self.next_frame().await {
            if frame.opcode == op::CLOSE {
                return frame.close_code();
            }
        }
        None
    }
}

/// The bytes of one client frame, masked with a fixed key.
pub fn frame_bytes(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut bytes = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => bytes.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            bytes.push(0x80 | 126);
            bytes.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            bytes.push(0x80 | 127);
            bytes.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    bytes.extend_from_slice(&mask);
    bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    bytes
}

/// A server frame at the start of `buffer` and how many bytes it took.
fn parse_frame(buffer: &[u8]) -> Option<(Frame, usize)> {
    let (&first, &second) = (buffer.first()?, buffer.get(1)?);
    let (len, mut at) = match second & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*buffer.get(2)?, *buffer.get(3)?])),
            4,
        ),
        127 => {
            let bytes: [u8; 8] = buffer.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(bytes)).ok()?, 10)
        }
        n => (usize::from(n), 2),
    };
    let mask = if second & 0x80 != 0 {
        let mask: [u8; 4] = buffer.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(mask)
    } else {
        None
    };
    let mut payload = buffer.get(at..at + len)?.to_vec();
    if let Some(mask) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    let frame = Frame {
        fin: first & 0x80 != 0,
        opcode: first & 0x0f,
        payload,
    };
    Some((frame, at + len))
}
